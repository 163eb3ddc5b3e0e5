//! A minimal HTTP/1.1 client for the load generator: one keep-alive connection over a
//! `TcpStream`, one request at a time (no pipelining).
//!
//! Requests are framed by `Content-Length`. Responses are framed by `Content-Length`, or
//! by the server closing the connection when there is none (the connection is then not
//! reused); `1xx` answers are skipped. A `Transfer-Encoding` (chunked) response is refused
//! with [`Error::Chunked`] rather than misread. Any error leaves the connection unusable:
//! open a new one.

use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest response head (status line and headers) accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// The largest response body accepted.
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// An `http://host[:port][/prefix]` base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    /// The `Host` header value: the authority as written.
    authority: String,
    /// The host to connect to (IPv6 without its brackets).
    host: String,
    port: u16,
    /// A path prefix for every request, without a trailing slash (may be empty).
    prefix: String,
}

impl BaseUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url:?}: only http:// URLs are supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(format!("{url:?}: expected http://host[:port][/path]"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{url:?}: unclosed IPv6 address"))?;
            match after {
                "" => (host, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None => return Err(format!("{url:?}: expected a port after the address")),
                },
            }
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(format!("{url:?}: no host"));
        }
        let port = match port {
            None => 80,
            Some(port) => port
                .parse::<u16>()
                .map_err(|_| format!("{url:?}: bad port {port:?}"))?,
        };
        if path.contains(['?', '#']) {
            return Err(format!("{url:?}: a base URL has no query or fragment"));
        }
        Ok(BaseUrl {
            authority: authority.to_owned(),
            host: host.to_owned(),
            port,
            prefix: path.trim_end_matches('/').to_owned(),
        })
    }

    /// The request target for `path` (which starts with `/`) under this base.
    pub fn target(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority, self.prefix)
    }
}

/// What can go wrong with one exchange.
#[derive(Debug)]
pub enum Error {
    Io(io::Error),
    /// The connection closed before any byte of the response arrived (a reused keep-alive
    /// connection the server had already closed, typically).
    Closed,
    /// The connection closed in the middle of the response.
    Truncated,
    Malformed(String),
    /// A `Transfer-Encoding` response: chunked bodies are not supported.
    Chunked,
    TooLarge(&'static str),
    Timeout(Duration),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "connection error: {e}"),
            Error::Closed => f.write_str("connection closed before the response"),
            Error::Truncated => f.write_str("connection closed in the middle of the response"),
            Error::Malformed(why) => write!(f, "malformed response: {why}"),
            Error::Chunked => {
                f.write_str("transfer-encoding (chunked) responses are not supported")
            }
            Error::TooLarge(what) => write!(f, "response {what} too large"),
            Error::Timeout(after) => write!(f, "no complete response after {after:?}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names lower-cased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// From the start of writing the request to the last byte of the response read.
    pub elapsed: Duration,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The start of the body as text, for error messages.
    pub fn body_snippet(&self) -> String {
        const MAX: usize = 300;
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        match text.char_indices().nth(MAX) {
            Some((at, _)) => format!("{}…", &text[..at]),
            None => text.to_owned(),
        }
    }
}

/// One keep-alive connection.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    authority: String,
    /// Bytes read and not yet consumed.
    buf: Vec<u8>,
    /// The request being written (kept to reuse its allocation).
    out: Vec<u8>,
    reusable: bool,
    served: u64,
    timeout: Duration,
}

impl Conn {
    pub async fn connect(url: &BaseUrl, timeout: Duration) -> io::Result<Conn> {
        let stream =
            tokio::time::timeout(timeout, TcpStream::connect((url.host.as_str(), url.port)))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            authority: url.authority.clone(),
            buf: Vec::with_capacity(8 * 1024),
            out: Vec::with_capacity(1024),
            reusable: true,
            served: 0,
            timeout,
        })
    }

    /// Whether another request may be sent on this connection.
    pub fn is_reusable(&self) -> bool {
        self.reusable
    }

    /// Responses completed on this connection.
    pub fn served(&self) -> u64 {
        self.served
    }

    /// Sends one request and reads its whole response. `target` is the path (and query);
    /// `Host` and `Content-Length` are added.
    pub async fn request(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, Error> {
        if !self.reusable {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::NotConnected,
                "the connection cannot be reused",
            )));
        }
        // Unusable until this exchange completes cleanly.
        self.reusable = false;
        self.out.clear();
        self.out.extend_from_slice(method.as_bytes());
        self.out.push(b' ');
        self.out.extend_from_slice(target.as_bytes());
        self.out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        self.out.extend_from_slice(self.authority.as_bytes());
        self.out.extend_from_slice(b"\r\ncontent-length: ");
        self.out
            .extend_from_slice(body.len().to_string().as_bytes());
        self.out.extend_from_slice(b"\r\n");
        for (name, value) in headers {
            self.out.extend_from_slice(name.as_bytes());
            self.out.extend_from_slice(b": ");
            self.out.extend_from_slice(value.as_bytes());
            self.out.extend_from_slice(b"\r\n");
        }
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(body);

        let timeout = self.timeout;
        let started = Instant::now();
        let mut response = tokio::time::timeout(timeout, self.exchange(method))
            .await
            .map_err(|_| Error::Timeout(timeout))??;
        response.elapsed = started.elapsed();
        self.served += 1;
        Ok(response)
    }

    async fn exchange(&mut self, method: &str) -> Result<Response, Error> {
        self.stream.write_all(&self.out).await?;
        loop {
            let (head_len, head) = self.read_head().await?;
            self.buf.drain(..head_len);
            // Informational answers (100 Continue, 103 Early Hints) precede the real one.
            if (100..200).contains(&head.status) && head.status != 101 {
                continue;
            }
            let framing = head.framing(method)?;
            let body = match framing {
                Framing::Length(len) => {
                    if len > MAX_BODY {
                        return Err(Error::TooLarge("body"));
                    }
                    while self.buf.len() < len {
                        if self.fill().await? == 0 {
                            return Err(Error::Truncated);
                        }
                    }
                    self.buf.drain(..len).collect()
                }
                Framing::UntilClose => {
                    while self.fill().await? > 0 {
                        if self.buf.len() > MAX_BODY {
                            return Err(Error::TooLarge("body"));
                        }
                    }
                    std::mem::take(&mut self.buf)
                }
            };
            self.reusable = head.keep_alive && framing != Framing::UntilClose;
            return Ok(Response {
                status: head.status,
                headers: head.headers,
                body,
                elapsed: Duration::ZERO,
            });
        }
    }

    /// Reads until a whole head is buffered; returns its length (with the blank line).
    async fn read_head(&mut self) -> Result<(usize, Head), Error> {
        let mut scanned = 0;
        loop {
            if let Some(at) = find_blank_line(&self.buf, scanned) {
                let head = parse_head(&self.buf[..at])?;
                return Ok((at + 4, head));
            }
            if self.buf.len() > MAX_HEAD {
                return Err(Error::TooLarge("head"));
            }
            scanned = self.buf.len().saturating_sub(3);
            let had = self.buf.len();
            if self.fill().await? == 0 {
                return Err(if had == 0 {
                    Error::Closed
                } else {
                    Error::Truncated
                });
            }
        }
    }

    async fn fill(&mut self) -> Result<usize, Error> {
        self.buf.reserve(8 * 1024);
        Ok(self.stream.read_buf(&mut self.buf).await?)
    }
}

fn find_blank_line(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| from + at)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(usize),
    UntilClose,
}

#[derive(Debug)]
struct Head {
    status: u16,
    headers: Vec<(String, String)>,
    keep_alive: bool,
}

impl Head {
    fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn framing(&self, method: &str) -> Result<Framing, Error> {
        if method.eq_ignore_ascii_case("HEAD") || self.status == 204 || self.status == 304 {
            return Ok(Framing::Length(0));
        }
        if self.get_all("transfer-encoding").next().is_some() {
            return Err(Error::Chunked);
        }
        let mut length = None;
        for value in self.get_all("content-length") {
            for part in value.split(',') {
                let part = part.trim();
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Error::Malformed(format!("content-length {value:?}")));
                }
                let n: usize = part.parse().map_err(|_| Error::TooLarge("body"))?;
                if length.is_some_and(|l| l != n) {
                    return Err(Error::Malformed("conflicting content-length".into()));
                }
                length = Some(n);
            }
        }
        Ok(length.map_or(Framing::UntilClose, Framing::Length))
    }
}

/// Parses a status line and headers (without the final blank line).
fn parse_head(bytes: &[u8]) -> Result<Head, Error> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| Error::Malformed("the head is not UTF-8".into()))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(Error::Malformed(format!("status line {status_line:?}"))),
    };
    let code = parts.next().unwrap_or_default();
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::Malformed(format!("status line {status_line:?}")));
    }
    let status: u16 = code
        .parse()
        .map_err(|_| Error::Malformed(format!("status line {status_line:?}")))?;
    if status < 100 {
        return Err(Error::Malformed(format!("status line {status_line:?}")));
    }
    let mut headers = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            return Err(Error::Malformed("folded header line".into()));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| Error::Malformed(format!("header line {line:?}")))?;
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(Error::Malformed(format!("header name {name:?}")));
        }
        headers.push((
            name.to_ascii_lowercase(),
            value.trim_matches([' ', '\t']).to_owned(),
        ));
    }
    let connection_has = |token: &str| {
        headers
            .iter()
            .filter(|(n, _)| n == "connection")
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    let keep_alive = if http10 {
        connection_has("keep-alive")
    } else {
        !connection_has("close")
    };
    Ok(Head {
        status,
        headers,
        keep_alive,
    })
}

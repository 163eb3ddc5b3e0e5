//! The load generator's HTTP/1.1 client: one keep-alive connection per worker over
//! hyper's connection API (`hyper::client::conn::http1`), one request at a time. hyper
//! does the framing (lengths, chunks, informational answers, `Connection: close`); this
//! module only times exchanges and says when a connection cannot be reused.

use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

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
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| format!("{url:?}: not a URL ({e})"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("{url:?}: only http:// URLs are supported"));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("{url:?}: expected http://host[:port][/path]"))?;
        if authority.as_str().contains('@') {
            return Err(format!("{url:?}: expected http://host[:port][/path]"));
        }
        if uri.query().is_some() || url.contains('#') {
            return Err(format!("{url:?}: a base URL has no query or fragment"));
        }
        let after_host = authority
            .as_str()
            .rsplit_once(']')
            .map_or(authority.as_str(), |(_, rest)| rest);
        if after_host.contains(':') && authority.port_u16().is_none() {
            return Err(format!("{url:?}: bad port"));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("{url:?}: no host"));
        }
        Ok(BaseUrl {
            authority: authority.as_str().to_owned(),
            host: host.to_owned(),
            port: authority.port_u16().unwrap_or(80),
            prefix: uri.path().trim_end_matches('/').to_owned(),
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
    /// The connection was closed before the response (a reused keep-alive connection the
    /// server had already closed, typically): safe to send again on a new one.
    Closed,
    Http(hyper::Error),
    Timeout(Duration),
    TooLarge,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Closed => f.write_str("the connection was closed"),
            Error::Http(e) => write!(f, "{e}"),
            Error::Timeout(t) => write!(f, "no answer within {t:?}"),
            Error::TooLarge => write!(f, "the answer is over {MAX_BODY} bytes"),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<hyper::Error> for Error {
    fn from(e: hyper::Error) -> Self {
        // Nothing of the answer arrived: the request may be sent again elsewhere.
        if e.is_canceled() || e.is_closed() || e.is_incomplete_message() {
            Error::Closed
        } else {
            Error::Http(e)
        }
    }
}

/// A whole response, and how long it took from sending the request.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
    pub elapsed: Duration,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The start of the body, for error messages.
    pub fn body_snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let mut end = text.len().min(200);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text[..end].to_owned()
    }
}

/// One keep-alive connection.
#[derive(Debug)]
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
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
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(io::Error::other)?;
        // The connection runs until the server or the sender closes it.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Conn {
            sender,
            authority: url.authority.clone(),
            served: 0,
            timeout,
        })
    }

    /// Whether another request may be sent on this connection.
    pub fn is_reusable(&self) -> bool {
        !self.sender.is_closed()
    }

    /// Responses completed on this connection.
    pub fn served(&self) -> u64 {
        self.served
    }

    /// Sends one request and reads its whole response. `target` is the path (and query);
    /// `Host` is added (and `Content-Length`, by hyper).
    pub async fn request(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, Error> {
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(target)
            .header(hyper::header::HOST, &self.authority);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(Full::new(Bytes::copy_from_slice(body)))
            .map_err(|e| Error::Io(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
        let timeout = self.timeout;
        let started = Instant::now();
        let exchange = async {
            self.sender.ready().await?;
            let response = self.sender.send_request(request).await?;
            let status = response.status().as_u16();
            let (parts, body) = response.into_parts();
            let body = http_body_util::Limited::new(body, MAX_BODY)
                .collect()
                .await
                .map_err(|e| match e.downcast::<hyper::Error>() {
                    Ok(e) => Error::from(*e),
                    Err(_) => Error::TooLarge,
                })?
                .to_bytes();
            Ok::<_, Error>(Response {
                status,
                headers: parts.headers,
                body,
                elapsed: Duration::ZERO,
            })
        };
        let mut response = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| Error::Timeout(timeout))??;
        response.elapsed = started.elapsed();
        self.served += 1;
        Ok(response)
    }
}

//! The client and the whole `bench http` flow against a tiny HTTP/1.1 server that
//! emulates the endpoints the bench uses (canned JSON answers) plus a few framing cases.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::client::{BaseUrl, Conn, Error};
use super::{HttpConfig, bench};

const TOKEN: &str = "tok-123";
const ACCOUNT: &str = "0b6d2a3e-acct";
const TIMEOUT: Duration = Duration::from_secs(10);

/// How the fake server behaves.
#[derive(Debug, Default, Clone)]
struct Behaviour {
    /// Answer the n-th, 2n-th, … order (by arrival) with a 422.
    fail_every: Option<usize>,
    /// Answer with `connection: close` (and close) after this many requests on a connection.
    close_after: Option<usize>,
    /// Close silently (no `connection: close`) after this many requests on a connection.
    hangup_after: Option<usize>,
}

#[derive(Debug, Default)]
struct Seen {
    connections: AtomicUsize,
    orders: AtomicUsize,
    /// Asks for the orders still waiting for the core (the first answer names one).
    waiting_polls: AtomicUsize,
    client_order_ids: Mutex<HashSet<String>>,
    registered: Mutex<Vec<String>>,
    /// Method, path and whether a bearer token came, of every setup request.
    setup: Mutex<Vec<(String, String, bool)>>,
}

struct Server {
    url: String,
    seen: Arc<Seen>,
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one request (Content-Length framed) or `None` at a clean end of stream.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Request> {
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).expect("a UTF-8 head");
    let mut lines = head.split("\r\n");
    let mut start = lines.next().expect("a request line").split(' ');
    let method = start.next().expect("a method").to_owned();
    let path = start.next().expect("a path").to_owned();
    assert_eq!(start.next(), Some("HTTP/1.1"));
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').expect("a header");
            (n.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().expect("a content-length"));
    assert!(headers.iter().any(|(n, _)| n == "host"), "no host header");
    buf.drain(..head_end + 4);
    while buf.len() < len {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf.drain(..len).collect();
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

fn response(status: u16, body: &str, close: bool) -> Vec<u8> {
    let connection = if close { "connection: close\r\n" } else { "" };
    format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{connection}content-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The answer to one request; `None` means close the connection without answering.
fn answer(req: &Request, seen: &Seen, behaviour: &Behaviour, close: bool) -> Option<Vec<u8>> {
    let authed = req.header("authorization") == Some(&format!("Bearer {TOKEN}"));
    let json: serde_json::Value = if req.body.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&req.body).expect("a JSON request body")
    };
    let orders_path = format!("/accounts/{ACCOUNT}/orders");
    if req.method != "POST" || req.path != orders_path {
        seen.setup
            .lock()
            .expect("lock")
            .push((req.method.clone(), req.path.clone(), authed));
    }
    let out = match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/auth/register") => {
            let email = json["email"].as_str().expect("an email").to_owned();
            assert!(json["password"].as_str().expect("a password").len() >= 12);
            seen.registered.lock().expect("lock").push(email.clone());
            response(
                202,
                &format!(r#"{{"email":"{email}","status":"accepted","detail":"sign in"}}"#),
                close,
            )
        }
        ("POST", "/auth/login") => response(
            200,
            &format!(r#"{{"access_token":"{TOKEN}","refresh_token":"r","token_type":"Bearer"}}"#),
            close,
        ),
        ("POST", "/accounts") if authed => {
            assert_eq!(json["name"], "bench");
            response(201, &format!(r#"{{"id":"{ACCOUNT}","name":"bench"}}"#), close)
        }
        ("POST", p) if authed && p == format!("/accounts/{ACCOUNT}/deposits") => {
            assert_eq!(json["amount"], "1000000000");
            response(201, r#"{"id":"e1","amount":"1000000000"}"#, close)
        }
        ("POST", p) if authed && p == orders_path => {
            let n = seen.orders.fetch_add(1, Ordering::SeqCst) + 1;
            assert_eq!(json["symbol"], "AAPL");
            assert_eq!(json["side"], "buy");
            assert_eq!(json["type"], "limit");
            assert_eq!(json["quantity"], "1");
            assert_eq!(json["limit_price"], "1.00");
            let id = json["client_order_id"].as_str().expect("an id").to_owned();
            let fresh = seen.client_order_ids.lock().expect("lock").insert(id.clone());
            if behaviour.fail_every.is_some_and(|k| n % k == 0) {
                response(
                    422,
                    r#"{"type":"position-limit","title":"refused","status":422}"#,
                    close,
                )
            } else if fresh {
                response(201, &format!(r#"{{"id":"o{n}","client_order_id":"{id}"}}"#), close)
            } else {
                response(200, r#"{"id":"again"}"#, close)
            }
        }
        ("GET", p) if authed && p == format!("{orders_path}?status=new&limit=1") => {
            if seen.waiting_polls.fetch_add(1, Ordering::SeqCst) == 0 {
                response(200, r#"{"orders":[{"id":"o1","status":"new"}]}"#, close)
            } else {
                response(200, r#"{"orders":[]}"#, close)
            }
        }
        (_, _) if !authed && req.path.starts_with("/accounts") => {
            response(401, r#"{"title":"unauthorized"}"#, close)
        }
        ("GET", "/ok") => response(200, r#"{"ok":true}"#, close),
        ("GET", "/empty") => b"HTTP/1.1 204 No Content\r\nx-a: 1\r\n\r\n".to_vec(),
        ("GET", "/continue") => b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-Mixed-Case:  padded value \r\ncontent-length: 2\r\n\r\nhi"
            .to_vec(),
        ("GET", "/chunked") => {
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n".to_vec()
        }
        ("GET", "/until-close") => b"HTTP/1.1 200 OK\r\n\r\nall of it".to_vec(),
        ("GET", "/http10") => b"HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\nx".to_vec(),
        ("GET", "/garbage") => b"SMTP ready\r\n\r\n".to_vec(),
        ("GET", "/truncated") => b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc".to_vec(),
        ("GET", "/conflict") => {
            b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nxy".to_vec()
        }
        ("GET", "/hangup") => return None,
        _ => response(404, r#"{"title":"not found"}"#, close),
    };
    Some(out)
}

/// Whether the server closes the connection after this answer.
fn closes_after(path: &str) -> bool {
    matches!(path, "/until-close" | "/http10" | "/truncated" | "/chunked")
}

async fn serve(mut stream: TcpStream, seen: Arc<Seen>, behaviour: Behaviour) {
    let mut buf = Vec::new();
    let mut served = 0;
    while let Some(req) = read_request(&mut stream, &mut buf).await {
        served += 1;
        let close = behaviour.close_after.is_some_and(|n| served >= n);
        let Some(out) = answer(&req, &seen, &behaviour, close) else {
            return;
        };
        if stream.write_all(&out).await.is_err() {
            return;
        }
        let hangup = behaviour.hangup_after.is_some_and(|n| served >= n);
        if close || hangup || closes_after(&req.path) {
            return;
        }
    }
}

async fn start(behaviour: Behaviour) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("an address");
    let seen = Arc::new(Seen::default());
    let shared = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            shared.connections.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(stream, Arc::clone(&shared), behaviour.clone()));
        }
    });
    Server {
        url: format!("http://{addr}"),
        seen,
    }
}

async fn connect(server: &Server) -> Conn {
    let url = BaseUrl::parse(&server.url).expect("a URL");
    Conn::connect(&url, TIMEOUT).await.expect("connect")
}

async fn get(conn: &mut Conn, path: &str) -> Result<super::client::Response, Error> {
    conn.request("GET", path, &[], b"").await
}

#[test]
fn base_urls() {
    let u = BaseUrl::parse("http://127.0.0.1:8080").expect("ok");
    assert_eq!(u.target("/auth/login"), "/auth/login");
    assert_eq!(u.to_string(), "http://127.0.0.1:8080");
    let u = BaseUrl::parse("http://api.example.com/v1/").expect("ok");
    assert_eq!(u.target("/accounts"), "/v1/accounts");
    assert_eq!(u.to_string(), "http://api.example.com/v1");
    let u = BaseUrl::parse("http://[::1]:9000/x").expect("ok");
    assert_eq!(u.target("/a"), "/x/a");
    assert_eq!(u.to_string(), "http://[::1]:9000/x");
    for bad in [
        "https://example.com",
        "example.com",
        "http://",
        "http://host:port",
        "http://host:99999",
        "http://[::1",
        "http://u@host",
        "http://host/?q=1",
    ] {
        assert!(BaseUrl::parse(bad).is_err(), "{bad} was accepted");
    }
}

#[tokio::test]
async fn status_headers_and_body_on_one_reused_connection() {
    let server = start(Behaviour::default()).await;
    let mut conn = connect(&server).await;
    for round in 0..3 {
        let r = get(&mut conn, "/ok").await.expect("a response");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_eq!(r.json().expect("JSON")["ok"], true);
        assert!(conn.is_reusable());
        assert_eq!(conn.served(), 4 * round + 1);

        // A POST with a body, then a 204 without one, then a 404 with one.
        let body = br#"{"email":"a@b.co","password":"long enough pw"}"#;
        let r = conn
            .request(
                "POST",
                "/auth/register",
                &[("content-type", "application/json")],
                body,
            )
            .await
            .expect("a response");
        assert_eq!(r.status, 202);
        assert_eq!(r.json().expect("JSON")["email"], "a@b.co");
        let r = get(&mut conn, "/empty").await.expect("a response");
        assert_eq!(r.status, 204);
        assert!(r.body.is_empty());
        assert_eq!(r.header("x-a"), Some("1"));
        let r = get(&mut conn, "/nowhere").await.expect("a response");
        assert_eq!(r.status, 404);
        assert!(r.body_snippet().contains("not found"));
        assert_eq!(conn.served(), 4 * (round + 1));
    }
    assert_eq!(server.seen.connections.load(Ordering::SeqCst), 1);
}

/// Waits (up to a second) for hyper to notice that `conn` was closed.
async fn closes(conn: &Conn) -> bool {
    for _ in 0..100 {
        if !conn.is_reusable() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn informational_answers_are_skipped_and_headers_kept() {
    let server = start(Behaviour::default()).await;
    let mut conn = connect(&server).await;
    let r = get(&mut conn, "/continue").await.expect("a response");
    assert_eq!(r.status, 200);
    assert_eq!(&r.body[..], b"hi");
    assert_eq!(r.header("x-mixed-case"), Some("padded value"));
    assert!(conn.is_reusable());
}

#[tokio::test]
async fn chunked_and_close_delimited_answers_are_read_whole() {
    let server = start(Behaviour::default()).await;
    let mut conn = connect(&server).await;
    let r = get(&mut conn, "/chunked").await.expect("chunked");
    assert_eq!(&r.body[..], b"hi");

    let mut conn = connect(&server).await;
    let r = get(&mut conn, "/until-close").await.expect("a response");
    assert_eq!(&r.body[..], b"all of it");
    assert!(closes(&conn).await);

    let mut conn = connect(&server).await;
    let r = get(&mut conn, "/http10").await.expect("a response");
    assert_eq!(&r.body[..], b"x");
    assert!(closes(&conn).await);
}

#[tokio::test]
async fn connection_close_header_ends_reuse() {
    let server = start(Behaviour {
        close_after: Some(2),
        ..Behaviour::default()
    })
    .await;
    let mut conn = connect(&server).await;
    assert_eq!(get(&mut conn, "/ok").await.expect("first").status, 200);
    assert!(conn.is_reusable());
    let r = get(&mut conn, "/ok").await.expect("second");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(closes(&conn).await);
}

#[tokio::test]
async fn broken_answers_are_errors() {
    let server = start(Behaviour::default()).await;
    for path in ["/garbage", "/truncated", "/conflict", "/hangup"] {
        let mut conn = connect(&server).await;
        let e = get(&mut conn, path).await.expect_err(path);
        assert!(matches!(e, Error::Http(_) | Error::Closed), "{path}: {e}");
        assert!(closes(&conn).await, "{path}");
    }
    // A hang-up before any answer is `Closed`: the bench sends the order again.
    let mut conn = connect(&server).await;
    let e = get(&mut conn, "/hangup").await.expect_err("hangup");
    assert!(matches!(e, Error::Closed), "{e}");
}

fn config(server: &Server, orders: usize, concurrency: usize, warmup: usize) -> HttpConfig {
    HttpConfig {
        url: server.url.clone(),
        orders,
        concurrency,
        warmup,
        timeout: TIMEOUT,
    }
}

#[tokio::test]
async fn the_whole_flow_prints_one_line_with_the_expected_keys() {
    let server = start(Behaviour::default()).await;
    let report = bench(&config(&server, 200, 4, 20)).await.expect("a run");
    let line = report.json_line();
    let object = line.as_object().expect("an object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "bench",
            "concurrency",
            "core_drain_ms",
            "errors",
            "orders",
            "orders_per_sec",
            "p50_ms",
            "p999_ms",
            "p99_ms"
        ]
    );
    assert_eq!(line["bench"], "http");
    assert_eq!(line["orders"], 200);
    assert_eq!(line["concurrency"], 4);
    assert_eq!(line["errors"], 0);
    for key in [
        "orders_per_sec",
        "p50_ms",
        "p99_ms",
        "p999_ms",
        "core_drain_ms",
    ] {
        let v = line[key].as_f64().expect("a number");
        assert!(v.is_finite() && v >= 0.0, "{key} = {v}");
    }
    // The printed form is one line.
    assert!(!line.to_string().contains('\n'));

    assert_eq!(report.placed, 200);
    assert_eq!(report.latencies_ns.len(), 200);
    assert!(report.latencies_ns.is_sorted());
    assert_eq!(report.account_id, ACCOUNT);
    let seen = &server.seen;
    // Warm-up and measured orders, every client_order_id distinct.
    assert_eq!(seen.orders.load(Ordering::SeqCst), 220);
    assert_eq!(seen.client_order_ids.lock().expect("lock").len(), 220);
    // One setup connection, the four keep-alive ones throughout, one to wait for the core.
    assert_eq!(seen.connections.load(Ordering::SeqCst), 6);
    assert_eq!(report.reconnects, 0);
    let setup = seen.setup.lock().expect("lock").clone();
    let deposits = format!("/accounts/{ACCOUNT}/deposits");
    let waiting = format!("/accounts/{ACCOUNT}/orders?status=new&limit=1");
    // The core is waited for until no order is left `new`: the first answer names one.
    assert_eq!(
        setup,
        [
            ("POST".to_owned(), "/auth/register".to_owned(), false),
            ("POST".to_owned(), "/auth/login".to_owned(), false),
            ("POST".to_owned(), "/accounts".to_owned(), true),
            ("POST".to_owned(), deposits, true),
            ("GET".to_owned(), waiting.clone(), true),
            ("GET".to_owned(), waiting, true),
        ]
    );
    let email = seen.registered.lock().expect("lock")[0].clone();
    assert!(
        email.starts_with("bench-") && email.contains('@'),
        "{email}"
    );
}

#[tokio::test]
async fn each_run_registers_a_fresh_user() {
    let server = start(Behaviour::default()).await;
    bench(&config(&server, 5, 2, 0)).await.expect("a run");
    bench(&config(&server, 5, 2, 0)).await.expect("a run");
    let registered = server.seen.registered.lock().expect("lock").clone();
    assert_eq!(registered.len(), 2);
    assert_ne!(registered[0], registered[1]);
}

#[tokio::test]
async fn refused_orders_are_counted_and_warm_up_ones_are_not() {
    let server = start(Behaviour {
        fail_every: Some(10),
        ..Behaviour::default()
    })
    .await;
    // Arrivals 1..=10 are the warm-up (the 10th fails); 11..=60 are measured, and
    // 20, 30, 40, 50 and 60 fail.
    let report = bench(&config(&server, 50, 3, 10)).await.expect("a run");
    assert_eq!(report.warmup_errors, 1);
    assert_eq!(report.errors, 5);
    assert_eq!(report.placed, 45);
    assert_eq!(report.latencies_ns.len(), 45);
    assert_eq!(report.json_line()["errors"], 5);
    assert_eq!(report.first_errors.len(), 5);
    assert!(
        report.first_errors.iter().all(|e| e.contains("422")),
        "{:?}",
        report.first_errors
    );
}

#[tokio::test]
async fn connections_the_server_closes_are_reopened() {
    let server = start(Behaviour {
        close_after: Some(7),
        ..Behaviour::default()
    })
    .await;
    let report = bench(&config(&server, 100, 3, 5)).await.expect("a run");
    assert_eq!(report.errors, 0);
    assert_eq!(report.placed, 100);
    assert!(report.reconnects > 0);
    assert_eq!(server.seen.orders.load(Ordering::SeqCst), 105);
}

#[tokio::test]
async fn connections_closed_without_notice_are_retried() {
    let server = start(Behaviour {
        hangup_after: Some(4),
        ..Behaviour::default()
    })
    .await;
    let report = bench(&config(&server, 60, 2, 0)).await.expect("a run");
    assert_eq!(report.errors, 0, "{:?}", report.first_errors);
    assert_eq!(report.placed, 60);
    assert!(report.reconnects > 0);
}

#[tokio::test]
async fn an_unreachable_server_fails_the_setup() {
    // Bind then drop: nothing listens on the port any more.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("an address");
    let e = bench(&HttpConfig {
        url: format!("http://{addr}"),
        orders: 1,
        concurrency: 1,
        warmup: 0,
        timeout: TIMEOUT,
    })
    .await
    .expect_err("nothing listens");
    assert!(format!("{e:#}").contains("cannot connect"), "{e:#}");
}

#[tokio::test]
async fn a_refused_setup_step_names_the_step() {
    let server = start(Behaviour::default()).await;
    // Under a prefix the fake server does not know, register answers 404.
    let e = bench(&HttpConfig {
        url: format!("{}/nope", server.url),
        ..config(&server, 1, 1, 0)
    })
    .await
    .expect_err("404");
    let text = format!("{e:#}");
    assert!(text.contains("register") && text.contains("404"), "{text}");
}

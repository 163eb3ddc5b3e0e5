//! A minimal HTTP/1.1 client and helpers for driving a running platform.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A response: status and JSON body (`Null` if it was not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

/// One request on a fresh connection (`Connection: close`).
pub async fn call(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        payload.len()
    );
    if !payload.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    if let Some(t) = token {
        request.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&payload);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = body.to_owned();
    Reply {
        status,
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
        text: body,
    }
}

pub const PASSWORD: &str = "correct horse battery staple";

/// Registers and logs in: the access token.
pub async fn user(addr: &str, email: &str) -> String {
    let r = call(
        addr,
        "POST",
        "/auth/register",
        None,
        Some(serde_json::json!({"email": email, "password": PASSWORD})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = call(
        addr,
        "POST",
        "/auth/login",
        None,
        Some(serde_json::json!({"email": email, "password": PASSWORD})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["access_token"].as_str().unwrap().to_owned()
}

/// Opens an account and deposits `cash`: its id.
pub async fn account(addr: &str, token: &str, cash: &str) -> String {
    let r = call(
        addr,
        "POST",
        "/accounts",
        Some(token),
        Some(serde_json::json!({"name": "e2e"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let r = call(
        addr,
        "POST",
        &format!("/accounts/{id}/deposits"),
        Some(token),
        Some(serde_json::json!({"amount": cash})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    id
}

/// Polls `f` every 50 ms until it returns `Some`, for at most `secs`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "stratus-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `data/2006-min-005.txt` (real 5-minute bars of an index) split in two files: the first
/// `head` bars and the rest.
pub fn split_sample(dir: &Path, head: usize) -> (PathBuf, PathBuf) {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/2006-min-005.txt"),
    )
    .unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let first = dir.join("first.csv");
    let rest = dir.join("rest.csv");
    std::fs::write(&first, format!("{header}\n{}\n", rows[..head].join("\n"))).unwrap();
    std::fs::write(&rest, format!("{header}\n{}\n", rows[head..].join("\n"))).unwrap();
    (first, rest)
}

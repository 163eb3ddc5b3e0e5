//! The portal: the trader portal and the operations dashboard, as static files a browser
//! loads from `/` (the page) and `/portal/…` (its scripts, styles and the vendored
//! libraries). The files are compiled into the binary (`cargo build` needs no Node and
//! no build step), so `stratus up` and the `stratus-portal` Lambda serve the same bytes.
//!
//! The pages are a pure client of the public API and the WebSocket: no route here answers
//! with data, and nothing the portal shows comes from anywhere an API user cannot reach.
//!
//! Caching: the vendored libraries carry their version in their names and are immutable;
//! every other file is revalidated (`no-cache` with an `ETag`), so a new build is seen at
//! the next load. Text files are gzipped once, in memory, for clients that accept gzip.
//!
//! `STRATUS_PORTAL_WS_URL` tells the pages where the WebSocket is when it is not on their
//! origin (the cloud shape: see `websocket_url`).
//!
//! `STRATUS_PORTAL_DIR` (a directory laid out as `assets/`) serves the files from disk
//! instead, read at every request: for working on the portal without rebuilding. Only
//! the files of the table are served either way, so no path reaches outside it.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// One file of the portal.
#[derive(Debug)]
pub struct Asset {
    /// Its path under `assets/` (and under `/portal/` in a URL).
    pub path: &'static str,
    pub mime: &'static str,
    pub body: &'static [u8],
}

macro_rules! assets {
    ($($path:literal => $mime:expr),* $(,)?) => {
        &[$(Asset {
            path: $path,
            mime: $mime,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $path)),
        }),*]
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file the portal has.
pub static ASSETS: &[Asset] = assets! {
    "index.html" => "text/html; charset=utf-8",
    "style.css" => "text/css; charset=utf-8",
    "app.js" => JS,
    "api.js" => JS,
    "live.js" => JS,
    "ui.js" => JS,
    "format.js" => JS,
    "charts.js" => JS,
    "indicators.js" => JS,
    "pages/auth.js" => JS,
    "pages/accounts.js" => JS,
    "pages/trade.js" => JS,
    "pages/strategies.js" => JS,
    "pages/performance.js" => JS,
    "pages/research.js" => JS,
    "pages/settings.js" => JS,
    "pages/admin.js" => JS,
    "pages/about.js" => JS,
    "vendor/htm-preact-3.1.1.mjs" => JS,
    "vendor/lightweight-charts-4.2.3.mjs" => JS,
    "vendor/LICENSE.htm.txt" => "text/plain; charset=utf-8",
    "vendor/LICENSE.preact.txt" => "text/plain; charset=utf-8",
    "vendor/LICENSE.lightweight-charts.txt" => "text/plain; charset=utf-8",
    "vendor/NOTICE.lightweight-charts.txt" => "text/plain; charset=utf-8",
};

/// What the page may load and where it may connect: itself only (the API is the same
/// origin, and so is the WebSocket in `stratus up`), plus the configured WebSocket's
/// address when there is one. Styles may be inline: the chart library sizes its canvases
/// with them.
fn content_security_policy(ws_url: Option<&str>) -> String {
    let socket = ws_url.map(|url| format!(" {url}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: blob:; connect-src 'self'{socket}; frame-ancestors 'none'; \
         base-uri 'none'; form-action 'none'; object-src 'none'"
    )
}

/// `GET /` (the page) and `GET /portal/{path}` (its files).
pub fn router() -> Router {
    Router::new()
        .route("/", get(index))
        .route("/portal/{*path}", get(file))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

fn not_found(path: &str) -> Response {
    let body = serde_json::json!({
        "type": "/problems/not-found",
        "title": "Not Found",
        "status": 404,
        "detail": format!("the portal has no file {path}"),
    });
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|a| a.path == path) else {
        return not_found(path);
    };
    let asset = &ASSETS[index];
    let from_disk = std::env::var_os("STRATUS_PORTAL_DIR").map(PathBuf::from);
    let body: std::borrow::Cow<'static, [u8]> = match &from_disk {
        Some(dir) => match std::fs::read(dir.join(asset.path)) {
            Ok(bytes) => bytes.into(),
            Err(e) => {
                tracing::warn!(path, error = %e, "STRATUS_PORTAL_DIR: cannot read");
                return not_found(path);
            }
        },
        None => asset.body.into(),
    };
    let ws_url = (asset.path == "index.html").then(websocket_url).flatten();
    let body = match &ws_url {
        Some(url) => String::from_utf8_lossy(&body)
            .replacen(
                "<head>",
                &format!("<head>\n  <meta name=\"stratus-ws-url\" content=\"{url}\">"),
                1,
            )
            .into_bytes()
            .into(),
        None => body,
    };
    let etag = etag(&body);
    let immutable = asset.path.starts_with("vendor/") && asset.path.ends_with(".mjs");
    let mut response_headers = HeaderMap::new();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.mime));
    response_headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    response_headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    response_headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response_headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if asset.path == "index.html" {
        if let Ok(policy) = HeaderValue::from_str(&content_security_policy(ws_url.as_deref())) {
            response_headers.insert(header::CONTENT_SECURITY_POLICY, policy);
        }
    }
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response_headers.insert(header::ETAG, value);
    }
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return (StatusCode::NOT_MODIFIED, response_headers).into_response();
    }
    let gzip = accepts_gzip(headers) && !asset.mime.starts_with("image/");
    let bytes: Vec<u8> = if gzip {
        response_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        if from_disk.is_some() || ws_url.is_some() {
            gzip_bytes(&body)
        } else {
            gzipped(index).to_vec()
        }
    } else {
        body.into_owned()
    };
    (StatusCode::OK, response_headers, Body::from(bytes)).into_response()
}

/// `STRATUS_PORTAL_WS_URL`: where the pages open the WebSocket when it is not on their
/// own origin (in the cloud the API is API Gateway's and the WebSocket the core's load
/// balancer). Only a `ws://` or `wss://` URL of plain characters is taken.
fn websocket_url() -> Option<String> {
    checked_websocket_url(&std::env::var("STRATUS_PORTAL_WS_URL").ok()?)
}

fn checked_websocket_url(url: &str) -> Option<String> {
    let url = url.trim();
    if url.is_empty() {
        return None;
    }
    let plain = url
        .chars()
        .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '<' | '>' | '\\' | '\''));
    if (url.starts_with("ws://") || url.starts_with("wss://")) && plain {
        Some(url.to_owned())
    } else {
        tracing::warn!(
            url,
            "STRATUS_PORTAL_WS_URL is not a ws:// or wss:// URL: ignored"
        );
        None
    }
}

/// Whether the request accepts a gzipped body (`gzip` listed without `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// A strong validator of the bytes (stable within a build: the hasher has fixed keys).
fn etag(body: &[u8]) -> String {
    let mut hasher = DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{:016x}-{}\"", hasher.finish(), body.len())
}

fn gzip_bytes(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail; should it, the identity body would be wrong under a
    // gzip header, so an empty gzip stream is the fallback of last resort.
    if encoder.write_all(body).is_err() {
        return Vec::new();
    }
    encoder.finish().unwrap_or_default()
}

/// The embedded asset `index`, gzipped (once per process).
fn gzipped(index: usize) -> &'static [u8] {
    static GZIPPED: OnceLock<Vec<OnceLock<Vec<u8>>>> = OnceLock::new();
    let all = GZIPPED.get_or_init(|| ASSETS.iter().map(|_| OnceLock::new()).collect());
    all.get(index)
        .map(|cell| {
            cell.get_or_init(|| gzip_bytes(ASSETS[index].body))
                .as_slice()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use std::io::Read;
    use tower::ServiceExt;

    async fn get(path: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut request = Request::get(path);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = router()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, body.to_vec())
    }

    #[tokio::test]
    async fn the_page_is_served_at_the_root_with_its_policy() {
        let (status, headers, body) = get("/", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(
            headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("default-src 'self'")
        );
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        assert!(String::from_utf8(body).unwrap().contains("/portal/app.js"));
    }

    #[tokio::test]
    async fn gzip_is_served_to_who_accepts_it_and_is_the_same_file() {
        let (status, headers, body) = get(
            "/portal/vendor/lightweight-charts-4.2.3.mjs",
            &[("accept-encoding", "br, gzip;q=0.8")],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
        assert!(
            headers[header::CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(body.as_slice())
            .read_to_end(&mut plain)
            .unwrap();
        let (_, headers, identity) = get(
            "/portal/vendor/lightweight-charts-4.2.3.mjs",
            &[("accept-encoding", "gzip;q=0")],
        )
        .await;
        assert!(headers.get(header::CONTENT_ENCODING).is_none());
        assert_eq!(plain, identity);
        assert!(body.len() < identity.len() / 2);
    }

    #[tokio::test]
    async fn a_known_etag_is_not_modified_and_unknown_files_are_404() {
        let (_, headers, _) = get("/portal/app.js", &[]).await;
        let etag = headers[header::ETAG].to_str().unwrap().to_owned();
        let (status, _, body) = get("/portal/app.js", &[("if-none-match", &etag)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert!(body.is_empty());
        for missing in [
            "/portal/nope.js",
            "/portal/../Cargo.toml",
            "/portal/vendor/",
            "/portal/it's%22%C3%A9.js",
        ] {
            let (status, headers, body) = get(missing, &[]).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
            assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
            let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(problem["status"], 404, "{missing}");
        }
    }

    #[test]
    fn the_policy_lets_the_page_connect_to_itself_and_the_configured_socket_only() {
        assert!(content_security_policy(None).contains("connect-src 'self';"));
        assert!(
            content_security_policy(Some("wss://core.example.com/ws"))
                .contains("connect-src 'self' wss://core.example.com/ws;")
        );
    }

    #[test]
    fn only_a_plain_websocket_url_is_put_in_the_page() {
        assert_eq!(
            checked_websocket_url(" wss://core.example.com/ws "),
            Some("wss://core.example.com/ws".to_owned())
        );
        for bad in [
            "",
            "https://core.example.com/ws",
            "wss://x/\"><script>",
            "wss://a b",
        ] {
            assert_eq!(checked_websocket_url(bad), None, "{bad}");
        }
    }

    /// Every module a script imports and every file the page links is in the table (a
    /// file added to `assets/` but not to [`ASSETS`] would be a 404 in the browser).
    #[test]
    fn every_file_the_pages_reference_is_served() {
        let import = regex_lite::Regex::new(
            r#"(?m)(?:^\s*(?:import|export)\s[^;'"]*?from\s*|\bimport\(\s*)['"]([^'"]+)['"]"#,
        )
        .unwrap();
        let link = regex_lite::Regex::new(r#"(?:href|src)="/portal/([^"]+)""#).unwrap();
        let mut checked = 0;
        for asset in ASSETS {
            let text = String::from_utf8_lossy(asset.body);
            let base = asset.path.rsplit_once('/').map_or("", |(dir, _)| dir);
            if asset.path.ends_with(".js") {
                for found in import.captures_iter(&text) {
                    let target = &found[1];
                    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
                    for part in target.split('/') {
                        match part {
                            "." => {}
                            ".." => {
                                parts.pop();
                            }
                            p => parts.push(p),
                        }
                    }
                    let resolved = parts.join("/");
                    checked += 1;
                    assert!(
                        ASSETS.iter().any(|a| a.path == resolved),
                        "{} imports {target} ({resolved}), which is not served",
                        asset.path
                    );
                }
            }
            if asset.path.ends_with(".html") {
                for found in link.captures_iter(&text) {
                    checked += 1;
                    assert!(
                        ASSETS.iter().any(|a| a.path == &found[1]),
                        "{} links {}, which is not served",
                        asset.path,
                        &found[1]
                    );
                }
            }
        }
        // Each script imports its modules: the scan found them.
        assert!(checked > 40, "only {checked} references found");
    }
}

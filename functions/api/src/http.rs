//! The middleware every function's router gets, in one place so that all four answer
//! alike: request ids (`x-request-id`, generated unless the caller sent one, echoed on
//! the response and recorded on the request's span), a tracing span per request, CORS,
//! the body-size limit (413 as a problem body), JSON 404 and 405 problems, and a panic
//! anywhere below turned into a logged 500 problem instead of a dropped connection.

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, Request, header};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use app::settings::Settings;

/// The body limit in force, for the extractors' 413 message.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

async fn no_route() -> ApiError {
    ApiError::not_found("no such route")
}

async fn wrong_method() -> ApiError {
    ApiError::method_not_allowed()
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("a handler panicked").into_response()
}

fn cors(settings: &Settings) -> CorsLayer {
    let origins = if settings.cors_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            settings
                .cors_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("idempotency-key"),
            REQUEST_ID,
        ])
        .expose_headers([REQUEST_ID, header::RETRY_AFTER, header::LOCATION])
        .max_age(Duration::from_secs(600))
}

/// Wraps a function's router in the shared middleware (see the module docs).
pub fn finish(router: Router, settings: &Settings) -> Router {
    let limit = settings.body_limit_bytes;
    router
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::Extension(BodyLimit(limit)))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(cors(settings))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let id = request
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    request_id = %id,
                )
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// The caller's IP address, for per-client rate limits: API Gateway's `sourceIp` under
/// Lambda, the socket's peer under `axum::serve`, or the first `X-Forwarded-For` hop
/// when `trust_forwarded_for` is set (only behind a proxy that overwrites it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIp(pub String);

impl axum::extract::FromRequestParts<app::state::AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &app::state::AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.settings.trust_forwarded_for {
            if let Some(first) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty())
            {
                return Ok(ClientIp(first.to_owned()));
            }
        }
        if let Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) =
            parts
                .extensions
                .get::<lambda_http::request::RequestContext>()
        {
            if let Some(ip) = &ctx.http.source_ip {
                return Ok(ClientIp(ip.clone()));
            }
        }
        if let Some(axum::extract::ConnectInfo(addr)) = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        {
            return Ok(ClientIp(addr.ip().to_string()));
        }
        Ok(ClientIp("unknown".into()))
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn boom() -> &'static str {
        let v: Vec<u8> = Vec::new();
        // An out-of-bounds index: the kind of bug the layer must contain.
        if v[usize::from(v.is_empty())] == 0 {
            return "unreachable";
        }
        "unreachable"
    }

    fn app(origins: &[&str]) -> Router {
        let settings = Settings {
            cors_origins: origins.iter().map(|o| (*o).to_owned()).collect(),
            ..Settings::default()
        };
        finish(
            Router::new()
                .route("/boom", get(boom))
                .route("/ok", get(|| async { "ok" })),
            &settings,
        )
    }

    async fn send(router: Router, request: Request<Body>) -> (u16, axum::http::HeaderMap, String) {
        let response = router.oneshot(request).await.expect("infallible");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_panicking_handler_is_a_500_problem() {
        let (status, headers, body) = send(
            app(&["*"]),
            Request::get("/boom").body(Body::empty()).expect("request"),
        )
        .await;
        assert_eq!(status, 500);
        assert_eq!(headers["content-type"], "application/problem+json");
        assert!(
            body.contains("/problems/internal") && !body.contains("index out of bounds"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn request_ids_are_made_or_echoed() {
        let (_, headers, _) = send(
            app(&["*"]),
            Request::get("/ok").body(Body::empty()).expect("request"),
        )
        .await;
        let made = headers[REQUEST_ID].to_str().expect("ascii");
        assert_eq!(made.len(), 36, "a UUID: {made}");
        let (_, headers, _) = send(
            app(&["*"]),
            Request::get("/ok")
                .header("x-request-id", "client-chosen-1")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
        assert_eq!(headers[REQUEST_ID], "client-chosen-1");
    }

    #[tokio::test]
    async fn cors_allows_configured_origins_only() {
        let preflight = |origin: &str| {
            Request::builder()
                .method(Method::OPTIONS)
                .uri("/ok")
                .header("origin", origin)
                .header("access-control-request-method", "GET")
                .header("access-control-request-headers", "authorization")
                .body(Body::empty())
                .expect("request")
        };
        let (_, headers, _) = send(
            app(&["https://app.example"]),
            preflight("https://app.example"),
        )
        .await;
        assert_eq!(
            headers["access-control-allow-origin"],
            "https://app.example"
        );
        assert!(
            headers["access-control-allow-headers"]
                .to_str()
                .expect("ascii")
                .contains("authorization")
        );
        let (_, headers, _) = send(
            app(&["https://app.example"]),
            preflight("https://evil.example"),
        )
        .await;
        assert!(!headers.contains_key("access-control-allow-origin"));
        let (_, headers, _) = send(app(&["*"]), preflight("https://anyone.example")).await;
        assert_eq!(headers["access-control-allow-origin"], "*");
    }

    #[tokio::test]
    async fn unknown_routes_and_methods_are_json_problems() {
        let (status, headers, body) = send(
            app(&["*"]),
            Request::get("/nope").body(Body::empty()).expect("request"),
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(headers["content-type"], "application/problem+json");
        assert!(body.contains("no such route"));
        let (status, _, body) = send(
            app(&["*"]),
            Request::post("/ok").body(Body::empty()).expect("request"),
        )
        .await;
        assert_eq!(status, 405);
        assert!(body.contains("/problems/method-not-allowed"));
    }
}

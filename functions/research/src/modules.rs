//! Users' strategy modules: `POST /strategy-modules` takes a WebAssembly module's bytes
//! (`Content-Type: application/wasm`), checks it whole with the engine's upload check
//! (`engine::wasm::inspect`: size cap, imports only the ABI, the required exports, the
//! declared parameters) and stores it for its owner; list, read and delete are the
//! caller's only. A stored module is a strategy named `wasm:<id>`: the catalog lists it
//! after the built-ins, and deployments and research jobs run it like one.

use api::principal::Principal;
use api::{ApiError, ApiResult};
use app::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use domain::{StrategyStatus, Timestamp};
use engine::wasm::{Limits, WasmError};
use serde::Serialize;
use store::strategy_modules::{ModuleDescription, StrategyModule, Upload};
use utoipa::ToSchema;

/// The media type of a module's bytes.
pub const WASM: &str = "application/wasm";

/// The largest module accepted (the engine's cap): also the route's body limit.
pub fn body_limit() -> usize {
    Limits::default().max_module_bytes
}

/// A module as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = StrategyModule)]
pub struct ModuleView {
    #[schema(format = "uuid")]
    id: String,
    /// The name deployments and research jobs use: `wasm:<id>`.
    #[schema(example = "wasm:6f1c1f3e-8a52-4c1e-9a57-0c7c6b1f2d3e")]
    strategy: String,
    /// What the module calls itself (its declaration).
    name: String,
    summary: String,
    /// The Stratus ABI version it was built for.
    abi_version: u32,
    /// Its parameters as JSON Schema, in the catalog's form.
    #[schema(value_type = Object)]
    params_schema: serde_json::Value,
    /// Bytes.
    size: usize,
    /// SHA-256 of the bytes, hex: the same bytes uploaded again are this module.
    sha256: String,
    #[schema(format = DateTime, value_type = String)]
    created_at: Timestamp,
}

impl From<StrategyModule> for ModuleView {
    fn from(m: StrategyModule) -> Self {
        ModuleView {
            strategy: format!("{}{}", engine::wasm::PREFIX, m.id),
            id: m.id,
            name: m.name,
            summary: m.summary,
            abi_version: m.abi_version,
            params_schema: m.params_schema,
            size: m.size,
            sha256: m.sha256,
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModuleList {
    /// Oldest first.
    modules: Vec<ModuleView>,
}

/// A WebAssembly module's bytes.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // a schema only: `WasmBody` reads the bytes
pub struct WasmBytes(Vec<u8>);

/// A request body of `Content-Type: application/wasm` within the route's limit: 415
/// for another media type, 413 over the limit.
#[derive(Debug)]
pub struct WasmBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for WasmBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_wasm = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case(WASM));
        if !is_wasm {
            return Err(ApiError::unsupported_media_type(
                "send the module's bytes with Content-Type: application/wasm",
            ));
        }
        let limit = req
            .extensions()
            .get::<api::http::BodyLimit>()
            .map_or_else(body_limit, |l| l.0);
        Bytes::from_request(req, state)
            .await
            .map(WasmBody)
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::payload_too_large(limit)
                } else {
                    ApiError::bad_request(format!("the body could not be read: {rejection}"))
                }
            })
    }
}

/// The caller's module `id`, or a 404 (unknown, malformed and another user's alike).
async fn owned(state: &AppState, principal: &Principal, id: &str) -> ApiResult<StrategyModule> {
    match state.modules.get(principal.user_id, id).await {
        Ok(m) => Ok(m),
        Err(e) if e.kind() == store::ErrorKind::NotFound => {
            Err(ApiError::not_found(format!("no strategy module {id:?}")))
        }
        Err(e) => Err(e.into()),
    }
}

/// The caller's modules (the catalog lists them after the built-ins).
pub async fn of(state: &AppState, principal: &Principal) -> ApiResult<Vec<StrategyModule>> {
    Ok(state.modules.list(principal.user_id).await?)
}

#[utoipa::path(post, path = "/strategy-modules", tag = "research", operation_id = "uploadStrategyModule",
    summary = "Upload a strategy module: WebAssembly built for the Stratus ABI (crates/engine/src/wasm/ABI.md)",
    description = "The module is checked whole before it is stored: at most 1 MiB, valid WebAssembly, importing only the ABI's functions, exporting what the ABI requires, declaring its name, summary and parameters. Deploy or backtest it as `wasm:<id>`. The same bytes uploaded again answer the module already stored (200).",
    request_body(content = WasmBytes, content_type = "application/wasm", description = "The module's bytes"),
    responses(
        (status = 201, description = "Stored", body = ModuleView),
        (status = 200, description = "You already have a module with these bytes: that one", body = ModuleView),
        (status = 400, description = "The body could not be read", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "You have as many modules as a user may keep (`too-many-modules`): delete one first", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 413, description = "Larger than the cap (1 MiB)", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 415, description = "Not sent as application/wasm", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 422, description = "Not a module Stratus can run (field `body`, with the reason)", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn upload(
    State(state): State<AppState>,
    principal: Principal,
    WasmBody(bytes): WasmBody,
) -> ApiResult<(StatusCode, HeaderMap, Json<ModuleView>)> {
    let checked = bytes.clone();
    // Compiling and instantiating a module is CPU work: off the request's thread.
    let info =
        tokio::task::spawn_blocking(move || engine::wasm::inspect(&checked, &Limits::default()))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
            .map_err(|e| match e {
                WasmError::TooLarge { limit, .. } => ApiError::payload_too_large(limit),
                other => ApiError::invalid_field("body", other.to_string()),
            })?;
    let description = ModuleDescription {
        name: info.name,
        summary: info.summary,
        abi_version: info.abi_version,
        params_schema: info.params_schema,
    };
    let upload = state
        .modules
        .upload(principal.user_id, description, &bytes, state.clock.now())
        .await?;
    let (status, module) = match upload {
        Upload::Created(m) => {
            tracing::info!(module_id = %m.id, user_id = %principal.user_id, size = m.size, "strategy module uploaded");
            (StatusCode::CREATED, m)
        }
        Upload::Existing(m) => (StatusCode::OK, m),
        Upload::Full { limit } => {
            return Err(ApiError::rejected(
                "too-many-modules",
                format!(
                    "you have {limit} strategy modules, the most a user may keep; delete one first"
                ),
            ));
        }
    };
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("/strategy-modules/{}", module.id)) {
        headers.insert(header::LOCATION, location);
    }
    Ok((status, headers, Json(ModuleView::from(module))))
}

#[utoipa::path(get, path = "/strategy-modules", tag = "research", operation_id = "listStrategyModules",
    summary = "The caller's strategy modules, oldest first",
    responses((status = 200, description = "The modules", body = ModuleList)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<ModuleList>> {
    Ok(Json(ModuleList {
        modules: of(&state, &principal)
            .await?
            .into_iter()
            .map(ModuleView::from)
            .collect(),
    }))
}

#[utoipa::path(get, path = "/strategy-modules/{module_id}", tag = "research", operation_id = "getStrategyModule",
    summary = "One of the caller's strategy modules",
    params(("module_id" = String, Path, description = "A module of the caller (another user's is a 404)")),
    responses((status = 200, description = "The module", body = ModuleView)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<ModuleView>> {
    Ok(Json(ModuleView::from(
        owned(&state, &principal, &id).await?,
    )))
}

#[utoipa::path(delete, path = "/strategy-modules/{module_id}", tag = "research", operation_id = "deleteStrategyModule",
    summary = "Delete one of the caller's strategy modules (not while a deployment runs it)",
    params(("module_id" = String, Path, description = "A module of the caller")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "A running or paused deployment uses it (`module-in-use`): stop it first", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let module = owned(&state, &principal, &id).await?;
    let name = format!("{}{}", engine::wasm::PREFIX, module.id);
    for account in state.accounts.accounts(principal.user_id).await? {
        let deployments = state.strategies.strategies(Some(account.id)).await?;
        if let Some(d) = deployments
            .iter()
            .find(|d| d.strategy == name && d.status != StrategyStatus::Stopped)
        {
            return Err(ApiError::rejected(
                "module-in-use",
                format!(
                    "deployment {} runs this module ({}); stop it first",
                    d.id,
                    d.status.as_str()
                ),
            ));
        }
    }
    match state.modules.delete(principal.user_id, &module.id).await {
        Ok(()) => {}
        // Deleted by a racing request: gone either way.
        Err(e) if e.kind() == store::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    tracing::info!(module_id = %module.id, user_id = %principal.user_id, "strategy module deleted");
    Ok(StatusCode::NO_CONTENT)
}

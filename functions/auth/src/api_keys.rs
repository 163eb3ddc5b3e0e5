//! API keys for bots: `stk_<key id>_<secret>`, shown once at creation, stored as a
//! SHA-256 digest, usable instead of an access token, revocable. Keys are managed with
//! an access token only, so a leaked key cannot mint more keys.

use api::extract::ApiJson;
use api::input::Name;
use api::principal::{API_KEY_PREFIX, AuthMethod, Principal};
use api::{ApiError, ApiResult};
use app::{AppState, crypto};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use store::users::ApiKeyRecord;
use utoipa::ToSchema;

/// Active keys a user may hold.
const MAX_KEYS: usize = 20;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateApiKey)]
pub struct CreateBody {
    name: Name,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApiKey)]
pub struct KeyView {
    key_id: String,
    name: String,
    /// The key's first characters, to recognise it in a list.
    prefix: String,
    #[schema(format = DateTime)]
    created_at: String,
    revoked: bool,
}

impl From<&ApiKeyRecord> for KeyView {
    fn from(k: &ApiKeyRecord) -> Self {
        KeyView {
            key_id: k.key_id.clone(),
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            created_at: domain::Timestamp::from_secs(k.created_at).to_string(),
            revoked: k.revoked,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreatedApiKey)]
pub struct CreatedKey {
    key_id: String,
    name: String,
    prefix: String,
    #[schema(format = DateTime)]
    created_at: String,
    revoked: bool,
    /// The key itself: shown this once.
    key: String,
}

fn with_access_token(principal: &Principal) -> ApiResult<()> {
    match principal.method {
        AuthMethod::AccessToken { .. } => Ok(()),
        AuthMethod::ApiKey { .. } => Err(ApiError::forbidden(
            "API keys are managed with an access token, not with an API key",
        )),
    }
}

#[utoipa::path(post, path = "/auth/api-keys", tag = "auth", operation_id = "createApiKey",
    summary = "Create an API key (shown once; with an access token only)",
    request_body = CreateBody,
    responses(
        (status = 201, description = "Created", body = CreatedKey),
        (status = 403, description = "Managed with an access token only", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "Too many active keys (`too-many-keys`)", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateBody>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    with_access_token(&principal)?;
    let name = body.name.0.as_str();
    let active = state
        .users
        .api_keys(principal.user_id)
        .await?
        .iter()
        .filter(|k| !k.revoked)
        .count();
    if active >= MAX_KEYS {
        return Err(ApiError::rejected(
            "too-many-keys",
            format!("at most {MAX_KEYS} active API keys; revoke one first"),
        ));
    }
    let key_id = crypto::random_token(9).replace(['-', '_'], "x");
    let key = format!("{API_KEY_PREFIX}{key_id}_{}", crypto::random_token(32));
    let record = ApiKeyRecord {
        key_id: key_id.clone(),
        user_id: principal.user_id,
        name: name.to_owned(),
        prefix: key.chars().take(API_KEY_PREFIX.len() + 6).collect(),
        created_at: state.clock.unix_seconds(),
        revoked: false,
    };
    state
        .users
        .add_api_key(&crypto::sha256_hex(&key), &record)
        .await?;
    tracing::info!(user_id = %principal.user_id, key_id = %key_id, "api key created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            key_id: record.key_id.clone(),
            name: record.name.clone(),
            prefix: record.prefix.clone(),
            created_at: domain::Timestamp::from_secs(record.created_at).to_string(),
            revoked: record.revoked,
            key,
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApiKeyList)]
pub struct KeyList {
    api_keys: Vec<KeyView>,
}

#[utoipa::path(get, path = "/auth/api-keys", tag = "auth", operation_id = "listApiKeys",
    summary = "The caller's API keys",
    responses((status = 200, description = "The keys", body = KeyList), (status = 403, description = "Managed with an access token only", body = api::openapi::ProblemSchema, content_type = "application/problem+json")))]
pub async fn list(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<KeyList>> {
    with_access_token(&principal)?;
    let keys = state.users.api_keys(principal.user_id).await?;
    Ok(Json(KeyList {
        api_keys: keys.iter().map(KeyView::from).collect(),
    }))
}

#[utoipa::path(delete, path = "/auth/api-keys/{key_id}", tag = "auth", operation_id = "revokeApiKey",
    summary = "Revoke an API key",
    params(("key_id" = String, Path, description = "The key's id")),
    responses((status = 204, description = "Revoked"), (status = 403, description = "Managed with an access token only", body = api::openapi::ProblemSchema, content_type = "application/problem+json")))]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path(key_id): Path<String>,
) -> ApiResult<StatusCode> {
    with_access_token(&principal)?;
    match state.users.revoke_api_key(principal.user_id, &key_id).await {
        Ok(()) => {
            state.credentials.api_key_revoked();
            Ok(StatusCode::NO_CONTENT)
        }
        Err(e) if e.kind() == store::ErrorKind::NotFound => {
            Err(ApiError::not_found(format!("no API key {key_id:?}")))
        }
        Err(e) => Err(e.into()),
    }
}

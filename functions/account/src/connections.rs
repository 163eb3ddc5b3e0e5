//! Broker connections: an external broker's credentials attached to an account. The
//! credentials are sealed (AES-256-GCM, bound to the account) before they are stored and
//! are never returned — a connection shows its broker, label and the names of its
//! credential fields only.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use common::accounts::owned;
use common::auth::Principal;
use common::broker::KNOWN_BROKERS;
use common::extract::ApiJson;
use common::{ApiError, ApiResult, AppState, crypto};
use serde::{Deserialize, Serialize};
use store::brokers::BrokerConnection;

/// Connections an account may hold.
const MAX_CONNECTIONS: usize = 10;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    broker: String,
    #[serde(default)]
    label: Option<String>,
    credentials: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct ConnectionView {
    id: String,
    broker: String,
    label: String,
    credential_fields: Vec<String>,
    created_at: String,
}

impl From<&BrokerConnection> for ConnectionView {
    fn from(c: &BrokerConnection) -> Self {
        ConnectionView {
            id: c.id.clone(),
            broker: c.broker.clone(),
            label: c.label.clone(),
            credential_fields: c.fields.clone(),
            created_at: domain::Timestamp::from_secs(c.created_at).to_string(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ConnectionList {
    connections: Vec<ConnectionView>,
}

fn check(body: &CreateBody) -> ApiResult<String> {
    if !KNOWN_BROKERS.contains(&body.broker.as_str()) {
        return Err(ApiError::invalid_field(
            "broker",
            format!("must be one of {}", KNOWN_BROKERS.join(", ")),
        ));
    }
    let label = body.label.clone().unwrap_or_else(|| body.broker.clone());
    if label.trim().is_empty() || label.chars().count() > 64 || label.chars().any(char::is_control)
    {
        return Err(ApiError::invalid_field(
            "label",
            "must be 1 to 64 printable characters",
        ));
    }
    if body.credentials.is_empty() || body.credentials.len() > 10 {
        return Err(ApiError::invalid_field(
            "credentials",
            "give 1 to 10 credential fields",
        ));
    }
    for (name, value) in &body.credentials {
        let field = format!("credentials.{name}");
        if name.is_empty()
            || name.len() > 64
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(ApiError::invalid_field(
                field,
                "names are 1 to 64 letters, digits or _",
            ));
        }
        if value.is_empty() || value.len() > 4096 {
            return Err(ApiError::invalid_field(field, "values are 1 to 4096 bytes"));
        }
    }
    Ok(label.trim().to_owned())
}

pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CreateBody>,
) -> ApiResult<(StatusCode, Json<ConnectionView>)> {
    let account = owned(&state, &principal, &id).await?;
    let label = check(&body)?;
    if state.brokers.list(account.id).await?.len() >= MAX_CONNECTIONS {
        return Err(ApiError::rejected(
            "too-many-connections",
            format!("at most {MAX_CONNECTIONS} broker connections per account"),
        ));
    }
    let plaintext = serde_json::to_vec(&body.credentials)
        .map_err(|e| ApiError::internal(format!("encoding credentials: {e}")))?;
    let connection = BrokerConnection {
        id: crypto::random_token(12),
        account_id: account.id,
        broker: body.broker.clone(),
        label,
        fields: body.credentials.keys().cloned().collect(),
        sealed_credentials: state.sealer.seal(&plaintext, &account.id.to_string()),
        created_at: state.clock.unix_seconds(),
    };
    state.brokers.add(&connection).await?;
    tracing::info!(account_id = %account.id, broker = %connection.broker, "broker connection added");
    Ok((StatusCode::CREATED, Json(ConnectionView::from(&connection))))
}

pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<ConnectionList>> {
    let account = owned(&state, &principal, &id).await?;
    let connections = state.brokers.list(account.id).await?;
    Ok(Json(ConnectionList {
        connections: connections.iter().map(ConnectionView::from).collect(),
    }))
}

pub async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, connection_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let account = owned(&state, &principal, &id).await?;
    match state.brokers.remove(account.id, &connection_id).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(e) if e.kind() == store::ErrorKind::NotFound => Err(ApiError::not_found(format!(
            "no broker connection {connection_id:?}"
        ))),
        Err(e) => Err(e.into()),
    }
}

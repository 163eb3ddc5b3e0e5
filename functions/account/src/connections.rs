//! Broker connections: an external broker's credentials attached to an account. The
//! credentials are sealed (AES-256-GCM, bound to the account) before they are stored and
//! are never returned — a connection shows its broker, label and the names of its
//! credential fields only.

use api::accounts::owned;
use api::extract::ApiJson;
use api::input::{Credentials, Name};
use api::principal::Principal;
use api::{ApiError, ApiResult};
use app::{AppState, crypto};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use store::brokers::BrokerConnection;
use utoipa::ToSchema;

/// Connections an account may hold.
const MAX_CONNECTIONS: usize = 10;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateBrokerConnection)]
pub struct CreateBody {
    broker: BrokerName,
    /// Default: the broker's name.
    #[serde(default)]
    #[schema(nullable)]
    label: Option<Name>,
    credentials: Credentials,
}

/// The brokers a connection may name.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = Broker)]
pub enum BrokerName {
    Alpaca,
    InteractiveBrokers,
    Binance,
    Coinbase,
}

impl BrokerName {
    fn as_str(self) -> &'static str {
        match self {
            BrokerName::Alpaca => "alpaca",
            BrokerName::InteractiveBrokers => "interactive_brokers",
            BrokerName::Binance => "binance",
            BrokerName::Coinbase => "coinbase",
        }
    }
}

/// Credentials are stored sealed and never returned: a connection shows their names.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BrokerConnection)]
pub struct ConnectionView {
    id: String,
    broker: String,
    label: String,
    credential_fields: Vec<String>,
    #[schema(format = DateTime)]
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

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BrokerConnectionList)]
pub struct ConnectionList {
    connections: Vec<ConnectionView>,
}

#[utoipa::path(post, path = "/accounts/{account_id}/broker-connections", tag = "account", operation_id = "createBrokerConnection",
    summary = "Attach an external broker's credentials (stored sealed)", params(("account_id" = String, Path, description = "An account of the caller (another user's is a 404)")),
    request_body = CreateBody,
    responses(
        (status = 201, description = "Attached", body = ConnectionView),
        (status = 409, description = "At most 10 connections per account (`too-many-connections`)", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CreateBody>,
) -> ApiResult<(StatusCode, Json<ConnectionView>)> {
    let account = owned(&state, &principal, &id).await?;
    let broker = body.broker.as_str();
    let label = body.label.map_or_else(|| broker.to_owned(), |l| l.0);
    if state.brokers.list(account.id).await?.len() >= MAX_CONNECTIONS {
        return Err(ApiError::rejected(
            "too-many-connections",
            format!("at most {MAX_CONNECTIONS} broker connections per account"),
        ));
    }
    let plaintext = serde_json::to_vec(&body.credentials.0)
        .map_err(|e| ApiError::internal(format!("encoding credentials: {e}")))?;
    let connection = BrokerConnection {
        id: crypto::random_token(12),
        account_id: account.id,
        broker: broker.to_owned(),
        label,
        fields: body.credentials.0.keys().cloned().collect(),
        sealed_credentials: state.sealer.seal(&plaintext, &account.id.to_string()),
        created_at: state.clock.unix_seconds(),
    };
    state.brokers.add(&connection).await?;
    tracing::info!(account_id = %account.id, broker = %connection.broker, "broker connection added");
    Ok((StatusCode::CREATED, Json(ConnectionView::from(&connection))))
}

#[utoipa::path(get, path = "/accounts/{account_id}/broker-connections", tag = "account", operation_id = "listBrokerConnections",
    summary = "Broker connections (credentials never returned)", params(("account_id" = String, Path, description = "An account of the caller (another user's is a 404)")),
    responses((status = 200, description = "The connections", body = ConnectionList)))]
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

#[utoipa::path(delete, path = "/accounts/{account_id}/broker-connections/{connection_id}", tag = "account", operation_id = "deleteBrokerConnection",
    summary = "Remove a broker connection",
    params(("account_id" = String, Path, description = "An account of the caller"), ("connection_id" = String, Path, description = "The connection's id")),
    responses((status = 204, description = "Removed")))]
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

//! Broker connections: an external broker's credentials attached to an account. The
//! credentials are sealed (AES-256-GCM, bound to the account) before they are stored and
//! are never returned — a connection shows its broker, environment, label, the names of
//! its credential fields and what Stratus learned of it: whether the broker took the
//! credentials (`status`: `active`, `invalid` with the broker's reason, `unverified` when
//! the broker could not be asked) and a reconciliation halt.
//!
//! For the brokers Stratus routes to (`alpaca`, `binance`) the credentials must be the
//! broker's fields (`key_id`/`secret_key`, `api_key`/`secret_key`) and are checked with the
//! broker when attached (`POST …/verify` checks again). A broker account (`kind: broker`)
//! is opened with its connection ([`attach`]); the broker's cash becomes its opening
//! balance.

use api::accounts::owned;
use api::extract::ApiJson;
use api::input::{Credentials, Name};
use api::principal::Principal;
use api::{ApiError, ApiResult};
use app::{AppState, crypto};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::{Account, AccountKind};
use serde::{Deserialize, Serialize};
use store::brokers::{BrokerConnection, ConnectionStatus};
use utoipa::ToSchema;

/// The id of a broker account's one connection.
const ROUTING_CONNECTION: &str = "routing";

/// Connections an account may hold.
const MAX_CONNECTIONS: usize = 10;

/// A connection to attach. Its schema is written by hand ([`connection_schema`]): which
/// environments and credential fields are accepted depends on the broker.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    broker: BrokerName,
    /// `paper` or `live` (Alpaca), `testnet` or `live` (Binance); default: the first,
    /// which never trades real money.
    #[serde(default)]
    environment: Option<Environment>,
    /// Default: the broker's name.
    #[serde(default)]
    label: Option<Name>,
    /// Alpaca: `key_id`, `secret_key`; Binance: `api_key`, `secret_key`.
    credentials: Credentials,
}

/// A broker's environment.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    Paper,
    Testnet,
    Live,
}

impl Environment {
    fn as_str(self) -> &'static str {
        match self {
            Environment::Paper => "paper",
            Environment::Testnet => "testnet",
            Environment::Live => "live",
        }
    }
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

/// The schema of a connection request: one shape per broker Stratus routes to (its
/// environments, exactly its credential fields), and one for the others (any fields).
/// With `routable_only`, the brokers Stratus routes to only (a broker account's).
pub fn connection_schema(routable_only: bool) -> serde_json::Value {
    let text = |name: &str| {
        (
            name.to_owned(),
            serde_json::json!({"type": "string", "minLength": 1, "maxLength": 4096}),
        )
    };
    let variant = |brokers: &[&str], environments: &[&str], credentials: serde_json::Value| {
        let mut environment: Vec<serde_json::Value> =
            environments.iter().map(|e| serde_json::json!(e)).collect();
        environment.push(serde_json::Value::Null);
        serde_json::json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["broker", "credentials"],
            "properties": {
                "broker": {"type": "string", "enum": brokers},
                "environment": {"type": ["string", "null"], "enum": environment,
                    "description": "Default: the first, which never trades real money."},
                "label": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Name"}],
                    "description": "Default: the broker's name."},
                "credentials": credentials,
            },
        })
    };
    let fields = |names: &[&str]| {
        let properties: serde_json::Map<String, serde_json::Value> =
            names.iter().map(|n| text(n)).collect();
        serde_json::json!({
            "type": "object",
            "additionalProperties": false,
            "required": names,
            "properties": properties,
            "description": "Stored sealed, never returned.",
        })
    };
    let mut variants = vec![
        variant(
            &["alpaca"],
            brokers::registry::environments("alpaca"),
            fields(brokers::registry::credential_fields("alpaca")),
        ),
        variant(
            &["binance"],
            brokers::registry::environments("binance"),
            fields(brokers::registry::credential_fields("binance")),
        ),
    ];
    if !routable_only {
        variants.push(variant(
            &["interactive_brokers", "coinbase"],
            &["paper", "testnet", "live"],
            serde_json::json!({"$ref": "#/components/schemas/Credentials"}),
        ));
    }
    serde_json::json!({
        "oneOf": variants,
        "description": "An external broker's credentials. Alpaca (`paper`, `live`): `key_id`, `secret_key`; Binance Spot (`testnet`, `live`): `api_key`, `secret_key`.",
    })
}

/// A hand-written schema as utoipa's (an object if it could not be read, which the
/// OpenAPI test would show).
pub fn schema_of(
    value: serde_json::Value,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    serde_json::from_value(value).unwrap_or_else(|_| {
        utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::Object(
            utoipa::openapi::schema::Object::new(),
        ))
    })
}

impl utoipa::PartialSchema for CreateBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        schema_of(connection_schema(false))
    }
}

impl utoipa::ToSchema for CreateBody {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("CreateBrokerConnection")
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((
            "Name".into(),
            <api::input::Name as utoipa::PartialSchema>::schema(),
        ));
        schemas.push((
            "Credentials".into(),
            <Credentials as utoipa::PartialSchema>::schema(),
        ));
    }
}

impl CreateBody {
    /// The broker the connection names.
    pub fn broker_name(&self) -> &'static str {
        self.broker.as_str()
    }
}

impl BrokerName {
    pub fn as_str(self) -> &'static str {
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
    environment: String,
    credential_fields: Vec<String>,
    /// `active` (the broker took the credentials), `invalid` (it refused them:
    /// `status_reason` has its words) or `unverified` (not asked yet, or it could not be
    /// reached).
    #[schema(pattern = "^(active|invalid|unverified)$")]
    status: &'static str,
    #[schema(nullable)]
    status_reason: Option<String>,
    #[schema(format = DateTime, nullable)]
    checked_at: Option<String>,
    /// New orders are halted: reconciliation found a difference with the broker it could
    /// not explain (`reason`). Resolve it at the broker, then `POST …/reconcile`.
    #[schema(nullable)]
    halted: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
}

impl From<&BrokerConnection> for ConnectionView {
    fn from(c: &BrokerConnection) -> Self {
        ConnectionView {
            id: c.id.clone(),
            broker: c.broker.clone(),
            label: c.label.clone(),
            environment: c.environment.clone(),
            credential_fields: c.fields.clone(),
            status: c.status.as_str(),
            status_reason: c.status_reason.clone(),
            checked_at: c
                .checked_at
                .map(|t| domain::Timestamp::from_secs(t).to_string()),
            halted: c.halt.as_ref().map(|h| h.reason.clone()),
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
    let checked = check(&body, "")?;
    let connections = state.brokers.list(account.id).await?;
    if connections.len() >= MAX_CONNECTIONS {
        return Err(ApiError::rejected(
            "too-many-connections",
            format!("at most {MAX_CONNECTIONS} broker connections per account"),
        ));
    }
    if account.kind == AccountKind::Broker && !connections.is_empty() {
        return Err(ApiError::rejected(
            "one-connection-per-broker-account",
            "a broker account routes through one connection: remove it to attach another",
        ));
    }
    let connection = attach(&state, &account, body, checked).await?;
    Ok((StatusCode::CREATED, Json(ConnectionView::from(&connection))))
}

/// What [`check`] found of a connection request.
#[derive(Debug)]
pub struct Checked {
    environment: &'static str,
}

/// Checks a connection request before anything is stored: the environment is one of the
/// broker's, and the credentials are the fields its adapter needs. `prefix` is where the
/// body sits in the request (`broker_connection.` when an account is opened with it).
pub fn check(body: &CreateBody, prefix: &str) -> ApiResult<Checked> {
    let broker = body.broker.as_str();
    let known = brokers::registry::environments(broker);
    let environment = match body.environment {
        None => known.first().copied().unwrap_or("live"),
        Some(e) => {
            let name = e.as_str();
            if !known.is_empty() && !known.contains(&name) {
                return Err(ApiError::invalid_field(
                    format!("{prefix}environment"),
                    format!("{broker} has the environments {}", known.join(", ")),
                ));
            }
            name
        }
    };
    let needed = brokers::registry::credential_fields(broker);
    let given = &body.credentials.0;
    for field in needed {
        if !given.contains_key(*field) {
            return Err(ApiError::invalid_field(
                format!("{prefix}credentials.{field}"),
                format!("{broker} needs the credential fields {}", needed.join(", ")),
            ));
        }
    }
    if !needed.is_empty() {
        if let Some(extra) = given.keys().find(|k| !needed.contains(&k.as_str())) {
            return Err(ApiError::invalid_field(
                format!("{prefix}credentials.{extra}"),
                format!(
                    "{broker} takes only the credential fields {}",
                    needed.join(", ")
                ),
            ));
        }
    }
    Ok(Checked { environment })
}

/// Stores a checked connection on `account` and, for a broker Stratus routes to, asks the
/// broker whether it takes the credentials (the answer is recorded; a refusal changes
/// nothing else). A broker account's opening balance is the broker's cash.
pub async fn attach(
    state: &AppState,
    account: &Account,
    body: CreateBody,
    checked: Checked,
) -> ApiResult<BrokerConnection> {
    let broker = body.broker.as_str();
    let label = body.label.map_or_else(|| broker.to_owned(), |l| l.0);
    let plaintext = serde_json::to_vec(&body.credentials.0)
        .map_err(|e| ApiError::internal(format!("encoding credentials: {e}")))?;
    let connection = BrokerConnection {
        // A broker account has one connection, under a fixed id: two racing requests
        // cannot both attach one (the store's insert refuses the second).
        id: if account.kind == AccountKind::Broker {
            ROUTING_CONNECTION.to_owned()
        } else {
            crypto::random_token(12)
        },
        account_id: account.id,
        broker: broker.to_owned(),
        label,
        fields: body.credentials.0.keys().cloned().collect(),
        sealed_credentials: state.sealer.seal(&plaintext, &account.id.to_string()),
        created_at: state.clock.unix_seconds(),
        environment: checked.environment.to_owned(),
        status: ConnectionStatus::Unverified,
        status_reason: None,
        checked_at: None,
        halt: None,
        opening_positions: None,
    };
    match state.brokers.add(&connection).await {
        Ok(()) => {}
        Err(e) if e.kind() == store::ErrorKind::ConditionFailed => {
            return Err(ApiError::rejected(
                "one-connection-per-broker-account",
                "a broker account routes through one connection: remove it to attach another",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(account_id = %account.id, broker = %connection.broker, environment = %connection.environment, "broker connection added");
    if !brokers::registry::BROKERS.contains(&broker) {
        return Ok(connection);
    }
    let connection = state.venues.verify(state, &connection).await?;
    if connection.status == ConnectionStatus::Active && account.kind == AccountKind::Broker {
        opening_balance(state, account, &connection).await?;
    }
    Ok(connection)
}

/// A broker account's starting point: the broker's cash as its opening balance, and what
/// the broker already holds (see `app::reconcile::open`). A broker that does not answer
/// now leaves it to reconciliation.
pub async fn opening_balance(
    state: &AppState,
    account: &Account,
    connection: &BrokerConnection,
) -> ApiResult<()> {
    let broker = state.venues.broker(state, connection)?;
    if let Err(e) = app::reconcile::open(state, account, connection, &*broker).await {
        tracing::warn!(account_id = %account.id, error = %e, "the broker account's starting point is not known yet");
    }
    Ok(())
}

/// One of the account's connections (a 404 naming it otherwise).
async fn connection_of(
    state: &AppState,
    account: &Account,
    connection_id: &str,
) -> ApiResult<BrokerConnection> {
    state
        .brokers
        .get(account.id, connection_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no broker connection {connection_id:?}")))
}

#[utoipa::path(post, path = "/accounts/{account_id}/broker-connections/{connection_id}/verify", tag = "account", operation_id = "verifyBrokerConnection",
    summary = "Ask the broker again whether it takes the connection's credentials",
    params(("account_id" = String, Path, description = "An account of the caller"), ("connection_id" = String, Path, description = "The connection's id")),
    responses((status = 200, description = "The connection with the broker's answer", body = ConnectionView)))]
pub async fn verify(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, connection_id)): Path<(String, String)>,
) -> ApiResult<Json<ConnectionView>> {
    let account = owned(&state, &principal, &id).await?;
    let connection = connection_of(&state, &account, &connection_id).await?;
    if !brokers::registry::BROKERS.contains(&connection.broker.as_str()) {
        return Err(ApiError::rejected(
            "no-adapter",
            format!(
                "Stratus has no adapter for {}: its credentials cannot be checked",
                connection.broker
            ),
        ));
    }
    let connection = state.venues.verify(&state, &connection).await?;
    if connection.status == ConnectionStatus::Active && account.kind == AccountKind::Broker {
        opening_balance(&state, &account, &connection).await?;
    }
    Ok(Json(ConnectionView::from(&connection)))
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
    responses(
        (status = 204, description = "Removed"),
        (status = 409, description = "A broker account's connection while orders work (`orders-working`) or while it is halted (`account-halted`)", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, connection_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let account = owned(&state, &principal, &id).await?;
    if account.kind == AccountKind::Broker {
        // The connection is how the account's working orders are followed and
        // cancelled, and where its halt is kept: it stays while any order works.
        let query = |status| store::records::OrderQuery {
            status: Some(status),
            symbol: None,
            after: None,
            limit: 1,
        };
        for status in [
            domain::OrderStatus::New,
            domain::OrderStatus::Accepted,
            domain::OrderStatus::PartiallyFilled,
        ] {
            if !state
                .orders
                .orders(account.id, &query(status))
                .await?
                .orders
                .is_empty()
            {
                return Err(ApiError::rejected(
                    "orders-working",
                    "the account has working orders at its broker: cancel them before removing its connection",
                ));
            }
        }
        if let Some(connection) = state.brokers.get(account.id, &connection_id).await? {
            if let Some(halt) = connection.halt {
                return Err(ApiError::rejected(
                    "account-halted",
                    format!(
                        "resolve the difference with the broker first: {}",
                        halt.reason
                    ),
                ));
            }
        }
    }
    match state.brokers.remove(account.id, &connection_id).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(e) if e.kind() == store::ErrorKind::NotFound => Err(ApiError::not_found(format!(
            "no broker connection {connection_id:?}"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// What a reconciliation asked for by the owner found.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BrokerReconciliation)]
pub struct ReconciliationView {
    connection: ConnectionView,
    /// Orders brought up to date from the broker (reports the platform had missed).
    caught_up: usize,
    /// Orders withdrawn: the broker never received them.
    withdrawn: usize,
    /// What still differs (the account stays halted while anything does).
    discrepancies: Vec<String>,
}

#[utoipa::path(post, path = "/accounts/{account_id}/broker-connections/{connection_id}/reconcile", tag = "account", operation_id = "reconcileBrokerConnection",
    summary = "Reconcile a broker account now: take its holdings and cash as the broker has them, and lift the halt",
    description = "Orders the broker moved are caught up first (ask again while they are in flight). Orders at the broker that Stratus did not place keep the halt (cancel them at the broker). Otherwise a cash difference (a deposit, a dividend, a fee at the broker) is posted to the ledger once, as an adjustment naming both figures; a position difference becomes part of the account's starting point; and the halt is lifted. A symbol with a working order is left as it is.",
    params(("account_id" = String, Path, description = "A broker account of the caller"), ("connection_id" = String, Path, description = "Its connection's id")),
    responses(
        (status = 200, description = "What reconciliation found", body = ReconciliationView),
        (status = 409, description = "A paper account's connection (`not-routing`), or the broker refused the credentials (`broker-credentials-refused`)", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 503, description = "The broker did not answer (`broker-unavailable`, with `Retry-After`)", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn reconcile(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, connection_id)): Path<(String, String)>,
) -> ApiResult<Json<ReconciliationView>> {
    let account = owned(&state, &principal, &id).await?;
    let connection = connection_of(&state, &account, &connection_id).await?;
    if account.kind != AccountKind::Broker {
        return Err(ApiError::rejected(
            "not-routing",
            "only a broker account's connection is reconciled",
        ));
    }
    if connection.status == ConnectionStatus::Invalid {
        return Err(app::routing::RouteError::ConnectionInvalid(
            connection.status_reason.clone().unwrap_or_default(),
        )
        .into());
    }
    let broker = state.venues.broker(&state, &connection)?;
    let result = app::reconcile::resolve(&state, &account, &connection, &*broker).await?;
    let connection = state
        .brokers
        .get(account.id, &connection_id)
        .await?
        .unwrap_or(connection);
    tracing::info!(account_id = %account.id, caught_up = result.caught_up, discrepancies = result.discrepancies.len(), "reconciliation asked for by the owner");
    Ok(Json(ReconciliationView {
        connection: ConnectionView::from(&connection),
        caught_up: result.caught_up,
        withdrawn: result.withdrawn,
        discrepancies: result.discrepancies.into_iter().map(|d| d.reason).collect(),
    }))
}

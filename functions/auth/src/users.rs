//! Registration, the caller's profile, and role changes.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use common::auth::{AuthMethod, Principal};
use common::extract::ApiJson;
use common::http::ClientIp;
use common::{ApiError, ApiResult, AppState};
use domain::UserId;
use serde::{Deserialize, Serialize};
use store::auth::{Role, UserRecord};

use crate::password::{check_policy, hash_password};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    email: String,
    password: String,
}

#[derive(Debug, Serialize)]
pub struct UserView {
    id: String,
    email: String,
    role: Role,
    created_at: String,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        UserView {
            id: u.id.to_string(),
            email: u.email.clone(),
            role: u.role,
            created_at: domain::Timestamp::from_secs(u.created_at).to_string(),
        }
    }
}

/// A plausible email address, lower-cased; the message says what is wrong.
pub fn normalize_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim();
    let bad = |message: &str| ApiError::invalid_field("email", message);
    if email.is_empty() {
        return Err(bad("must not be empty"));
    }
    if email.len() > 254 {
        return Err(bad("must be at most 254 characters"));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("must not contain spaces or control characters"));
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(bad("must look like name@example.com"));
    };
    if local.is_empty()
        || local.len() > 64
        || domain.len() < 3
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains('@')
    {
        return Err(bad("must look like name@example.com"));
    }
    Ok(email.to_lowercase())
}

/// The answer to every valid registration, new email or not (see [`register`]).
#[derive(Debug, Serialize)]
pub struct Registered {
    email: String,
    status: &'static str,
    detail: &'static str,
}

/// Registers a user. The answer is the same `202 Accepted` whether or not the email was
/// registered before, and it takes as long (the password is hashed either way), so
/// registration cannot tell anyone which emails have accounts. An email that exists
/// keeps its password: the caller signs in with the password it chose, and if that
/// fails the email was taken. Finding that out takes a login, which is rate limited and
/// locked out like any other. Registrations are rate limited per client IP.
pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<RegisterBody>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
    let per_minute = state.settings.register_rate_per_minute;
    let allowed = state
        .rate_limits
        .allow(
            &format!("register#{ip}"),
            state.clock.now().nanos() / 1_000_000,
            per_minute,
            f64::from(per_minute) / 60.0,
        )
        .await?;
    if !allowed {
        return Err(ApiError::too_many_requests(
            60 / u64::from(per_minute).max(1),
        ));
    }
    let email = normalize_email(&body.email)?;
    check_policy(&body.password)?;
    let password_hash = hash_password(body.password).await?;
    let role = if state.settings.is_admin_email(&email) {
        Role::Admin
    } else {
        Role::Trader
    };
    let user = UserRecord {
        id: UserId::random(),
        email,
        password_hash,
        role,
        created_at: state.clock.unix_seconds(),
    };
    match state.users.create(&user).await {
        Ok(()) => tracing::info!(user_id = %user.id, "user registered"),
        Err(e) if e.kind() == store::ErrorKind::ConditionFailed => {
            tracing::info!("registration of an email that is taken: nothing changed");
        }
        Err(e) => return Err(e.into()),
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(Registered {
            email: user.email,
            status: "accepted",
            detail: "sign in with this email and password (POST /auth/login)",
        }),
    ))
}

#[derive(Debug, Serialize)]
pub struct MeView {
    #[serde(flatten)]
    user: UserView,
    authenticated_by: &'static str,
}

pub async fn me(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<MeView>> {
    let user = state
        .users
        .by_id(principal.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the user no longer exists"))?;
    Ok(Json(MeView {
        user: UserView::from(&user),
        authenticated_by: match principal.method {
            AuthMethod::AccessToken { .. } => "access_token",
            AuthMethod::ApiKey { .. } => "api_key",
        },
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    role: Role,
}

pub async fn set_role(
    State(state): State<AppState>,
    principal: Principal,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<RoleBody>,
) -> ApiResult<Json<UserView>> {
    principal.require_admin()?;
    let id =
        UserId::parse(&user_id).map_err(|_| ApiError::not_found(format!("no user {user_id:?}")))?;
    if id == principal.user_id && body.role != Role::Admin {
        return Err(ApiError::conflict(
            "an admin cannot remove their own admin role (ask another admin)",
        ));
    }
    let user = state.users.set_role(id, body.role).await?;
    state.credentials.user_changed(id);
    tracing::info!(user_id = %id, role = ?body.role, by = %principal.user_id, "role changed");
    Ok(Json(UserView::from(&user)))
}

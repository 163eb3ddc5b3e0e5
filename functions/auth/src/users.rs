//! Registration, the caller's profile, and role changes.

use api::extract::ApiJson;
use api::http::ClientIp;
use api::principal::{AuthMethod, Principal};
use api::{ApiError, ApiResult};
use app::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::UserId;
use serde::{Deserialize, Serialize};
use store::users::{Role, UserRecord};

use api::input::{Email, NewPassword};
use utoipa::ToSchema;

use crate::password::hash_password;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Register)]
pub struct RegisterBody {
    email: Email,
    password: NewPassword,
}

/// A role, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = Role)]
pub enum RoleName {
    Trader,
    Admin,
}

impl From<Role> for RoleName {
    fn from(r: Role) -> Self {
        match r {
            Role::Trader => RoleName::Trader,
            Role::Admin => RoleName::Admin,
        }
    }
}

impl From<RoleName> for Role {
    fn from(r: RoleName) -> Self {
        match r {
            RoleName::Trader => Role::Trader,
            RoleName::Admin => Role::Admin,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = User)]
pub struct UserView {
    #[schema(format = "uuid")]
    id: String,
    email: String,
    role: RoleName,
    #[schema(format = DateTime)]
    created_at: String,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        UserView {
            id: u.id.to_string(),
            email: u.email.clone(),
            role: u.role.into(),
            created_at: domain::Timestamp::from_secs(u.created_at).to_string(),
        }
    }
}

/// An email as accounts are registered with (trimmed, lower-cased).
pub fn normalize_email(email: &str) -> Result<String, ApiError> {
    api::input::email(email).map_err(|e| ApiError::invalid_field("email", e))
}

/// The answer to every valid registration, new email or not (see [`register`]).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
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
#[utoipa::path(
    post,
    path = "/auth/register",
    tag = "auth",
    operation_id = "register",
    summary = "Register a user: the same answer whether or not the email was registered before",
    security(()),
    request_body = RegisterBody,
    responses(
        (status = 202, description = "Accepted: sign in with this email and password", body = Registered),
        (status = 429, description = "Too many registrations from this IP (Retry-After)", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ),
)]
pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<RegisterBody>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
    crate::sessions::per_ip_limit(
        &state,
        "register",
        &ip,
        state.settings.register_rate_per_minute,
    )
    .await?;
    let email = body.email.0;
    let password_hash = hash_password(body.password.0).await?;
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

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Me)]
pub struct MeView {
    #[schema(format = "uuid")]
    id: String,
    email: String,
    role: RoleName,
    #[schema(format = DateTime)]
    created_at: String,
    /// `access_token` or `api_key`.
    authenticated_by: &'static str,
}

#[utoipa::path(get, path = "/auth/me", tag = "auth", operation_id = "me", summary = "The caller",
    responses((status = 200, description = "The caller", body = MeView)))]
pub async fn me(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<MeView>> {
    let user = state
        .users
        .by_id(principal.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the user no longer exists"))?;
    let view = UserView::from(&user);
    Ok(Json(MeView {
        id: view.id,
        email: view.email,
        role: view.role,
        created_at: view.created_at,
        authenticated_by: match principal.method {
            AuthMethod::AccessToken { .. } => "access_token",
            AuthMethod::ApiKey { .. } => "api_key",
        },
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SetRole)]
pub struct RoleBody {
    role: RoleName,
}

#[utoipa::path(put, path = "/auth/users/{user_id}/role", tag = "auth", operation_id = "setRole",
    summary = "Change a user's role (admins)",
    params(("user_id" = String, Path, description = "A user id")),
    request_body = RoleBody,
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 403, description = "Admins only", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "An admin cannot demote themselves", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn set_role(
    State(state): State<AppState>,
    principal: Principal,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<RoleBody>,
) -> ApiResult<Json<UserView>> {
    principal.require_admin()?;
    let id =
        UserId::parse(&user_id).map_err(|_| ApiError::not_found(format!("no user {user_id:?}")))?;
    let role = Role::from(body.role);
    if id == principal.user_id && role != Role::Admin {
        return Err(ApiError::conflict(
            "an admin cannot remove their own admin role (ask another admin)",
        ));
    }
    let user = state.users.set_role(id, role).await?;
    state.credentials.user_changed(id);
    tracing::info!(user_id = %id, role = ?role, by = %principal.user_id, "role changed");
    Ok(Json(UserView::from(&user)))
}

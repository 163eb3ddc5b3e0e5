//! Login, refresh and logout: access tokens (JWT, short) and refresh tokens (random,
//! stored hashed with a TTL, rotated on every use; a reused one revokes its family).

use api::extract::ApiJson;
use api::http::ClientIp;
use api::{ApiError, ApiResult};
use app::{AppState, crypto};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use store::users::{Attempt, Rotation};
use utoipa::ToSchema;

use crate::password::verify_password;
use crate::users::normalize_email;

/// Any email and password: what does not match an account is a 401 like a wrong password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Login)]
pub struct LoginBody {
    email: String,
    password: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenPair {
    access_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds the access token lives.
    expires_in: i64,
    refresh_token: String,
    /// Seconds the refresh token lives.
    refresh_expires_in: i64,
}

/// A token bucket of `per_minute` requests per client IP for `what` (`login`,
/// `register`): a 429 with `Retry-After` once it is empty.
pub(crate) async fn per_ip_limit(
    state: &AppState,
    what: &str,
    ip: &str,
    per_minute: u32,
) -> ApiResult<()> {
    let allowed = state
        .rate_limits
        .allow(
            &format!("{what}#{ip}"),
            state.clock.now().nanos() / 1_000_000,
            per_minute,
            f64::from(per_minute) / 60.0,
        )
        .await?;
    if allowed {
        Ok(())
    } else {
        Err(ApiError::too_many_requests(
            60 / u64::from(per_minute).max(1),
        ))
    }
}

const INVALID_LOGIN: &str = "invalid email or password";

fn locked(until: i64, now: i64) -> ApiError {
    let minutes = ((until - now).max(1) + 59) / 60;
    let mut e = ApiError::unauthorized(format!(
        "too many failed logins for this email: try again in {minutes} minute(s)"
    ));
    e.retry_after = Some(u64::try_from(until - now).unwrap_or(1).max(1));
    e
}

/// Issues an access token and starts or continues a refresh-token family.
async fn issue_pair(
    state: &AppState,
    user: &store::users::UserRecord,
    session: &str,
    refresh_token: String,
) -> ApiResult<TokenPair> {
    let now = state.clock.unix_seconds();
    let access_token = state.keys.issue(user.id, user.role, Some(session), now)?;
    Ok(TokenPair {
        access_token,
        token_type: "Bearer",
        expires_in: state.keys.lifetime_seconds(),
        refresh_token,
        refresh_expires_in: refresh_lifetime(state),
    })
}

fn refresh_lifetime(state: &AppState) -> i64 {
    i64::from(state.settings.refresh_token_days) * 86_400
}

#[utoipa::path(post, path = "/auth/login", tag = "auth", operation_id = "login",
    summary = "Log in: an access token (15 min) and a refresh token",
    security(()),
    request_body = LoginBody,
    responses(
        (status = 200, description = "Logged in", body = TokenPair),
        (status = 401, description = "Invalid credentials, or locked after too many failures (the same answer; Retry-After when locked)", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 429, description = "Too many logins from this IP (Retry-After)", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<LoginBody>,
) -> ApiResult<Json<TokenPair>> {
    let now = state.clock.unix_seconds();
    per_ip_limit(&state, "login", &ip, state.settings.login_rate_per_minute).await?;
    // A malformed email cannot be registered: answer as for any failed login.
    let email = normalize_email(&body.email).unwrap_or_else(|_| body.email.trim().to_lowercase());
    if let Some(until) = state.logins.locked_until(&email, now).await? {
        return Err(locked(until, now));
    }
    let user = state.users.by_email(&email).await?;
    let ok = verify_password(
        body.password,
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await?;
    let Some(user) = user.filter(|_| ok) else {
        let lock_seconds = i64::from(state.settings.account_lock_duration_minutes) * 60;
        return Err(
            match state
                .logins
                .record_failure(&email, now, state.settings.max_login_attempts, lock_seconds)
                .await?
            {
                Attempt::Locked(until) => locked(until, now),
                Attempt::Counted(_) => ApiError::unauthorized(INVALID_LOGIN),
            },
        );
    };
    state.logins.reset(&email).await?;
    // A user registered before the operations dashboard's directory is listed now; a
    // failure here costs the dashboard a row, not the user their sign-in.
    if let Err(e) = state.users.ensure_listed(user.id).await {
        tracing::warn!(user_id = %user.id, error = %e, "user directory not updated");
    }
    let refresh_token = crypto::random_token(32);
    let family = crypto::random_token(16);
    state
        .refresh_tokens
        .issue(
            user.id,
            &family,
            &crypto::sha256_hex(&refresh_token),
            now + refresh_lifetime(&state),
        )
        .await?;
    tracing::info!(user_id = %user.id, "login");
    Ok(Json(
        issue_pair(&state, &user, &family, refresh_token).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RefreshToken)]
pub struct RefreshBody {
    refresh_token: String,
}

#[utoipa::path(post, path = "/auth/refresh", tag = "auth", operation_id = "refresh",
    summary = "Exchange a refresh token for a new pair (rotation; a reused token revokes its login)",
    security(()),
    request_body = RefreshBody,
    responses(
        (status = 200, description = "A new pair", body = TokenPair),
        (status = 401, description = "Invalid, expired, revoked or reused", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> ApiResult<Json<TokenPair>> {
    let now = state.clock.unix_seconds();
    let fresh = crypto::random_token(32);
    let rotation = state
        .refresh_tokens
        .rotate(
            &crypto::sha256_hex(&body.refresh_token),
            &crypto::sha256_hex(&fresh),
            now + refresh_lifetime(&state),
        )
        .await?;
    match rotation {
        Rotation::Rotated { user, family } => {
            let user = state
                .users
                .by_id(user)
                .await?
                .ok_or_else(|| ApiError::unauthorized("the refresh token is invalid"))?;
            Ok(Json(issue_pair(&state, &user, &family, fresh).await?))
        }
        Rotation::ReuseDetected { user, family } => {
            state.credentials.session_ended(&family);
            tracing::warn!(user_id = %user, family = %family, "refresh token reused: family revoked");
            Err(ApiError::unauthorized(
                "this refresh token was already used: every session of that login is revoked; log in again",
            ))
        }
        Rotation::Invalid => Err(ApiError::unauthorized(
            "the refresh token is invalid, expired or revoked",
        )),
    }
}

#[utoipa::path(post, path = "/auth/logout", tag = "auth", operation_id = "logout",
    summary = "End the login a refresh token belongs to: its refresh and access tokens stop working",
    security(()),
    request_body = RefreshBody,
    responses((status = 204, description = "Logged out (also for an unknown token: logout reveals nothing)")))]
pub async fn logout(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> ApiResult<StatusCode> {
    if let Some(family) = state
        .refresh_tokens
        .family_of(&crypto::sha256_hex(&body.refresh_token))
        .await?
    {
        state.refresh_tokens.revoke_family(&family).await?;
        state.credentials.session_ended(&family);
    }
    Ok(StatusCode::NO_CONTENT)
}

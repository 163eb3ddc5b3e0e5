//! Who is calling: the [`Principal`] extractor, which accepts either `Authorization:
//! Bearer <access token>` (verified by `app::tokens::TokenKeys`) or an API key
//! (`Authorization: ApiKey <key>` or `X-Api-Key: <key>`). Every failure is the same 401,
//! so a caller learns nothing about why a forged token failed.
//!
//! A valid signature is not the end of it: the user must still exist (their role is
//! taken from their record, not the token), the token's login session (`sid`, its
//! refresh-token family) must not have ended by logout or reuse, and an API key must not
//! be revoked — checked against the stores, with answers kept for
//! `auth_recheck_seconds` ([`app::credentials`]).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use domain::UserId;
use store::users::Role;

use crate::error::ApiError;
use app::crypto;
use app::state::AppState;
use app::tokens::LEEWAY_SECONDS;
use domain::Clock;

/// API keys look like `stk_<key id>_<secret>`.
pub const API_KEY_PREFIX: &str = "stk_";

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    AccessToken {
        /// The login session, if the token names one.
        session: Option<String>,
        /// When the token expires (Unix seconds).
        expires_at: i64,
    },
    ApiKey {
        key_id: String,
        /// SHA-256 of the key (how it is stored and looked up).
        digest: String,
    },
}

/// The authenticated caller. Handlers that take it are authenticated; the others are not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub role: Role,
    pub method: AuthMethod,
}

impl Principal {
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden("this needs the admin role"))
        }
    }
}

/// The credential a request carries, if any.
enum Credential<'a> {
    Bearer(&'a str),
    ApiKey(&'a str),
}

fn credential(parts: &Parts) -> Result<Option<Credential<'_>>, ApiError> {
    if let Some(value) = parts.headers.get("x-api-key") {
        let key = value
            .to_str()
            .map_err(|_| ApiError::unauthorized("the API key is invalid"))?;
        return Ok(Some(Credential::ApiKey(key.trim())));
    }
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is invalid"))?;
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        // Bots may send their API key as a bearer token too.
        if rest.starts_with(API_KEY_PREFIX) {
            return Ok(Some(Credential::ApiKey(rest)));
        }
        Ok(Some(Credential::Bearer(rest)))
    } else if scheme.eq_ignore_ascii_case("apikey") {
        Ok(Some(Credential::ApiKey(rest)))
    } else {
        Err(ApiError::unauthorized(
            "use Authorization: Bearer <access token> or an API key",
        ))
    }
}

/// Verifies an access token or API key against the state's keys and stores.
pub async fn authenticate(
    state: &AppState,
    parts: &Parts,
    clock: &Clock,
) -> Result<Principal, ApiError> {
    let method = match credential(parts)? {
        None => {
            return Err(ApiError::unauthorized(
                "authentication required: send Authorization: Bearer <access token> or an API key",
            ));
        }
        Some(Credential::Bearer(token)) => {
            let claims = state
                .keys
                .verify(token, clock.unix_seconds())
                .map_err(|e| ApiError::unauthorized(e.to_string()))?;
            let user_id = UserId::parse(&claims.sub)
                .map_err(|_| ApiError::unauthorized("the access token is invalid or expired"))?;
            (
                user_id,
                AuthMethod::AccessToken {
                    session: claims.sid,
                    expires_at: claims.exp,
                },
            )
        }
        Some(Credential::ApiKey(key)) => {
            let invalid = || ApiError::unauthorized("the API key is invalid or revoked");
            if !key.starts_with(API_KEY_PREFIX) || key.len() > 128 {
                return Err(invalid());
            }
            let digest = crypto::sha256_hex(key);
            let (user_id, key_id) = state
                .credentials
                .api_key(state, &digest)
                .await?
                .ok_or_else(invalid)?;
            (user_id, AuthMethod::ApiKey { key_id, digest })
        }
    };
    let (user_id, method) = method;
    let role = still_valid(state, user_id, &method, clock.unix_seconds()).await?;
    Ok(Principal {
        user_id,
        role,
        method,
    })
}

/// Whether a credential that verified once still holds now: not expired, its user still
/// there (the user's current role is the answer), its session or key not revoked. A
/// WebSocket asks this again while it stays open.
async fn still_valid(
    state: &AppState,
    user_id: UserId,
    method: &AuthMethod,
    now: i64,
) -> Result<Role, ApiError> {
    let checks = &state.credentials;
    match method {
        AuthMethod::AccessToken {
            session,
            expires_at,
        } => {
            let invalid = || ApiError::unauthorized("the access token is invalid or expired");
            if *expires_at <= now - LEEWAY_SECONDS {
                return Err(invalid());
            }
            if let Some(session) = session {
                if !checks.session_live(state, session).await? {
                    return Err(ApiError::unauthorized(
                        "the login session has ended (logged out or revoked): log in again",
                    ));
                }
            }
            checks.role(state, user_id).await?.ok_or_else(invalid)
        }
        AuthMethod::ApiKey { digest, .. } => {
            let invalid = || ApiError::unauthorized("the API key is invalid or revoked");
            match checks.api_key(state, digest).await? {
                Some((owner, _)) if owner == user_id => {}
                _ => return Err(invalid()),
            }
            checks.role(state, user_id).await?.ok_or_else(invalid)
        }
    }
}

/// Checks an authenticated caller again (see [`still_valid`]): what a long-lived
/// connection does from time to time. `Err` says why it no longer holds.
pub async fn recheck(state: &AppState, principal: &Principal) -> Result<(), ApiError> {
    still_valid(
        state,
        principal.user_id,
        &principal.method,
        state.clock.unix_seconds(),
    )
    .await
    .map(|_| ())
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(principal.clone());
        }
        let principal = authenticate(state, parts, &state.clock).await?;
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}

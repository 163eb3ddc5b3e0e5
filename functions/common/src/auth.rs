//! Who is calling: HS256 access tokens ([`TokenKeys`]) and the [`Principal`] extractor,
//! which accepts either `Authorization: Bearer <access token>` or an API key
//! (`Authorization: ApiKey <key>` or `X-Api-Key: <key>`).
//!
//! Verification is strict: the algorithm is fixed to HS256 (so `alg: none` and
//! algorithm-confusion tokens fail), the signature is checked, `iss`, `aud`, `sub`,
//! `exp` and `nbf` are required, and `exp`/`nbf` are checked against the [`Clock`]
//! with no leeway beyond a few seconds of skew. Every failure is the same 401, so a
//! caller learns nothing about why a forged token failed.
//!
//! A valid signature is not the end of it: the user must still exist (their role is
//! taken from their record, not the token), the token's login session (`sid`, its
//! refresh-token family) must not have ended by logout or reuse, and an API key must not
//! be revoked — checked against the stores, with answers kept for
//! `auth_recheck_seconds` ([`crate::credentials`]).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use domain::UserId;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use store::auth::Role;

use crate::crypto;
use crate::error::ApiError;
use crate::settings::{Settings, SettingsError};
use crate::state::AppState;
use domain::Clock;

/// Seconds of clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: i64 = 5;

/// API keys look like `stk_<key id>_<secret>`.
pub const API_KEY_PREFIX: &str = "stk_";

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    /// The login session (refresh-token family) the token was issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// Signs and verifies access tokens. See the module docs.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    lifetime_seconds: i64,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    pub fn new(settings: &Settings) -> Result<Self, SettingsError> {
        settings.validate()?;
        let secret = settings
            .jwt_secret
            .as_ref()
            .map(|s| s.expose().as_bytes().to_vec())
            .unwrap_or_default();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[settings.jwt_issuer.as_str()]);
        validation.set_audience(&[settings.jwt_audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        // Time is checked against the injected clock in `verify`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        Ok(TokenKeys {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            validation,
            issuer: settings.jwt_issuer.clone(),
            audience: settings.jwt_audience.clone(),
            lifetime_seconds: i64::from(settings.access_token_minutes) * 60,
        })
    }

    pub fn lifetime_seconds(&self) -> i64 {
        self.lifetime_seconds
    }

    /// A fresh access token for `user` in login session `session`, valid from `now` for
    /// the configured lifetime.
    pub fn issue(
        &self,
        user: UserId,
        role: Role,
        session: Option<&str>,
        now: i64,
    ) -> Result<String, ApiError> {
        let claims = Claims {
            sub: user.to_string(),
            role,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            nbf: now,
            exp: now + self.lifetime_seconds,
            jti: crypto::random_token(12),
            sid: session.map(str::to_owned),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::internal(format!("signing an access token: {e}")))
    }

    /// The claims of a valid token; 401 for anything else.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, ApiError> {
        let invalid = || ApiError::unauthorized("the access token is invalid or expired");
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| invalid())?;
        let claims = data.claims;
        if claims.exp <= now - LEEWAY_SECONDS || claims.nbf > now + LEEWAY_SECONDS {
            return Err(invalid());
        }
        Ok(claims)
    }
}

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
            let claims = state.keys.verify(token, clock.unix_seconds())?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Secret;

    fn keys() -> TokenKeys {
        let settings = Settings {
            jwt_secret: Some(Secret::new("0123456789abcdef0123456789abcdef")),
            ..Settings::default()
        };
        TokenKeys::new(&settings).expect("keys")
    }

    #[test]
    fn issued_tokens_verify_until_they_expire() {
        let keys = keys();
        let user = UserId::from_u128(7);
        let token = keys
            .issue(user, Role::Trader, Some("s1"), 1_000_000)
            .expect("issue");
        let claims = keys.verify(&token, 1_000_000 + 899).expect("valid");
        assert_eq!(claims.sub, user.to_string());
        assert_eq!(claims.sid.as_deref(), Some("s1"));
        assert_eq!(claims.exp - claims.iat, 900, "15 minutes");
        assert!(
            keys.verify(&token, 1_000_000 + 900 + LEEWAY_SECONDS)
                .is_err()
        );
        assert!(
            keys.verify(&token, 1_000_000 - 60).is_err(),
            "not yet valid"
        );
    }
}

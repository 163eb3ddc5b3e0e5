//! Who is calling: HS256 access tokens ([`TokenKeys`]) and the [`Principal`] extractor,
//! which accepts either `Authorization: Bearer <access token>` or an API key
//! (`Authorization: ApiKey <key>` or `X-Api-Key: <key>`).
//!
//! Verification is strict: the algorithm is fixed to HS256 (so `alg: none` and
//! algorithm-confusion tokens fail), the signature is checked, `iss`, `aud`, `sub`,
//! `exp` and `nbf` are required, and `exp`/`nbf` are checked against the [`Clock`]
//! with no leeway beyond a few seconds of skew. Every failure is the same 401, so a
//! caller learns nothing about why a forged token failed.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use domain::UserId;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use store::auth::Role;

use crate::clock::Clock;
use crate::crypto;
use crate::error::ApiError;
use crate::settings::{Settings, SettingsError};
use crate::state::AppState;

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

    /// A fresh access token for `user`, valid from `now` for the configured lifetime.
    pub fn issue(&self, user: UserId, role: Role, now: i64) -> Result<String, ApiError> {
        let claims = Claims {
            sub: user.to_string(),
            role,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            nbf: now,
            exp: now + self.lifetime_seconds,
            jti: crypto::random_token(12),
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
    AccessToken,
    ApiKey { key_id: String },
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
    match credential(parts)? {
        None => Err(ApiError::unauthorized(
            "authentication required: send Authorization: Bearer <access token> or an API key",
        )),
        Some(Credential::Bearer(token)) => {
            let claims = state.keys.verify(token, clock.unix_seconds())?;
            let user_id = UserId::parse(&claims.sub)
                .map_err(|_| ApiError::unauthorized("the access token is invalid or expired"))?;
            Ok(Principal {
                user_id,
                role: claims.role,
                method: AuthMethod::AccessToken,
            })
        }
        Some(Credential::ApiKey(key)) => {
            let invalid = || ApiError::unauthorized("the API key is invalid or revoked");
            if !key.starts_with(API_KEY_PREFIX) || key.len() > 128 {
                return Err(invalid());
            }
            let (user_id, key_id) = state
                .users
                .find_api_key(&crypto::sha256_hex(key))
                .await?
                .ok_or_else(invalid)?;
            let user = state.users.by_id(user_id).await?.ok_or_else(invalid)?;
            Ok(Principal {
                user_id,
                role: user.role,
                method: AuthMethod::ApiKey { key_id },
            })
        }
    }
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
        let token = keys.issue(user, Role::Trader, 1_000_000).expect("issue");
        let claims = keys.verify(&token, 1_000_000 + 899).expect("valid");
        assert_eq!(claims.sub, user.to_string());
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

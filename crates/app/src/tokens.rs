//! HS256 access tokens ([`TokenKeys`]). Verification is strict: the algorithm is fixed to
//! HS256 (so `alg: none` and algorithm-confusion tokens fail), the signature is checked,
//! `iss`, `aud`, `sub`, `exp` and `nbf` are required, and `exp`/`nbf` are checked against
//! the caller's clock with no leeway beyond a few seconds of skew. Every failure is the
//! same [`InvalidToken`], so a caller learns nothing about why a forged token failed.

use domain::UserId;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use store::users::Role;

use crate::crypto;
use crate::error::AppError;
use crate::settings::{Settings, SettingsError};

/// A token that is not valid now (forged, malformed, expired, not yet valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the access token is invalid or expired")]
pub struct InvalidToken;

/// Seconds of clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: i64 = 5;

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
    ) -> Result<String, AppError> {
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
            .map_err(|e| AppError::Internal(format!("signing an access token: {e}")))
    }

    /// The claims of a valid token.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, InvalidToken> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| InvalidToken)?;
        let claims = data.claims;
        if claims.exp <= now - LEEWAY_SECONDS || claims.nbf > now + LEEWAY_SECONDS {
            return Err(InvalidToken);
        }
        Ok(claims)
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

//! Typed settings, layered: built-in defaults, then an optional TOML file
//! (`STRATUS_CONFIG=path`), then environment variables — `STRATUS_<NAME>` for every
//! field (`STRATUS_JWT_SECRET`, `STRATUS_PREFIX`, …) and the conventional names
//! `DATABASE_URL`, `MAX_LOGIN_ATTEMPTS` and `ACCOUNT_LOCK_DURATION_MINUTES`.
//!
//! Loading never panics: a bad value is a [`SettingsError`] naming the variable or the
//! file and key. [`Settings::validate`] refuses what must not start (a JWT secret shorter
//! than 256 bits, a credentials key that is not 32 bytes).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A secret value: compared and used, never printed.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Which adapters sit behind the ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// One SQLite file under `data_dir`: nothing to install.
    Embedded,
    /// Postgres (`database_url`), DynamoDB and Kinesis (endpoints from the standard AWS
    /// variables, names from `prefix`).
    Cloud,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One JSON object per line (the default under Lambda, for CloudWatch).
    Json,
    /// Human-readable lines.
    Text,
}

/// See the module docs. Every field has a default except the secrets.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub backend: Backend,
    /// The embedded backend's directory (`stratus.db` inside).
    pub data_dir: PathBuf,
    /// The cloud backend's Postgres.
    pub database_url: Option<Secret>,
    /// Table and stream names are `<prefix>-<name>`.
    pub prefix: String,
    /// HS256 key of access tokens: at least 32 bytes (256 bits).
    pub jwt_secret: Option<Secret>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_minutes: u32,
    pub refresh_token_days: u32,
    pub max_login_attempts: u32,
    pub account_lock_duration_minutes: u32,
    /// Login attempts per client IP per minute (a token bucket of this size).
    pub login_rate_per_minute: u32,
    /// Registrations per client IP per minute (a token bucket of this size).
    pub register_rate_per_minute: u32,
    /// How long a credential's check against the stores (the user exists and has this
    /// role, the login session or API key is not revoked) is trusted by this process: a
    /// revocation takes effect within this many seconds. 0 checks every request.
    pub auth_recheck_seconds: u32,
    /// WebSockets one user may hold open at once (more are refused with 429).
    pub ws_max_per_user: u32,
    /// Subscriptions one WebSocket may hold.
    pub ws_max_subscriptions: u32,
    /// Largest request body accepted; larger ones get 413.
    pub body_limit_bytes: usize,
    /// Origins allowed by CORS; `*` allows any (tokens travel in headers, not cookies).
    pub cors_origins: Vec<String>,
    /// Users registering with these emails get the admin role.
    pub admin_emails: Vec<String>,
    /// AES-256-GCM key for broker credentials, base64 of 32 bytes. Without it a key is
    /// derived from the JWT secret (HMAC-SHA256 with a fixed label), so one secret
    /// suffices for a laptop; production sets its own.
    pub credentials_key: Option<Secret>,
    /// Take the client IP from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
    /// `host:port` for `axum::serve` (each function binary has its own default).
    pub bind: Option<String>,
    pub log_format: Option<LogFormat>,
    /// Publish an order's command to the stream in the request (the default in the
    /// cloud: Lambda has no core beside it), or leave it to the core's relay, which
    /// publishes the outbox every few milliseconds (`stratus up`, where the core runs in
    /// the same process).
    pub relay_inline: Option<bool>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            backend: Backend::Embedded,
            data_dir: PathBuf::from("stratus-data"),
            database_url: None,
            prefix: "stratus-dev".into(),
            jwt_secret: None,
            jwt_issuer: "stratus".into(),
            jwt_audience: "stratus-api".into(),
            access_token_minutes: 15,
            refresh_token_days: 30,
            max_login_attempts: 5,
            account_lock_duration_minutes: 15,
            login_rate_per_minute: 10,
            register_rate_per_minute: 5,
            auth_recheck_seconds: 5,
            ws_max_per_user: 16,
            ws_max_subscriptions: 100,
            body_limit_bytes: 64 * 1024,
            cors_origins: vec!["*".into()],
            admin_emails: Vec::new(),
            credentials_key: None,
            trust_forwarded_for: false,
            bind: None,
            log_format: None,
            relay_inline: None,
        }
    }
}

/// A setting that could not be loaded or is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("{variable}: {message}")]
    Env {
        variable: &'static str,
        message: String,
    },
    #[error("{setting}: {message}")]
    Invalid {
        setting: &'static str,
        message: String,
    },
}

/// The environment variables read, and the field each sets.
const ENV: &[(&str, &str)] = &[
    ("STRATUS_BACKEND", "backend"),
    ("STRATUS_DATA_DIR", "data_dir"),
    ("DATABASE_URL", "database_url"),
    ("STRATUS_DATABASE_URL", "database_url"),
    ("STRATUS_PREFIX", "prefix"),
    ("STRATUS_JWT_SECRET", "jwt_secret"),
    ("STRATUS_JWT_ISSUER", "jwt_issuer"),
    ("STRATUS_JWT_AUDIENCE", "jwt_audience"),
    ("STRATUS_ACCESS_TOKEN_MINUTES", "access_token_minutes"),
    ("STRATUS_REFRESH_TOKEN_DAYS", "refresh_token_days"),
    ("MAX_LOGIN_ATTEMPTS", "max_login_attempts"),
    ("STRATUS_MAX_LOGIN_ATTEMPTS", "max_login_attempts"),
    (
        "ACCOUNT_LOCK_DURATION_MINUTES",
        "account_lock_duration_minutes",
    ),
    (
        "STRATUS_ACCOUNT_LOCK_DURATION_MINUTES",
        "account_lock_duration_minutes",
    ),
    ("STRATUS_LOGIN_RATE_PER_MINUTE", "login_rate_per_minute"),
    (
        "STRATUS_REGISTER_RATE_PER_MINUTE",
        "register_rate_per_minute",
    ),
    ("STRATUS_AUTH_RECHECK_SECONDS", "auth_recheck_seconds"),
    ("STRATUS_WS_MAX_PER_USER", "ws_max_per_user"),
    ("STRATUS_WS_MAX_SUBSCRIPTIONS", "ws_max_subscriptions"),
    ("STRATUS_BODY_LIMIT_BYTES", "body_limit_bytes"),
    ("STRATUS_CORS_ORIGINS", "cors_origins"),
    ("STRATUS_ADMIN_EMAILS", "admin_emails"),
    ("STRATUS_CREDENTIALS_KEY", "credentials_key"),
    ("STRATUS_TRUST_FORWARDED_FOR", "trust_forwarded_for"),
    ("STRATUS_BIND", "bind"),
    ("STRATUS_LOG_FORMAT", "log_format"),
    ("STRATUS_RELAY_INLINE", "relay_inline"),
];

/// Fields whose environment value is a comma-separated list.
const LIST_FIELDS: &[&str] = &["cors_origins", "admin_emails"];
/// Fields whose environment value is a number or a boolean.
const SCALAR_FIELDS: &[&str] = &[
    "access_token_minutes",
    "refresh_token_days",
    "max_login_attempts",
    "account_lock_duration_minutes",
    "login_rate_per_minute",
    "register_rate_per_minute",
    "auth_recheck_seconds",
    "ws_max_per_user",
    "ws_max_subscriptions",
    "body_limit_bytes",
    "trust_forwarded_for",
    "relay_inline",
];

impl Settings {
    /// Loads from the process environment (and `STRATUS_CONFIG`, if set).
    pub fn load() -> Result<Settings, SettingsError> {
        let file = std::env::var_os("STRATUS_CONFIG").map(PathBuf::from);
        Self::from_sources(file.as_deref(), |name| std::env::var(name).ok())
    }

    /// Loads from an optional TOML file, then `env` (a lookup by variable name).
    pub fn from_sources(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, SettingsError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| SettingsError::File {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
                let value: toml::Table =
                    toml::from_str(&text).map_err(|e| SettingsError::File {
                        path: path.display().to_string(),
                        message: e.to_string(),
                    })?;
                let json = serde_json::to_value(value).map_err(|e| SettingsError::File {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
                // Check the file alone first, so its errors name the file.
                serde_json::from_value::<Settings>(json.clone()).map_err(|e| {
                    SettingsError::File {
                        path: path.display().to_string(),
                        message: e.to_string(),
                    }
                })?;
                match json {
                    serde_json::Value::Object(map) => map.into_iter().collect(),
                    _ => BTreeMap::new(),
                }
            }
            None => BTreeMap::new(),
        };
        for (variable, field) in ENV {
            let Some(raw) = env(variable) else { continue };
            let value = if LIST_FIELDS.contains(field) {
                serde_json::Value::Array(
                    raw.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| serde_json::Value::String(s.to_owned()))
                        .collect(),
                )
            } else if SCALAR_FIELDS.contains(field) {
                serde_json::from_str(raw.trim()).map_err(|_| SettingsError::Env {
                    variable,
                    message: format!("{raw:?} is not a valid {field}"),
                })?
            } else {
                serde_json::Value::String(raw)
            };
            // Check this variable alone, so a bad one is named.
            let mut single = serde_json::Map::new();
            single.insert((*field).to_owned(), value.clone());
            serde_json::from_value::<Settings>(serde_json::Value::Object(single)).map_err(|e| {
                SettingsError::Env {
                    variable,
                    message: e.to_string(),
                }
            })?;
            table.insert((*field).to_owned(), value);
        }
        let settings: Settings =
            serde_json::from_value(serde_json::Value::Object(table.into_iter().collect()))
                .map_err(|e| SettingsError::Invalid {
                    setting: "settings",
                    message: e.to_string(),
                })?;
        Ok(settings)
    }

    /// Refuses settings the functions must not start with.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let secret = self
            .jwt_secret
            .as_ref()
            .ok_or_else(|| SettingsError::Invalid {
                setting: "jwt_secret",
                message: "not set (STRATUS_JWT_SECRET): at least 32 bytes are required".into(),
            })?;
        if secret.expose().len() < 32 {
            return Err(SettingsError::Invalid {
                setting: "jwt_secret",
                message: format!(
                    "is {} bytes; HS256 needs at least 32 bytes (256 bits)",
                    secret.expose().len()
                ),
            });
        }
        if let Some(key) = &self.credentials_key {
            crate::crypto::Sealer::from_base64_key(key.expose())?;
        }
        let positive = [
            ("access_token_minutes", self.access_token_minutes),
            ("refresh_token_days", self.refresh_token_days),
            ("max_login_attempts", self.max_login_attempts),
            (
                "account_lock_duration_minutes",
                self.account_lock_duration_minutes,
            ),
            ("login_rate_per_minute", self.login_rate_per_minute),
            ("register_rate_per_minute", self.register_rate_per_minute),
            ("ws_max_per_user", self.ws_max_per_user),
            ("ws_max_subscriptions", self.ws_max_subscriptions),
        ];
        for (setting, value) in positive {
            if value == 0 {
                return Err(SettingsError::Invalid {
                    setting,
                    message: "must be at least 1".into(),
                });
            }
        }
        if self.body_limit_bytes < 1024 {
            return Err(SettingsError::Invalid {
                setting: "body_limit_bytes",
                message: "must be at least 1024".into(),
            });
        }
        if self.backend == Backend::Cloud && self.database_url.is_none() {
            return Err(SettingsError::Invalid {
                setting: "database_url",
                message: "the cloud backend needs DATABASE_URL".into(),
            });
        }
        Ok(())
    }

    /// Whether functions relay the outbox themselves (see `relay_inline`).
    pub fn relays_inline(&self) -> bool {
        self.relay_inline.unwrap_or(true)
    }

    /// Whether `email` gets the admin role on registration.
    pub fn is_admin_email(&self, email: &str) -> bool {
        self.admin_emails
            .iter()
            .any(|a| a.eq_ignore_ascii_case(email))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn defaults_then_file_then_env() {
        let dir = std::env::temp_dir().join(format!("stratus-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("stratus.toml");
        std::fs::write(
            &file,
            "prefix = \"from-file\"\nmax_login_attempts = 7\ncors_origins = [\"https://app.example\"]\n",
        )
        .expect("write");
        let s = Settings::from_sources(
            Some(&file),
            env(&[
                ("MAX_LOGIN_ATTEMPTS", "3"),
                ("STRATUS_ADMIN_EMAILS", "ops@example.com, boss@example.com"),
                ("STRATUS_TRUST_FORWARDED_FOR", "true"),
            ]),
        )
        .expect("load");
        assert_eq!(s.prefix, "from-file");
        assert_eq!(s.max_login_attempts, 3, "env beats the file");
        assert_eq!(s.account_lock_duration_minutes, 15, "default");
        assert_eq!(s.cors_origins, ["https://app.example"]);
        assert!(s.is_admin_email("BOSS@example.com"));
        assert!(s.trust_forwarded_for);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_values_name_their_source() {
        let e = Settings::from_sources(None, env(&[("MAX_LOGIN_ATTEMPTS", "five")]))
            .expect_err("not a number");
        assert!(
            matches!(&e, SettingsError::Env { variable, .. } if *variable == "MAX_LOGIN_ATTEMPTS"),
            "{e}"
        );
        let e = Settings::from_sources(None, env(&[("STRATUS_BACKEND", "mainframe")]))
            .expect_err("unknown backend");
        assert!(e.to_string().starts_with("STRATUS_BACKEND:"), "{e}");
        let dir = std::env::temp_dir().join(format!("stratus-settings-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("bad.toml");
        std::fs::write(&file, "jwt_secrt = \"typo\"\n").expect("write");
        let e = Settings::from_sources(Some(&file), env(&[])).expect_err("unknown key");
        assert!(
            e.to_string().contains("bad.toml") && e.to_string().contains("jwt_secrt"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn short_or_missing_jwt_secrets_refuse_to_start() {
        let mut s = Settings::default();
        assert!(s.validate().is_err(), "missing");
        s.jwt_secret = Some(Secret::new("x".repeat(31)));
        let e = s.validate().expect_err("31 bytes");
        assert!(e.to_string().contains("256 bits"), "{e}");
        s.jwt_secret = Some(Secret::new("x".repeat(32)));
        s.validate().expect("32 bytes is enough");
        s.credentials_key = Some(Secret::new("dG9vIHNob3J0"));
        assert!(s.validate().is_err(), "credentials key must be 32 bytes");
    }

    #[test]
    fn secrets_never_print() {
        let s = Settings {
            jwt_secret: Some(Secret::new("super-secret-value-of-32-bytes!!")),
            ..Settings::default()
        };
        assert!(!format!("{s:?}").contains("super-secret"));
    }
}

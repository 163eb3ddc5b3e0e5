//! Typed settings, declared once and layered by figment: built-in defaults, then an
//! optional TOML file (`STRATUS_CONFIG=path`), then environment variables —
//! `STRATUS_<FIELD>` for every field (`STRATUS_JWT_SECRET`, `STRATUS_PREFIX`, …) and the
//! conventional names `DATABASE_URL`, `MAX_LOGIN_ATTEMPTS` and
//! `ACCOUNT_LOCK_DURATION_MINUTES`. Every `STRATUS_*` variable the platform reads is a
//! field here. A list (`cors_origins`, `admin_emails`) may be given comma-separated.
//!
//! Loading never panics: a bad value is a [`SettingsError`] naming the variable or the
//! file and key. [`Settings::validate`] refuses what must not start (a JWT secret shorter
//! than 256 bits, a credentials key that is not 32 bytes).

use std::fmt;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Deserializer, Serialize};

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
    #[serde(deserialize_with = "list")]
    pub cors_origins: Vec<String>,
    /// Users registering with these emails get the admin role.
    #[serde(deserialize_with = "list")]
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
    /// A JSON file of instruments to trade instead of the built-in ones.
    pub instruments: Option<PathBuf>,
    /// Create missing tables and streams at start (the cloud backend against emulators;
    /// in AWS the SAM template owns them).
    pub provision: bool,
    /// The core container's market feed: `synthetic` runs the built-in market; otherwise
    /// ticks come from the `ticks` stream.
    pub feed: Option<String>,
    /// The core container also consumes `executions` into the reports' running metrics
    /// (instead of the reports Lambda's event source).
    pub consume_executions: bool,
    /// The core container also runs the daily report job (instead of the schedule).
    pub daily_reports: bool,
    /// Research jobs (backtests, optimisations) `stratus up` runs at once.
    pub research_workers: u32,
    /// Where Alpaca is, instead of its public addresses (REST at the URL, the trade
    /// stream at `/stream`, market data at `/v2/iex`): a local stand-in
    /// (`stratus-broker-stub alpaca`), a proxy.
    pub alpaca_url: Option<String>,
    /// Where Binance is, instead of its public addresses (a local stand-in, a proxy).
    pub binance_url: Option<String>,
    /// How long a request to a broker may take before its outcome counts as unknown.
    pub broker_timeout_ms: u32,
    /// How often the core reconciles each broker account with its broker (it also does
    /// at start and whenever a broker's stream reconnects).
    pub broker_reconcile_seconds: u32,
}

/// A list given as a list (TOML) or comma-separated (an environment variable).
fn list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        List(Vec<String>),
        Commas(String),
    }
    Ok(match Text::deserialize(deserializer)? {
        Text::List(items) => items,
        Text::Commas(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
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
            instruments: None,
            provision: false,
            feed: None,
            consume_executions: false,
            daily_reports: false,
            research_workers: 2,
            alpaca_url: None,
            binance_url: None,
            broker_timeout_ms: 10_000,
            broker_reconcile_seconds: 60,
        }
    }
}

/// A setting that could not be loaded or is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("{variable}: {message}")]
    Env { variable: String, message: String },
    #[error("{setting}: {message}")]
    Invalid {
        setting: &'static str,
        message: String,
    },
}

/// Variables read without the `STRATUS_` prefix (names other tools use too).
const CONVENTIONAL: [&str; 3] = [
    "DATABASE_URL",
    "MAX_LOGIN_ATTEMPTS",
    "ACCOUNT_LOCK_DURATION_MINUTES",
];

impl Settings {
    /// Loads from the process environment (and `STRATUS_CONFIG`, if set).
    pub fn load() -> Result<Settings, SettingsError> {
        let file = std::env::var_os("STRATUS_CONFIG").map(PathBuf::from);
        Self::from_figment(Self::figment(file.as_deref()))
    }

    /// The layers: defaults, the file (if any), the environment.
    pub fn figment(file: Option<&Path>) -> Figment {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            figment = figment.merge(Toml::file_exact(path));
        }
        // Only the variables that name a field: a `STRATUS_*` variable of some other tool
        // (`STRATUS_BLESS`, the fuzzer's) is not a setting, and not an error.
        let fields: Vec<String> = match serde_json::to_value(Settings::default()) {
            Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
            _ => Vec::new(),
        };
        figment
            .merge(
                Env::raw()
                    .only(&CONVENTIONAL)
                    .map(|k| k.as_str().to_ascii_lowercase().into()),
            )
            .merge(
                Env::prefixed("STRATUS_")
                    .filter(move |key| fields.iter().any(|f| key == f.as_str())),
            )
    }

    /// Extracts the settings, naming the variable or the file of a bad value.
    pub fn from_figment(figment: Figment) -> Result<Settings, SettingsError> {
        figment.extract().map_err(|e| {
            let message = e.kind.to_string();
            let key: Vec<String> = e.path.clone();
            match &e.metadata {
                Some(m) if m.name.contains("environment") => {
                    let field = key.join("_").to_ascii_uppercase();
                    let variable = if m.name.contains("STRATUS_") {
                        format!("STRATUS_{field}")
                    } else {
                        field
                    };
                    SettingsError::Env { variable, message }
                }
                Some(m) => SettingsError::File {
                    path: m
                        .source
                        .as_ref()
                        .map_or_else(|| m.name.to_string(), |s| s.to_string()),
                    message: format!("{}: {message}", key.join(".")),
                },
                None => SettingsError::Invalid {
                    setting: "settings",
                    message: e.to_string(),
                },
            }
        })
    }

    /// The store backend these settings name.
    pub fn store_backend(&self) -> store::Backend {
        match self.backend {
            Backend::Embedded => store::Backend::Embedded {
                dir: self.data_dir.clone(),
            },
            Backend::Cloud => store::Backend::Cloud {
                database_url: self
                    .database_url
                    .as_ref()
                    .map(|s| s.expose().to_owned())
                    .unwrap_or_default(),
                prefix: self.prefix.clone(),
                provision: self.provision,
            },
        }
    }

    /// The instruments to trade: `instruments` (a JSON file), else the built-in ones.
    pub fn catalog(&self) -> anyhow::Result<domain::InstrumentCatalog> {
        match &self.instruments {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                domain::InstrumentCatalog::from_json(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
            }
            None => Ok(domain::InstrumentCatalog::builtin()),
        }
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
            ("research_workers", self.research_workers),
            ("broker_timeout_ms", self.broker_timeout_ms),
            ("broker_reconcile_seconds", self.broker_reconcile_seconds),
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
// figment's `Jail` closures return its own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn defaults_then_file_then_env() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "stratus.toml",
                "prefix = \"from-file\"\nmax_login_attempts = 7\ncors_origins = [\"https://app.example\"]\n",
            )?;
            jail.set_env("MAX_LOGIN_ATTEMPTS", "3");
            jail.set_env("STRATUS_ADMIN_EMAILS", "ops@example.com, boss@example.com");
            jail.set_env("STRATUS_TRUST_FORWARDED_FOR", "true");
            jail.set_env("STRATUS_INSTRUMENTS", "/etc/stratus/instruments.json");
            jail.set_env("STRATUS_BLESS", "1");
            let s = Settings::from_figment(Settings::figment(Some(Path::new("stratus.toml"))))
                .expect("load");
            assert_eq!(s.prefix, "from-file");
            assert_eq!(s.max_login_attempts, 3, "env beats the file");
            assert_eq!(s.account_lock_duration_minutes, 15, "default");
            assert_eq!(s.cors_origins, ["https://app.example"]);
            assert!(s.is_admin_email("BOSS@example.com"));
            assert!(s.trust_forwarded_for);
            assert_eq!(
                s.instruments.as_deref(),
                Some(Path::new("/etc/stratus/instruments.json"))
            );
            Ok(())
        });
    }

    #[test]
    fn bad_values_name_their_source() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("MAX_LOGIN_ATTEMPTS", "five");
            let e = Settings::from_figment(Settings::figment(None)).expect_err("not a number");
            assert!(
                matches!(&e, SettingsError::Env { variable, .. } if variable == "MAX_LOGIN_ATTEMPTS"),
                "{e}"
            );
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.set_env("STRATUS_BACKEND", "mainframe");
            let e = Settings::from_figment(Settings::figment(None)).expect_err("unknown backend");
            assert!(e.to_string().starts_with("STRATUS_BACKEND:"), "{e}");
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "jwt_secrt = \"typo\"\n")?;
            let e = Settings::from_figment(Settings::figment(Some(Path::new("bad.toml"))))
                .expect_err("unknown key");
            assert!(
                e.to_string().contains("bad.toml") && e.to_string().contains("jwt_secrt"),
                "{e}"
            );
            Ok(())
        });
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

//! The auth data, written once over [`KvTable`] (so DynamoDB, SQLite and memory all hold
//! it): users and credentials with a unique-email index, API keys, refresh-token families
//! with rotation and reuse detection, login attempts and lockouts, and token-bucket rate
//! limits.
//!
//! Secrets are never stored: password hashes (argon2, computed by the auth function),
//! refresh tokens and API keys are stored as hashes chosen by the caller; the store only
//! compares them.

use std::sync::Arc;

use domain::UserId;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{ErrorKind, StoreError, StoreResult};
use crate::kv::{Condition, KvItem, KvTable, KvWrite, UnixSeconds};

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Trader,
    Admin,
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: UserId,
    /// Lower-cased; unique.
    pub email: String,
    /// A PHC string (`$argon2id$…`).
    pub password_hash: String,
    pub role: Role,
    pub created_at: UnixSeconds,
}

/// An API key's metadata (the key itself is shown once and stored only as a hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub key_id: String,
    pub user_id: UserId,
    pub name: String,
    /// The first characters of the key, to recognise it in a list.
    pub prefix: String,
    pub created_at: UnixSeconds,
    pub revoked: bool,
}

fn decode<T: serde::de::DeserializeOwned>(item: &KvItem) -> StoreResult<T> {
    Ok(serde_json::from_value(item.body.clone())?)
}

fn encode<T: Serialize>(value: &T) -> StoreResult<serde_json::Value> {
    Ok(serde_json::to_value(value)?)
}

/// The partition of the user directory ([`UserStore::list`]).
const DIRECTORY: &str = "users";

/// Users, credentials and API keys.
#[derive(Clone)]
pub struct UserStore {
    kv: Arc<dyn KvTable>,
}

impl std::fmt::Debug for UserStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserStore")
    }
}

impl UserStore {
    pub fn new(kv: Arc<dyn KvTable>) -> Self {
        UserStore { kv }
    }

    /// Creates a user; `ConditionFailed` if the email (case-insensitively) is taken — by
    /// a concurrent registration too: exactly one of two racing ones wins.
    pub async fn create(&self, user: &UserRecord) -> StoreResult<()> {
        let email = user.email.to_lowercase();
        let record = UserRecord {
            email: email.clone(),
            ..user.clone()
        };
        self.kv
            .transact(vec![
                KvWrite::Put {
                    pk: format!("email#{email}"),
                    sk: "user".into(),
                    body: json!({ "user_id": user.id }),
                    expires_at: None,
                    condition: Condition::IfAbsent,
                },
                KvWrite::Put {
                    pk: format!("user#{}", user.id),
                    sk: "profile".into(),
                    body: encode(&record)?,
                    expires_at: None,
                    condition: Condition::IfAbsent,
                },
                // The directory an administrator lists users from (one partition, in
                // user id order).
                KvWrite::Put {
                    pk: DIRECTORY.into(),
                    sk: user.id.to_string(),
                    body: json!({ "user_id": user.id }),
                    expires_at: None,
                    condition: Condition::IfAbsent,
                },
            ])
            .await
    }

    /// Lists `id` in the directory if it is not yet (a user registered before the
    /// directory existed is listed at their next login). Idempotent.
    pub async fn ensure_listed(&self, id: UserId) -> StoreResult<()> {
        let key = id.to_string();
        if self.kv.get(DIRECTORY, &key).await?.is_some() {
            return Ok(());
        }
        self.kv
            .put(
                DIRECTORY,
                &key,
                json!({ "user_id": id }),
                None,
                Condition::Always,
            )
            .await
            .map(|_| ())
    }

    /// Users in id order, skipping the first `offset`, at most `limit` (for the
    /// operations dashboard; never for a user's request). Users registered before the
    /// directory existed are not listed.
    pub async fn list(&self, offset: usize, limit: usize) -> StoreResult<Vec<UserRecord>> {
        let entries = self
            .kv
            .query(DIRECTORY, "", offset.saturating_add(limit))
            .await?;
        let mut users = Vec::with_capacity(limit);
        for entry in entries.iter().skip(offset) {
            let id: UserId = serde_json::from_value(entry.body["user_id"].clone())?;
            if let Some(user) = self.by_id(id).await? {
                users.push(user);
            }
        }
        Ok(users)
    }

    /// How many users the directory lists, counting at most `cap`.
    pub async fn count(&self, cap: usize) -> StoreResult<u64> {
        let entries = self.kv.query(DIRECTORY, "", cap).await?;
        Ok(u64::try_from(entries.len()).unwrap_or(u64::MAX))
    }

    pub async fn by_id(&self, id: UserId) -> StoreResult<Option<UserRecord>> {
        self.kv
            .get(&format!("user#{id}"), "profile")
            .await?
            .as_ref()
            .map(decode)
            .transpose()
    }

    pub async fn by_email(&self, email: &str) -> StoreResult<Option<UserRecord>> {
        let Some(index) = self
            .kv
            .get(&format!("email#{}", email.to_lowercase()), "user")
            .await?
        else {
            return Ok(None);
        };
        let id: UserId = serde_json::from_value(index.body["user_id"].clone())?;
        self.by_id(id).await
    }

    /// Changes a user's role; `NotFound` for an unknown user. Racing changes both apply
    /// in some order (compare-and-swap on the profile).
    pub async fn set_role(&self, id: UserId, role: Role) -> StoreResult<UserRecord> {
        let pk = format!("user#{id}");
        loop {
            let item = self
                .kv
                .get(&pk, "profile")
                .await?
                .ok_or_else(|| StoreError::not_found(format!("no user {id}")))?;
            let mut record: UserRecord = decode(&item)?;
            record.role = role;
            match self
                .kv
                .put(
                    &pk,
                    "profile",
                    encode(&record)?,
                    None,
                    Condition::IfVersion(item.version),
                )
                .await
            {
                Ok(_) => return Ok(record),
                Err(e) if e.kind() == ErrorKind::ConditionFailed => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Stores a new API key: its hash (for lookups) and its metadata (for listing).
    pub async fn add_api_key(&self, key_hash: &str, key: &ApiKeyRecord) -> StoreResult<()> {
        self.kv
            .transact(vec![
                KvWrite::Put {
                    pk: format!("apikey#{key_hash}"),
                    sk: "key".into(),
                    body: json!({ "user_id": key.user_id, "key_id": key.key_id }),
                    expires_at: None,
                    condition: Condition::IfAbsent,
                },
                KvWrite::Put {
                    pk: format!("user#{}", key.user_id),
                    sk: format!("apikey#{}", key.key_id),
                    body: json!({ "record": encode(key)?, "hash": key_hash }),
                    expires_at: None,
                    condition: Condition::IfAbsent,
                },
            ])
            .await
    }

    /// A user's API keys, revoked ones included, by key id.
    pub async fn api_keys(&self, user: UserId) -> StoreResult<Vec<ApiKeyRecord>> {
        let items = self
            .kv
            .query(&format!("user#{user}"), "apikey#", 1_000)
            .await?;
        items
            .iter()
            .map(|i| Ok(serde_json::from_value(i.body["record"].clone())?))
            .collect()
    }

    /// The active key with this hash: (user, key id).
    pub async fn find_api_key(&self, key_hash: &str) -> StoreResult<Option<(UserId, String)>> {
        let Some(item) = self.kv.get(&format!("apikey#{key_hash}"), "key").await? else {
            return Ok(None);
        };
        let user: UserId = serde_json::from_value(item.body["user_id"].clone())?;
        let key_id = item.body["key_id"].as_str().unwrap_or_default().to_owned();
        Ok(Some((user, key_id)))
    }

    /// Revokes one of `user`'s keys: the hash stops working and the metadata says so.
    /// `NotFound` for a key that is not the user's.
    pub async fn revoke_api_key(&self, user: UserId, key_id: &str) -> StoreResult<()> {
        let sk = format!("apikey#{key_id}");
        let item = self
            .kv
            .get(&format!("user#{user}"), &sk)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("no API key {key_id}")))?;
        let mut record: ApiKeyRecord = serde_json::from_value(item.body["record"].clone())?;
        let hash = item.body["hash"].as_str().unwrap_or_default().to_owned();
        record.revoked = true;
        self.kv
            .transact(vec![
                KvWrite::Delete {
                    pk: format!("apikey#{hash}"),
                    sk: "key".into(),
                    condition: Condition::Always,
                },
                KvWrite::Put {
                    pk: format!("user#{user}"),
                    sk,
                    body: json!({ "record": encode(&record)?, "hash": hash }),
                    expires_at: None,
                    condition: Condition::IfVersion(item.version),
                },
            ])
            .await
    }
}

/// What presenting a refresh token led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The old token is spent; the new one is live.
    Rotated { user: UserId, family: String },
    /// The token had already been used: its whole family is revoked now.
    ReuseDetected { user: UserId, family: String },
    /// Unknown, expired, or its family revoked.
    Invalid,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RefreshRecord {
    user: UserId,
    family: String,
    used: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FamilyRecord {
    user: UserId,
    revoked: bool,
}

/// Refresh tokens: stored hashed with a TTL, rotated on every use, revocable by family.
#[derive(Clone)]
pub struct RefreshTokens {
    kv: Arc<dyn KvTable>,
}

impl std::fmt::Debug for RefreshTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshTokens")
    }
}

impl RefreshTokens {
    pub fn new(kv: Arc<dyn KvTable>) -> Self {
        RefreshTokens { kv }
    }

    /// Starts a family (a login) with its first token, both expiring at `expires_at`.
    pub async fn issue(
        &self,
        user: UserId,
        family: &str,
        token_hash: &str,
        expires_at: UnixSeconds,
    ) -> StoreResult<()> {
        self.kv
            .transact(vec![
                KvWrite::Put {
                    pk: format!("family#{family}"),
                    sk: "state".into(),
                    body: encode(&FamilyRecord {
                        user,
                        revoked: false,
                    })?,
                    expires_at: Some(expires_at),
                    condition: Condition::IfAbsent,
                },
                KvWrite::Put {
                    pk: format!("refresh#{token_hash}"),
                    sk: "token".into(),
                    body: encode(&RefreshRecord {
                        user,
                        family: family.to_owned(),
                        used: false,
                    })?,
                    expires_at: Some(expires_at),
                    condition: Condition::IfAbsent,
                },
            ])
            .await
    }

    /// Spends `old_hash` and issues `new_hash` in the same family. A token presented a
    /// second time (stolen, or replayed) revokes the family, so neither the thief nor the
    /// owner can refresh again.
    pub async fn rotate(
        &self,
        old_hash: &str,
        new_hash: &str,
        expires_at: UnixSeconds,
    ) -> StoreResult<Rotation> {
        let Some(old) = self.kv.get(&format!("refresh#{old_hash}"), "token").await? else {
            return Ok(Rotation::Invalid);
        };
        let token: RefreshRecord = decode(&old)?;
        let Some(family_item) = self
            .kv
            .get(&format!("family#{}", token.family), "state")
            .await?
        else {
            return Ok(Rotation::Invalid);
        };
        let family: FamilyRecord = decode(&family_item)?;
        if family.revoked {
            return Ok(Rotation::Invalid);
        }
        if token.used {
            self.revoke_family(&token.family).await?;
            return Ok(Rotation::ReuseDetected {
                user: token.user,
                family: token.family,
            });
        }
        let spent = RefreshRecord {
            used: true,
            ..token.clone()
        };
        let fresh = RefreshRecord {
            used: false,
            ..token.clone()
        };
        let result = self
            .kv
            .transact(vec![
                KvWrite::Put {
                    pk: format!("refresh#{old_hash}"),
                    sk: "token".into(),
                    body: encode(&spent)?,
                    expires_at: old.expires_at,
                    condition: Condition::IfVersion(old.version),
                },
                KvWrite::Put {
                    pk: format!("refresh#{new_hash}"),
                    sk: "token".into(),
                    body: encode(&fresh)?,
                    expires_at: Some(expires_at),
                    condition: Condition::IfAbsent,
                },
                KvWrite::Check {
                    pk: format!("family#{}", token.family),
                    sk: "state".into(),
                    condition: Condition::IfVersion(family_item.version),
                },
            ])
            .await;
        match result {
            Ok(()) => Ok(Rotation::Rotated {
                user: token.user,
                family: token.family,
            }),
            // Someone rotated the same token at the same moment: that is a reuse.
            Err(e) if e.kind() == ErrorKind::ConditionFailed => {
                self.revoke_family(&token.family).await?;
                Ok(Rotation::ReuseDetected {
                    user: token.user,
                    family: token.family,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Revokes every token of a family (logout, reuse).
    pub async fn revoke_family(&self, family: &str) -> StoreResult<()> {
        let pk = format!("family#{family}");
        loop {
            let Some(item) = self.kv.get(&pk, "state").await? else {
                return Ok(());
            };
            let mut record: FamilyRecord = decode(&item)?;
            if record.revoked {
                return Ok(());
            }
            record.revoked = true;
            match self
                .kv
                .put(
                    &pk,
                    "state",
                    encode(&record)?,
                    item.expires_at,
                    Condition::IfVersion(item.version),
                )
                .await
            {
                Err(e) if e.kind() == ErrorKind::ConditionFailed => continue,
                other => return other.map(|_| ()),
            }
        }
    }

    /// Whether a family (a login session) is live: issued, not expired, not revoked.
    pub async fn session_live(&self, family: &str) -> StoreResult<bool> {
        let Some(item) = self.kv.get(&format!("family#{family}"), "state").await? else {
            return Ok(false);
        };
        Ok(!decode::<FamilyRecord>(&item)?.revoked)
    }

    /// The family a live token belongs to (for logout).
    pub async fn family_of(&self, token_hash: &str) -> StoreResult<Option<String>> {
        let item = self
            .kv
            .get(&format!("refresh#{token_hash}"), "token")
            .await?;
        Ok(item
            .as_ref()
            .map(decode::<RefreshRecord>)
            .transpose()?
            .map(|t| t.family))
    }
}

/// The outcome of a failed login for the lockout policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Not locked yet; this many failures so far in the window.
    Counted(u32),
    /// Locked until this time.
    Locked(UnixSeconds),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AttemptRecord {
    failures: u32,
    locked_until: Option<UnixSeconds>,
}

/// Login failures per email and lockouts, and per-client rate limits.
#[derive(Clone)]
pub struct LoginGuard {
    kv: Arc<dyn KvTable>,
}

impl std::fmt::Debug for LoginGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginGuard")
    }
}

impl LoginGuard {
    pub fn new(kv: Arc<dyn KvTable>) -> Self {
        LoginGuard { kv }
    }

    fn key(email: &str) -> String {
        format!("login#{}", email.to_lowercase())
    }

    /// Until when `email` is locked, if it is.
    pub async fn locked_until(
        &self,
        email: &str,
        now: UnixSeconds,
    ) -> StoreResult<Option<UnixSeconds>> {
        let Some(item) = self.kv.get(&Self::key(email), "attempts").await? else {
            return Ok(None);
        };
        let record: AttemptRecord = decode(&item)?;
        Ok(record.locked_until.filter(|t| *t > now))
    }

    /// Counts a failure; the `max_failures`-th within the window locks the email for
    /// `lock_seconds`. Concurrent failures are all counted (compare-and-swap).
    pub async fn record_failure(
        &self,
        email: &str,
        now: UnixSeconds,
        max_failures: u32,
        lock_seconds: i64,
    ) -> StoreResult<Attempt> {
        let pk = Self::key(email);
        loop {
            let current = self.kv.get(&pk, "attempts").await?;
            let mut record: AttemptRecord = current
                .as_ref()
                .map(decode)
                .transpose()?
                .unwrap_or_default();
            if let Some(until) = record.locked_until.filter(|t| *t > now) {
                return Ok(Attempt::Locked(until));
            }
            if record.locked_until.is_some() {
                record = AttemptRecord::default(); // the lock ran out: start over
            }
            record.failures += 1;
            let outcome = if record.failures >= max_failures {
                record.locked_until = Some(now + lock_seconds);
                Attempt::Locked(now + lock_seconds)
            } else {
                Attempt::Counted(record.failures)
            };
            // The counter forgets after the lock period (TTL).
            let expires = Some(now + lock_seconds.max(60));
            let condition = current
                .as_ref()
                .map_or(Condition::IfAbsent, |c| Condition::IfVersion(c.version));
            match self
                .kv
                .put(&pk, "attempts", encode(&record)?, expires, condition)
                .await
            {
                Ok(_) => return Ok(outcome),
                Err(e) if e.kind() == ErrorKind::ConditionFailed => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Forgets the failures after a successful login.
    pub async fn reset(&self, email: &str) -> StoreResult<()> {
        self.kv
            .delete(&Self::key(email), "attempts", Condition::Always)
            .await
    }

    /// A token bucket per `key` (an IP, an API key): `capacity` requests, refilled at
    /// `per_second`. True if this request may go ahead.
    pub async fn allow(
        &self,
        key: &str,
        now_ms: i64,
        capacity: u32,
        per_second: f64,
    ) -> StoreResult<bool> {
        let pk = format!("bucket#{key}");
        loop {
            let current = self.kv.get(&pk, "bucket").await?;
            let (tokens, at) = match &current {
                Some(item) => (
                    item.body["tokens"].as_f64().unwrap_or(f64::from(capacity)),
                    item.body["at_ms"].as_i64().unwrap_or(now_ms),
                ),
                None => (f64::from(capacity), now_ms),
            };
            let refilled = (tokens + (now_ms - at).max(0) as f64 / 1000.0 * per_second)
                .min(f64::from(capacity));
            let allowed = refilled >= 1.0;
            let left = if allowed { refilled - 1.0 } else { refilled };
            let condition = current
                .as_ref()
                .map_or(Condition::IfAbsent, |c| Condition::IfVersion(c.version));
            let expires = Some(now_ms / 1000 + 3_600);
            match self
                .kv
                .put(
                    &pk,
                    "bucket",
                    json!({ "tokens": left, "at_ms": now_ms }),
                    expires,
                    condition,
                )
                .await
            {
                Ok(_) => return Ok(allowed),
                Err(e) if e.kind() == ErrorKind::ConditionFailed => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

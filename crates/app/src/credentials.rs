//! What this process knows of the credentials it checked recently: whether a user still
//! exists (and with which role), whether a login session is still live, and which user
//! an API key belongs to. A signed access token proves who it was issued to, not that
//! nothing changed since; so every authenticated request asks these questions, and the
//! answers are kept for `auth_recheck_seconds` (5 by default). A revocation made on
//! another process (another Lambda container) takes effect within that time. One made
//! here takes effect at once: logout, key revocation and role changes forget what they
//! change.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

use domain::UserId;
use store::StoreResult;
use store::users::Role;

use crate::state::AppState;

/// Entries a map holds before it starts over (a flood of distinct keys cannot grow it
/// without bound).
const MAX_ENTRIES: usize = 100_000;

/// Answers by key, each with the time (Unix seconds) it was fetched.
#[derive(Debug)]
struct Answers<K, V> {
    entries: Mutex<HashMap<K, (i64, V)>>,
}

impl<K: Eq + Hash, V: Clone> Answers<K, V> {
    fn new() -> Self {
        Answers {
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn fresh(&self, key: &K, now: i64, ttl: i64) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        let (at, value) = entries.get(key)?;
        (now - at < ttl).then(|| value.clone())
    }

    fn keep(&self, key: K, now: i64, value: V) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key, (now, value));
        }
    }

    fn forget(&self, key: &K) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }

    fn forget_all(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

/// See the module docs.
#[derive(Debug)]
pub struct CredentialChecks {
    users: Answers<UserId, Option<Role>>,
    sessions: Answers<String, bool>,
    api_keys: Answers<String, Option<(UserId, String)>>,
}

impl Default for CredentialChecks {
    fn default() -> Self {
        CredentialChecks {
            users: Answers::new(),
            sessions: Answers::new(),
            api_keys: Answers::new(),
        }
    }
}

fn ttl(state: &AppState) -> i64 {
    i64::from(state.settings.auth_recheck_seconds)
}

impl CredentialChecks {
    /// The user's role, or `None` if the user no longer exists.
    pub async fn role(&self, state: &AppState, user: UserId) -> StoreResult<Option<Role>> {
        let now = state.clock.unix_seconds();
        if let Some(known) = self.users.fresh(&user, now, ttl(state)) {
            return Ok(known);
        }
        let role = state.users.by_id(user).await?.map(|u| u.role);
        self.users.keep(user, now, role);
        Ok(role)
    }

    /// Whether the login session (a refresh-token family) is live: not logged out, not
    /// revoked for a reused refresh token, not expired.
    pub async fn session_live(&self, state: &AppState, session: &str) -> StoreResult<bool> {
        let now = state.clock.unix_seconds();
        if let Some(known) = self.sessions.fresh(&session.to_owned(), now, ttl(state)) {
            return Ok(known);
        }
        let live = state.refresh_tokens.session_live(session).await?;
        self.sessions.keep(session.to_owned(), now, live);
        Ok(live)
    }

    /// The user and key id of a live API key, by the key's digest.
    pub async fn api_key(
        &self,
        state: &AppState,
        digest: &str,
    ) -> StoreResult<Option<(UserId, String)>> {
        let now = state.clock.unix_seconds();
        if let Some(known) = self.api_keys.fresh(&digest.to_owned(), now, ttl(state)) {
            return Ok(known);
        }
        let found = state.users.find_api_key(digest).await?;
        self.api_keys.keep(digest.to_owned(), now, found.clone());
        Ok(found)
    }

    /// Forgets the user's role (it changed).
    pub fn user_changed(&self, user: UserId) {
        self.users.forget(&user);
    }

    /// Forgets a session (it ended).
    pub fn session_ended(&self, session: &str) {
        self.sessions.forget(&session.to_owned());
    }

    /// Forgets every API key (one was revoked; keys are kept by digest, which the
    /// revocation does not know).
    pub fn api_key_revoked(&self) {
        self.api_keys.forget_all();
    }
}

//! Users' strategy modules (WebAssembly, the `strategy-modules` table): what a user
//! uploaded, read back by its owner (the API) and by id (the core and the research
//! worker, which run the deployments and jobs that name it).
//!
//! | key | what |
//! |---|---|
//! | `user#<owner>` / `module#<id>` | [`StrategyModule`]: the listing, per owner |
//! | `user#<owner>` / `sha#<hex>` | the id of the owner's module with these bytes (uploads are idempotent) |
//! | `user#<owner>` / `count` | how many modules the owner has (the cap, kept exact under races) |
//! | `module#<id>` / `blob` | owner, digest, size and chunk count of the bytes |
//! | `module#<id>` / `chunk#NNN` | the bytes, base64, in chunks |
//!
//! A DynamoDB item holds at most 400 KB and a transaction 4 MB, so the bytes are cut
//! into chunks of [`CHUNK_BYTES`] (about 350 KB as base64) and a module is at most
//! [`MAX_MODULE_BYTES`]; an upload writes every item above in one `transact`, so a
//! module is whole or absent, and a delete removes them all alike. The store does not
//! inspect a module: the caller has validated it (the engine's `wasm::inspect`) and gives
//! what it found as a [`ModuleDescription`].

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use domain::{Timestamp, UserId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{ErrorKind, StoreError, StoreResult};
use crate::kv::{Condition, KvItem, KvTable, KvWrite};

/// The most modules one user keeps.
pub const MAX_MODULES_PER_USER: usize = 20;
/// Raw bytes per chunk item.
pub const CHUNK_BYTES: usize = 256 * 1024;
/// The largest module the store takes (eight chunks: one transaction stays under
/// DynamoDB's 4 MB and within the port's 25 writes). The engine's own cap is lower.
pub const MAX_MODULE_BYTES: usize = 8 * CHUNK_BYTES;
/// Attempts of an upload or delete that raced another write of the same owner.
const ATTEMPTS: usize = 100;

/// A module as its owner sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyModule {
    /// A random UUID; deployments and jobs name the module `wasm:<id>`.
    pub id: String,
    pub owner: UserId,
    /// What the module calls itself.
    pub name: String,
    pub summary: String,
    pub abi_version: u32,
    /// Its parameters as JSON Schema (as the catalog's built-ins).
    pub params_schema: Value,
    /// Bytes.
    pub size: usize,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    pub created_at: Timestamp,
}

/// What validating a module found (the caller's inspection).
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleDescription {
    pub name: String,
    pub summary: String,
    pub abi_version: u32,
    pub params_schema: Value,
}

/// What an upload did.
#[derive(Debug, Clone, PartialEq)]
pub enum Upload {
    /// Stored as a new module.
    Created(StrategyModule),
    /// The owner already has a module with these bytes: that one, unchanged.
    Existing(StrategyModule),
    /// The owner has [`MAX_MODULES_PER_USER`] modules; nothing was stored.
    Full { limit: usize },
}

/// A module's bytes, read by id, with its owner (for the caller to check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleBytes {
    pub owner: UserId,
    pub sha256: String,
    pub bytes: Vec<u8>,
}

/// The `module#<id>/blob` item.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct BlobHead {
    owner: UserId,
    sha256: String,
    size: usize,
    chunks: usize,
}

/// See the module docs.
#[derive(Clone)]
pub struct StrategyModules {
    kv: Arc<dyn KvTable>,
}

impl std::fmt::Debug for StrategyModules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StrategyModules")
    }
}

fn owner_pk(owner: UserId) -> String {
    format!("user#{owner}")
}

fn listing_sk(id: &str) -> String {
    format!("module#{id}")
}

fn sha_sk(sha256: &str) -> String {
    format!("sha#{sha256}")
}

const COUNT_SK: &str = "count";
const BLOB_SK: &str = "blob";

fn blob_pk(id: &str) -> String {
    format!("module#{id}")
}

fn chunk_sk(i: usize) -> String {
    format!("chunk#{i:03}")
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Ids are UUIDs the store made; anything else names no module (and never reaches a
/// key, where a `#` could address another item).
fn canonical_id(id: &str) -> Option<String> {
    uuid::Uuid::parse_str(id)
        .ok()
        .map(|u| u.hyphenated().to_string())
        .filter(|canonical| canonical == id)
}

fn not_found(id: &str) -> StoreError {
    StoreError::not_found(format!("no strategy module {id:?}"))
}

fn count_of(item: Option<&KvItem>) -> usize {
    item.and_then(|i| i.body["modules"].as_u64())
        .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX))
}

fn version_condition(item: Option<&KvItem>) -> Condition {
    item.map_or(Condition::IfAbsent, |i| Condition::IfVersion(i.version))
}

fn contention(what: &str) -> StoreError {
    StoreError::new(
        ErrorKind::Throttled,
        format!("{what}: too many concurrent writes of this user's modules"),
    )
}

impl StrategyModules {
    pub fn new(kv: Arc<dyn KvTable>) -> Self {
        StrategyModules { kv }
    }

    /// Stores `bytes` as a module of `owner`, all or nothing; the owner's module with
    /// the same bytes if there is one; [`Upload::Full`] at the cap. `Invalid` for an
    /// empty module or one over [`MAX_MODULE_BYTES`].
    pub async fn upload(
        &self,
        owner: UserId,
        description: ModuleDescription,
        bytes: &[u8],
        now: Timestamp,
    ) -> StoreResult<Upload> {
        if bytes.is_empty() || bytes.len() > MAX_MODULE_BYTES {
            return Err(StoreError::invalid(format!(
                "a strategy module is 1 to {MAX_MODULE_BYTES} bytes, got {}",
                bytes.len()
            )));
        }
        let sha256 = sha256_hex(bytes);
        let pk = owner_pk(owner);
        let module = StrategyModule {
            id: uuid::Uuid::new_v4().hyphenated().to_string(),
            owner,
            name: description.name,
            summary: description.summary,
            abi_version: description.abi_version,
            params_schema: description.params_schema,
            size: bytes.len(),
            sha256: sha256.clone(),
            created_at: now,
        };
        let chunks: Vec<&[u8]> = bytes.chunks(CHUNK_BYTES).collect();
        let head = BlobHead {
            owner,
            sha256: sha256.clone(),
            size: bytes.len(),
            chunks: chunks.len(),
        };
        for _ in 0..ATTEMPTS {
            if let Some(existing) = self.with_digest(owner, &sha256).await? {
                return Ok(Upload::Existing(existing));
            }
            let count = self.kv.get(&pk, COUNT_SK).await?;
            let modules = count_of(count.as_ref());
            if modules >= MAX_MODULES_PER_USER {
                return Ok(Upload::Full {
                    limit: MAX_MODULES_PER_USER,
                });
            }
            let put = |pk: &str, sk: String, body: Value, condition| KvWrite::Put {
                pk: pk.to_owned(),
                sk,
                body,
                expires_at: None,
                condition,
            };
            let blob = blob_pk(&module.id);
            let mut writes = vec![
                put(
                    &pk,
                    listing_sk(&module.id),
                    serde_json::to_value(&module)?,
                    Condition::IfAbsent,
                ),
                put(
                    &pk,
                    sha_sk(&sha256),
                    json!({ "id": module.id }),
                    Condition::IfAbsent,
                ),
                put(
                    &pk,
                    COUNT_SK.to_owned(),
                    json!({ "modules": modules + 1 }),
                    version_condition(count.as_ref()),
                ),
                put(
                    &blob,
                    BLOB_SK.to_owned(),
                    serde_json::to_value(&head)?,
                    Condition::IfAbsent,
                ),
            ];
            for (i, chunk) in chunks.iter().enumerate() {
                writes.push(put(
                    &blob,
                    chunk_sk(i),
                    json!({ "data": STANDARD.encode(chunk) }),
                    Condition::IfAbsent,
                ));
            }
            match self.kv.transact(writes).await {
                Ok(()) => return Ok(Upload::Created(module)),
                // Another upload or delete of this owner moved the count, or stored
                // these bytes first: read again.
                Err(e) if e.kind() == ErrorKind::ConditionFailed => continue,
                Err(e) => return Err(e),
            }
        }
        Err(contention("upload"))
    }

    /// The owner's module with these bytes.
    async fn with_digest(
        &self,
        owner: UserId,
        sha256: &str,
    ) -> StoreResult<Option<StrategyModule>> {
        let Some(item) = self.kv.get(&owner_pk(owner), &sha_sk(sha256)).await? else {
            return Ok(None);
        };
        let Some(id) = item.body["id"].as_str() else {
            return Ok(None);
        };
        match self.get(owner, id).await {
            Ok(module) => Ok(Some(module)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The owner's modules, oldest first.
    pub async fn list(&self, owner: UserId) -> StoreResult<Vec<StrategyModule>> {
        let mut modules = self
            .kv
            .query(&owner_pk(owner), "module#", MAX_MODULES_PER_USER * 2)
            .await?
            .into_iter()
            .map(|item| Ok(serde_json::from_value(item.body)?))
            .collect::<StoreResult<Vec<StrategyModule>>>()?;
        modules.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(modules)
    }

    /// The owner's module `id`; `NotFound` if the owner has none with this id (another
    /// user's id included).
    pub async fn get(&self, owner: UserId, id: &str) -> StoreResult<StrategyModule> {
        let id = canonical_id(id).ok_or_else(|| not_found(id))?;
        let item = self
            .kv
            .get(&owner_pk(owner), &listing_sk(&id))
            .await?
            .ok_or_else(|| not_found(&id))?;
        Ok(serde_json::from_value(item.body)?)
    }

    /// Removes the owner's module `id` and its bytes, all or nothing; `NotFound` as
    /// [`StrategyModules::get`].
    pub async fn delete(&self, owner: UserId, id: &str) -> StoreResult<()> {
        let pk = owner_pk(owner);
        for _ in 0..ATTEMPTS {
            let module = self.get(owner, id).await?;
            let count = self.kv.get(&pk, COUNT_SK).await?;
            let blob = blob_pk(&module.id);
            let head: Option<BlobHead> = match self.kv.get(&blob, BLOB_SK).await? {
                Some(item) => Some(serde_json::from_value(item.body)?),
                None => None,
            };
            let delete = |pk: &str, sk: String, condition| KvWrite::Delete {
                pk: pk.to_owned(),
                sk,
                condition,
            };
            let mut writes = vec![
                delete(&pk, listing_sk(&module.id), Condition::IfExists),
                delete(&pk, sha_sk(&module.sha256), Condition::Always),
                KvWrite::Put {
                    pk: pk.clone(),
                    sk: COUNT_SK.to_owned(),
                    body: json!({ "modules": count_of(count.as_ref()).saturating_sub(1) }),
                    expires_at: None,
                    condition: version_condition(count.as_ref()),
                },
                delete(&blob, BLOB_SK.to_owned(), Condition::Always),
            ];
            for i in 0..head.map_or(0, |h| h.chunks) {
                writes.push(delete(&blob, chunk_sk(i), Condition::Always));
            }
            match self.kv.transact(writes).await {
                Ok(()) => return Ok(()),
                // Raced: the next `get` says whether it is still there.
                Err(e) if e.kind() == ErrorKind::ConditionFailed => continue,
                Err(e) => return Err(e),
            }
        }
        Err(contention("delete"))
    }

    /// Module `id`'s bytes, whoever owns it (the core and the research worker, for a
    /// deployment or job whose owner was checked when it was made), checked against
    /// their digest; `NotFound` if there is no such module.
    pub async fn bytes(&self, id: &str) -> StoreResult<ModuleBytes> {
        let id = canonical_id(id).ok_or_else(|| not_found(id))?;
        let items = self.kv.query(&blob_pk(&id), "", 64).await?;
        let head: BlobHead = match items.iter().find(|i| i.sk == BLOB_SK) {
            Some(item) => serde_json::from_value(item.body.clone())?,
            None => return Err(not_found(&id)),
        };
        let mut bytes = Vec::with_capacity(head.size);
        let mut chunks = 0;
        for item in items.iter().filter(|i| i.sk.starts_with("chunk#")) {
            let data = item.body["data"].as_str().unwrap_or_default();
            let decoded = STANDARD.decode(data).map_err(|e| {
                StoreError::internal(format!("module {id}: chunk {}: {e}", item.sk))
            })?;
            bytes.extend_from_slice(&decoded);
            chunks += 1;
        }
        if chunks != head.chunks || bytes.len() != head.size || sha256_hex(&bytes) != head.sha256 {
            return Err(StoreError::internal(format!(
                "module {id}: the stored bytes do not match their digest"
            )));
        }
        Ok(ModuleBytes {
            owner: head.owner,
            sha256: head.sha256,
            bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_canonical_uuids_only() {
        let id = "6f1c1f3e-8a52-4c1e-9a57-0c7c6b1f2d3e";
        assert_eq!(canonical_id(id).as_deref(), Some(id));
        for bad in [
            "",
            "x#y",
            "6F1C1F3E-8A52-4C1E-9A57-0C7C6B1F2D3E",
            "6f1c1f3e8a524c1e9a570c7c6b1f2d3e",
            "{6f1c1f3e-8a52-4c1e-9a57-0c7c6b1f2d3e}",
        ] {
            assert_eq!(canonical_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn digests_are_sha256_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_largest_module_fits_one_transaction() {
        let chunks = MAX_MODULE_BYTES.div_ceil(CHUNK_BYTES);
        assert!(chunks + 4 <= crate::kv::MAX_TRANSACTION_WRITES);
        // base64 is 4/3 of the bytes; an item stays under DynamoDB's 400 KB and the
        // transaction under its 4 MB.
        let item = CHUNK_BYTES.div_ceil(3) * 4 + 200;
        assert!(item < 400_000);
        assert!(item * chunks + 10_000 < 4_000_000);
    }
}

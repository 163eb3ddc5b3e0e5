//! Exactly-once effects over at-least-once delivery: [`apply_once`] updates an item for
//! an event and marks the event applied in **one** transaction, so a redelivered event
//! changes nothing and a crash between the two cannot happen.

use std::sync::Arc;

use domain::EventId;
use serde_json::Value;

use crate::error::{ErrorKind, StoreResult};
use crate::kv::{Condition, KvTable, KvWrite, UnixSeconds};

/// What [`apply_once`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The update ran; the item now holds this body.
    Now(Value),
    /// The event had been applied before; nothing changed.
    Already,
}

/// Applies `update` (old body → new body) to `(pk, sk)` for `event`, at most once per
/// event id. Markers live until `marker_expires_at` — longer than any redelivery window
/// (Kinesis keeps records 24 hours by default). Concurrent updates of the same item retry
/// on the new value.
pub async fn apply_once<F>(
    kv: &Arc<dyn KvTable>,
    event: EventId,
    pk: &str,
    sk: &str,
    marker_expires_at: UnixSeconds,
    update: F,
) -> StoreResult<Applied>
where
    F: Fn(Option<&Value>) -> StoreResult<Value>,
{
    let marker_pk = format!("applied#{event}");
    loop {
        if kv.get(&marker_pk, "event").await?.is_some() {
            return Ok(Applied::Already);
        }
        let current = kv.get(pk, sk).await?;
        let body = update(current.as_ref().map(|c| &c.body))?;
        let condition = current
            .as_ref()
            .map_or(Condition::IfAbsent, |c| Condition::IfVersion(c.version));
        let result = kv
            .transact(vec![
                KvWrite::Put {
                    pk: marker_pk.clone(),
                    sk: "event".into(),
                    body: serde_json::json!({ "item": format!("{pk}/{sk}") }),
                    expires_at: Some(marker_expires_at),
                    condition: Condition::IfAbsent,
                },
                KvWrite::Put {
                    pk: pk.to_owned(),
                    sk: sk.to_owned(),
                    body: body.clone(),
                    expires_at: None,
                    condition,
                },
            ])
            .await;
        match result {
            Ok(()) => return Ok(Applied::Now(body)),
            // Either the event was applied meanwhile (the loop sees the marker) or the
            // item changed (the loop re-reads it).
            Err(e) if e.kind() == ErrorKind::ConditionFailed => continue,
            Err(e) => return Err(e),
        }
    }
}

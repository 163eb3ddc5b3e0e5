//! Relaying the outbox: events written in the same transaction as the rows that caused
//! them (an order and its `order.place` command) are published to their stream after
//! the commit. The streaming core relays continuously; a function relays right after its
//! own write so a command reaches the core without waiting for the next round. Two
//! relays may publish an event twice — delivery is at-least-once and every consumer
//! applies an event id once.

use std::collections::BTreeMap;

use store::StoreResult;
use store::records::OutboxQueue;
use store::stream::{OutgoingRecord, StreamLog};

/// Publishes up to `limit` unpublished events, oldest first, and marks them; the number
/// published.
pub async fn relay(
    outbox: &dyn OutboxQueue,
    streams: &dyn StreamLog,
    limit: usize,
) -> StoreResult<usize> {
    let pending = outbox.unpublished(limit).await?;
    if pending.is_empty() {
        return Ok(0);
    }
    // Per stream, in outbox order (so one partition key's events keep their order).
    let mut by_stream: BTreeMap<&str, Vec<&store::records::OutboxRecord>> = BTreeMap::new();
    for record in &pending {
        by_stream
            .entry(record.event.stream.as_str())
            .or_default()
            .push(record);
    }
    let mut done = Vec::new();
    for (stream, records_of) in by_stream {
        for chunk in records_of.chunks(store::stream::MAX_PUBLISH_RECORDS) {
            let outgoing = chunk
                .iter()
                .map(|r| {
                    OutgoingRecord::new(r.event.partition_key.clone(), r.event.payload.clone())
                })
                .collect();
            streams.publish(stream, outgoing).await?;
            done.extend(chunk.iter().map(|r| r.id));
        }
    }
    outbox.mark_published(&done).await?;
    Ok(done.len())
}

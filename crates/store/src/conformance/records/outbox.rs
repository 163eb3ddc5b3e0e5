//! `OutboxQueue`: events wait in commit order, each once, until they are marked published.

use super::*;

pub async fn the_outbox_relays_in_order<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    for n in 0..5 {
        let event = OutboxEvent {
            event_id: EventId::derived(&format!("o-{n}")),
            stream: if n % 2 == 0 {
                "executions".into()
            } else {
                "candles".into()
            },
            partition_key: format!("k{n}"),
            payload: vec![n as u8],
        };
        // Through the core's commit and through `enqueue`, alike.
        if n % 2 == 0 {
            s.commit(&CommitBatch {
                outbox: vec![event],
                ..CommitBatch::default()
            })
            .await
            .expect("commit");
        } else {
            s.enqueue(std::slice::from_ref(&event))
                .await
                .expect("enqueue");
            s.enqueue(&[event])
                .await
                .expect("an event enqueued again is kept once");
        }
    }
    let first = s.unpublished(3).await.expect("outbox");
    assert_eq!(
        first.iter().map(|r| r.event.payload[0]).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert!(first.windows(2).all(|w| w[0].id < w[1].id));
    s.mark_published(&first.iter().map(|r| r.id).collect::<Vec<_>>())
        .await
        .expect("mark");
    let rest = s.unpublished(10).await.expect("outbox");
    assert_eq!(
        rest.iter().map(|r| r.event.payload[0]).collect::<Vec<_>>(),
        [3, 4]
    );
    assert_eq!(rest[0].event.stream, "candles");
    s.mark_published(&[]).await.expect("nothing to mark");
}

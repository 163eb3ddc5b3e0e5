//! `MarketHistory`: the candles the core commits, by symbol and timeframe, re-emitted ones
//! replacing what was stored.

use super::*;

pub async fn committed_candles_are_the_history<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    let es = domain::Symbol::parse("ES").expect("symbol");
    let candle = |minute: i64, close: &str| domain::Candle {
        symbol: es,
        timeframe: domain::Timeframe::M1,
        start: Timestamp::from_secs(minute * 60),
        end: Timestamp::from_secs(minute * 60 + 60),
        open: "100".parse().expect("price"),
        high: "101".parse().expect("price"),
        low: "99".parse().expect("price"),
        close: close.parse().expect("price"),
        volume: "5".parse().expect("qty"),
        trades: 3,
    };
    let candles: Vec<domain::Candle> = (0..5).map(|m| candle(m, "100.5")).collect();
    s.commit(&CommitBatch {
        candles: candles.clone(),
        ..CommitBatch::default()
    })
    .await
    .expect("commit");
    // A re-emitted candle replaces the stored one.
    s.commit(&CommitBatch {
        candles: vec![candle(2, "99.5")],
        ..CommitBatch::default()
    })
    .await
    .expect("commit");
    let got = s
        .candles(
            es,
            domain::Timeframe::M1,
            Timestamp::from_secs(60),
            Timestamp::from_secs(240),
            100,
        )
        .await
        .expect("candles");
    assert_eq!(
        got.iter()
            .map(|c| c.start.nanos() / 60_000_000_000)
            .collect::<Vec<_>>(),
        [1, 2, 3],
        "[from, to), oldest first"
    );
    assert_eq!(got[1].close, "99.5".parse().expect("price"));
    let first_two = s
        .candles(
            es,
            domain::Timeframe::M1,
            Timestamp::EPOCH,
            Timestamp::MAX,
            2,
        )
        .await
        .expect("limited");
    assert_eq!(first_two, candles[..2].to_vec(), "at most `limit`");
    assert!(
        s.candles(
            es,
            domain::Timeframe::M5,
            Timestamp::EPOCH,
            Timestamp::MAX,
            10
        )
        .await
        .expect("none")
        .is_empty(),
        "another timeframe"
    );
}

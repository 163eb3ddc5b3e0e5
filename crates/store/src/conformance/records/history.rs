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

pub async fn saved_candles_page_from_the_newest_and_load_idempotently<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    let es = domain::Symbol::parse("ES").expect("symbol");
    let nq = domain::Symbol::parse("NQ").expect("symbol");
    let bar = |symbol, timeframe: domain::Timeframe, n: i64, close: &str| {
        let start = Timestamp::from_secs(n * i64::from(timeframe.seconds()));
        domain::Candle {
            symbol,
            timeframe,
            start,
            end: timeframe.period_end(start),
            open: "100".parse().expect("price"),
            high: "101".parse().expect("price"),
            low: "99".parse().expect("price"),
            close: close.parse().expect("price"),
            volume: "5".parse().expect("qty"),
            trades: 3,
        }
    };
    let (m5, d1) = (domain::Timeframe::M5, domain::Timeframe::D1);
    let mut bars: Vec<domain::Candle> = (0..10).map(|n| bar(es, m5, n, "100")).collect();
    bars.extend((0..3).map(|n| bar(es, d1, n, "100")));
    bars.push(bar(nq, domain::Timeframe::M1, 0, "1"));
    assert_eq!(s.save_candles(&bars).await.expect("save"), 14);
    assert_eq!(
        s.save_candles(&bars).await.expect("again"),
        0,
        "the same candles again change nothing"
    );
    let changed = [bar(es, m5, 3, "100.5"), bar(es, m5, 10, "100")];
    assert_eq!(s.save_candles(&changed).await.expect("changed"), 2);
    assert_eq!(s.save_candles(&[]).await.expect("none"), 0);

    assert_eq!(
        s.candle_timeframes(es).await.expect("timeframes"),
        [m5, d1],
        "finest first"
    );
    assert_eq!(
        s.candle_timeframes(domain::Symbol::parse("CL").expect("symbol"))
            .await
            .expect("none"),
        []
    );
    let starts = |candles: &[domain::Candle]| {
        candles
            .iter()
            .map(|c| c.start.nanos() / m5.nanos())
            .collect::<Vec<_>>()
    };
    let newest = s
        .latest_candles(es, m5, Timestamp::EPOCH, Timestamp::MAX, 4)
        .await
        .expect("newest");
    assert_eq!(starts(&newest), [7, 8, 9, 10], "the newest, oldest first");
    let before = s
        .latest_candles(es, m5, Timestamp::EPOCH, newest[0].start, 4)
        .await
        .expect("page");
    assert_eq!(starts(&before), [3, 4, 5, 6], "the page before");
    assert_eq!(before[0].close, "100.5".parse().expect("price"));
    let first = s
        .latest_candles(es, m5, Timestamp::from_secs(300), before[0].start, 4)
        .await
        .expect("last page");
    assert_eq!(starts(&first), [1, 2], "bounded by `from`");
    assert!(
        s.latest_candles(es, m5, Timestamp::MAX, Timestamp::EPOCH, 4)
            .await
            .expect("empty window")
            .is_empty()
    );
    // A key repeated in one call: the last is kept, counted once.
    let twice = [bar(es, m5, 20, "101"), bar(es, m5, 20, "102")];
    assert_eq!(s.save_candles(&twice).await.expect("twice"), 1);
    let kept = s
        .candles(es, m5, twice[0].start, m5.period_end(twice[0].start), 5)
        .await
        .expect("kept");
    assert_eq!(kept, [twice[1]]);
    // The same load racing itself: each candle is added once, by one of them.
    let fresh: Vec<domain::Candle> = (100..150).map(|n| bar(es, m5, n, "100")).collect();
    let (a, b) = tokio::join!(s.save_candles(&fresh), s.save_candles(&fresh));
    assert_eq!(a.expect("first") + b.expect("second"), 50);
}

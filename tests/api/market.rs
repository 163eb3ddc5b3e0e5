//! The market function: instruments and calendars, candle pages (recorded, resampled, the
//! candle still forming), tickers and recent trades; and the closed-market policy at
//! order placement.

use axum::http::StatusCode;
use domain::{Candle, Quantity, Symbol, Timeframe, Timestamp};
use serde_json::{Value, json};
use store::market_tape::TradePrint;

use crate::api_tests;
use crate::helpers::{Backend, TestApp};

fn candle(symbol: &str, timeframe: Timeframe, start: Timestamp, close: u32) -> Candle {
    let price = |p: u32| domain::Price::new(p.into()).unwrap();
    Candle {
        symbol: Symbol::parse(symbol).unwrap(),
        timeframe,
        start,
        end: timeframe.period_end(start),
        open: price(close - 1),
        high: price(close + 2),
        low: price(close - 2),
        close: price(close),
        volume: Quantity::new(10.into()).unwrap(),
        trades: 4,
    }
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

fn closes(page: &Value) -> Vec<String> {
    page["candles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["close"].as_str().unwrap().to_owned())
        .collect()
}

fn field_of(r: &crate::helpers::Reply) -> String {
    r.body["errors"][0]["field"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

async fn instruments_carry_their_market_reference_data(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.set_time("2024-12-24T15:00:00Z");
    let ada = app.user("ada@example.com").await;
    app.set_price("ES", "4000.25").await;
    let r = app.get("/instruments", &ada.token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let find = |symbol: &str| {
        r.body["instruments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["symbol"] == symbol)
            .unwrap()
            .clone()
    };
    let es = find("ES");
    assert_eq!(es["tick_size"], "0.25");
    assert_eq!(es["last_price"], "4000.25");
    let aapl = find("AAPL");
    assert_eq!(aapl["asset_class"], "equity");
    assert_eq!(aapl["calendar"], "XNYS");
    assert_eq!(aapl["closed_market"], "queue");
    assert_eq!(
        aapl["market_open"], true,
        "Christmas Eve, 10:00 in New York"
    );
    assert_eq!(
        aapl["next_session"],
        json!({"date": "2024-12-24", "open": "2024-12-24T14:30:00Z",
               "close": "2024-12-24T18:00:00Z", "early_close": true, "late_open": false})
    );
    let btc = find("BTC-USD");
    assert_eq!(
        (btc["asset_class"].clone(), btc["calendar"].clone()),
        (json!("crypto"), json!("24x7"))
    );

    app.set_time("2024-12-25T15:00:00Z");
    let ada = app.login("ada@example.com").await;
    let one = app.get("/instruments/aapl", &ada.token).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    assert_eq!(one.body["symbol"], "AAPL");
    assert_eq!(one.body["market_open"], false, "Christmas Day");
    assert_eq!(one.body["next_session"]["date"], "2024-12-26");
    let unknown = app.get("/instruments/NOPE", &ada.token).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text);
    assert!(unknown.text.contains("NOPE"));
}

async fn calendars_list_sessions_and_holidays(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let r = app
        .get("/calendars/XNYS?from=2024-12-23&to=2024-12-27", &ada.token)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["timezone"], "America/New_York");
    let dates: Vec<&str> = r.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["date"].as_str().unwrap())
        .collect();
    assert_eq!(
        dates,
        ["2024-12-23", "2024-12-24", "2024-12-26", "2024-12-27"]
    );
    assert_eq!(r.body["sessions"][1]["close"], "2024-12-24T18:00:00Z");
    assert_eq!(r.body["holidays"][0]["date"], "2024-12-25");
    assert_eq!(r.body["coverage"]["from"], "1995-01-01");

    let always = app
        .get("/calendars/24x7?from=2024-12-23&to=2024-12-29", &ada.token)
        .await;
    assert_eq!(always.body["sessions"].as_array().unwrap().len(), 7);
    assert_eq!(always.body["coverage"], Value::Null);

    for (query, field) in [
        ("from=2024-12-27&to=2024-12-23", "from"),
        ("from=2024-01-01&to=2025-12-31", "to"),
        ("from=2024-02-30", "from"),
        ("to=yesterday", "to"),
    ] {
        let r = app
            .get(&format!("/calendars/XNYS?{query}"), &ada.token)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text);
        assert_eq!(field_of(&r), field, "{query}");
    }
    let r = app.get("/calendars/XLON", &ada.token).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn candles_page_back_from_the_candle_still_forming(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.set_time("2026-12-01T12:00:30Z");
    let ada = app.user("ada@example.com").await;
    // Two hours of 1m candles of ES, then the 1m and 1d candles the core has open.
    let t0 = at("2026-12-01T10:00:00Z");
    let m1 = Timeframe::M1;
    let stored: Vec<Candle> = (0..120)
        .map(|i| {
            candle(
                "ES",
                m1,
                Timestamp::from_nanos(t0.nanos() + i * m1.nanos()),
                100 + i as u32,
            )
        })
        .collect();
    assert_eq!(app.state.history.save_candles(&stored).await.unwrap(), 120);
    let open_start = at("2026-12-01T12:00:00Z");
    let es = Symbol::parse("ES").unwrap();
    app.state
        .tape
        .record(
            es,
            &[],
            &[
                candle("ES", m1, open_start, 500),
                candle("ES", Timeframe::D1, at("2026-12-01T00:00:00Z"), 500),
            ],
        )
        .await
        .unwrap();

    let first = app
        .get("/instruments/ES/candles?timeframe=1m&limit=50", &ada.token)
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.body["source_timeframe"], "1m");
    let candles = first.body["candles"].as_array().unwrap();
    assert_eq!(candles.len(), 50);
    let last = candles.last().unwrap();
    assert_eq!(last["start"], "2026-12-01T12:00:00Z");
    assert_eq!(
        (last["close"].clone(), last["closed"].clone()),
        (json!("500"), json!(false))
    );
    assert_eq!(candles[48]["closed"], true);
    // Paging back reaches the first candle without a gap or a repeat.
    let mut seen: Vec<String> = closes(&first.body);
    let mut cursor = first.body["next_cursor"].as_str().map(str::to_owned);
    while let Some(c) = cursor {
        let page = app
            .get(
                &format!("/instruments/es/candles?timeframe=1m&limit=50&cursor={c}"),
                &ada.token,
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let mut older = closes(&page.body);
        older.extend(seen);
        seen = older;
        cursor = page.body["next_cursor"].as_str().map(str::to_owned);
    }
    let expected: Vec<String> = (100..220).chain([500]).map(|c| c.to_string()).collect();
    assert_eq!(seen, expected);

    // A window, and 15m resampled from the 1m (nobody recorded 15m here).
    let window = app
        .get(
            "/instruments/ES/candles?timeframe=15m&from=2026-12-01T10:30:00Z&to=2026-12-01T11:30:00Z",
            &ada.token,
        )
        .await;
    assert_eq!(window.status, StatusCode::OK, "{}", window.text);
    assert_eq!(window.body["source_timeframe"], "1m");
    let bars = window.body["candles"].as_array().unwrap();
    assert_eq!(bars.len(), 4);
    assert_eq!(bars[0]["start"], "2026-12-01T10:30:00Z");
    // Minutes 30..44: open 129, high max 146, low min 128, close 144, volume 150.
    assert_eq!(
        (
            bars[0]["open"].clone(),
            bars[0]["high"].clone(),
            bars[0]["low"].clone(),
            bars[0]["close"].clone(),
            bars[0]["volume"].clone(),
            bars[0]["trades"].clone()
        ),
        (
            json!("129"),
            json!("146"),
            json!("128"),
            json!("144"),
            json!("150"),
            json!(60)
        )
    );
    assert_eq!(window.body["next_cursor"], Value::Null);
    // The newest 2h candle includes the one still forming.
    let two_hours = app
        .get("/instruments/ES/candles?timeframe=2h&limit=2", &ada.token)
        .await;
    let bars = two_hours.body["candles"].as_array().unwrap();
    assert_eq!(bars.len(), 2, "{}", two_hours.text);
    assert_eq!(bars[1]["start"], "2026-12-01T12:00:00Z");
    assert_eq!(
        (bars[1]["close"].clone(), bars[1]["closed"].clone()),
        (json!("500"), json!(false))
    );
    assert_eq!(bars[0]["close"], "219");

    // Bad input names the field and changes nothing.
    for (query, status, field) in [
        ("timeframe=7x", StatusCode::BAD_REQUEST, "timeframe"),
        ("limit=10", StatusCode::BAD_REQUEST, "timeframe"),
        ("timeframe=1m&limit=0", StatusCode::BAD_REQUEST, "limit"),
        ("timeframe=1m&limit=5001", StatusCode::BAD_REQUEST, "limit"),
        (
            "timeframe=1m&from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z",
            StatusCode::BAD_REQUEST,
            "from",
        ),
        (
            "timeframe=1m&from=yesterday",
            StatusCode::BAD_REQUEST,
            "from",
        ),
        ("timeframe=1m&cursor=abc", StatusCode::BAD_REQUEST, "cursor"),
        (
            "timeframe=8h&limit=5000",
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit",
        ),
    ] {
        let r = app
            .get(&format!("/instruments/ES/candles?{query}"), &ada.token)
            .await;
        assert_eq!(r.status, status, "{query}: {}", r.text);
        assert_eq!(field_of(&r), field, "{query}");
    }
    // Bounds at the ends of the timestamp range are answered, not overflowed.
    for query in [
        "timeframe=2h&cursor=-9223372036854775807",
        "timeframe=2h&to=1677-09-21T00:12:44Z",
        "timeframe=2h&from=2262-04-11T23:47:16Z",
        "timeframe=1w&cursor=9223372036854775807&limit=1",
        "timeframe=1m&to=1677-09-21T00:12:44Z",
    ] {
        let r = app
            .get(&format!("/instruments/ES/candles?{query}"), &ada.token)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text);
    }
}

async fn imported_symbols_resample_only_to_multiples(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    // Daily bars of a symbol not traded here (as `stratus data import` loads them).
    let d1 = Timeframe::D1;
    let days: Vec<Candle> = (0..21)
        .map(|i| {
            candle(
                "NVDA",
                d1,
                Timestamp::from_nanos(at("2024-01-01T00:00:00Z").nanos() + i * d1.nanos()),
                50 + i as u32,
            )
        })
        .collect();
    app.state.history.save_candles(&days).await.unwrap();
    let weeks = app
        .get("/instruments/NVDA/candles?timeframe=1w", &ada.token)
        .await;
    assert_eq!(weeks.status, StatusCode::OK, "{}", weeks.text);
    assert_eq!(weeks.body["source_timeframe"], "1d");
    // 2024-01-01 is a Monday: three whole weeks.
    assert_eq!(closes(&weeks.body), ["56", "63", "70"]);
    let hours = app
        .get("/instruments/NVDA/candles?timeframe=1h", &ada.token)
        .await;
    assert_eq!(
        hours.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        hours.text
    );
    assert_eq!(field_of(&hours), "timeframe");
    assert!(hours.text.contains("1d"), "{}", hours.text);
    // A symbol with no data and not traded here; one traded but not yet.
    let none = app
        .get("/instruments/ZZZ/candles?timeframe=1d", &ada.token)
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "{}", none.text);
    let empty = app
        .get("/instruments/QQQ/candles?timeframe=1d", &ada.token)
        .await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.text);
    assert_eq!(empty.body["candles"], json!([]));
}

async fn tickers_and_trades_come_from_the_tape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.set_time("2026-12-02T15:00:00Z");
    let ada = app.user("ada@example.com").await;
    let es = Symbol::parse("ES").unwrap();
    let empty = app.get("/instruments/ES/ticker", &ada.token).await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.text);
    assert_eq!(empty.body["last"], Value::Null);
    // Yesterday's close, today's open candle, and trades.
    app.state
        .history
        .save_candles(&[candle(
            "ES",
            Timeframe::D1,
            at("2026-12-01T00:00:00Z"),
            4000,
        )])
        .await
        .unwrap();
    let trades: Vec<TradePrint> = (0..120)
        .map(|i| TradePrint {
            time: Timestamp::from_nanos(at("2026-12-02T14:00:00Z").nanos() + i * 1_000_000_000),
            price: format!("{}.25", 4000 + i).parse().unwrap(),
            size: Quantity::new(1.into()).unwrap(),
        })
        .collect();
    app.state
        .tape
        .record(
            es,
            &trades,
            &[candle(
                "ES",
                Timeframe::D1,
                at("2026-12-02T00:00:00Z"),
                4119,
            )],
        )
        .await
        .unwrap();
    let ticker = app.get("/instruments/es/ticker", &ada.token).await;
    assert_eq!(ticker.status, StatusCode::OK, "{}", ticker.text);
    let t = &ticker.body;
    assert_eq!(t["last"]["price"], "4119.25");
    assert_eq!(t["previous_close"], "4000");
    assert_eq!(t["change"], "119.25");
    assert_eq!(t["change_percent"], "2.98");
    assert_eq!(t["session"]["high"], "4121");
    assert_eq!(t["market_open"], true, "ES trades around the clock");

    let recent = app.get("/instruments/ES/trades?limit=3", &ada.token).await;
    assert_eq!(recent.status, StatusCode::OK, "{}", recent.text);
    let prices: Vec<&str> = recent.body["trades"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["price"].as_str().unwrap())
        .collect();
    assert_eq!(prices, ["4119.25", "4118.25", "4117.25"], "newest first");
    let all = app
        .get("/instruments/ES/trades?limit=100", &ada.token)
        .await;
    assert_eq!(all.body["trades"].as_array().unwrap().len(), 100);
    let r = app
        .get("/instruments/ES/trades?limit=101", &ada.token)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(field_of(&r), "limit");
    let r = app.get("/instruments/NOPE/ticker", &ada.token).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn closed_markets_refuse_or_queue_orders_by_policy(backend: Backend) {
    let dir = std::env::temp_dir().join(format!("stratus-instruments-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{backend:?}.json"));
    std::fs::write(
        &file,
        json!([
            {"symbol": "SPY", "tick_size": "0.01", "lot_size": "1", "min_quantity": "1", "currency": "USD",
             "asset_class": "etf", "calendar": "XNYS", "closed_market": "refuse"},
            {"symbol": "AAPL", "tick_size": "0.01", "lot_size": "1", "min_quantity": "1", "currency": "USD",
             "asset_class": "equity", "calendar": "XNYS", "closed_market": "queue"}
        ])
        .to_string(),
    )
    .unwrap();
    let app = TestApp::spawn_with(backend, |s| s.instruments = Some(file.clone())).await;
    // A Saturday.
    app.set_time("2026-12-05T15:00:00Z");
    let ada = app.user("ada@example.com").await;
    let account = app.funded_account(&ada, "100000").await;
    let order = |symbol: &str| json!({"symbol": symbol, "side": "buy", "type": "limit", "quantity": "1", "limit_price": "100", "time_in_force": "day"});
    let path = format!("/accounts/{account}/orders");
    let refused = app.post(&path, &ada.token, order("SPY")).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert_eq!(refused.body["type"], "/problems/market-closed");
    assert!(
        refused.text.contains("2026-12-07T14:30:00Z"),
        "names the next open: {}",
        refused.text
    );
    let queued = app.post(&path, &ada.token, order("AAPL")).await;
    assert_eq!(queued.status, StatusCode::CREATED, "{}", queued.text);
    let orders = app.get(&path, &ada.token).await;
    assert_eq!(
        orders.body["orders"].as_array().unwrap().len(),
        1,
        "nothing written for SPY"
    );
    // Monday, in the session.
    app.set_time("2026-12-07T15:00:00Z");
    let ada = app.login("ada@example.com").await;
    let accepted = app.post(&path, &ada.token, order("SPY")).await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.text);
    let _ = std::fs::remove_file(&file);
}

async fn admins_import_history_idempotently_and_bad_rows_write_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("admin@example.com").await;
    let ada = app.user("ada@example.com").await;
    let five_minute = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/2006-min-005.txt"
    ))
    .unwrap();
    assert!(
        five_minute.len() > 64 * 1024,
        "larger than an ordinary body"
    );
    let body = json!({ "csv": five_minute });
    let r = app
        .post("/instruments/ES/candles", &ada.token, body.clone())
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app
        .post("/instruments/ES/candles", &admin.token, body.clone())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"symbol": "ES", "kind": "bars", "rows": 2142, "timeframes": ["5m"], "candles": 2142, "changed": 2142})
    );
    let again = app
        .post("/instruments/es/candles", &admin.token, body)
        .await;
    assert_eq!(again.body["changed"], 0, "{}", again.text);
    let page = app
        .get(
            "/instruments/ES/candles?timeframe=5m&limit=2&to=2006-01-03T00:00:00Z",
            &ada.token,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    // The file stamps bars at their close: the last bar of 2006-01-02 closes 17:30.
    assert_eq!(page.body["candles"][1]["start"], "2006-01-02T17:25:00Z");

    let ticks = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/ticksample.csv"
    ))
    .unwrap();
    let r = app
        .post(
            "/instruments/NQ/candles",
            &admin.token,
            json!({ "csv": ticks }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["timeframes"],
        json!(["1m", "5m", "15m", "1h", "4h", "1d"])
    );

    for (csv, line) in [
        (
            "Date,Open,High,Low,Close,Volume\n2020-01-01,1,2,0.5,1.5,10\n2020-01-02,1,0.5,2,1.5,10\n",
            "line 3",
        ),
        (
            "Date,Open,High,Low,Close,Volume,Colour\n2020-01-01,1,2,0.5,1.5,10,red\n",
            "line 1",
        ),
        ("Date,Open,High,Low,Close,Volume\n", "no bars"),
    ] {
        let r = app
            .post(
                "/instruments/BAD/candles",
                &admin.token,
                json!({ "csv": csv }),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(field_of(&r), "csv");
        assert!(r.text.contains(line), "{line}: {}", r.text);
    }
    let r = app
        .post(
            "/instruments/BAD/candles",
            &admin.token,
            json!({ "csv": 5 }),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let none = app
        .get("/instruments/BAD/candles?timeframe=1d", &ada.token)
        .await;
    assert_eq!(
        none.status,
        StatusCode::NOT_FOUND,
        "nothing was written: {}",
        none.text
    );
}

api_tests!(
    admins_import_history_idempotently_and_bad_rows_write_nothing,
    instruments_carry_their_market_reference_data,
    calendars_list_sessions_and_holidays,
    candles_page_back_from_the_candle_still_forming,
    imported_symbols_resample_only_to_multiples,
    tickers_and_trades_come_from_the_tape,
    closed_markets_refuse_or_queue_orders_by_policy,
);

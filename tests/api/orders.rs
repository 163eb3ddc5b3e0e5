//! The orders function: placing (validation, idempotency, pre-trade checks), listing,
//! reading, cancelling and amending.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::api_tests;
use crate::helpers::{Backend, Session, TestApp};

fn limit_buy(symbol: &str, quantity: &str, price: &str) -> Value {
    json!({"symbol": symbol, "side": "buy", "type": "limit", "quantity": quantity, "limit_price": price})
}

async fn setup(app: &TestApp, cash: &str) -> (Session, String) {
    let ada = app.user("ada@example.com").await;
    let id = app.funded_account(&ada, cash).await;
    (ada, id)
}

async fn an_order_is_recorded_and_its_command_published_together(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, id) = setup(&app, "10000").await;
    let r = app
        .post(
            &format!("/accounts/{id}/orders"),
            &ada.token,
            limit_buy("AAPL", "10", "150.25"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let order_id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.headers["location"], format!("/orders/{order_id}"));
    assert_eq!(r.body["status"], "new");
    assert_eq!(r.body["type"], "limit");
    assert_eq!(r.body["limit_price"], "150.25");
    assert_eq!(r.body["time_in_force"], "gtc");
    assert_eq!(r.body["remaining_quantity"], "10");
    let got = app.get(&format!("/orders/{order_id}"), &ada.token).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["id"], order_id.as_str());
    // The command reached the `commands` stream, partitioned by symbol.
    let events = app.stream_events("commands").await;
    let place = events
        .iter()
        .find(|e| e.payload["id"] == order_id.as_str())
        .expect("order.place published");
    assert_eq!(place.event_type, "order.place");
    assert_eq!(place.partition_key, "AAPL");
    assert_eq!(place.payload["quantity"], "10");
    // And the outbox holds nothing unpublished.
    assert!(app.state.outbox.unpublished(10).await.unwrap().is_empty());

    // Every type and time in force is accepted.
    app.set_price("AAPL", "150").await;
    for body in [
        json!({"symbol": "AAPL", "side": "buy", "type": "market", "quantity": "1"}),
        json!({"symbol": "AAPL", "side": "buy", "type": "market", "quantity": "1", "time_in_force": "fok"}),
        json!({"symbol": "AAPL", "side": "buy", "type": "stop", "quantity": "1", "stop_price": "155"}),
        json!({"symbol": "AAPL", "side": "buy", "type": "stop_limit", "quantity": "1", "stop_price": "155", "limit_price": "156"}),
        json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "1", "limit_price": "149", "time_in_force": "ioc"}),
        json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "1", "limit_price": "149", "time_in_force": "day"}),
        json!({"symbol": "BTC-USD", "side": "buy", "type": "limit", "quantity": "0.0005", "limit_price": "40000.01"}),
    ] {
        if body["symbol"] == "BTC-USD" {
            app.set_price("BTC-USD", "40000").await;
        }
        let r = app
            .post(&format!("/accounts/{id}/orders"), &ada.token, body.clone())
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{body}: {}", r.text);
    }
    let market = app
        .post(
            &format!("/accounts/{id}/orders"),
            &ada.token,
            json!({"symbol": "AAPL", "side": "buy", "type": "market", "quantity": "1"}),
        )
        .await;
    assert_eq!(
        market.body["time_in_force"], "ioc",
        "market orders default to ioc"
    );
}

async fn a_client_order_id_makes_placing_idempotent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, id) = setup(&app, "10000").await;
    let mut body = limit_buy("AAPL", "10", "100");
    body["client_order_id"] = json!("bot-42");
    let path = format!("/accounts/{id}/orders");
    let first = app.post(&path, &ada.token, body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    // The same body again (decimals written differently): the original order, 200.
    let mut same = body.clone();
    same["quantity"] = json!("10.0");
    let again = app.post(&path, &ada.token, same).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body["id"], first.body["id"]);
    // Another body with the same id: 409, and nothing new.
    let mut other = body.clone();
    other["quantity"] = json!("11");
    let conflict = app.post(&path, &ada.token, other).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT, "{}", conflict.text);
    // Racing copies of a new request make one order.
    let mut racing = limit_buy("AAPL", "1", "99");
    racing["client_order_id"] = json!("race-1");
    let (a, b, c) = tokio::join!(
        app.post(&path, &ada.token, racing.clone()),
        app.post(&path, &ada.token, racing.clone()),
        app.post(&path, &ada.token, racing.clone()),
    );
    let ids: Vec<&Value> = [&a, &b, &c].iter().map(|r| &r.body["id"]).collect();
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "{} {} {}",
        a.text,
        b.text,
        c.text
    );
    let created = [&a, &b, &c]
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{} {} {}", a.text, b.text, c.text);
    // Racing requests with one id and different bodies: one order, the others a 409.
    let (a, b) = tokio::join!(
        app.post(&path, &ada.token, {
            let mut r = limit_buy("AAPL", "1", "98");
            r["client_order_id"] = json!("race-2");
            r
        }),
        app.post(&path, &ada.token, {
            let mut r = limit_buy("AAPL", "2", "98");
            r["client_order_id"] = json!("race-2");
            r
        }),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "{} {}",
        a.text,
        b.text
    );
    // A request the pre-trade checks refuse creates nothing, so its id is free for the
    // corrected request.
    let mut too_big = limit_buy("AAPL", "1000", "100");
    too_big["client_order_id"] = json!("fix-1");
    let refused = app.post(&path, &ada.token, too_big).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    let mut corrected = limit_buy("AAPL", "5", "100");
    corrected["client_order_id"] = json!("fix-1");
    let placed = app.post(&path, &ada.token, corrected).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
    let list = app.get(&format!("/accounts/{id}/orders"), &ada.token).await;
    assert_eq!(list.body["orders"].as_array().unwrap().len(), 4);
    let places = app
        .stream_events("commands")
        .await
        .into_iter()
        .filter(|e| e.payload["id"] == ids[0].clone())
        .count();
    assert!(places >= 1);
    // Another account may use the same client id.
    let second = app.funded_account(&ada, "1000").await;
    let r = app
        .post(
            &format!("/accounts/{second}/orders"),
            &ada.token,
            body.clone(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_ne!(r.body["id"], first.body["id"]);
}

async fn every_bad_field_is_named_and_nothing_is_created(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, id) = setup(&app, "10000").await;
    let path = format!("/accounts/{id}/orders");
    let cases = [
        (
            json!({"symbol": "NOPE", "side": "buy", "type": "limit", "quantity": "1", "limit_price": "1"}),
            "symbol",
        ),
        (
            json!({"symbol": "bad symbol!", "side": "buy", "type": "limit", "quantity": "1", "limit_price": "1"}),
            "symbol",
        ),
        (
            json!({"symbol": "AAPL", "side": "long", "type": "limit", "quantity": "1", "limit_price": "1"}),
            "side",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "iceberg", "quantity": "1", "limit_price": "1"}),
            "type",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "0", "limit_price": "1"}),
            "quantity",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "-3", "limit_price": "1"}),
            "quantity",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "1.5", "limit_price": "1"}),
            "quantity",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "1", "limit_price": "100.001"}),
            "limit_price",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "1", "limit_price": "0"}),
            "limit_price",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "1"}),
            "limit_price",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "1", "limit_price": "1", "stop_price": "2"}),
            "stop_price",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "market", "quantity": "1", "limit_price": "1"}),
            "limit_price",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "market", "quantity": "1", "time_in_force": "gtc"}),
            "time_in_force",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "stop", "quantity": "1"}),
            "stop_price",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "stop_limit", "quantity": "1", "stop_price": "2"}),
            "limit_price",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "1", "limit_price": "1", "time_in_force": "forever"}),
            "time_in_force",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "1", "limit_price": "1", "client_order_id": "has space"}),
            "client_order_id",
        ),
        (
            json!({"symbol": "ES", "side": "buy", "type": "limit", "quantity": "1", "limit_price": "4000.1"}),
            "limit_price",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "99999999999999999999999999999999", "limit_price": "1"}),
            "quantity",
        ),
        (
            json!({"side": "buy", "type": "limit", "quantity": "1", "limit_price": "1"}),
            "symbol",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": true, "limit_price": "1"}),
            "quantity",
        ),
    ];
    for (body, field) in cases {
        let r = app.post(&path, &ada.token, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text
        );
        let fields: Vec<&str> = r.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert!(fields.contains(&field), "{body}: {fields:?} {}", r.text);
    }
    let list = app.get(&path, &ada.token).await;
    assert!(list.body["orders"].as_array().unwrap().is_empty());
    assert!(
        app.stream_events("commands").await.is_empty(),
        "nothing was published"
    );
}

async fn pre_trade_checks_refuse_what_the_account_cannot_do(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, id) = setup(&app, "1000").await;
    let path = format!("/accounts/{id}/orders");
    let problem =
        |r: &crate::helpers::Reply| r.body["type"].as_str().unwrap_or_default().to_owned();

    let r = app
        .post(&path, &ada.token, limit_buy("AAPL", "10", "150"))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(problem(&r), "/problems/insufficient-buying-power");
    // What working orders reserve counts.
    let ok = app
        .post(&path, &ada.token, limit_buy("AAPL", "6", "100"))
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    let r = app
        .post(&path, &ada.token, limit_buy("AAPL", "5", "100"))
        .await;
    assert_eq!(
        problem(&r),
        "/problems/insufficient-buying-power",
        "{}",
        r.text
    );
    // A market order needs a price to be valued.
    let market = json!({"symbol": "MSFT", "side": "buy", "type": "market", "quantity": "1"});
    let r = app.post(&path, &ada.token, market.clone()).await;
    assert_eq!(problem(&r), "/problems/no-market-price");
    app.set_price("MSFT", "300").await;
    let r = app.post(&path, &ada.token, market).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // Cash accounts sell only what they hold.
    let sell = json!({"symbol": "AAPL", "side": "sell", "type": "limit", "quantity": "1", "limit_price": "100"});
    let r = app.post(&path, &ada.token, sell.clone()).await;
    assert_eq!(problem(&r), "/problems/insufficient-position");
    app.fill_order(&ada, ok.body["id"].as_str().unwrap(), "100")
        .await;
    let r = app.post(&path, &ada.token, sell.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let mut too_many = sell.clone();
    too_many["quantity"] = json!("6");
    let r = app.post(&path, &ada.token, too_many).await;
    assert_eq!(
        problem(&r),
        "/problems/insufficient-position",
        "one of six is already offered"
    );

    // Limits.
    app.put(
        &format!("/accounts/{id}/risk-limits"),
        &ada.token,
        json!({"max_order_notional": "50", "max_position": "7"}),
    )
    .await;
    let r = app
        .post(&path, &ada.token, limit_buy("AAPL", "1", "60"))
        .await;
    assert_eq!(problem(&r), "/problems/order-notional-limit");
    let r = app
        .post(&path, &ada.token, limit_buy("AAPL", "2", "10"))
        .await;
    assert_eq!(
        problem(&r),
        "/problems/position-limit",
        "6 held + 2 > 7: {}",
        r.text
    );
    let r = app
        .post(&path, &ada.token, limit_buy("AAPL", "1", "10"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

async fn orders_are_listed_newest_first_in_cursor_pages_with_filters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, id) = setup(&app, "100000").await;
    let path = format!("/accounts/{id}/orders");
    let mut ids = Vec::new();
    for n in 0..7 {
        app.advance(1);
        let symbol = if n % 2 == 0 { "AAPL" } else { "MSFT" };
        let r = app
            .post(&path, &ada.token, limit_buy(symbol, "1", "10"))
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}?limit=3&cursor={c}"),
            None => format!("{path}?limit=3"),
        };
        let page = app.get(&url, &ada.token).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let orders = page.body["orders"].as_array().unwrap();
        assert!(orders.len() <= 3);
        seen.extend(orders.iter().map(|o| o["id"].as_str().unwrap().to_owned()));
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids, "newest first, each once");
    let aapl = app.get(&format!("{path}?symbol=AAPL"), &ada.token).await;
    assert_eq!(aapl.body["orders"].as_array().unwrap().len(), 4);
    let new = app
        .get(&format!("{path}?status=new&limit=500"), &ada.token)
        .await;
    assert_eq!(new.body["orders"].as_array().unwrap().len(), 7);
    let filled = app.get(&format!("{path}?status=filled"), &ada.token).await;
    assert!(filled.body["orders"].as_array().unwrap().is_empty());
    for (query, field) in [
        ("status=done", "status"),
        ("limit=0", "limit"),
        ("limit=ten", "limit"),
        ("cursor=garbage", "cursor"),
        ("symbol=%20", "symbol"),
        ("colour=red", "colour"),
    ] {
        let r = app.get(&format!("{path}?{query}"), &ada.token).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text);
        assert_eq!(r.body["errors"][0]["field"], field, "{query}: {}", r.text);
    }
}

async fn cancels_and_amends_are_requested_of_the_core(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, id) = setup(&app, "10000").await;
    let path = format!("/accounts/{id}/orders");
    let r = app
        .post(&path, &ada.token, limit_buy("AAPL", "10", "100"))
        .await;
    let order = r.body["id"].as_str().unwrap().to_owned();

    let r = app
        .patch(
            &format!("/orders/{order}"),
            &ada.token,
            json!({"quantity": "8", "limit_price": "99.5"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.body["requested"], "amend");
    for (body, status, field) in [
        (json!({}), 422, "body"),
        (json!({"stop_price": "90"}), 422, "stop_price"),
        (json!({"limit_price": "99.555"}), 422, "limit_price"),
        (json!({"quantity": "0"}), 422, "quantity"),
        (json!({"quantity": "1.5"}), 422, "quantity"),
        (json!({"status": "filled"}), 422, "status"),
    ] {
        let r = app
            .patch(&format!("/orders/{order}"), &ada.token, body.clone())
            .await;
        assert_eq!(r.status.as_u16(), status, "{body}: {}", r.text);
        assert_eq!(r.body["errors"][0]["field"], field, "{body}: {}", r.text);
    }
    let r = app
        .patch(
            &format!("/orders/{order}"),
            &ada.token,
            json!({"quantity": "1000"}),
        )
        .await;
    assert_eq!(
        r.body["type"], "/problems/insufficient-buying-power",
        "{}",
        r.text
    );

    let r = app.delete(&format!("/orders/{order}"), &ada.token).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.body["requested"], "cancel");
    assert_eq!(
        app.commands_for(&order).await,
        ["order.place", "order.amend", "order.cancel"],
        "in order, on the symbol's partition"
    );

    // A filled order can no longer change.
    let r = app
        .post(&path, &ada.token, limit_buy("AAPL", "1", "100"))
        .await;
    let filled = r.body["id"].as_str().unwrap().to_owned();
    app.fill_order(&ada, &filled, "100").await;
    assert_eq!(
        app.delete(&format!("/orders/{filled}"), &ada.token)
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        app.patch(
            &format!("/orders/{filled}"),
            &ada.token,
            json!({"quantity": "2"})
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
    let got = app.get(&format!("/orders/{filled}"), &ada.token).await;
    assert_eq!(got.body["status"], "filled");
    assert_eq!(got.body["average_fill_price"], "100");
    let fills = app.get(&format!("/accounts/{id}/fills"), &ada.token).await;
    assert_eq!(fills.body["fills"][0]["order_id"], filled.as_str());
    assert_eq!(fills.body["fills"][0]["price"], "100");
}

api_tests!(
    an_order_is_recorded_and_its_command_published_together,
    a_client_order_id_makes_placing_idempotent,
    every_bad_field_is_named_and_nothing_is_created,
    pre_trade_checks_refuse_what_the_account_cannot_do,
    orders_are_listed_newest_first_in_cursor_pages_with_filters,
    cancels_and_amends_are_requested_of_the_core,
);

mod strategies {
    use axum::http::StatusCode;
    use serde_json::json;

    use crate::api_tests;
    use crate::helpers::{Backend, TestApp};

    async fn strategies_are_deployed_listed_paused_resumed_and_stopped(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let ada = app.user("ada@example.com").await;
        let id = app.funded_account(&ada, "10000").await;
        let path = format!("/accounts/{id}/strategies");
        let r = app
            .post(
                &path,
                &ada.token,
                json!({"strategy": "sma_cross", "symbols": ["AAPL", "MSFT"], "timeframes": ["5m", "1h"], "params": {"period": 20, "size": 2}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.body["status"], "running");
        assert_eq!(r.body["timeframes"], json!(["5m", "1h"]));
        let sid = r.body["id"].as_str().unwrap().to_owned();
        let list = app.get(&path, &ada.token).await;
        assert_eq!(list.body["strategies"].as_array().unwrap().len(), 1);
        let paused = app
            .post(&format!("/strategies/{sid}/pause"), &ada.token, json!({}))
            .await;
        assert_eq!(paused.body["status"], "paused");
        let resumed = app
            .post(&format!("/strategies/{sid}/resume"), &ada.token, json!({}))
            .await;
        assert_eq!(resumed.body["status"], "running");
        let stopped = app
            .post(&format!("/strategies/{sid}/stop"), &ada.token, json!({}))
            .await;
        assert_eq!(stopped.body["status"], "stopped");
        let again = app
            .post(&format!("/strategies/{sid}/resume"), &ada.token, json!({}))
            .await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert_eq!(
            app.get(&format!("/strategies/{sid}"), &ada.token)
                .await
                .body["status"],
            "stopped"
        );

        for (body, field) in [
            (
                json!({"strategy": "moon", "symbols": ["AAPL"], "timeframes": ["1m"]}),
                "strategy",
            ),
            (
                json!({"strategy": "sma_cross", "symbols": [], "timeframes": ["1m"]}),
                "symbols",
            ),
            (
                json!({"strategy": "sma_cross", "symbols": ["NOPE"], "timeframes": ["1m"]}),
                "symbols.0",
            ),
            (
                json!({"strategy": "sma_cross", "symbols": ["AAPL"], "timeframes": ["7x"]}),
                "timeframes.0",
            ),
            (
                json!({"strategy": "sma_cross", "symbols": ["AAPL"], "timeframes": ["1m"], "params": {"period": -3}}),
                "params.period",
            ),
            (
                json!({"strategy": "sma_cross", "symbols": ["AAPL"], "timeframes": ["1m"], "params": {"perod": 3}}),
                "params.perod",
            ),
            (
                json!({"strategy": "sma_cross", "symbols": ["AAPL"], "timeframes": ["1m"], "params": [1]}),
                "params",
            ),
            (
                json!({"strategy": "sma_cross", "symbols": ["AAPL"], "timeframes": ["1m"], "status": "running"}),
                "status",
            ),
        ] {
            let r = app.post(&path, &ada.token, body.clone()).await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{body}: {}",
                r.text
            );
            assert_eq!(r.body["errors"][0]["field"], field, "{body}: {}", r.text);
        }
        assert_eq!(
            app.get(&path, &ada.token).await.body["strategies"]
                .as_array()
                .unwrap()
                .len(),
            1,
            "refused deployments recorded nothing"
        );
    }

    /// A sine wave around 100 that crosses its short moving average many times.
    fn wave(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("{:.2}", 100.0 + 5.0 * (i as f64 / 40.0).sin()))
            .collect()
    }

    async fn a_deployments_performance_is_what_its_own_fills_imply(backend: Backend) {
        use domain::{Decimal, Position};
        let app = TestApp::spawn(backend).await;
        let ada = app.user("ada@example.com").await;
        let bob = app.user("bob@example.com").await;
        let id = app.funded_account(&ada, "1000000").await;
        let deploy = |symbols: serde_json::Value| json!({"strategy": "sma_cross", "symbols": symbols, "timeframes": ["1m"], "params": {"period": 2, "size": 3}});
        let r = app
            .post(
                &format!("/accounts/{id}/strategies"),
                &ada.token,
                deploy(json!(["AAPL"])),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let sid = r.body["id"].as_str().unwrap().to_owned();
        assert_eq!(
            r.body["performance"],
            json!({"positions": [], "fills": 0, "realized_pnl": "0", "unrealized_pnl": "0", "fees": "0", "net_pnl": "0"}),
            "nothing traded yet"
        );
        // The user's own order, filled, is not the deployment's.
        let own = app
            .post(
                &format!("/accounts/{id}/orders"),
                &ada.token,
                json!({"symbol": "AAPL", "side": "buy", "type": "limit", "limit_price": "90", "quantity": "1", "time_in_force": "gtc"}),
            )
            .await;
        assert_eq!(own.status, StatusCode::CREATED, "{}", own.text);
        let own_id = own.body["id"].as_str().unwrap().to_owned();
        assert_eq!(own.body["strategy_id"], serde_json::Value::Null);

        app.publish_ticks("AAPL", &wave(600)).await;
        app.run_core().await;

        // Its orders say which deployment placed them.
        let orders = app
            .get(&format!("/accounts/{id}/orders?limit=100"), &ada.token)
            .await;
        let orders = orders.body["orders"].as_array().unwrap().clone();
        let strategy_orders: Vec<&serde_json::Value> = orders
            .iter()
            .filter(|o| o["strategy_id"] == sid.as_str())
            .collect();
        assert!(strategy_orders.len() >= 2, "{orders:?}");
        assert!(
            orders
                .iter()
                .all(|o| o["strategy_id"] == sid.as_str() || o["id"] == own_id.as_str())
        );
        // The performance is the account's fills of those orders, folded into a position.
        let fills = app
            .get(&format!("/accounts/{id}/fills?limit=500"), &ada.token)
            .await;
        let mut theirs: Vec<serde_json::Value> = fills.body["fills"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| strategy_orders.iter().any(|o| o["id"] == f["order_id"]))
            .cloned()
            .collect();
        assert!(theirs.len() >= 2, "the strategy traded: {fills:?}");
        theirs.reverse(); // oldest first
        let mut position = Position::flat(domain::Symbol::parse("AAPL").unwrap());
        for f in &theirs {
            let side = if f["side"] == "buy" {
                domain::Side::Buy
            } else {
                domain::Side::Sell
            };
            let d = |k: &str| f[k].as_str().unwrap().parse::<Decimal>().unwrap();
            position
                .apply_trade(
                    side,
                    d("quantity"),
                    d("price"),
                    domain::Money::new(d("fee")),
                )
                .unwrap();
        }
        let mark: domain::Price = app
            .state
            .prices
            .last(domain::Symbol::parse("AAPL").unwrap())
            .await
            .unwrap()
            .unwrap()
            .price;
        let unrealized = position.unrealized_pnl(mark).unwrap();
        let net = position
            .realized_pnl()
            .checked_sub(position.fees())
            .unwrap()
            .checked_add(unrealized)
            .unwrap();
        let dec = |v: &serde_json::Value| v.as_str().unwrap().parse::<Decimal>().unwrap();
        let got = app.get(&format!("/strategies/{sid}"), &ada.token).await;
        assert_eq!(got.status, StatusCode::OK, "{}", got.text);
        let p = &got.body["performance"];
        assert_eq!(p["fills"], theirs.len());
        assert_eq!(dec(&p["realized_pnl"]), position.realized_pnl().value());
        assert_eq!(dec(&p["fees"]), position.fees().value());
        assert_eq!(dec(&p["unrealized_pnl"]), unrealized.value());
        assert_eq!(dec(&p["net_pnl"]), net.value());
        assert_eq!(p["positions"][0]["symbol"], "AAPL");
        assert_eq!(dec(&p["positions"][0]["quantity"]), position.quantity());
        assert_eq!(dec(&p["positions"][0]["mark"]), mark.value());
        // The list shows the same.
        let list = app
            .get(&format!("/accounts/{id}/strategies"), &ada.token)
            .await;
        assert_eq!(list.body["strategies"][0]["performance"], *p);
        // Another user sees neither the deployment nor its orders.
        let r = app.get(&format!("/strategies/{sid}"), &bob.token).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = app
            .get(&format!("/accounts/{id}/strategies"), &bob.token)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let oid = strategy_orders[0]["id"].as_str().unwrap();
        let r = app.get(&format!("/orders/{oid}"), &bob.token).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }

    api_tests!(
        strategies_are_deployed_listed_paused_resumed_and_stopped,
        a_deployments_performance_is_what_its_own_fills_imply,
    );
}

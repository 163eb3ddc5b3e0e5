//! The account function: accounts, cash, balances, positions, risk limits, broker
//! connections.

use axum::http::StatusCode;
use serde_json::json;

use crate::api_tests;
use crate::helpers::{Backend, TestApp};

async fn accounts_are_opened_listed_and_read(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let r = app
        .post(
            "/accounts",
            &ada.token,
            json!({"name": "swing", "base_currency": "usd"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["kind"], "paper");
    assert_eq!(r.body["base_currency"], "USD");
    assert_eq!(r.body["cash"], "0");
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.headers["location"], format!("/accounts/{id}"));
    app.advance(1);
    app.post("/accounts", &ada.token, json!({"name": "second"}))
        .await;
    let list = app.get("/accounts", &ada.token).await;
    assert_eq!(list.body["accounts"].as_array().unwrap().len(), 2);
    assert_eq!(list.body["accounts"][0]["name"], "swing", "oldest first");
    let one = app.get(&format!("/accounts/{id}"), &ada.token).await;
    assert_eq!(one.body["name"], "swing");

    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(65)}), "name"),
        (
            json!({"name": "a", "base_currency": "dollars"}),
            "base_currency",
        ),
        (json!({"name": "a", "kind": "margin"}), "kind"),
        (json!({"name": "a", "kind": "broker"}), "broker_connection"),
        (
            json!({"name": "a", "kind": "paper", "broker_connection": {"broker": "alpaca", "credentials": {"key_id": "k"}}}),
            "broker_connection.credentials.secret_key",
        ),
        (
            json!({"name": "a", "kind": "broker", "broker_connection": {"broker": "coinbase", "credentials": {"k": "v"}}}),
            "broker_connection.broker",
        ),
        (
            json!({"name": "a", "kind": "broker", "broker_connection": {"broker": "alpaca", "credentials": {"api_key": "k", "secret_key": "s"}}}),
            "broker_connection.credentials.key_id",
        ),
        (
            json!({"name": "a", "kind": "broker", "broker_connection": {"broker": "binance", "environment": "paper", "credentials": {"api_key": "k", "secret_key": "s"}}}),
            "broker_connection.environment",
        ),
        (json!({"name": "a", "cash": "1000000"}), "cash"),
    ] {
        let r = app.post("/accounts", &ada.token, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(r.body["errors"][0]["field"], field, "{body}: {}", r.text);
    }
    assert_eq!(
        app.get("/accounts", &ada.token).await.body["accounts"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "refused requests created nothing"
    );
}

async fn deposits_and_withdrawals_move_cash_exactly_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let id = app.funded_account(&ada, "0").await;
    let deposit = |amount: serde_json::Value, key: Option<&'static str>| {
        let app = &app;
        let token = ada.token.clone();
        let id = id.clone();
        async move {
            let mut b = axum::http::Request::post(format!("/accounts/{id}/deposits"))
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json");
            if let Some(k) = key {
                b = b.header("idempotency-key", k);
            }
            app.send(
                b.body(axum::body::Body::from(
                    json!({"amount": amount}).to_string(),
                ))
                .unwrap(),
            )
            .await
        }
    };
    let r = deposit(json!("1000.25"), Some("dep-1")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["balance_after"], "1000.25");
    let again = deposit(json!("1000.25"), Some("dep-1")).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body["id"], r.body["id"], "the same entry");
    let other = deposit(json!("5"), Some("dep-1")).await;
    assert_eq!(other.status, StatusCode::CONFLICT);
    // Decimals are strings: a JSON number cannot say exactly which decimal it means.
    let number = deposit(json!(0.1), None).await;
    assert_eq!(
        number.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        number.text
    );
    assert_eq!(number.body["errors"][0]["field"], "amount");
    let string = deposit(json!("0.1"), None).await;
    assert_eq!(string.body["amount"], "0.1", "{}", string.text);
    for (amount, why) in [
        (json!("0"), "zero"),
        (json!("-5"), "negative"),
        (json!("abc"), "junk"),
        (json!("1.000000001"), "too many decimals"),
        (json!("1e40"), "too large"),
    ] {
        let r = deposit(amount, None).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{why}: {}",
            r.text
        );
        assert_eq!(r.body["errors"][0]["field"], "amount");
    }
    let acct = app.get(&format!("/accounts/{id}"), &ada.token).await;
    assert_eq!(acct.body["cash"], "1000.35");

    let w = app
        .post(
            &format!("/accounts/{id}/withdrawals"),
            &ada.token,
            json!({"amount": "2000"}),
        )
        .await;
    assert_eq!(w.status, StatusCode::CONFLICT);
    assert_eq!(w.body["type"], "/problems/insufficient-funds");
    let w = app
        .post(
            &format!("/accounts/{id}/withdrawals"),
            &ada.token,
            json!({"amount": "0.35", "reference": "fees"}),
        )
        .await;
    assert_eq!(w.status, StatusCode::CREATED, "{}", w.text);
    assert_eq!(w.body["amount"], "-0.35");
    let ledger = app
        .get(&format!("/accounts/{id}/ledger?limit=10"), &ada.token)
        .await;
    let entries = ledger.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["kind"], "withdrawal");
    assert_eq!(entries[0]["balance_after"], "1000");
    let bad = app
        .get(&format!("/accounts/{id}/ledger?limit=0"), &ada.token)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

async fn balances_and_positions_value_holdings_at_the_last_price(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let id = app.funded_account(&ada, "10000").await;
    app.set_price("AAPL", "150").await;
    let order = app
        .post(
            &format!("/accounts/{id}/orders"),
            &ada.token,
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "10", "limit_price": "150"}),
        )
        .await;
    assert_eq!(order.status, StatusCode::CREATED, "{}", order.text);
    let b = app
        .get(&format!("/accounts/{id}/balances"), &ada.token)
        .await;
    assert_eq!(b.body["cash"], "10000");
    assert_eq!(b.body["reserved"], "1500");
    assert_eq!(b.body["buying_power"], "8500");
    // A withdrawal may not take reserved cash.
    let w = app
        .post(
            &format!("/accounts/{id}/withdrawals"),
            &ada.token,
            json!({"amount": "9000"}),
        )
        .await;
    assert_eq!(w.status, StatusCode::CONFLICT);

    app.fill_order(&ada, order.body["id"].as_str().unwrap(), "150")
        .await;
    app.set_price("AAPL", "160.5").await;
    let b = app
        .get(&format!("/accounts/{id}/balances"), &ada.token)
        .await;
    assert_eq!(b.body["cash"], "8500");
    assert_eq!(b.body["reserved"], "0");
    assert_eq!(b.body["positions_value"], "1605");
    assert_eq!(b.body["equity"], "10105");
    assert_eq!(b.body["unrealized_pnl"], "105");
    let p = app
        .get(&format!("/accounts/{id}/positions"), &ada.token)
        .await;
    let pos = &p.body["positions"][0];
    assert_eq!(pos["symbol"], "AAPL");
    assert_eq!(pos["quantity"], "10");
    assert_eq!(pos["average_price"], "150");
    assert_eq!(pos["mark"], "160.5");
    assert_eq!(pos["mark_source"], "last_trade");
}

async fn a_breached_daily_loss_limit_halts_new_orders_for_the_day(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let id = app.funded_account(&ada, "10000").await;
    let limits = app
        .put(
            &format!("/accounts/{id}/risk-limits"),
            &ada.token,
            json!({"max_daily_loss": "100", "max_order_notional": "5000", "max_position_by_symbol": {"AAPL": "50"}}),
        )
        .await;
    assert_eq!(limits.status, StatusCode::OK, "{}", limits.text);
    assert_eq!(limits.body["max_daily_loss"], "100");
    assert_eq!(limits.body["max_position_by_symbol"]["AAPL"], "50");
    assert_eq!(limits.body["halted"], false);
    app.set_price("AAPL", "100").await;
    let order = app
        .post(
            &format!("/accounts/{id}/orders"),
            &ada.token,
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "10", "limit_price": "100"}),
        )
        .await;
    assert_eq!(order.status, StatusCode::CREATED, "{}", order.text);
    app.fill_order(&ada, order.body["id"].as_str().unwrap(), "100")
        .await;
    app.set_price("AAPL", "89.99").await;
    let r = app
        .get(&format!("/accounts/{id}/risk-limits"), &ada.token)
        .await;
    assert_eq!(r.body["day_pnl"], "-100.1");
    assert_eq!(r.body["halted"], true, "{}", r.text);
    let refused = app
        .post(
            &format!("/accounts/{id}/orders"),
            &ada.token,
            json!({"symbol": "AAPL", "side": "sell", "type": "limit", "quantity": "1", "limit_price": "95"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.body["type"], "/problems/account-halted");
    // The next UTC day starts from its own baseline.
    app.advance(86_400);
    let ada = app.login("ada@example.com").await;
    let r = app
        .get(&format!("/accounts/{id}/risk-limits"), &ada.token)
        .await;
    assert_eq!(r.body["halted"], false, "{}", r.text);
    assert_eq!(r.body["day_pnl"], "0");

    for (body, field) in [
        (json!({"max_daily_loss": "-1"}), "max_daily_loss"),
        (
            json!({"max_position_by_symbol": {"NOPE": "5"}}),
            "max_position_by_symbol.NOPE",
        ),
        (json!({"max_order_notional": "x"}), "max_order_notional"),
        (json!({"halted": false}), "halted"),
    ] {
        let r = app
            .put(
                &format!("/accounts/{id}/risk-limits"),
                &ada.token,
                body.clone(),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(r.body["errors"][0]["field"], field, "{body}: {}", r.text);
    }
}

async fn broker_credentials_are_stored_sealed_and_never_returned(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let id = app.funded_account(&ada, "0").await;
    let secret = "very-secret-api-value-123";
    let r = app
        .post(
            &format!("/accounts/{id}/broker-connections"),
            &ada.token,
            json!({"broker": "interactive_brokers", "label": "live", "credentials": {"api_key_id": "AKID", "api_secret": secret}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(!r.text.contains(secret) && !r.text.contains("AKID"));
    assert_eq!(
        r.body["credential_fields"],
        json!(["api_key_id", "api_secret"])
    );
    let connection = r.body["id"].as_str().unwrap().to_owned();
    let list = app
        .get(&format!("/accounts/{id}/broker-connections"), &ada.token)
        .await;
    assert_eq!(list.body["connections"].as_array().unwrap().len(), 1);
    assert!(!list.text.contains(secret));
    // At rest the value is sealed, and it opens only for its account with the key.
    let stored = app
        .state
        .brokers
        .list(domain::AccountId::parse(&id).unwrap())
        .await
        .unwrap();
    assert!(!stored[0].sealed_credentials.contains(secret));
    let plain = app
        .state
        .sealer
        .open(&stored[0].sealed_credentials, &id)
        .expect("opens for its account");
    assert!(String::from_utf8(plain).unwrap().contains(secret));
    assert!(
        app.state
            .sealer
            .open(&stored[0].sealed_credentials, "another-account")
            .is_none()
    );

    for (body, field) in [
        (
            json!({"broker": "madoff", "credentials": {"k": "v"}}),
            "broker",
        ),
        (
            json!({"broker": "alpaca", "credentials": {}}),
            "credentials",
        ),
        (
            json!({"broker": "alpaca", "credentials": {"api_key_id": "k", "api_secret": "s"}}),
            "credentials.key_id",
        ),
        (
            json!({"broker": "alpaca", "credentials": {"key_id": "k", "secret_key": "s", "extra": "x"}}),
            "credentials.extra",
        ),
        (
            json!({"broker": "alpaca", "environment": "testnet", "credentials": {"key_id": "k", "secret_key": "s"}}),
            "environment",
        ),
        (
            json!({"broker": "alpaca", "credentials": {"bad name": "v"}}),
            "credentials",
        ),
        (
            json!({"broker": "alpaca", "credentials": {"k": 5}}),
            "credentials.k",
        ),
    ] {
        let r = app
            .post(
                &format!("/accounts/{id}/broker-connections"),
                &ada.token,
                body.clone(),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(r.body["errors"][0]["field"], field, "{body}: {}", r.text);
    }
    let r = app
        .delete(
            &format!("/accounts/{id}/broker-connections/{connection}"),
            &ada.token,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app
        .delete(
            &format!("/accounts/{id}/broker-connections/{connection}"),
            &ada.token,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// Average prices and the P&L derived from them are shown to the instrument's and the
/// currency's precision, not with 28 digits of division residue.
async fn derived_figures_are_shown_to_a_sensible_precision(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let id = app.funded_account(&ada, "10000").await;
    let buy = |quantity: &'static str, price: &'static str| {
        let (app, ada, id) = (&app, &ada, &id);
        async move {
            let r = app
                .post(
                    &format!("/accounts/{id}/orders"),
                    &ada.token,
                    json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": quantity, "limit_price": price}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
            app.fill_order(ada, r.body["id"].as_str().unwrap(), price)
                .await;
        }
    };
    buy("1", "100").await;
    buy("2", "100.01").await;
    let sell = app
        .post(
            &format!("/accounts/{id}/orders"),
            &ada.token,
            json!({"symbol": "AAPL", "side": "sell", "type": "limit", "quantity": "1", "limit_price": "101"}),
        )
        .await;
    assert_eq!(sell.status, StatusCode::CREATED, "{}", sell.text);
    app.fill_order(&ada, sell.body["id"].as_str().unwrap(), "101")
        .await;
    app.set_price("AAPL", "102").await;
    let positions = app
        .get(&format!("/accounts/{id}/positions"), &ada.token)
        .await;
    let p = &positions.body["positions"][0];
    // 300.02 / 3 = 100.00666…: four places for a 0.01 tick; P&L to the cent.
    assert_eq!(p["average_price"], "100.0067", "{p}");
    assert_eq!(p["realized_pnl"], "0.99", "{p}");
    assert_eq!(p["unrealized_pnl"], "3.99", "{p}");
    assert_eq!(p["market_value"], "204", "{p}");
    let b = app
        .get(&format!("/accounts/{id}/balances"), &ada.token)
        .await;
    for field in ["realized_pnl", "unrealized_pnl", "equity", "day_pnl"] {
        let text = b.body[field].as_str().unwrap();
        let places = text.split_once('.').map_or(0, |(_, f)| f.len());
        assert!(places <= 2, "{field}: {text}");
    }
    assert_eq!(
        b.body["cash"], "9800.98",
        "cash is exact: 10000 - 100 - 200.02 + 101"
    );
}

api_tests!(
    derived_figures_are_shown_to_a_sensible_precision,
    accounts_are_opened_listed_and_read,
    deposits_and_withdrawals_move_cash_exactly_once,
    balances_and_positions_value_holdings_at_the_last_price,
    a_breached_daily_loss_limit_halts_new_orders_for_the_day,
    broker_credentials_are_stored_sealed_and_never_returned,
);

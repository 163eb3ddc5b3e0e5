//! Money checks under concurrency: racing requests over real HTTP connections can never
//! reserve more buying power, offer more shares, or withdraw more cash than the account
//! has. Each race is run several times (an interleaving that slips through once fails).

use axum::http::{Method, StatusCode};
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::api_tests;
use crate::helpers::{Backend, HttpClient, Reply, Session, TestApp};

const TRIALS: usize = 3;
const RACERS: usize = 20;

fn buy_all_cash() -> Value {
    // 10 × 100.00 = 1,000: all of the account's cash.
    json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "10", "limit_price": "100.00"})
}

/// Sends `bodies` to `path` all at once, each on its own connection.
async fn race(http: &HttpClient, token: &str, requests: Vec<(String, Value)>) -> Vec<Reply> {
    join_all(requests.into_iter().map(|(path, body)| {
        let http = http.clone();
        let token = token.to_owned();
        async move { http.post(&path, &token, body).await }
    }))
    .await
}

fn refused_as(reply: &Reply, problem: &str) -> bool {
    reply.status == StatusCode::CONFLICT
        && reply.body["type"]
            .as_str()
            .is_some_and(|t| t.ends_with(problem))
}

async fn balances(app: &TestApp, session: &Session, account: &str) -> (f64, f64) {
    let b = app
        .get(&format!("/accounts/{account}/balances"), &session.token)
        .await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.text);
    let number = |field: &str| b.body[field].as_str().unwrap().parse::<f64>().unwrap();
    (number("cash"), number("reserved"))
}

async fn concurrent_buys_reserve_no_more_than_the_cash(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let http = app.serve().await;
    let ada = app.user("ada@example.com").await;
    for trial in 0..TRIALS {
        let account = app.funded_account(&ada, "1000").await;
        let path = format!("/accounts/{account}/orders");
        let replies = race(
            &http,
            &ada.token,
            (0..RACERS)
                .map(|_| (path.clone(), buy_all_cash()))
                .collect(),
        )
        .await;
        let accepted = replies
            .iter()
            .filter(|r| r.status == StatusCode::CREATED)
            .count();
        eprintln!("trial {trial}: {accepted} of {RACERS} buys of all the cash accepted");
        for r in &replies {
            assert!(
                r.status == StatusCode::CREATED || refused_as(r, "insufficient-buying-power"),
                "{}: {}",
                r.status,
                r.text
            );
        }
        assert_eq!(accepted, 1, "exactly one order fits in the cash");
        let (cash, reserved) = balances(&app, &ada, &account).await;
        assert_eq!((cash, reserved), (1000.0, 1000.0));
    }
}

async fn concurrent_sells_offer_no_more_than_is_held(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let http = app.serve().await;
    let ada = app.user("ada@example.com").await;
    for trial in 0..TRIALS {
        let account = app.funded_account(&ada, "1000").await;
        let bought = app
            .post(
                &format!("/accounts/{account}/orders"),
                &ada.token,
                json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "5", "limit_price": "100"}),
            )
            .await;
        assert_eq!(bought.status, StatusCode::CREATED, "{}", bought.text);
        app.fill_order(&ada, bought.body["id"].as_str().unwrap(), "100")
            .await;
        let path = format!("/accounts/{account}/orders");
        let sell = json!({"symbol": "AAPL", "side": "sell", "type": "limit", "quantity": "5", "limit_price": "120"});
        let replies = race(
            &http,
            &ada.token,
            (0..RACERS).map(|_| (path.clone(), sell.clone())).collect(),
        )
        .await;
        let accepted = replies
            .iter()
            .filter(|r| r.status == StatusCode::CREATED)
            .count();
        eprintln!("trial {trial}: {accepted} of {RACERS} sells of the whole position accepted");
        for r in &replies {
            assert!(
                r.status == StatusCode::CREATED || refused_as(r, "insufficient-position"),
                "{}: {}",
                r.status,
                r.text
            );
        }
        assert_eq!(accepted, 1, "the 5 shares held can be offered once");
    }
}

async fn withdrawals_racing_orders_never_take_reserved_cash(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let http = app.serve().await;
    let ada = app.user("ada@example.com").await;
    for trial in 0..TRIALS {
        let account = app.funded_account(&ada, "1000").await;
        let orders = format!("/accounts/{account}/orders");
        let withdrawals = format!("/accounts/{account}/withdrawals");
        // Interleaved: an order, a withdrawal of everything, an order, …
        let requests = (0..RACERS)
            .map(|i| {
                if i % 2 == 0 {
                    (orders.clone(), buy_all_cash())
                } else {
                    (withdrawals.clone(), json!({"amount": "1000"}))
                }
            })
            .collect();
        let replies = race(&http, &ada.token, requests).await;
        let succeeded = replies
            .iter()
            .filter(|r| r.status == StatusCode::CREATED)
            .count();
        eprintln!(
            "trial {trial}: {succeeded} of {RACERS} orders and withdrawals of all the cash succeeded"
        );
        for r in &replies {
            assert!(
                r.status == StatusCode::CREATED
                    || refused_as(r, "insufficient-buying-power")
                    || refused_as(r, "insufficient-funds"),
                "{}: {}",
                r.status,
                r.text
            );
        }
        assert_eq!(
            succeeded, 1,
            "the cash is spent once: by an order or a withdrawal"
        );
        let (cash, reserved) = balances(&app, &ada, &account).await;
        assert!(reserved <= cash, "reserved {reserved} exceeds cash {cash}");
    }
}

/// An amend that grows an order is held to the same buying power as a new order.
async fn amends_racing_orders_never_reserve_more_than_the_cash(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let http = app.serve().await;
    let ada = app.user("ada@example.com").await;
    let account = app.funded_account(&ada, "1000").await;
    let small = app
        .post(
            &format!("/accounts/{account}/orders"),
            &ada.token,
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "1", "limit_price": "100"}),
        )
        .await;
    assert_eq!(small.status, StatusCode::CREATED, "{}", small.text);
    let order = small.body["id"].as_str().unwrap().to_owned();
    let (amend_path, place_path) = (
        format!("/orders/{order}"),
        format!("/accounts/{account}/orders"),
    );
    let (amend, place) = tokio::join!(
        http.call(
            Method::PATCH,
            &amend_path,
            &ada.token,
            Some(json!({"quantity": "10"}))
        ),
        http.post(
            &place_path,
            &ada.token,
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "9", "limit_price": "100"}),
        )
    );
    let both = amend.status == StatusCode::ACCEPTED && place.status == StatusCode::CREATED;
    assert!(
        !both,
        "amend {} and order {} both took the same cash",
        amend.text, place.text
    );
}

api_tests!(
    concurrent_buys_reserve_no_more_than_the_cash,
    concurrent_sells_offer_no_more_than_is_held,
    withdrawals_racing_orders_never_take_reserved_cash,
    amends_racing_orders_never_reserve_more_than_the_cash,
);

//! The same routers through the Lambda event shapes: API Gateway v2 HTTP events through
//! `lambda_http` (exactly as `lambda_http::run` adapts them), Kinesis records and the
//! EventBridge schedule as the reports function's event binary receives them.

use lambda_http::request::LambdaRequest;
use lambda_http::{Context, LambdaEvent, Service};
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, apigw_event};

/// Runs an API Gateway v2 event through lambda_http's adapter: the response as Lambda
/// would return it to API Gateway.
async fn invoke(app: &TestApp, event: Value) -> Value {
    let request: LambdaRequest = serde_json::from_value(event).unwrap();
    let mut adapter = lambda_http::Adapter::from(app.router.clone());
    let response = adapter
        .call(LambdaEvent::new(request, Context::default()))
        .await
        .unwrap();
    serde_json::to_value(response).unwrap()
}

fn body(response: &Value) -> Value {
    serde_json::from_str(response["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null)
}

#[tokio::test]
async fn api_gateway_v2_events_run_through_lambda_http() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let fixture: Value =
        serde_json::from_str(include_str!("fixtures/apigw-v2-register.json")).unwrap();
    let registered = invoke(&app, fixture).await;
    assert_eq!(registered["statusCode"], 202, "{registered}");
    assert_eq!(body(&registered)["email"], "lambda@example.com");
    assert!(
        registered["headers"]["x-request-id"].is_string(),
        "{registered}"
    );

    let login = invoke(
        &app,
        apigw_event(
            "POST",
            "/auth/login",
            json!({"content-type": "application/json"}),
            Some(&json!({"email": "lambda@example.com", "password": PASSWORD}).to_string()),
        ),
    )
    .await;
    assert_eq!(login["statusCode"], 200, "{login}");
    let token = body(&login)["access_token"].as_str().unwrap().to_owned();
    let me = invoke(
        &app,
        apigw_event(
            "GET",
            "/auth/me",
            json!({"authorization": format!("Bearer {token}")}),
            None,
        ),
    )
    .await;
    assert_eq!(me["statusCode"], 200);
    assert_eq!(body(&me)["email"], "lambda@example.com");
    // Query strings and path parameters arrive as through API Gateway.
    let account = invoke(
        &app,
        apigw_event(
            "POST",
            "/accounts",
            json!({"authorization": format!("Bearer {token}"), "content-type": "application/json"}),
            Some(r#"{"name":"lambda"}"#),
        ),
    )
    .await;
    let id = body(&account)["id"].as_str().unwrap().to_owned();
    let page = invoke(
        &app,
        apigw_event(
            "GET",
            &format!("/accounts/{id}/orders?limit=0"),
            json!({"authorization": format!("Bearer {token}")}),
            None,
        ),
    )
    .await;
    assert_eq!(page["statusCode"], 400);
    assert_eq!(page["headers"]["content-type"], "application/problem+json");
    assert_eq!(body(&page)["errors"][0]["field"], "limit");
    let bad = invoke(
        &app,
        apigw_event(
            "POST",
            "/auth/login",
            json!({"content-type": "application/json"}),
            Some("{oops"),
        ),
    )
    .await;
    assert_eq!(bad["statusCode"], 400);
}

#[tokio::test]
async fn the_login_rate_limit_is_per_api_gateway_source_ip() {
    let app = TestApp::spawn_with(Backend::Embedded, |s| s.login_rate_per_minute = 2).await;
    let login = |ip: &'static str| {
        let mut event = apigw_event(
            "POST",
            "/auth/login",
            json!({"content-type": "application/json"}),
            Some(r#"{"email":"x@example.com","password":"whatever-at-all"}"#),
        );
        event["requestContext"]["http"]["sourceIp"] = json!(ip);
        event
    };
    for _ in 0..2 {
        assert_eq!(invoke(&app, login("192.0.2.1")).await["statusCode"], 401);
    }
    assert_eq!(invoke(&app, login("192.0.2.1")).await["statusCode"], 429);
    assert_eq!(
        invoke(&app, login("192.0.2.2")).await["statusCode"],
        401,
        "another client is not limited by the first"
    );
}

#[tokio::test]
async fn kinesis_and_schedule_events_deserialize_and_are_handled() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let ada = app.user("ada@example.com").await;
    let id = app.funded_account(&ada, "500").await;
    let buy = app
        .post(
            &format!("/accounts/{id}/orders"),
            &ada.token,
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "2", "limit_price": "100"}),
        )
        .await;
    let fill = app
        .fill_order(&ada, buy.body["id"].as_str().unwrap(), "100")
        .await;
    let event = crate::reports::kinesis_event(&[fill, b"\x00garbage".to_vec()]);
    // Through JSON, as the runtime delivers it.
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["Records"][0]["eventSource"], "aws:kinesis");
    let event: aws_lambda_events::event::kinesis::KinesisEvent =
        serde_json::from_value(json).unwrap();
    let (response, outcome) = reports_fn::executions::handle(&app.state, &event).await;
    assert_eq!(outcome.applied, 1);
    assert_eq!(outcome.malformed, 1);
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({"batchItemFailures": []})
    );

    let schedule: aws_lambda_events::event::eventbridge::EventBridgeEvent<Value> =
        serde_json::from_str(include_str!("fixtures/eventbridge-daily.json")).unwrap();
    let at = domain::Timestamp::from_datetime(schedule.time.unwrap()).unwrap();
    let outcome = app::reports::daily::run(&app.state, at).await.unwrap();
    assert_eq!(outcome.day.to_string(), "2026-12-01");
    assert_eq!(outcome.accounts, 1);
    let rows = app
        .state
        .reports
        .reports(
            domain::AccountId::parse(&id).unwrap(),
            outcome.day,
            outcome.day,
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].body["cash"], "300");
}

#[tokio::test]
async fn a_strategy_module_uploads_as_an_api_gateway_base64_body() {
    use base64::Engine as _;
    let app = TestApp::spawn(Backend::Embedded).await;
    let ada = app.user("ada@example.com").await;
    // API Gateway hands a binary body over base64-encoded; lambda_http decodes it.
    let upload = |bytes: &[u8]| {
        let mut event = apigw_event(
            "POST",
            "/strategy-modules",
            json!({"authorization": format!("Bearer {}", ada.token), "content-type": "application/wasm"}),
            Some(&base64::engine::general_purpose::STANDARD.encode(bytes)),
        );
        event["isBase64Encoded"] = json!(true);
        event
    };
    let bytes = crate::modules::buy_once();
    let stored = invoke(&app, upload(&bytes)).await;
    assert_eq!(stored["statusCode"], 201, "{stored}");
    let id = body(&stored)["id"].as_str().unwrap().to_owned();
    assert_eq!(body(&stored)["size"], bytes.len());
    let read = app.state.modules.bytes(&id).await.unwrap();
    assert!(read.bytes == bytes, "stored byte for byte");
    let refused = invoke(&app, upload(b"\0asm but not really")).await;
    assert_eq!(refused["statusCode"], 422, "{refused}");
    assert_eq!(body(&refused)["errors"][0]["field"], "body");
}

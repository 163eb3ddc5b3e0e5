//! The auth function: registration, login, refresh rotation, logout, lockout, rate
//! limits, API keys, roles.

use axum::http::StatusCode;
use serde_json::json;

use crate::api_tests;
use crate::helpers::{Backend, PASSWORD, TestApp};

async fn a_user_registers_logs_in_refreshes_and_logs_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app
        .post_public(
            "/auth/register",
            json!({"email": "Ada@Example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.body["email"], "ada@example.com");
    assert_eq!(r.body["status"], "accepted");
    assert!(!r.text.contains("argon2"), "the hash is never shown");

    let login = app
        .post_public(
            "/auth/login",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    assert_eq!(login.body["token_type"], "Bearer");
    assert_eq!(login.body["expires_in"], 900);
    let token = login.body["access_token"].as_str().unwrap();
    let me = app.get("/auth/me", token).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], "ada@example.com");
    assert_eq!(me.body["authenticated_by"], "access_token");
    assert_eq!(me.body["role"], "trader");

    // Rotation: the refresh token is spent by use and a new one is issued.
    let first = login.body["refresh_token"].as_str().unwrap().to_owned();
    let r = app
        .post_public("/auth/refresh", json!({"refresh_token": first}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let second = r.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert_eq!(
        app.get("/auth/me", r.body["access_token"].as_str().unwrap())
            .await
            .status,
        StatusCode::OK
    );
    // Reusing the spent token revokes the whole family: the live one stops working too.
    let reuse = app
        .post_public("/auth/refresh", json!({"refresh_token": first}))
        .await;
    assert_eq!(reuse.status, StatusCode::UNAUTHORIZED);
    assert!(reuse.text.contains("already used"), "{}", reuse.text);
    let after = app
        .post_public("/auth/refresh", json!({"refresh_token": second}))
        .await;
    assert_eq!(
        after.status,
        StatusCode::UNAUTHORIZED,
        "the family is revoked"
    );

    // Logout revokes a login's tokens.
    let login = app
        .post_public(
            "/auth/login",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    let refresh = login.body["refresh_token"].as_str().unwrap().to_owned();
    let out = app
        .post_public("/auth/logout", json!({"refresh_token": refresh}))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let r = app
        .post_public("/auth/refresh", json!({"refresh_token": refresh}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let unknown = app
        .post_public("/auth/logout", json!({"refresh_token": "nonsense"}))
        .await;
    assert_eq!(
        unknown.status,
        StatusCode::NO_CONTENT,
        "logout reveals nothing"
    );
}

/// Registering an email that has an account answers exactly as registering a new one and
/// changes nothing: registration does not reveal who has an account.
async fn registration_does_not_reveal_which_emails_are_taken(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app
        .post_public(
            "/auth/register",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    for email in ["ada@example.com", "ADA@Example.COM", "  Ada@example.com "] {
        let again = app
            .post_public(
                "/auth/register",
                json!({"email": email, "password": "another long passphrase"}),
            )
            .await;
        assert_eq!(again.status, first.status, "{email}: {}", again.text);
        assert_eq!(again.body, first.body, "{email}");
        assert_eq!(
            again.headers.get("content-type"),
            first.headers.get("content-type")
        );
    }
    let fresh = app
        .post_public(
            "/auth/register",
            json!({"email": "grace@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(fresh.status, first.status);
    let keys: Vec<&String> = fresh.body.as_object().unwrap().keys().collect();
    let first_keys: Vec<&String> = first.body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys, first_keys,
        "the same shape for a new and a taken email"
    );
    // The first password still works; the second never took effect.
    assert_eq!(
        attempt_on(&app, "ada@example.com", PASSWORD).await,
        StatusCode::OK
    );
    assert_eq!(
        attempt_on(&app, "ada@example.com", "another long passphrase").await,
        StatusCode::UNAUTHORIZED
    );
}

async fn attempt_on(app: &TestApp, email: &str, password: &str) -> StatusCode {
    app.post_public("/auth/login", json!({"email": email, "password": password}))
        .await
        .status
}

async fn registrations_are_rate_limited_per_client_ip(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.register_rate_per_minute = 3).await;
    for n in 0..3 {
        let r = app
            .post_public(
                "/auth/register",
                json!({"email": format!("user{n}@example.com"), "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    }
    let r = app
        .post_public(
            "/auth/register",
            json!({"email": "user9@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(
        attempt_on(&app, "user9@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "the refused registration created nothing"
    );
    app.advance(21);
    let r = app
        .post_public(
            "/auth/register",
            json!({"email": "user9@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
}

/// Logging out ends the login's access tokens too, not only its refresh token; other
/// logins of the same user go on.
async fn logout_ends_the_access_tokens_of_that_login(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.user("ada@example.com").await;
    let second = app.login("ada@example.com").await;
    assert_eq!(
        app.get("/accounts", &first.token).await.status,
        StatusCode::OK
    );
    let out = app
        .post_public("/auth/logout", json!({"refresh_token": first.refresh}))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let r = app.get("/accounts", &first.token).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert!(r.text.contains("session has ended"), "{}", r.text);
    assert_eq!(
        app.get("/accounts", &second.token).await.status,
        StatusCode::OK
    );
}

/// A role change applies to the tokens already issued: the role is read from the user's
/// record, not trusted from the token.
async fn a_role_change_applies_to_tokens_already_issued(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("admin@example.com").await;
    let ada = app.user("ada@example.com").await;
    let promote = |role: &'static str| json!({"role": role});
    let path = format!("/auth/users/{}/role", admin.user_id);
    let r = app.put(&path, &ada.token, promote("admin")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a trader");
    let r = app
        .put(
            &format!("/auth/users/{}/role", ada.user_id),
            &admin.token,
            promote("admin"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let me = app.get("/auth/me", &ada.token).await;
    assert_eq!(me.body["role"], "admin", "the same token, the new role");
    let r = app
        .put(
            &format!("/auth/users/{}/role", ada.user_id),
            &admin.token,
            promote("trader"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.put(&path, &ada.token, promote("admin")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "demoted again, at once");
}

async fn registration_names_every_bad_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cases = [
        (
            json!({"email": "not-an-email", "password": PASSWORD}),
            422,
            "email",
        ),
        (
            json!({"email": "a@b.co", "password": "short"}),
            422,
            "password",
        ),
        (
            json!({"email": "a@b.co", "password": "x".repeat(129)}),
            422,
            "password",
        ),
        (json!({"password": PASSWORD}), 422, "email"),
        (
            json!({"email": "a@b.co", "password": PASSWORD, "role": "admin"}),
            422,
            "role",
        ),
        (json!({"email": 5, "password": PASSWORD}), 422, "email"),
    ];
    for (body, status, field) in cases {
        let r = app.post_public("/auth/register", body.clone()).await;
        assert_eq!(r.status.as_u16(), status, "{body}: {}", r.text);
        assert_eq!(r.body["errors"][0]["field"], field, "{body}: {}", r.text);
        assert_eq!(r.headers["content-type"], "application/problem+json");
    }
    let r = app
        .send(
            axum::http::Request::post("/auth/register")
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{\"email\": "))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["type"], "/problems/malformed-request");
    let r = app
        .send(
            axum::http::Request::post("/auth/register")
                .header("content-type", "text/plain")
                .body(axum::body::Body::from("hello"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Nothing was registered by any of them.
    let r = app
        .post_public(
            "/auth/login",
            json!({"email": "a@b.co", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn failed_logins_lock_the_email_without_revealing_whether_it_exists(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("ada@example.com").await;
    let attempt = |email: &'static str, password: &'static str| {
        let app = &app;
        async move {
            app.post_public("/auth/login", json!({"email": email, "password": password}))
                .await
        }
    };
    // Wrong password and unknown email answer alike.
    let wrong = attempt("ada@example.com", "wrong password!!").await;
    let unknown = attempt("nobody@example.com", "wrong password!!").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body, unknown.body);
    for _ in 0..3 {
        attempt("ada@example.com", "wrong password!!").await;
        attempt("nobody@example.com", "wrong password!!").await;
    }
    // The fifth failure locks the email, registered or not, with the same message.
    let fifth = attempt("ada@example.com", "wrong password!!").await;
    let fifth_unknown = attempt("nobody@example.com", "wrong password!!").await;
    assert_eq!(fifth.status, StatusCode::UNAUTHORIZED);
    assert!(
        fifth.text.contains("too many failed logins"),
        "{}",
        fifth.text
    );
    assert_eq!(fifth.body, fifth_unknown.body);
    assert!(fifth.headers.contains_key("retry-after"));
    // Locked: even the right password is refused until the lock runs out.
    let locked = attempt("ada@example.com", PASSWORD).await;
    assert_eq!(locked.status, StatusCode::UNAUTHORIZED);
    app.advance(14 * 60);
    assert_eq!(
        attempt("ada@example.com", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    app.advance(61);
    let ok = attempt("ada@example.com", PASSWORD).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
}

async fn logins_are_rate_limited_per_client_ip(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.login_rate_per_minute = 3).await;
    app.post_public(
        "/auth/register",
        json!({"email": "ada@example.com", "password": PASSWORD}),
    )
    .await;
    for _ in 0..3 {
        let r = app
            .post_public(
                "/auth/login",
                json!({"email": "ada@example.com", "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let r = app
        .post_public(
            "/auth/login",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.contains_key("retry-after"));
    // The bucket refills: one login per 20 s at 3 a minute.
    app.advance(21);
    let r = app
        .post_public(
            "/auth/login",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

async fn access_tokens_expire_after_fifteen_minutes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    app.advance(14 * 60);
    assert_eq!(app.get("/auth/me", &ada.token).await.status, StatusCode::OK);
    app.advance(60 + 10);
    let r = app.get("/auth/me", &ada.token).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.headers.contains_key("www-authenticate"));
    // The refresh token outlives it and gets a fresh one.
    let r = app
        .post_public("/auth/refresh", json!({"refresh_token": ada.refresh}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let fresh = r.body["access_token"].as_str().unwrap();
    assert_eq!(app.get("/auth/me", fresh).await.status, StatusCode::OK);
}

async fn api_keys_are_shown_once_work_instead_of_a_token_and_can_be_revoked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let r = app
        .post("/auth/api-keys", &ada.token, json!({"name": "grid bot"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let key = r.body["key"].as_str().unwrap().to_owned();
    let key_id = r.body["key_id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("stk_"));
    assert!(key.starts_with(r.body["prefix"].as_str().unwrap()));

    let list = app.get("/auth/api-keys", &ada.token).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["api_keys"][0]["name"], "grid bot");
    assert!(!list.text.contains(&key), "the key is shown once only");

    // Usable three ways instead of an access token.
    for header in [
        ("x-api-key", key.clone()),
        ("authorization", format!("ApiKey {key}")),
        ("authorization", format!("Bearer {key}")),
    ] {
        let r = app
            .send(
                axum::http::Request::get("/auth/me")
                    .header(header.0, header.1.clone())
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}: {}", header.0, r.text);
        assert_eq!(r.body["authenticated_by"], "api_key");
    }
    // A key cannot mint keys.
    let r = app
        .send(
            axum::http::Request::post("/auth/api-keys")
                .header("x-api-key", &key)
                .header("content-type", "application/json")
                .body(axum::body::Body::from(r#"{"name":"child"}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let r = app
        .delete(&format!("/auth/api-keys/{key_id}"), &ada.token)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app
        .send(
            axum::http::Request::get("/auth/me")
                .header("x-api-key", &key)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "revoked");
    let list = app.get("/auth/api-keys", &ada.token).await;
    assert_eq!(list.body["api_keys"][0]["revoked"], true);
    let r = app.delete("/auth/api-keys/nope", &ada.token).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .post("/auth/api-keys", &ada.token, json!({"name": ""}))
        .await;
    assert_eq!(r.body["errors"][0]["field"], "name");
}

async fn admins_change_roles_and_traders_cannot(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("admin@example.com").await;
    let ada = app.user("ada@example.com").await;
    let me = app.get("/auth/me", &admin.token).await;
    assert_eq!(me.body["role"], "admin");
    let path = format!("/auth/users/{}/role", ada.user_id);
    let r = app.put(&path, &ada.token, json!({"role": "admin"})).await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "a trader cannot promote themselves"
    );
    let r = app.put(&path, &admin.token, json!({"role": "admin"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["role"], "admin");
    let r = app
        .put(&path, &admin.token, json!({"role": "emperor"}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["errors"][0]["field"], "role");
    let r = app
        .put(
            &format!("/auth/users/{}/role", admin.user_id),
            &admin.token,
            json!({"role": "trader"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = app
        .put(
            "/auth/users/00000000-0000-4000-8000-000000000000/role",
            &admin.token,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

api_tests!(
    logout_ends_the_access_tokens_of_that_login,
    a_role_change_applies_to_tokens_already_issued,
    registration_does_not_reveal_which_emails_are_taken,
    registrations_are_rate_limited_per_client_ip,
    a_user_registers_logs_in_refreshes_and_logs_out,
    registration_names_every_bad_field,
    failed_logins_lock_the_email_without_revealing_whether_it_exists,
    logins_are_rate_limited_per_client_ip,
    access_tokens_expire_after_fifteen_minutes,
    api_keys_are_shown_once_work_instead_of_a_token_and_can_be_revoked,
    admins_change_roles_and_traders_cannot,
);

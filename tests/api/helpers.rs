//! `TestApp`: the app under test and the requests tests make of it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

#[cfg(feature = "cloud-tests")]
use app::settings::Backend as StoreBackend;
use app::settings::{Secret, Settings};
use app::{AppState, Clock};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use domain::Timestamp;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const JWT_SECRET: &str = "test-secret-of-at-least-thirty-two-bytes!";
pub const PASSWORD: &str = "correct horse battery staple";

/// Which adapters a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    #[cfg(feature = "cloud-tests")]
    Cloud,
}

/// Expands test functions `async fn name(backend: Backend)` into a test per backend.
#[macro_export]
macro_rules! api_tests {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Embedded).await;
                }
            )*
        }
        #[cfg(feature = "cloud-tests")]
        mod cloud {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Cloud).await;
                }
            )*
        }
    };
}

/// A response, with the body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

/// The app under test.
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    /// Nanoseconds; move it with [`TestApp::advance`].
    pub now: Arc<AtomicI64>,
    _dir: Option<TempDir>,
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

pub fn test_settings() -> Settings {
    Settings {
        jwt_secret: Some(Secret::new(JWT_SECRET)),
        // Tests log in often from one "IP"; the rate-limit test lowers this.
        login_rate_per_minute: 10_000,
        register_rate_per_minute: 10_000,
        admin_emails: vec!["admin@example.com".into()],
        ..Settings::default()
    }
}

/// All the functions' routes, as `stratus up` mounts them.
pub fn all_routes() -> api::Routes {
    auth_fn::routes()
        .merge(account_fn::routes())
        .merge(orders_fn::routes())
        .merge(reports_fn::routes())
        .merge(market_fn::routes())
        .merge(research_fn::routes())
        .merge(admin_fn::routes())
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = test_settings();
        configure(&mut settings);
        // A fixed, recent start (the system's now, whole seconds) that tests move.
        let start = Clock::system().unix_seconds() * 1_000_000_000;
        let now = Arc::new(AtomicI64::new(start));
        let clock = Clock::manual(now.clone());
        let (ports, dir) = match backend {
            Backend::Embedded => {
                let dir = std::env::temp_dir().join(unique("stratus-api-"));
                let ports = store::connect::embedded(&dir, &clock).await.unwrap();
                (ports, Some(TempDir(dir)))
            }
            #[cfg(feature = "cloud-tests")]
            Backend::Cloud => {
                settings.backend = StoreBackend::Cloud;
                let admin = std::env::var("DATABASE_URL")
                    .expect("cloud-tests need DATABASE_URL (scripts/test sets it)");
                assert!(
                    std::env::var_os("AWS_ENDPOINT_URL").is_some(),
                    "cloud-tests need AWS_ENDPOINT_URL (scripts/test starts an emulator)"
                );
                let url =
                    store::postgres::PgStore::create_database(&admin, &unique("stratus_api_"))
                        .await
                        .unwrap();
                settings.database_url = Some(Secret::new(url.clone()));
                settings.prefix = unique("stratus-api-").replace('_', "-");
                let ports = store::connect::cloud(&url, &settings.prefix, &clock, true)
                    .await
                    .unwrap();
                (ports, None)
            }
        };
        // The built-in instruments unless a test names a file (`settings.instruments`).
        let catalog = settings.catalog().unwrap();
        let state = AppState::new(settings, ports, catalog, clock).unwrap();
        let router = all_routes().into_router(state.clone());
        TestApp {
            router,
            state,
            now,
            _dir: dir,
        }
    }

    /// Serves the app on a loopback port over real TCP (as `stratus up` does), for tests
    /// that race requests through real connections: the client for it.
    pub async fn serve(&self) -> HttpClient {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let service = self
            .router
            .clone()
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, service).await;
        });
        HttpClient {
            base: format!("http://{addr}"),
            client: hyper_util::client::legacy::Client::builder(
                hyper_util::rt::TokioExecutor::new(),
            )
            .build_http(),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, seconds: i64) {
        self.now
            .fetch_add(seconds * 1_000_000_000, Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set_time(&self, at: &str) {
        self.now
            .store(Timestamp::parse(at).unwrap().nanos(), Ordering::SeqCst);
    }

    pub fn now(&self) -> Timestamp {
        Timestamp::from_nanos(self.now.load(Ordering::SeqCst))
    }

    /// Sends a request; `headers` are added as given.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(b) => builder
                .header("content-type", "application/json")
                .body(Body::from(b.to_string()))
                .unwrap(),
            None => builder.body(Body::empty()).unwrap(),
        };
        self.send(request).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Posts `bytes` as they are, with `content_type` if given.
    pub async fn post_bytes(
        &self,
        path: &str,
        token: &str,
        content_type: Option<&str>,
        bytes: Vec<u8>,
    ) -> Reply {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("authorization", format!("Bearer {token}"));
        if let Some(content_type) = content_type {
            builder = builder.header("content-type", content_type);
        }
        self.send(builder.body(Body::from(bytes)).unwrap()).await
    }

    pub async fn post_public(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, None, Some(body)).await
    }

    /// Registers `email` and logs in: the session.
    pub async fn user(&self, email: &str) -> Session {
        let r = self
            .post_public(
                "/auth/register",
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "register: {}", r.text);
        self.login(email).await
    }

    /// Logs `email` in (with the test password): a fresh session.
    pub async fn login(&self, email: &str) -> Session {
        let r = self
            .post_public("/auth/login", json!({"email": email, "password": PASSWORD}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "login: {}", r.text);
        let me = self
            .get("/auth/me", r.body["access_token"].as_str().unwrap())
            .await;
        Session {
            user_id: me.body["id"].as_str().unwrap().to_owned(),
            token: r.body["access_token"].as_str().unwrap().to_owned(),
            refresh: r.body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// Opens an account for `session` and deposits `cash` (if not zero): its id.
    pub async fn funded_account(&self, session: &Session, cash: &str) -> String {
        let r = self
            .post("/accounts", &session.token, json!({"name": "main"}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "account: {}", r.text);
        let id = r.body["id"].as_str().unwrap().to_owned();
        if cash != "0" {
            let r = self
                .post(
                    &format!("/accounts/{id}/deposits"),
                    &session.token,
                    json!({"amount": cash}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "deposit: {}", r.text);
        }
        id
    }

    /// Every event on stream `name`, as envelopes (shard by shard).
    pub async fn stream_events(&self, name: &str) -> Vec<domain::events::EventEnvelope> {
        use store::stream::StartAt;
        let mut out = Vec::new();
        for shard in self.state.streams.shards(name).await.unwrap() {
            let mut from = StartAt::TrimHorizon;
            loop {
                let batch = self
                    .state
                    .streams
                    .read(name, &shard.id, &from, 1000)
                    .await
                    .unwrap();
                let empty = batch.records.is_empty();
                for r in &batch.records {
                    out.push(domain::events::EventEnvelope::from_slice(&r.data).unwrap());
                }
                match batch.next {
                    Some(next) if !empty => from = next,
                    _ => break,
                }
            }
        }
        out
    }

    /// The commands published for `order_id`, by type.
    pub async fn commands_for(&self, order_id: &str) -> Vec<String> {
        self.stream_events("commands")
            .await
            .into_iter()
            .filter(|e| e.payload["id"] == order_id || e.payload["order_id"] == order_id)
            .map(|e| e.event_type)
            .collect()
    }

    /// The last trade price the core would have recorded.
    pub async fn set_price(&self, symbol: &str, price: &str) {
        self.state
            .prices
            .record(
                domain::Symbol::parse(symbol).unwrap(),
                store::market_prices::LastPrice {
                    price: price.parse().unwrap(),
                    time: self.now(),
                },
            )
            .await
            .unwrap();
    }

    /// Plays the streaming core for one order: fills it completely at `price` and commits
    /// what the core commits (order, fill, position, ledger) — the `executions` event too,
    /// returned as its envelope bytes.
    pub async fn fill_order(&self, owner: &Session, order_id: &str, price: &str) -> Vec<u8> {
        use domain::LedgerEntry;
        use domain::{Fill, Liquidity, Money, OrderId, Position, Price, TradeId};
        use store::records::CommitBatch;
        let mut order = self
            .state
            .orders
            .order(
                domain::UserId::parse(&owner.user_id).unwrap(),
                OrderId::parse(order_id).unwrap(),
            )
            .await
            .unwrap()
            .expect("the owner's order");
        let now = self.now();
        let price: Price = price.parse().unwrap();
        let quantity = order.remaining_quantity();
        if order.status() == domain::OrderStatus::New {
            order.accept(now).unwrap();
        }
        order.fill(quantity, price, now).unwrap();
        static TRADE: AtomicUsize = AtomicUsize::new(1);
        let fill = Fill {
            trade_id: TradeId(TRADE.fetch_add(1, Ordering::SeqCst) as u64),
            order_id: order.id,
            account_id: order.account_id,
            symbol: order.symbol,
            side: order.side,
            price,
            quantity,
            fee: Money::ZERO,
            liquidity: Liquidity::Taker,
            time: now,
        };
        let mut position = self
            .state
            .orders
            .positions(order.account_id)
            .await
            .unwrap()
            .into_iter()
            .find(|p| p.symbol == order.symbol)
            .unwrap_or_else(|| Position::flat(order.symbol));
        position.apply(&fill).unwrap();
        let notional = price.checked_notional(quantity).unwrap();
        let amount = match order.side {
            domain::Side::Buy => notional.checked_neg(),
            domain::Side::Sell => notional,
        };
        let event_id = domain::EventId::derived(&format!("fill:{}:{}", order.id, fill.trade_id.0));
        let envelope = domain::events::Event::OrderFilled(fill.clone()).to_envelope(event_id, now);
        self.state
            .commits
            .commit(&CommitBatch {
                orders: vec![order.clone()],
                fills: vec![fill.clone()],
                positions: vec![(order.account_id, position)],
                ledger: vec![LedgerEntry {
                    id: event_id,
                    account_id: order.account_id,
                    kind: domain::LedgerKind::Trade,
                    amount,
                    reference: format!("order {}", order.id),
                    time: now,
                }],
                ..CommitBatch::default()
            })
            .await
            .unwrap();
        envelope.to_vec()
    }
}

/// A logged-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub token: String,
    pub refresh: String,
}

/// An API Gateway v2 event for `method path` (what Lambda hands the function).
pub fn apigw_event(method: &str, path: &str, headers: Value, body: Option<&str>) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path.split('?').next().unwrap(),
        "rawQueryString": path.split_once('?').map(|(_, q)| q).unwrap_or(""),
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {
                "method": method,
                "path": path.split('?').next().unwrap(),
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "stratus-tests"
            },
            "requestId": "req-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Dec/2026:12:00:00 +0000",
            "timeEpoch": 1796126400000i64
        },
        "body": body,
        "isBase64Encoded": false
    })
}

/// A keep-alive HTTP/1.1 client for an app served by [`TestApp::serve`].
#[derive(Clone)]
pub struct HttpClient {
    base: String,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<axum::body::Bytes>,
    >,
}

impl HttpClient {
    /// Sends `method path` with a bearer token and a JSON body over a real connection.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Reply {
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {token}"));
        if !payload.is_empty() {
            builder = builder.header("content-type", "application/json");
        }
        let request = builder
            .body(http_body_util::Full::new(axum::body::Bytes::from(payload)))
            .unwrap();
        let response = self.client.request(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }
}

impl TestApp {
    /// Plays the market: ticks of `symbol` at `prices`, one a second from now on, on the
    /// `ticks` stream.
    pub async fn publish_ticks(&self, symbol: &str, prices: &[String]) {
        use store::stream::OutgoingRecord;
        let start = self.now();
        let records: Vec<OutgoingRecord> = prices
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let tick = domain::Tick {
                    symbol: domain::Symbol::parse(symbol).unwrap(),
                    time: Timestamp::from_nanos(start.nanos() + i as i64 * 1_000_000_000),
                    price: p.parse().unwrap(),
                    size: domain::Quantity::new(1.into()).unwrap(),
                    bid: None,
                    ask: None,
                };
                let env = domain::events::Event::TickReceived(tick)
                    .to_envelope(domain::EventId::random(), tick.time);
                OutgoingRecord::new(symbol, env.to_vec())
            })
            .collect();
        for chunk in records.chunks(500) {
            self.state
                .streams
                .publish(store::connect::streams::TICKS, chunk.to_vec())
                .await
                .unwrap();
        }
    }

    /// Runs the streaming core (the real one, over this app's stores) until it has read
    /// everything; returns its health.
    pub async fn run_core(&self) -> std::sync::Arc<core_service::CoreHealth> {
        let health = std::sync::Arc::new(core_service::CoreHealth::default());
        let mut core = core_service::Core::new(
            self.state.clone(),
            core_service::hub::Hub::default(),
            health.clone(),
            core_service::runner::CoreConfig::default(),
        );
        for _ in 0..500 {
            if !core.step().await.unwrap() {
                return health;
            }
        }
        panic!("the core never went idle");
    }
}

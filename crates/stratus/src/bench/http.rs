//! `stratus bench http`: order placement through the HTTP API of a running Stratus.
//!
//! Setup (untimed, on one connection): register a fresh user with a random email, log
//! in, open an account and deposit enough cash. Then `--concurrency` keep-alive
//! connections place `--warmup` limit buy orders (not counted) and then `--orders` more,
//! each connection sending its next order as soon as the previous answer is read. A `201
//! Created` is a success; anything else (another status, a connection error, a timeout)
//! is an error, and the first few are described on stderr. Latency is per request, from
//! writing it to reading the last byte of its answer, over the successful ones; the rate
//! is successful orders per second of the measured phase.
//!
//! A `201` means the order and its command are committed, not that the streaming core
//! has taken it. So the bench then asks the API for the account's orders still `new`
//! (not yet accepted by the core) until there are none, and reports how long after the
//! last answer that took (`core_drain_ms`): a core that keeps up with placement drains in
//! one batch; one that falls behind shows its backlog there.
//!
//! The HTTP client is hyper's connection API (`client`): one keep-alive HTTP/1.1
//! connection per worker, one request at a time.

pub(super) mod client;
#[cfg(test)]
mod tests;

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::Args;

use self::client::{BaseUrl, Conn, Error as ClientError, Response};
use super::percentile;

#[derive(Debug, Args)]
pub struct HttpArgs {
    /// Base URL of the Stratus HTTP API.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Number of timed orders.
    #[arg(long, default_value_t = 20_000)]
    orders: usize,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Orders placed first and not counted.
    #[arg(long, default_value_t = 1_000)]
    warmup: usize,
    /// Threads of the load generator (1 leaves the other cores to the server).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Seconds to wait for one answer before counting it as an error.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
}

/// What one run is asked to do.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub url: String,
    pub orders: usize,
    pub concurrency: usize,
    pub warmup: usize,
    pub timeout: Duration,
}

/// The outcome of one run.
#[derive(Debug, Clone)]
pub struct HttpReport {
    pub orders: usize,
    pub concurrency: usize,
    /// Orders answered `201 Created` in the measured phase.
    pub placed: usize,
    pub errors: usize,
    pub warmup_errors: usize,
    pub elapsed: Duration,
    /// Latencies of the successful measured orders, in nanoseconds, sorted.
    pub latencies_ns: Vec<u64>,
    /// The first few errors, described.
    pub first_errors: Vec<String>,
    /// Connections opened again after the server closed one.
    pub reconnects: usize,
    pub account_id: String,
    /// From the last answer until no order of the account was left `new`.
    pub core_drain: Duration,
}

impl HttpReport {
    pub fn orders_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.placed as f64 / secs
        } else {
            0.0
        }
    }

    fn ms(&self, p: f64) -> f64 {
        round3(percentile(&self.latencies_ns, p) / 1e6)
    }

    /// The one line `stratus bench http` prints.
    pub fn json_line(&self) -> serde_json::Value {
        serde_json::json!({
            "bench": "http",
            "orders": self.orders,
            "concurrency": self.concurrency,
            "orders_per_sec": (self.orders_per_sec() * 10.0).round() / 10.0,
            "p50_ms": self.ms(50.0),
            "p99_ms": self.ms(99.0),
            "p999_ms": self.ms(99.9),
            "errors": self.errors,
            "core_drain_ms": round3(self.core_drain.as_secs_f64() * 1e3),
        })
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// How many error descriptions to keep.
const FIRST_ERRORS: usize = 5;

pub fn run(args: HttpArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.orders > 0, "--orders must be at least 1");
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    anyhow::ensure!(args.threads > 0, "--threads must be at least 1");
    anyhow::ensure!(args.timeout_secs > 0, "--timeout-secs must be at least 1");
    let config = HttpConfig {
        url: args.url,
        orders: args.orders,
        concurrency: args.concurrency,
        warmup: args.warmup,
        timeout: Duration::from_secs(args.timeout_secs),
    };
    let runtime = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    let report = runtime.block_on(bench(&config))?;
    let lat = &report.latencies_ns;
    eprintln!(
        "http: {} orders placed in {:.2}s on {} connections against {} (account {}); \
         {} errors, {} warm-up errors, {} reconnects; p90 {:.3} ms, max {:.3} ms; \
         the core had accepted them all {:.1} ms after the last answer",
        report.placed,
        report.elapsed.as_secs_f64(),
        report.concurrency,
        config.url,
        report.account_id,
        report.errors,
        report.warmup_errors,
        report.reconnects,
        percentile(lat, 90.0) / 1e6,
        lat.last().copied().unwrap_or(0) as f64 / 1e6,
        report.core_drain.as_secs_f64() * 1e3,
    );
    for e in &report.first_errors {
        eprintln!("http: error: {e}");
    }
    println!("{}", report.json_line());
    Ok(())
}

/// A random 64-bit number from the standard library's hasher keys, which are random per
/// process (no RNG crate needed).
pub(super) fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.finish()
}

/// The session the orders are placed in.
#[derive(Debug)]
struct Session {
    token: String,
    account_id: String,
}

/// Sends one setup request and insists on a 2xx answer with a JSON body.
pub(super) async fn setup_call(
    conn: &mut Conn,
    url: &BaseUrl,
    step: &str,
    path: &str,
    token: Option<&str>,
    body: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![
        ("content-type", "application/json"),
        ("accept", "application/json"),
    ];
    if let Some(b) = &bearer {
        headers.push(("authorization", b));
    }
    let body = serde_json::to_vec(&body)?;
    let target = url.target(path);
    let response = conn
        .request("POST", &target, &headers, &body)
        .await
        .with_context(|| format!("{step}: POST {target}"))?;
    if !(200..300).contains(&response.status) {
        bail!(
            "{step}: POST {target} answered {}: {}",
            response.status,
            response.body_snippet()
        );
    }
    response.json().with_context(|| {
        format!(
            "{step}: POST {target}: the answer is not JSON (content-type {:?})",
            response.header("content-type").unwrap_or("none")
        )
    })
}

async fn set_up(url: &BaseUrl, timeout: Duration) -> anyhow::Result<Session> {
    let mut conn = Conn::connect(url, timeout)
        .await
        .with_context(|| format!("cannot connect to {url}"))?;
    let tag = format!("{:016x}", random_u64());
    let email = format!("bench-{tag}@bench.example.com");
    let password = format!("bench-password-{tag}");
    let credentials = serde_json::json!({ "email": email, "password": password });
    setup_call(
        &mut conn,
        url,
        "register",
        "/auth/register",
        None,
        credentials.clone(),
    )
    .await?;
    let login = setup_call(&mut conn, url, "login", "/auth/login", None, credentials).await?;
    let token = login["access_token"]
        .as_str()
        .ok_or_else(|| anyhow!("login: no access_token in the answer"))?
        .to_owned();
    let account = setup_call(
        &mut conn,
        url,
        "open account",
        "/accounts",
        Some(&token),
        serde_json::json!({ "name": "bench" }),
    )
    .await?;
    let account_id = match &account["id"] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => bail!("open account: no id in the answer"),
    };
    setup_call(
        &mut conn,
        url,
        "deposit",
        &format!("/accounts/{account_id}/deposits"),
        Some(&token),
        serde_json::json!({ "amount": "1000000000" }),
    )
    .await?;
    Ok(Session { token, account_id })
}

/// What every worker of a phase shares.
#[derive(Debug)]
struct Phase {
    url: BaseUrl,
    target: String,
    authorization: String,
    run_tag: String,
    /// The next order number to place (global across phases: `client_order_id`s stay unique).
    next: AtomicUsize,
    end: usize,
    timeout: Duration,
}

/// One worker's results for a phase.
#[derive(Debug, Default)]
struct WorkerResult {
    placed: usize,
    errors: usize,
    latencies_ns: Vec<u64>,
    first_errors: Vec<String>,
    reconnects: usize,
}

impl WorkerResult {
    fn error(&mut self, order: usize, what: String) {
        self.errors += 1;
        if self.first_errors.len() < FIRST_ERRORS {
            self.first_errors.push(format!("order {order}: {what}"));
        }
    }
}

/// One order: reconnecting first if needed, and once more if a reused connection turns
/// out to have been closed by the server (the order is idempotent by `client_order_id`).
async fn place(
    phase: &Phase,
    conn: &mut Option<Conn>,
    body: &[u8],
    result: &mut WorkerResult,
) -> Result<Response, String> {
    let headers = [
        ("content-type", "application/json"),
        ("authorization", phase.authorization.as_str()),
    ];
    for attempt in 0..2 {
        let mut c = match conn.take() {
            Some(c) if c.is_reusable() => c,
            _ => {
                result.reconnects += 1;
                Conn::connect(&phase.url, phase.timeout)
                    .await
                    .map_err(|e| format!("cannot connect: {e}"))?
            }
        };
        let reused = c.served() > 0;
        match c.request("POST", &phase.target, &headers, body).await {
            Ok(response) => {
                *conn = Some(c);
                return Ok(response);
            }
            Err(e) if reused && attempt == 0 && closed_by_peer(&e) => continue,
            Err(e) => return Err(e.to_string()),
        }
    }
    Err(ClientError::Closed.to_string())
}

/// Whether an error is what sending on a keep-alive connection the server has meanwhile
/// closed looks like.
fn closed_by_peer(e: &ClientError) -> bool {
    use std::io::ErrorKind;
    match e {
        ClientError::Closed => true,
        ClientError::Io(io) => matches!(
            io.kind(),
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
        ),
        _ => false,
    }
}

async fn worker(phase: Arc<Phase>, mut conn: Option<Conn>) -> (Option<Conn>, WorkerResult) {
    let mut result = WorkerResult::default();
    let mut body = Vec::with_capacity(256);
    loop {
        let i = phase.next.fetch_add(1, Ordering::Relaxed);
        if i >= phase.end {
            break;
        }
        body.clear();
        body.extend_from_slice(
            format!(
                r#"{{"symbol":"AAPL","side":"buy","type":"limit","quantity":"1","limit_price":"1.00","client_order_id":"b-{}-{i}"}}"#,
                phase.run_tag
            )
            .as_bytes(),
        );
        match place(&phase, &mut conn, &body, &mut result).await {
            Ok(response) if response.status == 201 => {
                result.placed += 1;
                result
                    .latencies_ns
                    .push(u64::try_from(response.elapsed.as_nanos()).unwrap_or(u64::MAX));
            }
            Ok(response) => result.error(
                i,
                format!("{} {}", response.status, response.body_snippet()),
            ),
            Err(e) => result.error(i, e),
        }
    }
    (conn, result)
}

/// Places orders `from..to` on the connections; returns them (for the next phase), the
/// merged results and the phase's wall time.
async fn run_phase(
    template: &Phase,
    from: usize,
    to: usize,
    conns: Vec<Option<Conn>>,
) -> anyhow::Result<(Vec<Option<Conn>>, WorkerResult, Duration)> {
    let phase = Arc::new(Phase {
        url: template.url.clone(),
        target: template.target.clone(),
        authorization: template.authorization.clone(),
        run_tag: template.run_tag.clone(),
        next: AtomicUsize::new(from),
        end: to,
        timeout: template.timeout,
    });
    let started = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|conn| tokio::spawn(worker(Arc::clone(&phase), conn)))
        .collect();
    let mut conns = Vec::with_capacity(tasks.len());
    let mut merged = WorkerResult::default();
    for task in tasks {
        let (conn, r) = task.await.context("a load worker failed")?;
        conns.push(conn);
        merged.placed += r.placed;
        merged.errors += r.errors;
        merged.reconnects += r.reconnects;
        merged.latencies_ns.extend(r.latencies_ns);
        for e in r.first_errors {
            if merged.first_errors.len() < FIRST_ERRORS {
                merged.first_errors.push(e);
            }
        }
    }
    Ok((conns, merged, started.elapsed()))
}

/// The whole run: setup, warm-up, measured phase.
pub async fn bench(config: &HttpConfig) -> anyhow::Result<HttpReport> {
    anyhow::ensure!(config.concurrency > 0, "concurrency must be at least 1");
    let url = BaseUrl::parse(&config.url).map_err(|e| anyhow!(e))?;
    let session = set_up(&url, config.timeout).await?;

    let mut conns = Vec::with_capacity(config.concurrency);
    for _ in 0..config.concurrency {
        let conn = Conn::connect(&url, config.timeout)
            .await
            .with_context(|| format!("cannot connect to {url}"))?;
        conns.push(Some(conn));
    }
    let template = Phase {
        target: url.target(&format!("/accounts/{}/orders", session.account_id)),
        url,
        authorization: format!("Bearer {}", session.token),
        run_tag: format!("{:012x}", random_u64() & 0xffff_ffff_ffff),
        next: AtomicUsize::new(0),
        end: 0,
        timeout: config.timeout,
    };

    let (conns, warm, _) = run_phase(&template, 0, config.warmup, conns).await?;
    for e in &warm.first_errors {
        eprintln!("http: warm-up error: {e}");
    }
    let total = config.warmup + config.orders;
    let (_conns, measured, elapsed) = run_phase(&template, config.warmup, total, conns).await?;
    let core_drain = wait_for_core(&template, &session.account_id).await?;

    let mut latencies_ns = measured.latencies_ns;
    latencies_ns.sort_unstable();
    Ok(HttpReport {
        orders: config.orders,
        concurrency: config.concurrency,
        placed: measured.placed,
        errors: measured.errors,
        warmup_errors: warm.errors,
        elapsed,
        latencies_ns,
        first_errors: measured.first_errors,
        reconnects: warm.reconnects + measured.reconnects,
        account_id: session.account_id,
        core_drain,
    })
}

/// How long until the core has accepted every order placed (see the module docs).
async fn wait_for_core(phase: &Phase, account_id: &str) -> anyhow::Result<Duration> {
    /// Past this, the core is taken to have stopped, not to lag.
    const PATIENCE: Duration = Duration::from_secs(120);
    let started = Instant::now();
    let mut conn: Option<Conn> = None;
    let target = phase
        .url
        .target(&format!("/accounts/{account_id}/orders?status=new&limit=1"));
    let headers = [
        ("accept", "application/json"),
        ("authorization", phase.authorization.as_str()),
    ];
    loop {
        let mut c = match conn.take() {
            Some(c) if c.is_reusable() => c,
            _ => Conn::connect(&phase.url, phase.timeout)
                .await
                .with_context(|| format!("cannot connect to {}", phase.url))?,
        };
        let response = c
            .request("GET", &target, &headers, &[])
            .await
            .with_context(|| format!("waiting for the core: GET {target}"))?;
        conn = Some(c);
        if response.status != 200 {
            bail!(
                "waiting for the core: GET {target} answered {}: {}",
                response.status,
                response.body_snippet()
            );
        }
        let page = response
            .json()
            .with_context(|| format!("waiting for the core: GET {target}: not JSON"))?;
        let waiting = page["orders"]
            .as_array()
            .ok_or_else(|| anyhow!("waiting for the core: GET {target}: no orders array"))?;
        if waiting.is_empty() {
            return Ok(started.elapsed());
        }
        if started.elapsed() > PATIENCE {
            bail!(
                "orders were still waiting for the core {}s after the last answer",
                PATIENCE.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

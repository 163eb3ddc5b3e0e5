//! `stratus up` killed with SIGKILL in the middle of a replay and started again: no
//! acknowledged order is lost, no fill is applied twice, and positions and cash end
//! exactly as in a run that was never interrupted.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{TempDir, account, call, eventually, user};

/// A running `stratus up` and the address it listens on.
struct Up {
    child: Child,
    addr: String,
}

fn up(data: &std::path::Path, extra: &[&str]) -> Up {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(["up", "--data-dir"])
        .arg(data)
        .args(["--bind", &addr])
        .args(extra)
        .env("STRATUS_LOGIN_RATE_PER_MINUTE", "1000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Up { child, addr }
}

impl Up {
    async fn ready(&self) {
        let addr = self.addr.clone();
        eventually(60, "stratus up to listen", || {
            let addr = addr.clone();
            async move {
                tokio::net::TcpStream::connect(&addr).await.ok()?;
                Some(())
            }
        })
        .await;
    }

    async fn health(&self) -> Value {
        call(&self.addr, "GET", "/health", None, None).await.body
    }

    /// Graceful stop (SIGINT: the core commits its batch).
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    /// SIGKILL: no chance to commit anything.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// 10,000 one-minute bars of a wave (40,000 ticks), prices on the cent grid.
fn bars(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("bars.csv");
    let mut text = String::from("time,open,high,low,close,volume\n");
    let start = 1_700_000_000i64;
    for i in 0..10_000i64 {
        let mid = 100.0 + 8.0 * ((i as f64) / 37.0).sin();
        let (o, c) = (mid, mid + 0.3 * ((i as f64) / 5.0).cos());
        let (h, l) = (o.max(c) + 0.2, o.min(c) - 0.2);
        let t = domain::Timestamp::from_secs(start + i * 60);
        text.push_str(&format!("{t},{o:.2},{h:.2},{l:.2},{c:.2},400\n"));
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// Registers a trader, funds an account, deploys sma_cross and rests two orders — in a
/// platform without a feed, stopped cleanly after. The account id.
async fn set_up(data: &std::path::Path) -> (String, String) {
    let p = up(data, &["--no-feed"]);
    p.ready().await;
    let token = user(&p.addr, "ada@example.com").await;
    let acct = account(&p.addr, &token, "1000000").await;
    let r = call(&p.addr, "POST", &format!("/accounts/{acct}/strategies"), Some(&token), Some(json!({
        "strategy": "sma_cross", "symbols": ["AAPL"], "timeframes": ["5m"], "params": {"period": 6, "size": 3}
    }))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    for (n, price) in [(1, "95.50"), (2, "93.25")] {
        let r = call(&p.addr, "POST", &format!("/accounts/{acct}/orders"), Some(&token), Some(json!({
            "symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "4", "limit_price": price, "client_order_id": format!("rest-{n}")
        }))).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    // Let the core accept the orders and deploy the strategy before stopping.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    p.stop();
    (token, acct)
}

/// Waits until the replay is published and processed: the feed finished and nothing new
/// was read for a while.
async fn settle(p: &Up) {
    let mut last = u64::MAX;
    let mut still = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replay was never processed"
        );
        let h = p.health().await;
        let inputs = h["inputs"].as_u64().unwrap_or(0);
        if h["feed_finished"] == true && inputs == last {
            still += 1;
            if still >= 6 {
                return;
            }
        } else {
            still = 0;
        }
        last = inputs;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// What the account ends with: cash, positions and every fill, as text.
async fn outcome(p: &Up, acct: &str) -> (String, String, Vec<String>, usize) {
    let token = call(
        &p.addr,
        "POST",
        "/auth/login",
        None,
        Some(json!({"email": "ada@example.com", "password": crate::support::PASSWORD})),
    )
    .await;
    let token = token.body["access_token"].as_str().unwrap().to_owned();
    let b = call(
        &p.addr,
        "GET",
        &format!("/accounts/{acct}/balances"),
        Some(&token),
        None,
    )
    .await;
    let pos = call(
        &p.addr,
        "GET",
        &format!("/accounts/{acct}/positions"),
        Some(&token),
        None,
    )
    .await;
    let fills = call(
        &p.addr,
        "GET",
        &format!("/accounts/{acct}/fills?limit=1000"),
        Some(&token),
        None,
    )
    .await;
    let mut fills: Vec<String> = fills.body["fills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {} {} {} {}",
                f["time"], f["side"], f["quantity"], f["price"], f["trade_id"]
            )
        })
        .collect();
    fills.sort();
    let ledger = call(
        &p.addr,
        "GET",
        &format!("/accounts/{acct}/ledger?limit=1000"),
        Some(&token),
        None,
    )
    .await;
    let trades = ledger.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "trade")
        .count();
    let positions: Vec<String> = pos.body["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{} {} {} {}",
                p["symbol"], p["quantity"], p["average_price"], p["realized_pnl"]
            )
        })
        .collect();
    (
        b.body["cash"].to_string(),
        positions.join(";"),
        fills,
        trades,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_platform_restarts_without_losing_or_repeating_anything() {
    let work = TempDir::new("recovery");
    let file = bars(work.path());
    let replay = [
        "--replay",
        file.to_str().unwrap(),
        "--symbol",
        "AAPL",
        "--speed",
        "0",
    ];

    // The uninterrupted run.
    let a = work.path().join("a");
    let (_, acct_a) = set_up(&a).await;
    let run = up(&a, &replay);
    run.ready().await;
    settle(&run).await;
    let expected = outcome(&run, &acct_a).await;
    run.stop();
    assert!(
        expected.2.len() >= 10,
        "the strategy traded: {:?}",
        expected.2
    );
    assert_eq!(expected.3, expected.2.len(), "one ledger entry per fill");

    // The same, killed mid-stream, then started again with the same command.
    let b = work.path().join("b");
    // The token stays valid across restarts: the JWT secret is kept in the data dir.
    let (token_b, acct_b) = set_up(&b).await;
    let run = up(&b, &replay);
    run.ready().await;
    // Orders acknowledged while the replay runs (on their own account, far from the
    // market, so they change nothing the comparison looks at).
    let side = account(&run.addr, &token_b, "100").await;
    let mut acknowledged = Vec::new();
    for n in 0..5 {
        let r = call(&run.addr, "POST", &format!("/accounts/{side}/orders"), Some(&token_b), Some(json!({
            "symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "1", "limit_price": "1.00", "client_order_id": format!("ack-{n}")
        }))).await;
        assert_eq!(r.status, 201, "{}", r.text);
        acknowledged.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let killed_at = eventually(120, "the replay to be part-way", || {
        let h = run.health();
        async move {
            let inputs = h.await["inputs"].as_u64()?;
            (inputs > 4_000).then_some(inputs)
        }
    })
    .await;
    run.kill();
    assert!(
        killed_at < 40_000,
        "killed mid-stream ({killed_at} inputs processed)"
    );
    eprintln!(
        "killed after {killed_at} inputs; the uninterrupted run had {} fills",
        expected.2.len()
    );

    let run = up(&b, &replay);
    run.ready().await;
    settle(&run).await;
    let got = outcome(&run, &acct_b).await;
    // Every acknowledged order survived and reached the core.
    for id in &acknowledged {
        let r = call(
            &run.addr,
            "GET",
            &format!("/orders/{id}"),
            Some(&token_b),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "acknowledged order {id} lost: {}", r.text);
        assert_eq!(r.body["status"], "accepted", "{}", r.text);
    }
    let health = run.health().await;
    run.stop();
    assert_eq!(
        got.3,
        got.2.len(),
        "one ledger entry per fill: no fill applied twice"
    );
    assert_eq!(
        got, expected,
        "the restarted run ends as the uninterrupted one"
    );
    assert!(
        health["repeated_ticks"].as_u64().unwrap() > 0,
        "the restarted feed's repeats were dropped: {health}"
    );
}

//! The portal in a real browser: headless Chromium driven over WebDriver (chromedriver)
//! against a real `stratus up` process, as a trader and an operator use it.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`scripts/test` installs them). Without
//! them these tests say so and pass, unless `STRATUS_BROWSER_TESTS=require` (what
//! `scripts/test` sets): then a missing browser fails them.
//!
//! Screenshots and the measured figures go to `target/browser/` (`report.json`: first
//! load, time to interactive, the 5,000-order table and the frame times under a 20/s feed
//! on four symbols).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

#[path = "../platform/support.rs"]
#[allow(dead_code)]
mod support;
#[path = "../../crates/engine/tests/support/wasm_examples.rs"]
mod wasm_examples;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use support::{PASSWORD, TempDir, call, eventually};

/// WebDriver's codes of the Tab and Enter keys.
const TAB: &str = "\u{e004}";
const ENTER: &str = "\u{e007}";
/// Control+A (then every modifier released), and Backspace.
const SELECT_ALL: &str = "\u{e009}a\u{e000}";
const BACKSPACE: &str = "\u{e003}";

/// One browser test at a time: each starts a platform and a browser on a 2-core machine.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn chromium() -> Option<(PathBuf, PathBuf)> {
    let browser = std::env::var_os("STRATUS_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let driver = std::env::var_os("STRATUS_CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
    if browser.exists() && driver.exists() {
        return Some((browser, driver));
    }
    let required = std::env::var("STRATUS_BROWSER_TESTS").is_ok_and(|v| v == "require");
    assert!(
        !required,
        "STRATUS_BROWSER_TESTS=require but {} or {} is missing (apt install chromium chromium-driver)",
        browser.display(),
        driver.display()
    );
    // Straight to stderr: the test harness captures `eprintln!` of a passing test, and
    // a skip must be seen.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "browser tests SKIPPED: no Chromium/ChromeDriver at {} and {} (apt install chromium chromium-driver, or run scripts/test)",
        browser.display(),
        driver.display()
    );
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A child process killed on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `stratus up` on a free port over a fresh data directory, with the sample history of
/// an index imported as `SPX` (for backtests).
struct Platform {
    addr: String,
    _process: Process,
    _dir: TempDir,
}

async fn platform(extra: &[&str]) -> Platform {
    platform_with(extra, &[]).await
}

/// `platform` with more environment variables for the process.
async fn platform_with(extra: &[&str], env: &[(&str, &str)]) -> Platform {
    let dir = TempDir::new("browser");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/2006-min-005.txt");
    let import = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(["data", "import"])
        .arg(&sample)
        .args(["--symbol", "SPX", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let addr = format!("127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(["up", "--data-dir"])
        .arg(dir.path())
        .args(["--bind", &addr])
        .args(extra)
        .env("STRATUS_LOGIN_RATE_PER_MINUTE", "1000")
        .env("STRATUS_REGISTER_RATE_PER_MINUTE", "1000")
        .env("STRATUS_ADMIN_EMAILS", "ops@example.com")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let process = Process(child);
    let probe = addr.clone();
    eventually(60, "stratus up to listen", || {
        let addr = probe.clone();
        async move {
            tokio::net::TcpStream::connect(&addr).await.ok()?;
            Some(())
        }
    })
    .await;
    Platform {
        addr,
        _process: process,
        _dir: dir,
    }
}

/// Headless Chromium under chromedriver, at `width`×`height`.
struct Browser {
    client: Client,
    _driver: Process,
    _profile: TempDir,
}

async fn browser(paths: &(PathBuf, PathBuf), width: u32, height: u32) -> Browser {
    let (chromium, chromedriver) = paths;
    let port = free_port();
    let driver = Process(
        Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let profile = TempDir::new("chromium-profile");
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            // The machine's network is closed: no background fetches, no first-run.
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic",
                format!("--window-size={width},{height}"),
                format!("--user-data-dir={}", profile.path().display()),
            ],
        },
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&url)
            .await
        {
            Ok(c) => break c,
            Err(e) => {
                assert!(Instant::now() < deadline, "chromedriver: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    Browser {
        client,
        _driver: driver,
        _profile: profile,
    }
}

impl Browser {
    async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Waits until `expression` (JavaScript) is truthy; its value.
    async fn until(&self, what: &str, secs: u64, expression: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let script = format!("return ({expression});");
        loop {
            let v = self.client.execute(&script, vec![]).await.unwrap();
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                let text = self.js("return document.body.innerText").await;
                self.screenshot(&format!("failed-{}", what.replace(' ', "-")))
                    .await;
                panic!("timed out waiting for {what} ({expression}); the page says:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the page to contain `text`.
    async fn sees(&self, text: &str, secs: u64) {
        let quoted = serde_json::to_string(text).unwrap();
        self.until(
            &format!("the text {text:?}"),
            secs,
            &format!("document.body.innerText.includes({quoted})"),
        )
        .await;
    }

    /// The element at `css`, once it is in the page (10 s at most).
    async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    async fn fill(&self, css: &str, value: &str) {
        // Select what is there and type over it, as a person does (WebDriver's `clear`
        // fires no input event, so the page would put its value back). A field the page
        // re-rendered between finding and typing is found again.
        let mut tries = 0;
        let field = loop {
            let field = self.element(css).await;
            let typed = async {
                field.send_keys(SELECT_ALL).await?;
                field.send_keys(BACKSPACE).await?;
                field.send_keys(value).await
            };
            match typed.await {
                Ok(()) => break field,
                Err(fantoccini::error::CmdError::Standard(e))
                    if e.error == fantoccini::error::ErrorStatus::StaleElementReference
                        && tries < 3 =>
                {
                    tries += 1;
                }
                Err(e) => panic!("{css}: typing {value:?}: {e}"),
            }
        };
        let now = self
            .client
            .execute(
                "return arguments[0].value;",
                vec![serde_json::to_value(&field).unwrap()],
            )
            .await
            .unwrap();
        assert_eq!(now, json!(value), "{css}: typed {value:?}");
    }

    /// Puts the file at `path` into the file input at `css`, as choosing it does.
    async fn attach(&self, css: &str, path: &std::path::Path) {
        let field = self.element(css).await;
        field.send_keys(&path.display().to_string()).await.unwrap();
    }

    async fn choose(&self, css: &str, value: &str) {
        let field = self.element(css).await;
        field.select_by_value(value).await.unwrap();
    }

    async fn click(&self, css: &str) {
        let element = self.element(css).await;
        self.click_element(element).await;
    }

    /// Clicks `element` once it is scrolled to the middle of the window (the page's
    /// sticky header covers the top, where WebDriver would otherwise leave it).
    async fn click_element(&self, element: fantoccini::elements::Element) {
        let reference = serde_json::to_value(&element).unwrap();
        self.client
            .execute(
                "arguments[0].scrollIntoView({block: 'center', inline: 'nearest'});",
                vec![reference],
            )
            .await
            .unwrap();
        element.click().await.unwrap();
    }

    /// Clicks the button whose text is `text`.
    async fn button(&self, text: &str) {
        let xpath = format!("//button[normalize-space()={}]", xpath_literal(text));
        let element = self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("button {text:?}: {e}"));
        self.click_element(element).await;
    }

    /// Presses `key` (a WebDriver key code) in the focused element.
    async fn press(&self, key: &str) {
        self.client
            .active_element()
            .await
            .unwrap()
            .send_keys(key)
            .await
            .unwrap();
    }

    async fn go(&self, base: &str, hash: &str) {
        self.client
            .goto(&format!("http://{base}/{hash}"))
            .await
            .unwrap();
    }

    async fn screenshot(&self, name: &str) {
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(out_dir().join(format!("{name}.png")), png);
        }
    }

    /// Every control on the page has a name a screen reader can say; the ones without.
    async fn unlabelled(&self) -> Value {
        self.js(
            r#"return [...document.querySelectorAll('input, select, button, a[href], [tabindex]')]
                .filter((el) => !el.closest('.chart-box'))
                .filter((el) => {
                  const named = (el.labels && el.labels.length > 0) || el.getAttribute('aria-label')
                    || el.getAttribute('aria-labelledby') || (el.textContent || '').trim() || el.getAttribute('title');
                  return !named;
                })
                .map((el) => el.outerHTML.slice(0, 120));"#,
        )
        .await
    }

    async fn assert_labelled(&self, page: &str) {
        let missing = self.unlabelled().await;
        assert_eq!(missing, json!([]), "{page}: controls without a label");
    }

    /// The page fits the window: nothing scrolls sideways but inside a table or chart.
    async fn assert_fits(&self, page: &str) {
        let overflow = self
            .js("return document.documentElement.scrollWidth - window.innerWidth")
            .await;
        assert!(
            overflow.as_i64().unwrap_or(0) <= 1,
            "{page}: the page is {overflow} px wider than the window"
        );
    }
}

fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else {
        format!("\"{text}\"")
    }
}

/// The last trade price of `symbol`, once the feed has traded it.
async fn last_price(addr: &str, token: &str, symbol: &str) -> f64 {
    eventually(30, "a first trade", || async {
        let r = call(
            addr,
            "GET",
            &format!("/instruments/{symbol}"),
            Some(token),
            None,
        )
        .await;
        r.body["last_price"].as_str()?.parse::<f64>().ok()
    })
    .await
}

/// `GET path` with an API key: the JSON answer.
async fn with_api_key(addr: &str, path: &str, key: &str) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nX-Api-Key: {key}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or_else(|_| panic!("{text}"))
}

/// Signs up through the portal's own form.
async fn sign_up(b: &Browser, addr: &str, email: &str) {
    b.go(addr, "").await;
    b.until(
        "the sign-in page",
        10,
        "location.hash.startsWith('#/signin')",
    )
    .await;
    b.click("a[href='#/signup']").await;
    // The sign-in page has the same fields: type once the sign-up page is there.
    b.until(
        "the sign-up page",
        10,
        "location.hash.startsWith('#/signup') && [...document.querySelectorAll('button')].some((e) => e.innerText.trim() === 'Sign up')",
    )
    .await;
    b.fill("input[name=email]", email).await;
    b.fill("input[name=password]", PASSWORD).await;
    b.button("Sign up").await;
    b.sees("Open a paper account", 10).await;
}

#[tokio::test]
async fn a_trader_signs_up_trades_deploys_backtests_and_signs_out() {
    let Some(paths) = chromium() else { return };
    let _serial = SERIAL.lock().await;
    let p = platform(&["--ticks-per-second", "20"]).await;
    let b = browser(&paths, 1280, 900).await;
    let addr = p.addr.as_str();

    // A bad sign-up is refused next to the field, and nothing is created.
    b.go(addr, "#/signup").await;
    b.fill("input[name=email]", "trader@example.com").await;
    b.fill("input[name=password]", "short").await;
    b.button("Sign up").await;
    b.sees("at least 12 characters", 5).await;
    assert_eq!(
        b.js("return localStorage.getItem('stratus.session')").await,
        Value::Null
    );

    sign_up(&b, addr, "trader@example.com").await;
    b.assert_labelled("accounts").await;

    // The access token is refreshed before it expires: say it expires in a minute, reload.
    b.js("const s = JSON.parse(localStorage.getItem('stratus.session')); s.expires_at = Date.now() + 61000; localStorage.setItem('stratus.session', JSON.stringify(s)); location.reload();")
        .await;
    b.until(
        "the token refreshed ahead of its expiry",
        15,
        "JSON.parse(localStorage.getItem('stratus.session')).expires_at - Date.now() > 120000",
    )
    .await;
    b.sees("Open a paper account", 10).await;
    b.fill("input[name=name]", "Swing").await;
    b.button("Open account").await;
    b.until(
        "the account page",
        10,
        "location.hash.startsWith('#/accounts/')",
    )
    .await;
    let account_id = b
        .js("return location.hash.split('/')[2]")
        .await
        .as_str()
        .unwrap()
        .to_owned();

    // An amount the API refuses: its message under the field.
    b.fill(
        "form[aria-label='Deposit or withdraw'] input[name=amount]",
        "-5",
    )
    .await;
    b.button("Deposit").await;
    b.until(
        "the amount's error",
        10,
        "document.querySelector(\"form[aria-label='Deposit or withdraw'] .field.invalid small.error\")",
    )
    .await;
    b.fill(
        "form[aria-label='Deposit or withdraw'] input[name=amount]",
        "100000",
    )
    .await;
    b.button("Deposit").await;
    b.until(
        "the deposit in the equity",
        10,
        "document.querySelector('[data-testid=equity]').innerText === '100,000.00'",
    )
    .await;
    b.until(
        "the chart",
        20,
        "Number(document.querySelector('[data-testid=candle-chart]')?.dataset.candles) > 0",
    )
    .await;
    b.assert_labelled("trade").await;

    // The ticket checks the tick before sending.
    let token = b
        .js("return JSON.parse(localStorage.getItem('stratus.session')).access_token")
        .await
        .as_str()
        .unwrap()
        .to_owned();
    let last = last_price(addr, &token, "AAPL").await;
    b.choose(
        "form[aria-label='Order ticket'] select[name=symbol]",
        "AAPL",
    )
    .await;
    b.fill("form[aria-label='Order ticket'] input[name=quantity]", "10")
        .await;
    b.fill(
        "form[aria-label='Order ticket'] input[name=limit_price]",
        "100.001",
    )
    .await;
    // By keyboard alone: Tab to the ticket's button, Enter.
    for _ in 0..2 {
        b.press(TAB).await;
    }
    assert_eq!(
        b.js("return document.activeElement.innerText").await,
        json!("Buy AAPL"),
        "Tab from the price reaches the ticket's button"
    );
    b.press(ENTER).await;
    b.sees("on the tick: a multiple of 0.01", 5).await;
    assert_eq!(
        b.js("return document.querySelector('[data-testid=working-count]').innerText")
            .await,
        json!("0")
    );

    // A limit buy well under the market rests: it is in the working orders.
    let resting = format!("{:.2}", (last * 0.9 * 100.0).floor() / 100.0);
    b.fill(
        "form[aria-label='Order ticket'] input[name=limit_price]",
        &resting,
    )
    .await;
    b.button("Buy AAPL").await;
    b.until(
        "the order among the working orders",
        10,
        "document.querySelector('[data-testid=working-count]').innerText === '1' && document.querySelector('.vtable').innerText.includes('accepted')",
    )
    .await;
    b.screenshot("trade-working-order").await;

    // Amended above the market, it fills on the feed; the fill and the position arrive
    // over the WebSocket, without a reload.
    b.js("window.__sameDocument = true").await;
    b.click("button[aria-label^='Amend buy AAPL']").await;
    let marketable = format!("{:.2}", (last * 1.1 * 100.0).ceil() / 100.0);
    b.fill(
        "form[aria-label^='Amend order'] input[name=limit_price]",
        &marketable,
    )
    .await;
    b.button("Amend").await;
    b.until(
        "the fill",
        30,
        "document.querySelector('table[aria-label=Fills], [aria-label=Fills] table')?.innerText.includes('AAPL') && document.querySelector('[data-testid=working-count]').innerText === '0'",
    )
    .await;
    b.until(
        "the position",
        10,
        "document.querySelector('[aria-label=Positions]').innerText.includes('AAPL')",
    )
    .await;
    b.until(
        "the fill marked on the chart",
        10,
        "Number(document.querySelector('[data-testid=candle-chart]').dataset.markers) > 0",
    )
    .await;
    assert_eq!(
        b.js("return window.__sameDocument === true").await,
        json!(true),
        "the page was reloaded"
    );
    b.screenshot("trade-filled").await;

    // The chart switches timeframe.
    b.button("5m").await;
    b.sees("AAPL · 5m", 10).await;

    // Another resting order, cancelled from the table.
    b.fill("form[aria-label='Order ticket'] input[name=quantity]", "3")
        .await;
    b.fill(
        "form[aria-label='Order ticket'] input[name=limit_price]",
        &resting,
    )
    .await;
    b.button("Buy AAPL").await;
    b.until(
        "the second order working",
        10,
        "document.querySelector('[data-testid=working-count]').innerText === '1'",
    )
    .await;
    b.click("button[aria-label='Cancel buy AAPL 3']").await;
    b.until(
        "the order cancelled",
        10,
        "document.querySelector('[data-testid=working-count]').innerText === '0'",
    )
    .await;

    // A risk limit refuses an order over it, and says why.
    b.go(addr, &format!("#/accounts/{account_id}/risk")).await;
    b.fill("input[name=max_order_notional]", "500").await;
    b.button("Save limits").await;
    b.until(
        "the limit saved",
        10,
        "document.querySelector('input[name=max_order_notional]').value === '500'",
    )
    .await;
    b.assert_labelled("risk limits").await;
    b.go(addr, &format!("#/accounts/{account_id}/trade")).await;
    b.choose(
        "form[aria-label='Order ticket'] select[name=symbol]",
        "AAPL",
    )
    .await;
    b.fill("form[aria-label='Order ticket'] input[name=quantity]", "10")
        .await;
    b.fill(
        "form[aria-label='Order ticket'] input[name=limit_price]",
        &resting,
    )
    .await;
    b.button("Buy AAPL").await;
    b.sees("exceeds the account's limit of 500", 10).await;

    // An API key, shown once.
    b.go(addr, "#/keys").await;
    b.fill("input[name=name]", "my bot").await;
    b.button("Create key").await;
    let key = b
        .until(
            "the new key",
            10,
            "document.querySelector('[data-testid=new-api-key]')?.innerText",
        )
        .await;
    let me = with_api_key(addr, "/auth/me", key.as_str().unwrap()).await;
    assert_eq!(me["email"], "trader@example.com");
    b.assert_labelled("api keys").await;

    // Deploy a strategy from the catalog's form, pause and resume it.
    b.go(addr, &format!("#/accounts/{account_id}/strategies"))
        .await;
    b.choose(
        "form[aria-label='Deploy a strategy'] select[name=strategy]",
        "sma_cross",
    )
    .await;
    b.fill(
        "form[aria-label='Deploy a strategy'] input[name='params.period']",
        "0",
    )
    .await;
    b.button("Deploy sma_cross").await;
    // Below the schema's minimum: the API's message, under the field it names.
    b.until(
        "the period's error",
        10,
        "document.querySelector(\"form[aria-label='Deploy a strategy'] .field.invalid input[name='params.period']\")",
    )
    .await;
    b.fill(
        "form[aria-label='Deploy a strategy'] input[name='params.period']",
        "5",
    )
    .await;
    b.button("Deploy sma_cross").await;
    b.until(
        "the running deployment",
        10,
        "document.querySelector('[data-testid=deployment-status]')?.innerText === 'running'",
    )
    .await;
    b.until(
        "the deployment's P&L",
        10,
        "document.querySelector('[aria-label=Deployments] tbody tr td:nth-child(6)')?.innerText.trim() === '0.00'",
    )
    .await;
    b.click("button[aria-label='Pause sma_cross']").await;
    b.until(
        "the paused deployment",
        10,
        "document.querySelector('[data-testid=deployment-status]')?.innerText === 'paused'",
    )
    .await;
    b.click("button[aria-label='Resume sma_cross']").await;
    b.until(
        "the resumed deployment",
        10,
        "document.querySelector('[data-testid=deployment-status]')?.innerText === 'running'",
    )
    .await;
    // A strategy of one's own: upload the example module, see it listed and in the
    // catalog under the name it declares, deploy it with its form.
    if let Some(bytes) = wasm_examples::example("sma_cross") {
        let dir = std::env::temp_dir().join(format!("stratus-browser-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let module = dir.join("sma_cross.wasm");
        std::fs::write(&module, bytes).unwrap();
        b.attach(
            "form[aria-label='Upload a strategy module'] input[type=file]",
            &module,
        )
        .await;
        b.button("Upload").await;
        b.until(
            "the uploaded module",
            10,
            "[...document.querySelectorAll('[aria-label=\"Strategy modules\"] tbody tr')].some((r) => r.innerText.includes('SMA cross (module)'))",
        )
        .await;
        let option = b
            .until(
                "the module in the catalog",
                10,
                "[...document.querySelectorAll(\"form[aria-label='Deploy a strategy'] select[name=strategy] option\")].find((o) => o.innerText.includes('SMA cross (module)'))?.value",
            )
            .await;
        b.choose(
            "form[aria-label='Deploy a strategy'] select[name=strategy]",
            option.as_str().unwrap(),
        )
        .await;
        b.fill(
            "form[aria-label='Deploy a strategy'] input[name='params.period']",
            "7",
        )
        .await;
        b.button("Deploy SMA cross (module)").await;
        b.until(
            "the module's deployment",
            10,
            "[...document.querySelectorAll('[aria-label=Deployments] tbody tr')].some((r) => r.innerText.includes('wasm:') && r.innerText.includes('running'))",
        )
        .await;
        let _ = std::fs::remove_dir_all(&dir);
    }
    b.assert_labelled("strategies").await;
    b.screenshot("strategies").await;

    // Performance: the report's page draws.
    b.go(addr, &format!("#/accounts/{account_id}/performance"))
        .await;
    b.sees("Equity and drawdown", 10).await;
    b.assert_labelled("performance").await;

    // A backtest of the imported index: progress, then its chart with the trades on it.
    b.go(addr, "#/research/backtests").await;
    b.choose(
        "form[aria-label='New backtest'] select[name=strategy]",
        "sma_cross",
    )
    .await;
    b.fill("form[aria-label='New backtest'] input[name=symbols]", "SPX")
        .await;
    b.choose(
        "form[aria-label='New backtest'] select[name=timeframe]",
        "5m",
    )
    .await;
    b.button("Run backtest").await;
    b.until(
        "the job page",
        10,
        "/^#\\/research\\/backtests\\/[0-9a-f-]{36}$/.test(location.hash)",
    )
    .await;
    b.sees("succeeded", 60).await;
    b.until(
        "the backtest chart with its trades",
        20,
        "Number(document.querySelector('[data-testid=candle-chart]')?.dataset.candles) > 100 && Number(document.querySelector('[data-testid=candle-chart]').dataset.markers) > 0",
    )
    .await;
    b.assert_labelled("backtest").await;
    b.screenshot("backtest").await;

    // An optimisation's sweep table sorts by a metric.
    b.go(addr, "#/research/optimizations").await;
    b.choose(
        "form[aria-label='New optimisation'] select[name=strategy]",
        "sma_cross",
    )
    .await;
    b.fill(
        "form[aria-label='New optimisation'] input[name=symbol]",
        "SPX",
    )
    .await;
    b.choose(
        "form[aria-label='New optimisation'] select[name=timeframe]",
        "5m",
    )
    .await;
    b.fill(
        "form[aria-label='New optimisation'] input[name='grid.period']",
        "5, 10, 20, 40",
    )
    .await;
    b.button("Run optimisation").await;
    b.sees("Sweep", 60).await;
    b.click("[aria-label=Sweep] th:nth-child(5) button").await;
    b.until(
        "the sweep sorted by a metric",
        5,
        "document.querySelector('[aria-label=Sweep] th[aria-sort=descending]')",
    )
    .await;
    b.screenshot("optimisation").await;

    // Someone else's account id in the URL: "not found", never their data.
    let other = support::user(addr, "other@example.com").await;
    let theirs = support::account(addr, &other, "5000").await;
    b.go(addr, &format!("#/accounts/{theirs}")).await;
    b.sees("Not found", 10).await;
    let text = b.js("return document.body.innerText").await;
    assert!(!text.as_str().unwrap().contains("5,000.00"), "{text}");

    // A phone-width screen: the trade page fits.
    b.client.set_window_size(390, 844).await.unwrap();
    b.go(addr, &format!("#/accounts/{account_id}")).await;
    b.sees("Order ticket", 10).await;
    b.assert_fits("trade at 390 px").await;
    b.screenshot("trade-phone").await;
    b.client.set_window_size(1280, 900).await.unwrap();

    // The session ends elsewhere (signed out on another device): the next request returns
    // to sign-in, saying why.
    let session = b
        .js("return JSON.parse(localStorage.getItem('stratus.session'))")
        .await;
    let r = call(
        addr,
        "POST",
        "/auth/logout",
        session["access_token"].as_str(),
        Some(json!({"refresh_token": session["refresh_token"]})),
    )
    .await;
    assert!(r.status < 300, "{}", r.text);
    b.go(addr, "#/").await;
    b.until("sign-in", 15, "location.hash.startsWith('#/signin')")
        .await;
    b.sees("Your session ended", 5).await;

    // Sign in again, then sign out with the button.
    b.fill("input[name=email]", "trader@example.com").await;
    b.fill("input[name=password]", PASSWORD).await;
    b.button("Sign in").await;
    b.sees("Swing", 10).await;
    b.button("Sign out").await;
    b.until("sign-in", 10, "location.hash.startsWith('#/signin')")
        .await;
    assert_eq!(
        b.js("return localStorage.getItem('stratus.session')").await,
        Value::Null
    );
    b.client.close().await.unwrap();
}

/// The figures of `report.json`: what a first load costs, and how the trade page keeps up
/// with 5,000 working orders and a 20/s feed on four symbols.
#[tokio::test]
async fn the_portal_loads_light_and_stays_smooth_under_load() {
    let Some(paths) = chromium() else { return };
    let _serial = SERIAL.lock().await;
    let p = platform(&["--ticks-per-second", "20"]).await;
    let addr = p.addr.as_str();
    let b = browser(&paths, 1280, 900).await;

    // First load, nothing cached: bytes over the wire and time to interactive.
    b.go(addr, "").await;
    b.until(
        "the first render",
        10,
        "document.documentElement.dataset.ready === '1'",
    )
    .await;
    let first = b
        .js(
            r#"const nav = performance.getEntriesByType('navigation')[0];
            const res = performance.getEntriesByType('resource');
            const bytes = nav.transferSize + res.reduce((s, r) => s + r.transferSize, 0);
            const decoded = nav.decodedBodySize + res.reduce((s, r) => s + r.decodedBodySize, 0);
            return { bytes, decoded, files: res.length + 1,
              interactive_ms: performance.getEntriesByName('stratus:interactive')[0].startTime };"#,
        )
        .await;

    // 5,000 working orders on one account, placed over the API.
    let token = support::user(addr, "load@example.com").await;
    let account = support::account(addr, &token, "1000000").await;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let addr_owned = p.addr.clone();
    let orders = 5_000;
    let per_task = orders / 8;
    for t in 0..8 {
        let (addr, token, account) = (addr_owned.clone(), token.clone(), account.clone());
        tasks.spawn(async move {
            for i in 0..per_task {
                let symbol = ["AAPL", "MSFT", "SPY", "QQQ"][(t + i) % 4];
                let price = "10.00";
                let r = call(
                    &addr,
                    "POST",
                    &format!("/accounts/{account}/orders"),
                    Some(&token),
                    Some(json!({"symbol": symbol, "side": "buy", "type": "limit", "quantity": "1", "limit_price": price})),
                )
                .await;
                assert_eq!(r.status, 201, "{}", r.text);
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let placing = started.elapsed();

    // Sign in in the browser with the same user and open the account.
    b.go(addr, "#/signin").await;
    b.fill("input[name=email]", "load@example.com").await;
    b.fill("input[name=password]", PASSWORD).await;
    b.button("Sign in").await;
    b.sees("Open a paper account", 10).await;
    b.js("performance.mark('trade:start')").await;
    b.go(addr, &format!("#/accounts/{account}")).await;
    let shown = Instant::now();
    b.until(
        "5,000 working orders",
        60,
        &format!("document.querySelector('[data-testid=working-count]')?.innerText === '{orders}'"),
    )
    .await;
    let table_ms = shown.elapsed().as_millis();
    b.until(
        "the chart",
        20,
        "Number(document.querySelector('[data-testid=candle-chart]')?.dataset.candles) > 0",
    )
    .await;
    // The portal's own files (the API's answers are data, not the page's weight).
    let with_chart = b
        .js(r#"const res = performance.getEntriesByType('resource').filter((r) => new URL(r.name).pathname.startsWith('/portal/'));
            return { bytes: performance.getEntriesByType('navigation')[0].transferSize + res.reduce((s, r) => s + r.transferSize, 0),
              files: res.length + 1 };"#)
        .await;

    // Ten seconds of the live feed (20 trades a second on each of four symbols, the
    // chart and the ticks pushed over the WebSocket) while the order table scrolls:
    // frame times from requestAnimationFrame, and the longest task the page ran.
    b.js(r#"window.__frames = []; window.__ticks = 0; window.__long = [];
        new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(e.duration); })
          .observe({ type: 'longtask', buffered: false });
        const ws = new WebSocket(`ws://${location.host}/ws?access_token=${JSON.parse(localStorage.getItem('stratus.session')).access_token}`);
        ws.onopen = () => ['AAPL', 'MSFT', 'SPY', 'ES'].forEach((symbol) => ws.send(JSON.stringify({ op: 'subscribe', channel: 'ticks', symbol })));
        ws.onmessage = (e) => { if (JSON.parse(e.data).channel === 'ticks') window.__ticks++; };
        window.__ws = ws;
        let last = performance.now();
        const body = document.querySelector('.vbody');
        const frame = (now) => { window.__frames.push(now - last); last = now;
          if (body) body.scrollTop = (body.scrollTop + 37) % (body.scrollHeight - body.clientHeight);
          if (!window.__stop) requestAnimationFrame(frame); };
        requestAnimationFrame(frame);"#)
        .await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let smooth = b
        .js(r#"window.__stop = true; window.__ws.close();
            const f = window.__frames.slice(1).sort((a, b) => a - b);
            const pct = (p) => f[Math.min(f.length - 1, Math.floor(f.length * p))];
            return { frames: f.length, fps: f.length / 10, p50_ms: pct(0.5), p99_ms: pct(0.99), max_ms: f[f.length - 1],
              over_50ms: f.filter((x) => x > 50).length, ticks_per_second: window.__ticks / 10,
              long_tasks: window.__long.length, longest_task_ms: Math.max(0, ...window.__long),
              rows_in_page: document.querySelectorAll('.vbody .vrow').length };"#)
        .await;
    b.screenshot("trade-5000-orders").await;

    // The operations dashboard, as an admin.
    support::user(addr, "ops@example.com").await;
    b.button("Sign out").await;
    b.until("sign-in", 10, "location.hash.startsWith('#/signin')")
        .await;
    b.fill("input[name=email]", "ops@example.com").await;
    b.fill("input[name=password]", PASSWORD).await;
    b.button("Sign in").await;
    b.click("a[href='#/admin']").await;
    b.until(
        "the core's status",
        20,
        "document.querySelector('[data-testid=core-status]')?.innerText === 'ok'",
    )
    .await;
    b.sees("load@example.com", 10).await;
    b.assert_labelled("operations").await;
    b.screenshot("operations").await;

    let report = json!({
        "first_load": first,
        "trade_page_with_chart": with_chart,
        "orders": { "placed": orders, "placed_over_api_s": placing.as_secs_f64(), "table_shown_ms": table_ms },
        "live_feed_10s": smooth,
    });
    std::fs::write(out_dir().join("report.json"), report.to_string()).unwrap();
    eprintln!("portal figures: {report}");

    assert!(first["bytes"].as_f64().unwrap() < 300_000.0, "{first}");
    assert!(
        with_chart["bytes"].as_f64().unwrap() < 300_000.0,
        "{with_chart}"
    );
    assert!(
        smooth["rows_in_page"].as_u64().unwrap() < 100,
        "the table is windowed: {smooth}"
    );
    assert!(
        smooth["ticks_per_second"].as_f64().unwrap() > 0.0,
        "the feed reached the page: {smooth}"
    );
    b.client.close().await.unwrap();
}

/// A broker account from the portal, against the local Alpaca stand-in: keys the broker
/// refuses show its reason and route nothing; the right keys make an active account with
/// the broker's cash, whose orders the broker fills.
#[tokio::test]
async fn a_trader_connects_a_broker_account() {
    let Some(paths) = chromium() else { return };
    let _serial = SERIAL.lock().await;
    let stub = broker_stubs::alpaca::start(broker_stubs::alpaca::AlpacaStubConfig::default())
        .await
        .unwrap();
    let base = stub.base_url();
    let p = platform_with(
        &["--no-feed"],
        &[
            ("STRATUS_ALPACA_URL", base.as_str()),
            ("STRATUS_BROKER_RECONCILE_SECONDS", "1"),
        ],
    )
    .await;
    let b = browser(&paths, 1280, 900).await;
    let addr = p.addr.as_str();
    sign_up(&b, addr, "broker@example.com").await;
    b.sees("Connect a broker account", 10).await;

    // Keys the broker refuses: the account shows why, in the broker's words.
    let form = "form[aria-label='Connect a broker account']";
    b.fill(&format!("{form} input[name=name]"), "Alpaca paper")
        .await;
    b.fill(
        &format!("{form} input[name='broker_connection.credentials.key_id']"),
        "stub-key",
    )
    .await;
    b.fill(
        &format!("{form} input[name='broker_connection.credentials.secret_key']"),
        "not-the-secret",
    )
    .await;
    b.button("Connect").await;
    b.until(
        "the refused connection",
        15,
        "document.querySelector('[data-testid=broker-status]')?.innerText === 'invalid'",
    )
    .await;
    b.sees("not authorized", 10).await;
    b.assert_labelled("broker account (refused keys)").await;
    b.screenshot("broker-refused").await;

    // The right keys: active, the broker's cash, and a Reconcile button that finds
    // nothing to report.
    b.go(addr, "#/").await;
    b.sees("Connect a broker account", 10).await;
    b.fill(&format!("{form} input[name=name]"), "Alpaca paper 2")
        .await;
    b.fill(
        &format!("{form} input[name='broker_connection.credentials.key_id']"),
        "stub-key",
    )
    .await;
    b.fill(
        &format!("{form} input[name='broker_connection.credentials.secret_key']"),
        "stub-secret",
    )
    .await;
    b.button("Connect").await;
    b.until(
        "the active connection",
        15,
        "document.querySelector('[data-testid=broker-status]')?.innerText === 'active'",
    )
    .await;
    b.until(
        "the broker's cash",
        10,
        "document.querySelector('[data-testid=cash]').innerText === '100,000.00'",
    )
    .await;
    b.button("Reconcile now").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        b.js("return document.querySelector('[data-testid=broker-halt]')")
            .await,
        Value::Null
    );
    b.assert_fits("broker account").await;
    b.screenshot("broker-account").await;
    b.client.close().await.unwrap();
}

//! Browser tests of the admin console: Debian's headless Chromium, driven through chromedriver
//! (WebDriver) by fantoccini, against the real binary. One browser at a time; each test saves
//! screenshots of its key states under `target/screenshots/` and fails on any console error.

mod acumatica;
mod aftercare;
mod alerts;
mod console;
mod graphiql;
mod payments;
mod store;
mod sync;
mod triage;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::Method;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::sync::{Mutex, MutexGuard};

use crate::common::{Service, free_port};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a wait for something on the page lasts before the test fails.
const WAIT: Duration = Duration::from_secs(10);

/// One Chromium at a time: the machine is small and other tests run beside these.
static TURN: Mutex<()> = Mutex::const_new(());

/// A headless Chromium session with its own chromedriver and a fresh profile.
pub struct Browser {
    pub client: Client,
    driver: Option<Child>,
    _profile: tempfile::TempDir,
    name: String,
    shots: u32,
    _turn: MutexGuard<'static, ()>,
}

/// The legacy (but still served by chromedriver) log endpoint: the browser console's entries
/// since the last read.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.expect("a session")
        ))
    }

    fn method_and_body(&self, _url: &url::Url) -> (Method, Option<String>) {
        (Method::POST, Some(json!({"type": "browser"}).to_string()))
    }
}

fn require(path: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: the browser tests need Debian's Chromium and its driver. \
         Install them with `apt-get install chromium chromium-driver` (CI's .ci/run does)."
    );
}

/// Where screenshots go: `<target dir>/screenshots`.
pub fn screenshot_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|d| manifest.join(d))
        .unwrap_or_else(|| manifest.join("target"));
    target.join("screenshots")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium (1280×900), waiting for its turn first.
    /// `name` prefixes this test's screenshots.
    pub async fn open(name: &str) -> Browser {
        require(CHROMIUM);
        require(CHROMEDRIVER);
        let turn = TURN.lock().await;
        let port = free_port();
        let profile = tempfile::tempdir().expect("a temp profile dir");
        let mut cmd = Command::new(CHROMEDRIVER);
        cmd.arg(format!("--port={port}"))
            // Times on the page are in the browser's zone: make it fixed.
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group, so that dropping the browser ends Chromium too, even after a
        // failed assertion.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let driver = cmd.spawn().expect("start chromedriver");
        let mut driver_guard = DriverGuard(Some(driver));
        let webdriver = format!("http://127.0.0.1:{port}");
        wait_driver_ready(&webdriver).await;

        let caps: Capabilities = serde_json::from_value(json!({
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-quic",
                    // No host but this machine: a page that loads anything from elsewhere breaks.
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
                    "--disable-sync",
                    "--disable-extensions",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--hide-scrollbars",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        }))
        .unwrap();
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&webdriver)
            .await
            .expect("a Chromium session through chromedriver");
        std::fs::create_dir_all(screenshot_dir()).expect("create the screenshot dir");
        Browser {
            client,
            driver: driver_guard.0.take(),
            _profile: profile,
            name: name.to_owned(),
            shots: 0,
            _turn: turn,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `script` returns something truthy; returns it.
    pub async fn until(&self, what: &str, script: &str, args: Vec<Value>) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self.js(script, args.clone()).await;
            let truthy =
                !matches!(&v, Value::Null | Value::Bool(false)) && v != json!("") && v != json!(0);
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                let page = self.js("return document.body.innerText", vec![]).await;
                panic!(
                    "{}: waited {WAIT:?} for {what}; the page says:\n{}",
                    self.name,
                    page.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for an element matching `css`.
    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.until(
            &format!("an element {css}"),
            "return document.querySelector(arguments[0]) !== null",
            vec![json!(css)],
        )
        .await;
        self.client
            .find(Locator::Css(css))
            .await
            .expect("the element")
    }

    /// Waits until the text of the first element matching `css` contains `expected`.
    pub async fn wait_text(&self, css: &str, expected: &str) {
        self.until(
            &format!("{css} to contain {expected:?}"),
            "const e = document.querySelector(arguments[0]); return !!e && e.innerText.includes(arguments[1])",
            vec![json!(css), json!(expected)],
        )
        .await;
    }

    /// The texts of every element matching `css`.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let v = self
            .js(
                "return [...document.querySelectorAll(arguments[0])].map(e => e.innerText.trim())",
                vec![json!(css)],
            )
            .await;
        serde_json::from_value(v).unwrap()
    }

    /// Waits until the elements matching `css` have exactly these texts, in this order.
    pub async fn wait_texts(&self, css: &str, expected: &[&str]) {
        self.until(
            &format!("{css} to be {expected:?}"),
            "const got = [...document.querySelectorAll(arguments[0])].map(e => e.innerText.trim()); return JSON.stringify(got) === JSON.stringify(arguments[1])",
            vec![json!(css), json!(expected)],
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        self.wait_for(css).await.click().await.expect("click");
    }

    /// Replaces the value of the input matching `css` by typing `text`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.wait_for(css).await;
        e.clear().await.expect("clear");
        e.send_keys(text).await.expect("type");
    }

    pub async fn select(&self, css: &str, value: &str) {
        self.wait_for(css)
            .await
            .select_by_value(value)
            .await
            .expect("select an option");
    }

    pub async fn hash(&self) -> String {
        self.js("return location.hash", vec![])
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("resize the window");
        self.until(
            &format!("a {width} px wide viewport"),
            "return window.innerWidth === arguments[0]",
            vec![json!(width)],
        )
        .await;
    }

    /// The page fits its viewport: no sideways scrolling.
    pub async fn assert_fits_width(&self) {
        let v = self
            .js(
                "return [document.documentElement.scrollWidth, window.innerWidth]",
                vec![],
            )
            .await;
        assert!(
            v[0].as_i64() <= v[1].as_i64(),
            "{}: the page is wider than the viewport (scrollWidth, innerWidth) = {v}",
            self.name
        );
    }

    /// Every input, select and textarea on the page has a label (or an aria-label).
    pub async fn assert_controls_labelled(&self) {
        let unlabelled = self
            .js(
                "return [...document.querySelectorAll('input, select, textarea')]
                   .filter(e => e.type !== 'hidden' && e.labels.length === 0 && !e.getAttribute('aria-label'))
                   .map(e => e.outerHTML)",
                vec![],
            )
            .await;
        assert_eq!(
            unlabelled,
            json!([]),
            "{}: controls without a label",
            self.name
        );
    }

    /// Saves a PNG of the viewport as `<screenshot dir>/<test>-<n>-<step>.png`.
    pub async fn screenshot(&mut self, step: &str) -> PathBuf {
        // Let transitions and the live row highlight settle a moment.
        tokio::time::sleep(Duration::from_millis(150)).await;
        self.shots += 1;
        let png = self.client.screenshot().await.expect("a screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        let path = screenshot_dir().join(format!("{}-{:02}-{step}.png", self.name, self.shots));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    /// The browser console's entries since the last read (each {level, message, source}).
    pub async fn console(&self) -> Vec<Value> {
        let v = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("read the browser log");
        serde_json::from_value(v).unwrap_or_default()
    }

    /// The console errors (level SEVERE) since the last read.
    async fn console_errors(&self) -> Vec<Value> {
        self.console()
            .await
            .into_iter()
            .filter(|e| e["level"] == "SEVERE")
            .collect()
    }

    /// Fails on any console error since the last read but the browser's own note of the
    /// API's 401 answer to a wrong token.
    pub async fn assert_only_a_refused_token_in_console(&self) {
        let severe = self.console_errors().await;
        assert!(
            severe.iter().all(|e| {
                let m = e["message"].as_str().unwrap_or_default();
                e["source"] == "network" && m.contains("/graphql") && m.contains("401")
            }),
            "{}: unexpected console errors: {severe:#?}",
            self.name
        );
    }

    /// Fails on any console error (level SEVERE) since the last read.
    pub async fn assert_no_console_errors(&self) {
        let errors = self.console_errors().await;
        assert!(
            errors.is_empty(),
            "{}: console errors in the browser: {errors:#?}",
            self.name
        );
    }

    /// Signs in with `token` on the sign-in page of `service` and waits for the orders page.
    pub async fn sign_in(&self, service: &Service) {
        self.goto(&service.url("/")).await;
        self.type_into("#token", &service.token).await;
        self.click("#sign-in").await;
        self.wait_for("#orders-results:not([aria-busy]) > *").await;
    }

    /// Checks the console once more and ends the session (Chromium and chromedriver).
    pub async fn close(mut self) {
        self.assert_no_console_errors().await;
        let client = self.client.clone();
        client.close().await.expect("close the browser");
        if let Some(mut driver) = self.driver.take() {
            kill_group(&mut driver);
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(driver) = &mut self.driver {
            kill_group(driver);
        }
    }
}

/// Ends chromedriver if `open` fails before the Browser exists.
struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            kill_group(child);
        }
    }
}

/// Kills the process group of `child` (chromedriver and the Chromium it started).
fn kill_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

async fn wait_driver_ready(webdriver: &str) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http.get(format!("{webdriver}/status")).send().await
            && let Ok(v) = r.json::<Value>().await
            && v["value"]["ready"] == true
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not become ready at {webdriver}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

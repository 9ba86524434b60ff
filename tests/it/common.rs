//! Starting and stopping the real service for tests, and talking GraphQL to it.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

pub const TOKEN: &str = "test-admin-token-0123456789";

/// A data dir that outlives service restarts.
#[derive(Clone)]
pub struct DataDir(Arc<tempfile::TempDir>);

impl DataDir {
    pub fn new() -> DataDir {
        DataDir(Arc::new(tempfile::tempdir().expect("temp dir")))
    }
    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// The service's sled store, opened directly (the service must be stopped), with the
    /// compression every new store has.
    pub fn open_store(&self) -> sled::Db {
        sled::Config::new()
            .path(self.path().join("data").join("store"))
            .use_compression(true)
            .compression_factor(3)
            .open()
            .expect("the store opens")
    }
}

/// Settings of a service under test.
#[derive(Clone)]
pub struct Options {
    /// `serve` (default) or `demo`.
    pub command: String,
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
    pub token: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            command: "serve".into(),
            env: vec![
                ("BRIDGE_RETRY_BASE_DELAY_MS".into(), "100".into()),
                ("BRIDGE_ACUMATICA_TIMEOUT_MS".into(), "1000".into()),
                ("BRIDGE_ACUMATICA_MAX_RPM".into(), "100000".into()),
                ("BRIDGE_AMBIGUOUS_RECHECK_DELAY_MS".into(), "200".into()),
            ],
            args: vec![],
            token: Some(TOKEN.into()),
        }
    }
}

/// A running `acumatica-bridge serve`.
pub struct Service {
    child: Child,
    pub addr: SocketAddr,
    pub data: DataDir,
    pub token: String,
    pub http: reqwest::Client,
    pub stderr_path: PathBuf,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_acumatica-bridge")
}

impl Service {
    pub async fn start() -> Service {
        Self::start_with(DataDir::new(), Options::default()).await
    }

    pub async fn start_in(data: DataDir) -> Service {
        Self::start_with(data, Options::default()).await
    }

    pub async fn start_with(data: DataDir, options: Options) -> Service {
        acumatica_bridge::init_crypto();
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let stderr_path = data.path().join(format!("stderr-{port}.log"));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut cmd = Command::new(binary());
        cmd.arg(&options.command)
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--data-dir")
            .arg(data.path().join("data"))
            .args(&options.args)
            .env_remove("BRIDGE_ADMIN_TOKEN")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        for (k, v) in &options.env {
            cmd.env(k, v);
        }
        if let Some(token) = &options.token {
            cmd.env("BRIDGE_ADMIN_TOKEN", token);
        }
        let child = cmd.spawn().expect("start acumatica-bridge");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let mut service = Service {
            child,
            addr,
            data,
            token: options.token.clone().unwrap_or_default(),
            http,
            stderr_path,
        };
        service.wait_healthy().await;
        if options.token.is_none() {
            service.token = service.generated_token();
        }
        service
    }

    async fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the service exited early with {status}:\n{}", self.stderr());
            }
            if let Ok(r) = self.http.get(self.url("/healthz")).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the service did not become healthy:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Everything the service wrote to stderr so far (its log).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// The admin token the service generated and printed on first start.
    fn generated_token(&self) -> String {
        self.stderr()
            .split_whitespace()
            .find(|w| w.starts_with("abt_"))
            .expect("a generated token on stderr")
            .to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// POSTs a GraphQL operation with the admin token; returns the whole response body.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.gql_as(Some(&self.token), query, variables).await.1
    }

    /// Like [`gql`], asserting there is no error, and returning `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.gql(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    pub async fn gql_as(&self, token: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
        let mut req = self
            .http
            .post(self.url("/graphql"))
            .json(&json!({"query": query, "variables": variables}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("POST /graphql");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Opens a graphql-transport-ws connection and sends connection_init with `token`.
    pub async fn ws(&self, token: Option<&str>) -> Ws {
        let mut request = format!("ws://{}/graphql/ws", self.addr)
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("ws connect");
        let payload = match token {
            Some(t) => json!({"Authorization": format!("Bearer {t}")}),
            None => json!({}),
        };
        socket
            .send(Message::Text(
                json!({"type": "connection_init", "payload": payload})
                    .to_string()
                    .into(),
            ))
            .await
            .unwrap();
        Ws { socket }
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(mut self) -> DataDir {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.data.clone()
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(mut self) -> DataDir {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "exit after SIGTERM: {status}\n{}",
                    self.stderr()
                );
                return self.data.clone();
            }
            assert!(Instant::now() < deadline, "no exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A graphql-transport-ws client connection.
pub struct Ws {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl Ws {
    /// The next message, as JSON, or a `{"close": code}` object when the server closes.
    pub async fn next(&mut self) -> Value {
        let msg = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
            .await
            .expect("a websocket message within 10 s");
        match msg {
            Some(Ok(Message::Text(t))) => serde_json::from_str(&t).unwrap(),
            Some(Ok(Message::Close(frame))) => {
                json!({"close": frame.map(|f| u16::from(f.code)).unwrap_or(0)})
            }
            Some(Ok(other)) => json!({"other": other.to_string()}),
            Some(Err(e)) => json!({"error": e.to_string()}),
            None => json!({"close": 0}),
        }
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        let msg = json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}});
        self.socket
            .send(Message::Text(msg.to_string().into()))
            .await
            .unwrap();
    }
}

/// A valid order input; `number` and `payment` vary per test.
pub fn order_input(number: &str, payment: &str) -> Value {
    json!({
        "number": number,
        "profileId": "42",
        "email": "Ann.Buyer@example.com",
        "phone": "+1 555 0100",
        "placedAt": "2026-01-31T12:00:00+01:00",
        "currency": "USD",
        "paymentStatus": payment,
        "billingAddress": {"firstName": "Ann", "lastName": "Buyer", "street": "1 Main St",
                           "city": "Kirkland", "state": "WA", "postalCode": "98033", "country": "US"},
        "shippingAddress": {"firstName": "Ann", "lastName": "Buyer", "street": "1 Main St",
                            "city": "Kirkland", "state": "WA", "postalCode": "98033", "country": "US"},
        "items": [
            {"sku": "AALEGO500", "name": "Lego 500", "price": "10.25", "quantity": 2},
            {"sku": "AACOMPUT01", "name": "Computer", "price": "500.00", "quantity": 1, "warehouseId": "WHOLESALE"}
        ],
        "shippingCost": "5.00",
        "discountTotal": "1.50",
        "taxTotal": "2.00",
        "total": "526.00"
    })
}

pub const RECORD_ORDER: &str = r#"mutation($input: OrderInput!) {
  recordOrder(input: $input) {
    number email placedAt currency paymentStatus total shippingCost discountTotal taxTotal
    paymentStatusHistory { status at }
    items { sku name price quantity warehouseId }
    billingAddress { country city }
    sync { status }
  }
}"#;

pub const JOB_FIELDS: &str = "id kind status attempts maxAttempts lastError orderNumber progress { done total message } history { number error }";

impl Service {
    /// Polls `job(id)` until `done(job)` holds (10 s at most); returns the job.
    pub async fn wait_job(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let query = format!("query($id: ID!) {{ job(id: $id) {{ {JOB_FIELDS} }} }}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let job = self.data(&query, json!({"id": id})).await["job"].clone();
            if done(&job) {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} did not get there: {job:#}\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls `query` until `done(data)` holds (20 s at most); returns the data.
    pub async fn wait_for(&self, query: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let data = self.data(query, json!({})).await;
            if done(&data) {
                return data;
            }
            assert!(
                Instant::now() < deadline,
                "never got there: {data:#}\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Connects to the simulator and waits for the CONNECT job to succeed.
    pub async fn connect_to(&self, sim: &acumatica_bridge::sim::acumatica::RunningSim) -> Value {
        let body = self
            .gql(CONNECT, json!({"input": connect_input(sim)}))
            .await;
        let id = body["data"]["connect"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("connect: {body}"))
            .to_owned();
        self.wait_job(&id, |j| {
            j["status"] == "SUCCEEDED" || j["status"] == "FAILED"
        })
        .await
    }
}

pub const CONNECT: &str =
    "mutation($input: ConnectInput!) { connect(input: $input) { id kind status maxAttempts } }";

/// The connect form filled in with the simulator's demo credentials.
pub fn connect_input(sim: &acumatica_bridge::sim::acumatica::RunningSim) -> Value {
    use acumatica_bridge::sim::acumatica::{CLIENT_ID, CLIENT_SECRET, PASSWORD, USERNAME};
    json!({
        "baseUrl": sim.base_url(),
        "username": USERNAME,
        "password": PASSWORD,
        "clientId": CLIENT_ID,
        "clientSecret": CLIENT_SECRET,
        "endpointName": "Default",
        "endpointVersion": "24.200.001",
    })
}

/// A simulator for tests, with the given token lifetime.
pub async fn sim_with_tokens(lifetime_secs: u64) -> acumatica_bridge::sim::acumatica::RunningSim {
    use acumatica_bridge::sim::acumatica::{SimConfig, Simulator};
    let mut config = SimConfig::default();
    config.faults.token_lifetime_secs = lifetime_secs;
    Simulator::start(config).await.expect("simulator")
}

/// Heavy tests take this lock so that they run one at a time.
pub static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

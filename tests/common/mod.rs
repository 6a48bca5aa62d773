//! Shared harness for the integration tests: start a hub on port 0 with a fresh database
//! (SQLite in its temporary data dir, or a PostgreSQL database of its own when
//! `GLOBALLINK_TEST_DATABASE_URL` names a server), sign roles in, talk signalling, and run
//! webrtc-rs peers that stream the fixture media.

#![allow(dead_code)]

pub mod officer;
pub mod peer;
pub mod process;
pub mod tsa;
pub mod zipped;

use futures::{SinkExt, StreamExt};
use globallink::clock::SystemClock;
use globallink::config::{Config, Settings};
use globallink::state::{AppState, DevAccounts};
use globallink::store::testing::TestDatabase;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// Each hub in a test process gets its own block of media ports.
static NEXT_PORT_BLOCK: AtomicU16 = AtomicU16::new(0);

pub fn test_settings(dir: &std::path::Path) -> Settings {
    let block = NEXT_PORT_BLOCK.fetch_add(1, Ordering::SeqCst);
    let first = 52000 + (std::process::id() % 40) as u16 * 250 + block * 20;
    Config {
        listen: "127.0.0.1:0".parse().expect("valid address"),
        data_dir: dir.to_path_buf(),
        ice_udp_ports: format!("{}-{}", first, first + 19),
        ..Config::default()
    }
    .validate()
    .expect("test config is valid")
}

pub struct TestHub {
    pub addr: SocketAddr,
    pub state: AppState,
    pub accounts: DevAccounts,
    pub dir: HubDir,
}

/// A hub's temporary data dir and its database; both go away when this is dropped.
pub struct HubDir {
    dir: tempfile::TempDir,
    pub database: TestDatabase,
}

impl HubDir {
    pub fn fresh() -> HubDir {
        HubDir {
            dir: tempfile::tempdir().expect("tempdir"),
            database: TestDatabase::fresh().expect("a fresh test database"),
        }
    }

    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Settings for a hub on this dir and database.
    pub fn settings(&self) -> Settings {
        let mut settings = test_settings(self.path());
        settings.database_url = self.database.url(self.path());
        settings
    }
}

impl TestHub {
    /// `path` on this hub: `https://` when it serves TLS.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.state.settings.public_url, path)
    }
}

/// A hub's state on a fresh temporary data dir, without a listener (for `oneshot` tests).
pub async fn state_only() -> (AppState, DevAccounts, HubDir) {
    let dir = HubDir::fresh();
    let mut settings = dir.settings();
    settings.public_url = "http://hub.test".into();
    let store = globallink::store::open(&settings.database_url)
        .await
        .expect("database opens");
    let web = settings.web_dir.clone();
    let started = globallink::state::start(settings, store, Arc::new(SystemClock), web)
        .await
        .expect("hub starts");
    let accounts = started.dev_accounts.expect("first start creates accounts");
    (started.state, accounts, dir)
}

/// A running hub on 127.0.0.1:0.
pub async fn start_hub() -> TestHub {
    start_hub_with_clock(Arc::new(SystemClock)).await
}

/// A running hub whose clock the test controls.
pub async fn start_hub_with_clock(clock: Arc<dyn globallink::clock::Clock>) -> TestHub {
    start_hub_configured(clock, |_| {}).await
}

/// A running hub with adjusted settings.
pub async fn start_hub_configured(
    clock: Arc<dyn globallink::clock::Clock>,
    adjust: impl FnOnce(&mut Settings),
) -> TestHub {
    let dir = HubDir::fresh();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut settings = dir.settings();
    adjust(&mut settings);
    settings.public_url = format!("{}://{addr}", settings.scheme());
    let store = globallink::store::open(&settings.database_url)
        .await
        .expect("database opens");
    let web = settings.web_dir.clone();
    let started = globallink::state::start(settings, store, clock, web)
        .await
        .expect("hub starts");
    let state = started.state.clone();
    tokio::spawn(globallink::run(
        listener,
        started.state,
        std::future::pending(),
    ));
    TestHub {
        addr,
        state,
        accounts: started.dev_accounts.expect("accounts"),
        dir,
    }
}

/// An HTTP client signed in as `user`.
pub async fn login(base: &str, user: &(String, String)) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let res = client
        .post(format!("{base}/api/login"))
        .json(&json!({"username": user.0, "password": user.1}))
        .send()
        .await
        .expect("login request");
    assert_eq!(res.status(), 200, "login as {}", user.0);
    client
}

/// Create a case as officer; returns (case id, invite token).
pub async fn create_case(base: &str, officer: &reqwest::Client, service: &str) -> (String, String) {
    let res = officer
        .post(format!("{base}/api/cases"))
        .json(&json!({
            "service": service,
            "applicant_name": "Chen Jing",
            "applicant_tz": "Europe/Lisbon",
            "applicant_lang": "pt",
        }))
        .send()
        .await
        .expect("create case");
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.expect("json");
    (
        body["case"]["id"].as_str().expect("id").to_owned(),
        body["invite_token"].as_str().expect("token").to_owned(),
    )
}

pub async fn ticket(base: &str, officer: &reqwest::Client) -> String {
    let res = officer
        .post(format!("{base}/api/ws-ticket"))
        .send()
        .await
        .expect("ticket");
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    body["ticket"].as_str().expect("ticket").to_owned()
}

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A signalling client.
pub struct Ws {
    stream: WsStream,
    /// Messages received while waiting for something else.
    pub seen: Vec<Value>,
}

impl Ws {
    pub async fn connect(addr: SocketAddr) -> Ws {
        let (stream, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
            .await
            .expect("ws connects");
        Ws {
            stream,
            seen: Vec::new(),
        }
    }

    /// Connect and authenticate; returns the socket after `welcome`.
    pub async fn auth(addr: SocketAddr, credential: Value) -> Ws {
        let mut ws = Ws::connect(addr).await;
        let mut frame = json!({"v": 1, "type": "auth"});
        for (k, v) in credential.as_object().expect("object") {
            frame[k] = v.clone();
        }
        ws.send(frame).await;
        ws.expect("welcome").await;
        ws
    }

    pub async fn send(&mut self, v: Value) {
        self.stream
            .send(Message::Text(v.to_string().into()))
            .await
            .expect("ws send");
    }

    /// Send without panicking: false once the socket is gone.
    pub async fn try_send(&mut self, v: Value) -> bool {
        self.stream
            .send(Message::Text(v.to_string().into()))
            .await
            .is_ok()
    }

    /// The `ack` or `error` answering `id`, or None if the socket closes first.
    pub async fn try_answer(&mut self, id: u64) -> Option<Value> {
        loop {
            let msg = self.next().await?;
            if msg["ref"] == id {
                return Some(msg);
            }
        }
    }

    /// The next frame as it came, pings included; None once the socket is gone. Reading also
    /// sends the client's automatic answers to pings.
    pub async fn next_frame(&mut self) -> Option<Message> {
        self.stream.next().await?.ok()
    }

    pub async fn send_raw(&mut self, m: Message) {
        self.stream.send(m).await.expect("ws send");
    }

    /// Next JSON message, or None when the socket closes. Panics after 20 s without one
    /// (keepalive pings do not count).
    pub async fn next(&mut self) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let msg = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .expect("a message within 20 s")?;
            match msg {
                Ok(Message::Text(t)) => {
                    return Some(serde_json::from_str(&t).expect("server sends JSON"));
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// Wait for a message of `type`, keeping the others in `seen`. Fails on an unexpected
    /// `error`.
    pub async fn expect(&mut self, typ: &str) -> Value {
        if let Some(i) = self.seen.iter().position(|m| m["type"] == typ) {
            return self.seen.remove(i);
        }
        loop {
            let msg = self
                .next()
                .await
                .unwrap_or_else(|| panic!("socket closed while waiting for {typ}"));
            if msg["type"] == typ {
                return msg;
            }
            if msg["type"] == "error" && typ != "error" {
                panic!("error while waiting for {typ}: {msg}");
            }
            self.seen.push(msg);
        }
    }

    /// Whether a message of `type` has arrived and is being kept (without waiting for one).
    pub fn seen_type(&self, typ: &str) -> bool {
        self.seen.iter().any(|m| m["type"] == typ)
    }

    /// Wait for the `ack` or `error` answering the frame with this `id`, keeping the others.
    pub async fn answer(&mut self, id: u64) -> Value {
        if let Some(i) = self.seen.iter().position(|m| m["ref"] == id) {
            return self.seen.remove(i);
        }
        loop {
            let msg = self
                .next()
                .await
                .unwrap_or_else(|| panic!("socket closed waiting for ref {id}"));
            if msg["ref"] == id {
                return msg;
            }
            self.seen.push(msg);
        }
    }
}

/// Download an artefact bundle.
pub async fn download_bundle(client: &reqwest::Client, base: &str, artefact: &str) -> Vec<u8> {
    let res = client
        .get(format!("{base}/api/artefacts/{artefact}/bundle"))
        .send()
        .await
        .expect("download");
    assert_eq!(res.status(), 200, "download {artefact}");
    res.bytes().await.expect("bytes").to_vec()
}

/// The events of a bundle's `events.jsonl`, parsed.
pub fn bundle_events(bundle: &[u8]) -> Vec<Value> {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bundle)).expect("zip");
    let mut text = String::new();
    zip.by_name("events.jsonl")
        .expect("events")
        .read_to_string(&mut text)
        .expect("utf8");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("event"))
        .collect()
}

/// Officer Wang, of the vehicle administration only (skill `driving-licence`): an officer of
/// another office for every other service. Returns his username and password.
pub async fn vehicles_officer(state: &AppState) -> (String, String) {
    let password = "wang-desk-password-2026".to_owned();
    let user = globallink::store::UserRecord {
        id: globallink::ids::UserId::random(),
        username: "wang".into(),
        display_name: "Officer Wang".into(),
        role: globallink::store::Role::Officer,
        password_hash: globallink::auth::hash_password(&password).expect("hash"),
        created_at: chrono::Utc::now(),
    };
    state.store.create_user(&user).await.expect("user");
    let profile = globallink::officers::OfficerProfile {
        offices: vec!["lishui-vehicle-administration".into()],
        ..globallink::officers::dev_profile(vec!["driving-licence".into()])
    };
    globallink::officers::save(
        state.store.as_ref(),
        state.clock.as_ref(),
        user.id,
        &profile,
    )
    .await
    .expect("profile");
    ("wang".into(), password)
}

/// A case of `service` opened by the officer signed in on `officer_http`, and its applicant
/// paired with that officer at the walk-in desk: `(officer, applicant, case id)`.
pub async fn paired_session(
    addr: SocketAddr,
    base: &str,
    officer_http: &reqwest::Client,
    service: &str,
) -> (Ws, Ws, String) {
    let knock = knocking(addr, base, officer_http, service).await;
    let (mut officer, mut applicant) = (knock.officer, knock.applicant);
    admit(&mut officer, &mut applicant).await;
    (officer, applicant, knock.case_id)
}

/// A new case's applicant and a signed-in officer after `take_next`, the applicant still in
/// the lobby.
pub struct Knocking {
    pub officer: Ws,
    pub applicant: Ws,
    /// The officer's `paired`.
    pub paired: Value,
    pub case_id: String,
    pub invite: String,
}

pub async fn knocking(
    addr: SocketAddr,
    base: &str,
    officer_http: &reqwest::Client,
    service: &str,
) -> Knocking {
    let (case_id, invite) = create_case(base, officer_http, service).await;
    let mut officer = Ws::auth(addr, json!({"ticket": ticket(base, officer_http).await})).await;
    let mut applicant = Ws::auth(addr, json!({"invite": invite.clone()})).await;
    applicant.send(json!({"type": "join_queue"})).await;
    applicant.expect("queue_position").await;
    officer.send(json!({"type": "take_next"})).await;
    let paired = officer.expect("paired").await;
    Knocking {
        officer,
        applicant,
        paired,
        case_id,
        invite,
    }
}

/// After `take_next`: the applicant waits in the lobby and the officer sees their knock; the
/// officer admits them, and the applicant is told so and paired. Returns the applicant's
/// `paired`.
pub async fn admit(officer: &mut Ws, applicant: &mut Ws) -> Value {
    assert_eq!(applicant.expect("lobby").await["state"], "waiting");
    let knock = officer.expect("knock").await;
    assert_eq!(knock["role"], "applicant");
    officer.send(json!({"type": "admit"})).await;
    assert_eq!(applicant.expect("lobby").await["state"], "admitted");
    applicant.expect("paired").await
}

/// A proof as the log API serves it (hex hashes) in the form `translog` verifies.
pub fn proof_hashes(v: &Value) -> Vec<globallink::translog::Hash> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|h| {
            hex::decode(h.as_str().expect("hex"))
                .expect("hex")
                .try_into()
                .expect("32 bytes")
        })
        .collect()
}

/// One participant's line in a `call_stats` message.
pub fn stats_line<'a>(stats: &'a Value, role: &str) -> Option<&'a Value> {
    stats["participants"]
        .as_array()?
        .iter()
        .find(|p| p["role"] == role)
}

/// One kind (`audio`, `video`) of a participant's `call_stats` line.
pub fn stats_media<'a>(participant: &'a Value, kind: &str) -> Option<&'a Value> {
    participant["media"]
        .as_array()?
        .iter()
        .find(|m| m["kind"] == kind)
}

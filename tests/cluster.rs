//! Several hub nodes on one PostgreSQL database, each a `globallink serve` process with its own
//! data dir (the office PKI and hub secret copied from the first, as an operator would):
//!
//! - an applicant waiting on node A shows in the queue of an officer on node B (LISTEN/NOTIFY),
//!   is taken there (the claim is a row lock), is sent to B (`redirect`), knocks, is admitted,
//!   and the session B seals verifies with `globallink verify`;
//! - officers on both nodes taking at once never get the same applicant (SKIP LOCKED claims);
//! - a node killed with SIGKILL: the other marks its open session interrupted with the chain
//!   intact and takes its applicants out of the queue, goes on serving, and the killed node seals
//!   the session when it comes back.
//!
//! They need a PostgreSQL server (`GLOBALLINK_TEST_DATABASE_URL`); `.ci/run` starts one and runs
//! them.

mod common;

use common::process::{BIN, HubProcess, account};
use common::{HubDir, Ws, create_case, login, ticket};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A node of the test's cluster: node `id` on `dir` (data) and `db`'s database.
fn node(id: &str, data: &Path, db: &HubDir, ports: &str) -> HubProcess {
    let mut env: Vec<(&str, &str)> = db.database.hub_env().into_iter().collect();
    assert!(
        !env.is_empty(),
        "the cluster tests need a PostgreSQL server"
    );
    env.extend([
        ("GLOBALLINK_NODE_ID", id),
        ("GLOBALLINK_NODE_HEARTBEAT_SECS", "1"),
        ("GLOBALLINK_NODE_LOST_AFTER_SECS", "3"),
    ]);
    HubProcess::spawn(data, ports, env)
}

/// Media ports for the `n`th node of this test process.
fn ports(n: u16) -> String {
    let first = 58000 + (std::process::id() % 40) as u16 * 40 + n * 10;
    format!("{first}-{}", first + 9)
}

/// A second data dir sharing the first node's office PKI and hub secret.
fn second_data_dir(first: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = dir.path().join("pki");
    std::fs::create_dir_all(&pki).expect("pki dir");
    for entry in std::fs::read_dir(first.join("pki")).expect("first node's pki") {
        let entry = entry.expect("entry");
        if entry.file_type().expect("type").is_file() {
            std::fs::copy(entry.path(), pki.join(entry.file_name())).expect("copy");
        }
    }
    std::fs::copy(first.join("hub-secret"), dir.path().join("hub-secret")).expect("secret");
    dir
}

/// A second officer account, made with `globallink user add` on the shared database.
fn second_officer(db: &HubDir) -> (String, String) {
    let out = Command::new(BIN)
        .args(["user", "add", "--username", "wang", "--role", "officer"])
        .args(["--name", "Officer Wang"])
        .env("GLOBALLINK_DATA_DIR", db.path())
        .envs(db.database.hub_env())
        .output()
        .expect("user add runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    let password = text
        .split("with password ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("a password in {text:?}"));
    ("wang".to_owned(), password.to_owned())
}

/// Nodes A and B on one fresh database, B's data dir sharing A's office keys.
struct TwoNodes {
    db: HubDir,
    a: HubProcess,
    b: HubProcess,
    b_dir: tempfile::TempDir,
    /// The first-start officer account.
    officer: (String, String),
}

impl TwoNodes {
    /// Start A, then B, on the `n`th and `n + 1`th port blocks.
    fn start(n: u16) -> TwoNodes {
        let db = HubDir::fresh();
        let a = node("a", db.path(), &db, &ports(n));
        let officer = account(&a.lines, "officer");
        let b_dir = second_data_dir(db.path());
        let b = node("b", b_dir.path(), &db, &ports(n + 1));
        TwoNodes {
            db,
            a,
            b,
            b_dir,
            officer,
        }
    }
}

/// Read `ws` until a message of `typ` satisfies `pred`.
async fn expect_where(ws: &mut Ws, typ: &str, pred: impl Fn(&Value) -> bool) -> Value {
    loop {
        let msg = ws.expect(typ).await;
        if pred(&msg) {
            return msg;
        }
    }
}

fn queue_has(msg: &Value, case: &str) -> bool {
    msg["entries"]
        .as_array()
        .is_some_and(|e| e.iter().any(|x| x["case_id"] == case))
}

async fn case_detail(http: &reqwest::Client, base: &str, case: &str) -> Value {
    http.get(format!("{base}/api/cases/{case}"))
        .send()
        .await
        .expect("case")
        .json()
        .await
        .expect("json")
}

/// `globallink verify` of `bundle` against the office CA in `data`.
fn verify(bundle: &[u8], data: &Path) -> String {
    let path = data.join("downloaded.zip");
    std::fs::write(&path, bundle).expect("write bundle");
    let out = Command::new(BIN)
        .arg("verify")
        .arg(&path)
        .arg("--trust")
        .arg(data.join("pki").join("office-ca.pem"))
        .output()
        .expect("verify runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "verify accepts: {text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a PostgreSQL server in GLOBALLINK_TEST_DATABASE_URL (run by .ci/run)"]
async fn applicant_on_a_and_officer_on_b_complete_a_session_that_verifies() {
    let TwoNodes {
        db,
        a,
        b,
        b_dir: _b_dir,
        officer: officer_account,
    } = TwoNodes::start(0);
    let (base_a, base_b) = (a.base(), b.base());

    let officer_http = login(&base_b, &officer_account).await;
    let mut officer = Ws::auth(
        b.addr,
        json!({"ticket": ticket(&base_b, &officer_http).await}),
    )
    .await;
    let (case, invite) = create_case(&base_b, &officer_http, "id-card-renewal").await;

    // The applicant waits on A; the console on B sees them through the shared queue.
    let mut applicant = Ws::auth(a.addr, json!({"invite": invite.clone()})).await;
    applicant.send(json!({"type": "join_queue"})).await;
    let position = applicant.expect("queue_position").await;
    assert_eq!(position["position"], 1, "{position}");
    expect_where(&mut officer, "queue", |q| queue_has(q, &case)).await;

    // Taken on B: A sends the applicant to B, where the session lives.
    officer.send(json!({"type": "take_next"})).await;
    let paired = officer.expect("paired").await;
    assert_eq!(paired["case_id"], case.as_str(), "{paired}");
    let redirect = applicant.expect("redirect").await;
    assert_eq!(redirect["url"], base_b.as_str(), "{redirect}");
    drop(applicant);
    expect_where(&mut officer, "queue", |q| !queue_has(q, &case)).await;

    // Arriving at A again (a stale tab) sends them to B too.
    let mut stale = Ws::auth(a.addr, json!({"invite": invite.clone()})).await;
    assert_eq!(stale.expect("redirect").await["url"], base_b.as_str());
    assert!(stale.next().await.is_none(), "A closes the connection");

    let mut applicant = Ws::auth(b.addr, json!({"invite": invite})).await;
    common::admit(&mut officer, &mut applicant).await;
    common::peer::grant_recording(&mut officer, &mut applicant).await;
    officer.send(json!({"type": "close_session"})).await;
    let closed = officer.expect("session_closed").await;
    let artefact = closed["artefact_id"].as_str().expect("sealed").to_owned();

    // Either node lists the case and its sealed session; the home node serves the bundle.
    let officer_on_a = login(&base_a, &officer_account).await;
    let detail = case_detail(&officer_on_a, &base_a, &case).await;
    assert_eq!(detail["sessions"][0]["status"], "closed", "{detail}");
    assert_eq!(detail["artefacts"][0]["id"], artefact.as_str(), "{detail}");
    let bundle = common::download_bundle(&officer_http, &base_b, &artefact).await;
    let text = verify(&bundle, db.path());
    assert!(text.contains("VERIFIED"), "{text}");
    let kinds: Vec<String> = common::bundle_events(&bundle)
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_owned())
        .collect();
    for kind in [
        "session_opened",
        "participant_knocked",
        "participant_admitted",
        "consent_granted",
        "session_closed",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a PostgreSQL server in GLOBALLINK_TEST_DATABASE_URL (run by .ci/run)"]
async fn officers_on_two_nodes_never_take_the_same_applicant() {
    let TwoNodes {
        db: _db,
        a,
        b,
        b_dir: _b_dir,
        officer: officer_account,
    } = TwoNodes::start(2);
    let (base_a, base_b) = (a.base(), b.base());
    let http_a = login(&base_a, &officer_account).await;
    let http_b = login(&base_b, &officer_account).await;

    // Four applicants wait, two on each node.
    let mut cases = Vec::new();
    let mut applicants = Vec::new();
    for (i, (addr, base, http)) in [
        (a.addr, &base_a, &http_a),
        (b.addr, &base_b, &http_b),
        (a.addr, &base_a, &http_a),
        (b.addr, &base_b, &http_b),
    ]
    .into_iter()
    .enumerate()
    {
        let (case, invite) = create_case(base, http, "id-card-renewal").await;
        let mut ws = Ws::auth(addr, json!({"invite": invite})).await;
        ws.send(json!({"type": "join_queue"})).await;
        ws.expect("queue_position").await;
        cases.push(case);
        applicants.push((i, ws));
    }
    // Six consoles, three on each node, all see the four and take at once.
    let mut consoles = Vec::new();
    for (addr, base, http) in [(a.addr, &base_a, &http_a), (b.addr, &base_b, &http_b)] {
        for _ in 0..3 {
            let mut ws = Ws::auth(addr, json!({"ticket": ticket(base, http).await})).await;
            expect_where(&mut ws, "queue", |q| cases.iter().all(|c| queue_has(q, c))).await;
            consoles.push(ws);
        }
    }
    for ws in &mut consoles {
        ws.send(json!({"id": 7, "type": "take_next"})).await;
    }
    let mut taken = Vec::new();
    let mut empty = 0;
    for ws in &mut consoles {
        loop {
            let msg = ws.next().await.expect("an answer to take_next");
            match msg["type"].as_str() {
                Some("paired") => {
                    taken.push(msg["case_id"].as_str().expect("case").to_owned());
                    break;
                }
                Some("error") if msg["ref"] == 7 => {
                    assert_eq!(msg["code"], "queue_empty", "{msg}");
                    empty += 1;
                    break;
                }
                _ => {}
            }
        }
    }
    taken.sort();
    let mut expected = cases.clone();
    expected.sort();
    assert_eq!(taken, expected, "each applicant taken exactly once");
    assert_eq!(empty, 2, "the two consoles left over found the queue empty");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a PostgreSQL server in GLOBALLINK_TEST_DATABASE_URL (run by .ci/run)"]
async fn a_killed_node_s_sessions_are_interrupted_and_the_others_carry_on() {
    let TwoNodes {
        db,
        a,
        b,
        b_dir,
        officer: officer_account,
    } = TwoNodes::start(4);
    let (base_a, base_b) = (a.base(), b.base());
    // Officer Wang works on A; the first officer's session is on B.
    let http_a = login(&base_a, &second_officer(&db)).await;
    let http_b = login(&base_b, &officer_account).await;

    // A session on B with acknowledged evidence, and an applicant waiting on B.
    let (mut officer, mut applicant, case) =
        common::paired_session(b.addr, &base_b, &http_b, "id-card-renewal").await;
    let granted = common::peer::grant_recording(&mut officer, &mut applicant).await;
    let (waiting_case, waiting_invite) = create_case(&base_b, &http_b, "id-card-renewal").await;
    let mut waiting = Ws::auth(b.addr, json!({"invite": waiting_invite})).await;
    waiting.send(json!({"type": "join_queue"})).await;
    waiting.expect("queue_position").await;
    let mut console_a = Ws::auth(a.addr, json!({"ticket": ticket(&base_a, &http_a).await})).await;
    expect_where(&mut console_a, "queue", |q| queue_has(q, &waiting_case)).await;

    b.kill();
    drop((officer, applicant, waiting));

    // A notices (three missed heartbeats), takes B's applicant out of the queue and marks the
    // session interrupted.
    expect_where(&mut console_a, "queue", |q| !queue_has(q, &waiting_case)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let detail = case_detail(&http_a, &base_a, &case).await;
        if detail["sessions"][0]["status"] == "interrupted" {
            assert!(
                detail["artefacts"].as_array().is_none_or(|a| a.is_empty()),
                "the recordings are on B: nothing sealed yet ({detail})"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the session was not marked interrupted: {detail}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // A carries on: a new applicant is taken, admitted and served there.
    let (mut officer_a, mut applicant_a, _) =
        common::paired_session(a.addr, &base_a, &http_a, "id-card-renewal").await;
    officer_a.send(json!({"type": "close_session"})).await;
    assert!(officer_a.expect("session_closed").await["artefact_id"].is_string());
    applicant_a.expect("session_closed").await;

    // B comes back and seals what it held: the chain is whole, every acknowledged event in it,
    // ending with the interruption A recorded.
    let b = node("b", b_dir.path(), &db, &ports(5));
    let base_b = b.base();
    let http_b = login(&base_b, &officer_account).await;
    let detail = case_detail(&http_b, &base_b, &case).await;
    assert_eq!(detail["sessions"][0]["status"], "interrupted", "{detail}");
    let artefact = detail["artefacts"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("sealed on restart: {detail}"))
        .to_owned();
    assert_eq!(detail["artefacts"][0]["outcome"], "interrupted");
    let bundle = common::download_bundle(&http_b, &base_b, &artefact).await;
    let text = verify(&bundle, db.path());
    assert!(text.contains("VERIFIED"), "{text}");
    let events = common::bundle_events(&bundle);
    assert!(
        events
            .iter()
            .any(|e| e["seq"] == granted["seq"] && e["kind"] == "consent_granted"),
        "the acknowledged consent is in the chain"
    );
    let last = events.last().expect("events");
    assert_eq!(last["kind"], "session_interrupted", "{last}");
    assert!(
        last["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("node b stopped answering"),
        "{last}"
    );
}

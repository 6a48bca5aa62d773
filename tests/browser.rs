//! Browser end-to-end test: starts the real hub on a free port with a fresh data directory,
//! reads the development accounts it prints on first start, and drives a whole session
//! (officer, applicant, auditor) through headless Chromium with `tests/e2e/flow.mjs`.
//!
//! Needs `/usr/bin/chromium`, `node` and `tests/e2e/node_modules` (installed with
//! `npm ci --prefix tests/e2e` when missing), so it is ignored by default; `.ci/run` runs it
//! with `cargo test --test browser -- --ignored`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use globallink::store::testing::TestDatabase;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio::time::timeout;

/// How long the hub may take to print its address and accounts.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// flow.mjs stops itself after about 120 s; this is the backstop.
const FLOW_TIMEOUT: Duration = Duration::from_secs(180);

/// Kills the hub and removes the data directory (and drops its test database) when dropped,
/// including on panic.
struct HubGuard {
    child: Child,
    data_dir: PathBuf,
    _database: TestDatabase,
}

impl Drop for HubGuard {
    fn drop(&mut self) {
        // start_kill only sends SIGKILL; the reaper in tokio collects the child.
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// A fresh directory under the system temp dir (std only: no tempfile crate needed here).
fn fresh_data_dir() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir =
        std::env::temp_dir().join(format!("globallink-browser-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the hub's temporary data directory");
    dir
}

/// What the hub prints on first start.
#[derive(Default, Debug)]
struct Startup {
    base_url: Option<String>,
    officer: Option<(String, String)>,
    auditor: Option<(String, String)>,
}

impl Startup {
    fn complete(&self) -> bool {
        self.base_url.is_some() && self.officer.is_some() && self.auditor.is_some()
    }

    /// Look for `globallink listening on http://ADDR` and
    /// `DEVELOPMENT ACCOUNT <role>: username=USER password=PASS` anywhere in a line (the hub
    /// may prefix them with a log timestamp).
    fn observe(&mut self, line: &str) {
        const LISTENING: &str = "globallink listening on ";
        if let Some(i) = line.find(LISTENING) {
            let rest = &line[i + LISTENING.len()..];
            if let Some(url) = rest.split_whitespace().next() {
                self.base_url = Some(url.trim_end_matches('/').to_owned());
            }
        }
        for (role, slot) in [
            ("officer", &mut self.officer),
            ("auditor", &mut self.auditor),
        ] {
            let marker = format!("DEVELOPMENT ACCOUNT {role}:");
            if let Some(i) = line.find(&marker) {
                let rest = &line[i + marker.len()..];
                let field = |name: &str| {
                    rest.split_whitespace()
                        .find_map(|w| w.strip_prefix(name).map(str::to_owned))
                };
                if let (Some(user), Some(pass)) = (field("username="), field("password=")) {
                    *slot = Some((user, pass));
                }
            }
        }
    }
}

/// Read hub stdout until the address and both accounts are known. Lines are echoed to stderr
/// (with the passwords as printed: these are throwaway development accounts).
async fn read_startup(lines: &mut tokio::io::Lines<BufReader<ChildStdout>>) -> Startup {
    let mut startup = Startup::default();
    while !startup.complete() {
        match lines.next_line().await {
            Ok(Some(line)) => {
                eprintln!("[hub] {line}");
                startup.observe(&line);
            }
            Ok(None) => panic!(
                "the hub closed its stdout before printing its address and accounts: {startup:?}"
            ),
            Err(e) => panic!("reading the hub's stdout failed: {e}"),
        }
    }
    startup
}

/// Make sure playwright-core is installed next to flow.mjs.
async fn ensure_node_modules(root: &Path) {
    if root
        .join("tests/e2e/node_modules/playwright-core/package.json")
        .exists()
    {
        return;
    }
    eprintln!("tests/e2e/node_modules is missing: running npm ci --prefix tests/e2e");
    let status = Command::new("npm")
        .args(["ci", "--prefix", "tests/e2e", "--no-audit", "--no-fund"])
        .current_dir(root)
        .status()
        .await
        .expect("run npm (is node installed?)");
    assert!(
        status.success(),
        "npm ci --prefix tests/e2e failed; install playwright-core by hand"
    );
}

#[tokio::test]
#[ignore = "needs chromium and node (run by .ci/run)"]
async fn full_session_in_headless_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is required for this test"
    );
    ensure_node_modules(root).await;

    let data_dir = fresh_data_dir();
    let database = TestDatabase::fresh().expect("a fresh test database");
    let mut child = Command::new(env!("CARGO_BIN_EXE_globallink"))
        .arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(&data_dir)
        .envs(database.hub_env())
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the globallink hub");
    let stdout = child.stdout.take().expect("stdout was piped");
    let hub = HubGuard {
        child,
        data_dir,
        _database: database,
    };

    let mut lines = BufReader::new(stdout).lines();
    let startup = timeout(STARTUP_TIMEOUT, read_startup(&mut lines))
        .await
        .expect("the hub did not print its address and development accounts within 60 s");
    // Keep draining stdout so the hub never blocks on a full pipe.
    let drain = tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("[hub] {line}");
        }
    });

    let base_url = startup.base_url.expect("checked by complete()");
    let (officer_user, officer_pass) = startup.officer.expect("checked by complete()");
    let (auditor_user, auditor_pass) = startup.auditor.expect("checked by complete()");
    eprintln!("hub at {base_url}; running tests/e2e/flow.mjs");

    let mut flow = Command::new("node")
        .arg("tests/e2e/flow.mjs")
        .args([
            &base_url,
            &officer_user,
            &officer_pass,
            &auditor_user,
            &auditor_pass,
        ])
        .current_dir(root)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn node (is node installed?)");
    let status = match timeout(FLOW_TIMEOUT, flow.wait()).await {
        Ok(status) => status.expect("wait for node"),
        Err(_) => {
            let _ = flow.start_kill();
            panic!(
                "tests/e2e/flow.mjs did not finish within {} s",
                FLOW_TIMEOUT.as_secs()
            );
        }
    };

    drop(hub);
    drain.abort();
    assert!(
        status.success(),
        "the browser flow failed ({status}); see its output above"
    );
}

#[cfg(test)]
mod startup_parsing {
    use super::Startup;

    #[test]
    fn finds_address_and_accounts_with_or_without_log_prefixes() {
        let mut s = Startup::default();
        s.observe("2026-11-27T09:00:00Z  INFO globallink listening on http://127.0.0.1:40123");
        s.observe("DEVELOPMENT ACCOUNT officer: username=officer password=abc-def");
        assert!(!s.complete());
        s.observe("  DEVELOPMENT ACCOUNT auditor: username=auditor password=x y");
        assert!(s.complete());
        assert_eq!(s.base_url.as_deref(), Some("http://127.0.0.1:40123"));
        assert_eq!(s.officer, Some(("officer".into(), "abc-def".into())));
        assert_eq!(s.auditor, Some(("auditor".into(), "x".into())));
    }
}

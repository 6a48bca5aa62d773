//! The hub as a separate process (`globallink serve`), for tests that kill it, stop it or run
//! several nodes: started on port 0 with a data dir and a database, its address and first-start
//! accounts read from its standard output.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_globallink");

/// A running hub process; killed (SIGKILL) when dropped.
pub struct HubProcess {
    pub child: Child,
    pub addr: SocketAddr,
    /// What it printed up to shortly after it listened.
    pub lines: Vec<String>,
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl HubProcess {
    /// Start the hub on `data_dir`, with media on `ports` and the environment `env` (the test
    /// database's URL, node settings).
    pub fn spawn<'a>(
        data_dir: &Path,
        ports: &str,
        env: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> HubProcess {
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--ice-udp-ports",
                ports,
                "--data-dir",
            ])
            .arg(data_dir)
            .envs(env)
            .env(
                "RUST_LOG",
                std::env::var("TEST_HUB_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            // Kept beside the data for a failing test's post-mortem.
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(std::env::var_os("TEST_HUB_LOG_DIR").map_or_else(
                        || data_dir.join("hub.log"),
                        |dir| {
                            let name = data_dir.file_name().unwrap_or_default();
                            Path::new(&dir).join(name).with_extension("log")
                        },
                    ))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            )
            .spawn()
            .expect("hub starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        let mut lines = Vec::new();
        let addr = loop {
            let mut line = String::new();
            assert!(
                reader.read_line(&mut line).expect("read") > 0,
                "hub exited early: {lines:?}"
            );
            let line = line.trim_end().to_owned();
            lines.push(line.clone());
            if let Some(rest) = line.strip_prefix("globallink listening on http://") {
                break rest.parse().expect("address");
            }
        };
        // Read what follows the listening line (accounts, if any) without blocking forever.
        let mut hub = HubProcess { child, addr, lines };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in reader.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        while let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(500)) {
            hub.lines.push(line);
        }
        hub
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// SIGKILL: no chance to flush or say goodbye.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first-start development account for `role` printed in `lines`.
pub fn account(lines: &[String], role: &str) -> (String, String) {
    let prefix = format!("DEVELOPMENT ACCOUNT {role}: ");
    let line = lines
        .iter()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{role} in {lines:?}"));
    let mut parts = line.split(' ');
    let user = parts
        .next()
        .and_then(|p| p.strip_prefix("username="))
        .expect("username");
    let pass = parts
        .next()
        .and_then(|p| p.strip_prefix("password="))
        .expect("password");
    (user.to_owned(), pass.to_owned())
}

//! Invites for the load run, made the way an officer makes them: sign in over HTTP and create
//! cases with `POST /api/cases`, several requests in flight. The invite tokens go to a file,
//! one per line, so a later run (against a fresh hub process on the same data directory)
//! reuses them instead of creating the cases again.

use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use tokio::io::AsyncWriteExt;

pub struct Officer {
    pub username: String,
    pub password: String,
}

/// Invite tokens already in `path` (none if it does not exist).
pub fn read(path: &Path) -> anyhow::Result<Vec<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Make sure `path` holds at least `count` invites, creating the missing cases.
pub async fn ensure(
    base: &str,
    officer: &Officer,
    service: &str,
    count: usize,
    concurrency: usize,
    path: &Path,
) -> anyhow::Result<()> {
    let have = read(path)?.len();
    if have >= count {
        eprintln!("{have} invites already in {}", path.display());
        return Ok(());
    }
    let missing = count - have;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .context("HTTP client")?;
    let res = client
        .post(format!("{base}/api/login"))
        .json(&json!({"username": officer.username, "password": officer.password}))
        .send()
        .await
        .context("login request")?;
    if !res.status().is_success() {
        bail!("login as {} failed: {}", officer.username, res.status());
    }
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    let next = Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<anyhow::Result<String>>(1024);
    let started = Instant::now();
    for _ in 0..concurrency.max(1) {
        let (client, next, tx) = (client.clone(), next.clone(), tx.clone());
        let (base, service) = (base.to_owned(), service.to_owned());
        tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < missing {
                let made = create(&client, &base, &service).await;
                let failed = made.is_err();
                if tx.send(made).await.is_err() || failed {
                    return;
                }
            }
        });
    }
    drop(tx);
    let mut made = 0;
    while let Some(token) = rx.recv().await {
        file.write_all(format!("{}\n", token?).as_bytes()).await?;
        made += 1;
        if made % 2000 == 0 {
            eprintln!(
                "  {made}/{missing} cases created ({:.0}/s)",
                made as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    file.flush().await?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "created {made} cases in {secs:.1} s ({:.0}/s)",
        made as f64 / secs
    );
    if made < missing {
        bail!("only {made} of {missing} cases were created");
    }
    Ok(())
}

async fn create(client: &reqwest::Client, base: &str, service: &str) -> anyhow::Result<String> {
    let res = client
        .post(format!("{base}/api/cases"))
        .json(&json!({
            "service": service,
            "applicant_name": "Load Test",
            "applicant_tz": "Europe/Lisbon",
            "applicant_lang": "pt",
        }))
        .send()
        .await
        .context("create case")?;
    let status = res.status();
    if status.as_u16() != 201 {
        bail!(
            "create case: {status}: {}",
            res.text().await.unwrap_or_default()
        );
    }
    let body: Value = res.json().await.context("case JSON")?;
    body["invite_token"]
        .as_str()
        .map(str::to_owned)
        .context("no invite_token in the answer")
}

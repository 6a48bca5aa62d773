//! The `globallink` command line: `serve` (the default), `verify` and `pki`.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use globallink::clock::{Clock, SystemClock};
use globallink::config::{Config, LogFormat, Overrides};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "globallink",
    version,
    about = "Hub for video consultation and remote notarization"
)]
struct Cli {
    /// TOML configuration file (default: ./globallink.toml if it exists).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hub (the default).
    Serve(ServeArgs),
    /// Verify an artefact bundle offline. Exit status: 0 valid, 1 invalid, 3 an input could
    /// not be read (2 is a usage error).
    Verify {
        /// The bundle (.zip) to verify.
        bundle: PathBuf,
        /// PEM file with the trusted office CA certificate(s).
        #[arg(long)]
        trust: PathBuf,
        /// File with the transparency log's verifier key (`<origin>+<id>+<key>`, one per
        /// line). Defaults to `log.vkey` beside the --trust file, where the hub keeps it.
        #[arg(long)]
        log_key: Vec<PathBuf>,
        /// Office revocation list (PEM or DER) to check the officer's certificate against,
        /// besides the one the bundle carries. Defaults to `office.crl` beside the --trust
        /// file, where the hub publishes it.
        #[arg(long)]
        crl: Vec<PathBuf>,
        /// Base URL of the hub whose log the bundle is in (e.g. `https://desk.example.org`):
        /// fetch its current checkpoint and a consistency proof from the bundle's checkpoint,
        /// and check that the log only grew since (no fork, no rollback).
        #[arg(long)]
        log_url: Option<String>,
        /// Print the report as JSON instead of one line per check.
        #[arg(long)]
        json: bool,
    },
    /// Manage the development office PKI.
    Pki {
        #[command(subcommand)]
        command: PkiCommand,
    },
    /// Back up or restore the data directory and the SQLite database.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Manage officer and auditor accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Write a consistent backup (database snapshot, keys, artefacts, recordings) to a zip
    /// file, mode 0600. Safe while the hub runs.
    Backup {
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into the data directory. Stop the hub first.
    Restore {
        #[arg(long)]
        from: PathBuf,
        /// Restore even though the data directory is not empty (files in the backup replace
        /// files of the same name).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account; prints its random password once.
    Add {
        #[arg(long)]
        username: String,
        /// `officer` or `auditor`.
        #[arg(long, value_parser = ["officer", "auditor"])]
        role: String,
        /// The name shown to applicants and in the console.
        #[arg(long)]
        name: String,
    },
    /// Set an officer's skills, languages and schedule from a JSON file (see README).
    Profile {
        #[arg(long)]
        username: String,
        #[arg(long)]
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum PkiCommand {
    /// Create the development office CA and hub certificate (kept if they exist).
    Init {
        /// Directory for the PKI files (default: <data_dir>/pki).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Issue an officer a certificate for their P-256 public key (SPKI, PEM or DER) and
    /// print it (PEM).
    Issue {
        #[arg(long)]
        username: String,
        #[arg(long)]
        public_key: PathBuf,
        /// Validity in days.
        #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=825))]
        days: u32,
    },
    /// Revoke a certificate by serial and publish the new revocation list.
    Revoke {
        #[arg(long)]
        serial: u64,
        #[arg(long, value_parser = ["unspecified", "key-compromise", "affiliation-changed", "superseded", "cessation-of-operation"])]
        reason: Option<String>,
    },
    /// List issued certificates with their status.
    List,
}

#[derive(Args, Default)]
struct ServeArgs {
    #[arg(long)]
    listen: Option<SocketAddr>,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long)]
    database_url: Option<String>,
    #[arg(long)]
    public_ip: Option<IpAddr>,
    /// UDP port range for media, e.g. 50000-50199.
    #[arg(long)]
    ice_udp_ports: Option<String>,
    #[arg(long, value_parser = ["text", "json"])]
    log_format: Option<String>,
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,webrtc=warn,rtc=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Raise the soft limit on open files to the hard limit: every signalling socket is a file
/// descriptor, and a common soft default (1024) would cap the hub at about a thousand waiting
/// applicants.
fn raise_open_files_limit() {
    let before = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(0, |(soft, _)| soft);
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) if now > before => tracing::info!(before, now, "raised the open files limit"),
        Ok(now) => tracing::info!(limit = now, "open files limit"),
        Err(e) => tracing::warn!("cannot raise the open files limit ({before}): {e}"),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => serve(cli.config, args).await,
        Command::Verify {
            bundle,
            trust,
            log_key,
            crl,
            log_url,
            json,
        } => verify(bundle, trust, log_key, crl, log_url, json).await,
        Command::User { command } => user(cli.config, command).await,
        Command::Admin { command } => admin(cli.config, command).await,
        Command::Pki { command } => pki(cli.config, command).await,
    }
}

async fn pki(config_file: Option<PathBuf>, command: PkiCommand) -> anyhow::Result<()> {
    use globallink::seal::officer_pki::Reason;
    if let PkiCommand::Init { dir } = command {
        let config = Config::load(config_file.as_deref(), &Overrides::default())?;
        let dir = dir.unwrap_or_else(|| config.data_dir.join("pki"));
        let (identity, created) = globallink::seal::pki::ensure_dev_pki(&dir, SystemClock.now())?;
        println!(
            "{} development PKI in {}\n  office CA: {}\n  hub certificate: {}",
            if created { "created" } else { "kept existing" },
            dir.display(),
            dir.join("office-ca.pem").display(),
            identity.hub_subject(),
        );
        return Ok(());
    }
    let settings = Config::load(config_file.as_deref(), &Overrides::default())?.validate()?;
    let pki_dir = settings.config.data_dir.join("pki");
    let store = globallink::store::open(&settings.database_url)
        .await
        .context("opening the database")?;
    let now = SystemClock.now();
    match command {
        PkiCommand::Init { .. } => {}
        PkiCommand::Issue {
            username,
            public_key,
            days,
        } => {
            let user = store
                .user_by_name(&username)
                .await?
                .context("no such user")?;
            let raw = std::fs::read(&public_key)
                .with_context(|| format!("reading {}", public_key.display()))?;
            let spki = match x509_parser::pem::parse_x509_pem(&raw) {
                Ok((_, pem)) if pem.label == "PUBLIC KEY" => pem.contents,
                _ => raw,
            };
            let cert =
                globallink::certificates::issue(&*store, &pki_dir, &user, &spki, now, days).await?;
            eprintln!(
                "issued serial {} to {} until {}",
                cert.serial,
                user.username,
                cert.not_after.to_rfc3339()
            );
            print!(
                "{}",
                globallink::seal::pki::pem_encode("CERTIFICATE", &cert.der)
            );
        }
        PkiCommand::Revoke { serial, reason } => {
            let reason = match reason.as_deref() {
                Some("key-compromise") => Some(Reason::KeyCompromise),
                Some("affiliation-changed") => Some(Reason::AffiliationChanged),
                Some("superseded") => Some(Reason::Superseded),
                Some("cessation-of-operation") => Some(Reason::CessationOfOperation),
                Some(_) => Some(Reason::Unspecified),
                None => None,
            };
            let crl = pki_dir.join(globallink::certificates::CRL_FILE);
            globallink::certificates::revoke(&*store, &pki_dir, serial, reason, now).await?;
            println!("revoked serial {serial}; published {}", crl.display());
        }
        PkiCommand::List => {
            for c in store.officer_certificates().await? {
                let who = store
                    .user(c.officer_id)
                    .await?
                    .map(|u| u.username)
                    .unwrap_or_default();
                let status = match c.revoked_at {
                    Some(at) => format!("revoked {}", at.to_rfc3339()),
                    None if c.not_after < now => "expired".to_owned(),
                    None => "valid".to_owned(),
                };
                println!(
                    "{}\t{who}\t{} .. {}\t{status}",
                    c.serial,
                    c.not_before.to_rfc3339(),
                    c.not_after.to_rfc3339()
                );
            }
        }
    }
    Ok(())
}

async fn admin(config_file: Option<PathBuf>, command: AdminCommand) -> anyhow::Result<()> {
    let settings = Config::load(config_file.as_deref(), &Overrides::default())?.validate()?;
    let data = &settings.config.data_dir;
    match command {
        AdminCommand::Backup { out } => {
            let files = globallink::backup::backup(data, &settings.database_url, &out).await?;
            println!(
                "backed up {files} files to {} (it holds private keys: keep it safe)",
                out.display()
            );
        }
        AdminCommand::Restore { from, force } => {
            let files =
                globallink::backup::restore(&from, data, &settings.database_url, force).await?;
            println!("restored {files} files into {}", data.display());
        }
    }
    Ok(())
}

async fn user(config_file: Option<PathBuf>, command: UserCommand) -> anyhow::Result<()> {
    use globallink::store::{Role, UserRecord};
    let settings = Config::load(config_file.as_deref(), &Overrides::default())?.validate()?;
    std::fs::create_dir_all(&settings.config.data_dir)?;
    let store = globallink::store::open(&settings.database_url)
        .await
        .context("opening the database")?;
    let clock = SystemClock;
    match command {
        UserCommand::Add {
            username,
            role,
            name,
        } => {
            anyhow::ensure!(
                store.user_by_name(&username).await?.is_none(),
                "{username} exists"
            );
            let password = globallink::auth::random_password();
            let user = UserRecord {
                id: globallink::ids::UserId::random(),
                username: username.clone(),
                display_name: name,
                role: Role::parse(&role).context("role must be officer or auditor")?,
                password_hash: globallink::auth::hash_password(&password)?,
                created_at: clock.now(),
            };
            store.create_user(&user).await?;
            println!("created {role} {username} with password {password} (shown only now)");
        }
        UserCommand::Profile { username, file } => {
            let user = store
                .user_by_name(&username)
                .await?
                .context("no such user")?;
            anyhow::ensure!(user.role == Role::Officer, "{username} is not an officer");
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let profile: globallink::officers::OfficerProfile = serde_json::from_str(&text)
                .context("the profile JSON does not match the format")?;
            globallink::officers::save(&*store, &clock, user.id, &profile).await?;
            println!("profile of {username} saved");
        }
    }
    Ok(())
}

/// Exit status of `verify` when an input cannot be read or parsed.
const VERIFY_INPUT_ERROR: i32 = 3;

async fn verify(
    bundle: PathBuf,
    trust: PathBuf,
    log_keys: Vec<PathBuf>,
    crl_files: Vec<PathBuf>,
    log_url: Option<String>,
    json: bool,
) -> ! {
    let inputs = async {
        let trust_pem =
            std::fs::read(&trust).with_context(|| format!("reading {}", trust.display()))?;
        let certificates = globallink::seal::pki::load_trust_anchors(&trust_pem)
            .with_context(|| format!("reading {}", trust.display()))?;
        let log_keys = if log_keys.is_empty() {
            // The hub keeps log.vkey beside office-ca.pem; without it the log check fails
            // with a reason instead.
            let beside = trust.with_file_name(globallink::transparency::LOG_VKEY_FILE);
            if beside.is_file() {
                vec![beside]
            } else {
                Vec::new()
            }
        } else {
            log_keys
        };
        let mut verifiers = Vec::new();
        for path in &log_keys {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                verifiers.push(
                    globallink::translog::LogVerifier::new(line)
                        .with_context(|| format!("{}: not a log verifier key", path.display()))?,
                );
            }
        }
        let crl_files = if crl_files.is_empty() {
            let beside = trust.with_file_name(globallink::certificates::CRL_FILE);
            if beside.is_file() {
                vec![beside]
            } else {
                Vec::new()
            }
        } else {
            crl_files
        };
        let mut crls = Vec::new();
        for path in &crl_files {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            crls.extend(
                globallink::seal::pki::load_crls(&bytes)
                    .with_context(|| format!("reading {}", path.display()))?,
            );
        }
        let bytes =
            std::fs::read(&bundle).with_context(|| format!("reading {}", bundle.display()))?;
        let log_head = match &log_url {
            Some(url) => Some(fetch_log_head(url, &bytes, &verifiers).await?),
            None => None,
        };
        anyhow::Ok((
            bytes,
            globallink::seal::Trust {
                certificates,
                log_keys: verifiers,
                crls,
                log_head,
            },
        ))
    }
    .await;
    let (bytes, trust) = match inputs {
        Ok(inputs) => inputs,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(VERIFY_INPUT_ERROR);
        }
    };
    // Recordings missing after their signed retention deadline are judged at this time.
    let report =
        globallink::seal::verify::verify_bundle_at(&bytes, &trust, Some(chrono::Utc::now()));
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(VERIFY_INPUT_ERROR);
            }
        }
    } else {
        print!("{}", report.render_text());
    }
    std::process::exit(if report.ok { 0 } else { 1 });
}

/// The log's current checkpoint and the consistency proof from the bundle's checkpoint, from
/// the hub at `url`.
async fn fetch_log_head(
    url: &str,
    bundle: &[u8],
    keys: &[globallink::translog::LogVerifier],
) -> anyhow::Result<globallink::seal::verify::LogHead> {
    let base = url.trim_end_matches('/');
    let inclusion = globallink::seal::verify::log_inclusion(bundle)
        .map_err(|e| anyhow::anyhow!("the bundle's log proof: {e}"))?;
    let key = keys
        .iter()
        .find(|k| k.name() == inclusion.origin)
        .with_context(|| format!("no verifier key for log {:?}", inclusion.origin))?;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    let fetch = |path: String| {
        let client = client.clone();
        async move {
            let res = client
                .get(&path)
                .send()
                .await
                .with_context(|| format!("fetching {path}"))?;
            if !res.status().is_success() {
                anyhow::bail!("fetching {path}: HTTP {}", res.status());
            }
            res.text().await.with_context(|| format!("reading {path}"))
        }
    };
    let checkpoint = fetch(format!("{base}/api/log/checkpoint")).await?;
    // The size is needed to ask for the proof; the verifier checks the signature again.
    let current = key
        .open_checkpoint(&checkpoint, &inclusion.origin)
        .map_err(|e| anyhow::anyhow!("the checkpoint served at {base} does not verify: {e}"))?;
    let mut consistency = Vec::new();
    if current.size > inclusion.tree_size {
        let text = fetch(format!(
            "{base}/api/log/consistency?from={}&to={}",
            inclusion.tree_size, current.size
        ))
        .await?;
        let proof: serde_json::Value = serde_json::from_str(&text).context("consistency proof")?;
        for hash in proof["proof"]
            .as_array()
            .context("consistency proof: no proof")?
        {
            let bytes = hex::decode(hash.as_str().unwrap_or_default())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .context("consistency proof: not a 32-byte hex hash")?;
            consistency.push(bytes);
        }
    }
    Ok(globallink::seal::verify::LogHead {
        source: base.to_owned(),
        checkpoint,
        consistency,
    })
}

async fn serve(config_file: Option<PathBuf>, args: ServeArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        listen: args.listen,
        data_dir: args.data_dir,
        database_url: args.database_url,
        public_ip: args.public_ip,
        ice_udp_ports: args.ice_udp_ports,
        log_format: match args.log_format.as_deref() {
            Some("json") => Some(LogFormat::Json),
            Some(_) => Some(LogFormat::Text),
            None => None,
        },
    };
    let mut settings = Config::load(config_file.as_deref(), &overrides)?.validate()?;
    init_tracing(settings.config.log_format);
    raise_open_files_limit();
    std::fs::create_dir_all(&settings.config.data_dir)
        .with_context(|| format!("creating data dir {}", settings.config.data_dir.display()))?;
    let store = globallink::store::open(&settings.database_url)
        .await
        .context("opening the database")?;
    let listener = tokio::net::TcpListener::bind(settings.config.listen)
        .await
        .with_context(|| format!("binding {}", settings.config.listen))?;
    let local = listener.local_addr()?;
    if settings.config.public_url.is_none() {
        // Invite links must name the port actually bound (`--listen 127.0.0.1:0`).
        settings.public_url = format!("{}://{local}", settings.scheme());
    }
    let web = settings.web_dir.clone();
    let started = globallink::state::start(settings, store, Arc::new(SystemClock), web).await?;
    if started.pki_created {
        println!(
            "Created the development office PKI in {}",
            started.state.paths.pki.display()
        );
    }
    if started.recovered > 0 {
        println!(
            "{} session(s) left open by a previous run were marked interrupted and sealed",
            started.recovered
        );
    }
    let scheme = started.state.settings.scheme();
    println!("globallink listening on {scheme}://{local}");
    println!("  officer console: {scheme}://{local}/console   auditor: {scheme}://{local}/audit");
    if let Some(accounts) = &started.dev_accounts {
        println!("DEVELOPMENT ACCOUNTS (created on first start, shown only this once):");
        println!(
            "DEVELOPMENT ACCOUNT officer: username={} password={}",
            accounts.officer.0, accounts.officer.1
        );
        println!(
            "DEVELOPMENT ACCOUNT auditor: username={} password={}",
            accounts.auditor.0, accounts.auditor.1
        );
    }
    // On SIGTERM or Ctrl-C: drain first (no new sessions, clients told, open sessions ended as
    // interrupted and sealed, within `drain_timeout_secs`), then stop serving HTTP. Sessions
    // still open after the bound keep their chains and are sealed at the next start.
    let state = started.state.clone();
    let bound = std::time::Duration::from_secs(u64::from(state.settings.config.drain_timeout_secs));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        shutdown_signal().await;
        tracing::info!("shutting down: draining sessions");
        let left = globallink::session::drain(&state, "the hub was asked to stop", bound).await;
        tracing::info!(still_open = left, "drained; closing connections");
        let _ = stop_tx.send(());
    };
    let server = globallink::run(listener, started.state, shutdown);
    tokio::select! {
        result = server => result?,
        _ = async {
            let _ = stop_rx.await;
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        } => tracing::warn!("connections still open 5 s after the drain; exiting"),
    }
    Ok(())
}

//! The hub's shared state ([`AppState`]) and how it is assembled on start: data directories,
//! the store, the development PKI, the hub secret, first-start accounts, crash recovery and the
//! retention sweep.

use crate::auth::{Tickets, hash_password, random_password};
use crate::catalogue::Catalogue;
use crate::clock::Clock;
use crate::config::Settings;
use crate::ids::SessionId;
use crate::ids::UserId;
use crate::media::{MediaConfig, PortPool};
use crate::pairing::DeskHandle;
use crate::seal::pki::{HubIdentity, ensure_dev_pki};
use crate::session::SessionCmd;
use crate::store::{Role, Store, StoreError, UserRecord};
use crate::vault::Vault;
use std::collections::HashMap;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Directories under the data dir.
#[derive(Clone, Debug)]
pub struct Paths {
    pub data: PathBuf,
    pub pki: PathBuf,
    pub recordings: PathBuf,
    pub artefacts: PathBuf,
    pub web: PathBuf,
}

impl Paths {
    pub fn new(data: &Path, web: PathBuf) -> Self {
        Self {
            data: data.to_path_buf(),
            pki: data.join("pki"),
            recordings: data.join("recordings"),
            artefacts: data.join("artefacts"),
            web,
        }
    }
}

pub struct Hub {
    pub settings: Settings,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub identity: Arc<HubIdentity>,
    /// What the hub's own auditor views verify bundles against: its office CA and its log.
    pub trust: crate::seal::verify::Trust,
    /// The transparency log every sealed artefact is appended to.
    pub log: crate::transparency::Transparency,
    /// What `/metrics` exports.
    pub metrics: crate::metrics::Metrics,
    /// The hub secret: keyed hashes of identity numbers, per-case document encryption.
    pub vault: Vault,
    pub catalogue: Catalogue,
    /// Office-wide public holidays.
    pub calendar: crate::schedule::Calendar,
    /// Which session each participant is in, so a returning connection can rejoin it.
    pub live: Mutex<HashMap<Participant, SessionId>>,
    /// Sessions open on this hub, for HTTP handlers that add to them (uploads).
    pub sessions: Mutex<HashMap<SessionId, mpsc::Sender<SessionCmd>>>,
    pub tickets: Tickets,
    /// Guest links handed out by officers in this hub's sessions.
    pub guest_passes: crate::session::GuestPasses,
    pub login_limits: crate::api::guard::LoginLimits,
    pub media: MediaConfig,
    pub paths: Paths,
    pub desk: DeskHandle,
    /// The time-stamping authority, when one is configured.
    pub timestamps: Option<crate::timestamps::Timestamper>,
    /// What the signalling connections watch, one of these per group of them: the keepalive
    /// beat, and whether the hub is shutting down (no new sessions, connections told to go).
    pub pulses: [tokio::sync::watch::Sender<Pulse>; PULSE_GROUPS],
    /// Open proof-of-possession challenges of officers enrolling a signing key.
    pub enrolments: std::sync::Mutex<crate::certificates::Enrolments>,
    /// The HTTPS configuration `run` serves with, loaded from `tls_cert` and `tls_key`.
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    /// The other hub nodes on the same PostgreSQL database (none on SQLite).
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
}

/// Signalling connections are spread over this many [`Pulse`]s, which beat in turn: each
/// connection still hears one beat per `keepalive_secs`, and the pings go out in small groups
/// through the interval instead of all at once.
pub const PULSE_GROUPS: usize = 32;

/// The hub-wide signal a group of signalling connections waits on: a connection's task then
/// holds no timer of its own (`docs/benchmarks.md`, signalling load).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pulse {
    /// The hub is shutting down.
    pub draining: bool,
    /// Counts keepalive beats, one every `keepalive_secs`.
    pub beat: u32,
}

impl Hub {
    /// Whether the hub is shutting down.
    pub fn is_draining(&self) -> bool {
        self.pulses.iter().any(|p| p.borrow().draining)
    }

    /// From now on no session starts and every connection is told the hub is going.
    pub fn start_draining(&self) {
        for pulse in self.pulses.iter() {
            pulse.send_modify(|p| p.draining = true);
        }
    }

    /// The pulse of connection number `conn`.
    pub fn pulse_of(&self, conn: u64) -> tokio::sync::watch::Receiver<Pulse> {
        self.pulses[(conn % PULSE_GROUPS as u64) as usize].subscribe()
    }
}

/// A session participant, as a returning connection identifies itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Participant {
    Applicant(crate::ids::CaseId),
    Officer(crate::ids::UserId),
}

/// Cheap-to-clone handle to the [`Hub`].
#[derive(Clone)]
pub struct AppState(pub Arc<Hub>);

impl Deref for AppState {
    type Target = Hub;
    fn deref(&self) -> &Hub {
        &self.0
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error("cannot prepare {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("development PKI: {0}")]
    Pki(String),
    #[error("cannot create accounts: {0}")]
    Accounts(String),
    #[error("recovering interrupted sessions: {0}")]
    Recover(String),
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
    #[error(transparent)]
    Catalogue(#[from] crate::catalogue::CatalogueError),
    #[error("holiday calendar: {0}")]
    Calendar(String),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// Credentials of the development accounts created on first start. Shown once.
#[derive(Clone, Debug)]
pub struct DevAccounts {
    pub officer: (String, String),
    pub auditor: (String, String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StartError + '_ {
    move |source| StartError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Create the officer and auditor development accounts if the database has no account yet.
pub async fn ensure_dev_accounts(
    store: &dyn Store,
    clock: &dyn Clock,
    catalogue: &Catalogue,
) -> Result<Option<DevAccounts>, StartError> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let mut created = Vec::new();
    for (username, display_name, role) in [
        ("officer", "Officer Wang (development)", Role::Officer),
        ("auditor", "Auditor (development)", Role::Auditor),
    ] {
        let password = random_password();
        let user = UserRecord {
            id: UserId::random(),
            username: username.into(),
            display_name: display_name.into(),
            role,
            password_hash: hash_password(&password)
                .map_err(|e| StartError::Accounts(e.to_string()))?,
            created_at: clock.now(),
        };
        store.create_user(&user).await?;
        if role == Role::Officer {
            let skills = catalogue
                .services()
                .iter()
                .map(|s| s.skill.clone())
                .collect();
            crate::officers::save(store, clock, user.id, &crate::officers::dev_profile(skills))
                .await?;
        }
        created.push((username.to_owned(), password));
    }
    let auditor = created
        .pop()
        .ok_or_else(|| StartError::Accounts("no auditor".into()))?;
    let officer = created
        .pop()
        .ok_or_else(|| StartError::Accounts("no officer".into()))?;
    Ok(Some(DevAccounts { officer, auditor }))
}

/// Everything `serve` needs, ready to route.
pub struct Started {
    pub state: AppState,
    pub dev_accounts: Option<DevAccounts>,
    pub pki_created: bool,
    pub recovered: usize,
}

/// Prepare the data dir, PKI, secret and accounts, recover sessions left open by a crash, and
/// start the desk.
pub async fn start(
    settings: Settings,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    web: PathBuf,
) -> Result<Started, StartError> {
    // First, so a bad certificate stops the hub before it writes anything.
    let tls = match &settings.tls {
        Some(files) => Some(crate::tls::server_config(files, clock.now())?),
        None => None,
    };
    let paths = Paths::new(&settings.config.data_dir, web);
    for dir in [&paths.data, &paths.pki, &paths.recordings, &paths.artefacts] {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    // Before any session can seal: what a crash left half written is not an artefact.
    match crate::seal::bundle::sweep_temporaries(&paths.artefacts) {
        Ok(0) => {}
        Ok(removed) => tracing::info!(
            removed,
            "removed half-written artefact files left by a crash"
        ),
        Err(e) => tracing::warn!("could not clear half-written artefact files: {e}"),
    }
    let (identity, pki_created) =
        ensure_dev_pki(&paths.pki, clock.now()).map_err(|e| StartError::Pki(e.to_string()))?;
    let log = crate::transparency::Transparency::open(
        &paths.pki,
        &crate::transparency::origin_for(&settings.public_url),
        store.clone(),
    )
    .await
    .map_err(|e| StartError::Pki(e.to_string()))?;
    let timestamps = match (&settings.config.tsa_url, &settings.config.tsa_trust) {
        (Some(url), Some(roots)) => {
            let pem = std::fs::read(roots).map_err(io_err(roots))?;
            let roots = crate::seal::load_trust_anchors(&pem)
                .map_err(|e| StartError::Pki(format!("tsa_trust: {e}")))?;
            Some(crate::timestamps::Timestamper::new(url.clone(), roots))
        }
        _ => None,
    };
    let mut certificates = vec![identity.ca_der().to_vec()];
    if let Some(t) = &timestamps {
        certificates.extend(t.roots().iter().cloned());
    }
    let trust = crate::seal::verify::Trust {
        certificates,
        log_keys: vec![log.verifier()],
        crls: Vec::new(),
        log_head: None,
    };
    let vault = Vault::open_or_create(&paths.data.join("hub-secret"))?;
    let catalogue = Catalogue::load(settings.config.catalogue.as_deref())?;
    let dev_accounts = ensure_dev_accounts(store.as_ref(), clock.as_ref(), &catalogue).await?;
    let calendar = match &settings.config.calendar {
        Some(path) => std::fs::read_to_string(path).map_err(io_err(path))?,
        None => crate::schedule::DEFAULT_CALENDAR_TOML.to_owned(),
    };
    let calendar = crate::schedule::Calendar::parse_toml(&calendar)
        .map_err(|e| StartError::Calendar(e.to_string()))?;
    let runtime = webrtc::runtime::default_runtime()
        .ok_or_else(|| StartError::Pki("no async runtime for media".into()))?;
    let media = MediaConfig {
        media_ip: settings.config.media_ip,
        public_ip: settings.config.public_ip,
        ports: PortPool::new(settings.ports),
        runtime,
    };
    let cluster = match crate::store::Engine::of(&settings.database_url) {
        Some(crate::store::Engine::Postgres) => Some(Arc::new(
            crate::cluster::Cluster::join(
                &settings.database_url,
                &settings.config.node_id,
                &settings.public_url,
            )
            .await?,
        )),
        _ => None,
    };
    let (desk, desk_rx) = DeskHandle::channel();
    let state = AppState(Arc::new(Hub {
        cluster,
        settings,
        store,
        clock,
        identity: Arc::new(identity),
        trust,
        timestamps,
        enrolments: std::sync::Mutex::new(crate::certificates::Enrolments::default()),
        pulses: std::array::from_fn(|_| tokio::sync::watch::channel(Pulse::default()).0),
        tls,
        log,
        metrics: crate::metrics::Metrics::new(),
        vault,
        catalogue,
        calendar,
        sessions: Mutex::new(HashMap::new()),
        live: Mutex::new(HashMap::new()),
        tickets: Tickets::default(),
        guest_passes: Default::default(),
        login_limits: crate::api::guard::LoginLimits::default(),
        media,
        paths,
        desk,
    }));
    let recovered = crate::session::recover_interrupted(&state)
        .await
        .map_err(|e| StartError::Recover(e.to_string()))?;
    // Finish destructions a crash interrupted, then sweep now and every hour.
    match crate::seal::retention::resume(
        state.store.as_ref(),
        &state.vault,
        &state.paths.artefacts,
        &state.paths.recordings,
    )
    .await
    {
        Ok(0) => {}
        Ok(finished) => tracing::info!(finished, "finished interrupted retention destructions"),
        Err(e) => tracing::warn!("could not finish interrupted retention destructions: {e}"),
    }
    tokio::spawn(crate::seal::retention::run(
        state.store.clone(),
        state.clock.clone(),
        state.paths.artefacts.clone(),
    ));
    if let Some(cluster) = state.cluster.clone() {
        tokio::spawn(crate::pairing::listen(cluster.clone(), state.desk.clone()));
        tokio::spawn(crate::session::watch_nodes(state.clone(), cluster));
    }
    tokio::spawn(crate::pairing::run(state.clone(), desk_rx));
    tokio::spawn(crate::signal::gateway::keepalive(state.clone()));
    Ok(Started {
        state,
        dev_accounts,
        pki_created,
        recovered,
    })
}

//! One simulated client: a WebSocket from a chosen source address, signed in the server's way,
//! then idle with keepalives until the coordinator asks it for a timed round trip or (on the
//! hub) to leave or rejoin the queue.
//!
//! globallink: `{"type":"auth","invite":…}` → `welcome`, optionally `join_queue` → the first
//! `queue_position`; the keepalive is `{"type":"ping"}` (answered by `pong`), and the timed
//! round trip is a `ping` → `pong`. The hub's own WebSocket pings are answered by tungstenite.
//!
//! PeerJS: `/peerjs?key=peerjs&id=…&token=…` → `OPEN`; the keepalive is `HEARTBEAT` (no
//! answer), and the timed round trip is a `CANDIDATE` addressed to the client's own id, which
//! the server relays back to it.

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// How long each step of signing in may take before the client counts as failed.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Server {
    /// globallink's `/ws` signalling socket.
    Hub,
    /// A PeerJS server (`peer` on npm).
    Peerjs,
}

/// What the coordinator asks of a client.
#[derive(Clone, Copy, Debug)]
pub enum Cmd {
    /// Send one timed round trip.
    Ping,
    /// Hub only: `leave_queue`.
    Leave,
    /// Hub only: `join_queue`.
    Join,
}

/// Counters and samples every client reports into.
pub struct Shared {
    pub server: Server,
    pub base: Instant,
    /// Clients connected and signed in, and not closed since.
    pub alive: AtomicUsize,
    /// Clients whose socket closed or failed after signing in.
    pub dropped: AtomicUsize,
    /// `error` / `ERROR` messages received.
    pub errors: AtomicU64,
    /// `queue_position` messages received.
    pub queue_updates: AtomicU64,
    /// Timed round trips, in nanoseconds.
    pub rtts: Mutex<Vec<u64>>,
    /// Each client's last known queue position (0: not queued).
    pub positions: Vec<AtomicU32>,
    /// The fan-out round in progress (0: none), when it started (ns since `base`), how many
    /// clients have seen it so far, and each one's delay (ns).
    pub round: AtomicU64,
    pub round_t0: AtomicU64,
    pub round_seen: AtomicUsize,
    pub round_delays: Mutex<Vec<u64>>,
}

impl Shared {
    pub fn new(server: Server, clients: usize) -> Shared {
        Shared {
            server,
            base: Instant::now(),
            alive: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            errors: AtomicU64::new(0),
            queue_updates: AtomicU64::new(0),
            rtts: Mutex::new(Vec::new()),
            positions: (0..clients).map(|_| AtomicU32::new(0)).collect(),
            round: AtomicU64::new(0),
            round_t0: AtomicU64::new(0),
            round_seen: AtomicUsize::new(0),
            round_delays: Mutex::new(Vec::new()),
        }
    }

    pub fn since_base(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }
}

/// Where and how one client connects.
pub struct Spec {
    pub index: usize,
    pub source: Ipv4Addr,
    pub server: SocketAddr,
    /// The hub invite token; unused for PeerJS (ids are made from the index).
    pub invite: Option<String>,
    /// Hub only: join the walk-in queue after signing in.
    pub queue: bool,
    pub keepalive: Duration,
}

type Ws = WebSocketStream<TcpStream>;

#[derive(Deserialize)]
struct Incoming {
    #[serde(rename = "type")]
    kind: String,
    position: Option<u32>,
    code: Option<String>,
}

fn ws_config() -> WebSocketConfig {
    // The client side is not what is measured, but 50,000 of them must fit in one process.
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(1 << 20)
        .max_message_size(Some(16 << 20))
}

/// Connect and sign in. On failure, returns a short reason for the failure tally.
pub async fn open(spec: &Spec) -> Result<Ws, String> {
    let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {}", e.kind()))?;
    socket
        .bind(SocketAddr::new(spec.source.into(), 0))
        .map_err(|e| format!("bind {}: {}", spec.source, e.kind()))?;
    let tcp = tokio::time::timeout(STEP_TIMEOUT, socket.connect(spec.server))
        .await
        .map_err(|_| "connect: timeout".to_owned())?
        .map_err(|e| format!("connect: {}", e.kind()))?;
    let _ = tcp.set_nodelay(true);
    let url = match &spec.invite {
        Some(_) => format!("ws://{}/ws", spec.server),
        None => format!(
            "ws://{}/peerjs?key=peerjs&id=c{i}&token=t{i}",
            spec.server,
            i = spec.index
        ),
    };
    let (mut ws, _) = tokio::time::timeout(
        STEP_TIMEOUT,
        tokio_tungstenite::client_async_with_config(url, tcp, Some(ws_config())),
    )
    .await
    .map_err(|_| "handshake: timeout".to_owned())?
    .map_err(|e| format!("handshake: {e}"))?;
    match &spec.invite {
        Some(invite) => {
            let auth = serde_json::json!({"v": 1, "type": "auth", "invite": invite});
            send(&mut ws, auth.to_string()).await?;
            expect(&mut ws, "welcome").await?;
        }
        None => {
            expect(&mut ws, "OPEN").await?;
        }
    }
    Ok(ws)
}

async fn send(ws: &mut Ws, text: String) -> Result<(), String> {
    ws.send(Message::Text(text.into()))
        .await
        .map_err(|e| format!("send: {e}"))
}

/// Wait for a message of `kind`; an error message or a close fails.
async fn expect(ws: &mut Ws, kind: &str) -> Result<Incoming, String> {
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| format!("no {kind}: timeout"))?;
        match msg {
            Some(Ok(Message::Text(t))) => {
                let msg: Incoming =
                    serde_json::from_str(&t).map_err(|_| format!("no {kind}: bad JSON"))?;
                if msg.kind == kind {
                    return Ok(msg);
                }
                if msg.kind == "error" || msg.kind == "ERROR" {
                    return Err(format!(
                        "{kind}: error {}",
                        msg.code.as_deref().unwrap_or("(payload)")
                    ));
                }
            }
            Some(Ok(Message::Close(_))) | None => return Err(format!("no {kind}: closed")),
            Some(Err(e)) => return Err(format!("no {kind}: {e}")),
            Some(Ok(_)) => {}
        }
    }
}

/// Hub only: join the queue and wait for the first position.
pub async fn join_queue(ws: &mut Ws, spec: &Spec, shared: &Shared) -> Result<(), String> {
    send(ws, r#"{"type":"join_queue"}"#.to_owned()).await?;
    let first = expect(ws, "queue_position").await?;
    shared.positions[spec.index].store(first.position.unwrap_or(0), Ordering::Relaxed);
    shared.queue_updates.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Hold the connection until it closes or the coordinator drops its command sender.
pub async fn idle(mut ws: Ws, spec: Spec, shared: Arc<Shared>, mut cmds: mpsc::Receiver<Cmd>) {
    shared.alive.fetch_add(1, Ordering::Relaxed);
    // Spread keepalives evenly over the interval rather than all at once.
    let n = shared.positions.len().max(1) as u128;
    let offset = spec.keepalive.as_nanos() * (spec.index as u128 % n) / n;
    let first = tokio::time::Instant::now() + Duration::from_nanos(offset as u64) + spec.keepalive;
    let mut keepalive = tokio::time::interval_at(first, spec.keepalive);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Round trips in flight, oldest first: when each was sent, and whether it is timed.
    let mut in_flight: VecDeque<(Instant, bool)> = VecDeque::new();
    let mut round_seen = 0u64;
    let (keepalive_msg, timed_msg, echo) = match shared.server {
        Server::Hub => (
            r#"{"type":"ping"}"#.to_owned(),
            r#"{"type":"ping"}"#.to_owned(),
            "pong",
        ),
        Server::Peerjs => (
            r#"{"type":"HEARTBEAT"}"#.to_owned(),
            format!(
                r#"{{"type":"CANDIDATE","dst":"c{}","payload":{{}}}}"#,
                spec.index
            ),
            "CANDIDATE",
        ),
    };
    let closed = loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let Ok(msg) = serde_json::from_str::<Incoming>(&t) else { continue };
                    if msg.kind == echo {
                        if let Some((sent, timed)) = in_flight.pop_front() && timed {
                            let rtt = sent.elapsed().as_nanos() as u64;
                            lock(&shared.rtts).push(rtt);
                        }
                    } else if msg.kind == "queue_position" {
                        shared.queue_updates.fetch_add(1, Ordering::Relaxed);
                        let position = msg.position.unwrap_or(0);
                        shared.positions[spec.index].store(position, Ordering::Relaxed);
                        let round = shared.round.load(Ordering::Acquire);
                        if round != 0 && round != round_seen {
                            round_seen = round;
                            let t0 = shared.round_t0.load(Ordering::Relaxed);
                            let delay = shared.since_base().saturating_sub(t0);
                            lock(&shared.round_delays).push(delay);
                            shared.round_seen.fetch_add(1, Ordering::AcqRel);
                        }
                    } else if msg.kind == "error" || msg.kind == "ERROR" {
                        let before = shared.errors.fetch_add(1, Ordering::Relaxed);
                        if before < 5 {
                            let code = msg.code.as_deref().unwrap_or(&t);
                            eprintln!("client {}: error {code}", spec.index);
                        }
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break true,
                Some(Ok(_)) => {}
            },
            _ = keepalive.tick() => {
                if shared.server == Server::Hub {
                    in_flight.push_back((Instant::now(), false));
                }
                if send(&mut ws, keepalive_msg.clone()).await.is_err() { break true }
            }
            cmd = cmds.recv() => match cmd {
                Some(Cmd::Ping) => {
                    in_flight.push_back((Instant::now(), true));
                    if send(&mut ws, timed_msg.clone()).await.is_err() { break true }
                }
                Some(Cmd::Leave) => {
                    shared.positions[spec.index].store(0, Ordering::Relaxed);
                    let leave = r#"{"type":"leave_queue"}"#.to_owned();
                    if send(&mut ws, leave).await.is_err() { break true }
                }
                Some(Cmd::Join) => {
                    let join = r#"{"type":"join_queue"}"#.to_owned();
                    if send(&mut ws, join).await.is_err() { break true }
                }
                None => break false,
            },
        }
    };
    shared.positions[spec.index].store(0, Ordering::Relaxed);
    shared.alive.fetch_sub(1, Ordering::Relaxed);
    if closed {
        shared.dropped.fetch_add(1, Ordering::Relaxed);
    } else {
        let _ = ws.close(None).await;
    }
}

/// Samples are plain vectors; a client that panicked while holding the lock left it whole.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

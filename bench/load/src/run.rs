//! The measurement run: connect every client, hold them idle past the hub's idle timeout,
//! read the server's memory, time round trips from a sample while all are connected, then
//! (hub, queued clients) make the queue change and time how fast every waiting client hears of
//! it, with round trips timed meanwhile.

use crate::RunArgs;
use crate::client::{self, Cmd, Server, Shared, Spec, lock};
use crate::procfs::{self, Memory};
use crate::stats::{self, Summary};
use anyhow::{Context, bail};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc};

#[derive(Serialize)]
struct Report {
    label: String,
    target: Server,
    clients: usize,
    queued: bool,
    connected: usize,
    failures: BTreeMap<String, usize>,
    connect_secs: f64,
    held_after_hold: usize,
    held_at_end: usize,
    dropped: usize,
    hold_secs: u64,
    keepalive_secs: u64,
    memory_before: Memory,
    memory_idle: Memory,
    memory_after_active: Option<Memory>,
    /// (RssAnon idle − RssAnon before) / connections held.
    per_connection_anon_bytes: f64,
    /// The same with VmRSS.
    per_connection_rss_bytes: f64,
    /// Memory after the first half of the clients connected, and how many were held then.
    memory_half: Memory,
    held_half: usize,
    /// (RssAnon idle − RssAnon at half) / connections added in the second half.
    marginal_anon_bytes: f64,
    /// The same with VmRSS.
    marginal_rss_bytes: f64,
    /// Server CPU seconds per minute while holding the clients idle (keepalives).
    idle_cpu_secs_per_min: f64,
    ping_idle: Summary,
    ping_active: Option<Summary>,
    fanout: Option<Fanout>,
    server_errors: u64,
}

#[derive(Serialize)]
struct Fanout {
    /// Queue changes made (each sends `queue_position` to everyone waiting).
    changes: usize,
    expected: usize,
    delivered: usize,
    /// From the change being asked for to each waiting client receiving its update.
    delivery: Summary,
    /// From the change being asked for to the last waiting client receiving it.
    completion: Summary,
    server_cpu_secs: f64,
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let nofile = rlimit::increase_nofile_limit(u64::MAX).context("raising RLIMIT_NOFILE")?;
    eprintln!("open files limit: {nofile}");
    if (nofile as usize) < args.clients + 64 {
        eprintln!(
            "warning: {} clients need more descriptors than this process may open ({nofile})",
            args.clients
        );
    }
    let queued = args.target == Server::Hub && !args.no_queue;
    let invites = match (args.target, &args.invites) {
        (Server::Hub, Some(path)) => {
            let invites = crate::cases::read(path)?;
            if invites.len() < args.clients {
                bail!(
                    "{} holds {} invites; run `cases --count {}` first",
                    path.display(),
                    invites.len(),
                    args.clients
                );
            }
            invites
        }
        (Server::Hub, None) => bail!("--invites is needed for the hub"),
        (Server::Peerjs, _) => Vec::new(),
    };
    let shared = Arc::new(Shared::new(args.target, args.clients));
    let memory_before = procfs::memory(args.pid)?;
    eprintln!(
        "server before: VmRSS {} KiB, RssAnon {} KiB",
        memory_before.vm_rss_kib, memory_before.rss_anon_kib
    );

    // Connect in two halves: every client in its own task, `connect_concurrency` signing in at
    // a time, with the server's memory read between the halves. The second half's growth is
    // the marginal cost of a connection, without the server's fixed costs that grow with the
    // first connections (caches, pools, runtime structures).
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let mut senders = Vec::with_capacity(args.clients);
    let mut invites = invites.into_iter();
    let mut connected = Vec::new();
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    let half = args.clients / 2;
    let mut memory_half = memory_before;
    let mut held_half = 0;
    for (batch_no, batch) in [0..half, half..args.clients].into_iter().enumerate() {
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(usize, Result<(), String>)>();
        let size = batch.len();
        for index in batch {
            let (tx, rx) = mpsc::channel::<Cmd>(16);
            senders.push(tx);
            let sources = usize::from(args.sources.max(1));
            let source = u32::from(args.first_source) + (index % sources) as u32;
            let spec = Spec {
                index,
                source: Ipv4Addr::from(source),
                server: args.server,
                invite: invites.next(),
                queue: queued,
                keepalive: Duration::from_secs(args.keepalive_secs.max(1)),
            };
            let (gate, done, shared) = (gate.clone(), done_tx.clone(), shared.clone());
            tokio::spawn(async move {
                let Ok(permit) = gate.acquire_owned().await else {
                    return;
                };
                let opened = client::open(&spec).await;
                let opened = match opened {
                    Ok(mut ws) if spec.queue => client::join_queue(&mut ws, &spec, &shared)
                        .await
                        .map(|()| ws),
                    other => other,
                };
                drop(permit);
                match opened {
                    Ok(ws) => {
                        let _ = done.send((spec.index, Ok(())));
                        client::idle(ws, spec, shared, rx).await;
                    }
                    Err(reason) => {
                        let _ = done.send((spec.index, Err(reason)));
                    }
                }
            });
        }
        drop(done_tx);
        let mut last_report = Instant::now();
        let mut finished = 0;
        while finished < size {
            let Some((index, result)) = done_rx.recv().await else {
                break;
            };
            finished += 1;
            match result {
                Ok(()) => connected.push(index),
                Err(reason) => *failures.entry(reason).or_default() += 1,
            }
            if last_report.elapsed() > Duration::from_secs(5) {
                last_report = Instant::now();
                eprintln!(
                    "  {} connected, {} failed, {:.0} s",
                    connected.len(),
                    failures.values().sum::<usize>(),
                    started.elapsed().as_secs_f64()
                );
            }
        }
        if batch_no == 0 {
            // Let the first half settle (answers, keepalive timers) before reading.
            tokio::time::sleep(Duration::from_secs(5)).await;
            memory_half = procfs::memory(args.pid)?;
            held_half = shared.alive.load(Ordering::Relaxed);
            eprintln!(
                "half: {held_half} held, server VmRSS {} KiB, RssAnon {} KiB",
                memory_half.vm_rss_kib, memory_half.rss_anon_kib
            );
        }
    }
    let connect_secs = started.elapsed().as_secs_f64();
    eprintln!(
        "connected {} of {} in {connect_secs:.1} s; failures: {failures:?}",
        connected.len(),
        args.clients
    );

    // Hold: idle, keepalives only, for longer than the hub's idle timeout.
    let cpu_hold = procfs::cpu_seconds(args.pid)?;
    let hold_started = Instant::now();
    while hold_started.elapsed() < Duration::from_secs(args.hold_secs) {
        let left = Duration::from_secs(args.hold_secs).saturating_sub(hold_started.elapsed());
        tokio::time::sleep(left.min(Duration::from_secs(10))).await;
        let m = procfs::memory(args.pid)?;
        eprintln!(
            "  holding: {} alive, {} dropped, server VmRSS {} KiB RssAnon {} KiB",
            shared.alive.load(Ordering::Relaxed),
            shared.dropped.load(Ordering::Relaxed),
            m.vm_rss_kib,
            m.rss_anon_kib
        );
    }
    let idle_cpu = procfs::cpu_seconds(args.pid)? - cpu_hold;
    let idle_cpu_secs_per_min = idle_cpu * 60.0 / hold_started.elapsed().as_secs_f64();
    let memory_idle = procfs::memory(args.pid)?;
    let held_after_hold = shared.alive.load(Ordering::Relaxed);
    let per = |after: u64, before: u64| {
        (after.saturating_sub(before) * 1024) as f64 / held_after_hold.max(1) as f64
    };
    let per_connection_anon_bytes = per(memory_idle.rss_anon_kib, memory_before.rss_anon_kib);
    let per_connection_rss_bytes = per(memory_idle.vm_rss_kib, memory_before.vm_rss_kib);
    let second_half = held_after_hold.saturating_sub(held_half).max(1) as f64;
    let marginal =
        |after: u64, before: u64| (after.saturating_sub(before) * 1024) as f64 / second_half;
    let marginal_anon_bytes = marginal(memory_idle.rss_anon_kib, memory_half.rss_anon_kib);
    let marginal_rss_bytes = marginal(memory_idle.vm_rss_kib, memory_half.vm_rss_kib);
    eprintln!(
        "idle: {held_after_hold} held; growth / held: {:.0} B anonymous, {:.0} B resident; \
         second half: {:.0} B anonymous, {:.0} B resident; server CPU {idle_cpu_secs_per_min:.2} s/min",
        per_connection_anon_bytes,
        per_connection_rss_bytes,
        marginal_anon_bytes,
        marginal_rss_bytes
    );

    // Round trips while everyone is connected and idle.
    let sample = pick_sample(&connected, args.ping_clients);
    let sample: Vec<mpsc::Sender<Cmd>> = sample.iter().map(|&i| senders[i].clone()).collect();
    let ping_idle = pings(&shared, &sample, args.pings, args.ping_rate, None).await;
    eprintln!("ping, idle: {ping_idle}");

    // Queue changes fanned out to everyone waiting, round trips timed meanwhile.
    let (mut ping_active, mut fanout, mut memory_after_active) = (None, None, None);
    if queued && args.rounds > 0 {
        let stop = AtomicBool::new(false);
        let cpu = procfs::cpu_seconds(args.pid)?;
        let (f, p) = tokio::join!(
            async {
                let f = fan_out(&shared, &senders, args.rounds).await;
                stop.store(true, Ordering::Relaxed);
                f
            },
            pings(&shared, &sample, usize::MAX, args.ping_rate, Some(&stop)),
        );
        let mut f = f;
        f.server_cpu_secs = procfs::cpu_seconds(args.pid)? - cpu;
        eprintln!(
            "fan-out: {} changes, {}/{} delivered; delivery {}; completion {}; server CPU {:.2} s",
            f.changes, f.delivered, f.expected, f.delivery, f.completion, f.server_cpu_secs
        );
        eprintln!("ping, during fan-out: {p}");
        ping_active = Some(p);
        fanout = Some(f);
        memory_after_active = Some(procfs::memory(args.pid)?);
    }

    let report = Report {
        label: args.label.clone(),
        target: args.target,
        clients: args.clients,
        queued,
        connected: connected.len(),
        failures,
        connect_secs,
        held_after_hold,
        held_at_end: shared.alive.load(Ordering::Relaxed),
        dropped: shared.dropped.load(Ordering::Relaxed),
        hold_secs: args.hold_secs,
        keepalive_secs: args.keepalive_secs,
        memory_before,
        memory_idle,
        memory_after_active,
        per_connection_anon_bytes,
        per_connection_rss_bytes,
        memory_half,
        held_half,
        marginal_anon_bytes,
        marginal_rss_bytes,
        idle_cpu_secs_per_min,
        ping_idle,
        ping_active,
        fanout,
        server_errors: shared.errors.load(Ordering::Relaxed),
    };
    let line = serde_json::to_string(&report)?;
    println!("{line}");
    if let Some(path) = &args.json {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        writeln!(file, "{line}")?;
    }
    // Dropping the command senders closes every client.
    drop(senders);
    let closing = Instant::now();
    while shared.alive.load(Ordering::Relaxed) > 0 && closing.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Up to `n` clients spread evenly over the connected ones.
fn pick_sample(connected: &[usize], n: usize) -> Vec<usize> {
    let n = n.clamp(1, connected.len().max(1));
    let mut sorted = connected.to_vec();
    sorted.sort_unstable();
    (0..n)
        .filter_map(|k| sorted.get(k * sorted.len() / n).copied())
        .collect()
}

/// Send `count` timed round trips at `rate` per second, round-robin over `sample`, until
/// `stop` is set; wait up to 5 s for the last answers.
async fn pings(
    shared: &Shared,
    sample: &[mpsc::Sender<Cmd>],
    count: usize,
    rate: u32,
    stop: Option<&AtomicBool>,
) -> Summary {
    if sample.is_empty() {
        return Summary::default();
    }
    lock(&shared.rtts).clear();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent = 0;
    while sent < count && !stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
        tick.tick().await;
        if sample[sent % sample.len()].try_send(Cmd::Ping).is_ok() {
            sent += 1;
        }
    }
    let waiting = Instant::now();
    while lock(&shared.rtts).len() < sent && waiting.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let rtts = std::mem::take(&mut *lock(&shared.rtts));
    if rtts.len() < sent {
        eprintln!("  {} of {sent} round trips unanswered", sent - rtts.len());
    }
    stats::summarise(rtts)
}

/// `changes / 2` rounds: the applicant at position 1 leaves (everyone behind moves up), then
/// joins again at the end (everyone hears the new length). Each change is timed until every
/// waiting client has its `queue_position`, or 60 s.
async fn fan_out(shared: &Shared, senders: &[mpsc::Sender<Cmd>], rounds: usize) -> Fanout {
    lock(&shared.round_delays).clear();
    let (mut changes, mut expected, mut delivered) = (0, 0, 0);
    let mut completions = Vec::new();
    for _ in 0..rounds {
        let queued = |s: &Shared| {
            s.positions
                .iter()
                .filter(|p| p.load(Ordering::Relaxed) > 0)
                .count()
        };
        let Some(head) = shared
            .positions
            .iter()
            .position(|p| p.load(Ordering::Relaxed) == 1)
        else {
            eprintln!("  nobody at position 1; stopping the fan-out");
            break;
        };
        let waiting = queued(shared);
        for (cmd, want) in [(Cmd::Leave, waiting - 1), (Cmd::Join, waiting)] {
            let before = lock(&shared.round_delays).len();
            shared.round_seen.store(0, Ordering::Release);
            shared
                .round_t0
                .store(shared.since_base(), Ordering::Relaxed);
            shared.round.fetch_add(1, Ordering::AcqRel);
            if senders[head].send(cmd).await.is_err() {
                break;
            }
            let started = Instant::now();
            while shared.round_seen.load(Ordering::Acquire) < want
                && started.elapsed() < Duration::from_secs(60)
            {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let delays = lock(&shared.round_delays);
            let this = &delays[before..];
            completions.push(this.iter().copied().max().unwrap_or(0));
            changes += 1;
            expected += want;
            delivered += this.len();
        }
    }
    // Let late updates land before the next phase reads the counters.
    tokio::time::sleep(Duration::from_millis(200)).await;
    shared.round.store(0, Ordering::Release);
    let delays = std::mem::take(&mut *lock(&shared.round_delays));
    Fanout {
        changes,
        expected,
        delivered,
        delivery: stats::summarise(delays),
        completion: stats::summarise(completions),
        server_cpu_secs: 0.0,
    }
}

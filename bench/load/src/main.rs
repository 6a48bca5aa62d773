//! `globallink-load`: drives many concurrent WebSocket clients against globallink's signalling
//! socket or a PeerJS server, the same way and in the same run, and reports connections held,
//! server memory per idle connection, ping round trips and (hub) queue fan-out.
//! `bench/run-load.sh` runs the whole comparison; `docs/benchmarks.md` has the figures.

mod cases;
mod client;
mod procfs;
mod run;
mod stats;

use clap::{Parser, Subcommand};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "globallink-load",
    about = "Signalling load tool: globallink vs PeerJS"
)]
struct Cli {
    /// Runtime worker threads (1: a single-threaded runtime, leaving the other core to the
    /// server on a 2-core machine).
    #[arg(long, default_value_t = 1, global = true)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create cases over the hub's HTTP API as an officer and keep their invite tokens.
    Cases {
        /// The hub, e.g. 127.0.0.1:18080.
        #[arg(long)]
        server: SocketAddr,
        #[arg(long, env = "LOAD_OFFICER_USER")]
        officer_user: String,
        #[arg(long, env = "LOAD_OFFICER_PASSWORD", hide_env_values = true)]
        officer_password: String,
        #[arg(long, default_value = "id-card-renewal")]
        service: String,
        /// How many invites the file should hold in the end.
        #[arg(long)]
        count: usize,
        /// Requests in flight.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Connect the clients, hold them, measure.
    Run(RunArgs),
}

#[derive(clap::Args, Clone)]
pub struct RunArgs {
    #[arg(long, value_enum)]
    pub target: client::Server,
    /// Where the server listens, e.g. 127.0.0.1:18080.
    #[arg(long)]
    pub server: SocketAddr,
    /// The server's process id, for /proc/<pid>/status and /proc/<pid>/stat.
    #[arg(long)]
    pub pid: u32,
    #[arg(long)]
    pub clients: usize,
    /// Hub: the file of invite tokens from `cases` (one client per token).
    #[arg(long)]
    pub invites: Option<PathBuf>,
    /// Hub: only sign in, do not join the queue (and skip the fan-out phase).
    #[arg(long)]
    pub no_queue: bool,
    /// First source address; clients go round-robin over `sources` consecutive addresses
    /// (one address has ~28,000 ephemeral ports towards one server port).
    #[arg(long, default_value = "127.0.0.2")]
    pub first_source: Ipv4Addr,
    #[arg(long, default_value_t = 4)]
    pub sources: u8,
    /// Connection attempts in flight.
    #[arg(long, default_value_t = 256)]
    pub connect_concurrency: usize,
    /// Seconds between each client's keepalives.
    #[arg(long, default_value_t = 15)]
    pub keepalive_secs: u64,
    /// Seconds to hold every client idle before measuring memory (longer than the hub's idle
    /// timeout, three keepalive beats of 15 s, so the connections are shown to stay).
    #[arg(long, default_value_t = 60)]
    pub hold_secs: u64,
    /// Timed round trips per phase.
    #[arg(long, default_value_t = 10_000)]
    pub pings: usize,
    /// Round trips per second, spread round-robin over the sample of clients.
    #[arg(long, default_value_t = 1000)]
    pub ping_rate: u32,
    /// How many clients (spread over all of them) send the timed round trips.
    #[arg(long, default_value_t = 1000)]
    pub ping_clients: usize,
    /// Hub: fan-out rounds (the applicant at the head leaves, then rejoins at the end: two
    /// queue changes, each sending `queue_position` to everyone waiting).
    #[arg(long, default_value_t = 10)]
    pub rounds: usize,
    /// Free-text label for the report (e.g. the hub's commit).
    #[arg(long, default_value = "")]
    pub label: String,
    /// Append the result as one JSON line to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = if cli.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cli.threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(async move {
        match cli.command {
            Command::Cases {
                server,
                officer_user,
                officer_password,
                service,
                count,
                concurrency,
                out,
            } => {
                let officer = cases::Officer {
                    username: officer_user,
                    password: officer_password,
                };
                let base = format!("http://{server}");
                cases::ensure(&base, &officer, &service, count, concurrency, &out).await
            }
            Command::Run(args) => run::run(args).await,
        }
    })
}

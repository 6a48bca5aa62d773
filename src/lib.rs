//! globallink: a hub for real-time video consultation and remote notarization.
//!
//! `docs/ARCHITECTURE.md` maps the modules; `main.rs` is only the CLI around [`run`].

pub mod api;
pub mod auth;
pub mod backup;
pub mod catalogue;
pub mod certificates;
pub mod checklist;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod consent;
pub mod desk;
pub mod documents;
pub mod evidence;
pub mod ics;
pub mod identity;
pub mod ids;
pub mod media;
pub mod metrics;
pub mod officers;
pub mod pairing;
pub mod pii;
pub mod room;
pub mod schedule;
pub mod seal;
pub mod session;
pub mod signal;
pub mod state;
pub mod store;
pub mod timestamps;
pub mod tls;
pub mod translog;
pub mod transparency;
pub mod turn;
pub mod vault;

use std::future::Future;

/// Serve the hub on `listener` until `shutdown` resolves: over TLS when the hub was started
/// with a certificate, else plain HTTP.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: state::AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tls = state.tls.clone();
    // With the peer address, so sign-in throttling can count attempts per client address.
    let app = api::app(state).into_make_service_with_connect_info::<api::guard::PeerAddr>();
    match tls {
        Some(config) => {
            axum::serve(tls::TlsListener::new(listener, config), app)
                .with_graceful_shutdown(shutdown)
                .await
        }
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
    }
}

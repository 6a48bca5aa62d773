//! HTTPS at the edge: the certificate chain and key named by `tls_cert` and `tls_key`, loaded
//! once at start into a rustls server configuration (ring provider), and [`TlsListener`], which
//! hands axum finished TLS streams so `axum::serve` (graceful shutdown, WebSocket upgrades)
//! works exactly as over plain HTTP.
//!
//! Handshakes run in their own tasks under a deadline, so a slow or silent client never holds
//! up the accept loop. A failed handshake (a plain HTTP request, a client that distrusts the
//! certificate) closes that connection and is logged at debug level, without the address.
//!
//! `certs/README.md` is the operators' guide.

use chrono::{DateTime, Utc};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;

/// How long a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The hub warns at start when its certificate expires sooner than this.
const EXPIRY_WARNING_DAYS: i64 = 14;

/// The files HTTPS is served with; both were checked to exist by `Config::validate`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificates, the server's own first, then the intermediates.
    pub cert: PathBuf,
    /// PEM private key of the first certificate.
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("cannot read {field} {path}: {source}")]
    Read {
        field: &'static str,
        path: PathBuf,
        source: pem::Error,
    },
    #[error("tls_cert {0} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate(PathBuf),
    #[error("tls_key {0} holds no PEM private key (PKCS#8, RSA or SEC1)")]
    NoKey(PathBuf),
    #[error(
        "tls_key {key} is not the key of the first certificate in tls_cert {cert} \
         (the server's own certificate must come first, before the intermediates)"
    )]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("tls_cert {cert} and tls_key {key} cannot be used: {source}")]
    Rejected {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
}

/// Load the chain and key and build the server configuration: TLS 1.2 and 1.3, HTTP/1.1 by
/// ALPN, no client certificates. Warns when the key file is readable by others and when the
/// server certificate has expired or expires within two weeks of `now`.
pub fn server_config(files: &TlsFiles, now: DateTime<Utc>) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = read_chain(&files.cert)?;
    crate::seal::pki::warn_if_exposed(&files.key);
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::NoKey(files.key.clone()),
        source => TlsError::Read {
            field: "tls_key",
            path: files.key.clone(),
            source,
        },
    })?;
    if let Some(server) = chain.first() {
        warn_if_expiring(server, &files.cert, now);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let rejected = |source| TlsError::Rejected {
        cert: files.cert.clone(),
        key: files.key.clone(),
        source,
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(rejected)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                TlsError::KeyMismatch {
                    cert: files.cert.clone(),
                    key: files.key.clone(),
                }
            }
            other => rejected(other),
        })?;
    // `axum::serve` speaks HTTP/1.1 (WebSocket upgrades included), so that is all we offer.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Every certificate in the file, in order; at least one.
fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let read = |source| TlsError::Read {
        field: "tls_cert",
        path: path.to_path_buf(),
        source,
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(read)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(path.to_path_buf()));
    }
    Ok(chain)
}

fn warn_if_expiring(cert: &CertificateDer<'_>, path: &Path, now: DateTime<Utc>) {
    // rustls checks the certificate's structure when it is used; an unreadable validity here
    // only skips the warning.
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert.as_ref()) else {
        return;
    };
    let left = parsed.validity().not_after.timestamp() - now.timestamp();
    if left <= 0 {
        tracing::warn!(
            path = %path.display(),
            "the TLS certificate has expired; browsers will refuse the hub until it is renewed"
        );
    } else if left < EXPIRY_WARNING_DAYS * 86_400 {
        tracing::warn!(
            path = %path.display(),
            days = left / 86_400,
            "the TLS certificate expires soon; renew it and restart the hub"
        );
    }
}

/// A TCP listener that yields connections once their TLS handshake is done.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    /// Handshakes in progress; each yields its stream, or `None` when it failed.
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> TlsListener {
        TlsListener {
            tcp,
            acceptor: TlsAcceptor::from(config),
            handshakes: JoinSet::new(),
        }
    }
}

async fn handshake(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
) -> Option<(TlsStream<TcpStream>, SocketAddr)> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some((tls, peer)),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            None
        }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    // Both futures raced here are cancel-safe, so `axum::serve` may drop this one when it
    // stops accepting; pending handshakes end with the listener.
    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                accepted = self.tcp.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let acceptor = self.acceptor.clone();
                        self.handshakes.spawn(handshake(acceptor, stream, peer));
                    }
                    Err(e) => accept_failed(e).await,
                },
                Some(done) = self.handshakes.join_next() => {
                    if let Ok(Some(connection)) = done {
                        return connection;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// As `axum::serve` does for plain TCP: a connection that died before it was accepted is
/// skipped; anything else (out of file descriptors) pauses accepting for a second.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair};

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    /// A self-signed certificate for 127.0.0.1 and its key, as PEM.
    fn self_signed() -> (String, String) {
        let key = KeyPair::generate().expect("key");
        let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("certificate");
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn a_matching_chain_and_key_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = self_signed();
        let files = TlsFiles {
            cert: write(dir.path(), "hub.pem", &cert),
            key: write(dir.path(), "hub.key", &key),
        };
        let config = server_config(&files, Utc::now()).expect("loads");
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, _) = self_signed();
        let (_, other_key) = self_signed();
        let files = TlsFiles {
            cert: write(dir.path(), "hub.pem", &cert),
            key: write(dir.path(), "other.key", &other_key),
        };
        let err = server_config(&files, Utc::now()).unwrap_err();
        assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err}");
        assert!(err.to_string().contains("other.key"), "{err}");
    }

    #[test]
    fn files_without_pem_blocks_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = self_signed();
        let empty = write(dir.path(), "empty.pem", "not a certificate\n");
        let err = server_config(
            &TlsFiles {
                cert: empty.clone(),
                key: write(dir.path(), "hub.key", &key),
            },
            Utc::now(),
        )
        .unwrap_err();
        assert!(
            matches!(err, TlsError::NoCertificate(ref p) if *p == empty),
            "{err}"
        );

        // A certificate where the key should be: no private key in it.
        let cert_path = write(dir.path(), "hub.pem", &cert);
        let err = server_config(
            &TlsFiles {
                cert: cert_path.clone(),
                key: cert_path,
            },
            Utc::now(),
        )
        .unwrap_err();
        assert!(matches!(err, TlsError::NoKey(_)), "{err}");

        let gone = TlsFiles {
            cert: dir.path().join("gone.pem"),
            key: dir.path().join("gone.key"),
        };
        let err = server_config(&gone, Utc::now()).unwrap_err();
        assert!(
            matches!(
                err,
                TlsError::Read {
                    field: "tls_cert",
                    ..
                }
            ),
            "{err}"
        );
    }
}

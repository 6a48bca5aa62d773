//! Hub configuration: one struct, loaded from defaults, a TOML file, `GLOBALLINK_*` environment
//! variables and command-line flags (later sources win), then validated once.
//!
//! Every field has a default that runs a development hub on one machine; `README.md` is the
//! reference for operators.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the HTTP and WebSocket listener.
    pub listen: SocketAddr,
    /// URL that applicants' invite links point at. Defaults to `http://<listen>`, or
    /// `https://<listen>` when the hub serves TLS itself.
    pub public_url: Option<String>,
    /// Where the database, the development PKI, recordings and artefacts live.
    pub data_dir: PathBuf,
    /// The web pages to serve (default: the `web/` directory of the source tree).
    pub web_dir: Option<PathBuf>,
    /// A service catalogue file (default: the built-in `catalogue/services.toml`).
    pub catalogue: Option<PathBuf>,
    /// A public-holiday calendar file (default: the built-in mainland China calendar).
    pub calendar: Option<PathBuf>,
    /// `sqlite://…` (default: `<data_dir>/globallink.db`), or `postgres://…` /
    /// `postgresql://…` for a PostgreSQL database.
    pub database_url: Option<String>,
    /// Local address the media peers bind their UDP sockets to.
    pub media_ip: IpAddr,
    /// Public address announced in ICE candidates when the hub sits behind 1:1 NAT.
    pub public_ip: Option<IpAddr>,
    /// UDP ports for media, `"first-last"`. Each peer connection takes one port.
    pub ice_udp_ports: String,
    /// TURN/STUN servers participants relay through when a direct path fails, e.g.
    /// `["turn:turn.example.org:3478?transport=udp"]`. Empty: none.
    pub turn_urls: Vec<String>,
    /// coturn's `static-auth-secret` (TURN REST credentials); required with `turn_urls`.
    pub turn_secret: Option<String>,
    /// Lifetime of minted TURN credentials; fresh ones are sent at half of it.
    pub turn_ttl_secs: u32,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// How long an applicant's invite link stays valid.
    pub invite_ttl_hours: u32,
    /// How long an officer or auditor stays signed in.
    pub login_ttl_hours: u32,
    /// How long a session waits for a participant whose connection dropped.
    pub reconnect_grace_secs: u32,
    /// RFC 3161 time-stamping authority the hub asks for a token over each of its signatures,
    /// e.g. `http://tsa.example.org/tsr`. None: no timestamps.
    pub tsa_url: Option<String>,
    /// PEM file with the time-stamping authority's root certificate(s); required with
    /// `tsa_url`, so the hub can check the tokens it receives and its auditor views can too.
    pub tsa_trust: Option<PathBuf>,
    /// Validity of an officer signing certificate issued at enrolment, in days.
    pub officer_cert_days: u32,
    /// How often the hub pings each signalling connection. A connection from which nothing
    /// (not even the browser's automatic answer to a ping) arrived for three of these is closed.
    pub keepalive_secs: u32,
    /// On SIGTERM, how long the hub waits for its open sessions to end and seal before it
    /// stops.
    pub drain_timeout_secs: u32,
    /// PEM certificate chain (server certificate first) for HTTPS on `listen`; needs
    /// `tls_key`. Neither: plain HTTP, for development or behind a TLS-terminating proxy.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, RSA or SEC1) of the first certificate in `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// `max-age` of the `Strict-Transport-Security` header sent over TLS; 0 sends none.
    /// Never sent over plain HTTP: browsers ignore it there.
    pub hsts_max_age_secs: u32,
    /// What each guest role may do, overriding the defaults (relative and interpreter publish
    /// and are recorded; a site assistant only watches; a co-heir also confirms declarations),
    /// e.g. `[guest_roles.relative]` `publish = false`, `recorded = false`,
    /// `confirm_declarations = false`.
    pub guest_roles:
        std::collections::BTreeMap<crate::evidence::GuestRole, crate::room::GuestPermissions>,
    /// This node's name among the hub nodes sharing one PostgreSQL database (letters, digits,
    /// `.`, `_`, `-`; at most 64). Each node needs its own; a session belongs to the node that
    /// opened it, and clients reaching another node are sent to its `public_url`.
    pub node_id: String,
    /// How often a node on PostgreSQL tells the others it is alive.
    pub node_heartbeat_secs: u32,
    /// After how long without a heartbeat the other nodes mark a node lost and its open
    /// sessions interrupted. At least three heartbeats.
    pub node_lost_after_secs: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080),
            public_url: None,
            data_dir: PathBuf::from("globallink-data"),
            web_dir: None,
            catalogue: None,
            calendar: None,
            database_url: None,
            media_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            public_ip: None,
            ice_udp_ports: "50000-50199".to_owned(),
            turn_urls: Vec::new(),
            turn_secret: None,
            turn_ttl_secs: 3600,
            log_format: LogFormat::Text,
            invite_ttl_hours: 72,
            login_ttl_hours: 12,
            reconnect_grace_secs: 90,
            tsa_url: None,
            tsa_trust: None,
            officer_cert_days: 365,
            keepalive_secs: 15,
            drain_timeout_secs: 20,
            tls_cert: None,
            tls_key: None,
            hsts_max_age_secs: 365 * 24 * 3600,
            guest_roles: std::collections::BTreeMap::new(),
            node_id: "node-1".to_owned(),
            node_heartbeat_secs: 2,
            node_lost_after_secs: 10,
        }
    }
}

/// An inclusive UDP port range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl PortRange {
    pub fn len(&self) -> usize {
        usize::from(self.last - self.first) + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read configuration: {0}")]
    Load(String),
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("ice_udp_ports must look like \"50000-50199\" with 1024 <= first <= last, got {0:?}")]
    PortRange(String),
    /// Holds only the URL's scheme: the rest may hold a password.
    #[error("database_url must start with sqlite:, postgres:// or postgresql://, not {0:?}")]
    DatabaseUrl(String),
    #[error("turn_urls entries start with turn:, turns: or stun:, got {0:?}")]
    TurnUrl(String),
    #[error("turn_urls needs turn_secret (coturn's static-auth-secret)")]
    TurnSecret,
    #[error("public_url must start with http:// or https://, got {0:?}")]
    PublicUrl(String),
    #[error("{field} must be between 1 and {max}, got {value}")]
    Range {
        field: &'static str,
        max: u32,
        value: u32,
    },
    #[error("media_ip must be a concrete address, not {0} (a wildcard skips loopback)")]
    MediaIp(IpAddr),
    #[error("tsa_url must start with http:// or https://, got {0:?}")]
    TsaUrl(String),
    #[error("tsa_url needs tsa_trust (a PEM file with the time-stamping authority's root)")]
    TsaTrust,
    #[error("{given} needs {missing}: set both tls_cert and tls_key for HTTPS, or neither")]
    TlsPair {
        given: &'static str,
        missing: &'static str,
    },
    #[error("{field} {path} does not exist or is not a file")]
    TlsFile { field: &'static str, path: PathBuf },
    #[error("node_id must be 1 to 64 letters, digits, '.', '_' or '-', got {0:?}")]
    NodeId(String),
    #[error("node_lost_after_secs ({lost}) must be at least three heartbeats ({heartbeat} s each)")]
    NodeLostAfter { lost: u32, heartbeat: u32 },
}

/// Overrides from command-line flags; `None` leaves the lower layers alone.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ice_udp_ports: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

/// A configuration that passed [`Config::validate`].
#[derive(Clone, Debug)]
pub struct Settings {
    pub config: Config,
    pub ports: PortRange,
    pub database_url: String,
    pub public_url: String,
    pub web_dir: PathBuf,
    /// TURN servers and credentials, when configured.
    pub turn: Option<crate::turn::TurnSettings>,
    /// The certificate chain and key to serve HTTPS with; `None` serves plain HTTP.
    pub tls: Option<crate::tls::TlsFiles>,
    /// What each guest role may do: the defaults with `guest_roles` applied.
    pub guest_policy: crate::room::GuestPolicy,
}

impl Settings {
    /// `https` when the hub terminates TLS itself, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// The `Strict-Transport-Security` value to send on every response: only over TLS, and
    /// only when `hsts_max_age_secs` is not 0.
    pub fn hsts(&self) -> Option<String> {
        let max_age = self.config.hsts_max_age_secs;
        (self.tls.is_some() && max_age > 0).then(|| format!("max-age={max_age}; includeSubDomains"))
    }
}

impl Config {
    /// Load defaults ← `file` (if given, it must exist; else `globallink.toml` if present) ←
    /// `GLOBALLINK_*` env ← flags.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.into())),
            Some(path) => figment = figment.merge(Toml::file(path)),
            None => figment = figment.merge(Toml::file("globallink.toml")),
        }
        // The test suite's database switch shares the prefix but is not a hub setting.
        let test_key = crate::store::testing::TEST_DATABASE_URL.trim_start_matches("GLOBALLINK_");
        figment
            .merge(Env::prefixed("GLOBALLINK_").ignore(&[test_key]))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| ConfigError::Load(e.to_string()))
    }

    /// Check every field once; the rest of the hub trusts [`Settings`].
    pub fn validate(self) -> Result<Settings, ConfigError> {
        let ports = parse_port_range(&self.ice_udp_ports)?;
        let database_url = match &self.database_url {
            Some(url) if crate::store::Engine::of(url).is_some() => url.clone(),
            Some(url) => {
                let start = url
                    .split_once(':')
                    .map_or_else(|| url.clone(), |(scheme, _)| format!("{scheme}:"));
                return Err(ConfigError::DatabaseUrl(start));
            }
            None => default_database_url(&self.data_dir),
        };
        let tls = match (&self.tls_cert, &self.tls_key) {
            (None, None) => None,
            (Some(cert), Some(key)) => {
                for (field, path) in [("tls_cert", cert), ("tls_key", key)] {
                    if !path.is_file() {
                        return Err(ConfigError::TlsFile {
                            field,
                            path: path.clone(),
                        });
                    }
                }
                Some(crate::tls::TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                })
            }
            (Some(_), None) => {
                return Err(ConfigError::TlsPair {
                    given: "tls_cert",
                    missing: "tls_key",
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError::TlsPair {
                    given: "tls_key",
                    missing: "tls_cert",
                });
            }
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let public_url = match &self.public_url {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                url.trim_end_matches('/').to_owned()
            }
            Some(url) => return Err(ConfigError::PublicUrl(url.clone())),
            None => format!("{scheme}://{}", self.listen),
        };
        for (field, value, max) in [
            ("invite_ttl_hours", self.invite_ttl_hours, 24 * 30),
            ("login_ttl_hours", self.login_ttl_hours, 24 * 7),
            ("reconnect_grace_secs", self.reconnect_grace_secs, 3600),
            ("turn_ttl_secs", self.turn_ttl_secs, 86_400),
            ("officer_cert_days", self.officer_cert_days, 3 * 366),
            ("keepalive_secs", self.keepalive_secs, 300),
            ("drain_timeout_secs", self.drain_timeout_secs, 600),
            ("node_heartbeat_secs", self.node_heartbeat_secs, 60),
            ("node_lost_after_secs", self.node_lost_after_secs, 600),
        ] {
            if value == 0 || value > max {
                return Err(ConfigError::Range { field, max, value });
            }
        }
        if self.node_id.is_empty()
            || self.node_id.len() > 64
            || !self
                .node_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err(ConfigError::NodeId(self.node_id.clone()));
        }
        if self.node_lost_after_secs < 3 * self.node_heartbeat_secs {
            return Err(ConfigError::NodeLostAfter {
                lost: self.node_lost_after_secs,
                heartbeat: self.node_heartbeat_secs,
            });
        }
        if self.media_ip.is_unspecified() {
            return Err(ConfigError::MediaIp(self.media_ip));
        }
        if let Some(url) = &self.tsa_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::TsaUrl(url.clone()));
            }
            if self.tsa_trust.is_none() {
                return Err(ConfigError::TsaTrust);
            }
        }
        let web_dir = self
            .web_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/web")));
        let turn = if self.turn_urls.is_empty() {
            None
        } else {
            if let Some(url) = self.turn_urls.iter().find(|u| {
                !["turn:", "turns:", "stun:"]
                    .iter()
                    .any(|p| u.starts_with(p))
            }) {
                return Err(ConfigError::TurnUrl(url.clone()));
            }
            let secret = self
                .turn_secret
                .clone()
                .filter(|s| !s.is_empty())
                .ok_or(ConfigError::TurnSecret)?;
            Some(crate::turn::TurnSettings {
                urls: self.turn_urls.clone(),
                secret,
                ttl: chrono::TimeDelta::seconds(i64::from(self.turn_ttl_secs).max(60)),
            })
        };
        let guest_policy = self.guest_roles.iter().fold(
            crate::room::GuestPolicy::default(),
            |policy, (role, may)| policy.with(*role, *may),
        );
        Ok(Settings {
            guest_policy,
            turn,
            tls,
            config: self,
            ports,
            database_url,
            public_url,
            web_dir,
        })
    }
}

/// The SQLite database a hub keeps in `data_dir` when `database_url` is not set.
pub fn default_database_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("globallink.db").display())
}

fn parse_port_range(text: &str) -> Result<PortRange, ConfigError> {
    let bad = || ConfigError::PortRange(text.to_owned());
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let first: u16 = a.trim().parse().map_err(|_| bad())?;
    let last: u16 = b.trim().parse().map_err(|_| bad())?;
    if first < 1024 || first > last {
        return Err(bad());
    }
    Ok(PortRange { first, last })
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        let s = Config::default().validate().unwrap();
        assert_eq!(
            s.ports,
            PortRange {
                first: 50000,
                last: 50199
            }
        );
        assert!(s.database_url.starts_with("sqlite://"));
        assert_eq!(s.public_url, "http://127.0.0.1:8080");
    }

    #[test]
    fn bad_values_fail_with_a_clear_message() {
        let c = Config {
            ice_udp_ports: "9-1".into(),
            ..Config::default()
        };
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("ice_udp_ports")
        );
        let c = Config {
            database_url: Some("mysql://admin:secret@db/x".into()),
            ..Config::default()
        };
        let err = c.validate().unwrap_err();
        assert!(matches!(err, ConfigError::DatabaseUrl(_)));
        let text = err.to_string();
        assert!(
            text.contains("postgres://") && text.contains("\"mysql:\""),
            "{text}"
        );
        assert!(!text.contains("secret"), "the password stays out: {text}");
        let c = Config {
            invite_ttl_hours: 0,
            ..Config::default()
        };
        assert!(matches!(c.validate(), Err(ConfigError::Range { .. })));
        let c = Config {
            media_ip: "0.0.0.0".parse().unwrap(),
            ..Config::default()
        };
        assert!(matches!(c.validate(), Err(ConfigError::MediaIp(_))));
        let c = Config {
            turn_urls: vec!["turn:turn.example.org:3478".into()],
            ..Config::default()
        };
        assert!(matches!(c.validate(), Err(ConfigError::TurnSecret)));
        let c = Config {
            turn_urls: vec!["http://turn.example.org".into()],
            turn_secret: Some("s".into()),
            ..Config::default()
        };
        assert!(matches!(c.validate(), Err(ConfigError::TurnUrl(_))));
        let ok = Config {
            turn_urls: vec!["turns:turn.example.org:5349".into()],
            turn_secret: Some("s".into()),
            turn_ttl_secs: 600,
            ..Config::default()
        }
        .validate()
        .expect("valid TURN settings");
        assert_eq!(
            ok.turn.map(|t| t.ttl),
            Some(chrono::TimeDelta::seconds(600))
        );
    }

    #[test]
    fn node_names_and_heartbeats_are_checked() {
        for bad in ["", "node 1", "nœud", &"n".repeat(65)] {
            let c = Config {
                node_id: bad.to_owned(),
                ..Config::default()
            };
            assert!(
                matches!(c.validate(), Err(ConfigError::NodeId(_))),
                "{bad:?}"
            );
        }
        let c = Config {
            node_id: "lishui-2.b_c".into(),
            ..Config::default()
        };
        assert_eq!(c.validate().expect("valid").config.node_id, "lishui-2.b_c");
        let c = Config {
            node_heartbeat_secs: 5,
            node_lost_after_secs: 14,
            ..Config::default()
        };
        assert!(matches!(
            c.validate(),
            Err(ConfigError::NodeLostAfter {
                lost: 14,
                heartbeat: 5
            })
        ));
        let c = Config {
            node_heartbeat_secs: 0,
            ..Config::default()
        };
        assert!(matches!(c.validate(), Err(ConfigError::Range { .. })));
    }

    #[test]
    fn sqlite_and_postgres_urls_are_accepted() {
        for url in [
            "sqlite:///var/lib/globallink/hub.db",
            "postgres://globallink@db.internal/globallink",
            "postgresql://globallink:pw@127.0.0.1:5432/globallink?sslmode=require",
        ] {
            let c = Config {
                database_url: Some(url.into()),
                ..Config::default()
            };
            assert_eq!(c.validate().expect(url).database_url, url);
        }
        assert!(matches!(
            Config {
                database_url: Some("postgres:/no-host".into()),
                ..Config::default()
            }
            .validate(),
            Err(ConfigError::DatabaseUrl(_))
        ));
    }

    #[test]
    fn file_env_and_flags_layer_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("hub.toml", "listen = \"127.0.0.1:9000\"\nice_udp_ports = \"40000-40010\"\nlog_format = \"json\"")?;
            jail.set_env("GLOBALLINK_ICE_UDP_PORTS", "41000-41010");
            jail.set_env("GLOBALLINK_DATABASE_URL", "postgres://hub@db/globallink");
            // The test suite's switch is not a setting, so it is no unknown key either.
            jail.set_env(
                "GLOBALLINK_TEST_DATABASE_URL",
                "postgres://postgres@db/postgres",
            );
            let flags = Overrides {
                listen: Some("127.0.0.1:9100".parse().unwrap()),
                ..Default::default()
            };
            let c = Config::load(Some(Path::new("hub.toml")), &flags).expect("loads");
            assert_eq!(c.listen.port(), 9100);
            assert_eq!(c.ice_udp_ports, "41000-41010");
            assert_eq!(c.log_format, LogFormat::Json);
            assert_eq!(
                c.database_url.as_deref(),
                Some("postgres://hub@db/globallink")
            );
            Ok(())
        });
    }

    #[test]
    fn tls_needs_both_files_and_both_must_exist() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cert = dir.path().join("hub.pem");
        let key = dir.path().join("hub.key");
        std::fs::write(&cert, "certificate").expect("write");
        std::fs::write(&key, "key").expect("write");

        let only_cert = Config {
            tls_cert: Some(cert.clone()),
            ..Config::default()
        };
        let err = only_cert.validate().unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::TlsPair {
                    given: "tls_cert",
                    missing: "tls_key"
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("or neither"), "{err}");
        let only_key = Config {
            tls_key: Some(key.clone()),
            ..Config::default()
        };
        assert!(matches!(
            only_key.validate(),
            Err(ConfigError::TlsPair {
                given: "tls_key",
                missing: "tls_cert"
            })
        ));

        let missing = dir.path().join("missing.key");
        let err = Config {
            tls_cert: Some(cert.clone()),
            tls_key: Some(missing.clone()),
            ..Config::default()
        }
        .validate()
        .unwrap_err();
        assert!(
            matches!(&err, ConfigError::TlsFile { field: "tls_key", path } if *path == missing),
            "{err}"
        );
        assert!(err.to_string().contains("missing.key"), "{err}");
        // A directory is no certificate either.
        assert!(matches!(
            Config {
                tls_cert: Some(dir.path().to_path_buf()),
                tls_key: Some(key.clone()),
                ..Config::default()
            }
            .validate(),
            Err(ConfigError::TlsFile {
                field: "tls_cert",
                ..
            })
        ));

        let tls = Config {
            tls_cert: Some(cert.clone()),
            tls_key: Some(key.clone()),
            ..Config::default()
        }
        .validate()
        .expect("both files exist");
        assert_eq!(tls.public_url, "https://127.0.0.1:8080");
        assert_eq!(tls.scheme(), "https");
        assert_eq!(
            tls.hsts().as_deref(),
            Some("max-age=31536000; includeSubDomains")
        );
        let files = tls.tls.expect("TLS files");
        assert_eq!((files.cert, files.key), (cert.clone(), key.clone()));

        let no_hsts = Config {
            tls_cert: Some(cert),
            tls_key: Some(key),
            hsts_max_age_secs: 0,
            ..Config::default()
        }
        .validate()
        .expect("valid");
        assert_eq!(no_hsts.hsts(), None);
        // Plain HTTP never announces HSTS, whatever the max-age.
        let plain = Config::default().validate().expect("valid");
        assert_eq!((plain.scheme(), plain.hsts()), ("http", None));
    }

    #[test]
    fn tls_files_come_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("hub.pem", "certificate")?;
            jail.create_file("hub.key", "key")?;
            jail.set_env("GLOBALLINK_TLS_CERT", "hub.pem");
            jail.set_env("GLOBALLINK_TLS_KEY", "hub.key");
            jail.set_env("GLOBALLINK_HSTS_MAX_AGE_SECS", "600");
            let c = Config::load(None, &Overrides::default()).expect("loads");
            assert_eq!(c.tls_cert.as_deref(), Some(Path::new("hub.pem")));
            assert_eq!(c.hsts_max_age_secs, 600);
            let s = c.validate().expect("valid");
            assert_eq!(s.hsts().as_deref(), Some("max-age=600; includeSubDomains"));
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_missing_files_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("hub.toml", "lisen = \"127.0.0.1:9000\"")?;
            assert!(Config::load(Some(Path::new("hub.toml")), &Overrides::default()).is_err());
            assert!(matches!(
                Config::load(Some(Path::new("nope.toml")), &Overrides::default()),
                Err(ConfigError::MissingFile(_))
            ));
            Ok(())
        });
    }

    #[test]
    fn guest_roles_override_the_defaults_and_unknown_roles_are_refused() {
        use crate::evidence::GuestRole;
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "hub.toml",
                "[guest_roles.relative]\npublish = false\nrecorded = false\nconfirm_declarations = false\n",
            )?;
            let c =
                Config::load(Some(Path::new("hub.toml")), &Overrides::default()).expect("loads");
            let policy = c.validate().expect("valid").guest_policy;
            assert!(!policy.of(GuestRole::Relative).publish);
            // Roles not named keep their defaults.
            assert!(policy.of(GuestRole::CoHeir).confirm_declarations);
            assert!(policy.of(GuestRole::Interpreter).publish);
            jail.create_file("bad.toml", "[guest_roles.uncle]\npublish = true\nrecorded = true\nconfirm_declarations = false\n")?;
            assert!(Config::load(Some(Path::new("bad.toml")), &Overrides::default()).is_err());
            jail.create_file("partial.toml", "[guest_roles.relative]\npublish = true\n")?;
            assert!(Config::load(Some(Path::new("partial.toml")), &Overrides::default()).is_err());
            Ok(())
        });
    }
}

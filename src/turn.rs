//! Short-lived TURN credentials in the TURN REST scheme coturn checks with `use-auth-secret`:
//! the username is `<unix expiry>:<tag>` and the password is
//! `base64(HMAC-SHA1(static-auth-secret, username))`. The hub mints them per participant and
//! session, sends them before the participant's peer connection is made, and sends fresh ones
//! at half their lifetime so a long call never holds expired credentials.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use ring::hmac;
use serde::{Deserialize, Serialize};

/// The TURN (and STUN) servers participants use, from config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TurnSettings {
    /// `turn:host:port?transport=udp`, `turns:…`, `stun:…`.
    pub urls: Vec<String>,
    /// coturn's `static-auth-secret`.
    pub secret: String,
    /// How long minted credentials stay valid.
    pub ttl: TimeDelta,
}

/// One entry of `RTCConfiguration.iceServers`, as browsers take it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: String,
    pub credential: String,
}

impl TurnSettings {
    /// Credentials for `tag` (no personal data: a session id and a role), valid from `now`
    /// for the configured lifetime; returns them with their expiry.
    pub fn mint(&self, tag: &str, now: DateTime<Utc>) -> (IceServer, DateTime<Utc>) {
        let expires = now + self.ttl;
        let username = format!("{}:{tag}", expires.timestamp());
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, self.secret.as_bytes());
        let credential = STANDARD.encode(hmac::sign(&key, username.as_bytes()).as_ref());
        (
            IceServer {
                urls: self.urls.clone(),
                username,
                credential,
            },
            expires,
        )
    }

    /// How often fresh credentials are sent during a call: half their lifetime.
    pub fn refresh_every(&self) -> std::time::Duration {
        (self.ttl / 2)
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    #[test]
    fn credentials_follow_the_turn_rest_scheme() {
        let settings = TurnSettings {
            urls: vec!["turn:127.0.0.1:3478?transport=udp".into()],
            secret: "north-gate".into(),
            ttl: TimeDelta::hours(1),
        };
        let now = Utc
            .with_ymd_and_hms(2026, 11, 27, 9, 0, 0)
            .single()
            .expect("instant");
        let (server, expires) = settings.mint("session-1:applicant", now);
        assert_eq!(expires, now + TimeDelta::hours(1));
        assert_eq!(
            server.username,
            format!("{}:session-1:applicant", expires.timestamp())
        );
        // The same HMAC computed by openssl, independently of ring.
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "printf %s '{}' | openssl dgst -sha1 -hmac north-gate -binary | base64",
                server.username
            ))
            .output()
            .expect("openssl runs (Debian package openssl)");
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            server.credential
        );
        assert_eq!(
            settings.refresh_every(),
            std::time::Duration::from_secs(1800)
        );
        let (other, _) = settings.mint("session-1:officer", now);
        assert_ne!(other.credential, server.credential);
    }
}

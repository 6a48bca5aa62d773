//! Credentials: argon2id password hashes, random bearer tokens stored only as SHA-256 hashes,
//! and the single-use tickets that authenticate a signalling socket.

use crate::evidence::sha256_hex;
use crate::store::UserRecord;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    #[error("cannot hash password: {0}")]
    Hash(String),
}

/// A PHC-format argon2id hash of `password` with a random salt.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Constant-time check of `password` against a stored PHC hash. A malformed hash is a mismatch.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A 256-bit random token, URL-safe base64.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A human-typable random password for development accounts.
pub fn random_password() -> String {
    let mut bytes = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of a token.
pub fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// Single-use, short-lived tickets that let a signed-in officer or auditor open `/ws` without
/// putting their cookie or a token in a URL.
#[derive(Debug, Default)]
pub struct Tickets {
    inner: Mutex<HashMap<String, (UserRecord, DateTime<Utc>)>>,
}

/// How long a ticket stays valid.
pub const TICKET_TTL_SECS: i64 = 60;

impl Tickets {
    /// Mint a ticket for `user`, dropping expired ones on the way.
    pub fn issue(&self, user: UserRecord, now: DateTime<Utc>) -> String {
        let ticket = random_token();
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, (_, expires)| *expires > now);
        map.insert(
            token_hash(&ticket),
            (user, now + Duration::seconds(TICKET_TTL_SECS)),
        );
        ticket
    }

    /// Redeem a ticket once. Expired or unknown tickets give `None`.
    pub fn redeem(&self, ticket: &str, now: DateTime<Utc>) -> Option<UserRecord> {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match map.remove(&token_hash(ticket)) {
            Some((user, expires)) if expires > now => Some(user),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;
    use crate::store::Role;

    #[test]
    fn password_round_trip_and_mismatch() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn tickets_are_single_use_and_expire() {
        let user = UserRecord {
            id: UserId::random(),
            username: "o".into(),
            display_name: "O".into(),
            role: Role::Officer,
            password_hash: String::new(),
            created_at: Utc::now(),
        };
        let t = Tickets::default();
        let now = Utc::now();
        let a = t.issue(user.clone(), now);
        assert!(t.redeem(&a, now).is_some());
        assert!(t.redeem(&a, now).is_none(), "second use");
        let b = t.issue(user, now);
        assert!(
            t.redeem(&b, now + Duration::seconds(TICKET_TTL_SECS + 1))
                .is_none()
        );
    }
}

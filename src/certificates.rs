//! Officer certificates at the IO edge: issuing from the office CA files, recording each one
//! in the store, revoking, and publishing the signed revocation list (CRL).
//!
//! Contract: the CA key is read from `<pki>/office-ca.key` only for the moment of signing (a
//! warning is logged when the file is readable by group or others) and never kept. Every
//! issue and revoke rewrites `<pki>/office.crl` (PEM) from the store, so the published list is
//! always the store's; the hub serves it at `GET /api/pki/crl`. The rules themselves live in
//! [`crate::seal::officer_pki`].

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};

use crate::seal::officer_pki::{
    self, OfficerPkiError, OfficerSubject, Reason, Revoked, issue_officer_certificate,
};
use crate::seal::pki::{CA_CERT_FILE, CA_KEY_FILE, warn_if_exposed};
use crate::store::{OfficerCertRecord, Role, Store, StoreError, UserRecord};

/// The published revocation list inside the PKI directory.
pub const CRL_FILE: &str = "office.crl";
/// How long a published CRL is current; it is rewritten on every change anyway.
const CRL_LIFETIME: TimeDelta = TimeDelta::days(7);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Pki(#[from] OfficerPkiError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0} is not an officer")]
    NotOfficer(String),
    #[error("no certificate with serial {0}, or it is already revoked")]
    NoSuchCertificate(u64),
    #[error("cannot draw a serial number")]
    Random,
}

fn read(path: &Path) -> Result<String, CertError> {
    std::fs::read_to_string(path).map_err(|source| CertError::Io {
        path: path.to_owned(),
        source,
    })
}

/// The CA certificate and key PEM from `pki`.
fn ca(pki: &Path) -> Result<(String, String), CertError> {
    let key = pki.join(CA_KEY_FILE);
    warn_if_exposed(&key);
    Ok((read(&pki.join(CA_CERT_FILE))?, read(&key)?))
}

/// Issue `officer` a certificate for `spki_der`, valid `days` from `now`, and record it.
pub async fn issue(
    store: &dyn Store,
    pki: &Path,
    officer: &UserRecord,
    spki_der: &[u8],
    now: DateTime<Utc>,
    days: u32,
) -> Result<OfficerCertRecord, CertError> {
    if officer.role != Role::Officer {
        return Err(CertError::NotOfficer(officer.username.clone()));
    }
    let (ca_pem, key_pem) = ca(pki)?;
    // A random positive serial below 2^63 (RFC 5280 asks for unpredictable serials).
    let mut bytes = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| CertError::Random)?;
    let serial = (u64::from_be_bytes(bytes) >> 1).max(1);
    let not_after = now + TimeDelta::days(i64::from(days));
    let subject = OfficerSubject {
        id: officer.id.to_string(),
        display_name: officer.display_name.clone(),
    };
    let issued = issue_officer_certificate(
        &ca_pem, &key_pem, &subject, spki_der, serial, now, not_after,
    )?;
    let record = OfficerCertRecord {
        serial,
        officer_id: officer.id,
        der: issued.der,
        not_before: now,
        not_after,
        issued_at: now,
        revoked_at: None,
        reason: None,
    };
    store.add_officer_certificate(&record).await?;
    publish_crl(store, pki, now).await?;
    Ok(record)
}

/// Revoke certificate `serial` from `now` and publish the new list.
pub async fn revoke(
    store: &dyn Store,
    pki: &Path,
    serial: u64,
    reason: Option<Reason>,
    now: DateTime<Utc>,
) -> Result<(), CertError> {
    if !store
        .revoke_officer_certificate(serial, now, reason.map(Reason::code))
        .await?
    {
        return Err(CertError::NoSuchCertificate(serial));
    }
    publish_crl(store, pki, now).await?;
    Ok(())
}

/// Write `<pki>/office.crl` from the store's revocations, signed by the CA.
pub async fn publish_crl(
    store: &dyn Store,
    pki: &Path,
    now: DateTime<Utc>,
) -> Result<PathBuf, CertError> {
    let revoked: Vec<Revoked> = store
        .officer_certificates()
        .await?
        .into_iter()
        .filter_map(|c| {
            Some(Revoked {
                serial: c.serial,
                revoked_at: c.revoked_at?,
                reason: c.reason.and_then(Reason::from_code),
            })
        })
        .collect();
    let (ca_pem, key_pem) = ca(pki)?;
    // The CRL number only grows: seconds since the epoch of this issue.
    let number = u64::try_from(now.timestamp()).unwrap_or(1);
    let crl = officer_pki::build_crl(&ca_pem, &key_pem, &revoked, number, now, now + CRL_LIFETIME)?;
    let path = pki.join(CRL_FILE);
    let tmp = pki.join(format!("{CRL_FILE}.tmp"));
    let io = |source| CertError::Io {
        path: path.clone(),
        source,
    };
    std::fs::write(&tmp, crl.pem.as_bytes()).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(path)
}

/// The office CRL as DER, current at `now`: the published `<pki>/office.crl` when it is
/// signed by the CA in `ca_der` and current, otherwise a freshly published one.
pub async fn current_crl(
    store: &dyn Store,
    pki: &Path,
    ca_der: &[u8],
    now: DateTime<Utc>,
) -> Result<Vec<u8>, CertError> {
    let path = pki.join(CRL_FILE);
    if let Ok(der) = crate::seal::pki::read_pem(&path, "X509 CRL")
        && officer_pki::check_crl(&der, ca_der, now).is_ok()
    {
        return Ok(der);
    }
    let path = publish_crl(store, pki, now).await?;
    crate::seal::pki::read_pem(&path, "X509 CRL").map_err(|e| CertError::Io {
        path,
        source: std::io::Error::other(e.to_string()),
    })
}

/// How long a proof-of-possession challenge may be answered.
pub const CHALLENGE_MAX_AGE: TimeDelta = TimeDelta::minutes(5);

/// Officers' open proof-of-possession challenges: one per officer (a new one replaces the
/// last), each answered at most once. Pure state; the HTTP handlers drive it.
#[derive(Debug, Default)]
pub struct Enrolments {
    open: std::collections::HashMap<crate::ids::UserId, officer_pki::Challenge>,
    used: std::collections::HashSet<[u8; officer_pki::CHALLENGE_LEN]>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrolError {
    #[error("no open challenge matches; ask for a new one")]
    UnknownChallenge,
    #[error("{0}")]
    Possession(#[from] OfficerPkiError),
}

impl Enrolments {
    /// Open `challenge` for `officer`, dropping expired state.
    pub fn open(&mut self, officer: crate::ids::UserId, challenge: officer_pki::Challenge) {
        let now = challenge.issued_at();
        self.open
            .retain(|_, c| now.signed_duration_since(c.issued_at()) <= CHALLENGE_MAX_AGE);
        // A used challenge older than the maximum age is refused as expired anyway; the set
        // only needs the recent ones, and those are still in `open` or were just answered.
        if self.used.len() > 10_000 {
            self.used.clear();
        }
        self.open.insert(officer, challenge);
    }

    /// Check `officer`'s answer to the challenge given as base64url; on success the challenge
    /// is consumed and the proven key returned.
    pub fn answer(
        &mut self,
        officer: crate::ids::UserId,
        challenge_b64: &str,
        key: officer_pki::SubmittedKey<'_>,
        signature: &[u8],
        now: DateTime<Utc>,
    ) -> Result<officer_pki::OfficerPublicKey, EnrolError> {
        let challenge = match self.open.get(&officer) {
            Some(c) if c.to_base64url() == challenge_b64 => c.clone(),
            _ => return Err(EnrolError::UnknownChallenge),
        };
        let key = officer_pki::verify_possession(
            key,
            &officer.to_string(),
            &challenge,
            signature,
            now,
            CHALLENGE_MAX_AGE,
            &mut self.used,
        )?;
        self.open.remove(&officer);
        Ok(key)
    }
}

//! The development office PKI: a self-signed office CA and the hub's signing certificate.
//!
//! Contract: [`ensure_dev_pki`] owns four files in one directory (`office-ca.pem`,
//! `office-ca.key`, `hub.pem`, `hub.key`). It generates all four when none exist, loads them
//! when all exist and refuses to touch a directory holding only some of them. Whether freshly
//! written or loaded, the files are checked before a [`HubIdentity`] is handed out: the chain
//! verifies, both certificates are valid at the injected clock reading, the hub certificate
//! allows digital signatures and the hub key is the one the certificate names. Keys are PKCS#8
//! PEM created with mode 0600; the CA key is only needed to issue and is never held in memory
//! after the check.
//!
//! This is a development stand-in for the office's real CA: the trust anchor handed to
//! verifiers is [`HubIdentity::ca_pem`], and nothing else in the crate depends on how the
//! certificates were made.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Months, TimeDelta, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use x509_parser::certificate::X509Certificate;
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer as _;

/// PEM file of the office CA certificate: the trust anchor verifiers are given.
pub const CA_CERT_FILE: &str = "office-ca.pem";
/// PKCS#8 PEM file of the office CA key.
pub const CA_KEY_FILE: &str = "office-ca.key";
/// PEM file of the hub certificate.
pub const HUB_CERT_FILE: &str = "hub.pem";
/// PKCS#8 PEM file of the hub signing key.
pub const HUB_KEY_FILE: &str = "hub.key";

const FILES: [&str; 4] = [CA_CERT_FILE, CA_KEY_FILE, HUB_CERT_FILE, HUB_KEY_FILE];

const CA_COMMON_NAME: &str = "globallink development office CA";
const HUB_COMMON_NAME: &str = "globallink hub";
const ORGANISATION: &str = "globallink (development)";
const CA_LIFETIME: Months = Months::new(12 * 10);
const HUB_LIFETIME: Months = Months::new(12 * 2);
/// Certificates start an hour in the past so that a verifier whose clock is slightly behind
/// still accepts a bundle sealed right after generation.
const BACKDATE: TimeDelta = TimeDelta::hours(1);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "PKI directory {} is incomplete: {present} present, {missing} missing; restore the \
         missing files or move the directory away to generate a new development PKI",
        dir.display()
    )]
    Incomplete {
        dir: PathBuf,
        present: String,
        missing: String,
    },
    #[error("cannot generate the development PKI: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{}: {reason}", path.display())]
    Pem { path: PathBuf, reason: String },
    #[error("{}: not a usable ECDSA P-256 PKCS#8 key: {reason}", path.display())]
    Key { path: PathBuf, reason: String },
    #[error("{what}: not a valid X.509 certificate: {reason}")]
    Certificate { what: String, reason: String },
    #[error("{what}: {reason}")]
    Check { what: String, reason: String },
    #[error("time {0} cannot be written in a certificate")]
    Time(DateTime<Utc>),
    #[error("the trust anchor file holds no CERTIFICATE block")]
    NoTrustAnchor,
    #[error("signing failed")]
    Sign,
}

/// The hub's signing key and its certificate chain.
pub struct HubIdentity {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    hub_der: Vec<u8>,
    ca_der: Vec<u8>,
    hub_subject: String,
}

impl fmt::Debug for HubIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key stays out of debug output.
        f.debug_struct("HubIdentity")
            .field("hub_subject", &self.hub_subject)
            .finish()
    }
}

impl HubIdentity {
    /// ECDSA P-256 SHA-256 signature of `msg` in the fixed 64-byte `r || s` form JWS uses.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, PkiError> {
        let sig = self.key.sign(&self.rng, msg).map_err(|_| PkiError::Sign)?;
        Ok(sig.as_ref().to_vec())
    }

    /// The chain as a JWS `x5c` header value: standard base64 of each DER, leaf first.
    pub fn x5c(&self) -> Vec<String> {
        vec![
            STANDARD.encode(&self.hub_der),
            STANDARD.encode(&self.ca_der),
        ]
    }

    /// DER of the hub certificate.
    pub fn hub_der(&self) -> &[u8] {
        &self.hub_der
    }

    /// DER of the office CA certificate.
    pub fn ca_der(&self) -> &[u8] {
        &self.ca_der
    }

    /// The office CA certificate as PEM: the trust anchor to give verifiers.
    pub fn ca_pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.ca_der)
    }

    /// Subject of the hub certificate, e.g. `CN=globallink hub, O=globallink (development)`.
    pub fn hub_subject(&self) -> String {
        self.hub_subject.clone()
    }
}

/// Load the development PKI from `dir`, generating it first if the directory holds none of its
/// files. Returns the identity and whether it was generated now.
pub fn ensure_dev_pki(dir: &Path, now: DateTime<Utc>) -> Result<(HubIdentity, bool), PkiError> {
    let mut present = Vec::new();
    let mut missing = Vec::new();
    for name in FILES {
        let path = dir.join(name);
        match path.try_exists() {
            Ok(true) => present.push(name),
            Ok(false) => missing.push(name),
            Err(source) => return Err(PkiError::Io { path, source }),
        }
    }
    let created = if missing.is_empty() {
        false
    } else if present.is_empty() {
        generate(dir, now)?;
        tracing::info!(dir = %dir.display(), "generated a development office PKI");
        true
    } else {
        return Err(PkiError::Incomplete {
            dir: dir.to_owned(),
            present: present.join(", "),
            missing: missing.join(", "),
        });
    };
    let identity = load(dir, now)?;
    Ok((identity, created))
}

/// Every `CERTIFICATE` block of a PEM file as DER, each checked to parse as X.509.
pub fn load_trust_anchors(pem: &[u8]) -> Result<Vec<Vec<u8>>, PkiError> {
    let mut anchors = Vec::new();
    for (index, block) in Pem::iter_from_buffer(pem).enumerate() {
        let block = block.map_err(|e| PkiError::Pem {
            path: PathBuf::from("trust anchors"),
            reason: format!("PEM block {}: {e}", index + 1),
        })?;
        if block.label != "CERTIFICATE" {
            continue;
        }
        parse_cert(
            &block.contents,
            &format!("trust anchor {}", anchors.len() + 1),
        )?;
        anchors.push(block.contents);
    }
    if anchors.is_empty() {
        return Err(PkiError::NoTrustAnchor);
    }
    Ok(anchors)
}

/// Read CRLs from a file: PEM `X509 CRL` blocks, or one DER CRL. Signatures are checked later,
/// against the CA that issued the certificate in question.
pub fn load_crls(bytes: &[u8]) -> Result<Vec<Vec<u8>>, PkiError> {
    if !bytes.starts_with(b"-----BEGIN") {
        return Ok(vec![bytes.to_vec()]);
    }
    let mut crls = Vec::new();
    for (index, block) in Pem::iter_from_buffer(bytes).enumerate() {
        let block = block.map_err(|e| PkiError::Pem {
            path: PathBuf::from("revocation lists"),
            reason: format!("PEM block {}: {e}", index + 1),
        })?;
        if block.label == "X509 CRL" {
            crls.push(block.contents);
        }
    }
    if crls.is_empty() {
        return Err(PkiError::Pem {
            path: PathBuf::from("revocation lists"),
            reason: "no X509 CRL block".to_owned(),
        });
    }
    Ok(crls)
}

fn generate(dir: &Path, now: DateTime<Utc>) -> Result<(), PkiError> {
    fs::create_dir_all(dir).map_err(|source| PkiError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let not_before = now
        .checked_sub_signed(BACKDATE)
        .ok_or(PkiError::Time(now))?;

    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name = names(CA_COMMON_NAME);
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    set_validity(
        &mut ca_params,
        not_before,
        now.checked_add_months(CA_LIFETIME),
    )?;
    let ca_cert = ca_params.self_signed(&ca_key)?;

    let hub_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut hub_params = CertificateParams::default();
    hub_params.distinguished_name = names(HUB_COMMON_NAME);
    hub_params.is_ca = IsCa::ExplicitNoCa;
    hub_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    hub_params.use_authority_key_identifier_extension = true;
    set_validity(
        &mut hub_params,
        not_before,
        now.checked_add_months(HUB_LIFETIME),
    )?;
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let hub_cert = hub_params.signed_by(&hub_key, &issuer)?;

    // Keys first: a crash part-way leaves an incomplete directory, which the next start reports
    // instead of silently issuing a second chain.
    write_new(
        &dir.join(CA_KEY_FILE),
        ca_key.serialize_pem().as_bytes(),
        0o600,
    )?;
    write_new(
        &dir.join(HUB_KEY_FILE),
        hub_key.serialize_pem().as_bytes(),
        0o600,
    )?;
    write_new(&dir.join(CA_CERT_FILE), ca_cert.pem().as_bytes(), 0o644)?;
    write_new(&dir.join(HUB_CERT_FILE), hub_cert.pem().as_bytes(), 0o644)?;
    sync_dir(dir)
}

fn names(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, ORGANISATION);
    dn
}

/// rcgen 0.14 takes `time::OffsetDateTime`, which this crate does not depend on; the value is
/// built from rcgen's own constructor plus a `std::time::Duration` since the epoch.
fn set_validity(
    params: &mut CertificateParams,
    not_before: DateTime<Utc>,
    not_after: Option<DateTime<Utc>>,
) -> Result<(), PkiError> {
    let not_after = not_after.ok_or(PkiError::Time(not_before))?;
    params.not_before = rcgen::date_time_ymd(1970, 1, 1) + since_epoch(not_before)?;
    params.not_after = rcgen::date_time_ymd(1970, 1, 1) + since_epoch(not_after)?;
    Ok(())
}

/// Time since the Unix epoch, limited to what X.509 can express (years 1970 to 9999), which
/// also keeps the `OffsetDateTime` addition above from overflowing.
fn since_epoch(t: DateTime<Utc>) -> Result<std::time::Duration, PkiError> {
    use chrono::Datelike as _;
    let secs = u64::try_from(t.timestamp()).map_err(|_| PkiError::Time(t))?;
    if t.year() > 9999 {
        return Err(PkiError::Time(t));
    }
    Ok(std::time::Duration::from_secs(secs))
}

/// Write a file that did not exist, via a temporary name so a crash never leaves a truncated
/// file under the final name. The mode is set at creation, so a key is never readable by
/// others, not even briefly.
pub(crate) fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let io_err = |source| PkiError::Io {
        path: path.to_owned(),
        source,
    };
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_err(e)),
        _ => {}
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io_err)?;
    file.write_all(contents).map_err(io_err)?;
    file.sync_all().map_err(io_err)?;
    drop(file);
    fs::rename(&tmp, path).map_err(io_err)
}

fn sync_dir(dir: &Path) -> Result<(), PkiError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| PkiError::Io {
            path: dir.to_owned(),
            source,
        })
}

fn load(dir: &Path, now: DateTime<Utc>) -> Result<HubIdentity, PkiError> {
    let ca_der = read_pem(&dir.join(CA_CERT_FILE), "CERTIFICATE")?;
    let hub_der = read_pem(&dir.join(HUB_CERT_FILE), "CERTIFICATE")?;
    let rng = SystemRandom::new();
    let ca_key = read_key(&dir.join(CA_KEY_FILE), &rng)?;
    let hub_key = read_key(&dir.join(HUB_KEY_FILE), &rng)?;

    let ca = parse_cert(&ca_der, CA_CERT_FILE)?;
    let hub = parse_cert(&hub_der, HUB_CERT_FILE)?;
    check_chain(&ca, &hub, now)?;
    if ca_key.public_key().as_ref() != ca.public_key().subject_public_key.data.as_ref() {
        return Err(check(
            CA_KEY_FILE,
            "the key does not belong to the office CA certificate",
        ));
    }
    if hub_key.public_key().as_ref() != hub.public_key().subject_public_key.data.as_ref() {
        return Err(check(
            HUB_KEY_FILE,
            "the key does not belong to the hub certificate",
        ));
    }
    let hub_subject = hub.subject().to_string();
    Ok(HubIdentity {
        key: hub_key,
        rng,
        hub_der,
        ca_der,
        hub_subject,
    })
}

/// The checks every loaded or generated chain must pass before the hub signs with it.
fn check_chain(
    ca: &X509Certificate<'_>,
    hub: &X509Certificate<'_>,
    now: DateTime<Utc>,
) -> Result<(), PkiError> {
    ca.verify_signature(None).map_err(|e| {
        check(
            CA_CERT_FILE,
            &format!("self-signature does not verify: {e}"),
        )
    })?;
    match ca.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => {}
        _ => {
            return Err(check(
                CA_CERT_FILE,
                "not a CA certificate (basicConstraints)",
            ));
        }
    }
    hub.verify_signature(Some(ca.public_key())).map_err(|e| {
        check(
            HUB_CERT_FILE,
            &format!("signature does not verify against the office CA: {e}"),
        )
    })?;
    match hub.key_usage() {
        Ok(Some(ku)) if ku.value.digital_signature() => {}
        _ => {
            return Err(check(
                HUB_CERT_FILE,
                "key usage does not allow digitalSignature",
            ));
        }
    }
    for (what, cert) in [(CA_CERT_FILE, ca), (HUB_CERT_FILE, hub)] {
        let validity = cert.validity();
        let (from, until) = (
            validity.not_before.timestamp(),
            validity.not_after.timestamp(),
        );
        if now.timestamp() < from || now.timestamp() > until {
            return Err(check(
                what,
                &format!(
                    "not valid at {now} (valid from {} until {})",
                    validity.not_before, validity.not_after
                ),
            ));
        }
    }
    Ok(())
}

fn check(what: &str, reason: &str) -> PkiError {
    PkiError::Check {
        what: what.to_owned(),
        reason: reason.to_owned(),
    }
}

fn parse_cert<'a>(der: &'a [u8], what: &str) -> Result<X509Certificate<'a>, PkiError> {
    let cert_err = |reason: String| PkiError::Certificate {
        what: what.to_owned(),
        reason,
    };
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| cert_err(e.to_string()))?;
    if !rest.is_empty() {
        return Err(cert_err(format!(
            "{} trailing bytes after the certificate",
            rest.len()
        )));
    }
    Ok(cert)
}

/// Contents of the first PEM block labelled `label` in the file at `path`.
pub(crate) fn read_pem(path: &Path, label: &str) -> Result<Vec<u8>, PkiError> {
    let bytes = fs::read(path).map_err(|source| PkiError::Io {
        path: path.to_owned(),
        source,
    })?;
    for block in Pem::iter_from_buffer(&bytes) {
        let block = block.map_err(|e| PkiError::Pem {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        if block.label == label {
            return Ok(block.contents);
        }
    }
    Err(PkiError::Pem {
        path: path.to_owned(),
        reason: format!("no {label} PEM block"),
    })
}

fn read_key(path: &Path, rng: &SystemRandom) -> Result<EcdsaKeyPair, PkiError> {
    warn_if_exposed(path);
    let der = read_pem(path, "PRIVATE KEY")?;
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, rng).map_err(|e| {
        PkiError::Key {
            path: path.to_owned(),
            reason: e.to_string(),
        }
    })
}

pub(crate) fn warn_if_exposed(path: &Path) {
    if let Ok(meta) = fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", mode & 0o777),
                "private key is readable by group or others; run `chmod 600` on it",
            );
        }
    }
}

/// A PEM block of `der` with 64-column base64 lines.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    // Base64 output is ASCII, so splitting the bytes into 64-byte chunks keeps valid UTF-8.
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone as _;

    pub(crate) fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0)
            .single()
            .expect("valid date")
    }

    /// A fresh development PKI in a temporary directory.
    pub(crate) fn dev_identity() -> (tempfile::TempDir, HubIdentity) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (id, created) = ensure_dev_pki(dir.path(), now()).expect("generate PKI");
        assert!(created);
        (dir, id)
    }

    #[test]
    fn generates_with_private_key_modes_and_reloads_the_same_chain() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let pki = dir.path().join("nested/pki");
        let (first, created) = ensure_dev_pki(&pki, now())?;
        assert!(created);
        for key in [CA_KEY_FILE, HUB_KEY_FILE] {
            let mode = fs::metadata(pki.join(key))?.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{key}");
        }
        for name in FILES {
            assert!(
                !pki.join(format!("{name}.tmp")).exists(),
                "{name}.tmp left behind"
            );
        }
        let (second, created) = ensure_dev_pki(&pki, now())?;
        assert!(!created);
        assert_eq!(first.x5c(), second.x5c());
        assert_eq!(first.ca_pem(), fs::read_to_string(pki.join(CA_CERT_FILE))?);
        assert_eq!(
            load_trust_anchors(first.ca_pem().as_bytes())?,
            vec![first.ca_der().to_vec()]
        );
        Ok(())
    }

    #[test]
    fn certificate_contents() -> anyhow::Result<()> {
        let (_dir, id) = dev_identity();
        let (_, ca) = X509Certificate::from_der(id.ca_der())?;
        let (_, hub) = X509Certificate::from_der(id.hub_der())?;
        let cn = |c: &X509Certificate<'_>| -> Option<String> {
            c.subject()
                .iter_common_name()
                .next()?
                .as_str()
                .ok()
                .map(str::to_owned)
        };
        assert_eq!(cn(&ca).as_deref(), Some(CA_COMMON_NAME));
        assert_eq!(cn(&hub).as_deref(), Some(HUB_COMMON_NAME));
        assert_eq!(hub.issuer(), ca.subject());
        assert_eq!(
            id.hub_subject(),
            "CN=globallink hub, O=globallink (development)"
        );

        let ca_bc = ca
            .basic_constraints()?
            .expect("CA has basicConstraints")
            .value;
        assert!(ca_bc.ca);
        assert_eq!(ca_bc.path_len_constraint, None);
        let ca_ku = ca.key_usage()?.expect("CA has keyUsage").value;
        assert!(ca_ku.key_cert_sign() && ca_ku.crl_sign() && !ca_ku.digital_signature());

        assert!(!hub.is_ca());
        let hub_ku = hub.key_usage()?.expect("hub has keyUsage").value;
        assert!(hub_ku.digital_signature() && !hub_ku.key_cert_sign());

        let secs = |t: x509_parser::time::ASN1Time| t.timestamp();
        assert_eq!(secs(hub.validity().not_before), now().timestamp() - 3600);
        let two_years = now().checked_add_months(Months::new(24)).expect("in range");
        assert_eq!(secs(hub.validity().not_after), two_years.timestamp());
        let ten_years = now()
            .checked_add_months(Months::new(120))
            .expect("in range");
        assert_eq!(secs(ca.validity().not_after), ten_years.timestamp());
        Ok(())
    }

    #[test]
    fn rcgen_pkcs8_is_accepted_by_ring() -> anyhow::Result<()> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let ring_key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            key.serialized_der(),
            &SystemRandom::new(),
        )
        .map_err(|e| anyhow::anyhow!("ring rejected rcgen's PKCS#8: {e}"))?;
        assert_eq!(ring_key.public_key().as_ref(), key.public_key_raw());
        Ok(())
    }

    #[test]
    fn signature_is_fixed_size_and_verifies_with_the_certificate_key() -> anyhow::Result<()> {
        let (_dir, id) = dev_identity();
        let sig = id.sign(b"hello")?;
        assert_eq!(sig.len(), 64);
        let (_, hub) = X509Certificate::from_der(id.hub_der())?;
        let key = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            hub.public_key().subject_public_key.data.as_ref(),
        );
        assert!(key.verify(b"hello", &sig).is_ok());
        assert!(key.verify(b"hellO", &sig).is_err());
        Ok(())
    }

    #[test]
    fn partial_directory_is_refused_and_left_alone() -> anyhow::Result<()> {
        let (dir, _id) = dev_identity();
        let ca_cert = fs::read(dir.path().join(CA_CERT_FILE))?;
        fs::remove_file(dir.path().join(HUB_KEY_FILE))?;
        let err = ensure_dev_pki(dir.path(), now()).unwrap_err();
        assert!(matches!(err, PkiError::Incomplete { .. }), "{err}");
        assert!(err.to_string().contains(HUB_KEY_FILE), "{err}");
        assert!(!dir.path().join(HUB_KEY_FILE).exists());
        assert_eq!(fs::read(dir.path().join(CA_CERT_FILE))?, ca_cert);
        Ok(())
    }

    #[test]
    fn readable_key_only_warns() -> anyhow::Result<()> {
        let (dir, id) = dev_identity();
        let key = dir.path().join(HUB_KEY_FILE);
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644))?;
        let (again, created) = ensure_dev_pki(dir.path(), now())?;
        assert!(!created);
        assert_eq!(again.x5c(), id.x5c());
        Ok(())
    }

    #[test]
    fn mismatched_key_is_refused() -> anyhow::Result<()> {
        let (dir, _id) = dev_identity();
        let (other, _other_id) = dev_identity();
        fs::copy(
            other.path().join(HUB_KEY_FILE),
            dir.path().join(HUB_KEY_FILE),
        )?;
        let err = ensure_dev_pki(dir.path(), now()).unwrap_err();
        assert!(matches!(err, PkiError::Check { .. }), "{err}");
        Ok(())
    }

    #[test]
    fn hub_certificate_from_another_ca_is_refused() -> anyhow::Result<()> {
        let (dir, _id) = dev_identity();
        let (other, _other_id) = dev_identity();
        for name in [HUB_CERT_FILE, HUB_KEY_FILE] {
            fs::copy(other.path().join(name), dir.path().join(name))?;
        }
        let err = ensure_dev_pki(dir.path(), now()).unwrap_err();
        assert!(
            err.to_string()
                .contains("does not verify against the office CA"),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn expired_pki_is_refused_on_load() -> anyhow::Result<()> {
        let (dir, _id) = dev_identity();
        let later = now().checked_add_months(Months::new(25)).expect("in range");
        let err = ensure_dev_pki(dir.path(), later).unwrap_err();
        assert!(err.to_string().contains("not valid at"), "{err}");
        Ok(())
    }

    #[test]
    fn unrepresentable_clock_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let far = Utc
            .with_ymd_and_hms(9995, 1, 1, 0, 0, 0)
            .single()
            .expect("valid date");
        let err = ensure_dev_pki(dir.path(), far).unwrap_err();
        assert!(matches!(err, PkiError::Time(_)), "{err}");
        let early = Utc
            .with_ymd_and_hms(1960, 1, 1, 0, 0, 0)
            .single()
            .expect("valid date");
        assert!(matches!(
            ensure_dev_pki(dir.path(), early),
            Err(PkiError::Time(_))
        ));
    }

    #[test]
    fn trust_anchors_need_a_certificate() {
        assert!(matches!(
            load_trust_anchors(b""),
            Err(PkiError::NoTrustAnchor)
        ));
        let key_only = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(matches!(
            load_trust_anchors(key_only.as_bytes()),
            Err(PkiError::NoTrustAnchor)
        ));
        let junk = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            load_trust_anchors(junk.as_bytes()),
            Err(PkiError::Certificate { .. })
        ));
    }
}

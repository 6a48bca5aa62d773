//! Officer certificates issued by the office CA: proof of possession, issuance, revocation.
//!
//! Contract: this module owns the officer enrolment protocol and the officer certificate
//! profile, and nothing else. It does no file or network IO and reads no clock: callers pass
//! key material, DER/PEM bytes and the time to judge at.
//!
//! * **Proof of possession.** The hub hands the officer's browser a [`Challenge`]. The browser
//!   holds a non-extractable WebCrypto ECDSA P-256 key and returns its public key (SPKI DER or
//!   JWK members) and `crypto.subtle.sign({name: "ECDSA", hash: "SHA-256"}, key, message)` over
//!   the message built by [`possession_message`]:
//!
//!   ```text
//!   "globallink-enrol-v1\n" || officer_id || "\n" || challenge
//!   ```
//!
//!   where `officer_id` is the officer's UUID in lower-case hyphenated form (36 ASCII bytes)
//!   and `challenge` is the 32 raw challenge bytes (not their base64). The signature is the
//!   64-byte IEEE P1363 `r || s` form WebCrypto produces. Binding the officer id into the
//!   message means a signature cannot be replayed to enrol the key for another officer.
//!   [`verify_possession`] checks it.
//! * **Issuance.** [`issue_officer_certificate`] has the office CA sign an X.509 certificate for
//!   the officer's public key (the CA never sees the private key). Profile: subject
//!   `CN=<display name>, UID=<officer id>` (the officer id is carried in the `UID` attribute,
//!   OID 0.9.2342.19200300.100.1.1, as a UTF8String), key usage `digitalSignature` only and
//!   critical, basicConstraints `CA:FALSE` (critical), subject and authority key identifiers,
//!   no extended key usage, serial number as given.
//! * **Revocation.** [`build_crl`] produces a CRL signed by the office CA; [`check_crl`]
//!   checks a CRL just fetched against the current clock; [`check_officer_certificate`]
//!   decides whether a certificate was good for signing at a given moment.
//!
//! **Revocation-time rule.** A certificate counts as revoked at time `at` when the CRL lists
//! its serial with a revocation date at or before `at`. A revocation dated after `at` does not
//! invalidate a signature made at `at`: it is ignored. This is why
//! [`check_officer_certificate`] accepts a CRL issued after `at` (a newer CRL is better
//! evidence about `at`, and it is the only kind that can list a revocation dated after `at`)
//! and only rejects a CRL whose nextUpdate is before `at` ([`OfficerPkiError::CrlStale`]),
//! because it may miss revocations made between its nextUpdate and `at`. `certificateHold`
//! entries are treated like any other revocation. Whether a CRL is plausible against the real
//! clock (thisUpdate not in the future, nextUpdate not past) is checked by [`check_crl`].

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use rcgen::string::{Ia5String, PrintableString};
use rcgen::{
    CertificateParams, CertificateRevocationListParams, DistinguishedName, DnType, DnValue, IsCa,
    Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams,
    SerialNumber,
};
use ring::rand::SecureRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use std::collections::HashSet;
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::extensions::ParsedExtension;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_SHA1WITHRSA, OID_SHA1_WITH_RSA, OID_USERID,
    OID_X509_COMMON_NAME, OID_X509_EXT_BASIC_CONSTRAINTS, OID_X509_EXT_EXTENDED_KEY_USAGE,
    OID_X509_EXT_KEY_USAGE, OID_X509_EXT_SUBJECT_ALT_NAME,
};
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer as _;
use x509_parser::revocation_list::CertificateRevocationList;
use x509_parser::time::ASN1Time;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo, X509Name};

#[cfg(test)]
mod tests;

/// Domain-separation prefix of the proof-of-possession message, version 1.
pub const POSSESSION_CONTEXT: &[u8] = b"globallink-enrol-v1\n";
/// Length of a challenge in bytes.
pub const CHALLENGE_LEN: usize = 32;
/// Length of a WebCrypto ECDSA P-256 signature (IEEE P1363 `r || s`).
pub const SIGNATURE_LEN: usize = 64;
/// Longest display name accepted, in characters (X.520 `ub-common-name`).
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;

/// Length of an uncompressed SEC1 P-256 point (`0x04 || x || y`).
const POINT_LEN: usize = 65;
/// DER of a P-256 SubjectPublicKeyInfo up to the point: SEQUENCE { SEQUENCE { id-ecPublicKey,
/// prime256v1 }, BIT STRING (0 unused bits) }.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Everything that can go wrong in this module; one variant per reason.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OfficerPkiError {
    #[error("public key is not a DER SubjectPublicKeyInfo: {0}")]
    KeyEncoding(String),
    #[error("public key JWK is not accepted: {0}")]
    Jwk(String),
    #[error("public key algorithm {0} is not accepted; only ECDSA P-256 (id-ecPublicKey) is")]
    KeyAlgorithm(String),
    #[error("public key curve {0} is not accepted; only P-256 (prime256v1) is")]
    KeyCurve(String),
    #[error("public key is not an uncompressed P-256 point (65 bytes starting with 0x04)")]
    KeyPoint,
    #[error("officer id {0:?} is not a UUID in lower-case hyphenated form")]
    OfficerId(String),
    #[error("display name is not accepted: {0}")]
    DisplayName(String),
    #[error(
        "proof-of-possession signature has {0} bytes; WebCrypto ECDSA P-256 signatures are \
         {SIGNATURE_LEN} bytes (r || s)"
    )]
    SignatureLength(usize),
    #[error("challenge issued at {issued_at} is later than now ({now})")]
    ChallengeFromFuture {
        issued_at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    #[error("challenge issued at {issued_at} has expired (now {now}, maximum age {max_age})")]
    ChallengeExpired {
        issued_at: DateTime<Utc>,
        now: DateTime<Utc>,
        max_age: TimeDelta,
    },
    #[error("challenge has already been used")]
    ChallengeReused,
    #[error(
        "proof-of-possession signature does not verify for this public key, officer id and \
         challenge"
    )]
    BadSignature,
    #[error("the system random number generator failed")]
    Random,
    #[error("serial number 0 is not allowed; certificate serial numbers must be positive")]
    ZeroSerial,
    #[error("not_after {not_after} is not later than not_before {not_before}")]
    ValidityOrder {
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
    },
    #[error("time {0} cannot be written in a certificate or CRL (years 1970 to 9999 only)")]
    Time(DateTime<Utc>),
    #[error(
        "requested validity {not_before} .. {not_after} is not within the CA's validity \
         {ca_not_before} .. {ca_not_after}"
    )]
    OutsideCaValidity {
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
        ca_not_before: DateTime<Utc>,
        ca_not_after: DateTime<Utc>,
    },
    #[error("CA certificate: {0}")]
    CaCertificate(String),
    #[error("CA key is not a usable PKCS#8 PEM key: {0}")]
    CaKey(String),
    #[error("the CA key does not belong to the CA certificate")]
    CaKeyMismatch,
    #[error("the CA subject name cannot be reproduced as an issuer name: {0}")]
    CaName(String),
    #[error("signing with the CA failed: {0}")]
    Sign(String),
    #[error("serial {0} is listed more than once")]
    DuplicateRevocation(u64),
    #[error(
        "revocation of serial {serial} at {revoked_at} is later than the CRL's thisUpdate \
         {this_update}"
    )]
    RevocationAfterThisUpdate {
        serial: u64,
        revoked_at: DateTime<Utc>,
        this_update: DateTime<Utc>,
    },
    #[error("CRL nextUpdate {next_update} is not later than thisUpdate {this_update}")]
    CrlUpdateOrder {
        this_update: DateTime<Utc>,
        next_update: DateTime<Utc>,
    },
    #[error("not a valid X.509 certificate: {0}")]
    Certificate(String),
    #[error("certificate {subject} is not issued by the office CA {ca}: {reason}")]
    NotIssuedByCa {
        subject: String,
        ca: String,
        reason: String,
    },
    #[error(
        "CA certificate {subject} is not valid at {at} (valid from {not_before} until {not_after})"
    )]
    CaNotValid {
        subject: String,
        at: DateTime<Utc>,
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
    },
    #[error("certificate {subject} is not valid before {not_before} (checked at {at})")]
    NotYetValid {
        subject: String,
        at: DateTime<Utc>,
        not_before: DateTime<Utc>,
    },
    #[error("certificate {subject} expired at {not_after} (checked at {at})")]
    Expired {
        subject: String,
        at: DateTime<Utc>,
        not_after: DateTime<Utc>,
    },
    #[error("{what} has critical extension {oid}, which is not supported")]
    CriticalExtension { what: String, oid: String },
    #[error("certificate {subject} is a CA certificate, not an officer certificate")]
    IsCa { subject: String },
    #[error("certificate {subject}: key usage is missing or does not allow digitalSignature")]
    KeyUsage { subject: String },
    #[error(
        "certificate {subject} has {count} {attribute} attributes in its subject, expected \
         exactly one"
    )]
    SubjectAttribute {
        subject: String,
        attribute: &'static str,
        count: usize,
    },
    #[error("serial number {0} is not a positive number of at most 64 bits")]
    SerialRange(String),
    #[error("not a valid CRL: {0}")]
    CrlEncoding(String),
    #[error("CRL is not issued by the office CA {ca}: {reason}")]
    CrlNotFromCa { ca: String, reason: String },
    #[error("CRL thisUpdate {this_update} is later than {at}")]
    CrlNotYetIssued {
        this_update: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    #[error("CRL is stale: its nextUpdate {next_update} is before {at}; fetch a newer CRL")]
    CrlStale {
        next_update: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    #[error("certificate serial {serial} was revoked at {revoked_at}{}", reason_suffix(*.reason))]
    Revoked {
        serial: u64,
        revoked_at: DateTime<Utc>,
        reason: Option<Reason>,
    },
}

fn reason_suffix(reason: Option<Reason>) -> String {
    reason.map(|r| format!(" ({r:?})")).unwrap_or_default()
}

/// A proof-of-possession challenge: 32 random bytes and the time they were issued.
///
/// The hub keeps the challenge (it is not secret, but it must be the hub's own) and sends
/// [`Challenge::to_base64url`] to the browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    bytes: [u8; CHALLENGE_LEN],
    issued_at: DateTime<Utc>,
}

impl Challenge {
    /// A fresh challenge from `rng` (normally `ring::rand::SystemRandom`), issued at `now`.
    pub fn generate(rng: &dyn SecureRandom, now: DateTime<Utc>) -> Result<Self, OfficerPkiError> {
        let mut bytes = [0u8; CHALLENGE_LEN];
        rng.fill(&mut bytes).map_err(|_| OfficerPkiError::Random)?;
        Ok(Self {
            bytes,
            issued_at: now,
        })
    }

    /// A challenge restored from the hub's own storage.
    pub fn from_parts(bytes: [u8; CHALLENGE_LEN], issued_at: DateTime<Utc>) -> Self {
        Self { bytes, issued_at }
    }

    /// The raw challenge bytes, as they appear in the signed message.
    pub fn bytes(&self) -> &[u8; CHALLENGE_LEN] {
        &self.bytes
    }

    /// When the challenge was issued.
    pub fn issued_at(&self) -> DateTime<Utc> {
        self.issued_at
    }

    /// The challenge bytes as unpadded base64url, for sending to the browser (which decodes
    /// them back to the 32 raw bytes before building the message).
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.bytes)
    }
}

/// The officer's public key as the browser sent it.
#[derive(Clone, Copy, Debug)]
pub enum SubmittedKey<'a> {
    /// DER SubjectPublicKeyInfo, from `crypto.subtle.exportKey("spki", publicKey)`.
    Spki(&'a [u8]),
    /// The members of `crypto.subtle.exportKey("jwk", publicKey)`; `x` and `y` are unpadded
    /// base64url of 32 bytes each.
    Jwk {
        kty: &'a str,
        crv: &'a str,
        x: &'a str,
        y: &'a str,
    },
}

/// An ECDSA P-256 public key, held as its uncompressed SEC1 point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfficerPublicKey {
    point: [u8; POINT_LEN],
}

impl OfficerPublicKey {
    /// Parse a DER SubjectPublicKeyInfo; only id-ecPublicKey on P-256 with an uncompressed
    /// point is accepted. Whether the point is on the curve is established by a signature
    /// verifying ([`verify_possession`]), not here.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, OfficerPkiError> {
        let (rest, spki) = SubjectPublicKeyInfo::from_der(der)
            .map_err(|e| OfficerPkiError::KeyEncoding(e.to_string()))?;
        if !rest.is_empty() {
            return Err(OfficerPkiError::KeyEncoding(format!(
                "{} trailing bytes",
                rest.len()
            )));
        }
        p256_point(&spki).and_then(Self::from_sec1)
    }

    /// Build from the members of an EC JWK (`kty` "EC", `crv` "P-256").
    pub fn from_jwk(kty: &str, crv: &str, x: &str, y: &str) -> Result<Self, OfficerPkiError> {
        if kty != "EC" {
            return Err(OfficerPkiError::Jwk(format!(
                "kty {kty:?}, only \"EC\" is accepted"
            )));
        }
        if crv != "P-256" {
            return Err(OfficerPkiError::KeyCurve(crv.to_owned()));
        }
        let coordinate = |name: &str, b64: &str| -> Result<Vec<u8>, OfficerPkiError> {
            let bytes = URL_SAFE_NO_PAD
                .decode(b64)
                .map_err(|e| OfficerPkiError::Jwk(format!("{name} is not base64url: {e}")))?;
            if bytes.len() != 32 {
                return Err(OfficerPkiError::Jwk(format!(
                    "{name} has {} bytes, expected 32",
                    bytes.len()
                )));
            }
            Ok(bytes)
        };
        let mut point = Vec::with_capacity(POINT_LEN);
        point.push(0x04);
        point.extend(coordinate("x", x)?);
        point.extend(coordinate("y", y)?);
        Self::from_sec1(&point)
    }

    /// Build from an uncompressed SEC1 point (`0x04 || x || y`, 65 bytes), e.g. ring's
    /// `EcdsaKeyPair::public_key()` or WebCrypto `exportKey("raw", ...)`.
    pub fn from_sec1(point: &[u8]) -> Result<Self, OfficerPkiError> {
        match <[u8; POINT_LEN]>::try_from(point) {
            Ok(point) if point.first() == Some(&0x04) => Ok(Self { point }),
            _ => Err(OfficerPkiError::KeyPoint),
        }
    }

    /// Parse whatever form the browser submitted.
    pub fn from_submitted(key: SubmittedKey<'_>) -> Result<Self, OfficerPkiError> {
        match key {
            SubmittedKey::Spki(der) => Self::from_spki_der(der),
            SubmittedKey::Jwk { kty, crv, x, y } => Self::from_jwk(kty, crv, x, y),
        }
    }

    /// The uncompressed SEC1 point.
    pub fn sec1_point(&self) -> &[u8] {
        &self.point
    }

    /// The key as DER SubjectPublicKeyInfo (what [`issue_officer_certificate`] takes).
    pub fn spki_der(&self) -> Vec<u8> {
        let mut der = Vec::with_capacity(P256_SPKI_PREFIX.len() + POINT_LEN);
        der.extend_from_slice(&P256_SPKI_PREFIX);
        der.extend_from_slice(&self.point);
        der
    }

    /// Verify a 64-byte `r || s` ECDSA P-256 SHA-256 signature over `msg`.
    pub fn verify(&self, msg: &[u8], signature: &[u8]) -> Result<(), OfficerPkiError> {
        if signature.len() != SIGNATURE_LEN {
            return Err(OfficerPkiError::SignatureLength(signature.len()));
        }
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.point)
            .verify(msg, signature)
            .map_err(|_| OfficerPkiError::BadSignature)
    }
}

/// rcgen's view of the officer key: it signs a certificate for a key it does not hold.
struct RcgenSubjectKey<'a>(&'a OfficerPublicKey);

impl rcgen::PublicKeyData for RcgenSubjectKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.0.point
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

/// The exact bytes the browser signs to prove possession:
/// `"globallink-enrol-v1\n" || officer_id || "\n" || challenge` (see the module docs).
/// `officer_id` must be a lower-case hyphenated UUID.
pub fn possession_message(
    officer_id: &str,
    challenge: &[u8; CHALLENGE_LEN],
) -> Result<Vec<u8>, OfficerPkiError> {
    canonical_officer_id(officer_id)?;
    let mut msg =
        Vec::with_capacity(POSSESSION_CONTEXT.len() + officer_id.len() + 1 + CHALLENGE_LEN);
    msg.extend_from_slice(POSSESSION_CONTEXT);
    msg.extend_from_slice(officer_id.as_bytes());
    msg.push(b'\n');
    msg.extend_from_slice(challenge);
    Ok(msg)
}

/// Check that the officer holds the private key of `key`: `signature` must be a WebCrypto
/// ECDSA P-256 SHA-256 signature over [`possession_message`]`(officer_id, challenge)`.
///
/// The challenge must be no older than `max_age` at `now`, not issued after `now`, and not in
/// `used`. On success its bytes are added to `used`, so each challenge enrols at most one key;
/// a failed attempt does not consume it. Entries may be dropped from `used` once their
/// challenge is older than `max_age`, since such challenges are rejected as expired anyway.
pub fn verify_possession(
    key: SubmittedKey<'_>,
    officer_id: &str,
    challenge: &Challenge,
    signature: &[u8],
    now: DateTime<Utc>,
    max_age: TimeDelta,
    used: &mut HashSet<[u8; CHALLENGE_LEN]>,
) -> Result<OfficerPublicKey, OfficerPkiError> {
    let msg = possession_message(officer_id, &challenge.bytes)?;
    let key = OfficerPublicKey::from_submitted(key)?;
    if signature.len() != SIGNATURE_LEN {
        return Err(OfficerPkiError::SignatureLength(signature.len()));
    }
    if challenge.issued_at > now {
        return Err(OfficerPkiError::ChallengeFromFuture {
            issued_at: challenge.issued_at,
            now,
        });
    }
    if now.signed_duration_since(challenge.issued_at) > max_age {
        return Err(OfficerPkiError::ChallengeExpired {
            issued_at: challenge.issued_at,
            now,
            max_age,
        });
    }
    if used.contains(&challenge.bytes) {
        return Err(OfficerPkiError::ChallengeReused);
    }
    key.verify(&msg, signature)?;
    used.insert(challenge.bytes);
    Ok(key)
}

/// Who an officer certificate is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfficerSubject {
    /// The officer's UUID, lower-case hyphenated; carried in the subject's `UID` attribute.
    pub id: String,
    /// The name shown to people; the subject's `CN`. At most 64 characters, no control
    /// characters, no leading or trailing whitespace.
    pub display_name: String,
}

/// A certificate issued by [`issue_officer_certificate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedCert {
    pub der: Vec<u8>,
    pub pem: String,
    pub serial: u64,
}

/// Issue an officer certificate for `public_key_spki_der`, signed by the office CA.
///
/// `ca_cert_pem` holds the CA certificate (the first `CERTIFICATE` block is used) and
/// `ca_key_pem` its PKCS#8 PEM key. The CA must be a CA (basicConstraints) allowed to sign
/// certificates, and the requested validity must lie within the CA's. `serial` must be
/// positive and unique per CA; the caller allocates it. Issue only for keys that passed
/// [`verify_possession`].
pub fn issue_officer_certificate(
    ca_cert_pem: &str,
    ca_key_pem: &str,
    officer: &OfficerSubject,
    public_key_spki_der: &[u8],
    serial: u64,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
) -> Result<IssuedCert, OfficerPkiError> {
    canonical_officer_id(&officer.id)?;
    check_display_name(&officer.display_name)?;
    let key = OfficerPublicKey::from_spki_der(public_key_spki_der)?;
    if serial == 0 {
        return Err(OfficerPkiError::ZeroSerial);
    }
    if not_after <= not_before {
        return Err(OfficerPkiError::ValidityOrder {
            not_before,
            not_after,
        });
    }
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    let rc_not_before = epoch + since_epoch(not_before)?;
    let rc_not_after = epoch + since_epoch(not_after)?;

    let ca_der = ca_der_from_pem(ca_cert_pem)?;
    let ca = parse_ca(&ca_der)?;
    match ca.key_usage() {
        Ok(None) => {}
        Ok(Some(ku)) if ku.value.key_cert_sign() => {}
        _ => {
            return Err(OfficerPkiError::CaCertificate(
                "key usage does not allow keyCertSign".to_owned(),
            ));
        }
    }
    let (ca_not_before, ca_not_after) = validity(&ca, OfficerPkiError::CaCertificate)?;
    if not_before < ca_not_before || not_after > ca_not_after {
        return Err(OfficerPkiError::OutsideCaValidity {
            not_before,
            not_after,
            ca_not_before,
            ca_not_after,
        });
    }
    let ca_key = load_ca_key(ca_key_pem, &ca)?;
    let issuer_params = issuer_params(&ca)?;
    let issuer = Issuer::from_params(&issuer_params, &ca_key);

    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, officer.display_name.as_str());
    dn.push(
        DnType::CustomDnType(UID_ARCS.to_vec()),
        DnValue::Utf8String(officer.id.clone()),
    );
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    params.serial_number = Some(SerialNumber::from(serial));
    params.not_before = rc_not_before;
    params.not_after = rc_not_after;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    let cert = params
        .signed_by(&RcgenSubjectKey(&key), &issuer)
        .map_err(|e| OfficerPkiError::Sign(e.to_string()))?;
    let der = cert.der().to_vec();

    // Post-condition: what was written must be recognised as issued by this CA.
    let issued = parse_cert(&der).map_err(|e| OfficerPkiError::Sign(e.to_string()))?;
    if issued.issuer().as_raw() != ca.subject().as_raw() {
        return Err(OfficerPkiError::CaName(
            "the issuer name written differs from the CA subject".to_owned(),
        ));
    }
    issued
        .verify_signature(Some(ca.public_key()))
        .map_err(|e| OfficerPkiError::Sign(format!("issued certificate does not verify: {e}")))?;

    Ok(IssuedCert {
        pem: cert.pem(),
        der,
        serial,
    })
}

/// Why a certificate was revoked (RFC 5280 section 5.3.1 reason codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// Written without a reason code extension, as RFC 5280 asks; reads back as `None`.
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    /// A suspension; [`check_officer_certificate`] treats it like any other revocation.
    CertificateHold,
    PrivilegeWithdrawn,
}

impl Reason {
    /// The RFC 5280 reason code.
    pub fn code(self) -> u8 {
        match self {
            Reason::Unspecified => 0,
            Reason::KeyCompromise => 1,
            Reason::CaCompromise => 2,
            Reason::AffiliationChanged => 3,
            Reason::Superseded => 4,
            Reason::CessationOfOperation => 5,
            Reason::CertificateHold => 6,
            Reason::PrivilegeWithdrawn => 9,
        }
    }

    /// The reason for an RFC 5280 reason code, if it is one this module knows.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Reason::Unspecified,
            1 => Reason::KeyCompromise,
            2 => Reason::CaCompromise,
            3 => Reason::AffiliationChanged,
            4 => Reason::Superseded,
            5 => Reason::CessationOfOperation,
            6 => Reason::CertificateHold,
            9 => Reason::PrivilegeWithdrawn,
            _ => return None,
        })
    }

    fn to_rcgen(self) -> RevocationReason {
        match self {
            Reason::Unspecified => RevocationReason::Unspecified,
            Reason::KeyCompromise => RevocationReason::KeyCompromise,
            Reason::CaCompromise => RevocationReason::CaCompromise,
            Reason::AffiliationChanged => RevocationReason::AffiliationChanged,
            Reason::Superseded => RevocationReason::Superseded,
            Reason::CessationOfOperation => RevocationReason::CessationOfOperation,
            Reason::CertificateHold => RevocationReason::CertificateHold,
            Reason::PrivilegeWithdrawn => RevocationReason::PrivilegeWithdrawn,
        }
    }
}

/// One revoked certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revoked {
    pub serial: u64,
    /// When the revocation takes effect; signatures made before it stay valid.
    pub revoked_at: DateTime<Utc>,
    pub reason: Option<Reason>,
}

/// A CRL produced by [`build_crl`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crl {
    pub der: Vec<u8>,
    pub pem: String,
}

/// What [`check_crl`] found in a CRL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlInfo {
    pub crl_number: Option<u64>,
    pub this_update: DateTime<Utc>,
    pub next_update: DateTime<Utc>,
    pub revoked: Vec<Revoked>,
}

/// Build a CRL signed by the office CA listing `revoked`.
///
/// Every revocation must be dated at or before `this_update`, each serial may appear once,
/// and `next_update` must be later than `this_update`. `crl_number` should increase with
/// every CRL the CA publishes.
pub fn build_crl(
    ca_cert_pem: &str,
    ca_key_pem: &str,
    revoked: &[Revoked],
    crl_number: u64,
    this_update: DateTime<Utc>,
    next_update: DateTime<Utc>,
) -> Result<Crl, OfficerPkiError> {
    if next_update <= this_update {
        return Err(OfficerPkiError::CrlUpdateOrder {
            this_update,
            next_update,
        });
    }
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    let mut seen = HashSet::new();
    let mut revoked_certs = Vec::with_capacity(revoked.len());
    for entry in revoked {
        if entry.serial == 0 {
            return Err(OfficerPkiError::ZeroSerial);
        }
        if !seen.insert(entry.serial) {
            return Err(OfficerPkiError::DuplicateRevocation(entry.serial));
        }
        if entry.revoked_at > this_update {
            return Err(OfficerPkiError::RevocationAfterThisUpdate {
                serial: entry.serial,
                revoked_at: entry.revoked_at,
                this_update,
            });
        }
        revoked_certs.push(RevokedCertParams {
            serial_number: SerialNumber::from(entry.serial),
            revocation_time: epoch + since_epoch(entry.revoked_at)?,
            reason_code: entry.reason.map(Reason::to_rcgen),
            invalidity_date: None,
        });
    }

    let ca_der = ca_der_from_pem(ca_cert_pem)?;
    let ca = parse_ca(&ca_der)?;
    let ca_key = load_ca_key(ca_key_pem, &ca)?;
    let issuer_params = issuer_params(&ca)?;
    let issuer = Issuer::from_params(&issuer_params, &ca_key);
    let params = CertificateRevocationListParams {
        this_update: epoch + since_epoch(this_update)?,
        next_update: epoch + since_epoch(next_update)?,
        crl_number: SerialNumber::from(crl_number),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: issuer_params.key_identifier_method.clone(),
    };
    let crl = params
        .signed_by(&issuer)
        .map_err(|e| OfficerPkiError::Sign(e.to_string()))?;
    let der = crl.der().to_vec();
    let pem = crl
        .pem()
        .map_err(|e| OfficerPkiError::Sign(e.to_string()))?;

    // Post-condition, as for certificates.
    verified_crl(&der, &ca).map_err(|e| OfficerPkiError::Sign(e.to_string()))?;
    Ok(Crl { der, pem })
}

/// Check a CRL as fetched or loaded now: issued by the CA in `ca_der`, thisUpdate at or
/// before `now` ([`OfficerPkiError::CrlNotYetIssued`]) and nextUpdate at or after `now`
/// ([`OfficerPkiError::CrlStale`]). Returns its contents.
pub fn check_crl(
    crl_der: &[u8],
    ca_der: &[u8],
    now: DateTime<Utc>,
) -> Result<CrlInfo, OfficerPkiError> {
    let ca = parse_ca(ca_der)?;
    let (crl, this_update, next_update) = verified_crl(crl_der, &ca)?;
    if this_update > now {
        return Err(OfficerPkiError::CrlNotYetIssued {
            this_update,
            at: now,
        });
    }
    if next_update < now {
        return Err(OfficerPkiError::CrlStale {
            next_update,
            at: now,
        });
    }
    let mut revoked = Vec::new();
    for entry in crl.iter_revoked_certificates() {
        let serial = serial_to_u64(entry.raw_serial())?;
        let revoked_at = to_utc(entry.revocation_date)
            .ok_or_else(|| OfficerPkiError::CrlEncoding("revocation date out of range".into()))?;
        revoked.push(Revoked {
            serial,
            revoked_at,
            reason: entry
                .reason_code()
                .and_then(|(_, code)| Reason::from_code(code.0)),
        });
    }
    let crl_number = match crl.crl_number() {
        None => None,
        Some(n) => Some(serial_to_u64(&n.to_bytes_be())?),
    };
    Ok(CrlInfo {
        crl_number,
        this_update,
        next_update,
        revoked,
    })
}

/// What a valid officer certificate says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfficerCertInfo {
    pub officer_id: String,
    pub display_name: String,
    pub serial: u64,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

/// Decide whether `cert_der` was a good officer signing certificate at `at`.
///
/// Checks, in order: the certificate is signed by the CA in `ca_der` (and names it as
/// issuer); the CA is valid at `at`; the certificate is valid at `at`; it has no unsupported
/// critical extension; it is not a CA; its key usage allows digitalSignature; its key is
/// ECDSA P-256; its subject has exactly one `CN` and one `UID` holding a lower-case UUID; its
/// serial fits in 64 bits. With a CRL: the CRL is signed by the same CA, its nextUpdate is
/// not before `at`, and the serial is not revoked at or before `at` (the revocation-time rule
/// in the module docs; a CRL issued after `at` is accepted). Without a CRL, revocation is not
/// checked.
pub fn check_officer_certificate(
    cert_der: &[u8],
    ca_der: &[u8],
    crl_der: Option<&[u8]>,
    at: DateTime<Utc>,
) -> Result<OfficerCertInfo, OfficerPkiError> {
    let ca = parse_ca(ca_der)?;
    let cert = parse_cert(cert_der)?;
    let subject = cert.subject().to_string();
    let not_issued = |reason: String| OfficerPkiError::NotIssuedByCa {
        subject: subject.clone(),
        ca: ca.subject().to_string(),
        reason,
    };
    if cert.issuer().as_raw() != ca.subject().as_raw() {
        return Err(not_issued(format!("its issuer is {}", cert.issuer())));
    }
    reject_sha1(&cert.signature_algorithm).map_err(not_issued)?;
    cert.verify_signature(Some(ca.public_key()))
        .map_err(|e| not_issued(format!("signature does not verify: {e}")))?;

    let (ca_not_before, ca_not_after) = validity(&ca, OfficerPkiError::CaCertificate)?;
    if at < ca_not_before || at > ca_not_after {
        return Err(OfficerPkiError::CaNotValid {
            subject: ca.subject().to_string(),
            at,
            not_before: ca_not_before,
            not_after: ca_not_after,
        });
    }
    let (not_before, not_after) = validity(&cert, OfficerPkiError::Certificate)?;
    if at < not_before {
        return Err(OfficerPkiError::NotYetValid {
            subject,
            at,
            not_before,
        });
    }
    if at > not_after {
        return Err(OfficerPkiError::Expired {
            subject,
            at,
            not_after,
        });
    }

    for ext in cert.extensions() {
        let supported = ext.oid == OID_X509_EXT_KEY_USAGE
            || ext.oid == OID_X509_EXT_BASIC_CONSTRAINTS
            || ext.oid == OID_X509_EXT_EXTENDED_KEY_USAGE
            || ext.oid == OID_X509_EXT_SUBJECT_ALT_NAME;
        if ext.critical && !supported {
            return Err(OfficerPkiError::CriticalExtension {
                what: format!("certificate {subject}"),
                oid: ext.oid.to_id_string(),
            });
        }
    }
    match cert.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => return Err(OfficerPkiError::IsCa { subject }),
        Ok(_) => {}
        Err(e) => {
            return Err(OfficerPkiError::Certificate(format!(
                "basicConstraints: {e}"
            )));
        }
    }
    match cert.key_usage() {
        Ok(Some(ku)) if ku.value.digital_signature() => {}
        _ => return Err(OfficerPkiError::KeyUsage { subject }),
    }
    p256_point(cert.public_key())?;

    let display_name = single_attribute(&cert, &subject, &OID_X509_COMMON_NAME, "CN")?;
    let officer_id = single_attribute(&cert, &subject, &OID_USERID, "UID")?;
    canonical_officer_id(&officer_id)?;
    let serial = serial_to_u64(cert.raw_serial())?;

    if let Some(crl_der) = crl_der {
        let (crl, _this_update, next_update) = verified_crl(crl_der, &ca)?;
        if next_update < at {
            return Err(OfficerPkiError::CrlStale { next_update, at });
        }
        let mut earliest: Option<(DateTime<Utc>, Option<Reason>)> = None;
        for entry in crl.iter_revoked_certificates() {
            if entry.user_certificate != cert.serial {
                continue;
            }
            let revoked_at = to_utc(entry.revocation_date).ok_or_else(|| {
                OfficerPkiError::CrlEncoding("revocation date out of range".into())
            })?;
            let reason = entry
                .reason_code()
                .and_then(|(_, code)| Reason::from_code(code.0));
            if earliest.is_none_or(|(t, _)| revoked_at < t) {
                earliest = Some((revoked_at, reason));
            }
        }
        if let Some((revoked_at, reason)) = earliest
            && revoked_at <= at
        {
            return Err(OfficerPkiError::Revoked {
                serial,
                revoked_at,
                reason,
            });
        }
    }

    Ok(OfficerCertInfo {
        officer_id,
        display_name,
        serial,
        not_before,
        not_after,
    })
}

/// Arcs of the `UID` (userId) attribute type, 0.9.2342.19200300.100.1.1.
const UID_ARCS: [u64; 7] = [0, 9, 2342, 19200300, 100, 1, 1];

fn canonical_officer_id(id: &str) -> Result<(), OfficerPkiError> {
    match uuid::Uuid::try_parse(id) {
        Ok(u) if u.hyphenated().to_string() == id => Ok(()),
        _ => Err(OfficerPkiError::OfficerId(id.to_owned())),
    }
}

fn check_display_name(name: &str) -> Result<(), OfficerPkiError> {
    let reason = if name.trim().is_empty() {
        "it is empty".to_owned()
    } else if name.chars().count() > MAX_DISPLAY_NAME_CHARS {
        format!("it is longer than {MAX_DISPLAY_NAME_CHARS} characters")
    } else if name.chars().any(char::is_control) {
        "it contains control characters".to_owned()
    } else if name.trim() != name {
        "it starts or ends with whitespace".to_owned()
    } else {
        return Ok(());
    };
    Err(OfficerPkiError::DisplayName(reason))
}

/// The uncompressed point of a P-256 SPKI, or why it is not one.
fn p256_point<'a>(spki: &'a SubjectPublicKeyInfo<'_>) -> Result<&'a [u8], OfficerPkiError> {
    if spki.algorithm.algorithm != OID_KEY_TYPE_EC_PUBLIC_KEY {
        return Err(OfficerPkiError::KeyAlgorithm(
            spki.algorithm.algorithm.to_id_string(),
        ));
    }
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok());
    match curve {
        Some(oid) if oid == OID_EC_P256 => {}
        Some(oid) => return Err(OfficerPkiError::KeyCurve(oid.to_id_string())),
        None => {
            return Err(OfficerPkiError::KeyCurve(
                "(missing or not a named curve)".to_owned(),
            ));
        }
    }
    let point = spki.subject_public_key.data.as_ref();
    if spki.subject_public_key.unused_bits != 0
        || point.len() != POINT_LEN
        || point.first() != Some(&0x04)
    {
        return Err(OfficerPkiError::KeyPoint);
    }
    Ok(point)
}

/// Seconds since the Unix epoch, limited to what X.509 can express (years 1970 to 9999),
/// which also keeps rcgen's `OffsetDateTime` addition from overflowing.
fn since_epoch(t: DateTime<Utc>) -> Result<std::time::Duration, OfficerPkiError> {
    use chrono::Datelike as _;
    let secs = u64::try_from(t.timestamp()).map_err(|_| OfficerPkiError::Time(t))?;
    if t.year() > 9999 {
        return Err(OfficerPkiError::Time(t));
    }
    Ok(std::time::Duration::from_secs(secs))
}

fn to_utc(t: ASN1Time) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.timestamp(), 0)
}

fn validity(
    cert: &X509Certificate<'_>,
    err: fn(String) -> OfficerPkiError,
) -> Result<(DateTime<Utc>, DateTime<Utc>), OfficerPkiError> {
    let v = cert.validity();
    match (to_utc(v.not_before), to_utc(v.not_after)) {
        (Some(nb), Some(na)) => Ok((nb, na)),
        _ => Err(err("validity dates out of range".to_owned())),
    }
}

/// A positive DER INTEGER of at most 64 significant bits, as `u64`; zero is refused.
fn serial_to_u64(raw: &[u8]) -> Result<u64, OfficerPkiError> {
    let range = || OfficerPkiError::SerialRange(hex::encode(raw));
    if raw.first().is_some_and(|b| b & 0x80 != 0) {
        return Err(range());
    }
    let start = raw.iter().position(|&b| b != 0).unwrap_or(raw.len());
    let significant = raw.get(start..).unwrap_or_default();
    if significant.len() > 8 {
        return Err(range());
    }
    let value = significant
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    if value == 0 {
        return Err(range());
    }
    Ok(value)
}

fn single_attribute(
    cert: &X509Certificate<'_>,
    subject: &str,
    oid: &x509_parser::der_parser::oid::Oid<'_>,
    attribute: &'static str,
) -> Result<String, OfficerPkiError> {
    let values: Vec<_> = cert.subject().iter_by_oid(oid).collect();
    let count_err = || OfficerPkiError::SubjectAttribute {
        subject: subject.to_owned(),
        attribute,
        count: values.len(),
    };
    let [value] = values.as_slice() else {
        return Err(count_err());
    };
    value.as_str().map(str::to_owned).map_err(|e| {
        OfficerPkiError::Certificate(format!("subject {attribute} is not a string: {e}"))
    })
}

fn reject_sha1(alg: &AlgorithmIdentifier<'_>) -> Result<(), String> {
    if alg.algorithm == OID_PKCS1_SHA1WITHRSA || alg.algorithm == OID_SHA1_WITH_RSA {
        return Err("SHA-1 signatures are not accepted".to_owned());
    }
    Ok(())
}

fn parse_cert(der: &[u8]) -> Result<X509Certificate<'_>, OfficerPkiError> {
    let (rest, cert) =
        X509Certificate::from_der(der).map_err(|e| OfficerPkiError::Certificate(e.to_string()))?;
    if !rest.is_empty() {
        return Err(OfficerPkiError::Certificate(format!(
            "{} trailing bytes after the certificate",
            rest.len()
        )));
    }
    Ok(cert)
}

/// Parse the CA certificate and check that basicConstraints makes it a CA. Its own signature
/// is not checked: the caller chose it as the trust anchor, and it may be an intermediate.
fn parse_ca(der: &[u8]) -> Result<X509Certificate<'_>, OfficerPkiError> {
    let ca = parse_cert(der).map_err(|e| OfficerPkiError::CaCertificate(e.to_string()))?;
    match ca.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => Ok(ca),
        _ => Err(OfficerPkiError::CaCertificate(format!(
            "{} is not a CA certificate (basicConstraints)",
            ca.subject()
        ))),
    }
}

fn ca_der_from_pem(pem: &str) -> Result<Vec<u8>, OfficerPkiError> {
    for block in Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|e| OfficerPkiError::CaCertificate(format!("PEM: {e}")))?;
        if block.label == "CERTIFICATE" {
            return Ok(block.contents);
        }
    }
    Err(OfficerPkiError::CaCertificate(
        "no CERTIFICATE block in the PEM".to_owned(),
    ))
}

fn load_ca_key(pem: &str, ca: &X509Certificate<'_>) -> Result<KeyPair, OfficerPkiError> {
    let key = KeyPair::from_pem(pem).map_err(|e| OfficerPkiError::CaKey(e.to_string()))?;
    if key.public_key_raw() != ca.public_key().subject_public_key.data.as_ref() {
        return Err(OfficerPkiError::CaKeyMismatch);
    }
    Ok(key)
}

/// What rcgen needs to know about the CA to write issuer fields: its subject name (rebuilt
/// attribute by attribute, so it must be one single-valued RDN per attribute type, in a
/// string type rcgen can write), its key usages and its subject key identifier (used as the
/// authority key identifier).
fn issuer_params(ca: &X509Certificate<'_>) -> Result<CertificateParams, OfficerPkiError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = rebuild_name(ca.subject())?;
    params.key_identifier_method = ca
        .iter_extensions()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => {
                Some(KeyIdMethod::PreSpecified(id.0.to_vec()))
            }
            _ => None,
        })
        .unwrap_or(KeyIdMethod::Sha256);
    if let Ok(Some(ku)) = ca.key_usage() {
        let ku = ku.value;
        params.key_usages = [
            (ku.digital_signature(), KeyUsagePurpose::DigitalSignature),
            (ku.non_repudiation(), KeyUsagePurpose::ContentCommitment),
            (ku.key_encipherment(), KeyUsagePurpose::KeyEncipherment),
            (ku.data_encipherment(), KeyUsagePurpose::DataEncipherment),
            (ku.key_agreement(), KeyUsagePurpose::KeyAgreement),
            (ku.key_cert_sign(), KeyUsagePurpose::KeyCertSign),
            (ku.crl_sign(), KeyUsagePurpose::CrlSign),
            (ku.encipher_only(), KeyUsagePurpose::EncipherOnly),
            (ku.decipher_only(), KeyUsagePurpose::DecipherOnly),
        ]
        .into_iter()
        .filter_map(|(set, purpose)| set.then_some(purpose))
        .collect();
    }
    Ok(params)
}

fn rebuild_name(name: &X509Name<'_>) -> Result<DistinguishedName, OfficerPkiError> {
    let mut dn = DistinguishedName::new();
    let mut seen = HashSet::new();
    for rdn in name.iter() {
        let mut attrs = rdn.iter();
        let (Some(attr), None) = (attrs.next(), attrs.next()) else {
            return Err(OfficerPkiError::CaName(
                "multi-valued or empty RDN".to_owned(),
            ));
        };
        let oid = attr.attr_type();
        let arcs: Vec<u64> = oid
            .iter()
            .ok_or_else(|| OfficerPkiError::CaName(format!("attribute type {oid} too large")))?
            .collect();
        let ty = DnType::from_oid(&arcs);
        if !seen.insert(ty.clone()) {
            return Err(OfficerPkiError::CaName(format!(
                "attribute {oid} appears more than once"
            )));
        }
        let value = attr.attr_value();
        let text = || {
            std::str::from_utf8(value.data)
                .map_err(|_| OfficerPkiError::CaName(format!("attribute {oid} is not text")))
        };
        let invalid = |e: rcgen::Error| OfficerPkiError::CaName(format!("attribute {oid}: {e}"));
        let value = match value.tag() {
            Tag::Utf8String => DnValue::Utf8String(text()?.to_owned()),
            Tag::PrintableString => {
                DnValue::PrintableString(PrintableString::try_from(text()?).map_err(invalid)?)
            }
            Tag::Ia5String => DnValue::Ia5String(Ia5String::try_from(text()?).map_err(invalid)?),
            other => {
                return Err(OfficerPkiError::CaName(format!(
                    "attribute {oid} uses string type {other}, which is not supported"
                )));
            }
        };
        dn.push(ty, value);
    }
    Ok(dn)
}

/// Parse a CRL and check that the CA in `ca` issued it; returns it with thisUpdate and
/// nextUpdate.
fn verified_crl<'a>(
    der: &'a [u8],
    ca: &X509Certificate<'_>,
) -> Result<(CertificateRevocationList<'a>, DateTime<Utc>, DateTime<Utc>), OfficerPkiError> {
    let (rest, crl) = CertificateRevocationList::from_der(der)
        .map_err(|e| OfficerPkiError::CrlEncoding(e.to_string()))?;
    if !rest.is_empty() {
        return Err(OfficerPkiError::CrlEncoding(format!(
            "{} trailing bytes after the CRL",
            rest.len()
        )));
    }
    let not_from_ca = |reason: String| OfficerPkiError::CrlNotFromCa {
        ca: ca.subject().to_string(),
        reason,
    };
    if crl.issuer().as_raw() != ca.subject().as_raw() {
        return Err(not_from_ca(format!("its issuer is {}", crl.issuer())));
    }
    match ca.key_usage() {
        Ok(None) => {}
        Ok(Some(ku)) if ku.value.crl_sign() => {}
        _ => {
            return Err(not_from_ca(
                "the CA's key usage does not allow cRLSign".into(),
            ));
        }
    }
    reject_sha1(&crl.signature_algorithm).map_err(not_from_ca)?;
    crl.verify_signature(ca.public_key())
        .map_err(|e| not_from_ca(format!("signature does not verify: {e}")))?;

    let critical = crl
        .extensions()
        .iter()
        .chain(
            crl.iter_revoked_certificates()
                .flat_map(|entry| entry.extensions().iter()),
        )
        .find(|ext| ext.critical);
    if let Some(ext) = critical {
        return Err(OfficerPkiError::CriticalExtension {
            what: "CRL".to_owned(),
            oid: ext.oid.to_id_string(),
        });
    }
    let this_update = to_utc(crl.last_update())
        .ok_or_else(|| OfficerPkiError::CrlEncoding("thisUpdate out of range".to_owned()))?;
    let next_update = crl
        .next_update()
        .ok_or_else(|| OfficerPkiError::CrlEncoding("no nextUpdate".to_owned()))
        .and_then(|t| {
            to_utc(t)
                .ok_or_else(|| OfficerPkiError::CrlEncoding("nextUpdate out of range".to_owned()))
        })?;
    Ok((crl, this_update, next_update))
}

use super::OfficerPkiError as E;
use super::*;
use chrono::TimeZone as _;
use rcgen::{BasicConstraints, PKCS_ECDSA_P256_SHA256, PublicKeyData as _};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use std::path::Path;
use std::process::{Command, Output};
use x509_parser::oid_registry::{
    OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER, OID_X509_EXT_SUBJECT_KEY_IDENTIFIER,
};

const OFFICER_ID: &str = "6f1c2a9e-4b7d-4e2a-9c61-0d5e8f3a7b21";
const OTHER_OFFICER_ID: &str = "0b9d8c7e-1a2b-4c3d-8e9f-a0b1c2d3e4f5";
const DISPLAY_NAME: &str = "Maître Anne-Sophie Dubois";
const OPENSSL: &str = "/usr/bin/openssl";

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0)
        .single()
        .expect("valid date")
}

fn max_age() -> TimeDelta {
    TimeDelta::minutes(5)
}

/// An office CA made the way `ensure_dev_pki` makes it.
struct Ca {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
    key_pem: String,
    der: Vec<u8>,
}

fn make_ca() -> Ca {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("CA key");
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "globallink development office CA");
    dn.push(DnType::OrganizationName, "globallink (development)");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + since_epoch(at(2025, 1, 1)).expect("time");
    params.not_after = epoch + since_epoch(at(2035, 1, 1)).expect("time");
    let cert = params.self_signed(&key).expect("self-signed CA");
    Ca {
        pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().to_vec(),
        params,
        key,
    }
}

/// The officer's browser: a P-256 key that never leaves it.
struct Browser {
    key: EcdsaKeyPair,
    rng: SystemRandom,
}

impl Browser {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("keygen");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("key");
        Self { key, rng }
    }

    fn point(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }

    /// What `exportKey("spki", publicKey)` returns.
    fn spki(&self) -> Vec<u8> {
        OfficerPublicKey::from_sec1(self.point())
            .expect("point")
            .spki_der()
    }

    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.key
            .sign(&self.rng, msg)
            .expect("sign")
            .as_ref()
            .to_vec()
    }

    /// Sign the enrolment message the way the browser is told to.
    fn prove(&self, officer_id: &str, challenge: &[u8; CHALLENGE_LEN]) -> Vec<u8> {
        self.sign(&possession_message(officer_id, challenge).expect("message"))
    }
}

fn challenge(issued_at: DateTime<Utc>) -> Challenge {
    Challenge::generate(&SystemRandom::new(), issued_at).expect("challenge")
}

fn officer() -> OfficerSubject {
    OfficerSubject {
        id: OFFICER_ID.to_owned(),
        display_name: DISPLAY_NAME.to_owned(),
    }
}

fn issue(ca: &Ca, browser: &Browser, serial: u64) -> IssuedCert {
    issue_officer_certificate(
        &ca.pem,
        &ca.key_pem,
        &officer(),
        &browser.spki(),
        serial,
        at(2026, 1, 1),
        at(2027, 1, 1),
    )
    .expect("issue")
}

/// A certificate signed by `ca` with arbitrary parameters, for profiles the module refuses
/// to issue.
fn rcgen_leaf(ca: &Ca, customise: impl FnOnce(&mut CertificateParams)) -> Vec<u8> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("leaf key");
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, DISPLAY_NAME);
    dn.push(DnType::CustomDnType(UID_ARCS.to_vec()), OFFICER_ID);
    params.distinguished_name = dn;
    params.serial_number = Some(SerialNumber::from(77u64));
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + since_epoch(at(2026, 1, 1)).expect("time");
    params.not_after = epoch + since_epoch(at(2027, 1, 1)).expect("time");
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    customise(&mut params);
    let issuer = Issuer::from_params(&ca.params, &ca.key);
    params
        .signed_by(&key, &issuer)
        .expect("leaf")
        .der()
        .to_vec()
}

fn openssl(dir: &Path, args: &[&str]) -> Output {
    assert!(
        Path::new(OPENSSL).exists(),
        "{OPENSSL} is missing: the openssl CLI is required for the cross-checks in these tests \
         (install the openssl package)"
    );
    Command::new(OPENSSL)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn write(dir: &Path, name: &str, contents: &str) {
    std::fs::write(dir.join(name), contents).expect("write");
}

fn pem_of(label: &str, der: &[u8]) -> String {
    use base64::engine::general_purpose::STANDARD;
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

// ---------------------------------------------------------------- proof of possession

#[test]
fn spki_encoding_matches_rcgen_and_round_trips() {
    let kp = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
    let ours = OfficerPublicKey::from_sec1(kp.public_key_raw()).expect("point");
    assert_eq!(ours.spki_der(), kp.subject_public_key_info());
    let parsed = OfficerPublicKey::from_spki_der(&kp.subject_public_key_info()).expect("parse");
    assert_eq!(parsed, ours);
    assert_eq!(parsed.sec1_point(), kp.public_key_raw());
}

#[test]
fn possession_message_is_exactly_as_documented() {
    let bytes = [0xa5u8; CHALLENGE_LEN];
    let msg = possession_message(OFFICER_ID, &bytes).expect("message");
    let mut expected = b"globallink-enrol-v1\n".to_vec();
    expected.extend_from_slice(OFFICER_ID.as_bytes());
    expected.push(b'\n');
    expected.extend_from_slice(&bytes);
    assert_eq!(msg, expected);
    assert_eq!(msg.len(), 20 + 36 + 1 + 32);
}

#[test]
fn challenge_is_random_and_base64url() {
    let now = at(2026, 3, 1);
    let a = challenge(now);
    let b = challenge(now);
    assert_ne!(a.bytes(), b.bytes());
    assert_eq!(a.issued_at(), now);
    let decoded = URL_SAFE_NO_PAD.decode(a.to_base64url()).expect("base64url");
    assert_eq!(decoded.as_slice(), a.bytes());
    assert_eq!(Challenge::from_parts(*a.bytes(), now), a);
}

#[test]
fn possession_verifies_for_spki_and_jwk() {
    let browser = Browser::new();
    let now = at(2026, 3, 1);
    let mut used = HashSet::new();

    let c = challenge(now);
    let sig = browser.prove(OFFICER_ID, c.bytes());
    assert_eq!(sig.len(), SIGNATURE_LEN);
    let spki = browser.spki();
    let key = verify_possession(
        SubmittedKey::Spki(&spki),
        OFFICER_ID,
        &c,
        &sig,
        now + TimeDelta::seconds(30),
        max_age(),
        &mut used,
    )
    .expect("possession");
    assert_eq!(key.sec1_point(), browser.point());
    assert_eq!(key.spki_der(), spki);
    assert!(used.contains(c.bytes()));

    let c = challenge(now);
    let sig = browser.prove(OFFICER_ID, c.bytes());
    let point = browser.point();
    let x = URL_SAFE_NO_PAD.encode(point.get(1..33).expect("x"));
    let y = URL_SAFE_NO_PAD.encode(point.get(33..65).expect("y"));
    let jwk = SubmittedKey::Jwk {
        kty: "EC",
        crv: "P-256",
        x: &x,
        y: &y,
    };
    let key = verify_possession(jwk, OFFICER_ID, &c, &sig, now, max_age(), &mut used)
        .expect("possession via JWK");
    assert_eq!(key.sec1_point(), browser.point());
    assert_eq!(used.len(), 2);
}

#[test]
fn possession_signature_for_another_officer_fails() {
    let browser = Browser::new();
    let now = at(2026, 3, 1);
    let c = challenge(now);
    let sig = browser.prove(OFFICER_ID, c.bytes());
    let mut used = HashSet::new();
    let err = verify_possession(
        SubmittedKey::Spki(&browser.spki()),
        OTHER_OFFICER_ID,
        &c,
        &sig,
        now,
        max_age(),
        &mut used,
    );
    assert!(matches!(err, Err(E::BadSignature)), "{err:?}");
    assert!(
        used.is_empty(),
        "a failed attempt must not consume the challenge"
    );
}

#[test]
fn possession_over_altered_challenge_fails() {
    let browser = Browser::new();
    let now = at(2026, 3, 1);
    let c = challenge(now);
    let mut altered = *c.bytes();
    altered[0] ^= 1;
    let sig = browser.prove(OFFICER_ID, &altered);
    let err = verify_possession(
        SubmittedKey::Spki(&browser.spki()),
        OFFICER_ID,
        &c,
        &sig,
        now,
        max_age(),
        &mut HashSet::new(),
    );
    assert!(matches!(err, Err(E::BadSignature)), "{err:?}");
}

#[test]
fn possession_with_another_key_fails() {
    let browser = Browser::new();
    let other = Browser::new();
    let now = at(2026, 3, 1);
    let c = challenge(now);
    let sig = browser.prove(OFFICER_ID, c.bytes());
    let err = verify_possession(
        SubmittedKey::Spki(&other.spki()),
        OFFICER_ID,
        &c,
        &sig,
        now,
        max_age(),
        &mut HashSet::new(),
    );
    assert!(matches!(err, Err(E::BadSignature)), "{err:?}");
}

#[test]
fn possession_challenge_age_is_enforced() {
    let browser = Browser::new();
    let issued = at(2026, 3, 1);
    let c = challenge(issued);
    let sig = browser.prove(OFFICER_ID, c.bytes());
    let spki = browser.spki();
    let attempt = |now| {
        verify_possession(
            SubmittedKey::Spki(&spki),
            OFFICER_ID,
            &c,
            &sig,
            now,
            max_age(),
            &mut HashSet::new(),
        )
    };
    let err = attempt(issued + max_age() + TimeDelta::seconds(1));
    assert!(
        matches!(err, Err(E::ChallengeExpired { issued_at, .. }) if issued_at == issued),
        "{err:?}"
    );
    let err = attempt(issued - TimeDelta::seconds(1));
    assert!(matches!(err, Err(E::ChallengeFromFuture { .. })), "{err:?}");
    assert!(
        attempt(issued + max_age()).is_ok(),
        "exactly max_age old is still fresh"
    );
}

#[test]
fn possession_challenge_cannot_be_reused() {
    let browser = Browser::new();
    let now = at(2026, 3, 1);
    let c = challenge(now);
    let sig = browser.prove(OFFICER_ID, c.bytes());
    let spki = browser.spki();
    let mut used = HashSet::new();
    let mut attempt = || {
        verify_possession(
            SubmittedKey::Spki(&spki),
            OFFICER_ID,
            &c,
            &sig,
            now,
            max_age(),
            &mut used,
        )
    };
    assert!(attempt().is_ok());
    let err = attempt();
    assert!(matches!(err, Err(E::ChallengeReused)), "{err:?}");
}

#[test]
fn possession_rejects_malformed_inputs() {
    let browser = Browser::new();
    let now = at(2026, 3, 1);
    let c = challenge(now);
    let sig = browser.prove(OFFICER_ID, c.bytes());
    let spki = browser.spki();
    let run = |key: SubmittedKey<'_>, id: &str, sig: &[u8]| {
        verify_possession(key, id, &c, sig, now, max_age(), &mut HashSet::new())
    };

    let upper = OFFICER_ID.to_uppercase();
    let err = run(SubmittedKey::Spki(&spki), &upper, &sig);
    assert!(matches!(err, Err(E::OfficerId(_))), "{err:?}");
    let err = run(SubmittedKey::Spki(&spki), "officer-1\nx", &sig);
    assert!(matches!(err, Err(E::OfficerId(_))), "{err:?}");

    let mut long = sig.clone();
    long.push(0);
    let err = run(SubmittedKey::Spki(&spki), OFFICER_ID, &long);
    assert!(matches!(err, Err(E::SignatureLength(65))), "{err:?}");

    let p384 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("P-384");
    let err = run(
        SubmittedKey::Spki(&p384.subject_public_key_info()),
        OFFICER_ID,
        &sig,
    );
    assert!(matches!(err, Err(E::KeyCurve(_))), "{err:?}");

    let ed = KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("Ed25519");
    let err = run(
        SubmittedKey::Spki(&ed.subject_public_key_info()),
        OFFICER_ID,
        &sig,
    );
    assert!(matches!(err, Err(E::KeyAlgorithm(_))), "{err:?}");

    let err = run(SubmittedKey::Spki(b"not DER"), OFFICER_ID, &sig);
    assert!(matches!(err, Err(E::KeyEncoding(_))), "{err:?}");
    let mut trailing = spki.clone();
    trailing.push(0);
    let err = run(SubmittedKey::Spki(&trailing), OFFICER_ID, &sig);
    assert!(matches!(err, Err(E::KeyEncoding(_))), "{err:?}");

    let x = URL_SAFE_NO_PAD.encode([7u8; 32]);
    let jwk = |kty, crv, x, y| SubmittedKey::Jwk { kty, crv, x, y };
    let err = run(jwk("RSA", "P-256", &x, &x), OFFICER_ID, &sig);
    assert!(matches!(err, Err(E::Jwk(_))), "{err:?}");
    let err = run(jwk("EC", "P-384", &x, &x), OFFICER_ID, &sig);
    assert!(matches!(err, Err(E::KeyCurve(_))), "{err:?}");
    let err = run(jwk("EC", "P-256", "AAAA", &x), OFFICER_ID, &sig);
    assert!(matches!(err, Err(E::Jwk(_))), "{err:?}");
    // A point not on the curve parses but can never verify.
    let err = run(jwk("EC", "P-256", &x, &x), OFFICER_ID, &sig);
    assert!(matches!(err, Err(E::BadSignature)), "{err:?}");

    let compressed = [0x02u8; 33];
    assert!(matches!(
        OfficerPublicKey::from_sec1(&compressed),
        Err(E::KeyPoint)
    ));
}

// ---------------------------------------------------------------- issuance

#[test]
fn issued_certificate_has_the_officer_profile() {
    let ca = make_ca();
    let browser = Browser::new();
    let issued = issue(&ca, &browser, 4242);
    assert_eq!(issued.serial, 4242);
    assert!(issued.pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(
        issued.pem,
        pem_of("CERTIFICATE", &issued.der).replace("\r\n", "\n")
    );

    let cert = parse_cert(&issued.der).expect("parse");
    let ca_cert = parse_cert(&ca.der).expect("parse CA");
    let cns: Vec<_> = cert.subject().iter_common_name().collect();
    assert_eq!(cns.len(), 1);
    assert_eq!(cns[0].as_str().expect("CN"), DISPLAY_NAME);
    let uids: Vec<_> = cert.subject().iter_by_oid(&OID_USERID).collect();
    assert_eq!(uids.len(), 1);
    assert_eq!(uids[0].as_str().expect("UID"), OFFICER_ID);
    assert_eq!(uids[0].attr_value().tag(), Tag::Utf8String);
    assert_eq!(cert.issuer().as_raw(), ca_cert.subject().as_raw());

    let ku = cert.key_usage().expect("KU").expect("KU present");
    assert!(ku.critical);
    assert!(ku.value.digital_signature());
    assert_eq!(ku.value.flags, 1, "digitalSignature only: {}", ku.value);
    let bc = cert.basic_constraints().expect("BC").expect("BC present");
    assert!(bc.critical);
    assert!(!bc.value.ca);
    assert!(cert.extended_key_usage().expect("EKU").is_none());

    let ski = |c: &X509Certificate<'_>| {
        c.iter_extensions()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
                _ => None,
            })
    };
    let aki = cert
        .iter_extensions()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|id| id.0.to_vec())
            }
            _ => None,
        })
        .expect("authority key identifier");
    assert_eq!(Some(aki), ski(&ca_cert));
    assert!(ski(&cert).is_some());
    assert!(
        cert.get_extension_unique(&OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER)
            .expect("unique")
            .is_some()
    );
    assert!(
        cert.get_extension_unique(&OID_X509_EXT_SUBJECT_KEY_IDENTIFIER)
            .expect("unique")
            .is_some()
    );

    assert_eq!(cert.raw_serial(), &[0x10, 0x92]);
    assert_eq!(
        cert.validity().not_before.timestamp(),
        at(2026, 1, 1).timestamp()
    );
    assert_eq!(
        cert.validity().not_after.timestamp(),
        at(2027, 1, 1).timestamp()
    );
    assert_eq!(
        cert.public_key().subject_public_key.data.as_ref(),
        browser.point()
    );
    cert.verify_signature(Some(ca_cert.public_key()))
        .expect("signed by the CA");

    let info = check_officer_certificate(&issued.der, &ca.der, None, at(2026, 6, 1))
        .expect("valid officer certificate");
    assert_eq!(
        info,
        OfficerCertInfo {
            officer_id: OFFICER_ID.to_owned(),
            display_name: DISPLAY_NAME.to_owned(),
            serial: 4242,
            not_before: at(2026, 1, 1),
            not_after: at(2027, 1, 1),
        }
    );
}

#[test]
fn issued_certificate_carries_a_large_serial() {
    let ca = make_ca();
    let issued = issue(&ca, &Browser::new(), u64::MAX);
    let cert = parse_cert(&issued.der).expect("parse");
    // A positive INTEGER with the top bit set gets a leading zero byte.
    assert_eq!(
        cert.raw_serial(),
        &[0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
    );
    let info =
        check_officer_certificate(&issued.der, &ca.der, None, at(2026, 6, 1)).expect("valid");
    assert_eq!(info.serial, u64::MAX);
}

#[test]
fn openssl_accepts_the_issued_certificate() {
    let ca = make_ca();
    let issued = issue(&ca, &Browser::new(), 4242);
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "ca.pem", &ca.pem);
    write(dir.path(), "cert.pem", &issued.pem);

    let out = openssl(dir.path(), &["x509", "-in", "cert.pem", "-noout", "-text"]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("X509v3 Key Usage: critical"), "{shown}");
    assert!(shown.contains("Digital Signature"), "{shown}");
    assert!(!shown.contains("Certificate Sign"), "{shown}");
    assert!(shown.contains("CA:FALSE"), "{shown}");
    assert!(shown.contains("X509v3 Authority Key Identifier"), "{shown}");
    assert!(shown.contains(&format!("UID = {OFFICER_ID}")), "{shown}");
    assert!(shown.contains("Serial Number: 4242 (0x1092)"), "{shown}");
    assert!(shown.contains("ASN1 OID: prime256v1"), "{shown}");

    let attime = at(2026, 6, 1).timestamp().to_string();
    let out = openssl(
        dir.path(),
        &[
            "verify", "-attime", &attime, "-CAfile", "ca.pem", "cert.pem",
        ],
    );
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("cert.pem: OK"), "{shown}");

    // And openssl is not simply accepting anything: after expiry it refuses.
    let late = at(2027, 6, 1).timestamp().to_string();
    let out = openssl(
        dir.path(),
        &["verify", "-attime", &late, "-CAfile", "ca.pem", "cert.pem"],
    );
    assert!(!out.status.success(), "{}", text(&out));
}

#[test]
fn issuance_rejects_bad_requests() {
    let ca = make_ca();
    let other_ca = make_ca();
    let browser = Browser::new();
    let spki = browser.spki();
    let run =
        |ca_pem: &str, key_pem: &str, subject: &OfficerSubject, spki: &[u8], serial, nb, na| {
            issue_officer_certificate(ca_pem, key_pem, subject, spki, serial, nb, na)
        };
    let (nb, na) = (at(2026, 1, 1), at(2027, 1, 1));

    let err = run(&ca.pem, &other_ca.key_pem, &officer(), &spki, 1, nb, na);
    assert!(matches!(err, Err(E::CaKeyMismatch)), "{err:?}");
    let err = run(&ca.pem, "not a key", &officer(), &spki, 1, nb, na);
    assert!(matches!(err, Err(E::CaKey(_))), "{err:?}");
    let err = run(&ca.key_pem, &ca.key_pem, &officer(), &spki, 1, nb, na);
    assert!(matches!(err, Err(E::CaCertificate(_))), "{err:?}");
    let leaf_pem = issue(&ca, &browser, 9).pem;
    let err = run(&leaf_pem, &ca.key_pem, &officer(), &spki, 1, nb, na);
    assert!(matches!(err, Err(E::CaCertificate(_))), "{err:?}");

    let err = run(&ca.pem, &ca.key_pem, &officer(), &spki, 0, nb, na);
    assert!(matches!(err, Err(E::ZeroSerial)), "{err:?}");
    let err = run(&ca.pem, &ca.key_pem, &officer(), &spki, 1, na, nb);
    assert!(matches!(err, Err(E::ValidityOrder { .. })), "{err:?}");
    let err = run(
        &ca.pem,
        &ca.key_pem,
        &officer(),
        &spki,
        1,
        nb,
        at(2036, 1, 1),
    );
    assert!(matches!(err, Err(E::OutsideCaValidity { .. })), "{err:?}");
    let err = run(
        &ca.pem,
        &ca.key_pem,
        &officer(),
        &spki,
        1,
        at(1960, 1, 1),
        na,
    );
    assert!(matches!(err, Err(E::Time(_))), "{err:?}");

    for bad in ["", "   ", " padded", "line\nbreak", &"x".repeat(65)] {
        let subject = OfficerSubject {
            display_name: bad.to_owned(),
            ..officer()
        };
        let err = run(&ca.pem, &ca.key_pem, &subject, &spki, 1, nb, na);
        assert!(matches!(err, Err(E::DisplayName(_))), "{bad:?}: {err:?}");
    }
    let subject = OfficerSubject {
        display_name: "x".repeat(64),
        ..officer()
    };
    assert!(run(&ca.pem, &ca.key_pem, &subject, &spki, 1, nb, na).is_ok());

    let subject = OfficerSubject {
        id: OFFICER_ID.to_uppercase(),
        ..officer()
    };
    let err = run(&ca.pem, &ca.key_pem, &subject, &spki, 1, nb, na);
    assert!(matches!(err, Err(E::OfficerId(_))), "{err:?}");

    let p384 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("P-384");
    let err = run(
        &ca.pem,
        &ca.key_pem,
        &officer(),
        &p384.subject_public_key_info(),
        1,
        nb,
        na,
    );
    assert!(matches!(err, Err(E::KeyCurve(_))), "{err:?}");
}

// ---------------------------------------------------------------- revocation

struct RevocationFixture {
    ca: Ca,
    revoked: IssuedCert,
    kept: IssuedCert,
    crl: Crl,
}

const REVOKED_SERIAL: u64 = 1001;
const KEPT_SERIAL: u64 = 1002;

fn revoked_at() -> DateTime<Utc> {
    at(2026, 6, 1)
}

fn crl_this_update() -> DateTime<Utc> {
    at(2026, 6, 2)
}

fn crl_next_update() -> DateTime<Utc> {
    at(2026, 7, 2)
}

fn revocation_fixture() -> RevocationFixture {
    let ca = make_ca();
    let revoked = issue(&ca, &Browser::new(), REVOKED_SERIAL);
    let kept = issue(&ca, &Browser::new(), KEPT_SERIAL);
    let crl = build_crl(
        &ca.pem,
        &ca.key_pem,
        &[
            Revoked {
                serial: REVOKED_SERIAL,
                revoked_at: revoked_at(),
                reason: Some(Reason::KeyCompromise),
            },
            Revoked {
                serial: 999,
                revoked_at: at(2026, 2, 1),
                reason: None,
            },
        ],
        7,
        crl_this_update(),
        crl_next_update(),
    )
    .expect("CRL");
    RevocationFixture {
        ca,
        revoked,
        kept,
        crl,
    }
}

#[test]
fn openssl_reads_the_crl_and_rejects_the_revoked_certificate() {
    let f = revocation_fixture();
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "ca.pem", &f.ca.pem);
    write(dir.path(), "crl.pem", &f.crl.pem);
    write(dir.path(), "revoked.pem", &f.revoked.pem);
    write(dir.path(), "kept.pem", &f.kept.pem);
    assert!(
        f.crl.pem.starts_with("-----BEGIN X509 CRL-----"),
        "{}",
        f.crl.pem
    );

    let out = openssl(dir.path(), &["crl", "-in", "crl.pem", "-noout", "-text"]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("Serial Number: 03E9"), "{shown}");
    assert!(shown.contains("Serial Number: 03E7"), "{shown}");
    assert!(!shown.contains("Serial Number: 03EA"), "{shown}");
    assert!(shown.contains("Key Compromise"), "{shown}");
    assert!(shown.contains("X509v3 CRL Number"), "{shown}");
    assert!(shown.contains("Jun  1 00:00:00 2026 GMT"), "{shown}");

    let out = openssl(
        dir.path(),
        &["crl", "-in", "crl.pem", "-noout", "-CAfile", "ca.pem"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("verify OK"), "{}", text(&out));

    let attime = at(2026, 6, 15).timestamp().to_string();
    let verify = |cert: &str| {
        openssl(
            dir.path(),
            &[
                "verify",
                "-crl_check",
                "-attime",
                &attime,
                "-CAfile",
                "ca.pem",
                "-CRLfile",
                "crl.pem",
                cert,
            ],
        )
    };
    let out = verify("revoked.pem");
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("certificate revoked"), "{}", text(&out));
    let out = verify("kept.pem");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("kept.pem: OK"), "{}", text(&out));
}

#[test]
fn revocation_counts_from_its_date() {
    let f = revocation_fixture();
    let check = |cert: &IssuedCert, at| {
        check_officer_certificate(&cert.der, &f.ca.der, Some(&f.crl.der), at)
    };

    // After the revocation date (CRL current).
    let err = check(&f.revoked, at(2026, 6, 15));
    assert!(
        matches!(
            err,
            Err(E::Revoked {
                serial: REVOKED_SERIAL,
                revoked_at: t,
                reason: Some(Reason::KeyCompromise),
            }) if t == revoked_at()
        ),
        "{err:?}"
    );
    // At the very second of revocation.
    let err = check(&f.revoked, revoked_at());
    assert!(matches!(err, Err(E::Revoked { .. })), "{err:?}");
    // Before it: a signature made then stays valid, even judged with this later CRL.
    let info = check(&f.revoked, revoked_at() - TimeDelta::seconds(1)).expect("before revocation");
    assert_eq!(info.serial, REVOKED_SERIAL);
    let info = check(&f.revoked, at(2026, 3, 1)).expect("well before revocation");
    assert_eq!(info.officer_id, OFFICER_ID);
    // Other certificates are unaffected.
    assert!(check(&f.kept, at(2026, 6, 15)).is_ok());
    // Without a CRL nothing is known about revocation.
    assert!(check_officer_certificate(&f.revoked.der, &f.ca.der, None, at(2026, 6, 15)).is_ok());

    // A judgement time after the CRL's nextUpdate needs a newer CRL.
    let err = check(&f.kept, at(2026, 8, 1));
    assert!(
        matches!(err, Err(E::CrlStale { next_update, .. }) if next_update == crl_next_update()),
        "{err:?}"
    );
}

#[test]
fn check_crl_reports_contents_and_freshness() {
    let f = revocation_fixture();
    let info = check_crl(&f.crl.der, &f.ca.der, at(2026, 6, 10)).expect("current CRL");
    assert_eq!(info.crl_number, Some(7));
    assert_eq!(info.this_update, crl_this_update());
    assert_eq!(info.next_update, crl_next_update());
    assert_eq!(
        info.revoked,
        vec![
            Revoked {
                serial: REVOKED_SERIAL,
                revoked_at: revoked_at(),
                reason: Some(Reason::KeyCompromise),
            },
            Revoked {
                serial: 999,
                revoked_at: at(2026, 2, 1),
                reason: None,
            },
        ]
    );
    let err = check_crl(&f.crl.der, &f.ca.der, at(2026, 6, 1));
    assert!(
        matches!(err, Err(E::CrlNotYetIssued { this_update: t, .. }) if t == crl_this_update()),
        "{err:?}"
    );
    let err = check_crl(&f.crl.der, &f.ca.der, at(2026, 7, 3));
    assert!(matches!(err, Err(E::CrlStale { .. })), "{err:?}");
    let err = check_crl(b"junk", &f.ca.der, at(2026, 6, 10));
    assert!(matches!(err, Err(E::CrlEncoding(_))), "{err:?}");
}

#[test]
fn empty_crl_revokes_nothing() {
    let ca = make_ca();
    let cert = issue(&ca, &Browser::new(), 5);
    let crl =
        build_crl(&ca.pem, &ca.key_pem, &[], 1, at(2026, 6, 2), at(2026, 7, 2)).expect("empty CRL");
    assert!(check_officer_certificate(&cert.der, &ca.der, Some(&crl.der), at(2026, 6, 15)).is_ok());
    let info = check_crl(&crl.der, &ca.der, at(2026, 6, 15)).expect("CRL");
    assert!(info.revoked.is_empty());
}

#[test]
fn crl_from_another_ca_is_refused() {
    let f = revocation_fixture();
    // Same names as the office CA, different key: only the signature tells them apart.
    let other = make_ca();
    let foreign_crl = build_crl(
        &other.pem,
        &other.key_pem,
        &[],
        1,
        crl_this_update(),
        crl_next_update(),
    )
    .expect("foreign CRL");
    let err = check_officer_certificate(
        &f.kept.der,
        &f.ca.der,
        Some(&foreign_crl.der),
        at(2026, 6, 15),
    );
    assert!(matches!(err, Err(E::CrlNotFromCa { .. })), "{err:?}");
    let err = check_crl(&foreign_crl.der, &f.ca.der, at(2026, 6, 15));
    assert!(matches!(err, Err(E::CrlNotFromCa { .. })), "{err:?}");
}

#[test]
fn crl_building_rejects_bad_lists() {
    let ca = make_ca();
    let entry = |serial, revoked_at| Revoked {
        serial,
        revoked_at,
        reason: Some(Reason::Superseded),
    };
    let (this, next) = (at(2026, 6, 2), at(2026, 7, 2));
    let err = build_crl(
        &ca.pem,
        &ca.key_pem,
        &[entry(3, at(2026, 5, 1)), entry(3, at(2026, 5, 2))],
        1,
        this,
        next,
    );
    assert!(matches!(err, Err(E::DuplicateRevocation(3))), "{err:?}");
    let err = build_crl(
        &ca.pem,
        &ca.key_pem,
        &[entry(3, at(2026, 6, 3))],
        1,
        this,
        next,
    );
    assert!(
        matches!(err, Err(E::RevocationAfterThisUpdate { serial: 3, .. })),
        "{err:?}"
    );
    let err = build_crl(&ca.pem, &ca.key_pem, &[], 1, this, this);
    assert!(matches!(err, Err(E::CrlUpdateOrder { .. })), "{err:?}");
    let err = build_crl(
        &ca.pem,
        &ca.key_pem,
        &[entry(0, at(2026, 5, 1))],
        1,
        this,
        next,
    );
    assert!(matches!(err, Err(E::ZeroSerial)), "{err:?}");
    let other = make_ca();
    let err = build_crl(&ca.pem, &other.key_pem, &[], 1, this, next);
    assert!(matches!(err, Err(E::CaKeyMismatch)), "{err:?}");
}

// ---------------------------------------------------------------- certificate checks

#[test]
fn validity_window_is_enforced() {
    let ca = make_ca();
    let short = issue_officer_certificate(
        &ca.pem,
        &ca.key_pem,
        &officer(),
        &Browser::new().spki(),
        8,
        at(2026, 1, 1),
        at(2026, 2, 1),
    )
    .expect("issue");
    let err = check_officer_certificate(&short.der, &ca.der, None, at(2026, 3, 1));
    assert!(
        matches!(err, Err(E::Expired { not_after, .. }) if not_after == at(2026, 2, 1)),
        "{err:?}"
    );
    let err = check_officer_certificate(&short.der, &ca.der, None, at(2025, 12, 1));
    assert!(
        matches!(err, Err(E::NotYetValid { not_before, .. }) if not_before == at(2026, 1, 1)),
        "{err:?}"
    );
    assert!(check_officer_certificate(&short.der, &ca.der, None, at(2026, 1, 15)).is_ok());
}

#[test]
fn certificate_from_a_foreign_ca_is_refused() {
    let ca = make_ca();
    let foreign = make_ca();
    let cert = issue(&foreign, &Browser::new(), 3);
    let err = check_officer_certificate(&cert.der, &ca.der, None, at(2026, 6, 1));
    assert!(
        matches!(&err, Err(E::NotIssuedByCa { reason, .. }) if reason.contains("signature")),
        "{err:?}"
    );
    // And a CA with another name is refused on the name already.
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "Some other CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
    let renamed = params.self_signed(&key).expect("CA");
    let err = check_officer_certificate(&cert.der, renamed.der(), None, at(2026, 6, 1));
    assert!(
        matches!(&err, Err(E::NotIssuedByCa { reason, .. }) if reason.contains("issuer")),
        "{err:?}"
    );
}

#[test]
fn key_usage_without_digital_signature_is_refused() {
    let ca = make_ca();
    let der = rcgen_leaf(&ca, |p| {
        p.key_usages = vec![KeyUsagePurpose::ContentCommitment]
    });
    let err = check_officer_certificate(&der, &ca.der, None, at(2026, 6, 1));
    assert!(matches!(err, Err(E::KeyUsage { .. })), "{err:?}");
    let der = rcgen_leaf(&ca, |p| p.key_usages = vec![]);
    let err = check_officer_certificate(&der, &ca.der, None, at(2026, 6, 1));
    assert!(matches!(err, Err(E::KeyUsage { .. })), "{err:?}");
    // The same certificate with digitalSignature passes, so the key usage is what failed.
    let der = rcgen_leaf(&ca, |_| {});
    assert!(check_officer_certificate(&der, &ca.der, None, at(2026, 6, 1)).is_ok());
}

#[test]
fn ca_certificate_is_not_an_officer_certificate() {
    let ca = make_ca();
    let der = rcgen_leaf(&ca, |p| {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
        ];
    });
    let err = check_officer_certificate(&der, &ca.der, None, at(2026, 6, 1));
    assert!(matches!(err, Err(E::IsCa { .. })), "{err:?}");
}

#[test]
fn subject_needs_exactly_one_uid_with_a_uuid() {
    let ca = make_ca();
    let der = rcgen_leaf(&ca, |p| {
        p.distinguished_name = DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, DISPLAY_NAME);
    });
    let err = check_officer_certificate(&der, &ca.der, None, at(2026, 6, 1));
    assert!(
        matches!(
            err,
            Err(E::SubjectAttribute {
                attribute: "UID",
                count: 0,
                ..
            })
        ),
        "{err:?}"
    );
    let der = rcgen_leaf(&ca, |p| {
        p.distinguished_name
            .push(DnType::CustomDnType(UID_ARCS.to_vec()), "officer-7");
    });
    let err = check_officer_certificate(&der, &ca.der, None, at(2026, 6, 1));
    assert!(matches!(err, Err(E::OfficerId(_))), "{err:?}");
}

#[test]
fn unknown_critical_extension_is_refused() {
    let ca = make_ca();
    let der = rcgen_leaf(&ca, |p| {
        let mut ext = rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 99999, 1],
            vec![0x05, 0x00],
        );
        ext.set_criticality(true);
        p.custom_extensions = vec![ext];
    });
    let err = check_officer_certificate(&der, &ca.der, None, at(2026, 6, 1));
    assert!(
        matches!(&err, Err(E::CriticalExtension { oid, .. }) if oid == "1.3.6.1.4.1.99999.1"),
        "{err:?}"
    );
}

#[test]
fn mangled_inputs_fail_without_panicking() {
    let f = revocation_fixture();
    let when = at(2026, 6, 15);
    let good = check_officer_certificate(&f.kept.der, &f.ca.der, Some(&f.crl.der), when)
        .expect("baseline");
    for len in 0..f.kept.der.len() {
        let cut = f.kept.der.get(..len).expect("prefix");
        assert!(check_officer_certificate(cut, &f.ca.der, Some(&f.crl.der), when).is_err());
    }
    for len in 0..f.ca.der.len() {
        let cut = f.ca.der.get(..len).expect("prefix");
        assert!(check_officer_certificate(&f.kept.der, cut, Some(&f.crl.der), when).is_err());
    }
    for len in 0..f.crl.der.len() {
        let cut = f.crl.der.get(..len).expect("prefix");
        assert!(check_officer_certificate(&f.kept.der, &f.ca.der, Some(cut), when).is_err());
        assert!(check_crl(cut, &f.ca.der, when).is_err());
    }
    // A flipped bit either breaks the certificate or leaves its meaning unchanged.
    for i in 0..f.kept.der.len() {
        let mut flipped = f.kept.der.clone();
        flipped[i] ^= 0x01;
        match check_officer_certificate(&flipped, &f.ca.der, Some(&f.crl.der), when) {
            Err(_) => {}
            Ok(info) => assert_eq!(info, good, "byte {i}"),
        }
    }
    for i in 0..f.crl.der.len() {
        let mut flipped = f.crl.der.clone();
        flipped[i] ^= 0x01;
        // No damage to the CRL may turn the revoked certificate into a good one.
        let result = check_officer_certificate(&f.revoked.der, &f.ca.der, Some(&flipped), when);
        assert!(result.is_err(), "byte {i}: {result:?}");
    }
}

/// The office CA's key under another name: signatures verify, only the names differ.
fn renamed_ca(ca: &Ca) -> Ca {
    let key = KeyPair::from_pem(&ca.key_pem).expect("key");
    let mut params = ca.params.clone();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "globallink renamed CA");
    let cert = params.self_signed(&key).expect("CA");
    Ca {
        pem: cert.pem(),
        key_pem: ca.key_pem.clone(),
        der: cert.der().to_vec(),
        params,
        key,
    }
}

#[test]
fn issuer_names_must_match_even_with_the_same_key() {
    let ca = make_ca();
    let renamed = renamed_ca(&ca);
    let cert = issue(&renamed, &Browser::new(), 11);
    let err = check_officer_certificate(&cert.der, &ca.der, None, at(2026, 6, 1));
    assert!(
        matches!(&err, Err(E::NotIssuedByCa { reason, .. }) if reason.contains("issuer")),
        "{err:?}"
    );
    let good = issue(&ca, &Browser::new(), 12);
    let crl = build_crl(
        &renamed.pem,
        &renamed.key_pem,
        &[],
        1,
        at(2026, 6, 2),
        at(2026, 7, 2),
    )
    .expect("CRL");
    let err = check_officer_certificate(&good.der, &ca.der, Some(&crl.der), at(2026, 6, 15));
    assert!(
        matches!(&err, Err(E::CrlNotFromCa { reason, .. }) if reason.contains("issuer")),
        "{err:?}"
    );
}

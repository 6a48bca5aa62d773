//! The signatures on a manifest: the officer's, made in the browser with a key the hub never
//! sees, and the hub's, which carries the signing time and countersigns the officer's.
//!
//! Contract: `manifest.jws` is a [`JwsJson`] with either one signature (the hub's alone: a
//! session sealed before, or without, the officer signing) or two (the officer's, then the
//! hub's). The hub's protected header carries `sigT`, the signing time at which every
//! certificate is checked, and, with an officer signature, `countersigns`: the SHA-256 of the
//! officer's signature bytes. Its unprotected header may carry the office CRL the hub checked
//! the officer against (`crl`) and an RFC 3161 token over its own signature (`tst`); both are
//! signed by their issuers, so they need no signature of ours.
//!
//! [`check`] is the one verifier of all this, used by the hub on receipt of an officer's
//! signature (through [`countersign`]) and by the bundle verifier. It is pure: certificates,
//! CRLs and trust anchors come in as bytes, the time as a value.

use super::jws::{self, JwsError, JwsJson, JwsSignature, Signer, Unprotected};
use super::officer_pki::{self, OfficerCertInfo, OfficerPkiError};
use super::pki::HubIdentity;
use super::tsa::{self, TokenInfo, TsaError};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

/// How much earlier than the hub's `sigT` a timestamp may be (clock skew between the hub and
/// the TSA).
pub const TIMESTAMP_BEFORE: TimeDelta = TimeDelta::minutes(5);
/// How much later than `sigT` a timestamp may be: the hub asks for it right after signing.
pub const TIMESTAMP_AFTER: TimeDelta = TimeDelta::minutes(10);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    #[error("manifest.jws: {0}")]
    Jws(JwsError),
    #[error("hub signature: {0}")]
    Hub(JwsError),
    #[error("officer signature: {0}")]
    Officer(JwsError),
    #[error("officer certificate: {0}")]
    OfficerCertificate(OfficerPkiError),
    #[error("officer certificate is for officer {found}, but the session's officer is {expected}")]
    WrongOfficer { expected: String, found: String },
    #[error("the officer's x5c chain does not end at an office CA certificate")]
    NoOfficeCa,
    #[error(
        "no revocation list: the officer's certificate cannot be checked for revocation \
         (the bundle carries none and none was given)"
    )]
    NoCrl,
    #[error("embedded CRL is not base64: {0}")]
    CrlEncoding(String),
    #[error("the hub signature does not countersign the officer's signature")]
    NotCountersigned,
    #[error(
        "the hub signature countersigns {found}, but the officer's signature hashes to {expected}"
    )]
    CountersignMismatch { expected: String, found: String },
    #[error("the hub signature countersigns an officer signature that is not in the bundle")]
    CountersignsMissing,
    #[error("the officer's signature must not carry an unprotected header")]
    OfficerUnprotected,
    #[error("timestamp token is not base64: {0}")]
    TimestampEncoding(String),
    #[error("timestamp: {0}")]
    Timestamp(TsaError),
    #[error(
        "timestamp at {gen_time} is too far from the hub's signing time {signed_at} \
         (allowed: {} minutes before to {} minutes after)",
        TIMESTAMP_BEFORE.num_minutes(),
        TIMESTAMP_AFTER.num_minutes()
    )]
    TimestampSkew {
        gen_time: DateTime<Utc>,
        signed_at: DateTime<Utc>,
    },
}

/// What [`check`] established.
#[derive(Clone, Debug, Serialize)]
pub struct Checked {
    /// The hub's signing time (`sigT`); for a bundle signed before signing times were
    /// recorded, the manifest's `sealed_at`.
    pub signed_at: DateTime<Utc>,
    pub hub: Signer,
    pub officer: Option<OfficerSigned>,
    pub timestamp: Option<TokenInfo>,
}

/// An officer signature that verified.
#[derive(Clone, Debug, Serialize)]
pub struct OfficerSigned {
    pub signer: Signer,
    pub officer_id: String,
    pub display_name: String,
    /// Lower-case hex serial of the officer's certificate.
    pub serial: String,
    /// How revocation was checked, for the report.
    pub revocation: String,
}

/// What a check is given besides the bundle.
#[derive(Clone, Copy, Debug)]
pub struct Anchors<'a> {
    /// Office CA certificates and TSA roots, DER.
    pub certificates: &'a [Vec<u8>],
    /// CRLs supplied by the verifier (DER), checked in addition to the one the bundle carries.
    pub crls: &'a [Vec<u8>],
}

/// Verify `manifest.jws` over the exact `manifest.json` bytes. `sealed_at` is used only for
/// the legacy compact form (one hub signature without `sigT`).
pub fn check(
    jws_bytes: &[u8],
    payload: &[u8],
    anchors: Anchors<'_>,
    sealed_at: DateTime<Utc>,
) -> Result<Checked, SignatureError> {
    if jws_bytes.first() != Some(&b'{') {
        let text =
            std::str::from_utf8(jws_bytes).map_err(|_| SignatureError::Jws(JwsError::Format))?;
        let hub = jws::verify_detached(text.trim_end(), payload, anchors.certificates, sealed_at)
            .map_err(SignatureError::Hub)?;
        return Ok(Checked {
            signed_at: sealed_at,
            hub,
            officer: None,
            timestamp: None,
        });
    }
    let parsed = JwsJson::parse(jws_bytes).map_err(SignatureError::Jws)?;
    let Some(hub_sig) = parsed.hub() else {
        return Err(SignatureError::Jws(JwsError::Format));
    };
    let signed_at = jws::signing_time(&hub_sig.protected).map_err(SignatureError::Hub)?;
    let hub = jws::verify_parts(
        &hub_sig.protected,
        &hub_sig.signature,
        payload,
        anchors.certificates,
        signed_at,
    )
    .map_err(SignatureError::Hub)?;
    let unprotected = hub_sig.header.clone().unwrap_or_default();

    let officer = match (parsed.officer(), &hub.countersigns) {
        (None, None) => None,
        (None, Some(_)) => return Err(SignatureError::CountersignsMissing),
        (Some(_), None) => return Err(SignatureError::NotCountersigned),
        (Some(sig), Some(countersigns)) => {
            let mut crls = Vec::new();
            if let Some(crl) = &unprotected.crl {
                crls.push(
                    STANDARD
                        .decode(crl)
                        .map_err(|e| SignatureError::CrlEncoding(e.to_string()))?,
                );
            }
            crls.extend(anchors.crls.iter().cloned());
            let (officer, verified) =
                verify_officer(sig, payload, anchors.certificates, &crls, signed_at)?;
            let expected = jws::signature_digest(&verified.signature);
            if *countersigns != expected {
                return Err(SignatureError::CountersignMismatch {
                    expected,
                    found: countersigns.clone(),
                });
            }
            Some(officer)
        }
    };

    let timestamp = match &unprotected.tst {
        None => None,
        Some(token) => {
            let der = STANDARD
                .decode(token)
                .map_err(|e| SignatureError::TimestampEncoding(e.to_string()))?;
            let info = tsa::verify_token(&der, &digest(&hub.signature), anchors.certificates)
                .map_err(SignatureError::Timestamp)?;
            if info.gen_time < signed_at - TIMESTAMP_BEFORE
                || info.gen_time > signed_at + TIMESTAMP_AFTER
            {
                return Err(SignatureError::TimestampSkew {
                    gen_time: info.gen_time,
                    signed_at,
                });
            }
            Some(info)
        }
    };

    Ok(Checked {
        signed_at,
        hub: hub.signer,
        officer,
        timestamp,
    })
}

/// SHA-256 of `bytes` as an array: the message imprint of a timestamp request.
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref());
    out
}

/// Verify the officer's signature and certificate at `at`: the JWS chain is anchored, the
/// certificate is an officer certificate of the CA that ends that chain, and no CRL in `crls`
/// (each verified against that CA) revokes it at or before `at`. At least one CRL is needed.
fn verify_officer(
    sig: &JwsSignature,
    payload: &[u8],
    trust: &[Vec<u8>],
    crls: &[Vec<u8>],
    at: DateTime<Utc>,
) -> Result<(OfficerSigned, jws::Verified), SignatureError> {
    if sig.header.is_some() {
        return Err(SignatureError::OfficerUnprotected);
    }
    let verified = jws::verify_parts(&sig.protected, &sig.signature, payload, trust, at)
        .map_err(SignatureError::Officer)?;
    let leaf = verified.chain.first().ok_or(SignatureError::NoOfficeCa)?;
    // The CA is the chain's second certificate when the browser sent it, otherwise the
    // trust anchor that issued the leaf.
    let candidates: Vec<&Vec<u8>> = match verified.chain.get(1) {
        Some(ca) => vec![ca],
        None => trust.iter().collect(),
    };
    if crls.is_empty() {
        return Err(SignatureError::NoCrl);
    }
    let mut last_err = SignatureError::NoOfficeCa;
    for ca in candidates {
        let mut info: Option<OfficerCertInfo> = None;
        let mut ok = true;
        for crl in crls {
            match officer_pki::check_officer_certificate(leaf, ca, Some(crl), at) {
                Ok(found) => info = Some(found),
                Err(e) => {
                    last_err = SignatureError::OfficerCertificate(e);
                    ok = false;
                    break;
                }
            }
        }
        if let (true, Some(info)) = (ok, info) {
            let revocation = format!(
                "not revoked at {} per {} CRL{} of the office CA",
                at.to_rfc3339(),
                crls.len(),
                if crls.len() == 1 { "" } else { "s" }
            );
            let officer = OfficerSigned {
                signer: verified.signer.clone(),
                officer_id: info.officer_id,
                display_name: info.display_name,
                serial: format!("{:x}", info.serial),
                revocation,
            };
            return Ok((officer, verified));
        }
    }
    Err(last_err)
}

/// A hub-only `manifest.jws`, signed at `now`.
pub fn hub_only(
    payload: &[u8],
    id: &HubIdentity,
    now: DateTime<Utc>,
) -> Result<JwsJson, SignatureError> {
    let hub = jws::sign_hub(payload, id, now, None).map_err(SignatureError::Hub)?;
    Ok(JwsJson {
        signatures: vec![hub],
    })
}

/// On receipt of the officer's signature over `payload`: verify it at `now` against the office
/// CA `ca_der` and the current CRL, require its certificate to name `expected_officer`, then
/// countersign at `now` and attach the CRL. The caller may add a timestamp token.
pub fn countersign(
    payload: &[u8],
    officer: JwsSignature,
    id: &HubIdentity,
    ca_der: &[u8],
    crl_der: &[u8],
    expected_officer: &str,
    now: DateTime<Utc>,
) -> Result<(JwsJson, OfficerSigned), SignatureError> {
    let crls = [crl_der.to_vec()];
    let (signed, verified) = verify_officer(&officer, payload, &[ca_der.to_vec()], &crls, now)?;
    if signed.officer_id != expected_officer {
        return Err(SignatureError::WrongOfficer {
            expected: expected_officer.to_owned(),
            found: signed.officer_id,
        });
    }
    let mut hub =
        jws::sign_hub(payload, id, now, Some(&verified.signature)).map_err(SignatureError::Hub)?;
    hub.header = Some(Unprotected {
        tst: None,
        crl: Some(STANDARD.encode(crl_der)),
    });
    Ok((
        JwsJson {
            signatures: vec![officer, hub],
        },
        signed,
    ))
}

/// The raw bytes of a signature entry's signature, for a timestamp request.
pub fn signature_bytes(sig: &JwsSignature) -> Result<Vec<u8>, SignatureError> {
    URL_SAFE_NO_PAD
        .decode(&sig.signature)
        .map_err(|e| SignatureError::Hub(JwsError::SignatureEncoding(e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::officer_pki::{
        IssuedCert, OfficerPublicKey, OfficerSubject, Reason, Revoked, build_crl,
        issue_officer_certificate,
    };
    use crate::seal::pki::tests::{dev_identity, now};
    use crate::seal::pki::{CA_CERT_FILE, CA_KEY_FILE};
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};

    const OFFICER: &str = "6f1c2a9e-4b7d-4e2a-9c61-0d5e8f3a7b21";
    const PAYLOAD: &[u8] = b"{\"format\":\"globallink-artefact/1\"}";

    /// The office CA on disk, the hub identity, and an officer's browser key.
    struct Office {
        _dir: tempfile::TempDir,
        id: HubIdentity,
        ca_pem: String,
        ca_key: String,
        browser: EcdsaKeyPair,
    }

    impl Office {
        fn new() -> Self {
            let (dir, id) = dev_identity();
            let read = |name| std::fs::read_to_string(dir.path().join(name)).expect("pki file");
            let rng = SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .expect("keygen");
            let browser =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                    .expect("key");
            Self {
                ca_pem: read(CA_CERT_FILE),
                ca_key: read(CA_KEY_FILE),
                _dir: dir,
                id,
                browser,
            }
        }

        fn certificate(&self, serial: u64, from: DateTime<Utc>, days: i64) -> IssuedCert {
            let spki = OfficerPublicKey::from_sec1(self.browser.public_key().as_ref())
                .expect("point")
                .spki_der();
            issue_officer_certificate(
                &self.ca_pem,
                &self.ca_key,
                &OfficerSubject {
                    id: OFFICER.to_owned(),
                    display_name: "Officer Chen".to_owned(),
                },
                &spki,
                serial,
                from,
                from + TimeDelta::days(days),
            )
            .expect("issue")
        }

        fn crl(&self, revoked: &[Revoked], at: DateTime<Utc>) -> Vec<u8> {
            build_crl(
                &self.ca_pem,
                &self.ca_key,
                revoked,
                1,
                at,
                at + TimeDelta::days(7),
            )
            .expect("crl")
            .der
        }

        /// What the console does: an ES256 JWS over the payload with `x5c` [leaf, CA].
        fn officer_sign(&self, cert: &IssuedCert, payload: &[u8]) -> JwsSignature {
            let header = serde_json::json!({
                "alg": "ES256",
                "typ": "JOSE",
                "x5c": [STANDARD.encode(&cert.der), STANDARD.encode(self.id.ca_der())],
            });
            let protected = URL_SAFE_NO_PAD.encode(header.to_string());
            let input = format!("{protected}.{}", URL_SAFE_NO_PAD.encode(payload));
            let signature = self
                .browser
                .sign(&SystemRandom::new(), input.as_bytes())
                .expect("sign");
            JwsSignature {
                protected,
                header: None,
                signature: URL_SAFE_NO_PAD.encode(signature.as_ref()),
            }
        }

        fn anchors(&self) -> Vec<Vec<u8>> {
            vec![self.id.ca_der().to_vec()]
        }

        /// A countersigned manifest.jws signed at `at` with an empty CRL.
        fn countersigned(&self, at: DateTime<Utc>) -> (JwsJson, OfficerSigned) {
            let cert = self.certificate(7, now(), 365);
            let crl = self.crl(&[], at);
            countersign(
                PAYLOAD,
                self.officer_sign(&cert, PAYLOAD),
                &self.id,
                self.id.ca_der(),
                &crl,
                OFFICER,
                at,
            )
            .expect("countersign")
        }
    }

    fn later() -> DateTime<Utc> {
        now() + TimeDelta::days(1)
    }

    fn check_text(
        office: &Office,
        text: &str,
        crls: &[Vec<u8>],
    ) -> Result<Checked, SignatureError> {
        let anchors = office.anchors();
        check(
            text.as_bytes(),
            PAYLOAD,
            Anchors {
                certificates: &anchors,
                crls,
            },
            now(),
        )
    }

    #[test]
    fn hub_only_verifies_without_an_officer() {
        let office = Office::new();
        let jws = hub_only(PAYLOAD, &office.id, later()).expect("sign");
        let checked = check_text(&office, &jws.to_text(), &[]).expect("verifies");
        assert!(checked.officer.is_none());
        assert_eq!(checked.signed_at, later());
        assert!(
            checked.hub.subject.contains("hub"),
            "{}",
            checked.hub.subject
        );
    }

    #[test]
    fn legacy_compact_signature_still_verifies() {
        let office = Office::new();
        let compact = jws::sign_detached(PAYLOAD, &office.id).expect("sign");
        let checked = check_text(&office, &compact, &[]).expect("verifies");
        assert_eq!(checked.signed_at, now());
        assert!(checked.officer.is_none());
    }

    #[test]
    fn countersigned_officer_signature_verifies_and_names_the_officer() {
        let office = Office::new();
        let (jws, signed) = office.countersigned(later());
        assert_eq!(signed.officer_id, OFFICER);
        let checked = check_text(&office, &jws.to_text(), &[]).expect("verifies");
        let officer = checked.officer.expect("officer signature");
        assert_eq!(officer.officer_id, OFFICER);
        assert_eq!(officer.display_name, "Officer Chen");
        assert_eq!(officer.serial, "7");
        assert_eq!(checked.signed_at, later());
    }

    #[test]
    fn countersign_refuses_a_certificate_of_another_officer() {
        let office = Office::new();
        let cert = office.certificate(7, now(), 365);
        let err = countersign(
            PAYLOAD,
            office.officer_sign(&cert, PAYLOAD),
            &office.id,
            office.id.ca_der(),
            &office.crl(&[], later()),
            "0b9d8c7e-1a2b-4c3d-8e9f-a0b1c2d3e4f5",
            later(),
        )
        .expect_err("another officer's session");
        assert!(matches!(err, SignatureError::WrongOfficer { .. }), "{err}");
    }

    #[test]
    fn countersign_refuses_revoked_expired_and_foreign_certificates() {
        let office = Office::new();
        let cert = office.certificate(7, now(), 365);
        let sig = office.officer_sign(&cert, PAYLOAD);
        let attempt = |sig: JwsSignature, crl: &[u8], ca: &[u8], at| {
            countersign(PAYLOAD, sig, &office.id, ca, crl, OFFICER, at)
                .map(|_| ())
                .expect_err("refused")
        };

        let revoked = office.crl(
            &[Revoked {
                serial: 7,
                revoked_at: now() + TimeDelta::hours(1),
                reason: Some(Reason::KeyCompromise),
            }],
            later(),
        );
        let err = attempt(sig.clone(), &revoked, office.id.ca_der(), later());
        assert!(
            matches!(
                err,
                SignatureError::OfficerCertificate(OfficerPkiError::Revoked { .. })
            ),
            "{err}"
        );

        let short = office.certificate(8, now(), 1);
        let at = now() + TimeDelta::days(3);
        let err = attempt(
            office.officer_sign(&short, PAYLOAD),
            &office.crl(&[], at),
            office.id.ca_der(),
            at,
        );
        assert!(err.to_string().contains("not valid at"), "{err}");

        let foreign = Office::new();
        let foreign_cert = foreign.certificate(9, now(), 365);
        let err = attempt(
            foreign.officer_sign(&foreign_cert, PAYLOAD),
            &office.crl(&[], later()),
            office.id.ca_der(),
            later(),
        );
        assert!(matches!(err, SignatureError::Officer(_)), "{err}");

        let err = attempt(
            office.officer_sign(&cert, b"another manifest"),
            &office.crl(&[], later()),
            office.id.ca_der(),
            later(),
        );
        assert!(
            matches!(err, SignatureError::Officer(JwsError::BadSignature)),
            "{err}"
        );
    }

    #[test]
    fn a_fresher_crl_revoking_before_signing_fails_and_after_signing_passes() {
        let office = Office::new();
        let (jws, _) = office.countersigned(later());
        let text = jws.to_text();
        let revoked_at = |t| {
            office.crl(
                &[Revoked {
                    serial: 7,
                    revoked_at: t,
                    reason: Some(Reason::KeyCompromise),
                }],
                later() + TimeDelta::days(2),
            )
        };
        let before = revoked_at(later() - TimeDelta::hours(1));
        let err = check_text(&office, &text, &[before]).expect_err("revoked before signing");
        assert!(
            matches!(
                err,
                SignatureError::OfficerCertificate(OfficerPkiError::Revoked { .. })
            ),
            "{err}"
        );
        let after = revoked_at(later() + TimeDelta::hours(1));
        check_text(&office, &text, &[after]).expect("signed before the revocation");
    }

    #[test]
    fn removing_swapping_or_dropping_the_crl_is_caught() {
        let office = Office::new();
        let (jws, _) = office.countersigned(later());

        let mut hub_alone = jws.clone();
        hub_alone.signatures.remove(0);
        let err = check_text(&office, &hub_alone.to_text(), &[]).expect_err("officer removed");
        assert!(matches!(err, SignatureError::CountersignsMissing), "{err}");

        // Another valid officer signature over the same payload is not the one countersigned.
        let mut swapped = jws.clone();
        let cert = office.certificate(7, now(), 365);
        swapped.signatures[0] = office.officer_sign(&cert, PAYLOAD);
        let err = check_text(&office, &swapped.to_text(), &[]).expect_err("swapped");
        assert!(
            matches!(err, SignatureError::CountersignMismatch { .. }),
            "{err}"
        );

        // A hub-only signature with an officer signature put in front is not countersigned.
        let mut added = hub_only(PAYLOAD, &office.id, later()).expect("sign");
        added
            .signatures
            .insert(0, office.officer_sign(&cert, PAYLOAD));
        let err = check_text(&office, &added.to_text(), &[]).expect_err("not countersigned");
        assert!(matches!(err, SignatureError::NotCountersigned), "{err}");

        let mut no_crl = jws.clone();
        if let Some(h) = no_crl.signatures[1].header.as_mut() {
            h.crl = None;
        }
        let err = check_text(&office, &no_crl.to_text(), &[]).expect_err("no CRL");
        assert!(matches!(err, SignatureError::NoCrl), "{err}");

        let mut bogus = jws.clone();
        if let Some(h) = bogus.signatures[1].header.as_mut() {
            h.crl = Some(STANDARD.encode(b"not a CRL"));
        }
        let err = check_text(&office, &bogus.to_text(), &[]).expect_err("bad CRL");
        assert!(
            matches!(err, SignatureError::OfficerCertificate(_)),
            "{err}"
        );

        let mut three = jws.clone();
        three.signatures.push(jws.signatures[1].clone());
        let err = check_text(&office, &three.to_text(), &[]).expect_err("three signatures");
        assert!(matches!(err, SignatureError::Jws(_)), "{err}");
    }

    #[test]
    fn a_timestamp_that_does_not_verify_is_reported_as_the_timestamp_check() {
        let office = Office::new();
        let mut jws = hub_only(PAYLOAD, &office.id, later()).expect("sign");
        jws.signatures[0].header = Some(Unprotected {
            tst: Some(STANDARD.encode(b"\x30\x03\x02\x01\x00")),
            crl: None,
        });
        let err = check_text(&office, &jws.to_text(), &[]).expect_err("bad token");
        assert!(matches!(err, SignatureError::Timestamp(_)), "{err}");
    }
}

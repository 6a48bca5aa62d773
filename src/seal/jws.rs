//! JWS ES256 signatures with a detached payload (RFC 7515, Appendix F).
//!
//! Contract: [`sign_detached`] produces `BASE64URL(header) + ".." + BASE64URL(signature)`, where
//! the signature covers `BASE64URL(header) + "." + BASE64URL(payload)` and the protected header
//! is `{"alg":"ES256","typ":"JOSE","x5c":[leaf, CA]}`. [`verify_detached`] accepts exactly that
//! shape and nothing weaker: ES256 only (no `none`, no HMAC), no `crit` extensions, a leaf that
//! may sign, every certificate valid at the given time, each certificate issued by the next, and
//! a chain that ends at, or is issued by, a configured trust anchor. Each failure is its own
//! [`JwsError`] variant so callers and tests can tell them apart.

use super::pki::{HubIdentity, PkiError};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use x509_parser::certificate::X509Certificate;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_SHA1WITHRSA, OID_SHA1_WITH_RSA,
};
use x509_parser::prelude::FromDer as _;

/// The only algorithm accepted.
pub const ALG: &str = "ES256";
/// Longest `x5c` chain accepted; ours has two certificates.
pub const MAX_CHAIN: usize = 8;
const SIGNATURE_LEN: usize = 64;

/// Who signed, as named by the verified leaf certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Signer {
    pub subject: String,
    pub issuer: String,
    /// Serial number of the leaf certificate, lower-case hex.
    pub serial: String,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwsError {
    #[error("JWS is not in detached compact form (header..signature)")]
    Format,
    #[error("JWS header is not base64url: {0}")]
    HeaderEncoding(String),
    #[error("JWS header is not a valid JSON header: {0}")]
    HeaderJson(String),
    #[error("JWS algorithm {0:?} is not accepted, only ES256 is")]
    UnsupportedAlg(String),
    #[error("JWS header has critical extensions {0}, which are not supported")]
    Crit(String),
    #[error("JWS header has no x5c certificate chain")]
    MissingX5c,
    #[error("JWS x5c has {0} certificates, more than the {MAX_CHAIN} accepted")]
    ChainTooLong(usize),
    #[error("x5c[{index}]: {reason}")]
    Certificate { index: usize, reason: String },
    #[error("signing certificate {subject}: key usage does not allow digitalSignature")]
    KeyUsage { subject: String },
    #[error(
        "x5c[{index}] {subject}: not valid at {at} (valid from {not_before} until {not_after})"
    )]
    Validity {
        index: usize,
        subject: String,
        at: DateTime<Utc>,
        not_before: String,
        not_after: String,
    },
    #[error("x5c[{index}] {subject} is not a CA certificate, so it cannot issue x5c[{issued}]")]
    NotCa {
        index: usize,
        subject: String,
        issued: usize,
    },
    #[error("x5c[{index}] {subject} is not signed by x5c[{}] {issuer}: {reason}", index + 1)]
    ChainBroken {
        index: usize,
        subject: String,
        issuer: String,
        reason: String,
    },
    #[error(
        "certificate chain ends at {subject}, which is neither a trust anchor nor issued by one"
    )]
    Untrusted { subject: String },
    #[error("signing certificate {subject}: key is not an ECDSA P-256 key")]
    LeafKey { subject: String },
    #[error("JWS signature is not base64url of {SIGNATURE_LEN} bytes: {0}")]
    SignatureEncoding(String),
    #[error("JWS signature does not verify over the header and payload")]
    BadSignature,
    #[error("cannot serialise the JWS header: {0}")]
    Header(String),
    #[error("cannot sign: {0}")]
    Sign(#[from] PkiError),
    #[error("the hub signature's protected header has no signing time (sigT)")]
    MissingSigningTime,
    #[error("manifest.jws is not a JWS JSON serialization: {0}")]
    Json(String),
}

#[derive(Serialize)]
struct OutHeader<'a> {
    alg: &'a str,
    typ: &'a str,
    x5c: Vec<String>,
}

#[derive(Deserialize)]
struct InHeader {
    alg: String,
    #[serde(default)]
    x5c: Vec<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
    #[serde(default, rename = "sigT")]
    sig_t: Option<DateTime<Utc>>,
    #[serde(default)]
    countersigns: Option<String>,
}

/// Sign `payload` with the hub key; the payload itself is not part of the output.
pub fn sign_detached(payload: &[u8], id: &HubIdentity) -> Result<String, JwsError> {
    let header = OutHeader {
        alg: ALG,
        typ: "JOSE",
        x5c: id.x5c(),
    };
    let header = serde_json::to_vec(&header).map_err(|e| JwsError::Header(e.to_string()))?;
    let header_b64 = URL_SAFE_NO_PAD.encode(header);
    let signing_input = format!("{header_b64}.{}", URL_SAFE_NO_PAD.encode(payload));
    let signature = id.sign(signing_input.as_bytes())?;
    Ok(format!(
        "{header_b64}..{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// The JWS JSON General Serialization (RFC 7515 section 7.2.1) with the payload detached
/// (Appendix F): what `manifest.jws` holds. The signatures come in order: the officer's, once
/// the officer has signed, then the hub's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwsJson {
    pub signatures: Vec<JwsSignature>,
}

/// One entry of [`JwsJson::signatures`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwsSignature {
    /// base64url of the protected header JSON.
    pub protected: String,
    /// Validation data that needs no signature of its own: it is signed by its issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<Unprotected>,
    /// base64url of the ES256 signature, `r || s`.
    pub signature: String,
}

/// The unprotected header of the hub's signature.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unprotected {
    /// RFC 3161 TimeStampToken over the SHA-256 of this signature's bytes, base64 DER.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tst: Option<String>,
    /// The office CRL the hub checked the officer's certificate against, base64 DER.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crl: Option<String>,
}

/// Longest `manifest.jws` accepted; two signatures with their chains, a CRL and a timestamp
/// token fit in a fraction of this.
pub const MAX_JWS_JSON: usize = 1 << 20;

impl JwsJson {
    /// Parse `manifest.jws`: one or two signatures, nothing else.
    pub fn parse(bytes: &[u8]) -> Result<Self, JwsError> {
        if bytes.len() > MAX_JWS_JSON {
            return Err(JwsError::Json(format!("{} bytes is too long", bytes.len())));
        }
        let jws: JwsJson =
            serde_json::from_slice(bytes).map_err(|e| JwsError::Json(e.to_string()))?;
        if !(1..=2).contains(&jws.signatures.len()) {
            return Err(JwsError::Json(format!(
                "{} signatures, expected the hub's and at most one officer's",
                jws.signatures.len()
            )));
        }
        Ok(jws)
    }

    /// The compact JSON text stored as `manifest.jws`.
    pub fn to_text(&self) -> String {
        // Plain strings and options: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The hub's signature: always the last one.
    pub fn hub(&self) -> Option<&JwsSignature> {
        self.signatures.last()
    }

    /// The officer's signature, when there are two.
    pub fn officer(&self) -> Option<&JwsSignature> {
        match &self.signatures[..] {
            [officer, _hub] => Some(officer),
            _ => None,
        }
    }
}

#[derive(Serialize)]
struct HubHeader<'a> {
    alg: &'a str,
    typ: &'a str,
    x5c: Vec<String>,
    #[serde(rename = "sigT")]
    sig_t: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    countersigns: Option<String>,
}

/// base64url SHA-256 of a signature's bytes: what a countersignature names.
pub fn signature_digest(signature: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, signature))
}

/// Sign `payload` as the hub at `signed_at` (whole seconds, carried as `sigT`). With
/// `countersigns`, the raw bytes of the officer's signature, the protected header also commits
/// to that signature, so the hub's signature covers the officer's.
pub fn sign_hub(
    payload: &[u8],
    id: &HubIdentity,
    signed_at: DateTime<Utc>,
    countersigns: Option<&[u8]>,
) -> Result<JwsSignature, JwsError> {
    let header = HubHeader {
        alg: ALG,
        typ: "JOSE",
        x5c: id.x5c(),
        sig_t: signed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        countersigns: countersigns.map(signature_digest),
    };
    let header = serde_json::to_vec(&header).map_err(|e| JwsError::Header(e.to_string()))?;
    let protected = URL_SAFE_NO_PAD.encode(header);
    let signing_input = format!("{protected}.{}", URL_SAFE_NO_PAD.encode(payload));
    let signature = id.sign(signing_input.as_bytes())?;
    Ok(JwsSignature {
        protected,
        header: None,
        signature: URL_SAFE_NO_PAD.encode(signature),
    })
}

/// Verify a detached JWS over `payload` against `trust_anchors` (DER) at time `at`.
pub fn verify_detached(
    jws: &str,
    payload: &[u8],
    trust_anchors: &[Vec<u8>],
    at: DateTime<Utc>,
) -> Result<Signer, JwsError> {
    let (header_b64, signature_b64) = match jws.split('.').collect::<Vec<_>>()[..] {
        // An empty signature gets past this point so that `alg: none` tokens are reported
        // as what they are.
        [header, "", signature] if !header.is_empty() => (header, signature),
        _ => return Err(JwsError::Format),
    };
    Ok(verify_parts(header_b64, signature_b64, payload, trust_anchors, at)?.signer)
}

/// One signature that verified, with what its protected header said.
#[derive(Clone, Debug)]
pub struct Verified {
    pub signer: Signer,
    /// DER of the `x5c` certificates, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// The raw signature, `r || s`.
    pub signature: Vec<u8>,
    /// `sigT`: when the signer says it signed (hub signatures carry it).
    pub signed_at: Option<DateTime<Utc>>,
    /// `countersigns`: base64url SHA-256 of the signature this one countersigns.
    pub countersigns: Option<String>,
}

/// Decode a protected header that must name a signing time, and return that time: the
/// verifier needs it before it can check certificates "at the time of signing".
pub fn signing_time(protected_b64: &str) -> Result<DateTime<Utc>, JwsError> {
    let header = decode_header(protected_b64)?;
    header.sig_t.ok_or(JwsError::MissingSigningTime)
}

fn decode_header(header_b64: &str) -> Result<InHeader, JwsError> {
    let header_json = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|e| JwsError::HeaderEncoding(e.to_string()))?;
    serde_json::from_slice(&header_json).map_err(|e| JwsError::HeaderJson(e.to_string()))
}

/// Verify one signature given as its base64url protected header and signature, over the
/// detached `payload`, with its `x5c` chain anchored in `trust_anchors` and valid at `at`.
pub fn verify_parts(
    header_b64: &str,
    signature_b64: &str,
    payload: &[u8],
    trust_anchors: &[Vec<u8>],
    at: DateTime<Utc>,
) -> Result<Verified, JwsError> {
    let header = decode_header(header_b64)?;
    if header.alg != ALG {
        return Err(JwsError::UnsupportedAlg(header.alg));
    }
    if let Some(crit) = header.crit {
        return Err(JwsError::Crit(crit.to_string()));
    }
    if header.x5c.is_empty() {
        return Err(JwsError::MissingX5c);
    }
    if header.x5c.len() > MAX_CHAIN {
        return Err(JwsError::ChainTooLong(header.x5c.len()));
    }

    let ders = header
        .x5c
        .iter()
        .enumerate()
        .map(|(index, b64)| {
            STANDARD.decode(b64).map_err(|e| JwsError::Certificate {
                index,
                reason: format!("not base64: {e}"),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let chain = ders
        .iter()
        .enumerate()
        .map(|(index, der)| {
            parse_cert(der).map_err(|reason| JwsError::Certificate { index, reason })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let Some(leaf) = chain.first() else {
        return Err(JwsError::MissingX5c);
    };

    match leaf.key_usage() {
        Ok(Some(ku)) if ku.value.digital_signature() => {}
        _ => {
            return Err(JwsError::KeyUsage {
                subject: leaf.subject().to_string(),
            });
        }
    }
    for (index, cert) in chain.iter().enumerate() {
        check_validity(cert, at).map_err(|(not_before, not_after)| JwsError::Validity {
            index,
            subject: cert.subject().to_string(),
            at,
            not_before,
            not_after,
        })?;
    }
    for (index, pair) in chain.windows(2).enumerate() {
        let [cert, issuer] = pair else { continue };
        if !is_ca(issuer) {
            return Err(JwsError::NotCa {
                index: index + 1,
                subject: issuer.subject().to_string(),
                issued: index,
            });
        }
        signed_by(cert, issuer).map_err(|reason| JwsError::ChainBroken {
            index,
            subject: cert.subject().to_string(),
            issuer: issuer.subject().to_string(),
            reason,
        })?;
    }
    let (Some(last), Some(last_der)) = (chain.last(), ders.last()) else {
        return Err(JwsError::MissingX5c);
    };
    if !anchored(last, last_der, trust_anchors, at) {
        return Err(JwsError::Untrusted {
            subject: last.subject().to_string(),
        });
    }

    let spki = leaf.public_key();
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok());
    if spki.algorithm.algorithm != OID_KEY_TYPE_EC_PUBLIC_KEY || curve != Some(OID_EC_P256) {
        return Err(JwsError::LeafKey {
            subject: leaf.subject().to_string(),
        });
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|e| JwsError::SignatureEncoding(e.to_string()))?;
    if signature.len() != SIGNATURE_LEN {
        return Err(JwsError::SignatureEncoding(format!(
            "{} bytes",
            signature.len()
        )));
    }
    let signing_input = format!("{header_b64}.{}", URL_SAFE_NO_PAD.encode(payload));
    UnparsedPublicKey::new(
        &ECDSA_P256_SHA256_FIXED,
        spki.subject_public_key.data.as_ref(),
    )
    .verify(signing_input.as_bytes(), &signature)
    .map_err(|_| JwsError::BadSignature)?;

    Ok(Verified {
        signer: Signer {
            subject: leaf.subject().to_string(),
            issuer: leaf.issuer().to_string(),
            serial: hex::encode(leaf.raw_serial()),
        },
        chain: ders.clone(),
        signature,
        signed_at: header.sig_t,
        countersigns: header.countersigns,
    })
}

fn parse_cert(der: &[u8]) -> Result<X509Certificate<'_>, String> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| format!("not X.509: {e}"))?;
    if !rest.is_empty() {
        return Err(format!(
            "{} trailing bytes after the certificate",
            rest.len()
        ));
    }
    Ok(cert)
}

/// `Err((not_before, not_after))` when `cert` is not valid at `at`.
fn check_validity(cert: &X509Certificate<'_>, at: DateTime<Utc>) -> Result<(), (String, String)> {
    let validity = cert.validity();
    let t = at.timestamp();
    if t < validity.not_before.timestamp() || t > validity.not_after.timestamp() {
        return Err((
            validity.not_before.to_string(),
            validity.not_after.to_string(),
        ));
    }
    Ok(())
}

/// A CA by basicConstraints; a malformed or duplicated extension counts as not a CA.
fn is_ca(cert: &X509Certificate<'_>) -> bool {
    matches!(cert.basic_constraints(), Ok(Some(bc)) if bc.value.ca)
}

fn signed_by(cert: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> Result<(), String> {
    let alg = &cert.signature_algorithm.algorithm;
    if *alg == OID_PKCS1_SHA1WITHRSA || *alg == OID_SHA1_WITH_RSA {
        return Err("SHA-1 certificate signatures are not accepted".to_owned());
    }
    cert.verify_signature(Some(issuer.public_key()))
        .map_err(|e| e.to_string())
}

/// Whether the end of the chain is a trust anchor, or is issued by a CA trust anchor that is
/// itself valid at `at`.
fn anchored(
    last: &X509Certificate<'_>,
    last_der: &[u8],
    trust_anchors: &[Vec<u8>],
    at: DateTime<Utc>,
) -> bool {
    trust_anchors.iter().any(|anchor_der| {
        if anchor_der.as_slice() == last_der {
            return true;
        }
        let Ok(anchor) = parse_cert(anchor_der) else {
            return false;
        };
        is_ca(&anchor) && check_validity(&anchor, at).is_ok() && signed_by(last, &anchor).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::pki::tests::{dev_identity, now};
    use chrono::Months;
    use serde_json::json;

    const PAYLOAD: &[u8] = b"{\"format\":\"test\"}";

    fn anchors(id: &HubIdentity) -> Vec<Vec<u8>> {
        vec![id.ca_der().to_vec()]
    }

    fn parts(jws: &str) -> (String, String) {
        let mut it = jws.split("..");
        let header = it.next().expect("header").to_owned();
        let sig = it.next().expect("signature").to_owned();
        (header, sig)
    }

    fn header_json(jws: &str) -> serde_json::Value {
        let bytes = URL_SAFE_NO_PAD
            .decode(parts(jws).0)
            .expect("base64url header");
        serde_json::from_slice(&bytes).expect("JSON header")
    }

    /// A JWS with an arbitrary header, signed by `id` so only the header check can fail.
    fn forge(header: &serde_json::Value, id: &HubIdentity) -> String {
        let header_b64 = URL_SAFE_NO_PAD.encode(header.to_string());
        let input = format!("{header_b64}.{}", URL_SAFE_NO_PAD.encode(PAYLOAD));
        let sig = id.sign(input.as_bytes()).expect("sign");
        format!("{header_b64}..{}", URL_SAFE_NO_PAD.encode(sig))
    }

    #[test]
    fn round_trip_names_the_signer() -> anyhow::Result<()> {
        let (_dir, id) = dev_identity();
        let jws = sign_detached(PAYLOAD, &id)?;
        assert_eq!(jws.matches('.').count(), 2);
        let header = header_json(&jws);
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["typ"], "JOSE");
        assert_eq!(header["x5c"], json!(id.x5c()));
        let signer = verify_detached(&jws, PAYLOAD, &anchors(&id), now())?;
        assert_eq!(signer.subject, id.hub_subject());
        assert!(
            signer
                .issuer
                .contains("CN=globallink development office CA"),
            "{signer:?}"
        );
        assert!(!signer.serial.is_empty());
        Ok(())
    }

    #[test]
    fn tampered_payload_fails() -> anyhow::Result<()> {
        let (_dir, id) = dev_identity();
        let jws = sign_detached(PAYLOAD, &id)?;
        let err = verify_detached(&jws, b"{\"format\":\"tEst\"}", &anchors(&id), now());
        assert!(matches!(err, Err(JwsError::BadSignature)), "{err:?}");
        Ok(())
    }

    #[test]
    fn tampered_header_fails() -> anyhow::Result<()> {
        let (_dir, id) = dev_identity();
        let jws = sign_detached(PAYLOAD, &id)?;
        let mut header = header_json(&jws);
        header["typ"] = json!("JWT");
        let tampered = format!(
            "{}..{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            parts(&jws).1
        );
        let err = verify_detached(&tampered, PAYLOAD, &anchors(&id), now());
        assert!(matches!(err, Err(JwsError::BadSignature)), "{err:?}");

        let garbled = format!("!{jws}");
        let err = verify_detached(&garbled, PAYLOAD, &anchors(&id), now());
        assert!(matches!(err, Err(JwsError::HeaderEncoding(_))), "{err:?}");
        let not_json = format!("{}..{}", URL_SAFE_NO_PAD.encode("[1]"), parts(&jws).1);
        let err = verify_detached(&not_json, PAYLOAD, &anchors(&id), now());
        assert!(matches!(err, Err(JwsError::HeaderJson(_))), "{err:?}");
        Ok(())
    }

    #[test]
    fn tampered_signature_fails() -> anyhow::Result<()> {
        let (_dir, id) = dev_identity();
        let jws = sign_detached(PAYLOAD, &id)?;
        let (header, sig) = parts(&jws);
        let mut sig = URL_SAFE_NO_PAD.decode(sig)?;
        for i in [0, 31, 63] {
            sig[i] ^= 0x01;
            let tampered = format!("{header}..{}", URL_SAFE_NO_PAD.encode(&sig));
            let err = verify_detached(&tampered, PAYLOAD, &anchors(&id), now());
            assert!(
                matches!(err, Err(JwsError::BadSignature)),
                "byte {i}: {err:?}"
            );
            sig[i] ^= 0x01;
        }
        let short = format!("{header}..{}", URL_SAFE_NO_PAD.encode(&sig[..63]));
        let err = verify_detached(&short, PAYLOAD, &anchors(&id), now());
        assert!(
            matches!(err, Err(JwsError::SignatureEncoding(_))),
            "{err:?}"
        );
        Ok(())
    }

    #[test]
    fn malformed_compact_form_fails() -> anyhow::Result<()> {
        let (_dir, id) = dev_identity();
        let jws = sign_detached(PAYLOAD, &id)?;
        let (header, sig) = parts(&jws);
        let attached = format!("{header}.{}.{sig}", URL_SAFE_NO_PAD.encode(PAYLOAD));
        for bad in ["", "..", "a.b", "a..b..c", attached.as_str()] {
            let err = verify_detached(bad, PAYLOAD, &anchors(&id), now());
            assert!(matches!(err, Err(JwsError::Format)), "{bad:?}: {err:?}");
        }
        Ok(())
    }

    #[test]
    fn alg_none_and_other_algorithms_are_rejected() -> anyhow::Result<()> {
        let (_dir, id) = dev_identity();
        for alg in ["none", "HS256", "ES384", "es256"] {
            let header = json!({"alg": alg, "x5c": id.x5c()});
            let header_b64 = URL_SAFE_NO_PAD.encode(header.to_string());
            for jws in [format!("{header_b64}.."), forge(&header, &id)] {
                let err = verify_detached(&jws, PAYLOAD, &anchors(&id), now());
                assert!(
                    matches!(err, Err(JwsError::UnsupportedAlg(ref a)) if a == alg),
                    "{err:?}"
                );
            }
        }
        Ok(())
    }

    #[test]
    fn header_shape_is_enforced() -> anyhow::Result<()> {
        let (_dir, id) = dev_identity();
        let cases = [
            (json!({"alg": "ES256"}), "missing x5c"),
            (json!({"alg": "ES256", "x5c": []}), "empty x5c"),
            (
                json!({"alg": "ES256", "x5c": id.x5c(), "crit": ["b64"], "b64": false}),
                "crit",
            ),
            (
                json!({"alg": "ES256", "x5c": ["not base64!"]}),
                "bad base64",
            ),
            (
                json!({"alg": "ES256", "x5c": ["AAAA"]}),
                "not a certificate",
            ),
            (
                json!({"alg": "ES256", "x5c": vec![id.x5c()[1].clone(); 9]}),
                "too long",
            ),
        ];
        for (header, what) in cases {
            let err = verify_detached(&forge(&header, &id), PAYLOAD, &anchors(&id), now());
            let ok = match what {
                "missing x5c" | "empty x5c" => matches!(err, Err(JwsError::MissingX5c)),
                "crit" => matches!(err, Err(JwsError::Crit(_))),
                "too long" => matches!(err, Err(JwsError::ChainTooLong(9))),
                _ => matches!(err, Err(JwsError::Certificate { index: 0, .. })),
            };
            assert!(ok, "{what}: {err:?}");
        }
        Ok(())
    }

    #[test]
    fn leaf_must_allow_digital_signature() -> anyhow::Result<()> {
        let (_dir, id) = dev_identity();
        // The CA alone as the leaf: trusted, but only allowed to sign certificates.
        let header = json!({"alg": "ES256", "x5c": [id.x5c()[1]]});
        let err = verify_detached(&forge(&header, &id), PAYLOAD, &anchors(&id), now());
        assert!(matches!(err, Err(JwsError::KeyUsage { .. })), "{err:?}");
        Ok(())
    }

    #[test]
    fn chain_from_another_ca_is_untrusted() -> anyhow::Result<()> {
        let (_dir, id) = dev_identity();
        let (_other_dir, other) = dev_identity();
        let jws = sign_detached(PAYLOAD, &other)?;
        let err = verify_detached(&jws, PAYLOAD, &anchors(&id), now());
        assert!(matches!(err, Err(JwsError::Untrusted { .. })), "{err:?}");
        // Both anchors configured: the other office's signature is then accepted.
        let both = vec![id.ca_der().to_vec(), other.ca_der().to_vec()];
        assert!(verify_detached(&jws, PAYLOAD, &both, now()).is_ok());
        Ok(())
    }

    #[test]
    fn leaf_paired_with_the_wrong_ca_breaks_the_chain() -> anyhow::Result<()> {
        let (_dir, id) = dev_identity();
        let (_other_dir, other) = dev_identity();
        let header = json!({"alg": "ES256", "x5c": [other.x5c()[0], id.x5c()[1]]});
        let err = verify_detached(&forge(&header, &other), PAYLOAD, &anchors(&id), now());
        assert!(
            matches!(err, Err(JwsError::ChainBroken { index: 0, .. })),
            "{err:?}"
        );
        // Hub certificate offered as an issuer: it is not a CA.
        let header = json!({"alg": "ES256", "x5c": [id.x5c()[0], id.x5c()[0]]});
        let err = verify_detached(&forge(&header, &id), PAYLOAD, &anchors(&id), now());
        assert!(
            matches!(err, Err(JwsError::NotCa { index: 1, .. })),
            "{err:?}"
        );
        Ok(())
    }

    #[test]
    fn leaf_issued_directly_by_an_anchor_is_accepted() -> anyhow::Result<()> {
        let (_dir, id) = dev_identity();
        let header = json!({"alg": "ES256", "x5c": [id.x5c()[0]]});
        let signer = verify_detached(&forge(&header, &id), PAYLOAD, &anchors(&id), now())?;
        assert_eq!(signer.subject, id.hub_subject());
        Ok(())
    }

    #[test]
    fn verification_outside_validity_fails() -> anyhow::Result<()> {
        let (_dir, id) = dev_identity();
        let jws = sign_detached(PAYLOAD, &id)?;
        let later = now().checked_add_months(Months::new(36)).expect("in range");
        let err = verify_detached(&jws, PAYLOAD, &anchors(&id), later);
        assert!(
            matches!(err, Err(JwsError::Validity { index: 0, .. })),
            "{err:?}"
        );
        let earlier = now() - chrono::TimeDelta::days(1);
        let err = verify_detached(&jws, PAYLOAD, &anchors(&id), earlier);
        assert!(matches!(err, Err(JwsError::Validity { .. })), "{err:?}");
        Ok(())
    }
}

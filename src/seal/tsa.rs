//! RFC 3161 trusted timestamps over the hub's signature bytes.
//!
//! Contract: this module owns the time-stamp protocol on both sides. [`request`] encodes the
//! DER `TimeStampReq` (SHA-256 imprint, nonce, certReq), [`fetch`] posts it to a time-stamping
//! authority (TSA) and [`token_from_response`] unwraps the `TimeStampResp` into the
//! `TimeStampToken` (a CMS `ContentInfo`) that goes into the artefact bundle, after checking
//! that it answers our request (imprint and nonce). [`verify_token`] checks a token offline:
//! the CMS signature, the TSA certificate (critical `id-kp-timeStamping`, chain to a trust
//! anchor, validity at the token's own `genTime`) and the imprint. Only SHA-256 imprints are
//! requested or accepted. Nothing here reads a clock; only [`fetch`] does IO. Parsing is strict
//! DER (definite, minimal lengths) and never panics on hostile input.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, Utc};
use ring::digest;
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::Oid;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer as _;

/// MIME type of a DER `TimeStampReq` (RFC 3161 section 3.4).
pub const CONTENT_TYPE_QUERY: &str = "application/timestamp-query";
/// MIME type of a DER `TimeStampResp` (RFC 3161 section 3.4).
pub const CONTENT_TYPE_REPLY: &str = "application/timestamp-reply";
/// Largest TSA reply [`fetch`] reads.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Why a timestamp could not be obtained or verified; one variant per reason.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TsaError {
    #[error("timestamp request to the TSA failed: {0}")]
    Http(String),
    #[error("timestamp request to the TSA timed out")]
    Timeout,
    #[error("TSA answered HTTP status {0}")]
    HttpStatus(u16),
    #[error("TSA answered content type {0:?}, expected {CONTENT_TYPE_REPLY}")]
    ContentType(String),
    #[error("TSA reply is larger than {MAX_RESPONSE_BYTES} bytes")]
    ResponseTooLarge,
    #[error("malformed DER: {0}")]
    Malformed(&'static str),
    #[error(
        "TSA refused the request: PKIStatus {status} ({name}), failInfo [{fail_info}], text {text:?}"
    )]
    Rejected {
        status: u64,
        name: &'static str,
        fail_info: String,
        text: String,
    },
    #[error("TSA granted the request but sent no token")]
    NoToken,
    #[error("token is not a CMS SignedData")]
    NotSignedData,
    #[error("token content type is not id-ct-TSTInfo")]
    NotTstInfo,
    #[error("TSTInfo version is not 1")]
    TstInfoVersion,
    #[error("message imprint algorithm is {0}, expected SHA-256")]
    ImprintAlgorithm(String),
    #[error("message imprint does not match the timestamped digest")]
    ImprintMismatch,
    #[error("token carries no nonce")]
    NonceMissing,
    #[error("token nonce does not match the request's")]
    NonceMismatch,
    #[error("token has {0} signers, expected exactly one")]
    SignerCount(usize),
    #[error("token has no signed attributes")]
    NoSignedAttributes,
    #[error("signed attribute {0} appears more than once")]
    DuplicateAttribute(String),
    #[error("contentType signed attribute is missing or not id-ct-TSTInfo")]
    ContentTypeAttribute,
    #[error("messageDigest signed attribute is missing or does not match the TSTInfo")]
    MessageDigest,
    #[error("ESS signingCertificate attribute is missing or does not name the signer certificate")]
    SigningCertificate,
    #[error("unsupported digest algorithm {0}")]
    UnsupportedDigest(String),
    #[error("unsupported signature algorithm {0}")]
    UnsupportedSignature(String),
    #[error("token signature does not verify with the TSA certificate")]
    BadSignature,
    #[error("TSA certificate is not among the token's certificates")]
    SignerCertificateMissing,
    #[error("unparseable certificate in the token: {0}")]
    Certificate(String),
    #[error("trust anchor {0} is not a parseable DER certificate")]
    TrustAnchor(usize),
    #[error("TSA certificate's extendedKeyUsage is not id-kp-timeStamping alone")]
    NotTimeStampingCertificate,
    #[error("TSA certificate's extendedKeyUsage is not marked critical")]
    EkuNotCritical,
    #[error("TSA certificate's keyUsage allows neither digitalSignature nor nonRepudiation")]
    KeyUsage,
    #[error("certificate {subject} is not valid at the timestamp's genTime {gen_time}")]
    NotValidAtGenTime {
        subject: String,
        gen_time: DateTime<Utc>,
    },
    #[error("TSA certificate does not chain to a trust anchor")]
    Untrusted,
}

/// What a verified token says.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    /// `genTime` of the TSTInfo.
    pub gen_time: DateTime<Utc>,
    /// TSTInfo serial number, lowercase hex.
    pub serial: String,
    /// TSA policy, dotted OID.
    pub policy: String,
    /// Subject of the TSA signer certificate.
    pub tsa: String,
}

/// DER TimeStampReq: version 1, messageImprint SHA-256 over `digest`, the nonce, certReq TRUE.
pub fn request(digest: &[u8; 32], nonce: u64) -> Vec<u8> {
    let algorithm = encode(
        SEQUENCE,
        &[encode(OID, SHA256_OID_DER), encode(NULL, &[])].concat(),
    );
    let imprint = encode(
        SEQUENCE,
        &[algorithm, encode(OCTET_STRING, digest)].concat(),
    );
    let fields = [
        encode(INTEGER, &[1]),
        imprint,
        encode(INTEGER, &unsigned(nonce)),
        encode(BOOLEAN, &[0xff]),
    ];
    encode(SEQUENCE, &fields.concat())
}

/// Parse a TimeStampResp: status must be granted (0) or grantedWithMods (1); otherwise error
/// with the PKIStatus and failInfo/text. Returns the TimeStampToken (ContentInfo) DER bytes,
/// after checking that its TSTInfo messageImprint is SHA-256 of `digest` and the nonce
/// matches. The signature is not checked here: that is [`verify_token`]'s job.
pub fn token_from_response(
    resp_der: &[u8],
    digest: &[u8; 32],
    nonce: u64,
) -> Result<Vec<u8>, TsaError> {
    const W: &str = "TimeStampResp";
    let resp = single(resp_der, SEQUENCE, W)?;
    let mut fields = resp.items();
    let status_info = fields.expect(SEQUENCE, "PKIStatusInfo")?;
    let mut s = status_info.items();
    let status = small_uint(s.expect(INTEGER, "PKIStatus")?.value)
        .ok_or(TsaError::Malformed("PKIStatus"))?;
    if status > 1 {
        // A rejection stays a rejection even if its details are garbled.
        let text = s.optional(SEQUENCE, "statusString").ok().flatten();
        let text = text.and_then(|t| free_text(t).ok()).unwrap_or_default();
        let fail_info = s.optional(BIT_STRING, "failInfo").ok().flatten();
        let fail_info = fail_info
            .map(|bits| fail_info_names(bits.value))
            .unwrap_or_default();
        return Err(TsaError::Rejected {
            status,
            name: status_name(status),
            fail_info,
            text,
        });
    }
    let token = fields.optional(SEQUENCE, W)?.ok_or(TsaError::NoToken)?;
    let tst = parse_tst_info(parse_token(token.raw)?.tst_info)?;
    check_imprint(&tst, digest)?;
    match tst.nonce {
        None => Err(TsaError::NonceMissing),
        Some(n) if n != unsigned(nonce).as_slice() => Err(TsaError::NonceMismatch),
        Some(_) => Ok(token.raw.to_vec()),
    }
}

/// Verify a token offline against `trust_anchors` (DER certificates) and the SHA-256 `digest`
/// it must cover. Checks, each failing with its own [`TsaError`]: ContentInfo id-signedData
/// with eContentType id-ct-TSTInfo and exactly one SignerInfo; the signer certificate, found in
/// the token's certificates by issuerAndSerialNumber or subjectKeyIdentifier, has a critical
/// extendedKeyUsage of id-kp-timeStamping alone and is an anchor or chains to one (through
/// intermediates in the token), every certificate valid at genTime; signed attributes present
/// with contentType id-ct-TSTInfo and messageDigest of the eContent; the signature over the
/// signed attributes (RSA PKCS#1 v1.5 or ECDSA P-256/P-384, SHA-256/384/512); the ESS
/// signingCertificate(V2) attribute names the signer certificate; the TSTInfo messageImprint
/// is SHA-256 `digest`.
pub fn verify_token(
    token_der: &[u8],
    digest: &[u8; 32],
    trust_anchors: &[Vec<u8>],
) -> Result<TokenInfo, TsaError> {
    let token = parse_token(token_der)?;
    let signer_info = match token.signers.as_slice() {
        [one] => parse_signer_info(*one)?,
        many => return Err(TsaError::SignerCount(many.len())),
    };
    let tst = parse_tst_info(token.tst_info)?;

    // The TSA certificate: found in the token, fit for timestamping, trusted at genTime.
    let pool = token
        .certificates
        .iter()
        .map(|der| Cert::parse(der).map_err(|e| TsaError::Certificate(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let anchors = trust_anchors
        .iter()
        .enumerate()
        .map(|(i, der)| Cert::parse(der).map_err(|_| TsaError::TrustAnchor(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let signer = pool
        .iter()
        .find(|c| c.is_signer(&signer_info.sid))
        .ok_or(TsaError::SignerCertificateMissing)?;
    check_timestamping_usage(&signer.x509)?;
    check_chain(signer, &pool, &anchors, tst.gen_time)?;

    // The CMS signature over the signed attributes, which bind the TSTInfo.
    let hash = match Hash::from_oid(&signer_info.digest_alg) {
        Some(h) if h != Hash::Sha1 => h,
        _ => return Err(TsaError::UnsupportedDigest(signer_info.digest_alg)),
    };
    let attrs_tlv = signer_info
        .signed_attrs
        .ok_or(TsaError::NoSignedAttributes)?;
    let attrs = attributes(attrs_tlv)?;
    let content_type = find_attr(&attrs, OID_CONTENT_TYPE)
        .and_then(|v| single(v.value, OID, "contentType").ok())
        .and_then(|t| oid_string(t).ok());
    if content_type.as_deref() != Some(OID_TST_INFO) {
        return Err(TsaError::ContentTypeAttribute);
    }
    let message_digest = find_attr(&attrs, OID_MESSAGE_DIGEST)
        .and_then(|v| single(v.value, OCTET_STRING, "messageDigest").ok());
    let expected = digest::digest(hash.algorithm(), token.tst_info);
    if message_digest.map(|t| t.value) != Some(expected.as_ref()) {
        return Err(TsaError::MessageDigest);
    }
    // RFC 5652 5.4: the signature covers the DER SET OF, not the [0] IMPLICIT encoding.
    let mut signed = attrs_tlv.raw.to_vec();
    if let Some(tag) = signed.first_mut() {
        *tag = SET;
    }
    let algorithm = verification_algorithm(&signer.x509, hash, &signer_info.signature_alg)?;
    UnparsedPublicKey::new(algorithm, &signer.x509.public_key().subject_public_key.data)
        .verify(&signed, signer_info.signature)
        .map_err(|_| TsaError::BadSignature)?;
    check_signing_certificate(&attrs, signer.der)?;

    check_imprint(&tst, digest)?;
    Ok(TokenInfo {
        gen_time: tst.gen_time,
        serial: hex::encode(strip_zeros(tst.serial)),
        policy: tst.policy,
        tsa: signer.x509.subject().to_string(),
    })
}

/// POST the request to `url` with content type [`CONTENT_TYPE_QUERY`], bounded in time
/// (`timeout`, the whole exchange) and size ([`MAX_RESPONSE_BYTES`]), then
/// [`token_from_response`]. The caller verifies the token with [`verify_token`].
pub async fn fetch(
    client: &reqwest::Client,
    url: &str,
    digest: &[u8; 32],
    nonce: u64,
    timeout: std::time::Duration,
) -> Result<Vec<u8>, TsaError> {
    let http = |e: reqwest::Error| {
        if e.is_timeout() {
            return TsaError::Timeout;
        }
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            message = format!("{message}: {cause}");
            source = cause.source();
        }
        TsaError::Http(message)
    };
    let mut resp = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE_QUERY)
        .body(request(digest, nonce))
        .timeout(timeout)
        .send()
        .await
        .map_err(http)?;
    if !resp.status().is_success() {
        return Err(TsaError::HttpStatus(resp.status().as_u16()));
    }
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    // "application/timestamp-response" is the pre-RFC name some TSAs still send.
    if essence != CONTENT_TYPE_REPLY && essence != "application/timestamp-response" {
        return Err(TsaError::ContentType(content_type));
    }
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
    {
        return Err(TsaError::ResponseTooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(http)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(TsaError::ResponseTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    token_from_response(&body, digest, nonce)
}

// ---------------------------------------------------------------------------------------------
// Object identifiers (dotted) and DER tags.

const OID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const OID_TST_INFO: &str = "1.2.840.113549.1.9.16.1.4";
const OID_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const OID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const OID_SIGNING_CERTIFICATE: &str = "1.2.840.113549.1.9.16.2.12";
const OID_SIGNING_CERTIFICATE_V2: &str = "1.2.840.113549.1.9.16.2.47";
const OID_SHA1: &str = "1.3.14.3.2.26";
const OID_SHA256: &str = "2.16.840.1.101.3.4.2.1";
const OID_SHA384: &str = "2.16.840.1.101.3.4.2.2";
const OID_SHA512: &str = "2.16.840.1.101.3.4.2.3";
const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const OID_SHA256_WITH_RSA: &str = "1.2.840.113549.1.1.11";
const OID_SHA384_WITH_RSA: &str = "1.2.840.113549.1.1.12";
const OID_SHA512_WITH_RSA: &str = "1.2.840.113549.1.1.13";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
/// 2.16.840.1.101.3.4.2.1 (SHA-256), encoded.
const SHA256_OID_DER: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];

const BOOLEAN: u8 = 0x01;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const NULL: u8 = 0x05;
const OID: u8 = 0x06;
const UTF8_STRING: u8 = 0x0c;
const GENERALIZED_TIME: u8 = 0x18;
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const CONTEXT_0: u8 = 0xa0;
const CONTEXT_1: u8 = 0xa1;
const CONTEXT_0_PRIMITIVE: u8 = 0x80;

// ---------------------------------------------------------------------------------------------
// Minimal DER: encoding for the request, a strict reader for the rest.

fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = strip_zeros(&len.to_be_bytes()).to_vec();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

/// Contents of the DER INTEGER for `n` (minimal, with a 0x00 pad when the top bit is set).
fn unsigned(n: u64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let magnitude = strip_zeros(&bytes);
    let mut out = Vec::with_capacity(9);
    if magnitude.first().is_some_and(|b| b & 0x80 != 0) {
        out.push(0);
    }
    out.extend_from_slice(magnitude);
    out
}

/// `bytes` without leading zero bytes, keeping at least one byte.
fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes
        .get(zeros.min(bytes.len().saturating_sub(1))..)
        .unwrap_or(bytes)
}

/// A non-negative INTEGER that fits in a u64.
fn small_uint(content: &[u8]) -> Option<u64> {
    if content.first().is_none_or(|b| b & 0x80 != 0) {
        return None;
    }
    let magnitude = strip_zeros(content);
    if magnitude.len() > 8 {
        return None;
    }
    Some(magnitude.iter().fold(0, |n, b| (n << 8) | u64::from(*b)))
}

/// One DER element: its tag byte, its contents and its whole encoding.
#[derive(Clone, Copy, Debug)]
struct Tlv<'a> {
    tag: u8,
    value: &'a [u8],
    raw: &'a [u8],
}

impl<'a> Tlv<'a> {
    fn items(&self) -> Der<'a> {
        Der(self.value)
    }
}

/// A cursor over consecutive DER elements.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn next(&mut self, what: &'static str) -> Result<Tlv<'a>, TsaError> {
        let (tlv, rest) = split_tlv(self.0).ok_or(TsaError::Malformed(what))?;
        self.0 = rest;
        Ok(tlv)
    }

    fn expect(&mut self, tag: u8, what: &'static str) -> Result<Tlv<'a>, TsaError> {
        let tlv = self.next(what)?;
        if tlv.tag == tag {
            Ok(tlv)
        } else {
            Err(TsaError::Malformed(what))
        }
    }

    fn optional(&mut self, tag: u8, what: &'static str) -> Result<Option<Tlv<'a>>, TsaError> {
        if self.0.first() == Some(&tag) {
            self.next(what).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// Split one element off `input`. Low tag numbers only; definite, minimal lengths only.
fn split_tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, after_tag) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, mut after_len) = after_tag.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (bytes, rest) = after_len.split_at_checked(count)?;
        after_len = rest;
        if bytes.first() == Some(&0) {
            return None;
        }
        let len = bytes.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b));
        if len < 0x80 {
            return None;
        }
        len
    };
    let (value, rest) = after_len.split_at_checked(len)?;
    let raw = input.get(..input.len() - rest.len())?;
    Some((Tlv { tag, value, raw }, rest))
}

/// `input` must be exactly one element with `tag`.
fn single<'a>(input: &'a [u8], tag: u8, what: &'static str) -> Result<Tlv<'a>, TsaError> {
    let mut der = Der(input);
    let tlv = der.expect(tag, what)?;
    if der.is_empty() {
        Ok(tlv)
    } else {
        Err(TsaError::Malformed(what))
    }
}

fn oid_string(tlv: Tlv<'_>) -> Result<String, TsaError> {
    if tlv.tag != OID || tlv.value.is_empty() {
        return Err(TsaError::Malformed("object identifier"));
    }
    Ok(Oid::new(Cow::Borrowed(tlv.value)).to_id_string())
}

/// The OID of an AlgorithmIdentifier (parameters are not needed for the algorithms we accept).
fn algorithm(tlv: Tlv<'_>) -> Result<String, TsaError> {
    oid_string(tlv.items().expect(OID, "AlgorithmIdentifier")?)
}

// ---------------------------------------------------------------------------------------------
// RFC 3161 / RFC 5652 structures.

fn status_name(status: u64) -> &'static str {
    match status {
        0 => "granted",
        1 => "grantedWithMods",
        2 => "rejection",
        3 => "waiting",
        4 => "revocationWarning",
        5 => "revocationNotification",
        _ => "unknown",
    }
}

/// PKIFreeText: SEQUENCE OF UTF8String.
fn free_text(tlv: Tlv<'_>) -> Result<String, TsaError> {
    let mut items = tlv.items();
    let mut parts = Vec::new();
    while !items.is_empty() {
        parts.push(String::from_utf8_lossy(
            items.expect(UTF8_STRING, "statusString")?.value,
        ));
    }
    Ok(parts.join("; "))
}

/// PKIFailureInfo bit names, comma separated.
fn fail_info_names(bit_string: &[u8]) -> String {
    const NAMES: &[(usize, &str)] = &[
        (0, "badAlg"),
        (2, "badRequest"),
        (5, "badDataFormat"),
        (14, "timeNotAvailable"),
        (15, "unacceptedPolicy"),
        (16, "unacceptedExtension"),
        (17, "addInfoNotAvailable"),
        (25, "systemFailure"),
    ];
    let bits = bit_string.get(1..).unwrap_or_default();
    (0..bits.len() * 8)
        .filter(|i| {
            bits.get(i / 8)
                .is_some_and(|byte| byte & (0x80 >> (i % 8)) != 0)
        })
        .map(|i| match NAMES.iter().find(|(bit, _)| *bit == i) {
            Some((_, name)) => (*name).to_string(),
            None => format!("bit{i}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The parts of a TimeStampToken we use.
struct Token<'a> {
    /// eContent: the DER TSTInfo the signature covers.
    tst_info: &'a [u8],
    certificates: Vec<&'a [u8]>,
    signers: Vec<Tlv<'a>>,
}

fn parse_token(der: &[u8]) -> Result<Token<'_>, TsaError> {
    const CI: &str = "ContentInfo";
    const SD: &str = "SignedData";
    const ECI: &str = "encapContentInfo";
    let content_info = single(der, SEQUENCE, CI)?;
    let mut ci = content_info.items();
    if oid_string(ci.expect(OID, CI)?)? != OID_SIGNED_DATA {
        return Err(TsaError::NotSignedData);
    }
    let signed_data = single(ci.expect(CONTEXT_0, CI)?.value, SEQUENCE, SD)?;
    let mut sd = signed_data.items();
    sd.expect(INTEGER, SD)?;
    sd.expect(SET, SD)?;
    let encap = sd.expect(SEQUENCE, ECI)?;
    let mut e = encap.items();
    if oid_string(e.expect(OID, ECI)?)? != OID_TST_INFO {
        return Err(TsaError::NotTstInfo);
    }
    let tst_info = single(e.expect(CONTEXT_0, ECI)?.value, OCTET_STRING, ECI)?.value;
    let mut certificates = Vec::new();
    if let Some(set) = sd.optional(CONTEXT_0, "certificates")? {
        let mut items = set.items();
        while !items.is_empty() {
            // Other CertificateChoices (attribute certificates, ...) are ignored.
            let cert = items.next("certificates")?;
            if cert.tag == SEQUENCE {
                certificates.push(cert.raw);
            }
        }
    }
    sd.optional(CONTEXT_1, "crls")?;
    let mut infos = sd.expect(SET, "signerInfos")?.items();
    let mut signers = Vec::new();
    while !infos.is_empty() {
        signers.push(infos.expect(SEQUENCE, "SignerInfo")?);
    }
    Ok(Token {
        tst_info,
        certificates,
        signers,
    })
}

struct TstInfo<'a> {
    policy: String,
    imprint_algorithm: String,
    imprint: &'a [u8],
    serial: &'a [u8],
    gen_time: DateTime<Utc>,
    nonce: Option<&'a [u8]>,
}

fn parse_tst_info(der: &[u8]) -> Result<TstInfo<'_>, TsaError> {
    const W: &str = "TSTInfo";
    let mut fields = single(der, SEQUENCE, W)?.items();
    if fields.expect(INTEGER, W)?.value != [1] {
        return Err(TsaError::TstInfoVersion);
    }
    let policy = oid_string(fields.expect(OID, W)?)?;
    let mut imprint = fields.expect(SEQUENCE, "messageImprint")?.items();
    let imprint_algorithm = algorithm(imprint.expect(SEQUENCE, "messageImprint")?)?;
    let hashed = imprint.expect(OCTET_STRING, "messageImprint")?.value;
    let serial = fields.expect(INTEGER, W)?.value;
    let gen_time = generalized_time(fields.expect(GENERALIZED_TIME, W)?.value)?;
    fields.optional(SEQUENCE, W)?; // accuracy
    fields.optional(BOOLEAN, W)?; // ordering
    let nonce = fields.optional(INTEGER, W)?.map(|t| t.value);
    Ok(TstInfo {
        policy,
        imprint_algorithm,
        imprint: hashed,
        serial,
        gen_time,
        nonce,
    })
}

/// GeneralizedTime as RFC 3161 restricts it: `YYYYMMDDhhmmss[.f*]Z`.
fn generalized_time(value: &[u8]) -> Result<DateTime<Utc>, TsaError> {
    let bad = || TsaError::Malformed("genTime");
    let text = std::str::from_utf8(value).map_err(|_| bad())?;
    let text = text.strip_suffix('Z').ok_or_else(bad)?;
    let (whole, fraction) = match text.split_once('.') {
        Some((_, "")) => return Err(bad()),
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.len() != 14 || !digits(whole) || fraction.len() > 9 || !digits(fraction) {
        return Err(bad());
    }
    let field = |range: std::ops::Range<usize>| -> Result<u32, TsaError> {
        whole
            .get(range)
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)
    };
    let nanos: u32 = format!("{fraction:0<9}").parse().map_err(|_| bad())?;
    let (year, month, day) = (field(0..4)? as i32, field(4..6)?, field(6..8)?);
    let (hour, minute, second) = (field(8..10)?, field(10..12)?, field(12..14)?);
    NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|d| d.and_hms_nano_opt(hour, minute, second, nanos))
        .map(|t| t.and_utc())
        .ok_or_else(bad)
}

fn check_imprint(tst: &TstInfo<'_>, digest: &[u8; 32]) -> Result<(), TsaError> {
    if tst.imprint_algorithm != OID_SHA256 {
        return Err(TsaError::ImprintAlgorithm(tst.imprint_algorithm.clone()));
    }
    if tst.imprint != digest.as_slice() {
        return Err(TsaError::ImprintMismatch);
    }
    Ok(())
}

enum SignerId<'a> {
    IssuerSerial { issuer: &'a [u8], serial: &'a [u8] },
    KeyId(&'a [u8]),
}

struct SignerInfo<'a> {
    sid: SignerId<'a>,
    digest_alg: String,
    signed_attrs: Option<Tlv<'a>>,
    signature_alg: String,
    signature: &'a [u8],
}

fn parse_signer_info(tlv: Tlv<'_>) -> Result<SignerInfo<'_>, TsaError> {
    const W: &str = "SignerInfo";
    let mut fields = tlv.items();
    fields.expect(INTEGER, W)?;
    let sid = fields.next(W)?;
    let sid = match sid.tag {
        SEQUENCE => {
            let mut parts = sid.items();
            let issuer = parts.expect(SEQUENCE, W)?.raw;
            let serial = parts.expect(INTEGER, W)?.value;
            SignerId::IssuerSerial { issuer, serial }
        }
        CONTEXT_0_PRIMITIVE => SignerId::KeyId(sid.value),
        _ => return Err(TsaError::Malformed(W)),
    };
    let digest_alg = algorithm(fields.expect(SEQUENCE, W)?)?;
    let signed_attrs = fields.optional(CONTEXT_0, W)?;
    let signature_alg = algorithm(fields.expect(SEQUENCE, W)?)?;
    let signature = fields.expect(OCTET_STRING, W)?.value;
    Ok(SignerInfo {
        sid,
        digest_alg,
        signed_attrs,
        signature_alg,
        signature,
    })
}

/// Signed attributes as (type, SET of values); a type may appear only once.
fn attributes(tlv: Tlv<'_>) -> Result<Vec<(String, Tlv<'_>)>, TsaError> {
    const W: &str = "signed attributes";
    let mut items = tlv.items();
    let mut out: Vec<(String, Tlv<'_>)> = Vec::new();
    while !items.is_empty() {
        let mut attribute = items.expect(SEQUENCE, W)?.items();
        let kind = oid_string(attribute.expect(OID, W)?)?;
        let values = attribute.expect(SET, W)?;
        if out.iter().any(|(k, _)| *k == kind) {
            return Err(TsaError::DuplicateAttribute(kind));
        }
        out.push((kind, values));
    }
    Ok(out)
}

fn find_attr<'a>(attrs: &[(String, Tlv<'a>)], kind: &str) -> Option<Tlv<'a>> {
    attrs.iter().find(|(k, _)| k == kind).map(|(_, v)| *v)
}

/// RFC 3161 2.4.2 / RFC 5816: the first ESSCertID(v2) of the signingCertificate(V2)
/// attribute must hash to the signer certificate.
fn check_signing_certificate(attrs: &[(String, Tlv<'_>)], cert_der: &[u8]) -> Result<(), TsaError> {
    const W: &str = "signingCertificate";
    let (v2, values) = match find_attr(attrs, OID_SIGNING_CERTIFICATE_V2) {
        Some(values) => (true, values),
        None => (
            false,
            find_attr(attrs, OID_SIGNING_CERTIFICATE).ok_or(TsaError::SigningCertificate)?,
        ),
    };
    let names_signer = || -> Result<bool, TsaError> {
        let signing_certificate = single(values.value, SEQUENCE, W)?;
        let certs = signing_certificate.items().expect(SEQUENCE, W)?;
        let mut first = certs.items().expect(SEQUENCE, W)?.items();
        let hash = match (v2, first.optional(SEQUENCE, W)?) {
            (false, _) => Hash::Sha1,
            (true, None) => Hash::Sha256,
            (true, Some(alg)) => {
                Hash::from_oid(&algorithm(alg)?).ok_or(TsaError::SigningCertificate)?
            }
        };
        let cert_hash = first.expect(OCTET_STRING, W)?.value;
        Ok(digest::digest(hash.algorithm(), cert_der).as_ref() == cert_hash)
    };
    if names_signer().unwrap_or(false) {
        Ok(())
    } else {
        Err(TsaError::SigningCertificate)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn from_oid(oid: &str) -> Option<Hash> {
        match oid {
            OID_SHA1 => Some(Hash::Sha1),
            OID_SHA256 => Some(Hash::Sha256),
            OID_SHA384 => Some(Hash::Sha384),
            OID_SHA512 => Some(Hash::Sha512),
            _ => None,
        }
    }

    fn algorithm(self) -> &'static digest::Algorithm {
        match self {
            Hash::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha256 => &digest::SHA256,
            Hash::Sha384 => &digest::SHA384,
            Hash::Sha512 => &digest::SHA512,
        }
    }
}

/// The ring algorithm for the signer's key, the SignerInfo digest algorithm and its
/// signatureAlgorithm (either the bare key type, as openssl writes for RSA, or
/// key type with the same hash). RSA PKCS#1 v1.5 and ECDSA P-256 / P-384.
fn verification_algorithm(
    cert: &X509Certificate<'_>,
    hash: Hash,
    signature_alg: &str,
) -> Result<&'static dyn VerificationAlgorithm, TsaError> {
    let unsupported = || TsaError::UnsupportedSignature(signature_alg.to_string());
    let (rsa, named_hash) = match signature_alg {
        OID_RSA_ENCRYPTION => (true, None),
        OID_SHA256_WITH_RSA => (true, Some(Hash::Sha256)),
        OID_SHA384_WITH_RSA => (true, Some(Hash::Sha384)),
        OID_SHA512_WITH_RSA => (true, Some(Hash::Sha512)),
        OID_EC_PUBLIC_KEY => (false, None),
        OID_ECDSA_SHA256 => (false, Some(Hash::Sha256)),
        OID_ECDSA_SHA384 => (false, Some(Hash::Sha384)),
        _ => return Err(unsupported()),
    };
    if named_hash.is_some_and(|h| h != hash) {
        return Err(unsupported());
    }
    let key = &cert.public_key().algorithm;
    match (rsa, key.algorithm.to_id_string().as_str()) {
        (true, OID_RSA_ENCRYPTION) => match hash {
            Hash::Sha256 => Ok(&signature::RSA_PKCS1_2048_8192_SHA256),
            Hash::Sha384 => Ok(&signature::RSA_PKCS1_2048_8192_SHA384),
            Hash::Sha512 => Ok(&signature::RSA_PKCS1_2048_8192_SHA512),
            Hash::Sha1 => Err(unsupported()),
        },
        (false, OID_EC_PUBLIC_KEY) => {
            let curve = key
                .parameters
                .as_ref()
                .map(|p| Oid::new(Cow::Borrowed(p.data)).to_id_string());
            match (curve.as_deref(), hash) {
                (Some(OID_P256), Hash::Sha256) => Ok(&signature::ECDSA_P256_SHA256_ASN1),
                (Some(OID_P256), Hash::Sha384) => Ok(&signature::ECDSA_P256_SHA384_ASN1),
                (Some(OID_P384), Hash::Sha256) => Ok(&signature::ECDSA_P384_SHA256_ASN1),
                (Some(OID_P384), Hash::Sha384) => Ok(&signature::ECDSA_P384_SHA384_ASN1),
                _ => Err(unsupported()),
            }
        }
        _ => Err(unsupported()),
    }
}

// ---------------------------------------------------------------------------------------------
// Certificates.

struct Cert<'a> {
    der: &'a [u8],
    x509: X509Certificate<'a>,
}

impl<'a> Cert<'a> {
    fn parse(
        der: &'a [u8],
    ) -> Result<Cert<'a>, x509_parser::nom::Err<x509_parser::error::X509Error>> {
        let (rest, x509) = X509Certificate::from_der(der)?;
        if !rest.is_empty() {
            return Err(x509_parser::nom::Err::Error(
                x509_parser::error::X509Error::InvalidCertificate,
            ));
        }
        Ok(Cert { der, x509 })
    }

    fn is_signer(&self, sid: &SignerId<'_>) -> bool {
        match sid {
            SignerId::IssuerSerial { issuer, serial } => {
                self.x509.issuer().as_raw() == *issuer && self.x509.raw_serial() == *serial
            }
            SignerId::KeyId(id) => self.x509.extensions().iter().any(|e| {
                matches!(e.parsed_extension(), ParsedExtension::SubjectKeyIdentifier(k) if k.0 == *id)
            }),
        }
    }

    fn valid_at(&self, at: DateTime<Utc>) -> Result<(), TsaError> {
        let validity = self.x509.validity();
        let t = at.timestamp();
        if t < validity.not_before.timestamp() || t > validity.not_after.timestamp() {
            return Err(TsaError::NotValidAtGenTime {
                subject: self.x509.subject().to_string(),
                gen_time: at,
            });
        }
        Ok(())
    }

    /// `issuer` is a CA whose key signed this certificate.
    fn issued_by(&self, issuer: &Cert<'_>) -> bool {
        self.x509.issuer().as_raw() == issuer.x509.subject().as_raw()
            && issuer.x509.is_ca()
            && self
                .x509
                .verify_signature(Some(issuer.x509.public_key()))
                .is_ok()
    }
}

/// RFC 3161 2.3: extendedKeyUsage present, critical, id-kp-timeStamping only; and keyUsage,
/// if present, allows signing.
fn check_timestamping_usage(cert: &X509Certificate<'_>) -> Result<(), TsaError> {
    let eku = cert
        .extended_key_usage()
        .map_err(|e| TsaError::Certificate(e.to_string()))?
        .ok_or(TsaError::NotTimeStampingCertificate)?;
    let purposes = eku.value;
    let only_timestamping = purposes.time_stamping
        && !(purposes.any
            || purposes.server_auth
            || purposes.client_auth
            || purposes.code_signing
            || purposes.email_protection
            || purposes.ocsp_signing)
        && purposes.other.is_empty();
    if !only_timestamping {
        return Err(TsaError::NotTimeStampingCertificate);
    }
    if !eku.critical {
        return Err(TsaError::EkuNotCritical);
    }
    let usage = cert
        .key_usage()
        .map_err(|e| TsaError::Certificate(e.to_string()))?;
    match usage {
        Some(ku) if !(ku.value.digital_signature() || ku.value.non_repudiation()) => {
            Err(TsaError::KeyUsage)
        }
        _ => Ok(()),
    }
}

/// Longest path walked from the signer towards an anchor.
const MAX_CHAIN: usize = 4;

/// The signer is an anchor, or is issued by one, possibly through intermediates carried in the
/// token; every certificate on the way (anchor included) is valid at `at`.
fn check_chain(
    signer: &Cert<'_>,
    pool: &[Cert<'_>],
    anchors: &[Cert<'_>],
    at: DateTime<Utc>,
) -> Result<(), TsaError> {
    let mut current = signer;
    for _ in 0..MAX_CHAIN {
        current.valid_at(at)?;
        if anchors.iter().any(|a| a.der == current.der) {
            return Ok(());
        }
        if let Some(anchor) = anchors.iter().find(|a| current.issued_by(a)) {
            return anchor.valid_at(at);
        }
        current = pool
            .iter()
            .find(|c| c.der != current.der && current.issued_by(c))
            .ok_or(TsaError::Untrusted)?;
    }
    Err(TsaError::Untrusted)
}

#[cfg(test)]
mod tests {
    //! Against tokens made at test time by the `openssl ts` CLI with a throwaway PKI.

    use super::*;
    use std::path::Path;
    use std::process::Command;

    /// Runs `openssl` in `dir`; any failure fails the test with openssl's stderr.
    fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run openssl {args:?}: {e}"));
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    const EXTENSIONS: &str = "\
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[tsa]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[noeku]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

    #[derive(Clone, Copy)]
    enum KeyKind {
        EcP256,
        EcP384,
        Rsa2048,
    }

    /// A throwaway TSA: root CA, an intermediate CA, TSA certificates, an openssl `[tsa]` config.
    struct Pki {
        dir: tempfile::TempDir,
        root_der: Vec<u8>,
    }

    impl Pki {
        fn new(kind: KeyKind) -> Pki {
            let dir = tempfile::tempdir().expect("tempdir");
            let d = dir.path();
            std::fs::write(d.join("ext.cnf"), EXTENSIONS).expect("write ext.cnf");
            let newkey: &[&str] = match kind {
                KeyKind::EcP256 => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
                KeyKind::EcP384 => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
                KeyKind::Rsa2048 => &["-newkey", "rsa:2048"],
            };
            for (name, cn) in [("root", "Test TSA Root"), ("foreign", "Foreign Root")] {
                let (key, pem, subj) = (
                    format!("{name}.key"),
                    format!("{name}.pem"),
                    format!("/CN={cn}"),
                );
                let args = [
                    &["req", "-x509"],
                    newkey,
                    &[
                        "-noenc", "-keyout", &key, "-out", &pem, "-days", "3650", "-subj", &subj,
                    ],
                    &["-config", "ext.cnf", "-extensions", "root"],
                ];
                openssl(d, &args.concat());
            }
            for (name, cn) in [("tsa", "Test TSA"), ("inter", "Test TSA Intermediate")] {
                let (key, csr, subj) = (
                    format!("{name}.key"),
                    format!("{name}.csr"),
                    format!("/CN={cn}"),
                );
                let args = [
                    &["req", "-new"],
                    newkey,
                    &["-noenc", "-keyout", &key, "-out", &csr, "-subj", &subj],
                ];
                openssl(d, &args.concat());
            }
            // (output, csr, issuer, extensions, serial, days)
            let certs = [
                ("tsa.pem", "tsa", "root", "tsa", "2", "365"),
                ("noeku.pem", "tsa", "root", "noeku", "3", "365"),
                ("expired.pem", "tsa", "root", "tsa", "4", "-1"),
                ("inter.pem", "inter", "root", "root", "5", "365"),
                ("deep.pem", "tsa", "inter", "tsa", "6", "365"),
            ];
            for (out, csr, issuer, ext, serial, days) in certs {
                let (csr, ca, ca_key) = (
                    format!("{csr}.csr"),
                    format!("{issuer}.pem"),
                    format!("{issuer}.key"),
                );
                openssl(
                    d,
                    &[
                        "x509",
                        "-req",
                        "-in",
                        &csr,
                        "-CA",
                        &ca,
                        "-CAkey",
                        &ca_key,
                        "-set_serial",
                        serial,
                        "-days",
                        days,
                        "-extfile",
                        "ext.cnf",
                        "-extensions",
                        ext,
                        "-out",
                        out,
                    ],
                );
            }
            // ESSCertIDv2 with its default SHA-256, ESSCertID (v1, SHA-1), ESSCertIDv2 naming SHA-384.
            let (ess, signer_digest) = match kind {
                KeyKind::EcP256 => ("sha256", "sha256"),
                KeyKind::Rsa2048 => ("sha1", "sha256"),
                KeyKind::EcP384 => ("sha384", "sha384"),
            };
            let config = format!(
                "[tsa]\ndefault_tsa = tsa_config\n[tsa_config]\nserial = {}\n\
                 signer_digest = {signer_digest}\ndefault_policy = 1.2.3.4.1\ndigests = sha256\n\
                 accuracy = secs:1\nordering = yes\ntsa_name = yes\ness_cert_id_alg = {ess}\n",
                d.join("serial").display()
            );
            std::fs::write(d.join("tsa.cnf"), config).expect("write tsa.cnf");
            let root_der = openssl(d, &["x509", "-in", "root.pem", "-outform", "DER"]);
            Pki { dir, root_der }
        }

        fn path(&self) -> &Path {
            self.dir.path()
        }

        fn der(&self, pem: &str) -> Vec<u8> {
            openssl(self.path(), &["x509", "-in", pem, "-outform", "DER"])
        }

        /// `openssl ts -reply` to `query`, signed by the certificate `signer` (key tsa.key).
        fn reply(&self, query: &[u8], signer: &str, chain: &str) -> Vec<u8> {
            std::fs::write(self.path().join("query.der"), query).expect("write query");
            openssl(
                self.path(),
                &[
                    "ts",
                    "-reply",
                    "-config",
                    "tsa.cnf",
                    "-queryfile",
                    "query.der",
                    "-inkey",
                    "tsa.key",
                    "-signer",
                    signer,
                    "-chain",
                    chain,
                    "-out",
                    "reply.der",
                ],
            );
            std::fs::read(self.path().join("reply.der")).expect("read reply")
        }

        /// The TSTInfo `tst_info` in a CMS SignedData made by `openssl cms`, which, unlike
        /// `openssl ts`, signs with any certificate and adds no ESS signingCertificate.
        fn cms_token(&self, tst_info: &[u8], signer: &str) -> Vec<u8> {
            std::fs::write(self.path().join("tst.der"), tst_info).expect("write TSTInfo");
            openssl(
                self.path(),
                &[
                    "cms",
                    "-sign",
                    "-binary",
                    "-nodetach",
                    "-in",
                    "tst.der",
                    "-econtent_type",
                    OID_TST_INFO,
                    "-signer",
                    signer,
                    "-inkey",
                    "tsa.key",
                    "-md",
                    "sha256",
                    "-outform",
                    "DER",
                    "-out",
                    "cms.der",
                ],
            );
            std::fs::read(self.path().join("cms.der")).expect("read cms token")
        }
    }

    fn sha256(data: &[u8]) -> [u8; 32] {
        digest::digest(&digest::SHA256, data)
            .as_ref()
            .try_into()
            .expect("32 bytes")
    }

    fn offset_of(whole: &[u8], part: &[u8]) -> usize {
        part.as_ptr() as usize - whole.as_ptr() as usize
    }

    fn flipped(token: &[u8], at: usize) -> Vec<u8> {
        let mut copy = token.to_vec();
        copy[at] ^= 0x01;
        copy
    }

    fn suite(kind: KeyKind) {
        let pki = Pki::new(kind);
        let anchors = vec![pki.root_der.clone()];
        let digest = sha256(b"the hub's signature bytes");
        let nonce = 0xf1e2_d3c4_b5a6_9788; // top bit set: encoded with a 0x00 pad
        let resp = pki.reply(&request(&digest, nonce), "tsa.pem", "root.pem");

        // Round trip.
        let token = token_from_response(&resp, &digest, nonce).expect("token from response");
        let info = verify_token(&token, &digest, &anchors).expect("token verifies");
        assert!(
            (Utc::now() - info.gen_time).num_seconds().abs() < 60,
            "genTime {}",
            info.gen_time
        );
        assert_eq!(info.policy, "1.2.3.4.1");
        assert_eq!(info.tsa, "CN=Test TSA");
        assert!(!info.serial.is_empty());

        // The auditor's recipe accepts what we accept.
        std::fs::write(pki.path().join("token.der"), &token).expect("write token");
        let hex_digest = hex::encode(digest);
        openssl(
            pki.path(),
            &[
                "ts",
                "-verify",
                "-digest",
                &hex_digest,
                "-in",
                "token.der",
                "-token_in",
                "-CAfile",
                "root.pem",
                "-untrusted",
                "tsa.pem",
            ],
        );

        // The TSA certificate may itself be the anchor.
        verify_token(&token, &digest, &[pki.der("tsa.pem")]).expect("TSA certificate as anchor");

        // A TSA certificate under an intermediate carried in the token.
        let deep = token_from_response(
            &pki.reply(&request(&digest, 7), "deep.pem", "inter.pem"),
            &digest,
            7,
        )
        .expect("token via intermediate");
        verify_token(&deep, &digest, &anchors).expect("chain through the intermediate");
        let direct = token_from_response(
            &pki.reply(&request(&digest, 8), "deep.pem", "root.pem"),
            &digest,
            8,
        )
        .expect("token without intermediate");
        assert!(matches!(
            verify_token(&direct, &digest, &anchors),
            Err(TsaError::Untrusted)
        ));

        // Another digest, another nonce.
        let other = sha256(b"something else");
        assert!(matches!(
            verify_token(&token, &other, &anchors),
            Err(TsaError::ImprintMismatch)
        ));
        assert!(matches!(
            token_from_response(&resp, &other, nonce),
            Err(TsaError::ImprintMismatch)
        ));
        assert!(matches!(
            token_from_response(&resp, &digest, nonce ^ 1),
            Err(TsaError::NonceMismatch)
        ));

        // Tampering: the signature, the TSTInfo, a signed attribute.
        let parsed = parse_token(&token).expect("parse");
        let signer = parse_signer_info(parsed.signers[0]).expect("signer info");
        let last_signature_byte = offset_of(&token, signer.signature) + signer.signature.len() - 1;
        let result = verify_token(&flipped(&token, last_signature_byte), &digest, &anchors);
        assert!(matches!(result, Err(TsaError::BadSignature)), "{result:?}");
        let serial = parse_tst_info(parsed.tst_info).expect("TSTInfo").serial;
        let result = verify_token(
            &flipped(&token, offset_of(&token, serial)),
            &digest,
            &anchors,
        );
        assert!(matches!(result, Err(TsaError::MessageDigest)), "{result:?}");
        let attrs =
            attributes(signer.signed_attrs.expect("signed attributes")).expect("attributes");
        let signing_time = find_attr(&attrs, "1.2.840.113549.1.9.5").expect("signingTime");
        let at = offset_of(&token, signing_time.value) + signing_time.value.len() - 2; // a digit
        let result = verify_token(&flipped(&token, at), &digest, &anchors);
        assert!(matches!(result, Err(TsaError::BadSignature)), "{result:?}");
        let message_digest = find_attr(&attrs, OID_MESSAGE_DIGEST).expect("messageDigest");
        let at = offset_of(&token, message_digest.value) + message_digest.value.len() - 1;
        let result = verify_token(&flipped(&token, at), &digest, &anchors);
        assert!(matches!(result, Err(TsaError::MessageDigest)), "{result:?}");

        // `openssl ts` refuses a signer without the timeStamping EKU, so sign with `openssl cms`.
        let result = verify_token(
            &pki.cms_token(parsed.tst_info, "noeku.pem"),
            &digest,
            &anchors,
        );
        assert!(
            matches!(result, Err(TsaError::NotTimeStampingCertificate)),
            "{result:?}"
        );
        let result = verify_token(
            &pki.cms_token(parsed.tst_info, "tsa.pem"),
            &digest,
            &anchors,
        );
        assert!(
            matches!(result, Err(TsaError::SigningCertificate)),
            "{result:?}"
        );

        // A TSA certificate not valid at genTime, a foreign anchor, no anchor.
        let expired = token_from_response(
            &pki.reply(&request(&digest, 9), "expired.pem", "root.pem"),
            &digest,
            9,
        )
        .expect("token from expired cert");
        let result = verify_token(&expired, &digest, &anchors);
        assert!(
            matches!(result, Err(TsaError::NotValidAtGenTime { .. })),
            "{result:?}"
        );
        let result = verify_token(&token, &digest, &[pki.der("foreign.pem")]);
        assert!(matches!(result, Err(TsaError::Untrusted)), "{result:?}");
        assert!(matches!(
            verify_token(&token, &digest, &[]),
            Err(TsaError::Untrusted)
        ));
        assert!(matches!(
            verify_token(&token, &digest, &[vec![0x30, 0]]),
            Err(TsaError::TrustAnchor(0))
        ));

        // A rejection (status 2): this TSA accepts SHA-256 imprints only.
        let sha1_hex = "a9993e364706816aba3e25717850c26c9cd0d89d";
        openssl(
            pki.path(),
            &[
                "ts", "-query", "-digest", sha1_hex, "-sha1", "-cert", "-out", "sha1.tsq",
            ],
        );
        let sha1_query = std::fs::read(pki.path().join("sha1.tsq")).expect("read query");
        let reply = pki.reply(&sha1_query, "tsa.pem", "root.pem");
        let err = token_from_response(&reply, &digest, nonce).expect_err("a rejection");
        assert_eq!(
            err.to_string(),
            "TSA refused the request: PKIStatus 2 (rejection), failInfo [badAlg], \
             text \"Message digest algorithm is not supported.\""
        );

        // Hostile input never panics: every truncation fails, every one-byte change is handled.
        for len in 0..token.len() {
            assert!(verify_token(&token[..len], &digest, &anchors).is_err());
        }
        for len in 0..resp.len() {
            assert!(token_from_response(&resp[..len], &digest, nonce).is_err());
        }
        for at in 0..token.len() {
            let mut copy = token.clone();
            copy[at] ^= 0xff;
            let _ = verify_token(&copy, &digest, &anchors);
            let _ = token_from_response(&copy, &digest, nonce);
        }
    }

    #[test]
    fn openssl_tsa_ec_p256() {
        suite(KeyKind::EcP256);
    }

    #[test]
    fn openssl_tsa_ec_p384_sha384() {
        suite(KeyKind::EcP384);
    }

    #[test]
    fn openssl_tsa_rsa_2048() {
        suite(KeyKind::Rsa2048);
    }

    #[test]
    fn request_is_what_openssl_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let digest = sha256(b"abc");
        std::fs::write(
            dir.path().join("req.tsq"),
            request(&digest, 0x8000_0000_0000_0001),
        )
        .expect("write");
        let text = openssl(dir.path(), &["ts", "-query", "-in", "req.tsq", "-text"]);
        let text = String::from_utf8_lossy(&text);
        assert!(text.contains("Version: 1"), "{text}");
        assert!(text.contains("Hash Algorithm: sha256"), "{text}");
        assert!(text.contains("Nonce: 0x8000000000000001"), "{text}");
        assert!(text.contains("Certificate required: yes"), "{text}");
        assert!(text.contains("ba 78 16 bf"), "{text}");
        assert_eq!(unsigned(0), [0]);
        assert_eq!(unsigned(0x7f), [0x7f]);
        assert_eq!(unsigned(0x80), [0, 0x80]);
        assert_eq!(unsigned(0x0100), [1, 0]);
    }

    #[test]
    fn der_reader_is_strict() {
        assert!(
            split_tlv(&[0x30, 0x80, 0, 0]).is_none(),
            "indefinite length"
        );
        assert!(
            split_tlv(&[0x04, 0x81, 0x01, 0]).is_none(),
            "non-minimal length"
        );
        assert!(
            split_tlv(&[0x04, 0x82, 0x00, 0x80]).is_none(),
            "leading zero length byte"
        );
        assert!(split_tlv(&[0x04, 0x05, 0]).is_none(), "short");
        assert!(split_tlv(&[0x1f, 0x01, 0x00]).is_none(), "high tag number");
        let long = [&[0x04, 0x81, 0x80][..], &[7; 0x80]].concat();
        let (tlv, rest) = split_tlv(&long).expect("long form");
        assert_eq!(
            (tlv.value.len(), rest.len(), tlv.raw.len()),
            (0x80, 0, 0x83)
        );
        assert_eq!(encode(OCTET_STRING, &[7; 0x80]), long);
        assert_eq!(small_uint(&[0x00, 0xff]), Some(255));
        assert_eq!(small_uint(&[0xff]), None);
    }

    #[test]
    fn generalized_time_forms() {
        let t = generalized_time(b"20260102030405.25Z").expect("fraction");
        assert_eq!(t.to_rfc3339(), "2026-01-02T03:04:05.250+00:00");
        assert!(generalized_time(b"20260102030405Z").is_ok());
        for bad in [
            &b"20260102030405"[..],
            b"20260102030405.Z",
            b"2026010203040Z",
            b"20261302030405Z",
            b"2026010203040+Z",
        ] {
            assert!(
                generalized_time(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}

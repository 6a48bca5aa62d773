//! The hub's client of an RFC 3161 time-stamping authority: it asks for a token over the
//! SHA-256 of one of its signatures, checks the token against the configured TSA roots and
//! attaches it to the signature's unprotected header (`tst`).
//!
//! The protocol itself (request, response, token verification) is [`crate::seal::tsa`]; this
//! is the IO around it.

use crate::seal::jws::{JwsSignature, Unprotected};
use crate::seal::signatures::{self, SignatureError};
use crate::seal::tsa::{self, TokenInfo, TsaError};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::time::Duration;

/// How long one request to the authority may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    #[error("time-stamping authority: {0}")]
    Tsa(#[from] TsaError),
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

/// A configured authority.
#[derive(Clone, Debug)]
pub struct Timestamper {
    url: String,
    roots: Vec<Vec<u8>>,
    client: reqwest::Client,
}

impl Timestamper {
    /// `roots`: DER certificates the authority's tokens must chain to.
    pub fn new(url: String, roots: Vec<Vec<u8>>) -> Self {
        Self {
            url,
            roots,
            client: reqwest::Client::new(),
        }
    }

    pub fn roots(&self) -> &[Vec<u8>] {
        &self.roots
    }

    /// Obtain a token over `sig`'s signature bytes, verify it and attach it.
    pub async fn stamp(&self, sig: &mut JwsSignature) -> Result<TokenInfo, TimestampError> {
        let digest = signatures::digest(&signatures::signature_bytes(sig)?);
        let nonce = rand::random::<u64>();
        let token = tsa::fetch(&self.client, &self.url, &digest, nonce, TIMEOUT).await?;
        let info = tsa::verify_token(&token, &digest, &self.roots)?;
        let header = sig.header.get_or_insert_with(Unprotected::default);
        header.tst = Some(STANDARD.encode(token));
        Ok(info)
    }
}

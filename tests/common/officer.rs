//! An officer's browser as the console drives it: a P-256 key that never leaves it, enrolled
//! with the office CA by proof of possession, signing manifests as detached ES256 JWS.

use super::{Ws, paired_session};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use globallink::seal::officer_pki::{self, OfficerPublicKey};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use serde_json::{Value, json};

/// The officer's browser: a P-256 key that never leaves it, and what the console keeps.
pub struct Browser {
    pub key: EcdsaKeyPair,
    pub x5c: Vec<String>,
}

impl Browser {
    pub fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("keygen");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("key");
        Self { key, x5c: vec![] }
    }

    pub fn spki(&self) -> Vec<u8> {
        OfficerPublicKey::from_sec1(self.key.public_key().as_ref())
            .expect("point")
            .spki_der()
    }

    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.key
            .sign(&SystemRandom::new(), msg)
            .expect("sign")
            .as_ref()
            .to_vec()
    }

    /// What the console posts: an ES256 JWS over the payload, with the enrolled chain.
    pub fn jws(&self, payload_b64: &str) -> Value {
        self.jws_with(&self.x5c, payload_b64)
    }

    pub fn jws_with(&self, x5c: &[String], payload_b64: &str) -> Value {
        let header = json!({"alg": "ES256", "typ": "JOSE", "x5c": x5c});
        let protected = URL_SAFE_NO_PAD.encode(header.to_string());
        let signature = self.sign(format!("{protected}.{payload_b64}").as_bytes());
        json!({"protected": protected, "signature": URL_SAFE_NO_PAD.encode(signature)})
    }

    pub async fn enrol(&mut self, base: &str, officer: &reqwest::Client) -> Value {
        let challenge: Value = officer
            .post(format!("{base}/api/officers/me/enrolment/challenge"))
            .json(&json!({}))
            .send()
            .await
            .expect("challenge")
            .json()
            .await
            .expect("json");
        let bytes: [u8; 32] = URL_SAFE_NO_PAD
            .decode(challenge["challenge"].as_str().expect("challenge"))
            .expect("base64url")
            .try_into()
            .expect("32 bytes");
        let message = officer_pki::possession_message(
            challenge["officer_id"].as_str().expect("officer id"),
            &bytes,
        )
        .expect("message");
        let body = json!({
            "challenge": challenge["challenge"],
            "public_key": URL_SAFE_NO_PAD.encode(self.spki()),
            "signature": URL_SAFE_NO_PAD.encode(self.sign(&message)),
        });
        let res = officer
            .post(format!("{base}/api/officers/me/enrolment"))
            .json(&body)
            .send()
            .await
            .expect("enrol");
        assert_eq!(res.status(), 201);
        let cert: Value = res.json().await.expect("json");
        self.x5c = cert["x5c"]
            .as_array()
            .expect("x5c")
            .iter()
            .map(|c| c.as_str().expect("base64").to_owned())
            .collect();
        // The same answer again: the challenge is spent.
        let again = officer
            .post(format!("{base}/api/officers/me/enrolment"))
            .json(&body)
            .send()
            .await
            .expect("enrol again");
        assert_eq!(again.status(), 409);
        cert
    }
    /// Sign the artefact's manifest as the officer, through the hub's API; the HTTP status.
    pub async fn sign_artefact(
        &self,
        base: &str,
        officer: &reqwest::Client,
        artefact: &str,
    ) -> u16 {
        let signing: Value = officer
            .get(format!("{base}/api/artefacts/{artefact}/signing"))
            .send()
            .await
            .expect("signing view")
            .json()
            .await
            .expect("json");
        let payload = signing["payload"].as_str().expect("payload");
        officer
            .post(format!("{base}/api/artefacts/{artefact}/signature"))
            .json(&self.jws(payload))
            .send()
            .await
            .expect("sign")
            .status()
            .as_u16()
    }
}

/// Run a short session to its close and return the artefact id.
pub async fn sealed_session(
    addr: std::net::SocketAddr,
    base: &str,
    officer: &reqwest::Client,
) -> String {
    let (mut officer_ws, _applicant, _case): (Ws, Ws, String) =
        paired_session(addr, base, officer, "id-card-renewal").await;
    officer_ws.send(json!({"type": "close_session"})).await;
    let closed = officer_ws.expect("session_closed").await;
    closed["artefact_id"].as_str().expect("artefact").to_owned()
}

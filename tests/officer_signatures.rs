//! Officer signatures end to end: an officer enrols a browser key (proof of possession, an
//! X.509 certificate from the office CA), a session is sealed by the hub (with an RFC 3161
//! timestamp from a real TSA), the officer signs the manifest the way the console does, and
//! the hub verifies, countersigns and timestamps it. The bundle then verifies with both
//! signatures, in the library and through `globallink verify`; revoked, expired and foreign
//! officer certificates are refused on receipt and caught in forged bundles.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, TimeDelta, Utc};
use common::officer::{Browser, sealed_session};
use common::tsa::TestTsa;
use common::zipped::{rezip, unzip};
use common::{login, start_hub_configured};
use globallink::clock::{Clock as _, ManualClock, SystemClock};
use globallink::seal::jws::{self, JwsJson, JwsSignature, Unprotected};
use globallink::seal::officer_pki::{
    self, OfficerPublicKey, OfficerSubject, Reason, Revoked, issue_officer_certificate,
};
use globallink::seal::verify::{Report, verify_bundle};
use serde_json::{Value, json};
use std::sync::Arc;

async fn get(client: &reqwest::Client, url: String) -> (u16, Value) {
    let res = client.get(url).send().await.expect("get");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn post(client: &reqwest::Client, url: String, body: &Value) -> (u16, Value) {
    let res = client.post(url).json(body).send().await.expect("post");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn check<'a>(report: &'a Report, name: &str) -> &'a str {
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .map(|c| c.detail.as_str())
        .unwrap_or_else(|| panic!("no {name} check: {}", report.render_text()))
}

fn entry<'a>(entries: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    &entries
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officer_signs_and_the_hub_countersigns_with_a_timestamp() {
    let tsa = TestTsa::start().await;
    let (url, root) = (tsa.url.clone(), tsa.root_pem_path.clone());
    // The hub's clock is the test's: real time at the start (the TSA stamps in real time),
    // moved on by hand so a revocation is unambiguously after the signature.
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let hub = start_hub_configured(clock.clone(), move |s| {
        s.config.tsa_url = Some(url);
        s.config.tsa_trust = Some(root);
    })
    .await;
    let base = hub.url("");
    let officer = login(&base, &hub.accounts.officer).await;
    let auditor = login(&base, &hub.accounts.auditor).await;

    let (status, _) = get(&officer, format!("{base}/api/officers/me/certificate")).await;
    assert_eq!(status, 404, "not enrolled yet");
    let mut browser = Browser::new();
    let cert = browser.enrol(&base, &officer).await;
    assert_eq!(cert["status"], "valid");
    let (status, shown) = get(&officer, format!("{base}/api/officers/me/certificate")).await;
    assert_eq!((status, &shown["serial"]), (200, &cert["serial"]));
    // The certificate is for the key the browser holds, issued by the office CA.
    let leaf = STANDARD.decode(&browser.x5c[0]).expect("der");
    let info = officer_pki::check_officer_certificate(
        &leaf,
        hub.state.identity.ca_der(),
        None,
        Utc::now(),
    )
    .expect("an officer certificate of the office CA");
    assert_eq!(
        info.serial,
        u64::from_str_radix(cert["serial"].as_str().expect("serial"), 16).expect("hex")
    );
    assert_eq!(
        OfficerPublicKey::from_spki_der(&browser.spki()).expect("spki"),
        OfficerPublicKey::from_spki_der(x509_spki(&leaf).as_slice()).expect("certified key")
    );

    // The hub seals alone at close, with a timestamp over its signature.
    let artefact = sealed_session(hub.addr, &base, &officer).await;
    let bytes = common::download_bundle(&auditor, &base, &artefact).await;
    let report = verify_bundle(&bytes, &hub.state.trust);
    assert!(report.ok, "{}", report.render_text());
    assert!(check(&report, "officer").contains("hub alone"));
    assert!(
        check(&report, "timestamp").contains("RFC 3161 token from"),
        "{}",
        report.render_text()
    );

    let (status, pending) = get(
        &officer,
        format!("{base}/api/officers/me/signatures/pending"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(pending[0]["artefact_id"], artefact.as_str(), "{pending}");
    let (status, _) = get(&auditor, format!("{base}/api/artefacts/{artefact}/signing")).await;
    assert_eq!(status, 403, "auditors do not sign");
    let (status, signing) = get(&officer, format!("{base}/api/artefacts/{artefact}/signing")).await;
    assert_eq!(status, 200);
    let payload = signing["payload"].as_str().expect("payload").to_owned();
    assert_eq!(
        URL_SAFE_NO_PAD.decode(&payload).expect("payload"),
        entry(&unzip(&bytes), "manifest.json"),
        "the officer signs the sealed manifest's exact bytes"
    );
    assert_eq!(signing["manifest"]["artefact_id"], artefact.as_str());

    // A signature over other bytes, and one by a key the hub did not certify, are refused.
    let sign_url = format!("{base}/api/artefacts/{artefact}/signature");
    let other = browser.jws(&URL_SAFE_NO_PAD.encode(b"{}"));
    let (status, refused) = post(&officer, sign_url.clone(), &other).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (422, Some("bad_signature")),
        "{refused}"
    );
    let mut stranger = Browser::new();
    stranger.x5c = browser.x5c.clone();
    let (status, refused) = post(&officer, sign_url.clone(), &stranger.jws(&payload)).await;
    assert_eq!(status, 422, "{refused}");

    let (status, signed) = post(&officer, sign_url.clone(), &browser.jws(&payload)).await;
    assert_eq!(status, 200, "{signed}");
    assert!(signed["timestamp"]["gen_time"].is_string(), "{signed}");
    let (status, again) = post(&officer, sign_url.clone(), &browser.jws(&payload)).await;
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("already_signed"))
    );
    let (_, pending) = get(
        &officer,
        format!("{base}/api/officers/me/signatures/pending"),
    )
    .await;
    assert_eq!(pending, json!([]));

    let bytes = common::download_bundle(&auditor, &base, &artefact).await;
    let report = verify_bundle(&bytes, &hub.state.trust);
    assert!(report.ok, "{}", report.render_text());
    // The listed size follows the longer manifest.jws.
    let record = hub
        .state
        .store
        .artefact(artefact.parse().expect("artefact id"))
        .await
        .expect("store")
        .expect("artefact");
    assert_eq!(record.size, bytes.len() as u64);
    let officer_line = check(&report, "officer");
    assert!(officer_line.contains("signed by officer"), "{officer_line}");
    assert!(
        officer_line.contains("countersigned by the hub"),
        "{officer_line}"
    );
    assert!(
        check(&report, "timestamp").contains("RFC 3161"),
        "{}",
        report.render_text()
    );
    let entries = unzip(&bytes);
    let jws = JwsJson::parse(entry(&entries, "manifest.jws")).expect("JWS JSON");
    assert_eq!(jws.signatures.len(), 2);
    assert!(
        jws.hub()
            .and_then(|h| h.header.as_ref())
            .and_then(|h| h.tst.as_ref())
            .is_some()
    );

    // `globallink verify` with the office CA and the TSA root in one trust file.
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join("bundle.zip");
    std::fs::write(&bundle, &bytes).expect("write");
    let trust = dir.path().join("trust.pem");
    let mut pem = std::fs::read(hub.dir.path().join("pki/office-ca.pem")).expect("ca");
    pem.extend(std::fs::read(&tsa.root_pem_path).expect("tsa root"));
    std::fs::write(&trust, pem).expect("trust");
    let log_key = hub.dir.path().join("pki/log.vkey");
    let cli = |extra: &[&std::path::Path]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_globallink"));
        cmd.arg("verify").arg(&bundle).arg("--trust").arg(&trust);
        cmd.arg("--log-key").arg(&log_key);
        for crl in extra {
            cmd.arg("--crl").arg(crl);
        }
        cmd.output().expect("globallink verify runs")
    };
    let out = cli(&[]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("✔ officer: signed by officer"), "{text}");
    assert!(text.contains("✔ timestamp: RFC 3161"), "{text}");

    // Revoked after signing: the signature stands, even checked against the newer CRL; but
    // the officer can sign nothing more with that certificate.
    let serial = u64::from_str_radix(cert["serial"].as_str().expect("serial"), 16).expect("hex");
    clock.advance(TimeDelta::seconds(10));
    globallink::certificates::revoke(
        hub.state.store.as_ref(),
        &hub.dir.path().join("pki"),
        serial,
        Some(Reason::KeyCompromise),
        clock.now(),
    )
    .await
    .expect("revoke");
    let crl = hub.dir.path().join("pki/office.crl");
    let out = cli(&[&crl]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let (_, shown) = get(&officer, format!("{base}/api/officers/me/certificate")).await;
    assert_eq!(shown["status"], "revoked");
    let second = sealed_session(hub.addr, &base, &officer).await;
    let (_, signing) = get(&officer, format!("{base}/api/artefacts/{second}/signing")).await;
    let payload = signing["payload"].as_str().expect("payload");
    let (status, refused) = post(
        &officer,
        format!("{base}/api/artefacts/{second}/signature"),
        &browser.jws(payload),
    )
    .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (422, Some("bad_certificate")),
        "{refused}"
    );
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("revoked"),
        "{refused}"
    );
}

/// The DER SubjectPublicKeyInfo of a certificate.
fn x509_spki(cert_der: &[u8]) -> Vec<u8> {
    use x509_parser::prelude::FromDer as _;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(cert_der).expect("x509");
    cert.public_key().raw.to_vec()
}

/// Forged bundles: a signed bundle whose officer signature is replaced by one with a revoked,
/// an expired or a foreign certificate, countersigned again with the hub's real key, so only
/// the officer check can catch it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_expired_and_foreign_officer_certificates_are_caught_in_bundles() {
    let hub = start_hub_configured(Arc::new(SystemClock), |_| {}).await;
    let base = hub.url("");
    let officer = login(&base, &hub.accounts.officer).await;
    let auditor = login(&base, &hub.accounts.auditor).await;
    let mut browser = Browser::new();
    browser.enrol(&base, &officer).await;
    let artefact = sealed_session(hub.addr, &base, &officer).await;
    let (_, signing) = get(&officer, format!("{base}/api/artefacts/{artefact}/signing")).await;
    let payload = signing["payload"].as_str().expect("payload").to_owned();
    let (status, _) = post(
        &officer,
        format!("{base}/api/artefacts/{artefact}/signature"),
        &browser.jws(&payload),
    )
    .await;
    assert_eq!(status, 200);
    let bytes = common::download_bundle(&auditor, &base, &artefact).await;
    assert!(verify_bundle(&bytes, &hub.state.trust).ok);
    let manifest = URL_SAFE_NO_PAD.decode(&payload).expect("payload");
    let signed_at = Utc::now();

    let pki = hub.dir.path().join("pki");
    let read = |name: &str| std::fs::read_to_string(pki.join(name)).expect("pki file");
    let (ca_pem, ca_key) = (read("office-ca.pem"), read("office-ca.key"));
    let officer_id = hub
        .state
        .store
        .user_by_name(&hub.accounts.officer.0)
        .await
        .expect("store")
        .expect("officer")
        .id
        .to_string();
    let subject = OfficerSubject {
        id: officer_id,
        display_name: "Officer".to_owned(),
    };
    let issue = |ca_pem: &str, ca_key: &str, serial: u64, from: DateTime<Utc>, to| {
        issue_officer_certificate(ca_pem, ca_key, &subject, &browser.spki(), serial, from, to)
            .expect("issue")
            .der
    };
    let crl = |revoked: &[Revoked]| {
        officer_pki::build_crl(
            &ca_pem,
            &ca_key,
            revoked,
            99,
            signed_at,
            signed_at + TimeDelta::days(7),
        )
        .expect("crl")
        .der
    };
    // A bundle whose manifest.jws is `leaf` (with `ca`) signing, countersigned by the hub.
    let forge = |leaf: Vec<u8>, ca: &[u8], crl_der: Vec<u8>| {
        let x5c = [STANDARD.encode(leaf), STANDARD.encode(ca)];
        let officer_sig = browser.jws_with(&x5c, &payload);
        let officer_sig = JwsSignature {
            protected: officer_sig["protected"].as_str().expect("p").to_owned(),
            header: None,
            signature: officer_sig["signature"].as_str().expect("s").to_owned(),
        };
        let raw = URL_SAFE_NO_PAD.decode(&officer_sig.signature).expect("raw");
        let mut hub_sig =
            jws::sign_hub(&manifest, &hub.state.identity, signed_at, Some(&raw)).expect("hub");
        hub_sig.header = Some(Unprotected {
            tst: None,
            crl: Some(STANDARD.encode(crl_der)),
        });
        let text = JwsJson {
            signatures: vec![officer_sig, hub_sig],
        }
        .to_text();
        let mut entries = unzip(&bytes);
        for (name, data) in entries.iter_mut() {
            if name == "manifest.jws" {
                *data = text.clone().into_bytes();
            }
        }
        rezip(&entries)
    };
    let fails_at_officer = |bundle: &[u8], needle: &str| {
        let report = verify_bundle(bundle, &hub.state.trust);
        assert!(!report.ok, "{}", report.render_text());
        let last = report.checks.last().expect("a check");
        assert_eq!(last.name, "officer", "{}", report.render_text());
        assert!(
            last.detail.contains(needle),
            "{needle}: {}",
            report.render_text()
        );
    };
    let ca_der = hub.state.identity.ca_der().to_vec();

    // The honest forgery first: a certificate of the office CA, valid, not revoked, verifies.
    // The dev CA is valid from an hour before the hub started.
    let good = issue(
        &ca_pem,
        &ca_key,
        1001,
        signed_at - TimeDelta::minutes(30),
        signed_at + TimeDelta::days(30),
    );
    let report = verify_bundle(&forge(good.clone(), &ca_der, crl(&[])), &hub.state.trust);
    assert!(report.ok, "{}", report.render_text());

    // Revoked before the signing time.
    let revoked = crl(&[Revoked {
        serial: 1001,
        revoked_at: signed_at - TimeDelta::hours(1),
        reason: Some(Reason::KeyCompromise),
    }]);
    fails_at_officer(&forge(good, &ca_der, revoked), "revoked");

    // Expired before the signing time.
    let expired = issue(
        &ca_pem,
        &ca_key,
        1002,
        signed_at - TimeDelta::minutes(50),
        signed_at - TimeDelta::minutes(10),
    );
    fails_at_officer(&forge(expired, &ca_der, crl(&[])), "not valid at");

    // Issued by another CA, presented with that CA.
    let foreign_dir = tempfile::tempdir().expect("tempdir");
    let (foreign, _) =
        globallink::seal::pki::ensure_dev_pki(foreign_dir.path(), Utc::now() - TimeDelta::days(2))
            .expect("foreign pki");
    let fread = |name: &str| std::fs::read_to_string(foreign_dir.path().join(name)).expect("file");
    let stranger = issue(
        &fread("office-ca.pem"),
        &fread("office-ca.key"),
        1003,
        signed_at - TimeDelta::days(1),
        signed_at + TimeDelta::days(30),
    );
    fails_at_officer(&forge(stranger, foreign.ca_der(), crl(&[])), "trust anchor");
}

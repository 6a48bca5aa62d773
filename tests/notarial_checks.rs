//! A whole inheritance session through the real hub — the four consents, an MRZ check, a
//! liveness prompt, a still, two supporting documents and the heir's declaration — and the
//! ways each step refuses bad input. No media: the recording side is covered by
//! `session_flow.rs`.

mod common;

use common::{Ws, create_case, login, start_hub, ticket};
use serde_json::{Value, json};
use std::io::Read;

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";
const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1, 0xFF, 0xD9,
];

/// ICAO 9303 check digit.
fn check_digit(field: &str) -> char {
    let sum: u32 = field
        .chars()
        .zip([7u32, 3, 1].iter().cycle())
        .map(|(c, w)| {
            let v = match c {
                '0'..='9' => c as u32 - '0' as u32,
                'A'..='Z' => c as u32 - 'A' as u32 + 10,
                _ => 0,
            };
            v * w
        })
        .sum();
    char::from_digit(sum % 10, 10).expect("digit")
}

/// A valid TD3 (passport) MRZ expiring in 2031.
fn passport_mrz() -> String {
    let line1 = format!("{:<44}", "P<CHNCHEN<<JING<<<<<<<<<<<<<<<<<<<<<<<<<<<<<").replace(' ', "<");
    let number = "E12345678";
    let birth = "850315";
    let expiry = "310101";
    let personal = "<<<<<<<<<<<<<<";
    let mut line2 = format!(
        "{number}{}CHN{birth}{}F{expiry}{}{personal}{}",
        check_digit(number),
        check_digit(birth),
        check_digit(expiry),
        check_digit(personal)
    );
    let composite: String = format!("{}{}{}", &line2[0..10], &line2[13..20], &line2[21..43]);
    line2.push(check_digit(&composite));
    assert_eq!(line2.len(), 44);
    format!("{}\n{line2}", &line1[..44])
}

struct Pair {
    officer: Ws,
    applicant: Ws,
    session: String,
}

async fn pair(
    hub: &common::TestHub,
    officer_http: &reqwest::Client,
    service: &str,
) -> (Pair, String) {
    let base = hub.url("");
    let (case_id, invite) = create_case(&base, officer_http, service).await;
    let mut officer = Ws::auth(
        hub.addr,
        json!({"ticket": ticket(&base, officer_http).await}),
    )
    .await;
    let mut applicant = Ws::auth(hub.addr, json!({"invite": invite})).await;
    applicant.send(json!({"type": "join_queue"})).await;
    applicant.expect("queue_position").await;
    officer.send(json!({"type": "take_next"})).await;
    let paired = officer.expect("paired").await;
    common::admit(&mut officer, &mut applicant).await;
    let session = paired["session_id"].as_str().expect("session").to_owned();
    (
        Pair {
            officer,
            applicant,
            session,
        },
        case_id,
    )
}

/// The ack for the frame with this `id`, failing on an error for it.
async fn ack(ws: &mut Ws, reference: u64) -> Value {
    let msg = ws.answer(reference).await;
    assert_eq!(msg["type"], "ack", "{msg}");
    msg
}

async fn error_for(ws: &mut Ws, reference: u64) -> Value {
    let msg = ws.answer(reference).await;
    assert_eq!(msg["type"], "error", "{msg}");
    msg
}

async fn upload(
    client: &reqwest::Client,
    base: &str,
    session: &str,
    category: &str,
    kind: &str,
    mime: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    client
        .post(format!(
            "{base}/api/sessions/{session}/documents?category={category}&kind={kind}"
        ))
        .header("content-type", mime)
        .body(body)
        .send()
        .await
        .expect("upload")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_inheritance_session_completes_its_checklist_and_verifies() {
    let hub = start_hub().await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (mut p, case_id) = pair(&hub, &officer_http, "inheritance").await;

    // Four consents; the notice of what is kept anyway comes with the first only.
    for (i, consent) in [
        "recording",
        "personal-information",
        "cross-border-transfer",
        "e-signature",
    ]
    .into_iter()
    .enumerate()
    {
        p.officer
            .send(json!({"type": "request_consent", "consent": consent}))
            .await;
        let asked = p.applicant.expect("consent_requested").await;
        assert_eq!(asked["consent"], consent);
        assert_eq!(asked["notice"].is_object(), i == 0, "{asked}");
        assert_eq!(asked["lang"], "pt");
        if consent == "cross-border-transfer" {
            assert!(
                asked["recipient"]
                    .as_str()
                    .is_some_and(|r| r.contains("Lishui"))
            );
        }
        let id = 100 + i as u64;
        p.applicant
            .send(
                json!({"id": id, "type": "consent_answer", "consent": consent, "granted": true,
                "session_id": p.session}),
            )
            .await;
        assert_eq!(ack(&mut p.applicant, id).await["event"], "consent_granted");
    }

    // The applicant sees and can keep what they agreed to.
    p.applicant.send(json!({"type": "my_consents"})).await;
    let mine = p.applicant.expect("consents").await;
    let items = mine["items"].as_array().expect("items");
    assert_eq!(items.len(), 4);
    assert!(
        items
            .iter()
            .all(|i| i["answer"] == "granted" && i["text"].as_str().is_some_and(|t| !t.is_empty()))
    );

    // Identity: a passport MRZ with every check digit verified.
    p.officer
        .send(json!({"id": 1, "type": "identity_check", "document_type": "passport", "mrz": passport_mrz(),
            "attestation": "Face compared with the passport held to the camera", "outcome": "match"}))
        .await;
    ack(&mut p.officer, 1).await;

    // Liveness.
    p.officer
        .send(json!({"id": 2, "type": "liveness_prompt"}))
        .await;
    let prompt = p.applicant.expect("liveness_prompt").await;
    assert!(prompt["text"].as_str().is_some_and(|t| !t.is_empty()));
    p.applicant
        .send(json!({"id": 3, "type": "liveness_done"}))
        .await;
    ack(&mut p.applicant, 3).await;
    p.officer
        .send(json!({"id": 4, "type": "liveness_result", "passed": true}))
        .await;
    ack(&mut p.officer, 4).await;

    // A still and the two supporting documents.
    let r = upload(
        &officer_http,
        &base,
        &p.session,
        "still",
        "identity-document",
        "image/jpeg",
        JPEG.to_vec(),
    )
    .await;
    assert_eq!(r.status(), 201);
    let still: Value = r.json().await.expect("json");
    assert_eq!(still["sha256"], globallink::evidence::sha256_hex(JPEG));
    for kind in ["death-certificate", "kinship-proof"] {
        let r = upload(
            &officer_http,
            &base,
            &p.session,
            "document",
            kind,
            "application/pdf",
            PDF.to_vec(),
        )
        .await;
        assert_eq!(r.status(), 201, "{kind}");
    }

    // The heir's declaration, confirmed by the hash of the text shown.
    p.officer
        .send(json!({"id": 5, "type": "request_declaration", "declaration": "inheritance"}))
        .await;
    let decl = p.applicant.expect("declaration_requested").await;
    assert_eq!(
        decl["text_sha256"].as_str().expect("hash"),
        globallink::evidence::sha256_hex(decl["text"].as_str().expect("text").as_bytes())
    );
    p.applicant
        .send(
            json!({"id": 6, "type": "confirm_declaration", "declaration": "inheritance",
            "text_sha256": decl["text_sha256"]}),
        )
        .await;
    ack(&mut p.applicant, 6).await;

    // The officer's checklist is complete before closing.
    loop {
        let c = p.officer.expect("checklist").await;
        let items = c["items"].as_array().expect("items");
        if items.iter().all(|i| i["satisfied_by"].is_u64()) {
            break;
        }
    }
    p.officer.send(json!({"type": "close_session"})).await;
    let closed = p.applicant.expect("session_closed").await;
    assert_eq!(closed["outcome"], "completed", "{closed}");
    let artefact = closed["artefact_id"].as_str().expect("artefact").to_owned();

    // Documents are encrypted at rest.
    let dir = hub.dir.path().join("documents").join(&p.session);
    for entry in std::fs::read_dir(&dir).expect("documents dir") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
        assert!(
            !bytes.windows(5).any(|w| w == b"%PDF-"),
            "plain PDF on disk"
        );
        assert!(
            !bytes.windows(4).any(|w| w == b"JFIF"),
            "plain JPEG on disk"
        );
    }

    // The bundle verifies, its manifest lists every checklist item with its event, and it
    // carries the documents.
    let bundle = officer_http
        .get(format!("{base}/api/artefacts/{artefact}/bundle"))
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("bytes")
        .to_vec();
    let report = globallink::seal::verify::verify_bundle(&bundle, &hub.state.trust);
    assert!(report.ok, "{}", report.render_text());
    let manifest = report.manifest.expect("manifest");
    assert_eq!(manifest.session.outcome, "completed");
    assert_eq!(manifest.case.id.to_string(), case_id);
    let items: Vec<&str> = manifest.checklist.iter().map(|i| i.item.as_str()).collect();
    assert_eq!(
        items,
        [
            "consent:recording",
            "consent:personal-information",
            "consent:cross-border-transfer",
            "consent:e-signature",
            "identity:passport|id-card",
            "liveness",
            "still:identity-document",
            "document:death-certificate",
            "document:kinship-proof",
            "declaration:inheritance",
        ]
    );
    assert!(manifest.checklist.iter().all(|i| i.satisfied_by.is_some()));
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bundle)).expect("zip");
    let mut pdf = Vec::new();
    zip.by_name("documents/document-death-certificate-1.pdf")
        .expect("entry")
        .read_to_end(&mut pdf)
        .expect("read");
    assert_eq!(pdf, PDF);
    let mut events = String::new();
    zip.by_name("events.jsonl")
        .expect("events")
        .read_to_string(&mut events)
        .expect("read");
    assert!(events.contains("\"kind\":\"notice_shown\""));
    assert!(
        events.contains("\"document_number_masked\":\"E1*****78\""),
        "masked passport number"
    );
    assert!(!events.contains("E12345678"));
    // Offsets into the recording are present once recording runs.
    let declared: Value = events
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json"))
        .find(|e| e["kind"] == "declaration_confirmed")
        .expect("declaration event");
    assert!(declared["recording_offset_ms"].is_u64(), "{declared}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_documents_and_answers_are_refused_with_reasons() {
    let hub = start_hub().await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (mut p, _) = pair(&hub, &officer_http, "inheritance").await;

    // Identity documents that fail their checks record nothing.
    let mut bad_mrz = passport_mrz();
    let pos = bad_mrz.len() - 2;
    bad_mrz.replace_range(
        pos..pos + 1,
        if &bad_mrz[pos..pos + 1] == "1" {
            "2"
        } else {
            "1"
        },
    );
    for (id, body, code) in [
        (
            10,
            json!({"document_type": "passport", "mrz": "P<UTO\nnot an mrz"}),
            None,
        ),
        (
            11,
            json!({"document_type": "passport", "mrz": bad_mrz}),
            None,
        ),
        (
            12,
            json!({"document_type": "id-card", "number": "110105194912310021", "valid_until": "2036-01-01"}),
            None,
        ),
        (
            13,
            json!({"document_type": "id-card", "number": "11010519491231002X", "valid_until": "2020-01-01"}),
            None,
        ),
        (
            14,
            json!({"document_type": "id-card", "number": "11010519491231002X", "valid_until": "2036-01-01", "outcome": "perhaps"}),
            Some("invalid"),
        ),
        (
            15,
            json!({"document_type": "library-card", "number": "1"}),
            Some("invalid"),
        ),
    ] {
        let mut msg =
            json!({"id": id, "type": "identity_check", "attestation": "x", "outcome": "match"});
        for (k, v) in body.as_object().expect("object") {
            msg[k] = v.clone();
        }
        p.officer.send(msg).await;
        let e = error_for(&mut p.officer, id).await;
        if let Some(code) = code {
            assert_eq!(e["code"], code, "{e}");
        }
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    // Uploads: too large, lying about their type, off the checklist, wrong role.
    let big = {
        let mut v = PDF.to_vec();
        v.resize(globallink::documents::MAX_UPLOAD_BYTES + 10, b' ');
        v
    };
    let r = upload(
        &officer_http,
        &base,
        &p.session,
        "document",
        "death-certificate",
        "application/pdf",
        big,
    )
    .await;
    assert_eq!(r.status(), 413);
    let r = upload(
        &officer_http,
        &base,
        &p.session,
        "document",
        "death-certificate",
        "application/pdf",
        JPEG.to_vec(),
    )
    .await;
    assert_eq!(r.status(), 415);
    assert_eq!(
        r.json::<Value>().await.expect("json")["code"],
        "unsupported_type"
    );
    let r = upload(
        &officer_http,
        &base,
        &p.session,
        "document",
        "medical-certificate",
        "application/pdf",
        PDF.to_vec(),
    )
    .await;
    assert_eq!(r.status(), 400, "not on the inheritance checklist");
    let r = upload(
        &officer_http,
        &base,
        &p.session,
        "still",
        "identity-document",
        "application/pdf",
        PDF.to_vec(),
    )
    .await;
    assert_eq!(r.status(), 400, "a still must be an image");
    let auditor = login(&base, &hub.accounts.auditor).await;
    let r = upload(
        &auditor,
        &base,
        &p.session,
        "document",
        "death-certificate",
        "application/pdf",
        PDF.to_vec(),
    )
    .await;
    assert_eq!(r.status(), 403);

    // A consent answer for another session.
    p.officer
        .send(json!({"type": "request_consent", "consent": "recording"}))
        .await;
    p.applicant.expect("consent_requested").await;
    p.applicant
        .send(
            json!({"id": 20, "type": "consent_answer", "consent": "recording", "granted": true,
            "session_id": "00000000-0000-0000-0000-000000000000"}),
        )
        .await;
    assert_eq!(
        error_for(&mut p.applicant, 20).await["code"],
        "wrong_session"
    );
    // A declaration confirmed with the wrong hash.
    p.officer
        .send(json!({"type": "request_declaration", "declaration": "inheritance"}))
        .await;
    p.applicant.expect("declaration_requested").await;
    p.applicant
        .send(
            json!({"id": 21, "type": "confirm_declaration", "declaration": "inheritance",
            "text_sha256": "0".repeat(64)}),
        )
        .await;
    assert_eq!(error_for(&mut p.applicant, 21).await["code"], "conflict");

    // Grant then withdraw recording: the recorder stops and the session cannot complete.
    p.applicant
        .send(json!({"id": 22, "type": "consent_answer", "consent": "recording", "granted": true}))
        .await;
    ack(&mut p.applicant, 22).await;
    p.applicant
        .send(json!({"id": 23, "type": "withdraw_consent", "consent": "recording"}))
        .await;
    assert_eq!(
        ack(&mut p.applicant, 23).await["event"],
        "consent_withdrawn"
    );
    assert_eq!(p.applicant.expect("recording").await["active"], true);
    assert_eq!(p.applicant.expect("recording").await["active"], false);
    p.officer
        .send(json!({"id": 24, "type": "request_consent", "consent": "recording"}))
        .await;
    assert_eq!(error_for(&mut p.officer, 24).await["code"], "conflict");

    p.officer.send(json!({"type": "close_session"})).await;
    let closed = p.officer.expect("session_closed").await;
    assert_eq!(closed["outcome"], "refused");
    assert!(
        closed["reason"]
            .as_str()
            .is_some_and(|r| r.contains("recording"))
    );

    // After close: nothing more is accepted, neither on the socket nor over HTTP.
    p.applicant
        .send(json!({"id": 30, "type": "my_consents"}))
        .await;
    let e = error_for(&mut p.applicant, 30).await;
    assert!(
        e["code"] == "not_in_session" || e["code"] == "session_closed",
        "{e}"
    );
    let r = upload(
        &officer_http,
        &base,
        &p.session,
        "document",
        "death-certificate",
        "application/pdf",
        PDF.to_vec(),
    )
    .await;
    assert_eq!(r.status(), 409);

    // The refused session's chain shows the gap and still verifies.
    let artefact = closed["artefact_id"].as_str().expect("artefact");
    let bundle = common::download_bundle(&officer_http, &base, artefact).await;
    let report = globallink::seal::verify::verify_bundle(&bundle, &hub.state.trust);
    assert!(report.ok, "{}", report.render_text());
    let kinds: Vec<String> = common::bundle_events(&bundle)
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or("").to_owned())
        .collect();
    let w = kinds
        .iter()
        .position(|k| k == "consent_withdrawn")
        .expect("withdrawal");
    assert_eq!(kinds[w + 1], "recording_stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driving_licence_is_checked_for_its_period_and_renewal() {
    let hub = start_hub().await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (mut p, _) = pair(&hub, &officer_http, "driving-licence-renewal").await;
    // Seven years is not a licence period.
    p.officer
        .send(
            json!({"id": 1, "type": "identity_check", "document_type": "driving-licence",
            "number": "11010519491231002X", "valid_from": "2014-03-01", "valid_until": "2021-03-01",
            "attestation": "x", "outcome": "match"}),
        )
        .await;
    assert_eq!(error_for(&mut p.officer, 1).await["code"], "licence_period");
    // An expired licence is what renewal is for: recorded, with its renewal status.
    p.officer
        .send(
            json!({"id": 2, "type": "identity_check", "document_type": "driving-licence",
            "number": "11010519491231002X", "valid_from": "2014-03-01", "valid_until": "2020-03-01",
            "attestation": "Face matches", "outcome": "match"}),
        )
        .await;
    ack(&mut p.officer, 2).await;
    p.officer.send(json!({"type": "close_session"})).await;
    let closed = p.officer.expect("session_closed").await;
    let artefact = closed["artefact_id"].as_str().expect("artefact");
    let bundle = common::download_bundle(&officer_http, &base, artefact).await;
    let check = common::bundle_events(&bundle)
        .into_iter()
        .find(|e| e["kind"] == "identity_check_recorded")
        .expect("identity event");
    assert_eq!(check["document_type"], "driving-licence");
    assert_eq!(check["expiry"], "2020-03-01");
    assert!(
        check["renewal"]
            .as_str()
            .is_some_and(|r| r.contains("Lapsed") || r.contains("Overdue")),
        "{check}"
    );
    assert_eq!(check["document_number_masked"], "110105********002X");
}

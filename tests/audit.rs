//! The auditor's workflow through the running hub: artefacts filtered by service, officer,
//! outcome and a date range read in a chosen zone; a timeline in UTC, Beijing and the
//! applicant's time with the signatures and the log position; and an access log of every view
//! that auditors, and only auditors, can read.

mod common;

use common::{login, paired_session, start_hub};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auditors_filter_read_timelines_and_see_who_looked() {
    let hub = start_hub().await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let auditor = login(&base, &hub.accounts.auditor).await;

    // Two sessions: an ID renewal closed at once (incomplete), an inheritance refused.
    let (mut officer, _applicant, id_case) =
        paired_session(hub.addr, &base, &officer_http, "id-card-renewal").await;
    officer.send(json!({"type": "close_session"})).await;
    officer.expect("session_closed").await;
    let (mut officer, mut applicant, _) =
        paired_session(hub.addr, &base, &officer_http, "inheritance").await;
    officer
        .send(json!({"id": 1, "type": "request_consent", "consent": "recording"}))
        .await;
    applicant.expect("consent_requested").await;
    applicant
        .send(json!({"id": 2, "type": "consent_answer", "consent": "recording", "granted": false}))
        .await;
    applicant.answer(2).await;
    officer.send(json!({"type": "close_session"})).await;
    let closed = officer.expect("session_closed").await;
    assert_eq!(closed["outcome"], "refused");

    let get = |client: &reqwest::Client, path: &str| client.get(format!("{base}{path}")).send();
    let list = |path: &'static str| {
        let auditor = auditor.clone();
        let base = base.clone();
        async move {
            let res = auditor
                .get(format!("{base}{path}"))
                .send()
                .await
                .expect("list");
            assert_eq!(res.status(), 200, "{path}");
            res.json::<Vec<Value>>().await.expect("json")
        }
    };
    let all = list("/api/artefacts").await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["service"], "inheritance", "newest first");
    assert_eq!(
        list("/api/artefacts?service=id-card-renewal").await.len(),
        1
    );
    let refused = list("/api/artefacts?outcome=refused").await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["service"], "inheritance");
    assert_eq!(all[1]["case_id"], id_case.as_str());
    let me: Value = get(&officer_http, "/api/me")
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    let officer_id = me["id"].as_str().expect("id").to_owned();
    assert_eq!(all[0]["officer"]["id"], officer_id.as_str());
    let by_officer = auditor
        .get(format!("{base}/api/artefacts?officer={officer_id}"))
        .send()
        .await
        .expect("list")
        .json::<Vec<Value>>()
        .await
        .expect("json");
    assert_eq!(by_officer.len(), 2);
    let other = list("/api/artefacts?officer=00000000-0000-4000-8000-000000000000").await;
    assert!(other.is_empty());

    // Dates are read in the chosen zone: today in Sydney and in Lisbon both hold the artefacts
    // sealed now, whichever their UTC dates; a range in the past holds none.
    let now = chrono::Utc::now();
    for zone in ["Australia/Sydney", "Europe/Lisbon", "Asia/Shanghai"] {
        let tz: chrono_tz::Tz = zone.parse().expect("zone");
        let today = now.with_timezone(&tz).date_naive();
        let rows = auditor
            .get(format!(
                "{base}/api/artefacts?from={today}&to={today}&tz={zone}"
            ))
            .send()
            .await
            .expect("list")
            .json::<Vec<Value>>()
            .await
            .expect("json");
        assert_eq!(rows.len(), 2, "{zone} {today}");
        assert_eq!(rows[0]["sealed_local"]["zone"], zone);
        let yesterday = today.pred_opt().expect("date");
        let rows = auditor
            .get(format!(
                "{base}/api/artefacts?from={yesterday}&to={yesterday}&tz={zone}"
            ))
            .send()
            .await
            .expect("list")
            .json::<Vec<Value>>()
            .await
            .expect("json");
        assert!(rows.is_empty(), "{zone} {yesterday}");
    }
    for (path, code) in [
        ("/api/artefacts?tz=Mars/Olympus", "invalid_zone"),
        ("/api/artefacts?from=2026-12-02&to=2026-12-01", "invalid"),
    ] {
        let res = get(&auditor, path).await.expect("response");
        assert_eq!(res.status(), 400, "{path}");
        assert_eq!(res.json::<Value>().await.expect("json")["code"], code);
    }
    assert_eq!(
        reqwest::get(format!("{base}/api/artefacts"))
            .await
            .expect("anon")
            .status(),
        401
    );

    // The timeline of the refused session, from its sealed bundle.
    let artefact = all[0]["id"].as_str().expect("id");
    let timeline: Value = get(&auditor, &format!("/api/artefacts/{artefact}/timeline"))
        .await
        .expect("timeline")
        .json()
        .await
        .expect("json");
    assert_eq!(timeline["applicant_zone"], "Europe/Lisbon");
    let events = timeline["events"].as_array().expect("events");
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds.first(), Some(&"session_opened"));
    assert_eq!(kinds.last(), Some(&"session_closed"));
    assert!(
        kinds.contains(&"consent_refused") || kinds.contains(&"consent_answered"),
        "{kinds:?}"
    );
    for e in events {
        let utc: chrono::DateTime<chrono::Utc> =
            serde_json::from_value(e["utc"].clone()).expect("utc");
        let beijing = utc.with_timezone(&chrono_tz::Asia::Shanghai);
        assert_eq!(e["beijing"]["utc_offset"], "+08:00");
        assert_eq!(
            e["beijing"]["local"],
            beijing.format("%Y-%m-%d %H:%M").to_string().as_str()
        );
        assert_eq!(e["applicant"]["zone"], "Europe/Lisbon");
        assert!(
            e["detail"].get("prev_hash").is_none(),
            "chain plumbing is not shown"
        );
    }
    let certificates = timeline["certificates"].as_array().expect("certificates");
    assert_eq!(certificates.len(), 2, "hub and office CA: {certificates:?}");
    assert!(
        certificates[1]["subject"]
            .as_str()
            .unwrap_or_default()
            .contains("CA")
    );
    assert_eq!(timeline["log"]["leaf_index"], 1);
    assert_eq!(timeline["log"]["tree_size"], 2);
    assert_eq!(timeline["manifest_sha256"], all[0]["manifest_sha256"]);
    // The officer looks too.
    let res = get(&officer_http, &format!("/api/artefacts/{artefact}/verify"))
        .await
        .expect("verify");
    assert_eq!(res.status(), 200);

    // Who looked at what: auditors read it, officers may not.
    let res = get(&officer_http, "/api/access-log").await.expect("log");
    assert_eq!(res.status(), 403);
    let log: Vec<Value> = get(&auditor, "/api/access-log")
        .await
        .expect("log")
        .json()
        .await
        .expect("json");
    let seen: Vec<(String, String, String)> = log
        .iter()
        .map(|a| {
            (
                a["user"].as_str().unwrap_or_default().to_owned(),
                a["action"].as_str().unwrap_or_default().to_owned(),
                a["target"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let auditor_name = hub.accounts.auditor.0.clone();
    let officer_name = hub.accounts.officer.0.clone();
    assert_eq!(
        seen.first(),
        Some(&(officer_name, "verify".to_owned(), artefact.to_owned())),
        "newest first: {seen:?}"
    );
    assert!(seen.contains(&(
        auditor_name.clone(),
        "timeline".to_owned(),
        artefact.to_owned()
    )));
    assert!(
        seen.iter().any(|(u, a, t)| *u == auditor_name
            && a == "list_artefacts"
            && t.contains("service=id-card-renewal")),
        "{seen:?}"
    );
    // Refused requests record nothing.
    assert!(!seen.iter().any(|(_, _, t)| t.contains("Mars")), "{seen:?}");
}

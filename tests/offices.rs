//! An officer of another office: Officer Wang works for the vehicle administration only. The
//! notary office's inheritance case and its sealed artefact are out of his sight (404, as for
//! an id that does not exist, and absent from every list), he may not open such a case (403),
//! his console's queue leaves its applicant out, and `take_next` never hands them to him, even
//! when he names the service. The development officer, of every office, sees and does all.

mod common;

use common::{Ws, create_case, login, start_hub, ticket};
use serde_json::{Value, json};

async fn get(http: &reqwest::Client, url: String) -> (u16, Value) {
    let res = http.get(url).send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn has_case(list: &Value, case: &str) -> bool {
    list.as_array()
        .is_some_and(|l| l.iter().any(|c| c["id"] == case || c["case_id"] == case))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_of_another_office_sees_and_takes_nothing_of_it() {
    let hub = start_hub().await;
    let base = hub.url("");
    let notary = login(&base, &hub.accounts.officer).await;
    let wang = login(&base, &common::vehicles_officer(&hub.state).await).await;

    let (inheritance, inheritance_invite) = create_case(&base, &notary, "inheritance").await;
    let (licence, licence_invite) = create_case(&base, &wang, "driving-licence-renewal").await;
    let refused = wang
        .post(format!("{base}/api/cases"))
        .json(
            &json!({"service": "inheritance", "applicant_name": "Li Wei",
            "applicant_tz": "Europe/Rome", "applicant_lang": "it"}),
        )
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["code"], "forbidden", "{body}");

    let (status, cases) = get(&wang, format!("{base}/api/cases")).await;
    assert_eq!(status, 200);
    assert!(
        has_case(&cases, &licence) && !has_case(&cases, &inheritance),
        "{cases}"
    );
    let (status, _) = get(&wang, format!("{base}/api/cases/{inheritance}")).await;
    assert_eq!(status, 404, "another office's case is as good as unknown");
    let (status, _) = get(&wang, format!("{base}/api/cases/{licence}")).await;
    assert_eq!(status, 200);
    let (_, cases) = get(&notary, format!("{base}/api/cases")).await;
    assert!(has_case(&cases, &licence) && has_case(&cases, &inheritance));

    // Both applicants wait (the inheritance one longer); Wang's console shows only his own.
    let mut heir = Ws::auth(hub.addr, json!({"invite": inheritance_invite})).await;
    heir.send(json!({"type": "join_queue"})).await;
    heir.expect("queue_position").await;
    let mut driver = Ws::auth(hub.addr, json!({"invite": licence_invite})).await;
    driver.send(json!({"type": "join_queue"})).await;
    driver.expect("queue_position").await;
    let mut console = Ws::auth(hub.addr, json!({"ticket": ticket(&base, &wang).await})).await;
    let queue = loop {
        let queue = console.expect("queue").await;
        if has_case(&queue["entries"], &licence) {
            break queue;
        }
    };
    assert!(!has_case(&queue["entries"], &inheritance), "{queue}");

    // Naming the other office's service opens nothing; the next is his own applicant.
    console
        .send(json!({"id": 1, "type": "take_next", "service": "inheritance"}))
        .await;
    let empty = console.expect("error").await;
    assert_eq!(empty["code"], "queue_empty", "{empty}");
    console.send(json!({"id": 2, "type": "take_next"})).await;
    let paired = console.expect("paired").await;
    assert_eq!(paired["case_id"], licence.as_str(), "{paired}");
    console.send(json!({"type": "close_session"})).await;
    console.expect("session_closed").await;

    // The notary officer serves the heir; the sealed artefact stays out of Wang's reach.
    let mut officer = Ws::auth(hub.addr, json!({"ticket": ticket(&base, &notary).await})).await;
    officer.send(json!({"type": "take_next"})).await;
    let paired = officer.expect("paired").await;
    assert_eq!(paired["case_id"], inheritance.as_str());
    common::admit(&mut officer, &mut heir).await;
    officer.send(json!({"type": "close_session"})).await;
    let closed = officer.expect("session_closed").await;
    let artefact = closed["artefact_id"].as_str().expect("sealed").to_owned();
    for path in ["bundle", "verify", "timeline"] {
        let url = format!("{base}/api/artefacts/{artefact}/{path}");
        let (status, body) = get(&wang, url.clone()).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["code"], "not_found", "{path}: {body}");
        let res = notary.get(url).send().await.expect("request");
        assert_eq!(res.status(), 200, "the notary officer reaches {path}");
    }
    let (_, listed) = get(&wang, format!("{base}/api/artefacts")).await;
    let ids: Vec<&str> = listed
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert!(!ids.contains(&artefact.as_str()), "{listed}");
    let (_, listed) = get(&notary, format!("{base}/api/artefacts")).await;
    assert!(listed.to_string().contains(&artefact), "{listed}");
}

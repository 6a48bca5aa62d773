//! Booking across time zones through the running hub: slots shown in both zones, transactional
//! booking under concurrency, reschedule, cancel, the `.ics` invitation, applicant preferences,
//! the closed-desk notice and who may do what.

mod common;

use chrono::TimeZone;
use common::{create_case, login, start_hub_with_clock};
use globallink::clock::ManualClock;
use serde_json::{Value, json};
use std::sync::Arc;

struct Applicant {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Applicant {
    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header("authorization", format!("Invite {}", self.token))
    }

    async fn slots(&self) -> Value {
        let r = self
            .req(reqwest::Method::GET, "/api/applicant/slots?days=3")
            .send()
            .await
            .expect("slots");
        assert_eq!(r.status(), 200);
        r.json().await.expect("json")
    }

    async fn book(&self, start: &Value) -> reqwest::Response {
        self.req(reqwest::Method::POST, "/api/applicant/bookings")
            .json(&json!({"start": start}))
            .send()
            .await
            .expect("book")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applicants_book_in_their_own_zone_without_double_booking() {
    // Monday 2026-11-30, 08:00 in Shanghai, midnight in Lisbon.
    let now = chrono::Utc
        .with_ymd_and_hms(2026, 11, 30, 0, 0, 0)
        .single()
        .expect("valid");
    let clock = Arc::new(ManualClock::new(now));
    let hub = start_hub_with_clock(clock.clone()).await;
    let base = hub.url("");
    let officer = login(&base, &hub.accounts.officer).await;
    let client = reqwest::Client::new();
    let mut applicants = Vec::new();
    for _ in 0..3 {
        let (_, token) = create_case(&base, &officer, "id-card-renewal").await;
        applicants.push(Applicant {
            client: client.clone(),
            base: base.clone(),
            token,
        });
    }
    let a = &applicants[0];

    // The desk opens at 09:00 Beijing time, which is 01:00 in Lisbon.
    let desk: Value = a
        .req(reqwest::Method::GET, "/api/applicant/desk")
        .send()
        .await
        .expect("desk")
        .json()
        .await
        .expect("json");
    assert_eq!(desk["open"], false);
    assert_eq!(desk["next_opening"]["office"]["local"], "2026-11-30 09:00");
    assert_eq!(
        desk["next_opening"]["applicant"]["local"],
        "2026-11-30 01:00"
    );
    assert_eq!(desk["next_opening"]["applicant"]["city"], "Lisbon");

    // Slots: only the Shanghai afternoon and evening fit Lisbon's 08:00–21:00.
    let slots = a.slots().await;
    let list = slots["slots"].as_array().expect("slots");
    assert!(!list.is_empty());
    let first = &list[0];
    assert_eq!(first["office"]["local"], "2026-11-30 16:00");
    assert_eq!(first["office"]["utc_offset"], "+08:00");
    assert_eq!(first["applicant"]["local"], "2026-11-30 08:00");
    assert_eq!(first["applicant"]["utc_offset"], "+00:00");
    for s in list {
        let local = s["applicant"]["local"].as_str().expect("local");
        let hour: u32 = local[11..13].parse().expect("hour");
        assert!((8..21).contains(&hour), "{local} inside Lisbon hours");
    }

    // The console learns of bookings live over its socket.
    let mut console = common::Ws::auth(
        hub.addr,
        json!({"ticket": common::ticket(&base, &officer).await}),
    )
    .await;
    let initial = console.expect("bookings").await;
    assert_eq!(initial["entries"], json!([]));

    // Two applicants race for the same time: exactly one gets it.
    let start = list[1]["start"].clone();
    let (r1, r2) = tokio::join!(applicants[1].book(&start), applicants[2].book(&start));
    let mut codes = [r1.status().as_u16(), r2.status().as_u16()];
    codes.sort();
    assert_eq!(codes, [201, 409]);

    // The first applicant books the first slot; it disappears from the list.
    let r = a.book(&first["start"]).await;
    assert_eq!(r.status(), 201);
    let booking: Value = r.json().await.expect("json");
    assert_eq!(booking["status"], "booked");
    assert_eq!(booking["time"]["applicant"]["local"], "2026-11-30 08:00");
    loop {
        let update = console.expect("bookings").await;
        if update["entries"].as_array().is_some_and(|e| e.len() == 2) {
            assert!(
                update["entries"]
                    .as_array()
                    .expect("entries")
                    .iter()
                    .all(|e| e["tz"] == "Europe/Lisbon")
            );
            break;
        }
    }
    let again = a.slots().await;
    assert!(
        again["slots"]
            .as_array()
            .expect("slots")
            .iter()
            .all(|s| s["start"] != first["start"])
    );
    assert_eq!(
        a.book(&list[5]["start"]).await.status(),
        409,
        "one live booking per case"
    );

    // The calendar invitation opens at 08:00 in Lisbon.
    let id = booking["id"].as_str().expect("id");
    let ics = a
        .req(
            reqwest::Method::GET,
            &format!("/api/applicant/bookings/{id}/invite.ics"),
        )
        .send()
        .await
        .expect("ics");
    assert_eq!(
        ics.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    let ics = ics.text().await.expect("text");
    assert!(
        ics.contains("DTSTART;TZID=Europe/Lisbon:20261130T080000"),
        "{ics}"
    );
    // Long lines are folded (RFC 5545 §3.1); unfold before reading the description.
    let unfolded = ics.replace("\r\n ", "").replace("\n ", "");
    assert!(unfolded.contains("Beijing time: 2026-11-30 16:00"), "{ics}");

    // Reschedule, then cancel.
    let r = a
        .req(
            reqwest::Method::POST,
            &format!("/api/applicant/bookings/{id}/reschedule"),
        )
        .json(&json!({"start": list[4]["start"]}))
        .send()
        .await
        .expect("reschedule");
    assert_eq!(r.status(), 201);
    let moved: Value = r.json().await.expect("json");
    let mine: Value = a
        .req(reqwest::Method::GET, "/api/applicant/case")
        .send()
        .await
        .expect("case")
        .json()
        .await
        .expect("json");
    let statuses: Vec<&str> = mine["bookings"]
        .as_array()
        .expect("bookings")
        .iter()
        .map(|b| b["status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == "booked").count(), 1);
    assert!(statuses.contains(&"cancelled"));
    let moved_id = moved["id"].as_str().expect("id");
    let path = format!("/api/applicant/bookings/{moved_id}");
    assert_eq!(
        a.req(reqwest::Method::DELETE, &path)
            .send()
            .await
            .expect("cancel")
            .status(),
        204
    );
    assert_eq!(
        a.req(reqwest::Method::DELETE, &path)
            .send()
            .await
            .expect("cancel")
            .status(),
        409
    );
    // Another applicant cannot touch it.
    let other = applicants[1]
        .req(reqwest::Method::DELETE, &path)
        .send()
        .await
        .expect("cancel");
    assert_eq!(other.status(), 404);

    // The console lists the day's bookings with the applicant's zone.
    let listed: Value = officer
        .get(format!("{base}/api/bookings"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert!(
        listed
            .as_array()
            .expect("rows")
            .iter()
            .any(|b| b["tz"] == "Europe/Lisbon")
    );
}

#[tokio::test]
async fn preferences_are_validated_and_change_the_slots() {
    let now = chrono::Utc
        .with_ymd_and_hms(2026, 11, 30, 0, 0, 0)
        .single()
        .expect("valid");
    let hub = start_hub_with_clock(Arc::new(ManualClock::new(now))).await;
    let base = hub.url("");
    let officer = login(&base, &hub.accounts.officer).await;
    let (_, token) = create_case(&base, &officer, "inheritance").await;
    let a = Applicant {
        client: reqwest::Client::new(),
        base: base.clone(),
        token,
    };
    for body in [
        json!({"tz": "Mars/Olympus", "earliest": "08:00", "latest": "21:00", "lang": "pt"}),
        json!({"tz": "America/New_York", "earliest": "21:00", "latest": "08:00", "lang": "pt"}),
        json!({"tz": "America/New_York", "earliest": "8am", "latest": "21:00", "lang": "pt"}),
        json!({"tz": "America/New_York", "earliest": "08:00", "latest": "21:00", "lang": "fr"}),
    ] {
        let r = a
            .req(reqwest::Method::PUT, "/api/applicant/preferences")
            .json(&body)
            .send()
            .await
            .expect("put");
        assert_eq!(r.status(), 400, "{body}");
    }
    let r = a
        .req(reqwest::Method::PUT, "/api/applicant/preferences")
        .json(&json!({"tz": "America/New_York", "earliest": "18:00", "latest": "23:00", "lang": "en"}))
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 200);
    let slots = a.slots().await;
    assert_eq!(slots["applicant_zone"], "America/New_York");
    let list = slots["slots"].as_array().expect("slots");
    assert!(!list.is_empty());
    for s in list {
        // Evening in New York, morning or evening desk in Shanghai, one day apart.
        assert_eq!(s["applicant"]["utc_offset"], "-05:00");
        let hour: u32 = s["applicant"]["local"].as_str().expect("local")[11..13]
            .parse()
            .expect("hour");
        assert!((18..23).contains(&hour), "{s}");
    }
    // No invite, a wrong one: refused.
    let r = reqwest::Client::new()
        .get(format!("{base}/api/applicant/slots"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 401);
    let r = reqwest::Client::new()
        .get(format!("{base}/api/applicant/slots"))
        .header("authorization", "Invite nope")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 401);
    // Staff bookings list is not for applicants.
    let r = a
        .req(reqwest::Method::GET, "/api/bookings")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn duty_status_follows_the_rota_unless_overridden() {
    // Monday 2026-11-30 08:00 in Shanghai: an hour before the first shift.
    let now = chrono::Utc
        .with_ymd_and_hms(2026, 11, 30, 0, 0, 0)
        .single()
        .expect("valid");
    let clock = Arc::new(ManualClock::new(now));
    let hub = start_hub_with_clock(clock.clone()).await;
    let base = hub.url("");
    let officer = login(&base, &hub.accounts.officer).await;
    let auditor = login(&base, &hub.accounts.auditor).await;
    let list = |c: reqwest::Client| {
        let url = format!("{base}/api/officers");
        async move {
            c.get(url)
                .send()
                .await
                .expect("get")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    let officers = list(auditor.clone()).await;
    assert_eq!(officers[0]["duty"]["status"], "off_duty");
    assert_eq!(officers[0]["duty"]["next_start"], "2026-11-30T01:00:00Z");
    assert!(
        officers[0]["languages"]
            .as_array()
            .expect("languages")
            .iter()
            .any(|l| l == "qingtian")
    );
    clock.advance(chrono::Duration::hours(2));
    assert_eq!(list(auditor.clone()).await[0]["duty"]["status"], "on_duty");
    // The officer steps away: the override wins over the rota.
    let r = officer
        .put(format!("{base}/api/officers/me/override"))
        .json(&json!({"status": "off_duty"}))
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 200);
    assert_eq!(list(auditor.clone()).await[0]["duty"]["status"], "off_duty");
    let r = auditor
        .put(format!("{base}/api/officers/me/override"))
        .json(&json!({"status": null}))
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 403, "auditors only read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booked_applicant_goes_ahead_of_walk_ins_and_the_queue_shows_a_wait() {
    let now = chrono::Utc
        .with_ymd_and_hms(2026, 11, 30, 0, 0, 0)
        .single()
        .expect("valid");
    let clock = Arc::new(ManualClock::new(now));
    let hub = start_hub_with_clock(clock.clone()).await;
    let base = hub.url("");
    let officer = login(&base, &hub.accounts.officer).await;
    let (_, walk_in) = create_case(&base, &officer, "id-card-renewal").await;
    let (booked_case, booked_token) = create_case(&base, &officer, "id-card-renewal").await;
    let booked = Applicant {
        client: reqwest::Client::new(),
        base: base.clone(),
        token: booked_token.clone(),
    };
    let slots = booked.slots().await;
    let first = slots["slots"][0]["start"].clone();
    assert_eq!(booked.book(&first).await.status(), 201);
    // Five minutes before the slot.
    let start: chrono::DateTime<chrono::Utc> = serde_json::from_value(first).expect("time");
    clock.advance(start - now - chrono::Duration::minutes(5));

    let mut console = common::Ws::auth(
        hub.addr,
        json!({"ticket": common::ticket(&base, &officer).await}),
    )
    .await;
    let mut w = common::Ws::auth(hub.addr, json!({"invite": walk_in})).await;
    w.send(json!({"type": "join_queue"})).await;
    let pos = w.expect("queue_position").await;
    assert_eq!(pos["position"], 1);
    assert_eq!(pos["estimated_wait_minutes"], 0, "next in line");
    let mut b = common::Ws::auth(hub.addr, json!({"invite": booked_token})).await;
    b.send(json!({"type": "join_queue"})).await;
    let pos = b.expect("queue_position").await;
    assert_eq!(pos["position"], 2);
    // One officer online, no history yet: the service's typical 20 minutes per applicant ahead.
    assert_eq!(pos["estimated_wait_minutes"], 20);
    console.send(json!({"type": "take_next"})).await;
    let paired = console.expect("paired").await;
    assert_eq!(
        paired["case_id"],
        booked_case.as_str(),
        "the booked applicant first"
    );
    common::admit(&mut console, &mut b).await;
}

/// The Shanghai start of the first slot of a given Lisbon date, and the Lisbon offset then.
fn first_on(slots: &Value, lisbon_date: &str) -> (String, String, String) {
    let s = slots["slots"]
        .as_array()
        .expect("slots")
        .iter()
        .find(|s| {
            s["applicant"]["local"]
                .as_str()
                .is_some_and(|l| l.starts_with(lisbon_date))
        })
        .unwrap_or_else(|| panic!("a slot on {lisbon_date}: {slots}"));
    (
        s["office"]["local"].as_str().expect("office").to_owned(),
        s["applicant"]["local"].as_str().expect("local").to_owned(),
        s["applicant"]["utc_offset"]
            .as_str()
            .expect("offset")
            .to_owned(),
    )
}

#[tokio::test]
async fn lisbon_springs_forward_and_falls_back_through_the_api() {
    for (now, before, after, expect_before, expect_after) in [
        // Spring forward on Sunday 2027-03-28: 08:00 in Lisbon moves from 16:00 to 15:00 Beijing.
        (
            chrono::Utc.with_ymd_and_hms(2027, 3, 26, 0, 0, 0),
            "2027-03-26",
            "2027-03-29",
            ("2027-03-26 16:00", "2027-03-26 08:00", "+00:00"),
            ("2027-03-29 15:00", "2027-03-29 08:00", "+01:00"),
        ),
        // Fall back on Sunday 2026-10-25: from 15:00 to 16:00 Beijing.
        (
            chrono::Utc.with_ymd_and_hms(2026, 10, 23, 0, 0, 0),
            "2026-10-23",
            "2026-10-26",
            ("2026-10-23 15:00", "2026-10-23 08:00", "+01:00"),
            ("2026-10-26 16:00", "2026-10-26 08:00", "+00:00"),
        ),
    ] {
        let now = now.single().expect("valid");
        let hub = start_hub_with_clock(Arc::new(ManualClock::new(now))).await;
        let base = hub.url("");
        let officer = login(&base, &hub.accounts.officer).await;
        let (_, token) = create_case(&base, &officer, "id-card-renewal").await;
        let a = Applicant {
            client: reqwest::Client::new(),
            base: base.clone(),
            token,
        };
        let r = a
            .req(reqwest::Method::GET, "/api/applicant/slots?days=4")
            .send()
            .await
            .expect("slots");
        let slots: Value = r.json().await.expect("json");
        let b = first_on(&slots, before);
        assert_eq!((b.0.as_str(), b.1.as_str(), b.2.as_str()), expect_before);
        let f = first_on(&slots, after);
        assert_eq!((f.0.as_str(), f.1.as_str(), f.2.as_str()), expect_after);
        // The weekend has no Lisbon-compatible shift (Saturday 09:00–12:00 Beijing is night
        // in Lisbon), so no slot falls on the day of the change.
        let change_day = chrono::NaiveDate::parse_from_str(before, "%Y-%m-%d").expect("date")
            + chrono::Duration::days(2);
        assert!(
            slots["slots"]
                .as_array()
                .expect("slots")
                .iter()
                .all(|s| !s["applicant"]["local"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with(&change_day.to_string())),
            "{slots}"
        );
        // A time in the past, and one outside any shift, are refused with reasons.
        let past = a.book(&json!(now - chrono::Duration::hours(1))).await;
        assert_eq!(past.status(), 400);
        assert_eq!(past.json::<Value>().await.expect("json")["code"], "in_past");
        let night = now + chrono::Duration::hours(20); // 04:00 Beijing next day
        let outside = a.book(&json!(night)).await;
        assert_eq!(outside.status(), 409);
        assert_eq!(
            outside.json::<Value>().await.expect("json")["code"],
            "slot_unavailable"
        );
    }
}

//! HTTP routes through `app(state).oneshot(...)`: each role is refused what it may not do, and
//! errors come back in the one JSON shape.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use globallink::api::app;
use globallink::state::AppState;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn call(state: &AppState, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let res = app(state.clone()).oneshot(req).await.expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body)
}

fn req(method: &str, uri: &str, cookie: Option<&str>, body: Option<Value>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    match body {
        Some(v) => b
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(v.to_string())),
        None => b.body(Body::empty()),
    }
    .expect("request")
}

async fn login(state: &AppState, user: &(String, String)) -> String {
    let (status, headers, body) = call(
        state,
        req(
            "POST",
            "/api/login",
            None,
            Some(json!({"username": user.0, "password": user.1})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let set = headers
        .get(header::SET_COOKIE)
        .expect("cookie set")
        .to_str()
        .expect("ascii");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    set.split(';').next().expect("pair").to_owned()
}

fn new_case() -> Value {
    json!({"service": "inheritance", "applicant_name": "Li Wei", "applicant_tz": "Europe/Rome", "applicant_lang": "it"})
}

#[tokio::test]
async fn anonymous_callers_reach_nothing_private() {
    let (state, _, _dir) = common::state_only().await;
    for (method, uri) in [
        ("GET", "/api/me"),
        ("GET", "/api/cases"),
        ("POST", "/api/ws-ticket"),
        ("GET", "/api/cases/00000000-0000-0000-0000-000000000000"),
        (
            "GET",
            "/api/artefacts/00000000-0000-0000-0000-000000000000/bundle",
        ),
        (
            "GET",
            "/api/artefacts/00000000-0000-0000-0000-000000000000/verify",
        ),
    ] {
        let (status, _, body) = call(&state, req(method, uri, None, None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        assert_eq!(body["code"], "unauthenticated");
    }
    let (status, _, _) = call(&state, req("POST", "/api/cases", None, Some(new_case()))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A forged or stale cookie is no better.
    let (status, _, _) = call(
        &state,
        req("GET", "/api/cases", Some("gl_session=forged"), None),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn wrong_password_is_refused_alike_for_known_and_unknown_users() {
    let (state, accounts, _dir) = common::state_only().await;
    for user in [accounts.officer.0.as_str(), "nobody"] {
        let (status, headers, body) = call(
            &state,
            req(
                "POST",
                "/api/login",
                None,
                Some(json!({"username": user, "password": "wrong"})),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["code"], "bad_credentials");
        assert!(headers.get(header::SET_COOKIE).is_none());
    }
}

#[tokio::test]
async fn auditors_only_read() {
    let (state, accounts, _dir) = common::state_only().await;
    let auditor = login(&state, &accounts.auditor).await;
    let (status, _, body) = call(
        &state,
        req("POST", "/api/cases", Some(&auditor), Some(new_case())),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "forbidden");
    let (status, _, _) = call(&state, req("POST", "/api/ws-ticket", Some(&auditor), None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, body) = call(&state, req("GET", "/api/cases", Some(&auditor), None)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_array());
    let (status, _, me) = call(&state, req("GET", "/api/me", Some(&auditor), None)).await;
    assert_eq!(
        (status, me["role"].as_str()),
        (StatusCode::OK, Some("auditor"))
    );
}

#[tokio::test]
async fn officers_create_cases_with_validated_fields_and_hashed_invites() {
    let (state, accounts, _dir) = common::state_only().await;
    let officer = login(&state, &accounts.officer).await;
    for (field, value) in [
        ("service", "passport-for-cats"),
        ("applicant_tz", "Mars/Olympus_Mons"),
        ("applicant_lang", "fr"),
        ("applicant_name", "  "),
    ] {
        let mut body = new_case();
        body[field] = json!(value);
        let (status, _, err) = call(
            &state,
            req("POST", "/api/cases", Some(&officer), Some(body)),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}");
        assert_eq!(err["code"], "invalid");
    }
    let (status, _, created) = call(
        &state,
        req("POST", "/api/cases", Some(&officer), Some(new_case())),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let token = created["invite_token"].as_str().expect("token");
    let url = created["invite_url"].as_str().expect("url");
    assert_eq!(
        url,
        format!("http://hub.test/join#t={token}"),
        "token travels in the fragment only"
    );
    // Stored only as a hash.
    assert!(
        state
            .store
            .case_by_invite(token)
            .await
            .expect("query")
            .is_none()
    );
    let case = state
        .store
        .case_by_invite(&globallink::auth::token_hash(token))
        .await
        .expect("query");
    assert_eq!(case.map(|c| c.applicant_tz), Some("Europe/Rome".to_owned()));
    let id = created["case"]["id"].as_str().expect("id");
    let (status, _, shown) = call(
        &state,
        req("GET", &format!("/api/cases/{id}"), Some(&officer), None),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["case"]["service"], "inheritance");
    assert_eq!(shown["sessions"], json!([]));
    // An invite token is not a login.
    let (status, _, _) = call(
        &state,
        req(
            "GET",
            "/api/cases",
            Some(&format!("gl_session={token}")),
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_ids_oversized_bodies_and_logout() {
    let (state, accounts, _dir) = common::state_only().await;
    let officer = login(&state, &accounts.officer).await;
    let (status, _, body) = call(
        &state,
        req(
            "GET",
            "/api/artefacts/not-a-uuid/bundle",
            Some(&officer),
            None,
        ),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, _, _) = call(
        &state,
        req(
            "GET",
            "/api/cases/00000000-0000-0000-0000-000000000000",
            Some(&officer),
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let mut big = new_case();
    big["applicant_name"] = json!("x".repeat(100 * 1024));
    let (status, _, body) =
        call(&state, req("POST", "/api/cases", Some(&officer), Some(big))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("malformed"))
    );
    // Bodies and query strings that do not parse are answered as JSON errors too.
    let raw = |content_type: &str, body: &str| {
        Request::builder()
            .method("POST")
            .uri("/api/cases")
            .header(header::COOKIE, officer.as_str())
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body.to_owned()))
            .expect("request")
    };
    for (request, expected) in [
        (
            raw("application/json", "{not json"),
            StatusCode::BAD_REQUEST,
        ),
        (raw("text/plain", "{}"), StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (
            raw("application/json", r#"{"applicant_name": 7}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            req("GET", "/api/artefacts?from=yesterday", Some(&officer), None),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, headers, body) = call(&state, request).await;
        assert_eq!(status, expected, "{body}");
        assert_eq!(body["code"], "malformed", "{body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    }
    let (status, _, _) = call(&state, req("POST", "/api/logout", Some(&officer), None)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = call(&state, req("GET", "/api/me", Some(&officer), None)).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "logged-out cookie is dead"
    );
}

#[tokio::test]
async fn pages_carry_security_headers() {
    let (state, _, _dir) = common::state_only().await;
    let (status, headers, _) = call(&state, req("GET", "/api/health", None, None)).await;
    assert_eq!(status, StatusCode::OK);
    let csp = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .expect("csp")
        .to_str()
        .expect("ascii");
    assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"));
    assert_eq!(
        headers
            .get(header::X_CONTENT_TYPE_OPTIONS)
            .map(|v| v.as_bytes()),
        Some(&b"nosniff"[..])
    );
    assert!(
        headers.get(header::STRICT_TRANSPORT_SECURITY).is_none(),
        "a hub on plain HTTP announces no HSTS"
    );
    let res = app(state.clone())
        .oneshot(req("GET", "/join", None, None))
        .await
        .expect("page");
    assert_eq!(res.status(), StatusCode::OK, "the applicant page is served");
}

#[tokio::test]
async fn guessing_passwords_is_throttled_and_cross_site_writes_are_refused() {
    let (state, accounts, _dir) = common::state_only().await;
    let mut codes = Vec::new();
    for _ in 0..7 {
        let (status, _, body) = call(
            &state,
            req(
                "POST",
                "/api/login",
                None,
                Some(json!({"username": accounts.officer.0, "password": "guess"})),
            ),
        )
        .await;
        codes.push((
            status.as_u16(),
            body["code"].as_str().unwrap_or("").to_owned(),
        ));
    }
    assert_eq!(codes[0], (401, "bad_credentials".to_owned()));
    assert_eq!(codes[6], (429, "rate_limited".to_owned()), "{codes:?}");
    // Even the right password waits out the throttle.
    let (status, _, _) = call(
        &state,
        req(
            "POST",
            "/api/login",
            None,
            Some(json!({"username": accounts.officer.0, "password": accounts.officer.1})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    let auditor = login(&state, &accounts.auditor).await;
    let mut forged = req("POST", "/api/logout", Some(&auditor), None);
    forged.headers_mut().insert(
        header::ORIGIN,
        "https://evil.example".parse().expect("header"),
    );
    forged
        .headers_mut()
        .insert(header::HOST, "hub.test".parse().expect("header"));
    let (status, _, body) = call(&state, forged).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("cross_site"))
    );
    let mut fetch = req("POST", "/api/logout", Some(&auditor), None);
    fetch
        .headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().expect("header"));
    assert_eq!(call(&state, fetch).await.0, StatusCode::FORBIDDEN);
    let mut same = req("POST", "/api/logout", Some(&auditor), None);
    same.headers_mut()
        .insert(header::ORIGIN, "http://hub.test".parse().expect("header"));
    same.headers_mut()
        .insert(header::HOST, "hub.test".parse().expect("header"));
    assert_eq!(
        call(&state, same).await.0,
        StatusCode::NO_CONTENT,
        "same-origin writes pass"
    );
}

/// An id that exists nowhere, in every path of the matrix.
const UNKNOWN: &str = "00000000-0000-4000-8000-000000000000";

/// Every HTTP route the hub serves (but the `/ws` upgrade and the pages), each with a request
/// and the status it gets from each of: anonymous, applicant, officer, auditor. Besides the
/// authorization matrix, the OpenAPI test holds the document to exactly these routes, and
/// these to the routes registered in `src/api/`.
fn route_matrix() -> Vec<(&'static str, String, Option<Value>, [u16; 4])> {
    let unknown = UNKNOWN;
    const A: u16 = 401;
    #[rustfmt::skip]
    let table: Vec<(&str, String, Option<Value>, [u16; 4])> = vec![
        //                                                          anon applicant officer auditor
        ("GET", "/api/health".into(), None, [200, 200, 200, 200]),
        ("GET", "/api/openapi.json".into(), None, [200, 200, 200, 200]),
        ("GET", "/api/services".into(), None, [200, 200, 200, 200]),
        ("GET", "/api/log/key".into(), None, [200, 200, 200, 200]),
        ("GET", "/api/log/checkpoint".into(), None, [200, 200, 200, 200]),
        ("GET", "/api/log/inclusion?index=0&size=1".into(), None, [400, 400, 400, 400]),
        ("GET", "/api/log/consistency?from=1&to=2".into(), None, [400, 400, 400, 400]),
        ("GET", "/api/pki/ca".into(), None, [200, 200, 200, 200]),
        ("GET", "/api/pki/crl".into(), None, [404, 404, 404, 404]),
        ("GET", "/metrics".into(), None, [200, 200, 200, 200]),
        ("POST", "/api/login".into(), Some(json!({"username": "nobody", "password": "x"})), [A, A, A, A]),
        ("GET", "/api/me".into(), None, [A, A, 200, 200]),
        ("POST", "/api/ws-ticket".into(), None, [A, A, 200, 403]),
        ("GET", "/api/cases".into(), None, [A, A, 200, 200]),
        ("POST", "/api/cases".into(), Some(new_case()), [A, A, 201, 403]),
        ("GET", format!("/api/cases/{unknown}"), None, [A, A, 404, 404]),
        ("GET", "/api/artefacts".into(), None, [A, A, 200, 200]),
        ("GET", format!("/api/artefacts/{unknown}/bundle"), None, [A, A, 404, 404]),
        ("GET", format!("/api/artefacts/{unknown}/verify"), None, [A, A, 404, 404]),
        ("GET", format!("/api/artefacts/{unknown}/timeline"), None, [A, A, 404, 404]),
        ("GET", format!("/api/artefacts/{unknown}/signing"), None, [A, A, 404, 403]),
        ("POST", format!("/api/artefacts/{unknown}/signature"), Some(json!({"protected": "e30", "signature": "AA"})), [A, A, 404, 403]),
        ("GET", "/api/officers/me/certificate".into(), None, [A, A, 404, 403]),
        ("GET", "/api/officers/me/signatures/pending".into(), None, [A, A, 200, 403]),
        ("POST", "/api/officers/me/enrolment/challenge".into(), Some(json!({})), [A, A, 200, 403]),
        ("POST", "/api/officers/me/enrolment".into(), Some(json!({"challenge": "AA", "public_key": "AA", "signature": "AA"})), [A, A, 409, 403]),
        ("GET", "/api/access-log".into(), None, [A, A, 403, 200]),
        ("GET", "/api/bookings".into(), None, [A, A, 200, 200]),
        ("GET", "/api/officers".into(), None, [A, A, 200, 200]),
        ("PUT", "/api/officers/me/override".into(), Some(json!({"status": null})), [A, A, 200, 403]),
        ("POST", format!("/api/sessions/{unknown}/documents?category=still&kind=x"), None, [A, A, 404, 403]),
        ("GET", "/api/applicant/case".into(), None, [A, 200, A, A]),
        ("PUT", "/api/applicant/preferences".into(), Some(json!({"tz": "Europe/Rome", "earliest": "08:00", "latest": "21:00", "lang": "it"})), [A, 200, A, A]),
        ("GET", "/api/applicant/slots?days=1".into(), None, [A, 200, A, A]),
        ("GET", "/api/applicant/desk".into(), None, [A, 200, A, A]),
        ("POST", "/api/applicant/bookings".into(), Some(json!({"start": "2020-01-01T00:00:00Z"})), [A, 400, A, A]),
        ("POST", format!("/api/applicant/bookings/{unknown}/reschedule"), Some(json!({"start": "2020-01-01T00:00:00Z"})), [A, 404, A, A]),
        ("GET", format!("/api/applicant/bookings/{unknown}/invite.ics"), None, [A, 404, A, A]),
        ("DELETE", format!("/api/applicant/bookings/{unknown}"), None, [A, 404, A, A]),
        // Last: it ends the officer's and the auditor's logins.
        ("POST", "/api/logout".into(), None, [204, 204, 204, 204]),
    ];
    table
}

/// Every HTTP route, every role: anonymous, an applicant (invite header, which opens nothing
/// but their own case), an officer and an auditor each get exactly the status in the table,
/// a guest's link token gets what anonymous gets, and an officer of another office gets what
/// an officer gets but may not open the other office's case (`tests/offices.rs` has him meet
/// that office's real cases and artefacts).
/// Ids in paths are unknown ones: a caller allowed in gets 404, one who is not is stopped
/// first (401 or 403), so nobody learns whether an id exists.
#[tokio::test]
async fn every_route_answers_each_role_as_it_should() {
    let (state, accounts, _dir) = common::state_only().await;
    let officer = login(&state, &accounts.officer).await;
    let auditor = login(&state, &accounts.auditor).await;
    let (status, _, created) = call(
        &state,
        req("POST", "/api/cases", Some(&officer), Some(new_case())),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let invite = format!(
        "Invite {}",
        created["invite_token"].as_str().expect("token")
    );
    // A guest's link opens one session's signalling and nothing over HTTP: presented as an
    // invite, it gets what anonymous gets on every route.
    let guest_token = globallink::auth::random_token();
    state.guest_passes.lock().expect("passes").insert(
        globallink::auth::token_hash(&guest_token),
        globallink::session::GuestPass {
            session: globallink::ids::SessionId::random(),
            role: globallink::evidence::ParticipantRole::Guest {
                n: 1,
                role: globallink::evidence::GuestRole::Relative,
            },
            name: "Li Na".into(),
            expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
        },
    );
    let guest = format!("Invite {guest_token}");
    // An officer of another office (the vehicle administration; the matrix's new case is an
    // inheritance, the notary office's): an officer's answers, but he may not open that case.
    let other_office = login(&state, &common::vehicles_officer(&state).await).await;

    for (method, path, body, expected) in route_matrix() {
        let mut request = req(method, &path, None, body.clone());
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, guest.parse().expect("header"));
        let (status, _, answer) = call(&state, request).await;
        assert_eq!(
            status.as_u16(),
            expected[0],
            "guest {method} {path}: {answer}"
        );
        // Signing in does not look at the caller: one more attempt there would only meet the
        // per-account throttle on "nobody".
        if (method, path.as_str()) != ("POST", "/api/login") {
            let wants = match (method, path.as_str()) {
                ("POST", "/api/cases") => 403,
                _ => expected[2],
            };
            let (status, _, answer) = call(
                &state,
                req(method, &path, Some(other_office.as_str()), body.clone()),
            )
            .await;
            assert_eq!(
                status.as_u16(),
                wants,
                "officer of another office {method} {path}: {answer}"
            );
        }
        for (who, want) in ["anonymous", "applicant", "officer", "auditor"]
            .into_iter()
            .zip(expected)
        {
            let cookie = match who {
                "officer" => Some(officer.as_str()),
                "auditor" => Some(auditor.as_str()),
                _ => None,
            };
            let mut request = req(method, &path, cookie, body.clone());
            if who == "applicant" {
                request
                    .headers_mut()
                    .insert(header::AUTHORIZATION, invite.parse().expect("header"));
            }
            let (status, _, answer) = call(&state, request).await;
            assert_eq!(status.as_u16(), want, "{who} {method} {path}: {answer}");
            if status.is_client_error() {
                assert!(
                    answer["code"].is_string(),
                    "{who} {method} {path}: {answer}"
                );
            }
        }
    }
}

/// A matrix row's route as the OpenAPI document names it: `{id}` for the id, no query.
fn template(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    path.replace(UNKNOWN, "{id}")
}

/// The `(METHOD, path)` pairs registered with `.route(path, get(…).post(…))` in `src/api/`,
/// read from the source, so a route added there without a row in the matrix and an entry in
/// the document fails the test below.
fn registered_routes() -> std::collections::BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let mut routes = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("src/api") {
        let file = entry.expect("entry").path();
        if file.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("source");
        let mut rest = text.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            // The call's arguments: up to the parenthesis that closes `.route(`.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map(|(i, _)| i)
                .expect("closed call");
            let args = &rest[..end];
            let path = args.split('"').nth(1).expect("a literal path").to_owned();
            for method in ["get", "post", "put", "delete", "patch"] {
                let call = format!("{method}(");
                let named = args
                    .match_indices(&call)
                    .any(|(i, _)| !args[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_'));
                if named {
                    routes.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
    }
    routes
}

/// `GET /api/openapi.json` is an OpenAPI 3 document that lists exactly the routes the hub
/// serves (the authorization matrix, itself checked against the registrations in `src/api/`),
/// each with its method; only the `/ws` upgrade is left to `docs/protocol.md`.
#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let (state, _, _dir) = common::state_only().await;
    let (status, headers, doc) = call(&state, req("GET", "/api/openapi.json", None, None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    let version = doc["openapi"].as_str().expect("an OpenAPI document");
    assert!(version.starts_with("3."), "{version}");
    assert_eq!(doc["info"]["title"], "globallink");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["staff"]["in"], "cookie");
    assert_eq!(schemes["staff"]["name"], globallink::api::SESSION_COOKIE);
    assert_eq!(schemes["invite"]["name"], "Authorization");

    let documented: std::collections::BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            let methods = item.as_object().expect("path item").keys();
            methods
                .filter(|m| ["get", "post", "put", "delete", "patch"].contains(&m.as_str()))
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let matrix: std::collections::BTreeSet<(String, String)> = route_matrix()
        .into_iter()
        .map(|(method, path, _, _)| (method.to_owned(), template(&path)))
        .collect();
    let missing: Vec<_> = matrix.difference(&documented).collect();
    assert!(missing.is_empty(), "served but not documented: {missing:?}");
    let extra: Vec<_> = documented.difference(&matrix).collect();
    assert!(
        extra.is_empty(),
        "documented but not in the matrix: {extra:?}"
    );

    let mut registered = registered_routes();
    assert!(
        registered.remove(&("GET".to_owned(), "/ws".to_owned())),
        "the signalling upgrade is registered (and described in docs/protocol.md)"
    );
    assert_eq!(
        registered, matrix,
        "the routes registered in src/api/ are the matrix's"
    );

    // Every operation has its own id, answers errors in the one shape, and protected ones name
    // their scheme.
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let id = op["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_owned()), "{method} {path}: {id} twice");
            let responses = op["responses"].as_object().expect("responses");
            for (code, response) in responses {
                if code.starts_with('4') || code.starts_with('5') {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/Error",
                        "{method} {path} {code}"
                    );
                }
            }
            let unauthenticated = responses
                .get("401")
                .and_then(|r| r["description"].as_str())
                .is_some_and(|d| d.contains("`unauthenticated`"));
            if unauthenticated {
                assert!(op["security"].is_array(), "{method} {path}: no security");
            }
        }
    }
}

/// The document passes a real validator of the OpenAPI specification (its JSON Schema and
/// rules such as unique operation ids and declared path parameters).
#[tokio::test]
#[ignore = "needs python openapi-spec-validator (run by .ci/run)"]
async fn the_openapi_document_passes_openapi_spec_validator() {
    let (state, _, dir) = common::state_only().await;
    let (status, _, doc) = call(&state, req("GET", "/api/openapi.json", None, None)).await;
    assert_eq!(status, StatusCode::OK);
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, doc.to_string()).expect("written");
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every response carries a request id for support and the logs: a fresh UUID, or the one the
/// caller sent (a load balancer's), echoed back.
#[tokio::test]
async fn responses_carry_a_request_id() {
    let (state, _, _dir) = common::state_only().await;
    let (_, headers, _) = call(&state, req("GET", "/api/health", None, None)).await;
    let id = headers
        .get("x-request-id")
        .expect("request id")
        .to_str()
        .expect("ascii");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    let (_, other, _) = call(&state, req("GET", "/api/health", None, None)).await;
    assert_ne!(other.get("x-request-id"), headers.get("x-request-id"));
    let mut request = req("GET", "/api/me", None, None);
    request
        .headers_mut()
        .insert("x-request-id", "lb-7f3a".parse().expect("header"));
    let (status, headers, _) = call(&state, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers.get("x-request-id").expect("kept"), "lb-7f3a");
}

/// Through a real listener the hub knows each client's address: sign-in attempts spread over
/// many accounts from one address are throttled after the per-address burst.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_attempts_from_one_address_are_throttled_across_accounts() {
    let hub = common::start_hub().await;
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    // The address earns one attempt back every 3 s; a slow machine may see one or two of those
    // between attempts, so the throttle must show within a few attempts after the burst.
    for n in 0..30 {
        let res = client
            .post(hub.url("/api/login"))
            .json(&json!({"username": format!("nobody{n}"), "password": "wrong"}))
            .send()
            .await
            .expect("answered");
        statuses.push(res.status().as_u16());
        if statuses.last() == Some(&429) {
            break;
        }
    }
    assert!(
        statuses[..20].iter().all(|s| *s == 401),
        "the burst is answered normally: {statuses:?}"
    );
    assert_eq!(
        statuses.last(),
        Some(&429),
        "then the address is throttled: {statuses:?}"
    );
}

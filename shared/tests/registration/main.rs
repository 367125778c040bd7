//! The `/instances` API end to end: the registration service against the Sage simulator
//! and the real adapters (embedded SQLite, and AWS on moto_server with DynamoDB, Secrets
//! Manager and Scheduler). Every response is checked against openapi.yaml.
#![cfg(all(feature = "aws", feature = "embedded"))]

#[path = "../support/mod.rs"]
#[allow(dead_code)]
mod support;

mod faults;
mod openapi;
mod reauthorize;
mod world;

use faults::ALL_STEPS;
use sage_events_core::config::configuration_field;
use sage_events_core::sage::{AppCredentials, SageError};
use sage_events_core::secret::Secret;
use sage_sim::{Fault, FaultRule, FaultTarget};
use serde_json::{Value, json};
use world::{ACME, Backend, GLOBEX, World, assert_no_secret, logs, seed_with_code};

async fn each_backend(scenario: impl AsyncFn(World)) {
    for backend in [Backend::Embedded, Backend::Aws] {
        eprintln!("--- backend: {backend:?}");
        scenario(World::new(backend).await).await;
    }
}

fn sim_credentials() -> AppCredentials {
    AppCredentials {
        client_id: sage_sim::DEFAULT_CLIENT_ID.into(),
        client_secret: Secret::new(sage_sim::DEFAULT_CLIENT_SECRET),
        redirect_uri: world::REDIRECT_URI.into(),
    }
}

/// The seed's dummy secrets (`signature.secret`, `apim.subscription.key`).
const SEED_DUMMY_SECRET: &str = "xxxxxxxxxxxxxxxxxxxxxxxxx";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_registers_and_lives_through_get_patch_disable_poll_and_delete() {
    each_backend(async |w: World| {
        let (id, token, created) = w.register().await;
        assert!(id > 0);
        assert!(token.len() >= 43, "32 random bytes in base64url");
        assert_eq!(created["name"], "API_Polling");
        assert_eq!(created["tags"], json!(["Test"]));
        assert_eq!(created["element"]["key"], "sageone");
        assert_eq!(created["eventsEnabled"], true);
        assert_eq!(created["configuration"]["oauth.api.secret"], "********");
        let signature_key = created["configuration"]["event.notification.signature.key"]
            .as_str()
            .expect("generated key shown once")
            .to_owned();
        assert!(signature_key.starts_with("whsec_"));

        // Stored state: secrets, record (token only as digest), watermark, schedule.
        let secrets = w.secrets_of(id).await.expect("secret document");
        assert_eq!(secrets.signature_key.expose(), signature_key);
        assert_eq!(
            secrets.client_secret.expose(),
            sage_sim::DEFAULT_CLIENT_SECRET
        );
        let record = w.ports.instances.get(id).await.unwrap().expect("record");
        assert_eq!(record.organization, "acme");
        assert_ne!(record.token_hash, token);
        assert!(
            w.ports
                .watermarks
                .load(id, "customers")
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(w.ports.scheduler.get(id).await.unwrap(), Some(15));

        let all_secrets = [
            sage_sim::DEFAULT_CLIENT_SECRET,
            signature_key.as_str(),
            token.as_str(),
            secrets.tokens.access_token.expose(),
            secrets.tokens.refresh_token.expose(),
            SEED_DUMMY_SECRET,
        ];
        // The creation response holds the token and generated key, nothing else secret.
        assert_no_secret(&created.to_string(), &all_secrets[3..], "POST response");
        assert_no_secret(&created.to_string(), &all_secrets[..1], "POST response");

        // GET: by the organization and by the instance token; no secret anywhere.
        for auth in [ACME.to_owned(), format!("Element {token}")] {
            let got = w
                .call("GET", &format!("/instances/{id}"), Some(&auth), "")
                .await;
            assert_eq!(got.status, 200, "{}", got.body);
            assert_eq!(got.body["id"], id);
            assert_eq!(
                got.body["configuration"]["event.notification.signature.key"],
                "********"
            );
            assert!(got.body.get("token").is_none());
            assert_no_secret(&got.body.to_string(), &all_secrets, "GET response");
        }
        let listed = w.call("GET", "/instances", Some(ACME), "").await;
        assert_eq!(listed.status, 200);
        assert_eq!(listed.body.as_array().map(Vec::len), Some(1));
        assert_no_secret(&listed.body.to_string(), &all_secrets, "list response");

        // PATCH the interval: the schedule follows.
        let patched = w
            .call(
                "PATCH",
                &format!("/instances/{id}"),
                Some(ACME),
                json!({"name": "renamed", "configuration": {"event.poller.refresh_interval": "30"}})
                    .to_string(),
            )
            .await;
        assert_eq!(patched.status, 200, "{}", patched.body);
        assert_eq!(patched.body["name"], "renamed");
        assert_eq!(
            patched.body["configuration"]["event.poller.refresh_interval"],
            "30"
        );
        assert_eq!(w.ports.scheduler.get(id).await.unwrap(), Some(30));

        // Events off removes the schedule; on brings it back.
        for (enabled, expected) in [(false, None), (true, Some(30))] {
            let a = w
                .call(
                    "PATCH",
                    &format!("/instances/{id}"),
                    Some(ACME),
                    json!({"configuration": {"event.notification.enabled": enabled}}).to_string(),
                )
                .await;
            assert_eq!(a.status, 200, "{}", a.body);
            assert_eq!(a.body["eventsEnabled"], enabled);
            assert_eq!(w.ports.scheduler.get(id).await.unwrap(), expected);
        }

        // Disable / enable.
        let off = w
            .call(
                "DELETE",
                &format!("/instances/{id}/enabled"),
                Some(ACME),
                "",
            )
            .await;
        assert_eq!((off.status, &off.body["disabled"]), (200, &json!(true)));
        assert_eq!(w.ports.scheduler.get(id).await.unwrap(), None);
        // A receiver's 410 Gone stopped delivery; re-enabling lifts the stop.
        let gone = sage_events_core::ports::DeliveryStatus {
            disabled_reason: Some("receiver answered HTTP 410 Gone".into()),
            consecutive_failures: 1,
            ..Default::default()
        };
        w.ports
            .instances
            .set_delivery_status(id, &gone)
            .await
            .unwrap();
        let on = w
            .call("PUT", &format!("/instances/{id}/enabled"), Some(ACME), "")
            .await;
        assert_eq!((on.status, &on.body["disabled"]), (200, &json!(false)));
        assert_eq!(w.ports.scheduler.get(id).await.unwrap(), Some(30));
        let record = w.ports.instances.get(id).await.unwrap().unwrap();
        assert_eq!(record.delivery.disabled_reason, None);
        assert_eq!(record.delivery.consecutive_failures, 0);

        // Poll now.
        let poll = w
            .call("POST", &format!("/instances/{id}/poll"), Some(ACME), "")
            .await;
        assert_eq!(poll.status, 202);
        assert_eq!(
            w.trigger.calls.lock().unwrap().last().map(|c| c.0),
            Some(id)
        );

        // DELETE: nothing left, and the grant is revoked at the simulator.
        let revocations = w.revocations();
        let deleted = w
            .call("DELETE", &format!("/instances/{id}"), Some(ACME), "")
            .await;
        assert_eq!(deleted.status, 200);
        w.assert_nothing_left(id).await;
        assert_eq!(w.revocations(), revocations + 1);
        let refreshed = w
            .client
            .refresh(&sim_credentials(), &secrets.tokens.refresh_token)
            .await;
        assert!(
            matches!(refreshed, Err(SageError::ReauthorizationNeeded { .. })),
            "{refreshed:?}"
        );
        let gone = w
            .call("GET", &format!("/instances/{id}"), Some(ACME), "")
            .await;
        assert_eq!(gone.status, 404);

        assert_no_secret(&logs(), &all_secrets, "the logs");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_at_each_saga_step_leaves_nothing_and_revokes_the_grant() {
    each_backend(async |w: World| {
        for step in ALL_STEPS {
            let before = w.revocations();
            w.faults.fail(Some(step));
            let answer = w
                .call("POST", "/instances", Some(ACME), w.seed_body().to_string())
                .await;
            w.faults.fail(None);
            assert_eq!(answer.status, 503, "{step:?}: {}", answer.body);
            assert!(answer.body["message"].as_str().unwrap().contains("revoked"));
            assert_eq!(w.revocations(), before + 1, "{step:?}: grant revoked");
            let id = w.faults.last_id.load(std::sync::atomic::Ordering::SeqCst);
            if id > 0 {
                w.assert_nothing_left(id).await;
            }
        }
        let listed = w.call("GET", "/instances", Some(ACME), "").await;
        assert_eq!(listed.body, json!([]), "no instance survived a failed saga");
        // And the service still works afterwards.
        w.register().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_template_is_refused_naming_every_placeholder() {
    let w = World::new(Backend::Embedded).await;
    let answer = w
        .call("POST", "/instances", Some(ACME), world::TEMPLATE)
        .await;
    assert_eq!(answer.status, 400);
    let fields = answer.error_fields();
    let mut expected = vec!["providerData.code".to_owned()];
    for key in [
        "oauth.api.key",
        "oauth.api.secret",
        "signature.secret",
        "apim.subscription.key",
        "country",
        "oauth.callback.url",
        "event.poller.refresh_interval",
    ] {
        expected.push(configuration_field(key));
    }
    for field in &expected {
        assert!(fields.contains(field), "{field} not named in {fields:?}");
    }
    assert_eq!(answer.field(), Some(fields[0].as_str()));
    assert!(
        w.sim.requests().is_empty(),
        "no exchange for an invalid body"
    );
}

fn with(mut body: Value, pointer_key: &[&str], value: Value) -> Value {
    let mut target = &mut body;
    for key in &pointer_key[..pointer_key.len() - 1] {
        target = &mut target[*key];
    }
    target[pointer_key[pointer_key.len() - 1]] = value;
    body
}

fn without(mut body: Value, parent: &[&str], key: &str) -> Value {
    let mut target = &mut body;
    for k in parent {
        target = &mut target[*k];
    }
    target.as_object_mut().unwrap().remove(key);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_the_right_status_and_field() {
    let w = World::new(Backend::Embedded).await;
    let (id, _token, _) = w.register().await;
    let seed = seed_with_code("unused-code");
    let cfg = |key: &str| configuration_field(key);
    let c = ["configuration"];
    let callback = |url: &str| {
        with(
            seed.clone(),
            &["configuration", "event.notification.callback.url"],
            json!(url),
        )
    };
    let inst = format!("/instances/{id}");
    let cases: Vec<(&str, String, String, u16, Option<String>)> = vec![
        (
            "POST",
            "/instances".into(),
            "not json".into(),
            400,
            Some("body".into()),
        ),
        (
            "POST",
            "/instances".into(),
            "[]".into(),
            400,
            Some("body".into()),
        ),
        (
            "POST",
            "/instances".into(),
            "".into(),
            400,
            Some("body".into()),
        ),
        (
            "POST",
            "/instances".into(),
            without(seed.clone(), &[], "name").to_string(),
            400,
            Some("name".into()),
        ),
        (
            "POST",
            "/instances".into(),
            with(seed.clone(), &["name"], json!(5)).to_string(),
            400,
            Some("name".into()),
        ),
        (
            "POST",
            "/instances".into(),
            with(seed.clone(), &["tags"], json!("x")).to_string(),
            400,
            Some("tags".into()),
        ),
        (
            "POST",
            "/instances".into(),
            with(seed.clone(), &["element", "key"], json!("quickbooks")).to_string(),
            400,
            Some("element.key".into()),
        ),
        (
            "POST",
            "/instances".into(),
            without(seed.clone(), &["providerData"], "code").to_string(),
            400,
            Some("providerData.code".into()),
        ),
        (
            "POST",
            "/instances".into(),
            without(seed.clone(), &[], "configuration").to_string(),
            400,
            Some("configuration".into()),
        ),
        (
            "POST",
            "/instances".into(),
            with(seed.clone(), &["configuration"], json!([])).to_string(),
            400,
            Some("configuration".into()),
        ),
        (
            "POST",
            "/instances".into(),
            without(seed.clone(), &c, "oauth.api.key").to_string(),
            400,
            Some(cfg("oauth.api.key")),
        ),
        (
            "POST",
            "/instances".into(),
            without(seed.clone(), &c, "oauth.api.secret").to_string(),
            400,
            Some(cfg("oauth.api.secret")),
        ),
        (
            "POST",
            "/instances".into(),
            without(seed.clone(), &c, "oauth.callback.url").to_string(),
            400,
            Some(cfg("oauth.callback.url")),
        ),
        (
            "POST",
            "/instances".into(),
            with(
                seed.clone(),
                &["configuration", "event.poller.refresh_interval"],
                json!("0"),
            )
            .to_string(),
            400,
            Some(cfg("event.poller.refresh_interval")),
        ),
        (
            "POST",
            "/instances".into(),
            with(
                seed.clone(),
                &["configuration", "event.poller.refresh_interval"],
                json!("abc"),
            )
            .to_string(),
            400,
            Some(cfg("event.poller.refresh_interval")),
        ),
        (
            "POST",
            "/instances".into(),
            with(
                seed.clone(),
                &["configuration", "event.poller.refresh_interval"],
                json!("100000"),
            )
            .to_string(),
            400,
            Some(cfg("event.poller.refresh_interval")),
        ),
        (
            "POST",
            "/instances".into(),
            without(seed.clone(), &c, "event.notification.callback.url").to_string(),
            400,
            Some(cfg("event.notification.callback.url")),
        ),
        (
            "POST",
            "/instances".into(),
            without(seed.clone(), &c, "event.poller.configuration").to_string(),
            400,
            Some(cfg("event.poller.configuration")),
        ),
        (
            "POST",
            "/instances".into(),
            with(
                seed.clone(),
                &["configuration", "event.poller.configuration"],
                json!({}),
            )
            .to_string(),
            400,
            Some(cfg("event.poller.configuration")),
        ),
        (
            "POST",
            "/instances".into(),
            with(
                seed.clone(),
                &["configuration", "event.notification.enabled"],
                json!("maybe"),
            )
            .to_string(),
            400,
            Some(cfg("event.notification.enabled")),
        ),
        (
            "POST",
            "/instances".into(),
            callback("ftp://example.com/x").to_string(),
            400,
            Some(cfg("event.notification.callback.url")),
        ),
        (
            "POST",
            "/instances".into(),
            callback("not a url").to_string(),
            400,
            Some(cfg("event.notification.callback.url")),
        ),
        (
            "POST",
            "/instances".into(),
            callback("http://127.0.0.1:8080/hook").to_string(),
            400,
            Some(cfg("event.notification.callback.url")),
        ),
        (
            "POST",
            "/instances".into(),
            callback("http://localhost/hook").to_string(),
            400,
            Some(cfg("event.notification.callback.url")),
        ),
        (
            "POST",
            "/instances".into(),
            callback("http://169.254.169.254/latest").to_string(),
            400,
            Some(cfg("event.notification.callback.url")),
        ),
        (
            "POST",
            "/instances".into(),
            callback("https://10.0.0.5/hook").to_string(),
            400,
            Some(cfg("event.notification.callback.url")),
        ),
        (
            "POST",
            "/instances".into(),
            callback("http://[::1]/hook").to_string(),
            400,
            Some(cfg("event.notification.callback.url")),
        ),
        (
            "POST",
            "/instances".into(),
            callback("https://192.168.1.1/hook").to_string(),
            400,
            Some(cfg("event.notification.callback.url")),
        ),
        (
            "PATCH",
            inst.clone(),
            "nope".into(),
            400,
            Some("body".into()),
        ),
        (
            "PATCH",
            inst.clone(),
            json!({"configuration": {"oauth.api.secret": "x"}}).to_string(),
            400,
            Some(cfg("oauth.api.secret")),
        ),
        (
            "PATCH",
            inst.clone(),
            json!({"configuration": {"event.poller.refresh_interval": "0"}}).to_string(),
            400,
            Some(cfg("event.poller.refresh_interval")),
        ),
        (
            "PATCH",
            inst.clone(),
            json!({"configuration": {"event.notification.callback.url": "http://10.1.2.3/"}})
                .to_string(),
            400,
            Some(cfg("event.notification.callback.url")),
        ),
        (
            "PATCH",
            inst.clone(),
            json!({"configuration": {"event.notification.callback.url": null}}).to_string(),
            400,
            Some(cfg("event.notification.callback.url")),
        ),
        (
            "PATCH",
            inst.clone(),
            json!({"name": ""}).to_string(),
            400,
            Some("name".into()),
        ),
        (
            "GET",
            "/instances?pageSize=0".into(),
            "".into(),
            400,
            Some("pageSize".into()),
        ),
        (
            "GET",
            "/instances?pageSize=201".into(),
            "".into(),
            400,
            Some("pageSize".into()),
        ),
        (
            "GET",
            "/instances?pageSize=x".into(),
            "".into(),
            400,
            Some("pageSize".into()),
        ),
        (
            "GET",
            "/instances?nextPageToken=garbage".into(),
            "".into(),
            400,
            Some("nextPageToken".into()),
        ),
        (
            "GET",
            "/instances/abc".into(),
            "".into(),
            400,
            Some("id".into()),
        ),
        (
            "GET",
            "/instances/0".into(),
            "".into(),
            400,
            Some("id".into()),
        ),
        ("GET", "/instances/999999".into(), "".into(), 404, None),
        ("GET", "/nothing".into(), "".into(), 404, None),
        ("GET", format!("{inst}/unknown"), "".into(), 404, None),
        ("PUT", "/instances".into(), "".into(), 405, None),
        ("POST", inst.clone(), "".into(), 405, None),
        ("GET", format!("{inst}/poll"), "".into(), 405, None),
    ];
    assert!(cases.len() >= 30);
    for (method, path, body, status, field) in cases {
        let answer = w.call(method, &path, Some(ACME), body.clone()).await;
        assert_eq!(
            answer.status, status,
            "{method} {path} {body}: {}",
            answer.body
        );
        if let Some(field) = field {
            assert_eq!(
                answer.field(),
                Some(field.as_str()),
                "{method} {path} {body}: {}",
                answer.body
            );
        }
    }
    // None of them reached Sage, and the instance is unchanged.
    assert!(
        !w.sim
            .requests()
            .iter()
            .any(|r| r.path == "/token" && r.status != 200)
    );
    assert_eq!(w.ports.scheduler.get(id).await.unwrap(), Some(15));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_and_ownership() {
    let w = World::new(Backend::Embedded).await;
    let (id, token, _) = w.register().await;
    let (other_id, other_token, _) = w.register().await;
    let path = format!("/instances/{id}");
    for (auth, status) in [
        (None, 401),
        (Some("User wrong, Organization acme-org-secret"), 401),
        (Some("User acme-user-secret"), 401),
        (Some("Bearer abc"), 401),
        (Some("Element not-a-token"), 401),
        (Some(GLOBEX), 404),
        (Some(ACME), 200),
    ] {
        let a = w.call("GET", &path, auth, "").await;
        assert_eq!(a.status, status, "{auth:?}: {}", a.body);
        if status == 401 {
            assert!(a.header("www-authenticate").is_some());
        }
    }
    // The instance token: its own instance only, and no collection routes.
    let own = format!("Element {token}");
    assert_eq!(w.call("GET", &path, Some(&own), "").await.status, 200);
    assert_eq!(
        w.call("GET", &format!("/instances/{other_id}"), Some(&own), "")
            .await
            .status,
        401
    );
    assert_eq!(
        w.call("GET", &path, Some(&format!("Element {other_token}")), "")
            .await
            .status,
        401
    );
    assert_eq!(
        w.call("GET", "/instances", Some(&own), "").await.status,
        401
    );
    assert_eq!(
        w.call("POST", "/instances", Some(&own), w.seed_body().to_string())
            .await
            .status,
        401
    );
    // Another organization neither sees, changes nor deletes it.
    assert_eq!(
        w.call("GET", "/instances", Some(GLOBEX), "").await.body,
        json!([])
    );
    for (method, p) in [
        ("PATCH", path.clone()),
        ("DELETE", path.clone()),
        ("PUT", format!("{path}/enabled")),
        ("POST", format!("{path}/poll")),
    ] {
        let a = w
            .call(method, &p, Some(GLOBEX), json!({"name": "x"}).to_string())
            .await;
        assert_eq!(a.status, 404, "{method} {p}");
    }
    assert!(w.ports.instances.get(id).await.unwrap().is_some());
    assert!(w.trigger.calls.lock().unwrap().is_empty());
    // Unauthenticated creation reaches neither Sage nor the stores.
    let exchanges = w.sim.requests().len();
    assert_eq!(
        w.call("POST", "/instances", None, w.seed_body().to_string())
            .await
            .status,
        401
    );
    assert_eq!(w.sim.requests().len(), exchanges);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_413() {
    let w = World::new(Backend::Embedded).await;
    let (id, _, _) = w.register().await;
    let mut body = w.seed_body();
    body["name"] = json!("x".repeat(300 * 1024));
    let a = w
        .call("POST", "/instances", Some(ACME), body.to_string())
        .await;
    assert_eq!(a.status, 413);
    let a = w
        .call(
            "PATCH",
            &format!("/instances/{id}"),
            Some(ACME),
            vec![b' '; 256 * 1024 + 1],
        )
        .await;
    assert_eq!(a.status, 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn used_or_expired_codes_are_422_and_store_nothing() {
    let w = World::new(Backend::Embedded).await;
    let code = w.code();
    let first = w
        .call(
            "POST",
            "/instances",
            Some(ACME),
            seed_with_code(&code).to_string(),
        )
        .await;
    assert_eq!(first.status, 200);
    let again = w
        .call(
            "POST",
            "/instances",
            Some(ACME),
            seed_with_code(&code).to_string(),
        )
        .await;
    assert_eq!(
        (again.status, again.field()),
        (422, Some("providerData.code"))
    );
    let stale = w.code();
    w.sim.advance(chrono::Duration::seconds(120));
    let late = w
        .call(
            "POST",
            "/instances",
            Some(ACME),
            seed_with_code(&stale).to_string(),
        )
        .await;
    assert_eq!(
        (late.status, late.field()),
        (422, Some("providerData.code"))
    );
    let listed = w.call("GET", "/instances", Some(ACME), "").await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(1));
    assert_no_secret(
        &late.body.to_string(),
        &[&stale, sage_sim::DEFAULT_CLIENT_SECRET],
        "422",
    );
    assert_no_secret(&logs(), &[&stale, &code], "the logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sage_down_is_502_and_stores_nothing() {
    let w = World::new(Backend::Embedded).await;
    w.sim.inject(FaultRule::new(
        Fault::ServerError(503),
        FaultTarget::Token,
        100,
    ));
    let started = std::time::Instant::now();
    let a = w
        .call("POST", "/instances", Some(ACME), w.seed_body().to_string())
        .await;
    assert_eq!(a.status, 502, "{}", a.body);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(
        w.call("GET", "/instances", Some(ACME), "").await.body,
        json!([])
    );
    assert!(
        w.sim
            .requests()
            .iter()
            .filter(|r| r.path == "/token")
            .count()
            >= 2,
        "retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_pages_in_ascending_id_order() {
    let w = World::new(Backend::Embedded).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(w.register().await.0);
    }
    let first = w.call("GET", "/instances?pageSize=2", Some(ACME), "").await;
    let got: Vec<u64> = first
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_u64().unwrap())
        .collect();
    assert_eq!(got, ids[..2]);
    let next = first
        .header("Elements-Next-Page-Token")
        .expect("more pages")
        .to_owned();
    let second = w
        .call(
            "GET",
            &format!("/instances?pageSize=2&nextPageToken={next}"),
            Some(ACME),
            "",
        )
        .await;
    let got: Vec<u64> = second
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_u64().unwrap())
        .collect();
    assert_eq!(got, ids[2..]);
    assert!(second.header("Elements-Next-Page-Token").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signature_key_rotation_keeps_the_tokens_and_waits_for_the_lease() {
    let w = World::new(Backend::Embedded).await;
    let (id, _, _) = w.register().await;
    let before = w.secrets_of(id).await.unwrap();
    let new_key = "whsec_bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleQ==";
    let patch = json!({"configuration": {"event.notification.signature.key": new_key}}).to_string();

    // A poll holds the lease: the rotation gives up with 503 and changes nothing.
    let now = chrono::Utc::now();
    assert!(
        w.ports
            .leases
            .acquire(id, "poller", now, now + chrono::Duration::minutes(5))
            .await
            .unwrap()
    );
    let busy = w
        .call(
            "PATCH",
            &format!("/instances/{id}"),
            Some(ACME),
            patch.clone(),
        )
        .await;
    assert_eq!(busy.status, 503, "{}", busy.body);
    assert_eq!(
        w.secrets_of(id).await.unwrap().signature_key,
        before.signature_key
    );
    w.ports.leases.release(id, "poller").await.unwrap();

    let done = w
        .call("PATCH", &format!("/instances/{id}"), Some(ACME), patch)
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(
        done.body["configuration"]["event.notification.signature.key"],
        "********"
    );
    let after = w.secrets_of(id).await.unwrap();
    assert_eq!(after.signature_key.expose(), new_key);
    assert_eq!(after.tokens, before.tokens);
    // The lease was released.
    let now = chrono::Utc::now();
    assert!(
        w.ports
            .leases
            .acquire(id, "poller", now, now + chrono::Duration::seconds(5))
            .await
            .unwrap()
    );
    assert_no_secret(&logs(), &[new_key], "the logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_adds_a_resource_with_a_watermark_at_now() {
    let w = World::new(Backend::Embedded).await;
    let (id, _, _) = w.register().await;
    let seed: Value = serde_json::from_slice(world::SEED).unwrap();
    let mut poller = seed["configuration"]["event.poller.configuration"].clone();
    let mut vendors = poller["customers"].clone();
    vendors["url"] =
        json!("/hubs/finance/vendors?where=lastModifiedDate>='${date:yyyy-MM-dd'T'HH:mm:ss'Z'}'");
    poller["vendors"] = vendors;
    let a = w
        .call(
            "PATCH",
            &format!("/instances/{id}"),
            Some(ACME),
            json!({"configuration": {"event.poller.configuration": poller}}).to_string(),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let mark = w
        .ports
        .watermarks
        .load(id, "vendors")
        .await
        .unwrap()
        .expect("new watermark");
    assert!((chrono::Utc::now() - mark.at).num_seconds().abs() < 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_off_means_no_schedule_and_a_given_key_stays_masked() {
    each_backend(async |w: World| {
        let key = "whsec_Z2l2ZW4ta2V5LWdpdmVuLWtleS1naXZlbi1rZXk=";
        let mut body = w.seed_body();
        body["configuration"]["event.notification.enabled"] = json!(false);
        body["configuration"]["event.notification.signature.key"] = json!(key);
        let a = w
            .call("POST", "/instances", Some(ACME), body.to_string())
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        let id = a.body["id"].as_u64().unwrap();
        assert_eq!(a.body["eventsEnabled"], false);
        assert_eq!(
            a.body["configuration"]["event.notification.signature.key"],
            "********"
        );
        assert_no_secret(&a.body.to_string(), &[key], "POST response");
        assert_eq!(w.ports.scheduler.get(id).await.unwrap(), None);
        assert_eq!(w.secrets_of(id).await.unwrap().signature_key.expose(), key);
        // Enabling the instance does not schedule it while events are off.
        let on = w
            .call("PUT", &format!("/instances/{id}/enabled"), Some(ACME), "")
            .await;
        assert_eq!(on.status, 200);
        assert_eq!(w.ports.scheduler.get(id).await.unwrap(), None);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_completes_when_the_revocation_fails() {
    let w = World::new(Backend::Embedded).await;
    let (id, token, _) = w.register().await;
    w.sim.inject(FaultRule::new(
        Fault::ServerError(503),
        FaultTarget::Path("/revoke".into()),
        100,
    ));
    // The instance token may delete its own instance.
    let a = w
        .call(
            "DELETE",
            &format!("/instances/{id}"),
            Some(&format!("Element {token}")),
            "",
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    w.assert_nothing_left(id).await;
    assert!(
        w.sim.requests().iter().any(|r| r.path == "/revoke"),
        "revocation tried"
    );
}

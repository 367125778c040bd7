//! `POST /instances/{id}/reauthorize`: a new grant for an existing instance, with the
//! changes made while it was invalid delivered afterwards.

use super::faults::Step;
use super::world::{ACME, GLOBEX, World, assert_no_secret, logs};
use super::{each_backend, sim_credentials};
use chrono::{Duration as ChronoDuration, SubsecRound, Utc};
use sage_events_core::poll::PollOutcome;
use sage_events_core::sage::SageError;
use sage_events_core::secret::Secret;
use sage_sim::{Fault, FaultRule, FaultTarget};
use serde_json::json;

fn code_body(code: &str) -> String {
    json!({ "providerData": { "code": code } }).to_string()
}

/// Register the seed example with its watermarks `start_ago` in the past (as if its last
/// successful poll was then).
async fn register_started(w: &World, start_ago: ChronoDuration) -> u64 {
    let start = (Utc::now() - start_ago).trunc_subsecs(0);
    let mut body = w.seed_body();
    body["configuration"]["event.poller.start"] = json!(start.to_rfc3339());
    let answer = w
        .call("POST", "/instances", Some(ACME), body.to_string())
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["id"].as_u64().expect("id")
}

fn customer(name: &str) -> serde_json::Value {
    json!({ "name": name, "contact_types": ["CUSTOMER"] })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_while_invalid_arrive_after_reauthorization() {
    each_backend(async |w: World| {
        let now = Utc::now();
        // Older than the watermark: history, never an event.
        let untouched = w.sim.create_at(
            "contacts",
            customer("Untouched"),
            now - ChronoDuration::hours(3),
        );
        let to_update = w.sim.create_at(
            "contacts",
            customer("Old name"),
            now - ChronoDuration::hours(3),
        );
        let to_delete = w.sim.create_at(
            "contacts",
            customer("Leaving"),
            now - ChronoDuration::hours(3),
        );
        let id = register_started(&w, ChronoDuration::hours(1)).await;
        let watermark = w
            .ports
            .watermarks
            .load(id, "customers")
            .await
            .unwrap()
            .expect("watermark")
            .at;

        // Sage refuses the grant: the poll marks the instance invalid, nothing is sent.
        let stored = w.secrets_of(id).await.expect("secrets");
        w.client
            .revoke(&sim_credentials(), &stored.tokens.refresh_token)
            .await
            .expect("revoke at Sage");
        let summary = w.poll(id).await;
        assert_eq!(summary.outcome, PollOutcome::Invalid, "{summary:?}");
        let got = w
            .call("GET", &format!("/instances/{id}"), Some(ACME), "")
            .await;
        assert_eq!(got.body["valid"], false, "{}", got.body);
        assert!(got.body["invalidReason"].is_string(), "{}", got.body);

        // Changes while invalid, all well below "now − lookback": a re-authorization that
        // restarted from now would never see them.
        let created = w.sim.create_at(
            "contacts",
            customer("Born while invalid"),
            now - ChronoDuration::minutes(40),
        );
        assert!(w.sim.update_at(
            "contacts",
            &to_update,
            json!({"name": "New name"}),
            now - ChronoDuration::minutes(30)
        ));
        assert!(
            w.sim
                .delete_at("contacts", &to_delete, now - ChronoDuration::minutes(20))
        );
        assert_eq!(w.poll(id).await.outcome, PollOutcome::Invalid);

        // A used code is refused and changes nothing.
        let code = w.code();
        w.client
            .exchange_code(&sim_credentials(), &Secret::new(code.clone()))
            .await
            .expect("the code is spent elsewhere");
        let refused = w
            .call(
                "POST",
                &format!("/instances/{id}/reauthorize"),
                Some(ACME),
                code_body(&code),
            )
            .await;
        assert_eq!(
            (refused.status, refused.field()),
            (422, Some("providerData.code")),
            "{}",
            refused.body
        );
        assert_eq!(w.poll(id).await.outcome, PollOutcome::Invalid);

        // A fresh code: valid again, tokens replaced, watermarks untouched.
        let fresh = w.code();
        let reauthorized = w
            .call(
                "POST",
                &format!("/instances/{id}/reauthorize"),
                Some(ACME),
                code_body(&fresh),
            )
            .await;
        assert_eq!(reauthorized.status, 200, "{}", reauthorized.body);
        assert_eq!(reauthorized.body["id"], id);
        assert_eq!(reauthorized.body["valid"], true);
        assert_eq!(reauthorized.body["invalidReason"], json!(null));
        let now_stored = w.secrets_of(id).await.expect("secrets");
        assert_ne!(
            now_stored.tokens.refresh_token.expose(),
            stored.tokens.refresh_token.expose()
        );
        assert_eq!(
            now_stored.signature_key.expose(),
            stored.signature_key.expose(),
            "the rest of the secret document is kept"
        );
        assert_eq!(
            w.ports
                .watermarks
                .load(id, "customers")
                .await
                .unwrap()
                .expect("watermark")
                .at,
            watermark,
            "re-authorization must not move the watermark"
        );
        assert_no_secret(
            &reauthorized.body.to_string(),
            &[
                &fresh,
                now_stored.tokens.refresh_token.expose(),
                now_stored.tokens.access_token.expose(),
                sage_sim::DEFAULT_CLIENT_SECRET,
            ],
            "the re-authorization response",
        );
        assert_no_secret(
            &logs(),
            &[&fresh, now_stored.tokens.refresh_token.expose()],
            "the logs",
        );

        // The next poll delivers the gap.
        let summary = w.poll(id).await;
        assert_eq!(summary.outcome, PollOutcome::Polled, "{summary:?}");
        let mut events = w.drain_events().await;
        events.sort();
        let mut expected = vec![
            ("CREATED".to_owned(), created),
            ("UPDATED".to_owned(), to_update),
            ("DELETED".to_owned(), to_delete),
        ];
        expected.sort();
        assert_eq!(events, expected);
        assert!(!events.iter().any(|(_, object)| *object == untouched));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_instance_is_reauthorized_in_place_and_its_old_grant_revoked() {
    each_backend(async |w: World| {
        let (id, token, _) = w.register().await;
        let old = w.secrets_of(id).await.expect("secrets").tokens;
        let revocations = w.revocations();
        // The instance token may do it too, like every other call about its instance.
        let answer = w
            .call(
                "POST",
                &format!("/instances/{id}/reauthorize"),
                Some(&format!("Element {token}")),
                code_body(&w.code()),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(w.revocations(), revocations + 1, "the old grant is revoked");
        let refreshed = w
            .client
            .refresh(&sim_credentials(), &old.refresh_token)
            .await;
        assert!(
            matches!(refreshed, Err(SageError::ReauthorizationNeeded { .. })),
            "{refreshed:?}"
        );
        let new = w.secrets_of(id).await.expect("secrets").tokens;
        assert_ne!(new.refresh_token.expose(), old.refresh_token.expose());
        assert_eq!(w.poll(id).await.outcome, PollOutcome::Polled);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reauthorization_failures_change_nothing() {
    each_backend(async |w: World| {
        let (id, _, _) = w.register().await;
        let path = format!("/instances/{id}/reauthorize");
        let before = w.secrets_of(id).await.expect("secrets").tokens;

        // Unknown instance, another organization's instance: 404 (before any exchange).
        let code = w.code();
        let unknown = w
            .call(
                "POST",
                "/instances/999999/reauthorize",
                Some(ACME),
                code_body(&code),
            )
            .await;
        assert_eq!(unknown.status, 404, "{}", unknown.body);
        let foreign = w.call("POST", &path, Some(GLOBEX), code_body(&code)).await;
        assert_eq!(foreign.status, 404, "{}", foreign.body);
        let none = w.call("POST", &path, None, code_body(&code)).await;
        assert_eq!(none.status, 401);

        // Bodies that carry no code, or more than a code.
        for (body, field) in [
            (json!({}), Some("providerData.code")),
            (
                json!({"providerData": {"code": ""}}),
                Some("providerData.code"),
            ),
            (
                json!({"providerData": {"code": code}, "configuration": {"oauth.api.key": "x"}}),
                Some("configuration"),
            ),
        ] {
            let answer = w.call("POST", &path, Some(ACME), body.to_string()).await;
            assert_eq!((answer.status, answer.field()), (400, field), "{body}");
        }
        let garbage = w.call("POST", &path, Some(ACME), "{not json").await;
        assert_eq!(garbage.status, 400);
        let huge = w
            .call("POST", &path, Some(ACME), vec![b' '; 256 * 1024 + 1])
            .await;
        assert_eq!(huge.status, 413);

        // A code issued for another redirect URI: 422.
        let other = w
            .sim
            .issue_code(sage_sim::DEFAULT_CLIENT_ID, "https://elsewhere.example");
        let refused = w.call("POST", &path, Some(ACME), code_body(&other)).await;
        assert_eq!(
            (refused.status, refused.field()),
            (422, Some("providerData.code"))
        );

        // Sage's token endpoint keeps failing: 502, after retrying.
        w.sim.inject(FaultRule::new(
            Fault::ServerError(503),
            FaultTarget::Token,
            100,
        ));
        let down = w
            .call("POST", &path, Some(ACME), code_body(&w.code()))
            .await;
        assert_eq!(down.status, 502, "{}", down.body);
        w.sim.clear_faults();

        // The secret store loses the write: 503, the new grant is revoked, the old
        // tokens stay and still work.
        w.faults.fail(Some(Step::SecretPutLost));
        let revocations = w.revocations();
        let lost = w
            .call("POST", &path, Some(ACME), code_body(&w.code()))
            .await;
        w.faults.fail(None);
        assert_eq!(lost.status, 503, "{}", lost.body);
        assert_eq!(
            w.revocations(),
            revocations + 1,
            "the unstored grant is revoked"
        );

        let after = w.secrets_of(id).await.expect("secrets").tokens;
        assert_eq!(after.refresh_token.expose(), before.refresh_token.expose());
        let record = w.ports.instances.get(id).await.unwrap().expect("record");
        assert!(record.valid);
        assert_eq!(w.poll(id).await.outcome, PollOutcome::Polled);

        // The write lands but is answered with an error: the stored tokens are the new
        // ones, so re-authorization completes and nothing stored is revoked.
        let before = w.secrets_of(id).await.expect("secrets").tokens;
        w.faults.fail(Some(Step::SecretPutUnconfirmed));
        let unconfirmed = w
            .call("POST", &path, Some(ACME), code_body(&w.code()))
            .await;
        w.faults.fail(None);
        assert_eq!(unconfirmed.status, 200, "{}", unconfirmed.body);
        let after = w.secrets_of(id).await.expect("secrets").tokens;
        assert_ne!(after.refresh_token.expose(), before.refresh_token.expose());
        assert_eq!(w.poll(id).await.outcome, PollOutcome::Polled);
    })
    .await;
}

//! The serverless bundle end to end: the three BUILT Lambda binaries, each under a
//! Lambda Runtime API double with exactly the environment `template.yaml` gives it,
//! against moto_server (DynamoDB, SQS, Secrets Manager, Scheduler — resources created
//! from the template's definitions), the Sage simulator and the verifying receiver.
//!
//! What only a real AWS account can show is not here: IAM enforcement of the template's
//! policies, EventBridge Scheduler actually firing, the SQS event source mapping's own
//! polling and scaling (this suite plays the mapping's part by hand), API Gateway itself.

mod support;

use base64::Engine;
use callback_receiver::Reply;
use sage_events_core::secret::Secret;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use support::stack::{Options, Stack, http_event, put_credentials};
use support::{assert_no_secret, receive, settle_batch, sqs_event, strings_of};

type Events = BTreeSet<(String, String)>;

fn events_of(body: &Value) -> Events {
    body.pointer("/message/events")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["eventType"].as_str().unwrap_or("?").to_owned(),
                e["objectId"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect()
}

/// Two customers that exist before registration; after it, two created, one of the
/// earlier ones updated and the other deleted. Returns the events Sage should cause.
fn changes_before_and_after(stack: &Stack) -> (Vec<String>, impl FnOnce() -> Events + '_) {
    let long_ago = stack.sim.now() - chrono_minutes(10);
    let existing: Vec<String> = ["Existing A", "Existing B"]
        .iter()
        .map(|name| {
            stack.sim.create_at(
                "contacts",
                json!({"name": name, "contact_types": ["CUSTOMER"]}),
                long_ago,
            )
        })
        .collect();
    let after = existing.clone();
    let make_changes = move || {
        stack.sim.advance(chrono_seconds(2));
        let a = stack.sim.create(
            "contacts",
            json!({"name": "New 1", "contact_types": ["CUSTOMER"]}),
        );
        let b = stack.sim.create(
            "contacts",
            json!({"name": "New 2", "contact_types": ["CUSTOMER"]}),
        );
        assert!(
            stack
                .sim
                .update("contacts", &after[0], json!({"name": "Renamed A"}))
        );
        assert!(stack.sim.delete("contacts", &after[1]));
        [
            ("CREATED", a),
            ("CREATED", b),
            ("UPDATED", after[0].clone()),
            ("DELETED", after[1].clone()),
        ]
        .into_iter()
        .map(|(k, id)| (k.to_owned(), id))
        .collect()
    };
    (existing, make_changes)
}

fn chrono_minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

fn chrono_seconds(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

/// POST the seed body; returns `(id, token, signature key, grant code)`.
async fn register(stack: &Stack, refresh_minutes: u32) -> (u64, String, String, String) {
    let (body, code) = stack.seed_body(refresh_minutes);
    let (status, created) = stack
        .api(
            "POST",
            "/instances",
            Some(&stack.authorization()),
            Some(&body.to_string()),
        )
        .await;
    assert_eq!(status, 200, "{created}\n{}", stack.registration.output());
    let id = created["id"].as_u64().expect("id");
    let token = created["token"].as_str().expect("token").to_owned();
    let key = created["configuration"]["event.notification.signature.key"]
        .as_str()
        .expect("signature key shown once")
        .to_owned();
    stack.receiver.set_key(Secret::new(key.clone()));
    (id, token, key, code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn register_schedule_poll_deliver_retry_read_and_delete_with_no_secret_in_any_log() {
    let stack = Stack::start(
        Options::default()
            // Every log line the functions can write, so the scan below covers them all.
            .param("LogLevel", "trace")
            // A one-second first retry keeps the retry step short.
            .param("RetrySchedule", "1,2,43200"),
    )
    .await;
    stack.report_init_times("flow");
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let (_existing, make_changes) = changes_before_and_after(&stack);

    // 1. POST /instances with the seed body.
    let (id, token, signature_key, grant_code) = register(&stack, 15).await;

    // 2. The schedule: the poller as target, the instance in its input, the interval's rate.
    let schedule = aws_sdk_scheduler::Client::new(&stack.sdk)
        .get_schedule()
        .group_name(&stack.schedule_group)
        .name(sage_events_core::aws::schedule_name(id))
        .send()
        .await
        .expect("the instance's schedule exists");
    assert_eq!(schedule.schedule_expression(), Some("rate(15 minutes)"));
    let target = schedule.target().expect("schedule target");
    assert_eq!(target.arn(), stack.poller_arn);
    assert_eq!(target.role_arn(), stack.scheduler_role_arn);
    let input = target.input().expect("schedule input").to_owned();
    let input: Value = serde_json::from_str(&input).expect("schedule input is JSON");
    assert_eq!(input["instanceId"], id);

    // 3. Changes at Sage, 4. the poller invoked with exactly the schedule's input.
    let expected = make_changes();
    let polled = stack.poller.invoke(&input).await.expect("poller answered");
    let summary = polled
        .json()
        .unwrap_or_else(|| panic!("{:?}\n{}", polled.outcome, stack.poller.output()));
    assert_eq!(summary["instanceId"], id, "{summary}");

    // 5. The queue as the template declares it; its message, as the event source
    //    mapping hands it over, to delivery — whose first POST gets a 503.
    let visibility = sqs
        .get_queue_attributes()
        .queue_url(&stack.event_queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout)
        .send()
        .await
        .expect("queue attributes");
    assert_eq!(
        visibility
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout))
            .map(String::as_str),
        Some(
            stack
                .template_property("EventQueue", "VisibilityTimeout")
                .as_str()
        )
    );
    let messages = receive(&stack.sdk, &stack.event_queue_url, Duration::from_secs(2)).await;
    assert_eq!(messages.len(), 1, "four events make one notification");
    stack.receiver.script([Reply::Status(503)]);
    let batch = sqs_event(&messages, &stack.event_queue_arn);
    let first = stack
        .delivery
        .invoke(&batch)
        .await
        .expect("delivery answered");
    let first = first
        .json()
        .unwrap_or_else(|| panic!("{:?}\n{}", first.outcome, stack.delivery.output()));
    let failed = settle_batch(&stack.sdk, &stack.event_queue_url, &messages, &first).await;
    assert_eq!(
        failed,
        [messages[0].message_id().expect("id").to_owned()],
        "the 503 is a batch item failure: {first}"
    );

    // 6. The retry visibility delivery set (1 s ± 20 %, not the queue's 360 s).
    let failed_at = Instant::now();
    assert!(
        receive(&stack.sdk, &stack.event_queue_url, Duration::ZERO)
            .await
            .is_empty(),
        "the failed message is hidden until its retry time"
    );
    let mut retry = Vec::new();
    while retry.is_empty() && failed_at.elapsed() < Duration::from_secs(10) {
        retry = receive(&stack.sdk, &stack.event_queue_url, Duration::from_secs(1)).await;
    }
    let hidden_for = failed_at.elapsed();
    assert_eq!(retry.len(), 1, "the message came back for its retry");
    assert!(
        hidden_for >= Duration::from_millis(500) && hidden_for < Duration::from_secs(10),
        "hidden for {hidden_for:?}"
    );
    assert_eq!(
        retry[0]
            .attributes()
            .and_then(
                |a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
            )
            .map(String::as_str),
        Some("2")
    );
    let second = stack
        .delivery
        .invoke(&sqs_event(&retry, &stack.event_queue_arn))
        .await
        .expect("delivery answered");
    let second = second.json().expect("batch response");
    assert!(
        settle_batch(&stack.sdk, &stack.event_queue_url, &retry, &second)
            .await
            .is_empty(),
        "{second}"
    );

    // 7. The receiver: a 503 then a 200, one webhook-id, both signatures valid, exactly
    //    the created / updated / deleted set.
    let received = stack.receiver.received();
    assert_eq!(received.len(), 2, "{received:?}");
    assert_eq!(received[0].status, 503);
    assert_eq!(received[1].status, 200);
    assert!(received[0].webhook_id.is_some());
    assert_eq!(
        received[0].webhook_id, received[1].webhook_id,
        "same webhook-id on retry"
    );
    assert!(
        received.iter().all(|r| r.verified),
        "{:?}",
        received.iter().map(|r| &r.verify_error).collect::<Vec<_>>()
    );
    assert_eq!(events_of(&received[1].json()), expected);

    // 8. GET shows the poll and delivery status.
    let (status, instance) = stack
        .api(
            "GET",
            &format!("/instances/{id}"),
            Some(&stack.authorization()),
            None,
        )
        .await;
    assert_eq!(status, 200, "{instance}");
    assert_eq!(instance["pollStatus"]["totalEvents"], 4, "{instance}");
    assert!(
        instance["pollStatus"]["lastSuccessAt"].is_string(),
        "{instance}"
    );
    assert!(
        instance["deliveryStatus"]["lastDeliveryAt"].is_string(),
        "{instance}"
    );
    assert_eq!(
        instance["deliveryStatus"]["consecutiveFailures"], 0,
        "{instance}"
    );

    // The instance's secret document (tokens Sage issued), for the log scan below.
    let prefix = &stack.parameters["SecretPrefix"];
    let secrets_manager = aws_sdk_secretsmanager::Client::new(&stack.sdk);
    let document = secrets_manager
        .get_secret_value()
        .secret_id(format!("{prefix}{id}"))
        .send()
        .await
        .expect("instance secret")
        .secret_string()
        .expect("string")
        .to_owned();
    let mut instance_secrets = Vec::new();
    strings_of(
        &serde_json::from_str(&document).expect("JSON"),
        &mut instance_secrets,
    );

    // 9. DELETE removes schedule, secret and items, and revokes at Sage.
    let (status, _) = stack
        .api(
            "DELETE",
            &format!("/instances/{id}"),
            Some(&stack.authorization()),
            None,
        )
        .await;
    assert!((200..300).contains(&status), "DELETE answered {status}");
    let schedule = aws_sdk_scheduler::Client::new(&stack.sdk)
        .get_schedule()
        .group_name(&stack.schedule_group)
        .name(sage_events_core::aws::schedule_name(id))
        .send()
        .await;
    assert!(schedule.is_err(), "schedule left: {schedule:?}");
    let secret = secrets_manager
        .get_secret_value()
        .secret_id(format!("{prefix}{id}"))
        .send()
        .await;
    assert!(secret.is_err(), "instance secret left");
    let items = aws_sdk_dynamodb::Client::new(&stack.sdk)
        .query()
        .table_name(&stack.table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("INSTANCE#{id}")),
        )
        .send()
        .await
        .expect("query");
    assert_eq!(items.count(), 0, "items left: {:?}", items.items());
    assert!(
        stack
            .sim
            .requests()
            .iter()
            .any(|r| r.path == "/revoke" && r.status == 200),
        "the Sage grant was revoked"
    );

    // No secret in any function's output, at LOG_LEVEL=trace.
    let logs = stack.all_output();
    assert!(
        logs.lines().count() > 10,
        "trace logging produced too little to be a meaningful scan:\n{logs}"
    );
    let mut secrets = vec![
        ("organization secret", stack.organization_secret.clone()),
        ("user secret", stack.user_secret.clone()),
        (
            "OAuth client secret",
            sage_sim::DEFAULT_CLIENT_SECRET.to_owned(),
        ),
        ("grant code", grant_code),
        ("instance token", token),
        ("signing key", signature_key.clone()),
    ];
    if let Some(raw) = signature_key.strip_prefix("whsec_") {
        secrets.push(("signing key (raw)", raw.to_owned()));
    }
    for value in instance_secrets.into_iter().filter(|v| v.len() >= 16) {
        secrets.push(("a value of the instance secret", value));
    }
    assert_no_secret(&logs, &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn poll_now_invokes_the_poller_binary_through_the_lambda_invoke_api() {
    let stack = Stack::start(Options::default()).await;
    stack.report_init_times("poll now");
    let (_existing, make_changes) = changes_before_and_after(&stack);
    let (id, _, _, _) = register(&stack, 1).await;
    let expected = make_changes();

    let (status, body) = stack
        .api(
            "POST",
            &format!("/instances/{id}/poll"),
            Some(&stack.authorization()),
            None,
        )
        .await;
    assert_eq!(status, 202, "{body}\n{}", stack.registration.output());
    let calls = stack
        .invoke_api
        .wait_finished(1, Duration::from_secs(30))
        .await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].function, stack.poller_arn);
    assert_eq!(
        calls[0].invocation_type, "Event",
        "asynchronous, as schedules are"
    );
    let payload: Value = serde_json::from_slice(&calls[0].payload).expect("JSON payload");
    assert_eq!(payload, json!({"instanceId": id}), "the schedule's input");
    let summary = calls[0]
        .result
        .as_ref()
        .and_then(|r| r.json())
        .unwrap_or_else(|| panic!("{calls:?}\n{}", stack.poller.output()));
    assert_eq!(summary["instanceId"], id, "{summary}");

    let messages = receive(&stack.sdk, &stack.event_queue_url, Duration::from_secs(2)).await;
    let events: Events = messages
        .iter()
        .flat_map(|m| {
            // The queued notification carries the webhook body as a string.
            let queued: Value =
                serde_json::from_str(m.body().unwrap_or("null")).expect("queued JSON");
            let body = queued["body"].as_str().expect("notification body");
            events_of(&serde_json::from_str(body).expect("webhook JSON"))
        })
        .collect();
    assert_eq!(
        events,
        expected,
        "{} message(s); poll summary {summary}",
        messages.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_events_get_a_4xx_json_answer_and_the_function_keeps_serving() {
    let stack = Stack::start(Options::default().param("LogLevel", "trace")).await;
    stack.report_init_times("malformed");
    let auth = stack.authorization();
    let valid = http_event("GET", "/instances", Some(&auth), None);
    let mut no_headers = valid.clone();
    no_headers
        .as_object_mut()
        .expect("object")
        .remove("headers");
    let mut bad_base64 = http_event(
        "POST",
        "/instances",
        Some(&auth),
        Some("%%% not base64 %%%"),
    );
    bad_base64["isBase64Encoded"] = json!(true);
    let mut base64_bad_json = http_event(
        "POST",
        "/instances",
        Some(&auth),
        Some(&base64::engine::general_purpose::STANDARD.encode("{\"element\": ")),
    );
    base64_bad_json["isBase64Encoded"] = json!(true);
    let mut no_context = valid.clone();
    no_context
        .as_object_mut()
        .expect("object")
        .remove("requestContext");
    let cases: Vec<(&str, Value, u16)> = vec![
        ("no headers at all (no credentials)", no_headers, 401),
        (
            "bad JSON body",
            http_event("POST", "/instances", Some(&auth), Some("{\"element\": ")),
            400,
        ),
        (
            "empty body",
            http_event("POST", "/instances", Some(&auth), Some("")),
            400,
        ),
        (
            "no body",
            http_event("POST", "/instances", Some(&auth), None),
            400,
        ),
        (
            "isBase64Encoded with a body that is not base64",
            bad_base64,
            400,
        ),
        ("base64 of bad JSON", base64_bad_json, 400),
        (
            "unknown route",
            http_event("GET", "/nothing/here", Some(&auth), None),
            404,
        ),
        (
            "wrong method",
            http_event("PUT", "/instances", Some(&auth), None),
            405,
        ),
        (
            "non-numeric id",
            http_event("GET", "/instances/abc", Some(&auth), None),
            400,
        ),
        ("not an HTTP event at all", json!({"instanceId": 1}), 400),
        ("an empty object", json!({}), 400),
        ("JSON null", Value::Null, 400),
        ("a JSON array", json!([1, 2, 3]), 400),
        ("no request context", no_context, 400),
    ];
    let mut wrong = Vec::new();
    for (what, event, expected) in &cases {
        let (status, body) = stack.api_event(event).await;
        let has_message = body["message"].as_str().is_some_and(|m| !m.is_empty());
        if !(400..500).contains(&status) || !has_message || status != *expected {
            wrong.push(format!("{what}: {status} {body} (expected {expected})"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Still the same process, still serving.
    let mut registration = stack.registration;
    assert!(registration.is_running(), "{}", registration.output());
    let result = registration.invoke(&valid).await.expect("answered");
    let response = result.json().expect("an HTTP response");
    assert_eq!(response["statusCode"], 200, "{response}");
    assert!(
        !registration.output().contains(&stack.organization_secret)
            && !registration.output().contains(&stack.user_secret),
        "credentials reached the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn api_credentials_are_read_on_demand_and_a_rotation_reaches_a_warm_function() {
    // No credentials secret yet: init must not need it (no Secrets Manager call in a
    // cold start), and a request without it is a 503, not a crash.
    let stack = Stack::start(
        Options {
            skip_credentials_secret: true,
            ..Options::default()
        }
        .param("ApiCredentialsTtlSeconds", "1"),
    )
    .await;
    stack.report_init_times("rotation");
    let old = stack.authorization();
    let (status, body) = stack.api("GET", "/instances", Some(&old), None).await;
    assert_eq!(status, 503, "{body}");

    put_credentials(
        &stack.sdk,
        &stack.credentials_secret,
        &stack.organization_secret,
        &stack.user_secret,
        true,
    )
    .await;
    let (status, body) = stack.api("GET", "/instances", Some(&old), None).await;
    assert_eq!(status, 200, "{body}");

    // Rotate while the function is warm.
    let (new_org, new_user) = (
        "rotated-org-secret-0123456789",
        "rotated-user-secret-0123456789",
    );
    put_credentials(
        &stack.sdk,
        &stack.credentials_secret,
        new_org,
        new_user,
        false,
    )
    .await;
    let new = format!("User {new_user}, Organization {new_org}");
    // Within the TTL (1 s here, at most 60 s in a deployment) the new ones work and the
    // old ones stop working.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = (0, Value::Null);
    while Instant::now() < deadline {
        last = stack.api("GET", "/instances", Some(&new), None).await;
        if last.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(last.0, 200, "new credentials refused: {}", last.1);
    let (status, body) = stack.api("GET", "/instances", Some(&old), None).await;
    assert_eq!(status, 401, "old credentials still accepted: {body}");
}

//! The callback HTTP client against a real loopback receiver.

use callback_receiver::{Receiver, Reply};
use sage_events_core::delivery::sender::{CallbackSender, SendOutcome};
use sage_events_core::secret::Secret;
use sage_events_core::signature::SignedHeaders;
use sage_events_core::ssrf::AddressPolicy;
use std::time::{Duration, Instant};

const LOOPBACK_OK: AddressPolicy = AddressPolicy {
    allow_loopback: true,
};

fn signed(key: &Secret, body: &[u8]) -> Vec<(String, String)> {
    let now = chrono::Utc::now().timestamp();
    SignedHeaders::new(key, "msg_test", now, body)
        .to_pairs()
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v))
        .collect()
}

#[tokio::test]
async fn delivers_with_signatures_the_receiver_verifies() {
    let receiver = Receiver::start().await.unwrap();
    let key = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    receiver.set_key(key.clone());
    let sender = CallbackSender::new(LOOPBACK_OK, Duration::from_secs(5)).unwrap();
    let body = br#"{"message":{"eventId":"msg_test"}}"#;
    let outcome = sender
        .send(&receiver.url("/hook"), &signed(&key, body), body)
        .await;
    assert_eq!(outcome, SendOutcome::Delivered { status: 200 });
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].verified, "{:?}", got[0].verify_error);
    assert_eq!(got[0].body, body);
    assert_eq!(got[0].webhook_id.as_deref(), Some("msg_test"));
    let content_type = got[0]
        .headers
        .iter()
        .find(|(n, _)| n == "content-type")
        .map(|(_, v)| v.as_str());
    assert_eq!(content_type, Some("application/json"));
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let receiver = Receiver::start().await.unwrap();
    receiver.script([Reply::Redirect(302, receiver.url("/elsewhere"))]);
    let sender = CallbackSender::new(LOOPBACK_OK, Duration::from_secs(5)).unwrap();
    let outcome = sender.send(&receiver.url("/hook"), &[], b"{}").await;
    match outcome {
        SendOutcome::Failed(f) => assert_eq!(f.status, Some(302)),
        other => panic!("expected failure, got {other:?}"),
    }
    let paths: Vec<String> = receiver.received().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        vec!["/hook".to_owned()],
        "the redirect target must not be requested"
    );
}

#[tokio::test]
async fn gone_retry_after_and_server_errors() {
    let receiver = Receiver::start().await.unwrap();
    receiver.script([
        Reply::Status(410),
        Reply::StatusRetryAfter(429, 30),
        Reply::Status(503),
    ]);
    let sender = CallbackSender::new(LOOPBACK_OK, Duration::from_secs(5)).unwrap();
    let url = receiver.url("/hook");
    assert_eq!(
        sender.send(&url, &[], b"{}").await,
        SendOutcome::Gone { status: 410 }
    );
    match sender.send(&url, &[], b"{}").await {
        SendOutcome::Failed(f) => {
            assert_eq!(f.status, Some(429));
            assert_eq!(f.retry_after, Some(Duration::from_secs(30)));
        }
        other => panic!("{other:?}"),
    }
    match sender.send(&url, &[], b"{}").await {
        SendOutcome::Failed(f) => assert_eq!(f.status, Some(503)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn timeout_is_honoured() {
    let receiver = Receiver::start().await.unwrap();
    receiver.script([Reply::Slow(Duration::from_secs(3))]);
    let sender = CallbackSender::new(LOOPBACK_OK, Duration::from_millis(300)).unwrap();
    let started = Instant::now();
    let outcome = sender.send(&receiver.url("/hook"), &[], b"{}").await;
    let elapsed = started.elapsed();
    match outcome {
        SendOutcome::Failed(f) => {
            assert_eq!(f.status, None);
            assert!(f.reason.contains("timed out"), "{}", f.reason);
        }
        other => panic!("{other:?}"),
    }
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
}

#[tokio::test]
async fn loopback_refused_unless_allowed_by_name_and_by_literal() {
    let receiver = Receiver::start().await.unwrap();
    let strict = CallbackSender::new(AddressPolicy::default(), Duration::from_secs(5)).unwrap();
    let port = receiver.addr().port();
    for url in [
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://localhost:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
    ] {
        match strict.send(&url, &[], b"{}").await {
            SendOutcome::Failed(f) => assert!(f.reason.contains("refused"), "{url}: {}", f.reason),
            other => panic!("{url}: {other:?}"),
        }
    }
    assert!(
        receiver.received().is_empty(),
        "nothing may reach a refused address"
    );
}

#[tokio::test]
async fn private_and_link_local_literals_refused_without_connecting() {
    let strict = CallbackSender::new(LOOPBACK_OK, Duration::from_secs(5)).unwrap();
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/hook",
        "http://[fd00:ec2::254]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://[fe80::1]/",
    ] {
        match strict.send(url, &[], b"{}").await {
            SendOutcome::Failed(f) => assert!(f.reason.contains("refused"), "{url}: {}", f.reason),
            other => panic!("{url}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_name_resolving_to_a_private_address_is_refused() {
    use sage_events_core::delivery::sender::StaticLookup;
    let receiver = Receiver::start().await.unwrap();
    let port = receiver.addr().port();
    let mut table = std::collections::HashMap::new();
    table.insert(
        "hooks.example.com".to_owned(),
        vec!["10.1.2.3".parse().unwrap()],
    );
    table.insert(
        "mixed.example.com".to_owned(),
        vec![
            "127.0.0.1".parse().unwrap(),
            "169.254.169.254".parse().unwrap(),
        ],
    );
    table.insert(
        "fine.example.com".to_owned(),
        vec!["127.0.0.1".parse().unwrap()],
    );
    let sender = CallbackSender::with_lookup(
        LOOPBACK_OK,
        Duration::from_secs(5),
        std::sync::Arc::new(StaticLookup(table)),
    )
    .unwrap();
    for host in ["hooks.example.com", "mixed.example.com"] {
        match sender
            .send(&format!("http://{host}:{port}/hook"), &[], b"{}")
            .await
        {
            SendOutcome::Failed(f) => assert!(f.reason.contains("refused"), "{host}: {}", f.reason),
            other => panic!("{host}: {other:?}"),
        }
    }
    assert!(receiver.received().is_empty());
    // The vetted address is the one connected to.
    let outcome = sender
        .send(&format!("http://fine.example.com:{port}/hook"), &[], b"{}")
        .await;
    assert_eq!(outcome, SendOutcome::Delivered { status: 200 });
    assert_eq!(receiver.received().len(), 1);
}

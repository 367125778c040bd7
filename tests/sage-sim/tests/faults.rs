//! Injected faults, the request log, and shutting the server down.

mod common;

use chrono::TimeDelta;
use common::*;
use sage_sim::{DEFAULT_CLIENT_ID, Fault, FaultRule, FaultTarget, RetryAfter, SageSim, SimConfig};
use std::time::{Duration, Instant};

#[tokio::test]
async fn rate_limits_answer_429_with_or_without_retry_after() {
    let sim = frozen_sim().await;
    let (token, _) = login(&sim).await;
    let at = start_time() + TimeDelta::seconds(30);
    sim.inject(FaultRule::new(
        Fault::RateLimited {
            retry_after: Some(RetryAfter::Seconds(7)),
        },
        FaultTarget::AnyApi,
        1,
    ));
    sim.inject(FaultRule::new(
        Fault::RateLimited {
            retry_after: Some(RetryAfter::HttpDate(at)),
        },
        FaultTarget::AnyApi,
        1,
    ));
    sim.inject(FaultRule::new(
        Fault::RateLimited { retry_after: None },
        FaultTarget::AnyApi,
        1,
    ));

    let first = get(&sim, &token, "/contacts").await;
    assert_eq!(first.status, 429);
    assert_eq!(first.headers["retry-after"], "7");
    assert_eq!(first.body[0]["$severity"], "error");
    let second = get(&sim, &token, "/contacts").await;
    assert_eq!(second.status, 429);
    assert_eq!(
        second.headers["retry-after"],
        "Tue, 13 Jun 2023 10:41:25 GMT"
    );
    let third = get(&sim, &token, "/contacts").await;
    assert_eq!(third.status, 429);
    assert!(third.headers.get("retry-after").is_none());
    assert_eq!(
        get(&sim, &token, "/contacts").await.status,
        200,
        "rules used up"
    );
}

#[test]
fn an_http_date_with_a_fraction_rounds_up() {
    let at = start_time() + TimeDelta::milliseconds(100);
    assert_eq!(
        RetryAfter::HttpDate(at).header_value(),
        "Tue, 13 Jun 2023 10:40:56 GMT"
    );
    assert_eq!(
        RetryAfter::HttpDate(start_time()).header_value(),
        "Tue, 13 Jun 2023 10:40:55 GMT"
    );
    assert_eq!(RetryAfter::Seconds(0).header_value(), "0");
}

#[tokio::test]
async fn server_errors_carry_the_status_and_unexpected_error() {
    let sim = frozen_sim().await;
    let (token, _) = login(&sim).await;
    sim.inject(FaultRule::new(
        Fault::ServerError(503),
        FaultTarget::AnyApi,
        2,
    ));
    for _ in 0..2 {
        let answer = get(&sim, &token, "/contacts").await;
        assert_eq!(
            (answer.status, answer.data_code()),
            (503, "UnexpectedError")
        );
    }
    assert_eq!(get(&sim, &token, "/contacts").await.status, 200);
}

#[tokio::test]
async fn faults_come_before_the_token_check() {
    let sim = frozen_sim().await;
    sim.inject(FaultRule::new(
        Fault::ServerError(500),
        FaultTarget::AnyApi,
        1,
    ));
    assert_eq!(get(&sim, "no-token", "/contacts").await.status, 500);
    assert_eq!(get(&sim, "no-token", "/contacts").await.status, 401);
}

#[tokio::test]
async fn slow_answers_wait_then_answer_normally() {
    let sim = frozen_sim().await;
    let (token, _) = login(&sim).await;
    sim.inject(FaultRule::new(
        Fault::Slow(Duration::from_millis(300)),
        FaultTarget::AnyApi,
        1,
    ));
    let started = Instant::now();
    let answer = get(&sim, &token, "/contacts").await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(answer.status, 200);
    let started = Instant::now();
    get(&sim, &token, "/contacts").await;
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn a_client_that_gives_up_on_a_slow_answer_is_still_logged() {
    let sim = frozen_sim().await;
    let (token, _) = login(&sim).await;
    sim.clear_requests();
    sim.inject(FaultRule::new(
        Fault::Slow(Duration::from_millis(400)),
        FaultTarget::AnyApi,
        1,
    ));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let err = client
        .get(format!("{}/contacts", sim.api_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = sim.requests();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].status, log[0].fault), (200, Some("Slow")));
}

#[tokio::test]
async fn a_dropped_connection_breaks_the_body() {
    let sim = frozen_sim().await;
    sim.seed("contacts", 3);
    let (token, _) = login(&sim).await;
    sim.inject(FaultRule::new(
        Fault::DropConnection,
        FaultTarget::AnyApi,
        1,
    ));
    let outcome = match send_get(&sim, &token, "/contacts").await {
        Ok(response) => response.bytes().await.map(|_| ()),
        Err(e) => Err(e),
    };
    let err = outcome.expect_err("the body must break");
    assert!(
        err.is_body() || err.is_request() || err.is_decode(),
        "{err:?}"
    );
    let answer = get(&sim, &token, "/contacts").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.ids().len(), 3);
    let logged = sim.requests();
    let dropped = logged
        .iter()
        .find(|r| r.fault == Some("DropConnection"))
        .unwrap();
    assert_eq!(dropped.path, "/contacts");
}

#[tokio::test]
async fn unauthorized_ignores_a_valid_token() {
    let sim = frozen_sim().await;
    let (token, _) = login(&sim).await;
    sim.inject(FaultRule::new(Fault::Unauthorized, FaultTarget::AnyApi, 1));
    let answer = get(&sim, &token, "/contacts").await;
    assert_eq!(
        (answer.status, answer.data_code()),
        (401, "AuthorizationFailure")
    );
    assert_eq!(get(&sim, &token, "/contacts").await.status, 200);
}

#[tokio::test]
async fn page_targets_hit_only_that_page_of_lists() {
    let sim = frozen_sim().await;
    sim.seed("contacts", 50);
    let (token, _) = login(&sim).await;
    sim.inject(FaultRule::new(
        Fault::ServerError(502),
        FaultTarget::Page(2),
        1,
    ));
    sim.inject(FaultRule::new(
        Fault::ServerError(504),
        FaultTarget::Page(1),
        1,
    ));
    let id = sim.seed("contacts", 1).remove(0);
    assert_eq!(
        get(&sim, &token, &format!("/contacts/{id}")).await.status,
        200,
        "not a list"
    );
    assert_eq!(get(&sim, &token, "/contacts?page=3").await.status, 200);
    assert_eq!(get(&sim, &token, "/contacts?page=2").await.status, 502);
    assert_eq!(get(&sim, &token, "/contacts?page=2").await.status, 200);
    assert_eq!(
        get(&sim, &token, "/contacts").await.status,
        504,
        "no page means page 1"
    );
}

#[tokio::test]
async fn path_targets_hit_only_that_path() {
    let sim = frozen_sim().await;
    let (token, _) = login(&sim).await;
    sim.inject(FaultRule::new(
        Fault::ServerError(500),
        FaultTarget::Path("/products".into()),
        1,
    ));
    assert_eq!(get(&sim, &token, "/contacts").await.status, 200);
    assert_eq!(get(&sim, &token, "/products?page=1").await.status, 500);
    assert_eq!(get(&sim, &token, "/products").await.status, 200);
    sim.inject(FaultRule::new(
        Fault::ServerError(500),
        FaultTarget::Path("/v3.1/services".into()),
        1,
    ));
    assert_eq!(get(&sim, &token, "/services").await.status, 500);
}

#[tokio::test]
async fn token_faults_leave_the_code_usable_and_are_logged_with_the_grant_type() {
    let sim = frozen_sim().await;
    sim.inject(FaultRule::new(
        Fault::ServerError(503),
        FaultTarget::Token,
        1,
    ));
    let code = sim.issue_code(DEFAULT_CLIENT_ID, REDIRECT_URI);
    assert_eq!(exchange(&sim, &code, REDIRECT_URI).await.status, 503);
    assert_eq!(exchange(&sim, &code, REDIRECT_URI).await.status, 200);
    let log = sim.requests();
    let statuses: Vec<(u16, Option<&str>)> = log
        .iter()
        .map(|r| (r.status, r.grant_type.as_deref()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (503, Some("authorization_code")),
            (200, Some("authorization_code"))
        ]
    );
    assert!(log.iter().all(|r| r.path == "/token" && r.method == "POST"));
}

#[tokio::test]
async fn api_faults_spare_the_token_endpoint_and_cleared_faults_are_gone() {
    let sim = frozen_sim().await;
    sim.inject(FaultRule::new(
        Fault::ServerError(500),
        FaultTarget::AnyApi,
        5,
    ));
    let (token, _) = login(&sim).await;
    sim.clear_faults();
    assert_eq!(get(&sim, &token, "/contacts").await.status, 200);
}

#[tokio::test]
async fn the_log_records_every_request_in_order() {
    let sim = frozen_sim().await;
    let (token, refresh_token) = login(&sim).await;
    sim.advance(TimeDelta::seconds(5));
    get(&sim, &token, "/contacts?items_per_page=5&attributes=all").await;
    get(&sim, "bad", "/contacts").await;
    refresh(&sim, &refresh_token).await;
    let log = sim.requests();
    let summary: Vec<(&str, &str, u16, Option<&str>)> = log
        .iter()
        .map(|r| {
            (
                r.method.as_str(),
                r.path.as_str(),
                r.status,
                r.grant_type.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("POST", "/token", 200, Some("authorization_code")),
            ("GET", "/contacts", 200, None),
            ("GET", "/contacts", 401, None),
            ("POST", "/token", 200, Some("refresh_token")),
        ]
    );
    assert_eq!(
        log[1].query,
        vec![
            ("items_per_page".to_owned(), "5".to_owned()),
            ("attributes".to_owned(), "all".to_owned())
        ]
    );
    assert_eq!(log[0].at, start_time());
    assert_eq!(log[1].at, start_time() + TimeDelta::seconds(5));
    assert!(log.iter().all(|r| r.fault.is_none()));
    sim.clear_requests();
    assert!(sim.requests().is_empty());
}

#[tokio::test]
async fn the_clock_follows_real_time_unless_frozen() {
    let real = SageSim::start(SimConfig::default()).await.unwrap();
    let before = chrono::Utc::now();
    real.advance(TimeDelta::hours(1));
    let now = real.now();
    assert!(now >= before + TimeDelta::hours(1));
    assert!(now < chrono::Utc::now() + TimeDelta::hours(1) + TimeDelta::seconds(1));
    let target = start_time();
    real.set_now(target);
    assert!((real.now() - target).abs() < TimeDelta::seconds(1));

    let frozen = frozen_sim().await;
    assert_eq!(frozen.now(), start_time());
    frozen.advance(TimeDelta::seconds(61));
    assert_eq!(frozen.now(), start_time() + TimeDelta::seconds(61));
}

#[tokio::test]
async fn shutdown_and_dropping_the_last_handle_stop_the_server() {
    let sim = frozen_sim().await;
    let url = format!("{}/contacts", sim.api_url());
    let clone = sim.clone();
    clone.shutdown();
    assert!(
        wait_until_refused(&url).await,
        "shutdown() stops the server"
    );

    let sim = frozen_sim().await;
    let url = format!("{}/contacts", sim.api_url());
    let clone = sim.clone();
    drop(sim);
    assert_eq!(
        get(&clone, "x", "/contacts").await.status,
        401,
        "a clone keeps it running"
    );
    drop(clone);
    assert!(
        wait_until_refused(&url).await,
        "dropping the last handle stops the server"
    );
}

async fn wait_until_refused(url: &str) -> bool {
    for _ in 0..50 {
        // A fresh client each time, so no pooled connection is reused.
        if reqwest::Client::new().get(url).send().await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

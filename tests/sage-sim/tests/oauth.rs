//! The simulator's OAuth endpoints behave like Sage's: single-use codes that expire,
//! rotating refresh tokens, revocation, and 401s for expired access tokens.

mod common;

use chrono::TimeDelta;
use common::*;
use sage_sim::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SageSim, SimConfig};

#[tokio::test]
async fn code_exchange_answers_like_sage() {
    let sim = frozen_sim().await;
    let code = sim.issue_code(DEFAULT_CLIENT_ID, REDIRECT_URI);
    let answer = exchange(&sim, &code, REDIRECT_URI).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body = &answer.body;
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["scope"], "full_access");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["refresh_token_expires_in"], 31 * 24 * 3600);
    let access = body["access_token"].as_str().unwrap();
    let refresh = body["refresh_token"].as_str().unwrap();
    assert!(access.len() >= 1000, "Sage's tokens are ~1300 chars");
    assert!(refresh.len() >= 1000);
    assert_ne!(access, refresh);
    let user = body["requested_by_id"].as_str().unwrap();
    assert_eq!(user.len(), 32);
    assert_eq!(answer.headers["cache-control"], "no-store");
}

#[tokio::test]
async fn lifetimes_come_from_the_config() {
    let sim = SageSim::start(SimConfig {
        access_token_ttl: std::time::Duration::from_secs(120),
        refresh_token_ttl: std::time::Duration::from_secs(3600),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let code = sim.issue_code(DEFAULT_CLIENT_ID, REDIRECT_URI);
    let answer = exchange(&sim, &code, REDIRECT_URI).await;
    assert_eq!(answer.body["expires_in"], 120);
    assert_eq!(answer.body["refresh_token_expires_in"], 3600);
}

#[tokio::test]
async fn a_code_is_single_use() {
    let sim = frozen_sim().await;
    let code = sim.issue_code(DEFAULT_CLIENT_ID, REDIRECT_URI);
    assert_eq!(exchange(&sim, &code, REDIRECT_URI).await.status, 200);
    let again = exchange(&sim, &code, REDIRECT_URI).await;
    assert_eq!(again.status, 400);
    assert_eq!(again.oauth_error(), "invalid_grant");
    assert!(again.body["error_description"].is_string());
}

#[tokio::test]
async fn a_code_expires_after_60_seconds_of_sim_time() {
    let sim = frozen_sim().await;
    let fresh = sim.issue_code(DEFAULT_CLIENT_ID, REDIRECT_URI);
    let stale = sim.issue_code(DEFAULT_CLIENT_ID, REDIRECT_URI);
    sim.advance(TimeDelta::seconds(59));
    assert_eq!(exchange(&sim, &fresh, REDIRECT_URI).await.status, 200);
    sim.advance(TimeDelta::seconds(2));
    let late = exchange(&sim, &stale, REDIRECT_URI).await;
    assert_eq!((late.status, late.oauth_error()), (400, "invalid_grant"));
}

#[tokio::test]
async fn the_redirect_uri_must_match_exactly_and_a_failed_try_uses_the_code() {
    let sim = frozen_sim().await;
    let code = sim.issue_code(DEFAULT_CLIENT_ID, REDIRECT_URI);
    let wrong = exchange(&sim, &code, &format!("{REDIRECT_URI}/")).await;
    assert_eq!((wrong.status, wrong.oauth_error()), (400, "invalid_grant"));
    let right = exchange(&sim, &code, REDIRECT_URI).await;
    assert_eq!((right.status, right.oauth_error()), (400, "invalid_grant"));
}

#[tokio::test]
async fn client_credentials_are_checked() {
    let sim = frozen_sim().await;
    for (id, secret) in [
        (DEFAULT_CLIENT_ID, "wrong-secret"),
        ("someone-else", DEFAULT_CLIENT_SECRET),
    ] {
        let code = sim.issue_code(DEFAULT_CLIENT_ID, REDIRECT_URI);
        let answer = post_token(
            &sim,
            &[
                ("client_id", id),
                ("client_secret", secret),
                ("code", &code),
                ("grant_type", "authorization_code"),
                ("redirect_uri", REDIRECT_URI),
            ],
        )
        .await;
        assert_eq!(
            (answer.status, answer.oauth_error()),
            (400, "invalid_client")
        );
        assert!(!answer.body.to_string().contains("wrong-secret"));
    }
}

#[tokio::test]
async fn malformed_token_requests_are_refused() {
    let sim = frozen_sim().await;
    let missing_code = post_token(
        &sim,
        &[
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("grant_type", "authorization_code"),
            ("redirect_uri", REDIRECT_URI),
        ],
    )
    .await;
    assert_eq!(
        (missing_code.status, missing_code.oauth_error()),
        (400, "invalid_request")
    );

    let password = post_token(
        &sim,
        &[
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("grant_type", "password"),
        ],
    )
    .await;
    assert_eq!(
        (password.status, password.oauth_error()),
        (400, "unsupported_grant_type")
    );

    // Sage wants a form; JSON is refused.
    let code = sim.issue_code(DEFAULT_CLIENT_ID, REDIRECT_URI);
    let json = http()
        .post(sim.token_url())
        .json(&serde_json::json!({
            "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET,
            "code": code, "grant_type": "authorization_code", "redirect_uri": REDIRECT_URI
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status().as_u16(), 400);
    let body: serde_json::Value = json.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn refresh_rotates_and_the_used_refresh_token_is_dead() {
    let sim = frozen_sim().await;
    let (access1, refresh1) = login(&sim).await;
    let second = refresh(&sim, &refresh1).await;
    assert_eq!(second.status, 200, "{}", second.body);
    let access2 = second.body["access_token"].as_str().unwrap().to_owned();
    let refresh2 = second.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh2, refresh1);
    assert_ne!(access2, access1);

    let reuse = refresh(&sim, &refresh1).await;
    assert_eq!((reuse.status, reuse.oauth_error()), (400, "invalid_grant"));
    assert_eq!(get(&sim, &access2, "/contacts").await.status, 200);
    assert_eq!(refresh(&sim, &refresh2).await.status, 200);
}

#[tokio::test]
async fn a_refresh_token_expires_after_its_lifetime() {
    let sim = frozen_sim().await;
    let (_, refresh1) = login(&sim).await;
    sim.advance(TimeDelta::days(31) - TimeDelta::seconds(1));
    let answer = refresh(&sim, &refresh1).await;
    assert_eq!(answer.status, 200);
    let refresh2 = answer.body["refresh_token"].as_str().unwrap().to_owned();
    // The new one has a full lifetime of its own.
    sim.advance(TimeDelta::days(31) + TimeDelta::seconds(1));
    let late = refresh(&sim, &refresh2).await;
    assert_eq!((late.status, late.oauth_error()), (400, "invalid_grant"));
}

#[tokio::test]
async fn an_expired_access_token_gets_sages_401() {
    let sim = frozen_sim().await;
    let (access, _) = login(&sim).await;
    sim.advance(TimeDelta::seconds(299));
    assert_eq!(get(&sim, &access, "/contacts").await.status, 200);
    sim.advance(TimeDelta::seconds(1));
    let answer = get(&sim, &access, "/contacts").await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.data_code(), "AuthorizationFailure");
    assert_eq!(answer.body[0]["$severity"], "error");
    assert!(answer.body[0]["$message"].is_string());
    assert_eq!(answer.body[0]["$source"], "");
}

#[tokio::test]
async fn api_calls_need_a_known_bearer_token() {
    let sim = frozen_sim().await;
    let unknown = get(&sim, "not-a-token", "/contacts").await;
    assert_eq!(
        (unknown.status, unknown.data_code()),
        (401, "AuthorizationFailure")
    );
    let none = http()
        .get(format!("{}/contacts", sim.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status().as_u16(), 401);
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_it_and_its_access_tokens() {
    let sim = frozen_sim().await;
    let (access, refresh_token) = login(&sim).await;
    let (other_access, _) = login(&sim).await;
    let answer = post_revoke(
        &sim,
        &[
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("token", &refresh_token),
        ],
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, serde_json::json!({"success": "ok"}));
    assert_eq!(
        refresh(&sim, &refresh_token).await.oauth_error(),
        "invalid_grant"
    );
    assert_eq!(get(&sim, &access, "/contacts").await.status, 401);
    // Another authorization is untouched.
    assert_eq!(get(&sim, &other_access, "/contacts").await.status, 200);
}

#[tokio::test]
async fn revoke_checks_the_client_and_accepts_unknown_tokens() {
    let sim = frozen_sim().await;
    let bad = post_revoke(
        &sim,
        &[
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", "nope"),
            ("token", "whatever"),
        ],
    )
    .await;
    assert_eq!((bad.status, bad.oauth_error()), (400, "invalid_client"));
    let unknown = post_revoke(
        &sim,
        &[
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("token", "never-issued"),
        ],
    )
    .await;
    assert_eq!(unknown.status, 200);
}

#[tokio::test]
async fn the_consent_page_redirects_with_a_usable_code() {
    let sim = frozen_sim().await;
    let response = http()
        .get(sim.authorize_url())
        .query(&[
            ("filter", "apiv3.1"),
            ("response_type", "code"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "full_access"),
            ("state", "xyz"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 302);
    let location = response.headers()["location"].to_str().unwrap();
    let url = url::Url::parse(location).unwrap();
    assert!(location.starts_with(REDIRECT_URI));
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let code = pairs.iter().find(|(k, _)| k == "code").unwrap().1.clone();
    assert!(pairs.contains(&("state".to_owned(), "xyz".to_owned())));
    assert!(pairs.contains(&("country".to_owned(), "GB".to_owned())));
    assert_eq!(exchange(&sim, &code, REDIRECT_URI).await.status, 200);
}

//! Helpers shared by the simulator's tests: a plain reqwest client speaking to it.

#![allow(dead_code)]

use reqwest::header::HeaderMap;
use sage_sim::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SageSim, SimConfig};
use serde_json::Value;

pub const REDIRECT_URI: &str = "https://mycoolapp.com/callback";

/// A simulator whose clock starts frozen at a known second.
pub async fn frozen_sim() -> SageSim {
    SageSim::start(SimConfig {
        start_time: Some(start_time()),
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts")
}

pub fn start_time() -> chrono::DateTime<chrono::Utc> {
    "2023-06-13T10:40:55Z".parse().expect("a valid time")
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client builds")
}

/// An answer: status, headers and the body as JSON (`Null` if it is not JSON).
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    async fn read(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body reads");
        Answer {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    /// The `$dataCode` of a Sage error array.
    pub fn data_code(&self) -> &str {
        self.body[0]["$dataCode"].as_str().unwrap_or("")
    }

    /// The `error` of an OAuth error.
    pub fn oauth_error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    pub fn ids(&self) -> Vec<String> {
        self.body["$items"]
            .as_array()
            .expect("an envelope with $items")
            .iter()
            .map(|i| i["id"].as_str().expect("an id").to_owned())
            .collect()
    }
}

/// POSTs a form to the token endpoint.
pub async fn post_token(sim: &SageSim, form: &[(&str, &str)]) -> Answer {
    let response = http()
        .post(sim.token_url())
        .header("Accept", "application/json")
        .form(form)
        .send()
        .await
        .expect("token request is answered");
    Answer::read(response).await
}

pub async fn post_revoke(sim: &SageSim, form: &[(&str, &str)]) -> Answer {
    let response = http()
        .post(sim.revoke_url())
        .form(form)
        .send()
        .await
        .expect("revoke request is answered");
    Answer::read(response).await
}

pub async fn exchange(sim: &SageSim, code: &str, redirect_uri: &str) -> Answer {
    post_token(
        sim,
        &[
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("code", code),
            ("grant_type", "authorization_code"),
            ("redirect_uri", redirect_uri),
        ],
    )
    .await
}

pub async fn refresh(sim: &SageSim, refresh_token: &str) -> Answer {
    post_token(
        sim,
        &[
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// Runs the code flow; returns (access token, refresh token).
pub async fn login(sim: &SageSim) -> (String, String) {
    let code = sim.issue_code(DEFAULT_CLIENT_ID, REDIRECT_URI);
    let answer = exchange(sim, &code, REDIRECT_URI).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    (
        answer.body["access_token"]
            .as_str()
            .expect("access token")
            .to_owned(),
        answer.body["refresh_token"]
            .as_str()
            .expect("refresh token")
            .to_owned(),
    )
}

/// GETs `path_and_query` relative to the API root (e.g. `/contacts?page=2`).
pub async fn get(sim: &SageSim, token: &str, path_and_query: &str) -> Answer {
    let response = send_get(sim, token, path_and_query)
        .await
        .expect("API request is answered");
    Answer::read(response).await
}

pub async fn send_get(
    sim: &SageSim,
    token: &str,
    path_and_query: &str,
) -> reqwest::Result<reqwest::Response> {
    http()
        .get(format!("{}{path_and_query}", sim.api_url()))
        .bearer_auth(token)
        .header("Accept", "application/json")
        .send()
        .await
}

/// Follows `$next` from `first`; returns every page's body.
pub async fn all_pages(sim: &SageSim, token: &str, first: &str) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut next = Some(first.to_owned());
    while let Some(path) = next {
        let answer = get(sim, token, &path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        next = answer.body["$next"].as_str().map(str::to_owned);
        pages.push(answer.body);
        assert!(pages.len() <= 10_000, "$next never ends");
    }
    pages
}

//! The Sage client against the Sage simulator, over real HTTP.
//!
//! The client's clock is a `ManualClock` (token expiry is decided by it); retry waits are
//! real but kept short through the settings.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use sage_events_core::clock::{Clock, ManualClock};
use sage_events_core::sage::{
    AppCredentials, ClientSettings, PageCursor, SageClient, SageEndpoints, SageError, SageSession,
    TokenSet, TokenStore, TokenStoreError,
};
use sage_events_core::secret::Secret;
use sage_sim::{Fault, FaultRule, FaultTarget, LoggedRequest, RetryAfter, SageSim, SimConfig};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLIENT_ID: &str = "sim-client-id";
const CLIENT_SECRET: &str = "sim-client-secret";
const REDIRECT_URI: &str = "https://app.example/callback";
const ACCESS_TTL_SECS: i64 = 300;
const REFRESH_TTL_SECS: i64 = 31 * 24 * 3600;

fn creds() -> AppCredentials {
    AppCredentials {
        client_id: CLIENT_ID.to_owned(),
        client_secret: Secret::new(CLIENT_SECRET),
        redirect_uri: REDIRECT_URI.to_owned(),
    }
}

/// Small waits so the retry tests run in well under a second each.
fn fast_settings() -> ClientSettings {
    ClientSettings {
        request_timeout: Duration::from_secs(2),
        call_budget: Duration::from_secs(10),
        max_attempts: 4,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
    }
}

fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

struct Harness {
    sim: Arc<SageSim>,
    client: SageClient,
    clock: ManualClock,
}

impl Harness {
    async fn start(settings: ClientSettings) -> Harness {
        let config = SimConfig {
            access_token_ttl: Duration::from_secs(ACCESS_TTL_SECS as u64),
            refresh_token_ttl: Duration::from_secs(REFRESH_TTL_SECS as u64),
            ..SimConfig::default()
        };
        let sim = SageSim::start(config).await.expect("simulator starts");
        let endpoints = SageEndpoints {
            api_url: sim.api_url().parse().expect("api url"),
            token_url: sim.token_url().parse().expect("token url"),
            revoke_url: sim.revoke_url().parse().expect("revoke url"),
        };
        let clock = ManualClock::new(Utc::now());
        let client =
            SageClient::new(endpoints, settings, Arc::new(clock.clone())).expect("client builds");
        Harness {
            sim: Arc::new(sim),
            client,
            clock,
        }
    }

    /// Runs the authorization-code flow against the simulator.
    async fn authorize(&self) -> TokenSet {
        let code = self.sim.issue_code(CLIENT_ID, REDIRECT_URI);
        self.client
            .exchange_code(&creds(), &Secret::new(code))
            .await
            .expect("code exchange succeeds")
    }

    /// A session whose store holds freshly issued tokens.
    async fn session(&self) -> (SageSession, Arc<RecordingStore>) {
        let tokens = self.authorize().await;
        let store = RecordingStore::new(tokens, Some(self.sim.clone()));
        let session = self.client.session(creds(), store.clone(), None);
        (session, store)
    }

    fn requests(&self) -> Vec<LoggedRequest> {
        self.sim.requests()
    }

    fn token_calls(&self, grant_type: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.path == "/token" && r.grant_type.as_deref() == Some(grant_type))
            .count()
    }

    fn api_gets(&self, path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path == path)
            .count()
    }
}

/// A token store that remembers what happened, in order. At every save it notes how
/// many API requests the simulator had seen, to prove "persist before use".
struct RecordingStore {
    tokens: Mutex<TokenSet>,
    events: Mutex<Vec<String>>,
    fail_saves: Mutex<bool>,
    sim: Option<Arc<SageSim>>,
}

impl RecordingStore {
    fn new(tokens: TokenSet, sim: Option<Arc<SageSim>>) -> Arc<Self> {
        Arc::new(RecordingStore {
            tokens: Mutex::new(tokens),
            events: Mutex::new(Vec::new()),
            fail_saves: Mutex::new(false),
            sim,
        })
    }

    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }

    fn current(&self) -> TokenSet {
        self.tokens.lock().unwrap().clone()
    }

    fn fail_saves(&self) {
        *self.fail_saves.lock().unwrap() = true;
    }
}

#[async_trait]
impl TokenStore for RecordingStore {
    async fn load_tokens(&self) -> Result<TokenSet, TokenStoreError> {
        self.events.lock().unwrap().push("load".to_owned());
        Ok(self.current())
    }

    async fn save_tokens(&self, tokens: &TokenSet) -> Result<(), TokenStoreError> {
        let api_requests_so_far = self.sim.as_ref().map_or(0, |sim| {
            sim.requests()
                .iter()
                .filter(|r| r.path != "/token" && r.path != "/revoke")
                .count()
        });
        if *self.fail_saves.lock().unwrap() {
            self.events.lock().unwrap().push("save failed".to_owned());
            return Err(TokenStoreError::Unavailable("disk full".to_owned()));
        }
        self.events
            .lock()
            .unwrap()
            .push(format!("save after {api_requests_so_far} api requests"));
        *self.tokens.lock().unwrap() = tokens.clone();
        Ok(())
    }
}

/// Reads every page; returns the page sizes and all ids, checking none repeats.
async fn read_all(cursor: &mut PageCursor) -> (Vec<usize>, Vec<String>) {
    let mut sizes = Vec::new();
    let mut ids = Vec::new();
    while let Some(page) = cursor.next_page().await.expect("page reads") {
        sizes.push(page.items.len());
        for item in page.items {
            let id = item["id"].as_str().expect("item has an id").to_owned();
            ids.push(id);
        }
    }
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an item was read twice");
    (sizes, ids)
}

fn rule(fault: Fault, target: FaultTarget, times: usize) -> FaultRule {
    FaultRule {
        fault,
        target,
        times,
    }
}

// --- OAuth -------------------------------------------------------------------------

#[tokio::test]
async fn code_exchange_reads_lifetimes_from_the_answer() {
    let h = Harness::start(fast_settings()).await;
    let now = h.clock.now();
    let tokens = h.authorize().await;
    assert!(!tokens.access_token.is_empty());
    assert!(!tokens.refresh_token.is_empty());
    assert_ne!(tokens.access_token, tokens.refresh_token);
    assert_eq!(
        tokens.access_expires_at,
        now + TimeDelta::seconds(ACCESS_TTL_SECS)
    );
    assert_eq!(
        tokens.refresh_expires_at,
        now + TimeDelta::seconds(REFRESH_TTL_SECS)
    );
    assert_eq!(h.token_calls("authorization_code"), 1);
}

#[tokio::test]
async fn lifetimes_follow_the_servers_answer_not_a_constant() {
    let sim = SageSim::start(SimConfig {
        access_token_ttl: Duration::from_secs(120),
        refresh_token_ttl: Duration::from_secs(3600),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let clock = ManualClock::new(Utc::now());
    let endpoints = SageEndpoints {
        api_url: sim.api_url().parse().unwrap(),
        token_url: sim.token_url().parse().unwrap(),
        revoke_url: sim.revoke_url().parse().unwrap(),
    };
    let client = SageClient::new(endpoints, fast_settings(), Arc::new(clock.clone())).unwrap();
    let code = sim.issue_code(CLIENT_ID, REDIRECT_URI);
    let tokens = client
        .exchange_code(&creds(), &Secret::new(code))
        .await
        .unwrap();
    let now = clock.now();
    assert_eq!(tokens.access_expires_at, now + TimeDelta::seconds(120));
    assert_eq!(tokens.refresh_expires_at, now + TimeDelta::seconds(3600));
}

#[tokio::test]
async fn a_code_is_single_use_and_invalid_grant_is_never_retried() {
    let h = Harness::start(fast_settings()).await;
    let code = Secret::new(h.sim.issue_code(CLIENT_ID, REDIRECT_URI));
    h.client.exchange_code(&creds(), &code).await.unwrap();
    let err = h.client.exchange_code(&creds(), &code).await.unwrap_err();
    assert!(
        matches!(err, SageError::ReauthorizationNeeded { .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_eq!(h.token_calls("authorization_code"), 2);

    let err = h
        .client
        .refresh(&creds(), &Secret::new("never-issued"))
        .await
        .unwrap_err();
    assert!(err.needs_reauthorization(), "{err:?}");
    assert_eq!(
        h.token_calls("refresh_token"),
        1,
        "invalid_grant was retried"
    );
}

#[tokio::test]
async fn wrong_client_secret_is_a_typed_oauth_error() {
    let h = Harness::start(fast_settings()).await;
    let code = Secret::new(h.sim.issue_code(CLIENT_ID, REDIRECT_URI));
    let wrong = AppCredentials {
        client_secret: Secret::new("not-the-secret"),
        ..creds()
    };
    let err = h.client.exchange_code(&wrong, &code).await.unwrap_err();
    match &err {
        SageError::OAuth { error, .. } => assert_eq!(error, "invalid_client"),
        other => panic!("expected an OAuth error, got {other:?}"),
    }
    assert!(!err.to_string().contains("not-the-secret"));
    assert_eq!(h.token_calls("authorization_code"), 1);
}

#[tokio::test]
async fn refresh_rotates_and_the_old_refresh_token_is_refused() {
    let h = Harness::start(fast_settings()).await;
    let first = h.authorize().await;
    let second = h
        .client
        .refresh(&creds(), &first.refresh_token)
        .await
        .unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_ne!(second.access_token, first.access_token);

    let err = h
        .client
        .refresh(&creds(), &first.refresh_token)
        .await
        .unwrap_err();
    assert!(err.needs_reauthorization(), "{err:?}");
    // The rotated one still works.
    h.client
        .refresh(&creds(), &second.refresh_token)
        .await
        .unwrap();
    assert_eq!(h.token_calls("refresh_token"), 3);
}

#[tokio::test]
async fn token_server_errors_are_retried() {
    let h = Harness::start(fast_settings()).await;
    h.sim
        .inject(rule(Fault::ServerError(503), FaultTarget::Token, 2));
    h.authorize().await;
    assert_eq!(h.token_calls("authorization_code"), 3);
}

#[tokio::test]
async fn revoked_refresh_token_cannot_be_used() {
    let h = Harness::start(fast_settings()).await;
    let tokens = h.authorize().await;
    h.client
        .revoke(&creds(), &tokens.refresh_token)
        .await
        .unwrap();
    let err = h
        .client
        .refresh(&creds(), &tokens.refresh_token)
        .await
        .unwrap_err();
    assert!(err.needs_reauthorization(), "{err:?}");
}

// --- Sessions and token lifecycle ---------------------------------------------------

#[tokio::test]
async fn refreshes_when_less_than_a_minute_is_left_and_saves_before_using() {
    let h = Harness::start(fast_settings()).await;
    let (session, store) = h.session().await;
    let original = store.current();

    session.get_json("/contacts", &[]).await.unwrap();
    assert_eq!(h.token_calls("refresh_token"), 0);

    // 250 s later, 50 s are left: refresh first.
    h.clock.advance(TimeDelta::seconds(ACCESS_TTL_SECS - 50));
    session.get_json("/contacts", &[]).await.unwrap();
    assert_eq!(h.token_calls("refresh_token"), 1);
    assert_eq!(
        store.events(),
        vec!["load", "load", "save after 1 api requests"],
        "the store is read again before refreshing, and the new tokens are saved before \
         the second API request"
    );
    assert_eq!(h.api_gets("/contacts"), 2);
    let saved = store.current();
    assert_ne!(saved.refresh_token, original.refresh_token);
    assert_eq!(session.access_token().await.unwrap(), saved.access_token);

    // Still fresh: no further refresh.
    session.get_json("/contacts", &[]).await.unwrap();
    assert_eq!(h.token_calls("refresh_token"), 1);
}

#[tokio::test]
async fn refresh_is_serialised_across_concurrent_calls() {
    let h = Harness::start(fast_settings()).await;
    let (session, _store) = h.session().await;
    h.clock.advance(TimeDelta::seconds(ACCESS_TTL_SECS));
    let calls = (0..5).map(|_| {
        let session = session.clone();
        async move { session.get_json("/contacts", &[]).await }
    });
    for result in futures::future::join_all(calls).await {
        result.unwrap();
    }
    assert_eq!(h.token_calls("refresh_token"), 1);
}

#[tokio::test]
async fn failed_save_fails_the_call_and_the_new_token_is_not_used() {
    let h = Harness::start(fast_settings()).await;
    let (session, store) = h.session().await;
    let original = store.current();
    store.fail_saves();
    h.clock.advance(TimeDelta::seconds(ACCESS_TTL_SECS - 10));

    let err = session.get_json("/contacts", &[]).await.unwrap_err();
    assert!(matches!(err, SageError::TokenSaveFailed { .. }), "{err:?}");
    assert!(err.to_string().contains("disk full"));
    assert_eq!(h.token_calls("refresh_token"), 1);
    assert_eq!(h.api_gets("/contacts"), 0, "an API request was made anyway");
    assert_eq!(store.current(), original);
}

#[tokio::test]
async fn expired_refresh_token_asks_for_reauthorization_without_calling_sage() {
    let h = Harness::start(fast_settings()).await;
    let (session, _store) = h.session().await;
    h.clock.advance(TimeDelta::seconds(REFRESH_TTL_SECS + 1));
    let err = session.get_json("/contacts", &[]).await.unwrap_err();
    assert!(err.needs_reauthorization(), "{err:?}");
    assert!(err.to_string().contains("refresh token expired"));
    assert_eq!(h.token_calls("refresh_token"), 0);
}

#[tokio::test]
async fn a_401_refreshes_once_and_retries() {
    let h = Harness::start(fast_settings()).await;
    let (session, store) = h.session().await;
    h.sim
        .inject(rule(Fault::Unauthorized, FaultTarget::AnyApi, 1));
    session.get_json("/contacts", &[]).await.unwrap();
    assert_eq!(h.token_calls("refresh_token"), 1);
    assert_eq!(h.api_gets("/contacts"), 2);
    assert_eq!(
        store.events(),
        vec!["load", "load", "save after 1 api requests"]
    );
}

#[tokio::test]
async fn a_second_401_is_unauthorized() {
    let h = Harness::start(fast_settings()).await;
    let (session, _store) = h.session().await;
    h.sim
        .inject(rule(Fault::Unauthorized, FaultTarget::AnyApi, 2));
    let err = session.get_json("/contacts", &[]).await.unwrap_err();
    assert!(matches!(err, SageError::Unauthorized { .. }), "{err:?}");
    assert_eq!(h.token_calls("refresh_token"), 1);
    assert_eq!(h.api_gets("/contacts"), 2);
}

#[tokio::test]
async fn api_errors_carry_sages_data_code() {
    let h = Harness::start(fast_settings()).await;
    let (session, _store) = h.session().await;
    let err = session
        .get_json("/contacts/00000000000000000000000000000000", &[])
        .await
        .unwrap_err();
    match &err {
        SageError::Api {
            status,
            data_code,
            message,
        } => {
            assert_eq!(*status, 404);
            assert_eq!(data_code.as_deref(), Some("RecordNotFound"));
            assert!(!message.is_empty());
        }
        other => panic!("expected an API error, got {other:?}"),
    }
    assert_eq!(
        h.api_gets("/contacts/00000000000000000000000000000000"),
        1,
        "a 404 was retried"
    );
}

#[tokio::test]
async fn the_business_is_chosen_with_x_business() {
    let h = Harness::start(fast_settings()).await;
    let tokens = h.authorize().await;
    let store = RecordingStore::new(tokens, None);
    let business = "0123456789abcdef0123456789abcdef";
    let with = h
        .client
        .session(creds(), store.clone(), Some(business.to_owned()));
    let without = h.client.session(creds(), store, None);
    with.get_json("/contacts", &[]).await.unwrap();
    without.get_json("/contacts", &[]).await.unwrap();
    let businesses: Vec<Option<String>> = h
        .requests()
        .into_iter()
        .filter(|r| r.path == "/contacts")
        .map(|r| r.business)
        .collect();
    assert_eq!(businesses, vec![Some(business.to_owned()), None]);
}

// --- Paging ---------------------------------------------------------------------------

#[tokio::test]
async fn pages_through_1001_records_in_6_pages() {
    let h = Harness::start(fast_settings()).await;
    let seeded: HashSet<String> = h.sim.seed("/contacts", 1001).into_iter().collect();
    let (session, _store) = h.session().await;
    let mut cursor = session.list("/contacts", &q(&[("items_per_page", "200")]));
    let mut pages = Vec::new();
    let mut ids = Vec::new();
    while let Some(page) = cursor.next_page().await.unwrap() {
        pages.push((page.page, page.total, page.items_per_page, page.items.len()));
        ids.extend(
            page.items
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned()),
        );
    }
    assert_eq!(
        pages,
        (1..=6)
            .map(|n| (Some(n), Some(1001), Some(200), if n < 6 { 200 } else { 1 }))
            .collect::<Vec<_>>()
    );
    let read: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), 1001, "doubled records");
    assert_eq!(read, seeded, "missing records");
    assert_eq!(h.api_gets("/contacts"), 6);
    assert_eq!(cursor.next_page().await.unwrap(), None);
}

#[tokio::test]
async fn dropped_connection_on_page_3_is_retried() {
    let h = Harness::start(fast_settings()).await;
    let seeded: HashSet<String> = h.sim.seed("/contacts", 450).into_iter().collect();
    let (session, _store) = h.session().await;
    h.sim
        .inject(rule(Fault::DropConnection, FaultTarget::Page(3), 1));
    let mut cursor = session.list("/contacts", &q(&[("items_per_page", "200")]));
    let (sizes, ids) = read_all(&mut cursor).await;
    assert_eq!(sizes, vec![200, 200, 50]);
    assert_eq!(ids.into_iter().collect::<HashSet<_>>(), seeded);
    let page_3: Vec<Option<&'static str>> = h
        .requests()
        .into_iter()
        .filter(|r| r.query.iter().any(|(k, v)| k == "page" && v == "3"))
        .map(|r| r.fault)
        .collect();
    assert_eq!(page_3, vec![Some("DropConnection"), None]);
}

#[tokio::test]
async fn changed_and_deleted_since() {
    let h = Harness::start(fast_settings()).await;
    let ids = h.sim.seed("/contacts", 5);
    let (session, _store) = h.session().await;
    h.sim.advance(TimeDelta::seconds(10));
    let since: DateTime<Utc> = h.sim.now();
    h.sim.advance(TimeDelta::seconds(1));
    assert!(h.sim.delete("/contacts", &ids[0]));
    assert!(h.sim.delete("/contacts", &ids[3]));
    assert!(h.sim.update(
        "/contacts",
        &ids[1],
        serde_json::json!({"name": "Changed Ltd"})
    ));

    let mut deleted = session.list_deleted("/contacts", &[], since).unwrap();
    let (_, deleted_ids) = read_all(&mut deleted).await;
    assert_eq!(
        deleted_ids.into_iter().collect::<HashSet<_>>(),
        HashSet::from([ids[0].clone(), ids[3].clone()])
    );

    let mut changed = session.list_changed("/contacts", &[], since).unwrap();
    let (_, changed_ids) = read_all(&mut changed).await;
    assert_eq!(changed_ids, vec![ids[1].clone()]);

    let sent = h.requests();
    let deleted_query = sent
        .iter()
        .find_map(|r| r.query.iter().find(|(k, _)| k == "deleted_since").cloned())
        .expect("deleted_since sent");
    assert_eq!(
        deleted_query.1,
        since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    assert!(deleted_query.1.ends_with('Z'));
}

#[tokio::test]
async fn deleted_since_is_refused_where_sage_has_no_such_filter() {
    let h = Harness::start(fast_settings()).await;
    let (session, _store) = h.session().await;
    let before = h.requests().len();
    let err = session
        .list_deleted("/ledger_accounts", &[], Utc::now())
        .unwrap_err();
    assert!(
        matches!(&err, SageError::FilterUnsupported { endpoint, filter } if endpoint == "/ledger_accounts" && *filter == "deleted_since"),
        "{err:?}"
    );
    let err = session
        .list_changed("/contact_types", &[], Utc::now())
        .unwrap_err();
    assert!(
        matches!(err, SageError::FilterUnsupported { .. }),
        "{err:?}"
    );
    assert_eq!(h.requests().len(), before);
}

// --- Retries, timeouts, budget --------------------------------------------------------

#[tokio::test]
async fn rate_limit_with_retry_after_seconds_is_honoured() {
    let h = Harness::start(fast_settings()).await;
    let (session, _store) = h.session().await;
    h.sim.inject(rule(
        Fault::RateLimited {
            retry_after: Some(RetryAfter::Seconds(1)),
        },
        FaultTarget::AnyApi,
        1,
    ));
    let started = Instant::now();
    session.get_json("/contacts", &[]).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(h.api_gets("/contacts"), 2);
}

#[tokio::test]
async fn rate_limit_with_retry_after_date_is_honoured() {
    let h = Harness::start(fast_settings()).await;
    let (session, _store) = h.session().await;
    // The date is read against the client's clock.
    let at = h.clock.now() + TimeDelta::seconds(1);
    h.sim.inject(rule(
        Fault::RateLimited {
            retry_after: Some(RetryAfter::HttpDate(at)),
        },
        FaultTarget::AnyApi,
        1,
    ));
    let started = Instant::now();
    session.get_json("/contacts", &[]).await.unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
}

#[tokio::test]
async fn rate_limit_without_retry_after_backs_off() {
    let h = Harness::start(fast_settings()).await;
    let (session, _store) = h.session().await;
    h.sim.inject(rule(
        Fault::RateLimited { retry_after: None },
        FaultTarget::AnyApi,
        2,
    ));
    let started = Instant::now();
    session.get_json("/contacts", &[]).await.unwrap();
    // Equal jitter: at least half of 10 ms, then half of 20 ms.
    assert!(started.elapsed() >= Duration::from_millis(15));
    assert_eq!(h.api_gets("/contacts"), 3);
}

#[tokio::test]
async fn rate_limit_on_every_attempt_is_surfaced() {
    let h = Harness::start(fast_settings()).await;
    let (session, _store) = h.session().await;
    h.sim.inject(rule(
        Fault::RateLimited { retry_after: None },
        FaultTarget::AnyApi,
        100,
    ));
    let err = session.get_json("/contacts", &[]).await.unwrap_err();
    assert!(matches!(err, SageError::RateLimited { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(h.api_gets("/contacts"), 4);
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let h = Harness::start(fast_settings()).await;
    let (session, _store) = h.session().await;
    h.sim
        .inject(rule(Fault::ServerError(502), FaultTarget::AnyApi, 1));
    h.sim
        .inject(rule(Fault::ServerError(503), FaultTarget::AnyApi, 1));
    session.get_json("/contacts", &[]).await.unwrap();
    assert_eq!(h.api_gets("/contacts"), 3);
}

#[tokio::test]
async fn persistent_server_errors_surface_after_max_attempts() {
    let h = Harness::start(fast_settings()).await;
    let (session, _store) = h.session().await;
    h.sim
        .inject(rule(Fault::ServerError(500), FaultTarget::AnyApi, 100));
    let err = session.get_json("/contacts", &[]).await.unwrap_err();
    assert!(
        matches!(err, SageError::Server { status: 500, .. }),
        "{err:?}"
    );
    assert_eq!(h.api_gets("/contacts"), 4);
}

#[tokio::test]
async fn slow_answers_surface_as_timeout() {
    let h = Harness::start(ClientSettings {
        request_timeout: Duration::from_millis(200),
        max_attempts: 2,
        ..fast_settings()
    })
    .await;
    let (session, _store) = h.session().await;
    h.sim.inject(rule(
        Fault::Slow(Duration::from_millis(1000)),
        FaultTarget::AnyApi,
        10,
    ));
    let started = Instant::now();
    let err = session.get_json("/contacts", &[]).await.unwrap_err();
    assert!(matches!(err, SageError::Timeout { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(err.to_string().contains("0.2 s"), "{err}");
    assert!(started.elapsed() < Duration::from_millis(900));
}

#[tokio::test]
async fn a_wait_longer_than_the_budget_ends_the_call_at_once() {
    let h = Harness::start(ClientSettings {
        call_budget: Duration::from_secs(1),
        ..fast_settings()
    })
    .await;
    let (session, _store) = h.session().await;
    h.sim.inject(rule(
        Fault::RateLimited {
            retry_after: Some(RetryAfter::Seconds(30)),
        },
        FaultTarget::AnyApi,
        1,
    ));
    let started = Instant::now();
    let err = session.get_json("/contacts", &[]).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    match &err {
        SageError::BudgetExhausted { last_error, .. } => {
            assert!(
                matches!(**last_error, SageError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(30)),
                "{last_error:?}"
            );
        }
        other => panic!("expected BudgetExhausted, got {other:?}"),
    }
    assert!(err.to_string().contains("rate limit"), "{err}");
}

#[tokio::test]
async fn retries_stop_when_the_budget_runs_out() {
    let h = Harness::start(ClientSettings {
        call_budget: Duration::from_millis(600),
        max_attempts: 100,
        backoff_base: Duration::from_millis(100),
        backoff_max: Duration::from_millis(200),
        ..fast_settings()
    })
    .await;
    let (session, _store) = h.session().await;
    h.sim
        .inject(rule(Fault::ServerError(503), FaultTarget::AnyApi, 1000));
    let started = Instant::now();
    let err = session.get_json("/contacts", &[]).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(600), "{elapsed:?}");
    match &err {
        SageError::BudgetExhausted { last_error, .. } => assert!(
            matches!(**last_error, SageError::Server { status: 503, .. }),
            "{last_error:?}"
        ),
        other => panic!("expected BudgetExhausted, got {other:?}"),
    }
    let attempts = h.api_gets("/contacts");
    assert!((2..100).contains(&attempts), "{attempts}");
}

//! sage-events against Sage's own Swagger file for Accounting v3.1 (kept in
//! `tests/sage-sim/spec/`, read through `sage_sim::spec`).
//!
//! - The resource table agrees with the file in both directions: every list endpoint with
//!   `updated_or_created_since` is pollable by its Sage name, `deleted_since` is used
//!   exactly where the file has it, and the where-clause translator takes exactly the
//!   file's filter parameters for each endpoint and rejects the rest, naming the clause.
//! - The time bounds the poller sends are date-times with an offset, as the file says.
//! - Polling every pollable endpoint against the simulator (which answers any parameter
//!   the file does not list with a 400) yields its CREATED/UPDATED/DELETED events.

#[cfg(feature = "embedded")]
#[path = "support/mod.rs"]
#[allow(dead_code)]
mod support;

use sage_events_core::resources::{self, HubResource, ResourceNaming};
use sage_events_core::sage::endpoints;
use sage_events_core::translate::translate;
use sage_sim::spec::{self, ListEndpoint};
use std::collections::{BTreeMap, BTreeSet};

/// Query parameters the poller sets itself; every other parameter the file lists for an
/// endpoint is a filter a where clause may set.
const POLLER_OWNED: &[&str] = &[
    "page",
    "items_per_page",
    "attributes",
    spec::UPDATED_OR_CREATED_SINCE,
    spec::DELETED_SINCE,
];

const REQUIRED: &[&str] = &["created_at", "updated_at", "id"];

fn spec_pollable() -> BTreeMap<&'static str, &'static ListEndpoint> {
    spec::spec()
        .pollable()
        .map(|e| (e.path.as_str(), e))
        .collect()
}

fn spec_filters(endpoint: &ListEndpoint) -> BTreeSet<&str> {
    endpoint
        .param_names()
        .filter(|p| !POLLER_OWNED.contains(p))
        .collect()
}

/// RFC 3339 `date-time` (Swagger's `format: date-time`) with seconds and an explicit
/// offset (`Z` or `±hh:mm`), e.g. `2023-06-13T10:40:55Z`.
fn is_date_time_with_offset(text: &str) -> bool {
    let b = text.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    let shape = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape {
        return false;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &fraction[n..];
    }
    let offset_ok = rest == "Z"
        || (rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && rest[1..3].bytes().all(|c| c.is_ascii_digit())
            && &rest[3..4] == ":"
            && rest[4..6].bytes().all(|c| c.is_ascii_digit()));
    offset_ok && chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

#[test]
fn the_endpoint_table_is_the_files_pollable_endpoints() {
    let from_file = spec_pollable();
    assert_eq!(
        from_file.len(),
        38,
        "Sage's file changed? pollable endpoints"
    );
    let table: BTreeMap<&str, &endpoints::ListEndpoint> =
        endpoints::POLLABLE.iter().map(|e| (e.path, e)).collect();
    let missing: Vec<_> = from_file
        .keys()
        .filter(|p| !table.contains_key(*p))
        .collect();
    let extra: Vec<_> = table
        .keys()
        .filter(|p| !from_file.contains_key(*p))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "pollable per Sage's file but not in the table: {missing:?}; in the table but not \
         pollable per the file: {extra:?}"
    );
    for (path, documented) in &from_file {
        let ours = table[path];
        assert_eq!(
            ours.deleted_since,
            documented.has_deleted_since(),
            "{path}: deleted_since"
        );
        let filters: BTreeSet<&str> = ours.filters.iter().copied().collect();
        assert_eq!(filters, spec_filters(documented), "{path}: filters");
        assert_eq!(
            filters.len(),
            ours.filters.len(),
            "{path}: duplicate filters"
        );
    }
    // And the functions the client and the translator ask, over every list endpoint of
    // the file (reference data such as /contact_types included).
    for documented in spec::spec().list_endpoints() {
        let path = documented.path.as_str();
        assert_eq!(
            endpoints::supports_updated_since(path),
            documented.is_pollable(),
            "{path}"
        );
        assert_eq!(
            endpoints::supports_deleted_since(path),
            documented.has_deleted_since(),
            "{path}"
        );
    }
}

#[test]
fn every_pollable_endpoint_is_a_resource_and_hub_names_map_as_before() {
    let all: Vec<&HubResource> = resources::all().collect();
    for path in spec_pollable().keys() {
        let name = &path[1..];
        let r = resources::lookup(name).unwrap_or_else(|| panic!("{name} is not pollable"));
        assert_eq!(r.endpoint, *path, "{name}");
        assert!(r.fixed_params.is_empty(), "{name}");
    }
    let hubs: BTreeMap<&str, (&str, Option<&str>)> = all
        .iter()
        .filter(|r| r.naming == ResourceNaming::Hub)
        .map(|r| (r.name, (r.endpoint, r.fixed_param("contact_type_id"))))
        .collect();
    let expected: BTreeMap<&str, (&str, Option<&str>)> = [
        ("customers", ("/contacts", Some("CUSTOMER"))),
        ("vendors", ("/contacts", Some("VENDOR"))),
        ("contacts", ("/contacts", None)),
        ("invoices", ("/sales_invoices", None)),
        ("credit-memos", ("/sales_credit_notes", None)),
        ("quotes", ("/sales_quotes", None)),
        ("bills", ("/purchase_invoices", None)),
        ("vendor-credits", ("/purchase_credit_notes", None)),
        ("products", ("/products", None)),
        ("services", ("/services", None)),
        ("payments", ("/contact_payments", None)),
        ("ledger-accounts", ("/ledger_accounts", None)),
        ("journal-entries", ("/journals", None)),
        ("bank-accounts", ("/bank_accounts", None)),
        ("tax-rates", ("/tax_rates", None)),
    ]
    .into_iter()
    .collect();
    assert_eq!(hubs, expected);
    let pollable = spec_pollable();
    for r in &all {
        let documented = pollable.get(r.endpoint).unwrap_or_else(|| {
            panic!(
                "{} maps to {}, not pollable per Sage's file",
                r.name, r.endpoint
            )
        });
        for (param, _) in r.fixed_params {
            assert!(documented.accepts(param), "{}: fixed {param}", r.name);
        }
        assert_eq!(
            r.has_deleted_events(),
            documented.has_deleted_since(),
            "{}",
            r.name
        );
    }
}

#[test]
fn the_translator_takes_exactly_the_files_filters_and_sends_only_what_sage_takes() {
    let pollable = spec_pollable();
    // Every filter name the file uses anywhere: the candidates a user might try.
    let everywhere: BTreeSet<&str> = pollable.values().flat_map(|e| spec_filters(e)).collect();
    let bound = "2024-03-01T12:00:00.750Z".parse().expect("time");
    for r in resources::all() {
        let documented = pollable[r.endpoint];
        let allowed = spec_filters(documented);
        for filter in &everywhere {
            let value = r.fixed_param(filter).unwrap_or("x");
            let clause = format!("{filter} = '{value}'");
            let url = format!(
                "/hubs/finance/{}?where=lastModifiedDate >= '${{date:yyyy-MM-dd'T'HH:mm:ss'Z'}}' AND {clause}",
                r.name
            );
            match translate(r.name, &url, None, REQUIRED) {
                Ok(request) => {
                    assert!(
                        allowed.contains(filter),
                        "{}: {clause} was accepted",
                        r.name
                    );
                    let changed = request.query_for(bound);
                    let deleted = request.deleted_query_for(bound);
                    assert_eq!(
                        deleted.is_some(),
                        documented.has_deleted_since(),
                        "{}",
                        r.name
                    );
                    for (param, value) in changed.iter().chain(deleted.iter().flatten()) {
                        assert!(
                            documented.accepts(param),
                            "{}: sends {param}, which {} does not take",
                            r.name,
                            r.endpoint
                        );
                        if param == spec::UPDATED_OR_CREATED_SINCE || param == spec::DELETED_SINCE {
                            let p = documented.param(param).expect("documented");
                            assert_eq!(p.format.as_deref(), Some("date-time"));
                            assert!(is_date_time_with_offset(value), "{param}={value}");
                        }
                    }
                    assert!(
                        changed.iter().any(|(k, _)| k == filter) || r.fixed_param(filter).is_some(),
                        "{}: {filter} not sent",
                        r.name
                    );
                }
                Err(e) => {
                    assert!(
                        !allowed.contains(filter),
                        "{}: {clause} refused: {e}",
                        r.name
                    );
                    assert!(
                        e.0.starts_with(&format!("where clause \"{clause}\": Sage cannot filter")),
                        "{}: {e}",
                        r.name
                    );
                }
            }
        }
    }
}

#[test]
fn the_readme_table_lists_every_pollable_resource() {
    let readme = include_str!("../../README.md");
    let mut rows: BTreeMap<String, (Vec<String>, bool)> = BTreeMap::new();
    for line in readme.lines() {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        let [hubs, endpoint, deleted] = cells.as_slice() else {
            continue;
        };
        let Some(path) = endpoint
            .strip_prefix("`/")
            .and_then(|p| p.strip_suffix('`'))
        else {
            continue;
        };
        // Hub names are the backticked words before any parenthesis.
        let names = hubs
            .split(';')
            .filter_map(|part| part.trim().strip_prefix('`')?.split('`').next())
            .map(str::to_owned)
            .collect();
        let deleted = match *deleted {
            "yes" => true,
            "no" => false,
            other => panic!("/{path}: DELETED column says {other:?}"),
        };
        rows.insert(format!("/{path}"), (names, deleted));
    }
    let table: BTreeSet<&str> = endpoints::POLLABLE.iter().map(|e| e.path).collect();
    assert_eq!(
        rows.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        table
    );
    for e in endpoints::POLLABLE {
        let (names, deleted) = &rows[e.path];
        assert_eq!(*deleted, e.deleted_since, "README, {}", e.path);
        let hubs: BTreeSet<&str> = resources::all()
            .filter(|r| r.naming == ResourceNaming::Hub && r.endpoint == e.path)
            .map(|r| r.name)
            .collect();
        let listed: BTreeSet<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(listed, hubs, "README, hub names of {}", e.path);
    }
}

#[test]
fn the_date_time_check_is_strict() {
    for good in ["2023-06-13T10:40:55Z", "2023-06-13T10:40:55+01:00"] {
        assert!(is_date_time_with_offset(good), "{good}");
    }
    for bad in [
        "2023-06-13T10:40:55",
        "2023-06-13 10:40:55Z",
        "2023-06-13T10:40Z",
        "2023-06-13",
        "2023-06-13T10:40:55+0100",
    ] {
        assert!(!is_date_time_with_offset(bad), "{bad}");
    }
}

/// Polling every pollable endpoint through the poll engine, with the embedded adapters,
/// against the simulator.
#[cfg(feature = "embedded")]
mod end_to_end {
    use super::support;
    use super::*;
    use chrono::{Duration as ChronoDuration, Utc};
    use sage_events_core::clock::SystemClock;
    use sage_events_core::config::{ValidationOptions, parse_instance_request};
    use sage_events_core::embedded::{EmbeddedStore, SecretKey};
    use sage_events_core::event::Notification;
    use sage_events_core::instance_secrets::InstanceSecrets;
    use sage_events_core::poll::{PollOutcome, PollSettings, PollerDeps, poll_instance};
    use sage_events_core::ports::{InstanceRecord, InstanceStore, QueueConsumer, SecretStore};
    use sage_events_core::sage::{AppCredentials, SageClient};
    use sage_events_core::secret::Secret;
    use sage_sim::{SageSim, SimConfig};
    use serde_json::json;
    use std::sync::Arc;
    use std::time::Duration;

    const REDIRECT_URI: &str = "https://mycoolapp.com";
    const DATE: &str = "${date:yyyy-MM-dd'T'HH:mm:ss'Z'}";

    type Expected = BTreeSet<(String, String, String)>;

    fn credentials() -> AppCredentials {
        AppCredentials {
            client_id: sage_sim::DEFAULT_CLIENT_ID.into(),
            client_secret: Secret::new(sage_sim::DEFAULT_CLIENT_SECRET),
            redirect_uri: REDIRECT_URI.into(),
        }
    }

    /// Registers an instance polling `names`, the way registration does.
    async fn register(
        sim: &SageSim,
        client: &SageClient,
        store: &EmbeddedStore,
        names: &[&str],
    ) -> u64 {
        let resources: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .map(|name| {
                (
                    (*name).to_owned(),
                    json!({
                        "url": format!("/hubs/finance/{name}?where=lastModifiedDate>='{DATE}'"),
                        "idField": "id",
                    }),
                )
            })
            .collect();
        let body = json!({
            "element": {"key": "sageone"},
            "providerData": {"code": "unused"},
            "configuration": {
                "oauth.api.key": sage_sim::DEFAULT_CLIENT_ID,
                "oauth.api.secret": sage_sim::DEFAULT_CLIENT_SECRET,
                "oauth.callback.url": REDIRECT_URI,
                "event.notification.enabled": true,
                "event.notification.callback.url": "https://example.com/hooks",
                "event.poller.refresh_interval": "15",
                "event.poller.configuration": resources,
            },
            "name": "every endpoint",
        });
        let request =
            parse_instance_request(body.to_string().as_bytes(), &ValidationOptions::default())
                .unwrap_or_else(|e| panic!("{names:?} validate: {e:?}"));
        let code = sim.issue_code(sage_sim::DEFAULT_CLIENT_ID, REDIRECT_URI);
        let tokens = client
            .exchange_code(&credentials(), &Secret::new(code))
            .await
            .expect("code exchange");
        let id = InstanceStore::next_id(store).await.expect("id");
        let configuration =
            serde_json::Value::Object(request.configuration.to_response_configuration());
        let record =
            InstanceRecord::new(id, "org", request.name.clone(), configuration, Utc::now());
        let secrets = InstanceSecrets::new(
            &credentials(),
            tokens,
            Secret::new("whsec_dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXk="),
        );
        SecretStore::create(store, id, &secrets.to_json())
            .await
            .expect("secret");
        InstanceStore::create(store, &record).await.expect("record");
        id
    }

    /// (eventType, objectType, objectId) of every event on the queue.
    async fn drain(store: &EmbeddedStore) -> Expected {
        let mut events = BTreeSet::new();
        let mut empty_rounds = 0;
        while empty_rounds < 2 {
            let messages = store
                .receive(10, Duration::from_secs(60))
                .await
                .expect("receive");
            if messages.is_empty() {
                empty_rounds += 1;
                continue;
            }
            for m in messages {
                let notification: Notification =
                    serde_json::from_str(&m.body).expect("notification JSON");
                let body: serde_json::Value =
                    serde_json::from_str(&notification.body).expect("body JSON");
                for e in body["message"]["events"].as_array().expect("events") {
                    let text = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
                    events.insert((text("eventType"), text("objectType"), text("objectId")));
                }
                store.ack(&m.receipt).await.expect("ack");
            }
        }
        events
    }

    /// One instance's tokens in memory.
    struct MemoryTokens(std::sync::Mutex<sage_events_core::sage::TokenSet>);

    #[async_trait::async_trait]
    impl sage_events_core::sage::TokenStore for MemoryTokens {
        async fn load_tokens(
            &self,
        ) -> Result<sage_events_core::sage::TokenSet, sage_events_core::sage::TokenStoreError>
        {
            Ok(self.0.lock().expect("tokens").clone())
        }

        async fn save_tokens(
            &self,
            tokens: &sage_events_core::sage::TokenSet,
        ) -> Result<(), sage_events_core::sage::TokenStoreError> {
            *self.0.lock().expect("tokens") = tokens.clone();
            Ok(())
        }
    }

    /// The session's own incremental lists (`list_changed`, `list_deleted`) write their
    /// bound as Sage's file describes it, sub-seconds or not, and the simulator takes it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn session_time_bounds_are_date_times_with_an_offset() {
        let sim = SageSim::start(SimConfig::default())
            .await
            .expect("simulator");
        let client =
            support::sage::client_for(&sim, support::sage::quick_settings(Duration::from_secs(10)));
        let code = sim.issue_code(sage_sim::DEFAULT_CLIENT_ID, REDIRECT_URI);
        let tokens = client
            .exchange_code(&credentials(), &Secret::new(code))
            .await
            .expect("code exchange");
        let session = client.session(
            credentials(),
            Arc::new(MemoryTokens(std::sync::Mutex::new(tokens))),
            None,
        );
        let since = Utc::now() - ChronoDuration::milliseconds(86_400_123);
        for (param, mut cursor) in [
            (
                spec::UPDATED_OR_CREATED_SINCE,
                session
                    .list_changed("/sales_invoices", &[], since)
                    .expect("changed"),
            ),
            (
                spec::DELETED_SINCE,
                session
                    .list_deleted("/sales_invoices", &[], since)
                    .expect("deleted"),
            ),
        ] {
            cursor.next_page().await.expect("the simulator takes it");
            let sent = sim
                .requests()
                .iter()
                .rev()
                .find_map(|r| r.query.iter().find(|(k, _)| k == param).cloned())
                .expect("sent");
            assert!(is_date_time_with_offset(&sent.1), "{param}={}", sent.1);
            let at = chrono::DateTime::parse_from_rfc3339(&sent.1).expect("parses");
            let lag = since - at.with_timezone(&Utc);
            assert!(
                (ChronoDuration::zero()..ChronoDuration::seconds(1)).contains(&lag),
                "{param}: {lag} before the asked bound"
            );
        }
    }

    /// Two records made before the registration: one to update, one to delete after it.
    struct History {
        updated: String,
        deleted: String,
        /// The contact type, on `/contacts`.
        kind: Option<&'static str>,
    }

    /// The changes made on one endpoint (for `/contacts`, per contact type).
    #[derive(Default)]
    struct Changes {
        created: Vec<(String, Option<&'static str>)>,
        updated: Vec<(String, Option<&'static str>)>,
        deleted: Vec<(String, Option<&'static str>)>,
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn polling_every_pollable_endpoint_yields_its_events() {
        let sim = SageSim::start(SimConfig::default())
            .await
            .expect("simulator");
        let client =
            support::sage::client_for(&sim, support::sage::quick_settings(Duration::from_secs(10)));
        let store = Arc::new(
            EmbeddedStore::open_in_memory(
                SecretKey::generate().expect("key"),
                Arc::new(SystemClock),
            )
            .expect("store"),
        );
        let pollable = spec_pollable();

        // History: two records per endpoint (per contact type on /contacts), long before
        // the registration.
        let long_ago = Utc::now() - ChronoDuration::minutes(10);
        let kinds_of = |path: &str| -> Vec<Option<&'static str>> {
            if path == "/contacts" {
                vec![Some("CUSTOMER"), Some("VENDOR")]
            } else {
                vec![None]
            }
        };
        let fields = |kind: Option<&str>| match kind {
            Some(k) => json!({"contact_types": [k]}),
            None => json!({}),
        };
        let mut old: BTreeMap<&str, Vec<History>> = BTreeMap::new();
        for path in pollable.keys() {
            for kind in kinds_of(path) {
                let a = sim.create_at(path, fields(kind), long_ago);
                let b = sim.create_at(path, fields(kind), long_ago);
                old.entry(path).or_default().push(History {
                    updated: a,
                    deleted: b,
                    kind,
                });
            }
        }

        // Every resource name, hub names in one instance, Sage's names in two (at most 20
        // resources per instance).
        let all: Vec<&HubResource> = resources::all().collect();
        let hub_names: Vec<&str> = all
            .iter()
            .filter(|r| r.naming == ResourceNaming::Hub)
            .map(|r| r.name)
            .collect();
        let sage_names: Vec<&str> = all
            .iter()
            .filter(|r| r.naming == ResourceNaming::SageEndpoint)
            .map(|r| r.name)
            .collect();
        let covered: BTreeSet<&str> = all.iter().map(|r| r.endpoint).collect();
        assert_eq!(covered.len(), 38, "every pollable endpoint is polled");
        let (first, second) = sage_names.split_at(sage_names.len() / 2);
        let mut instances = Vec::new();
        for names in [&hub_names[..], first, second] {
            instances.push(register(&sim, &client, &store, names).await);
        }

        // After the registration: one record created, one updated, one deleted per
        // endpoint (and contact type).
        sim.advance(ChronoDuration::seconds(2));
        let mut changes: BTreeMap<&str, Changes> = BTreeMap::new();
        for (path, groups) in &old {
            let c = changes.entry(path).or_default();
            for h in groups {
                c.created.push((sim.create(path, fields(h.kind)), h.kind));
                assert!(sim.update(path, &h.updated, json!({})), "{path}");
                c.updated.push((h.updated.clone(), h.kind));
                assert!(sim.delete(path, &h.deleted), "{path}");
                c.deleted.push((h.deleted.clone(), h.kind));
            }
        }
        sim.clear_requests();

        let deps = PollerDeps {
            instances: store.clone(),
            watermarks: store.clone(),
            leases: store.clone(),
            secrets: store.clone(),
            queue: store.clone(),
            sage: client.clone(),
            clock: Arc::new(SystemClock),
        };
        for id in &instances {
            let summary = poll_instance(&deps, &PollSettings::default(), *id, "spec-test")
                .await
                .expect("poll");
            assert_eq!(summary.outcome, PollOutcome::Polled, "{summary:?}");
        }
        let events = drain(&store).await;

        let mut expected = Expected::new();
        for r in &all {
            let c = &changes[r.endpoint];
            let fixed = r.fixed_param("contact_type_id");
            let wanted = |kind: &Option<&str>| fixed.is_none() || fixed == *kind;
            let mut add = |event: &str, list: &[(String, Option<&str>)]| {
                for (id, kind) in list {
                    if wanted(kind) {
                        expected.insert((event.to_owned(), r.name.to_owned(), id.clone()));
                    }
                }
            };
            add("CREATED", &c.created);
            add("UPDATED", &c.updated);
            if pollable[r.endpoint].has_deleted_since() {
                add("DELETED", &c.deleted);
            }
        }
        let missing: Vec<_> = expected.difference(&events).collect();
        let unexpected: Vec<_> = events.difference(&expected).collect();
        assert!(
            missing.is_empty() && unexpected.is_empty(),
            "missing {missing:?}\nunexpected {unexpected:?}"
        );
        // 50 resources; DELETED events from the 23 endpoints with deleted_since only.
        let deleted_types: BTreeSet<&str> = events
            .iter()
            .filter(|(t, _, _)| t == "DELETED")
            .map(|(_, o, _)| o.as_str())
            .collect();
        assert!(!deleted_types.contains("quotes") && !deleted_types.contains("sales_estimates"));
        assert!(deleted_types.contains("invoices") && deleted_types.contains("bank_deposits"));

        // What went over the wire: only parameters Sage's file lists for the endpoint (the
        // simulator would have said 400), time bounds as date-times with an offset, and
        // deleted_since lists exactly where the file has them.
        let mut deleted_lists = BTreeSet::new();
        for request in sim.requests().iter().filter(|r| r.path != "/token") {
            assert_eq!(request.status, 200, "{} {:?}", request.path, request.query);
            let documented = pollable
                .get(request.path.as_str())
                .unwrap_or_else(|| panic!("polled {}", request.path));
            for (param, value) in &request.query {
                assert!(documented.accepts(param), "{}: {param}", request.path);
                if param == spec::UPDATED_OR_CREATED_SINCE || param == spec::DELETED_SINCE {
                    assert!(is_date_time_with_offset(value), "{param}={value}");
                }
                if param == spec::DELETED_SINCE {
                    deleted_lists.insert(request.path.clone());
                }
            }
        }
        let with_deleted: BTreeSet<String> = pollable
            .values()
            .filter(|e| e.has_deleted_since())
            .map(|e| e.path.clone())
            .collect();
        assert_eq!(deleted_lists, with_deleted);
    }
}

//! A simulator of the Sage Business Cloud Accounting v3.1 API — OAuth (`/token`,
//! `/revoke`, a consenting `/oauth2/auth/central`) and the list endpoints — served over
//! real HTTP on 127.0.0.1. The client tests, poller tests, demo and benchmarks run
//! against it.
//!
//! It follows Sage's documented behaviour, and where Sage documents nothing it picks the
//! reading that is hardest on a client:
//! - records come in id order, which has nothing to do with their dates;
//! - `page` past the end serves the last page again (`$page` says which page it is);
//! - `items_per_page` above the maximum (200) is clamped; 0, negative or not a number → 400;
//! - `updated_or_created_since` is inclusive, `deleted_since` exclusive, both compared at
//!   whole seconds (Sage's resolution); a time without an offset, or a `+` sent unencoded
//!   (it decodes to a space), is a 400;
//! - it serves every list endpoint Sage's Swagger file ([`spec`]) lists with
//!   `updated_or_created_since`, plus `contact_types`; on those, a query parameter the file
//!   does not list for the endpoint (`deleted_since` on `sales_quotes`, `from_date` on
//!   `journals`, a typo) → 400 `InvalidParameter` naming it, in Sage's error body (whether
//!   Sage itself ignores unknown parameters is unconfirmed; failing is what catches a
//!   client that sends what Sage does not take); both incremental filters at once → 400;
//! - listed parameters it has no data for (`from_date`, `status_id`, …) are accepted and
//!   do not narrow the list; `contact_type_id` (contacts) and `search` do;
//! - a `deleted_since` list holds `{"id","deleted_at"}` items (Sage's shape is unconfirmed);
//! - a grant code is used up by any exchange attempt that names it, successful or not;
//! - after a refresh the old refresh token is dead; old access tokens live until expiry;
//! - OAuth errors are HTTP 400 with `{"error","error_description"}`, a bad client secret
//!   included (`invalid_client`).
//!
//! Where a choice is ours alone: a `Retry-After` HTTP-date with a fraction of a second is
//! rounded up; the request log keeps every request (it is a test tool, not a server).
//!
//! The `sage-sim` binary runs one for the demo:
//! `sage-sim --port 8089 --seed contacts=50 [--redirect-uri URI] [--code-ttl SECONDS]`
//! prints the URLs and a grant code, and serves until Ctrl-C.

mod clock;
mod config;
mod fault;
mod fixtures;
mod log;
mod oauth;
mod server;
pub mod spec;
mod store;
mod sync;

pub use config::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SimConfig};
pub use fault::{Fault, FaultRule, FaultTarget, RetryAfter};
pub use fixtures::served_endpoints;
pub use log::LoggedRequest;

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

use server::Shared;
use store::endpoint_name;
use sync::lock;

/// A list request about to be answered, as seen by a [`SageSim::on_list`] hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCall {
    /// The endpoint path below the API root, e.g. `/contacts`.
    pub path: String,
    /// The `page` parameter, if the request had a valid one.
    pub page: Option<u32>,
    /// Whether it is a `deleted_since` list.
    pub deleted: bool,
}

/// A function run before each list request is answered.
pub type ListHook = Arc<dyn Fn(&ListCall) + Send + Sync>;

/// A running simulator. Clones share it; dropping the last clone, or calling
/// [`SageSim::shutdown`] on any, stops the server.
#[derive(Clone)]
pub struct SageSim {
    shared: Arc<Shared>,
    server: Arc<ServerHandle>,
}

/// Stops the server when the last [`SageSim`] goes.
struct ServerHandle {
    addr: SocketAddr,
    stop: Mutex<Option<oneshot::Sender<()>>>,
}

impl ServerHandle {
    fn stop(&self) {
        if let Some(stop) = lock(&self.stop).take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for SageSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SageSim")
            .field("addr", &self.server.addr)
            .finish()
    }
}

impl SageSim {
    /// Binds 127.0.0.1 (`config.port`, 0 = any free port) and serves in the background
    /// on the current tokio runtime.
    pub async fn start(config: SimConfig) -> std::io::Result<SageSim> {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, config.port)))
                .await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let app = server::router(Arc::clone(&shared));
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "sage-sim server stopped with an error");
            }
        });
        Ok(SageSim {
            shared,
            server: Arc::new(ServerHandle {
                addr,
                stop: Mutex::new(Some(stop_tx)),
            }),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// `http://127.0.0.1:PORT/v3.1` — the list endpoints live under it
    /// (Sage: `https://api.accounting.sage.com/v3.1`).
    pub fn api_url(&self) -> String {
        format!("{}/v3.1", self.base_url())
    }

    /// `http://127.0.0.1:PORT/token` (Sage: `https://oauth.accounting.sage.com/token`).
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base_url())
    }

    /// `http://127.0.0.1:PORT/revoke` (Sage: `https://oauth.accounting.sage.com/revoke`).
    pub fn revoke_url(&self) -> String {
        format!("{}/revoke", self.base_url())
    }

    /// `http://127.0.0.1:PORT/oauth2/auth/central` (Sage:
    /// `https://www.sageone.com/oauth2/auth/central`). A GET with `client_id`,
    /// `redirect_uri`, `response_type=code` (and `state`) consents at once and redirects
    /// to `redirect_uri?code=…&country=GB&state=…`.
    pub fn authorize_url(&self) -> String {
        format!("{}/oauth2/auth/central", self.base_url())
    }

    /// A grant code, as if the user had just consented for `client_id`. It must be
    /// exchanged with exactly this `redirect_uri`, once, within `code_ttl`.
    pub fn issue_code(&self, client_id: &str, redirect_uri: &str) -> String {
        let now = self.now();
        lock(&self.shared.oauth).issue_code(client_id, redirect_uri, now)
    }

    // --- clock ---

    /// The simulator's time: token expiry, code expiry and record times follow it.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    /// Moves the simulator's clock forward (or back, with a negative duration).
    pub fn advance(&self, by: chrono::Duration) {
        self.shared.clock.advance(by);
    }

    /// Sets the simulator's clock; with the real clock, time keeps running from `to`.
    pub fn set_now(&self, to: DateTime<Utc>) {
        self.shared.clock.set_now(to);
    }

    // --- data ---

    /// Adds `n` generated records to `endpoint` (`"contacts"` or `"/contacts"`), created
    /// and updated now; returns their ids in creation order. Generated contacts
    /// alternate: the k-th contact the simulator generates (k from 1) is a CUSTOMER when
    /// k is odd, a VENDOR when k is even.
    pub fn seed(&self, endpoint: &str, n: usize) -> Vec<String> {
        let at = self.now();
        let mut store = lock(&self.shared.store);
        (0..n)
            .map(|_| store.insert(endpoint_name(endpoint), Value::Null, at, true))
            .collect()
    }

    /// Adds a record created and updated now. `fields` (a JSON object) override the
    /// generated ones; `id`, `$path` and the timestamps are the simulator's. A contact
    /// without `contact_types` is a CUSTOMER; `"contact_types": ["VENDOR"]` is accepted
    /// as shorthand for Sage's link objects. An endpoint not served yet starts being
    /// served.
    pub fn create(&self, endpoint: &str, fields: Value) -> String {
        self.create_at(endpoint, fields, self.now())
    }

    /// [`SageSim::create`] at a given time (stored at whole seconds).
    pub fn create_at(&self, endpoint: &str, fields: Value, at: DateTime<Utc>) -> String {
        lock(&self.shared.store).insert(endpoint_name(endpoint), fields, at, false)
    }

    /// Merges `fields` into a live record and sets `updated_at` to now. `false` if there
    /// is no such live record.
    pub fn update(&self, endpoint: &str, id: &str, fields: Value) -> bool {
        self.update_at(endpoint, id, fields, self.now())
    }

    /// [`SageSim::update`] at a given time.
    pub fn update_at(&self, endpoint: &str, id: &str, fields: Value, at: DateTime<Utc>) -> bool {
        lock(&self.shared.store).update(endpoint_name(endpoint), id, fields, at)
    }

    /// Deletes a live record (`deleted_at` = now): it leaves the normal lists and shows
    /// in `deleted_since` lists. `false` if there is no such live record.
    pub fn delete(&self, endpoint: &str, id: &str) -> bool {
        self.delete_at(endpoint, id, self.now())
    }

    /// [`SageSim::delete`] at a given time.
    pub fn delete_at(&self, endpoint: &str, id: &str, at: DateTime<Utc>) -> bool {
        lock(&self.shared.store).delete(endpoint_name(endpoint), id, at)
    }

    /// The whole record as `GET /v3.1/<endpoint>/<id>` shows it, plus `deleted_at` for a
    /// deleted one.
    pub fn record(&self, endpoint: &str, id: &str) -> Option<Value> {
        let name = endpoint_name(endpoint);
        let store = lock(&self.shared.store);
        store
            .collection(name)?
            .records
            .get(id)
            .map(|r| r.snapshot(name))
    }

    /// How many live (not deleted) records `endpoint` holds.
    pub fn count(&self, endpoint: &str) -> usize {
        let store = lock(&self.shared.store);
        store.collection(endpoint_name(endpoint)).map_or(0, |c| {
            c.records
                .values()
                .filter(|r| r.deleted_at.is_none())
                .count()
        })
    }

    // --- faults ---

    /// Runs `hook` before every list request is answered — after the request arrived,
    /// before its page is cut — so a test can change records between the pages a client
    /// reads (the live result set Sage pages over). Replaces an earlier hook. A hook that
    /// holds a clone of this simulator keeps it alive until [`SageSim::clear_list_hook`]
    /// or [`SageSim::shutdown`].
    pub fn on_list(&self, hook: impl Fn(&ListCall) + Send + Sync + 'static) {
        *lock(&self.shared.list_hook) = Some(Arc::new(hook));
    }

    /// Removes the [`SageSim::on_list`] hook.
    pub fn clear_list_hook(&self) {
        lock(&self.shared.list_hook).take();
    }

    /// Adds a fault rule after the existing ones.
    pub fn inject(&self, rule: FaultRule) {
        lock(&self.shared.faults).push(rule);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    // --- request log ---

    /// Every request answered so far, API and OAuth, in the order they completed.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.log).clone()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    /// Stops the server (for every clone): it stops accepting connections, finishes the
    /// requests in flight and closes.
    pub fn shutdown(&self) {
        self.clear_list_hook();
        self.server.stop();
    }
}

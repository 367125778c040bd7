//! The HTTP side: routing, faults, the token check, lists and the request log.
//!
//! One fallback handler does the routing by hand, so every request — including the ones
//! a fault answers — is logged the same way. Each request is handled in its own task, so
//! a client that hangs up (e.g. on a timeout) still leaves its entry in the log.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

use crate::clock::SimClock;
use crate::config::SimConfig;
use crate::fault::{self, Fault, FaultRule, RequestFacts};
use crate::log::LoggedRequest;
use crate::oauth::{Form, OAuthState};
use crate::spec;
use crate::store::{Attributes, DeletedView, ListFilter, RecordView, Store};
use crate::sync::lock;
use serde::Serialize;

/// Largest form body accepted on `/token` and `/revoke`.
const FORM_LIMIT: usize = 64 * 1024;

/// Everything the server and the test handle share.
pub(crate) struct Shared {
    pub(crate) config: SimConfig,
    pub(crate) clock: SimClock,
    pub(crate) store: Mutex<Store>,
    pub(crate) oauth: Mutex<OAuthState>,
    pub(crate) faults: Mutex<Vec<FaultRule>>,
    pub(crate) log: Mutex<Vec<LoggedRequest>>,
    /// Runs before each list request is answered (see [`crate::SageSim::on_list`]).
    pub(crate) list_hook: Mutex<Option<crate::ListHook>>,
}

impl Shared {
    pub(crate) fn new(config: SimConfig) -> Self {
        let clock = SimClock::new(config.start_time);
        let now = clock.now();
        Shared {
            store: Mutex::new(Store::new(now)),
            oauth: Mutex::new(OAuthState::new(&config)),
            faults: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            list_hook: Mutex::new(None),
            clock,
            config,
        }
    }
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    match tokio::spawn(process(shared, request)).await {
        Ok(response) => response,
        Err(_) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UnexpectedError",
            "the simulator failed to handle the request",
        ),
    }
}

/// Where a request goes.
enum Route {
    /// Under `/v3.1`; the path without the prefix.
    Api(String),
    Token,
    Revoke,
    Authorize,
    Unknown,
}

fn route(path: &str) -> Route {
    if path == "/v3.1" {
        return Route::Api("/".to_owned());
    }
    if let Some(rest) = path.strip_prefix("/v3.1/") {
        return Route::Api(format!("/{rest}"));
    }
    match path {
        "/token" => Route::Token,
        "/revoke" => Route::Revoke,
        "/oauth2/auth/central" => Route::Authorize,
        _ => Route::Unknown,
    }
}

/// A request's parts, read once.
struct Incoming {
    method: Method,
    headers: HeaderMap,
    query: Vec<(String, String)>,
    body: Bytes,
}

impl Incoming {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

async fn process(shared: Arc<Shared>, request: Request) -> Response {
    let at = shared.clock.now();
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let route = route(&path);
    let body = match route {
        Route::Token | Route::Revoke => axum::body::to_bytes(body, FORM_LIMIT)
            .await
            .unwrap_or_default(),
        _ => Bytes::new(),
    };
    let incoming = Incoming {
        method: parts.method,
        headers: parts.headers,
        query,
        body,
    };
    let logged_path = match &route {
        Route::Api(sub) => sub.clone(),
        _ => path.clone(),
    };
    let grant_type = match route {
        Route::Token => Form::parse(&incoming.body)
            .get("grant_type")
            .map(str::to_owned),
        _ => None,
    };

    let list_page = match &route {
        Route::Api(sub) if incoming.method == Method::GET && is_list_path(sub) => {
            Some(incoming.param("page").and_then(|p| p.parse::<u32>().ok()))
        }
        _ => None,
    };
    let facts = RequestFacts {
        is_api: matches!(route, Route::Api(_)),
        is_token: matches!(route, Route::Token),
        path: &logged_path,
        list_page,
    };
    if let Some(page) = list_page {
        // Cloned out of the lock: the hook may change records (which locks the store).
        let hook = lock(&shared.list_hook).clone();
        if let Some(hook) = hook {
            hook(&crate::ListCall {
                path: logged_path.clone(),
                page,
                deleted: incoming.param("deleted_since").is_some(),
            });
        }
    }
    let fault = fault::take_matching(&mut lock(&shared.faults), &facts);
    let fault_name = fault.as_ref().map(fault_name);

    let response = match fault {
        Some(Fault::RateLimited { retry_after }) => {
            let mut response = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                "RateLimitExceeded",
                "too many requests; try again later",
            );
            if let Some(value) =
                retry_after.and_then(|r| HeaderValue::from_str(&r.header_value()).ok())
            {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Some(Fault::ServerError(code)) => error_response(
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "UnexpectedError",
            "an unexpected error occurred",
        ),
        Some(Fault::Unauthorized) => unauthorized(),
        Some(Fault::DropConnection) => broken_body(),
        Some(Fault::Slow(wait)) => {
            tokio::time::sleep(wait).await;
            answer(&shared, &route, &incoming)
        }
        None => answer(&shared, &route, &incoming),
    };

    let entry = LoggedRequest {
        method: incoming.method.to_string(),
        path: logged_path,
        query: incoming.query.clone(),
        status: response.status().as_u16(),
        grant_type,
        at,
        business: header_text(&incoming.headers, "x-business"),
        accept: header_text(&incoming.headers, "accept"),
        fault: fault_name,
    };
    tracing::info!(method = %entry.method, path = %entry.path, status = entry.status, fault = ?entry.fault, "sage-sim request");
    lock(&shared.log).push(entry);
    response
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn fault_name(fault: &Fault) -> &'static str {
    match fault {
        Fault::RateLimited { .. } => "RateLimited",
        Fault::ServerError(_) => "ServerError",
        Fault::Slow(_) => "Slow",
        Fault::DropConnection => "DropConnection",
        Fault::Unauthorized => "Unauthorized",
    }
}

fn is_list_path(sub: &str) -> bool {
    let trimmed = sub.trim_matches('/');
    !trimmed.is_empty() && !trimmed.contains('/')
}

fn answer(shared: &Shared, route: &Route, incoming: &Incoming) -> Response {
    match route {
        Route::Api(sub) => api(shared, sub, incoming),
        Route::Token => token(shared, incoming),
        Route::Revoke => revoke(shared, incoming),
        Route::Authorize => authorize(shared, incoming),
        Route::Unknown => error_response(StatusCode::NOT_FOUND, "RecordNotFound", "no such path"),
    }
}

// --- responses ----------------------------------------------------------------------

/// A JSON body serialized straight from the simulator's views.
fn json_bytes(status: StatusCode, body: serde_json::Result<Vec<u8>>) -> Response {
    match body {
        Ok(bytes) => {
            let mut response = (status, bytes).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            response
        }
        Err(_) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UnexpectedError",
            "the simulator could not serialize its answer",
        ),
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// Sage's error body: an array of messages.
pub(crate) fn error_body(data_code: &str, message: &str) -> Value {
    json!([{"$severity": "error", "$dataCode": data_code, "$message": message, "$source": ""}])
}

fn error_response(status: StatusCode, data_code: &str, message: &str) -> Response {
    json_response(status, &error_body(data_code, message))
}

fn unauthorized() -> Response {
    error_response(
        StatusCode::UNAUTHORIZED,
        "AuthorizationFailure",
        "The access token is invalid or has expired",
    )
}

fn invalid_parameter(message: &str) -> Response {
    error_response(StatusCode::BAD_REQUEST, "InvalidParameter", message)
}

/// A 200 whose body stops half-way: the status line and a first chunk go out, then the
/// connection is broken, so the client sees a body (or connection) error.
fn broken_body() -> Response {
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(
            b"{\"$total\":1,\"$page\":1,\"$items\":[{\"id\":",
        )),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "sage-sim: connection dropped on purpose",
        )),
    ];
    let mut response = Response::new(Body::from_stream(futures::stream::iter(chunks)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

// --- OAuth --------------------------------------------------------------------------

fn is_form(incoming: &Incoming) -> bool {
    incoming
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

fn oauth_precheck(incoming: &Incoming) -> Option<Response> {
    if incoming.method != Method::POST {
        return Some(json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"error": "invalid_request", "error_description": "use POST"}),
        ));
    }
    if !is_form(incoming) {
        return Some(json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": "invalid_request", "error_description": "the body must be application/x-www-form-urlencoded"}),
        ));
    }
    None
}

fn with_no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn token(shared: &Shared, incoming: &Incoming) -> Response {
    if let Some(refused) = oauth_precheck(incoming) {
        return refused;
    }
    let form = Form::parse(&incoming.body);
    let now = shared.clock.now();
    let result = lock(&shared.oauth).token(&form, now);
    with_no_store(match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(e) => json_response(StatusCode::BAD_REQUEST, &e.body()),
    })
}

fn revoke(shared: &Shared, incoming: &Incoming) -> Response {
    if let Some(refused) = oauth_precheck(incoming) {
        return refused;
    }
    let form = Form::parse(&incoming.body);
    match lock(&shared.oauth).revoke(&form) {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(e) => json_response(StatusCode::BAD_REQUEST, &e.body()),
    }
}

/// `GET /oauth2/auth/central`: the user consents at once; redirects to `redirect_uri`
/// with `code`, `country` and `state`, as Sage does.
fn authorize(shared: &Shared, incoming: &Incoming) -> Response {
    let bad = |message: &str| (StatusCode::BAD_REQUEST, message.to_owned()).into_response();
    let Some(client_id) = incoming.param("client_id") else {
        return bad("client_id is missing");
    };
    let Some(redirect_uri) = incoming.param("redirect_uri") else {
        return bad("redirect_uri is missing");
    };
    if incoming.param("response_type") != Some("code") {
        return bad("response_type must be code");
    }
    let Ok(mut target) = url::Url::parse(redirect_uri) else {
        return bad("redirect_uri is not a URL");
    };
    let code = {
        let mut oauth = lock(&shared.oauth);
        if !oauth.knows_client(client_id) {
            return bad("unknown client_id");
        }
        oauth.issue_code(client_id, redirect_uri, shared.clock.now())
    };
    {
        let mut pairs = target.query_pairs_mut();
        pairs
            .append_pair("code", &code)
            .append_pair("country", "GB");
        if let Some(state) = incoming.param("state") {
            pairs.append_pair("state", state);
        }
    }
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(location) = HeaderValue::from_str(target.as_str()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

// --- API ----------------------------------------------------------------------------

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn api(shared: &Shared, sub: &str, incoming: &Incoming) -> Response {
    let now = shared.clock.now();
    let authorised =
        bearer(&incoming.headers).is_some_and(|t| lock(&shared.oauth).access_valid(t, now));
    if !authorised {
        return unauthorized();
    }
    if incoming.method != Method::GET {
        return error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the simulator only serves GET",
        );
    }
    let segments: Vec<&str> = sub.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        [endpoint] if !endpoint.is_empty() => list(shared, endpoint, incoming),
        [endpoint, id] => one(shared, endpoint, id),
        _ => error_response(StatusCode::NOT_FOUND, "RecordNotFound", "no such resource"),
    }
}

fn one(shared: &Shared, endpoint: &str, id: &str) -> Response {
    let store = lock(&shared.store);
    let Some(collection) = store.collection(endpoint) else {
        return unknown_endpoint(endpoint);
    };
    match collection
        .records
        .get(id)
        .filter(|r| r.deleted_at.is_none())
    {
        Some(record) => json_bytes(
            StatusCode::OK,
            serde_json::to_vec(&record.view(endpoint, &Attributes::All)),
        ),
        None => error_response(
            StatusCode::NOT_FOUND,
            "RecordNotFound",
            &format!("no {endpoint} record with id {id}"),
        ),
    }
}

fn unknown_endpoint(endpoint: &str) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "RecordNotFound",
        &format!("unknown endpoint /{endpoint}"),
    )
}

/// A positive whole number, or why not.
fn positive(incoming: &Incoming, name: &str) -> Result<Option<u32>, String> {
    match incoming.param(name) {
        None => Ok(None),
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(n) if n >= 1 => Ok(Some(u32::try_from(n).unwrap_or(u32::MAX))),
            _ => Err(format!(
                "{name} must be a whole number of at least 1, not {raw:?}"
            )),
        },
    }
}

/// An ISO-8601 time with an offset, as whole seconds since the epoch.
fn since(incoming: &Incoming, name: &str) -> Result<Option<i64>, String> {
    match incoming.param(name) {
        None => Ok(None),
        Some(raw) => DateTime::parse_from_rfc3339(raw.trim())
            .map(|t| Some(t.with_timezone(&Utc).timestamp()))
            .map_err(|_| {
                format!("{name} must be an ISO-8601 date-time with an offset, not {raw:?}")
            }),
    }
}

/// On an endpoint of Sage's Swagger file, every query parameter must be one the file
/// lists for it. Endpoints a test made up take anything.
fn check_params_against_spec(endpoint: &str, incoming: &Incoming) -> Result<(), String> {
    let Some(documented) = spec::spec().list_endpoint(endpoint) else {
        return Ok(());
    };
    match incoming.query.iter().find(|(k, _)| !documented.accepts(k)) {
        None => Ok(()),
        Some((k, _)) if k == spec::UPDATED_OR_CREATED_SINCE || k == spec::DELETED_SINCE => {
            Err(format!("{k} is not available on /{endpoint}"))
        }
        Some((k, _)) => Err(format!(
            "{k} is not a parameter of /{endpoint}; it takes {}",
            documented.param_names().collect::<Vec<_>>().join(", ")
        )),
    }
}

struct ListRequest {
    page: u32,
    items_per_page: u32,
    attributes: Attributes,
    filter: ListFilter,
}

fn parse_list(shared: &Shared, endpoint: &str, incoming: &Incoming) -> Result<ListRequest, String> {
    let max = shared.config.max_items_per_page.max(1);
    let items_per_page = positive(incoming, "items_per_page")?
        .unwrap_or(shared.config.default_items_per_page)
        .clamp(1, max);
    let page = positive(incoming, "page")?.unwrap_or(1);
    check_params_against_spec(endpoint, incoming)?;
    let changed_since = since(incoming, "updated_or_created_since")?;
    let deleted_since = since(incoming, "deleted_since")?;
    if changed_since.is_some() && deleted_since.is_some() {
        return Err("use updated_or_created_since or deleted_since, not both".to_owned());
    }
    let attributes = match incoming.param("attributes").map(str::trim) {
        None | Some("") => Attributes::Minimal,
        Some(a) if a.eq_ignore_ascii_case("all") => Attributes::All,
        Some(list) => Attributes::Named(
            list.split(',')
                .map(|a| a.trim().to_owned())
                .filter(|a| !a.is_empty())
                .collect(),
        ),
    };
    let filter = ListFilter {
        changed_since,
        deleted_since,
        contact_type: incoming
            .param("contact_type_id")
            .filter(|_| endpoint == "contacts")
            .map(str::to_owned),
        search: incoming
            .param("search")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase),
    };
    Ok(ListRequest {
        page,
        items_per_page,
        attributes,
        filter,
    })
}

/// `$next`/`$back`: the path relative to the API root with `page` and `items_per_page`
/// first, then the request's other parameters in their order.
fn page_link(endpoint: &str, page: u32, items_per_page: u32, incoming: &Incoming) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("page", &page.to_string());
    query.append_pair("items_per_page", &items_per_page.to_string());
    for (k, v) in &incoming.query {
        if k != "page" && k != "items_per_page" {
            query.append_pair(k, v);
        }
    }
    format!("/{endpoint}?{}", query.finish())
}

fn list(shared: &Shared, endpoint: &str, incoming: &Incoming) -> Response {
    if lock(&shared.store).collection(endpoint).is_none() {
        return unknown_endpoint(endpoint);
    }
    let request = match parse_list(shared, endpoint, incoming) {
        Ok(r) => r,
        Err(message) => return invalid_parameter(&message),
    };
    let mut store = lock(&shared.store);
    let Some(ids) = store.list(endpoint, &request.filter) else {
        return unknown_endpoint(endpoint);
    };
    let per_page = request.items_per_page as usize;
    let total = ids.len();
    let last_page = total.div_ceil(per_page).max(1);
    // Past the end, Sage serves the last page again.
    let page = (request.page as usize).min(last_page);
    let start = (page - 1) * per_page;
    let end = (start + per_page).min(total);
    let deleted = request.filter.deleted_since.is_some();
    let page_u32 = u32::try_from(page).unwrap_or(u32::MAX);
    let next = (page < last_page)
        .then(|| page_link(endpoint, page_u32 + 1, request.items_per_page, incoming));
    let back =
        (page > 1).then(|| page_link(endpoint, page_u32 - 1, request.items_per_page, incoming));
    let records = store
        .collection(endpoint)
        .map(|c| {
            ids[start..end]
                .iter()
                .filter_map(|id| c.records.get(id))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let items: Vec<Item<'_>> = records
        .into_iter()
        .map(|r| {
            if deleted {
                Item::Deleted(DeletedView(r))
            } else {
                Item::Live(r.view(endpoint, &request.attributes))
            }
        })
        .collect();
    let body = serde_json::to_vec(&Envelope {
        total,
        page,
        next,
        back,
        items_per_page: request.items_per_page,
        items,
    });
    drop(store);
    json_bytes(StatusCode::OK, body)
}

/// Sage's list envelope, keys in Sage's order.
#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "$total")]
    total: usize,
    #[serde(rename = "$page")]
    page: usize,
    #[serde(rename = "$next")]
    next: Option<String>,
    #[serde(rename = "$back")]
    back: Option<String>,
    #[serde(rename = "$itemsPerPage")]
    items_per_page: u32,
    #[serde(rename = "$items")]
    items: Vec<Item<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Item<'a> {
    Live(RecordView<'a>),
    Deleted(DeletedView<'a>),
}

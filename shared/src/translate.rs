//! Hub URL with a CEQL where clause → a Sage v3.1 list request.
//!
//! CONTRACT (owned by the where-clause work; keep these signatures):
//! - `translate(resource_key, url, page_size, required_attributes) -> Result<SageListRequest, TranslateError>`
//! - `SageListRequest::query_for(&self, lower_bound: DateTime<Utc>) -> Vec<(String, String)>`
//!
//! # What a poller URL may say
//! - Path: `/hubs/finance/<resource>` (leading slash optional; a full Cloud Elements URL
//!   `https://host/elements/api-v2/hubs/finance/<resource>` is accepted too), or just
//!   `/<resource>`. The resource must be one of [`crate::resources::known_names`] and must
//!   match the configuration key it is registered under.
//! - `where=<CEQL>`: conditions joined by `AND` only — Sage has no way to express `OR`.
//!   Each condition must be one of
//!   - `lastModifiedDate >= '${…}'` (or `>`; also spelled `updatedDate`, `updated_at`,
//!     `updatedAt`, `updated_or_created_since`; any case) → Sage's
//!     `updated_or_created_since`. The value must be a placeholder: a fixed date would
//!     re-send every change since that date at every poll. Sage's filter is inclusive, so
//!     `>` is read as `>=`; the poller drops records not changed after the last poll anyway.
//!   - `attributes = 'a,b'` → Sage's `attributes` (Cloud Elements' example writes this
//!     Sage query parameter as a clause).
//!   - `<filter> = <value>` for the endpoint's small allow-list of Sage filters
//!     ([`crate::resources::HubResource::filters`]), e.g. `contact_type_id = 'CUSTOMER'`,
//!     `search = 'Acme'`, `status_id = 'PAID'`.
//!
//!   Anything else (`LIKE`, `IN`, `IS NULL`, other fields, `<` on dates) is rejected with a
//!   message naming the condition.
//! - `attributes=a,b` and the same Sage filters may also be given as plain query
//!   parameters.
//! - `pageSize=N`: used when the poller configuration has no `pageSize`; the
//!   configuration's value wins because it is the documented knob of the poller.
//! - `page` and `orderBy` are ignored: the poller always reads every page, and events are
//!   per record, so Sage's order carries no meaning. `fields` is rejected: the hub's field
//!   selection has no Sage equivalent (use `attributes`). Any other parameter is rejected.
//!
//! The query string is split on `&` and each value percent-decoded leniently (`+` is a
//! space; a `%` not followed by two hex digits stays as is), because Cloud Elements'
//! example writes the where clause raw: spaces, quotes and `>=` unencoded.
//!
//! # Placeholders
//! Before anything else, every `${…}` in the URL is replaced by an opaque marker
//! ([`crate::ceql::placeholder_marker`]) so that a date pattern's own quotes and `&`/`?`
//! characters can neither split the query string nor confuse the CEQL lexer. Messages show
//! the clause with the placeholders restored.

use crate::ceql::{self, Expr, ExprKind, Predicate, Test};
use crate::resources::{self, HubResource};
use crate::sage::endpoints;
use crate::template::{Placeholder, Segment, UrlTemplate};
use chrono::{DateTime, SecondsFormat, Utc};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TranslateError(pub String);

/// What to ask Sage for one configured resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SageListRequest {
    /// Hub resource name (`customers`), used as the events' `objectType`.
    pub resource: String,
    /// Sage endpoint path, e.g. `/contacts`.
    pub endpoint: String,
    /// Fixed filter parameters, e.g. `contact_type_id=CUSTOMER`, `search=…`.
    pub params: Vec<(String, String)>,
    /// Attributes to request (always includes id, created and updated fields).
    pub attributes: Vec<String>,
    /// `items_per_page` (1..=200).
    pub items_per_page: u32,
    /// The date placeholder of the `lastModifiedDate >= '${…}'` clause, if any.
    pub since: Option<Placeholder>,
    /// Whether Sage offers `updated_or_created_since` on this endpoint.
    pub supports_updated_since: bool,
    /// Whether Sage offers `deleted_since` on this endpoint.
    pub supports_deleted_since: bool,
}

/// Sage's largest page, also our default.
pub const MAX_ITEMS_PER_PAGE: u32 = 200;

impl SageListRequest {
    /// Query parameters for the list of records changed since `lower_bound`: the fixed
    /// filters, `attributes`, `items_per_page` and — when the URL had a date clause and the
    /// endpoint supports it — `updated_or_created_since` (inclusive in Sage).
    ///
    /// The bound is first cut to the precision of the user's placeholder (a
    /// `${date:yyyy-MM-dd}` clause asks from midnight on), then written as RFC 3339 in UTC
    /// to whole seconds, rounding down so nothing is skipped.
    pub fn query_for(&self, lower_bound: DateTime<Utc>) -> Vec<(String, String)> {
        let mut query = self.base_query();
        if let Some(since) = &self.since
            && self.supports_updated_since
        {
            let bound = truncate_to_placeholder(since, lower_bound);
            query.push(("updated_or_created_since".into(), rfc3339_seconds(bound)));
        }
        query
    }

    /// Query parameters for the list of records deleted after `lower_bound`, or `None`
    /// when the endpoint has no `deleted_since`.
    ///
    /// Sage's `deleted_since` is **exclusive**, so the caller must pass its watermark minus
    /// its lookback (never the bare watermark) or a deletion at exactly that second is lost.
    /// The fixed filters are sent too, so that e.g. `customers` does not report deleted
    /// vendors (whether Sage applies them to deleted records is unconfirmed). No
    /// `attributes`: deleted lists carry ids only.
    pub fn deleted_query_for(&self, lower_bound: DateTime<Utc>) -> Option<Vec<(String, String)>> {
        if !self.supports_deleted_since {
            return None;
        }
        let mut query = self.params.clone();
        query.push(("items_per_page".into(), self.items_per_page.to_string()));
        query.push(("deleted_since".into(), rfc3339_seconds(lower_bound)));
        Some(query)
    }

    fn base_query(&self) -> Vec<(String, String)> {
        let mut query = self.params.clone();
        if !self.attributes.is_empty() {
            query.push(("attributes".into(), self.attributes.join(",")));
        }
        query.push(("items_per_page".into(), self.items_per_page.to_string()));
        query
    }
}

/// RFC 3339 in UTC with a `Z` and whole seconds (fraction truncated), as Sage's examples.
fn rfc3339_seconds(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `lower_bound` cut to the precision of the user's placeholder: render it the way the
/// placeholder would, then read that text back.
fn truncate_to_placeholder(since: &Placeholder, lower_bound: DateTime<Utc>) -> DateTime<Utc> {
    truncate_with(lower_bound, |at| {
        since.parse_rendered(&since.render(at)).ok()
    })
}

/// Apply `round` to `lower_bound`, keeping the result only if it is not later than the
/// bound: rounding up would skip changes, and a pattern that cannot be read back (say
/// `${date:HH:mm}`) leaves the exact bound, which is never wrong — just more precise.
fn truncate_with(
    lower_bound: DateTime<Utc>,
    round: impl FnOnce(DateTime<Utc>) -> Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    match round(lower_bound) {
        Some(rounded) if rounded <= lower_bound => rounded,
        _ => lower_bound,
    }
}

/// Turn a poller URL into the Sage list request it stands for.
///
/// `resource_key` is the key of the poller configuration entry; `page_size` its `pageSize`
/// (wins over the URL's); `required_attributes` the fields the poller itself needs (id,
/// created, updated), appended to the user's attributes.
pub fn translate(
    resource_key: &str,
    url: &str,
    page_size: Option<u32>,
    required_attributes: &[&str],
) -> Result<SageListRequest, TranslateError> {
    if ceql::contains_reserved_chars(url) {
        return Err(TranslateError(
            "url contains a reserved character (U+E000 or U+E001)".into(),
        ));
    }
    let mut placeholders = Vec::new();
    let masked = mask_placeholders(url, &mut placeholders)?;
    let (path, query) = masked.split_once('?').unwrap_or((masked.as_str(), ""));
    if ceql::contains_reserved_chars(path) {
        return Err(TranslateError(format!(
            "url path \"{}\": placeholders are only supported in the where clause",
            unmask(path, &placeholders)
        )));
    }
    let resource = resource_for(resource_key, path, &placeholders)?;

    let mut builder = Builder {
        resource,
        placeholders,
        params: resource
            .fixed_params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        attributes: Vec::new(),
        since: None,
        url_page_size: None,
        seen_where: false,
    };
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        builder.query_param(piece)?;
    }

    let items_per_page = match page_size.or(builder.url_page_size) {
        None => MAX_ITEMS_PER_PAGE,
        Some(n) if (1..=MAX_ITEMS_PER_PAGE).contains(&n) => n,
        Some(n) => {
            return Err(TranslateError(format!(
                "pageSize {n} is out of range: Sage returns 1 to {MAX_ITEMS_PER_PAGE} items per page"
            )));
        }
    };

    let attributes = merge_attributes(&builder.attributes, required_attributes);
    Ok(SageListRequest {
        resource: resource_key.to_owned(),
        endpoint: resource.endpoint.to_owned(),
        params: builder.params,
        attributes,
        items_per_page,
        since: builder.since,
        supports_updated_since: endpoints::supports_updated_since(resource.endpoint),
        supports_deleted_since: endpoints::supports_deleted_since(resource.endpoint),
    })
}

/// Spellings of the modification-time field in a where clause (compared ignoring case).
const MODIFIED_FIELDS: &[&str] = &[
    "lastModifiedDate",
    "updatedDate",
    "updated_at",
    "updatedAt",
    "updated_or_created_since",
];

/// The resource named by the URL path, checked against the configuration key.
fn resource_for(
    resource_key: &str,
    path: &str,
    placeholders: &[Placeholder],
) -> Result<&'static HubResource, TranslateError> {
    let shown = unmask(path, placeholders);
    let fault = |reason: String| TranslateError(format!("url path \"{shown}\": {reason}"));
    let decoded = percent_decode_path(path);
    // Tolerate a full Cloud Elements URL: drop `scheme://host` and `/elements/api-v2`.
    let local = match decoded.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => decoded.as_str(),
    };
    let segments: Vec<&str> = local.split('/').filter(|s| !s.is_empty()).collect();
    let segments = match segments.as_slice() {
        [elements, api, rest @ ..]
            if elements.eq_ignore_ascii_case("elements") && api.eq_ignore_ascii_case("api-v2") =>
        {
            rest
        }
        all => all,
    };
    let name = match segments {
        [hubs, hub, name] if hubs.eq_ignore_ascii_case("hubs") => {
            if !hub.eq_ignore_ascii_case("finance") {
                return Err(fault(format!(
                    "only the finance hub is supported, not \"{hub}\""
                )));
            }
            *name
        }
        [name] => *name,
        _ => return Err(fault("expected /hubs/finance/<resource>".into())),
    };
    let Some(resource) = resources::lookup(name) else {
        let known: Vec<_> = resources::known_names().collect();
        return Err(fault(format!(
            "unknown resource \"{name}\"; known resources: {}",
            known.join(", ")
        )));
    };
    if !name.eq_ignore_ascii_case(resource_key) {
        return Err(fault(format!(
            "the url's resource \"{name}\" does not match the configuration key \"{resource_key}\""
        )));
    }
    Ok(resource)
}

/// Accumulates what the query string asks for.
struct Builder {
    resource: &'static HubResource,
    placeholders: Vec<Placeholder>,
    params: Vec<(String, String)>,
    attributes: Vec<String>,
    since: Option<Placeholder>,
    url_page_size: Option<u32>,
    seen_where: bool,
}

impl Builder {
    /// One `key=value` piece of the query string (still percent-encoded).
    fn query_param(&mut self, piece: &str) -> Result<(), TranslateError> {
        let (raw_key, raw_value) = piece.split_once('=').unwrap_or((piece, ""));
        let key = percent_decode(raw_key);
        let mut value = percent_decode(raw_value);
        let markers = |s: &str| s.matches(ceql::MARKER_OPEN).count();
        if ceql::contains_reserved_chars(&key) || markers(&value) != markers(raw_value) {
            return Err(TranslateError(format!(
                "query parameter \"{key}\" contains a reserved character (U+E000 or U+E001)"
            )));
        }
        if value.contains("${") {
            // A placeholder that was percent-encoded in the URL.
            value = mask_placeholders(&value, &mut self.placeholders)?;
        }
        let context = format!(
            "query parameter \"{key}={}\"",
            unmask(&value, &self.placeholders)
        );
        let fault = |reason: &str| TranslateError(format!("{context}: {reason}"));
        let is = |name: &str| key.eq_ignore_ascii_case(name);

        if is("where") {
            return self.where_clause(&value);
        }
        if ceql::contains_reserved_chars(&value) {
            return Err(fault(
                "placeholders are only supported in the where clause's lastModifiedDate condition",
            ));
        }
        if is("pageSize") {
            let n = value
                .trim()
                .parse::<u32>()
                .map_err(|_| fault("pageSize must be a whole number from 1 to 200"))?;
            self.url_page_size = Some(n);
            Ok(())
        } else if is("page") || is("orderBy") {
            // Ignored on purpose: the poller reads every page, and order carries no meaning
            // for per-record events.
            Ok(())
        } else if is("fields") {
            Err(fault(
                "not supported: the hub's field selection has no Sage equivalent; list Sage \
                 attribute names with attributes='a,b' instead",
            ))
        } else if is("attributes") {
            self.attributes.extend(split_attributes(&value));
            Ok(())
        } else if self.resource.allows_filter(&key.to_ascii_lowercase()) {
            self.set_filter(&key.to_ascii_lowercase(), value, &context)
        } else {
            Err(fault(&format!(
                "not supported; supported parameters: where, pageSize, attributes, {}page and \
                 orderBy (ignored)",
                self.resource
                    .filters
                    .iter()
                    .map(|f| format!("{f}, "))
                    .collect::<String>()
            )))
        }
    }

    fn where_clause(&mut self, clause: &str) -> Result<(), TranslateError> {
        if self.seen_where {
            return Err(TranslateError(
                "query parameter \"where\" is given twice; join the conditions with AND".into(),
            ));
        }
        self.seen_where = true;
        if clause.trim().is_empty() {
            return Err(TranslateError(
                "query parameter \"where\" is empty; leave it out or give a condition".into(),
            ));
        }
        let expr = ceql::parse(clause).map_err(|e| {
            let column = clause.get(..e.offset).map_or(0, |prefix| {
                unmask(prefix, &self.placeholders).chars().count()
            }) + 1;
            TranslateError(format!(
                "where clause \"{}\": expected {} at character {column}, found {}",
                unmask(clause, &self.placeholders),
                e.expected,
                e.found
            ))
        })?;
        // Messages quote conditions; `self` is updated while they are read.
        let placeholders = self.placeholders.clone();
        let context_of = |e: &Expr| {
            format!(
                "where clause \"{}\"",
                unmask(e.span.slice(clause), &placeholders)
            )
        };
        if let Some(or) = expr.find_or() {
            return Err(TranslateError(format!(
                "{}: Sage cannot combine conditions with OR; only AND is supported",
                context_of(or)
            )));
        }
        for condition in expr.conjuncts() {
            let context = context_of(condition);
            match &condition.kind {
                ExprKind::Predicate(p) => self.predicate(p, &context)?,
                _ => {
                    return Err(TranslateError(format!(
                        "{context}: only conditions joined by AND are supported"
                    )));
                }
            }
        }
        Ok(())
    }

    fn predicate(&mut self, p: &Predicate, context: &str) -> Result<(), TranslateError> {
        let fault = |reason: String| TranslateError(format!("{context}: {reason}"));
        let resource = self.resource.name;
        let field = p.field.as_str();

        if MODIFIED_FIELDS
            .iter()
            .any(|f| f.eq_ignore_ascii_case(field))
        {
            return self.modified_since(p, context);
        }
        if field.eq_ignore_ascii_case("attributes") {
            return match &p.test {
                Test::Compare {
                    op: ceql::CompareOp::Eq,
                    value,
                } => match value.plain_text() {
                    Some(list) => {
                        self.attributes.extend(split_attributes(&list));
                        Ok(())
                    }
                    None => Err(fault("attributes cannot hold a placeholder".into())),
                },
                _ => Err(fault(
                    "attributes must be written attributes = 'a,b' (a quoted, comma-separated \
                     list of Sage attribute names)"
                        .into(),
                )),
            };
        }
        let param = field.to_ascii_lowercase();
        if self.resource.allows_filter(&param) {
            return match &p.test {
                Test::Compare {
                    op: ceql::CompareOp::Eq,
                    value,
                } => match value.plain_text() {
                    Some(text) => self.set_filter(&param, text, context),
                    None => Err(fault(format!(
                        "placeholders are only supported in the lastModifiedDate condition, not \
                         in {field}"
                    ))),
                },
                _ => Err(fault(format!(
                    "Sage can only filter {resource} by {field} with ="
                ))),
            };
        }
        let mut supported = vec![
            "lastModifiedDate >= '${date:…}'".to_owned(),
            "attributes = '…'".to_owned(),
        ];
        supported.extend(self.resource.filters.iter().map(|f| format!("{f} = …")));
        Err(fault(format!(
            "Sage cannot filter {resource} by {field}; supported conditions: {}",
            supported.join(", ")
        )))
    }

    fn modified_since(&mut self, p: &Predicate, context: &str) -> Result<(), TranslateError> {
        let fault = |reason: String| TranslateError(format!("{context}: {reason}"));
        let resource = self.resource.name;
        if !endpoints::supports_updated_since(self.resource.endpoint) {
            return Err(fault(format!(
                "Sage cannot filter {} by modification time",
                self.resource.endpoint
            )));
        }
        let value = match &p.test {
            Test::Compare {
                op: ceql::CompareOp::Ge | ceql::CompareOp::Gt,
                value,
            } => value,
            Test::Compare { op, .. } => {
                return Err(fault(format!(
                    "Sage can only filter {resource} by modification time from a lower bound \
                     (>= or >), not with {op}"
                )));
            }
            _ => {
                return Err(fault(format!(
                    "Sage can only filter {resource} by modification time from a lower bound \
                     (>= or >)"
                )));
            }
        };
        let Some(index) = value.sole_placeholder() else {
            let reason = if value.has_placeholder() {
                "the date must be a single placeholder, with nothing else inside the quotes, \
                 e.g. '${date:yyyy-MM-dd'T'HH:mm:ss'Z'}'"
            } else {
                "a ${date:…} placeholder is required, e.g. '${date:yyyy-MM-dd'T'HH:mm:ss'Z'}'; \
                 a fixed date would re-send every change since that date at every poll"
            };
            return Err(fault(reason.into()));
        };
        if self.since.is_some() {
            return Err(fault(
                "only one modification-time condition is supported".into(),
            ));
        }
        let placeholder = self
            .placeholders
            .get(index)
            .cloned()
            .ok_or_else(|| fault("unknown placeholder marker".into()))?;
        self.since = Some(placeholder);
        Ok(())
    }

    /// Record the Sage filter `name = value`, refusing a clash with the resource's fixed
    /// filter (customers are always `contact_type_id=CUSTOMER`) or a repeat.
    fn set_filter(
        &mut self,
        name: &str,
        value: String,
        context: &str,
    ) -> Result<(), TranslateError> {
        if let Some(fixed) = self.resource.fixed_param(name) {
            if value.eq_ignore_ascii_case(fixed) {
                return Ok(()); // already sent
            }
            return Err(TranslateError(format!(
                "{context}: resource \"{}\" always filters {name} = '{fixed}', which conflicts \
                 with '{value}'",
                self.resource.name
            )));
        }
        if self.params.iter().any(|(k, _)| k == name) {
            return Err(TranslateError(format!(
                "{context}: {name} is given more than once"
            )));
        }
        self.params.push((name.to_owned(), value));
        Ok(())
    }
}

/// `a, b,,c` → `a`, `b`, `c`.
fn split_attributes(list: &str) -> impl Iterator<Item = String> + '_ {
    list.split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
}

/// The user's attributes in their order, then the required ones not yet listed. Sage's
/// `all` already includes everything, so it stands alone.
fn merge_attributes(user: &[String], required: &[&str]) -> Vec<String> {
    let mut merged: Vec<String> = Vec::new();
    let candidates = user
        .iter()
        .map(String::as_str)
        .chain(required.iter().copied());
    for name in candidates.map(str::trim).filter(|n| !n.is_empty()) {
        if name.eq_ignore_ascii_case("all") {
            return vec!["all".into()];
        }
        if !merged.iter().any(|m| m == name) {
            merged.push(name.to_owned());
        }
    }
    merged
}

/// Replace every `${…}` in `text` by a marker, appending the placeholder to `placeholders`
/// (the marker's number is its index there).
fn mask_placeholders(
    text: &str,
    placeholders: &mut Vec<Placeholder>,
) -> Result<String, TranslateError> {
    let template = UrlTemplate::parse(text).map_err(|e| TranslateError(format!("url: {e}")))?;
    let mut masked = String::with_capacity(text.len());
    for segment in template.segments() {
        match segment {
            Segment::Literal(literal) => masked.push_str(literal),
            Segment::Placeholder(p) => {
                masked.push_str(&ceql::placeholder_marker(placeholders.len()));
                placeholders.push(p.clone());
            }
        }
    }
    Ok(masked)
}

/// `text` with its markers turned back into `${…}`, for messages.
fn unmask(text: &str, placeholders: &[Placeholder]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != ceql::MARKER_OPEN {
            out.push(c);
            continue;
        }
        let digits: String = chars
            .by_ref()
            .take_while(|&d| d != ceql::MARKER_CLOSE)
            .collect();
        match digits
            .parse::<usize>()
            .ok()
            .and_then(|i| placeholders.get(i))
        {
            Some(p) => {
                out.push_str("${");
                out.push_str(p.source());
                out.push('}');
            }
            None => out.push_str("${?}"),
        }
    }
    out
}

/// Lenient percent-decoding: `%XX` with two hex digits is a byte, `+` is a space,
/// anything else (including a stray `%`, common in `LIKE 'A%'`) stays as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                // Two hex digits make one byte (hi, lo < 16).
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-decoding for the path, where `+` is a literal plus.
fn percent_decode_path(text: &str) -> String {
    text.split('+')
        .map(percent_decode)
        .collect::<Vec<_>>()
        .join("+")
}

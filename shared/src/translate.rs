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
//!   - `<filter> = <value>` for the query parameters Sage's v3.1 Swagger file lists for
//!     the endpoint, other than paging, `attributes` and the incremental filters
//!     ([`crate::resources::HubResource::filters`]), e.g. `contact_type_id = 'CUSTOMER'`,
//!     `search = 'Acme'`, `status_id = 'PAID'`; `from_date` where Sage takes it (not on
//!     `/journals` or `/contact_allocations`). Names compare ignoring case and are sent
//!     as Sage spells them.
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
        if self.supports_updated_since {
            // Without a date clause we still ask only for what changed: polling is
            // incremental by nature, and re-listing everything at every poll would cost
            // a page per 200 records and rely on client-side filtering alone.
            let bound = match &self.since {
                Some(since) => truncate_to_placeholder(since, lower_bound),
                None => lower_bound,
            };
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
        } else if let Some(filter) = self.resource.filter_named(&key) {
            self.set_filter(filter, value, &context)
        } else if key.contains(|c: char| c == '\'' || c.is_whitespace()) {
            // The likely cause: a raw `&` inside the where clause split the query string.
            Err(fault(
                "not a parameter name; an `&` inside the where clause must be written %26",
            ))
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
        if let Some(param) = self.resource.filter_named(field) {
            return match &p.test {
                Test::Compare {
                    op: ceql::CompareOp::Eq,
                    value,
                } => match value.plain_text() {
                    Some(text) => self.set_filter(param, text, context),
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const REQUIRED: &[&str] = &["id", "created_at", "updated_at"];
    const SEED: &str = include_str!("../../tests/fixtures/seed-example-instance.json");
    const DATE: &str = "${date:yyyy-MM-dd'T'HH:mm:ss'Z'}";

    fn ok(key: &str, url: &str) -> SageListRequest {
        translate(key, url, None, REQUIRED).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    fn err(key: &str, url: &str) -> String {
        match translate(key, url, None, REQUIRED) {
            Ok(r) => panic!("{url}: expected an error, got {r:?}"),
            Err(e) => e.0,
        }
    }

    fn with_where(resource: &str, clause: &str) -> String {
        format!("/hubs/finance/{resource}?where={clause}")
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("valid time")
    }

    #[test]
    fn seed_url_exactly_as_written() {
        let seed: serde_json::Value = serde_json::from_str(SEED).expect("seed JSON");
        let url = seed["configuration"]["event.poller.configuration"]["customers"]["url"]
            .as_str()
            .expect("seed url");
        let r = ok("customers", url);
        assert_eq!(r.resource, "customers");
        assert_eq!(r.endpoint, "/contacts");
        assert_eq!(r.params, pairs(&[("contact_type_id", "CUSTOMER")]));
        assert_eq!(r.attributes, ["created_at", "updated_at", "id"]);
        assert_eq!(
            r.since.as_ref().map(Placeholder::source),
            Some("date:yyyy-MM-dd'T'HH:mm:ss'Z'")
        );
        assert_eq!(r.items_per_page, 200);
        assert!(r.supports_updated_since);
        assert!(r.supports_deleted_since);
    }

    #[test]
    fn vendors_get_their_contact_type() {
        let r = ok(
            "vendors",
            &with_where("vendors", &format!("lastModifiedDate >= '{DATE}'")),
        );
        assert_eq!(r.endpoint, "/contacts");
        assert_eq!(r.params, pairs(&[("contact_type_id", "VENDOR")]));
        assert!(r.since.is_some());
    }

    #[test]
    fn invoices_with_status_and_contact_filters() {
        let r = ok(
            "invoices",
            &with_where(
                "invoices",
                &format!("updated_at > '{DATE}' AND status_id = 'PAID' AND contact_id = 'abc123'"),
            ),
        );
        assert_eq!(r.endpoint, "/sales_invoices");
        assert_eq!(
            r.params,
            pairs(&[("status_id", "PAID"), ("contact_id", "abc123")])
        );
        assert!(r.since.is_some());
    }

    #[test]
    fn bills_and_sage_endpoint_names() {
        let r = ok("bills", "/hubs/finance/bills");
        assert_eq!(r.endpoint, "/purchase_invoices");
        assert!(r.params.is_empty());
        assert!(r.since.is_none());
        let r = ok(
            "sales_invoices",
            &with_where("sales_invoices", &format!("lastModifiedDate>='{DATE}'")),
        );
        assert_eq!(r.resource, "sales_invoices");
        assert_eq!(r.endpoint, "/sales_invoices");
    }

    #[test]
    fn unknown_resource_lists_the_known_ones() {
        let e = err("widgets", "/hubs/finance/widgets");
        assert!(e.contains("unknown resource \"widgets\""), "{e}");
        assert!(e.contains("customers, vendors, contacts"), "{e}");
        assert!(e.contains("tax-rates"), "{e}");
    }

    #[test]
    fn resource_key_mismatch_names_both() {
        let e = err("vendors", "/hubs/finance/customers");
        assert!(e.contains("\"customers\""), "{e}");
        assert!(e.contains("\"vendors\""), "{e}");
    }

    #[test]
    fn path_forms() {
        for url in [
            "hubs/finance/customers",
            "/customers",
            "customers",
            "/hubs/finance/customers/",
            "/Hubs/Finance/Customers",
            "https://api.cloud-elements.com/elements/api-v2/hubs/finance/customers",
        ] {
            let r = ok("customers", url);
            assert_eq!(r.endpoint, "/contacts", "{url}");
            assert_eq!(r.resource, "customers", "{url}");
        }
        let e = err("contacts", "/hubs/crm/contacts");
        assert!(e.contains("only the finance hub"), "{e}");
        let e = err("customers", "/hubs/finance/customers/123");
        assert!(e.contains("expected /hubs/finance/<resource>"), "{e}");
        let e = err("customers", "?where=a=1");
        assert!(e.contains("expected /hubs/finance/<resource>"), "{e}");
    }

    #[test]
    fn or_is_rejected_naming_the_clause() {
        let e = err(
            "customers",
            &with_where(
                "customers",
                &format!("lastModifiedDate >= '{DATE}' AND (search = 'a' OR search = 'b')"),
            ),
        );
        assert_eq!(
            e,
            "where clause \"(search = 'a' OR search = 'b')\": Sage cannot combine conditions \
             with OR; only AND is supported"
        );
        let e = err(
            "customers",
            &with_where("customers", "search='a' or email='b'"),
        );
        assert!(e.contains("OR"), "{e}");
    }

    #[test]
    fn like_is_rejected_naming_the_clause() {
        let e = err("contacts", &with_where("contacts", "name LIKE 'A%'"));
        assert!(
            e.starts_with("where clause \"name LIKE 'A%'\": Sage cannot filter contacts by name"),
            "{e}"
        );
        assert!(e.contains("search = …"), "{e}");
        let e = err("contacts", &with_where("contacts", "search LIKE 'A%'"));
        assert!(
            e.contains("Sage can only filter contacts by search with ="),
            "{e}"
        );
    }

    #[test]
    fn in_and_is_null_are_rejected() {
        let e = err(
            "invoices",
            &with_where("invoices", "status_id IN ('PAID', 'DRAFT')"),
        );
        assert!(
            e.starts_with("where clause \"status_id IN ('PAID', 'DRAFT')\""),
            "{e}"
        );
        assert!(e.contains("with ="), "{e}");
        let e = err("invoices", &with_where("invoices", "notes IS NULL"));
        assert!(
            e.starts_with("where clause \"notes IS NULL\": Sage cannot filter invoices by notes"),
            "{e}"
        );
        let e = err(
            "invoices",
            &with_where("invoices", "lastModifiedDate IS NOT NULL"),
        );
        assert!(e.contains("lower bound"), "{e}");
    }

    #[test]
    fn dates_need_a_placeholder_and_a_lower_bound() {
        let e = err(
            "customers",
            &with_where("customers", "lastModifiedDate >= '2018-07-31T19:39:46Z'"),
        );
        assert!(e.contains("placeholder is required"), "{e}");
        assert!(e.contains("2018-07-31T19:39:46Z"), "{e}");
        let e = err(
            "customers",
            &with_where("customers", &format!("lastModifiedDate < '{DATE}'")),
        );
        assert!(e.contains("not with <"), "{e}");
        let e = err(
            "customers",
            &with_where("customers", &format!("updated_at >= '{DATE}T00'")),
        );
        assert!(e.contains("single placeholder"), "{e}");
        let e = err(
            "customers",
            &with_where(
                "customers",
                &format!("updated_at >= '{DATE}' AND updatedDate >= '{DATE}'"),
            ),
        );
        assert!(e.contains("only one modification-time condition"), "{e}");
    }

    #[test]
    fn parentheses_and_case_insensitive_and_with_extra_spaces() {
        let r = ok(
            "customers",
            &with_where(
                "customers",
                &format!(
                    "  ( LASTMODIFIEDDATE   >=   '{DATE}' )   aNd   ( attributes = 'name'  and  \
                     search = 'x' )  "
                ),
            ),
        );
        assert!(r.since.is_some());
        assert_eq!(r.attributes, ["name", "id", "created_at", "updated_at"]);
        assert_eq!(
            r.params,
            pairs(&[("contact_type_id", "CUSTOMER"), ("search", "x")])
        );
    }

    #[test]
    fn quoted_escapes_reach_sage_unescaped() {
        let r = ok(
            "contacts",
            &with_where("contacts", "search = 'O''Brien %26 Sons'"),
        );
        assert_eq!(r.params, pairs(&[("search", "O'Brien & Sons")]));
        let e = err(
            "contacts",
            &with_where("contacts", "search = 'O''Brien & Sons'"),
        );
        assert!(e.contains("must be written %26"), "{e}");
    }

    #[test]
    fn bare_epoch_placeholder() {
        let r = ok("payments", &with_where("payments", "updated_at > ${epoch}"));
        assert_eq!(r.endpoint, "/contact_payments");
        assert_eq!(r.since.as_ref().map(Placeholder::source), Some("epoch"));
    }

    #[test]
    fn page_size_rules() {
        let url = "/hubs/finance/customers?pageSize=50";
        let size = |page_size| translate("customers", url, page_size, REQUIRED);
        assert_eq!(size(None).map(|r| r.items_per_page), Ok(50));
        assert_eq!(size(Some(10)).map(|r| r.items_per_page), Ok(10));
        assert_eq!(size(Some(200)).map(|r| r.items_per_page), Ok(200));
        assert_eq!(
            translate("customers", "/customers", Some(1), REQUIRED).map(|r| r.items_per_page),
            Ok(1)
        );
        for bad in [0, 201] {
            let e = size(Some(bad)).expect_err("out of range");
            assert!(e.0.contains(&format!("pageSize {bad}")), "{e}");
        }
        let e = err("customers", "/customers?pageSize=0");
        assert!(e.contains("pageSize 0"), "{e}");
        let e = err("customers", "/customers?pageSize=many");
        assert!(e.contains("\"pageSize=many\""), "{e}");
    }

    #[test]
    fn quotes_have_no_deleted_since() {
        for name in ["quotes", "sales_quotes", "sales_estimates"] {
            let r = ok(
                name,
                &with_where(name, &format!("lastModifiedDate >= '{DATE}'")),
            );
            assert!(r.supports_updated_since, "{name}");
            assert!(!r.supports_deleted_since, "{name}");
            assert_eq!(r.deleted_query_for(at(2024, 1, 1, 0, 0, 0)), None, "{name}");
        }
    }

    #[test]
    fn date_ranges_only_where_sage_takes_them() {
        for name in ["journal-entries", "journals", "contact_allocations"] {
            let clause = "from_date = '2024-01-01'";
            let e = err(name, &with_where(name, clause));
            assert!(
                e.starts_with(&format!(
                    "where clause \"{clause}\": Sage cannot filter {name} by from_date"
                )),
                "{e}"
            );
            let e = err(name, &format!("/hubs/finance/{name}?to_date=2024-01-31"));
            assert!(
                e.starts_with("query parameter \"to_date=2024-01-31\""),
                "{e}"
            );
        }
        let r = ok(
            "payments",
            &with_where(
                "payments",
                "from_date = '2024-01-01' AND to_date = '2024-01-31'",
            ),
        );
        assert_eq!(
            r.params,
            pairs(&[("from_date", "2024-01-01"), ("to_date", "2024-01-31")])
        );
    }

    #[test]
    fn sage_names_added_from_the_spec_translate_with_their_filters() {
        let r = ok(
            "bank_deposits",
            &with_where(
                "bank_deposits",
                &format!("lastModifiedDate >= '{DATE}' AND sort = 'date'"),
            ),
        );
        assert_eq!(r.endpoint, "/bank_deposits");
        assert_eq!(r.params, pairs(&[("sort", "date")]));
        assert!(r.supports_deleted_since);
        // Sent as Sage spells it, whatever the case in the clause.
        let r = ok("bank_accounts", "/hubs/finance/bank_accounts?APPNAME=x");
        assert_eq!(r.params, pairs(&[("appName", "x")]));
        let e = err("addresses", &with_where("addresses", "search = 'x'"));
        assert!(e.contains("Sage cannot filter addresses by search"), "{e}");
        assert!(e.contains("contact_id = …, bank_account_id = …"), "{e}");
    }

    #[test]
    fn ledger_accounts_have_no_deleted_since() {
        let r = ok(
            "ledger-accounts",
            &with_where("ledger-accounts", &format!("lastModifiedDate >= '{DATE}'")),
        );
        assert_eq!(r.endpoint, "/ledger_accounts");
        assert!(r.supports_updated_since);
        assert!(!r.supports_deleted_since);
        assert_eq!(r.deleted_query_for(at(2024, 1, 1, 0, 0, 0)), None);
    }

    #[test]
    fn contact_type_conflicts_with_the_resource() {
        let e = err(
            "customers",
            &with_where("customers", "contact_type_id = 'VENDOR'"),
        );
        assert!(
            e.contains("always filters contact_type_id = 'CUSTOMER'"),
            "{e}"
        );
        assert!(e.contains("'VENDOR'"), "{e}");
        let e = err("customers", "/customers?contact_type_id=VENDOR");
        assert!(e.contains("conflicts"), "{e}");
        // Restating the fixed value is harmless and not sent twice.
        let r = ok(
            "customers",
            &with_where("customers", "contact_type_id = 'CUSTOMER'"),
        );
        assert_eq!(r.params, pairs(&[("contact_type_id", "CUSTOMER")]));
        // On plain contacts it is an ordinary filter.
        let r = ok(
            "contacts",
            &with_where("contacts", "contact_type_id = 'VENDOR'"),
        );
        assert_eq!(r.params, pairs(&[("contact_type_id", "VENDOR")]));
        let e = err(
            "contacts",
            &with_where("contacts", "search = 'a' AND search = 'b'"),
        );
        assert!(e.contains("more than once"), "{e}");
    }

    #[test]
    fn encoded_where_clause_decodes() {
        let r = ok(
            "customers",
            "/hubs/finance/customers?where=lastModifiedDate%3E%3D%27%24%7Bdate%3Ayyyy-MM-dd%7D%27\
             +AND+search%3D%27A%25%2BB%27",
        );
        assert_eq!(
            r.since.as_ref().map(Placeholder::source),
            Some("date:yyyy-MM-dd")
        );
        assert_eq!(
            r.params,
            pairs(&[("contact_type_id", "CUSTOMER"), ("search", "A%+B")])
        );
        // A stray `%` (LIKE pattern) survives decoding and reaches the clause check.
        let e = err("contacts", &with_where("contacts", "name LIKE 'A%'"));
        assert!(e.contains("'A%'"), "{e}");
    }

    #[test]
    fn other_hub_parameters() {
        let r = ok(
            "customers",
            "/customers?page=3&orderBy=name&attributes=name,email&&search=acme",
        );
        assert_eq!(
            r.attributes,
            ["name", "email", "id", "created_at", "updated_at"]
        );
        assert_eq!(
            r.params,
            pairs(&[("contact_type_id", "CUSTOMER"), ("search", "acme")])
        );
        let e = err("customers", "/customers?fields=name");
        assert!(e.starts_with("query parameter \"fields=name\""), "{e}");
        assert!(e.contains("attributes"), "{e}");
        let e = err("customers", "/customers?includeDeleted=true");
        assert!(
            e.starts_with("query parameter \"includeDeleted=true\""),
            "{e}"
        );
        assert!(e.contains("supported parameters: where, pageSize"), "{e}");
        let e = err("customers", "/customers?where=&pageSize=5");
        assert!(e.contains("\"where\" is empty"), "{e}");
        let e = err("customers", "/customers?where=search='a'&where=email='b'");
        assert!(e.contains("given twice"), "{e}");
    }

    #[test]
    fn placeholders_only_in_the_date_condition() {
        let e = err("customers", &format!("/hubs/finance/{DATE}"));
        assert!(e.contains("only supported in the where clause"), "{e}");
        let e = err("customers", &format!("/customers?search={DATE}"));
        assert!(e.contains("only supported in the where clause"), "{e}");
        let e = err(
            "invoices",
            &with_where("invoices", &format!("from_date = '{DATE}'")),
        );
        assert!(e.contains("not in from_date"), "{e}");
        let e = err("customers", "/customers?where=updated_at>='${date:yyyy");
        assert!(e.contains("unterminated placeholder"), "{e}");
        let e = err("customers", "/customers?where=search='\u{E000}0\u{E001}'");
        assert!(e.contains("reserved character"), "{e}");
        let e = err("customers", "/customers?where=search='%EE%80%800%EE%80%81'");
        assert!(e.contains("reserved character"), "{e}");
    }

    #[test]
    fn parse_errors_point_into_the_clause_as_written() {
        let e = err(
            "customers",
            &with_where("customers", &format!("lastModifiedDate >= '{DATE}' AND")),
        );
        let clause = format!("lastModifiedDate >= '{DATE}' AND");
        assert_eq!(
            e,
            format!(
                "where clause \"{clause}\": expected a condition (a field name or `(`) at \
                 character {}, found end of clause",
                clause.chars().count() + 1
            )
        );
        let e = err(
            "customers",
            &with_where("customers", "search = 'a' search = 'b'"),
        );
        assert!(e.contains("at character 14, found `search`"), "{e}");
    }

    #[test]
    fn attributes_merge_dedup_and_all() {
        let r = ok(
            "customers",
            &with_where("customers", "attributes = ' updated_at, name ,,id '"),
        );
        assert_eq!(r.attributes, ["updated_at", "name", "id", "created_at"]);
        let r = ok("customers", &with_where("customers", "attributes = 'all'"));
        assert_eq!(r.attributes, ["all"]);
        let r = translate("customers", "/customers", None, &[]).expect("no attributes");
        assert!(r.attributes.is_empty());
        assert_eq!(
            r.query_for(at(2024, 1, 1, 0, 0, 0)),
            pairs(&[
                ("contact_type_id", "CUSTOMER"),
                ("items_per_page", "200"),
                ("updated_or_created_since", "2024-01-01T00:00:00Z"),
            ])
        );
        let e = err("customers", &with_where("customers", "attributes LIKE 'a'"));
        assert!(e.contains("attributes = 'a,b'"), "{e}");
    }

    #[test]
    fn query_without_date_clause() {
        let r = translate(
            "invoices",
            "/hubs/finance/invoices?where=status_id='PAID'",
            Some(50),
            REQUIRED,
        )
        .expect("translates");
        assert_eq!(
            r.query_for(at(2018, 7, 31, 19, 39, 46)),
            pairs(&[
                ("status_id", "PAID"),
                ("attributes", "id,created_at,updated_at"),
                ("items_per_page", "50"),
                ("updated_or_created_since", "2018-07-31T19:39:46Z"),
            ])
        );
    }

    #[test]
    fn seed_query_truncates_the_bound_to_the_pattern() {
        let seed: serde_json::Value = serde_json::from_str(SEED).expect("seed JSON");
        let url = seed["configuration"]["event.poller.configuration"]["customers"]["url"]
            .as_str()
            .expect("url");
        let r = translate("customers", url, None, REQUIRED).expect("translates");
        let bound = at(2018, 7, 31, 19, 39, 46) + chrono::Duration::milliseconds(500);
        let query = r.query_for(bound);
        assert!(
            query.contains(&(
                "updated_or_created_since".to_owned(),
                "2018-07-31T19:39:46Z".to_owned()
            )),
            "{query:?}"
        );
        // A coarser pattern widens the window downwards, never upwards.
        let day = translate(
            "customers",
            "/hubs/finance/customers?where=lastModifiedDate>='${date:yyyy-MM-dd}'",
            None,
            REQUIRED,
        )
        .expect("translates");
        let query = day.query_for(bound);
        assert!(
            query.contains(&(
                "updated_or_created_since".to_owned(),
                "2018-07-31T00:00:00Z".to_owned()
            )),
            "{query:?}"
        );
    }

    #[test]
    fn deleted_query_carries_fixed_filters_and_an_exclusive_bound() {
        let r = ok("customers", "/customers");
        let bound = at(2018, 7, 31, 19, 39, 46) + chrono::Duration::milliseconds(999);
        assert_eq!(
            r.deleted_query_for(bound),
            Some(pairs(&[
                ("contact_type_id", "CUSTOMER"),
                ("items_per_page", "200"),
                ("deleted_since", "2018-07-31T19:39:46Z"),
            ]))
        );
    }

    #[test]
    fn rfc3339_is_utc_whole_seconds() {
        let t = at(2018, 7, 31, 19, 39, 46) + chrono::Duration::microseconds(999_999);
        assert_eq!(rfc3339_seconds(t), "2018-07-31T19:39:46Z");
    }

    #[test]
    fn truncation_keeps_only_bounds_not_later_than_the_input() {
        let lb = at(2018, 7, 31, 19, 39, 46);
        let minute = at(2018, 7, 31, 19, 39, 0);
        assert_eq!(truncate_with(lb, |_| Some(minute)), minute);
        assert_eq!(truncate_with(lb, Some), lb);
        // Rounding up would skip changes; an unreadable rendering falls back to the bound.
        assert_eq!(truncate_with(lb, |_| Some(at(2018, 7, 31, 19, 40, 0))), lb);
        assert_eq!(truncate_with(lb, |_| None), lb);
    }

    #[test]
    fn percent_decoding_is_lenient() {
        assert_eq!(percent_decode("a%20b+c"), "a b c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("caf%C3%A9"), "café");
        assert_eq!(percent_decode("%FF"), "\u{FFFD}");
        assert_eq!(percent_decode_path("/a+b%2Fc"), "/a+b/c");
    }
}

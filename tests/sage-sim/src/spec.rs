//! Sage's own description of the Accounting v3.1 API — its published Swagger 2.0 file
//! (`spec/sage-accounting-v3.1-swagger.json`, host `api.accounting.sage.com`, base
//! `/v3.1`) — read into the few facts the simulator and the tests need.
//!
//! Why embed the whole file rather than a hand-made extract: it is the source of truth
//! for Sage's side, so every table that claims to describe Sage (the simulator's
//! parameter checks, sage-events' resource table) is compared against the file itself,
//! and updating it is a copy, not a transcription. It is parsed once per process.
//!
//! What the file does and does not say (checked, not assumed):
//! - every list endpoint's query parameters, including `updated_or_created_since`
//!   (`type: string, format: date-time`) and, on some endpoints, `deleted_since`;
//! - each record's definition: `id`, `displayed_as`, `$path`, `created_at` and
//!   `updated_at` (`format: date-time`), plus `deleted_at` on the endpoints that have
//!   `deleted_since`;
//! - a list's 200 response is declared as a bare array of records. The paging envelope
//!   (`$total`, `$page`, `$next`, `$back`, `$itemsPerPage`, `$items`) is not in the file at
//!   all; it comes from Sage's developer guides, and the simulator keeps it.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The Swagger file, byte for byte as Sage published it.
pub const SWAGGER_JSON: &str = include_str!("../spec/sage-accounting-v3.1-swagger.json");

/// The incremental filter for records created or changed since a time (inclusive).
pub const UPDATED_OR_CREATED_SINCE: &str = "updated_or_created_since";
/// The incremental filter for records deleted since a time (exclusive).
pub const DELETED_SINCE: &str = "deleted_since";

/// The parts of Sage's file the simulator uses.
#[derive(Debug)]
pub struct Spec {
    /// `api.accounting.sage.com`.
    pub host: String,
    /// `/v3.1`.
    pub base_path: String,
    /// Collection GETs answering with an array of records, by name (`contacts`).
    list_endpoints: BTreeMap<String, ListEndpoint>,
}

/// One list endpoint (`GET /contacts`).
#[derive(Debug)]
pub struct ListEndpoint {
    /// `/contacts`.
    pub path: String,
    /// Its query parameters in the file's order.
    pub query_params: Vec<QueryParam>,
    /// The definition of the records it lists, if the file names one.
    pub record: Option<Definition>,
}

/// One query parameter of a list endpoint.
#[derive(Debug, Clone)]
pub struct QueryParam {
    pub name: String,
    /// Swagger `type` (`string`, `integer`, `boolean`, …).
    pub kind: Option<String>,
    /// Swagger `format` (`date-time`, `date`, `int32`, …).
    pub format: Option<String>,
    pub description: Option<String>,
    pub example: Option<Value>,
}

/// A record definition (`#/definitions/Contact`).
#[derive(Debug, Clone)]
pub struct Definition {
    pub name: String,
    /// Property name → its Swagger `format`, if any.
    pub properties: BTreeMap<String, Option<String>>,
}

/// The parsed file. Panics only if the embedded file is not Sage's Swagger JSON, which a
/// test of this crate rules out.
pub fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        parse(SWAGGER_JSON).unwrap_or_else(|e| panic!("the embedded Sage Swagger file: {e}"))
    })
}

impl Spec {
    /// Every list endpoint, by name.
    pub fn list_endpoints(&self) -> impl Iterator<Item = &ListEndpoint> {
        self.list_endpoints.values()
    }

    /// The list endpoint called `endpoint` (`"contacts"` or `"/contacts"`).
    pub fn list_endpoint(&self, endpoint: &str) -> Option<&ListEndpoint> {
        self.list_endpoints.get(endpoint.trim_matches('/'))
    }

    /// The list endpoints that take `updated_or_created_since`: the ones a poller can read
    /// incrementally.
    pub fn pollable(&self) -> impl Iterator<Item = &ListEndpoint> {
        self.list_endpoints().filter(|e| e.is_pollable())
    }
}

impl ListEndpoint {
    /// `contacts` for `/contacts`.
    pub fn name(&self) -> &str {
        self.path.trim_start_matches('/')
    }

    /// The query parameter called `name`, if the file lists it for this endpoint.
    pub fn param(&self, name: &str) -> Option<&QueryParam> {
        self.query_params.iter().find(|p| p.name == name)
    }

    /// Whether the file lists the query parameter `name` for this endpoint.
    pub fn accepts(&self, name: &str) -> bool {
        self.param(name).is_some()
    }

    /// Whether it takes `updated_or_created_since`.
    pub fn is_pollable(&self) -> bool {
        self.accepts(UPDATED_OR_CREATED_SINCE)
    }

    /// Whether it takes `deleted_since`.
    pub fn has_deleted_since(&self) -> bool {
        self.accepts(DELETED_SINCE)
    }

    /// The names of its query parameters, in the file's order.
    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        self.query_params.iter().map(|p| p.name.as_str())
    }
}

impl Definition {
    /// Whether the definition has a property called `name`.
    pub fn has(&self, name: &str) -> bool {
        self.properties.contains_key(name)
    }

    /// The Swagger `format` of property `name` (`date-time` for `created_at`).
    pub fn format_of(&self, name: &str) -> Option<&str> {
        self.properties.get(name).and_then(|f| f.as_deref())
    }
}

// --- the file's shape, as far as it is read -----------------------------------------

#[derive(Deserialize)]
struct RawSpec {
    host: String,
    #[serde(rename = "basePath")]
    base_path: String,
    paths: BTreeMap<String, RawPath>,
    definitions: BTreeMap<String, RawDefinition>,
}

#[derive(Deserialize)]
struct RawPath {
    get: Option<RawOperation>,
}

#[derive(Deserialize)]
struct RawOperation {
    #[serde(default)]
    parameters: Vec<RawParameter>,
    #[serde(default)]
    responses: BTreeMap<String, RawResponse>,
}

#[derive(Deserialize)]
struct RawParameter {
    name: String,
    #[serde(rename = "in")]
    location: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    format: Option<String>,
    description: Option<String>,
    example: Option<Value>,
}

#[derive(Deserialize)]
struct RawResponse {
    schema: Option<RawSchema>,
}

#[derive(Deserialize)]
struct RawSchema {
    #[serde(rename = "type")]
    kind: Option<String>,
    items: Option<Box<RawSchema>>,
    #[serde(rename = "$ref")]
    reference: Option<String>,
}

#[derive(Deserialize)]
struct RawDefinition {
    #[serde(default)]
    properties: BTreeMap<String, RawProperty>,
}

#[derive(Deserialize)]
struct RawProperty {
    format: Option<String>,
}

fn parse(text: &str) -> Result<Spec, serde_json::Error> {
    let raw: RawSpec = serde_json::from_str(text)?;
    let definition = |reference: &str| {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        raw.definitions.get(name).map(|d| Definition {
            name: name.to_owned(),
            properties: d
                .properties
                .iter()
                .map(|(k, p)| (k.clone(), p.format.clone()))
                .collect(),
        })
    };
    let mut list_endpoints = BTreeMap::new();
    for (path, item) in &raw.paths {
        let Some(get) = &item.get else { continue };
        if path.contains('{') {
            continue;
        }
        let Some(schema) = get.responses.get("200").and_then(|r| r.schema.as_ref()) else {
            continue;
        };
        if schema.kind.as_deref() != Some("array") {
            continue;
        }
        let record = schema
            .items
            .as_ref()
            .and_then(|items| items.reference.as_deref())
            .and_then(definition);
        let query_params = get
            .parameters
            .iter()
            .filter(|p| p.location == "query")
            .map(|p| QueryParam {
                name: p.name.clone(),
                kind: p.kind.clone(),
                format: p.format.clone(),
                description: p.description.clone(),
                example: p.example.clone(),
            })
            .collect();
        let endpoint = ListEndpoint {
            path: path.clone(),
            query_params,
            record,
        };
        list_endpoints.insert(endpoint.name().to_owned(), endpoint);
    }
    Ok(Spec {
        host: raw.host,
        base_path: raw.base_path,
        list_endpoints,
    })
}

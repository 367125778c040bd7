//! Checks bodies against `openapi.yaml` at the repository root.
//!
//! The document is read with `saphyr`, converted to JSON and validated with the
//! `jsonschema` crate (JSON Schema 2020-12, the dialect of OpenAPI 3.1, `format` asserted).
//! A schema is named by its JSON pointer into the document, so `$ref`s resolve as they do
//! for any OpenAPI tool. The crate ignores keywords it does not know, so
//! [`unknown_keywords`] walks every schema of the document and the tests refuse any
//! keyword outside the 2020-12 vocabulary: a misspelt `minLenght` cannot silently turn a
//! rule off.
//!
//! Shared by the registration tests (every response checked) and `openapi_contract`
//! (requests: the schema and the validator agree).
#![allow(dead_code)]

use jsonschema::{Draft, Registry, Validator};
use saphyr::{LoadableYamlNode, ScalarOwned, YamlOwned};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

const DOCUMENT: &str = include_str!("../../../openapi.yaml");
/// The base URI the document is registered under.
const BASE: &str = "urn:sage-events:openapi";

/// Every keyword of JSON Schema 2020-12 (core, applicator, validation, unevaluated,
/// format, content, meta-data) plus the OpenAPI 3.1 additions.
const KEYWORDS: &[&str] = &[
    "$ref",
    "$defs",
    "$id",
    "$schema",
    "$anchor",
    "$comment",
    "type",
    "const",
    "enum",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxContains",
    "minContains",
    "maxProperties",
    "minProperties",
    "required",
    "dependentRequired",
    "properties",
    "patternProperties",
    "additionalProperties",
    "propertyNames",
    "items",
    "prefixItems",
    "contains",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "dependentSchemas",
    "unevaluatedItems",
    "unevaluatedProperties",
    "format",
    "contentEncoding",
    "contentMediaType",
    "contentSchema",
    "title",
    "description",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
    "examples",
    "example",
    "discriminator",
    "xml",
    "externalDocs",
];

pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let docs = YamlOwned::load_from_str(DOCUMENT).expect("openapi.yaml is valid YAML");
        let doc = to_json(docs.first().expect("openapi.yaml has a document"));
        assert_eq!(doc["openapi"], "3.1.0");
        doc
    })
}

fn to_json(node: &YamlOwned) -> Value {
    match node {
        YamlOwned::Value(scalar) => match scalar {
            ScalarOwned::Null => Value::Null,
            ScalarOwned::Boolean(b) => json!(b),
            ScalarOwned::Integer(i) => json!(i),
            ScalarOwned::FloatingPoint(f) => json!(f.into_inner()),
            ScalarOwned::String(s) => json!(s),
        },
        YamlOwned::Representation(text, _, _) => json!(text),
        YamlOwned::Sequence(items) => Value::Array(items.iter().map(to_json).collect()),
        YamlOwned::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match to_json(k) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.insert(key, to_json(v));
            }
            Value::Object(out)
        }
        YamlOwned::Tagged(_, inner) => to_json(inner),
        YamlOwned::Alias(_) | YamlOwned::BadValue => {
            panic!("unsupported YAML node in openapi.yaml")
        }
    }
}

fn registry() -> &'static Registry<'static> {
    static REGISTRY: OnceLock<Registry<'static>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        static ROOT: OnceLock<Value> = OnceLock::new();
        let root = ROOT.get_or_init(|| {
            let mut root = document().clone();
            root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
            root
        });
        Registry::new()
            .add(BASE, root)
            .expect("openapi.yaml registers as a schema resource")
            .prepare()
            .expect("openapi.yaml's references resolve")
    })
}

/// The validator of the schema at `pointer` (e.g. `/components/schemas/InstanceRequest`).
pub fn validator(pointer: &str) -> Arc<Validator> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Validator>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(found) = cache.lock().expect("cache").get(pointer) {
        return found.clone();
    }
    assert!(
        document().pointer(pointer).is_some(),
        "openapi.yaml has nothing at {pointer}"
    );
    let reference = json!({ "$ref": format!("{BASE}#{}", escape_fragment(pointer)) });
    let built = Arc::new(
        jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .with_registry(registry())
            .build(&reference)
            .unwrap_or_else(|e| panic!("the schema at {pointer} does not compile: {e}")),
    );
    cache
        .lock()
        .expect("cache")
        .insert(pointer.to_owned(), built.clone());
    built
}

/// A JSON pointer as a URI fragment (`{`, `}` and the like percent-encoded).
fn escape_fragment(pointer: &str) -> String {
    pointer
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'~' | b'-' | b'_' | b'.' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// One schema violation: where in the instance (JSON pointer) and what.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The instance location, as path segments.
    pub at: Vec<String>,
    /// For `required` and `additionalProperties: false`, the member named.
    pub member: Option<String>,
    pub message: String,
}

/// Validate `value` against the schema at `pointer`; every violation.
pub fn violations(pointer: &str, value: &Value) -> Vec<Violation> {
    let validator = validator(pointer);
    validator
        .iter_errors(value)
        .map(|error| {
            let at = error
                .instance_path()
                .iter()
                .map(|segment| segment.to_string())
                .collect();
            let member = match error.kind() {
                jsonschema::error::ValidationErrorKind::Required { property } => {
                    property.as_str().map(str::to_owned)
                }
                jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                    unexpected.first().cloned()
                }
                _ => None,
            };
            Violation {
                at,
                member,
                message: error.to_string(),
            }
        })
        .collect()
}

/// `Ok` when `value` is valid against the schema at `pointer`, else every message.
pub fn validate(pointer: &str, value: &Value) -> Result<(), String> {
    let found = violations(pointer, value);
    if found.is_empty() {
        Ok(())
    } else {
        Err(found
            .iter()
            .map(|v| format!("/{}: {}", v.at.join("/"), v.message))
            .collect::<Vec<_>>()
            .join("; "))
    }
}

/// The document's path template for a request path: `/instances/42/poll` →
/// `/instances/{id}/poll`.
pub fn template(path: &str) -> String {
    path.trim_end_matches('/')
        .split('/')
        .enumerate()
        .map(|(i, segment)| if i == 2 { "{id}" } else { segment })
        .collect::<Vec<_>>()
        .join("/")
}

/// The JSON pointer of a path item (`/paths/~1instances~1{id}`).
pub fn path_pointer(template: &str) -> String {
    format!("/paths/{}", template.replace('~', "~0").replace('/', "~1"))
}

/// Assert that a response of `method path` with `status` and `body` is one the document
/// describes. Requests outside the document (unknown path or method: 404/405) must be
/// the document's `Error` body.
pub fn check_response(method: &str, path: &str, status: u16, body: &Value) {
    let doc = document();
    let item = path_pointer(&template(path));
    let method = method.to_ascii_lowercase();
    let operation = doc.pointer(&item).and_then(|item| item.get(&method));
    let pointer = match operation {
        None => {
            assert!(
                matches!(status, 404 | 405),
                "{method} {path} is not in openapi.yaml but answered {status}"
            );
            "/components/schemas/Error".to_owned()
        }
        Some(operation) => {
            assert!(
                operation["responses"].get(status.to_string()).is_some(),
                "openapi.yaml lists no {status} response for {method} {path}: {body}"
            );
            // Follow the response's `$ref`s to the object that holds the content.
            let mut response = format!("{item}/{method}/responses/{status}");
            while let Some(reference) = doc
                .pointer(&response)
                .and_then(|r| r.get("$ref"))
                .and_then(Value::as_str)
            {
                response = reference.trim_start_matches('#').to_owned();
            }
            let schema = format!("{response}/content/application~1json/schema");
            assert!(
                doc.pointer(&schema).is_some(),
                "{method} {path} {status}: no JSON schema"
            );
            schema
        }
    };
    if let Err(problem) = validate(&pointer, body) {
        panic!(
            "{method} {path} answered {status} with a body openapi.yaml does not allow: {problem}\nbody: {body:#}"
        );
    }
}

/// Every keyword of every schema in the document that JSON Schema 2020-12 does not know,
/// with where it is.
pub fn unknown_keywords() -> Vec<String> {
    let mut found = Vec::new();
    let doc = document();
    for (name, schema) in doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
    {
        walk(schema, &format!("components.schemas.{name}"), &mut found);
    }
    for (name, parameter) in doc["components"]["parameters"]
        .as_object()
        .into_iter()
        .flatten()
    {
        walk(
            &parameter["schema"],
            &format!("components.parameters.{name}"),
            &mut found,
        );
    }
    let media = |holder: &Value, at: &str, found: &mut Vec<String>| {
        for (kind, content) in holder["content"].as_object().into_iter().flatten() {
            walk(&content["schema"], &format!("{at}.{kind}"), found);
        }
    };
    for (name, response) in doc["components"]["responses"]
        .as_object()
        .into_iter()
        .flatten()
    {
        media(
            response,
            &format!("components.responses.{name}"),
            &mut found,
        );
    }
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            if method == "parameters" {
                continue;
            }
            let at = format!("{method} {path}");
            media(&operation["requestBody"], &at, &mut found);
            for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                media(response, &format!("{at} {status}"), &mut found);
            }
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                walk(&parameter["schema"], &format!("{at} parameter"), &mut found);
            }
        }
    }
    found
}

fn walk(schema: &Value, at: &str, found: &mut Vec<String>) {
    let Some(rules) = schema.as_object() else {
        return;
    };
    for (keyword, rule) in rules {
        if !KEYWORDS.contains(&keyword.as_str()) {
            found.push(format!("{at}: {keyword}"));
            continue;
        }
        match keyword.as_str() {
            "properties" | "patternProperties" | "$defs" | "dependentSchemas" => {
                for (name, sub) in rule.as_object().into_iter().flatten() {
                    walk(sub, &format!("{at}.{name}"), found);
                }
            }
            "allOf" | "anyOf" | "oneOf" | "prefixItems" => {
                for (i, sub) in rule.as_array().into_iter().flatten().enumerate() {
                    walk(sub, &format!("{at}.{keyword}[{i}]"), found);
                }
            }
            "items"
            | "additionalProperties"
            | "propertyNames"
            | "not"
            | "if"
            | "then"
            | "else"
            | "contains"
            | "contentSchema"
            | "unevaluatedItems"
            | "unevaluatedProperties" => walk(rule, &format!("{at}.{keyword}"), found),
            _ => {}
        }
    }
}

#[test]
fn the_document_uses_only_json_schema_keywords() {
    assert_eq!(unknown_keywords(), Vec::<String>::new());
    // The walk does look: a misspelt keyword is found.
    let mut found = Vec::new();
    walk(
        &json!({"properties": {"a": {"anyOf": [{"minLenght": 1}]}}}),
        "x",
        &mut found,
    );
    assert_eq!(found, vec!["x.a.anyOf[0]: minLenght"]);
}

#[test]
fn checker_rejects_what_the_document_forbids() {
    let error = "/components/schemas/Error";
    assert!(validate(error, &json!({"message": "x"})).is_ok());
    assert!(validate(error, &json!({"message": ""})).is_err());
    assert!(validate(error, &json!({"field": "x"})).is_err());
    assert!(validate(error, &json!({"message": "x", "secret": 1})).is_err());
    assert!(validate("/components/schemas/Instance", &json!({"id": 1})).is_err());
    // Formats are asserted, not just annotations.
    let detail = "/components/schemas/PollStatus";
    assert!(
        validate(
            detail,
            &json!({"lastCounts": {}, "totalEvents": 0, "lastPollAt": "yesterday"})
        )
        .is_err()
    );
}

#[test]
fn responses_are_found_through_paths_and_refs() {
    // Inline under a templated path, through a `$ref`d response, and outside the document.
    check_response(
        "POST",
        "/instances/7/poll",
        202,
        &json!({"id": 7, "message": "queued"}),
    );
    check_response(
        "GET",
        "/instances/7",
        404,
        &json!({"message": "no such instance"}),
    );
    check_response("GET", "/instances", 200, &json!([]));
    check_response("PUT", "/instances", 405, &json!({"message": "no"}));
    let refused = std::panic::catch_unwind(|| {
        check_response(
            "POST",
            "/instances/7/poll",
            202,
            &json!({"id": 0, "message": "x"}),
        )
    });
    assert!(refused.is_err(), "an id of 0 passed the 202 schema");
}

//! Checks responses against `openapi.yaml` at the repository root.
//!
//! The document is read with `saphyr` and converted to JSON; the response schemas use a
//! small subset of JSON Schema (`$ref`, `type`, `const`, `enum`, `properties`, `required`,
//! `additionalProperties`, `items`, `minItems`, `minimum`, `maximum`, `minLength`,
//! `format: date-time`), which [`validate`] implements. Any other keyword in a schema it
//! meets is an error, so the document cannot silently outgrow the checker.

use saphyr::{LoadableYamlNode, ScalarOwned, YamlOwned};
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

const DOCUMENT: &str = include_str!("../../../openapi.yaml");

/// Keywords that carry no constraint the checker needs to apply.
const ANNOTATIONS: &[&str] = &["description", "default", "title", "example"];

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

fn resolve(value: &Value) -> &Value {
    let mut value = value;
    while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local $refs: {reference}"));
        value = document()
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling $ref {reference}"));
    }
    value
}

/// The document's path template for a request path: `/instances/42/poll` →
/// `/instances/{id}/poll`.
fn template(path: &str) -> String {
    path.trim_end_matches('/')
        .split('/')
        .enumerate()
        .map(|(i, segment)| if i == 2 { "{id}" } else { segment })
        .collect::<Vec<_>>()
        .join("/")
}

/// Assert that a response of `method path` with `status` and `body` is one the document
/// describes. Requests outside the document (unknown path or method: 404/405) must be
/// the document's `Error` body.
pub fn check_response(method: &str, path: &str, status: u16, body: &Value) {
    let doc = document();
    let operation = doc["paths"]
        .get(template(path))
        .and_then(|item| item.get(method.to_ascii_lowercase()));
    let schema = match operation {
        None => {
            assert!(
                matches!(status, 404 | 405),
                "{method} {path} is not in openapi.yaml but answered {status}"
            );
            &doc["components"]["schemas"]["Error"]
        }
        Some(operation) => {
            let response = operation["responses"]
                .get(status.to_string())
                .unwrap_or_else(|| {
                    panic!("openapi.yaml lists no {status} response for {method} {path}: {body}")
                });
            let response = resolve(response);
            response
                .pointer("/content/application~1json/schema")
                .unwrap_or_else(|| panic!("{method} {path} {status}: no JSON schema"))
        }
    };
    if let Err(problem) = validate(schema, body, "$") {
        panic!(
            "{method} {path} answered {status} with a body openapi.yaml does not allow: {problem}\nbody: {body:#}"
        );
    }
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        other => panic!("unknown type {other} in openapi.yaml"),
    }
}

/// Validate `value` against `schema` (the subset described in the module docs).
pub fn validate(schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(schema);
    let Some(rules) = schema.as_object() else {
        return Err(format!("{at}: schema is not an object"));
    };
    for (keyword, rule) in rules {
        match keyword.as_str() {
            "type" => {
                let names: Vec<&str> = match rule {
                    Value::String(s) => vec![s.as_str()],
                    Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
                    _ => return Err(format!("{at}: bad type keyword")),
                };
                if !names.iter().any(|n| type_matches(n, value)) {
                    return Err(format!("{at}: expected {names:?}, got {value}"));
                }
            }
            "const" => {
                if rule != value {
                    return Err(format!("{at}: expected {rule}, got {value}"));
                }
            }
            "enum" => {
                if !rule.as_array().is_some_and(|l| l.contains(value)) {
                    return Err(format!("{at}: {value} not in {rule}"));
                }
            }
            "required" => {
                if let Some(object) = value.as_object() {
                    for name in rule
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        if !object.contains_key(name) {
                            return Err(format!("{at}: missing required {name}"));
                        }
                    }
                }
            }
            "properties" => {
                if let (Some(object), Some(properties)) = (value.as_object(), rule.as_object()) {
                    for (name, sub) in properties {
                        if let Some(v) = object.get(name) {
                            validate(sub, v, &format!("{at}.{name}"))?;
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Some(object) = value.as_object() {
                    let known = rules.get("properties").and_then(Value::as_object);
                    for (name, v) in object {
                        if known.is_some_and(|k| k.contains_key(name)) {
                            continue;
                        }
                        match rule {
                            Value::Bool(false) => {
                                return Err(format!("{at}: unexpected property {name}"));
                            }
                            Value::Bool(true) => {}
                            sub => validate(sub, v, &format!("{at}.{name}"))?,
                        }
                    }
                }
            }
            "items" => {
                if let Some(items) = value.as_array() {
                    for (i, item) in items.iter().enumerate() {
                        validate(rule, item, &format!("{at}[{i}]"))?;
                    }
                }
            }
            "minItems" => {
                if let (Some(items), Some(min)) = (value.as_array(), rule.as_u64())
                    && (items.len() as u64) < min
                {
                    return Err(format!("{at}: fewer than {min} items"));
                }
            }
            "minimum" | "maximum" => {
                if let (Some(n), Some(bound)) = (value.as_f64(), rule.as_f64()) {
                    let ok = if keyword == "minimum" {
                        n >= bound
                    } else {
                        n <= bound
                    };
                    if !ok {
                        return Err(format!("{at}: {n} violates {keyword} {bound}"));
                    }
                }
            }
            "minLength" => {
                if let (Some(s), Some(min)) = (value.as_str(), rule.as_u64())
                    && (s.chars().count() as u64) < min
                {
                    return Err(format!("{at}: shorter than {min}"));
                }
            }
            "format" => {
                if rule == "date-time"
                    && let Some(s) = value.as_str()
                    && chrono::DateTime::parse_from_rfc3339(s).is_err()
                {
                    return Err(format!("{at}: {s:?} is not an RFC 3339 date-time"));
                }
            }
            other if ANNOTATIONS.contains(&other) => {}
            other => panic!("openapi checker does not implement keyword {other} ({at})"),
        }
    }
    Ok(())
}

#[test]
fn checker_rejects_what_the_document_forbids() {
    let error = &document()["components"]["schemas"]["Error"];
    assert!(validate(error, &json!({"message": "x"}), "$").is_ok());
    assert!(validate(error, &json!({"message": ""}), "$").is_err());
    assert!(validate(error, &json!({"field": "x"}), "$").is_err());
    assert!(validate(error, &json!({"message": "x", "secret": 1}), "$").is_err());
    let instance = &document()["components"]["schemas"]["Instance"];
    assert!(validate(instance, &json!({"id": 1}), "$").is_err());
}

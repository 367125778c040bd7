//! Readers for loosely typed JSON values.
//!
//! Cloud Elements bodies found in the wild write booleans as `true` or `"true"`, numbers
//! as `15` or `"15"`, and copy templates with `<…>` placeholders left in. Each reader
//! accepts the loose forms, reports a wrong value as a [`FieldError`](super::FieldError)
//! on the given path, and returns `None` after reporting so that validation goes on.

use super::ValidationErrors;
use serde_json::Value;

/// How many characters of a rejected value a message may quote.
const QUOTE_LIMIT: usize = 60;

/// Whether `text` is a template placeholder such as `<COUNTRY_CODE>`.
pub fn is_placeholder(text: &str) -> bool {
    text.len() >= 2 && text.starts_with('<') && text.ends_with('>')
}

/// Whether a value may be quoted back in an error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quote {
    /// Not sensitive: quote (a prefix of) it.
    Value,
    /// A secret: never quote it, not even a placeholder (a real secret could look like one).
    Never,
}

/// `text` shortened for an error message.
pub(crate) fn shown(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(QUOTE_LIMIT).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// Report a placeholder; returns true when `text` is one.
pub(crate) fn reject_placeholder(
    text: &str,
    field: &str,
    quote: Quote,
    errors: &mut ValidationErrors,
) -> bool {
    if !is_placeholder(text) {
        return false;
    }
    let message = match quote {
        Quote::Value => format!(
            "is a placeholder ({}); replace it with a real value",
            shown(text)
        ),
        Quote::Never => "is a placeholder (<…>); replace it with a real value".to_owned(),
    };
    errors.push(field, message);
    true
}

/// A JSON type name for messages.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string that is not a placeholder. `allow_empty = false` also rejects empty or
/// whitespace-only text.
pub(crate) fn string(
    value: &Value,
    field: &str,
    quote: Quote,
    allow_empty: bool,
    errors: &mut ValidationErrors,
) -> Option<String> {
    let Value::String(text) = value else {
        errors.push(field, format!("must be a string, not {}", type_name(value)));
        return None;
    };
    if reject_placeholder(text, field, quote, errors) {
        return None;
    }
    if !allow_empty && text.trim().is_empty() {
        errors.push(field, "must not be empty");
        return None;
    }
    Some(text.clone())
}

/// `true`/`false`, or the strings `"true"`/`"false"` (any ASCII case).
pub(crate) fn boolean(value: &Value, field: &str, errors: &mut ValidationErrors) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(text) => {
            if reject_placeholder(text, field, Quote::Value, errors) {
                return None;
            }
            if text.eq_ignore_ascii_case("true") {
                Some(true)
            } else if text.eq_ignore_ascii_case("false") {
                Some(false)
            } else {
                errors.push(
                    field,
                    format!("must be true or false, not \"{}\"", shown(text)),
                );
                None
            }
        }
        other => {
            errors.push(
                field,
                format!("must be true or false, not {}", type_name(other)),
            );
            None
        }
    }
}

/// A whole number within `min..=max`, written as a JSON integer or a string of digits
/// (optionally signed). `unit` names what is counted (`"minutes"`, or `""`).
pub(crate) fn whole_number(
    value: &Value,
    field: &str,
    min: i64,
    max: i64,
    unit: &str,
    errors: &mut ValidationErrors,
) -> Option<i64> {
    let of_unit = if unit.is_empty() {
        String::new()
    } else {
        format!(" of {unit}")
    };
    let not_whole = || format!("must be a whole number{of_unit} ≥ {min}");
    let number = match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_u64().map(|_| i64::MAX))
            // `15.0` is the whole number 15 (JSON Schema's `integer` agrees); `as`
            // saturates, so a huge one is reported as too large.
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && f.fract() == 0.0)
                    .map(|f| f as i64)
            }),
        Value::String(text) => {
            if reject_placeholder(text, field, Quote::Value, errors) {
                return None;
            }
            parse_integer_text(text)
        }
        _ => None,
    };
    let Some(number) = number else {
        errors.push(field, not_whole());
        return None;
    };
    if number < min {
        errors.push(field, not_whole());
        return None;
    }
    if number > max {
        let unit_suffix = if unit.is_empty() {
            String::new()
        } else {
            format!(" {unit}")
        };
        errors.push(field, format!("must be at most {max}{unit_suffix}"));
        return None;
    }
    Some(number)
}

/// `-?[0-9]+` (surrounding whitespace tolerated), saturating on overflow so that a huge
/// value is reported as too large rather than as not a number.
fn parse_integer_text(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits.parse::<i64>().unwrap_or(i64::MAX);
    Some(if negative { -magnitude } else { magnitude })
}

/// An absolute `http`/`https` URL with a host. Syntax only: whether the host may be
/// reached (SSRF policy) is decided at registration.
pub(crate) fn http_url(
    value: &Value,
    field: &str,
    errors: &mut ValidationErrors,
) -> Option<String> {
    let text = string(value, field, Quote::Value, false, errors)?;
    match url::Url::parse(&text) {
        Ok(parsed) if !matches!(parsed.scheme(), "http" | "https") => {
            errors.push(
                field,
                format!(
                    "must be an http or https URL, not a {} URL",
                    shown(parsed.scheme())
                ),
            );
            None
        }
        Ok(parsed) if parsed.host_str().is_none_or(str::is_empty) => {
            errors.push(field, "must be an absolute http(s) URL with a host");
            None
        }
        Ok(_) => Some(text),
        Err(e) => {
            errors.push(field, format!("must be an absolute http(s) URL ({e})"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run<T>(f: impl FnOnce(&mut ValidationErrors) -> Option<T>) -> (Option<T>, Vec<String>) {
        let mut errors = ValidationErrors::new();
        let out = f(&mut errors);
        (out, errors.iter().map(|e| e.message.clone()).collect())
    }

    #[test]
    fn config_loose_whole_number_accepts_number_and_digit_string() {
        assert_eq!(
            run(|e| whole_number(&json!(15), "f", 1, 1440, "minutes", e)).0,
            Some(15)
        );
        assert_eq!(
            run(|e| whole_number(&json!("15"), "f", 1, 1440, "minutes", e)).0,
            Some(15)
        );
    }

    #[test]
    fn config_loose_whole_number_rejects_fractions_words_negatives_and_huge() {
        for bad in [
            json!(1.5),
            json!("abc"),
            json!("-3"),
            json!(0),
            json!(true),
            json!(""),
        ] {
            let (out, messages) = run(|e| whole_number(&bad, "f", 1, 1440, "minutes", e));
            assert_eq!(out, None, "{bad}");
            assert_eq!(
                messages,
                vec!["must be a whole number of minutes ≥ 1"],
                "{bad}"
            );
        }
        let (_, messages) = run(|e| {
            whole_number(
                &json!("99999999999999999999999"),
                "f",
                1,
                1440,
                "minutes",
                e,
            )
        });
        assert_eq!(messages, vec!["must be at most 1440 minutes"]);
        let (_, messages) = run(|e| whole_number(&json!(u64::MAX), "f", 1, 1440, "minutes", e));
        assert_eq!(messages, vec!["must be at most 1440 minutes"]);
    }

    #[test]
    fn config_loose_whole_number_accepts_a_whole_float() {
        assert_eq!(
            run(|e| whole_number(&json!(15.0), "f", 1, 1440, "minutes", e)).0,
            Some(15)
        );
        let (_, messages) = run(|e| whole_number(&json!(1e300), "f", 1, 1440, "minutes", e));
        assert_eq!(messages, vec!["must be at most 1440 minutes"]);
        let (_, messages) = run(|e| whole_number(&json!(-2.0), "f", 1, 1440, "minutes", e));
        assert_eq!(messages, vec!["must be a whole number of minutes ≥ 1"]);
    }

    #[test]
    fn config_loose_boolean_forms() {
        assert_eq!(run(|e| boolean(&json!("TRUE"), "f", e)).0, Some(true));
        assert_eq!(run(|e| boolean(&json!(false), "f", e)).0, Some(false));
        assert_eq!(run(|e| boolean(&json!("yes"), "f", e)).0, None);
        assert_eq!(run(|e| boolean(&json!(1), "f", e)).0, None);
    }

    #[test]
    fn config_loose_secret_placeholders_are_not_quoted() {
        let (_, messages) = run(|e| string(&json!("<CLIENT_SECRET>"), "f", Quote::Never, false, e));
        assert_eq!(
            messages,
            vec!["is a placeholder (<…>); replace it with a real value"]
        );
        let (_, messages) = run(|e| string(&json!("<COUNTRY_CODE>"), "f", Quote::Value, false, e));
        assert_eq!(
            messages,
            vec!["is a placeholder (<COUNTRY_CODE>); replace it with a real value"]
        );
    }

    #[test]
    fn config_loose_http_url() {
        assert!(
            run(|e| http_url(&json!("http://mycoolapp.com"), "f", e))
                .0
                .is_some()
        );
        assert!(run(|e| http_url(&json!("ftp://x"), "f", e)).0.is_none());
        assert!(run(|e| http_url(&json!("not a url"), "f", e)).0.is_none());
        assert!(run(|e| http_url(&json!("/relative"), "f", e)).0.is_none());
    }
}

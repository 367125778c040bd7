//! Validation errors that name the offending field.
//!
//! A registration body is checked in one pass and every problem is reported at once, so a
//! user fixing a copied template sees the whole list instead of one error per attempt.

use std::fmt;

/// One problem with one field of a request body.
///
/// `field` is a path into the body: object keys joined by `.`, array items as `[i]`, and
/// keys that are not plain identifiers (the dotted configuration keys) in double quotes,
/// e.g. `configuration."event.poller.refresh_interval"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every problem found in a body, in the order the fields were checked. Never empty when
/// returned as an error.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn new() -> Self {
        ValidationErrors(Vec::new())
    }

    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn extend(&mut self, other: ValidationErrors) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        self.0.iter()
    }

    /// The field paths named, in order (handy for tests and for API error bodies).
    pub fn fields(&self) -> Vec<&str> {
        self.0.iter().map(|e| e.field.as_str()).collect()
    }

    /// `Ok(value)` when nothing was reported, else `Err(self)`.
    pub fn into_result<T>(self, value: T) -> Result<T, ValidationErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl From<FieldError> for ValidationErrors {
    fn from(error: FieldError) -> Self {
        ValidationErrors(vec![error])
    }
}

/// The path of a key of the `configuration` object. Configuration keys are always quoted
/// (`configuration."country"`), because most of them contain dots and a uniform form is
/// easier to match on.
pub fn configuration_field(key: &str) -> String {
    format!("configuration.{}", quoted(key))
}

/// `parent.key`, with `key` quoted unless it is a plain identifier.
pub fn child_field(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if parent.is_empty() {
        if plain { key.to_owned() } else { quoted(key) }
    } else if plain {
        format!("{parent}.{key}")
    } else {
        format!("{parent}.{}", quoted(key))
    }
}

/// `parent[index]`.
pub fn item_field(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

fn quoted(key: &str) -> String {
    format!("\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_paths_quote_what_is_not_an_identifier() {
        assert_eq!(configuration_field("country"), "configuration.\"country\"");
        assert_eq!(
            child_field(
                &configuration_field("event.poller.configuration"),
                "customers"
            ),
            "configuration.\"event.poller.configuration\".customers"
        );
        assert_eq!(child_field("p", "a.b"), "p.\"a.b\"");
        assert_eq!(child_field("p", "say \"hi\""), "p.\"say \\\"hi\\\"\"");
        assert_eq!(child_field("", "name"), "name");
        assert_eq!(child_field("", ""), "\"\"");
        assert_eq!(item_field("tags", 3), "tags[3]");
    }

    #[test]
    fn config_errors_display_every_error() {
        let mut errors = ValidationErrors::new();
        assert_eq!(errors.clone().into_result(1), Ok(1));
        errors.push("name", "is required");
        errors.push("tags[0]", "must be a string, not a number");
        assert_eq!(
            errors.to_string(),
            "name: is required; tags[0]: must be a string, not a number"
        );
        assert_eq!(errors.fields(), vec!["name", "tags[0]"]);
        assert!(errors.into_result(1).is_err());
    }
}

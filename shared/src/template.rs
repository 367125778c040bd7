//! `${…}` placeholders in poller URLs: `${date:FMT}`, `${gmtDate:FMT}`,
//! `${dateTimeZone:ZONE:FMT}`, `${epoch}`, `${epoch:s}`, `${epoch:us}`.
//!
//! CONTRACT (owned by the date-template work; keep these signatures):
//! - `Placeholder::parse(inner: &str)` — the text between `${` and `}`.
//! - `Placeholder::render(&self, DateTime<Utc>) -> String`
//! - `Placeholder::parse_rendered(&self, &str) -> Result<DateTime<Utc>, TemplateError>`
//! - `UrlTemplate::parse(&str)`, `UrlTemplate::render(&self, DateTime<Utc>) -> String`,
//!   `UrlTemplate::segments(&self) -> &[Segment]`.

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    source: String,
}

impl Placeholder {
    pub fn parse(inner: &str) -> Result<Self, TemplateError> {
        Ok(Placeholder { source: inner.to_owned() })
    }

    /// The placeholder as written, without `${` and `}`.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn render(&self, _at: DateTime<Utc>) -> String {
        unimplemented!("template stub")
    }

    pub fn parse_rendered(&self, _text: &str) -> Result<DateTime<Utc>, TemplateError> {
        unimplemented!("template stub")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Placeholder(Placeholder),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTemplate {
    segments: Vec<Segment>,
}

impl UrlTemplate {
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        Ok(UrlTemplate { segments: vec![Segment::Literal(text.to_owned())] })
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub fn render(&self, _at: DateTime<Utc>) -> String {
        unimplemented!("template stub")
    }
}

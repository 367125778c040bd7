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
        Ok(Placeholder {
            source: inner.to_owned(),
        })
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
    /// Split `text` into literal text and `${…}` placeholders.
    ///
    /// A placeholder ends at the first `}` outside a `'…'` quoted run, because date
    /// patterns quote literals (`${date:yyyy-MM-dd'T'HH:mm:ss'Z'}`) and a quoted run may in
    /// principle hold a `}`. An unterminated `${` is an error, not literal text: it would
    /// otherwise reach Sage as garbage at every poll.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let mut segments = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                segments.push(Segment::Literal(rest[..start].to_owned()));
            }
            let body = &rest[start + 2..];
            let mut in_quote = false;
            let mut end = None;
            for (i, c) in body.char_indices() {
                match c {
                    '\'' => in_quote = !in_quote,
                    '}' if !in_quote => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end.ok_or_else(|| {
                TemplateError(format!(
                    "unterminated placeholder starting at `${{{}`",
                    truncate(body, 20)
                ))
            })?;
            segments.push(Segment::Placeholder(Placeholder::parse(&body[..end])?));
            rest = &body[end + 1..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Literal(rest.to_owned()));
        }
        Ok(UrlTemplate { segments })
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub fn render(&self, _at: DateTime<Utc>) -> String {
        unimplemented!("template stub")
    }
}

fn truncate(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

#[cfg(test)]
mod scan_tests {
    use super::*;

    #[test]
    fn splits_seed_url_into_literals_and_placeholder() {
        let url = "/hubs/finance/customers?where=lastModifiedDate>='${date:yyyy-MM-dd'T'HH:mm:ss'Z'}' and attributes='created_at,updated_at";
        let t = UrlTemplate::parse(url).unwrap();
        let segs = t.segments();
        assert_eq!(segs.len(), 3);
        assert_eq!(
            segs[0],
            Segment::Literal("/hubs/finance/customers?where=lastModifiedDate>='".into())
        );
        match &segs[1] {
            Segment::Placeholder(p) => assert_eq!(p.source(), "date:yyyy-MM-dd'T'HH:mm:ss'Z'"),
            other => panic!("expected placeholder, got {other:?}"),
        }
        assert_eq!(
            segs[2],
            Segment::Literal("' and attributes='created_at,updated_at".into())
        );
    }

    #[test]
    fn quoted_brace_does_not_end_placeholder() {
        let t = UrlTemplate::parse("a${date:yyyy'}'MM}b").unwrap();
        assert_eq!(t.segments().len(), 3);
        match &t.segments()[1] {
            Segment::Placeholder(p) => assert_eq!(p.source(), "date:yyyy'}'MM"),
            other => panic!("expected placeholder, got {other:?}"),
        }
    }

    #[test]
    fn unterminated_placeholder_is_an_error() {
        assert!(UrlTemplate::parse("/x?where=a>'${date:yyyy").is_err());
    }

    #[test]
    fn no_placeholder_is_one_literal() {
        let t = UrlTemplate::parse("/hubs/finance/customers").unwrap();
        assert_eq!(
            t.segments(),
            &[Segment::Literal("/hubs/finance/customers".into())]
        );
    }
}

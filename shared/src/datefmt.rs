//! Java `SimpleDateFormat` patterns: render an instant, parse a record's date, resolve zones.
//!
//! CONTRACT (owned by the date-template work; keep these signatures):
//! - `DatePattern::parse(&str) -> Result<DatePattern, DateFormatError>` rejects unknown
//!   pattern letters at registration time.
//! - `DatePattern::format(&self, DateTime<Utc>, &Zone) -> String`
//! - `DatePattern::parse_value(&self, &str, &Zone) -> Result<DateTime<Utc>, DateFormatError>`
//! - `DatePattern::precision(&self) -> chrono::Duration` (smallest unit the pattern writes)
//! - `Zone::parse(&str) -> Result<Zone, DateFormatError>` (GMT, UTC, IANA, PST…, -08:00)

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DateFormatError(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatePattern {
    source: String,
}

impl DatePattern {
    pub fn parse(pattern: &str) -> Result<Self, DateFormatError> {
        Ok(DatePattern {
            source: pattern.to_owned(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn format(&self, _instant: DateTime<Utc>, _zone: &Zone) -> String {
        unimplemented!("datefmt stub")
    }

    pub fn parse_value(&self, _text: &str, _zone: &Zone) -> Result<DateTime<Utc>, DateFormatError> {
        unimplemented!("datefmt stub")
    }

    pub fn precision(&self) -> chrono::Duration {
        chrono::Duration::seconds(1)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Zone {
    Utc,
}

impl Zone {
    pub fn parse(_zone: &str) -> Result<Zone, DateFormatError> {
        Ok(Zone::Utc)
    }
}

//! Java `SimpleDateFormat` patterns: render an instant, parse a record's date, resolve zones.
//!
//! CONTRACT (owned by the date-template work; keep these signatures):
//! - `DatePattern::parse(&str) -> Result<DatePattern, DateFormatError>` rejects unknown
//!   pattern letters at registration time.
//! - `DatePattern::format(&self, DateTime<Utc>, &Zone) -> String`
//! - `DatePattern::parse_value(&self, &str, &Zone) -> Result<DateTime<Utc>, DateFormatError>`
//! - `DatePattern::precision(&self) -> chrono::Duration` (smallest unit the pattern writes)
//! - `Zone::parse(&str) -> Result<Zone, DateFormatError>` (GMT, UTC, IANA, PST…, -08:00)
//!
//! Written by hand because Cloud Elements users wrote Java patterns
//! (`yyyy-MM-dd'T'HH:mm:ss'Z'`), and chrono's strftime is a different language: the same
//! letters mean other things there, and Java's quoting, letter counts and abutting-number
//! rules have no strftime equivalent. Supported letters: `G y M L d E a H k K h m s S z Z
//! X`, each with Java's meaning of its count (see the `tokens` submodule); every other
//! ASCII letter is reserved, as in Java, and rejected when the pattern is registered.
//!
//! Module map: `tokens` (pattern → fields and literals), `format` (instant → text),
//! `parse` (text → instant, Java's rules and where we are stricter), `zone` ([`Zone`]),
//! `names` (English month/day names and the zone-name table).

mod format;
mod names;
mod parse;
mod tokens;
mod zone;

#[cfg(test)]
pub(crate) mod tests;

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike, Utc};

use tokens::{Field, Token};
pub use zone::Zone;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DateFormatError(pub String);

/// A validated `SimpleDateFormat` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatePattern {
    source: String,
    tokens: Vec<Token>,
    /// The smallest unit any field writes; `None` when the pattern writes no date or time.
    unit: Option<Unit>,
}

/// Calendar units, smallest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Unit {
    Millisecond,
    Second,
    Minute,
    Hour,
    HalfDay,
    Day,
    Month,
    Year,
}

impl Unit {
    fn of(field: Field) -> Option<Unit> {
        Some(match field {
            Field::Millisecond => Unit::Millisecond,
            Field::Second => Unit::Second,
            Field::Minute => Unit::Minute,
            Field::Hour0To23 | Field::Hour1To24 | Field::Hour0To11 | Field::Hour1To12 => Unit::Hour,
            Field::AmPm => Unit::HalfDay,
            Field::Day | Field::Weekday => Unit::Day,
            Field::Month => Unit::Month,
            Field::Year => Unit::Year,
            Field::Era | Field::ZoneName | Field::Rfc822Offset | Field::IsoOffset => return None,
        })
    }

    /// Nominal length; months and years report their longest length (31 and 366 days), so
    /// a lookback computed from it never falls short.
    fn duration(self) -> TimeDelta {
        match self {
            Unit::Millisecond => TimeDelta::milliseconds(1),
            Unit::Second => TimeDelta::seconds(1),
            Unit::Minute => TimeDelta::minutes(1),
            Unit::Hour => TimeDelta::hours(1),
            Unit::HalfDay => TimeDelta::hours(12),
            Unit::Day => TimeDelta::days(1),
            Unit::Month => TimeDelta::days(31),
            Unit::Year => TimeDelta::days(366),
        }
    }

    /// The start of the unit containing the wall time `local`.
    fn truncate_local(self, local: NaiveDateTime) -> NaiveDateTime {
        let date = local.date();
        let (h, m, s) = (local.hour(), local.minute(), local.second());
        let time = match self {
            Unit::Millisecond => {
                NaiveTime::from_hms_milli_opt(h, m, s, (local.nanosecond() / 1_000_000).min(999))
            }
            Unit::Second => NaiveTime::from_hms_opt(h, m, s),
            Unit::Minute => NaiveTime::from_hms_opt(h, m, 0),
            Unit::Hour => NaiveTime::from_hms_opt(h, 0, 0),
            Unit::HalfDay => NaiveTime::from_hms_opt(h - h % 12, 0, 0),
            Unit::Day | Unit::Month | Unit::Year => Some(NaiveTime::MIN),
        };
        let date = match self {
            Unit::Month => date.with_day(1),
            Unit::Year => NaiveDate::from_ymd_opt(date.year(), 1, 1),
            _ => Some(date),
        };
        match (date, time) {
            (Some(date), Some(time)) => NaiveDateTime::new(date, time),
            // Unreachable for valid wall times; keep the input rather than panic.
            _ => local,
        }
    }
}

impl DatePattern {
    /// Validate and tokenize a pattern.
    ///
    /// Errors name the offending letter and its 0-based character position (unsupported
    /// letters such as `q`, `Y`, `D`; `XXXX`), or the position of an unterminated quote.
    pub fn parse(pattern: &str) -> Result<Self, DateFormatError> {
        let tokens = tokens::tokenize(pattern)?;
        let unit = tokens
            .iter()
            .filter_map(|token| match token {
                Token::Field { field, .. } => Unit::of(*field),
                Token::Literal(_) => None,
            })
            .min();
        Ok(DatePattern {
            source: pattern.to_owned(),
            tokens,
            unit,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the pattern writes any date or time field (not only literals, era or zone).
    pub fn writes_date_or_time(&self) -> bool {
        self.unit.is_some()
    }

    /// Whether the pattern writes the zone or offset (`z`, `Z`, `X`), so its text pins the
    /// instant even in the repeated hour of a daylight-saving change.
    pub fn writes_zone(&self) -> bool {
        self.tokens.iter().any(|token| {
            matches!(
                token,
                Token::Field {
                    field: Field::ZoneName | Field::Rfc822Offset | Field::IsoOffset,
                    ..
                }
            )
        })
    }

    /// Render `instant` as wall time in `zone`, with English month/day names and AM/PM.
    pub fn format(&self, instant: DateTime<Utc>, zone: &Zone) -> String {
        format::format(&self.tokens, instant, zone)
    }

    /// Read a record's date written in this pattern.
    ///
    /// Strict first (see [`DatePattern::parse_value_strict`]). Defensive extra: if that
    /// fails but the text is valid RFC 3339 (`2018-07-31T19:39:46.123Z`), the RFC 3339
    /// reading is returned. Sage documents its dates as ISO 8601, and a configured pattern
    /// that is slightly off (say it lacks the milliseconds Sage sends) should not make
    /// every record unreadable. When neither reading works, the strict error is returned.
    pub fn parse_value(&self, text: &str, zone: &Zone) -> Result<DateTime<Utc>, DateFormatError> {
        self.parse_value_strict(text, zone).or_else(|strict_error| {
            DateTime::parse_from_rfc3339(text)
                .map(|instant| instant.to_utc())
                .map_err(|_| strict_error)
        })
    }

    /// Read `text` exactly as this pattern writes it.
    ///
    /// Fields the pattern lacks default as in Java (1970-01-01 00:00:00.000). A zone or
    /// offset in the text wins over `zone`; otherwise the wall time is read in `zone`,
    /// taking the earlier instant in the repeated hour of a daylight-saving change and
    /// failing in the skipped hour (unless the text wrote no hour: a date whose midnight
    /// is skipped starts when the gap ends). The whole text must match; see the `parse` submodule
    /// for the remaining Java rules and where we are stricter.
    pub fn parse_value_strict(
        &self,
        text: &str,
        zone: &Zone,
    ) -> Result<DateTime<Utc>, DateFormatError> {
        let century_start = Utc::now().year() - 80;
        parse::parse(&self.tokens, text, zone, century_start).map_err(|failure| {
            DateFormatError(format!(
                "`{}` does not match date pattern `{}`: {} (at position {})",
                shorten(text, 64),
                self.source,
                failure.message,
                failure.position
            ))
        })
    }

    /// The smallest unit the pattern writes: 1 ms for `S`, 1 s for `s`, 1 min, 1 h, 12 h
    /// for `a` alone, 1 day for `d`/`E`, 31 days for `M`, 366 days for `y` (the longest
    /// month and year, so a lookback based on it never falls short). A pattern with no
    /// date or time field reports `TimeDelta::MAX`. For truncating an instant prefer
    /// [`DatePattern::truncate`], which is exact in any zone and for months and years.
    pub fn precision(&self) -> chrono::Duration {
        self.unit.map_or(TimeDelta::MAX, Unit::duration)
    }

    /// `instant` cut down to the start of the smallest unit the pattern writes, counted in
    /// `zone`'s wall time: what [`DatePattern::format`] keeps of it. In the repeated hour
    /// of a daylight-saving change the occurrence containing `instant` is used. A pattern
    /// with no date or time field returns `instant` unchanged.
    pub fn truncate(&self, instant: DateTime<Utc>, zone: &Zone) -> DateTime<Utc> {
        match self.unit {
            Some(unit) => {
                zone.instant_not_after(unit.truncate_local(zone.to_local(instant)), instant)
            }
            None => instant,
        }
    }
}

impl fmt::Display for DatePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// At most `max_chars` characters of `text`, with an ellipsis if cut (keeps errors short).
fn shorten(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

//! Time zones as a poller configuration names them: `UTC`, IANA ids, offsets, Java short ids.

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, FixedOffset, MappedLocalTime, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc,
};
use chrono_tz::{OffsetName, Tz};

use super::DateFormatError;
use super::names;

/// The zone a date is rendered in, or read in when the text carries no zone of its own.
///
/// Equal zones compare equal however they were written: `GMT`, `Z`, `+00:00` and
/// `Etc/UTC` are all [`Zone::Utc`]; `-08:00` and `GMT-8` are the same [`Zone::Fixed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Zone {
    /// UTC / GMT.
    Utc,
    /// A fixed, non-zero offset from UTC (zero is [`Zone::Utc`]).
    Fixed(FixedOffset),
    /// A tzdb zone with its daylight-saving history.
    Named(Tz),
}

/// Java's three-letter zone ids as `java.util.TimeZone.getTimeZone` resolves them (JDK
/// default mapping: `EST`, `MST`, `HST` are fixed offsets without daylight saving), plus the
/// North-American daylight abbreviations Java does not know, mapped to the zone that uses
/// them. Ambiguous abbreviations follow Java: `CST` is Chicago (not China), `IST` is India,
/// `BST` is Bangladesh (not British Summer Time), `AST` is Alaska.
const JAVA_SHORT_IDS: &[(&str, ShortId)] = &[
    ("ACT", ShortId::Named(Tz::Australia__Darwin)),
    ("AET", ShortId::Named(Tz::Australia__Sydney)),
    ("AGT", ShortId::Named(Tz::America__Argentina__Buenos_Aires)),
    ("ART", ShortId::Named(Tz::Africa__Cairo)),
    ("AST", ShortId::Named(Tz::America__Anchorage)),
    ("BET", ShortId::Named(Tz::America__Sao_Paulo)),
    ("BST", ShortId::Named(Tz::Asia__Dhaka)),
    ("CAT", ShortId::Named(Tz::Africa__Harare)),
    ("CNT", ShortId::Named(Tz::America__St_Johns)),
    ("CST", ShortId::Named(Tz::America__Chicago)),
    ("CTT", ShortId::Named(Tz::Asia__Shanghai)),
    ("EAT", ShortId::Named(Tz::Africa__Addis_Ababa)),
    ("ECT", ShortId::Named(Tz::Europe__Paris)),
    ("IET", ShortId::Named(Tz::America__Indiana__Indianapolis)),
    ("IST", ShortId::Named(Tz::Asia__Kolkata)),
    ("JST", ShortId::Named(Tz::Asia__Tokyo)),
    ("MIT", ShortId::Named(Tz::Pacific__Apia)),
    ("NET", ShortId::Named(Tz::Asia__Yerevan)),
    ("NST", ShortId::Named(Tz::Pacific__Auckland)),
    ("PLT", ShortId::Named(Tz::Asia__Karachi)),
    ("PNT", ShortId::Named(Tz::America__Phoenix)),
    ("PRT", ShortId::Named(Tz::America__Puerto_Rico)),
    ("PST", ShortId::Named(Tz::America__Los_Angeles)),
    ("SST", ShortId::Named(Tz::Pacific__Guadalcanal)),
    ("VST", ShortId::Named(Tz::Asia__Ho_Chi_Minh)),
    ("EST", ShortId::FixedHours(-5)),
    ("MST", ShortId::FixedHours(-7)),
    ("HST", ShortId::FixedHours(-10)),
    // Not Java ids, but what users write next to PST.
    ("PDT", ShortId::Named(Tz::America__Los_Angeles)),
    ("MDT", ShortId::Named(Tz::America__Denver)),
    ("CDT", ShortId::Named(Tz::America__Chicago)),
    ("EDT", ShortId::Named(Tz::America__New_York)),
    ("AKST", ShortId::Named(Tz::America__Anchorage)),
    ("AKDT", ShortId::Named(Tz::America__Anchorage)),
];

#[derive(Clone, Copy)]
enum ShortId {
    Named(Tz),
    FixedHours(i32),
}

/// tzdb names that are plain UTC; they become [`Zone::Utc`] so equality means "same zone".
const UTC_ALIASES: &[&str] = &[
    "UTC",
    "UCT",
    "GMT",
    "GMT0",
    "GMT+0",
    "GMT-0",
    "Greenwich",
    "Universal",
    "Zulu",
    "Etc/UTC",
    "Etc/UCT",
    "Etc/GMT",
    "Etc/GMT0",
    "Etc/GMT+0",
    "Etc/GMT-0",
    "Etc/Greenwich",
    "Etc/Universal",
    "Etc/Zulu",
];

impl Zone {
    /// Resolve a zone as written in a poller configuration.
    ///
    /// Accepts `UTC`, `GMT`, `UT`, `Z`; IANA names (`America/Los_Angeles`, case as in
    /// tzdb); offsets `-08:00`, `+0530`, `+05`, optionally prefixed `GMT`/`UTC`
    /// (`GMT-08:00`, `UTC+1`); and Java's short ids (`PST`, `CST`, `EST`, … see the table
    /// in this module: ambiguous abbreviations follow Java's `TimeZone.getTimeZone`
    /// mapping). Java silently turns an unknown id into GMT; we refuse it instead, because
    /// a misspelt zone would shift every poll window by hours without anyone noticing.
    pub fn parse(text: &str) -> Result<Zone, DateFormatError> {
        let id = text.trim();
        if let Some(rest) = ["UTC", "GMT", "UT"]
            .iter()
            .find_map(|prefix| id.strip_prefix(prefix))
        {
            if rest.is_empty() {
                return Ok(Zone::Utc);
            }
            if rest.starts_with(['+', '-']) {
                return parse_offset_id(rest)
                    .map(Zone::from_offset)
                    .ok_or_else(|| unknown_zone(text));
            }
        }
        if id == "Z" {
            return Ok(Zone::Utc);
        }
        if id.starts_with(['+', '-']) {
            return parse_offset_id(id)
                .map(Zone::from_offset)
                .ok_or_else(|| unknown_zone(text));
        }
        if let Some((_, short)) = JAVA_SHORT_IDS.iter().find(|(name, _)| *name == id) {
            return Ok(match *short {
                ShortId::Named(tz) => Zone::Named(tz),
                ShortId::FixedHours(hours) => FixedOffset::east_opt(hours * 3600)
                    .map(Zone::from_offset)
                    .ok_or_else(|| unknown_zone(text))?,
            });
        }
        match Tz::from_str(id) {
            Ok(tz) if UTC_ALIASES.contains(&tz.name()) => Ok(Zone::Utc),
            Ok(tz) => Ok(Zone::Named(tz)),
            Err(_) => Err(unknown_zone(text)),
        }
    }

    /// A fixed offset as a zone; zero is [`Zone::Utc`].
    pub fn from_offset(offset: FixedOffset) -> Zone {
        if offset.local_minus_utc() == 0 {
            Zone::Utc
        } else {
            Zone::Fixed(offset)
        }
    }

    /// The offset from UTC in effect at `instant`.
    pub fn offset_at(&self, instant: DateTime<Utc>) -> FixedOffset {
        match self {
            Zone::Utc => Utc.fix(),
            Zone::Fixed(offset) => *offset,
            Zone::Named(tz) => tz.offset_from_utc_datetime(&instant.naive_utc()).fix(),
        }
    }

    /// Wall-clock time of `instant` in this zone.
    pub(super) fn to_local(self, instant: DateTime<Utc>) -> NaiveDateTime {
        instant
            .with_timezone(&self.offset_at(instant))
            .naive_local()
    }

    /// Every way `local` can be read in this zone, earliest instant first: one normally,
    /// two in the repeated hour when clocks go back, none in the skipped hour. Each comes
    /// with the zone's abbreviation there (tzdb's, for named zones).
    pub(super) fn local_offsets(self, local: &NaiveDateTime) -> Vec<(FixedOffset, Option<String>)> {
        match self {
            Zone::Utc => vec![(Utc.fix(), Some("GMT".to_owned()))],
            Zone::Fixed(offset) => vec![(offset, None)],
            Zone::Named(tz) => {
                let describe =
                    |o: <Tz as TimeZone>::Offset| (o.fix(), o.abbreviation().map(str::to_owned));
                let mut found = match tz.offset_from_local_datetime(local) {
                    MappedLocalTime::Single(o) => vec![describe(o)],
                    MappedLocalTime::Ambiguous(a, b) => vec![describe(a), describe(b)],
                    MappedLocalTime::None => Vec::new(),
                };
                // A larger offset east means an earlier instant for the same wall time.
                found.sort_by_key(|(offset, _)| std::cmp::Reverse(offset.local_minus_utc()));
                found
            }
        }
    }

    /// The latest instant not after `bound` whose wall time in this zone is `local`; used to
    /// map a truncated wall time back to an instant. In the repeated hour this picks the
    /// occurrence `bound` is in; in a skipped hour it picks the moment the gap starts.
    pub(super) fn instant_not_after(
        self,
        local: NaiveDateTime,
        bound: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let candidates: Vec<DateTime<Utc>> = self
            .local_offsets(&local)
            .into_iter()
            .filter_map(|(offset, _)| instant_at(local, offset))
            .collect();
        if let Some(best) = candidates.iter().rev().find(|c| **c <= bound) {
            return *best;
        }
        if let Some(first) = candidates.first() {
            return *first;
        }
        // Skipped wall time: read it with the offset in force just before the gap.
        let before_gap = local
            .checked_sub_signed(TimeDelta::days(1))
            .map(|earlier| self.offset_at(earlier.and_utc()))
            .unwrap_or_else(|| self.offset_at(bound));
        instant_at(local, before_gap).map_or(bound, |instant| instant.min(bound))
    }

    /// What `z` prints: the zone's abbreviation when it has an alphabetic one (`PST`,
    /// `CEST`), `GMT` for UTC, otherwise `GMT±hh:mm` (as Java does for custom zones).
    pub(super) fn short_name_at(self, instant: DateTime<Utc>) -> String {
        match self {
            Zone::Utc => "GMT".to_owned(),
            Zone::Fixed(offset) => gmt_offset_id(offset),
            Zone::Named(tz) => {
                let offset = tz.offset_from_utc_datetime(&instant.naive_utc());
                match offset.abbreviation() {
                    Some(abbr)
                        if !abbr.is_empty() && abbr.bytes().all(|b| b.is_ascii_alphabetic()) =>
                    {
                        abbr.to_owned()
                    }
                    _ => gmt_offset_id(offset.fix()),
                }
            }
        }
    }

    /// What `zzzz` prints: the long name when the abbreviation/offset pair is known
    /// (`Pacific Daylight Time`), otherwise the same as [`Zone::short_name_at`].
    pub(super) fn long_name_at(self, instant: DateTime<Utc>) -> String {
        let short = self.short_name_at(instant);
        let offset = self.offset_at(instant).local_minus_utc();
        names::long_zone_name(&short, offset).map_or(short, str::to_owned)
    }
}

impl fmt::Display for Zone {
    /// A canonical id that [`Zone::parse`] reads back to an equal zone: `UTC`,
    /// `GMT-08:00`, `America/Los_Angeles`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Zone::Utc => f.write_str("UTC"),
            Zone::Fixed(offset) => f.write_str(&gmt_offset_id(*offset)),
            Zone::Named(tz) => f.write_str(tz.name()),
        }
    }
}

impl FromStr for Zone {
    type Err = DateFormatError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Zone::parse(text)
    }
}

/// The instant whose wall time at `offset` is `local` (None only at chrono's range ends).
pub(super) fn instant_at(local: NaiveDateTime, offset: FixedOffset) -> Option<DateTime<Utc>> {
    local
        .checked_sub_signed(TimeDelta::seconds(i64::from(offset.local_minus_utc())))
        .map(|utc| utc.and_utc())
}

/// `GMT-08:00`, or `GMT` for zero; seconds of historic offsets are dropped, as in Java.
pub(super) fn gmt_offset_id(offset: FixedOffset) -> String {
    let seconds = offset.local_minus_utc();
    if seconds == 0 {
        return "GMT".to_owned();
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.abs() / 60;
    format!("GMT{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

/// A signed offset after an optional `GMT`/`UTC`: `+h`, `+hh`, `+hmm`, `+hhmm`, `+h:mm`,
/// `+hh:mm` (Java's custom-id grammar, hours up to 23).
fn parse_offset_id(text: &str) -> Option<FixedOffset> {
    let (sign, digits) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let number = |s: &str| -> Option<i32> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let (hours, minutes) = match digits.split_once(':') {
        Some((h, m)) if (1..=2).contains(&h.len()) && m.len() == 2 => (number(h)?, number(m)?),
        Some(_) => return None,
        None => match digits.len() {
            1 | 2 => (number(digits)?, 0),
            3 | 4 => {
                let n = number(digits)?;
                (n / 100, n % 100)
            }
            _ => return None,
        },
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

fn unknown_zone(text: &str) -> DateFormatError {
    DateFormatError(format!(
        "unknown time zone `{text}` (expected UTC, an IANA name such as America/Los_Angeles, \
         an offset such as -08:00 or GMT+05:30, or a Java short id such as PST)"
    ))
}

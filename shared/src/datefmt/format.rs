//! Rendering an instant with a tokenized pattern, as `SimpleDateFormat.format` would.

use std::fmt::Write;

use chrono::{DateTime, Datelike, FixedOffset, Timelike, Utc};

use super::Zone;
use super::names;
use super::tokens::{Field, Token};

pub(super) fn format(tokens: &[Token], instant: DateTime<Utc>, zone: &Zone) -> String {
    let offset = zone.offset_at(instant);
    let local = zone.to_local(instant);
    let mut out = String::new();
    for token in tokens {
        let (field, count) = match token {
            Token::Literal(text) => {
                out.push_str(text);
                continue;
            }
            Token::Field { field, count } => (*field, *count),
        };
        let hour = local.hour();
        match field {
            Field::Era => out.push_str(names::ERAS[usize::from(local.year() > 0)]),
            Field::Year => {
                let (_, year_of_era) = local.year_ce();
                if count == 2 {
                    number(&mut out, year_of_era % 100, 2);
                } else {
                    number(&mut out, year_of_era, count);
                }
            }
            Field::Month => {
                let index = local.month0() as usize;
                match count {
                    1 | 2 => number(&mut out, local.month(), count),
                    3 => out.push_str(names::MONTHS_SHORT[index]),
                    _ => out.push_str(names::MONTHS[index]),
                }
            }
            Field::Day => number(&mut out, local.day(), count),
            Field::Weekday => {
                let index = local.weekday().num_days_from_monday() as usize;
                let table = if count >= 4 {
                    &names::WEEKDAYS
                } else {
                    &names::WEEKDAYS_SHORT
                };
                out.push_str(table[index]);
            }
            Field::AmPm => out.push_str(names::AM_PM[usize::from(hour >= 12)]),
            Field::Hour0To23 => number(&mut out, hour, count),
            Field::Hour1To24 => number(&mut out, if hour == 0 { 24 } else { hour }, count),
            Field::Hour0To11 => number(&mut out, hour % 12, count),
            Field::Hour1To12 => number(
                &mut out,
                if hour.is_multiple_of(12) {
                    12
                } else {
                    hour % 12
                },
                count,
            ),
            Field::Minute => number(&mut out, local.minute(), count),
            Field::Second => number(&mut out, local.second(), count),
            // A leap second carries nanoseconds past 1e9; clamp so it never prints 4 digits.
            Field::Millisecond => {
                number(&mut out, (local.nanosecond() / 1_000_000).min(999), count)
            }
            Field::ZoneName if count >= 4 => out.push_str(&zone.long_name_at(instant)),
            Field::ZoneName => out.push_str(&zone.short_name_at(instant)),
            Field::Rfc822Offset => offset_digits(&mut out, offset, true, false),
            Field::IsoOffset if offset.local_minus_utc() == 0 => out.push('Z'),
            Field::IsoOffset => offset_digits(&mut out, offset, count >= 2, count >= 3),
        }
    }
    out
}

/// Zero-padded to at least `width` digits, never truncated (Java's number formatting).
fn number(out: &mut String, value: u32, width: usize) {
    let _ = write!(out, "{value:0width$}");
}

/// `±hh`, `±hhmm` or `±hh:mm`; minutes are truncated like Java (`X` of +05:30 is `+05`).
fn offset_digits(out: &mut String, offset: FixedOffset, with_minutes: bool, colon: bool) {
    let seconds = offset.local_minus_utc();
    out.push(if seconds < 0 { '-' } else { '+' });
    let minutes = seconds.unsigned_abs() / 60;
    number(out, minutes / 60, 2);
    if with_minutes {
        if colon {
            out.push(':');
        }
        number(out, minutes % 60, 2);
    }
}

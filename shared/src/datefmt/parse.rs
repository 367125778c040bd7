//! Reading a date written in a tokenized pattern, as a non-lenient `SimpleDateFormat` would.
//!
//! Java rules kept: numbers are read greedily unless the next token is another field, in
//! which case exactly `count` digits are read (so `yyyyMMdd` works); month, day and AM/PM
//! names match case-insensitively, long form before short; `yy` (exactly two digits, count
//! ≤ 2) picks the century that puts the year within 80 years before and 20 after now; a
//! 12-hour clock without `a` means AM; missing fields default to 1970-01-01 00:00:00.000.
//! A wall time skipped by a daylight-saving change is an error, except when the text wrote
//! no hour at all (a date alone): then the day starts when the gap ends.
//! Stricter than Java: the whole text must be consumed, values must be in range (no
//! lenient roll-over of day 32 into the next month), a field given twice must agree, and a
//! day-of-week name must match the date.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday};

use super::Zone;
use super::names;
use super::tokens::{Field, Token};
use super::zone::instant_at;

/// Why a text did not match, and where (character position in the text).
pub(super) struct Failure {
    pub position: usize,
    pub message: String,
}

/// A zone found in the text: an exact offset, or an abbreviation to resolve once the wall
/// time is known (the configured zone decides whether `PST` and `PDT` are its own).
enum ZoneText {
    Offset(FixedOffset),
    Name(String),
}

#[derive(Default)]
struct Fields {
    before_christ: Option<bool>,
    year_of_era: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    weekday: Option<Weekday>,
    pm: Option<bool>,
    /// From `H` or `k` (24 read as 0).
    hour_of_day: Option<u32>,
    /// From `K` or `h` (12 read as 0).
    hour_of_half_day: Option<u32>,
    minute: Option<u32>,
    second: Option<u32>,
    millisecond: Option<u32>,
    zone: Option<ZoneText>,
}

struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn fail(&self, message: impl Into<String>) -> Failure {
        Failure {
            position: self.text[..self.pos].chars().count(),
            message: message.into(),
        }
    }

    /// Read digits: exactly `width` when the next token abuts, otherwise as many as there
    /// are (at most 9, which keeps every value inside `u32`).
    fn number(&mut self, exact_width: Option<usize>, what: &str) -> Result<(u32, usize), Failure> {
        let available = self.rest().bytes().take_while(u8::is_ascii_digit).count();
        let len = match exact_width {
            Some(width) if available < width => {
                return Err(self.fail(format!("expected {width} digits for the {what}")));
            }
            Some(width) => width,
            None if available == 0 => {
                return Err(self.fail(format!("expected digits for the {what}")));
            }
            None => available,
        };
        if len > 9 {
            return Err(self.fail(format!("too many digits for the {what}")));
        }
        let digits = &self.rest()[..len];
        let value = digits
            .parse()
            .map_err(|_| self.fail(format!("expected digits for the {what}")))?;
        self.pos += len;
        Ok((value, len))
    }

    fn bounded(
        &mut self,
        exact_width: Option<usize>,
        what: &str,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<u32, Failure> {
        let start = self.pos;
        let (value, _) = self.number(exact_width, what)?;
        if !range.contains(&value) {
            self.pos = start;
            return Err(self.fail(format!(
                "{what} {value} is out of range {}..={}",
                range.start(),
                range.end()
            )));
        }
        Ok(value)
    }

    fn name(&mut self, tables: &[&[&str]], what: &str) -> Result<usize, Failure> {
        for table in tables {
            if let Some((index, len)) = names::match_name(self.rest(), table) {
                self.pos += len;
                return Ok(index);
            }
        }
        Err(self.fail(format!("expected the {what}")))
    }

    fn two_digits(&mut self, what: &str, max: u32) -> Result<u32, Failure> {
        self.bounded(Some(2), what, 0..=max)
    }

    /// `z` and `Z` read the same way in Java: `±hhmm`, `GMT`, `GMT±h:mm`, or a zone name.
    fn general_zone(&mut self) -> Result<ZoneText, Failure> {
        let rest = self.rest();
        if let Some(sign) = sign_of(rest) {
            self.pos += 1;
            let hours = self.two_digits("offset hours", 23)?;
            let minutes = self.two_digits("offset minutes", 59)?;
            return self.offset(sign, hours, minutes);
        }
        if rest.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("GMT")) {
            self.pos += 3;
            let Some(sign) = sign_of(self.rest()) else {
                return Ok(ZoneText::Offset(
                    FixedOffset::east_opt(0).ok_or_else(|| self.fail("bad offset"))?,
                ));
            };
            self.pos += 1;
            let one_digit = self
                .rest()
                .as_bytes()
                .get(1)
                .is_none_or(|b| !b.is_ascii_digit());
            let hours =
                self.bounded(Some(if one_digit { 1 } else { 2 }), "offset hours", 0..=23)?;
            if !self.rest().starts_with(':') {
                return Err(self.fail("expected `:` in the GMT offset"));
            }
            self.pos += 1;
            let minutes = self.two_digits("offset minutes", 59)?;
            return self.offset(sign, hours, minutes);
        }
        let long_names: Vec<&str> = names::ZONE_NAMES.iter().map(|(_, _, long)| *long).collect();
        if let Some((index, len)) = names::match_name(rest, &long_names) {
            self.pos += len;
            let seconds = names::ZONE_NAMES[index].1;
            return FixedOffset::east_opt(seconds)
                .map(ZoneText::Offset)
                .ok_or_else(|| self.fail("bad offset"));
        }
        let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        if letters == 0 {
            return Err(self.fail("expected a time zone"));
        }
        self.pos += letters;
        Ok(ZoneText::Name(rest[..letters].to_owned()))
    }

    /// `X`: `Z`, or `±hh` (X), `±hhmm` (XX), `±hh:mm` (XXX).
    fn iso_offset(&mut self, count: usize) -> Result<ZoneText, Failure> {
        let rest = self.rest();
        if rest.starts_with('Z') {
            self.pos += 1;
            return self.offset(1, 0, 0);
        }
        let Some(sign) = sign_of(rest) else {
            return Err(self.fail("expected `Z` or a signed offset"));
        };
        self.pos += 1;
        let hours = self.two_digits("offset hours", 23)?;
        let mut minutes = 0;
        if count >= 2 {
            if count >= 3 {
                if !self.rest().starts_with(':') {
                    return Err(self.fail("expected `:` in the offset"));
                }
                self.pos += 1;
            }
            minutes = self.two_digits("offset minutes", 59)?;
        }
        self.offset(sign, hours, minutes)
    }

    fn offset(&self, sign: i32, hours: u32, minutes: u32) -> Result<ZoneText, Failure> {
        let seconds = (hours * 3600 + minutes * 60) as i32;
        FixedOffset::east_opt(sign * seconds)
            .map(ZoneText::Offset)
            .ok_or_else(|| self.fail("offset out of range"))
    }
}

fn sign_of(text: &str) -> Option<i32> {
    match text.as_bytes().first() {
        Some(b'+') => Some(1),
        Some(b'-') => Some(-1),
        _ => None,
    }
}

/// Record a field's value; a second occurrence must agree with the first.
fn set<T: PartialEq + Copy>(
    slot: &mut Option<T>,
    value: T,
    what: &str,
    cursor: &Cursor<'_>,
) -> Result<(), Failure> {
    match slot {
        Some(existing) if *existing != value => {
            Err(cursor.fail(format!("{what} contradicts an earlier {what}")))
        }
        _ => {
            *slot = Some(value);
            Ok(())
        }
    }
}

/// Parse `text` completely; `century_start_year` is where Java's two-digit-year window
/// starts (80 years before now).
pub(super) fn parse(
    tokens: &[Token],
    text: &str,
    zone: &Zone,
    century_start_year: i32,
) -> Result<DateTime<Utc>, Failure> {
    let mut cursor = Cursor { text, pos: 0 };
    let mut fields = Fields::default();
    for (i, token) in tokens.iter().enumerate() {
        let (field, count) = match token {
            Token::Literal(literal) => {
                if !cursor.rest().starts_with(literal.as_str()) {
                    return Err(cursor.fail(format!("expected `{literal}`")));
                }
                cursor.pos += literal.len();
                continue;
            }
            Token::Field { field, count } => (*field, *count),
        };
        // Java's "abutting fields" rule: a number directly followed by another field has
        // exactly `count` digits.
        let abuts = matches!(tokens.get(i + 1), Some(Token::Field { .. }));
        let width = abuts.then_some(count);
        let c = &mut cursor;
        match field {
            Field::Era => {
                let index = c.name(&[&names::ERAS], "era (AD or BC)")?;
                set(&mut fields.before_christ, index == 0, "era", c)?;
            }
            Field::Year => {
                let start = c.pos;
                let (value, digits) = c.number(width, "year")?;
                let year = if count <= 2 && digits == 2 {
                    let value = value as i32;
                    let century = century_start_year.div_euclid(100) * 100;
                    let candidate = century + value;
                    if candidate < century_start_year {
                        candidate + 100
                    } else {
                        candidate
                    }
                } else {
                    value as i32
                };
                if year == 0 {
                    c.pos = start;
                    return Err(c.fail("year 0 does not exist (years of era start at 1)"));
                }
                set(&mut fields.year_of_era, year, "year", c)?;
            }
            Field::Month => {
                let month = if count <= 2 {
                    c.bounded(width, "month", 1..=12)?
                } else {
                    c.name(&[&names::MONTHS, &names::MONTHS_SHORT], "month name")? as u32 + 1
                };
                set(&mut fields.month, month, "month", c)?;
            }
            Field::Day => {
                let day = c.bounded(width, "day", 1..=31)?;
                set(&mut fields.day, day, "day", c)?;
            }
            Field::Weekday => {
                let index = c.name(
                    &[&names::WEEKDAYS, &names::WEEKDAYS_SHORT],
                    "day-of-week name",
                )?;
                let weekday =
                    Weekday::try_from(index as u8).map_err(|_| c.fail("bad day of week"))?;
                set(&mut fields.weekday, weekday, "day of week", c)?;
            }
            Field::AmPm => {
                let index = c.name(&[&names::AM_PM], "AM or PM")?;
                set(&mut fields.pm, index == 1, "AM/PM", c)?;
            }
            Field::Hour0To23 => {
                let hour = c.bounded(width, "hour", 0..=23)?;
                set(&mut fields.hour_of_day, hour, "hour", c)?;
            }
            Field::Hour1To24 => {
                let hour = c.bounded(width, "hour", 1..=24)?;
                set(&mut fields.hour_of_day, hour % 24, "hour", c)?;
            }
            Field::Hour0To11 => {
                let hour = c.bounded(width, "hour", 0..=11)?;
                set(&mut fields.hour_of_half_day, hour, "hour", c)?;
            }
            Field::Hour1To12 => {
                let hour = c.bounded(width, "hour", 1..=12)?;
                set(&mut fields.hour_of_half_day, hour % 12, "hour", c)?;
            }
            Field::Minute => {
                let minute = c.bounded(width, "minute", 0..=59)?;
                set(&mut fields.minute, minute, "minute", c)?;
            }
            Field::Second => {
                let second = c.bounded(width, "second", 0..=59)?;
                set(&mut fields.second, second, "second", c)?;
            }
            Field::Millisecond => {
                let millis = c.bounded(width, "millisecond", 0..=999)?;
                set(&mut fields.millisecond, millis, "millisecond", c)?;
            }
            Field::ZoneName | Field::Rfc822Offset => {
                let zone_text = c.general_zone()?;
                fields.zone = Some(zone_text);
            }
            Field::IsoOffset => {
                let zone_text = c.iso_offset(count)?;
                fields.zone = Some(zone_text);
            }
        }
    }
    if !cursor.rest().is_empty() {
        return Err(cursor.fail("unexpected text after the date"));
    }
    resolve(fields, zone).map_err(|message| Failure {
        position: text.chars().count(),
        message,
    })
}

/// Turn the fields into an instant: defaults, date validity, day of week, zone.
fn resolve(fields: Fields, zone: &Zone) -> Result<DateTime<Utc>, String> {
    let year_of_era = fields.year_of_era.unwrap_or(1970);
    let year = if fields.before_christ == Some(true) {
        1 - year_of_era
    } else {
        year_of_era
    };
    let month = fields.month.unwrap_or(1);
    let day = fields.day.unwrap_or(1);
    let date = NaiveDate::from_ymd_opt(year, month, day)
        .ok_or_else(|| format!("the date {year:04}-{month:02}-{day:02} does not exist"))?;
    if let Some(weekday) = fields.weekday
        && weekday != date.weekday()
    {
        return Err(format!("{date} is a {}, not a {weekday}", date.weekday()));
    }
    let pm = fields.pm.unwrap_or(false);
    let hour = match (fields.hour_of_day, fields.hour_of_half_day) {
        (Some(hour), _) => hour,
        (None, Some(hour)) => hour + if pm { 12 } else { 0 },
        (None, None) => {
            if pm {
                12
            } else {
                0
            }
        }
    };
    let time = NaiveTime::from_hms_milli_opt(
        hour,
        fields.minute.unwrap_or(0),
        fields.second.unwrap_or(0),
        fields.millisecond.unwrap_or(0),
    )
    .ok_or_else(|| "the time of day does not exist".to_owned())?;
    let local = NaiveDateTime::new(date, time);
    let offset = match fields.zone {
        Some(ZoneText::Offset(offset)) => offset,
        Some(ZoneText::Name(name)) => offset_for_name(&name, &local, zone)?,
        None => match zone.local_offsets(&local).first() {
            Some((offset, _)) => *offset,
            // The text wrote no hour: it names a day (or month), and midnight is only our
            // default. A day whose midnight is skipped (Sao Paulo, 2018-11-04) starts when
            // the gap ends.
            None if fields.hour_of_day.is_none() && fields.hour_of_half_day.is_none() => {
                let day_start = zone.instant_not_after(local, DateTime::<Utc>::MAX_UTC);
                return Ok(day_start);
            }
            None => return Err(format!("{local} does not exist in {zone} (clocks skip it)")),
        },
    };
    instant_at(local, offset).ok_or_else(|| format!("{local} is out of range"))
}

/// A zone abbreviation in the text: the configured zone's own abbreviation at that wall time
/// first (so `PST`/`PDT` also settle the repeated hour, and Manila's `PST` is +08:00 when
/// Manila is configured), then the table of well-known unambiguous abbreviations.
fn offset_for_name(name: &str, local: &NaiveDateTime, zone: &Zone) -> Result<FixedOffset, String> {
    let own = zone.local_offsets(local).into_iter().find(|(_, abbr)| {
        abbr.as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case(name))
    });
    if let Some((offset, _)) = own {
        return Ok(offset);
    }
    names::unique_abbreviation_offset(name)
        .and_then(FixedOffset::east_opt)
        .ok_or_else(|| format!("unknown or ambiguous time zone name `{name}`"))
}

//! English names: months, days of week, and the time-zone names Java prints for `z`/`zzzz`.

pub(super) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

pub(super) const MONTHS_SHORT: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Monday first, like `chrono::Weekday::num_days_from_monday`.
pub(super) const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

pub(super) const WEEKDAYS_SHORT: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

pub(super) const AM_PM: [&str; 2] = ["AM", "PM"];

pub(super) const ERAS: [&str; 2] = ["BC", "AD"];

const H: i32 = 3600;

/// Zone abbreviations with their offset (seconds east of UTC) and CLDR long name.
///
/// Used three ways: `zzzz` prints the long name of the (abbreviation, offset) the zone is
/// in; parsing a long name gives its offset; parsing an abbreviation that the configured
/// zone does not use falls back to this table, but only when the abbreviation is listed
/// once. Keyed by offset too because tzdb reuses abbreviations (Manila writes `PST` at
/// +08:00), and a long name must never be printed for the wrong zone. Deliberately not
/// exhaustive: anything missing prints as `GMT±hh:mm`, which parses back exactly.
pub(super) const ZONE_NAMES: &[(&str, i32, &str)] = &[
    ("GMT", 0, "Greenwich Mean Time"),
    ("UTC", 0, "Coordinated Universal Time"),
    ("PST", -8 * H, "Pacific Standard Time"),
    ("PDT", -7 * H, "Pacific Daylight Time"),
    ("MST", -7 * H, "Mountain Standard Time"),
    ("MDT", -6 * H, "Mountain Daylight Time"),
    ("CST", -6 * H, "Central Standard Time"),
    ("CDT", -5 * H, "Central Daylight Time"),
    ("EST", -5 * H, "Eastern Standard Time"),
    ("EDT", -4 * H, "Eastern Daylight Time"),
    ("AST", -4 * H, "Atlantic Standard Time"),
    ("ADT", -3 * H, "Atlantic Daylight Time"),
    ("NST", -(3 * H + 1800), "Newfoundland Standard Time"),
    ("NDT", -(2 * H + 1800), "Newfoundland Daylight Time"),
    ("AKST", -9 * H, "Alaska Standard Time"),
    ("AKDT", -8 * H, "Alaska Daylight Time"),
    ("HST", -10 * H, "Hawaii-Aleutian Standard Time"),
    ("HDT", -9 * H, "Hawaii-Aleutian Daylight Time"),
    ("WET", 0, "Western European Standard Time"),
    ("WEST", H, "Western European Summer Time"),
    ("BST", H, "British Summer Time"),
    ("CET", H, "Central European Standard Time"),
    ("CEST", 2 * H, "Central European Summer Time"),
    ("EET", 2 * H, "Eastern European Standard Time"),
    ("EEST", 3 * H, "Eastern European Summer Time"),
    ("MSK", 3 * H, "Moscow Standard Time"),
    ("SAST", 2 * H, "South Africa Standard Time"),
    ("IST", 5 * H + 1800, "India Standard Time"),
    ("PKT", 5 * H, "Pakistan Standard Time"),
    ("HKT", 8 * H, "Hong Kong Standard Time"),
    ("AWST", 8 * H, "Australian Western Standard Time"),
    ("JST", 9 * H, "Japan Standard Time"),
    ("KST", 9 * H, "Korean Standard Time"),
    ("ACST", 9 * H + 1800, "Australian Central Standard Time"),
    ("ACDT", 10 * H + 1800, "Australian Central Daylight Time"),
    ("AEST", 10 * H, "Australian Eastern Standard Time"),
    ("AEDT", 11 * H, "Australian Eastern Daylight Time"),
    ("NZST", 12 * H, "New Zealand Standard Time"),
    ("NZDT", 13 * H, "New Zealand Daylight Time"),
];

/// The long name of `abbreviation` at `offset_seconds`, if the table knows that pair.
pub(super) fn long_zone_name(abbreviation: &str, offset_seconds: i32) -> Option<&'static str> {
    ZONE_NAMES
        .iter()
        .find(|(abbr, offset, _)| *abbr == abbreviation && *offset == offset_seconds)
        .map(|(_, _, long)| *long)
}

/// The offset of an abbreviation the table lists exactly once (case-insensitive).
pub(super) fn unique_abbreviation_offset(abbreviation: &str) -> Option<i32> {
    let mut matches = ZONE_NAMES
        .iter()
        .filter(|(abbr, _, _)| abbr.eq_ignore_ascii_case(abbreviation));
    match (matches.next(), matches.next()) {
        (Some((_, offset, _)), None) => Some(*offset),
        _ => None,
    }
}

/// Index and byte length of the longest of `names` that `text` starts with, ignoring ASCII
/// case (Java matches month, day and zone names case-insensitively).
pub(super) fn match_name(text: &str, names: &[&str]) -> Option<(usize, usize)> {
    names
        .iter()
        .enumerate()
        .filter(|(_, name)| {
            text.get(..name.len())
                .is_some_and(|prefix| prefix.eq_ignore_ascii_case(name))
        })
        .max_by_key(|(_, name)| name.len())
        .map(|(index, name)| (index, name.len()))
}

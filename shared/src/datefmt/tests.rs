use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

use super::{DatePattern, Zone};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("test instant")
        .to_utc()
}

fn zone(id: &str) -> Zone {
    Zone::parse(id).expect("test zone")
}

fn pattern(text: &str) -> DatePattern {
    DatePattern::parse(text).expect("test pattern")
}

fn render(p: &str, instant: &str, z: &str) -> String {
    pattern(p).format(at(instant), &zone(z))
}

/// A Tuesday in summer, with milliseconds.
const SUMMER: &str = "2018-07-31T19:39:46.123Z";
/// A Monday in winter, just after midnight in Los Angeles.
const WINTER: &str = "2018-01-15T08:05:09.007Z";

#[test]
fn every_letter_in_utc() {
    let cases = [
        ("G", "AD"),
        ("y", "2018"),
        ("yy", "18"),
        ("yyy", "2018"),
        ("yyyy", "2018"),
        ("yyyyy", "02018"),
        ("M", "7"),
        ("MM", "07"),
        ("MMM", "Jul"),
        ("MMMM", "July"),
        ("LLL", "Jul"),
        ("d", "31"),
        ("dd", "31"),
        ("E", "Tue"),
        ("EEE", "Tue"),
        ("EEEE", "Tuesday"),
        ("a", "PM"),
        ("H", "19"),
        ("HH", "19"),
        ("k", "19"),
        ("K", "7"),
        ("KK", "07"),
        ("h", "7"),
        ("hh", "07"),
        ("m", "39"),
        ("mm", "39"),
        ("s", "46"),
        ("ss", "46"),
        ("S", "123"),
        ("SS", "123"),
        ("SSS", "123"),
        ("SSSS", "0123"),
        ("z", "GMT"),
        ("zzzz", "Greenwich Mean Time"),
        ("Z", "+0000"),
        ("X", "Z"),
        ("XX", "Z"),
        ("XXX", "Z"),
    ];
    for (p, expected) in cases {
        assert_eq!(render(p, SUMMER, "UTC"), expected, "pattern {p}");
    }
}

#[test]
fn los_angeles_in_summer_is_pdt() {
    let cases = [
        ("yyyy-MM-dd HH:mm:ss.SSS", "2018-07-31 12:39:46.123"),
        ("hh:mm a", "12:39 PM"),
        ("z", "PDT"),
        ("zzzz", "Pacific Daylight Time"),
        ("Z", "-0700"),
        ("X", "-07"),
        ("XX", "-0700"),
        ("XXX", "-07:00"),
    ];
    for (p, expected) in cases {
        assert_eq!(
            render(p, SUMMER, "America/Los_Angeles"),
            expected,
            "pattern {p}"
        );
        assert_eq!(render(p, SUMMER, "PST"), expected, "pattern {p} via PST");
    }
}

#[test]
fn los_angeles_in_winter_is_pst_and_midnight_hours() {
    let cases = [
        ("yyyy-MM-dd EEEE", "2018-01-15 Monday"),
        ("HH:mm:ss.SSS", "00:05:09.007"),
        ("H", "0"),
        ("k", "24"),
        ("K", "0"),
        ("h a", "12 AM"),
        ("z", "PST"),
        ("zzzz", "Pacific Standard Time"),
        ("Z", "-0800"),
        ("XXX", "-08:00"),
    ];
    for (p, expected) in cases {
        assert_eq!(
            render(p, WINTER, "America/Los_Angeles"),
            expected,
            "pattern {p}"
        );
    }
}

#[test]
fn half_hour_offsets() {
    // +05:30 crosses midnight into August 1st.
    let cases = [
        ("yyyy-MM-dd HH:mm:ss", "2018-08-01 01:09:46"),
        ("z", "GMT+05:30"),
        ("zzzz", "GMT+05:30"),
        ("Z", "+0530"),
        ("X", "+05"),
        ("XX", "+0530"),
        ("XXX", "+05:30"),
    ];
    for (p, expected) in cases {
        assert_eq!(render(p, SUMMER, "+05:30"), expected, "pattern {p}");
    }
    assert_eq!(
        render("z zzzz", SUMMER, "Asia/Kolkata"),
        "IST India Standard Time"
    );
    assert_eq!(render("Z", SUMMER, "-03:30"), "-0330");
}

#[test]
fn abbreviations_without_letters_print_as_gmt_offsets() {
    // tzdb writes Sao Paulo as "-03"; Java prints custom names as GMT-03:00.
    assert_eq!(render("z", SUMMER, "America/Sao_Paulo"), "GMT-03:00");
    // Manila's tzdb abbreviation is PST too, but the long name must not be Pacific's:
    // without a known long name, zzzz prints the abbreviation.
    assert_eq!(render("z|zzzz", SUMMER, "Asia/Manila"), "PST|PST");
}

#[test]
fn seed_pattern_renders_utc_with_literal_z() {
    let p = pattern("yyyy-MM-dd'T'HH:mm:ss'Z'");
    assert_eq!(
        p.format(at("2018-07-31T19:39:46Z"), &Zone::Utc),
        "2018-07-31T19:39:46Z"
    );
    assert_eq!(p.format(at(SUMMER), &Zone::Utc), "2018-07-31T19:39:46Z");
    assert_eq!(p.precision(), TimeDelta::seconds(1));
}

#[test]
fn quoting() {
    assert_eq!(render("yyyy-MM-dd'T'HH", SUMMER, "UTC"), "2018-07-31T19");
    assert_eq!(render("''yy''", SUMMER, "UTC"), "'18'");
    assert_eq!(render("h 'o''clock' a", SUMMER, "UTC"), "7 o'clock PM");
    assert_eq!(render("'yyyy MM dd'", SUMMER, "UTC"), "yyyy MM dd");
    assert_eq!(render("''''", SUMMER, "UTC"), "''");
    assert_eq!(render("'it''s' EEE", SUMMER, "UTC"), "it's Tue");
    // Non-letters are literal without quotes, including non-ASCII.
    assert_eq!(
        render("dd.MM.yyyy – HH:mm", SUMMER, "UTC"),
        "31.07.2018 – 19:39"
    );
    // And they read back.
    let p = pattern("h 'o''clock' a, yyyy-MM-dd");
    assert_eq!(
        p.parse_value_strict("7 o'clock PM, 2018-07-31", &Zone::Utc),
        Ok(at("2018-07-31T19:00:00Z"))
    );
}

#[test]
fn pattern_errors_name_the_problem() {
    let error = DatePattern::parse("yyyy-qq").unwrap_err().to_string();
    assert!(
        error.contains("`q`") && error.contains("position 5"),
        "{error}"
    );
    let error = DatePattern::parse("YYYY-MM-dd").unwrap_err().to_string();
    assert!(
        error.contains("`Y`") && error.contains("did you mean `y`"),
        "{error}"
    );
    let error = DatePattern::parse("yyyy-MM-DD").unwrap_err().to_string();
    assert!(
        error.contains("`D`") && error.contains("position 8"),
        "{error}"
    );
    let error = DatePattern::parse("yyyy-MM-dd'T").unwrap_err().to_string();
    assert!(
        error.contains("unterminated quote") && error.contains("position 10"),
        "{error}"
    );
    let error = DatePattern::parse("HH:mm XXXX").unwrap_err().to_string();
    assert!(error.contains("XXXX"), "{error}");
    // A letter inside quotes is fine, and so is an empty pattern.
    assert!(DatePattern::parse("'q'").is_ok());
    assert!(!pattern("'q'").writes_date_or_time());
    assert!(DatePattern::parse("").is_ok());
}

#[test]
fn zones_parse_and_display_canonically() {
    let fixed = |seconds| Zone::Fixed(FixedOffset::east_opt(seconds).expect("offset"));
    let cases = [
        ("GMT", Zone::Utc, "UTC"),
        ("UTC", Zone::Utc, "UTC"),
        ("Z", Zone::Utc, "UTC"),
        ("Etc/UTC", Zone::Utc, "UTC"),
        ("+00:00", Zone::Utc, "UTC"),
        ("GMT+0", Zone::Utc, "UTC"),
        (
            "America/Los_Angeles",
            Zone::Named(chrono_tz::America::Los_Angeles),
            "America/Los_Angeles",
        ),
        (
            "PST",
            Zone::Named(chrono_tz::America::Los_Angeles),
            "America/Los_Angeles",
        ),
        (
            "PDT",
            Zone::Named(chrono_tz::America::Los_Angeles),
            "America/Los_Angeles",
        ),
        (
            "CST",
            Zone::Named(chrono_tz::America::Chicago),
            "America/Chicago",
        ),
        ("IST", Zone::Named(chrono_tz::Asia::Kolkata), "Asia/Kolkata"),
        ("CET", Zone::Named(chrono_tz::Tz::CET), "CET"),
        ("MST", fixed(-7 * 3600), "GMT-07:00"),
        ("EST", fixed(-5 * 3600), "GMT-05:00"),
        ("HST", fixed(-10 * 3600), "GMT-10:00"),
        ("-08:00", fixed(-8 * 3600), "GMT-08:00"),
        ("GMT-08:00", fixed(-8 * 3600), "GMT-08:00"),
        ("GMT-8", fixed(-8 * 3600), "GMT-08:00"),
        ("+0530", fixed(19800), "GMT+05:30"),
        ("UTC+1", fixed(3600), "GMT+01:00"),
        ("UTC+5:45", fixed(20700), "GMT+05:45"),
    ];
    for (text, expected, display) in cases {
        let parsed = Zone::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(parsed, expected, "{text}");
        assert_eq!(parsed.to_string(), display, "{text}");
        assert_eq!(
            Zone::parse(display),
            Ok(parsed),
            "display of {text} reads back"
        );
    }
}

#[test]
fn unknown_zones_are_errors_naming_them() {
    for bad in [
        "Mars/Base",
        "PSTX",
        "+24:00",
        "GMT+5:3",
        "-08:60",
        "GMT+",
        "",
        "america/los_angeles",
    ] {
        let error = Zone::parse(bad).expect_err(bad).to_string();
        assert!(error.contains(&format!("`{bad}`")), "{error}");
    }
}

#[test]
fn parses_the_seed_format_and_defaults_missing_fields() {
    let seed = pattern("yyyy-MM-dd'T'HH:mm:ss'Z'");
    assert_eq!(
        seed.parse_value_strict("2018-07-31T19:39:46Z", &Zone::Utc),
        Ok(at("2018-07-31T19:39:46Z"))
    );
    let la = zone("America/Los_Angeles");
    assert_eq!(
        pattern("yyyy-MM-dd").parse_value_strict("2018-07-31", &la),
        Ok(at("2018-07-31T07:00:00Z"))
    );
    assert_eq!(
        pattern("HH:mm").parse_value_strict("10:30", &Zone::Utc),
        Ok(at("1970-01-01T10:30:00Z"))
    );
    assert_eq!(
        pattern("MMM yyyy").parse_value_strict("Jul 2018", &Zone::Utc),
        Ok(at("2018-07-01T00:00:00Z"))
    );
    // Java reads unpadded numbers where the field is not abutting another field.
    assert_eq!(
        pattern("yyyy-MM-dd").parse_value_strict("2018-7-3", &Zone::Utc),
        Ok(at("2018-07-03T00:00:00Z"))
    );
}

#[test]
fn zone_in_text_wins_over_configured_zone() {
    let la = zone("America/Los_Angeles");
    let cases = [
        ("yyyy-MM-dd'T'HH:mm:ssXXX", "2018-07-31T12:39:46-07:00"),
        ("yyyy-MM-dd'T'HH:mm:ssXX", "2018-07-31T12:39:46-0700"),
        ("yyyy-MM-dd'T'HH:mm:ssX", "2018-07-31T12:39:46-07"),
        ("yyyy-MM-dd'T'HH:mm:ssX", "2018-07-31T19:39:46Z"),
        ("yyyy-MM-dd'T'HH:mm:ssZ", "2018-07-31T12:39:46-0700"),
        ("yyyy-MM-dd'T'HH:mm:ss z", "2018-07-31T12:39:46 PDT"),
        ("yyyy-MM-dd'T'HH:mm:ss z", "2018-07-31T15:39:46 EDT"),
        ("yyyy-MM-dd'T'HH:mm:ss z", "2018-07-31T12:39:46 GMT-07:00"),
        ("yyyy-MM-dd'T'HH:mm:ss z", "2018-07-31T12:39:46 GMT-7:00"),
        ("yyyy-MM-dd'T'HH:mm:ss z", "2018-07-31T19:39:46 GMT"),
        ("yyyy-MM-dd'T'HH:mm:ss z", "2018-07-31T19:39:46 UTC"),
        ("yyyy-MM-dd'T'HH:mm:ss z", "2018-07-31T12:39:46 pdt"),
        (
            "yyyy-MM-dd'T'HH:mm:ss zzzz",
            "2018-07-31T12:39:46 Pacific Daylight Time",
        ),
        ("yyyy-MM-dd'T'HH:mm:ss z", "2018-08-01T01:09:46 IST"),
    ];
    for configured in [Zone::Utc, la, zone("+05:30")] {
        for (p, text) in cases {
            assert_eq!(
                pattern(p).parse_value_strict(text, &configured),
                Ok(at("2018-07-31T19:39:46Z")),
                "{p} / {text} / {configured}"
            );
        }
    }
}

#[test]
fn configured_zone_abbreviation_first() {
    // Manila writes PST at +08:00; the table's PST (-08:00) applies only elsewhere.
    let p = pattern("yyyy-MM-dd HH:mm z");
    assert_eq!(
        p.parse_value_strict("2018-08-01 03:39 PST", &zone("Asia/Manila")),
        Ok(at("2018-07-31T19:39:00Z"))
    );
    assert_eq!(
        p.parse_value_strict("2018-07-31 11:39 PST", &Zone::Utc),
        Ok(at("2018-07-31T19:39:00Z"))
    );
    // Ambiguous or unknown abbreviations outside the configured zone are errors.
    assert!(
        p.parse_value_strict("2018-07-31 11:39 XYZ", &Zone::Utc)
            .is_err()
    );
    assert!(
        p.parse_value_strict("2018-07-31 11:39 NZST", &Zone::Utc)
            .is_ok()
    );
}

#[test]
fn zone_text_is_strict() {
    let cases = [
        ("HH:mmXXX", "10:00-0800"),
        ("HH:mmXX", "10:00-08:00"),
        ("HH:mmX", "10:00-08:00"),
        ("HH:mmZ", "10:00-08:00"),
        ("HH:mmZ", "10:00-8"),
        ("HH:mm z", "10:00 GMT-0800"),
        ("HH:mm z", "10:00 "),
        ("HH:mmX", "10:00+24"),
    ];
    for (p, text) in cases {
        assert!(
            pattern(p).parse_value_strict(text, &Zone::Utc).is_err(),
            "{p} / {text}"
        );
    }
}

#[test]
fn repeated_hour_takes_the_earlier_instant_unless_the_text_says() {
    let la = zone("America/Los_Angeles");
    // 2018-11-04 01:30 happens twice in Los Angeles: 08:30Z (PDT) and 09:30Z (PST).
    let p = pattern("yyyy-MM-dd HH:mm");
    assert_eq!(
        p.parse_value_strict("2018-11-04 01:30", &la),
        Ok(at("2018-11-04T08:30:00Z"))
    );
    let pz = pattern("yyyy-MM-dd HH:mm z");
    assert_eq!(
        pz.parse_value_strict("2018-11-04 01:30 PDT", &la),
        Ok(at("2018-11-04T08:30:00Z"))
    );
    assert_eq!(
        pz.parse_value_strict("2018-11-04 01:30 PST", &la),
        Ok(at("2018-11-04T09:30:00Z"))
    );
    assert_eq!(
        pz.format(at("2018-11-04T09:30:00Z"), &la),
        "2018-11-04 01:30 PST"
    );
    // Southern hemisphere: Sydney repeats 02:00-03:00 on 2018-04-01.
    let sydney = zone("Australia/Sydney");
    assert_eq!(
        p.parse_value_strict("2018-04-01 02:30", &sydney),
        Ok(at("2018-03-31T15:30:00Z"))
    );
}

#[test]
fn skipped_hour_is_an_error_unless_the_text_has_an_offset() {
    let la = zone("America/Los_Angeles");
    let error = pattern("yyyy-MM-dd HH:mm")
        .parse_value_strict("2018-03-11 02:30", &la)
        .unwrap_err();
    assert!(error.to_string().contains("does not exist"), "{error}");
    assert_eq!(
        pattern("yyyy-MM-dd HH:mm Z").parse_value_strict("2018-03-11 02:30 -0800", &la),
        Ok(at("2018-03-11T10:30:00Z"))
    );
}

#[test]
fn strict_about_literals_digits_and_ranges() {
    let p = pattern("yyyy-MM-dd'T'HH:mm:ss");
    let bad = [
        "2018-07-31T19:39:46Z",  // trailing text
        "2018-07-31 19:39:46",   // wrong literal
        "2018-07-31T19:39",      // missing field
        "2018-13-01T00:00:00",   // month out of range
        "2018-06-31T00:00:00",   // no such day
        "2018-02-29T00:00:00",   // not a leap year
        "2018-07-31T24:00:00",   // H is 0-23
        "2018-07-31T19:60:00",   // minute
        "2018-07-31T19:39:60",   // no leap seconds
        "2018-07-3aT19:39:46",   // letter for digit
        "２０18-07-31T19:39:46", // non-ASCII digits
        "0000-07-31T19:39:46",   // no year zero
        "1234567890-01-01T00:00:00",
        "",
    ];
    for text in bad {
        let error = p.parse_value_strict(text, &Zone::Utc);
        assert!(error.is_err(), "{text} parsed as {error:?}");
    }
    assert_eq!(
        p.parse_value_strict("2016-02-29T00:00:00", &Zone::Utc),
        Ok(at("2016-02-29T00:00:00Z"))
    );
    let error = p
        .parse_value_strict("2018-07-31X19:39:46", &Zone::Utc)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("expected `T`") && error.contains("position 10"),
        "{error}"
    );
    assert!(
        pattern("hh:mm")
            .parse_value_strict("13:00", &Zone::Utc)
            .is_err()
    );
    assert!(
        pattern("hh:mm")
            .parse_value_strict("00:00", &Zone::Utc)
            .is_err()
    );
    assert!(
        pattern("KK:mm")
            .parse_value_strict("12:00", &Zone::Utc)
            .is_err()
    );
    assert!(
        pattern("kk:mm")
            .parse_value_strict("00:00", &Zone::Utc)
            .is_err()
    );
}

#[test]
fn abutting_numbers_read_exact_widths() {
    let p = pattern("yyyyMMddHHmmssSSS");
    assert_eq!(
        p.parse_value_strict("20180731193946123", &Zone::Utc),
        Ok(at(SUMMER))
    );
    assert_eq!(p.format(at(SUMMER), &Zone::Utc), "20180731193946123");
    assert!(
        p.parse_value_strict("2018073119394612", &Zone::Utc).is_ok(),
        "last field is greedy"
    );
    assert_eq!(
        p.parse_value_strict("201807311939461", &Zone::Utc),
        Ok(at("2018-07-31T19:39:46.001Z"))
    );
    assert!(p.parse_value_strict("20180731193946", &Zone::Utc).is_err());
    assert!(p.parse_value_strict("2018073119394", &Zone::Utc).is_err());
    assert!(
        p.parse_value_strict("2018731193946123", &Zone::Utc)
            .is_err()
    );
}

#[test]
fn names_and_twelve_hour_clock() {
    let p = pattern("EEE, dd MMM yyyy hh:mm a");
    let expected = Ok(at("2018-07-31T19:39:00Z"));
    assert_eq!(
        p.parse_value_strict("Tue, 31 Jul 2018 07:39 PM", &Zone::Utc),
        expected
    );
    assert_eq!(
        p.parse_value_strict("tue, 31 JUL 2018 07:39 pm", &Zone::Utc),
        expected
    );
    // Java tries the long names too.
    assert_eq!(
        p.parse_value_strict("Tuesday, 31 July 2018 07:39 PM", &Zone::Utc),
        expected
    );
    let error = p
        .parse_value_strict("Wed, 31 Jul 2018 07:39 PM", &Zone::Utc)
        .unwrap_err();
    assert!(error.to_string().contains("not a Wed"), "{error}");
    assert!(
        p.parse_value_strict("Tue, 31 Jux 2018 07:39 PM", &Zone::Utc)
            .is_err()
    );
    let h = pattern("hh:mm a");
    assert_eq!(
        h.parse_value_strict("12:00 AM", &Zone::Utc),
        Ok(at("1970-01-01T00:00:00Z"))
    );
    assert_eq!(
        h.parse_value_strict("12:00 PM", &Zone::Utc),
        Ok(at("1970-01-01T12:00:00Z"))
    );
    // Without `a`, a 12-hour clock means AM; `k` 24 is midnight.
    assert_eq!(
        pattern("hh:mm").parse_value_strict("07:39", &Zone::Utc),
        Ok(at("1970-01-01T07:39:00Z"))
    );
    assert_eq!(
        pattern("kk:mm").parse_value_strict("24:00", &Zone::Utc),
        Ok(at("1970-01-01T00:00:00Z"))
    );
    // `HH` wins over `a` when both are present (what `HH:mm a` renders reads back).
    let ha = pattern("HH:mm a");
    assert_eq!(
        ha.parse_value_strict(&ha.format(at(SUMMER), &Zone::Utc), &Zone::Utc),
        Ok(at("1970-01-01T19:39:00Z"))
    );
    assert_eq!(
        pattern("G yyyy").parse_value_strict("AD 2018", &Zone::Utc),
        Ok(at("2018-01-01T00:00:00Z"))
    );
}

#[test]
fn two_digit_years_use_javas_century_window() {
    let p = pattern("yy-MM-dd");
    assert_eq!(
        p.parse_value_strict("18-07-31", &Zone::Utc),
        Ok(at("2018-07-31T00:00:00Z"))
    );
    assert_eq!(
        p.parse_value_strict("99-07-31", &Zone::Utc),
        Ok(at("1999-07-31T00:00:00Z"))
    );
    // More than two digits are taken literally, as in Java.
    assert_eq!(
        p.parse_value_strict("2018-07-31", &Zone::Utc),
        Ok(at("2018-07-31T00:00:00Z"))
    );
}

#[test]
fn a_field_given_twice_must_agree() {
    let p = pattern("yyyy-MM-dd (yyyy)");
    assert!(
        p.parse_value_strict("2018-07-31 (2018)", &Zone::Utc)
            .is_ok()
    );
    assert!(
        p.parse_value_strict("2018-07-31 (2019)", &Zone::Utc)
            .is_err()
    );
}

#[test]
fn rfc3339_fallback_only_in_parse_value() {
    let seed = pattern("yyyy-MM-dd'T'HH:mm:ss'Z'");
    let text = "2018-07-31T19:39:46.123Z";
    assert!(seed.parse_value_strict(text, &Zone::Utc).is_err());
    assert_eq!(seed.parse_value(text, &Zone::Utc), Ok(at(SUMMER)));
    assert_eq!(
        seed.parse_value("2018-07-31T12:39:46-07:00", &Zone::Utc),
        Ok(at("2018-07-31T19:39:46Z"))
    );
    // When neither reading works, the strict error is what the user sees.
    let error = seed
        .parse_value("31/07/2018", &Zone::Utc)
        .unwrap_err()
        .to_string();
    assert!(error.contains("does not match date pattern"), "{error}");
}

#[test]
fn precision_is_the_smallest_unit_written() {
    let cases = [
        ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", TimeDelta::milliseconds(1)),
        ("yyyy-MM-dd'T'HH:mm:ss'Z'", TimeDelta::seconds(1)),
        ("yyyy-MM-dd HH:mm", TimeDelta::minutes(1)),
        ("yyyy-MM-dd hh a", TimeDelta::hours(1)),
        ("yyyy-MM-dd a", TimeDelta::hours(12)),
        ("yyyy-MM-dd", TimeDelta::days(1)),
        ("EEE", TimeDelta::days(1)),
        ("yyyy-MM", TimeDelta::days(31)),
        ("yyyy", TimeDelta::days(366)),
        ("'now' z", TimeDelta::MAX),
    ];
    for (p, expected) in cases {
        assert_eq!(pattern(p).precision(), expected, "{p}");
    }
}

#[test]
fn truncate_counts_in_the_zones_wall_time() {
    let la = zone("America/Los_Angeles");
    let cases = [
        (
            "yyyy-MM-dd",
            SUMMER,
            "America/Los_Angeles",
            "2018-07-31T07:00:00Z",
        ),
        (
            "yyyy-MM",
            SUMMER,
            "America/Los_Angeles",
            "2018-07-01T07:00:00Z",
        ),
        (
            "yyyy",
            SUMMER,
            "America/Los_Angeles",
            "2018-01-01T08:00:00Z",
        ),
        ("yyyy-MM-dd HH", SUMMER, "+05:30", "2018-07-31T19:30:00Z"),
        ("yyyy-MM-dd a", SUMMER, "UTC", "2018-07-31T12:00:00Z"),
        ("HH:mm:ss", SUMMER, "UTC", "2018-07-31T19:39:46Z"),
        ("HH:mm:ss.SSS", SUMMER, "UTC", SUMMER),
        ("'x'", SUMMER, "UTC", SUMMER),
    ];
    for (p, instant, z, expected) in cases {
        assert_eq!(
            pattern(p).truncate(at(instant), &zone(z)),
            at(expected),
            "{p} in {z}"
        );
    }
    // In the repeated hour, truncation stays in the occurrence the instant is in.
    let hour = pattern("yyyy-MM-dd HH");
    assert_eq!(
        hour.truncate(at("2018-11-04T09:40:00Z"), &la),
        at("2018-11-04T09:00:00Z")
    );
    assert_eq!(
        hour.truncate(at("2018-11-04T08:40:00Z"), &la),
        at("2018-11-04T08:00:00Z")
    );
    // A day whose midnight is skipped (Sao Paulo, 2018-11-04 00:00 -> 01:00) starts at 01:00,
    // in truncation and when a date without time is read.
    let sao_paulo = zone("America/Sao_Paulo");
    let day = pattern("yyyy-MM-dd");
    assert_eq!(
        day.truncate(at("2018-11-04T12:00:00Z"), &sao_paulo),
        at("2018-11-04T03:00:00Z")
    );
    assert_eq!(
        day.parse_value_strict("2018-11-04", &sao_paulo),
        Ok(at("2018-11-04T03:00:00Z"))
    );
    assert!(
        pattern("yyyy-MM-dd HH")
            .parse_value_strict("2018-11-04 00", &sao_paulo)
            .is_err()
    );
}

// ---- properties -------------------------------------------------------------------------

const ZONES: &[&str] = &[
    "UTC",
    "GMT-08:00",
    "+05:30",
    "+05:45",
    "MST",
    "America/Los_Angeles",
    "America/New_York",
    "America/St_Johns",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
];

/// Instants from 1971 to 2099 with millisecond resolution.
pub(crate) fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (31_536_000_000i64..4_102_444_800_000i64)
        .prop_map(|ms| DateTime::from_timestamp_millis(ms).expect("in range"))
}

fn any_zone() -> impl Strategy<Value = Zone> {
    proptest::sample::select(ZONES).prop_map(zone)
}

/// The first offset change in `zone` within about a year after `from`, to the second.
fn next_transition(zone: &Zone, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let start_offset = zone.offset_at(from);
    let mut low = from;
    let mut high = (1..=400)
        .map(|days| from + TimeDelta::days(days))
        .find(|t| zone.offset_at(*t) != start_offset)?;
    while high - low > TimeDelta::seconds(1) {
        let mid = low + (high - low) / 2;
        if zone.offset_at(mid) == start_offset {
            low = mid;
        } else {
            high = mid;
        }
    }
    Some(high)
}

/// Half the cases are moved to within two hours of a daylight-saving change, where the
/// repeated and skipped hours are; uniform instants almost never land there.
pub(crate) fn instant_in(zone: &Zone) -> impl Strategy<Value = DateTime<Utc>> + use<> {
    let zone = *zone;
    (instant(), any::<bool>(), -7_200_000i64..7_200_000).prop_map(
        move |(t, near_change, delta_ms)| match next_transition(&zone, t).filter(|_| near_change) {
            Some(change) => change + TimeDelta::milliseconds(delta_ms),
            None => t,
        },
    )
}

fn zone_and_instant() -> impl Strategy<Value = (Zone, DateTime<Utc>)> {
    any_zone().prop_flat_map(|z| (Just(z), instant_in(&z)))
}

/// Fields whose rendering has a fixed width for years 1971-2099, so the next field may abut.
const FIXED_WIDTH: &[&str] = &[
    "yyyy", "MM", "dd", "HH", "kk", "hh", "KK", "mm", "ss", "SSS",
];

/// A pattern that identifies the instant down to the second or millisecond: year, month,
/// day, an hour (12-hour forms with `a`), minute, second, optionally milliseconds, a day
/// name and a zone token, in any order, separated by literals (none after fixed-width
/// numbers, no letters or `-` right after a zone name).
fn identifying_pattern(with_zone: bool) -> impl Strategy<Value = String> {
    let hour = proptest::sample::select(vec![
        vec!["HH"],
        vec!["H"],
        vec!["kk"],
        vec!["k"],
        vec!["hh", "a"],
        vec!["h", "a"],
        vec!["KK", "a"],
        vec!["K", "a"],
    ]);
    let zone_tokens: Vec<Option<&'static str>> = if with_zone {
        vec![
            Some("z"),
            Some("zzzz"),
            Some("Z"),
            Some("X"),
            Some("XX"),
            Some("XXX"),
        ]
    } else {
        vec![None]
    };
    (
        proptest::sample::select(vec!["yyyy", "y", "yyy"]),
        proptest::sample::select(vec!["MM", "M", "MMM", "MMMM"]),
        proptest::sample::select(vec!["dd", "d"]),
        hour,
        proptest::sample::select(vec!["mm", "m"]),
        proptest::sample::select(vec!["ss", "s"]),
        proptest::sample::select(vec![None, Some("SSS"), Some("S")]),
        proptest::sample::select(vec![None, Some("EEE"), Some("EEEE")]),
        proptest::sample::select(zone_tokens),
    )
        .prop_flat_map(|(y, m, d, hour, min, s, ms, day_name, zone_token)| {
            let mut fields: Vec<&'static str> = vec![y, m, d, min, s];
            fields.extend(hour);
            fields.extend(ms);
            fields.extend(day_name);
            fields.extend(zone_token);
            let n = fields.len();
            (
                Just(fields).prop_shuffle(),
                proptest::collection::vec(0usize..10, n),
            )
        })
        .prop_map(|(fields, separator_choices)| {
            const SEPARATORS: &[&str] = &["", " ", "-", "/", ":", ".", ", ", "''", "'T'", "'at'"];
            let mut out = String::new();
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    let previous = fields[i - 1];
                    let mut choice = separator_choices[i];
                    if SEPARATORS[choice].is_empty() && !FIXED_WIDTH.contains(&previous) {
                        choice = 1;
                    }
                    // A zone name is read as a run of letters, and `GMT` may be followed by
                    // a signed offset: keep letters and signs away from it.
                    if previous.starts_with('z') && (choice >= 8 || SEPARATORS[choice] == "-") {
                        choice = 1;
                    }
                    out.push_str(SEPARATORS[choice]);
                }
                out.push_str(field);
            }
            out
        })
}

fn truncated_to_pattern(instant: DateTime<Utc>, p: &DatePattern) -> DateTime<Utc> {
    let step = p.precision().num_milliseconds();
    let ms = instant.timestamp_millis();
    DateTime::from_timestamp_millis(ms - ms.rem_euclid(step)).expect("in range")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// With a zone token the text pins the instant exactly.
    #[test]
    fn format_then_parse_is_identity_up_to_precision(
        (z, t) in zone_and_instant(),
        source in identifying_pattern(true),
    ) {
        let p = DatePattern::parse(&source).expect("generated pattern is valid");
        // `X` drops the minutes of +05:30 by design (Java does too).
        prop_assume!(!(source.contains('X') && !source.contains("XX") && z.offset_at(t).local_minus_utc() % 3600 != 0));
        let text = p.format(t, &z);
        let parsed = p.parse_value_strict(&text, &z);
        prop_assert_eq!(parsed, Ok(truncated_to_pattern(t, &p)), "pattern {} text {}", source, text);
        prop_assert_eq!(p.truncate(t, &z), truncated_to_pattern(t, &p));
    }

    /// Without a zone token the wall time is read in the configured zone: exact except in
    /// the repeated hour, where the earlier of the two instants with that wall time wins.
    #[test]
    fn format_then_parse_without_zone_token(
        (z, t) in zone_and_instant(),
        source in identifying_pattern(false),
    ) {
        let p = DatePattern::parse(&source).expect("generated pattern is valid");
        let text = p.format(t, &z);
        let expected = truncated_to_pattern(t, &p);
        let parsed = p.parse_value_strict(&text, &z).expect("own output parses");
        if parsed != expected {
            prop_assert!(parsed < expected, "pattern {} text {}", source, text);
            prop_assert_eq!(p.format(parsed, &z), text.clone());
            let shift = expected - parsed;
            prop_assert!(shift > TimeDelta::zero() && shift <= TimeDelta::hours(2), "shift {}", shift);
            // The two instants have the same wall time at different offsets.
            prop_assert_eq!(
                (z.offset_at(parsed).local_minus_utc() - z.offset_at(expected).local_minus_utc()) as i64,
                shift.num_seconds()
            );
        }
    }

    /// Truncation keeps what the pattern shows, never moves forward, and is idempotent.
    #[test]
    fn truncate_keeps_the_rendering(
        (z, t) in zone_and_instant(),
        source in proptest::sample::select(vec![
            "yyyy", "yyyy-MM", "yyyy-MM-dd", "yyyy-MM-dd a", "yyyy-MM-dd HH", "yyyy-MM-dd hh a",
            "yyyy-MM-dd HH:mm", "yyyy-MM-dd HH:mm:ss", "HH:mm:ss.SSS", "EEE", "MMM d",
        ]),
    ) {
        let p = DatePattern::parse(source).expect("valid");
        let cut = p.truncate(t, &z);
        prop_assert!(cut <= t);
        prop_assert_eq!(p.format(cut, &z), p.format(t, &z));
        prop_assert_eq!(p.truncate(cut, &z), cut);
    }
}

#[test]
fn transition_biased_instants_reach_the_repeated_hour() {
    // Guards the property above against silently never testing the repeated hour.
    let la = zone("America/Los_Angeles");
    let p = pattern("yyyy-MM-dd HH:mm:ss.SSS");
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = instant_in(&la);
    let mut repeated = 0;
    for _ in 0..400 {
        let t = strategy.new_tree(&mut runner).expect("value").current();
        let parsed = p
            .parse_value_strict(&p.format(t, &la), &la)
            .expect("parses");
        if parsed != t {
            repeated += 1;
        }
    }
    assert!(
        repeated > 5,
        "only {repeated} instants in the repeated hour"
    );
}

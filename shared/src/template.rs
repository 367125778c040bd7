//! `${…}` placeholders in poller URLs: `${date:FMT}`, `${gmtDate:FMT}`,
//! `${dateTimeZone:ZONE:FMT}`, `${epoch}` (= `${epoch:ms}`), `${epoch:s}`, `${epoch:us}`.
//!
//! Every placeholder is fully validated by [`Placeholder::parse`] (so by
//! [`UrlTemplate::parse`], at instance registration): unknown kinds, bad patterns and
//! unknown zones are registration errors, and rendering at poll time cannot fail. FMT is a
//! Java `SimpleDateFormat` pattern, see [`crate::datefmt`].
//!
//! CONTRACT (owned by the date-template work; keep these signatures):
//! - `Placeholder::parse(inner: &str)` — the text between `${` and `}`.
//! - `Placeholder::render(&self, DateTime<Utc>) -> String`
//! - `Placeholder::parse_rendered(&self, &str) -> Result<DateTime<Utc>, TemplateError>`
//! - `UrlTemplate::parse(&str)`, `UrlTemplate::render(&self, DateTime<Utc>) -> String`,
//!   `UrlTemplate::segments(&self) -> &[Segment]`.

use chrono::{DateTime, TimeDelta, Utc};

use crate::datefmt::{DatePattern, Zone};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

/// One `${…}` placeholder, validated when the template is registered so that rendering it
/// at poll time cannot fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    source: String,
    kind: PlaceholderKind,
}

/// What a placeholder renders the poll time as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceholderKind {
    /// `date:FMT` and `gmtDate:FMT` (zone UTC), `dateTimeZone:ZONE:FMT`.
    Date { pattern: DatePattern, zone: Zone },
    /// `epoch` (milliseconds), `epoch:s`, `epoch:ms`, `epoch:us`.
    Epoch(EpochUnit),
}

/// The unit of an `${epoch…}` placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochUnit {
    Seconds,
    Milliseconds,
    Microseconds,
}

impl Placeholder {
    /// Parse the text between `${` and `}`.
    ///
    /// `date:FMT` and `gmtDate:FMT` render in UTC ("polling is in UTC unless a zone is
    /// given"). In `dateTimeZone:ZONE:FMT` the zone may itself hold colons (`-08:00`), so
    /// the zone is the longest prefix ending before a `:` that is a valid zone, leaving a
    /// valid non-empty pattern. A pattern must write at least one date or time field.
    /// Kind names are case-sensitive, as Cloud Elements wrote them.
    pub fn parse(inner: &str) -> Result<Self, TemplateError> {
        let fail =
            |problem: String| TemplateError(format!("placeholder `${{{inner}}}`: {problem}"));
        let (name, argument) = match inner.split_once(':') {
            Some((name, argument)) => (name, Some(argument)),
            None => (inner, None),
        };
        let kind = match (name, argument) {
            ("date" | "gmtDate", Some(format)) => PlaceholderKind::Date {
                pattern: date_pattern(format).map_err(fail)?,
                zone: Zone::Utc,
            },
            ("date" | "gmtDate", None) => {
                return Err(fail(format!(
                    "`{name}` needs a date pattern, as in `{name}:yyyy-MM-dd`"
                )));
            }
            ("dateTimeZone", Some(argument)) => {
                let (zone, pattern) = zone_and_pattern(argument).map_err(fail)?;
                PlaceholderKind::Date { pattern, zone }
            }
            ("dateTimeZone", None) => {
                return Err(fail("`dateTimeZone` needs a zone and a date pattern, as in `dateTimeZone:PST:yyyy-MM-dd`".to_owned()));
            }
            ("epoch", None | Some("ms")) => PlaceholderKind::Epoch(EpochUnit::Milliseconds),
            ("epoch", Some("s")) => PlaceholderKind::Epoch(EpochUnit::Seconds),
            ("epoch", Some("us")) => PlaceholderKind::Epoch(EpochUnit::Microseconds),
            ("epoch", Some(unit)) => {
                return Err(fail(format!(
                    "unknown epoch unit `{unit}` (expected s, ms or us)"
                )));
            }
            _ => {
                return Err(fail(format!(
                    "unknown placeholder kind `{name}` (expected date, gmtDate, dateTimeZone or epoch)"
                )));
            }
        };
        Ok(Placeholder {
            source: inner.to_owned(),
            kind,
        })
    }

    /// The placeholder as written, without `${` and `}`.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn kind(&self) -> &PlaceholderKind {
        &self.kind
    }

    /// The text substituted for the placeholder at instant `at`.
    pub fn render(&self, at: DateTime<Utc>) -> String {
        match &self.kind {
            PlaceholderKind::Date { pattern, zone } => pattern.format(at, zone),
            PlaceholderKind::Epoch(EpochUnit::Seconds) => at.timestamp().to_string(),
            PlaceholderKind::Epoch(EpochUnit::Milliseconds) => at.timestamp_millis().to_string(),
            PlaceholderKind::Epoch(EpochUnit::Microseconds) => at.timestamp_micros().to_string(),
        }
    }

    /// The inverse of [`Placeholder::render`]: the instant a rendered text stands for
    /// (strict: a date must match the pattern exactly; an epoch is an optionally negative
    /// decimal integer). `parse_rendered(render(t)) == truncate(t)`.
    pub fn parse_rendered(&self, text: &str) -> Result<DateTime<Utc>, TemplateError> {
        let fail = |problem: String| {
            TemplateError(format!("placeholder `${{{}}}`: {problem}", self.source))
        };
        match &self.kind {
            PlaceholderKind::Date { pattern, zone } => pattern
                .parse_value_strict(text, zone)
                .map_err(|e| fail(e.to_string())),
            PlaceholderKind::Epoch(unit) => {
                let digits = text.strip_prefix('-').unwrap_or(text);
                let value: i64 = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
                {
                    text.parse()
                        .map_err(|_| fail(format!("epoch `{text}` is out of range")))?
                } else {
                    return Err(fail(format!("`{text}` is not an epoch number")));
                };
                let instant = match unit {
                    EpochUnit::Seconds => DateTime::from_timestamp(value, 0),
                    EpochUnit::Milliseconds => DateTime::from_timestamp_millis(value),
                    EpochUnit::Microseconds => DateTime::from_timestamp_micros(value),
                };
                instant.ok_or_else(|| fail(format!("epoch `{text}` is out of range")))
            }
        }
    }

    /// The smallest unit the rendered text keeps (see [`DatePattern::precision`]).
    pub fn precision(&self) -> chrono::Duration {
        match &self.kind {
            PlaceholderKind::Date { pattern, .. } => pattern.precision(),
            PlaceholderKind::Epoch(EpochUnit::Seconds) => TimeDelta::seconds(1),
            PlaceholderKind::Epoch(EpochUnit::Milliseconds) => TimeDelta::milliseconds(1),
            PlaceholderKind::Epoch(EpochUnit::Microseconds) => TimeDelta::microseconds(1),
        }
    }

    /// `at` reduced to what [`Placeholder::render`] keeps of it (exact, in the
    /// placeholder's zone; epochs round toward the past).
    pub fn truncate(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        match &self.kind {
            PlaceholderKind::Date { pattern, zone } => pattern.truncate(at, zone),
            PlaceholderKind::Epoch(_) => {
                let step = self.precision().num_nanoseconds().unwrap_or(1).max(1);
                let nanos = i64::from(at.timestamp_subsec_nanos());
                at - TimeDelta::nanoseconds(nanos % step)
            }
        }
    }
}

fn date_pattern(format: &str) -> Result<DatePattern, String> {
    let pattern = DatePattern::parse(format).map_err(|e| e.to_string())?;
    if !pattern.writes_date_or_time() {
        return Err(format!(
            "date pattern `{format}` writes no date or time field"
        ));
    }
    Ok(pattern)
}

/// Split `ZONE:FMT` at the last `:` that leaves a valid zone before it and a valid pattern
/// after it (`-08:00:yyyy-MM-dd` is zone `-08:00`).
fn zone_and_pattern(argument: &str) -> Result<(Zone, DatePattern), String> {
    let mut first_error = None;
    for (i, _) in argument
        .match_indices(':')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        let Ok(zone) = Zone::parse(&argument[..i]) else {
            continue;
        };
        match date_pattern(&argument[i + 1..]) {
            Ok(pattern) => return Ok((zone, pattern)),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| {
        let zone = argument.split(':').next().unwrap_or(argument);
        match Zone::parse(zone) {
            Err(e) => e.to_string(),
            Ok(_) => "`dateTimeZone` needs a zone and a date pattern, as in `dateTimeZone:PST:yyyy-MM-dd`".to_owned(),
        }
    }))
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

    /// The URL with every placeholder rendered at `at`.
    pub fn render(&self, at: DateTime<Utc>) -> String {
        self.segments
            .iter()
            .map(|segment| match segment {
                Segment::Literal(text) => text.clone(),
                Segment::Placeholder(placeholder) => placeholder.render(at),
            })
            .collect()
    }

    /// The placeholders, in order.
    pub fn placeholders(&self) -> impl Iterator<Item = &Placeholder> {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::Placeholder(placeholder) => Some(placeholder),
            Segment::Literal(_) => None,
        })
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

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use proptest::prelude::*;

    use super::*;
    use crate::datefmt::tests::{instant, instant_in};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("test instant")
            .to_utc()
    }

    fn placeholder(inner: &str) -> Placeholder {
        Placeholder::parse(inner).unwrap_or_else(|e| panic!("{inner}: {e}"))
    }

    const POLL: &str = "2018-07-31T19:39:46.123Z";

    #[test]
    fn seed_url_renders_the_last_poll_time_in_utc() {
        let url = "/hubs/finance/customers?where=lastModifiedDate>='${date:yyyy-MM-dd'T'HH:mm:ss'Z'}' and attributes='created_at,updated_at";
        let template = UrlTemplate::parse(url).expect("seed url");
        assert_eq!(
            template.render(at(POLL)),
            "/hubs/finance/customers?where=lastModifiedDate>='2018-07-31T19:39:46Z' and attributes='created_at,updated_at"
        );
        assert_eq!(template.placeholders().count(), 1);
    }

    #[test]
    fn renders_every_kind() {
        let cases = [
            ("date:yyyy-MM-dd'T'HH:mm:ss'Z'", "2018-07-31T19:39:46Z"),
            (
                "gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
                "2018-07-31T19:39:46.123Z",
            ),
            (
                "dateTimeZone:PST:yyyy-MM-dd'T'HH:mm:ssXXX",
                "2018-07-31T12:39:46-07:00",
            ),
            (
                "dateTimeZone:America/Los_Angeles:yyyy-MM-dd HH:mm z",
                "2018-07-31 12:39 PDT",
            ),
            ("dateTimeZone:-08:00:yyyy-MM-dd HH:mm", "2018-07-31 11:39"),
            ("dateTimeZone:GMT+05:30:HH:mm", "01:09"),
            ("dateTimeZone:+05:30:mm", "09"),
            (
                "dateTimeZone:UTC:EEE, dd MMM yyyy HH:mm:ss z",
                "Tue, 31 Jul 2018 19:39:46 GMT",
            ),
            ("epoch", "1533065986123"),
            ("epoch:ms", "1533065986123"),
            ("epoch:s", "1533065986"),
            ("epoch:us", "1533065986123000"),
        ];
        for (inner, expected) in cases {
            let p = placeholder(inner);
            assert_eq!(p.render(at(POLL)), expected, "{inner}");
            assert_eq!(p.source(), inner);
        }
        let t = UrlTemplate::parse("/x?since=${epoch:s}&until=${date:yyyy}").expect("template");
        assert_eq!(t.render(at(POLL)), "/x?since=1533065986&until=2018");
    }

    #[test]
    fn zone_with_colons_is_split_from_the_pattern() {
        match placeholder("dateTimeZone:GMT-08:00:HH:mm").kind() {
            PlaceholderKind::Date { pattern, zone } => {
                assert_eq!(zone.to_string(), "GMT-08:00");
                assert_eq!(pattern.as_str(), "HH:mm");
            }
            other => panic!("expected a date placeholder, got {other:?}"),
        }
    }

    #[test]
    fn errors_are_caught_at_parse_time_and_name_the_problem() {
        let cases = [
            ("datetime:yyyy", "`datetime`"),
            ("Date:yyyy", "`Date`"),
            ("", "unknown placeholder kind"),
            ("date", "needs a date pattern"),
            ("gmtDate", "needs a date pattern"),
            ("date:yyyy-qq", "`q`"),
            ("date:yyyy-MM-dd'T", "unterminated quote"),
            ("date:'no fields'", "writes no date or time"),
            ("gmtDate:", "writes no date or time"),
            ("dateTimeZone:Mars/Base:yyyy-MM-dd", "`Mars/Base`"),
            ("dateTimeZone:PST", "needs a zone and a date pattern"),
            ("dateTimeZone:+05:30:00", "writes no date or time"),
            ("dateTimeZone", "needs a zone and a date pattern"),
            ("dateTimeZone:PST:YYYY", "`Y`"),
            ("epoch:ns", "`ns`"),
            ("epoch:", "epoch unit"),
        ];
        for (inner, expected) in cases {
            let error = Placeholder::parse(inner).expect_err(inner).to_string();
            assert!(error.contains(expected), "{inner}: {error}");
            assert!(error.contains(&format!("${{{inner}}}")), "{inner}: {error}");
        }
        let error = UrlTemplate::parse("/x?where=a>'${dateTimeZone:Mars/Base:yyyy}'").unwrap_err();
        assert!(error.to_string().contains("Mars/Base"), "{error}");
    }

    #[test]
    fn parse_rendered_inverts_render() {
        let seed = placeholder("date:yyyy-MM-dd'T'HH:mm:ss'Z'");
        assert_eq!(
            seed.parse_rendered("2018-07-31T19:39:46Z"),
            Ok(at("2018-07-31T19:39:46Z"))
        );
        // Strict: no RFC 3339 fallback here.
        assert!(seed.parse_rendered("2018-07-31T19:39:46.123Z").is_err());
        let epoch = placeholder("epoch");
        assert_eq!(epoch.parse_rendered("1533065986123"), Ok(at(POLL)));
        assert_eq!(
            epoch.parse_rendered("-1000"),
            Ok(at("1969-12-31T23:59:59Z"))
        );
        assert_eq!(
            placeholder("epoch:s").parse_rendered("0"),
            Ok(at("1970-01-01T00:00:00Z"))
        );
        assert_eq!(
            placeholder("epoch:us").parse_rendered("1533065986123456"),
            Ok(at("2018-07-31T19:39:46.123456Z"))
        );
        for bad in [
            "",
            "-",
            "+5",
            " 5",
            "5 ",
            "1e3",
            "12.5",
            "99999999999999999999",
        ] {
            assert!(epoch.parse_rendered(bad).is_err(), "{bad:?}");
        }
        assert!(
            placeholder("epoch:s")
                .parse_rendered("9223372036854775807")
                .is_err()
        );
    }

    #[test]
    fn precision_and_truncate() {
        let cases = [
            (
                "date:yyyy-MM-dd'T'HH:mm:ss'Z'",
                TimeDelta::seconds(1),
                "2018-07-31T19:39:46Z",
            ),
            (
                "date:yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
                TimeDelta::milliseconds(1),
                POLL,
            ),
            (
                "dateTimeZone:PST:yyyy-MM-dd",
                TimeDelta::days(1),
                "2018-07-31T07:00:00Z",
            ),
            ("epoch", TimeDelta::milliseconds(1), POLL),
            ("epoch:s", TimeDelta::seconds(1), "2018-07-31T19:39:46Z"),
            (
                "epoch:us",
                TimeDelta::microseconds(1),
                "2018-07-31T19:39:46.123456Z",
            ),
        ];
        for (inner, precision, truncated) in cases {
            let p = placeholder(inner);
            assert_eq!(p.precision(), precision, "{inner}");
            assert_eq!(
                p.truncate(at("2018-07-31T19:39:46.123456789Z")),
                at(truncated),
                "{inner}"
            );
        }
        // Epochs before 1970 round toward the past too.
        assert_eq!(
            placeholder("epoch:s").truncate(at("1969-12-31T23:59:59.5Z")),
            at("1969-12-31T23:59:59Z")
        );
    }

    const DATE_PLACEHOLDERS: &[&str] = &[
        "date:yyyy-MM-dd'T'HH:mm:ss'Z'",
        "gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
        "date:yyyy-MM-dd",
        "dateTimeZone:PST:yyyy-MM-dd'T'HH:mm:ssXXX",
        "dateTimeZone:America/Los_Angeles:yyyy-MM-dd HH:mm:ss",
        "dateTimeZone:America/Los_Angeles:yyyy-MM-dd hh:mm:ss a z",
        "dateTimeZone:-08:00:yyyy-MM-dd HH:mm",
        "dateTimeZone:GMT+05:30:EEE, d MMM yyyy hh:mm:ss a Z",
        "dateTimeZone:Europe/London:yyyyMMddHHmmssSSS",
        "dateTimeZone:Europe/London:yyyy-MM-dd HH:mm zzzz",
        "dateTimeZone:Australia/Sydney:yyyy-MM-dd z HH:mm",
        "dateTimeZone:America/Sao_Paulo:yyyy-MM-dd",
        "dateTimeZone:America/Sao_Paulo:yyyy-MM-dd'T'HH:mm:ss.SSSZ",
        "dateTimeZone:Asia/Kathmandu:yyyy-MM-dd HH",
        "dateTimeZone:Pacific/Auckland:dd/MM/yyyy kk:mm",
    ];

    fn date_placeholder_and_instant() -> impl Strategy<Value = (Placeholder, DateTime<Utc>)> {
        proptest::sample::select(DATE_PLACEHOLDERS)
            .prop_map(placeholder)
            .prop_flat_map(|p| {
                let zone = match p.kind() {
                    PlaceholderKind::Date { zone, .. } => *zone,
                    PlaceholderKind::Epoch(_) => crate::datefmt::Zone::Utc,
                };
                (Just(p), instant_in(&zone))
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// `parse_rendered(render(t)) == truncate(t)`; without a zone in the text, in the
        /// repeated hour the earlier instant with the same rendering is read instead.
        #[test]
        fn date_placeholders_round_trip((p, t) in date_placeholder_and_instant()) {
            let text = p.render(t);
            let cut = p.truncate(t);
            prop_assert!(cut <= t);
            prop_assert_eq!(p.render(cut), text.clone());
            let parsed = match p.parse_rendered(&text) {
                Ok(parsed) => parsed,
                // Known limit, kept strict on purpose: a text without a zone whose start
                // of hour/day fell in an offset gap (Asia/Kathmandu skipped 1986-01-01
                // 00:00–00:15) names a local time that never existed, and the strict
                // parser refuses it rather than guess. Only such gap texts are excused.
                Err(e) if e.to_string().contains("does not exist") => return Ok(()),
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            };
            let writes_zone = matches!(p.kind(), PlaceholderKind::Date { pattern, .. } if pattern.writes_zone());
            if writes_zone {
                prop_assert_eq!(parsed, cut, "{} rendered {}", p.source(), text);
            } else if parsed != cut {
                prop_assert!(parsed < cut, "{} rendered {}", p.source(), text);
                prop_assert_eq!(p.render(parsed), text);
            }
        }

        #[test]
        fn epoch_placeholders_round_trip(
            inner in proptest::sample::select(vec!["epoch", "epoch:s", "epoch:ms", "epoch:us"]),
            micros in -4_000_000_000_000_000i64..4_000_000_000_000_000,
        ) {
            let p = placeholder(inner);
            let t = DateTime::from_timestamp_micros(micros).expect("in range")
                + TimeDelta::nanoseconds(micros.rem_euclid(1000));
            let text = p.render(t);
            prop_assert_eq!(p.parse_rendered(&text), Ok(p.truncate(t)));
            prop_assert!(p.truncate(t) <= t);
            prop_assert!(t - p.truncate(t) < p.precision());
        }

        #[test]
        fn url_template_renders_each_placeholder(t in instant()) {
            let template = UrlTemplate::parse("/a?from=${epoch:s}&on=${date:yyyy-MM-dd}&x=${dateTimeZone:PST:HH}")
                .expect("template");
            let expected = format!(
                "/a?from={}&on={}&x={}",
                t.timestamp(),
                t.format("%Y-%m-%d"),
                t.with_timezone(&chrono_tz::America::Los_Angeles).format("%H"),
            );
            prop_assert_eq!(template.render(t), expected);
        }
    }
}

//! `template.yaml`'s parameters allow only what the functions accept at start-up.
//!
//! A parameter CloudFormation accepts but a function refuses makes a deploy succeed with
//! functions that can never start (`MinRefreshIntervalMinutes=1441`, `RetrySchedule=0,4,…`
//! did). For every parameter that reaches a function's environment, each value the
//! template allows — its default, its `AllowedValues`, its `MinValue`/`MaxValue`, and a
//! corpus of strings its `AllowedPattern` matches — is fed to the functions' own
//! start-up parsing (`Settings`, `SageEndpoints`, `AwsSettings`), and a number
//! parameter's bounds are held to the code's (`sage_events_core::settings::bounds`).

use sage_events_core::env_names;
use sage_events_core::sage::SageEndpoints;
use sage_events_core::settings::{Settings, bounds};
use saphyr::YamlOwned;
use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use template_check::Template;
use template_check::intrinsic::render;
use template_check::workspace_root;

/// The code's accepted range of each numeric variable.
const NUMERIC: [(&str, RangeInclusive<u64>); 4] = [
    (
        env_names::MIN_REFRESH_INTERVAL_MINUTES,
        bounds::MIN_REFRESH_INTERVAL_MINUTES,
    ),
    (env_names::MAX_RECEIVE_COUNT, bounds::MAX_RECEIVE_COUNT),
    (
        env_names::CALLBACK_TIMEOUT_SECONDS,
        bounds::CALLBACK_TIMEOUT_SECONDS,
    ),
    (
        env_names::API_CREDENTIALS_TTL_SECONDS,
        bounds::API_CREDENTIALS_TTL_SECONDS,
    ),
];

/// Parameters deliberately narrower than the code, and why. Any other numeric parameter
/// must have exactly the code's bounds.
const NARROWER: [(&str, &str); 1] = [(
    env_names::CALLBACK_TIMEOUT_SECONDS,
    "a callback must finish inside the delivery function's 60 s timeout",
)];

/// Whether the functions' start-up parsing accepts `value` for `variable`.
fn accepted(variable: &str, value: &str) -> Result<(), String> {
    let only = |name: &str| (name == variable).then(|| value.to_owned());
    Settings::from_lookup(only).map_err(|e| e.to_string())?;
    SageEndpoints::from_lookup(only).map_err(|e| e.to_string())?;
    let required_names = [
        env_names::API_CREDENTIALS_SECRET_ID,
        env_names::SECRET_PREFIX,
    ];
    if required_names.contains(&variable) && value.trim().is_empty() {
        return Err(format!("{variable} must not be empty"));
    }
    Ok(())
}

/// Strings to try against an `AllowedPattern`: numbers at and around every bound the
/// code has, in every position of a comma list, plus URL-ish and name-ish shapes.
fn corpus() -> Vec<String> {
    let atoms = [
        "",
        "0",
        "1",
        "4",
        "9",
        "10",
        "60",
        "61",
        "999",
        "1000",
        "1440",
        "1441",
        "43200",
        "43201",
        "99999",
        "100000",
        "18446744073709551615",
        "18446744073709551616",
        "-1",
        "01",
        "1.5",
        " 4",
        "a",
    ];
    let mut out: Vec<String> = atoms.iter().map(|a| (*a).to_owned()).collect();
    for a in atoms {
        for b in atoms {
            out.push(format!("{a},{b}"));
            for c in atoms {
                out.push(format!("{a},{b},{c}"));
            }
        }
    }
    out.extend(
        [
            "https://api.accounting.sage.com/v3.1",
            "http://127.0.0.1:8089/v3.1",
            "https://x",
            "https://:",
            "https://:80",
            "http://[::1]",
            "https://a b",
            "https://.",
            "https://-",
            "https://a..b",
            "https://a?b=c",
            "https://a/p?q",
            "https://a#f",
            "https://u@a",
            "https://u:p@a",
            "https://a:99999",
            "https://a:8080/v3.1/",
            "https://a/%zz",
            "ftp://example.com",
            "https://",
            "sage-events/instances/",
            "a/b_c+d=e.f@g-h",
            "x",
        ]
        .map(str::to_owned),
    );
    out
}

fn text(spec: &YamlOwned, key: &str) -> Option<String> {
    spec.as_mapping_get(key).map(render)
}

fn number(spec: &YamlOwned, key: &str) -> Option<u64> {
    text(spec, key).and_then(|v| v.parse().ok())
}

/// Every disagreement between the template's parameters and the code.
fn disagreements(template: &Template) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(YamlOwned::Mapping(parameters)) = template.section("Parameters") else {
        return vec!["no Parameters".into()];
    };
    // Parameter → the variables it sets (any function).
    let mut variables: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for function in template.functions() {
        for (variable, value) in function.environment() {
            if let Some(parameter) = value.strip_prefix("${").and_then(|v| v.strip_suffix('}'))
                && parameters
                    .iter()
                    .any(|(k, _)| k.as_str() == Some(parameter))
            {
                variables
                    .entry(parameter.to_owned())
                    .or_default()
                    .push(variable);
            }
        }
    }
    let corpus = corpus();
    for (name, spec) in parameters {
        let Some(name) = name.as_str() else { continue };
        let Some(vars) = variables.get(name) else {
            continue;
        };
        let kind = text(spec, "Type").unwrap_or_default();
        let mut allowed: Vec<String> = Vec::new();
        allowed.extend(text(spec, "Default"));
        if let Some(values) = spec
            .as_mapping_get("AllowedValues")
            .and_then(YamlOwned::as_sequence)
        {
            allowed.extend(values.iter().map(render));
        }
        let (min, max) = (number(spec, "MinValue"), number(spec, "MaxValue"));
        allowed.extend(min.map(|v| v.to_string()));
        allowed.extend(max.map(|v| v.to_string()));
        if let Some(pattern) = text(spec, "AllowedPattern") {
            match regex_lite::Regex::new(&pattern) {
                Ok(regex) => allowed.extend(corpus.iter().filter(|s| regex.is_match(s)).cloned()),
                Err(e) => problems.push(format!("{name}: AllowedPattern does not compile: {e}")),
            }
        }
        for variable in vars {
            for value in &allowed {
                if let Err(reason) = accepted(variable, value) {
                    problems.push(format!(
                        "{name} allows {value:?} but the function refuses {variable}: {reason}"
                    ));
                }
            }
            if let Some((_, range)) = NUMERIC.iter().find(|(v, _)| v == variable) {
                if kind != "Number" {
                    problems.push(format!("{name} sets {variable}, a number, but is {kind}"));
                }
                let (code_min, code_max) = (*range.start(), *range.end());
                let narrower = NARROWER.iter().any(|(v, _)| v == variable);
                match (min, max) {
                    (Some(min), Some(max)) => {
                        let within = min >= code_min && max <= code_max;
                        if !within || (!narrower && (min, max) != (code_min, code_max)) {
                            problems.push(format!(
                                "{name} allows {min}–{max}, {variable} accepts {code_min}–{code_max}"
                            ));
                        }
                    }
                    _ => problems.push(format!(
                        "{name} needs MinValue and MaxValue ({variable} accepts {code_min}–{code_max})"
                    )),
                }
            }
        }
    }
    problems
}

fn template_text() -> String {
    std::fs::read_to_string(workspace_root().join("template.yaml")).expect("template.yaml")
}

#[test]
fn every_parameter_value_the_template_allows_is_one_the_functions_accept() {
    let template = Template::parse(&template_text()).expect("template");
    let problems = disagreements(&template);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_catches_a_parameter_wider_than_the_code() {
    let original = template_text();
    for (what, from, to) in [
        (
            "MinRefreshIntervalMinutes up to 1441",
            "    MaxValue: 1440\n",
            "    MaxValue: 1441\n",
        ),
        (
            "RetrySchedule allowing 0",
            "AllowedPattern: ^[1-9][0-9]{0,4},[1-9][0-9]{0,2},[1-9][0-9]{0,4}$",
            "AllowedPattern: ^\\d+,\\d+,\\d+$",
        ),
        (
            "ApiCredentialsTtlSeconds without a maximum",
            "    MaxValue: 60\n",
            "",
        ),
    ] {
        assert!(original.contains(from), "template.yaml changed: {what}");
        let mutated = Template::parse(&original.replacen(from, to, 1)).expect("template");
        assert!(
            !disagreements(&mutated).is_empty(),
            "no disagreement found for {what}"
        );
    }
}

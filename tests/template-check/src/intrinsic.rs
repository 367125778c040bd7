//! CloudFormation values as text.
//!
//! Checks compare values such as "the queue's `maxReceiveCount` is the `MaxReceiveCount`
//! parameter" or "this resource is the poller's ARN". Rendering every value to one textual
//! form — references as `${Name}` / `${Name.Attribute}`, as `!Sub` writes them — lets the
//! template use short-form tags (`!Ref X`) or long-form mappings (`{"Ref": "X"}`) alike.

use saphyr::{ScalarOwned, YamlOwned};

/// The value as text: scalars as written, `!Ref X` as `${X}`, `!GetAtt X.Y` as `${X.Y}`,
/// `!Sub s` as `s`, `!Join` joined; any other intrinsic as `!Name(...)`.
pub fn render(node: &YamlOwned) -> String {
    if let Some((function, argument)) = intrinsic(node) {
        return render_intrinsic(function, argument);
    }
    match node {
        YamlOwned::Value(scalar) => render_scalar(scalar),
        YamlOwned::Representation(text, _, _) => text.clone(),
        YamlOwned::Sequence(items) => {
            let parts: Vec<String> = items.iter().map(render).collect();
            format!("[{}]", parts.join(", "))
        }
        YamlOwned::Mapping(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", render(k), render(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        YamlOwned::Tagged(tag, inner) => format!("!{}({})", tag.suffix, render(inner)),
        YamlOwned::Alias(_) | YamlOwned::BadValue => String::new(),
    }
}

/// `${name}`: how [`render`] shows a `!Ref name` (or a `!GetAtt` of `name`).
pub fn reference(name: &str) -> String {
    format!("${{{name}}}")
}

/// The logical id named by `!Ref X` or `!GetAtt X.Attr` (either syntax), if `node` is one.
pub fn referenced_id(node: &YamlOwned) -> Option<String> {
    let (function, argument) = intrinsic(node)?;
    match function {
        "Ref" => argument.as_str().map(str::to_owned),
        "GetAtt" => {
            let rendered = get_att_text(argument)?;
            rendered.split('.').next().map(str::to_owned)
        }
        _ => None,
    }
}

/// Recognises both syntaxes: a tag `!Name arg`, or a one-entry mapping
/// `{"Ref": arg}` / `{"Fn::Name": arg}`. Returns the function name without `Fn::`.
fn intrinsic(node: &YamlOwned) -> Option<(&str, &YamlOwned)> {
    match node {
        YamlOwned::Tagged(tag, inner) if tag.handle == "!" => Some((tag.suffix.as_str(), inner)),
        YamlOwned::Mapping(map) if map.len() == 1 => {
            let (key, value) = map.iter().next()?;
            let key = key.as_str()?;
            if key == "Ref" || key == "Condition" {
                Some((key, value))
            } else {
                key.strip_prefix("Fn::").map(|name| (name, value))
            }
        }
        _ => None,
    }
}

fn render_intrinsic(function: &str, argument: &YamlOwned) -> String {
    match function {
        "Ref" => reference(&render(argument)),
        "GetAtt" => match get_att_text(argument) {
            Some(text) => reference(&text),
            None => format!("!GetAtt({})", render(argument)),
        },
        "Sub" => match argument {
            // `!Sub [template, {variables}]`: the template is what names things.
            YamlOwned::Sequence(items) if !items.is_empty() => render(&items[0]),
            other => render(other),
        },
        "Join" => match argument.as_sequence().map(Vec::as_slice) {
            Some([delimiter, YamlOwned::Sequence(parts)]) => {
                let parts: Vec<String> = parts.iter().map(render).collect();
                parts.join(&render(delimiter))
            }
            _ => format!("!Join({})", render(argument)),
        },
        other => format!("!{other}({})", render(argument)),
    }
}

/// `X.Attr` from `!GetAtt X.Attr` or `!GetAtt [X, Attr]`.
fn get_att_text(argument: &YamlOwned) -> Option<String> {
    match argument {
        YamlOwned::Value(ScalarOwned::String(text)) => Some(text.clone()),
        YamlOwned::Sequence(items) => {
            let parts: Option<Vec<&str>> = items.iter().map(YamlOwned::as_str).collect();
            parts.map(|parts| parts.join("."))
        }
        _ => None,
    }
}

fn render_scalar(scalar: &ScalarOwned) -> String {
    match scalar {
        ScalarOwned::Null => String::new(),
        ScalarOwned::Boolean(b) => b.to_string(),
        ScalarOwned::Integer(i) => i.to_string(),
        ScalarOwned::FloatingPoint(f) => f.to_string(),
        ScalarOwned::String(s) => s.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use saphyr::LoadableYamlNode;

    fn value(text: &str) -> YamlOwned {
        let docs = YamlOwned::load_from_str(text).expect("valid YAML");
        docs.into_iter().next().expect("one document")
    }

    #[test]
    fn short_and_long_forms_render_alike() {
        for (short, long) in [
            ("!Ref Table", r#"{"Ref": "Table"}"#),
            ("!GetAtt Queue.Arn", r#"{"Fn::GetAtt": ["Queue", "Arn"]}"#),
            ("!GetAtt [Queue, Arn]", r#"{"Fn::GetAtt": "Queue.Arn"}"#),
            (
                "!Sub '${Table.Arn}/index/gsi1'",
                r#"{"Fn::Sub": "${Table.Arn}/index/gsi1"}"#,
            ),
        ] {
            assert_eq!(
                render(&value(short)),
                render(&value(long)),
                "{short} vs {long}"
            );
        }
        assert_eq!(render(&value("!Ref Table")), "${Table}");
        assert_eq!(render(&value("!GetAtt Queue.Arn")), "${Queue.Arn}");
    }

    #[test]
    fn sub_with_variables_renders_its_template() {
        let v = value("!Sub ['arn:${P}:x', {P: !Ref AWS::Partition}]");
        assert_eq!(render(&v), "arn:${P}:x");
    }

    #[test]
    fn join_joins_rendered_parts() {
        let v = value("!Join ['', ['arn:', !Ref AWS::Partition, ':sqs']]");
        assert_eq!(render(&v), "arn:${AWS::Partition}:sqs");
    }

    #[test]
    fn scalars_render_as_written_and_other_intrinsics_stay_visible() {
        assert_eq!(render(&value("300")), "300");
        assert_eq!(render(&value("true")), "true");
        assert_eq!(render(&value("'*'")), "*");
        assert_eq!(render(&value("!If [C, a, b]")), "!If([C, a, b])");
        // A single-key mapping that is not an intrinsic stays a mapping.
        assert_eq!(render(&value("{Name: x}")), "{Name: x}");
    }

    #[test]
    fn referenced_id_names_the_resource() {
        assert_eq!(
            referenced_id(&value("!GetAtt Role.Arn")).as_deref(),
            Some("Role")
        );
        assert_eq!(
            referenced_id(&value(r#"{"Fn::GetAtt": ["Role", "Arn"]}"#)).as_deref(),
            Some("Role")
        );
        assert_eq!(
            referenced_id(&value("!Ref Group")).as_deref(),
            Some("Group")
        );
        assert_eq!(referenced_id(&value("arn:aws:iam::1:role/x")), None);
        assert_eq!(referenced_id(&value("!Sub '${Role.Arn}'")), None);
    }
}

//! The SAM template as data: resources, functions (with `Globals` applied), roles and
//! their statements, and the comment markers that justify a wildcard.

use crate::error::CheckError;
use crate::iam::{Statement, document_statements};
use crate::intrinsic::{referenced_id, render};
use saphyr::{LoadableYamlNode, YamlOwned};
use std::collections::BTreeMap;
use std::path::Path;

/// The comment that must stand on the line just above the `Sid:` of any IAM statement
/// whose `Resource` is `"*"`, followed by the reason the service requires it.
pub const WILDCARD_MARKER: &str = "# iam-wildcard-ok:";

const SAM_FUNCTION: &str = "AWS::Serverless::Function";

/// A parsed template plus its text (comments are not part of the YAML data).
#[derive(Debug)]
pub struct Template {
    doc: YamlOwned,
    text: String,
}

/// One entry of `Resources`.
#[derive(Debug, Clone, Copy)]
pub struct Resource<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub node: &'a YamlOwned,
}

/// A SAM function with the template's `Globals.Function` behind it.
#[derive(Debug, Clone, Copy)]
pub struct Function<'a> {
    pub resource: Resource<'a>,
    globals: Option<&'a YamlOwned>,
}

/// One entry of a function's `Events`.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub properties: Option<&'a YamlOwned>,
}

impl Template {
    pub fn load(path: &Path) -> Result<Template, CheckError> {
        let text = std::fs::read_to_string(path).map_err(|source| CheckError::Io {
            path: path.to_owned(),
            source,
        })?;
        Template::parse(&text)
    }

    /// Parses one YAML document that has a `Resources` mapping.
    pub fn parse(text: &str) -> Result<Template, CheckError> {
        let docs = YamlOwned::load_from_str(text).map_err(|e| CheckError::Yaml(e.to_string()))?;
        let mut docs = docs.into_iter();
        let doc = docs
            .next()
            .ok_or_else(|| CheckError::Shape("empty document".into()))?;
        if docs.next().is_some() {
            return Err(CheckError::Shape("more than one YAML document".into()));
        }
        match doc.as_mapping_get("Resources") {
            Some(YamlOwned::Mapping(_)) => {}
            _ => return Err(CheckError::Shape("no `Resources` mapping".into())),
        }
        Ok(Template {
            doc,
            text: text.to_owned(),
        })
    }

    /// A top-level section (`Parameters`, `Outputs`, `Globals`…).
    pub fn section(&self, name: &str) -> Option<&YamlOwned> {
        self.doc.as_mapping_get(name)
    }

    /// Every resource, in template order.
    pub fn resources(&self) -> Vec<Resource<'_>> {
        let Some(YamlOwned::Mapping(map)) = self.section("Resources") else {
            return Vec::new();
        };
        map.iter()
            .filter_map(|(id, node)| {
                Some(Resource {
                    id: id.as_str()?,
                    kind: node.as_mapping_get("Type").and_then(YamlOwned::as_str)?,
                    node,
                })
            })
            .collect()
    }

    pub fn resource(&self, id: &str) -> Option<Resource<'_>> {
        self.resources().into_iter().find(|r| r.id == id)
    }

    pub fn resources_of_type(&self, kind: &str) -> Vec<Resource<'_>> {
        self.resources()
            .into_iter()
            .filter(|r| r.kind == kind)
            .collect()
    }

    /// The SAM functions.
    pub fn functions(&self) -> Vec<Function<'_>> {
        let globals = self
            .section("Globals")
            .and_then(|g| g.as_mapping_get("Function"));
        self.resources_of_type(SAM_FUNCTION)
            .into_iter()
            .map(|resource| Function { resource, globals })
            .collect()
    }

    /// The function whose `Metadata.BuildProperties.Binary` is `binary`.
    pub fn function_by_binary(&self, binary: &str) -> Option<Function<'_>> {
        self.functions()
            .into_iter()
            .find(|f| f.binary() == Some(binary))
    }

    /// The statements that apply to role `role_id`: its inline `Policies`, and those of
    /// any `AWS::IAM::Policy` / `AWS::IAM::ManagedPolicy` attached to it by `Roles`.
    pub fn role_statements(&self, role_id: &str) -> Vec<Statement> {
        let mut statements = Vec::new();
        if let Some(role) = self.resource(role_id) {
            for policy in sequence(role.property("Policies")) {
                if let Some(document) = policy.as_mapping_get("PolicyDocument") {
                    statements.extend(document_statements(role_id, document));
                }
            }
        }
        for policy in self.attached_policies() {
            let attached = sequence(policy.property("Roles"))
                .iter()
                .any(|r| referenced_id(r).as_deref() == Some(role_id));
            if let (true, Some(document)) = (attached, policy.property("PolicyDocument")) {
                statements.extend(document_statements(policy.id, document));
            }
        }
        statements
    }

    /// The role's trust policy statements (`AssumeRolePolicyDocument`).
    pub fn trust_statements(&self, role_id: &str) -> Vec<Statement> {
        self.resource(role_id)
            .and_then(|r| r.property("AssumeRolePolicyDocument"))
            .map(|doc| document_statements(role_id, doc))
            .unwrap_or_default()
    }

    /// `ManagedPolicyArns` of a role, rendered (their contents are outside the template).
    pub fn managed_policy_arns(&self, role_id: &str) -> Vec<String> {
        self.resource(role_id)
            .map(|r| {
                sequence(r.property("ManagedPolicyArns"))
                    .iter()
                    .map(render)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every permission statement in the template: roles' inline policies and standalone
    /// policies (trust policies excluded), plus SAM functions' own `Policies` documents.
    pub fn all_statements(&self) -> Vec<Statement> {
        let mut statements = Vec::new();
        for role in self.resources_of_type("AWS::IAM::Role") {
            for policy in sequence(role.property("Policies")) {
                if let Some(document) = policy.as_mapping_get("PolicyDocument") {
                    statements.extend(document_statements(role.id, document));
                }
            }
        }
        for policy in self.attached_policies() {
            if let Some(document) = policy.property("PolicyDocument") {
                statements.extend(document_statements(policy.id, document));
            }
        }
        for function in self.functions() {
            for policy in sequence(function.resource.property("Policies")) {
                if policy.as_mapping_get("Statement").is_some() {
                    statements.extend(document_statements(function.resource.id, policy));
                }
            }
        }
        statements
    }

    /// Whether the statement with this `Sid` is justified by a [`WILDCARD_MARKER`]
    /// comment (with a reason) on the line just above its `Sid:`. The `Sid` must be
    /// unique in the template so the comment cannot be borrowed by another statement.
    pub fn wildcard_justified(&self, sid: &str) -> bool {
        let lines: Vec<&str> = self.text.lines().collect();
        let sid_lines: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter(|(_, line)| {
                let line = line.trim_start().trim_start_matches("- ").trim();
                line.strip_prefix("Sid:")
                    .map(|v| v.trim().trim_matches(['"', '\'']) == sid)
                    .unwrap_or(false)
            })
            .map(|(i, _)| i)
            .collect();
        let [index] = sid_lines.as_slice() else {
            return false;
        };
        let Some(above) = index.checked_sub(1).and_then(|i| lines.get(i)) else {
            return false;
        };
        above
            .trim()
            .strip_prefix(WILDCARD_MARKER)
            .is_some_and(|reason| !reason.trim().is_empty())
    }

    fn attached_policies(&self) -> Vec<Resource<'_>> {
        self.resources()
            .into_iter()
            .filter(|r| r.kind == "AWS::IAM::Policy" || r.kind == "AWS::IAM::ManagedPolicy")
            .collect()
    }
}

impl<'a> Resource<'a> {
    /// `Properties.<path…>`.
    pub fn property(&self, name: &str) -> Option<&'a YamlOwned> {
        self.node.as_mapping_get("Properties")?.as_mapping_get(name)
    }

    /// A nested value under `Properties`, e.g. `["RedrivePolicy", "maxReceiveCount"]`.
    pub fn property_path(&self, path: &[&str]) -> Option<&'a YamlOwned> {
        let mut node = self.node.as_mapping_get("Properties")?;
        for key in path {
            node = node.as_mapping_get(key)?;
        }
        Some(node)
    }

    /// A nested value under `Metadata`.
    pub fn metadata(&self, path: &[&str]) -> Option<&'a YamlOwned> {
        let mut node = self.node.as_mapping_get("Metadata")?;
        for key in path {
            node = node.as_mapping_get(key)?;
        }
        Some(node)
    }
}

impl<'a> Function<'a> {
    pub fn id(&self) -> &'a str {
        self.resource.id
    }

    /// `Metadata.BuildProperties.Binary`.
    pub fn binary(&self) -> Option<&'a str> {
        self.resource
            .metadata(&["BuildProperties", "Binary"])
            .and_then(YamlOwned::as_str)
    }

    /// `Metadata.BuildMethod`.
    pub fn build_method(&self) -> Option<&'a str> {
        self.resource
            .metadata(&["BuildMethod"])
            .and_then(YamlOwned::as_str)
    }

    /// A property as SAM resolves it: the function's own value, else `Globals.Function`'s.
    pub fn setting(&self, name: &str) -> Option<&'a YamlOwned> {
        self.resource
            .property(name)
            .or_else(|| self.globals.and_then(|g| g.as_mapping_get(name)))
    }

    /// A whole-number setting (`Timeout`, `MemorySize`).
    pub fn number(&self, name: &str) -> Option<i64> {
        self.setting(name).and_then(YamlOwned::as_integer)
    }

    /// Environment variables, rendered: `Globals.Function` ones overridden by the
    /// function's own (SAM merges the two maps).
    pub fn environment(&self) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        let own = self.resource.property_path(&["Environment", "Variables"]);
        let global = self
            .globals
            .and_then(|g| g.as_mapping_get("Environment"))
            .and_then(|e| e.as_mapping_get("Variables"));
        for variables in [global, own].into_iter().flatten() {
            if let YamlOwned::Mapping(map) = variables {
                for (name, value) in map {
                    if let Some(name) = name.as_str() {
                        env.insert(name.to_owned(), render(value));
                    }
                }
            }
        }
        env
    }

    /// The logical id of the function's role (`Role: !GetAtt X.Arn`), if it names one of
    /// the template's roles rather than SAM generating it.
    pub fn role_id(&self) -> Option<String> {
        self.setting("Role").and_then(referenced_id)
    }

    pub fn events(&self) -> Vec<Event<'a>> {
        let Some(YamlOwned::Mapping(map)) = self.resource.property("Events") else {
            return Vec::new();
        };
        map.iter()
            .filter_map(|(name, node)| {
                Some(Event {
                    name: name.as_str()?,
                    kind: node.as_mapping_get("Type").and_then(YamlOwned::as_str)?,
                    properties: node.as_mapping_get("Properties"),
                })
            })
            .collect()
    }
}

impl<'a> Event<'a> {
    pub fn property(&self, name: &str) -> Option<&'a YamlOwned> {
        self.properties?.as_mapping_get(name)
    }
}

fn sequence(node: Option<&YamlOwned>) -> &[YamlOwned] {
    node.and_then(YamlOwned::as_sequence)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
Globals:
  Function:
    Timeout: 10
    Environment:
      Variables:
        SHARED: !Ref Table
        OVERRIDDEN: global
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              - Sid: Items
                Effect: Allow
                Action: dynamodb:GetItem
                Resource: !GetAtt Table.Arn
              # iam-wildcard-ok: X-Ray accepts no resource ARN
              - Sid: Tracing
                Effect: Allow
                Action: xray:PutTraceSegments
                Resource: "*"
              - Sid: Unjustified
                Effect: Allow
                Action: sqs:SendMessage
                Resource: "*"
  Extra:
    Type: AWS::IAM::Policy
    Properties:
      Roles: [!Ref Role]
      PolicyDocument:
        Statement:
          Effect: Allow
          Action: sqs:SendMessage
          Resource: !GetAtt Queue.Arn
  Fn:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties:
        Binary: thing
    Properties:
      Role: !GetAtt Role.Arn
      MemorySize: 128
      Environment:
        Variables:
          OWN: x
          OVERRIDDEN: own
      Events:
        Api:
          Type: HttpApi
          Properties: {Method: GET, Path: /x}
"#;

    fn small() -> Template {
        Template::parse(SMALL).expect("valid template")
    }

    #[test]
    fn functions_merge_globals_under_their_own_settings() {
        let t = small();
        let f = t.function_by_binary("thing").expect("function");
        assert_eq!(f.id(), "Fn");
        assert_eq!(f.build_method(), Some("rust-cargolambda"));
        assert_eq!(f.number("Timeout"), Some(10));
        assert_eq!(f.number("MemorySize"), Some(128));
        let env = f.environment();
        assert_eq!(env["SHARED"], "${Table}");
        assert_eq!(env["OWN"], "x");
        assert_eq!(env["OVERRIDDEN"], "own");
        assert_eq!(f.role_id().as_deref(), Some("Role"));
        let events = f.events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, "HttpApi");
        assert_eq!(
            events[0].property("Path").map(render).as_deref(),
            Some("/x")
        );
        assert!(t.function_by_binary("other").is_none());
    }

    #[test]
    fn role_statements_include_attached_policies_but_not_trust() {
        let t = small();
        let statements = t.role_statements("Role");
        assert_eq!(statements.len(), 4);
        assert!(
            statements
                .iter()
                .any(|s| s.owner == "Extra" && s.allows("sqs:SendMessage"))
        );
        assert!(!statements.iter().any(|s| s.allows("sts:AssumeRole")));
        assert_eq!(t.trust_statements("Role").len(), 1);
        assert_eq!(t.all_statements().len(), 4);
        assert!(t.role_statements("Missing").is_empty());
    }

    #[test]
    fn wildcards_need_the_marker_right_above_a_unique_sid() {
        let t = small();
        assert!(t.wildcard_justified("Tracing"));
        assert!(!t.wildcard_justified("Unjustified"));
        assert!(!t.wildcard_justified("NoSuchSid"));
        // A marker without a reason does not count.
        let bare = SMALL.replace(
            "# iam-wildcard-ok: X-Ray accepts no resource ARN",
            "# iam-wildcard-ok:",
        );
        assert!(
            !Template::parse(&bare)
                .expect("valid")
                .wildcard_justified("Tracing")
        );
        // A duplicated Sid cannot borrow another statement's justification.
        let dup = SMALL.replace("Sid: Unjustified", "Sid: Tracing");
        assert!(
            !Template::parse(&dup)
                .expect("valid")
                .wildcard_justified("Tracing")
        );
    }

    #[test]
    fn malformed_templates_are_errors_not_panics() {
        assert!(matches!(
            Template::parse("a: [1, 2"),
            Err(CheckError::Yaml(_))
        ));
        assert!(matches!(Template::parse(""), Err(CheckError::Shape(_))));
        assert!(matches!(
            Template::parse("Parameters: {}"),
            Err(CheckError::Shape(_))
        ));
        assert!(matches!(
            Template::parse("Resources: {}\n---\nResources: {}\n"),
            Err(CheckError::Shape(_))
        ));
        assert!(matches!(
            Template::load(Path::new("/nonexistent/template.yaml")),
            Err(CheckError::Io { .. })
        ));
    }
}

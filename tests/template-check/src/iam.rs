//! IAM policy statements, flattened to text so checks can ask "may this role do X on Y?".

use crate::intrinsic::render;
use saphyr::YamlOwned;

/// One `Allow`/`Deny` statement of a policy, with its actions and resources rendered by
/// [`render`] (so `!GetAtt Table.Arn` reads `${Table.Arn}`).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Logical id of the role (or policy resource) the statement belongs to.
    pub owner: String,
    pub sid: Option<String>,
    pub effect: String,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    /// The statement uses `NotAction`: it grants everything *but* some actions.
    pub not_action: bool,
    /// The statement uses `NotResource`: it applies to everything *but* some resources.
    pub not_resource: bool,
    /// The `Condition` block, rendered (empty when absent).
    pub condition: String,
}

impl Statement {
    /// Reads one statement mapping; `owner` names where it was found.
    pub fn from_node(owner: &str, node: &YamlOwned) -> Statement {
        let field = |name: &str| node.as_mapping_get(name);
        Statement {
            owner: owner.to_owned(),
            sid: field("Sid").map(render),
            effect: field("Effect").map(render).unwrap_or_default(),
            actions: one_or_many(field("Action").or(field("NotAction"))),
            resources: one_or_many(field("Resource").or(field("NotResource"))),
            not_action: field("NotAction").is_some(),
            not_resource: field("NotResource").is_some(),
            condition: field("Condition").map(render).unwrap_or_default(),
        }
    }

    pub fn is_allow(&self) -> bool {
        self.effect == "Allow"
    }

    /// Whether this statement allows `action` (e.g. `sqs:SendMessage`), matching IAM's
    /// case-insensitive `*`/`?` action patterns. `NotAction` statements count as allowing
    /// every action they do not list.
    pub fn allows(&self, action: &str) -> bool {
        if !self.is_allow() {
            return false;
        }
        let listed = self
            .actions
            .iter()
            .any(|pattern| iam_pattern_matches(pattern, action));
        listed != self.not_action
    }

    /// `Resource: "*"` (or `NotResource`, which is as broad).
    pub fn has_wildcard_resource(&self) -> bool {
        self.not_resource || self.resources.iter().any(|r| r == "*")
    }

    /// `Action: "*"`, `service:*` or `NotAction`.
    pub fn has_wildcard_action(&self) -> bool {
        self.not_action || self.actions.iter().any(|a| a == "*" || a.ends_with(":*"))
    }
}

/// The statements of a policy document (`Statement` may be one mapping or a list).
pub fn document_statements(owner: &str, document: &YamlOwned) -> Vec<Statement> {
    match document.as_mapping_get("Statement") {
        Some(YamlOwned::Sequence(items)) => items
            .iter()
            .map(|item| Statement::from_node(owner, item))
            .collect(),
        Some(single) => vec![Statement::from_node(owner, single)],
        None => Vec::new(),
    }
}

fn one_or_many(node: Option<&YamlOwned>) -> Vec<String> {
    match node {
        Some(YamlOwned::Sequence(items)) => items.iter().map(render).collect(),
        Some(one) => vec![render(one)],
        None => Vec::new(),
    }
}

/// IAM action matching: case-insensitive, `*` = any run of characters, `?` = one.
fn iam_pattern_matches(pattern: &str, action: &str) -> bool {
    let pattern: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let action: Vec<char> = action.to_ascii_lowercase().chars().collect();
    glob(&pattern, &action)
}

fn glob(pattern: &[char], text: &[char]) -> bool {
    // Iterative wildcard matching with backtracking to the last `*`.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use saphyr::LoadableYamlNode;

    fn statement(text: &str) -> Statement {
        let docs = YamlOwned::load_from_str(text).expect("valid YAML");
        Statement::from_node("Role", &docs[0])
    }

    #[test]
    fn reads_single_and_listed_actions_and_resources() {
        let s = statement(
            "Sid: Q\nEffect: Allow\nAction: sqs:SendMessage\nResource: !GetAtt Queue.Arn",
        );
        assert_eq!(s.sid.as_deref(), Some("Q"));
        assert_eq!(s.actions, ["sqs:SendMessage"]);
        assert_eq!(s.resources, ["${Queue.Arn}"]);
        let s = statement(
            "Effect: Allow\nAction: [dynamodb:GetItem, dynamodb:Query]\nResource: [!GetAtt T.Arn, !Sub '${T.Arn}/index/gsi1']",
        );
        assert_eq!(s.actions.len(), 2);
        assert_eq!(s.resources, ["${T.Arn}", "${T.Arn}/index/gsi1"]);
    }

    #[test]
    fn action_patterns_match_like_iam() {
        let s = statement("Effect: Allow\nAction: [sqs:Send*, 'DynamoDB:getitem']\nResource: x");
        assert!(s.allows("sqs:SendMessage"));
        assert!(s.allows("dynamodb:GetItem"));
        assert!(!s.allows("sqs:ReceiveMessage"));
        assert!(!s.allows("dynamodb:GetItems"));
        let any = statement("Effect: Allow\nAction: '*'\nResource: x");
        assert!(any.allows("iam:PassRole"));
        assert!(any.has_wildcard_action());
        let q = statement("Effect: Allow\nAction: s3:Get?bject\nResource: x");
        assert!(q.allows("s3:GetObject"));
        assert!(!q.allows("s3:GetObjects"));
    }

    #[test]
    fn deny_and_not_action_are_understood() {
        let deny = statement("Effect: Deny\nAction: sqs:SendMessage\nResource: x");
        assert!(!deny.allows("sqs:SendMessage"));
        let not = statement("Effect: Allow\nNotAction: iam:*\nResource: x");
        assert!(not.allows("sqs:SendMessage"));
        assert!(!not.allows("iam:PassRole"));
        assert!(not.has_wildcard_action());
    }

    #[test]
    fn wildcard_resources_are_seen_in_every_form() {
        assert!(statement("Effect: Allow\nAction: a:b\nResource: '*'").has_wildcard_resource());
        assert!(
            statement("Effect: Allow\nAction: a:b\nResource: [x, '*']").has_wildcard_resource()
        );
        assert!(statement("Effect: Allow\nAction: a:b\nNotResource: x").has_wildcard_resource());
        assert!(
            !statement("Effect: Allow\nAction: a:b\nResource: 'arn:x:*'").has_wildcard_resource()
        );
    }

    #[test]
    fn documents_with_one_or_many_statements() {
        let docs =
            YamlOwned::load_from_str("Statement:\n  Effect: Allow\n  Action: a:b\n  Resource: x\n")
                .expect("valid");
        assert_eq!(document_statements("R", &docs[0]).len(), 1);
        let docs = YamlOwned::load_from_str(
            "Statement:\n  - {Effect: Allow, Action: a:b, Resource: x}\n  - {Effect: Allow, Action: a:c, Resource: y}\n",
        )
        .expect("valid");
        assert_eq!(document_statements("R", &docs[0]).len(), 2);
        let docs = YamlOwned::load_from_str("Version: '2012-10-17'\n").expect("valid");
        assert!(document_statements("R", &docs[0]).is_empty());
    }
}

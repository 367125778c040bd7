//! Who is calling the `/instances` API.
//!
//! Cloud Elements' scheme: `Authorization: User <user secret>, Organization <org secret>`
//! (any order), and on calls about one instance also `Element <instance token>`. The
//! operator provisions the organization/user secrets; we keep only their SHA-256 digests
//! in memory and compare digests in constant time, so neither the comparison's timing nor
//! a memory dump of the process reveals a secret.

use crate::secret::Secret;
use async_trait::async_trait;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The credentials of one organization (and its one API user).
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationCredential {
    /// Stable id that owns instances. Derived from the organization secret when absent.
    #[serde(default)]
    pub id: Option<String>,
    pub organization_secret: Secret,
    pub user_secret: Secret,
}

/// The accepted credentials, as digests.
#[derive(Clone)]
pub struct Authenticator {
    entries: Vec<Entry>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Authenticator({} organizations)", self.entries.len())
    }
}

#[derive(Clone)]
struct Entry {
    organization: String,
    org_digest: [u8; 32],
    user_digest: [u8; 32],
}

/// Where the accepted credentials come from, asked on every request that needs them.
///
/// A fixed [`Authenticator`] serves the standalone runner and tests; on AWS the
/// credentials live in a Secrets Manager secret the operator may rotate at any time, so
/// the registration function reads them through a source that re-reads the secret after
/// a bounded time (`aws::SecretsManagerCredentials`) instead of once at start-up.
#[async_trait]
pub trait CredentialsSource: Send + Sync + std::fmt::Debug {
    /// The credentials to check the current request against.
    async fn current(&self) -> Result<Arc<Authenticator>, CredentialsUnavailable>;
}

/// The credentials could not be read (the request is answered 503, never let through).
/// The message names what failed, never a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("API credentials unavailable: {0}")]
pub struct CredentialsUnavailable(pub String);

/// Credentials fixed for the life of the process.
#[derive(Debug, Clone)]
pub struct FixedCredentials(pub Arc<Authenticator>);

#[async_trait]
impl CredentialsSource for FixedCredentials {
    async fn current(&self) -> Result<Arc<Authenticator>, CredentialsUnavailable> {
        Ok(self.0.clone())
    }
}

/// The parsed parts of an `Authorization` header.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AuthorizationParts {
    pub user: Option<Secret>,
    pub organization: Option<Secret>,
    pub element: Option<Secret>,
}

/// Who the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// User + Organization secrets: everything of that organization.
    Organization(String),
    /// Only an instance token: that one instance (checked by the caller of `authenticate`
    /// against the instance's stored token digest).
    InstanceToken(Secret),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing Authorization header (expected `User <secret>, Organization <secret>`)")]
    Missing,
    #[error("malformed Authorization header: {0}")]
    Malformed(String),
    #[error("invalid credentials")]
    Invalid,
}

pub fn digest(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

/// Hex SHA-256, for storing instance tokens.
pub fn digest_hex(value: &str) -> String {
    digest(value).iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time check of a presented token against a stored hex digest.
pub fn token_matches(presented: &Secret, stored_hex: &str) -> bool {
    let presented = digest_hex(presented.expose());
    presented.len() == stored_hex.len()
        && bool::from(presented.as_bytes().ct_eq(stored_hex.as_bytes()))
}

impl Authenticator {
    pub fn new(credentials: &[OrganizationCredential]) -> Self {
        let entries = credentials
            .iter()
            .map(|c| {
                let org_digest = digest(c.organization_secret.expose());
                let organization = c.id.clone().unwrap_or_else(|| {
                    // Not reversible, stable across restarts, distinct per organization.
                    format!(
                        "org_{}",
                        &digest_hex(&format!(
                            "sage-events-org:{}",
                            c.organization_secret.expose()
                        ))[..16]
                    )
                });
                Entry {
                    organization,
                    org_digest,
                    user_digest: digest(c.user_secret.expose()),
                }
            })
            .collect();
        Authenticator { entries }
    }

    /// Parse the credentials document the operator provisions: either one object
    /// `{"organizationSecret","userSecret"[,"id"]}` or `{"organizations":[…]}`.
    pub fn from_json(text: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Doc {
            Many {
                organizations: Vec<OrganizationCredential>,
            },
            One(OrganizationCredential),
        }
        let doc: Doc = serde_json::from_str(text).map_err(|e| {
            format!("API credentials document unreadable at line {} column {} (expected organizationSecret and userSecret)", e.line(), e.column())
        })?;
        let list = match doc {
            Doc::Many { organizations } => organizations,
            Doc::One(one) => vec![one],
        };
        if list
            .iter()
            .any(|c| c.organization_secret.is_empty() || c.user_secret.is_empty())
        {
            return Err("API credentials document has an empty secret".into());
        }
        Ok(Self::new(&list))
    }

    /// Who sent `header` (the raw `Authorization` value).
    pub fn authenticate(&self, header: Option<&str>) -> Result<Caller, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let parts = parse_authorization(header)?;
        match (&parts.user, &parts.organization) {
            (Some(user), Some(org)) => {
                let user_digest = digest(user.expose());
                let org_digest = digest(org.expose());
                let mut found = None;
                // Look at every entry so timing does not tell which one matched.
                for entry in &self.entries {
                    let ok =
                        entry.org_digest.ct_eq(&org_digest) & entry.user_digest.ct_eq(&user_digest);
                    if bool::from(ok) {
                        found = Some(entry.organization.clone());
                    }
                }
                found.map(Caller::Organization).ok_or(AuthError::Invalid)
            }
            (None, None) => match parts.element {
                Some(token) => Ok(Caller::InstanceToken(token)),
                None => Err(AuthError::Missing),
            },
            _ => Err(AuthError::Malformed(
                "both User and Organization are required".into(),
            )),
        }
    }
}

/// Split `User a, Organization b, Element c` (any order, any spacing, case-insensitive
/// scheme names).
pub fn parse_authorization(header: &str) -> Result<AuthorizationParts, AuthError> {
    let mut parts = AuthorizationParts::default();
    for piece in header.split(',') {
        let piece = piece.trim();
        if piece.is_empty() {
            continue;
        }
        let (scheme, value) = piece.split_once(char::is_whitespace).ok_or_else(|| {
            AuthError::Malformed(
                "each part must be `<scheme> <value>` (User, Organization, Element)".into(),
            )
        })?;
        let value = value.trim();
        if value.is_empty() {
            return Err(AuthError::Malformed(format!("`{scheme}` has no value")));
        }
        let slot = match scheme.to_ascii_lowercase().as_str() {
            "user" => &mut parts.user,
            "organization" => &mut parts.organization,
            "element" => &mut parts.element,
            _ => {
                return Err(AuthError::Malformed(format!(
                    "unknown scheme `{}` (expected User, Organization, Element)",
                    scheme_only(scheme)
                )));
            }
        };
        if slot.is_some() {
            return Err(AuthError::Malformed(format!("`{scheme}` given twice")));
        }
        *slot = Some(Secret::new(value));
    }
    Ok(parts)
}

/// The scheme word only, never more than 20 characters: a malformed header may hold a secret.
fn scheme_only(text: &str) -> String {
    text.split_whitespace()
        .next()
        .unwrap_or("")
        .chars()
        .take(20)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Authenticator {
        Authenticator::from_json(
            r#"{"organizations":[
            {"id":"acme","organizationSecret":"org-1","userSecret":"user-1"},
            {"organizationSecret":"org-2","userSecret":"user-2"}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn user_and_organization_in_any_order_and_spacing() {
        let a = auth();
        for header in [
            "User user-1, Organization org-1",
            "Organization org-1, User user-1",
            "  user   user-1 ,organization org-1  ",
            "User user-1, Organization org-1, Element tok",
        ] {
            assert_eq!(
                a.authenticate(Some(header)),
                Ok(Caller::Organization("acme".into())),
                "{header}"
            );
        }
        match a.authenticate(Some("User user-2, Organization org-2")) {
            Ok(Caller::Organization(id)) => assert!(id.starts_with("org_") && id.len() == 20),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn wrong_or_mixed_credentials_are_refused() {
        let a = auth();
        assert_eq!(
            a.authenticate(Some("User user-1, Organization org-2")),
            Err(AuthError::Invalid)
        );
        assert_eq!(
            a.authenticate(Some("User nope, Organization org-1")),
            Err(AuthError::Invalid)
        );
        assert_eq!(a.authenticate(None), Err(AuthError::Missing));
        assert!(matches!(
            a.authenticate(Some("User user-1")),
            Err(AuthError::Malformed(_))
        ));
        assert!(matches!(
            a.authenticate(Some("Bearer abc")),
            Err(AuthError::Malformed(_))
        ));
        assert!(matches!(
            a.authenticate(Some("User , Organization org-1")),
            Err(AuthError::Malformed(_))
        ));
        assert!(matches!(
            a.authenticate(Some("User a, User b, Organization c")),
            Err(AuthError::Malformed(_))
        ));
    }

    #[test]
    fn element_token_alone_is_an_instance_caller() {
        let a = auth();
        assert_eq!(
            a.authenticate(Some("Element tok-123")),
            Ok(Caller::InstanceToken(Secret::new("tok-123")))
        );
        assert!(token_matches(
            &Secret::new("tok-123"),
            &digest_hex("tok-123")
        ));
        assert!(!token_matches(
            &Secret::new("tok-124"),
            &digest_hex("tok-123")
        ));
    }

    #[test]
    fn errors_never_echo_secret_values() {
        let a = auth();
        let err = a
            .authenticate(Some("Weird supersecretvalue"))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("supersecretvalue"), "{err}");
        let err = a
            .authenticate(Some("supersecretvalue"))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("supersecretvalue"), "{err}");
    }

    #[test]
    fn single_object_document_and_bad_documents() {
        let a = Authenticator::from_json(r#"{"organizationSecret":"o","userSecret":"u"}"#).unwrap();
        assert!(matches!(
            a.authenticate(Some("User u, Organization o")),
            Ok(Caller::Organization(_))
        ));
        assert!(Authenticator::from_json("{}").is_err());
        assert!(Authenticator::from_json(r#"{"organizationSecret":"","userSecret":"u"}"#).is_err());
        let Err(err) = Authenticator::from_json(r#"{"organizationSecret": "leak"#) else {
            panic!("truncated JSON must be an error");
        };
        assert!(!err.contains("leak"));
    }
}

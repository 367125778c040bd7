//! A string that must never be revealed by accident.
//!
//! Credentials (`oauth.api.secret`, `signature.secret`, `apim.subscription.key`,
//! `event.notification.signature.key`, OAuth tokens, grant codes) travel through logs,
//! error messages and API responses by way of `Debug`, `Display` and `Serialize`. Wrapping
//! them in [`Secret`] makes every one of those paths print a mask; the value is only
//! reachable through the explicit [`Secret::expose`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The mask shown wherever a secret would otherwise be printed or serialized.
pub const MASK: &str = "********";

/// A secret string value. Comparison is constant-time.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The real value. Call only where the value is needed on the wire or in storage.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.0.len() == other.0.len() && bool::from(self.0.as_bytes().ct_eq(other.0.as_bytes()))
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({MASK})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(MASK)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

/// Serde helper for the few places (secret storage) where a secret must be written out
/// in clear: `#[serde(with = "sage_events_core::secret::exposed")]`.
pub mod exposed {
    use super::Secret;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(secret: &Secret, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(secret.expose())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_reveals_value_through_debug_display_or_serialize() {
        let s = Secret::new("hunter2-very-secret");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{s}").contains("hunter2"));
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("hunter2"));
        assert_eq!(json, format!("\"{MASK}\""));
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn exposed_helper_round_trips() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Stored {
            #[serde(with = "exposed")]
            token: Secret,
        }
        let json = serde_json::to_string(&Stored {
            token: "abc".into(),
        })
        .unwrap();
        assert_eq!(json, r#"{"token":"abc"}"#);
        let back: Stored = serde_json::from_str(&json).unwrap();
        assert_eq!(back.token, Secret::new("abc"));
    }

    #[test]
    fn equality_compares_values() {
        assert_eq!(Secret::new("a"), Secret::new("a"));
        assert_ne!(Secret::new("a"), Secret::new("b"));
        assert_ne!(Secret::new("a"), Secret::new("ab"));
    }
}

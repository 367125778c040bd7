//! Configuration keys this service does not know, kept as given.
//!
//! Cloud Elements instances carried many element-specific keys; a client moving over may
//! send them along. They are kept (and echoed) rather than rejected, but a key whose name
//! looks like it holds a credential is never shown: its value is masked in `Debug` and in
//! the response form.

use crate::secret::MASK;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// Words that make a key's value secret.
const SECRET_WORDS: &[&str] = &["secret", "key", "token", "password"];

/// Whether a configuration key's value must be masked when shown.
pub fn looks_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|word| key.contains(word))
}

/// Unknown configuration keys and their values.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct PassThrough(BTreeMap<String, Value>);

impl PassThrough {
    pub(crate) fn insert(&mut self, key: String, value: Value) {
        self.0.insert(key, value);
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every entry with its real value. Call only where the values must be stored.
    pub fn expose(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The entries whose key looks secret (to be kept with the instance's secrets).
    pub fn secret_entries(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.expose().filter(|(k, _)| looks_secret(k))
    }

    /// Write every entry into `map`, secret-looking ones as the mask.
    pub(crate) fn write_masked_to(&self, map: &mut Map<String, Value>) {
        for (key, value) in &self.0 {
            map.insert(key.clone(), masked(key, value));
        }
    }
}

fn masked(key: &str, value: &Value) -> Value {
    if looks_secret(key) {
        Value::String(MASK.to_owned())
    } else {
        value.clone()
    }
}

impl fmt::Debug for PassThrough {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, masked(k, v))))
            .finish()
    }
}

//! Signing callback bodies, and checking such signatures (for receivers and tests).
//!
//! Every callback carries two signatures over the same bytes, so both old and new receivers
//! can check it:
//! - **Cloud Elements compatible**: `Elements-Webhook-Signature: sha256=<base64 HMAC-SHA256>`
//!   over the raw body, keyed with the UTF-8 bytes of `event.notification.signature.key`
//!   exactly as configured; plus `Elements-Webhook-Id`.
//! - **Standard Webhooks** (Svix and others): `webhook-id`, `webhook-timestamp` (unix
//!   seconds, fresh per attempt) and `webhook-signature: v1,<base64 HMAC-SHA256>` over
//!   `"{id}.{timestamp}.{body}"`. Binding the id and time into the MAC lets receivers reject
//!   replays of old deliveries.
//!
//! Standard Webhooks key derivation: a key written `whsec_<base64>` is used as the bytes the
//! base64 decodes to (the convention of Standard Webhooks libraries); any other key —
//! including a `whsec_` key whose remainder is not valid base64 — is used as its raw UTF-8
//! bytes, so that a Cloud Elements style key still yields a standard signature.
//!
//! All comparisons are constant-time.

use crate::secret::Secret;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::borrow::Cow;
use subtle::ConstantTimeEq;

/// Cloud Elements' id header (the notification's `eventId`, stable across retries).
pub const ELEMENTS_ID_HEADER: &str = "Elements-Webhook-Id";
/// Cloud Elements' signature header.
pub const ELEMENTS_SIGNATURE_HEADER: &str = "Elements-Webhook-Signature";
/// Standard Webhooks message id header.
pub const WEBHOOK_ID_HEADER: &str = "webhook-id";
/// Standard Webhooks timestamp header (unix seconds).
pub const WEBHOOK_TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// Standard Webhooks signature header (space-separated `v1,<base64>` entries).
pub const WEBHOOK_SIGNATURE_HEADER: &str = "webhook-signature";
/// Prefix of generated keys, and marker of base64-encoded key bytes.
pub const STANDARD_KEY_PREFIX: &str = "whsec_";
/// The clock skew receivers are advised to accept (Standard Webhooks, Stripe: 5 minutes).
pub const DEFAULT_TOLERANCE_SECS: u64 = 5 * 60;

const ELEMENTS_PREFIX: &str = "sha256=";
const STANDARD_VERSION: &str = "v1";
const RANDOM_KEY_BYTES: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing header `{header}`")]
    Missing { header: &'static str },
    #[error("malformed header `{header}`: {reason}")]
    Malformed {
        header: &'static str,
        reason: &'static str,
    },
    #[error("signature does not match")]
    Mismatch,
    #[error("timestamp is {age_secs} s old, beyond the tolerance")]
    TooOld { age_secs: u64 },
    #[error("timestamp is {ahead_secs} s in the future, beyond the tolerance")]
    TooNew { ahead_secs: u64 },
}

/// `sha256=` + base64(HMAC-SHA256(UTF-8 bytes of `key`, `body`)).
pub fn elements_signature(key: &Secret, body: &[u8]) -> String {
    format!(
        "{ELEMENTS_PREFIX}{}",
        BASE64.encode(hmac_sha256(key.expose().as_bytes(), &[body]))
    )
}

/// `v1,` + base64(HMAC-SHA256(k, "{msg_id}.{timestamp}.{body}")), with `k` derived from
/// `key` as described in the module docs.
pub fn standard_signature(key: &Secret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "{STANDARD_VERSION},{}",
        BASE64.encode(standard_mac(key, msg_id, timestamp, body))
    )
}

/// A fresh random key: `whsec_` + base64 of 32 random bytes.
pub fn generate_signing_key() -> Secret {
    let bytes: [u8; RANDOM_KEY_BYTES] = rand::random();
    Secret::new(format!("{STANDARD_KEY_PREFIX}{}", BASE64.encode(bytes)))
}

/// The signature headers of one delivery attempt.
///
/// `id` is the notification's event id (the same on every retry); `timestamp` is the time
/// of this attempt, in unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub id: String,
    pub timestamp: i64,
    pub elements_signature: String,
    pub standard_signature: String,
}

impl SignedHeaders {
    pub fn new(key: &Secret, id: &str, timestamp: i64, body: &[u8]) -> Self {
        SignedHeaders {
            id: id.to_owned(),
            timestamp,
            elements_signature: elements_signature(key, body),
            standard_signature: standard_signature(key, id, timestamp, body),
        }
    }

    /// `(name, value)` pairs to add to the request, Cloud Elements' first.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            (ELEMENTS_ID_HEADER, self.id.clone()),
            (ELEMENTS_SIGNATURE_HEADER, self.elements_signature.clone()),
            (WEBHOOK_ID_HEADER, self.id.clone()),
            (WEBHOOK_TIMESTAMP_HEADER, self.timestamp.to_string()),
            (WEBHOOK_SIGNATURE_HEADER, self.standard_signature.clone()),
        ]
    }
}

/// Checks an `Elements-Webhook-Signature` value (`None` when the header is absent).
pub fn verify_elements(key: &Secret, body: &[u8], header: Option<&str>) -> Result<(), VerifyError> {
    let value = header.ok_or(VerifyError::Missing {
        header: ELEMENTS_SIGNATURE_HEADER,
    })?;
    let encoded = value
        .trim()
        .strip_prefix(ELEMENTS_PREFIX)
        .ok_or(VerifyError::Malformed {
            header: ELEMENTS_SIGNATURE_HEADER,
            reason: "expected `sha256=<base64>`",
        })?;
    let given = BASE64.decode(encoded).map_err(|_| VerifyError::Malformed {
        header: ELEMENTS_SIGNATURE_HEADER,
        reason: "signature is not base64",
    })?;
    let expected = hmac_sha256(key.expose().as_bytes(), &[body]);
    if bool::from(expected.as_slice().ct_eq(&given)) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// The Standard Webhooks headers of a received request (`None` for an absent header).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StandardHeaders<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

impl<'a> StandardHeaders<'a> {
    /// Reads the three headers through `get` (a header-map lookup by lowercase name).
    pub fn from_lookup(mut get: impl FnMut(&str) -> Option<&'a str>) -> Self {
        StandardHeaders {
            id: get(WEBHOOK_ID_HEADER),
            timestamp: get(WEBHOOK_TIMESTAMP_HEADER),
            signature: get(WEBHOOK_SIGNATURE_HEADER),
        }
    }
}

/// Checks Standard Webhooks headers against `body`.
///
/// The timestamp must lie within `tolerance_secs` of `now` (unix seconds) either way. The
/// signature header may list several space-separated signatures (key rotation): one
/// matching `v1` entry passes; entries of other versions are ignored.
pub fn verify_standard(
    key: &Secret,
    headers: &StandardHeaders<'_>,
    body: &[u8],
    now: i64,
    tolerance_secs: u64,
) -> Result<(), VerifyError> {
    let id = headers
        .id
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .ok_or(VerifyError::Missing {
            header: WEBHOOK_ID_HEADER,
        })?;
    let timestamp_text = headers.timestamp.ok_or(VerifyError::Missing {
        header: WEBHOOK_TIMESTAMP_HEADER,
    })?;
    let signatures = headers.signature.ok_or(VerifyError::Missing {
        header: WEBHOOK_SIGNATURE_HEADER,
    })?;

    let timestamp_text = timestamp_text.trim();
    if timestamp_text.is_empty() || !timestamp_text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::Malformed {
            header: WEBHOOK_TIMESTAMP_HEADER,
            reason: "expected unix seconds",
        });
    }
    let timestamp: i64 = timestamp_text.parse().map_err(|_| VerifyError::Malformed {
        header: WEBHOOK_TIMESTAMP_HEADER,
        reason: "timestamp out of range",
    })?;
    let skew = i128::from(now) - i128::from(timestamp);
    let tolerance = i128::from(tolerance_secs);
    let clamp = |secs: i128| u64::try_from(secs).unwrap_or(u64::MAX);
    if skew > tolerance {
        return Err(VerifyError::TooOld {
            age_secs: clamp(skew),
        });
    }
    if -skew > tolerance {
        return Err(VerifyError::TooNew {
            ahead_secs: clamp(-skew),
        });
    }

    let expected = standard_mac(key, id, timestamp, body);
    let mut saw_v1 = false;
    let mut matched = subtle::Choice::from(0);
    for entry in signatures.split_whitespace() {
        let Some((version, encoded)) = entry.split_once(',') else {
            continue;
        };
        if version != STANDARD_VERSION {
            continue;
        }
        saw_v1 = true;
        if let Ok(given) = BASE64.decode(encoded) {
            matched |= expected.as_slice().ct_eq(&given);
        }
    }
    if !saw_v1 {
        return Err(VerifyError::Malformed {
            header: WEBHOOK_SIGNATURE_HEADER,
            reason: "no `v1,<base64>` signature",
        });
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// HMAC key bytes for Standard Webhooks signatures (see the module docs).
fn standard_key_bytes(key: &Secret) -> Cow<'_, [u8]> {
    let text = key.expose();
    text.strip_prefix(STANDARD_KEY_PREFIX)
        .and_then(|encoded| BASE64.decode(encoded).ok())
        .map_or(Cow::Borrowed(text.as_bytes()), Cow::Owned)
}

fn standard_mac(key: &Secret, msg_id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
    let timestamp = timestamp.to_string();
    hmac_sha256(
        &standard_key_bytes(key),
        &[msg_id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
    )
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes keys of any length (long keys are hashed), so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests;

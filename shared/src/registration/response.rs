//! The Cloud Elements compatible instance bodies.
//!
//! The stored configuration is already masked (`********` for every secret), so a body
//! built from a record can never carry a secret. The two values shown in clear — the
//! instance token and a generated signature key — are added only to the `POST` response.

use crate::config::{ELEMENT_KEY, keys};
use crate::ports::InstanceRecord;
use crate::secret::Secret;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

fn date(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The fields every instance body has.
pub fn instance_summary(record: &InstanceRecord) -> Value {
    json!({
        "id": record.id,
        "name": record.name,
        "tags": record.tags,
        "element": { "key": ELEMENT_KEY },
        "configuration": record.configuration,
        "eventsEnabled": record.events_enabled,
        "valid": record.valid,
        "disabled": record.disabled,
        "createdDate": date(&record.created_at),
        "updatedDate": date(&record.updated_at),
    })
}

/// `GET /instances/{id}`: the summary plus what the poller and delivery recorded.
pub fn instance_detail(record: &InstanceRecord) -> Value {
    let mut body = instance_summary(record);
    body["invalidReason"] = json!(record.invalid_reason);
    body["pollStatus"] = serde_json::to_value(&record.poll).unwrap_or(Value::Null);
    body["deliveryStatus"] = serde_json::to_value(&record.delivery).unwrap_or(Value::Null);
    body
}

/// `POST /instances`: the summary, the instance token, and — when this service generated
/// it — the callback signature key in clear. Neither is ever shown again.
pub fn instance_created(
    record: &InstanceRecord,
    token: &Secret,
    generated_signature_key: Option<&Secret>,
) -> Value {
    let mut body = instance_summary(record);
    body["token"] = json!(token.expose());
    if let Some(key) = generated_signature_key
        && let Some(configuration) = body["configuration"].as_object_mut()
    {
        configuration.insert(keys::EVENTS_SIGNATURE_KEY.into(), json!(key.expose()));
    }
    body
}

//! A registered instance without going through registration: a record and its secret
//! document, for the delivery suites (which need nothing from Sage).

use chrono::Utc;
use sage_events_core::instance_secrets::InstanceSecrets;
use sage_events_core::ports::{InstanceRecord, InstanceStore, SecretStore};
use sage_events_core::sage::{AppCredentials, TokenSet};
use sage_events_core::secret::Secret;

/// Create an instance whose callbacks go to `callback`, signed with `key(id)`; its id.
pub async fn instance_with_callback(
    instances: &dyn InstanceStore,
    secrets: &dyn SecretStore,
    callback: &str,
    key: impl FnOnce(u64) -> Secret,
) -> u64 {
    let id = instances.next_id().await.expect("next id");
    let now = Utc::now();
    let configuration = serde_json::json!({ "event.notification.callback.url": callback });
    let record = InstanceRecord::new(id, "org", format!("instance {id}"), configuration, now);
    instances.create(&record).await.expect("create instance");
    // Delivery never calls Sage: the tokens only have to be well-formed.
    let tokens = TokenSet {
        access_token: Secret::new("unused-access-token"),
        access_expires_at: now,
        refresh_token: Secret::new("unused-refresh-token"),
        refresh_expires_at: now,
        scope: None,
        requested_by_id: None,
    };
    let credentials = AppCredentials {
        client_id: "client".into(),
        client_secret: Secret::new("client-secret"),
        redirect_uri: "https://app.example/callback".into(),
    };
    let document = InstanceSecrets::new(&credentials, tokens, key(id));
    secrets
        .create(id, &document.to_json())
        .await
        .expect("create secret");
    id
}

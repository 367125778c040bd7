//! The secret document stored per instance, and the token store the Sage client uses.

use crate::ports::{PortError, SecretStore};
use crate::sage::{AppCredentials, TokenSet, TokenStore, TokenStoreError};
use crate::secret::{Secret, exposed};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Everything secret about one instance, stored as one JSON document in the secret store.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceSecrets {
    pub client_id: String,
    #[serde(with = "exposed")]
    pub client_secret: Secret,
    /// The OAuth redirect URI, byte-exact as registered (Sage compares it on exchange).
    pub redirect_uri: String,
    pub tokens: TokenSet,
    /// `event.notification.signature.key`: signs every callback.
    #[serde(with = "exposed")]
    pub signature_key: Secret,
    /// Old v3 API leftovers, kept because the customer gave them to us.
    #[serde(default, with = "optional_exposed")]
    pub signature_secret: Option<Secret>,
    #[serde(default, with = "optional_exposed")]
    pub apim_subscription_key: Option<Secret>,
}

impl InstanceSecrets {
    /// The document of a newly authorized instance.
    pub fn new(credentials: &AppCredentials, tokens: TokenSet, signature_key: Secret) -> Self {
        InstanceSecrets {
            client_id: credentials.client_id.clone(),
            client_secret: credentials.client_secret.clone(),
            redirect_uri: credentials.redirect_uri.clone(),
            tokens,
            signature_key,
            signature_secret: None,
            apim_subscription_key: None,
        }
    }

    /// The app credentials Sage knows this instance's tokens by.
    pub fn credentials(&self) -> AppCredentials {
        AppCredentials {
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            redirect_uri: self.redirect_uri.clone(),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("instance secrets serialize")
    }

    pub fn from_json(text: &str) -> Result<Self, PortError> {
        // The serde error may quote the input; don't let it reach a log line.
        serde_json::from_str(text).map_err(|e| {
            PortError::corrupt(format!(
                "instance secret document unreadable at line {} column {}",
                e.line(),
                e.column()
            ))
        })
    }
}

mod optional_exposed {
    use crate::secret::Secret;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(secret) => s.serialize_some(secret.expose()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.map(Secret::new))
    }
}

fn token_store_error(e: PortError) -> TokenStoreError {
    use crate::ports::PortErrorKind;
    match e.kind {
        PortErrorKind::NotFound => TokenStoreError::NotFound,
        PortErrorKind::Corrupt => TokenStoreError::Corrupt(e.message),
        _ => TokenStoreError::Unavailable(e.message),
    }
}

/// Loads and saves an instance's Sage tokens in its secret document.
///
/// `save_tokens` returns only after the secret store confirmed the write, so a rotated
/// refresh token is durable before the new access token is used.
pub struct SecretTokenStore {
    secrets: Arc<dyn SecretStore>,
    instance: u64,
}

impl SecretTokenStore {
    pub fn new(secrets: Arc<dyn SecretStore>, instance: u64) -> Self {
        SecretTokenStore { secrets, instance }
    }

    async fn load_document(&self) -> Result<InstanceSecrets, TokenStoreError> {
        let text = self
            .secrets
            .get(self.instance)
            .await
            .map_err(token_store_error)?
            .ok_or(TokenStoreError::NotFound)?;
        InstanceSecrets::from_json(&text).map_err(token_store_error)
    }
}

#[async_trait]
impl TokenStore for SecretTokenStore {
    async fn load_tokens(&self) -> Result<TokenSet, TokenStoreError> {
        Ok(self.load_document().await?.tokens)
    }

    async fn save_tokens(&self, tokens: &TokenSet) -> Result<(), TokenStoreError> {
        let mut document = self.load_document().await?;
        document.tokens = tokens.clone();
        self.secrets
            .put(self.instance, &document.to_json())
            .await
            .map_err(token_store_error)
    }
}

//! API calls on behalf of one instance: a valid access token for every request, refreshed
//! when due and persisted before use, one refresh-and-retry on 401.

use super::client::{RawResponse, RequestLabel, SageClient};
use super::error::{SageError, parse_api_error};
use super::oauth::{AppCredentials, TokenSet};
use super::retry::CallBudget;
use super::token_store::TokenStore;
use crate::secret::Secret;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderValue};
use std::sync::Arc;
use url::Url;

/// The header choosing a business other than the user's lead business.
pub const BUSINESS_HEADER: &str = "X-Business";

/// One instance's view of Sage. Cheap to clone; clones share the token cache and the
/// refresh lock, so one session never runs two refreshes at once (a second concurrent
/// refresh would present an already-rotated refresh token and lock the instance out).
#[derive(Clone)]
pub struct SageSession {
    inner: Arc<SessionInner>,
}

struct SessionInner {
    client: SageClient,
    creds: AppCredentials,
    store: Arc<dyn TokenStore>,
    business_id: Option<String>,
    /// The last tokens known good; the lock also serialises refreshes.
    tokens: tokio::sync::Mutex<Option<TokenSet>>,
}

impl std::fmt::Debug for SageSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SageSession")
            .field("client_id", &self.inner.creds.client_id)
            .field("business_id", &self.inner.business_id)
            .finish_non_exhaustive()
    }
}

impl SageClient {
    /// A session for one instance, with its app credentials, its token store and the
    /// business to address (`None` = the user's lead business).
    pub fn session(
        &self,
        creds: AppCredentials,
        store: Arc<dyn TokenStore>,
        business_id: Option<String>,
    ) -> SageSession {
        SageSession {
            inner: Arc::new(SessionInner {
                client: self.clone(),
                creds,
                store,
                business_id,
                tokens: tokio::sync::Mutex::new(None),
            }),
        }
    }
}

impl SageSession {
    pub fn client(&self) -> &SageClient {
        &self.inner.client
    }

    pub fn business_id(&self) -> Option<&str> {
        self.inner.business_id.as_deref()
    }

    /// An access token valid for at least another minute. Loads the tokens from the store
    /// the first time; refreshes when less than a minute is left, saving the new tokens
    /// (and waiting for the save) before returning the new access token.
    pub async fn access_token(&self) -> Result<Secret, SageError> {
        let budget = self.inner.client.start_budget();
        self.valid_access_token(&budget).await
    }

    /// GET `path` (such as `/contacts/abc`) with `query`; the JSON answer.
    pub async fn get_json(
        &self,
        path: &str,
        query: &[(String, String)],
    ) -> Result<serde_json::Value, SageError> {
        let url = self.inner.client.api_url(path, query)?;
        let budget = self.inner.client.start_budget();
        self.get_url(&budget, &url).await
    }

    /// One logical GET: token, request with retries, one refresh-and-retry on 401.
    pub(crate) async fn get_url(
        &self,
        budget: &CallBudget,
        url: &Url,
    ) -> Result<serde_json::Value, SageError> {
        let token = self.valid_access_token(budget).await?;
        let mut raw = self.send_get(budget, url, &token).await?;
        if raw.status == StatusCode::UNAUTHORIZED {
            tracing::info!(
                path = url.path(),
                "sage refused the access token; refreshing once"
            );
            let token = self.replace_rejected_token(budget, &token).await?;
            raw = self.send_get(budget, url, &token).await?;
            if raw.status == StatusCode::UNAUTHORIZED {
                let (_, message) = parse_api_error(401, &raw.body);
                return Err(SageError::Unauthorized { message });
            }
        }
        if !raw.status.is_success() {
            let (data_code, message) = parse_api_error(raw.status.as_u16(), &raw.body);
            return Err(SageError::Api {
                status: raw.status.as_u16(),
                data_code,
                message,
            });
        }
        serde_json::from_slice(&raw.body).map_err(|e| SageError::InvalidResponse {
            context: format!("GET {}", url.path()),
            message: format!("the answer is not JSON ({e})"),
        })
    }

    async fn send_get(
        &self,
        budget: &CallBudget,
        url: &Url,
        token: &Secret,
    ) -> Result<RawResponse, SageError> {
        let business = match &self.inner.business_id {
            Some(id) => Some(HeaderValue::from_str(id).map_err(|_| {
                SageError::InvalidRequest(format!("business id {id:?} cannot be sent as a header"))
            })?),
            None => None,
        };
        let client = &self.inner.client;
        let build = || {
            let mut request = client
                .http
                .get(url.clone())
                .bearer_auth(token.expose())
                .header(ACCEPT, "application/json");
            if let Some(business) = &business {
                request = request.header(BUSINESS_HEADER, business.clone());
            }
            request
        };
        let label = RequestLabel {
            method: "GET",
            path: url.path(),
        };
        client.execute(budget, label, &build).await
    }

    async fn valid_access_token(&self, budget: &CallBudget) -> Result<Secret, SageError> {
        let mut cached = self.inner.tokens.lock().await;
        let now = self.inner.client.clock.now();
        if let Some(tokens) = cached.as_ref()
            && !tokens.needs_refresh(now)
        {
            return Ok(tokens.access_token.clone());
        }
        // Load (again): another process holding this instance may have refreshed already,
        // and only the stored refresh token is still valid then.
        let stored = self
            .inner
            .store
            .load_tokens()
            .await
            .map_err(SageError::TokenStore)?;
        let tokens = if stored.needs_refresh(now) {
            self.refresh_and_persist(budget, &stored).await?
        } else {
            stored
        };
        let access = tokens.access_token.clone();
        *cached = Some(tokens);
        Ok(access)
    }

    /// After a 401 for `rejected`: a newer token if one exists, else a refresh.
    async fn replace_rejected_token(
        &self,
        budget: &CallBudget,
        rejected: &Secret,
    ) -> Result<Secret, SageError> {
        let mut cached = self.inner.tokens.lock().await;
        let now = self.inner.client.clock.now();
        if let Some(tokens) = cached.as_ref()
            && tokens.access_token != *rejected
            && !tokens.needs_refresh(now)
        {
            // A concurrent call of this session refreshed meanwhile.
            return Ok(tokens.access_token.clone());
        }
        let stored = self
            .inner
            .store
            .load_tokens()
            .await
            .map_err(SageError::TokenStore)?;
        let tokens = if stored.access_token != *rejected && !stored.needs_refresh(now) {
            stored
        } else {
            self.refresh_and_persist(budget, &stored).await?
        };
        let access = tokens.access_token.clone();
        *cached = Some(tokens);
        Ok(access)
    }

    /// Refreshes and saves; the new tokens are returned only once the store has them.
    async fn refresh_and_persist(
        &self,
        budget: &CallBudget,
        current: &TokenSet,
    ) -> Result<TokenSet, SageError> {
        let now = self.inner.client.clock.now();
        if current.refresh_expired(now) {
            return Err(SageError::ReauthorizationNeeded {
                reason: format!(
                    "the refresh token expired at {}",
                    current.refresh_expires_at.to_rfc3339()
                ),
            });
        }
        let fresh = self
            .inner
            .client
            .refresh_within(budget, &self.inner.creds, &current.refresh_token)
            .await?;
        if let Err(source) = self.inner.store.save_tokens(&fresh).await {
            tracing::error!(error = %source, "refreshed sage tokens could not be saved; not using them");
            return Err(SageError::TokenSaveFailed { source });
        }
        tracing::info!(
            access_expires_at = %fresh.access_expires_at,
            refresh_expires_at = %fresh.refresh_expires_at,
            "refreshed and saved sage tokens"
        );
        Ok(fresh)
    }
}

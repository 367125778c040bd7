//! The registration service: one `handle` for every request of the `/instances` API.

use super::auth::{
    self, AuthError, Authenticator, Caller, CredentialsSource, CredentialsUnavailable,
    FixedCredentials,
};
use super::http::{ApiError, ApiRequest, ApiResponse, MAX_BODY_BYTES};
use super::response;
use super::routes::{self, Route};
use crate::clock::Clock;
use crate::ports::{
    InstanceRecord, InstanceStore, LeaseStore, PollScheduler, PollTrigger, PortError, SecretStore,
    WatermarkStore,
};
use crate::sage::SageClient;
use crate::settings::Settings;
use std::sync::Arc;

/// Everything the API works with.
#[derive(Clone)]
pub struct RegistrationDeps {
    pub instances: Arc<dyn InstanceStore>,
    pub watermarks: Arc<dyn WatermarkStore>,
    pub leases: Arc<dyn LeaseStore>,
    pub secrets: Arc<dyn SecretStore>,
    pub scheduler: Arc<dyn PollScheduler>,
    pub poll_trigger: Arc<dyn PollTrigger>,
    pub sage: SageClient,
    pub clock: Arc<dyn Clock>,
}

/// The `/instances` API, transport-free.
#[derive(Clone)]
pub struct RegistrationService {
    pub(crate) deps: RegistrationDeps,
    pub(crate) auth: Arc<dyn CredentialsSource>,
    pub(crate) settings: Settings,
}

impl std::fmt::Debug for RegistrationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrationService")
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl RegistrationService {
    pub fn new(deps: RegistrationDeps, auth: Authenticator, settings: Settings) -> Self {
        Self::with_credentials(deps, Arc::new(FixedCredentials(Arc::new(auth))), settings)
    }

    /// Like [`RegistrationService::new`], with credentials read per request from
    /// `credentials` (which may cache them; see [`CredentialsSource`]).
    pub fn with_credentials(
        deps: RegistrationDeps,
        credentials: Arc<dyn CredentialsSource>,
        settings: Settings,
    ) -> Self {
        RegistrationService {
            deps,
            auth: credentials,
            settings,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Answer one request. Never panics on input; every failure is an [`ApiError`] body.
    pub async fn handle(&self, request: ApiRequest) -> ApiResponse {
        match self.dispatch(&request).await {
            Ok(response) => response,
            Err(error) => {
                if error.status >= 500 {
                    tracing::warn!(status = error.status, message = %error.message, "request failed");
                }
                error.into_response()
            }
        }
    }

    async fn dispatch(&self, request: &ApiRequest) -> Result<ApiResponse, ApiError> {
        let route = routes::route(&request.method, &request.path)?;
        let caller = self
            .auth
            .current()
            .await
            .map_err(credentials_error)?
            .authenticate(request.authorization.as_deref())
            .map_err(auth_error)?;
        if matches!(
            route,
            Route::CreateInstance | Route::PatchInstance(_) | Route::ReauthorizeInstance(_)
        ) && request.body.len() > MAX_BODY_BYTES
        {
            return Err(ApiError::new(
                413,
                format!("request body larger than {MAX_BODY_BYTES} bytes"),
            ));
        }
        match route {
            Route::CreateInstance => {
                let organization = organization_only(&caller)?;
                self.create_instance(organization, &request.body).await
            }
            Route::ListInstances => {
                let organization = organization_only(&caller)?;
                self.list_instances(organization, request).await
            }
            Route::GetInstance(id) => {
                let record = self.authorized_record(&caller, id).await?;
                Ok(ApiResponse::json(200, response::instance_detail(&record)))
            }
            Route::PatchInstance(id) => {
                let record = self.authorized_record(&caller, id).await?;
                self.patch_instance(record, &request.body).await
            }
            Route::DeleteInstance(id) => {
                let record = self.authorized_record(&caller, id).await?;
                self.delete_instance(record).await
            }
            Route::EnableInstance(id) => {
                let record = self.authorized_record(&caller, id).await?;
                self.set_disabled(record, false).await
            }
            Route::DisableInstance(id) => {
                let record = self.authorized_record(&caller, id).await?;
                self.set_disabled(record, true).await
            }
            Route::PollInstance(id) => {
                let record = self.authorized_record(&caller, id).await?;
                self.poll_now(record).await
            }
            Route::ReauthorizeInstance(id) => {
                let record = self.authorized_record(&caller, id).await?;
                self.reauthorize_instance(record, &request.body).await
            }
        }
    }

    /// The instance `id` if the caller may see it. Another organization's instance is a
    /// 404 (its existence is not revealed); an instance token that does not belong to the
    /// instance is a 401, whether the instance exists or not.
    pub(crate) async fn authorized_record(
        &self,
        caller: &Caller,
        id: u64,
    ) -> Result<InstanceRecord, ApiError> {
        let record = self
            .deps
            .instances
            .get(id)
            .await
            .map_err(|e| storage_error("reading the instance", &e))?;
        match caller {
            Caller::Organization(organization) => record
                .filter(|r| &r.organization == organization)
                .ok_or_else(ApiError::not_found),
            Caller::InstanceToken(token) => record
                .filter(|r| auth::token_matches(token, &r.token_hash))
                .ok_or_else(|| ApiError::unauthorized("invalid credentials")),
        }
    }
}

fn organization_only(caller: &Caller) -> Result<&str, ApiError> {
    match caller {
        Caller::Organization(organization) => Ok(organization),
        Caller::InstanceToken(_) => Err(ApiError::unauthorized(
            "an instance token only gives access to its own instance; \
             send `User <secret>, Organization <secret>`",
        )),
    }
}

fn credentials_error(error: CredentialsUnavailable) -> ApiError {
    tracing::warn!(error = %error, "cannot check credentials");
    ApiError::new(
        503,
        "credentials cannot be checked right now; try again later",
    )
}

fn auth_error(error: AuthError) -> ApiError {
    ApiError::unauthorized(error.to_string())
}

/// A storage failure as the API reports it: 503 when the store said it is unavailable,
/// 502 otherwise; the port's own message is logged, not returned.
pub(crate) fn storage_error(doing: &str, error: &PortError) -> ApiError {
    tracing::warn!(error = %error, "{doing} failed");
    let status = if error.kind == crate::ports::PortErrorKind::Unavailable {
        503
    } else {
        502
    };
    ApiError::new(status, format!("{doing} failed; try again later"))
}

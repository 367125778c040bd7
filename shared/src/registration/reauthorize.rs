//! `POST /instances/{id}/reauthorize`: give an existing instance a new Sage grant.
//!
//! When Sage refuses an instance's refresh token (revoked, expired after 31 idle days,
//! consent withdrawn) the poller marks the instance invalid and stops polling it, but
//! keeps its watermarks. Cloud Elements re-authenticated such an instance *in place*; this
//! is that operation: exchange a new grant code with the app credentials and redirect URI
//! already stored for the instance, store the tokens, mark the instance valid. The
//! watermarks are left exactly where the last successful poll put them, so the next poll
//! reads everything that changed while the instance was invalid — deleting and
//! re-registering instead would start from "now" and lose that gap.
//!
//! Why a separate `POST` route rather than `providerData.code` in `PATCH`: PATCH is a
//! merge of stored settings that touches nothing outside our stores and can be retried
//! blindly; re-authorization spends a single-use code at Sage, revokes the old grant and
//! fails in ways PATCH does not (422 for a refused code, 502 when Sage is unreachable).
//! Keeping it apart keeps PATCH's contract (and the `InstancePatch` schema) unchanged and
//! makes the side effect explicit in the API.
//!
//! Order, and why:
//! 1. Exchange the code first: it dies 60 s after consent, and a refused code must change
//!    nothing.
//! 2. Under the instance's lease (a poll of a still-valid instance rotates tokens in the
//!    same secret document), replace the tokens in the secret document. The secret store
//!    confirms the write before anything can use the new tokens. If it fails, the new
//!    grant is revoked and the instance is left as it was (unless the write landed after
//!    all — see `store_new_tokens`).
//! 3. Mark the instance valid (clears `invalidReason`): from here the poller uses the new
//!    tokens.
//! 4. Revoke the old refresh token, best effort (it is usually dead already).

use super::create::exchange_error;
use super::http::{ApiError, ApiResponse};
use super::response;
use super::service::{RegistrationService, storage_error};
use crate::instance_secrets::InstanceSecrets;
use crate::ports::InstanceRecord;
use crate::sage::{AppCredentials, TokenSet};
use crate::secret::Secret;
use serde_json::Value;

/// The field the grant code is reported under (as in `POST /instances`).
const CODE_FIELD: &str = "providerData.code";

impl RegistrationService {
    pub(crate) async fn reauthorize_instance(
        &self,
        mut record: InstanceRecord,
        body: &[u8],
    ) -> Result<ApiResponse, ApiError> {
        let code = parse_reauthorization(body)?;
        let id = record.id;
        let credentials = self.read_secrets(id).await?.credentials();
        let tokens = self
            .deps
            .sage
            .exchange_code(&credentials, &code)
            .await
            .map_err(exchange_error)?;

        let old_tokens = self.store_new_tokens(id, &credentials, &tokens).await?;

        self.deps
            .instances
            .set_validity(id, true, None)
            .await
            .map_err(|e| storage_error("marking the instance valid", &e))?;
        record.valid = true;
        record.invalid_reason = None;

        if old_tokens.refresh_token != tokens.refresh_token {
            self.revoke(&credentials, &old_tokens).await;
        }
        tracing::info!(
            instance = id,
            "instance re-authorized; polling resumes from its watermarks"
        );
        Ok(ApiResponse::json(200, response::instance_detail(&record)))
    }

    /// The instance's secret document. Missing or unreadable is a server-side problem.
    async fn read_secrets(&self, id: u64) -> Result<InstanceSecrets, ApiError> {
        let text = self
            .deps
            .secrets
            .get(id)
            .await
            .map_err(|e| storage_error("reading the instance secrets", &e))?
            .ok_or_else(|| ApiError::new(502, "the instance's secrets are missing"))?;
        InstanceSecrets::from_json(&text)
            .map_err(|e| storage_error("reading the instance secrets", &e))
    }

    /// Put `tokens` into the secret document under the instance's lease; returns the
    /// tokens they replaced (read under the lease, so a rotation by a poll that just
    /// finished is the one replaced).
    ///
    /// A failed write is checked by reading the document again: if the new tokens are in
    /// it after all, the write landed and re-authorization goes on; if the old ones are,
    /// the new grant is revoked (nothing refers to it) and the instance is left as it was.
    /// If even that read fails, the new grant is *not* revoked — it may be the one stored,
    /// and revoking it would break the instance; an unused grant merely expires.
    async fn store_new_tokens(
        &self,
        id: u64,
        credentials: &AppCredentials,
        tokens: &TokenSet,
    ) -> Result<TokenSet, ApiError> {
        let owner = match self
            .acquire_secret_lease(id, "re-authorize again shortly with a new code")
            .await
        {
            Ok(owner) => owner,
            Err(error) => {
                self.revoke(credentials, tokens).await;
                return Err(error);
            }
        };
        let result = self.replace_tokens(id, credentials, tokens).await;
        if let Err(e) = self.deps.leases.release(id, &owner).await {
            tracing::warn!(instance = id, error = %e, "releasing the instance lease failed");
        }
        result
    }

    async fn replace_tokens(
        &self,
        id: u64,
        credentials: &AppCredentials,
        tokens: &TokenSet,
    ) -> Result<TokenSet, ApiError> {
        let mut document = match self.read_secrets(id).await {
            Ok(document) => document,
            Err(error) => {
                self.revoke(credentials, tokens).await;
                return Err(error);
            }
        };
        let old = std::mem::replace(&mut document.tokens, tokens.clone());
        let Err(write_error) = self.deps.secrets.put(id, &document.to_json()).await else {
            return Ok(old);
        };
        match self.read_secrets(id).await {
            Ok(now) if now.tokens.refresh_token == tokens.refresh_token => {
                tracing::warn!(instance = id, error = %write_error, "token write reported a failure but landed");
                Ok(old)
            }
            Ok(_) => {
                self.revoke(credentials, tokens).await;
                Err(storage_error("storing the new tokens", &write_error))
            }
            Err(_) => {
                tracing::error!(
                    instance = id,
                    "token write unconfirmed and the secrets unreadable; the new grant is kept"
                );
                Err(storage_error("storing the new tokens", &write_error))
            }
        }
    }
}

/// Read `{"providerData": {"code": "…"}}`. Other members of `providerData` are ignored
/// (Cloud Elements clients send their own); any other top-level member is refused, so a
/// caller cannot believe a configuration change was applied here.
fn parse_reauthorization(body: &[u8]) -> Result<Secret, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::bad_request("the body is not a JSON object"))?;
    let Value::Object(members) = value else {
        return Err(ApiError::bad_request("the body is not a JSON object"));
    };
    if let Some(other) = members.keys().find(|k| k.as_str() != "providerData") {
        return Err(ApiError::field(
            400,
            // Quoted like every other field path (`""` for an empty member name).
            crate::config::child_field("", other),
            "cannot be changed by re-authorization; only providerData.code is accepted \
             (use PATCH /instances/{id} for settings)",
        ));
    }
    match members
        .get("providerData")
        .and_then(|p| p.get("code"))
        .and_then(Value::as_str)
        .map(str::trim)
    {
        Some(code) if !code.is_empty() => Ok(Secret::new(code)),
        _ => Err(ApiError::field(
            400,
            CODE_FIELD,
            "is required: the grant code of a new Sage authorization",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_carries_only_a_code() {
        let code = parse_reauthorization(br#"{"providerData":{"code":"abc","state":"x"}}"#)
            .expect("accepted");
        assert_eq!(code.expose(), "abc");
        for (body, field) in [
            (&br#"{"providerData":{"code":""}}"#[..], Some(CODE_FIELD)),
            (br#"{"providerData":{}}"#, Some(CODE_FIELD)),
            (br#"{"providerData":{"code":7}}"#, Some(CODE_FIELD)),
            (br#"{}"#, Some(CODE_FIELD)),
            (
                br#"{"providerData":{"code":"abc"},"name":"x"}"#,
                Some("name"),
            ),
            (br#"{"":null,"providerData":{"code":"abc"}}"#, Some("\"\"")),
            (
                br#"{"a.b":1,"providerData":{"code":"abc"}}"#,
                Some("\"a.b\""),
            ),
            (br#"[1]"#, None),
            (b"not json", None),
        ] {
            let error = parse_reauthorization(body).expect_err("refused");
            assert_eq!(error.status, 400);
            assert_eq!(
                error.field.as_deref(),
                field,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}

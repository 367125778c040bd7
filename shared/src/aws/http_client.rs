//! The HTTPS client every AWS SDK client here uses, built for a fast cold start.
//!
//! The SDK's default client (hyper 1 + rustls on aws-lc) loads the *system* CA store with
//! `rustls-native-certs` — the bundle plus every file under `/etc/ssl/certs` — and it does
//! so eagerly: each SDK client's construction "validates" its HTTP client by building a
//! connector, which parses every root again. In a Lambda that is file I/O and certificate
//! parsing before the first `next`, about a third of the poller's init (issue #13).
//!
//! This client differs in three ways, and in nothing else (same hyper stack, same
//! restricted cipher suites, same per-settings connector cache):
//!
//! - **ring, not aws-lc.** rustls' crypto comes from `ring`, which `reqwest` (the Sage
//!   and callback clients) already uses: one crypto library per binary instead of two,
//!   about 2 MiB less, no aws-lc C build, no aws-lc CPU probing at process start.
//! - **Compiled-in roots.** The trust store is Mozilla's root program as shipped by
//!   `webpki-root-certs` — the same roots `reqwest` (the Sage and callback clients) uses —
//!   so no file is read, and behaviour does not depend on the image's CA bundle. AWS
//!   endpoints chain to Amazon Trust Services roots, which are in that program.
//! - **Built on first use.** Nothing is built when an SDK client is constructed; the trust
//!   store and the first connector are built when the first request needs them, i.e.
//!   during the first invocation that calls AWS, never during init.
//!
//! No HTTP proxy is configured (Lambda functions reach AWS directly or through VPC
//! endpoints); plain `http://` endpoints (moto in the tests, `AWS_ENDPOINT_URL`) work as
//! before.

use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;
use base64::Engine as _;
use std::sync::{Arc, OnceLock};

/// The SDK HTTPS client: compiled-in roots, built on first use. Cheap to construct and
/// to clone (clones share the connectors).
#[derive(Debug, Clone, Default)]
pub struct LazyHttpsClient {
    inner: Arc<OnceLock<SharedHttpClient>>,
}

impl LazyHttpsClient {
    pub fn new() -> LazyHttpsClient {
        LazyHttpsClient::default()
    }

    /// Whether the underlying client (trust store, connectors) has been built yet.
    pub fn is_built(&self) -> bool {
        self.inner.get().is_some()
    }

    fn client(&self) -> &SharedHttpClient {
        self.inner.get_or_init(build)
    }
}

impl HttpClient for LazyHttpsClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.client().http_connector(settings, components)
    }

    /// Deliberately does not forward to the inner client: its only work there is to build
    /// a connector early ("so that native certs load at client initialization time"),
    /// which is exactly what must not happen during a Lambda's init.
    fn validate_base_client_config(
        &self,
        _runtime_components: &RuntimeComponentsBuilder,
        _cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        Ok(())
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.client().connector_metadata()
    }
}

fn build() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls_context())
        .build_https()
}

fn tls_context() -> TlsContext {
    let mut roots = TrustStore::empty().with_native_roots(false);
    for pem in root_certificates_pem() {
        roots.add_pem_certificate(pem);
    }
    TlsContext::builder()
        .with_trust_store(roots)
        .build()
        // Building a context only stores what it is given; it has no failing case today.
        .unwrap_or_default()
}

/// Mozilla's root certificates (`webpki-root-certs`), one PEM document each: the SDK's
/// trust store only takes PEM.
pub(crate) fn root_certificates_pem() -> impl Iterator<Item = Vec<u8>> {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().map(|der| {
        let body = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let mut pem = String::with_capacity(body.len() + body.len() / 64 + 64);
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in body.as_bytes().chunks(64) {
            // base64 output is ASCII, so every chunk is valid UTF-8.
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
        pem.into_bytes()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_config::{BehaviorVersion, Region, retry::RetryConfig};
    use aws_sdk_dynamodb::config::Credentials;
    use std::time::Duration;

    async fn config(http: &LazyHttpsClient, endpoint: &str) -> aws_config::SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .http_client(http.clone())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .endpoint_url(endpoint)
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(5))
                    .build(),
            )
            .load()
            .await
    }

    /// A loopback port nothing listens on (bound, then released).
    fn closed_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(9)
    }

    #[tokio::test]
    async fn building_sdk_clients_builds_no_connector() {
        let http = LazyHttpsClient::new();
        let config = config(&http, "https://127.0.0.1:9").await;
        let _dynamo = aws_sdk_dynamodb::Client::new(&config);
        let _sqs = aws_sdk_sqs::Client::new(&config);
        let _secrets = aws_sdk_secretsmanager::Client::new(&config);
        let _scheduler = aws_sdk_scheduler::Client::new(&config);
        let _lambda = aws_sdk_lambda::Client::new(&config);
        assert!(
            !http.is_built(),
            "constructing SDK clients must not build the TLS client (init must stay cheap)"
        );
    }

    #[tokio::test]
    async fn the_first_https_request_builds_the_client_with_the_compiled_in_roots() {
        let http = LazyHttpsClient::new();
        let endpoint = format!("https://127.0.0.1:{}", closed_port());
        let config = config(&http, &endpoint).await;
        let dynamo = aws_sdk_dynamodb::Client::new(&config);
        // Nothing listens there: the request fails to connect, but only after the TLS
        // connector (and its trust store from every compiled-in root) has been built.
        let result = dynamo.list_tables().send().await;
        assert!(result.is_err(), "nothing listens on {endpoint}");
        assert!(http.is_built());
    }

    #[tokio::test]
    async fn clones_share_one_client() {
        let http = LazyHttpsClient::new();
        let clone = http.clone();
        let config = config(&clone, &format!("http://127.0.0.1:{}", closed_port())).await;
        let _ = aws_sdk_sqs::Client::new(&config).list_queues().send().await;
        assert!(http.is_built());
    }

    #[test]
    fn every_compiled_in_root_is_one_pem_document_of_its_der() {
        let pems: Vec<Vec<u8>> = root_certificates_pem().collect();
        assert_eq!(pems.len(), webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
        assert!(pems.len() > 100, "Mozilla's program has ~150 roots");
        for (pem, der) in pems.iter().zip(webpki_root_certs::TLS_SERVER_ROOT_CERTS) {
            let text = String::from_utf8(pem.clone()).expect("PEM is ASCII");
            let mut lines = text.lines();
            assert_eq!(lines.next(), Some("-----BEGIN CERTIFICATE-----"));
            let body: Vec<&str> = lines.take_while(|l| !l.starts_with("-----END")).collect();
            assert!(body.iter().all(|l| l.len() <= 64));
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(body.concat())
                .expect("valid base64");
            assert_eq!(decoded, der.as_ref());
            assert!(text.ends_with("-----END CERTIFICATE-----\n"));
        }
    }
}

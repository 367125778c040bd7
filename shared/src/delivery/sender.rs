//! POSTs one signed callback and says what the receiver answered.
//!
//! The HTTP client resolves names through [`VettingResolver`], which refuses a name if ANY
//! of its addresses is blocked and hands the connector only vetted addresses — so what was
//! checked is what is connected to (no DNS-rebinding window). IP-literal URLs never reach
//! a resolver, so they are checked here before sending. Redirects are never followed: a
//! 3xx could point anywhere, including inside our network.

use crate::ssrf::AddressPolicy;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// At most this much of a receiver's response body is read (for logs).
pub const MAX_LOGGED_BODY: usize = 16 * 1024;

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// 2xx.
    Delivered { status: u16 },
    /// 410 Gone: the receiver asks us to stop.
    Gone { status: u16 },
    /// Anything else: worth another try later.
    Failed(SendFailure),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    /// The HTTP status, when there was a response.
    pub status: Option<u16>,
    /// The receiver's `Retry-After`, if any (seconds or HTTP date).
    pub retry_after: Option<Duration>,
    /// Human-readable reason for logs and the instance's delivery status.
    pub reason: String,
    /// The first bytes of the response body, for logs.
    pub body_excerpt: String,
}

/// Name resolution as a port: the system resolver in production, a fixed table in
/// tests (to prove that a public-looking name resolving to a private address is refused).
pub trait HostLookup: Send + Sync + 'static {
    fn lookup(
        &self,
        host: &str,
    ) -> futures::future::BoxFuture<'static, std::io::Result<Vec<IpAddr>>>;
}

/// The operating system's resolver.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

impl HostLookup for SystemLookup {
    fn lookup(
        &self,
        host: &str,
    ) -> futures::future::BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        let host = host.to_owned();
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// A fixed name → addresses table.
#[derive(Debug, Clone, Default)]
pub struct StaticLookup(pub std::collections::HashMap<String, Vec<IpAddr>>);

impl HostLookup for StaticLookup {
    fn lookup(
        &self,
        host: &str,
    ) -> futures::future::BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        let found = self.0.get(host).cloned();
        let host = host.to_owned();
        Box::pin(async move {
            found.ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{host}: unknown name"),
                )
            })
        })
    }
}

/// Resolves callback hosts, refusing names that lead to blocked addresses.
pub struct VettingResolver {
    policy: AddressPolicy,
    lookup: Arc<dyn HostLookup>,
}

impl VettingResolver {
    pub fn new(policy: AddressPolicy, lookup: Arc<dyn HostLookup>) -> Self {
        VettingResolver { policy, lookup }
    }
}

impl Resolve for VettingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        let host = name.as_str().to_owned();
        let lookup = self.lookup.lookup(&host);
        Box::pin(async move {
            let ips = lookup
                .await
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> {
                    format!("cannot resolve {host}: {e}").into()
                })?;
            if ips.is_empty() {
                return Err(format!("{host} has no address").into());
            }
            for ip in &ips {
                if let Err(range) = policy.check(*ip) {
                    return Err(
                        format!("refused: {host} resolves to {ip} ({range} address)").into(),
                    );
                }
            }
            let vetted: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(vetted)
        })
    }
}

/// The callback HTTP client.
#[derive(Clone)]
pub struct CallbackSender {
    client: reqwest::Client,
    policy: AddressPolicy,
}

impl CallbackSender {
    pub fn new(policy: AddressPolicy, timeout: Duration) -> Result<Self, String> {
        Self::with_lookup(policy, timeout, Arc::new(SystemLookup))
    }

    /// Like [`CallbackSender::new`] with a chosen name resolution (tests).
    pub fn with_lookup(
        policy: AddressPolicy,
        timeout: Duration,
        lookup: Arc<dyn HostLookup>,
    ) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(VettingResolver::new(policy, lookup)))
            .user_agent(concat!("sage-events/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("callback client: {e}"))?;
        Ok(CallbackSender { client, policy })
    }

    /// POST `body` to `url` with `headers`. Never panics; every failure is an outcome.
    pub async fn send(&self, url: &str, headers: &[(String, String)], body: &[u8]) -> SendOutcome {
        let failed = |status, reason: String| {
            SendOutcome::Failed(SendFailure {
                status,
                retry_after: None,
                reason,
                body_excerpt: String::new(),
            })
        };
        let parsed = match url::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u,
            Ok(u) => return failed(None, format!("unsupported scheme {}", u.scheme())),
            Err(e) => return failed(None, format!("invalid callback URL: {e}")),
        };
        if let Some(host) = parsed.host() {
            let literal = match host {
                url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
                url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
                url::Host::Domain(_) => None,
            };
            if let Some(ip) = literal
                && let Err(range) = self.policy.check(ip)
            {
                return failed(None, format!("refused: {ip} is a {range} address"));
            }
        }

        let mut request = self
            .client
            .post(parsed)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let started = Instant::now();
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return failed(None, describe_transport_error(&e)),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body_excerpt = read_excerpt(response).await;
        tracing::debug!(
            status,
            duration_ms = started.elapsed().as_millis() as u64,
            "callback answered"
        );
        match status {
            200..=299 => SendOutcome::Delivered { status },
            410 => SendOutcome::Gone { status },
            300..=399 => SendOutcome::Failed(SendFailure {
                status: Some(status),
                retry_after,
                reason: format!("HTTP {status}: redirects are not followed"),
                body_excerpt,
            }),
            _ => SendOutcome::Failed(SendFailure {
                status: Some(status),
                retry_after,
                reason: format!("HTTP {status}"),
                body_excerpt,
            }),
        }
    }
}

fn describe_transport_error(e: &reqwest::Error) -> String {
    // Walk the source chain: the resolver's refusal sits a few levels down.
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        let s = inner.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = inner.source();
    }
    text
}

async fn read_excerpt(mut response: reqwest::Response) -> String {
    let mut collected = Vec::new();
    while collected.len() < MAX_LOGGED_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_LOGGED_BODY - collected.len();
                collected.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            _ => break,
        }
    }
    String::from_utf8_lossy(&collected).into_owned()
}

/// `Retry-After` as seconds or an HTTP date (RFC 9110).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        let future = std::time::SystemTime::now() + Duration::from_secs(3600);
        let d = parse_retry_after(&httpdate::fmt_http_date(future)).unwrap();
        assert!(d > Duration::from_secs(3500) && d <= Duration::from_secs(3600));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}

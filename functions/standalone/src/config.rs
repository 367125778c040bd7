//! The command line: subcommands, flags and their environment fallbacks, and their
//! translation into a [`RunnerConfig`] (which the demo and tests build directly).

use crate::scheduler::SchedulerSettings;
use crate::server::ServerLimits;
use crate::worker::WorkerSettings;
use clap::{Args, Parser, Subcommand};
use sage_events_core::embedded::{SecretKey, SecretKeyError};
use sage_events_core::env_names as env;
use sage_events_core::registration::auth::{Authenticator, OrganizationCredential};
use sage_events_core::sage::{EndpointConfigError, SageEndpoints};
use sage_events_core::secret::Secret;
use sage_events_core::settings::{Settings, SettingsError};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The environment variable holding the database encryption key (base64 of 32 bytes);
/// takes precedence over the key file.
pub const SECRET_KEY_ENV: &str = "SAGE_EVENTS_SECRET_KEY";

const SETTINGS_HELP: &str = "\
Other settings (environment only):
  REQUIRE_HTTPS_CALLBACKS     refuse http:// callback URLs (default false)
  RETRY_SCHEDULE              delivery backoff base_seconds,factor,cap_seconds (default 4,4,43200)
  MAX_RECEIVE_COUNT           attempts before a notification is dead-lettered (default 10)
  CALLBACK_TIMEOUT_SECONDS    timeout of one callback POST (default 15)
  LOG_LEVEL                   tracing filter (default info)
  SAGE_EVENTS_SECRET_KEY      base64 database key; overrides --key-file";

/// sage-events: Sage Accounting polling events, in one process.
#[derive(Debug, Parser)]
#[command(name = "sage-events", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the /instances API, the poll scheduler and the delivery workers.
    #[command(after_help = SETTINGS_HELP)]
    Serve(ServeArgs),
    /// Poll one instance now, print the summary JSON (exit 1 if the poll failed).
    Poll(PollArgs),
    /// Move dead-lettered notifications back to the queue; prints how many.
    Replay(ReplayArgs),
    /// List dead-lettered notifications (id, reason, failed at).
    DeadLetters(DeadLetterArgs),
    /// Run a self-contained demonstration against an in-process Sage simulator.
    Demo,
}

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// SQLite database file (created if missing).
    #[arg(long, env = "SAGE_EVENTS_DATABASE", default_value = "./sage-events.db")]
    pub database: PathBuf,
    /// File holding the database encryption key (created with a new random key if
    /// missing). Default: `<database>.key`. The SAGE_EVENTS_SECRET_KEY environment
    /// variable (base64 of 32 bytes) takes precedence.
    #[arg(long, env = "SAGE_EVENTS_KEY_FILE")]
    pub key_file: Option<PathBuf>,
}

impl StoreArgs {
    pub fn key_file(&self) -> PathBuf {
        self.key_file.clone().unwrap_or_else(|| {
            let mut name = self.database.clone().into_os_string();
            name.push(".key");
            PathBuf::from(name)
        })
    }

    pub fn secret_key(&self) -> Result<SecretKey, SecretKeyError> {
        SecretKey::from_env_or_file(SECRET_KEY_ENV, &self.key_file())
    }
}

/// Where Sage is.
#[derive(Debug, Clone, Args)]
pub struct SageArgs {
    /// Sage Accounting API base URL (default: Sage's).
    #[arg(long, env = env::SAGE_API_URL)]
    pub sage_api_url: Option<String>,
    /// Sage OAuth token URL (default: Sage's).
    #[arg(long, env = env::SAGE_TOKEN_URL)]
    pub sage_token_url: Option<String>,
    /// Sage OAuth revoke URL (default: Sage's).
    #[arg(long, env = env::SAGE_REVOKE_URL)]
    pub sage_revoke_url: Option<String>,
}

impl SageArgs {
    pub fn endpoints(&self) -> Result<SageEndpoints, EndpointConfigError> {
        SageEndpoints::from_lookup(|name| match name {
            env::SAGE_API_URL => self.sage_api_url.clone(),
            env::SAGE_TOKEN_URL => self.sage_token_url.clone(),
            env::SAGE_REVOKE_URL => self.sage_revoke_url.clone(),
            other => std::env::var(other).ok(),
        })
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address the HTTP API listens on.
    #[arg(long, env = "SAGE_EVENTS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub sage: SageArgs,
    /// The API's organization secret (`Authorization: ..., Organization <secret>`).
    #[arg(long, env = "ORGANIZATION_SECRET", hide_env_values = true)]
    pub organization_secret: String,
    /// The API's user secret (`Authorization: User <secret>, ...`).
    #[arg(long, env = "USER_SECRET", hide_env_values = true)]
    pub user_secret: String,
    /// Accept callback URLs on loopback/private addresses (for local testing only).
    #[arg(
        long,
        env = env::ALLOW_LOOPBACK_CALLBACKS,
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub allow_loopback_callbacks: Option<bool>,
    /// Smallest accepted `event.poller.refresh_interval`, in minutes [default: 1].
    #[arg(long, env = env::MIN_REFRESH_INTERVAL_MINUTES)]
    pub min_refresh_interval_minutes: Option<u32>,
    /// Delivery batches in flight at once.
    #[arg(long, env = "SAGE_EVENTS_DELIVERY_WORKERS", default_value_t = 4)]
    pub delivery_workers: usize,
    /// Seconds a received notification stays hidden before another worker may retry it
    /// (how soon work cut off by a crash is picked up again).
    #[arg(
        long,
        env = "SAGE_EVENTS_VISIBILITY_TIMEOUT_SECONDS",
        default_value_t = 60
    )]
    pub visibility_timeout_seconds: u64,
    /// Seconds to wait for running polls and deliveries on shutdown.
    #[arg(long, env = "SAGE_EVENTS_SHUTDOWN_GRACE_SECONDS", default_value_t = 30)]
    pub shutdown_grace_seconds: u64,
    #[command(flatten)]
    pub server: ServerLimitArgs,
}

/// The HTTP server's limits against slow, idle and numerous clients (see
/// [`ServerLimits`]). Durations in seconds, fractions allowed (`0.5`).
#[derive(Debug, Clone, Args)]
pub struct ServerLimitArgs {
    /// Seconds a client has to send a whole request head (request line and headers), from
    /// connecting or from its previous response; then the connection is closed.
    #[arg(long, env = "SAGE_EVENTS_HEADER_READ_TIMEOUT_SECONDS", default_value_t = 10.0, value_parser = positive_seconds)]
    pub header_read_timeout_seconds: f64,
    /// Seconds a client has to send a whole request body; then 408 and the connection is
    /// closed.
    #[arg(long, env = "SAGE_EVENTS_BODY_READ_TIMEOUT_SECONDS", default_value_t = 30.0, value_parser = positive_seconds)]
    pub body_read_timeout_seconds: f64,
    /// Seconds a connection with no request in progress may stay silent (keep-alive
    /// included) before it is closed.
    #[arg(long, env = "SAGE_EVENTS_IDLE_TIMEOUT_SECONDS", default_value_t = 5.0, value_parser = positive_seconds)]
    pub idle_timeout_seconds: f64,
    /// Connections served at once; more wait in the listen backlog until one closes.
    #[arg(long, env = "SAGE_EVENTS_MAX_CONNECTIONS", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
}

impl ServerLimitArgs {
    pub fn limits(&self) -> ServerLimits {
        ServerLimits {
            header_read_timeout: Duration::from_secs_f64(self.header_read_timeout_seconds),
            body_read_timeout: Duration::from_secs_f64(self.body_read_timeout_seconds),
            idle_timeout: Duration::from_secs_f64(self.idle_timeout_seconds),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
        }
    }
}

/// A duration flag: a positive number of seconds, at most a day.
fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0 => Ok(seconds),
        _ => Err(format!(
            "must be a number of seconds above 0 and at most 86400, not {text:?}"
        )),
    }
}

#[derive(Debug, Clone, Args)]
pub struct PollArgs {
    /// The instance id.
    pub id: u64,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub sage: SageArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// Only this instance's notifications.
    #[arg(long)]
    pub instance: Option<u64>,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Clone, Args)]
pub struct DeadLetterArgs {
    /// At most this many (oldest first).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// A configuration value that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("secret key: {0}")]
    Key(#[from] SecretKeyError),
    #[error("Sage endpoint {0}")]
    Endpoints(#[from] EndpointConfigError),
    #[error("setting {0}")]
    Settings(#[from] SettingsError),
    #[error("{0} must not be empty")]
    Empty(&'static str),
}

/// Everything the runner needs, already parsed.
pub struct RunnerConfig {
    pub listen: SocketAddr,
    pub database: PathBuf,
    pub key: SecretKey,
    pub endpoints: SageEndpoints,
    pub auth: Authenticator,
    pub settings: Settings,
    pub scheduler: SchedulerSettings,
    pub workers: WorkerSettings,
    pub shutdown_grace: Duration,
    /// The HTTP server's timeouts and connection cap.
    pub server: ServerLimits,
}

impl ServeArgs {
    /// The runner configuration: flags over environment over defaults.
    pub fn runner_config(&self) -> Result<RunnerConfig, ConfigError> {
        if self.organization_secret.trim().is_empty() {
            return Err(ConfigError::Empty("ORGANIZATION_SECRET"));
        }
        if self.user_secret.trim().is_empty() {
            return Err(ConfigError::Empty("USER_SECRET"));
        }
        let settings = Settings::from_lookup(|name| match name {
            env::ALLOW_LOOPBACK_CALLBACKS => {
                self.allow_loopback_callbacks.map(|allow| allow.to_string())
            }
            env::MIN_REFRESH_INTERVAL_MINUTES => self
                .min_refresh_interval_minutes
                .map(|minutes| minutes.to_string()),
            other => std::env::var(other).ok(),
        })?;
        Ok(RunnerConfig {
            listen: self.listen,
            database: self.store.database.clone(),
            key: self.store.secret_key()?,
            endpoints: self.sage.endpoints()?,
            auth: Authenticator::new(&[OrganizationCredential {
                id: None,
                organization_secret: Secret::new(self.organization_secret.clone()),
                user_secret: Secret::new(self.user_secret.clone()),
            }]),
            settings,
            scheduler: SchedulerSettings::default(),
            workers: WorkerSettings {
                workers: self.delivery_workers.max(1),
                visibility: Duration::from_secs(self.visibility_timeout_seconds.max(1)),
                ..WorkerSettings::default()
            },
            shutdown_grace: Duration::from_secs(self.shutdown_grace_seconds),
            server: self.server.limits(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn key_file_defaults_next_to_the_database() {
        let args = StoreArgs {
            database: PathBuf::from("/data/events.db"),
            key_file: None,
        };
        assert_eq!(args.key_file(), PathBuf::from("/data/events.db.key"));
    }

    #[test]
    fn serve_flags_parse_and_win_over_defaults() {
        let cli = Cli::try_parse_from([
            "sage-events",
            "serve",
            "--listen",
            "127.0.0.1:9999",
            "--organization-secret",
            "org",
            "--user-secret",
            "user",
            "--allow-loopback-callbacks",
            "--min-refresh-interval-minutes",
            "5",
            "--sage-api-url",
            "http://127.0.0.1:1/v3.1",
        ])
        .expect("parses");
        let Command::Serve(args) = cli.command else {
            panic!("expected serve");
        };
        assert_eq!(args.listen, "127.0.0.1:9999".parse().unwrap());
        assert_eq!(args.allow_loopback_callbacks, Some(true));
        let endpoints = args.sage.endpoints().expect("endpoints");
        assert_eq!(
            endpoints.api_url.as_str().trim_end_matches('/'),
            "http://127.0.0.1:1/v3.1"
        );
    }

    #[test]
    fn server_limits_have_defaults_and_flags() {
        let parse = |extra: &[&str]| {
            let mut args = vec![
                "sage-events",
                "serve",
                "--organization-secret",
                "o",
                "--user-secret",
                "u",
            ];
            args.extend_from_slice(extra);
            Cli::try_parse_from(args).map(|cli| match cli.command {
                Command::Serve(args) => args.server.limits(),
                _ => panic!("expected serve"),
            })
        };
        assert_eq!(parse(&[]).expect("defaults"), ServerLimits::default());
        let limits = parse(&[
            "--header-read-timeout-seconds",
            "0.5",
            "--body-read-timeout-seconds",
            "2",
            "--idle-timeout-seconds",
            "1.5",
            "--max-connections",
            "7",
        ])
        .expect("flags");
        assert_eq!(
            limits,
            ServerLimits {
                header_read_timeout: Duration::from_millis(500),
                body_read_timeout: Duration::from_secs(2),
                idle_timeout: Duration::from_millis(1500),
                max_connections: 7,
            }
        );
        for bad in [
            ["--header-read-timeout-seconds", "0"],
            ["--body-read-timeout-seconds", "-1"],
            ["--idle-timeout-seconds", "NaN"],
            ["--idle-timeout-seconds", "1e9"],
            ["--max-connections", "0"],
        ] {
            assert!(parse(&bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_bad_listen_address_is_refused() {
        let parsed = Cli::try_parse_from([
            "sage-events",
            "serve",
            "--listen",
            "not-an-address",
            "--organization-secret",
            "o",
            "--user-secret",
            "u",
        ]);
        assert!(parsed.is_err());
    }
}

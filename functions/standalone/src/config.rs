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

/// The environment variable holding the API credentials document (JSON text).
pub const API_CREDENTIALS_ENV: &str = "API_CREDENTIALS";
/// The environment variable naming a file that holds the API credentials document.
pub const API_CREDENTIALS_FILE_ENV: &str = "API_CREDENTIALS_FILE";
/// The environment variable choosing the log format of `serve`.
pub const LOG_FORMAT_ENV: &str = "LOG_FORMAT";

/// How `serve` writes its log lines (to standard output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line: timestamp, level, message and fields.
    Json,
    /// Human-readable lines, colored on a terminal.
    Text,
}

impl LogFormat {
    /// The format asked for, else JSON lines when standard output is not a terminal (a
    /// file, a pipe, a container's log collector: one parseable object per line) and
    /// text when a person is watching.
    pub fn resolve(asked: Option<LogFormat>, stdout_is_terminal: bool) -> LogFormat {
        match asked {
            Some(format) => format,
            None if stdout_is_terminal => LogFormat::Text,
            None => LogFormat::Json,
        }
    }
}

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
    /// List dead-lettered notifications, oldest first: a header line, then one
    /// tab-separated line each with id, instance, failed_at, attempts, reason (or a JSON
    /// array with --json).
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
    /// The API's organization secret (`Authorization: ..., Organization <secret>`): one
    /// organization, with --user-secret. For several, use --api-credentials-file.
    #[arg(long, env = "ORGANIZATION_SECRET", hide_env_values = true)]
    pub organization_secret: Option<String>,
    /// The API's user secret (`Authorization: User <secret>, ...`).
    #[arg(long, env = "USER_SECRET", hide_env_values = true)]
    pub user_secret: Option<String>,
    /// A JSON file holding the API credentials document, the one the AWS deployment keeps
    /// in Secrets Manager: `{"organizationSecret": "…", "userSecret": "…"}` or
    /// `{"organizations": [{"id": "…", "organizationSecret": "…", "userSecret": "…"}, …]}`
    /// (each organization sees only its own instances). Instead of
    /// --organization-secret/--user-secret.
    #[arg(long, env = API_CREDENTIALS_FILE_ENV)]
    pub api_credentials_file: Option<PathBuf>,
    /// The API credentials document itself (as --api-credentials-file holds it); best
    /// given through the environment, not the command line.
    #[arg(long, env = API_CREDENTIALS_ENV, hide_env_values = true)]
    pub api_credentials: Option<String>,
    /// Log line format [default: json when standard output is not a terminal, text when
    /// it is].
    #[arg(long, env = LOG_FORMAT_ENV, value_enum)]
    pub log_format: Option<LogFormat>,
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
    /// Print a JSON array of `{"id", "instanceId", "failedAt", "attempts", "reason"}`
    /// objects instead of the table.
    #[arg(long)]
    pub json: bool,
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
    #[error("API credentials: {0}")]
    Credentials(String),
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
        let auth = self.authenticator()?;
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
            auth,
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

impl ServeArgs {
    /// The API credentials: one organization/user pair, or the credentials document the
    /// AWS side reads (parsed by the same [`Authenticator::from_json`]) — exactly one of
    /// the two, so it is never unclear which credentials are in force.
    pub fn authenticator(&self) -> Result<Authenticator, ConfigError> {
        let document = match (&self.api_credentials, &self.api_credentials_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Credentials(
                    "give the credentials document once: --api-credentials (API_CREDENTIALS) \
                     or --api-credentials-file (API_CREDENTIALS_FILE)"
                        .into(),
                ));
            }
            (Some(text), None) => Some(text.clone()),
            (None, Some(path)) => Some(std::fs::read_to_string(path).map_err(|e| {
                ConfigError::Credentials(format!("cannot read {}: {e}", path.display()))
            })?),
            (None, None) => None,
        };
        let pair = (&self.organization_secret, &self.user_secret);
        match (document, pair) {
            (Some(text), (None, None)) => credentials_document(&text),
            (Some(_), _) => Err(ConfigError::Credentials(
                "both a credentials document and --organization-secret/--user-secret \
                 (ORGANIZATION_SECRET/USER_SECRET) are set; use one"
                    .into(),
            )),
            (None, (Some(organization), Some(user))) => {
                if organization.trim().is_empty() {
                    return Err(ConfigError::Empty("ORGANIZATION_SECRET"));
                }
                if user.trim().is_empty() {
                    return Err(ConfigError::Empty("USER_SECRET"));
                }
                Ok(Authenticator::new(&[OrganizationCredential {
                    id: None,
                    organization_secret: Secret::new(organization.clone()),
                    user_secret: Secret::new(user.clone()),
                }]))
            }
            (None, _) => Err(ConfigError::Credentials(
                "none given: set --organization-secret and --user-secret \
                 (ORGANIZATION_SECRET, USER_SECRET), or a credentials document with \
                 --api-credentials-file (API_CREDENTIALS_FILE) or API_CREDENTIALS"
                    .into(),
            )),
        }
    }
}

/// Parse a credentials document; an empty `organizations` list is refused (it would
/// refuse every request).
fn credentials_document(text: &str) -> Result<Authenticator, ConfigError> {
    let empty_list = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|doc| doc.get("organizations")?.as_array().map(Vec::is_empty))
        .unwrap_or(false);
    if empty_list {
        return Err(ConfigError::Credentials(
            "the document lists no organizations".into(),
        ));
    }
    Authenticator::from_json(text).map_err(ConfigError::Credentials)
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

    fn serve_args(extra: &[&str]) -> ServeArgs {
        let mut args = vec!["sage-events", "serve"];
        args.extend_from_slice(extra);
        match Cli::try_parse_from(args).expect("parses").command {
            Command::Serve(args) => args,
            _ => panic!("expected serve"),
        }
    }

    fn organization_of(auth: &Authenticator, header: &str) -> Option<String> {
        match auth.authenticate(Some(header)) {
            Ok(sage_events_core::registration::auth::Caller::Organization(id)) => Some(id),
            _ => None,
        }
    }

    #[test]
    fn api_credentials_come_from_a_pair_or_the_aws_document() {
        let pair = serve_args(&["--organization-secret", "o1", "--user-secret", "u1"])
            .authenticator()
            .expect("pair");
        assert!(organization_of(&pair, "User u1, Organization o1").is_some());

        let document = r#"{"organizations": [
            {"id": "acme", "organizationSecret": "acme-org", "userSecret": "acme-user"},
            {"id": "globex", "organizationSecret": "globex-org", "userSecret": "globex-user"}]}"#;
        let many = serve_args(&["--api-credentials", document])
            .authenticator()
            .expect("document");
        assert_eq!(
            organization_of(&many, "User acme-user, Organization acme-org").as_deref(),
            Some("acme")
        );
        assert_eq!(
            organization_of(&many, "Organization globex-org, User globex-user").as_deref(),
            Some("globex")
        );
        assert_eq!(
            organization_of(&many, "User acme-user, Organization globex-org"),
            None
        );

        let dir = std::env::temp_dir().join(format!("sage-events-creds-{}", rand::random::<u32>()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("credentials.json");
        std::fs::write(&file, r#"{"organizationSecret": "fo", "userSecret": "fu"}"#).unwrap();
        let from_file = serve_args(&["--api-credentials-file", file.to_str().unwrap()])
            .authenticator()
            .expect("file");
        assert!(organization_of(&from_file, "User fu, Organization fo").is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn api_credentials_must_be_given_once_and_readable() {
        let error = |args: &[&str]| serve_args(args).authenticator().unwrap_err().to_string();
        assert!(
            error(&[]).contains("--organization-secret"),
            "{}",
            error(&[])
        );
        assert!(error(&["--organization-secret", "o"]).contains("--organization-secret"));
        let both = error(&[
            "--organization-secret",
            "o",
            "--user-secret",
            "u",
            "--api-credentials",
            r#"{"organizationSecret": "a", "userSecret": "b"}"#,
        ]);
        assert!(both.contains("use one"), "{both}");
        let twice = error(&[
            "--api-credentials",
            "{}",
            "--api-credentials-file",
            "/nonexistent",
        ]);
        assert!(twice.contains("once"), "{twice}");
        let missing = error(&["--api-credentials-file", "/nonexistent/credentials.json"]);
        assert!(
            missing.contains("/nonexistent/credentials.json"),
            "{missing}"
        );
        let empty = error(&["--api-credentials", r#"{"organizations": []}"#]);
        assert!(empty.contains("no organizations"), "{empty}");
        let broken = error(&[
            "--api-credentials",
            r#"{"organizationSecret": "leaky-secret""#,
        ]);
        assert!(!broken.contains("leaky-secret"), "{broken}");
        assert_eq!(
            error(&["--organization-secret", " ", "--user-secret", "u"]),
            "ORGANIZATION_SECRET must not be empty"
        );
    }

    #[test]
    fn log_format_is_json_unless_a_terminal_watches() {
        assert_eq!(LogFormat::resolve(None, false), LogFormat::Json);
        assert_eq!(LogFormat::resolve(None, true), LogFormat::Text);
        assert_eq!(
            LogFormat::resolve(Some(LogFormat::Json), true),
            LogFormat::Json
        );
        assert_eq!(
            LogFormat::resolve(Some(LogFormat::Text), false),
            LogFormat::Text
        );
        let args = serve_args(&[
            "--organization-secret",
            "o",
            "--user-secret",
            "u",
            "--log-format",
            "text",
        ]);
        assert_eq!(args.log_format, Some(LogFormat::Text));
        assert!(
            Cli::try_parse_from(["sage-events", "serve", "--log-format", "xml"]).is_err(),
            "an unknown format is refused"
        );
    }
}

//! `sage-events`: the standalone runner's command line.

use clap::Parser;
use sage_events_core::clock::SystemClock;
use sage_events_core::embedded::{DeadLetter, EmbeddedStore};
use sage_events_core::event::Notification;
use sage_events_core::poll::PollSettings;
use sage_events_core::settings::{init_runner_tracing, init_tracing};
use sage_events_standalone::config::{
    Cli, Command, DeadLetterArgs, LogFormat, PollArgs, ReplayArgs, ServeArgs, StoreArgs,
};
use sage_events_standalone::runner::{Observers, Runner, poller_deps, shutdown_signal};
use sage_events_standalone::scheduler::{is_failure, poll_and_log};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Poll(args) => poll(args).await,
        Command::Replay(args) => replay(args).await,
        Command::DeadLetters(args) => dead_letters(args).await,
        Command::Demo => {
            return ExitCode::from(demo_exit(sage_events_standalone::demo::run().await));
        }
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("sage-events: {message}");
            ExitCode::from(2)
        }
    }
}

fn demo_exit(code: i32) -> u8 {
    u8::try_from(code).unwrap_or(1)
}

async fn serve(args: ServeArgs) -> Result<ExitCode, String> {
    let terminal = std::io::stdout().is_terminal();
    let format = LogFormat::resolve(args.log_format, terminal);
    init_runner_tracing(format == LogFormat::Json, terminal);
    let config = args.runner_config().map_err(|e| e.to_string())?;
    let runner = Runner::start(config, Observers::default())
        .await
        .map_err(|e| e.to_string())?;
    shutdown_signal().await;
    tracing::info!("shutting down");
    runner.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

fn open(store: &StoreArgs) -> Result<EmbeddedStore, String> {
    let key = store.secret_key().map_err(|e| e.to_string())?;
    EmbeddedStore::open(&store.database, key).map_err(|e| e.to_string())
}

async fn poll(args: PollArgs) -> Result<ExitCode, String> {
    init_tracing(false);
    let store = open(&args.store)?;
    let endpoints = args.sage.endpoints().map_err(|e| e.to_string())?;
    let deps = poller_deps(&store, endpoints, Arc::new(SystemClock)).map_err(|e| e.to_string())?;
    let summary = poll_and_log(&deps, &PollSettings::default(), args.id)
        .await
        .map_err(|e| format!("poll of instance {} failed: {e}", args.id))?;
    let text = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(if is_failure(&summary.outcome) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn replay(args: ReplayArgs) -> Result<ExitCode, String> {
    let store = open(&args.store)?;
    let moved = store
        .replay_dead_letters(args.instance)
        .await
        .map_err(|e| e.to_string())?;
    println!("{moved} notification(s) moved back to the queue");
    Ok(ExitCode::SUCCESS)
}

async fn dead_letters(args: DeadLetterArgs) -> Result<ExitCode, String> {
    let store = open(&args.store)?;
    let letters = store
        .list_dead_letters(args.limit)
        .await
        .map_err(|e| e.to_string())?;
    let rows: Vec<DeadLetterRow> = letters.iter().map(DeadLetterRow::from).collect();
    if args.json {
        let text = serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?;
        println!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("no dead-lettered notifications");
        return Ok(ExitCode::SUCCESS);
    }
    // The columns `dead-letters --help` names, in its order.
    println!("id\tinstance\tfailed_at\tattempts\treason");
    for row in rows {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            row.id,
            row.instance_id
                .map_or_else(|| "-".to_owned(), |id| id.to_string()),
            row.failed_at,
            row.attempts,
            // One line per letter, whatever the reason says.
            row.reason.replace(['\t', '\n', '\r'], " ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One dead letter as `dead-letters` shows it (the table's columns, `--json`'s fields).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct DeadLetterRow {
    id: String,
    /// From the notification's body; `None` if the body is not a notification.
    instance_id: Option<u64>,
    failed_at: String,
    /// Deliveries tried before it was dead-lettered.
    attempts: u32,
    reason: String,
}

impl From<&DeadLetter> for DeadLetterRow {
    fn from(letter: &DeadLetter) -> Self {
        DeadLetterRow {
            id: letter.id.clone(),
            instance_id: serde_json::from_str::<Notification>(&letter.body)
                .ok()
                .map(|n| n.instance_id),
            failed_at: letter
                .failed_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            attempts: letter.receive_count,
            reason: letter.reason.clone(),
        }
    }
}

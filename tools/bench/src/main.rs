//! `cargo run --release -p sage-events-bench -- <delivery|poll|init|scale>`
//!
//! Figures are reported as ratios measured side by side in one run, because this kind of
//! machine is noisy: absolute times mean little, the ratio to a baseline run in the same
//! process a moment earlier or later means more.

mod delivery;
mod init;
mod measure;
mod poll;
mod scale;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("delivery") => delivery::run(&args[1..]).await,
        Some("poll") => poll::run(&args[1..]).await,
        Some("init") => init::run(&args[1..]).await,
        Some("sim-server") => poll::sim_server(&args[1..]).await,
        Some("scale") => scale::run(&args[1..]).await,
        Some("scale-sim") => scale::sim_server(&args[1..]).await,
        _ => {
            eprintln!(
                "usage: sage-events-bench delivery [--notifications N] [--latency-ms MS] | poll [--records N] | init [--runs N] [--profile P] [--no-build] [--only poller,…] | scale [--instances N] [--sage-latency-ms MS] [--receiver-latency-ms MS] [--minutes M] [--max-polls P] [--minute-secs S]"
            );
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("benchmark failed: {e}");
        std::process::exit(1);
    }
}

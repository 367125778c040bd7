//! `sage-sim`: runs the Sage simulator until Ctrl-C.
//!
//! `sage-sim [--port 8089] [--seed contacts=50]… [--redirect-uri https://mycoolapp.com]
//!           [--code-ttl SECONDS]`

use sage_sim::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SageSim, SimConfig};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: sage-sim [--port PORT (default 8089, 0 = any)] \
[--seed ENDPOINT=N]... [--redirect-uri URI (default https://mycoolapp.com)] \
[--code-ttl SECONDS (default 60)]";

#[derive(Debug)]
struct Args {
    port: u16,
    seeds: Vec<(String, usize)>,
    redirect_uri: String,
    code_ttl: Option<u64>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        port: 8089,
        seeds: Vec::new(),
        redirect_uri: "https://mycoolapp.com".to_owned(),
        code_ttl: None,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => {
                let v = value()?;
                parsed.port = v.parse().map_err(|_| format!("bad port {v:?}"))?;
            }
            "--seed" => {
                let v = value()?;
                let (endpoint, n) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--seed wants ENDPOINT=N, got {v:?}"))?;
                let n = n.parse().map_err(|_| format!("bad count in {v:?}"))?;
                parsed.seeds.push((endpoint.to_owned(), n));
            }
            "--redirect-uri" => parsed.redirect_uri = value()?,
            "--code-ttl" => {
                let v = value()?;
                parsed.code_ttl = Some(v.parse().map_err(|_| format!("bad seconds {v:?}"))?);
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let mut config = SimConfig {
        port: args.port,
        ..SimConfig::default()
    };
    if let Some(secs) = args.code_ttl {
        config.code_ttl = Duration::from_secs(secs);
    }
    let sim = match SageSim::start(config).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("sage-sim: cannot listen on port {}: {e}", args.port);
            return ExitCode::FAILURE;
        }
    };
    for (endpoint, n) in &args.seeds {
        sim.seed(endpoint, *n);
        println!("seeded {n} {endpoint}");
    }
    let code = sim.issue_code(DEFAULT_CLIENT_ID, &args.redirect_uri);
    println!("api:        {}", sim.api_url());
    println!("token:      {}", sim.token_url());
    println!("revoke:     {}", sim.revoke_url());
    println!("authorize:  {}", sim.authorize_url());
    println!("client:     {DEFAULT_CLIENT_ID} / {DEFAULT_CLIENT_SECRET}");
    println!("redirect:   {}", args.redirect_uri);
    println!(
        "grant code: {code}  (single use; expires in {}s)",
        sim_code_ttl(&args)
    );
    println!(
        "fresh code: GET {}?client_id={DEFAULT_CLIENT_ID}&response_type=code&redirect_uri=<uri> → Location",
        sim.authorize_url()
    );
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("sage-sim: cannot wait for Ctrl-C: {e}");
    }
    sim.shutdown();
    ExitCode::SUCCESS
}

fn sim_code_ttl(args: &Args) -> u64 {
    args.code_ttl.unwrap_or(60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        parse_args(args.iter().map(|a| (*a).to_owned()))
    }

    #[test]
    fn defaults_and_flags() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.port, 8089);
        assert_eq!(args.redirect_uri, "https://mycoolapp.com");
        let args = parse(&[
            "--port",
            "0",
            "--seed",
            "contacts=50",
            "--seed",
            "sales_invoices=3",
            "--redirect-uri",
            "http://localhost/cb",
            "--code-ttl",
            "600",
        ])
        .unwrap();
        assert_eq!(args.port, 0);
        assert_eq!(
            args.seeds,
            vec![
                ("contacts".to_owned(), 50),
                ("sales_invoices".to_owned(), 3)
            ]
        );
        assert_eq!(args.redirect_uri, "http://localhost/cb");
        assert_eq!(args.code_ttl, Some(600));
    }

    #[test]
    fn mistakes_are_reported() {
        assert!(parse(&["--port"]).unwrap_err().contains("needs a value"));
        assert!(parse(&["--port", "http"]).is_err());
        assert!(parse(&["--seed", "contacts"]).is_err());
        assert!(parse(&["--seed", "contacts=many"]).is_err());
        assert!(
            parse(&["--verbose"])
                .unwrap_err()
                .contains("unknown argument")
        );
    }
}

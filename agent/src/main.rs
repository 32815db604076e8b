//! `ecpa-agent`: the local card agent (HiPKI Local Server compatible).

use clap::Parser;
use ecpa_agent::config::Config;
use std::{path::PathBuf, process::ExitCode};

#[derive(Parser)]
#[command(
    name = "ecpa-agent",
    version,
    about = "ECPA card agent: a HiPKI-compatible local component over PKCS#11 and PC/SC"
)]
struct Cli {
    /// TOML configuration (default ~/.config/ecpa-agent/agent.toml when present).
    #[arg(long, env = "ECPA_AGENT_CONFIG")]
    config: Option<PathBuf>,
    /// Port on 127.0.0.1 (default 61161).
    #[arg(long)]
    port: Option<u16>,
    /// PKCS#11 module (repeatable); replaces the configured list.
    #[arg(long = "module")]
    modules: Vec<PathBuf>,
    /// A site allowed without asking, e.g. https://ecpa.dgpa.gov.tw (repeatable).
    #[arg(long = "trust")]
    trust: Vec<String>,
    /// Do not use PC/SC for reader and card presence (SoftHSM-only setups).
    #[arg(long)]
    no_pcsc: bool,
    /// Where sites approved through /addDomain are stored.
    #[arg(long)]
    trust_file: Option<PathBuf>,
    /// Log filter (default info).
    #[arg(long)]
    log: Option<String>,
}

fn load(cli: &Cli) -> Result<Config, String> {
    let default_file =
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config/ecpa-agent/agent.toml"));
    let mut cfg = match cli.config.clone().or(default_file.filter(|f| f.exists())) {
        Some(f) => Config::from_toml(
            &std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?,
        )
        .map_err(|e| format!("{}: {e}", f.display()))?,
        None => Config::default(),
    };
    if let Some(p) = cli.port {
        cfg.port = p;
    }
    if !cli.modules.is_empty() {
        cfg.modules = cli.modules.clone();
    }
    cfg.trusted_sites.extend(cli.trust.iter().cloned());
    if cli.no_pcsc {
        cfg.pcsc = false;
    }
    if let Some(f) = &cli.trust_file {
        cfg.trust_file = Some(f.clone());
    }
    if let Some(l) = &cli.log {
        cfg.log = l.clone();
    }
    cfg.validate()?;
    Ok(cfg)
}

fn main() -> ExitCode {
    // A card worker (see `ecpa_agent::worker`): one card operation, then exit.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == ecpa_agent::worker::WORKER_FLAG)
    {
        return ecpa_agent::worker::worker_main();
    }
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    let cfg = match load(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
    match ecpa_agent::serve(cfg, None).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

//! `ecpa-server`: serve the portal, and the operator commands around it.

use clap::{Parser, Subcommand};
use ecpa_server::{config::Config, db::Db, demo, error::ServerError, service};
use std::{io::BufRead, path::PathBuf, process::ExitCode, sync::Arc};

#[derive(Parser)]
#[command(
    name = "ecpa-server",
    version,
    about = "eCPA人事服務網 — portal server and operator CLI"
)]
struct Cli {
    /// TOML configuration file (also `ECPA_CONFIG`). Environment variables override it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database and serve the portal.
    Serve {
        /// Load the demo data when the database has no accounts yet.
        #[arg(long)]
        demo_if_empty: bool,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Load the demo accounts (those missing), then exit.
    DemoSeed,
    /// Manage accounts.
    #[command(subcommand)]
    Account(AccountCmd),
}

#[derive(Subcommand)]
enum AccountCmd {
    /// Create an account; the password is read from the first line of standard input.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        display_name: String,
        #[arg(long)]
        email: Option<String>,
    },
    /// Set an account's password, read from the first line of standard input.
    SetPassword {
        #[arg(long)]
        name: String,
    },
}

fn read_password() -> Result<String, ServerError> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let pw = line.trim_end_matches(['\r', '\n']).to_string();
    if pw.is_empty() {
        return Err(ServerError::Invalid("no password on standard input".into()));
    }
    Ok(pw)
}

async fn run(cli: Cli) -> Result<(), ServerError> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve { demo_if_empty } => {
            let portal = ecpa_server::portal(config).await?;
            if demo_if_empty && portal.db.is_empty().await? {
                let n = demo::seed(&portal).await?;
                tracing::info!(accounts = n, "demo data loaded into the new database");
            }
            println!("\neCPA人事服務網: {}/", portal.config.origin_string());
            println!(
                "Database: {}",
                ecpa_server::db::redact(&portal.config.database_url)
            );
            if demo_if_empty {
                println!("{}", demo::describe());
            }
            ecpa_server::serve(portal, None).await
        }
        Command::Migrate => {
            let db = Db::connect(&config.database_url, 2).await?;
            db.migrate().await?;
            println!(
                "database migrated: {}",
                ecpa_server::db::redact(&config.database_url)
            );
            Ok(())
        }
        Command::DemoSeed => {
            let portal = ecpa_server::portal(config).await?;
            let n = demo::seed(&portal).await?;
            println!("added {n} demo account(s)\n{}", demo::describe());
            Ok(())
        }
        Command::Account(cmd) => {
            let db = Db::connect(&config.database_url, 2).await?;
            db.migrate().await?;
            let portal = service::Portal::new(db, Arc::new(config), service::system_clock())?;
            match cmd {
                AccountCmd::Create {
                    name,
                    display_name,
                    email,
                } => {
                    let pw = read_password()?;
                    portal
                        .create_account(&name, &display_name, email.as_deref(), &pw)
                        .await?;
                    println!("account created: {name}");
                }
                AccountCmd::SetPassword { name } => {
                    let pw = read_password()?;
                    portal.set_password(&name, &pw).await?;
                    println!("password set for {name}");
                }
            }
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ECPA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

//! `ecpa-server`: serve the portal, and the operator commands around it.

use clap::{Parser, Subcommand};
use ecpa_server::{
    config::Config,
    db::Db,
    demo,
    error::ServerError,
    personnel::{agencies, csvio::EncodingChoice, import, sample},
    portal,
};
use std::{
    io::{BufRead, IsTerminal, Write},
    path::PathBuf,
    process::ExitCode,
    sync::Arc,
};

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
    /// The personnel registry (表二): import files, generate samples.
    #[command(subcommand)]
    Personnel(PersonnelCmd),
    /// Certificate trust: roots, CAs and CRLs as configured.
    #[command(subcommand)]
    Pki(PkiCmd),
}

#[derive(Subcommand)]
enum PkiCmd {
    /// For each configured CA: which CRL (and ARL) covers it, until when, what is missing;
    /// with --cert, what the portal would decide for each certificate and why. Exit status
    /// 0 when everything is covered and every certificate accepted, 1 otherwise.
    Check {
        /// Certificates (DER or PEM) to decide on.
        #[arg(long = "cert")]
        certs: Vec<PathBuf>,
        /// As at this time: RFC 3339, or a date (midnight Taipei). Default: now.
        #[arg(long)]
        at: Option<String>,
        /// The report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum PersonnelCmd {
    /// Import a Table 2 CSV (UTF-8 or Big5). A batch with any invalid row changes nothing
    /// unless --skip-invalid.
    Import {
        file: PathBuf,
        /// auto (default), utf-8 or big5
        #[arg(long, default_value = "auto")]
        encoding: EncodingChoice,
        /// Import the valid rows; write the rejected ones with reasons to --rejects.
        #[arg(long)]
        skip_invalid: bool,
        /// Where rejected rows go (default FILE.rejected.csv).
        #[arg(long)]
        rejects: Option<PathBuf>,
        /// Batch id (default: the file's SHA-256). Importing a batch again changes nothing.
        #[arg(long)]
        batch: Option<String>,
        /// 入檔日期 for rows without one (YYYY-MM-DD or ROC 115/11/26; default today, Taipei).
        #[arg(long)]
        ingested_on: Option<String>,
    },
    /// Import the agency list (機關代碼, 機關名稱, 機關OID, 上級機關代碼).
    ImportAgencies {
        file: PathBuf,
        #[arg(long, default_value = "auto")]
        encoding: EncodingChoice,
    },
    /// Write a realistic sample Table 2 file of N rows (deterministic for a seed).
    GenSample {
        rows: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also write the matching agency list here.
        #[arg(long)]
        agencies_out: Option<PathBuf>,
        #[arg(long, default_value_t = 200)]
        agencies: usize,
        /// utf-8 (default) or big5
        #[arg(long, default_value = "utf-8")]
        encoding: EncodingChoice,
    },
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
    /// Link an account to its person in the personnel registry.
    Link {
        #[arg(long)]
        name: String,
        #[arg(long)]
        national_id: String,
    },
    /// Make an account an administrator (announcements, polls, links, FAQ, catalog).
    GrantAdmin {
        #[arg(long)]
        name: String,
    },
    /// Take the administrator role away from an account.
    RevokeAdmin {
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

fn write_encoded(
    out: &mut dyn Write,
    text: &[u8],
    encoding: EncodingChoice,
) -> std::io::Result<()> {
    match encoding {
        EncodingChoice::Big5 => {
            let s = String::from_utf8_lossy(text);
            let (bytes, _, unmappable) = encoding_rs::BIG5.encode(&s);
            if unmappable {
                return Err(std::io::Error::other("text not representable in Big5"));
            }
            out.write_all(&bytes)
        }
        _ => out.write_all(text),
    }
}

async fn personnel(cmd: PersonnelCmd, config: Config) -> Result<(), ServerError> {
    let io = |e: std::io::Error| ServerError::Io(e);
    match cmd {
        PersonnelCmd::GenSample {
            rows,
            seed,
            out,
            agencies_out,
            agencies,
            encoding,
        } => {
            if let Some(p) = agencies_out {
                let mut buf = Vec::new();
                sample::write_agencies(&mut buf, agencies).map_err(io)?;
                let mut f = std::fs::File::create(p)?;
                write_encoded(&mut f, &buf, encoding).map_err(io)?;
            }
            let mut sink: Box<dyn Write> = match out {
                Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p)?)),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            if encoding == EncodingChoice::Big5 {
                let mut buf = Vec::new();
                sample::write_personnel(&mut buf, rows, agencies, seed).map_err(io)?;
                write_encoded(&mut sink, &buf, encoding).map_err(io)?;
            } else {
                sample::write_personnel(&mut sink, rows, agencies, seed).map_err(io)?;
            }
            sink.flush()?;
            Ok(())
        }
        PersonnelCmd::ImportAgencies { file, encoding } => {
            let db = Db::connect(&config.database_url, 4).await?;
            db.migrate().await?;
            match agencies::import_agencies(&db, &file, encoding, time::OffsetDateTime::now_utc())
                .await
            {
                Ok(n) => {
                    println!("{n} agencies imported");
                    Ok(())
                }
                Err(e) => Err(report_import_error(e)),
            }
        }
        PersonnelCmd::Import {
            file,
            encoding,
            skip_invalid,
            rejects,
            batch,
            ingested_on,
        } => {
            let ingested_on = match ingested_on {
                Some(s) => Some(ecpa_domain::roc::parse_date(&s).ok_or_else(|| {
                    ServerError::Invalid(format!("--ingested-on: not a date: {s}"))
                })?),
                None => None,
            };
            let db = Db::connect(&config.database_url, 4).await?;
            db.migrate().await?;
            let opts = import::ImportOptions {
                encoding,
                skip_invalid,
                rejects,
                batch_id: batch,
                ingested_on,
                progress: std::io::stderr().is_terminal(),
            };
            match import::import_personnel(&db, &file, &opts, time::OffsetDateTime::now_utc()).await
            {
                Ok(summary) => {
                    for e in &summary.errors {
                        eprintln!("rejected {e}");
                    }
                    println!("{summary}");
                    Ok(())
                }
                Err(e) => Err(report_import_error(e)),
            }
        }
    }
}

fn report_import_error(e: import::ImportError) -> ServerError {
    if let import::ImportError::Rejected(summary) = &e {
        for err in &summary.errors {
            eprintln!("{err}");
        }
        if summary.rejected as usize > summary.errors.len() {
            eprintln!(
                "… and {} more",
                summary.rejected as usize - summary.errors.len()
            );
        }
    }
    ServerError::Invalid(e.to_string())
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
        Command::Personnel(cmd) => personnel(cmd, config).await,
        Command::Pki(PkiCmd::Check { certs, at, json }) => {
            let trust =
                ecpa_server::cards::trust::CardTrust::from_config(&config).ok_or_else(|| {
                    ServerError::Config(
                    "certificate sign-in is not configured (card_pki_dir or card_roots and CAs)"
                        .into(),
                )
                })?;
            let at = match at {
                Some(a) => ecpa_server::cards::pki_check::parse_at(&a)?,
                None => time::OffsetDateTime::now_utc().unix_timestamp(),
            };
            let report = ecpa_server::cards::pki_check::run(&trust, &certs, at)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report)
                        .map_err(|e| ServerError::Invalid(e.to_string()))?
                );
            } else {
                print!("{}", ecpa_server::cards::pki_check::render(&report));
            }
            if report.ok {
                Ok(())
            } else {
                Err(ServerError::NotReady)
            }
        }
        Command::Account(cmd) => {
            let db = Db::connect(&config.database_url, 2).await?;
            db.migrate().await?;
            let portal = portal::Portal::new(db, Arc::new(config), portal::system_clock())?;
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
                AccountCmd::Link { name, national_id } => {
                    let acct = ecpa_server::auth::store::account_by_name(&portal.db.pool, &name)
                        .await?
                        .ok_or_else(|| ServerError::Invalid(format!("no account {name}")))?;
                    portal.link_person(&acct.id, &national_id).await?;
                    println!("account {name} linked");
                }
                AccountCmd::GrantAdmin { name } => {
                    portal.set_admin(&name, true).await?;
                    println!("{name} is now an administrator");
                }
                AccountCmd::RevokeAdmin { name } => {
                    portal.set_admin(&name, false).await?;
                    println!("{name} is no longer an administrator");
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

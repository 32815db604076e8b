//! `hsm-sim`: make simulated MOICA / GCA cards and put them into virtual readers.

use clap::{Parser, Subcommand, ValueEnum};
use hsm_sim::{
    pcscd::{self, Pcscd, Private},
    pki::{Ca, Variant},
    reader,
    sim::{CardMeta, Kind, NewCard, Sim, SimError},
};
use serde::Serialize;
use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::{Duration, Instant},
};
use time::OffsetDateTime;

#[derive(Parser)]
#[command(
    name = "hsm-sim",
    version,
    about = "SoftHSM-backed smart-card simulator (test MOICA / GCA cards in a vpcd virtual reader)"
)]
struct Cli {
    /// State folder (also HSM_SIM_STATE; default ~/.local/share/hsm-sim).
    #[arg(long, global = true, env = "HSM_SIM_STATE")]
    state: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create the test PKI (root, MOICA-like and GCA-like test CAs, an untrusted look-alike).
    Init,
    /// Cards: new, list, show, revoke, lock, reset-pin.
    #[command(subcommand)]
    Card(CardCmd),
    /// Put a card into a virtual reader (the card stays in until `eject`).
    Insert {
        card: String,
        #[arg(long, default_value_t = 0)]
        reader: u8,
    },
    /// Pull the card out of a reader.
    Eject {
        #[arg(long, default_value_t = 0)]
        reader: u8,
    },
    /// Readers, inserted cards, pcscd.
    Status,
    /// Trust anchors and CRLs for the server.
    #[command(subcommand)]
    Pki(PkiCmd),
    /// Start or check pcscd with the virtual readers (starting needs root).
    #[command(subcommand)]
    Pcscd(PcscdCmd),
    /// (internal) serve a card in a reader in the foreground; `insert` runs this detached.
    #[command(hide = true)]
    ServeCard {
        card: String,
        #[arg(long)]
        reader: u8,
        /// (re-executed after a PIN reset) the vpcd connection, inherited.
        #[arg(long)]
        fd: Option<i32>,
        /// (re-executed) the command received but not yet answered, hex.
        #[arg(long)]
        pending: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    Natural,
    Org,
}

#[derive(Subcommand)]
enum CardCmd {
    /// Issue a card: a SoftHSM token with two key pairs made inside it, two certificates.
    New {
        #[arg(long, value_enum)]
        kind: KindArg,
        /// Holder's name (natural person).
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        national_id: Option<String>,
        /// Agency OID (organization card), under 2.16.886.101.
        #[arg(long)]
        agency_oid: Option<String>,
        #[arg(long)]
        agency_name: Option<String>,
        /// 6–8 letters or digits.
        #[arg(long)]
        pin: String,
        /// 16 characters (default: GP + 14 random digits).
        #[arg(long)]
        card_number: Option<String>,
        /// Another profile (alien resident, mobile, unit, G3, school) or one of the bad
        /// certificates the server must refuse.
        #[arg(long, value_enum, default_value = "good")]
        variant: Variant,
        /// Deterministic card number and serials (PINs stay random).
        #[arg(long)]
        seed: Option<u64>,
    },
    List,
    Show {
        card: String,
    },
    /// The CA revokes the card's certificates and publishes new CRLs.
    Revoke {
        card: String,
    },
    /// Block the PIN as three wrong PINs would.
    Lock {
        card: String,
    },
    /// As the issuing service would: set a new PIN and reset the counter.
    ResetPin {
        card: String,
        #[arg(long)]
        pin: String,
    },
}

#[derive(Subcommand)]
enum PkiCmd {
    /// Copy the trust anchors (PEM, DER) and CRLs into DIR.
    Export { dir: PathBuf },
    /// Re-issue the CRLs (--stale: with a nextUpdate already past).
    Crl {
        #[arg(long)]
        stale: bool,
    },
    /// Print the CA database of the natural-person (or --org) test CA in OpenSSL's
    /// `index.txt` format, for `openssl ocsp -index`.
    OcspIndex {
        #[arg(long)]
        org: bool,
    },
    /// Certify an RSA key (SubjectPublicKeyInfo, PEM or DER) as the CA's delegated OCSP
    /// responder; prints the certificate (PEM) for `openssl ocsp -rsigner`.
    OcspResponder {
        #[arg(long)]
        org: bool,
        #[arg(long)]
        pubkey: PathBuf,
    },
}

#[derive(Subcommand)]
enum PcscdCmd {
    /// Start pcscd -f in the background unless one with virtual readers is running.
    Start {
        /// A pcscd of its own (own socket and vpcd ports, in a mount namespace), for a test
        /// run that must not share the machine's readers: prints the variables
        /// (`PCSCLITE_CSOCK_NAME`, `HSM_SIM_VPCD_PORT`) its clients need.
        #[arg(long)]
        private: bool,
    },
    Status,
}

fn default_state() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("hsm-sim")
}

#[derive(Serialize)]
struct CardView<'a> {
    number: &'a str,
    kind: Kind,
    holder: &'a str,
    national_id: Option<&'a str>,
    agency_oid: Option<&'a str>,
    issuer: hsm_sim::pki::Ca,
    variant: Variant,
    tries_left: u8,
    locked: bool,
    revoked: bool,
    sign_certificate: Option<CertView>,
    encryption_certificate: Option<CertView>,
}

#[derive(Serialize)]
struct CertView {
    subject: String,
    issuer: String,
    serial: String,
    not_before: i64,
    not_after: i64,
    usage: String,
    subject_type: Option<String>,
    id_last4: Option<String>,
    agency_oid: Option<String>,
    policies: Vec<String>,
}

fn cert_view(der: &[u8]) -> Option<CertView> {
    let p = ecpa_cardproto::profile::parse(der).ok()?;
    Some(CertView {
        subject: p.subject,
        issuer: p.issuer,
        serial: p.serial_hex,
        not_before: p.not_before,
        not_after: p.not_after,
        usage: p.key_usage.map(|k| k.hipki_usage()).unwrap_or_default(),
        subject_type: p.subject_type,
        id_last4: p.id_last4,
        agency_oid: p.agency_oid,
        policies: p.policies,
    })
}

fn view(c: &CardMeta) -> CardView<'_> {
    CardView {
        number: &c.number,
        kind: c.kind,
        holder: &c.holder,
        national_id: c.national_id.as_deref(),
        agency_oid: c.agency_oid.as_deref(),
        issuer: c.issuer,
        variant: c.variant,
        tries_left: c.tries_left,
        locked: c.locked(),
        revoked: c.revoked,
        sign_certificate: cert_view(&c.sign_cert_der()),
        encryption_certificate: cert_view(&c.enc_cert_der()),
    }
}

fn print<T: Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    } else {
        println!("{}", text());
    }
}

fn card_line(c: &CardMeta) -> String {
    let state = if c.locked() {
        "LOCKED".to_string()
    } else {
        format!("{} tries left", c.tries_left)
    };
    format!(
        "{}  {:<7} {}  {:?}{}  [{}]",
        c.number,
        c.kind.as_str(),
        c.holder,
        c.variant,
        if c.revoked { " REVOKED" } else { "" },
        state
    )
}

// ---- readers occupied by detached `serve-card` processes --------------------------------

#[derive(Serialize, serde::Deserialize)]
struct Occupant {
    pid: u32,
    card: String,
}

fn reader_file(state: &Path, reader: u8) -> PathBuf {
    state.join("readers").join(format!("{reader}.json"))
}

fn alive(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

fn occupant(state: &Path, reader: u8) -> Option<Occupant> {
    let text = std::fs::read_to_string(reader_file(state, reader)).ok()?;
    let o: Occupant = serde_json::from_str(&text).ok()?;
    alive(o.pid).then_some(o)
}

fn insert(sim: &Sim, card: &str, reader: u8) -> Result<String, SimError> {
    if reader >= reader::READERS {
        return Err(SimError::Other(format!(
            "reader {reader} does not exist (readers 0 and 1)"
        )));
    }
    sim.card(card)?;
    if occupant(&sim.state, reader).is_some() {
        return Err(SimError::Other(format!("reader {reader} is occupied")));
    }
    for r in 0..reader::READERS {
        if occupant(&sim.state, r).is_some_and(|o| o.card == card) {
            return Err(SimError::Other(format!(
                "card {card} is already in reader {r}"
            )));
        }
    }
    std::fs::create_dir_all(sim.state.join("readers"))
        .map_err(|e| SimError::Io("readers".into(), e))?;
    let log = sim.state.join("readers").join(format!("{reader}.log"));
    let out =
        std::fs::File::create(&log).map_err(|e| SimError::Io(log.display().to_string(), e))?;
    let err = out
        .try_clone()
        .map_err(|e| SimError::Io(log.display().to_string(), e))?;
    let exe = std::env::current_exe().map_err(|e| SimError::Io("current_exe".into(), e))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--state")
        .arg(&sim.state)
        .args(["serve-card", card, "--reader", &reader.to_string()]);
    cmd.stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err);
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: setsid is async-signal-safe; the child leaves our session so it outlives us.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| SimError::Io("spawn serve-card".into(), e))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(o) = occupant(&sim.state, reader) {
            if o.card == card {
                return Ok(format!(
                    "card {card} inserted into reader {reader} (pid {})",
                    o.pid
                ));
            }
        }
        if let Ok(Some(_)) = child.try_wait() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(SimError::Other(
                text.trim().trim_start_matches("error: ").to_string(),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(SimError::Other(format!(
        "the card did not come up in reader {reader}; see {}",
        log.display()
    )))
}

fn eject(state: &Path, reader: u8) -> Result<String, SimError> {
    let Some(o) = occupant(state, reader) else {
        let _ = std::fs::remove_file(reader_file(state, reader));
        return Err(SimError::Other(format!("reader {reader} is empty")));
    };
    // SAFETY: plain signal to a process we started.
    unsafe {
        libc::kill(o.pid as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(o.pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_file(reader_file(state, reader));
    Ok(format!("card {} ejected from reader {reader}", o.card))
}

fn serve_card(
    sim: &Sim,
    card: &str,
    reader: u8,
    fd: Option<i32>,
    pending: Option<String>,
) -> Result<(), SimError> {
    use std::os::fd::{FromRawFd, IntoRawFd};
    let other = |e: std::io::Error| SimError::Other(e.to_string());
    let meta = sim.card(card)?;
    let stream = match fd {
        // SAFETY: the descriptor is the vpcd connection the previous image of this process
        // handed over across exec (see below); nothing else in this process owns it.
        Some(fd) => unsafe { std::net::TcpStream::from_raw_fd(fd) },
        None => reader::connect(reader).map_err(|e| SimError::Other(e.to_string()))?,
    };
    let pending = pending.and_then(|h| hex::decode(h).ok());
    // A test harness can ask the card to leave the reader when the harness is gone
    // (`HSM_SIM_WATCH_PID`), so an interrupted run leaves no card behind.
    if let Some(pid) = std::env::var("HSM_SIM_WATCH_PID")
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
    {
        let file = reader_file(&sim.state, reader);
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(500));
            // SAFETY: signal 0 only asks whether the process exists.
            if unsafe { libc::kill(pid, 0) } != 0 {
                let _ = std::fs::remove_file(&file);
                std::process::exit(0);
            }
        });
    }
    let occ = Occupant {
        pid: std::process::id(),
        card: card.into(),
    };
    let json = serde_json::to_vec(&occ).map_err(|e| SimError::Other(e.to_string()))?;
    hsm_sim::sim::write_atomic(&reader_file(&sim.state, reader), &json)?;
    let mut piv = reader::piv_card(sim, &meta);
    let changed = || piv_pin_changed(sim, card, meta.pin_generation);
    match reader::serve_until(&mut piv, stream, pending, &changed).map_err(other)? {
        None => {
            let _ = std::fs::remove_file(reader_file(&sim.state, reader));
            Ok(())
        }
        Some((frame, stream)) => {
            // The PIN was reset by another process: this process's SoftHSM still knows only
            // the old one. The same process (pid, reader file) becomes a fresh image on the
            // same connection, so the card never leaves the reader, and answers the PIN
            // command with the new PIN.
            use std::os::unix::process::CommandExt;
            let fd = stream.into_raw_fd();
            // SAFETY: clears close-on-exec on a descriptor this process owns.
            unsafe {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            }
            let exe = std::env::current_exe().map_err(other)?;
            let err = std::process::Command::new(exe)
                .arg("--state")
                .arg(&sim.state)
                .args(["serve-card", card, "--reader", &reader.to_string()])
                .args(["--fd", &fd.to_string(), "--pending", &hex::encode(frame)])
                .exec();
            Err(SimError::Other(format!("re-exec after a PIN reset: {err}")))
        }
    }
}

fn piv_pin_changed(sim: &Sim, card: &str, loaded: u32) -> bool {
    sim.card(card).is_ok_and(|m| m.pin_generation != loaded)
}

fn run(cli: Cli) -> Result<(), SimError> {
    let state = cli.state.clone().unwrap_or_else(default_state);
    let json = cli.json;
    let now = OffsetDateTime::now_utc();
    if let Cmd::Pcscd(c) = &cli.cmd {
        return match c {
            PcscdCmd::Start { private: true } => {
                let p = Private::start().map_err(SimError::Other)?;
                let env: serde_json::Map<String, serde_json::Value> = p
                    .env()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), serde_json::Value::String(v)))
                    .collect();
                let dir = p.dir().display().to_string();
                let readers = pcscd::readers();
                let pid = p.detach();
                print(
                    json,
                    &serde_json::json!({ "started": true, "private": true, "pid": pid, "dir": dir, "env": env, "readers": readers }),
                    || {
                        let vars: Vec<String> = env
                            .iter()
                            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                            .collect();
                        format!(
                            "private pcscd started (pid {}); use it with: export {}",
                            pid.unwrap_or(0),
                            vars.join(" ")
                        )
                    },
                );
                Ok(())
            }
            PcscdCmd::Start { private: false } => {
                let p = Pcscd::ensure().map_err(SimError::Other)?;
                let started = p.started_here();
                let pid = p.detach();
                print(
                    json,
                    &serde_json::json!({ "started": started, "pid": pid, "readers": pcscd::readers() }),
                    || {
                        if started {
                            format!(
                                "pcscd started (pid {}); readers: {}",
                                pid.unwrap_or(0),
                                pcscd::readers().join(", ")
                            )
                        } else {
                            format!(
                                "pcscd already running; readers: {}",
                                pcscd::readers().join(", ")
                            )
                        }
                    },
                );
                Ok(())
            }
            PcscdCmd::Status => {
                let r = pcscd::readers();
                print(json, &serde_json::json!({ "readers": r }), || {
                    if r.is_empty() {
                        "pcscd not running (or no readers): start it with `hsm-sim pcscd start` (as root)".into()
                    } else {
                        format!("readers: {}", r.join(", "))
                    }
                });
                Ok(())
            }
        };
    }
    let sim = Sim::open(&state)?;
    match cli.cmd {
        Cmd::Init => {
            let created = sim.init(now)?;
            print(
                json,
                &serde_json::json!({ "created": created, "state": sim.state }),
                || {
                    if created {
                        format!("test PKI created in {}", sim.state.display())
                    } else {
                        format!("test PKI already present in {}", sim.state.display())
                    }
                },
            );
        }
        Cmd::Card(c) => {
            if !sim.initialised() {
                return Err(SimError::NotInitialised);
            }
            match c {
                CardCmd::New {
                    kind,
                    name,
                    national_id,
                    agency_oid,
                    agency_name,
                    pin,
                    card_number,
                    variant,
                    seed,
                } => {
                    let kind = match kind {
                        KindArg::Natural => Kind::Natural,
                        KindArg::Org => Kind::Organization,
                    };
                    let holder = match kind {
                        Kind::Natural => {
                            name.ok_or(SimError::Invalid("name", "--name is required".into()))?
                        }
                        Kind::Organization => agency_name.or(name).ok_or(SimError::Invalid(
                            "agency name",
                            "--agency-name is required".into(),
                        ))?,
                    };
                    let spec = NewCard {
                        kind,
                        holder,
                        national_id,
                        agency_oid,
                        pin,
                        card_number,
                        variant,
                        seed,
                    };
                    let card = sim.new_card(&spec, now)?;
                    print(json, &view(&card), || {
                        format!("card issued: {}", card_line(&card))
                    });
                }
                CardCmd::List => {
                    let cards = sim.cards()?;
                    let views: Vec<_> = cards.iter().map(view).collect();
                    print(json, &views, || {
                        if cards.is_empty() {
                            "no cards".into()
                        } else {
                            cards.iter().map(card_line).collect::<Vec<_>>().join("\n")
                        }
                    });
                }
                CardCmd::Show { card } => {
                    let c = sim.card(&card)?;
                    let v = view(&c);
                    print(json, &v, || {
                        serde_json::to_string_pretty(&v).unwrap_or_default()
                    });
                }
                CardCmd::Revoke { card } => {
                    let c = sim.revoke(&card, now)?;
                    print(json, &view(&c), || {
                        format!("revoked, CRL re-issued: {}", card_line(&c))
                    });
                }
                CardCmd::Lock { card } => {
                    let c = sim.lock(&card)?;
                    print(json, &view(&c), || {
                        format!("PIN blocked: {}", card_line(&c))
                    });
                }
                CardCmd::ResetPin { card, pin } => {
                    let c = sim.reset_pin(&card, &pin)?;
                    print(json, &view(&c), || format!("PIN reset: {}", card_line(&c)));
                }
            }
        }
        Cmd::Insert { card, reader } => {
            let msg = insert(&sim, &card, reader)?;
            print(
                json,
                &serde_json::json!({ "card": card, "reader": reader }),
                || msg,
            );
        }
        Cmd::Eject { reader } => {
            let msg = eject(&sim.state, reader)?;
            print(
                json,
                &serde_json::json!({ "reader": reader, "ejected": true }),
                || msg,
            );
        }
        Cmd::ServeCard {
            card,
            reader,
            fd,
            pending,
        } => serve_card(&sim, &card, reader, fd, pending)?,
        Cmd::Status => {
            let readers = pcscd::readers();
            let slots: Vec<_> = (0..reader::READERS)
                .map(|r| serde_json::json!({ "reader": r, "card": occupant(&sim.state, r).map(|o| o.card) }))
                .collect();
            print(
                json,
                &serde_json::json!({ "state": sim.state, "initialised": sim.initialised(), "pcscd_readers": readers, "slots": slots }),
                || {
                    let mut s = format!(
                        "state: {} ({})\n",
                        sim.state.display(),
                        if sim.initialised() {
                            "initialised"
                        } else {
                            "not initialised: run `hsm-sim init`"
                        }
                    );
                    s.push_str(&if readers.is_empty() {
                        "pcscd: not running (start it with `hsm-sim pcscd start` as root)\n"
                            .to_string()
                    } else {
                        format!("pcscd readers: {}\n", readers.join(", "))
                    });
                    for r in 0..reader::READERS {
                        match occupant(&sim.state, r) {
                            Some(o) => s.push_str(&format!(
                                "reader {r}: card {} (pid {})\n",
                                o.card, o.pid
                            )),
                            None => s.push_str(&format!("reader {r}: empty\n")),
                        }
                    }
                    s.trim_end().to_string()
                },
            );
        }
        Cmd::Pki(PkiCmd::Export { dir }) => {
            let files = sim.export(&dir)?;
            print(json, &files, || {
                files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Cmd::Pki(PkiCmd::Crl { stale }) => {
            sim.write_crls(now, stale)?;
            print(json, &serde_json::json!({ "stale": stale }), || {
                format!("CRLs re-issued{}", if stale { " (stale)" } else { "" })
            });
        }
        Cmd::Pki(PkiCmd::OcspIndex { org }) => {
            let index = sim.ocsp_index(if org { Ca::Gca } else { Ca::Moica })?;
            print!("{index}");
        }
        Cmd::Pki(PkiCmd::OcspResponder { org, pubkey }) => {
            let raw = std::fs::read(&pubkey).map_err(|e| {
                SimError::Invalid("public key", format!("{}: {e}", pubkey.display()))
            })?;
            let der = if raw.starts_with(b"-----BEGIN") {
                use base64::Engine;
                let text = String::from_utf8_lossy(&raw);
                let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
                base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|e| SimError::Invalid("public key", e.to_string()))?
            } else {
                raw
            };
            let cert = sim.ocsp_responder_cert(if org { Ca::Gca } else { Ca::Moica }, &der, now)?;
            print!("{}", hsm_sim::pki::pem("CERTIFICATE", &cert));
        }
        Cmd::Pcscd(_) => {}
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

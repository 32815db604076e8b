//! `ecpa-load`: starts a release portal, prepares accounts and cards, then drives page
//! browsing and sign-ins at fixed rates for a while and reports what it measured.

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use bytes::Bytes;
use clap::Parser;
use hsm_sim::{
    pki::Variant,
    sim::{Kind as CardKind, NewCard, Sim, KEY_SIGN},
};
use http_body_util::{BodyExt, Full};
use hyper::{header, Request, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use rand::Rng;
use std::{
    collections::BTreeMap,
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::process::{Child, Command};

const PASSWORD: &str = "Ecpa-Load-Test-2026";
const DEMO_PASSWORD: &str = "Ecpa-Demo-2026";
const PIN: &str = "123456";
const DEMO_ACCOUNTS: &[&str] = &["wangxm", "linmh", "huangsf", "liujh", "chenzw", "wuzh"];

#[derive(Parser, Debug, Clone)]
#[command(about = "Load test of the ECPA portal (release build, SQLite, demo data)")]
struct Args {
    /// Measured duration in seconds (after setup and warm-up).
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Concurrent simulated users browsing pages.
    #[arg(long, default_value_t = 200)]
    users: usize,
    /// Certificate sign-ins per second.
    #[arg(long, default_value_t = 50)]
    cert_rate: u32,
    /// Password sign-ins per second.
    #[arg(long, default_value_t = 10)]
    password_rate: u32,
    /// Accounts with a bound card.
    #[arg(long, default_value_t = 20)]
    cards: usize,
    /// Revoked entries in an extra complete CRL of the natural-person CA the server loads
    /// (0: only the simulator's own, nearly empty CRLs): certificate sign-in against a
    /// national-scale CRL.
    #[arg(long, default_value_t = 0)]
    crl_entries: u32,
    #[arg(long, default_value = "target/release/ecpa-server")]
    server: PathBuf,
    #[arg(long, default_value = "target/site")]
    site: PathBuf,
}

type Http = Client<HttpConnector, Full<Bytes>>;

struct Reply {
    status: StatusCode,
    cookies: Vec<String>,
    body: String,
}

#[derive(Default)]
struct Stats {
    /// kind → latencies in microseconds
    ok: BTreeMap<&'static str, Vec<u64>>,
    /// kind → error description → count
    errors: BTreeMap<&'static str, BTreeMap<String, u64>>,
}

impl Stats {
    fn ok(&mut self, kind: &'static str, d: Duration) {
        self.ok.entry(kind).or_default().push(d.as_micros() as u64);
    }
    fn err(&mut self, kind: &'static str, what: String) {
        *self
            .errors
            .entry(kind)
            .or_default()
            .entry(what)
            .or_default() += 1;
    }
}

type Shared = Arc<Mutex<Stats>>;

fn record(stats: &Shared, kind: &'static str, r: Result<Duration, String>) {
    if let Ok(mut s) = stats.lock() {
        match r {
            Ok(d) => s.ok(kind, d),
            Err(e) => s.err(kind, e),
        }
    }
}

struct Target {
    http: Http,
    base: String,
}

impl Target {
    async fn send(
        &self,
        method: &str,
        path: &str,
        client: &str,
        cookie: Option<&str>,
        body: Option<(&str, String)>,
    ) -> Result<Reply, String> {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("x-forwarded-for", client)
            .header(header::ORIGIN, &self.base);
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        let (ct, accept, payload) = match body {
            Some((ct, p)) => (Some(ct), "application/json", p),
            None => (None, "text/html", String::new()),
        };
        b = b.header(header::ACCEPT, accept);
        if let Some(ct) = ct {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        let req = b
            .body(Full::new(Bytes::from(payload)))
            .map_err(|e| format!("request: {e}"))?;
        let res = self
            .http
            .request(req)
            .await
            .map_err(|e| format!("transport: {e}"))?;
        let status = res.status();
        let cookies = res
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|c| c.split(';').next().map(str::to_owned))
            .collect();
        let body = res
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        Ok(Reply {
            status,
            cookies,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    async fn form(
        &self,
        path: &str,
        client: &str,
        cookie: Option<&str>,
        fields: &[(&str, &str)],
    ) -> Result<Reply, String> {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.send(
            "POST",
            path,
            client,
            cookie,
            Some(("application/x-www-form-urlencoded", body)),
        )
        .await
    }
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn session_cookie(r: &Reply) -> Option<String> {
    r.cookies
        .iter()
        .find(|c| c.starts_with("ecpa_sid=") && c.len() > "ecpa_sid=".len())
        .cloned()
}

/// A valid national ID for load person `i` (letter Q, women, serial from i).
fn national_id(i: usize) -> String {
    let d8 = format!("2{:07}", 4_200_000 + i);
    let c = ecpa_domain::national_id::check_digit('Q', &d8).unwrap_or(0);
    format!("Q{d8}{c}")
}

fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

struct Server {
    /// Killed when dropped (`kill_on_drop`).
    _child: Child,
    bin: PathBuf,
    db_url: String,
}

impl Server {
    async fn cli(&self, args: &[&str], stdin: &str) -> Result<(), String> {
        use tokio::io::AsyncWriteExt;
        let mut c = Command::new(&self.bin)
            .args(args)
            .env("ECPA_DATABASE_URL", &self.db_url)
            .env_remove("ECPA_CONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", self.bin.display()))?;
        if let Some(mut i) = c.stdin.take() {
            i.write_all(stdin.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
        }
        let out = c.wait_with_output().await.map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "ecpa-server {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(2),
        Err(e) => {
            eprintln!("ecpa-load: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<bool, String> {
    if !args.server.exists() || !args.site.join("pkg/ecpa.wasm").exists() {
        return Err(format!(
            "the release portal is not built ({} / {}): run `make load` (it builds it)",
            args.server.display(),
            args.site.display()
        ));
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let t0 = Instant::now();

    // Test PKI and the server that trusts it.
    let sim = Sim::open(&dir.path().join("sim")).map_err(|e| format!("hsm-sim: {e}"))?;
    sim.init(time::OffsetDateTime::now_utc())
        .map_err(|e| format!("hsm-sim init: {e}"))?;
    let pki = dir.path().join("pki");
    sim.export(&pki)
        .map_err(|e| format!("hsm-sim export: {e}"))?;
    if args.crl_entries > 0 {
        let bytes = sim
            .write_bench_crl(
                hsm_sim::pki::Ca::Moica,
                args.crl_entries,
                &pki.join("bench-moica-complete.crl"),
                time::OffsetDateTime::now_utc(),
            )
            .map_err(|e| format!("hsm-sim bench CRL: {e}"))?;
        println!(
            "natural-person CA's complete CRL: {} entries, {:.1} MB",
            args.crl_entries,
            bytes as f64 / 1e6
        );
    }
    let port = free_port().map_err(|e| e.to_string())?;
    let base = format!("http://127.0.0.1:{port}");
    let db_url = format!("sqlite://{}", dir.path().join("ecpa.db").display());
    let log = std::fs::File::create(dir.path().join("server.log")).map_err(|e| e.to_string())?;
    let child = Command::new(&args.server)
        .args(["serve", "--demo-if-empty"])
        .env("ECPA_DATABASE_URL", &db_url)
        .env("ECPA_LISTEN", format!("127.0.0.1:{port}"))
        .env("ECPA_SITE_ROOT", &args.site)
        .env("ECPA_CARD_PKI_DIR", &pki)
        .env("ECPA_TRUST_FORWARDED_FOR", "true")
        .env("ECPA_MAIL_OUTBOX", dir.path().join("outbox"))
        // ECPA_LOAD_SERVER_LOG: the server's log filter (e.g. `warn,sqlx::query=debug` to
        // time every statement); the log is kept as target/load-server.log.
        .env(
            "ECPA_LOG",
            std::env::var("ECPA_LOAD_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .env_remove("ECPA_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("start {}: {e}", args.server.display()))?;
    let server = Server {
        _child: child,
        bin: args.server.clone(),
        db_url,
    };
    let mut http = Client::builder(hyper_util::rt::TokioExecutor::new());
    http.pool_max_idle_per_host(512);
    let target = Arc::new(Target {
        http: http.build_http(),
        base: base.clone(),
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = target.send("GET", "/readyz", "127.0.0.1", None, None).await {
            if r.status == StatusCode::OK {
                break;
            }
        }
        if Instant::now() > deadline {
            return Err("the server did not become ready".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Registry records, accounts and cards for the certificate sign-ins.
    let mut csv = String::from("身分證統一編號,姓名,電子郵件,機關代碼,服務單位,職稱,人員區分,兼職性質,在職狀態,卸職日期,入檔日期\n");
    for i in 0..args.cards {
        csv.push_str(&format!(
            "{},負載測試{i:02},,315200000H,秘書室,科員,01,,現職,,115/01/15\n",
            national_id(i)
        ));
    }
    let csv_path = dir.path().join("load-people.csv");
    std::fs::write(&csv_path, csv).map_err(|e| e.to_string())?;
    server
        .cli(
            &["personnel", "import", &csv_path.display().to_string()],
            "",
        )
        .await?;
    let mut cards = Vec::new();
    for i in 0..args.cards {
        let name = format!("load{i:02}");
        let nid = national_id(i);
        server
            .cli(
                &[
                    "account",
                    "create",
                    "--name",
                    &name,
                    "--display-name",
                    &format!("負載測試{i:02}"),
                ],
                &format!("{PASSWORD}\n"),
            )
            .await?;
        server
            .cli(
                &["account", "link", "--name", &name, "--national-id", &nid],
                "",
            )
            .await?;
        let card = sim
            .new_card(
                &NewCard {
                    kind: CardKind::Natural,
                    holder: format!("負載測試{i:02}"),
                    national_id: Some(nid),
                    agency_oid: None,
                    pin: PIN.into(),
                    card_number: None,
                    variant: Variant::Good,
                    seed: None,
                },
                time::OffsetDateTime::now_utc(),
            )
            .map_err(|e| format!("card: {e}"))?;
        cards.push((name, card.number, card.sign_cert));
    }
    let sim = Arc::new(Mutex::new(sim));
    for (i, (name, number, cert)) in cards.iter().enumerate() {
        let client = format!("10.9.0.{}", i + 1);
        let r = target
            .form(
                "/api/bind_start",
                &client,
                None,
                &[
                    ("account", name),
                    ("password", PASSWORD),
                    ("kind", "Natural"),
                ],
            )
            .await?;
        let cookie =
            session_cookie(&r).ok_or(format!("bind_start {name}: {} {}", r.status, r.body))?;
        let tbs = challenge(&target, &client, Some(&cookie), "bind").await?.1;
        let sig = sign(&sim, number, &tbs).await?;
        let token = serde_json::json!({"token": {"format": "ecpa-card-v1", "algorithm": "RS256", "certificate": cert, "signature": B64.encode(sig), "tbs": tbs}});
        let r = target
            .send(
                "POST",
                "/api/bind_verify",
                &client,
                Some(&cookie),
                Some(("application/json", token.to_string())),
            )
            .await?;
        if r.status != StatusCode::OK {
            return Err(format!("bind_verify {name}: {} {}", r.status, r.body));
        }
        let r = target
            .form("/api/bind_confirm", &client, Some(&cookie), &[])
            .await?;
        if r.status != StatusCode::OK {
            return Err(format!("bind_confirm {name}: {} {}", r.status, r.body));
        }
    }
    let cards = Arc::new(cards);
    println!(
        "setup: server, {} accounts with bound cards, in {:.1} s",
        cards.len(),
        t0.elapsed().as_secs_f64()
    );

    // Browsing users: each signs in first (not measured), then browses.
    let stats: Shared = Arc::default();
    // Users sign in over the first seconds (staggered: concurrent attempts on one account
    // are held back by the throttle, as for a person); measuring starts after that.
    let measure_from = Instant::now() + Duration::from_secs(10);
    let stop = measure_from + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for u in 0..args.users {
        let target = target.clone();
        let stats = stats.clone();
        tasks.push(tokio::spawn(async move {
            let client = format!("10.1.{}.{}", u / 250, u % 250 + 1);
            let account = DEMO_ACCOUNTS[u % DEMO_ACCOUNTS.len()];
            tokio::time::sleep(Duration::from_millis(30 * u as u64)).await;
            let mut cookie = None;
            for _ in 0..20 {
                if let Ok(r) = target
                    .form(
                        "/api/login",
                        &client,
                        None,
                        &[("account", account), ("password", DEMO_PASSWORD)],
                    )
                    .await
                {
                    if let Some(c) = session_cookie(&r) {
                        cookie = Some(c);
                        break;
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            let Some(cookie) = cookie else {
                record(&stats, "page", Err("could not sign in".into()));
                return;
            };
            // Spread the users' first requests over a second.
            let spread = rand::thread_rng().gen_range(0..1000);
            tokio::time::sleep(Duration::from_millis(spread)).await;
            let pages: [(&'static str, &str); 3] = [
                ("page /", "/"),
                ("page /announcements", "/announcements"),
                ("page /my", "/my"),
            ];
            let mut i = u;
            while Instant::now() < stop {
                let (kind, path) = pages[i % pages.len()];
                i += 1;
                let start = Instant::now();
                let r = target.send("GET", path, &client, Some(&cookie), None).await;
                let took = start.elapsed();
                if start >= measure_from && Instant::now() < stop {
                    record(
                        &stats,
                        kind,
                        match r {
                            Ok(r) if r.status == StatusCode::OK => Ok(took),
                            Ok(r) => Err(format!("HTTP {}", r.status.as_u16())),
                            Err(e) => Err(e),
                        },
                    );
                }
                let think = rand::thread_rng().gen_range(500..1500);
                tokio::time::sleep(Duration::from_millis(think)).await;
            }
        }));
    }

    // Certificate sign-ins, open loop.
    let sign_ms: Shared = Arc::default();
    {
        let (target, stats, cards, sim, sign_ms) = (
            target.clone(),
            stats.clone(),
            cards.clone(),
            sim.clone(),
            sign_ms.clone(),
        );
        tasks.push(tokio::spawn(open_loop(
            args.cert_rate,
            measure_from,
            stop,
            move |n| {
                let (target, stats, cards, sim, sign_ms) = (
                    target.clone(),
                    stats.clone(),
                    cards.clone(),
                    sim.clone(),
                    sign_ms.clone(),
                );
                async move {
                    let (_, number, cert) = &cards[n % cards.len()];
                    let client = format!("10.2.{}.{}", (n / 250) % 250, n % 250 + 1);
                    let r = cert_sign_in(&target, &sim, &client, number, cert).await;
                    match r {
                        Ok(t) => {
                            record(&stats, "certificate sign-in", Ok(t.challenge + t.login));
                            record(&stats, "  of which the challenge request", Ok(t.challenge));
                            record(&stats, "  of which the cert_login request", Ok(t.login));
                            record(&sign_ms, "card signature (SoftHSM)", Ok(t.card));
                        }
                        Err(e) => record(&stats, "certificate sign-in", Err(e)),
                    }
                }
            },
        )));
    }

    // Password sign-ins, open loop.
    {
        let (target, stats, cards) = (target.clone(), stats.clone(), cards.clone());
        tasks.push(tokio::spawn(open_loop(
            args.password_rate,
            measure_from,
            stop,
            move |n| {
                let (target, stats, cards) = (target.clone(), stats.clone(), cards.clone());
                async move {
                    let (name, _, _) = &cards[n % cards.len()];
                    let client = format!("10.3.{}.{}", (n / 250) % 250, n % 250 + 1);
                    let start = Instant::now();
                    let r = target
                        .form(
                            "/api/login",
                            &client,
                            None,
                            &[("account", name), ("password", PASSWORD)],
                        )
                        .await;
                    let took = start.elapsed();
                    record(
                        &stats,
                        "password sign-in",
                        match r {
                            Ok(r) if session_cookie(&r).is_some() => Ok(took),
                            Ok(r) => Err(format!(
                                "HTTP {} {}",
                                r.status.as_u16(),
                                r.body.chars().take(60).collect::<String>()
                            )),
                            Err(e) => Err(e),
                        },
                    );
                }
            },
        )));
    }
    for t in tasks {
        let _ = t.await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(server);

    // Report.
    let s = stats.lock().map_err(|_| "stats lock")?;
    let secs = args.seconds as f64;
    println!(
        "\n{} s measured; {} users browsing (think 0.5–1.5 s), {} certificate and {} password sign-ins per second offered.\n",
        args.seconds, args.users, args.cert_rate, args.password_rate
    );
    println!("| kind | ok | per second | p50 ms | p99 ms | max ms | errors |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    let mut pass = true;
    let mut kinds: Vec<&'static str> = s.ok.keys().chain(s.errors.keys()).copied().collect();
    kinds.sort();
    kinds.dedup();
    for kind in kinds {
        let mut v = s.ok.get(kind).cloned().unwrap_or_default();
        v.sort_unstable();
        let errs = s.errors.get(kind).cloned().unwrap_or_default();
        let err_text = if errs.is_empty() {
            "0".to_string()
        } else {
            errs.iter()
                .map(|(k, n)| format!("{n}× {k}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let (p50, p99, max) = (
            percentile(&v, 0.5),
            percentile(&v, 0.99),
            percentile(&v, 1.0),
        );
        let limit = if kind.starts_with("page") {
            100.0
        } else {
            250.0
        };
        if !errs.is_empty() || p99 > limit {
            pass = false;
        }
        println!(
            "| {kind} | {} | {:.1} | {p50:.1} | {p99:.1} | {max:.1} | {err_text} |",
            v.len(),
            v.len() as f64 / secs
        );
    }
    if let Ok(c) = sign_ms.lock() {
        if let Some(v) = c.ok.get("card signature (SoftHSM)") {
            let mut v = v.clone();
            v.sort_unstable();
            println!(
                "\ncard signatures (SoftHSM, in this process, not part of the sign-in latency): p50 {:.1} ms, p99 {:.1} ms",
                percentile(&v, 0.5),
                percentile(&v, 0.99)
            );
        }
    }
    println!(
        "\ntarget: no errors, p99 < 100 ms for pages and < 250 ms for sign-ins: {}",
        if pass { "MET" } else { "NOT MET" }
    );
    if std::env::var_os("ECPA_LOAD_SERVER_LOG").is_some() {
        let kept = PathBuf::from("target/load-server.log");
        if std::fs::copy(dir.path().join("server.log"), &kept).is_ok() {
            println!("server log: {}", kept.display());
        }
    }
    Ok(pass)
}

/// Starts `job(n)` for n = 1, 2, … at `rate` per second from `from` until `stop`, without
/// waiting for earlier ones (open loop: a slow server does not slow the arrivals).
async fn open_loop<F, Fut>(rate: u32, from: Instant, stop: Instant, job: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::time::sleep_until(from.into()).await;
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / u64::from(rate.max(1))));
    let mut n: usize = 0;
    while Instant::now() < stop {
        tick.tick().await;
        n += 1;
        tokio::spawn(job(n));
    }
}

async fn challenge(
    target: &Target,
    client: &str,
    cookie: Option<&str>,
    purpose: &str,
) -> Result<(Option<String>, String), String> {
    let r = target
        .form(
            "/api/card_challenge",
            client,
            cookie,
            &[("purpose", purpose)],
        )
        .await?;
    if r.status != StatusCode::OK {
        return Err(format!("challenge: HTTP {} {}", r.status.as_u16(), r.body));
    }
    let tbs: String = serde_json::from_str(&r.body).map_err(|e| format!("challenge body: {e}"))?;
    Ok((session_cookie(&r), tbs))
}

async fn sign(sim: &Arc<Mutex<Sim>>, number: &str, tbs: &str) -> Result<Vec<u8>, String> {
    let (sim, number, tbs) = (sim.clone(), number.to_string(), tbs.to_string());
    tokio::task::spawn_blocking(move || {
        let s = sim.lock().map_err(|_| "sim lock".to_string())?;
        s.sign(&number, PIN, KEY_SIGN, tbs.as_bytes())
            .map_err(|e| format!("sign: {e}"))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// One certificate sign-in.
async fn cert_sign_in(
    target: &Target,
    sim: &Arc<Mutex<Sim>>,
    client: &str,
    number: &str,
    cert: &str,
) -> Result<SignIn, String> {
    let start = Instant::now();
    let (cookie, tbs) = challenge(target, client, None, "login").await?;
    let first = start.elapsed();
    let cookie = cookie.ok_or("challenge: no session cookie")?;
    let s = Instant::now();
    let sig = sign(sim, number, &tbs).await?;
    let card = s.elapsed();
    let token = serde_json::json!({"token": {"format": "ecpa-card-v1", "algorithm": "RS256", "certificate": cert, "signature": B64.encode(sig), "tbs": tbs}});
    let start2 = Instant::now();
    let r = target
        .send(
            "POST",
            "/api/cert_login",
            client,
            Some(&cookie),
            Some(("application/json", token.to_string())),
        )
        .await?;
    let second = start2.elapsed();
    if r.status != StatusCode::OK || session_cookie(&r).is_none() {
        return Err(format!(
            "cert_login: HTTP {} {}",
            r.status.as_u16(),
            r.body.chars().take(80).collect::<String>()
        ));
    }
    Ok(SignIn {
        challenge: first,
        login: second,
        card,
    })
}

/// The times of one certificate sign-in.
struct SignIn {
    /// The challenge request (server work, as seen by the client).
    challenge: Duration,
    /// The `cert_login` request.
    login: Duration,
    /// The card's signature (SoftHSM in the generator; not the server's work).
    card: Duration,
}

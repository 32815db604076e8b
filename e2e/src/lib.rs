//! The end-to-end harness: starts the real server (fresh database per scenario),
//! ChromeDriver and a headless Chromium, and tears all of it down again.
//!
//! Nothing here is mocked: the server is the `ecpa-server` binary cargo-leptos built, the
//! site its compiled wasm, the browser Debian's Chromium.

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};
use tokio::process::{Child, Command};

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("{0}")]
    Setup(String),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("WebDriver session: {0}")]
    Session(#[from] fantoccini::error::NewSessionError),
    #[error("WebDriver: {0}")]
    Cmd(#[from] fantoccini::error::CmdError),
    /// An expectation of a scenario was not met.
    #[error("{0}")]
    Check(String),
}

pub type Result<T> = std::result::Result<T, HarnessError>;

/// The workspace root (this crate lives in `<root>/e2e`).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Where failed scenarios leave screenshots, HTML and logs.
pub fn report_dir() -> PathBuf {
    std::env::var_os("ECPA_E2E_REPORT")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/e2e-report"))
}

pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Children die with the harness, even when it is killed.
fn die_with_parent(cmd: &mut Command) {
    cmd.kill_on_drop(true);
    // SAFETY: prctl with PR_SET_PDEATHSIG is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

async fn wait_http_ok(url: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let addr = url.trim_start_matches("http://");
    let (hostport, path) = addr
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((addr, "/".into()));
    loop {
        if let Ok(mut s) = tokio::net::TcpStream::connect(hostport).await {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let req =
                format!("GET {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n");
            if s.write_all(req.as_bytes()).await.is_ok() {
                // Only the status line matters; some servers keep the connection open.
                let mut buf = [0u8; 12];
                let read =
                    tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut buf)).await;
                if matches!(read, Ok(Ok(_))) && &buf == b"HTTP/1.1 200" {
                    return Ok(());
                }
            }
        }
        if Instant::now() > deadline {
            return Err(HarnessError::Setup(format!(
                "{url} did not answer 200 within {timeout:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One portal server with its own fresh SQLite database and demo data.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub base_url: String,
    pub log: PathBuf,
    /// Where this server writes its mail (`.eml` files, names in sending order).
    pub outbox: PathBuf,
    bin: PathBuf,
    database_url: String,
    _dir: tempfile::TempDir,
}

/// How a scenario's server is started.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Listen on this port (default: a free one).
    pub port: Option<u16>,
    /// hsm-sim's exported trust anchors and CRLs (enables certificate sign-in).
    pub card_pki_dir: Option<PathBuf>,
    /// The card agent's origin the pages use.
    pub agent_origin: Option<String>,
}

impl Server {
    pub async fn start() -> Result<Self> {
        Self::start_with(ServerOptions::default()).await
    }

    pub async fn start_with(opts: ServerOptions) -> Result<Self> {
        let root = workspace();
        let bin = std::env::var_os("ECPA_E2E_SERVER_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/debug/ecpa-server"));
        let site = std::env::var_os("ECPA_E2E_SITE_ROOT")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/site"));
        if !bin.exists() || !site.join("pkg/ecpa.wasm").exists() {
            return Err(HarnessError::Setup(format!(
                "the portal is not built ({} / {}): run `make e2e` (it runs `cargo leptos build` first)",
                bin.display(),
                site.display()
            )));
        }
        let dir = tempfile::tempdir()?;
        let port = match opts.port {
            Some(p) => p,
            None => free_port()?,
        };
        let log = dir.path().join("server.log");
        let out = std::fs::File::create(&log)?;
        let database_url = format!("sqlite://{}", dir.path().join("ecpa.db").display());
        let outbox = dir.path().join("outbox");
        let mut cmd = Command::new(&bin);
        cmd.arg("serve")
            .arg("--demo-if-empty")
            .env("ECPA_DATABASE_URL", &database_url)
            .env("ECPA_LISTEN", format!("127.0.0.1:{port}"))
            .env("ECPA_SITE_ROOT", &site)
            .env("ECPA_LOG", "info,sqlx=warn")
            .env("ECPA_MAIL_OUTBOX", &outbox)
            .env_remove("ECPA_SMTP_HOST")
            .env_remove("ECPA_CONFIG")
            .env_remove("ECPA_CARD_PKI_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone()?))
            .stderr(Stdio::from(out));
        if let Some(dir) = &opts.card_pki_dir {
            cmd.env("ECPA_CARD_PKI_DIR", dir);
        }
        if let Some(o) = &opts.agent_origin {
            cmd.env("ECPA_AGENT_ORIGIN", o);
        }
        die_with_parent(&mut cmd);
        let child = cmd.spawn()?;
        let base_url = format!("http://127.0.0.1:{port}");
        let server = Self {
            child,
            base_url,
            log,
            outbox,
            bin,
            database_url,
            _dir: dir,
        };
        if let Err(e) = wait_http_ok(
            &format!("{}/readyz", server.base_url),
            Duration::from_secs(30),
        )
        .await
        {
            let log = std::fs::read_to_string(&server.log).unwrap_or_default();
            return Err(HarnessError::Setup(format!("{e}\nserver log:\n{log}")));
        }
        Ok(server)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// The text bodies of the mails sent to `to`, oldest first.
    pub fn mails_to(&self, to: &str) -> Vec<String> {
        use base64::Engine;
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.outbox)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .filter(|m| m.contains(&format!("To: {to}")))
            .filter_map(|m| {
                let m = m.replace("\r\n", "\n");
                let (_, body) = m.split_once("\n\n")?;
                let b64: String = body.split_whitespace().collect();
                let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
                String::from_utf8(bytes).ok()
            })
            .collect()
    }

    /// Runs the operator CLI (`ecpa-server ARGS`) on this scenario's database, `stdin` as input.
    pub async fn cli(&self, args: &[&str], stdin: &str) -> Result<String> {
        use tokio::io::AsyncWriteExt;
        let mut child = Command::new(&self.bin)
            .args(args)
            .env("ECPA_DATABASE_URL", &self.database_url)
            .env_remove("ECPA_CONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(mut i) = child.stdin.take() {
            i.write_all(stdin.as_bytes()).await?;
        }
        let out = child.wait_with_output().await?;
        if !out.status.success() {
            return Err(HarnessError::Setup(format!(
                "ecpa-server {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub async fn stop(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// ChromeDriver, one per run.
#[derive(Debug)]
pub struct Driver {
    child: Child,
    pub url: String,
}

impl Driver {
    pub async fn start() -> Result<Self> {
        let port = free_port()?;
        let bin = std::env::var("ECPA_E2E_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let mut cmd = Command::new(&bin);
        cmd.arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        die_with_parent(&mut cmd);
        let child = cmd.spawn().map_err(|e| {
            HarnessError::Setup(format!("cannot start {bin} ({e}); run `make setup`"))
        })?;
        let url = format!("http://127.0.0.1:{port}");
        wait_http_ok(&format!("{url}/status"), Duration::from_secs(20)).await?;
        Ok(Self { child, url })
    }

    pub async fn stop(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// Options for one browser session.
#[derive(Debug, Clone, Copy, Default)]
pub struct BrowserOptions {
    pub javascript_disabled: bool,
}

/// A headless Chromium with a fresh profile.
pub async fn browser(
    driver: &DriverRef<'_>,
    profile: &Path,
    opts: BrowserOptions,
) -> Result<Client> {
    let chromium =
        std::env::var("ECPA_E2E_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let mut args = vec![
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--no-first-run".into(),
        "--disable-dev-shm-usage".into(),
        "--window-size=1280,900".into(),
        "--lang=zh-TW".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    if opts.javascript_disabled {
        args.push("--blink-settings=scriptEnabled=false".into());
    }
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": chromium, "args": args },
    });
    let caps = match caps {
        serde_json::Value::Object(m) => m,
        _ => return Err(HarnessError::Setup("capabilities".into())),
    };
    let mut builder = ClientBuilder::new(HttpConnector::new());
    builder.capabilities(caps);
    Ok(builder.connect(driver.url).await?)
}

impl Driver {
    /// A handle to a running ChromeDriver (started once per run by the suite's `main`).
    pub fn attach(url: &str) -> DriverRef<'_> {
        DriverRef { url }
    }
}

/// A borrowed ChromeDriver address.
#[derive(Debug, Clone, Copy)]
pub struct DriverRef<'a> {
    pub url: &'a str,
}

/// The card side of a scenario: its own hsm-sim state (test PKI and cards, keys in SoftHSM),
/// pcscd with the virtual readers (the machine's one, started if missing), and a card agent
/// on a free port using OpenSC's PKCS#11 module. Cards are ejected and the agent stopped at
/// [`CardLab::stop`] (and the agent dies with the harness).
#[derive(Debug)]
pub struct CardLab {
    dir: tempfile::TempDir,
    sim: PathBuf,
    agent: Option<Child>,
    pub agent_port: u16,
    pub agent_log: PathBuf,
    inserted: Vec<u8>,
}

/// OpenSC's PKCS#11 module (Debian's path; `ECPA_E2E_PKCS11` overrides).
pub fn opensc_module() -> String {
    std::env::var("ECPA_E2E_PKCS11")
        .unwrap_or_else(|_| "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so".into())
}

fn hsm_sim_bin() -> Result<PathBuf> {
    let sim = std::env::var_os("ECPA_E2E_HSM_SIM")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/debug/hsm-sim"));
    if !sim.exists() {
        return Err(HarnessError::Setup(format!(
            "{} is not built: run `make e2e` (it builds hsm-sim and the agent)",
            sim.display()
        )));
    }
    Ok(sim)
}

/// Where pcscd's output goes when this run starts it.
pub fn pcscd_log() -> PathBuf {
    report_dir().join("pcscd.log")
}

/// pcscd with the virtual readers for the whole run: started when none runs (as root), and
/// stopped again at the end if this run started it, so the machine is left as found.
#[derive(Debug)]
pub struct PcscdGuard {
    started_pid: Option<i32>,
}

impl PcscdGuard {
    pub async fn start() -> Result<Self> {
        let state = tempfile::tempdir()?;
        std::fs::create_dir_all(report_dir())?;
        let out = Command::new(hsm_sim_bin()?)
            .arg("--state")
            .arg(state.path())
            .args(["pcscd", "start", "--json"])
            .env("HSM_SIM_PCSCD_LOG", pcscd_log())
            .stdin(Stdio::null())
            .output()
            .await?;
        if !out.status.success() {
            return Err(HarnessError::Setup(format!(
                "hsm-sim pcscd start: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| HarnessError::Setup(format!("hsm-sim pcscd start: {e}")))?;
        let started_pid = if v.get("started").and_then(|s| s.as_bool()) == Some(true) {
            v.get("pid")
                .and_then(|p| p.as_i64())
                .and_then(|p| i32::try_from(p).ok())
        } else {
            None
        };
        Ok(Self { started_pid })
    }

    /// The pid of the pcscd this run started, if it did.
    pub fn started_pid(&self) -> Option<i32> {
        self.started_pid
    }

    pub fn stop(&mut self) {
        if let Some(pid) = self.started_pid.take() {
            // SAFETY: kill(2) on a pid we started; no memory is shared.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
    }
}

impl Drop for PcscdGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

impl CardLab {
    /// A fresh test PKI, exported for the server. The agent starts with [`CardLab::start_agent`].
    pub async fn new() -> Result<Self> {
        let sim = hsm_sim_bin()?;
        let dir = tempfile::tempdir()?;
        let lab = Self {
            agent_log: dir.path().join("agent.log"),
            dir,
            sim,
            agent: None,
            agent_port: free_port()?,
            inserted: vec![],
        };
        lab.sim(&["init"]).await?;
        lab.sim(&["pki", "export", &lab.pki_dir().display().to_string()])
            .await?;
        Ok(lab)
    }

    pub fn pki_dir(&self) -> PathBuf {
        self.dir.path().join("pki")
    }

    pub fn agent_origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.agent_port)
    }

    /// Runs `hsm-sim --state <this lab> ARGS --json`; its standard output.
    pub async fn sim(&self, args: &[&str]) -> Result<String> {
        let out = Command::new(&self.sim)
            .arg("--state")
            .arg(self.dir.path().join("sim"))
            .args(args)
            .arg("--json")
            // Inserted cards leave their readers when the harness is gone.
            .env("HSM_SIM_WATCH_PID", std::process::id().to_string())
            .stdin(Stdio::null())
            .output()
            .await?;
        if !out.status.success() {
            return Err(HarnessError::Setup(format!(
                "hsm-sim {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Issues a card; returns its number.
    pub async fn new_card(&self, args: &[&str]) -> Result<String> {
        let mut all = vec!["card", "new"];
        all.extend_from_slice(args);
        let out = self.sim(&all).await?;
        let v: serde_json::Value = serde_json::from_str(&out)
            .map_err(|e| HarnessError::Setup(format!("hsm-sim card new: {e}: {out}")))?;
        v.get("number")
            .and_then(|n| n.as_str())
            .map(str::to_string)
            .ok_or_else(|| HarnessError::Setup(format!("hsm-sim card new: no number in {out}")))
    }

    pub async fn insert(&mut self, number: &str, reader: u8) -> Result<()> {
        let r = reader.to_string();
        let _ = self.sim(&["eject", "--reader", &r]).await;
        self.sim(&["insert", number, "--reader", &r]).await?;
        self.inserted.push(reader);
        Ok(())
    }

    pub async fn eject(&mut self, reader: u8) -> Result<()> {
        self.sim(&["eject", "--reader", &reader.to_string()])
            .await?;
        self.inserted.retain(|r| *r != reader);
        Ok(())
    }

    /// Stops the agent (the page then finds no component on the port).
    pub async fn stop_agent(&mut self) {
        if let Some(mut a) = self.agent.take() {
            let _ = a.kill().await;
            let _ = a.wait().await;
        }
    }

    /// Restarts the agent trusting exactly `sites` (configured) and forgetting sites the
    /// user added earlier.
    pub async fn restart_agent(&mut self, sites: &[&str]) -> Result<()> {
        self.stop_agent().await;
        let _ = std::fs::remove_file(self.dir.path().join("trusted-sites.json"));
        self.start_agent_trusting(sites).await
    }

    /// Starts the agent, trusting `site` (or nobody when `None`: the page must ask).
    pub async fn start_agent(&mut self, site: Option<&str>) -> Result<()> {
        let sites: Vec<&str> = site.into_iter().collect();
        self.start_agent_trusting(&sites).await
    }

    async fn start_agent_trusting(&mut self, sites: &[&str]) -> Result<()> {
        let bin = std::env::var_os("ECPA_E2E_AGENT")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace().join("target/debug/ecpa-agent"));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.agent_log)?;
        let mut cmd = Command::new(&bin);
        cmd.arg("--port")
            .arg(self.agent_port.to_string())
            .arg("--module")
            .arg(opensc_module())
            .arg("--trust-file")
            .arg(self.dir.path().join("trusted-sites.json"))
            .arg("--log")
            .arg("info")
            .env_remove("ECPA_AGENT_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone()?))
            .stderr(Stdio::from(out));
        for site in sites {
            cmd.arg("--trust").arg(site);
        }
        die_with_parent(&mut cmd);
        self.agent =
            Some(cmd.spawn().map_err(|e| {
                HarnessError::Setup(format!("cannot start {}: {e}", bin.display()))
            })?);
        wait_http_ok(
            &format!("{}/", self.agent_origin()),
            Duration::from_secs(15),
        )
        .await
    }

    pub async fn stop(&mut self) {
        if let Some(mut a) = self.agent.take() {
            let _ = a.kill().await;
        }
        for r in std::mem::take(&mut self.inserted) {
            let _ = self.sim(&["eject", "--reader", &r.to_string()]).await;
        }
    }
}

/// Another site on this machine (a different origin from the portal's), serving one page
/// that tries to use the card agent: through the popup relay (`#relay`) and by posting to
/// it directly (`#direct`). What the agent answered is written into `#relay-result` /
/// `#direct-result`.
#[derive(Debug)]
pub struct ForeignSite {
    pub origin: String,
    task: tokio::task::JoinHandle<()>,
}

impl ForeignSite {
    /// `request` is the JSON the page sends to the agent.
    pub async fn start(agent_origin: &str, request: &serde_json::Value) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let origin = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
        let agent = serde_json::to_string(agent_origin).unwrap_or_default();
        let req = serde_json::to_string(&request.to_string()).unwrap_or_default();
        let html = format!(
            r#"<!DOCTYPE html><html lang="zh-Hant-TW"><meta charset="utf-8"><title>另一個網站</title>
<body><h1>另一個網站</h1>
<button id="relay" type="button">經由讀卡元件視窗</button>
<button id="direct" type="button">直接呼叫讀卡元件</button>
<pre id="relay-result"></pre><pre id="direct-result"></pre>
<script>
var AGENT = {agent}, REQ = {req}, popup = null;
window.addEventListener('message', function (ev) {{
  if (ev.origin !== AGENT) return;
  var d = typeof ev.data === 'string' ? ev.data : JSON.stringify(ev.data);
  if (d.indexOf('getTbs') >= 0) {{ popup.postMessage(REQ, AGENT); return; }}
  document.getElementById('relay-result').textContent = d;
}});
document.getElementById('relay').onclick = function () {{
  popup = window.open(AGENT + '/popupForm', 'agent', 'width=400,height=300');
  setTimeout(function () {{ var r = document.getElementById('relay-result'); if (!r.textContent) r.textContent = 'no answer'; }}, 20000);
}};
document.getElementById('direct').onclick = function () {{
  fetch(AGENT + '/sign', {{ method: 'POST', headers: {{ 'Content-Type': 'application/x-www-form-urlencoded' }}, body: 'tbsPackage=' + encodeURIComponent(REQ) }})
    .then(function (r) {{ return r.text(); }})
    .then(function (t) {{ document.getElementById('direct-result').textContent = t; }})
    .catch(function () {{ document.getElementById('direct-result').textContent = 'blocked'; }});
}};
</script></body></html>"#
        );
        let task = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut s, _)) = listener.accept().await {
                let html = html.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let res = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{html}",
                        html.len()
                    );
                    let _ = s.write_all(res.as_bytes()).await;
                });
            }
        });
        Ok(Self { origin, task })
    }
}

impl Drop for ForeignSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

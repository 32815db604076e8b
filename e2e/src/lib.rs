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
        // The port is free when picked, but another process may take it before the server
        // binds it: a server that reports so is started again on another port.
        let mut attempt = 0;
        loop {
            attempt += 1;
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
            let mut server = Self {
                child,
                base_url,
                log,
                outbox,
                bin: bin.clone(),
                database_url,
                _dir: dir,
            };
            // Ready, or the server gave up (a port taken between `free_port` and the server's
            // bind by another process: then again on another port).
            let ready_url = format!("{}/readyz", server.base_url);
            let failed = tokio::select! {
                r = wait_http_ok(&ready_url, Duration::from_secs(30)) => r.err().map(|e| e.to_string()),
                status = server.child.wait() => Some(format!("the server exited ({status:?})")),
            };
            let Some(e) = failed else {
                return Ok(server);
            };
            let log = std::fs::read_to_string(&server.log).unwrap_or_default();
            if opts.port.is_none() && attempt < 3 && log.contains("Address already in use") {
                continue;
            }
            return Err(HarnessError::Setup(format!("{e}\nserver log:\n{log}")));
        }
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

/// A pcscd of the run's own (hsm-sim's private pcscd: its own socket and vpcd ports, in a
/// mount namespace), so the suite never depends on the machine's readers being free (`make
/// run`'s demo cards may still be in them) and never disturbs them. Its variables
/// (`PCSCLITE_CSOCK_NAME`, `HSM_SIM_VPCD_PORT`) are set in this process, so the agent and
/// the card processes the harness starts use it. Stopped (and its folder removed) at the end.
#[derive(Debug)]
pub struct PcscdGuard {
    started_pid: Option<i32>,
    dir: Option<PathBuf>,
}

impl PcscdGuard {
    pub async fn start() -> Result<Self> {
        let state = tempfile::tempdir()?;
        std::fs::create_dir_all(report_dir())?;
        let out = Command::new(hsm_sim_bin()?)
            .arg("--state")
            .arg(state.path())
            .args(["pcscd", "start", "--private", "--json"])
            .env("HSM_SIM_PCSCD_LOG", pcscd_log())
            .stdin(Stdio::null())
            .output()
            .await?;
        if !out.status.success() {
            return Err(HarnessError::Setup(format!(
                "hsm-sim pcscd start --private: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| HarnessError::Setup(format!("hsm-sim pcscd start: {e}")))?;
        let started_pid = v
            .get("pid")
            .and_then(|p| p.as_i64())
            .and_then(|p| i32::try_from(p).ok());
        let dir = v.get("dir").and_then(|d| d.as_str()).map(PathBuf::from);
        if let Some(env) = v.get("env").and_then(|e| e.as_object()) {
            for (k, val) in env {
                if let Some(val) = val.as_str() {
                    std::env::set_var(k, val);
                }
            }
        }
        Ok(Self { started_pid, dir })
    }

    /// The pid of the pcscd this run started.
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
        if let Some(d) = self.dir.take() {
            let _ = std::fs::remove_dir_all(d);
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
        Self::serve(listener, origin, html)
    }

    /// A site as real 自然人憑證 login sites use the HiPKI component (Chunghwa's samples, a
    /// MOICA login page; written from the facts in `../shared/notes/hipki-protocol.md`):
    /// detects the component and its readers from `p11Image.bmp`, asks to be trusted through
    /// `/addDomain?domain=<location.hostname>`, reads the certificates and has a PKCS7
    /// signature made through the `/popupForm` relay, pre-escaping the package as they do.
    pub async fn third_party(agent_origin: &str) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let origin = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
        let agent = serde_json::to_string(agent_origin).unwrap_or_default();
        let html = format!(
            r#"<!DOCTYPE html><html lang="zh-Hant-TW"><meta charset="utf-8"><title>其他機關網站</title>
<body><h1>其他機關網站：自然人憑證登入</h1>
<button id="detect" type="button">偵測讀卡元件</button><pre id="detect-result"></pre>
<button id="add-domain" type="button">加入信任網站</button><pre id="trust-result"></pre>
<button id="read" type="button">讀取憑證</button><pre id="read-result"></pre>
<label for="pin">PIN 碼</label><input id="pin" type="password" autocomplete="off">
<button id="sign" type="button">簽章登入</button><pre id="sign-result"></pre><pre id="tbs"></pre>
<script>
var AGENT = {agent}, popup = null, pending = null, slot = '';
function imageInfo(ctx) {{
  var out = '';
  for (var i = 0; i < 2000; i++) {{
    var d = ctx.getImageData(i, 0, 1, 1).data;
    if (d[2] == 0) break;
    out = out + String.fromCharCode(d[2], d[1], d[0]);
  }}
  if (out == '') out = '{{"ret_code": 1979711501,"message": "執行檔錯誤或逾時"}}';
  return out;
}}
document.getElementById('detect').onclick = function () {{
  document.getElementById('detect-result').textContent = '';
  var img = document.createElement('img');
  img.crossOrigin = 'Anonymous';
  img.src = AGENT + '/p11Image.bmp?' + new Date().getTime();
  var canvas = document.createElement('canvas');
  canvas.width = 2000; canvas.height = 1;
  var ctx = canvas.getContext('2d');
  img.onload = function () {{ ctx.drawImage(img, 0, 0); document.getElementById('detect-result').textContent = imageInfo(ctx); }};
  img.onerror = function () {{ document.getElementById('detect-result').textContent = '未安裝客戶端程式或未啟動服務'; }};
}};
document.getElementById('add-domain').onclick = function () {{
  popup = window.open(AGENT + '/addDomain?domain=' + window.location.hostname, 'addDomain', 'width=460,height=320');
}};
function relay(pkg) {{ pending = pkg; popup = window.open(AGENT + '/popupForm', 'popupForm', 'width=400,height=300'); }}
document.getElementById('read').onclick = function () {{ relay(JSON.stringify({{func: 'GetUserCert'}})); }};
document.getElementById('sign').onclick = function () {{
  var b = ''; for (var i = 255; i >= 0; i--) b += String.fromCharCode(i);
  var tbs = btoa(b);
  document.getElementById('tbs').textContent = tbs;
  var pin = document.getElementById('pin').value;
  relay(JSON.stringify({{func: 'MakeSignature', signatureType: 'PKCS7', tbs: encodeURIComponent(tbs), tbsEncoding: 'base64', hashAlgorithm: 'SHA256', pin: encodeURIComponent(pin), nonce: '', withCardSN: 'true', slotDescription: slot}}).replace(/\+/g, '%2B'));
}};
window.addEventListener('message', function (ev) {{
  if (ev.origin != AGENT) return;
  var d = typeof ev.data === 'string' ? ev.data : JSON.stringify(ev.data);
  var ret; try {{ ret = JSON.parse(d); }} catch (e) {{ return; }}
  if (ret.func == 'getTbs') {{ popup.postMessage(pending, AGENT); return; }}
  if (ret.func == 'pkcs11info') {{
    for (var i in ret.slots) {{ if (ret.slots[i].token instanceof Object) {{ slot = ret.slots[i].slotDescription; break; }} }}
    document.getElementById('read-result').textContent = d;
  }} else if (ret.func == 'sign') {{ document.getElementById('sign-result').textContent = d; }}
  else {{ document.getElementById('trust-result').textContent = d; }}
}});
</script></body></html>"#
        );
        Self::serve(listener, origin, html)
    }

    fn serve(listener: tokio::net::TcpListener, origin: String, html: String) -> Result<Self> {
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

/// A second implementation of the HiPKI Local Server's wire protocol, behaving like
/// Chunghwa Telecom's component where it differs from our agent (from the facts in
/// `../shared/notes/hipki-protocol.md`, not from our agent's code):
/// * its `/popupForm` relay checks nobody: it answers any opener with `postMessage(…, "*")`
///   and forwards `"tbsPackage=" + message` unencoded;
/// * it enforces no origin at all (any page may use it);
/// * it lists an empty reader first, a reader with `"token": "unknown token"`, and on the card
///   the `ROOT CA Cert` and `CA Cert` (with `digitalSignature` in its usage) before `cert1`;
/// * codes are negative 32-bit numbers where the real one sends them so.
///
/// The card itself is reached through our agent, called as the portal would call it
/// directly (the double has no card stack of its own): what is tested is the portal's pages
/// against the other protocol behaviour.
#[derive(Debug)]
pub struct HipkiDouble {
    pub origin: String,
    task: tokio::task::JoinHandle<()>,
}

const DOUBLE_RELAY: &str = r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>HiPKI</title></head><body>
<p id="s">HiPKI Local Server</p>
<script>
var done = false;
window.addEventListener('message', function (ev) {
  if (done) return;
  var req; try { req = JSON.parse(ev.data); } catch (e) { return; }
  var url, body = '';
  if (req.func == 'GetUserCert') url = '/pkcs11info?withcert=true';
  else if (req.func == 'CheckEnvir') url = '/pkcs11info';
  else if (req.func == 'MakeSignature') { url = '/sign'; body = 'tbsPackage=' + ev.data; }
  else return;
  done = true;
  var x = new XMLHttpRequest();
  x.open('POST', url, true);
  x.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded');
  x.onload = function () { window.opener.postMessage(x.responseText, '*'); setTimeout(function () { window.close(); }, 50); };
  x.send(body);
});
window.opener.postMessage(JSON.stringify({func: 'getTbs'}), '*');
</script></body></html>"#;

impl HipkiDouble {
    /// `agent`: our agent's origin (the card path); `portal`: the site it calls the agent
    /// as; `pki`: the scenario's exported test PKI (the CA certificates "on the card").
    pub async fn start(agent: &str, portal: &str, pki: &Path) -> Result<Self> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let root = b64.encode(std::fs::read(pki.join("test-grca-root.der"))?);
        let ca = b64.encode(std::fs::read(pki.join("test-moica.der"))?);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let origin = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
        let ctx = std::sync::Arc::new((agent.to_string(), portal.to_string(), root, ca));
        let task = tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                let ctx = ctx.clone();
                tokio::spawn(async move {
                    let _ = Self::handle(s, &ctx).await;
                });
            }
        });
        Ok(Self { origin, task })
    }

    async fn handle(
        mut s: tokio::net::TcpStream,
        ctx: &(String, String, String, String),
    ) -> std::io::Result<()> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let head_end = loop {
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > 256 * 1024 {
                return Ok(());
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let len = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        while buf.len() < head_end + len {
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = buf[head_end..].to_vec();
        let mut first = head.lines().next().unwrap_or_default().split(' ');
        let (method, target) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
        let path = target.split('?').next().unwrap_or("");
        let (ctype, answer) = match (method, path) {
            ("GET", "/popupForm") => ("text/html; charset=utf-8", DOUBLE_RELAY.to_string()),
            ("POST", "/pkcs11info") => {
                let with_cert = target.contains("withcert=true");
                let v = Self::forward(ctx, target, Vec::new()).await;
                (
                    "application/json",
                    Self::as_real_one(v, with_cert, ctx).to_string(),
                )
            }
            ("POST", "/sign") => {
                let v = Self::forward(ctx, "/sign", body).await;
                ("application/json", v.to_string())
            }
            _ => {
                let res =
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                return s.write_all(res.as_bytes()).await;
            }
        };
        let res = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
            answer.len()
        );
        s.write_all(res.as_bytes()).await
    }

    /// The card operation, through our agent (as the portal calling it directly).
    async fn forward(
        ctx: &(String, String, String, String),
        target: &str,
        body: Vec<u8>,
    ) -> serde_json::Value {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let failed =
            serde_json::json!({"func": "pkcs11info", "ret_code": 0x7600000Du32, "last_error": 0});
        let Some(hostport) = ctx.0.strip_prefix("http://") else {
            return failed;
        };
        let Ok(mut s) = tokio::net::TcpStream::connect(hostport).await else {
            return failed;
        };
        let head = format!(
            "POST {target} HTTP/1.1\r\nHost: {hostport}\r\nOrigin: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            ctx.1,
            body.len()
        );
        if s.write_all(head.as_bytes()).await.is_err() || s.write_all(&body).await.is_err() {
            return failed;
        }
        let mut res = Vec::new();
        if s.read_to_end(&mut res).await.is_err() {
            return failed;
        }
        res.windows(4)
            .position(|w| w == b"\r\n\r\n")
            .and_then(|i| serde_json::from_slice(&res[i + 4..]).ok())
            .unwrap_or(failed)
    }

    /// Our agent's pkcs11info answer, shaped as the real component gives it.
    fn as_real_one(
        mut v: serde_json::Value,
        with_cert: bool,
        ctx: &(String, String, String, String),
    ) -> serde_json::Value {
        use serde_json::json;
        if let Some(o) = v.as_object_mut() {
            o.remove("agentVersion");
            o.insert("serverVersion".into(), json!("1.3.4.103349"));
        }
        if let Some(slots) = v.get_mut("slots").and_then(|s| s.as_array_mut()) {
            for s in slots.iter_mut() {
                if let Some(t) = s.get_mut("token").and_then(|t| t.as_object_mut()) {
                    t.remove("cardSN");
                    if with_cert {
                        if let Some(certs) = t.get_mut("certs").and_then(|c| c.as_array_mut()) {
                            certs.insert(0, json!({"label": "CA Cert", "usage": "digitalSignature|keyCertSign|cRLSign", "certb64": ctx.3}));
                            certs.insert(0, json!({"label": "ROOT CA Cert", "certb64": ctx.2}));
                        }
                    }
                }
            }
            slots.insert(
                0,
                json!({"slotDescription": "Generic Smart Card Reader 0", "slotID": 100}),
            );
            slots.push(
                json!({"slotDescription": "ACS ACR39U 0", "slotID": 101, "token": "unknown token"}),
            );
        }
        v
    }
}

impl Drop for HipkiDouble {
    fn drop(&mut self) {
        self.task.abort();
    }
}

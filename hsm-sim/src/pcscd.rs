//! pcscd (Debian's package with the vsmartcard-vpcd driver) for the simulated cards.
//!
//! Two ways to have one:
//! * [`Pcscd::ensure`]: the machine's pcscd (one per machine, fixed socket
//!   `/run/pcscd/pcscd.comm`, readers at vpcd ports 35963/35964): what `make run`'s demo
//!   cards and a user's agent use.
//! * [`Private`]: a pcscd of its own for a test run, with its own socket and its own vpcd
//!   ports, so tests never depend on the machine's readers being free (a demo left running
//!   keeps its cards) and may stop and restart "their" PC/SC service at will. pcscd 1.9
//!   always listens on `/run/pcscd/pcscd.comm`, so it runs in a private mount namespace with
//!   a folder of ours bound over `/run/pcscd`; clients find it through `PCSCLITE_CSOCK_NAME`
//!   (read by libpcsclite once per process, at its first call) and hsm-sim's card side
//!   through `HSM_SIM_VPCD_PORT`.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// Where libpcsclite clients find pcscd's socket.
pub const SOCKET_ENV: &str = "PCSCLITE_CSOCK_NAME";
/// The vpcd port of reader 0 (reader n listens on this + n); default 35963.
pub const VPCD_PORT_ENV: &str = "HSM_SIM_VPCD_PORT";

const VPCD_DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";

/// The reader names pcscd currently lists (empty when pcscd is not running).
pub fn readers() -> Vec<String> {
    let Ok(ctx) = pcsc::Context::establish(pcsc::Scope::User) else {
        return vec![];
    };
    let Ok(len) = ctx.list_readers_len() else {
        return vec![];
    };
    let mut buf = vec![0u8; len];
    match ctx.list_readers(&mut buf) {
        Ok(names) => names.map(|n| n.to_string_lossy().into_owned()).collect(),
        Err(_) => vec![],
    }
}

pub fn has_virtual_readers() -> bool {
    readers().iter().any(|r| r.starts_with("Virtual PCD"))
}

fn pcscd_bin() -> String {
    std::env::var("HSM_SIM_PCSCD").unwrap_or_else(|_| "/usr/sbin/pcscd".into())
}

/// pcscd's own output: `HSM_SIM_PCSCD_LOG` (test reports), else nowhere.
fn log_stdio() -> (Stdio, Stdio) {
    let log = std::env::var_os("HSM_SIM_PCSCD_LOG").and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    });
    match log.and_then(|f| f.try_clone().ok().map(|g| (f, g))) {
        Some((f, g)) => (Stdio::from(f), Stdio::from(g)),
        None => (Stdio::null(), Stdio::null()),
    }
}

fn wait_for_readers(child: &mut Child, what: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if has_virtual_readers() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{what} exited ({status}) before listing its readers (pcscd must run as root; see HSM_SIM_PCSCD_LOG)"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "{what} started but lists no \"Virtual PCD\" reader: is vsmartcard-vpcd installed?"
    ))
}

fn stop_child(child: &mut Child) {
    // SAFETY: a plain signal to a process we started; pcscd removes its socket on SIGTERM.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The machine's pcscd: a pcscd this process started (stopped on drop), or none if one was
/// already running.
pub struct Pcscd {
    child: Option<Child>,
}

impl Pcscd {
    /// Uses the running pcscd, or starts `pcscd -f` and waits for the virtual readers.
    pub fn ensure() -> Result<Self, String> {
        if has_virtual_readers() {
            return Ok(Self { child: None });
        }
        let bin = pcscd_bin();
        let (out, err) = log_stdio();
        let child = Command::new(&bin)
            .args(["-f"])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| {
                format!("cannot start {bin}: {e} (run `make setup`; pcscd must run as root)")
            })?;
        let mut me = Self { child: Some(child) };
        if let Some(c) = me.child.as_mut() {
            wait_for_readers(c, "pcscd")?;
        }
        Ok(me)
    }

    /// Leaves pcscd running after this handle is gone (for `hsm-sim pcscd start`).
    pub fn detach(mut self) -> Option<u32> {
        self.child.take().map(|c| c.id())
    }

    pub fn started_here(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for Pcscd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop_child(&mut c);
        }
    }
}

/// Two consecutive free TCP ports on loopback (vpcd listens on every address).
fn free_port_pair() -> Result<u16, String> {
    for _ in 0..50 {
        let l = std::net::TcpListener::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
        let p = l.local_addr().map_err(|e| e.to_string())?.port();
        if p >= u16::MAX - 1 {
            continue;
        }
        if std::net::TcpListener::bind(("0.0.0.0", p + 1)).is_ok() {
            return Ok(p);
        }
    }
    Err("no two free consecutive TCP ports".into())
}

/// The `reader.conf` of a private pcscd: one vpcd entry, which gives its two readers
/// ("Virtual PCD 00 00" and "00 01") on `base_port` and `base_port + 1` (a second entry
/// would bind the same ports again and leave the readers deaf).
pub fn reader_conf(base_port: u16) -> String {
    format!("FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME   /dev/null:0x{base_port:04X}\nLIBPATH      {VPCD_DRIVER}\nCHANNELID    0x{base_port:04X}\n")
}

/// A pcscd of our own (see the module documentation): its folder, socket and vpcd ports.
/// Dropping it stops pcscd and removes the folder, unless [`Private::detach`]ed.
pub struct Private {
    dir: PathBuf,
    base_port: u16,
    child: Option<Child>,
    keep: bool,
}

impl Private {
    /// Starts a private pcscd with two virtual readers on free ports and points this process
    /// at it (`PCSCLITE_CSOCK_NAME`, `HSM_SIM_VPCD_PORT`): call it before anything in this
    /// process talks PC/SC. Needs root (a mount namespace; pcscd itself).
    pub fn start() -> Result<Self, String> {
        let base_port = free_port_pair()?;
        let mut rnd = [0u8; 6];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut rnd);
        let dir = std::env::temp_dir().join(format!("hsm-sim-pcscd-{}", hex::encode(rnd)));
        std::fs::create_dir_all(dir.join("run")).map_err(|e| format!("{}: {e}", dir.display()))?;
        std::fs::write(dir.join("reader.conf"), reader_conf(base_port))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut me = Self {
            dir,
            base_port,
            child: None,
            keep: false,
        };
        for (k, v) in me.env() {
            std::env::set_var(k, v);
        }
        me.restart()?;
        Ok(me)
    }

    /// The variables a child process needs to use this pcscd (and its vpcd ports).
    pub fn env(&self) -> [(&'static str, String); 2] {
        [
            (SOCKET_ENV, self.socket().display().to_string()),
            (VPCD_PORT_ENV, self.base_port.to_string()),
        ]
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("run").join("pcscd.comm")
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn base_port(&self) -> u16 {
        self.base_port
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Stops pcscd, as a PC/SC service stopping under its clients would (the readers and
    /// every card in them vanish).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop_child(&mut c);
        }
    }

    /// (Re)starts pcscd with the same socket and ports and waits for its readers.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        let run = self.dir.join("run");
        let conf = self.dir.join("reader.conf");
        // A left-over socket makes pcscd believe another instance runs.
        let _ = std::fs::remove_file(run.join("pcscd.comm"));
        let _ = std::fs::remove_file(run.join("pcscd.pid"));
        let script =
            "mkdir -p /run/pcscd && mount --bind \"$1\" /run/pcscd && exec \"$2\" -f -c \"$3\"";
        let mut cmd = Command::new("unshare");
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            cmd.args(["--user", "--map-root-user"]);
        }
        let (out, err) = log_stdio();
        let child = cmd
            .args([
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
                "sh",
            ])
            .arg(&run)
            .arg(pcscd_bin())
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start a private pcscd (unshare): {e}"))?;
        self.child = Some(child);
        match self.child.as_mut() {
            Some(c) => wait_for_readers(c, "the private pcscd"),
            None => Err("pcscd not started".into()),
        }
    }

    /// Leaves pcscd and its folder in place after this handle is gone (`hsm-sim pcscd
    /// start --private`); returns its pid.
    pub fn detach(mut self) -> Option<u32> {
        self.keep = true;
        self.child.take().map(|c| c.id())
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_conf_names_the_base_port_in_hex() {
        let c = reader_conf(40000);
        assert!(c.contains("DEVICENAME   /dev/null:0x9C40"));
        assert!(c.contains("CHANNELID    0x9C40"));
        assert_eq!(c.matches("FRIENDLYNAME \"Virtual PCD\"").count(), 1);
    }
}

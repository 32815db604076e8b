//! Starting pcscd (Debian's package with the vsmartcard-vpcd driver) when none is running.
//! pcscd must run as root here; there is one per machine (fixed socket), so tests share it.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

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

/// A pcscd this process started (stopped on drop), or none if one was already running.
pub struct Pcscd {
    child: Option<Child>,
}

impl Pcscd {
    /// Uses the running pcscd, or starts `pcscd -f` and waits for the virtual readers.
    pub fn ensure() -> Result<Self, String> {
        if has_virtual_readers() {
            return Ok(Self { child: None });
        }
        let bin = std::env::var("HSM_SIM_PCSCD").unwrap_or_else(|_| "/usr/sbin/pcscd".into());
        // `HSM_SIM_PCSCD_LOG`: where pcscd's own messages go (test reports), else nowhere.
        let log = std::env::var_os("HSM_SIM_PCSCD_LOG").and_then(|p| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .ok()
        });
        let (out, err) = match log.and_then(|f| f.try_clone().ok().map(|g| (f, g))) {
            Some((f, g)) => (Stdio::from(f), Stdio::from(g)),
            None => (Stdio::null(), Stdio::null()),
        };
        let child = Command::new(&bin)
            .args(["-f"])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| {
                format!("cannot start {bin}: {e} (run `make setup`; pcscd must run as root)")
            })?;
        let me = Self { child: Some(child) };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if has_virtual_readers() {
                return Ok(me);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(
            "pcscd started but lists no \"Virtual PCD\" reader: is vsmartcard-vpcd installed?"
                .into(),
        )
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
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

//! Configuration: a TOML file (`--config`, default `~/.config/ecpa-agent/agent.toml` when
//! present) overridden by flags.

use serde::Deserialize;
use std::{net::IpAddr, path::PathBuf};

pub const DEFAULT_PORT: u16 = 61161;
pub const OPENSC_MODULE: &str = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Loopback address to listen on (127.0.0.1 or ::1; anything else is refused).
    pub listen: IpAddr,
    pub port: u16,
    /// PKCS#11 modules (OpenSC for PC/SC cards, SoftHSM, a vendor module such as HiCOS).
    pub modules: Vec<PathBuf>,
    /// Check readers and card presence through PC/SC (off for SoftHSM-only setups).
    pub pcsc: bool,
    /// Sites allowed without asking (exact origins, e.g. https://ecpa.dgpa.gov.tw).
    pub trusted_sites: Vec<String>,
    /// Where sites the user approved through /addDomain are kept.
    pub trust_file: Option<PathBuf>,
    /// `tracing` filter, e.g. "info".
    pub log: String,
    /// Run each card operation in a child process killed at its deadline (see
    /// [`crate::worker`]). Off only for in-process tests.
    pub isolate: bool,
    /// The deadline of one card operation, in seconds.
    pub card_timeout_secs: u64,
    /// The program run as card worker (default: this executable).
    pub worker_exe: Option<PathBuf>,
    /// The HiPKI Local Server protocol level this agent implements, as `GET /` and
    /// `serverVersion` report it: sites refuse components below a version (1.3.4.x).
    pub hipki_version: String,
}

/// The HiPKI protocol level reported by default: the Windows component's version whose
/// behaviour this agent follows (sites compare against 1.3.4.x).
pub const HIPKI_VERSION: &str = "1.3.4.103349";

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: IpAddr::from([127, 0, 0, 1]),
            port: DEFAULT_PORT,
            modules: vec![PathBuf::from(OPENSC_MODULE)],
            pcsc: true,
            trusted_sites: vec![],
            trust_file: std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".config/ecpa-agent/trusted.json")),
            log: "info".into(),
            isolate: true,
            card_timeout_secs: 20,
            worker_exe: None,
            hipki_version: HIPKI_VERSION.into(),
        }
    }
}

impl Config {
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    pub fn validate(&self) -> Result<(), String> {
        if !self.listen.is_loopback() {
            return Err(format!(
                "refusing to listen on {}: the agent only listens on a loopback address",
                self.listen
            ));
        }
        if self.modules.is_empty() {
            return Err("no PKCS#11 module configured".into());
        }
        if !(1..=120).contains(&self.card_timeout_secs) {
            return Err("card_timeout_secs must be 1–120".into());
        }
        if !is_version(&self.hipki_version) {
            return Err(format!(
                "hipki_version {:?} is not a version such as 1.3.4.103349",
                self.hipki_version
            ));
        }
        Ok(())
    }
}

fn is_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    (2..=4).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_loopback_refused() {
        let c = Config::from_toml("listen = \"0.0.0.0\"").unwrap();
        assert!(c.validate().is_err());
        let c = Config::from_toml("port = 61200\ntrusted_sites = [\"https://ecpa.example\"]\npcsc = false\nmodules = [\"/usr/lib/softhsm/libsofthsm2.so\"]").unwrap();
        assert!(c.validate().is_ok());
        assert!(Config::from_toml("bogus = 1").is_err());
        let c = Config::from_toml("hipki_version = \"1.3.4.13\"").unwrap();
        assert!(c.validate().is_ok());
        for bad in ["1.3.4.x", "", "1", "1.3.4.5.6", "1..3"] {
            let c = Config {
                hipki_version: bad.into(),
                ..Config::default()
            };
            assert!(c.validate().is_err(), "{bad}");
        }
    }
}

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
}

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
        Ok(())
    }
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
    }
}

//! The sites allowed to use the card: configured ones and those the user added through
//! `/addDomain`, matched by exact origin (scheme, host and port).

use ecpa_cardproto::challenge::valid_origin;
use std::{collections::BTreeSet, path::PathBuf, sync::RwLock};

/// `https://host[:port]` as given, or a bare host taken as `https://host`.
pub fn normalize(site: &str) -> Option<String> {
    let s = site.trim().trim_end_matches('/');
    let o = if s.contains("://") {
        s.to_ascii_lowercase()
    } else {
        format!("https://{}", s.to_ascii_lowercase())
    };
    valid_origin(&o).then_some(o)
}

pub struct Trust {
    configured: BTreeSet<String>,
    added: RwLock<BTreeSet<String>>,
    file: Option<PathBuf>,
}

impl Trust {
    pub fn new(configured: impl IntoIterator<Item = String>, file: Option<PathBuf>) -> Self {
        let configured = configured
            .into_iter()
            .filter_map(|s| normalize(&s))
            .collect();
        let added = file
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .and_then(|t| serde_json::from_str::<Vec<String>>(&t).ok())
            .map(|v| v.into_iter().filter_map(|s| normalize(&s)).collect())
            .unwrap_or_default();
        Self {
            configured,
            added: RwLock::new(added),
            file,
        }
    }

    pub fn is_trusted(&self, origin: &str) -> bool {
        let Some(o) = normalize(origin) else {
            return false;
        };
        self.configured.contains(&o) || self.added.read().map(|a| a.contains(&o)).unwrap_or(false)
    }

    /// Adds a site the user approved, and stores the list.
    pub fn add(&self, origin: &str) -> std::io::Result<()> {
        let Some(o) = normalize(origin) else {
            return Err(std::io::Error::other("not a site"));
        };
        let list: Vec<String> = {
            let mut a = self
                .added
                .write()
                .map_err(|_| std::io::Error::other("lock"))?;
            a.insert(o);
            a.iter().cloned().collect()
        };
        if let Some(f) = &self.file {
            if let Some(dir) = f.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(f, serde_json::to_vec_pretty(&list).unwrap_or_default())?;
        }
        Ok(())
    }

    pub fn sites(&self) -> Vec<String> {
        let mut v: Vec<String> = self.configured.iter().cloned().collect();
        if let Ok(a) = self.added.read() {
            v.extend(a.iter().cloned());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_origins() {
        let t = Trust::new(
            vec![
                "https://ecpa.example.gov.tw".into(),
                "http://127.0.0.1:3000/".into(),
            ],
            None,
        );
        assert!(t.is_trusted("https://ecpa.example.gov.tw"));
        assert!(t.is_trusted("http://127.0.0.1:3000"));
        assert!(
            !t.is_trusted("http://127.0.0.1:3001"),
            "another port is another site"
        );
        assert!(
            !t.is_trusted("http://ecpa.example.gov.tw"),
            "another scheme is another site"
        );
        assert!(!t.is_trusted("https://ecpa.example.gov.tw.evil.example"));
        assert!(!t.is_trusted("null"));
        assert_eq!(
            normalize("Ecpa.Example.gov.tw").as_deref(),
            Some("https://ecpa.example.gov.tw")
        );
        assert_eq!(normalize("javascript:alert(1)"), None);
    }

    #[test]
    fn added_sites_persist() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("trusted.json");
        let t = Trust::new(Vec::<String>::new(), Some(f.clone()));
        t.add("https://portal.example").unwrap();
        let again = Trust::new(Vec::<String>::new(), Some(f));
        assert!(again.is_trusted("https://portal.example"));
    }
}

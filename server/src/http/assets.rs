//! The site's static files under `/pkg/` (the wasm, its JS loader, the stylesheet): named
//! by version, cached for good, and sent compressed.
//!
//! * **Versioned names.** At start the server hashes the files in `<site>/pkg` into a
//!   version, and pages load them as `/pkg/<version>/…` (the `site_pkg_dir` Leptos writes
//!   into every page), answered with `Cache-Control: public, max-age=31536000, immutable`.
//!   A new build is a new version, so no browser keeps an old file and none asks again for
//!   a current one. The plain names (`/pkg/ecpa.css`, what error pages use) answer
//!   `no-cache`: browsers revalidate them (`Last-Modified` / `If-Modified-Since` → 304).
//!   Under `cargo leptos watch` there is no version: its live reload swaps the stylesheet
//!   by its plain name, and files change without a restart.
//! * **Precompressed.** `make build` runs `cargo leptos build --release --precompress`,
//!   which writes `.br` and `.gz` beside each file (and empties the site folder before every
//!   build). They are served by content negotiation (`Vary: Accept-Encoding`) when every one
//!   is at least as new as its original, checked at start; otherwise (or under watch) the
//!   files go out as they are, never stale.

use crate::error::Result;
use axum::{
    body::Body,
    extract::Request,
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};
use std::{
    path::{Path, PathBuf},
    time::SystemTime,
};
use tower::ServiceExt;
use tower_http::services::ServeDir;

/// A versioned file: kept for a year, never revalidated.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// A file under its plain name: revalidated at every use.
pub const REVALIDATE: &str = "no-cache";

/// The folder of `/pkg/` files.
pub fn pkg_dir(site_root: &Path) -> PathBuf {
    site_root.join("pkg")
}

/// Whether the server runs under `cargo leptos watch` (files change while it serves).
pub fn watched() -> bool {
    std::env::var_os("LEPTOS_WATCH").is_some()
}

fn is_compressed_copy(name: &str) -> bool {
    name.ends_with(".br") || name.ends_with(".gz")
}

/// The site's own files in `dir` (not the compressed copies), by name.
fn originals(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_file() && !is_compressed_copy(&name) {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// The version of the files in `<site>/pkg`: 16 hex digits of a SHA-256 over their names
/// and contents; `None` when there are none.
pub fn version(site_root: &Path) -> Result<Option<String>> {
    let files = originals(&pkg_dir(site_root))?;
    if files.is_empty() {
        return Ok(None);
    }
    let mut h = Sha256::new();
    for f in &files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = std::fs::read(f)?;
        h.update((name.len() as u64).to_be_bytes());
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(&bytes);
    }
    Ok(Some(
        h.finalize()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect(),
    ))
}

fn modified(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// Whether `<site>/pkg` has compressed copies (`.br` and `.gz`) of its files, each at
/// least as new as its original.
pub fn precompressed_fresh(site_root: &Path) -> Result<bool> {
    let files = originals(&pkg_dir(site_root))?;
    let mut any = false;
    for f in &files {
        let Some(original) = modified(f) else {
            return Ok(false);
        };
        for ext in ["br", "gz"] {
            let mut copy = f.as_os_str().to_owned();
            copy.push(".");
            copy.push(ext);
            match modified(Path::new(&copy)) {
                Some(t) if t >= original => any = true,
                Some(_) => return Ok(false),
                None => {}
            }
        }
    }
    Ok(any)
}

/// How `/pkg/…` is answered.
#[derive(Clone, Debug)]
pub struct PkgFiles {
    version: Option<String>,
    dir: ServeDir,
}

impl PkgFiles {
    /// For the site at `site_root`, whose files pages name under `version`.
    pub fn new(site_root: &Path, version: Option<String>) -> Self {
        let mut dir = ServeDir::new(pkg_dir(site_root));
        match precompressed_fresh(site_root) {
            Ok(true) if !watched() => dir = dir.precompressed_br().precompressed_gzip(),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the site's files cannot be read"),
        }
        Self { version, dir }
    }

    /// The version pages name the files under, if any.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// Answers `/pkg/<path>`: `<version>/<file>` of the current version for good, any
    /// other name (a plain one, or an earlier version's) revalidated.
    pub async fn serve(&self, path: &str, req: Request) -> Response {
        let (file, cache) = match (path.split_once('/'), &self.version) {
            (Some((v, rest)), Some(current)) if v == current => (rest, IMMUTABLE),
            (Some((_, rest)), _) => (rest, REVALIDATE),
            (None, _) => (path, REVALIDATE),
        };
        if file.is_empty()
            || file.contains('/')
            || file.contains('\\')
            || file.starts_with('.')
            || is_compressed_copy(file)
        {
            return StatusCode::NOT_FOUND.into_response();
        }
        let (mut parts, body) = req.into_parts();
        parts.uri = match format!("/{file}").parse() {
            Ok(u) => u,
            Err(_) => return StatusCode::NOT_FOUND.into_response(),
        };
        let res = match self
            .dir
            .clone()
            .oneshot(Request::from_parts(parts, body))
            .await
        {
            Ok(r) => r.map(Body::new),
            Err(never) => match never {},
        };
        let mut res = res.into_response();
        if res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED {
            let h = res.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
            // The bytes depend on what the browser accepts (a precompressed copy, or the
            // compression layer's): caches must keep one answer per encoding.
            let varies = h.get_all(header::VARY).iter().any(|v| {
                v.to_str()
                    .is_ok_and(|v| v.to_ascii_lowercase().contains("accept-encoding"))
            });
            if !varies {
                h.append(header::VARY, HeaderValue::from_static("accept-encoding"));
            }
        }
        res
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn site(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("pkg")).unwrap();
        for (name, body) in files {
            std::fs::write(d.path().join("pkg").join(name), body).unwrap();
        }
        d
    }

    #[test]
    fn the_version_follows_every_file_and_ignores_compressed_copies() {
        let a = site(&[("ecpa.js", "js"), ("ecpa.css", "css")]);
        let v = version(a.path()).unwrap().unwrap();
        assert_eq!(v.len(), 16);
        std::fs::write(a.path().join("pkg/ecpa.css.br"), "x").unwrap();
        assert_eq!(version(a.path()).unwrap().as_deref(), Some(v.as_str()));
        std::fs::write(a.path().join("pkg/ecpa.css"), "css2").unwrap();
        assert_ne!(version(a.path()).unwrap().as_deref(), Some(v.as_str()));
        // Moving bytes from one file to the next is another build.
        let b = site(&[("ecpa.js", "jsc"), ("ecpa.css", "ss")]);
        let c = site(&[("ecpa.js", "js"), ("ecpa.css", "css")]);
        assert_ne!(version(b.path()).unwrap(), version(c.path()).unwrap());
        assert_eq!(version(c.path()).unwrap().as_deref(), Some(v.as_str()));
        assert_eq!(version(tempfile::tempdir().unwrap().path()).unwrap(), None);
    }

    #[test]
    fn compressed_copies_count_only_when_not_older_than_their_file() {
        let s = site(&[("ecpa.css", "css")]);
        assert!(!precompressed_fresh(s.path()).unwrap());
        std::fs::write(s.path().join("pkg/ecpa.css.br"), "b").unwrap();
        std::fs::write(s.path().join("pkg/ecpa.css.gz"), "g").unwrap();
        assert!(precompressed_fresh(s.path()).unwrap());
        let later = SystemTime::now() + std::time::Duration::from_secs(60);
        let f = std::fs::File::options()
            .write(true)
            .open(s.path().join("pkg/ecpa.css"))
            .unwrap();
        f.set_modified(later).unwrap();
        assert!(!precompressed_fresh(s.path()).unwrap());
    }
}

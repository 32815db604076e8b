//! Configuration: defaults, then an optional TOML file (`ECPA_CONFIG` or `--config`), then
//! environment variables. Every setting is documented in the README.

use crate::error::ServerError;
use serde::Deserialize;
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};
use url::Url;

#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite://path/to/file.db` (created when missing) or `postgres://…`.
    pub database_url: String,
    pub listen: SocketAddr,
    /// The origin users type in their browser (`https://ecpa.example.gov.tw`). Decides the
    /// cookie flavour (`__Host-` + `Secure` over https) and the cross-site request check.
    pub public_origin: Url,
    /// Other names (`host` or `host:port`) this portal answers to besides the public
    /// origin's (e.g. an internal name). Any other `Host` is refused before anything else
    /// (DNS rebinding). A loopback public origin also answers to the other loopback names
    /// on its port (`localhost` for `127.0.0.1`).
    pub extra_hosts: Vec<String>,
    /// Where cargo-leptos put the compiled site (`pkg/` with the wasm, js and css).
    pub site_root: PathBuf,
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
    /// Take the client address from the last `X-Forwarded-For` hop (behind a reverse proxy).
    pub trust_forwarded_for: bool,
    /// Concurrent password hashes (each uses ~19 MiB and one core).
    pub hash_concurrency: usize,
    /// Argon2id cost: memory in KiB, iterations, parallelism.
    pub argon2_m_kib: u32,
    pub argon2_t: u32,
    pub argon2_p: u32,
    pub db_max_connections: u32,
    /// The card agent's origin as the user's browser reaches it.
    pub agent_origin: String,
    /// Certificate trust: a folder laid out as `hsm-sim pki export` writes it
    /// (test-grca-root.pem, test-moica.pem, test-gca.pem, *.crl) ...
    pub card_pki_dir: Option<PathBuf>,
    /// ... or explicit files: root anchors (GRCA), natural-person CAs (MOICA),
    /// organization CAs (GCA), CRLs (DER or PEM).
    pub card_roots: Vec<PathBuf>,
    pub card_natural_cas: Vec<PathBuf>,
    pub card_org_cas: Vec<PathBuf>,
    pub card_crls: Vec<PathBuf>,
    /// Accept MOICA mobile certificates (keys not on a card) for card sign-in and upload.
    pub card_allow_mobile: bool,
    /// CRLs (and ARLs) the server fetches itself over HTTP and keeps fresh ...
    pub card_crl_urls: Vec<String>,
    /// ... plus the CRL distribution points the configured CA certificates name (their
    /// roots' ARLs).
    pub card_crl_fetch_ca_points: bool,
    /// Where fetched CRLs are kept (the last good one of each URL survives restarts).
    pub card_crl_dir: PathBuf,
    /// OCSP at sign-in: off, aia (the responder the certificate names) or a responder URL.
    pub card_ocsp: crate::cards::ocsp::OcspMode,
    /// How long to wait for an OCSP responder.
    pub card_ocsp_timeout_secs: u64,
    /// How long an OCSP answer is reused (never past its nextUpdate); 0: ask every time.
    pub card_ocsp_cache_secs: i64,
    /// How long a card challenge is valid (seconds).
    pub challenge_ttl_secs: i64,
    /// Outgoing mail (password reset links): an SMTP relay when `smtp_host` is set,
    /// otherwise `.eml` files in `mail_outbox` (development and tests).
    pub smtp_host: Option<String>,
    pub smtp_port: u16,
    /// `none` (plain, for an internal relay), `starttls` or `tls`.
    pub smtp_tls: SmtpTls,
    pub smtp_user: Option<String>,
    pub smtp_password: Option<String>,
    pub mail_outbox: PathBuf,
    pub mail_from: String,
    /// Request rate limits per client and per account (see `limits.rs`).
    pub rate_limits: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

impl std::str::FromStr for SmtpTls {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Self::None),
            "starttls" => Ok(Self::Starttls),
            "tls" => Ok(Self::Tls),
            _ => Err(format!("expected none, starttls or tls, got {s}")),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    listen: Option<String>,
    public_origin: Option<String>,
    extra_hosts: Option<Vec<String>>,
    site_root: Option<PathBuf>,
    session_idle_minutes: Option<i64>,
    session_absolute_hours: Option<i64>,
    trust_forwarded_for: Option<bool>,
    hash_concurrency: Option<usize>,
    argon2_m_kib: Option<u32>,
    argon2_t: Option<u32>,
    argon2_p: Option<u32>,
    db_max_connections: Option<u32>,
    agent_origin: Option<String>,
    card_pki_dir: Option<PathBuf>,
    card_roots: Option<Vec<PathBuf>>,
    card_natural_cas: Option<Vec<PathBuf>>,
    card_org_cas: Option<Vec<PathBuf>>,
    card_crls: Option<Vec<PathBuf>>,
    card_allow_mobile: Option<bool>,
    card_crl_urls: Option<Vec<String>>,
    card_crl_fetch_ca_points: Option<bool>,
    card_crl_dir: Option<PathBuf>,
    card_ocsp: Option<String>,
    card_ocsp_timeout_secs: Option<u64>,
    card_ocsp_cache_secs: Option<i64>,
    challenge_ttl_secs: Option<i64>,
    smtp_host: Option<String>,
    smtp_port: Option<u16>,
    smtp_tls: Option<SmtpTls>,
    smtp_user: Option<String>,
    smtp_password: Option<String>,
    mail_outbox: Option<PathBuf>,
    mail_from: Option<String>,
    rate_limits: Option<bool>,
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/ecpa.db";

fn cfg_err(what: &str, e: impl std::fmt::Display) -> ServerError {
    ServerError::Config(format!("{what}: {e}"))
}

impl Config {
    /// Defaults only (no file, no environment): what tests start from.
    pub fn defaults() -> Self {
        let listen = SocketAddr::from(([127, 0, 0, 1], 3000));
        Self {
            database_url: DEFAULT_DATABASE_URL.into(),
            listen,
            public_origin: origin_for(listen),
            site_root: PathBuf::from("target/site"),
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            trust_forwarded_for: false,
            hash_concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            argon2_m_kib: 19_456,
            argon2_t: 2,
            argon2_p: 1,
            db_max_connections: 16,
            agent_origin: "http://127.0.0.1:61161".into(),
            extra_hosts: vec![],
            card_pki_dir: None,
            card_roots: vec![],
            card_natural_cas: vec![],
            card_org_cas: vec![],
            card_crls: vec![],
            card_allow_mobile: false,
            card_crl_urls: vec![],
            card_crl_fetch_ca_points: false,
            card_crl_dir: PathBuf::from("data/crl"),
            card_ocsp: crate::cards::ocsp::OcspMode::Off,
            card_ocsp_timeout_secs: 5,
            card_ocsp_cache_secs: 300,
            challenge_ttl_secs: 300,
            smtp_host: None,
            smtp_port: 25,
            smtp_tls: SmtpTls::None,
            smtp_user: None,
            smtp_password: None,
            mail_outbox: PathBuf::from("data/outbox"),
            mail_from: "eCPA人事服務網 <no-reply@ecpa.localhost>".into(),
            rate_limits: true,
        }
    }

    /// Defaults < file < environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ServerError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| env("ECPA_CONFIG").map(PathBuf::from));
        let fc: FileConfig = match &file {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|e| cfg_err(&p.display().to_string(), e))?;
                toml::from_str(&text).map_err(|e| cfg_err(&p.display().to_string(), e))?
            }
            None => FileConfig::default(),
        };
        let mut c = Self::defaults();
        let mut origin_set = false;

        macro_rules! set {
            ($field:ident, $env:expr, $parse:expr) => {
                if let Some(v) = fc.$field {
                    c.$field = v;
                }
                if let Some(v) = env($env) {
                    c.$field = $parse(&v).map_err(|e| cfg_err($env, e))?;
                }
            };
        }
        fn parse<T: std::str::FromStr>(s: &str) -> Result<T, T::Err> {
            s.parse()
        }

        if let Some(v) = fc.database_url {
            c.database_url = v;
        }
        if let Some(v) = env("ECPA_DATABASE_URL").or_else(|| env("DATABASE_URL")) {
            c.database_url = v;
        }
        if let Some(v) = fc.listen {
            c.listen = v.parse().map_err(|e| cfg_err("listen", e))?;
        }
        if let Some(v) = env("ECPA_LISTEN") {
            c.listen = v.parse().map_err(|e| cfg_err("ECPA_LISTEN", e))?;
        }
        if let Some(v) = fc.public_origin {
            c.public_origin = parse_origin(&v)?;
            origin_set = true;
        }
        if let Some(v) = env("ECPA_PUBLIC_ORIGIN") {
            c.public_origin = parse_origin(&v)?;
            origin_set = true;
        }
        if !origin_set {
            c.public_origin = origin_for(c.listen);
        }
        if let Some(v) = fc.site_root {
            c.site_root = v;
        }
        if let Some(v) = env("ECPA_SITE_ROOT").or_else(|| env("LEPTOS_SITE_ROOT")) {
            c.site_root = PathBuf::from(v);
        }
        set!(
            session_idle_minutes,
            "ECPA_SESSION_IDLE_MINUTES",
            parse::<i64>
        );
        set!(
            session_absolute_hours,
            "ECPA_SESSION_ABSOLUTE_HOURS",
            parse::<i64>
        );
        set!(
            trust_forwarded_for,
            "ECPA_TRUST_FORWARDED_FOR",
            parse::<bool>
        );
        set!(hash_concurrency, "ECPA_HASH_CONCURRENCY", parse::<usize>);
        set!(argon2_m_kib, "ECPA_ARGON2_M_KIB", parse::<u32>);
        set!(argon2_t, "ECPA_ARGON2_T", parse::<u32>);
        set!(argon2_p, "ECPA_ARGON2_P", parse::<u32>);
        set!(db_max_connections, "ECPA_DB_MAX_CONNECTIONS", parse::<u32>);
        set!(extra_hosts, "ECPA_EXTRA_HOSTS", |v: &str| {
            Ok::<_, std::convert::Infallible>(
                v.split(',')
                    .map(|h| h.trim().to_ascii_lowercase())
                    .filter(|h| !h.is_empty())
                    .collect::<Vec<_>>(),
            )
        });
        set!(challenge_ttl_secs, "ECPA_CHALLENGE_TTL_SECS", parse::<i64>);
        set!(card_allow_mobile, "ECPA_CARD_ALLOW_MOBILE", parse::<bool>);
        set!(
            card_crl_fetch_ca_points,
            "ECPA_CARD_CRL_FETCH_CA_POINTS",
            parse::<bool>
        );
        set!(card_crl_dir, "ECPA_CARD_CRL_DIR", parse::<PathBuf>);
        set!(
            card_ocsp_timeout_secs,
            "ECPA_CARD_OCSP_TIMEOUT_SECS",
            parse::<u64>
        );
        set!(
            card_ocsp_cache_secs,
            "ECPA_CARD_OCSP_CACHE_SECS",
            parse::<i64>
        );
        if let Some(v) = fc.card_ocsp {
            c.card_ocsp = v.parse().map_err(ServerError::Config)?;
        }
        if let Some(v) = env("ECPA_CARD_OCSP") {
            c.card_ocsp = v.parse().map_err(ServerError::Config)?;
        }
        if let Some(v) = fc.card_crl_urls {
            c.card_crl_urls = v;
        }
        if let Some(v) = env("ECPA_CARD_CRL_URLS") {
            c.card_crl_urls = v
                .split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_string)
                .collect();
        }
        for u in &c.card_crl_urls {
            if !u.starts_with("http://") {
                return Err(ServerError::Config(format!(
                    "card_crl_urls: {u}: only http:// URLs (CRLs are signed; the GPKI repositories publish them over http)"
                )));
            }
        }
        set!(smtp_port, "ECPA_SMTP_PORT", parse::<u16>);
        set!(smtp_tls, "ECPA_SMTP_TLS", parse::<SmtpTls>);
        set!(mail_outbox, "ECPA_MAIL_OUTBOX", parse::<PathBuf>);
        set!(mail_from, "ECPA_MAIL_FROM", parse::<String>);
        set!(rate_limits, "ECPA_RATE_LIMITS", parse::<bool>);
        for (field, envname, fv) in [
            (&mut c.smtp_host, "ECPA_SMTP_HOST", fc.smtp_host),
            (&mut c.smtp_user, "ECPA_SMTP_USER", fc.smtp_user),
            (&mut c.smtp_password, "ECPA_SMTP_PASSWORD", fc.smtp_password),
        ] {
            if let Some(v) = fv {
                *field = Some(v);
            }
            if let Some(v) = env(envname) {
                *field = Some(v);
            }
        }
        if let Some(v) = fc.agent_origin {
            c.agent_origin = v;
        }
        if let Some(v) = env("ECPA_AGENT_ORIGIN") {
            c.agent_origin = v;
        }
        if !ecpa_cardproto::challenge::valid_origin(&c.agent_origin) {
            return Err(ServerError::Config(format!(
                "agent_origin must be http(s)://host:port, got {}",
                c.agent_origin
            )));
        }
        if let Some(v) = fc.card_pki_dir {
            c.card_pki_dir = Some(v);
        }
        if let Some(v) = env("ECPA_CARD_PKI_DIR") {
            c.card_pki_dir = Some(PathBuf::from(v));
        }
        let list = |s: String| {
            s.split(',')
                .filter(|p| !p.trim().is_empty())
                .map(|p| PathBuf::from(p.trim()))
                .collect::<Vec<_>>()
        };
        for (field, envname, fv) in [
            (&mut c.card_roots, "ECPA_CARD_ROOTS", fc.card_roots),
            (
                &mut c.card_natural_cas,
                "ECPA_CARD_NATURAL_CAS",
                fc.card_natural_cas,
            ),
            (&mut c.card_org_cas, "ECPA_CARD_ORG_CAS", fc.card_org_cas),
            (&mut c.card_crls, "ECPA_CARD_CRLS", fc.card_crls),
        ] {
            if let Some(v) = fv {
                *field = v;
            }
            if let Some(v) = env(envname) {
                *field = list(v);
            }
        }
        c.validate()?;
        Ok(c)
    }

    pub fn validate(&self) -> Result<(), ServerError> {
        if self.session_idle_minutes < 1 || self.session_absolute_hours < 1 {
            return Err(ServerError::Config(
                "session timeouts must be positive".into(),
            ));
        }
        // The floor is OWASP's minimum for Argon2id; nothing weaker is accepted.
        if self.argon2_m_kib < 19_456 || self.argon2_t < 2 || self.argon2_p < 1 {
            return Err(ServerError::Config(
                "Argon2id parameters below m=19456 KiB, t=2, p=1 are refused".into(),
            ));
        }
        if !(30..=3600).contains(&self.challenge_ttl_secs) {
            return Err(ServerError::Config(
                "challenge_ttl_secs must be 30..=3600".into(),
            ));
        }
        if self.mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ServerError::Config(format!(
                "mail_from is not a mailbox: {}",
                self.mail_from
            )));
        }
        if self.hash_concurrency == 0 || self.db_max_connections == 0 {
            return Err(ServerError::Config("pool sizes must be positive".into()));
        }
        Ok(())
    }

    pub fn is_https(&self) -> bool {
        self.public_origin.scheme() == "https"
    }

    /// Whether a request's `Host` (or HTTP/2 authority) names this portal: the public
    /// origin's `host[:port]`, a configured extra host, or, for a loopback public origin,
    /// another loopback name on the same port.
    pub fn serves_host(&self, authority: &str) -> bool {
        let a = authority.trim().to_ascii_lowercase();
        let origin = &self.public_origin;
        let port = origin.port_or_known_default();
        let (host, given_port) = split_authority(&a);
        let port_ok =
            given_port.or(origin.scheme().eq("https").then_some(443).or(Some(80))) == port;
        let own = origin.host_str().map(str::to_ascii_lowercase);
        if port_ok && own.as_deref() == Some(host) {
            return true;
        }
        const LOOPBACK: [&str; 3] = ["127.0.0.1", "localhost", "[::1]"];
        if port_ok
            && own.as_deref().is_some_and(|o| LOOPBACK.contains(&o))
            && LOOPBACK.contains(&host)
        {
            return true;
        }
        self.extra_hosts.iter().any(|e| {
            let (eh, ep) = split_authority(e);
            eh == host && (ep.is_none() || ep == given_port)
        })
    }

    /// `scheme://host[:port]` without a trailing slash, as browsers send in `Origin`.
    pub fn origin_string(&self) -> String {
        self.public_origin.origin().ascii_serialization()
    }

    pub fn session_policy(&self) -> ecpa_domain::session::SessionPolicy {
        ecpa_domain::session::SessionPolicy {
            idle_timeout: time::Duration::minutes(self.session_idle_minutes),
            absolute_timeout: time::Duration::hours(self.session_absolute_hours),
            ..Default::default()
        }
    }
}

/// `host[:port]` → (host, port); IPv6 hosts keep their brackets.
fn split_authority(a: &str) -> (&str, Option<u16>) {
    let colon = if a.starts_with('[') {
        a.find(']').and_then(|i| a[i..].find(':').map(|j| i + j))
    } else {
        a.rfind(':')
    };
    match colon {
        Some(i) => match a[i + 1..].parse() {
            Ok(p) => (&a[..i], Some(p)),
            Err(_) => (a, None),
        },
        None => (a, None),
    }
}

fn origin_for(listen: SocketAddr) -> Url {
    // A SocketAddr always forms a valid http URL.
    Url::parse(&format!("http://{listen}")).unwrap_or_else(|_| {
        Url::parse("http://127.0.0.1:3000").unwrap_or_else(|_| unreachable!("constant URL"))
    })
}

fn parse_origin(s: &str) -> Result<Url, ServerError> {
    let u = Url::parse(s).map_err(|e| cfg_err("public_origin", e))?;
    if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
        return Err(ServerError::Config(format!(
            "public_origin must be http(s)://host[:port], got {s}"
        )));
    }
    if u.path() != "/" || u.query().is_some() {
        return Err(ServerError::Config(format!(
            "public_origin must not have a path or query, got {s}"
        )));
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_rules() {
        assert!(parse_origin("https://ecpa.example.gov.tw").is_ok());
        assert!(parse_origin("https://ecpa.example.gov.tw/app").is_err());
        assert!(parse_origin("ftp://x").is_err());
        let mut c = Config::defaults();
        c.public_origin =
            parse_origin("https://ecpa.example.gov.tw:8443/").unwrap_or_else(|_| unreachable!());
        assert_eq!(c.origin_string(), "https://ecpa.example.gov.tw:8443");
        assert!(c.is_https());
    }

    #[test]
    fn weak_argon2_refused() {
        let c = Config {
            argon2_m_kib: 4096,
            ..Config::defaults()
        };
        assert!(c.validate().is_err());
    }
}

//! `ecpa-server pki check`: what the configured trust (roots, CAs, CRLs) covers, until
//! when, and what is missing; and, for given certificates, what the portal would decide and
//! why, as at a chosen time. Operators run it before go-live, QA on real certificates.

use crate::{cards::trust::CardTrust, error::ServerError};
use ecpa_cardproto::{
    crl::{Crl, Status},
    profile,
    verify::{self, CardKind, TrustStore},
};
use serde::Serialize;
use time::OffsetDateTime;

#[derive(Debug, Serialize)]
pub struct Report {
    pub at: String,
    pub roots: Vec<RootReport>,
    pub cas: Vec<CaReport>,
    /// CRLs and CAs set aside while loading.
    pub notes: Vec<String>,
    pub certificates: Vec<CertReport>,
    /// Every CA covered by a current CRL and a current ARL, and every certificate accepted.
    pub ok: bool,
}

#[derive(Debug, Serialize)]
pub struct RootReport {
    pub source: String,
    pub subject: String,
    pub valid_until: String,
    pub arls: Vec<CrlReport>,
}

#[derive(Debug, Serialize)]
pub struct CaReport {
    pub source: String,
    pub kind: &'static str,
    pub subject: String,
    pub valid_until: String,
    /// The configured root that signed it.
    pub issued_by: Option<String>,
    /// This CA's own status on its root's ARL: `good`, `revoked`, `stale`, `missing`.
    pub arl: &'static str,
    /// The CRLs for the certificates it issues.
    pub crls: Vec<CrlReport>,
    /// The CRL distribution points and OCSP responders its certificate names.
    pub crl_urls: Vec<String>,
    pub ocsp_urls: Vec<String>,
    pub problems: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct CrlReport {
    pub source: String,
    pub scope: String,
    pub number: String,
    pub this_update: String,
    pub next_update: Option<String>,
    pub entries: usize,
    pub current: bool,
}

#[derive(Debug, Serialize)]
pub struct CertReport {
    pub file: String,
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub subject_type: Option<String>,
    /// `natural`, `organization`, or none.
    pub kind: Option<&'static str>,
    pub id_last4: Option<String>,
    pub agency_oid: Option<String>,
    /// `card`, `mobile`, `secondary`…, from 2.16.886.1.100.2.2 (`card` when absent).
    pub form: String,
    pub crl_urls: Vec<String>,
    pub ocsp_urls: Vec<String>,
    /// `accepted`, or the refusal code (`cert.revoked`, `crl.missing`…).
    pub decision: String,
    pub reason: String,
}

fn when(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Good => "good",
        Status::Revoked => "revoked",
        Status::Stale => "stale",
        Status::Missing => "missing",
    }
}

fn crl_report(c: &Crl, at: i64) -> CrlReport {
    CrlReport {
        source: c.source.clone(),
        scope: c.scope.describe(),
        number: c.number_text(),
        this_update: when(c.this_update),
        next_update: c.next_update.map(when),
        entries: c.revoked.len(),
        current: c.fresh_at(at),
    }
}

/// Parses `--at`: RFC 3339 (`2027-01-31T08:00:00+08:00`) or a date (`2027-01-31`, midnight
/// Taipei).
pub fn parse_at(s: &str) -> Result<i64, ServerError> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &fmt)
        .map(|d| {
            d.midnight()
                .assume_offset(ecpa_domain::tz::TAIPEI)
                .unix_timestamp()
        })
        .map_err(|_| {
            ServerError::Invalid(format!(
                "--at {s}: expected RFC 3339 (2027-01-31T08:00:00+08:00) or a date (2027-01-31)"
            ))
        })
}

pub fn check(trust: &TrustStore, certs: &[(String, Vec<u8>)], at: i64) -> Report {
    let roots: Vec<RootReport> = trust
        .roots()
        .enumerate()
        .map(|(i, (source, subject, until))| RootReport {
            source: source.to_string(),
            subject: subject.to_string(),
            valid_until: when(until),
            arls: trust
                .crls_of_root(i)
                .into_iter()
                .map(|c| crl_report(c, at))
                .collect(),
        })
        .collect();
    let mut ok = true;
    let cas: Vec<CaReport> = trust
        .cas()
        .iter()
        .enumerate()
        .map(|(i, ca)| {
            let crls: Vec<CrlReport> = trust
                .crls_of_ca(i)
                .into_iter()
                .map(|c| crl_report(c, at))
                .collect();
            let arl = trust.ca_status(i, at).unwrap_or(Status::Missing);
            let mut problems = vec![];
            if ca.issuer_key.is_none() {
                problems.push("no configured root signed this CA".to_string());
            }
            if ca.not_after <= at {
                problems.push("the CA certificate has expired".into());
            }
            match arl {
                Status::Good => {}
                Status::Revoked => problems.push("revoked by its root's ARL".into()),
                Status::Stale => problems.push("its root's ARL is past nextUpdate".into()),
                Status::Missing => problems.push("no ARL of its root is configured".into()),
            }
            let complete_current = crls
                .iter()
                .any(|c| c.current && c.scope == "complete");
            if crls.is_empty() {
                problems.push("no CRL for the certificates it issues".into());
            } else if !complete_current {
                problems.push(
                    "no current complete CRL: only certificates of the configured partitions are covered"
                        .into(),
                );
            }
            if crls.iter().any(|c| !c.current) {
                problems.push("a configured CRL is past its nextUpdate (or not yet valid)".into());
            }
            ok &= problems.is_empty();
            CaReport {
                source: ca.source.clone(),
                kind: match ca.kind {
                    CardKind::Natural => "natural",
                    CardKind::Organization => "organization",
                },
                subject: ca.subject.clone(),
                valid_until: when(ca.not_after),
                issued_by: ca
                    .issuer_key
                    .and_then(|k| trust.roots().nth(k).map(|(s, _, _)| s.to_string())),
                arl: status_word(arl),
                crls,
                crl_urls: ca.crl_urls.clone(),
                ocsp_urls: ca.ocsp_urls.clone(),
                problems,
            }
        })
        .collect();
    let certificates: Vec<CertReport> = certs
        .iter()
        .map(|(file, der)| {
            let decision = verify::check_certificate(trust, der, at);
            let p = profile::parse(der).ok();
            let (decision, reason) = match &decision {
                Ok(_) => (
                    "accepted".to_string(),
                    "the portal accepts this certificate".to_string(),
                ),
                Err(r) => (
                    r.code().to_string(),
                    ecpa_app::wording::card_refusal_message(*r).to_string(),
                ),
            };
            ok &= decision == "accepted";
            let kind = p
                .as_ref()
                .and_then(|p| verify::kind_of(trust, p))
                .map(|k| match k {
                    CardKind::Natural => "natural",
                    CardKind::Organization => "organization",
                });
            CertReport {
                file: file.clone(),
                subject: p
                    .as_ref()
                    .map(|p| p.subject_hipki.clone())
                    .unwrap_or_default(),
                issuer: p
                    .as_ref()
                    .map(|p| p.issuer_hipki.clone())
                    .unwrap_or_default(),
                serial: p.as_ref().map(|p| p.serial_hex.clone()).unwrap_or_default(),
                subject_type: p.as_ref().and_then(|p| p.subject_type.clone()),
                kind,
                id_last4: p.as_ref().and_then(|p| p.id_last4.clone()),
                agency_oid: p.as_ref().and_then(|p| p.agency_oid.clone()),
                form: p
                    .as_ref()
                    .and_then(|p| p.card_form.clone())
                    .unwrap_or_else(|| "card".into()),
                crl_urls: p.as_ref().map(|p| p.crl_urls.clone()).unwrap_or_default(),
                ocsp_urls: p.as_ref().map(|p| p.ocsp_urls.clone()).unwrap_or_default(),
                decision,
                reason,
            }
        })
        .collect();
    if cas.is_empty() {
        ok = false;
    }
    Report {
        at: when(at),
        roots,
        cas,
        notes: trust.notes.clone(),
        certificates,
        ok,
    }
}

/// The report as text for a terminal.
pub fn render(r: &Report) -> String {
    let mut s = format!("PKI check as at {}\n\nRoots\n", r.at);
    for root in &r.roots {
        s.push_str(&format!(
            "  {}  {}  (valid until {})\n",
            root.source, root.subject, root.valid_until
        ));
        for c in &root.arls {
            s.push_str(&format!("    ARL {}\n", crl_line(c)));
        }
    }
    s.push_str("\nIssuing CAs\n");
    for ca in &r.cas {
        s.push_str(&format!(
            "  [{}] {}  {}  (valid until {}; signed by {})\n    ARL status: {}\n",
            ca.kind,
            ca.source,
            ca.subject,
            ca.valid_until,
            ca.issued_by.as_deref().unwrap_or("no configured root"),
            ca.arl
        ));
        for c in &ca.crls {
            s.push_str(&format!("    CRL {}\n", crl_line(c)));
        }
        if !ca.ocsp_urls.is_empty() {
            s.push_str(&format!(
                "    OCSP for this CA itself (named in its certificate): {}\n",
                ca.ocsp_urls.join(" ")
            ));
        }
        for p in &ca.problems {
            s.push_str(&format!("    MISSING: {p}\n"));
        }
    }
    if !r.notes.is_empty() {
        s.push_str("\nSet aside\n");
        for n in &r.notes {
            s.push_str(&format!("  {n}\n"));
        }
    }
    if !r.certificates.is_empty() {
        s.push_str("\nCertificates\n");
        for c in &r.certificates {
            s.push_str(&format!(
                "  {}\n    subject {}\n    issuer  {}\n    serial {}  type {}  kind {}  form {}\n",
                c.file,
                c.subject,
                c.issuer,
                c.serial,
                c.subject_type.as_deref().unwrap_or("-"),
                c.kind.unwrap_or("-"),
                c.form
            ));
            if let Some(l) = &c.id_last4 {
                s.push_str(&format!("    ID last four {l}\n"));
            }
            if let Some(o) = &c.agency_oid {
                s.push_str(&format!("    agency OID {o}\n"));
            }
            s.push_str(&format!("    decision: {} — {}\n", c.decision, c.reason));
        }
    }
    s.push_str(if r.ok { "\nOK\n" } else { "\nNOT READY\n" });
    s
}

fn crl_line(c: &CrlReport) -> String {
    format!(
        "{} [{}] number {}, {} entries, {} → {}{}",
        c.source,
        c.scope,
        c.number,
        c.entries,
        c.this_update,
        c.next_update.as_deref().unwrap_or("(no nextUpdate)"),
        if c.current { "" } else { "  NOT CURRENT" }
    )
}

/// Loads the configured trust and checks.
pub fn run(
    trust: &CardTrust,
    cert_files: &[std::path::PathBuf],
    at: i64,
) -> Result<Report, ServerError> {
    let store = trust.build()?;
    let mut certs = vec![];
    for f in cert_files {
        certs.push((f.display().to_string(), crate::cards::trust::read_der(f)?));
    }
    Ok(check(&store, &certs, at))
}

//! Certificate verification with a national-scale CRL: a 500,000-entry complete CRL of the
//! issuing CA (about 17 MB of DER, like MOICA's with room to spare) against an empty one.
//! Prints the CRL's load time, the memory its table holds, and the verification latency
//! (p50 / p99 over many runs) of a good card in both cases.
//!
//! `cargo run --release -p ecpa-cardproto --features verify --example crl_bench [ENTRIES]`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ecpa_cardproto::verify::{check_certificate, Policy, TrustStore};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason,
    RevokedCertParams, SerialNumber,
};
use std::time::Instant;
use time::{Duration, OffsetDateTime};

fn ca(
    name: &str,
    parent: Option<&Issuer<'static, KeyPair>>,
) -> (Issuer<'static, KeyPair>, Vec<u8>) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::default();
    let mut d = DistinguishedName::new();
    d.push(DnType::CountryName, "TW");
    d.push(DnType::OrganizationName, name);
    p.distinguished_name = d;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = OffsetDateTime::now_utc() - Duration::days(1);
    p.not_after = OffsetDateTime::now_utc() + Duration::days(3650);
    let der = match parent {
        None => p.self_signed(&key).unwrap().der().to_vec(),
        Some(i) => p.signed_by(&key, i).unwrap().der().to_vec(),
    };
    (Issuer::new(p, key), der)
}

fn crl(issuer: &Issuer<'static, KeyPair>, entries: usize) -> Vec<u8> {
    let now = OffsetDateTime::now_utc();
    CertificateRevocationListParams {
        this_update: now - Duration::hours(1),
        next_update: now + Duration::days(1),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: (0..entries as u64)
            .map(|i| {
                let mut s = vec![0x41u8; 8];
                s.extend(i.to_be_bytes());
                RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&s),
                    revocation_time: now - Duration::days(2),
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                }
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(issuer)
    .unwrap()
    .der()
    .to_vec()
}

fn percentiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[v.len() * 99 / 100])
}

/// Peak resident memory of this process so far (VmHWM), in MB.
fn peak_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// `--load DIR`: in a fresh process, only what the server does: read and load the files.
fn load_only(dir: &std::path::Path) {
    let read = |n: &str| std::fs::read(dir.join(n)).unwrap();
    let before = peak_mb();
    let t = Instant::now();
    let store = TrustStore::new(
        &[("root".into(), read("root.der"))],
        &[("moica".into(), read("moica.der"))],
        &[],
        &[
            ("moica.crl".into(), read("moica.crl")),
            ("arl".into(), read("arl.crl")),
        ],
        Policy::default(),
    )
    .unwrap();
    println!(
        "fresh process: load {:.0} ms, peak RSS {:.1} MB before loading, {:.1} MB after ({} entries held)",
        t.elapsed().as_secs_f64() * 1e3,
        before,
        peak_mb(),
        store.crls().iter().map(|c| c.revoked.len()).sum::<usize>()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--load") {
        return load_only(std::path::Path::new(&args[2]));
    }
    let entries: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(500_000);
    let (root, root_der) = ca("Root", None);
    let (moica, moica_der) = ca("MOICA", Some(&root));
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, "王小明");
    p.is_ca = IsCa::NoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.serial_number = Some(SerialNumber::from_slice(&[0x12; 16]));
    p.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
        &[2, 5, 29, 9],
        // SEQUENCE { SEQUENCE { OID 2.16.886.1.100.2.1, SET { OID 2.16.886.1.100.3.1.1 } } }
        vec![
            0x30, 0x17, 0x30, 0x15, 0x06, 0x07, 0x60, 0x86, 0x76, 0x01, 0x64, 0x02, 0x01, 0x31,
            0x0a, 0x06, 0x08, 0x60, 0x86, 0x76, 0x01, 0x64, 0x03, 0x01, 0x01,
        ],
    )];
    let card = p.signed_by(&key, &moica).unwrap().der().to_vec();
    let arl = crl(&root, 0);
    let t = Instant::now();
    let big = crl(&moica, entries);
    println!(
        "built a {entries}-entry CRL: {:.1} MB DER in {:.1} s",
        big.len() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let dir = std::env::temp_dir().join(format!("crl-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (n, d) in [
        ("root.der", &root_der),
        ("moica.der", &moica_der),
        ("moica.crl", &big),
        ("arl.crl", &arl),
    ] {
        std::fs::write(dir.join(n), d).unwrap();
    }
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--load")
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    let _ = std::fs::remove_dir_all(&dir);
    let now = OffsetDateTime::now_utc().unix_timestamp();
    for (label, moica_crl) in [("empty CRL", crl(&moica, 0)), ("large CRL", big)] {
        let t = Instant::now();
        let store = TrustStore::new(
            &[("root".into(), root_der.clone())],
            &[("moica".into(), moica_der.clone())],
            &[],
            &[
                ("moica.crl".into(), moica_crl.clone()),
                ("arl".into(), arl.clone()),
            ],
            Policy::default(),
        )
        .unwrap();
        let load = t.elapsed();
        let held: usize = store.crls().iter().map(|c| c.revoked.heap_bytes()).sum();
        // The first check of a card verifies its chain (two RSA signatures, the path
        // search); the store then remembers the chain and later checks only look at the
        // time and the CRLs.
        let t = Instant::now();
        check_certificate(&store, &card, now).unwrap();
        let first = t.elapsed().as_secs_f64() * 1e6;
        let mut times = vec![];
        for _ in 0..5_000 {
            let t = Instant::now();
            check_certificate(&store, &card, now).unwrap();
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
        let (p50, p99) = percentiles(times);
        println!(
            "{label}: {} bytes DER, load+verify {:.0} ms, table {:.1} MB ({:.2}× DER); check_certificate first {first:.0} µs, then p50 {p50:.0} µs, p99 {p99:.0} µs",
            moica_crl.len(),
            load.as_secs_f64() * 1e3,
            held as f64 / 1e6,
            held as f64 / moica_crl.len() as f64,
        );
    }
}

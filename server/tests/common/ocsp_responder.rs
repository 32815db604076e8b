//! `openssl ocsp` as a real OCSP responder over the simulator's CA database, with a
//! delegated responder certificate the simulated MOICA issued.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use hsm_sim::{pki::Ca, sim::Sim};
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};
use time::OffsetDateTime;

pub fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `openssl ocsp` as a responder on a free port; restarted to re-read the index.
pub struct Responder {
    pub child: Option<Child>,
    port: u16,
    dir: PathBuf,
    signer: (String, String),
}

impl Responder {
    pub fn start(dir: &Path, index: &str, signer: (&str, &str)) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = Responder {
            child: None,
            port,
            dir: dir.to_path_buf(),
            signer: (signer.0.into(), signer.1.into()),
        };
        r.restart(index);
        r
    }

    pub fn restart(&mut self, index: &str) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        std::fs::write(self.dir.join("index.txt"), index).unwrap();
        let mut child = Command::new("openssl")
            .args(["ocsp", "-index"])
            .arg(self.dir.join("index.txt"))
            .arg("-CA")
            .arg(self.dir.join("test-moica.pem"))
            .args(["-rsigner", &self.signer.0, "-rkey", &self.signer.1])
            .args(["-port", &self.port.to_string(), "-nmin", "1", "-ignore_err"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Ready once it prints `ACCEPT …` (a probe connection would keep this one-request-
        // at-a-time responder busy); the rest of its output is drained.
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        assert!(line.starts_with("ACCEPT"), "openssl ocsp: {line}");
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        self.child = Some(child);
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A responder key and its certificate from the simulated MOICA (PEM files in `dir`).
pub fn delegated_responder(sim: &Sim, dir: &Path) -> (String, String) {
    let key = dir.join("resp.key");
    let spki = dir.join("resp.spki.der");
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        key.to_str().unwrap(),
    ]);
    openssl(&[
        "pkey",
        "-in",
        key.to_str().unwrap(),
        "-pubout",
        "-outform",
        "DER",
        "-out",
        spki.to_str().unwrap(),
    ]);
    let cert = sim
        .ocsp_responder_cert(
            Ca::Moica,
            &std::fs::read(&spki).unwrap(),
            OffsetDateTime::now_utc(),
        )
        .unwrap();
    let pem = dir.join("resp.pem");
    std::fs::write(&pem, hsm_sim::pki::pem("CERTIFICATE", &cert)).unwrap();
    (pem.display().to_string(), key.display().to_string())
}

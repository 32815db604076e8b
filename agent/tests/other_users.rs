//! Security review #16.3: the agent serves only the operating-system user it runs as.
//! The agent runs in this test process; a second user of the same computer (`nobody`,
//! switched to with `setpriv`, as on a terminal server) connects to it with `curl`, and
//! is refused before any request of theirs is read. The same request from this user works.
//! Switching users needs root (CI runs as root); elsewhere the cross-user half says so and
//! checks only this user's half.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{os::unix::fs::MetadataExt, process::Command};

fn curl_as(user: Option<u32>, url: &str, host: &str, post: bool) -> (String, String) {
    let mut cmd = match user {
        Some(uid) => {
            let mut c = Command::new("setpriv");
            c.args([
                &format!("--reuid={uid}"),
                &format!("--regid={uid}"),
                "--clear-groups",
                "curl",
            ]);
            c
        }
        None => Command::new("curl"),
    };
    cmd.args(["-s", "-w", "\n%{http_code}", "-H", &format!("Host: {host}")]);
    if post {
        cmd.args([
            "-X",
            "POST",
            "--data",
            "{}",
            "-H",
            "Origin: https://ecpa.example.gov.tw",
        ]);
    }
    let out = cmd.arg(url).output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or((&text, ""));
    (code.to_string(), body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_user_of_this_computer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // A free port (the agent answers only `Host: 127.0.0.1:<its port>`).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = ecpa_agent::config::Config {
        port,
        // No card is needed: the question is who may ask at all.
        modules: vec![dir.path().join("no-such-module.so")],
        pcsc: false,
        isolate: false,
        trusted_sites: vec!["https://ecpa.example.gov.tw".into()],
        trust_file: Some(dir.path().join("trusted.json")),
        ..Default::default()
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        if let Err(e) = ecpa_agent::serve(cfg, Some(tx)).await {
            panic!("agent: {e}");
        }
    });
    let addr = rx.await.unwrap();
    let host = format!("127.0.0.1:{}", addr.port());
    let base = format!("http://{host}");

    // This user: served.
    let (code, body) = tokio::task::spawn_blocking({
        let (b, h) = (base.clone(), host.clone());
        move || curl_as(None, &format!("{b}/"), &h, false)
    })
    .await
    .unwrap();
    assert_eq!(code, "200", "{body}");
    assert!(body.contains("version:"), "{body}");

    let me = std::fs::metadata("/proc/self").unwrap().uid();
    if me != 0 {
        eprintln!("not root: cannot switch to another user here; the cross-user half runs in CI");
        return;
    }
    // Another user: refused, for the version page and for the card.
    for (path, post) in [
        ("/", false),
        ("/pkcs11info", true),
        ("/addDomain?domain=evil.example", false),
    ] {
        let (code, body) = tokio::task::spawn_blocking({
            let (b, h) = (base.clone(), host.clone());
            move || curl_as(Some(65534), &format!("{b}{path}"), &h, post)
        })
        .await
        .unwrap();
        assert_eq!(code, "403", "{path}: {body}");
        assert!(body.contains("只服務啟動它的使用者"), "{path}: {body}");
    }
    // And this user still is.
    let (code, _) = tokio::task::spawn_blocking(move || {
        curl_as(None, &format!("{base}/pkcs11info"), &host, true)
    })
    .await
    .unwrap();
    assert_eq!(code, "200");
}

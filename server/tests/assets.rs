//! The site's files as a browser gets them from the real server over real TCP: pages name
//! them by version, versioned files are cached for good and plain names revalidated,
//! precompressed copies are sent by content negotiation (and never when stale), pages are
//! compressed on the fly, and a kept-alive connection does not stall between files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ecpa_server::config::Config;
use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    path::Path,
    time::{Duration, Instant},
};

/// A stylesheet large enough to go out in several TCP segments.
fn css() -> String {
    (0..800)
        .map(|i| format!(".c{i} {{ color: #{:06x}; }}\n", i * 977))
        .collect()
}

fn write_site(root: &Path, compressed: bool) {
    let pkg = root.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("ecpa.js"), "export default function init() {}\n").unwrap();
    std::fs::write(pkg.join("ecpa.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(pkg.join("ecpa.css"), css()).unwrap();
    if compressed {
        for f in ["ecpa.js", "ecpa.wasm", "ecpa.css"] {
            // Stand-ins with their own bytes: the test checks which file is sent.
            std::fs::write(pkg.join(format!("{f}.br")), format!("BR:{f}")).unwrap();
            std::fs::write(pkg.join(format!("{f}.gz")), format!("GZ:{f}")).unwrap();
        }
    }
}

struct Server {
    addr: SocketAddr,
    host: String,
    _dir: tempfile::TempDir,
}

/// The real server (SQLite, real TCP) over a site `prepare` writes.
async fn start(prepare: impl FnOnce(&Path)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::defaults();
    c.database_url = format!("sqlite://{}", dir.path().join("ecpa.db").display());
    c.site_root = dir.path().join("site");
    c.mail_outbox = dir.path().join("outbox");
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.rate_limits = false;
    prepare(&c.site_root);
    let host = match c.public_origin.port() {
        Some(p) => format!("{}:{p}", c.public_origin.host_str().unwrap()),
        None => c.public_origin.host_str().unwrap().to_string(),
    };
    let portal = ecpa_server::portal(c).await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move { ecpa_server::serve(portal, Some(tx)).await });
    let addr = rx.await.unwrap();
    Server {
        addr,
        host,
        _dir: dir,
    }
}

/// One HTTP/1.1 answer: status, headers (lower-case names), body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends a GET on `conn` (kept alive) and reads one answer with a `Content-Length` or
/// chunked body.
fn get(conn: &mut TcpStream, host: &str, path: &str, extra: &[(&str, &str)]) -> Answer {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    conn.write_all(req.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let head_end = loop {
        let mut b = [0u8; 4096];
        let n = conn.read(&mut b).unwrap();
        assert!(n > 0, "connection closed");
        buf.extend_from_slice(&b[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut rest = buf[head_end..].to_vec();
    let mut fill = |rest: &mut Vec<u8>, want: usize| {
        while rest.len() < want {
            let mut b = [0u8; 16384];
            let n = conn.read(&mut b).unwrap();
            assert!(n > 0, "connection closed mid-body");
            rest.extend_from_slice(&b[..n]);
        }
    };
    let find =
        |h: &[(String, String)], n: &str| h.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let body = if let Some(len) = find(&headers, "content-length") {
        let len: usize = len.parse().unwrap();
        fill(&mut rest, len);
        rest[..len].to_vec()
    } else if find(&headers, "transfer-encoding").as_deref() == Some("chunked") {
        let mut body = Vec::new();
        let mut pos = 0;
        loop {
            let line_end = loop {
                if let Some(i) = rest[pos..].windows(2).position(|w| w == b"\r\n") {
                    break pos + i;
                }
                let want = rest.len() + 1;
                fill(&mut rest, want);
            };
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&rest[pos..line_end])
                    .split(';')
                    .next()
                    .unwrap()
                    .trim(),
                16,
            )
            .unwrap();
            let start = line_end + 2;
            fill(&mut rest, start + size + 2);
            body.extend_from_slice(&rest[start..start + size]);
            pos = start + size + 2;
            if size == 0 {
                break;
            }
        }
        body
    } else {
        Vec::new()
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn connect(s: &Server) -> TcpStream {
    let c = TcpStream::connect(s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c
}

/// The `/pkg/<version>/ecpa.css` a page links to.
fn stylesheet_of(page: &str) -> String {
    let i = page.find("/pkg/").expect("a /pkg/ link");
    let end = page[i..].find(".css").expect("the stylesheet") + i + 4;
    page[i..end].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_name_files_by_version_cached_for_good_and_compressed() {
    let s = start(|root| write_site(root, true)).await;
    tokio::task::spawn_blocking(move || {
        let host = s.host.clone();
        let mut c = connect(&s);
        let home = get(&mut c, &host, "/", &[]);
        assert_eq!(home.status, 200);
        let page = String::from_utf8(home.body).unwrap();
        let css = stylesheet_of(&page);
        let version = css
            .strip_prefix("/pkg/")
            .and_then(|r| r.split_once('/'))
            .map(|(v, _)| v.to_string())
            .unwrap();
        assert_eq!(version.len(), 16, "{css}");
        for f in ["ecpa.js", "ecpa.wasm"] {
            assert!(
                page.contains(&format!("/pkg/{version}/{f}")),
                "the page loads {f} by version"
            );
        }

        // Versioned: for good; precompressed copies by negotiation.
        let br = get(
            &mut c,
            &host,
            &css,
            &[("Accept-Encoding", "gzip, deflate, br")],
        );
        assert_eq!(br.status, 200);
        assert_eq!(
            br.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(br.header("content-encoding"), Some("br"));
        assert_eq!(br.body, b"BR:ecpa.css");
        assert!(br
            .header("vary")
            .is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding")));
        let gz = get(&mut c, &host, &css, &[("Accept-Encoding", "gzip")]);
        assert_eq!(gz.header("content-encoding"), Some("gzip"));
        assert_eq!(gz.body, b"GZ:ecpa.css");
        let plain = get(&mut c, &host, &css, &[]);
        assert_eq!(plain.header("content-encoding"), None);
        assert_eq!(plain.body, css_bytes());
        let wasm = get(&mut c, &host, &format!("/pkg/{version}/ecpa.wasm"), &[]);
        assert_eq!(wasm.header("content-type"), Some("application/wasm"));

        // Plain names and other versions: revalidated, and a 304 when unchanged.
        let plain = get(&mut c, &host, "/pkg/ecpa.css", &[]);
        assert_eq!(plain.header("cache-control"), Some("no-cache"));
        let since = plain.header("last-modified").unwrap().to_string();
        let again = get(
            &mut c,
            &host,
            "/pkg/ecpa.css",
            &[("If-Modified-Since", &since)],
        );
        assert_eq!(again.status, 304);
        let old = get(&mut c, &host, "/pkg/0123456789abcdef/ecpa.css", &[]);
        assert_eq!(old.status, 200);
        assert_eq!(old.header("cache-control"), Some("no-cache"));

        // Nothing but the site's own files.
        for path in [
            "/pkg/ecpa.css.br",
            &format!("/pkg/{version}/../ecpa.css"),
            "/pkg/%2e%2e/ecpa.db",
            "/pkg/",
        ] {
            let a = get(&mut c, &host, path, &[]);
            assert!(a.status == 404 || a.status == 400, "{path}: {}", a.status);
        }

        // Pages themselves are compressed as they go out.
        let home = get(&mut c, &host, "/", &[("Accept-Encoding", "br")]);
        assert_eq!(home.status, 200);
        assert_eq!(home.header("content-encoding"), Some("br"));
        let home = get(&mut c, &host, "/", &[("Accept-Encoding", "gzip")]);
        assert_eq!(home.header("content-encoding"), Some("gzip"));
    })
    .await
    .unwrap();
}

fn css_bytes() -> Vec<u8> {
    css().into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_compressed_copies_are_never_sent() {
    // A stylesheet rewritten after its copies were made (what a build without
    // --precompress over an older site would leave) …
    let s = start(|root| {
        write_site(root, true);
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        std::fs::File::options()
            .write(true)
            .open(root.join("pkg/ecpa.css"))
            .unwrap()
            .set_modified(later)
            .unwrap();
    })
    .await;
    tokio::task::spawn_blocking(move || {
        let mut c = connect(&s);
        // … is never sent from the older compressed copies (the compression layer may
        // compress the new one as it goes out) …
        for enc in ["br", "gzip"] {
            let a = get(
                &mut c,
                &s.host,
                "/pkg/ecpa.css",
                &[("Accept-Encoding", enc)],
            );
            assert_eq!(a.status, 200);
            assert!(
                !a.body.starts_with(b"BR:") && !a.body.starts_with(b"GZ:"),
                "{enc}"
            );
        }
        // … and goes out as it is now.
        let a = get(&mut c, &s.host, "/pkg/ecpa.css", &[]);
        assert_eq!(a.header("content-encoding"), None);
        assert_eq!(a.body, css_bytes());
    })
    .await
    .unwrap();
}

/// Three fetches of a file over one kept-alive connection take well under one delayed
/// ACK (~40 ms on Linux). Without TCP_NODELAY each answer written in two pieces waited for
/// it; the stall is deterministic, so the best of a few tries tells it from a busy machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_alive_connection_does_not_stall_between_files() {
    let s = start(|root| write_site(root, false)).await;
    let host = s.host.clone();
    let best = tokio::task::spawn_blocking(move || {
        let mut best = Duration::MAX;
        for _ in 0..5 {
            let mut c = connect(&s);
            // Warm the connection (accept, first read) outside the measurement.
            assert_eq!(get(&mut c, &host, "/healthz", &[]).status, 200);
            let t = Instant::now();
            for _ in 0..3 {
                let a = get(&mut c, &host, "/pkg/ecpa.css", &[]);
                assert_eq!(a.status, 200);
                assert_eq!(a.body.len(), css().len());
            }
            best = best.min(t.elapsed());
        }
        best
    })
    .await
    .unwrap();
    assert!(
        best < Duration::from_millis(20),
        "three files over one connection took {best:?} at best"
    );
}

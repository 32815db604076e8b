//! Card work in a child process that can be abandoned.
//!
//! A PKCS#11 module is foreign code in our address space, and it can hang for good: OpenSC
//! deadlocks in `C_GetTokenInfo` once pcscd stops under it (on Windows the PC/SC service
//! stops when the last reader is removed). A thread stuck there never returns, so no timeout
//! inside the agent can free it. Like the real HiPKI component (`HiPKISign.exe`,
//! `ListInfo.exe`), the agent runs every card operation in a short-lived child process
//! (`ecpa-agent --card-worker`), hands it the request on stdin (the PIN too: never on the
//! command line or in the environment), reads the result from stdout, and kills it at its
//! deadline. The agent then answers `0x7600000D` (執行檔錯誤或逾時), as the real one does.
//!
//! [`Isolated`] implements [`Readers`] and [`Tokens`], so the agent's logic does not know
//! whether the card is reached in-process (unit tests, SoftHSM) or through a worker.

use crate::card::{ReaderState, Readers, SignRequest, SlotSummary, Tokens};
use crate::codes::Failure;
use serde::{Deserialize, Serialize};
use std::{
    io::{Read, Write},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};
use zeroize::{Zeroize, Zeroizing};

/// The flag that turns the agent binary into a card worker.
pub const WORKER_FLAG: &str = "--card-worker";
/// The largest answer a worker may give (certificates of every slot).
const MAX_REPLY: u64 = 4 * 1024 * 1024;
const MAX_REQUEST: u64 = 256 * 1024;

#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Op {
    Readers,
    Slots {
        with_certs: bool,
    },
    Sign {
        req: SignRequest,
        pin: Zeroizing<String>,
    },
}

#[derive(Serialize, Deserialize)]
struct Request {
    modules: Vec<PathBuf>,
    pcsc: bool,
    op: Op,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    Readers(Vec<ReaderState>),
    Slots(Vec<SlotSummary>),
    Signature(Vec<u8>),
}

/// Runs card operations in `exe --card-worker`, each within its deadline.
pub struct Isolated {
    pub exe: PathBuf,
    pub modules: Vec<PathBuf>,
    pub pcsc: bool,
    /// How long one operation (listing or signing) may take before its worker is killed.
    pub deadline: Duration,
}

impl Isolated {
    pub fn new(exe: PathBuf, modules: Vec<PathBuf>, pcsc: bool, deadline: Duration) -> Self {
        Self {
            exe,
            modules,
            pcsc,
            deadline,
        }
    }

    fn run(&self, op: Op) -> Result<Reply, Failure> {
        let deadline = self.deadline;
        let mut request = Zeroizing::new(
            serde_json::to_vec(&Request {
                modules: self.modules.clone(),
                pcsc: self.pcsc,
                op,
            })
            .map_err(|e| Failure::Card(format!("worker request: {e}")))?,
        );
        let mut child = Command::new(&self.exe)
            .arg(WORKER_FLAG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| Failure::Card(format!("cannot start {}: {e}", self.exe.display())))?;
        let written = child
            .stdin
            .take()
            .map(|mut stdin| stdin.write_all(&request))
            .unwrap_or_else(|| Err(std::io::Error::other("no stdin")));
        request.zeroize();
        if let Err(e) = written {
            reap(child);
            return Err(Failure::Card(format!("worker: {e}")));
        }
        let Some(stdout) = child.stdout.take() else {
            reap(child);
            return Err(Failure::Card("worker: no stdout".into()));
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = vec![];
            let r = stdout.take(MAX_REPLY).read_to_end(&mut buf).map(|_| buf);
            let _ = tx.send(r);
        });
        match rx.recv_timeout(deadline) {
            Ok(Ok(out)) => {
                let _ = child.wait();
                match serde_json::from_slice::<Result<Reply, Failure>>(&out) {
                    Ok(r) => r,
                    Err(_) => Err(Failure::Card(
                        "the card worker ended without an answer".into(),
                    )),
                }
            }
            Ok(Err(e)) => {
                reap(child);
                Err(Failure::Card(format!("worker: {e}")))
            }
            Err(_) => {
                tracing::warn!(
                    deadline_ms = deadline.as_millis() as u64,
                    "card worker did not answer in time: killed"
                );
                reap(child);
                Err(Failure::Timeout)
            }
        }
    }
}

fn reap(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

impl Readers for Isolated {
    fn list(&self) -> Result<Vec<ReaderState>, Failure> {
        match self.run(Op::Readers)? {
            Reply::Readers(r) => Ok(r),
            _ => Err(Failure::Card("worker: unexpected answer".into())),
        }
    }
}

impl Tokens for Isolated {
    fn slots(&self, with_certs: bool) -> Result<Vec<SlotSummary>, Failure> {
        match self.run(Op::Slots { with_certs })? {
            Reply::Slots(s) => Ok(s),
            _ => Err(Failure::Card("worker: unexpected answer".into())),
        }
    }

    fn sign(&self, req: &SignRequest, pin: &str) -> Result<Vec<u8>, Failure> {
        let op = Op::Sign {
            req: req.clone(),
            pin: Zeroizing::new(pin.to_string()),
        };
        match self.run(op)? {
            Reply::Signature(s) => Ok(s),
            _ => Err(Failure::Card("worker: unexpected answer".into())),
        }
    }
}

/// The worker's side: one request from stdin, one answer on stdout, then exit.
pub fn worker_main() -> std::process::ExitCode {
    let mut input = Zeroizing::new(Vec::new());
    if std::io::stdin()
        .take(MAX_REQUEST)
        .read_to_end(&mut input)
        .is_err()
    {
        return std::process::ExitCode::FAILURE;
    }
    let reply: Result<Reply, Failure> = match serde_json::from_slice::<Request>(&input) {
        Err(_) => Err(Failure::Card("worker: malformed request".into())),
        // The PIN (in `Op::Sign`) is zeroed when the request is dropped.
        Ok(req) => run_here(&req),
    };
    input.zeroize();
    let Ok(out) = serde_json::to_vec(&reply) else {
        return std::process::ExitCode::FAILURE;
    };
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(&out)
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}

fn run_here(req: &Request) -> Result<Reply, Failure> {
    match &req.op {
        Op::Readers => crate::readers::PcscReaders.list().map(Reply::Readers),
        Op::Slots { with_certs } => {
            let mut t = crate::pkcs11::Pkcs11Tokens::new(req.modules.clone());
            t.fresh_per_call = req.pcsc;
            t.slots(*with_certs).map(Reply::Slots)
        }
        Op::Sign { req: sign, pin } => {
            let mut t = crate::pkcs11::Pkcs11Tokens::new(req.modules.clone());
            t.fresh_per_call = req.pcsc;
            t.sign(sign, pin).map(Reply::Signature)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Instant;

    /// A stand-in worker program: a shell script (real processes, real pipes and kill).
    fn script(dir: &std::path::Path, body: &str) -> PathBuf {
        let p = dir.join("worker.sh");
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn isolated(exe: PathBuf, ms: u64) -> Isolated {
        Isolated::new(exe, vec![], true, Duration::from_millis(ms))
    }

    /// A worker stuck for good (a deadlocked module) is killed at its deadline; the caller
    /// gets `Timeout` (0x7600000D) in time, and the process is gone.
    #[test]
    fn a_hung_worker_is_killed_at_its_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let exe = script(
            dir.path(),
            &format!("echo $$ > {}\nexec sleep 60", pidfile.display()),
        );
        let w = isolated(exe, 400);
        let t = Instant::now();
        assert_eq!(w.list(), Err(Failure::Timeout));
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // SAFETY: signal 0 only asks whether the process exists.
        assert_ne!(unsafe { libc::kill(pid, 0) }, 0, "the hung worker is gone");
        assert_eq!(Failure::Timeout.codes().0, crate::codes::EXE_TIMEOUT);
    }

    /// A worker that dies without answering, or answers garbage: a card error, not a hang.
    #[test]
    fn a_broken_worker_is_a_card_error() {
        let dir = tempfile::tempdir().unwrap();
        for body in ["exit 3", "echo not-json", "kill -9 $$"] {
            let w = isolated(script(dir.path(), body), 5_000);
            assert!(matches!(w.list(), Err(Failure::Card(_))), "{body}");
        }
        let w = isolated(dir.path().join("missing"), 5_000);
        assert!(matches!(w.slots(false), Err(Failure::Card(_))));
    }

    /// The request reaches the worker on stdin (the PIN never on the command line) and the
    /// worker's answer comes back.
    #[test]
    fn request_on_stdin_answer_on_stdout() {
        let dir = tempfile::tempdir().unwrap();
        let seen = dir.path().join("seen");
        let exe = script(
            dir.path(),
            &format!(
                "echo \"$@\" > {0}.args\ncat > {0}\necho '{{\"Ok\":{{\"signature\":[1,2,3]}}}}'",
                seen.display()
            ),
        );
        let w = isolated(exe, 5_000);
        let req = SignRequest {
            slot_id: 1,
            key_id: vec![1],
            hash: crate::card::Hash::Sha256,
            data: b"x".to_vec(),
            prehashed: false,
        };
        assert_eq!(w.sign(&req, "864209"), Ok(vec![1, 2, 3]));
        let input = std::fs::read_to_string(&seen).unwrap();
        assert!(input.contains("\"pin\":\"864209\""));
        let args = std::fs::read_to_string(format!("{}.args", seen.display())).unwrap();
        assert_eq!(
            args.trim(),
            WORKER_FLAG,
            "nothing but the flag on the command line"
        );
    }
}

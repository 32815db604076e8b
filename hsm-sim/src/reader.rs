//! A card in a virtual reader: the vpcd protocol (vsmartcard's pcscd driver) and the
//! SoftHSM-backed secure element behind the PIV application.
//!
//! vpcd listens on TCP port 35963 + reader index (`HSM_SIM_VPCD_PORT` + index for a private
//! pcscd, see [`crate::pcscd::Private`]); the card side connects. Frames are a
//! 2-byte big-endian length and a payload: one byte is a control code (0 power off, 1 power
//! on, 2 reset, 4 send ATR), anything longer a command APDU to answer. Closing the socket is
//! pulling the card out.

use crate::piv::{self, Backend, BackendError, CardObjects, PivCard};
use crate::sim::{CardMeta, Sim, KEY_ENC, KEY_SIGN};
use crate::softhsm::Hsm;
use cryptoki::session::Session;
use std::{
    io::{Read, Write},
    net::{Shutdown, TcpStream},
    path::PathBuf,
    sync::{Arc, Mutex},
    thread::JoinHandle,
    time::Duration,
};

pub const VPCD_BASE_PORT: u16 = 35963;
pub const READERS: u8 = 2;

/// The vpcd port of `reader`: from `HSM_SIM_VPCD_PORT` when set (a private pcscd), else the
/// Debian package's 35963.
pub fn port(reader: u8) -> u16 {
    let base = std::env::var(crate::pcscd::VPCD_PORT_ENV)
        .ok()
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(VPCD_BASE_PORT);
    base.saturating_add(u16::from(reader))
}

/// The secure element of an inserted card: its SoftHSM token, and the counter in the
/// card's record.
pub struct HsmCard {
    hsm: &'static Hsm,
    sim_state: PathBuf,
    number: String,
    tries: u8,
    session: Option<Session>,
}

impl HsmCard {
    fn save_tries(&self, n: u8) -> Result<(), BackendError> {
        let sim = Sim::open(&self.sim_state).map_err(|e| BackendError::Device(e.to_string()))?;
        let mut meta = sim
            .card(&self.number)
            .map_err(|e| BackendError::Device(e.to_string()))?;
        meta.tries_left = n;
        sim.save_card(&meta)
            .map_err(|e| BackendError::Device(e.to_string()))
    }
}

impl Backend for HsmCard {
    fn check_pin(&mut self, pin: &[u8]) -> Result<bool, BackendError> {
        self.session = None;
        match self.hsm.try_pin(&self.number, pin) {
            Ok(Some(s)) => {
                self.session = Some(s);
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) => Err(BackendError::Device(e.to_string())),
        }
    }

    fn private_op(&mut self, slot: u8, block: &[u8]) -> Result<Vec<u8>, BackendError> {
        if slot != KEY_SIGN && slot != KEY_ENC {
            return Err(BackendError::NoKey(slot));
        }
        let s = self
            .session
            .as_ref()
            .ok_or_else(|| BackendError::Device("not logged in".into()))?;
        self.hsm
            .raw_rsa(s, &self.number, slot, block)
            .map_err(|e| BackendError::Device(e.to_string()))
    }

    /// The card's record is the truth: `hsm-sim card lock` / `reset-pin` (another process)
    /// take effect on an inserted card at the next PIN check, as on a real card the issuer
    /// changed.
    fn tries_left(&self) -> u8 {
        Sim::open(&self.sim_state)
            .and_then(|sim| sim.card(&self.number))
            .map_or(self.tries, |m| m.tries_left)
    }

    fn set_tries_left(&mut self, n: u8) -> Result<(), BackendError> {
        self.save_tries(n)?;
        self.tries = n;
        Ok(())
    }

    fn power_off(&mut self) {
        self.session = None;
    }
}

/// The PIV card of `meta`, backed by SoftHSM. Like real MOICA / GCA cards it also carries
/// its issuing CA's certificate and the root's (in the PIV slots 9E and 9C, whose keys are
/// never used): what the component lists as `CA Cert` / `ROOT CA Cert`, which a page or the
/// agent must never take for the holder's signing certificate.
pub fn piv_card(sim: &Sim, meta: &CardMeta) -> PivCard<HsmCard> {
    let mut guid = [0u8; 16];
    guid.copy_from_slice(&meta.number.as_bytes()[..16]);
    let mut certs = vec![
        (KEY_SIGN, meta.sign_cert_der()),
        (KEY_ENC, meta.enc_cert_der()),
    ];
    if let Some(ca) = sim.ca_cert(meta.issuer).ok().filter(|c| !c.is_empty()) {
        certs.push((piv::SLOT_CARD_AUTH, ca));
    }
    if let Some(root) = meta
        .issuer
        .parent()
        .and_then(|r| sim.ca_cert(r).ok())
        .filter(|c| !c.is_empty())
    {
        certs.push((piv::SLOT_SIGN, root));
    }
    let objects = CardObjects {
        guid,
        expiry: *b"20401231",
        certs,
    };
    let backend = HsmCard {
        hsm: sim.hsm(),
        sim_state: sim.state.clone(),
        number: meta.number.clone(),
        tries: meta.tries_left,
        session: None,
    };
    PivCard::new(objects, backend)
}

#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    #[error("no virtual reader listens on 127.0.0.1:{0}: pcscd with the vpcd driver is not running there (start it with `hsm-sim pcscd start` as root), or another program already holds that reader")]
    NoReader(u16),
    #[error("reader {0} does not exist (readers 0 and 1)")]
    BadReader(u8),
    #[error("reader {0} is occupied")]
    Occupied(u8),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Disables delayed ACKs on the socket (vpcd writes length and payload separately; without
/// this every APDU waits ~40 ms for Nagle + delayed ACK).
fn quickack(s: &TcpStream) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let one: libc::c_int = 1;
        // SAFETY: a valid socket descriptor and a pointer to a live c_int of the given size.
        unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_QUICKACK,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
}

fn read_frame(s: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    quickack(s);
    let mut len = [0u8; 2];
    match s.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let n = u16::from_be_bytes(len) as usize;
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf)?;
    Ok(Some(buf))
}

fn write_frame(s: &mut TcpStream, payload: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(payload.len()).map_err(|_| std::io::Error::other("frame too long"))?;
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    s.write_all(&out)
}

/// Serves `card` on an open vpcd connection until it closes.
pub fn serve<B: Backend>(card: &mut PivCard<B>, s: TcpStream) -> std::io::Result<()> {
    serve_until(card, s, None, &|| false).map(|_| ())
}

/// Serves `card` (first answering `pending`, a frame already read) until the connection
/// closes (`None`), or until a VERIFY (PIN) command arrives while `pin_changed()` says the
/// PIN was reset elsewhere: then that command is returned unanswered, for a fresh process
/// to answer (`hsm-sim serve-card` re-executes itself on the same connection).
pub fn serve_until<B: Backend>(
    card: &mut PivCard<B>,
    mut s: TcpStream,
    pending: Option<Vec<u8>>,
    pin_changed: &dyn Fn() -> bool,
) -> std::io::Result<Option<(Vec<u8>, TcpStream)>> {
    s.set_nodelay(true)?;
    let mut pending = pending;
    loop {
        let frame = match pending.take() {
            Some(f) => f,
            None => match read_frame(&mut s)? {
                Some(f) => f,
                None => return Ok(None),
            },
        };
        match frame.as_slice() {
            [0] | [1] | [2] => card.reset(),
            [4] => write_frame(&mut s, &piv::atr())?,
            [_] => {}
            [_, 0x20, ..] if pin_changed() => return Ok(Some((frame, s))),
            apdu => {
                let r = card.process(apdu);
                write_frame(&mut s, &r)?;
            }
        }
    }
}

pub fn connect(reader: u8) -> Result<TcpStream, ReaderError> {
    if reader >= READERS {
        return Err(ReaderError::BadReader(reader));
    }
    let p = port(reader);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], p));
    TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|_| ReaderError::NoReader(p))
}

/// A card inserted by this process; dropping it (or [`Inserted::eject`]) pulls it out.
pub struct Inserted {
    pub reader: u8,
    pub number: String,
    stream: TcpStream,
    thread: Option<JoinHandle<()>>,
    pub error: Arc<Mutex<Option<String>>>,
}

impl Inserted {
    pub fn eject(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Blocks until the card is pulled out from the other side (pcscd gone) or ejected.
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Inserted {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Inserts the card into virtual reader `reader` of the running pcscd (library API: the
/// card runs in a thread of this process).
pub fn insert(sim: &Sim, number: &str, reader: u8) -> Result<Inserted, crate::sim::SimError> {
    let meta = sim.card(number)?;
    let stream = connect(reader).map_err(|e| crate::sim::SimError::Other(e.to_string()))?;
    let theirs = stream
        .try_clone()
        .map_err(|e| crate::sim::SimError::Other(e.to_string()))?;
    let mut card = piv_card(sim, &meta);
    let error = Arc::new(Mutex::new(None));
    let err2 = error.clone();
    let thread = std::thread::Builder::new()
        .name(format!("card-{number}"))
        .spawn(move || {
            if let Err(e) = serve(&mut card, theirs) {
                if let Ok(mut g) = err2.lock() {
                    *g = Some(e.to_string());
                }
            }
        })
        .map_err(|e| crate::sim::SimError::Other(e.to_string()))?;
    Ok(Inserted {
        reader,
        number: number.into(),
        stream,
        thread: Some(thread),
        error,
    })
}

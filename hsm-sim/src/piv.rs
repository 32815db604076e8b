//! The card's application: enough of NIST SP 800-73 PIV for OpenSC's PIV driver to use the
//! card like a real one: SELECT, GET DATA (discovery, CHUID, certificate containers),
//! VERIFY with a retry counter, GENERAL AUTHENTICATE (raw RSA-2048), GET RESPONSE and
//! command chaining.
//!
//! The PIN is never checked here: [`Backend::check_pin`] asks the secure element (SoftHSM,
//! whose user PIN is the card PIN). The retry counter and the lock live here, as on a real
//! card: three wrong PINs block it, and a blocked card refuses even the right PIN without
//! asking the secure element.

use crate::apdu::{read_tlv, sw, tlv, Command};

pub const PIV_AID: [u8; 9] = [0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00];
pub const MAX_TRIES: u8 = 3;
const PIN_REF: u8 = 0x80;
const MAX_CHAIN: usize = 4096;

/// Key references (slots) and their certificate containers.
pub const SLOT_PIV_AUTH: u8 = 0x9A;
pub const SLOT_SIGN: u8 = 0x9C;
pub const SLOT_KEY_MGMT: u8 = 0x9D;
pub const SLOT_CARD_AUTH: u8 = 0x9E;

fn container_of(slot: u8) -> Option<[u8; 3]> {
    match slot {
        SLOT_PIV_AUTH => Some([0x5F, 0xC1, 0x05]),
        SLOT_SIGN => Some([0x5F, 0xC1, 0x0A]),
        SLOT_KEY_MGMT => Some([0x5F, 0xC1, 0x0B]),
        SLOT_CARD_AUTH => Some([0x5F, 0xC1, 0x01]),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    #[error("no key in slot {0:02X}")]
    NoKey(u8),
    #[error("secure element: {0}")]
    Device(String),
}

/// The secure element and the card's persistent counter.
pub trait Backend {
    /// Tries `pin` against the secure element: `Ok(true)` right, `Ok(false)` wrong.
    fn check_pin(&mut self, pin: &[u8]) -> Result<bool, BackendError>;
    /// The raw RSA private-key operation with the key of `slot` (after a correct PIN).
    fn private_op(&mut self, slot: u8, block: &[u8]) -> Result<Vec<u8>, BackendError>;
    fn tries_left(&self) -> u8;
    /// Persists the counter (it survives power cycles and restarts).
    fn set_tries_left(&mut self, n: u8) -> Result<(), BackendError>;
    /// The card was powered off: forget any secure-element login.
    fn power_off(&mut self) {}
}

/// What the card holds besides keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardObjects {
    /// 16 bytes; the simulator stores the card number (ASCII) here.
    pub guid: [u8; 16],
    /// CHUID expiration date, `YYYYMMDD`.
    pub expiry: [u8; 8],
    /// (slot, certificate DER)
    pub certs: Vec<(u8, Vec<u8>)>,
}

/// A FASC-N with agency code 9999 (test/non-federal), so OpenSC honours the certificates'
/// KeyUsage and takes the token serial from the GUID.
const FASCN_9999: [u8; 25] = [
    0xD4, 0xE7, 0x39, 0xDA, 0x73, 0x9C, 0xED, 0x39, 0xCE, 0x73, 0x9D, 0x83, 0x68, 0x58, 0x21, 0x08,
    0x42, 0x10, 0x84, 0x21, 0xC8, 0x42, 0x10, 0xC3, 0xEB,
];

impl CardObjects {
    fn chuid(&self) -> Vec<u8> {
        let mut v = tlv(&[0x30], &FASCN_9999);
        v.extend(tlv(&[0x34], &self.guid));
        v.extend(tlv(&[0x35], &self.expiry));
        v.extend(tlv(&[0x3E], &[]));
        v.extend(tlv(&[0xFE], &[]));
        v
    }

    fn cert_container(&self, slot: u8) -> Option<Vec<u8>> {
        let der = &self.certs.iter().find(|(s, _)| *s == slot)?.1;
        let mut v = tlv(&[0x70], der);
        v.extend(tlv(&[0x71], &[0x00]));
        v.extend(tlv(&[0xFE], &[]));
        Some(v)
    }
}

/// The ATR: T=1, historical bytes "ECPA-PIV-SIM".
pub fn atr() -> Vec<u8> {
    let hist = b"ECPA-PIV-SIM";
    let mut a = vec![0x3B, 0x80 | hist.len() as u8, 0x80, 0x01];
    a.extend_from_slice(hist);
    let tck = a[1..].iter().fold(0u8, |x, b| x ^ b);
    a.push(tck);
    a
}

pub struct PivCard<B: Backend> {
    objects: CardObjects,
    backend: B,
    verified: bool,
    /// Key 9C is "always authenticate": one operation per VERIFY.
    sign_fresh: bool,
    pending: Vec<u8>,
    chain: Option<(u8, u8, u8, Vec<u8>)>,
}

fn with_sw(mut data: Vec<u8>, s: [u8; 2]) -> Vec<u8> {
    data.extend_from_slice(&s);
    data
}

impl<B: Backend> PivCard<B> {
    pub fn new(objects: CardObjects, backend: B) -> Self {
        Self {
            objects,
            backend,
            verified: false,
            sign_fresh: false,
            pending: vec![],
            chain: None,
        }
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Power off / reset: all security state is lost, as on a real card.
    pub fn reset(&mut self) {
        self.verified = false;
        self.sign_fresh = false;
        self.pending.clear();
        self.chain = None;
        self.backend.power_off();
    }

    /// Answers one command APDU (response data followed by the status word).
    pub fn process(&mut self, raw: &[u8]) -> Vec<u8> {
        let cmd = match Command::parse(raw) {
            Ok(c) => c,
            Err(_) => return sw::WRONG_LENGTH.to_vec(),
        };
        if cmd.cla & !0x10 != 0x00 {
            return sw::CLA_NOT_SUPPORTED.to_vec();
        }
        if cmd.ins != 0xC0 {
            self.pending.clear();
        }
        if cmd.ins != 0x87 {
            self.chain = None;
        }
        match cmd.ins {
            0xA4 => self.select(&cmd),
            0xCB => self.get_data(&cmd),
            0x20 => self.verify(&cmd),
            0x87 => self.general_authenticate(&cmd),
            0xC0 => self.get_response(&cmd),
            _ => sw::INS_NOT_SUPPORTED.to_vec(),
        }
    }

    fn respond(&mut self, mut data: Vec<u8>, le: Option<usize>) -> Vec<u8> {
        let max = le.unwrap_or(256).min(256);
        if data.len() <= max {
            return with_sw(data, sw::OK);
        }
        let rest = data.split_off(max);
        let s = sw::more(rest.len());
        self.pending = rest;
        with_sw(data, s)
    }

    fn get_response(&mut self, cmd: &Command) -> Vec<u8> {
        if cmd.p1 != 0 || cmd.p2 != 0 {
            return sw::INCORRECT_P1P2.to_vec();
        }
        if self.pending.is_empty() {
            return sw::CONDITIONS_NOT_SATISFIED.to_vec();
        }
        let data = std::mem::take(&mut self.pending);
        self.respond(data, cmd.le)
    }

    fn select(&mut self, cmd: &Command) -> Vec<u8> {
        if cmd.p1 != 0x04 {
            return sw::FILE_NOT_FOUND.to_vec();
        }
        if cmd.data.len() < 5
            || !PIV_AID.starts_with(&cmd.data) && !cmd.data.starts_with(&PIV_AID[..5])
        {
            return sw::FILE_NOT_FOUND.to_vec();
        }
        let mut apt = tlv(&[0x4F], &[0x00, 0x00, 0x10, 0x00, 0x01, 0x00]);
        apt.extend(tlv(&[0x79], &tlv(&[0x4F], &PIV_AID[..5])));
        apt.extend(tlv(&[0x50], b"ECPA test card"));
        let mut algs = tlv(&[0x80], &[0x07]);
        algs.extend(tlv(&[0x06], &[]));
        apt.extend(tlv(&[0xAC], &algs));
        let body = tlv(&[0x61], &apt);
        self.respond(body, cmd.le)
    }

    fn get_data(&mut self, cmd: &Command) -> Vec<u8> {
        if cmd.p1 != 0x3F || cmd.p2 != 0xFF {
            return sw::INCORRECT_P1P2.to_vec();
        }
        let Some((tag, id, _)) = read_tlv(&cmd.data) else {
            return sw::WRONG_DATA.to_vec();
        };
        if tag != [0x5C] {
            return sw::WRONG_DATA.to_vec();
        }
        let content = match id {
            [0x7E] => {
                // Discovery object: the PIV AID and the PIN usage policy (PIV PIN only).
                let mut v = tlv(&[0x4F], &PIV_AID[..]);
                v.extend(tlv(&[0x5F, 0x2F], &[0x40, 0x00]));
                return {
                    let body = tlv(&[0x7E], &v);
                    self.respond(body, cmd.le)
                };
            }
            [0x5F, 0xC1, 0x02] => Some(self.objects.chuid()),
            [0x5F, 0xC1, 0x09] if !self.verified => return sw::SECURITY_NOT_SATISFIED.to_vec(),
            [0x5F, 0xC1, b] => {
                let slot = [SLOT_PIV_AUTH, SLOT_SIGN, SLOT_KEY_MGMT, SLOT_CARD_AUTH]
                    .into_iter()
                    .find(|s| container_of(*s).is_some_and(|c| c[2] == *b));
                slot.and_then(|s| self.objects.cert_container(s))
            }
            _ => None,
        };
        match content {
            Some(c) => {
                let body = tlv(&[0x53], &c);
                self.respond(body, cmd.le)
            }
            None => sw::FILE_NOT_FOUND.to_vec(),
        }
    }

    fn verify(&mut self, cmd: &Command) -> Vec<u8> {
        if cmd.p2 != PIN_REF {
            return sw::REF_NOT_FOUND.to_vec();
        }
        if cmd.p1 == 0xFF && cmd.data.is_empty() {
            self.verified = false;
            self.sign_fresh = false;
            return sw::OK.to_vec();
        }
        if cmd.p1 != 0x00 {
            return sw::INCORRECT_P1P2.to_vec();
        }
        let tries = self.backend.tries_left();
        if cmd.data.is_empty() {
            return if tries == 0 {
                sw::AUTH_BLOCKED.to_vec()
            } else if self.verified {
                sw::OK.to_vec()
            } else {
                sw::tries_left(tries).to_vec()
            };
        }
        if cmd.data.len() != 8 {
            return sw::WRONG_DATA.to_vec();
        }
        if tries == 0 {
            return sw::AUTH_BLOCKED.to_vec();
        }
        let end = cmd.data.iter().position(|b| *b == 0xFF).unwrap_or(8);
        let pin = &cmd.data[..end];
        if pin.is_empty() || cmd.data[end..].iter().any(|b| *b != 0xFF) {
            return sw::WRONG_DATA.to_vec();
        }
        match self.backend.check_pin(pin) {
            Ok(true) => {
                if tries != MAX_TRIES && self.backend.set_tries_left(MAX_TRIES).is_err() {
                    return sw::UNKNOWN.to_vec();
                }
                self.verified = true;
                self.sign_fresh = true;
                sw::OK.to_vec()
            }
            Ok(false) => {
                let left = tries - 1;
                self.verified = false;
                self.sign_fresh = false;
                if self.backend.set_tries_left(left).is_err() {
                    return sw::UNKNOWN.to_vec();
                }
                if left == 0 {
                    sw::AUTH_BLOCKED.to_vec()
                } else {
                    sw::tries_left(left).to_vec()
                }
            }
            Err(_) => sw::UNKNOWN.to_vec(),
        }
    }

    fn general_authenticate(&mut self, cmd: &Command) -> Vec<u8> {
        let (p1, p2) = (cmd.p1, cmd.p2);
        let mut data = match self.chain.take() {
            Some((_, cp1, cp2, buf)) if cp1 == p1 && cp2 == p2 => buf,
            _ => vec![],
        };
        data.extend_from_slice(&cmd.data);
        if data.len() > MAX_CHAIN {
            return sw::WRONG_LENGTH.to_vec();
        }
        if cmd.chained() {
            self.chain = Some((cmd.ins, p1, p2, data));
            return sw::OK.to_vec();
        }
        if container_of(p2).is_none() {
            return sw::REF_NOT_FOUND.to_vec();
        }
        if p1 != 0x07 {
            return sw::INCORRECT_P1P2.to_vec();
        }
        let Some(([0x7C], inner, _)) = read_tlv(&data) else {
            return sw::WRONG_DATA.to_vec();
        };
        let mut rest = inner;
        let mut challenge = None;
        let mut wants_response = false;
        while !rest.is_empty() {
            let Some((tag, value, next)) = read_tlv(rest) else {
                return sw::WRONG_DATA.to_vec();
            };
            match tag {
                [0x81] => challenge = Some(value),
                [0x82] if value.is_empty() => wants_response = true,
                _ => {}
            }
            rest = next;
        }
        let (Some(block), true) = (challenge, wants_response) else {
            return sw::WRONG_DATA.to_vec();
        };
        if block.len() != 256 {
            return sw::WRONG_DATA.to_vec();
        }
        let allowed = match p2 {
            SLOT_CARD_AUTH => true,
            SLOT_SIGN => self.verified && self.sign_fresh,
            _ => self.verified,
        };
        if !allowed {
            return sw::SECURITY_NOT_SATISFIED.to_vec();
        }
        match self.backend.private_op(p2, block) {
            Ok(sig) => {
                if p2 == SLOT_SIGN {
                    self.sign_fresh = false;
                }
                let body = tlv(&[0x7C], &tlv(&[0x82], &sig));
                self.respond(body, cmd.le)
            }
            Err(BackendError::NoKey(_)) => sw::REF_NOT_FOUND.to_vec(),
            Err(BackendError::Device(_)) => sw::UNKNOWN.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A secure element double: PIN "123456", "signs" by reversing the block.
    struct Fake {
        tries: u8,
        logged_in: bool,
        pin_checks: u32,
    }

    impl Backend for Fake {
        fn check_pin(&mut self, pin: &[u8]) -> Result<bool, BackendError> {
            self.pin_checks += 1;
            self.logged_in = pin == b"123456";
            Ok(self.logged_in)
        }
        fn private_op(&mut self, slot: u8, block: &[u8]) -> Result<Vec<u8>, BackendError> {
            if !self.logged_in {
                return Err(BackendError::Device("not logged in".into()));
            }
            if slot == SLOT_CARD_AUTH {
                return Err(BackendError::NoKey(slot));
            }
            Ok(block.iter().rev().copied().collect())
        }
        fn tries_left(&self) -> u8 {
            self.tries
        }
        fn set_tries_left(&mut self, n: u8) -> Result<(), BackendError> {
            self.tries = n;
            Ok(())
        }
        fn power_off(&mut self) {
            self.logged_in = false;
        }
    }

    fn card() -> PivCard<Fake> {
        let objects = CardObjects {
            guid: *b"GP00000000123456",
            expiry: *b"20301231",
            certs: vec![
                (SLOT_PIV_AUTH, vec![0x30; 1200]),
                (SLOT_KEY_MGMT, vec![0x31; 900]),
            ],
        };
        PivCard::new(
            objects,
            Fake {
                tries: MAX_TRIES,
                logged_in: false,
                pin_checks: 0,
            },
        )
    }

    fn status(r: &[u8]) -> [u8; 2] {
        [r[r.len() - 2], r[r.len() - 1]]
    }

    fn verify_cmd(pin: &[u8]) -> Vec<u8> {
        let mut p = pin.to_vec();
        p.resize(8, 0xFF);
        let mut c = vec![0x00, 0x20, 0x00, 0x80, 8];
        c.extend(p);
        c
    }

    /// Reads a whole object through 61xx / GET RESPONSE, as OpenSC does.
    fn read_all(c: &mut PivCard<Fake>, first: &[u8]) -> (Vec<u8>, [u8; 2]) {
        let mut r = c.process(first);
        let mut out = vec![];
        loop {
            let s = status(&r);
            out.extend_from_slice(&r[..r.len() - 2]);
            if s[0] != 0x61 {
                return (out, s);
            }
            r = c.process(&[0x00, 0xC0, 0x00, 0x00, s[1]]);
        }
    }

    #[test]
    fn select_and_read_objects() {
        let mut c = card();
        let r = c.process(&[
            0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00,
        ]);
        assert_eq!(status(&r), sw::OK);
        assert_eq!(r[0], 0x61);
        assert_eq!(
            status(&c.process(&[0x00, 0xA4, 0x04, 0x00, 0x02, 0xA0, 0x01])),
            sw::FILE_NOT_FOUND
        );
        let (chuid, s) = read_all(
            &mut c,
            &[
                0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x02, 0x00,
            ],
        );
        assert_eq!(s, sw::OK);
        assert!(chuid.windows(16).any(|w| w == b"GP00000000123456"));
        let (cert, s) = read_all(
            &mut c,
            &[
                0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x05, 0x00,
            ],
        );
        assert_eq!(s, sw::OK);
        let (tag, inner, _) = read_tlv(&cert).unwrap();
        assert_eq!(tag, [0x53]);
        let (t70, der, _) = read_tlv(inner).unwrap();
        assert_eq!((t70, der.len()), (&[0x70][..], 1200));
        // No certificate in 9C; CCC absent; printed information needs the PIN.
        assert_eq!(
            status(&c.process(&[0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x0A, 0x00])),
            sw::FILE_NOT_FOUND
        );
        assert_eq!(
            status(&c.process(&[0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x07, 0x00])),
            sw::FILE_NOT_FOUND
        );
        assert_eq!(
            status(&c.process(&[0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x09, 0x00])),
            sw::SECURITY_NOT_SATISFIED
        );
    }

    #[test]
    fn pin_counter_and_lock() {
        let mut c = card();
        assert_eq!(
            status(&c.process(&[0x00, 0x20, 0x00, 0x80])),
            sw::tries_left(3)
        );
        assert_eq!(
            c.process(&verify_cmd(b"000000")),
            sw::tries_left(2).to_vec()
        );
        assert_eq!(
            c.process(&verify_cmd(b"123456")),
            sw::OK.to_vec(),
            "right PIN resets the counter"
        );
        assert_eq!(c.backend().tries, 3);
        assert_eq!(
            c.process(&verify_cmd(b"111111")),
            sw::tries_left(2).to_vec()
        );
        assert_eq!(
            c.process(&verify_cmd(b"222222")),
            sw::tries_left(1).to_vec()
        );
        assert_eq!(c.process(&verify_cmd(b"333333")), sw::AUTH_BLOCKED.to_vec());
        let checks = c.backend().pin_checks;
        assert_eq!(
            c.process(&verify_cmd(b"123456")),
            sw::AUTH_BLOCKED.to_vec(),
            "blocked: even the right PIN fails"
        );
        assert_eq!(
            c.backend().pin_checks,
            checks,
            "a blocked card never asks the secure element"
        );
        c.reset();
        assert_eq!(
            status(&c.process(&[0x00, 0x20, 0x00, 0x80])),
            sw::AUTH_BLOCKED,
            "survives power cycles"
        );
    }

    fn ga(slot: u8, block: &[u8]) -> Vec<Vec<u8>> {
        let mut inner = tlv(&[0x82], &[]);
        inner.extend(tlv(&[0x81], block));
        let data = tlv(&[0x7C], &inner);
        // Chained in 255-byte parts, as OpenSC sends it.
        let parts: Vec<&[u8]> = data.chunks(255).collect();
        parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let cla = if i + 1 < parts.len() { 0x10 } else { 0x00 };
                let mut c = vec![cla, 0x87, 0x07, slot, p.len() as u8];
                c.extend_from_slice(p);
                if cla == 0 {
                    c.push(0x00);
                }
                c
            })
            .collect()
    }

    fn sign(c: &mut PivCard<Fake>, slot: u8, block: &[u8]) -> (Vec<u8>, [u8; 2]) {
        let cmds = ga(slot, block);
        for part in &cmds[..cmds.len() - 1] {
            assert_eq!(c.process(part), sw::OK.to_vec());
        }
        let last = cmds.last().cloned().unwrap_or_default();
        read_all(c, &last)
    }

    #[test]
    fn signing_needs_the_pin_and_9c_needs_it_every_time() {
        let mut c = card();
        let block: Vec<u8> = (0..=255u8).collect();
        assert_eq!(
            sign(&mut c, SLOT_PIV_AUTH, &block).1,
            sw::SECURITY_NOT_SATISFIED
        );
        c.process(&verify_cmd(b"123456"));
        let (resp, s) = sign(&mut c, SLOT_PIV_AUTH, &block);
        assert_eq!(s, sw::OK);
        let (_, inner, _) = read_tlv(&resp).unwrap();
        let (tag, sig, _) = read_tlv(inner).unwrap();
        assert_eq!(tag, [0x82]);
        assert_eq!(
            sig,
            block.iter().rev().copied().collect::<Vec<_>>().as_slice()
        );
        assert_eq!(
            sign(&mut c, SLOT_PIV_AUTH, &block).1,
            sw::OK,
            "9A: one login, many signatures"
        );
        assert_eq!(sign(&mut c, SLOT_SIGN, &block).1, sw::OK);
        assert_eq!(
            sign(&mut c, SLOT_SIGN, &block).1,
            sw::SECURITY_NOT_SATISFIED,
            "9C: always authenticate"
        );
        c.reset();
        assert_eq!(
            sign(&mut c, SLOT_PIV_AUTH, &block).1,
            sw::SECURITY_NOT_SATISFIED,
            "power off forgets the PIN"
        );
        assert_eq!(sign(&mut c, 0x42, &block).1, sw::REF_NOT_FOUND);
        c.process(&verify_cmd(b"123456"));
        assert_eq!(sign(&mut c, SLOT_PIV_AUTH, &block[..100]).1, sw::WRONG_DATA);
    }

    #[test]
    fn atr_checksum() {
        let a = atr();
        assert_eq!(a[1..].iter().fold(0u8, |x, b| x ^ b), 0);
    }

    proptest! {
        /// Any sequence of byte strings is answered with a status word, never a panic, and
        /// the counter never goes up without the right PIN.
        #[test]
        fn any_input_is_answered(cmds in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..40)) {
            let mut c = card();
            for cmd in cmds {
                let before = c.backend().tries;
                let r = c.process(&cmd);
                prop_assert!(r.len() >= 2);
                prop_assert!(c.backend().tries <= before || c.backend().logged_in);
            }
        }

        #[test]
        fn chained_commands_reassemble(block in prop::collection::vec(any::<u8>(), 256)) {
            let mut c = card();
            c.process(&verify_cmd(b"123456"));
            let (resp, s) = sign(&mut c, SLOT_KEY_MGMT, &block);
            prop_assert_eq!(s, sw::OK);
            let rev: Vec<u8> = block.iter().rev().copied().collect();
            prop_assert!(resp.windows(256).any(|w| w == rev.as_slice()));
        }
    }
}

//! ISO 7816-4 command APDUs: parsing (short and extended lengths) and status words.
//! Any byte string is either a command or a [`ParseError`]; nothing here panics.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    /// Expected response length; `None` when absent, 256 (short) or 65536 (extended) for 0.
    pub le: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Fewer than four header bytes.
    TooShort,
    /// The length fields do not match the bytes present.
    WrongLength,
}

impl Command {
    /// Command chaining (ISO 7816-4): more parts of this command follow.
    pub fn chained(&self) -> bool {
        self.cla & 0x10 != 0
    }

    pub fn parse(b: &[u8]) -> Result<Self, ParseError> {
        if b.len() < 4 {
            return Err(ParseError::TooShort);
        }
        let (cla, ins, p1, p2) = (b[0], b[1], b[2], b[3]);
        let body = &b[4..];
        let cmd = |data: &[u8], le: Option<usize>| {
            Ok(Command {
                cla,
                ins,
                p1,
                p2,
                data: data.to_vec(),
                le,
            })
        };
        match body.len() {
            // Case 1
            0 => cmd(&[], None),
            // Case 2 short
            1 => cmd(&[], Some(if body[0] == 0 { 256 } else { body[0] as usize })),
            _ if body[0] != 0 => {
                // Case 3 / 4 short
                let lc = body[0] as usize;
                match body.len() - 1 {
                    n if n == lc => cmd(&body[1..], None),
                    n if n == lc + 1 => {
                        let le = body[lc + 1];
                        cmd(&body[1..=lc], Some(if le == 0 { 256 } else { le as usize }))
                    }
                    _ => Err(ParseError::WrongLength),
                }
            }
            3 => {
                // Case 2 extended: 00 Le1 Le2
                let le = u16::from_be_bytes([body[1], body[2]]) as usize;
                cmd(&[], Some(if le == 0 { 65536 } else { le }))
            }
            n if n >= 3 => {
                // Case 3 / 4 extended: 00 Lc1 Lc2 data [Le1 Le2]
                let lc = u16::from_be_bytes([body[1], body[2]]) as usize;
                if lc == 0 {
                    return Err(ParseError::WrongLength);
                }
                match n - 3 {
                    m if m == lc => cmd(&body[3..], None),
                    m if m == lc + 2 => {
                        let le = u16::from_be_bytes([body[3 + lc], body[4 + lc]]) as usize;
                        cmd(&body[3..3 + lc], Some(if le == 0 { 65536 } else { le }))
                    }
                    _ => Err(ParseError::WrongLength),
                }
            }
            _ => Err(ParseError::WrongLength),
        }
    }
}

pub mod sw {
    pub const OK: [u8; 2] = [0x90, 0x00];
    pub const WRONG_LENGTH: [u8; 2] = [0x67, 0x00];
    pub const SECURITY_NOT_SATISFIED: [u8; 2] = [0x69, 0x82];
    pub const AUTH_BLOCKED: [u8; 2] = [0x69, 0x83];
    pub const CONDITIONS_NOT_SATISFIED: [u8; 2] = [0x69, 0x85];
    pub const WRONG_DATA: [u8; 2] = [0x6A, 0x80];
    pub const FILE_NOT_FOUND: [u8; 2] = [0x6A, 0x82];
    pub const INCORRECT_P1P2: [u8; 2] = [0x6A, 0x86];
    pub const REF_NOT_FOUND: [u8; 2] = [0x6A, 0x88];
    pub const INS_NOT_SUPPORTED: [u8; 2] = [0x6D, 0x00];
    pub const CLA_NOT_SUPPORTED: [u8; 2] = [0x6E, 0x00];
    pub const UNKNOWN: [u8; 2] = [0x6F, 0x00];

    /// `63Cx`: verification failed, `x` tries left.
    pub fn tries_left(n: u8) -> [u8; 2] {
        [0x63, 0xC0 | n.min(15)]
    }

    /// `61xx`: more data available (`xx` = 0 means 256 or more).
    pub fn more(n: usize) -> [u8; 2] {
        [0x61, if n >= 256 { 0 } else { n as u8 }]
    }
}

/// BER-TLV length bytes.
pub fn ber_len(n: usize) -> Vec<u8> {
    match n {
        0..=0x7F => vec![n as u8],
        0x80..=0xFF => vec![0x81, n as u8],
        _ => vec![0x82, (n >> 8) as u8, n as u8],
    }
}

/// A BER-TLV with a one- or multi-byte tag.
pub fn tlv(tag: &[u8], value: &[u8]) -> Vec<u8> {
    let mut v = tag.to_vec();
    v.extend(ber_len(value.len()));
    v.extend_from_slice(value);
    v
}

/// Reads one TLV at the start of `b`: (tag bytes, value, rest). Tags of the form `5F xx`
/// and `7F xx` are two bytes, as PIV uses them.
pub fn read_tlv(b: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let tag_len = if b.first().is_some_and(|t| t & 0x1F == 0x1F) {
        2
    } else {
        1
    };
    if b.len() < tag_len + 1 {
        return None;
    }
    let tag = &b[..tag_len];
    let rest = &b[tag_len..];
    let (len, hdr) = match rest[0] {
        n @ 0..=0x7F => (n as usize, 1),
        0x81 => (*rest.get(1)? as usize, 2),
        0x82 => (
            u16::from_be_bytes([*rest.get(1)?, *rest.get(2)?]) as usize,
            3,
        ),
        _ => return None,
    };
    let value = rest.get(hdr..hdr + len)?;
    Some((tag, value, &rest[hdr + len..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cases() {
        assert_eq!(
            Command::parse(&[0, 0xA4, 4, 0]).unwrap().data,
            Vec::<u8>::new()
        );
        let c = Command::parse(&[0, 0xCB, 0x3F, 0xFF, 5, 0x5C, 3, 0x5F, 0xC1, 2, 0]).unwrap();
        assert_eq!((c.data.len(), c.le), (5, Some(256)));
        let c = Command::parse(&[0x10, 0x87, 7, 0x9A, 2, 1, 2]).unwrap();
        assert!(c.chained());
        assert_eq!(c.le, None);
        let ext = Command::parse(&[0, 0x87, 7, 0x9A, 0, 0, 2, 9, 9, 0, 0]).unwrap();
        assert_eq!((ext.data, ext.le), (vec![9, 9], Some(65536)));
        assert_eq!(Command::parse(&[0, 1, 2]), Err(ParseError::TooShort));
        assert_eq!(
            Command::parse(&[0, 1, 2, 3, 5, 1]),
            Err(ParseError::WrongLength)
        );
    }

    #[test]
    fn tlv_round_trip() {
        let v = vec![7u8; 300];
        let t = tlv(&[0x53], &v);
        let (tag, val, rest) = read_tlv(&t).unwrap();
        assert_eq!((tag, val.len(), rest.len()), (&[0x53][..], 300, 0));
        let t2 = tlv(&[0x5F, 0xC1], &[1, 2]);
        assert_eq!(read_tlv(&t2).unwrap().0, &[0x5F, 0xC1][..]);
    }

    proptest! {
        #[test]
        fn any_bytes_parse_without_panic(b in prop::collection::vec(any::<u8>(), 0..600)) {
            let _ = Command::parse(&b);
            let _ = read_tlv(&b);
        }

        #[test]
        fn short_case4_round_trips(cla in 0u8..0x20, ins in any::<u8>(), data in prop::collection::vec(any::<u8>(), 1..255), le in any::<u8>()) {
            let mut b = vec![cla, ins, 1, 2, data.len() as u8];
            b.extend(&data);
            b.push(le);
            let c = Command::parse(&b).unwrap();
            prop_assert_eq!(c.data, data);
            prop_assert_eq!(c.le, Some(if le == 0 { 256 } else { le as usize }));
        }
    }
}

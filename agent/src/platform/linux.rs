//! Linux: the kernel's socket table (`/proc/net/tcp`, `/proc/net/tcp6`) names the user
//! that owns each socket. A loopback connection appears twice; the row whose local end is
//! the peer's address and whose remote end is ours is the peer's socket, and its `uid`
//! column is the user who opened it. TCP has no `SO_PEERCRED`; this is how identd and
//! systemd's socket tooling answer the same question.

use super::Peer;
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    os::unix::fs::MetadataExt,
};

/// The user this process runs as (the owner of `/proc/self` is the effective uid).
fn own_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

pub fn connection_owner(local: SocketAddr, peer: SocketAddr) -> Peer {
    let Some(me) = own_uid() else {
        return Peer::Unknown;
    };
    let tables = ["/proc/net/tcp", "/proc/net/tcp6"];
    for t in tables {
        let Ok(text) = std::fs::read_to_string(t) else {
            continue;
        };
        if let Some(uid) = owner_in_table(&text, peer, local) {
            return if uid == me {
                Peer::SameUser
            } else {
                Peer::OtherUser(uid.to_string())
            };
        }
    }
    Peer::Unknown
}

/// The uid of the socket whose local end is `sock` and remote end `remote`, in the text of
/// `/proc/net/tcp` or `/proc/net/tcp6`.
pub(crate) fn owner_in_table(text: &str, sock: SocketAddr, remote: SocketAddr) -> Option<u32> {
    text.lines().skip(1).find_map(|line| {
        let mut f = line.split_whitespace();
        let (_sl, l, r) = (f.next()?, f.next()?, f.next()?);
        if !same(parse_addr(l)?, sock) || !same(parse_addr(r)?, remote) {
            return None;
        }
        // st, tx:rx, tr:when, retrnsmt, then uid.
        f.nth(4)?.parse().ok()
    })
}

/// One end as the kernel prints it: `0100007F:EF99` (IPv4, the address as a native-endian
/// 32-bit word) or 32 hex digits (IPv6, four such words), then the port in hex.
fn parse_addr(s: &str) -> Option<SocketAddr> {
    let (a, p) = s.split_once(':')?;
    let port = u16::from_str_radix(p, 16).ok()?;
    let word = |h: &str| u32::from_str_radix(h, 16).ok().map(|w| w.to_ne_bytes());
    let ip = match a.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(a)?)),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(a.get(i * 8..i * 8 + 8)?)?);
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Equal, with an IPv4-mapped IPv6 address equal to its IPv4 address.
fn same(a: SocketAddr, b: SocketAddr) -> bool {
    let canon = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    a.port() == b.port() && canon(a.ip()) == canon(b.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex_v4(ip: Ipv4Addr) -> String {
        format!("{:08X}", u32::from_ne_bytes(ip.octets()))
    }

    fn hex_v6(ip: Ipv6Addr) -> String {
        ip.octets()
            .chunks(4)
            .map(|c| format!("{:08X}", u32::from_ne_bytes([c[0], c[1], c[2], c[3]])))
            .collect()
    }

    const HEAD: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

    #[test]
    fn the_kernels_format() {
        // Lines as a Linux kernel on x86-64 printed them: the agent on 61161 (0xEEE9),
        // a browser of uid 1000 connected from port 46161 (0xB451), and the agent's end.
        let text = format!(
            "{HEAD}   0: 0100007F:EEE9 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4321 1 0000000000000000 100 0 0 10 0\n\
                1: 0100007F:B451 0100007F:EEE9 01 00000000:00000000 00:00000000 00000000  1001        0 4322 1 0000000000000000 20 4 30 10 -1\n\
                2: 0100007F:EEE9 0100007F:B451 01 00000000:00000000 00:00000000 00000000  1000        0 4323 1 0000000000000000 20 4 30 10 -1\n"
        );
        let agent: SocketAddr = "127.0.0.1:61161".parse().unwrap();
        let browser: SocketAddr = "127.0.0.1:46161".parse().unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(owner_in_table(&text, browser, agent), Some(1001));
            assert_eq!(owner_in_table(&text, agent, browser), Some(1000));
        }
        assert_eq!(
            owner_in_table(&text, "127.0.0.1:1".parse().unwrap(), agent),
            None
        );
        assert_eq!(owner_in_table("garbage\n1: zz", browser, agent), None);
    }

    proptest! {
        #[test]
        fn finds_the_peers_row_among_others(
            rows in prop::collection::vec((any::<[u8; 4]>(), any::<u16>(), any::<u16>(), 0u32..70_000, any::<bool>()), 1..40),
            pick in any::<prop::sample::Index>(),
        ) {
            let mut text = HEAD.to_string();
            let mut ends = vec![];
            for (i, (ip, lp, rp, uid, v6)) in rows.iter().enumerate() {
                let ip4 = Ipv4Addr::from(*ip);
                let (l, r) = if *v6 {
                    let m = ip4.to_ipv6_mapped();
                    (format!("{}:{lp:04X}", hex_v6(m)), format!("{}:{rp:04X}", hex_v6(Ipv6Addr::LOCALHOST)))
                } else {
                    (format!("{}:{lp:04X}", hex_v4(ip4)), format!("{}:{rp:04X}", hex_v4(Ipv4Addr::LOCALHOST)))
                };
                let remote = if *v6 { IpAddr::V6(Ipv6Addr::LOCALHOST) } else { IpAddr::V4(Ipv4Addr::LOCALHOST) };
                text.push_str(&format!("{i:4}: {l} {r} 01 00000000:00000000 00:00000000 00000000 {uid:5} 0 {i} 1 0 20 4 30 10 -1\n"));
                ends.push((SocketAddr::new(IpAddr::V4(ip4), *lp), SocketAddr::new(remote, *rp), *uid));
            }
            let (sock, remote, _) = ends[pick.index(ends.len())];
            // The first row with those two ends (random rows may repeat a pair).
            let expected = ends.iter().find(|(s, r, _)| same(*s, sock) && same(*r, remote)).map(|e| e.2);
            prop_assert!(expected.is_some());
            prop_assert_eq!(owner_in_table(&text, sock, remote), expected);
        }
    }
}

//! Platforms without a peer-user check yet: every local connection is served (the
//! Windows check, through the owning process of the TCP connection, comes with the
//! Windows build). `SECURITY.md` states it.

use super::Peer;
use std::net::SocketAddr;

pub fn connection_owner(_local: SocketAddr, _peer: SocketAddr) -> Peer {
    Peer::Unsupported
}

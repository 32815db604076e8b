//! What differs between operating systems, one small module per platform. Today: who is
//! at the other end of a loopback connection (the agent serves only the user it runs as).

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::connection_owner;

#[cfg(not(target_os = "linux"))]
mod other;
#[cfg(not(target_os = "linux"))]
pub use other::connection_owner;

use std::net::SocketAddr;

/// Who opened a connection to the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// The operating-system user the agent runs as.
    SameUser,
    /// Another user of this computer (its id, for the log).
    OtherUser(String),
    /// Not found (the connection is already gone, or not a local one).
    Unknown,
    /// This platform cannot tell (yet).
    Unsupported,
}

/// Whether the agent serves a connection from `peer` accepted on `local`.
pub fn admits(local: SocketAddr, peer: SocketAddr) -> (bool, Peer) {
    let who = connection_owner(local, peer);
    (matches!(who, Peer::SameUser | Peer::Unsupported), who)
}

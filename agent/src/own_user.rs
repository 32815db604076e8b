//! The agent serves only the operating-system user it runs as. On a shared PC or a
//! terminal server every local account can reach `127.0.0.1:61161`; a connection opened
//! by another user is answered `403` and closed before a byte of it is read, so it can
//! neither read the card, nor spend the PIN tries, nor answer `/addDomain`.

use crate::platform::{self, Peer};
use std::net::SocketAddr;
use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpStream},
};

/// A listener that hands axum only the connections of this user.
pub struct OwnUserOnly {
    inner: TcpListener,
}

impl OwnUserOnly {
    pub fn new(inner: TcpListener) -> Self {
        Self { inner }
    }
}

const REFUSAL: &str =
    "本讀卡元件只服務啟動它的使用者（This card agent serves only the user who started it.）";

async fn refuse(mut io: TcpStream) {
    let head = format!(
        "HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        REFUSAL.len()
    );
    let _ = io.write_all(head.as_bytes()).await;
    let _ = io.write_all(REFUSAL.as_bytes()).await;
    let _ = io.shutdown().await;
}

impl axum::serve::Listener for OwnUserOnly {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (io, peer) = axum::serve::Listener::accept(&mut self.inner).await;
            let Ok(local) = io.local_addr() else {
                continue;
            };
            match platform::admits(local, peer) {
                (true, who) => {
                    if who == Peer::Unsupported {
                        tracing::debug!("this platform cannot tell who connects; served");
                    }
                    // Small answers, no Nagle stall on a kept-alive connection.
                    let _ = io.set_nodelay(true);
                    return (io, peer);
                }
                (false, who) => {
                    tracing::warn!(?who, %peer, "connection from another user of this computer refused");
                    tokio::spawn(refuse(io));
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

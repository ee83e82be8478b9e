//! Which peer connection a datagram on the muxed port belongs to.
//!
//! A remote address seen before maps straight to its connection. A new one is accepted
//! only from a STUN message whose USERNAME starts with the local ufrag of a connection we
//! answered (RFC 8445 §7.2.2): that check is the only way in, so DTLS or SRTP from an
//! unknown address is dropped. The connection's ICE agent then verifies the message
//! integrity; one that fails never selects the pair, so the remembered address is
//! useless to a spoofer except to be dropped by that agent (see docs/sfu-sansio.md for
//! the hardening left: bind on a validated check only).

use super::stun::{self, DatagramClass};
use std::collections::HashMap;
use std::net::SocketAddr;

/// Index of a connection in the driver's table.
pub type ConnIndex = usize;

/// Remote address and ufrag maps of the muxed port.
#[derive(Debug, Default)]
pub struct Demux {
    /// Remote addresses that sent a check with a known ufrag.
    by_addr: HashMap<SocketAddr, ConnIndex>,
    /// Local ICE ufrag of each connection (unique per driver).
    by_ufrag: HashMap<String, ConnIndex>,
}

/// Why a datagram was not routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unrouted {
    /// Not STUN, from an address no check came from.
    UnknownAddress(DatagramClass),
    /// STUN without a USERNAME, or with one naming no connection of ours.
    UnknownUfrag,
}

impl Demux {
    /// Registers a connection's local ufrag; `false` if another connection has it.
    pub fn add(&mut self, ufrag: &str, conn: ConnIndex) -> bool {
        if self.by_ufrag.contains_key(ufrag) {
            return false;
        }
        self.by_ufrag.insert(ufrag.to_owned(), conn);
        true
    }

    /// Forgets a connection: its ufrag and every address it was reached from.
    pub fn remove(&mut self, conn: ConnIndex) {
        self.by_ufrag.retain(|_, c| *c != conn);
        self.by_addr.retain(|_, c| *c != conn);
    }

    /// The connection `datagram` from `from` belongs to.
    pub fn route(&mut self, from: SocketAddr, datagram: &[u8]) -> Result<ConnIndex, Unrouted> {
        if let Some(&conn) = self.by_addr.get(&from) {
            return Ok(conn);
        }
        let class = stun::classify(datagram);
        if class != DatagramClass::Stun {
            return Err(Unrouted::UnknownAddress(class));
        }
        let conn = stun::local_ufrag(datagram)
            .and_then(|ufrag| self.by_ufrag.get(ufrag))
            .copied()
            .ok_or(Unrouted::UnknownUfrag)?;
        self.by_addr.insert(from, conn);
        Ok(conn)
    }

    /// How many remote addresses are bound (for statistics).
    pub fn addresses(&self) -> usize {
        self.by_addr.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(username: &str) -> Vec<u8> {
        let mut msg = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
        msg.extend_from_slice(&[1; 12]);
        msg.extend_from_slice(&[0x00, 0x06, 0x00, username.len() as u8]);
        msg.extend_from_slice(username.as_bytes());
        msg.resize(msg.len().next_multiple_of(4), 0);
        let body = (msg.len() - 20) as u16;
        msg[2..4].copy_from_slice(&body.to_be_bytes());
        msg
    }

    #[test]
    fn binds_an_address_on_a_check_then_routes_everything_from_it() {
        let mut d = Demux::default();
        assert!(d.add("hallA", 0));
        assert!(d.add("hallB", 1));
        assert!(!d.add("hallA", 2), "ufrags are unique");
        let (a, b): (SocketAddr, SocketAddr) = (
            "127.0.0.1:5000".parse().unwrap(),
            "127.0.0.1:6000".parse().unwrap(),
        );
        let srtp = [0x80, 96, 0, 1];
        assert_eq!(
            d.route(a, &srtp),
            Err(Unrouted::UnknownAddress(DatagramClass::Media))
        );
        assert_eq!(d.route(a, &check("nobody:x")), Err(Unrouted::UnknownUfrag));
        assert_eq!(d.route(b, &check("hallB:x")), Ok(1));
        assert_eq!(d.route(a, &check("hallA:y")), Ok(0));
        assert_eq!(d.route(a, &srtp), Ok(0));
        assert_eq!(d.route(b, &srtp), Ok(1));
        assert_eq!(d.addresses(), 2);
        d.remove(0);
        assert!(d.route(a, &srtp).is_err());
        assert_eq!(d.route(a, &check("hallA:y")), Err(Unrouted::UnknownUfrag));
        assert_eq!(d.route(b, &srtp), Ok(1));
    }
}

//! Which peer connection a datagram on the media port belongs to.
//!
//! A remote address bound before maps straight to its connection. From a new one only
//! a STUN message whose USERNAME starts with the local ufrag of a connection we answered
//! (RFC 8445 §7.2.2) is routed, to that connection, whose ICE agent verifies its
//! MESSAGE-INTEGRITY; DTLS or SRTP from an unbound address is dropped. The address is
//! bound only when the agent answers it with a Binding success response
//! ([`confirm`](Demux::confirm)): `rtc`'s agent answers a request only after its
//! integrity check passed, so a spoofed check (right ufrag, no password) binds nothing.
//! A connection keeps at most [`MAX_ADDRESSES`] addresses. A STUN response (no
//! USERNAME) from an unbound address goes to the connection that sent a check there.

use super::shared::{Shared, WorkerIndex};
use super::stun::{self, DatagramClass};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// Index of a connection in the driver's table.
pub type ConnIndex = usize;

/// Remote addresses bound to one connection at most (a hall has a handful of
/// candidates; a flood of valid checks from new ports binds no more than this).
pub const MAX_ADDRESSES: usize = 8;

/// A STUN Binding success response starts with these two bytes (RFC 5389 §6).
const BINDING_SUCCESS: [u8; 2] = [0x01, 0x01];
/// A STUN Binding request starts with these two bytes.
const BINDING_REQUEST: [u8; 2] = [0x00, 0x01];

/// Remote address and ufrag maps of the media port.
#[derive(Debug, Default)]
pub struct Demux {
    /// Remote addresses whose check the connection's agent accepted.
    by_addr: HashMap<SocketAddr, ConnIndex>,
    /// Local ICE ufrag of each connection (unique per driver).
    by_ufrag: HashMap<String, ConnIndex>,
    /// Unbound addresses a connection sent a check to: their STUN responses (which
    /// carry no USERNAME) go to it, so its agent can validate the pair. A browser that
    /// nominates at once (USE-CANDIDATE on its first check) gets its success response
    /// only once our own check of the pair succeeded.
    checked: HashMap<SocketAddr, ConnIndex>,
    /// With several workers: the front's table, told of this worker's ufrags and
    /// addresses so it hands their datagrams here.
    front: Option<(Arc<Shared>, WorkerIndex)>,
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
    /// The demux of worker `worker`, which tells the front (if any) what it routes.
    pub fn for_worker(shared: &Arc<Shared>, worker: WorkerIndex) -> Self {
        let front = shared.front.is_some().then(|| (shared.clone(), worker));
        Self {
            front,
            ..Self::default()
        }
    }

    fn tell_front(&self, f: impl FnOnce(&super::shared::FrontTable, WorkerIndex)) {
        if let Some((shared, worker)) = &self.front {
            if let Some(table) = &shared.front {
                f(table, *worker);
            }
        }
    }

    /// Registers a connection's local ufrag; `false` if another connection has it.
    pub fn add(&mut self, ufrag: &str, conn: ConnIndex) -> bool {
        if self.by_ufrag.contains_key(ufrag) {
            return false;
        }
        self.by_ufrag.insert(ufrag.to_owned(), conn);
        self.tell_front(|t, w| t.add_ufrag(ufrag, w));
        true
    }

    /// Forgets a connection: its ufrag and every address it was reached from.
    pub fn remove(&mut self, conn: ConnIndex) {
        if self.front.is_some() {
            let mine = |c: &ConnIndex| *c == conn;
            let ufrags: Vec<String> = self
                .by_ufrag
                .iter()
                .filter(|(_, c)| mine(c))
                .map(|(u, _)| u.clone())
                .collect();
            let addrs: Vec<SocketAddr> = (self.by_addr.iter().chain(self.checked.iter()))
                .filter(|(_, c)| mine(c))
                .map(|(a, _)| *a)
                .collect();
            self.tell_front(|t, w| t.remove(&ufrags, &addrs, w));
        }
        self.by_ufrag.retain(|_, c| *c != conn);
        self.by_addr.retain(|_, c| *c != conn);
        self.checked.retain(|_, c| *c != conn);
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
        let is_response = datagram.first().is_some_and(|b| b & 0x01 == 0x01);
        let checked = is_response.then(|| self.checked.get(&from)).flatten();
        stun::local_ufrag(datagram)
            .and_then(|ufrag| self.by_ufrag.get(ufrag))
            .or(checked)
            .copied()
            .ok_or(Unrouted::UnknownUfrag)
    }

    /// Connection `conn` sends `datagram` to `to`: a Binding success response binds `to`
    /// to it (its agent accepted a check from there). Anything else binds nothing; the
    /// test is one byte compare for media, so it costs nothing per packet.
    pub fn confirm(&mut self, conn: ConnIndex, to: SocketAddr, datagram: &[u8]) {
        let head = datagram.get(..2);
        if head == Some(&BINDING_REQUEST[..]) && !self.by_addr.contains_key(&to) {
            self.check_sent(conn, to);
            return;
        }
        if head != Some(&BINDING_SUCCESS[..]) || self.by_addr.contains_key(&to) {
            return;
        }
        self.checked.remove(&to);
        if self.by_addr.values().filter(|&&c| c == conn).count() >= MAX_ADDRESSES {
            tracing::debug!(%to, conn, "sfu: address not bound, connection has enough");
            return;
        }
        self.by_addr.insert(to, conn);
        self.tell_front(|t, w| t.add_addr(to, w));
    }

    /// Connection `conn` checks unbound address `to` (at most [`MAX_ADDRESSES`] × 2
    /// such addresses per connection: a hall trickling many candidates gets no more).
    fn check_sent(&mut self, conn: ConnIndex, to: SocketAddr) {
        if self.checked.get(&to) == Some(&conn) {
            return;
        }
        if self.checked.values().filter(|&&c| c == conn).count() >= 2 * MAX_ADDRESSES {
            return;
        }
        self.checked.insert(to, conn);
        self.tell_front(|t, w| t.add_addr(to, w));
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
        assert!(d.route(a, &srtp).is_err(), "a check alone binds nothing");
        d.confirm(0, a, &[0x00, 0x01, 0, 0]); // our own request to it: not a proof
        d.confirm(0, a, &srtp);
        assert!(d.route(a, &srtp).is_err());
        d.confirm(0, a, &[0x01, 0x01, 0, 0]); // the agent answered its check
        d.confirm(1, b, &[0x01, 0x01, 0, 0]);
        assert_eq!(d.route(a, &srtp), Ok(0));
        assert_eq!(d.route(b, &srtp), Ok(1));
        assert_eq!(d.addresses(), 2);
        d.remove(0);
        assert!(d.route(a, &srtp).is_err());
        assert_eq!(d.route(a, &check("hallA:y")), Err(Unrouted::UnknownUfrag));
        assert_eq!(d.route(b, &srtp), Ok(1));
    }

    #[test]
    fn a_response_goes_to_the_connection_that_checked_its_address() {
        let mut d = Demux::default();
        assert!(d.add("hallA", 0));
        let (a, c): (SocketAddr, SocketAddr) = (
            "127.0.0.1:5000".parse().unwrap(),
            "127.0.0.1:5001".parse().unwrap(),
        );
        let success = [0x01, 0x01, 0, 0, 0x21, 0x12, 0xA4, 0x42];
        assert_eq!(d.route(a, &success), Err(Unrouted::UnknownUfrag));
        d.confirm(0, a, &[0x00, 0x01, 0, 0]); // connection 0 checks a
        assert_eq!(d.route(a, &success), Ok(0));
        assert_eq!(d.route(c, &success), Err(Unrouted::UnknownUfrag));
        let srtp = [0x80, 96, 0, 1];
        assert!(d.route(a, &srtp).is_err(), "a check sent binds nothing");
        assert!(
            d.route(a, &check("nobody:x")).is_err(),
            "a request from there still needs its ufrag"
        );
        d.remove(0);
        assert_eq!(d.route(a, &success), Err(Unrouted::UnknownUfrag));
    }

    #[test]
    fn a_connection_binds_a_bounded_number_of_addresses() {
        let mut d = Demux::default();
        assert!(d.add("hallA", 0));
        for port in 0..(MAX_ADDRESSES as u16 + 5) {
            let from = SocketAddr::from(([127, 0, 0, 1], 7000 + port));
            d.confirm(0, from, &[0x01, 0x01, 0, 0]);
        }
        assert_eq!(d.addresses(), MAX_ADDRESSES);
    }
}

//! The driver's connections: a slab indexed by [`ConnIndex`], the caller's [`PeerId`]s,
//! and which connections the current turn of the loop touched.
//!
//! A turn must send what it fed: a connection that was given a datagram, a timeout or
//! packets to send has datagrams to write. Marking them here, rather than polling every
//! connection every turn, keeps a turn's cost proportional to the connections it touched.

use super::conn::Conn;
use super::demux::ConnIndex;
use crate::event::PeerId;
use std::collections::HashMap;

/// Connections touched this turn, each listed once.
#[derive(Debug, Default)]
pub struct Marks {
    list: Vec<ConnIndex>,
    marked: Vec<bool>,
}

impl Marks {
    /// Lists `conn` unless it already is.
    pub fn mark(&mut self, conn: ConnIndex) {
        if conn >= self.marked.len() {
            self.marked.resize(conn + 1, false);
        }
        if !self.marked[conn] {
            self.marked[conn] = true;
            self.list.push(conn);
        }
    }

    /// Whether nothing is marked.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Takes the list, unmarking everything; `into` is reused to avoid allocating.
    pub fn take(&mut self, into: &mut Vec<ConnIndex>) {
        into.clear();
        for &c in &self.list {
            self.marked[c] = false;
        }
        into.append(&mut self.list);
    }
}

/// All connections of the media port.
#[derive(Default)]
pub struct Table {
    conns: Vec<Option<Conn>>,
    by_id: HashMap<PeerId, ConnIndex>,
    /// Fed something (a datagram, a timeout, packets to send): datagrams to write.
    pub writes: Marks,
}

impl Table {
    /// Adds a connection; `None` if its peer id is taken.
    pub fn insert(&mut self, conn: Conn) -> Option<ConnIndex> {
        if self.by_id.contains_key(&conn.id) {
            return None;
        }
        let id = conn.id;
        let index = match self.conns.iter().position(Option::is_none) {
            Some(free) => {
                self.conns[free] = Some(conn);
                free
            }
            None => {
                self.conns.push(Some(conn));
                self.conns.len() - 1
            }
        };
        self.by_id.insert(id, index);
        Some(index)
    }

    /// Removes a connection.
    pub fn remove(&mut self, index: ConnIndex) -> Option<Conn> {
        let conn = self.conns.get_mut(index)?.take()?;
        self.by_id.remove(&conn.id);
        Some(conn)
    }

    /// The index of the peer's connection.
    pub fn index_of(&self, peer: PeerId) -> Option<ConnIndex> {
        self.by_id.get(&peer).copied()
    }

    /// Whether the peer id is taken.
    pub fn contains(&self, peer: PeerId) -> bool {
        self.by_id.contains_key(&peer)
    }

    /// Marks connection `index` as fed something other than forwarded RTP (a datagram,
    /// a timeout, a command, RTCP): datagrams to write and its timeout to refresh.
    /// Forwarding marks only [`writes`](Self::writes).
    pub fn touch(&mut self, index: ConnIndex) {
        self.writes.mark(index);
        if let Some(conn) = self.get_mut(index) {
            conn.fed = true;
        }
    }

    /// The connection at `index`.
    pub fn get(&self, index: ConnIndex) -> Option<&Conn> {
        self.conns.get(index)?.as_ref()
    }

    /// The connection at `index`, mutably.
    pub fn get_mut(&mut self, index: ConnIndex) -> Option<&mut Conn> {
        self.conns.get_mut(index)?.as_mut()
    }

    /// Every connection with its index.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (ConnIndex, &mut Conn)> {
        self.conns
            .iter_mut()
            .enumerate()
            .filter_map(|(i, c)| Some((i, c.as_mut()?)))
    }

    /// The earliest cached timeout of all connections.
    pub fn next_timeout(&self) -> Option<std::time::Instant> {
        self.conns.iter().flatten().filter_map(|c| c.timeout).min()
    }

    /// How many connections there are.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_list_each_connection_once_and_reset_on_take() {
        let mut m = Marks::default();
        for c in [3, 1, 3, 0, 1] {
            m.mark(c);
        }
        let mut out = Vec::new();
        m.take(&mut out);
        assert_eq!(out, [3, 1, 0]);
        assert!(m.list.is_empty());
        m.mark(3);
        m.take(&mut out);
        assert_eq!(out, [3]);
    }
}

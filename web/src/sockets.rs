//! The `/ws` gate: caps meeting sockets per client address and in all, so one abusive
//! client (or a flood of sockets that never join) cannot take the server's memory.
//!
//! Each upgraded socket holds a [`SocketPass`] until it ends; an upgrade over a cap is
//! refused before the handshake with 429 `too_many_sockets` (its address) or 503
//! `server_full` (the server), counted for `/metrics`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// The caps (settings `max_sockets`, `max_sockets_per_address`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketLimits {
    /// Sockets open at once, in all.
    pub total: usize,
    /// Sockets open at once from one address.
    pub per_address: usize,
}

/// Why an upgrade was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The address has `per_address` sockets open.
    PerAddress,
    /// The server has `total` sockets open.
    Total,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

#[derive(Debug)]
struct Inner {
    limits: SocketLimits,
    open: Mutex<Open>,
    refused_address: AtomicU64,
    refused_total: AtomicU64,
    /// Sockets closed since start (when a wave of them frees memory, see
    /// [`crate::memory_trim`]).
    closed: AtomicU64,
}

/// Counts open meeting sockets. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SocketGate(Arc<Inner>);

/// One open socket, counted until dropped.
#[derive(Debug)]
pub struct SocketPass {
    gate: Arc<Inner>,
    address: Option<IpAddr>,
}

impl SocketGate {
    /// A gate with these caps.
    pub fn new(limits: SocketLimits) -> Self {
        SocketGate(Arc::new(Inner {
            limits,
            open: Mutex::default(),
            refused_address: AtomicU64::new(0),
            refused_total: AtomicU64::new(0),
            closed: AtomicU64::new(0),
        }))
    }

    /// Lets one more socket from `address` (unknown: counted in the total only) in, or
    /// says which cap it hits.
    pub fn admit(&self, address: Option<IpAddr>) -> Result<SocketPass, Refusal> {
        let address = address.map(|a| a.to_canonical());
        let mut open = self.0.open.lock().unwrap_or_else(PoisonError::into_inner);
        let limits = self.0.limits;
        if let Some(a) = address {
            if open.by_address.get(&a).copied().unwrap_or(0) >= limits.per_address {
                self.0.refused_address.fetch_add(1, Ordering::Relaxed);
                return Err(Refusal::PerAddress);
            }
        }
        if open.total >= limits.total {
            self.0.refused_total.fetch_add(1, Ordering::Relaxed);
            return Err(Refusal::Total);
        }
        open.total += 1;
        if let Some(a) = address {
            *open.by_address.entry(a).or_insert(0) += 1;
        }
        Ok(SocketPass {
            gate: Arc::clone(&self.0),
            address,
        })
    }

    /// Sockets open now.
    pub fn open(&self) -> usize {
        self.0
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }

    /// A view of the sockets closed since start that does not keep the gate alive.
    pub fn closes(&self) -> Closes {
        Closes(Arc::downgrade(&self.0))
    }

    /// Upgrades refused since start: (over the per-address cap, over the total cap).
    pub fn refused(&self) -> (u64, u64) {
        (
            self.0.refused_address.load(Ordering::Relaxed),
            self.0.refused_total.load(Ordering::Relaxed),
        )
    }
}

/// Sockets closed since start, as long as their gate lives.
#[derive(Debug, Clone)]
pub struct Closes(Weak<Inner>);

impl Closes {
    /// The count, or `None` once the gate is gone.
    pub fn count(&self) -> Option<u64> {
        self.0
            .upgrade()
            .map(|inner| inner.closed.load(Ordering::Relaxed))
    }
}

impl Drop for SocketPass {
    fn drop(&mut self) {
        self.gate.closed.fetch_add(1, Ordering::Relaxed);
        let mut open = self
            .gate
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(a) = self.address {
            if let Some(n) = open.by_address.get_mut(&a) {
                *n -= 1;
                if *n == 0 {
                    open.by_address.remove(&a);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_per_address_and_in_all_and_free_on_drop() {
        let gate = SocketGate::new(SocketLimits {
            total: 3,
            per_address: 2,
        });
        let a = Some(IpAddr::from([198, 18, 0, 2]));
        let b = Some(IpAddr::from([198, 18, 0, 3]));
        let first = gate.admit(a).expect("first");
        let _second = gate.admit(a).expect("second");
        assert_eq!(gate.admit(a).unwrap_err(), Refusal::PerAddress);
        let _third = gate.admit(b).expect("another address");
        assert_eq!(gate.admit(b).unwrap_err(), Refusal::Total);
        assert_eq!(gate.open(), 3);
        drop(first);
        assert_eq!(gate.open(), 2);
        let _again = gate.admit(a).expect("a place freed");
        assert_eq!(gate.refused(), (1, 1));
        assert_eq!(gate.closes().count(), Some(1));
    }
}

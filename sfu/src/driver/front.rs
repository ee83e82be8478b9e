//! The front of several media workers: one task reads the media port and hands each
//! datagram to the worker carrying its hall (docs/sfu-driver.md, "Several media
//! workers"), by remote address, or by the local ufrag of a first STUN check
//! ([`FrontTable`](super::shared::FrontTable)). Workers send on the same socket
//! themselves. A read batch becomes one message per worker.
//!
//! What a hall sends is a small part of the port's traffic (an SFU sends each packet to
//! many), so one reader is not the bottleneck the fan-out would be.

use super::relay::Relay;
use super::shared::Shared;
use bytes::BytesMut;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// What a worker is handed besides commands.
#[derive(Debug)]
pub enum Inbox {
    /// Datagrams the front read for it, in order.
    Datagrams(Vec<(SocketAddr, BytesMut)>),
    /// Messages from another worker, in order.
    Relays(Vec<Relay>),
}

/// Batches a worker may have waiting (datagram batches and relay batches together);
/// beyond that they are dropped and counted, as a full socket buffer would.
pub const INBOX: usize = 1024;

/// Reads `socket` and hands its datagrams to `workers` until the first worker is gone.
pub async fn run(socket: Arc<UdpSocket>, workers: Vec<mpsc::Sender<Inbox>>, shared: Arc<Shared>) {
    let Some(first) = workers.first().cloned() else {
        return;
    };
    let mut pool = BytesMut::zeroed(super::port::POOL);
    let mut batches: Vec<Vec<(SocketAddr, BytesMut)>> = vec![Vec::new(); workers.len()];
    loop {
        tokio::select! {
            biased;
            () = first.closed() => break,
            ready = socket.readable() => if ready.is_err() { continue },
        }
        let Some(table) = shared.front.as_ref() else {
            return;
        };
        let mut lost = 0u64;
        for _ in 0..super::port::READ_BATCH {
            if pool.len() < super::port::MAX_DATAGRAM {
                pool = BytesMut::zeroed(super::port::POOL);
            }
            match socket.try_recv_from(&mut pool[..super::port::MAX_DATAGRAM]) {
                Ok((n, from)) => {
                    let datagram = pool.split_to(n);
                    match table.route(from, &datagram) {
                        Some(w) => batches[w].push((from, datagram)),
                        None => lost += 1,
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::debug!(error = %e, "sfu: recv failed");
                    break;
                }
            }
        }
        for (worker, batch) in workers.iter().zip(batches.iter_mut()) {
            if batch.is_empty() {
                continue;
            }
            let n = batch.len() as u64;
            if worker
                .try_send(Inbox::Datagrams(std::mem::take(batch)))
                .is_err()
            {
                lost += n;
            }
        }
        if lost > 0 {
            shared.front_unrouted.fetch_add(lost, Ordering::Relaxed);
        }
    }
}

//! The media port's send queue: a turn's outgoing datagrams leave in batches, with
//! `sendmmsg(2)` on Linux (one `send_to` per datagram elsewhere), and wait here, bounded,
//! while the socket's send buffer is full instead of stalling the loop.

use bytes::BytesMut;
use std::collections::VecDeque;
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use tokio::net::UdpSocket;

/// Datagrams handed to the kernel per `sendmmsg` call (its own limit, `UIO_MAXIOV`, is
/// 1024); also the queue length at which the driver sends without waiting for the end
/// of the turn. The per-call headers live on the stack: 64 × ~110 bytes.
pub(crate) const PER_CALL: usize = 64;

/// Outgoing datagrams not yet accepted by the kernel, oldest first.
pub(crate) struct SendQueue {
    queue: VecDeque<(SocketAddr, BytesMut)>,
    /// At most this many datagrams wait; more are dropped (a full send buffer that does
    /// not drain must not grow memory without end).
    cap: usize,
    /// Datagrams the kernel accepted.
    pub(crate) sent: u64,
    /// Datagrams dropped because the queue was full.
    pub(crate) dropped: u64,
    /// Datagrams dropped because the kernel refused them (other than "would block").
    pub(crate) failed: u64,
}

impl SendQueue {
    /// An empty queue holding at most `cap` datagrams.
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            queue: VecDeque::with_capacity(PER_CALL),
            cap,
            sent: 0,
            dropped: 0,
            failed: 0,
        }
    }

    /// Datagrams waiting.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Queues `datagram` for `to`; false (and counted) if the queue is full.
    pub(crate) fn push(&mut self, to: SocketAddr, datagram: BytesMut) -> bool {
        if self.queue.len() >= self.cap {
            self.dropped += 1;
            return false;
        }
        self.queue.push_back((to, datagram));
        true
    }

    /// Sends as much as the socket takes now, in order; what it does not take (it
    /// would block) stays queued for the next call. Never waits.
    pub(crate) fn flush(&mut self, socket: &UdpSocket) {
        while !self.queue.is_empty() {
            let (front, _) = self.queue.as_slices();
            let batch = &front[..front.len().min(PER_CALL)];
            match send_batch(socket, batch) {
                // The kernel took nothing without an error: try again next turn.
                Ok(0) => return,
                Ok(n) => {
                    self.sent += n as u64;
                    self.queue.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) => {
                    // The first datagram of the batch was refused (e.g. no route to its
                    // address): drop it and go on with the rest.
                    self.failed += 1;
                    if let Some((to, _)) = self.queue.pop_front() {
                        tracing::debug!(error = %e, %to, "sfu: send failed");
                    }
                }
            }
        }
    }
}

/// Sends a prefix of `batch` (at least one datagram) and says how many went.
#[cfg(target_os = "linux")]
fn send_batch(socket: &UdpSocket, batch: &[(SocketAddr, BytesMut)]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    use tokio::io::Interest;
    // `try_io` clears the socket's write readiness when the call would block, so the
    // driver's `writable()` then waits for the kernel to drain its buffer.
    socket.try_io(Interest::WRITABLE, || {
        mmsg::sendmmsg(socket.as_raw_fd(), batch)
    })
}

/// Sends a prefix of `batch` (at least one datagram) and says how many went.
#[cfg(not(target_os = "linux"))]
fn send_batch(socket: &UdpSocket, batch: &[(SocketAddr, BytesMut)]) -> io::Result<usize> {
    let mut sent = 0;
    for (to, datagram) in batch {
        match socket.try_send_to(datagram, *to) {
            Ok(_) => sent += 1,
            Err(e) if sent == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(sent)
}

/// The one `unsafe` call: `sendmmsg(2)` over headers built on the stack.
#[cfg(target_os = "linux")]
mod mmsg {
    use super::PER_CALL;
    use bytes::BytesMut;
    use std::io;
    use std::net::SocketAddr;
    use std::os::fd::RawFd;

    /// Room for either address family, as `sockaddr_storage` would be.
    #[repr(C)]
    #[derive(Clone, Copy)]
    union RawAddr {
        v4: libc::sockaddr_in,
        v6: libc::sockaddr_in6,
    }

    /// The C form of `to` and its length.
    fn raw_addr(to: &SocketAddr) -> (RawAddr, libc::socklen_t) {
        match to {
            SocketAddr::V4(a) => {
                let v4 = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                (
                    RawAddr { v4 },
                    size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            }
            SocketAddr::V6(a) => {
                let v6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                (
                    RawAddr { v6 },
                    size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                )
            }
        }
    }

    /// One `sendmmsg` of at most [`PER_CALL`] datagrams of `batch` on the non-blocking
    /// socket `fd`: how many the kernel took, or the error of the first one.
    pub(super) fn sendmmsg(fd: RawFd, batch: &[(SocketAddr, BytesMut)]) -> io::Result<usize> {
        let n = batch.len().min(PER_CALL);
        let empty = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        let mut iovs = [empty; PER_CALL];
        let mut addrs = [raw_addr(&SocketAddr::from(([0, 0, 0, 0], 0))); PER_CALL];
        for (i, (to, datagram)) in batch[..n].iter().enumerate() {
            iovs[i] = libc::iovec {
                // The kernel only reads through this pointer (sendmmsg does not write
                // the payload); `*mut` is what the C struct declares.
                iov_base: datagram.as_ptr() as *mut libc::c_void,
                iov_len: datagram.len(),
            };
            addrs[i] = raw_addr(to);
        }
        // SAFETY: `mmsghdr` is plain C data (pointers, lengths, flags) for which all
        // zero bits are valid: null pointers and zero lengths.
        let mut msgs: [libc::mmsghdr; PER_CALL] = unsafe { std::mem::zeroed() };
        for i in 0..n {
            let header = &mut msgs[i].msg_hdr;
            header.msg_name = (&raw mut addrs[i].0) as *mut libc::c_void;
            header.msg_namelen = addrs[i].1;
            header.msg_iov = &raw mut iovs[i];
            header.msg_iovlen = 1;
        }
        // SAFETY: `msgs[..n]` are initialised headers, each pointing at one address
        // (`addrs[i]`, with its true length) and one iovec (`iovs[i]`) over a datagram
        // borrowed from `batch`; all of these outlive the call and none is moved during
        // it. The kernel writes only `msg_len` of the `n` headers. `n` ≤ PER_CALL = 64
        // fits `c_uint`. A bad `fd` is reported as EBADF, not undefined behaviour.
        let sent = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), n as libc::c_uint, 0) };
        if sent < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(sent as usize)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A receiver on loopback and its address.
    async fn receiver() -> (UdpSocket, SocketAddr) {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = socket.local_addr().expect("bound socket has an address");
        (socket, addr)
    }

    /// The next datagram `socket` receives (fails the test after a second).
    async fn next(socket: &UdpSocket) -> Vec<u8> {
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(1), socket.recv(&mut buf));
        let n = read.await.expect("datagram within 1 s").expect("recv");
        buf[..n].to_vec()
    }

    /// Flushes `queue` as the driver does: again each time `socket` is writable (a new
    /// socket's readiness is unknown until the reactor has seen it).
    async fn send_all(queue: &mut SendQueue, socket: &UdpSocket) {
        while !queue.is_empty() {
            socket.writable().await.expect("writable");
            queue.flush(socket);
        }
    }

    /// Sends `count` numbered datagrams round-robin to `receivers` receivers
    /// and reads each receiver's share back in order.
    async fn round_trip(count: u32, receivers: usize) {
        let sender = UdpSocket::bind("127.0.0.1:0").await.expect("bind loopback");
        let mut rx = Vec::new();
        for _ in 0..receivers {
            rx.push(receiver().await);
        }
        let mut queue = SendQueue::new(count as usize);
        for i in 0..count {
            let (_, to) = rx[i as usize % receivers];
            assert!(queue.push(to, BytesMut::from(&i.to_be_bytes()[..])));
        }
        send_all(&mut queue, &sender).await;
        assert_eq!(
            (queue.sent, queue.len(), queue.dropped),
            (u64::from(count), 0, 0)
        );
        for (r, (socket, _)) in rx.iter().enumerate() {
            for i in (0..count).filter(|i| *i as usize % receivers == r) {
                assert_eq!(next(socket).await, i.to_be_bytes(), "receiver {r}");
            }
        }
    }

    #[tokio::test]
    async fn a_batch_arrives_in_order_at_each_address() {
        round_trip(10, 3).await;
    }

    /// More datagrams than one call takes, ours (64) and the kernel's (`UIO_MAXIOV`,
    /// 1024), spread over 8 receivers so no receive buffer (~200 KiB) overflows.
    #[tokio::test]
    async fn a_batch_larger_than_one_call_arrives_whole_and_in_order() {
        round_trip(1100, 8).await;
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts() {
        let (_rx, to) = receiver().await;
        let mut queue = SendQueue::new(2);
        assert!(queue.push(to, BytesMut::from(&b"a"[..])));
        assert!(queue.push(to, BytesMut::from(&b"b"[..])));
        assert!(!queue.push(to, BytesMut::from(&b"c"[..])));
        assert_eq!((queue.len(), queue.dropped), (2, 1));
    }

    #[tokio::test]
    async fn a_refused_datagram_is_dropped_and_the_rest_go() {
        let sender = UdpSocket::bind("127.0.0.1:0").await.expect("bind loopback");
        let (rx, to) = receiver().await;
        let mut queue = SendQueue::new(8);
        // Port 0 is not a destination: the kernel refuses this one (EINVAL).
        queue.push(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            BytesMut::from(&b"x"[..]),
        );
        queue.push(to, BytesMut::from(&b"ok"[..]));
        send_all(&mut queue, &sender).await;
        assert_eq!((queue.failed, queue.sent, queue.len()), (1, 1, 0));
        assert_eq!(next(&rx).await, b"ok");
    }
}

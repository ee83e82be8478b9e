//! A connection's clock: the header-read deadline (from the accept, or from the first
//! byte of the next request) and the idle keep-alive deadline (from the last answer),
//! none while a request is being handled. The accept loop closes a connection whose
//! deadline passed.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// The two limits a connection lives under.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// From the accept (TLS handshake included), or from the first byte of a further
    /// request, until its headers are read.
    pub header: Duration,
    /// From the end of an answer until the next request's first byte.
    pub idle: Duration,
}

#[derive(Debug)]
struct State {
    /// Requests being handled (their answers not yet begun).
    busy: usize,
    /// Bytes of a request's head have arrived (or the connection is new).
    reading: bool,
    /// When the current wait began.
    since: Instant,
}

/// One connection's deadline, moved by its reads, writes and requests.
#[derive(Debug)]
pub struct Watch {
    timeouts: Timeouts,
    state: Mutex<State>,
    changed: Notify,
}

impl Watch {
    /// A new connection: its headers are due within the header timeout.
    pub fn new(timeouts: Timeouts) -> Arc<Watch> {
        Arc::new(Watch {
            timeouts,
            state: Mutex::new(State {
                busy: 0,
                reading: true,
                since: Instant::now(),
            }),
            changed: Notify::new(),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Never poisoned: nothing panics while holding it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn deadline(&self) -> Option<Instant> {
        let s = self.state();
        match (s.busy, s.reading) {
            (0, true) => Some(s.since + self.timeouts.header),
            (0, false) => Some(s.since + self.timeouts.idle),
            _ => None,
        }
    }

    /// Resolves once the connection's deadline has passed.
    pub async fn expired(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            match self.deadline() {
                Some(at) if at <= Instant::now() => return,
                Some(at) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    /// A request's headers were read and it is being handled: no deadline until the
    /// returned guard (held until the answer begins) is dropped.
    pub fn busy(self: &Arc<Watch>) -> Busy {
        {
            let mut s = self.state();
            s.busy += 1;
            s.reading = false;
        }
        self.changed.notify_waiters();
        Busy(self.clone())
    }

    fn read(&self) {
        let mut s = self.state();
        if s.busy == 0 && !s.reading {
            s.reading = true;
            s.since = Instant::now();
            drop(s);
            self.changed.notify_waiters();
        }
    }

    fn wrote(&self) {
        let mut s = self.state();
        if s.busy == 0 && !s.reading {
            // A long answer still being sent keeps the connection from being idle.
            s.since = Instant::now();
        }
    }
}

/// Held while a request is handled.
pub struct Busy(Arc<Watch>);

impl Drop for Busy {
    fn drop(&mut self) {
        let mut s = self.0.state();
        s.busy = s.busy.saturating_sub(1);
        if s.busy == 0 {
            s.reading = false;
            s.since = Instant::now();
        }
        drop(s);
        self.0.changed.notify_waiters();
    }
}

/// A connection's stream that tells its [`Watch`] about traffic.
pub struct Watched<I> {
    inner: I,
    watch: Arc<Watch>,
}

impl<I> Watched<I> {
    pub fn new(inner: I, watch: Arc<Watch>) -> Self {
        Watched { inner, watch }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Watched<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.read();
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.watch.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.watch.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts {
        header: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };

    async fn expires_within(watch: &Watch, limit: Duration) -> bool {
        tokio::time::timeout(limit, watch.expired()).await.is_ok()
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_connection_has_the_header_timeout_then_an_idle_one_after_its_answer() {
        let watch = Watch::new(T);
        assert!(!expires_within(&watch, Duration::from_secs(9)).await);
        assert!(expires_within(&watch, Duration::from_secs(2)).await);

        let watch = Watch::new(T);
        let busy = watch.busy();
        assert!(
            !expires_within(&watch, Duration::from_secs(3600)).await,
            "no deadline while a request is handled"
        );
        drop(busy);
        assert!(!expires_within(&watch, Duration::from_secs(59)).await);
        assert!(expires_within(&watch, Duration::from_secs(2)).await);
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_byte_of_a_further_request_starts_the_header_timeout() {
        let watch = Watch::new(T);
        drop(watch.busy());
        tokio::time::advance(Duration::from_secs(30)).await;
        watch.read();
        assert!(!expires_within(&watch, Duration::from_secs(9)).await);
        assert!(expires_within(&watch, Duration::from_secs(2)).await);
    }
}

//! The password-check pool: a fixed number of threads, each reusing one argon2 memory
//! block, fed by a bounded queue of four lanes (known devices, known networks, quiet
//! accounts, failing accounts) that serves client networks and addresses in turn within
//! a lane.
//!
//! Why not `spawn_blocking` behind a semaphore (what came before): tokio runs each
//! check on whichever of its up to 512 blocking threads is free, every thread
//! allocates its own ~19 MiB argon2 block, and glibc keeps what a thread freed in that
//! thread's arena (and raises its mmap threshold after the first free, so the next
//! block comes from the arena too). 128 wrong logins measured 422 MiB although only two
//! checks ever ran at once. Here `threads` threads each allocate one block on their
//! first check and reuse it for every later one: memory is `threads × 19 MiB`,
//! whatever the flood.
//!
//! Why not first come, first served: a semaphore queue is fair per request, so a
//! flood of 128 requests puts a real user behind 128 checks (9.1 s measured). Here
//! requests queue per client address, addresses per network (IPv4 /24, IPv6 /64: one
//! attacker usually holds many addresses of one network, an IPv6 host a whole /64),
//! and the threads take one request from each network in turn and, within a network,
//! from each address in turn. A request from a network with nothing queued is
//! therefore served after at most one request of every other network already
//! waiting, however many requests those networks hold. A flood spread over many
//! networks (a botnet) still delays everyone by one check per flooding network.
//!
//! Measured (abuse_bench, BENCHMARKS.md): RSS peak under 100 MiB under 128 and 512
//! concurrent wrong logins (422/431 MiB before). The threads run at nice 10
//! ([`yield_to_the_rest`]): on a loaded node the server's tokio workers and a login's own
//! database steps come first. Made-up names never reach the pool ([`crate::login_guard`]).
//!
//! Four lanes ([`Lane`]), served in this order, turns per network within the last three
//! (the lane is chosen in `Store::sign_in`, `accounts/signin.rs`):
//!
//! - Known devices: a login from a browser holding a device cookie of the account it
//!   names ([`Lane::KnownDevice`], see [`crate::login_devices`]), first come, first
//!   served, so a flood from however many networks delays it by at most the checks
//!   already running. The way in for the user of an account under attack.
//! - Known networks ([`Lane::KnownNetwork`]): a login from a client network some account
//!   signed in from lately ([`crate::login_networks`], 30 days by default), whatever the
//!   account's own failures, unless its address failed lately. A province's staff sign
//!   in from the province's networks, a botnet from networks no one signs in from: a
//!   flood of real names from 512 never-seen /24s, which delays a quiet login by its
//!   whole first pass over the names (below), costs staff in their office network only
//!   the checks already running. A check from an address of a known network that fails
//!   moves that address's requests still waiting here to the failing lane.
//! - Quiet accounts ([`Lane::Quiet`]): from a never-seen network, a login of an account
//!   with no failure in the last minutes (the lockout's own records,
//!   [`crate::LoginPolicy::quiet_after_secs`]) from an address and a network with none
//!   either. A flood of real names from as many /24s as it has clients (which turns per
//!   network cannot tell from users: 512 networks held an anonymous login ~10 s) costs a
//!   quiet account's user only the checks of names and networks that have not failed
//!   yet, about one each: when a check fails, the requests still waiting here for that
//!   account or from that network move to the next lane ([`PasswordPool::failed`]), and
//!   the network's later requests go there directly. An attacker guessing the user's own
//!   account puts it in the failing lane (and its lockout holds): that user's way in is
//!   a known device or a known network.
//! - Failing accounts ([`Lane::Failing`]): everyone else, served when the other three
//!   lanes are empty.
//!
//! Bounds: at most `capacity` requests wait in each lane. When its lane is full, a
//! newcomer takes the place of the newest request of the lane's address holding the
//! most, as long as that address holds more than the newcomer's own (the evicted
//! request is told [`Error::Busy`]); otherwise the newcomer is. A request that waited longer than
//! `wait` for a thread is told busy instead of being checked, and one whose caller
//! went away (the client hung up) is dropped unchecked: neither costs a hash.

use std::sync::{Arc, Condvar, Mutex, Once, PoisonError};
use std::time::{Duration, Instant};

use argon2::Block;
use tokio::sync::oneshot;

use crate::{Error, Result};

mod queue;

pub(crate) use queue::Lane;
use queue::{Job, Queue, Requester};

/// A thread's argon2 working memory, allocated on first use and kept.
#[derive(Default)]
pub(crate) struct Memory {
    blocks: Vec<Block>,
}

/// The most argon2 memory a check may use (256 MiB): a stored hash asking for more is
/// not checked.
pub(crate) const MAX_BLOCKS: usize = 256 * 1024;

impl Memory {
    /// Runs `f` on `count` blocks: this thread's own block when it is large enough (it
    /// is allocated on first use at the default parameters' 19 MiB, those of every hash
    /// Hoinghi makes, or at `count` if more), a temporary one otherwise (a hash made with
    /// other parameters). `None` when `count` is above [`MAX_BLOCKS`].
    pub(crate) fn with_blocks<R>(
        &mut self,
        count: usize,
        f: impl FnOnce(&mut [Block]) -> R,
    ) -> Option<R> {
        if count > MAX_BLOCKS {
            return None;
        }
        if self.blocks.is_empty() {
            let size = count.max(argon2::Params::DEFAULT.block_count());
            self.blocks = vec![Block::default(); size];
        }
        match self.blocks.get_mut(..count) {
            Some(blocks) => Some(f(blocks)),
            None => Some(f(&mut vec![Block::default(); count])),
        }
    }

    /// Where this thread's own block starts (tests: it is reused, not reallocated).
    #[cfg(test)]
    fn address(&self) -> usize {
        self.blocks.as_ptr() as usize
    }
}

/// One queued check, type-erased so one queue carries checks and hashes.
trait Task: Send {
    /// Whether its caller still waits for the answer.
    fn wanted(&self) -> bool;
    /// Does the work and answers.
    fn run(self: Box<Self>, memory: &mut Memory);
    /// Answers [`Error::Busy`] without doing the work.
    fn refuse(self: Box<Self>);
}

struct Reply<T, F> {
    work: F,
    answer: oneshot::Sender<Result<T>>,
}

impl<T: Send, F: FnOnce(&mut Memory) -> T + Send> Task for Reply<T, F> {
    fn wanted(&self) -> bool {
        !self.answer.is_closed()
    }

    fn run(self: Box<Self>, memory: &mut Memory) {
        let Reply { work, answer } = *self;
        let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(memory)))
            .map_err(|_| Error::Internal("password check panicked".into()));
        let _ = answer.send(done);
    }

    fn refuse(self: Box<Self>) {
        let _ = self.answer.send(Err(Error::Busy));
    }
}

struct Shared {
    queue: Mutex<Queue>,
    work: Condvar,
}

impl Shared {
    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        // A worker never panics while holding the lock (the work runs outside it).
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Closes the queue when the last handle goes: the threads finish and end.
struct Handle {
    shared: Arc<Shared>,
    threads: usize,
    capacity: usize,
    wait: Duration,
    started: Once,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.queue().closed = true;
        self.shared.work.notify_all();
    }
}

/// The bounded, fair pool of password-check threads a store's logins share.
#[derive(Clone)]
pub(crate) struct PasswordPool {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for PasswordPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordPool")
            .field("threads", &self.handle.threads)
            .field("capacity", &self.handle.capacity)
            .finish_non_exhaustive()
    }
}

impl PasswordPool {
    /// A pool of `threads` threads (started on the first request) holding at most
    /// `capacity` waiting requests, each waiting at most `wait` for a thread.
    pub(crate) fn new(threads: usize, capacity: usize, wait: Duration) -> PasswordPool {
        PasswordPool {
            handle: Arc::new(Handle {
                shared: Arc::new(Shared {
                    queue: Mutex::default(),
                    work: Condvar::new(),
                }),
                threads: threads.max(1),
                capacity: capacity.max(1),
                wait,
                started: Once::new(),
            }),
        }
    }

    fn start(&self) {
        let h = &self.handle;
        h.started.call_once(|| {
            for i in 0..h.threads {
                let shared = h.shared.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("password-check-{i}"))
                    .spawn(move || work(&shared));
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "cannot start a password-check thread");
                }
            }
        });
    }

    /// Runs `work` on a pool thread with that thread's argon2 memory, in `lane`, in
    /// `client`'s turn (its IP address as text, when known) there. [`Error::Busy`] when the queue has no room for it or it waited
    /// longer than the pool's wait.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        client: Option<&str>,
        lane: Lane<'_>,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T> {
        let answered = self.submit(client, lane, work)?;
        // Every queued job is answered (done, or refused busy); the bound only guards
        // against a pool whose threads could not start.
        let bound = self.handle.wait + Duration::from_secs(60);
        match tokio::time::timeout(bound, answered).await {
            Ok(Ok(done)) => done,
            Ok(Err(_)) => Err(Error::Internal("password check lost".into())),
            Err(_) => Err(Error::Busy),
        }
    }

    /// Queues `work` in `client`'s turn; the answer comes on the receiver (dropping it
    /// withdraws the request).
    fn submit<T: Send + 'static>(
        &self,
        client: Option<&str>,
        lane: Lane<'_>,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<oneshot::Receiver<Result<T>>> {
        self.start();
        let (answer, answered) = oneshot::channel();
        let h = &self.handle;
        let who = Requester::of(client);
        let evicted = {
            let mut q = h.shared.queue();
            let evicted = q.make_room(lane, &who, h.capacity)?;
            let free = h.threads.saturating_sub(q.running);
            let deadline = (free <= q.len).then(|| Instant::now() + h.wait);
            let account = match lane {
                Lane::Quiet(account) => account.map(str::to_owned),
                Lane::KnownDevice | Lane::KnownNetwork | Lane::Failing => None,
            };
            let job = Job {
                task: Box::new(Reply { work, answer }),
                deadline,
                account,
            };
            q.push(lane, who, job);
            evicted
        };
        h.shared.work.notify_one();
        if let Some(e) = evicted {
            e.task.refuse();
        }
        Ok(answered)
    }

    /// A check of `account` from `address` failed: its requests still waiting in the
    /// quiet lane, and those there from `address`'s network, wait with the failing
    /// accounts' from now on, and so do the known-network lane's from `address`.
    pub(crate) fn failed(&self, account: &str, address: Option<&str>) {
        self.handle.shared.queue().failed(account, address);
    }

    /// Requests waiting now, in every lane (tests: wait until a flood has queued).
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.handle.shared.queue().len
    }
}

/// Lowers the calling thread's priority to nice 10 (Linux): argon2 is all CPU, and on a
/// loaded node the meeting and a login's own database steps should come first.
fn yield_to_the_rest() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid takes nothing and setpriority only reads its integer arguments;
        // a failure (not permitted) leaves the priority as it was.
        let done = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10)
        };
        if done != 0 {
            tracing::debug!("password-check thread keeps its priority");
        }
    }
}

/// A pool thread: takes requests in turn until the queue closes.
fn work(shared: &Shared) {
    yield_to_the_rest();
    let mut memory = Memory::default();
    let mut q = shared.queue();
    loop {
        if q.closed {
            return;
        }
        let Some(job) = q.pop() else {
            q = shared.work.wait(q).unwrap_or_else(PoisonError::into_inner);
            continue;
        };
        q.running += 1;
        drop(q);
        if !job.task.wanted() {
            // The caller went away: nothing to check.
        } else if job.deadline.is_some_and(|d| Instant::now() > d) {
            job.task.refuse();
        } else {
            job.task.run(&mut memory);
        }
        q = shared.queue();
        q.running -= 1;
    }
}

#[cfg(test)]
mod tests;

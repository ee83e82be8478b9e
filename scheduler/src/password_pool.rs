//! The password-check pool: a fixed number of threads, each reusing one argon2 memory
//! block, fed by one bounded queue that serves client networks and addresses in turn.
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
//! Measured (abuse_bench, BENCHMARKS.md, 2 cores at load 15–20, dev profile with argon2
//! optimised): RSS peak 84 MiB under 128 concurrent wrong logins and 97 MiB under 512
//! (422/431 MiB before); a correct login from another network during them 0.73/0.89 s,
//! and 0.30/5.08 s in a second run at load 21, where the rest of the 5 s was the
//! login's database steps and the server's tokio workers starved of CPU; so the threads
//! run at nice 10 ([`yield_to_the_rest`]): 0.20/0.42 s in a third run at load 14 (9.1 s,
//! then 503, before). A flood with
//! each client in its own /24 still delays it by one check per client (503 after ~10 s
//! at 128 here).
//!
//! Known devices first: a login from a browser holding a device cookie of the account it
//! names ([`Lane::KnownDevice`], see [`crate::login_devices`]) waits in a lane of its
//! own that the threads serve before every network's turn, so a flood from however many
//! networks delays it by at most the checks already running. That lane holds at most
//! `capacity` requests too, and is never emptied to make room for others.
//!
//! Bounds: at most `capacity` requests wait. When the queue is full, a newcomer takes
//! the place of the newest request of the address holding the most, as long as that
//! address holds more than the newcomer's own (the evicted request is told
//! [`Error::Busy`]); otherwise the newcomer is. A request that waited longer than
//! `wait` for a thread is told busy instead of being checked, and one whose caller
//! went away (the client hung up) is dropped unchecked: neither costs a hash.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Condvar, Mutex, Once, PoisonError};
use std::time::{Duration, Instant};

use argon2::Block;
use tokio::sync::oneshot;

use crate::{Error, Result};

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

struct Job {
    task: Box<dyn Task>,
    /// Refused unchecked after this; `None` when a thread was free as it came.
    deadline: Option<Instant>,
}

/// Which queue a request waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    /// A login from a browser that logged in to this account before: served first.
    KnownDevice,
    /// Everyone else: in turn per network and address.
    Anonymous,
}

/// Who asked: the client's network and address (both empty when unknown).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Requester {
    network: String,
    address: String,
}

impl Requester {
    fn of(address: Option<&str>) -> Requester {
        let address = address.unwrap_or_default();
        let network = match address.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
            Ok(IpAddr::V4(v4)) => {
                let [a, b, c, _] = v4.octets();
                format!("{a}.{b}.{c}.0/24")
            }
            Ok(IpAddr::V6(v6)) => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
            Err(_) => address.to_owned(),
        };
        Requester {
            network,
            address: address.to_owned(),
        }
    }
}

/// The addresses of one network with requests waiting, in turn.
#[derive(Default)]
struct Network {
    turns: VecDeque<String>,
    waiting: HashMap<String, VecDeque<Job>>,
}

/// Networks with requests waiting, in turn.
#[derive(Default)]
struct Queue {
    /// Requests of known devices, first come first served, before any network's turn.
    known: VecDeque<Job>,
    turns: VecDeque<String>,
    networks: HashMap<String, Network>,
    len: usize,
    /// Threads working on a request now (the others are free, or still starting).
    running: usize,
    closed: bool,
}

impl Queue {
    fn waiting_of(&self, who: &Requester) -> usize {
        self.networks
            .get(&who.network)
            .and_then(|n| n.waiting.get(&who.address))
            .map_or(0, VecDeque::len)
    }

    /// The newest request of the address holding the most, if it holds more than `than + 1`.
    fn evict_from_longest(&mut self, than: usize) -> Option<Job> {
        let longest = self
            .networks
            .values_mut()
            .flat_map(|n| n.waiting.values_mut())
            .max_by_key(|q| q.len())
            .filter(|q| q.len() > than + 1)?;
        // Still at least one left: the address keeps its turn.
        let job = longest.pop_back()?;
        self.len -= 1;
        Some(job)
    }

    fn push(&mut self, who: Requester, job: Job) {
        let network = self.networks.entry(who.network.clone()).or_default();
        if network.waiting.is_empty() {
            self.turns.push_back(who.network);
        }
        let waiting = network.waiting.entry(who.address.clone()).or_default();
        if waiting.is_empty() {
            network.turns.push_back(who.address);
        }
        waiting.push_back(job);
        self.len += 1;
    }

    fn push_known(&mut self, job: Job) {
        self.known.push_back(job);
        self.len += 1;
    }

    /// The next request: a known device's, else the next network's next address's oldest one.
    fn pop(&mut self) -> Option<Job> {
        if let Some(job) = self.known.pop_front() {
            self.len -= 1;
            return Some(job);
        }
        let name = self.turns.pop_front()?;
        let network = self.networks.get_mut(&name)?;
        let address = network.turns.pop_front()?;
        let waiting = network.waiting.get_mut(&address)?;
        let job = waiting.pop_front();
        if waiting.is_empty() {
            network.waiting.remove(&address);
        } else {
            network.turns.push_back(address);
        }
        if network.waiting.is_empty() {
            self.networks.remove(&name);
        } else {
            self.turns.push_back(name);
        }
        self.len -= usize::from(job.is_some());
        job
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

    /// Runs `work` on a pool thread with that thread's argon2 memory, in `client`'s
    /// turn (its IP address as text, when known) or, in the [`Lane::KnownDevice`] lane,
    /// before every turn. [`Error::Busy`] when the queue has no room for it or it waited
    /// longer than the pool's wait.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        client: Option<&str>,
        lane: Lane,
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
        lane: Lane,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<oneshot::Receiver<Result<T>>> {
        self.start();
        let (answer, answered) = oneshot::channel();
        let h = &self.handle;
        let who = Requester::of(client);
        let evicted = {
            let mut q = h.shared.queue();
            let mut evicted = None;
            if lane == Lane::KnownDevice {
                if q.known.len() >= h.capacity {
                    return Err(Error::Busy);
                }
            } else if q.len - q.known.len() >= h.capacity {
                let own = q.waiting_of(&who);
                evicted = Some(q.evict_from_longest(own).ok_or(Error::Busy)?);
            }
            let free = h.threads.saturating_sub(q.running);
            let deadline = (free <= q.len).then(|| Instant::now() + h.wait);
            let job = Job {
                task: Box::new(Reply { work, answer }),
                deadline,
            };
            match lane {
                Lane::KnownDevice => q.push_known(job),
                Lane::Anonymous => q.push(who, job),
            }
            evicted
        };
        h.shared.work.notify_one();
        if let Some(e) = evicted {
            e.task.refuse();
        }
        Ok(answered)
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

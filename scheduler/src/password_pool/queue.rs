//! The password-check pool's waiting requests: four lanes served in order — known
//! devices, then known networks, then accounts with no recent failures, then accounts
//! failing now — the last three each served in turn per client network and, within a
//! network, per address.

use std::collections::{HashMap, VecDeque};

use super::Task;
use crate::login_networks::network_of;
use crate::{Error, Result};

/// One waiting request.
pub(super) struct Job {
    pub task: Box<dyn Task>,
    /// Refused unchecked after this; `None` when a thread was free as it came.
    pub deadline: Option<std::time::Instant>,
    /// The account it checks, in the quiet lane (moved to the failing lane when a check
    /// of that account, or one from its network, fails meanwhile).
    pub account: Option<String>,
}

/// Which queue a request waits in, in the order they are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane<'a> {
    /// A login from a browser that logged in to this account before: first come, first
    /// served, before every other lane.
    KnownDevice,
    /// A login from a client network some account signed in from lately (see
    /// [`crate::login_networks`]), from an address with no recent failure: before the
    /// quiet lane, in turn per network and address.
    KnownNetwork,
    /// A login from a never-seen network with no recent failure, of an account with no recent failures (the account named, when there is
    /// one), or a password hashed for signed-in staff: before every failing account's
    /// login, in turn per network and address.
    Quiet(Option<&'a str>),
    /// A login of an account that failed lately (an account under attack), or from an
    /// address or never-seen network that did: last, in turn per network and address.
    Failing,
}

/// Who asked: the client's network and address (both empty when unknown).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Requester {
    network: String,
    address: String,
}

impl Requester {
    pub fn of(address: Option<&str>) -> Requester {
        let address = address.unwrap_or_default();
        let network = network_of(address);
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

/// The networks with requests waiting in one lane, in turn.
#[derive(Default)]
struct Turns {
    turns: VecDeque<String>,
    networks: HashMap<String, Network>,
    len: usize,
}

impl Turns {
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

    /// The next network's next address's oldest request.
    fn pop(&mut self) -> Option<Job> {
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

    /// Takes out every request `which` picks (given who asked and the job), with who asked.
    fn take(&mut self, which: impl Fn(&Requester, &Job) -> bool) -> Vec<(Requester, Job)> {
        let mut taken = Vec::new();
        for (name, network) in &mut self.networks {
            for (address, waiting) in &mut network.waiting {
                let who = Requester {
                    network: name.clone(),
                    address: address.clone(),
                };
                let (theirs, rest) = std::mem::take(waiting)
                    .into_iter()
                    .partition::<VecDeque<Job>, _>(|j| which(&who, j));
                *waiting = rest;
                taken.extend(theirs.into_iter().map(|job| (who.clone(), job)));
            }
            network.waiting.retain(|_, w| !w.is_empty());
            let waiting = &network.waiting;
            network.turns.retain(|a| waiting.contains_key(a));
        }
        self.networks.retain(|_, n| !n.waiting.is_empty());
        let networks = &self.networks;
        self.turns.retain(|n| networks.contains_key(n));
        self.len -= taken.len();
        taken
    }
}

/// Every waiting request, by lane.
#[derive(Default)]
pub(super) struct Queue {
    /// Requests of known devices, first come first served, before any other lane.
    known: VecDeque<Job>,
    /// Requests from networks some account signed in from lately.
    known_network: Turns,
    /// Requests for accounts without recent failures, from never-seen networks.
    quiet: Turns,
    /// Requests for accounts failing now.
    failing: Turns,
    /// Requests waiting, in every lane.
    pub len: usize,
    /// Threads working on a request now (the others are free, or still starting).
    pub running: usize,
    pub closed: bool,
}

impl Queue {
    /// Makes room in `lane` (each holds at most `capacity`) for a request of `who`: by
    /// evicting the newest request of the address holding the most in that lane, if it
    /// holds more than `who` (returned, to be told busy). [`Error::Busy`] when there is
    /// no room.
    pub fn make_room(
        &mut self,
        lane: Lane<'_>,
        who: &Requester,
        capacity: usize,
    ) -> Result<Option<Job>> {
        let turns = match lane {
            Lane::KnownDevice => {
                return if self.known.len() >= capacity {
                    Err(Error::Busy)
                } else {
                    Ok(None)
                };
            }
            Lane::KnownNetwork => &mut self.known_network,
            Lane::Quiet(_) => &mut self.quiet,
            Lane::Failing => &mut self.failing,
        };
        if turns.len < capacity {
            return Ok(None);
        }
        let own = turns.waiting_of(who);
        let evicted = turns.evict_from_longest(own).ok_or(Error::Busy)?;
        self.len -= 1;
        Ok(Some(evicted))
    }

    pub fn push(&mut self, lane: Lane<'_>, who: Requester, job: Job) {
        match lane {
            Lane::KnownDevice => self.known.push_back(job),
            Lane::KnownNetwork => self.known_network.push(who, job),
            Lane::Quiet(_) => self.quiet.push(who, job),
            Lane::Failing => self.failing.push(who, job),
        }
        self.len += 1;
    }

    /// The next request: a known device's, else a known network's, else a quiet
    /// account's, else a failing one's.
    pub fn pop(&mut self) -> Option<Job> {
        let job = match self.known.pop_front() {
            Some(job) => Some(job),
            None => self
                .known_network
                .pop()
                .or_else(|| self.quiet.pop())
                .or_else(|| self.failing.pop()),
        };
        self.len -= usize::from(job.is_some());
        job
    }

    /// A check of `account` from `address` failed. Its requests still waiting in the quiet
    /// lane move to the failing lane (to the back of their address's turn there), and so do
    /// the quiet lane's requests from `address`'s network (a never-seen network: requests
    /// from a known one wait in the known-network lane) and that lane's requests from
    /// `address` itself. The failing lane may hold more than its capacity for a while: at
    /// most the other two lanes' capacity more.
    pub fn failed(&mut self, account: &str, address: Option<&str>) {
        let from = address.map(|a| Requester::of(Some(a)));
        let mut moved = self.quiet.take(|who, job| {
            job.account.as_deref() == Some(account)
                || from.as_ref().is_some_and(|f| f.network == who.network)
        });
        if let Some(from) = &from {
            moved.extend(self.known_network.take(|who, _| who == from));
        }
        for (who, job) in moved {
            self.failing.push(who, job);
        }
    }
}

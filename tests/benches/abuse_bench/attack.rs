//! The abuse: wrong-password login floods (with one correct login timed in the middle)
//! and sockets that open and never join. Every request goes to the server on loopback,
//! from loopback source addresses (127.0.0.0/8), bounded in count and time.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;

/// The demo accounts' password and one of them.
const ACCOUNT: &str = "vp.tanson";

/// `127.a.b.c` for client `i` of a range starting at `127.a.0.1`.
fn source(a: u8, i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, a, (i / 250) as u8, (i % 250 + 1) as u8))
}

/// `127.(base + i / 256).(i % 256).1`: client `i` alone in its /24, as a botnet's would be.
fn spread_source(base: u8, i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        127,
        base + (i / 256) as u8,
        (i % 256) as u8,
        1,
    ))
}

/// The network the device-cookie login came from (127.0.0.0/24): the staff's office, a
/// network some account signed in from before the floods.
fn office(host: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, host)
}

/// Networks no login came from yet (127.200.0.0/24 on): one for each correct login timed
/// from a never-seen network, since its success makes that network known.
pub struct NeverSeen(u8);

impl Default for NeverSeen {
    fn default() -> Self {
        NeverSeen(200)
    }
}

impl NeverSeen {
    fn next(&mut self) -> Ipv4Addr {
        self.0 += 1;
        Ipv4Addr::new(127, self.0, 0, 2)
    }
}

/// How a flood's addresses are spread over networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spread {
    /// 127.1.x.y: three /24s (one attacker's few networks).
    ThreeNetworks,
    /// 127.a.b.1: each client alone in its /24, as a botnet's would be.
    OnePerClient,
}

/// What the wrong passwords are sent for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// A new made-up account name each time (no account: no password check runs).
    MadeUp,
    /// The demo's real room accounts in turn (each runs a check, until it is locked).
    Real,
}

/// One flood: how many clients, for how long, from which networks, with which names.
#[derive(Debug, Clone, Copy)]
pub struct Flood {
    pub clients: usize,
    pub duration: Duration,
    pub spread: Spread,
    pub names: Names,
}

/// One timed correct login: its status and how long it took, or why it got no answer.
pub type Timed = Result<(u16, Duration), String>;

/// What a flood did.
pub struct FloodReport {
    /// Answers by status (or `timeout`, `failed`).
    pub statuses: BTreeMap<String, u64>,
    /// The correct logins timed during it: where from and when, and how each went.
    pub logins: Vec<(String, Timed)>,
}

impl std::fmt::Display for FloodReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total: u64 = self.statuses.values().sum();
        write!(f, "{total} attempts answered {:?}", self.statuses)?;
        for (case, timed) in &self.logins {
            write!(f, "; correct login {case}: {}", show(timed))?;
        }
        Ok(())
    }
}

/// `200 after 0.31 s`, or what went wrong.
pub fn show(t: &Timed) -> String {
    match t {
        Ok((status, took)) => format!("{status} after {:.2} s", took.as_secs_f64()),
        Err(e) => format!("failed: {e}"),
    }
}

/// Logs `ACCOUNT` in from 127.0.0.3 and returns the device cookie the server set.
pub async fn device_cookie(base: &str) -> Option<String> {
    let client = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)))
        .build()
        .ok()?;
    let body = json!({ "username": ACCOUNT, "password": hoinghi_tests::PASSWORD });
    let res = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&body)
        .send()
        .await
        .ok()?;
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("hoinghi_device="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

/// One correct login of `ACCOUNT` from `from`, with `cookie` if given, timed.
async fn correct_login(url: &str, from: Ipv4Addr, cookie: Option<&str>) -> Timed {
    let client = reqwest::Client::builder()
        .local_address(IpAddr::V4(from))
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())?;
    let body = json!({ "username": ACCOUNT, "password": hoinghi_tests::PASSWORD });
    let mut req = client.post(url).json(&body);
    if let Some(c) = cookie {
        req = req.header("cookie", format!("hoinghi_device={c}"));
    }
    let started = Instant::now();
    let res = req.send().await.map_err(|e| e.to_string())?;
    Ok((res.status().as_u16(), started.elapsed()))
}

/// `clients` clients, each from its own address, send wrong passwords for `duration`
/// (made-up names, or the `real` account names in turn; a flood of real names comes from
/// networks no earlier flood used, as a botnet's fresh members would, since the earlier
/// floods' failures put their networks in the failing lane). 3 s in, the correct login of
/// a browser that never logged in, from a never-seen network, is timed. With `cookie` (a
/// device cookie of that account), at the same moment, that of the browser holding it and
/// that of another PC of the office network it logged in from, without a cookie; and 10 s
/// in (or at 2/3 of a shorter flood) one from the office network and one from another
/// never-seen network.
pub async fn login_flood(
    base: &str,
    flood: Flood,
    real: &[String],
    cookie: Option<&str>,
    never_seen: &mut NeverSeen,
) -> FloodReport {
    let Flood {
        clients,
        duration,
        spread,
        names,
    } = flood;
    let url = format!("{base}/api/v1/auth/login");
    let statuses: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let real: Arc<[String]> = real.into();
    let started = Instant::now();
    let until = started + duration;
    let mut tasks = Vec::new();
    for i in 0..clients {
        let Ok(client) = reqwest::Client::builder()
            .local_address(match (spread, names) {
                (Spread::OnePerClient, Names::MadeUp) => spread_source(1, i),
                (Spread::OnePerClient, Names::Real) => spread_source(10, i),
                (Spread::ThreeNetworks, _) => source(1, i),
            })
            .timeout(Duration::from_secs(30))
            .build()
        else {
            continue;
        };
        let (url, statuses, real) = (url.clone(), statuses.clone(), real.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while Instant::now() < until {
                n += 1;
                let username = match names {
                    Names::Real if !real.is_empty() => real[(i + n) % real.len()].clone(),
                    _ => format!("khach{i}x{n}"),
                };
                let body = json!({ "username": username, "password": "sai-mat-khau" });
                let status = match client.post(&url).json(&body).send().await {
                    Ok(r) => r.status().as_u16().to_string(),
                    Err(e) if e.is_timeout() => "timeout".to_owned(),
                    Err(_) => "failed".to_owned(),
                };
                *statuses
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(status)
                    .or_default() += 1;
            }
        }));
    }
    let early = Duration::from_secs(3).min(duration / 2);
    tokio::time::sleep_until((started + early).into()).await;
    let mut logins = Vec::new();
    let secs = |d: Duration| d.as_secs_f64();
    let first = never_seen.next();
    let at = secs(early);
    match cookie {
        Some(c) => {
            let (a, k, n) = tokio::join!(
                correct_login(&url, first, None),
                correct_login(&url, office(2), Some(c)),
                correct_login(&url, office(4), None),
            );
            logins.push((format!("{at:.0} s in, never-seen network {first}"), a));
            logins.push((format!("{at:.0} s in, device cookie, {}", office(2)), k));
            logins.push((format!("{at:.0} s in, known network {}", office(4)), n));
            let late = Duration::from_secs(10).min(duration * 2 / 3);
            tokio::time::sleep_until((started + late).into()).await;
            let (at, other) = (secs(late), never_seen.next());
            let (n, a) = tokio::join!(
                correct_login(&url, office(5), None),
                correct_login(&url, other, None),
            );
            logins.push((format!("{at:.0} s in, known network {}", office(5)), n));
            logins.push((format!("{at:.0} s in, never-seen network {other}"), a));
        }
        None => {
            let a = correct_login(&url, first, None).await;
            logins.push((format!("{at:.0} s in, never-seen network {first}"), a));
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    let statuses = statuses
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    FloodReport { statuses, logins }
}

/// What the sockets that never joined saw.
pub struct SocketReport {
    /// Sockets whose handshake completed.
    pub opened: usize,
    /// How they ended: close code and reason (or `no close frame`), counted.
    pub closes: BTreeMap<String, u64>,
    /// Upgrades that failed, by error.
    pub refused: BTreeMap<String, u64>,
    /// From the end of the handshake (when the server's join timer starts) to the close,
    /// in seconds: median and longest.
    pub lifetime_p50: f64,
    pub lifetime_max: f64,
    /// From the first connect to the last handshake, and to the last close, in seconds.
    pub opening: f64,
    pub all_done: f64,
}

impl SocketReport {
    /// Sockets the server closed with 1008 `join_timeout`.
    pub fn timed_out(&self) -> u64 {
        self.closes
            .iter()
            .filter(|(k, _)| k.starts_with("1008") && k.contains("join_timeout"))
            .map(|(_, n)| n)
            .sum()
    }
}

impl std::fmt::Display for SocketReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} opened in {:.1} s, all done {:.1} s after the first; closes {:?}; refused {:?}; \
             lifetime after the handshake p50 {:.1} s, max {:.1} s",
            self.opened,
            self.opening,
            self.all_done,
            self.closes,
            self.refused,
            self.lifetime_p50,
            self.lifetime_max
        )
    }
}

/// Opens `count` sockets from 20 loopback addresses and never joins; waits until the
/// server closed each (at most the join timeout and a margin).
pub async fn idle_sockets(base: &str, count: usize) -> SocketReport {
    let server: SocketAddr = base
        .trim_start_matches("http://")
        .parse()
        .expect("the server's address");
    let url = format!("ws://{server}/ws");
    let opening = Arc::new(tokio::sync::Semaphore::new(256));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..count {
        let (url, opening) = (url.clone(), opening.clone());
        let from = source(2, i % 20);
        tasks.push(tokio::spawn(async move {
            let permit = opening.acquire_owned().await.ok()?;
            let socket = TcpSocket::new_v4().ok()?;
            socket.bind(SocketAddr::new(from, 0)).ok()?;
            let stream = socket.connect(server).await.ok()?;
            let (mut ws, _) = match tokio_tungstenite::client_async(url.as_str(), stream).await {
                Ok(ws) => ws,
                Err(e) => return Some(Err(e.to_string())),
            };
            let opened = Instant::now();
            drop(permit);
            let mut close = None;
            while let Ok(Some(frame)) =
                tokio::time::timeout(Duration::from_secs(60), ws.next()).await
            {
                match frame {
                    Ok(Message::Close(f)) => {
                        close = f.map(|f| (u16::from(f.code), f.reason.to_string()));
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            Some(Ok((
                opened.elapsed(),
                close,
                opened.duration_since(started),
            )))
        }));
    }
    let mut lifetimes = Vec::new();
    let mut closes: BTreeMap<String, u64> = BTreeMap::new();
    let mut refused: BTreeMap<String, u64> = BTreeMap::new();
    let mut last_open = Duration::ZERO;
    for t in tasks {
        match t.await.ok().flatten() {
            Some(Ok((lived, close, opened_at))) => {
                lifetimes.push(lived.as_secs_f64());
                last_open = last_open.max(opened_at);
                let key = close.map_or("no close frame".to_owned(), |(c, r)| format!("{c} {r}"));
                *closes.entry(key).or_default() += 1;
            }
            Some(Err(e)) => *refused.entry(e).or_default() += 1,
            None => *refused.entry("could not connect".into()).or_default() += 1,
        }
    }
    lifetimes.sort_by(f64::total_cmp);
    let at = |q: f64| {
        lifetimes
            .get(((lifetimes.len().saturating_sub(1)) as f64 * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    SocketReport {
        opened: lifetimes.len(),
        closes,
        refused,
        lifetime_p50: at(0.5),
        lifetime_max: at(1.0),
        opening: last_open.as_secs_f64(),
        all_done: started.elapsed().as_secs_f64(),
    }
}

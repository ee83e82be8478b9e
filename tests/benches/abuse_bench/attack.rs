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

use crate::Rss;

/// The demo accounts' password and one of them.
const ACCOUNT: &str = "vp.tanson";

/// `127.a.b.c` for client `i` of a range starting at `127.a.0.1`.
fn source(a: u8, i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, a, (i / 250) as u8, (i % 250 + 1) as u8))
}

/// `127.(1 + i / 256).(i % 256).1`: client `i` alone in its /24, as a botnet's would be.
fn spread_source(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, (1 + i / 256) as u8, (i % 256) as u8, 1))
}

/// `clients` clients, each from its own address, send wrong passwords (a new account
/// name each time) for `duration`; 3 s in, a correct login from 127.0.0.2 is timed.
/// The addresses share three /24 networks, or with `spread` each has its own (the
/// server serves networks in turn, so that is the harder flood for the correct login).
pub async fn login_flood(base: &str, clients: usize, duration: Duration, spread: bool) -> String {
    let url = format!("{base}/api/v1/auth/login");
    let statuses: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let until = Instant::now() + duration;
    let mut tasks = Vec::new();
    for i in 0..clients {
        let Ok(client) = reqwest::Client::builder()
            .local_address(if spread {
                spread_source(i)
            } else {
                source(1, i)
            })
            .timeout(Duration::from_secs(30))
            .build()
        else {
            continue;
        };
        let (url, statuses) = (url.clone(), statuses.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while Instant::now() < until {
                n += 1;
                let body =
                    json!({ "username": format!("khach{i}x{n}"), "password": "sai-mat-khau" });
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
    tokio::time::sleep(Duration::from_secs(3).min(duration / 2)).await;
    let correct = async {
        let client = reqwest::Client::builder()
            .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?;
        let body = json!({ "username": ACCOUNT, "password": hoinghi_tests::PASSWORD });
        let started = Instant::now();
        let res = client
            .post(&url)
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((res.status().as_u16(), started.elapsed()))
    }
    .await;
    for t in tasks {
        let _ = t.await;
    }
    let statuses = statuses.lock().unwrap_or_else(PoisonError::into_inner);
    let total: u64 = statuses.values().sum();
    let correct = match correct {
        Ok((status, took)) => format!("correct login {status} after {:.2} s", took.as_secs_f64()),
        Err(e) => format!("correct login failed: {e}"),
    };
    format!("{total} attempts answered {statuses:?}; {correct}")
}

/// Opens `count` sockets from 20 loopback addresses and never joins; waits until the
/// server closed each (at most the join timeout and a margin).
pub async fn idle_sockets(base: &str, count: usize, rss: &Rss) -> String {
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
            let opened = Instant::now();
            let (mut ws, _) = match tokio_tungstenite::client_async(url.as_str(), stream).await {
                Ok(ws) => ws,
                Err(e) => return Some(Err(e.to_string())),
            };
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
    let mut open_peak_rss = 0.0f64;
    let mut lifetimes = Vec::new();
    let mut codes: BTreeMap<String, u64> = BTreeMap::new();
    let mut refused: BTreeMap<String, u64> = BTreeMap::new();
    let mut last_open = Duration::ZERO;
    for t in tasks {
        match t.await.ok().flatten() {
            Some(Ok((lived, close, opened_at))) => {
                lifetimes.push(lived.as_secs_f64());
                last_open = last_open.max(opened_at);
                let key = close.map_or("no close frame".to_owned(), |(c, r)| format!("{c} {r}"));
                *codes.entry(key).or_default() += 1;
            }
            Some(Err(e)) => *refused.entry(e).or_default() += 1,
            None => *refused.entry("could not connect".into()).or_default() += 1,
        }
        open_peak_rss = open_peak_rss.max(rss.now_mib());
    }
    lifetimes.sort_by(f64::total_cmp);
    let at = |q: f64| {
        lifetimes
            .get(((lifetimes.len().saturating_sub(1)) as f64 * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    format!(
        "{} opened in {:.1} s, all done {:.1} s after the first; closes {codes:?}; refused {refused:?}; \
         lifetime p50 {:.1} s, max {:.1} s",
        lifetimes.len(),
        last_open.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        at(0.5),
        at(1.0)
    )
}

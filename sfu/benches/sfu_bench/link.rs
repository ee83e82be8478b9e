//! The SFU side's end of the line protocol with the clients process: spawning it, writing
//! it lines, answering its `OFFER`s as they come and waiting for its other replies.

use crate::hub::{lock, Hub, WAIT};
use crate::proto::{self, escape, now_ns, parse_pairs};
use sfu::Sfu;
use sfu::{MediaKind, PeerId, StreamId};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};

/// The publisher's peer id (the clients process numbers it 0).
const PUBLISHER: PeerId = PeerId(1);

/// The peer id of subscriber `id` (1-based) of the clients process.
pub fn subscriber_peer(id: u32) -> PeerId {
    PeerId(1_000 + u64::from(id))
}

/// The top video track and the audio track that every subscriber is pointed at.
pub type TopAudio = Arc<Mutex<Option<(StreamId, StreamId)>>>;

/// Writes protocol lines to the clients process.
#[derive(Clone)]
pub struct ToClients(Arc<Mutex<ChildStdin>>);

impl ToClients {
    pub fn send(&self, line: &str) {
        let mut w = lock(&self.0);
        if writeln!(w, "{line}").and_then(|()| w.flush()).is_err() {
            eprintln!("[sfu] clients process gone");
        }
    }
}

/// The running clients process and its lines other than offers.
pub struct Clients {
    pub child: Child,
    pub to: ToClients,
    replies: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Clients {
    /// Starts this executable again with `--clients` (under `taskset -c 1` with `pin`,
    /// with `--drop-media` if the subscribers will get no media);
    /// a thread reads its lines, answering each `OFFER` through `sfu` on the runtime.
    pub fn spawn(
        pin: bool,
        drop_media: bool,
        sfu: &Sfu,
        hub: &Arc<Hub>,
        tracks: &TopAudio,
    ) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("spawning clients: {e}"))?;
        let mut command = if pin {
            let mut c = Command::new("taskset");
            c.args(["-c", "1"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        if drop_media {
            command.arg("--drop-media");
        }
        let mut child = command
            .arg("--clients")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawning clients: {e}"))?;
        let to = ToClients(Arc::new(Mutex::new(
            child.stdin.take().ok_or("no stdin of the clients")?,
        )));
        let stdout = child.stdout.take().ok_or("no stdout of the clients")?;
        let (lines_tx, replies) = tokio::sync::mpsc::unbounded_channel();
        let rt = tokio::runtime::Handle::current();
        let (d, h, tc, ta) = (sfu.clone(), Arc::clone(hub), to.clone(), Arc::clone(tracks));
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("OFFER ") {
                    let Some((id, sdp)) = rest.split_once(' ') else {
                        continue;
                    };
                    let Ok(id) = id.parse::<u32>() else { continue };
                    let (d, h, tc) = (d.clone(), Arc::clone(&h), tc.clone());
                    let tracks = *lock(&ta);
                    rt.spawn(join(d, h, tc, id, proto::unescape(sdp), tracks));
                } else if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self { child, to, replies })
    }

    /// Waits for the reply `want` (`VERB k=v …`); its pairs.
    pub async fn reply(&mut self, want: &str) -> Result<BTreeMap<String, f64>, String> {
        loop {
            let line = tokio::time::timeout(WAIT * 5, self.replies.recv())
                .await
                .map_err(|_| format!("no {want} from the clients"))?
                .ok_or("the clients process ended")?;
            match line.split_once(' ') {
                Some(("ERR", e)) => return Err(format!("clients: {e}")),
                Some((verb, rest)) if verb == want => return Ok(parse_pairs(rest)),
                None if line == want => return Ok(BTreeMap::new()),
                _ => eprintln!("[sfu] unexpected line {line:.80}"),
            }
        }
    }

    /// Tells the clients to quit, waits up to 10 s, then kills them.
    pub async fn quit(mut self) {
        self.to.send("QUIT");
        let child = &mut self.child;
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while child.try_wait().ok().flatten().is_none() {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        })
        .await;
        let _ = self.child.kill();
    }
}

/// Answers one offer; for a subscriber, subscribes its slots once it is connected.
async fn join(
    sfu: Sfu,
    hub: Arc<Hub>,
    to_clients: ToClients,
    id: u32,
    sdp: String,
    tracks: Option<(StreamId, StreamId)>,
) {
    let peer = if id == 0 {
        PUBLISHER
    } else {
        subscriber_peer(id)
    };
    let t0 = now_ns();
    let answer = match sfu.add_peer(peer, sdp).await {
        Ok(a) => a,
        Err(e) => return to_clients.send(&format!("FAIL {id} {e}")),
    };
    to_clients.send(&format!("ANSWER {id} {t0} {}", escape(&answer.sdp)));
    let Some((top, audio)) = tracks.filter(|_| id != 0) else {
        return;
    };
    if !hub.wait_connected(peer).await {
        return;
    }
    for (kind, track, layer) in [(MediaKind::Video, top, 2), (MediaKind::Audio, audio, 0)] {
        let Some(slot) = answer.slots.iter().find(|s| s.kind == kind) else {
            eprintln!("[sfu] {peer:?} has no {kind:?} slot");
            continue;
        };
        if let Err(e) = sfu.subscribe(peer, slot.id, track, layer).await {
            eprintln!("[sfu] subscribing {peer:?}: {e}");
            return;
        }
    }
    hub.subscribed(peer);
}

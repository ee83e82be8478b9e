//! Recordings through any node: a download that reaches a node which did not write the
//! file (its recordings directory is its own, no shared volume) reads it from the writer
//! over NATS, one slice at a time (request/reply on `hoinghi.node.<writer>.file`).
//!
//! The ask is JSON (`{"file": <the row's name>, "start": n, "len": n}`; `len` 0 asks only
//! the size); the answer is one status byte (0 found, 1 no such file), the file's size
//! now (8 bytes, big-endian) and the slice's bytes. Only a plain name under the writer's
//! own recordings directory is ever read ([`scheduler::recordings::file_path`]); who may
//! download was checked by the asking node against the shared database.

use std::io::SeekFrom;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::Bridge;

/// The largest slice one ask reads (well under NATS's default 1 MiB message).
pub const SLICE: u64 = 512 * 1024;

/// How long one slice waits for the writer node.
const FILE_TIMEOUT: Duration = Duration::from_secs(10);

const FOUND: u8 = 0;
const MISSING: u8 = 1;

/// Where the writer's recordings are asked for.
pub(super) fn file_subject(node: &str) -> String {
    format!("hoinghi.node.{node}.file")
}

#[derive(Debug, Serialize, Deserialize)]
struct FileAsk {
    file: String,
    start: u64,
    len: u64,
}

/// Why a slice could not be read from another node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteFileError {
    /// The writer node has no such file (deleted by hand, or another volume).
    Missing,
    /// The writer node did not answer (stopped, or NATS away).
    Unreachable(String),
}

/// A slice of a file on another node, and the file's size there.
#[derive(Debug, Clone)]
pub struct RemoteSlice {
    pub size: u64,
    pub bytes: Bytes,
}

impl Bridge {
    /// Reads `len` bytes (at most [`SLICE`]) from `start` of recording file `file` on
    /// `node`; `len` 0 reads only its size.
    pub async fn read_recording(
        &self,
        node: &str,
        file: &str,
        start: u64,
        len: u64,
    ) -> Result<RemoteSlice, RemoteFileError> {
        let ask = FileAsk {
            file: file.to_owned(),
            start,
            len: len.min(SLICE),
        };
        let payload = serde_json::to_vec(&ask).unwrap_or_default();
        let asked = self.nats.request(file_subject(node), payload.into());
        let reply = match tokio::time::timeout(FILE_TIMEOUT, asked).await {
            Ok(Ok(reply)) => reply.payload,
            Ok(Err(e)) => return Err(RemoteFileError::Unreachable(format!("{:?}", e.kind()))),
            Err(_) => return Err(RemoteFileError::Unreachable("no answer".into())),
        };
        match reply.first() {
            Some(&FOUND) if reply.len() >= 9 => {
                let size = u64::from_be_bytes(reply[1..9].try_into().unwrap_or_default());
                Ok(RemoteSlice {
                    size,
                    bytes: reply.slice(9..),
                })
            }
            Some(&MISSING) => Err(RemoteFileError::Missing),
            _ => Err(RemoteFileError::Unreachable(
                "an answer this node cannot read".into(),
            )),
        }
    }
}

/// Answers other nodes' reads of the recordings this node wrote under `dir` (none: this
/// node records nothing, every ask is answered missing).
pub(super) async fn take_reads(
    bridge: Arc<Bridge>,
    dir: Option<PathBuf>,
    mut asks: async_nats::Subscriber,
) {
    while let Some(msg) = asks.next().await {
        let Some(reply_to) = msg.reply else {
            continue;
        };
        let (bridge, dir) = (Arc::clone(&bridge), dir.clone());
        tokio::spawn(async move {
            let answer = match serde_json::from_slice::<FileAsk>(&msg.payload) {
                Ok(ask) => read_here(dir, &ask).await,
                Err(_) => missing(),
            };
            if let Err(e) = bridge.nats.publish(reply_to, answer).await {
                tracing::warn!(error = %e, "a recording slice was not sent");
            }
        });
    }
}

fn missing() -> Bytes {
    Bytes::from_static(&[MISSING])
}

/// The answer to `ask` from this node's recordings directory.
async fn read_here(dir: Option<PathBuf>, ask: &FileAsk) -> Bytes {
    let Some(path) = dir.and_then(|d| scheduler::recordings::file_path(&d, &ask.file)) else {
        return missing();
    };
    let read = async {
        let mut file = tokio::fs::File::open(&path).await?;
        let size = file.metadata().await?.len();
        let len = ask.len.min(SLICE).min(size.saturating_sub(ask.start));
        let mut out = BytesMut::with_capacity(9 + len as usize);
        out.put_u8(FOUND);
        out.put_u64(size);
        if len > 0 {
            file.seek(SeekFrom::Start(ask.start)).await?;
            let mut slice = vec![0; len as usize];
            file.read_exact(&mut slice).await?;
            out.put_slice(&slice);
        }
        std::io::Result::Ok(out.freeze())
    };
    match read.await {
        Ok(answer) => answer,
        Err(e) => {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(file = %path.display(), error = %e, "a recording asked by another node was not read");
            }
            missing()
        }
    }
}

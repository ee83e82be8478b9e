//! A graceful stop as pages see it: every joined page is closed with 1012
//! `server_restart` and its hall's presence ends as `server_restart`; a join while
//! stopping gets the same close; a join the database could not check closes 1011.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Log, Page, Tokens};
use scheduler::attendance::LeaveReason;
use sfu::SfuConfig;
use signaling::protocol::{ErrorCode, ProtocolError};
use signaling::{Admission, Admit, PresenceKind, Signaling, SignalingConfig};

fn server(log: &Arc<Log>) -> Signaling {
    let config = SignalingConfig {
        heartbeat: Duration::from_secs(3600),
        ..SignalingConfig::default()
    };
    Signaling::start(SfuConfig::default(), config)
        .expect("valid config")
        .record_with(log.clone())
}

#[tokio::test]
async fn a_stop_tells_every_page_and_ends_every_presence() {
    let log = Arc::new(Log::default());
    let signaling = server(&log);
    let tokens = Tokens::default();
    let mut host = Page::open(&signaling, &tokens);
    host.join("tok-1").await;
    let mut hall = Page::open(&signaling, &tokens);
    hall.join("tok-2").await;

    tokio::time::timeout(Duration::from_secs(20), signaling.stop())
        .await
        .expect("the stop finishes");
    for page in [&mut host, &mut hall] {
        assert_eq!(page.close_frame().await, (1012, "server_restart".into()));
    }
    let left: Vec<_> = log
        .kinds()
        .into_iter()
        .filter_map(|k| match k {
            PresenceKind::Left { hall_id, reason } => Some((hall_id, reason)),
            _ => None,
        })
        .collect();
    let restart = LeaveReason::ServerRestart;
    assert_eq!(left, [(1, restart), (2, restart)]);

    let mut late = Page::open(&signaling, &tokens);
    late.send(serde_json::json!({"type": "join", "v": 1, "token": "tok-3"}));
    assert_eq!(late.close_frame().await, (1012, "server_restart".into()));
}

/// Tokens whose check fails as a database error would.
struct Broken;

impl Admit for Broken {
    async fn admit(&self, _token: &str) -> Result<Admission, ProtocolError> {
        Err(ProtocolError::new(
            ErrorCode::Internal,
            "the join could not be checked",
        ))
    }
}

#[tokio::test]
async fn a_join_the_database_could_not_check_closes_1011() {
    let signaling = server(&Arc::new(Log::default()));
    let mut page = Page::open_with(&signaling, Broken);
    page.send(serde_json::json!({"type": "join", "v": 1, "token": "tok-1"}));
    assert_eq!(page.error().await, ErrorCode::Internal);
    assert_eq!(page.close_frame().await, (1011, "internal".into()));
}

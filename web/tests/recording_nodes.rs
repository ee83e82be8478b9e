//! A recording downloaded through a node that did not write it: two `hoinghi` processes
//! on one PostgreSQL database and the NATS server at 127.0.0.1:4222, each node with its
//! own recordings directory (no shared volume). A recording written by node a (its row
//! and a 1.3 MB file in node a's directory) is downloaded over node b's API: whole (200,
//! the same bytes, read from node a in slices), one range (206 with `Content-Range`, as a
//! player seeking), the last bytes, a range outside the file (416); gone from node a's
//! directory → 404; node a killed → 503 `node_unreachable`, at once.

mod common;

use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::{login, store_of, sudden_meeting, DataDir};

#[tokio::test]
async fn a_recording_is_downloaded_through_a_node_that_did_not_write_it() {
    let data = DataDir::postgres().await;
    let run = std::process::id();
    let names = [format!("ra-{run}"), format!("rb-{run}")];
    let mut cluster = Cluster::start(&data, &names, &[]).await;
    let (base_a, base_b) = (cluster.base(0), cluster.base(1));
    let store = store_of(&data).await;
    let (meeting, _) = sudden_meeting(&base_a, &store, "vp.tinh", "25").await;

    // Node a's recording: its row (node a's name) and its file in node a's directory.
    let name = format!("cuoc-hop-{meeting}/ghi-hinh-1.webm");
    let path = data.path().join("recordings").join(&name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let bytes: Vec<u8> = (0..1_300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &bytes).unwrap();
    let writer = store.clone().with_node(&names[0]);
    let id = writer
        .recording_started(meeting, &name, "vp.tinh")
        .await
        .unwrap();
    writer
        .recording_ended(id, Duration::from_secs(30), bytes.len() as u64, None)
        .await
        .unwrap();

    let http = reqwest::Client::new();
    let staff_b = login(&http, &base_b, "vp.tinh").await;
    let file_b = format!("{base_b}/api/v1/recordings/{id}/file");
    let get = |range: Option<&str>| {
        let mut req = http.get(&file_b).bearer_auth(&staff_b);
        if let Some(r) = range {
            req = req.header("Range", r);
        }
        req.send()
    };

    let whole = get(None).await.unwrap();
    assert_eq!(whole.status(), 200, "the whole file through node b");
    assert_eq!(whole.headers()["content-type"], "video/webm");
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(whole.bytes().await.unwrap().as_ref(), bytes.as_slice());

    let part = get(Some("bytes=600000-700000")).await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 600000-700000/{}", bytes.len()).as_str()
    );
    assert_eq!(
        part.bytes().await.unwrap().as_ref(),
        &bytes[600_000..=700_000]
    );

    let tail = get(Some("bytes=-100")).await.unwrap();
    assert_eq!(tail.status(), 206);
    assert_eq!(
        tail.bytes().await.unwrap().as_ref(),
        &bytes[bytes.len() - 100..]
    );

    let outside = get(Some("bytes=5000000-")).await.unwrap();
    assert_eq!(outside.status(), 416);
    assert_eq!(
        outside.headers()["content-range"],
        format!("bytes */{}", bytes.len()).as_str()
    );

    // Node a itself serves it from its directory, as before.
    let staff_a = login(&http, &base_a, "vp.tinh").await;
    let local = http
        .get(format!("{base_a}/api/v1/recordings/{id}/file"))
        .bearer_auth(&staff_a)
        .send()
        .await
        .unwrap();
    assert_eq!(local.status(), 200);
    assert_eq!(local.bytes().await.unwrap().len(), bytes.len());

    // Gone from node a's directory: not found through node b either.
    std::fs::remove_file(&path).unwrap();
    assert_eq!(get(None).await.unwrap().status(), 404);

    // Node a stopped: node b says so at once rather than hang.
    std::fs::write(&path, &bytes).unwrap();
    let mut node_a = cluster.nodes.remove(0);
    node_a.kill().await.unwrap();
    let asked = Instant::now();
    let unreachable = get(None).await.unwrap();
    let waited = asked.elapsed();
    assert_eq!(unreachable.status(), 503);
    let body: serde_json::Value = unreachable.json().await.unwrap();
    assert_eq!(body["error"]["code"], "node_unreachable", "{body}");
    println!("node a down: node b answered 503 after {waited:?}");

    drop(cluster);
    store.close().await;
    data.cleanup().await;
}

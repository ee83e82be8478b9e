//! Two `hoinghi` processes on one database (PostgreSQL with `TEST_BACKEND=postgres`, as
//! two cluster nodes `node-a` and `node-b`; else one SQLite file): asked at the same
//! instant to schedule overlapping meetings of the same hall, one books it (200) and
//! the other is told of the conflict (409) — twenty times over.

mod common;

use serde_json::{json, Value};

use common::{free_port, start_node, store_of, DataDir};

/// Logs `account` in on `base`; its bearer token.
async fn login(http: &reqwest::Client, base: &str, account: &str) -> String {
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": account, "password": "hoinghi-demo" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login["token"].as_str().expect("logged in").to_string()
}

#[tokio::test]
async fn two_nodes_asked_at_once_book_a_hall_once() {
    let data = DataDir::new().await;
    let second_dir = tempfile::tempdir().unwrap();
    let url = data.database_url();
    let postgres = url.starts_with("postgres");
    let cluster = |node: &'static str| -> Vec<(&'static str, &'static str)> {
        if postgres {
            vec![("HOINGHI_CLUSTER__NODE_ID", node)]
        } else {
            Vec::new()
        }
    };
    let (port_a, port_b) = (free_port(), free_port());
    // The first node seeds the demo; the second finds it there.
    let node_a = start_node(data.path(), &url, port_a, &cluster("node-a")).await;
    let node_b = start_node(second_dir.path(), &url, port_b, &cluster("node-b")).await;
    let (base_a, base_b) = (
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    );

    let store = store_of(&data).await;
    let today = scheduler::time::local_date(scheduler::time::now());
    let province = store.unit_by_code("25", today).await.unwrap();
    let host = store
        .halls_in(&province.path)
        .await
        .unwrap()
        .into_iter()
        .find(|h| h.unit_id == province.id)
        .unwrap()
        .id;
    // One client (one connection pool) per node, each logged in on its own node.
    let (http_a, http_b) = (reqwest::Client::new(), reqwest::Client::new());
    let token_a = login(&http_a, &base_a, "vp.tinh").await;
    let token_b = login(&http_b, &base_b, "vp.tinh").await;
    let schedule = |http: &reqwest::Client, base: &str, token: &str, title: &str, at: i64| {
        let starts = chrono::DateTime::from_timestamp(at, 0)
            .unwrap()
            .to_rfc3339();
        http.post(format!("{base}/api/v1/meetings"))
            .bearer_auth(token)
            .json(&json!({
                "title": title, "kind": "routine", "host_hall_id": host,
                "starts_at": starts, "duration_minutes": 60,
                "scope": { "root_unit_id": province.id, "levels": [province.level] },
            }))
            .send()
    };
    // Far from the demo's own meetings: a year ahead, one day per pair, 30 minutes apart.
    let first = scheduler::time::now() + 365 * 86_400;
    let mut outcomes = Vec::new();
    for pair in 0..20 {
        let at = first + pair * 86_400;
        let (a, b) = tokio::join!(
            schedule(&http_a, &base_a, &token_a, "Giao ban nút A", at),
            schedule(&http_b, &base_b, &token_b, "Giao ban nút B", at + 1800),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        let refused: Value = if a.status() == 409 {
            a.json().await.unwrap()
        } else {
            b.json().await.unwrap()
        };
        statuses.sort_unstable();
        // The API answers a booking 200 (with the meetings made), a conflict 409.
        assert_eq!(
            statuses,
            [200, 409],
            "pair {pair}: one booked, one refused ({refused})"
        );
        assert_eq!(
            refused["error"]["code"], "conflict",
            "pair {pair}: {refused}"
        );
        outcomes.push(statuses);
    }
    // The database holds exactly one meeting per pair.
    let booked = store
        .find_conflicts(&[host], &[(first - 1, first + 20 * 86_400)], &[])
        .await
        .unwrap();
    assert_eq!(booked.len(), 20, "{booked:?}");
    assert_eq!(outcomes.len(), 20);
    drop((node_a, node_b));
    store.close().await;
    data.cleanup().await;
}

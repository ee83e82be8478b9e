//! The password-check pool's turns, bounds and memory, counted (never timed): a gate
//! job holds the only thread while the queue is filled, then the order of the work is read.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;

/// A one-thread pool whose thread is held by a gate until the returned sender sends.
fn held_pool(capacity: usize, wait: Duration) -> (PasswordPool, mpsc::Sender<()>) {
    let pool = PasswordPool::new(1, capacity, wait);
    let (open, gate) = mpsc::channel::<()>();
    let (started, running) = mpsc::channel::<()>();
    let held = pool
        .submit(None, Lane::Failing, move |_| {
            let _ = started.send(());
            let _ = gate.recv();
        })
        .expect("an empty queue takes the gate");
    running
        .recv_timeout(Duration::from_secs(30))
        .expect("the gate runs");
    drop(held);
    (pool, open)
}

type Order = Arc<Mutex<Vec<String>>>;

/// Queues a job from `address` that writes `label` into `order` when it runs.
fn queue(
    pool: &PasswordPool,
    address: &str,
    label: &str,
    order: &Order,
) -> Result<oneshot::Receiver<Result<()>>> {
    queue_in(pool, Lane::Failing, address, label, order)
}

/// As [`queue`], in `lane`.
fn queue_in(
    pool: &PasswordPool,
    lane: Lane<'_>,
    address: &str,
    label: &str,
    order: &Order,
) -> Result<oneshot::Receiver<Result<()>>> {
    let (label, order) = (label.to_owned(), order.clone());
    pool.submit(Some(address), lane, move |_| {
        order
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(label)
    })
}

fn position(order: &Order, label: &str) -> usize {
    let order = order.lock().unwrap_or_else(PoisonError::into_inner);
    order
        .iter()
        .position(|l| l == label)
        .unwrap_or_else(|| panic!("{label} never ran: {order:?}"))
}

#[tokio::test]
async fn a_flooding_address_does_not_delay_a_login_from_another_network() {
    let (pool, open) = held_pool(1000, Duration::from_secs(60));
    let order = Order::default();
    let mut flood = Vec::new();
    for i in 0..50 {
        flood.push(queue(&pool, "127.1.0.7", &format!("flood {i}"), &order).unwrap());
    }
    let real = queue(&pool, "127.0.0.2", "real", &order).unwrap();
    open.send(()).unwrap();
    assert!(real.await.unwrap().is_ok());
    for f in flood {
        assert!(f.await.unwrap().is_ok());
    }
    // The flood's first request was in the queue before it; nothing else was.
    assert!(position(&order, "real") <= 1, "{order:?}");
}

#[tokio::test]
async fn a_flood_from_many_addresses_of_one_network_is_one_turn() {
    let (pool, open) = held_pool(1000, Duration::from_secs(60));
    let order = Order::default();
    let mut flood = Vec::new();
    for i in 1..=200 {
        let address = format!("127.1.0.{i}");
        flood.push(queue(&pool, &address, &format!("flood {i}"), &order).unwrap());
    }
    for i in 0..50 {
        let address = format!("2001:db8:0:1::{i:x}");
        flood.push(queue(&pool, &address, &format!("v6 flood {i}"), &order).unwrap());
    }
    let real = queue(&pool, "127.0.0.2", "real", &order).unwrap();
    open.send(()).unwrap();
    assert!(real.await.unwrap().is_ok());
    for f in flood {
        assert!(f.await.unwrap().is_ok());
    }
    // One request of each flooding network (an IPv4 /24, an IPv6 /64) before it.
    assert!(position(&order, "real") <= 2, "{order:?}");
}

#[tokio::test]
async fn a_known_device_goes_before_a_flood_from_every_network_even_a_full_queue() {
    let (pool, open) = held_pool(300, Duration::from_secs(60));
    let order = Order::default();
    let mut flood = Vec::new();
    // A botnet: 300 clients, each alone in its /24; the queue is then full.
    for i in 0..300 {
        let address = format!("127.{}.{}.1", 1 + i / 256, i % 256);
        flood.push(queue(&pool, &address, &format!("flood {i}"), &order).unwrap());
    }
    // Full: a newcomer of its own /24 finds no one holding more than one to give way.
    assert!(matches!(
        queue(&pool, "127.0.0.2", "anonymous", &order),
        Err(Error::Busy)
    ));
    // The same client with a known device is let in, and served first.
    let known = queue_in(&pool, Lane::KnownDevice, "127.0.0.2", "known", &order).unwrap();
    open.send(()).unwrap();
    assert!(known.await.unwrap().is_ok());
    for f in flood {
        assert!(f.await.unwrap().is_ok());
    }
    assert_eq!(position(&order, "known"), 0, "{order:?}");
    assert_eq!(order.lock().unwrap().len(), 301);
}

#[tokio::test]
async fn addresses_of_one_network_take_turns() {
    let (pool, open) = held_pool(1000, Duration::from_secs(60));
    let order = Order::default();
    let mut flood = Vec::new();
    for i in 0..20 {
        flood.push(queue(&pool, "198.18.0.7", &format!("flood {i}"), &order).unwrap());
    }
    let neighbour = queue(&pool, "198.18.0.8", "neighbour", &order).unwrap();
    open.send(()).unwrap();
    assert!(neighbour.await.unwrap().is_ok());
    for f in flood {
        assert!(f.await.unwrap().is_ok());
    }
    assert!(position(&order, "neighbour") <= 1, "{order:?}");
}

#[tokio::test]
async fn a_full_queue_makes_room_by_refusing_the_address_holding_most() {
    let (pool, open) = held_pool(4, Duration::from_secs(60));
    let order = Order::default();
    let flood: Vec<_> = (0..4)
        .map(|i| queue(&pool, "127.1.0.7", &format!("flood {i}"), &order).unwrap())
        .collect();
    // Full: the flooder's next request is refused at once, without a check.
    assert!(matches!(
        queue(&pool, "127.1.0.7", "flood 4", &order),
        Err(Error::Busy)
    ));
    // Another address still gets in: the flooder's newest request gives way.
    let real = queue(&pool, "127.0.0.2", "real", &order).unwrap();
    open.send(()).unwrap();
    assert!(real.await.unwrap().is_ok());
    let mut answers = Vec::new();
    for f in flood {
        answers.push(f.await.unwrap());
    }
    assert!(matches!(answers.pop(), Some(Err(Error::Busy))));
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    let ran = order.lock().unwrap().clone();
    assert_eq!(ran, ["flood 0", "real", "flood 1", "flood 2"]);
}

#[tokio::test]
async fn a_request_that_waited_too_long_or_was_withdrawn_costs_no_check() {
    let (pool, open) = held_pool(100, Duration::ZERO);
    let order = Order::default();
    let late = queue(&pool, "127.1.0.7", "late", &order).unwrap();
    let withdrawn = queue(&pool, "127.1.0.8", "withdrawn", &order).unwrap();
    drop(withdrawn);
    open.send(()).unwrap();
    assert!(matches!(late.await.unwrap(), Err(Error::Busy)));
    // With the thread free, even a zero wait is enough: the request runs at once.
    while pool.handle.shared.queue().running > 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let now = queue(&pool, "127.1.0.9", "now", &order).unwrap();
    assert!(now.await.unwrap().is_ok());
    let ran = order.lock().unwrap().clone();
    assert_eq!(ran, ["now"]);
}

#[tokio::test]
async fn each_thread_reuses_its_one_memory_block() {
    let pool = PasswordPool::new(1, 10, Duration::from_secs(60));
    let mut seen = Vec::new();
    for _ in 0..3 {
        let at = pool
            .run(Some("127.0.0.2"), Lane::Failing, |memory| {
                memory.with_blocks(8, |blocks| blocks.len());
                memory.address()
            })
            .await
            .unwrap();
        seen.push(at);
    }
    assert_ne!(seen[0], 0);
    assert!(seen.iter().all(|&a| a == seen[0]), "{seen:?}");
    // A larger need than the default parameters' is met by a temporary block; the
    // thread's own stays.
    let more = argon2::Params::DEFAULT.block_count() + 1;
    let (len, at) = pool
        .run(None, Lane::Failing, move |memory| {
            let len = memory.with_blocks(more, |blocks| blocks.len());
            (len, memory.address())
        })
        .await
        .unwrap();
    assert_eq!((len, at), (Some(more), seen[0]));
    let refused = pool
        .run(None, Lane::Failing, |memory| {
            memory.with_blocks(MAX_BLOCKS + 1, |_| ())
        })
        .await
        .unwrap();
    assert_eq!(refused, None);
}

#[tokio::test]
async fn a_quiet_accounts_check_goes_before_a_flood_for_failing_accounts_from_every_network() {
    let (pool, open) = held_pool(1000, Duration::from_secs(60));
    let order = Order::default();
    let mut flood = Vec::new();
    // A botnet guessing real accounts that are failing now: 200 clients, each alone in
    // its /24 (turns per network alone would serve the login below after all of them).
    for i in 0..200 {
        let address = format!("127.{}.{}.1", 1 + i / 256, i % 256);
        flood.push(
            queue_in(
                &pool,
                Lane::Failing,
                &address,
                &format!("flood {i}"),
                &order,
            )
            .unwrap(),
        );
    }
    let quiet = queue_in(
        &pool,
        Lane::Quiet(Some("vp.tanson")),
        "127.0.0.2",
        "quiet",
        &order,
    );
    open.send(()).unwrap();
    assert!(quiet.unwrap().await.unwrap().is_ok());
    for f in flood {
        assert!(f.await.unwrap().is_ok());
    }
    assert_eq!(position(&order, "quiet"), 0, "{order:?}");
    assert_eq!(order.lock().unwrap().len(), 201);
}

#[tokio::test]
async fn quiet_accounts_take_turns_per_network_among_themselves() {
    let (pool, open) = held_pool(1000, Duration::from_secs(60));
    let order = Order::default();
    let mut waiting = Vec::new();
    for i in 0..20 {
        let label = format!("same network {i}");
        let lane = Lane::Quiet(Some("dc.240"));
        waiting.push(queue_in(&pool, lane, "198.18.0.7", &label, &order).unwrap());
    }
    let lane = Lane::Quiet(Some("vp.tanson"));
    let other = queue_in(&pool, lane, "198.18.1.7", "other network", &order).unwrap();
    open.send(()).unwrap();
    assert!(other.await.unwrap().is_ok());
    for w in waiting {
        assert!(w.await.unwrap().is_ok());
    }
    assert!(position(&order, "other network") <= 1, "{order:?}");
}

#[tokio::test]
async fn a_failed_check_moves_that_accounts_waiting_requests_behind_quiet_ones() {
    let (pool, open) = held_pool(1000, Duration::from_secs(60));
    let order = Order::default();
    let mut guesses = Vec::new();
    // Guesses of one real name, queued while it was still quiet, each from its own /24.
    for i in 0..30 {
        let (address, label) = (format!("127.1.{i}.1"), format!("guess {i}"));
        let lane = Lane::Quiet(Some("dc.240"));
        guesses.push(queue_in(&pool, lane, &address, &label, &order).unwrap());
    }
    let quiet = queue_in(
        &pool,
        Lane::Quiet(Some("vp.tanson")),
        "127.0.0.2",
        "quiet",
        &order,
    );
    // A check of that name failed (elsewhere): the guesses still waiting go last.
    pool.failed("dc.240", None);
    assert_eq!(pool.waiting(), 31);
    open.send(()).unwrap();
    assert!(quiet.unwrap().await.unwrap().is_ok());
    for g in guesses {
        assert!(g.await.unwrap().is_ok());
    }
    assert_eq!(position(&order, "quiet"), 0, "{order:?}");
    assert_eq!(order.lock().unwrap().len(), 31);
}

#[tokio::test]
async fn a_full_failing_lane_leaves_room_for_a_quiet_account() {
    let (pool, open) = held_pool(4, Duration::from_secs(60));
    let order = Order::default();
    let flood: Vec<_> = (0..4)
        .map(|i| {
            let address = format!("127.1.{i}.1");
            queue_in(
                &pool,
                Lane::Failing,
                &address,
                &format!("flood {i}"),
                &order,
            )
            .unwrap()
        })
        .collect();
    assert!(matches!(
        queue_in(&pool, Lane::Failing, "127.0.0.2", "failing", &order),
        Err(Error::Busy)
    ));
    let quiet = queue_in(
        &pool,
        Lane::Quiet(Some("vp.tanson")),
        "127.0.0.2",
        "quiet",
        &order,
    );
    open.send(()).unwrap();
    assert!(quiet.unwrap().await.unwrap().is_ok());
    for f in flood {
        assert!(f.await.unwrap().is_ok());
    }
    assert_eq!(position(&order, "quiet"), 0, "{order:?}");
}

#[tokio::test]
async fn a_known_networks_login_goes_before_quiet_logins_from_never_seen_networks() {
    let (pool, open) = held_pool(1000, Duration::from_secs(60));
    let order = Order::default();
    let mut flood = Vec::new();
    // A botnet's first guesses at 200 real names, none failed yet (all quiet), each client
    // alone in its /24: in turn per network, a quiet login would come after all of them.
    for i in 0..200 {
        let (address, label) = (
            format!("127.{}.{}.1", 1 + i / 256, i % 256),
            format!("guess {i}"),
        );
        let name = format!("dc.{i}");
        let lane = Lane::Quiet(Some(&name));
        flood.push(queue_in(&pool, lane, &address, &label, &order).unwrap());
    }
    // Staff in the province's network (someone signed in from it lately), no device
    // cookie; and a browser with one, queued after it.
    let office = queue_in(&pool, Lane::KnownNetwork, "198.18.7.9", "office", &order).unwrap();
    let device = queue_in(&pool, Lane::KnownDevice, "198.18.9.9", "device", &order).unwrap();
    open.send(()).unwrap();
    assert!(office.await.unwrap().is_ok());
    assert!(device.await.unwrap().is_ok());
    for f in flood {
        assert!(f.await.unwrap().is_ok());
    }
    assert_eq!(position(&order, "device"), 0, "{order:?}");
    assert_eq!(position(&order, "office"), 1, "{order:?}");
    assert_eq!(order.lock().unwrap().len(), 202);
}

#[tokio::test]
async fn a_failed_check_moves_its_networks_quiet_requests_and_its_addresss_behind_quiet_ones() {
    let (pool, open) = held_pool(1000, Duration::from_secs(60));
    let order = Order::default();
    let mut waiting = Vec::new();
    // A never-seen network's clients guessing 20 different quiet names.
    for i in 0..20 {
        let (address, label, name) = (
            format!("127.1.0.{}", i + 1),
            format!("guess {i}"),
            format!("dc.{i}"),
        );
        let lane = Lane::Quiet(Some(&name));
        waiting.push(queue_in(&pool, lane, &address, &label, &order).unwrap());
    }
    // An address of a known network guessing too, and its neighbour, a user.
    for i in 0..5 {
        let label = format!("inside {i}");
        waiting.push(queue_in(&pool, Lane::KnownNetwork, "198.18.7.66", &label, &order).unwrap());
    }
    let neighbour = queue_in(&pool, Lane::KnownNetwork, "198.18.7.9", "neighbour", &order).unwrap();
    let quiet = queue_in(
        &pool,
        Lane::Quiet(Some("vp.tanson")),
        "127.0.2.1",
        "quiet",
        &order,
    )
    .unwrap();
    // A check from each failed (of other names): both wait with the failing accounts now.
    pool.failed("dc.99", Some("127.1.0.200"));
    pool.failed("dc.98", Some("198.18.7.66"));
    assert_eq!(pool.waiting(), 27);
    open.send(()).unwrap();
    assert!(neighbour.await.unwrap().is_ok());
    assert!(quiet.await.unwrap().is_ok());
    for w in waiting {
        assert!(w.await.unwrap().is_ok());
    }
    let ran = order.lock().unwrap().clone();
    assert_eq!(ran[..2], ["neighbour", "quiet"], "{ran:?}");
    assert_eq!(ran.len(), 27);
}

//! `welcome` tells each page its ICE servers: TURN credentials made for that hall on
//! every join (a kiosk reconnecting all day gets fresh ones), none when unconfigured.

mod common;

use common::{Page, Tokens};
use sfu::SfuConfig;
use signaling::ice::{turn_rest_credential, IceConfig, IceUrl, TurnRest};
use signaling::protocol::{IceServer, IceTransportPolicy, ServerMessage};
use signaling::{Signaling, SignalingConfig};
use std::sync::Arc;
use std::time::Duration;

const SECRET: &str = "north-star-secret-0123";

fn start(ice: IceConfig) -> (Signaling, Tokens) {
    let config = SignalingConfig {
        ice,
        ..SignalingConfig::default()
    };
    let signaling = Signaling::start(SfuConfig::default(), config).expect("valid config");
    (signaling, Tokens::default())
}

fn turn() -> IceConfig {
    IceConfig {
        provider: Some(Arc::new(TurnRest {
            stun: vec![],
            turn: vec![IceUrl::parse("turn:turn.example.vn:3478?transport=tcp").unwrap()],
            secret: SECRET.into(),
            lifetime: Duration::from_secs(12 * 3600),
        })),
        transport_policy: IceTransportPolicy::Relay,
    }
}

/// Joins with `token` and returns the welcome's ICE servers and policy.
async fn welcome_ice(page: &mut Page, token: &str) -> (Vec<IceServer>, IceTransportPolicy) {
    page.send_join(token);
    page.expect("welcome", |m| match m {
        ServerMessage::Welcome {
            ice_servers,
            ice_transport_policy,
            ..
        } => Some((ice_servers.clone(), *ice_transport_policy)),
        _ => None,
    })
    .await
}

/// The expiry of a TURN REST user name for `hall`, checked against its credential.
fn expiry_of(server: &IceServer, hall: i64) -> i64 {
    let username = server.username.as_deref().expect("a TURN user name");
    let (expiry, who) = username.split_once(':').expect("<expiry>:<hall>");
    assert_eq!(who, hall.to_string(), "the user name names the hall");
    assert_eq!(
        server.credential.as_deref(),
        Some(turn_rest_credential(SECRET, username).as_str()),
        "the credential is the HMAC of the user name"
    );
    expiry.parse().expect("a Unix time")
}

#[tokio::test]
async fn welcome_carries_fresh_turn_credentials_for_the_hall() {
    let (signaling, tokens) = start(turn());
    let mut host = Page::open(&signaling, &tokens);
    let (servers, policy) = welcome_ice(&mut host, "tok-1").await;
    assert_eq!(policy, IceTransportPolicy::Relay);
    assert_eq!(servers.len(), 1, "{servers:?}");
    assert_eq!(servers[0].urls, ["turn:turn.example.vn:3478?transport=tcp"]);
    let now = scheduler::time::now();
    let expiry = expiry_of(&servers[0], 1);
    assert!(
        expiry > now + 11 * 3600 && expiry <= now + 12 * 3600,
        "valid for 12 hours from now: {expiry} vs {now}"
    );

    let mut commune = Page::open(&signaling, &tokens);
    let (servers, _) = welcome_ice(&mut commune, "tok-2").await;
    expiry_of(&servers[0], 2);

    // The commune's kiosk loses its socket and joins again: a new welcome, new credentials.
    commune.vanish().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut again = Page::open(&signaling, &tokens);
    let (servers, _) = welcome_ice(&mut again, "tok-2").await;
    assert!(expiry_of(&servers[0], 2) > expiry, "made at the new join");
}

#[tokio::test]
async fn without_ice_settings_welcome_has_no_servers() {
    let (signaling, tokens) = start(IceConfig::default());
    let mut host = Page::open(&signaling, &tokens);
    let (servers, policy) = welcome_ice(&mut host, "tok-1").await;
    assert!(servers.is_empty(), "{servers:?}");
    assert_eq!(policy, IceTransportPolicy::All);
}

//! The muxed-port (sans-IO) driver over real UDP on 127.0.0.1, every hall through ONE port
//! (one test binary). Bounded waits only; no assertion on speed.

mod commands;
#[allow(dead_code)] // not every shared helper is used by these tests
#[path = "../common/mod.rs"]
mod common;
mod forwarding;
mod helpers;
mod simulcast;

//! The sans-IO prototype driver over real UDP on 127.0.0.1, every hall through ONE port
//! (one test binary; feature `sansio`). Bounded waits only; no assertion on speed.
#![cfg(feature = "sansio")]

mod commands;
mod forwarding;
mod helpers;
mod simulcast;

//! The driver's state machine in memory, as str0m tests its `Rtc`: halls are sans-IO
//! `rtc` peer connections ([`client`]), their datagrams carried to and from the
//! [`Driver`](super::machine::Driver) by [`net`] under a simulated clock — no socket, no
//! task, no sleep, so a minute of a meeting takes milliseconds and every run is the same.
//! UDP tests (`sfu/tests/`) are left for what needs the kernel.

mod client;
mod commands;
mod connect;
mod cost;
mod forward;
mod net;
mod nodes;
mod relaycost;
mod tap;
mod workers;

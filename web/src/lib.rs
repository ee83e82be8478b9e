//! The hoinghi server: configuration, HTTP API, pages and the WebSocket route.
//!
//! `main` only parses the command line ([`cli`]) and runs; [`startup::Application`]
//! builds the server over a [`scheduler::Store`] so tests can start it on port 0.

pub mod api;
pub mod carry_input;
pub mod cli;
mod cli_units;
pub mod demo_tls;
pub mod error;
pub mod extract;
pub mod ice;
pub mod ics;
pub mod memory_trim;
pub mod metrics;
pub mod pages;
pub mod recordings;
pub mod report;
pub mod serve;
pub mod settings;
pub mod sockets;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod views;
pub mod whip;
pub mod ws;

pub use settings::Settings;
pub use startup::Application;

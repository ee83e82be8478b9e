//! End-to-end tests of the hoinghi server (filled in with the web crate).

//! The `hoinghi` binary.
fn main() {}

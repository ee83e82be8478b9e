//! Scheduler benchmarks (filled in next).
fn main() {}

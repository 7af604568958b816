//! Test-only crate: `tests/consistency.rs` checks that the state machine
//! definition, the SAM template, the function folders, the sample events and
//! the step error contract agree. It has no library code; Cargo needs this
//! file to have a target to hang the tests on.

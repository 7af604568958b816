//! The handler's logs, in a test binary of their own.
//!
//! The test installs a thread-local tracing subscriber. In a binary where
//! other tests run the handler on other threads with no subscriber, one of
//! them registering a callsite at the same moment could cache "never" for
//! the request span in tracing's global interest cache, and the span's
//! fields went missing from some lines (seen under load). Alone in its
//! binary, nothing else registers callsites while it runs.

#[path = "../support/mod.rs"]
mod support;

mod cases;

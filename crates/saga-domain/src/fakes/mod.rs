//! In-memory fakes of every port, for tests only (feature `fakes`).
//!
//! They keep the same semantics as the DynamoDB adapters: the same
//! conditions, the same outcome for each failed condition, and every
//! operation atomic (one lock held for the whole change). The store contract
//! suite in [`crate::contract`] runs against them and against DynamoDB Local,
//! which is what keeps the two honest.
//!
//! Each fake has a [`Faults`] switch so tests can make the next calls fail as
//! an unavailable service would.

mod clock;
mod executions;
mod inventory;
mod orders;
mod payments;
mod shipments;
mod tasks;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::error::PortError;

pub use clock::ManualClock;
pub use executions::{RecordingExecutions, StartCall};
pub use inventory::InMemoryInventory;
pub use orders::{InMemoryOrders, InMemoryStatusWrites};
pub use payments::InMemoryPayments;
pub use shipments::InMemoryShipments;
pub use tasks::{RecordingTaskReporter, TaskReport};

/// Makes a fake fail like an unavailable service: for the next `n` calls, or
/// for every call until switched off. Also logs every call, by operation
/// name, so a test can count the requests a step makes (the cost counts).
#[derive(Debug, Default)]
pub struct Faults {
    fail_next: AtomicUsize,
    always: AtomicBool,
    calls: Mutex<Vec<&'static str>>,
}

impl Faults {
    /// Every port call made so far, in order, by operation name (e.g.
    /// `create_order`), failed ones included: each is one request to the
    /// service the fake stands for.
    pub fn calls(&self) -> Vec<&'static str> {
        lock(&self.calls).clone()
    }

    /// Forgets the calls logged so far.
    pub fn clear_calls(&self) {
        lock(&self.calls).clear();
    }

    /// The next `calls` port calls fail with `PortError::Unavailable`.
    pub fn fail_next(&self, calls: usize) {
        self.fail_next.store(calls, Ordering::SeqCst);
    }

    /// Every port call fails (`true`) or none does (`false`).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.always.store(unavailable, Ordering::SeqCst);
    }

    /// Called at the start of every fake operation.
    pub(crate) fn check(&self, operation: &'static str) -> Result<(), PortError> {
        lock(&self.calls).push(operation);
        let injected = self.always.load(Ordering::SeqCst)
            || self
                .fail_next
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                    left.checked_sub(1)
                })
                .is_ok();
        if injected {
            Err(PortError::unavailable(
                operation,
                "injected fault: service unavailable",
            ))
        } else {
            Ok(())
        }
    }
}

/// Locks a fake's state; a poisoned lock (a panicking test thread) still
/// holds consistent state because every change is made under one lock.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

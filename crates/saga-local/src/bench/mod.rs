//! `saga-bench`: the measurements behind `cargo xtask bench`. Each one
//! prints a JSON document; the xtask builds what they measure, starts the
//! emulators and the local cloud, and tabulates the results.
//!
//! - [`cold_start`]: init of each function binary (process start to its
//!   first poll of the Lambda Runtime API), interleaved with a hello-world
//!   binary, on a stub Runtime API;
//! - [`moto_sfn`]: executions per second of moto's Step Functions
//!   interpreter on the shared benchmark definition, the peer figure for
//!   the `asl` interpreter's own;
//! - [`load`]: orders per second end to end through a running local cloud,
//!   `POST /orders` latency at a number of concurrent clients, and the
//!   state transitions of one order's execution;
//! - [`store`]: DynamoDB requests per second the store answers, the ceiling
//!   it puts on the local cloud's orders per second.
//!
//! A benchmark, not a test: nothing here asserts on time.

pub mod cold_start;
pub mod load;
pub mod moto_sfn;
pub mod store;

use std::time::Duration;

/// The `q`-quantile (0.0..=1.0) of `samples` by the nearest-rank method;
/// `None` for no samples.
pub fn quantile(samples: &[f64], q: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    // Nearest rank: the smallest value with at least q of the samples at or
    // below it.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize).max(1);
    sorted.get(rank - 1).copied()
}

/// The median of `samples` (the mean of the middle two for an even count).
pub fn median(samples: &[f64]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    Some(if sorted.len() % 2 == 0 {
        f64::midpoint(sorted[middle - 1], sorted[middle])
    } else {
        sorted[middle]
    })
}

/// `duration` in milliseconds, with microsecond precision.
pub fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&samples, 0.5), Some(50.0));
        assert_eq!(quantile(&samples, 0.99), Some(99.0));
        assert_eq!(quantile(&samples, 1.0), Some(100.0));
        assert_eq!(quantile(&samples, 0.0), Some(1.0));
        assert_eq!(quantile(&[7.0], 0.99), Some(7.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}

//! `watcher`: the order service learns that an order's execution stopped
//! without finishing it.
//!
//! Step Functions emits an execution status-change event when an execution
//! fails, times out or is aborted; an EventBridge rule delivers those of the
//! order saga to the watcher, which records the stall on the order
//! ([`OrderStore::record_stall`]). The order then says so (`GET /orders/{id}`
//! shows it) and stays listed among the stalled orders, which the sweeper
//! counts into the metric the failed-executions alarm watches, until the
//! state machine's final write (COMPLETED or REJECTED, after a redrive)
//! removes the stall. An order already final is left alone, and a stall of
//! an earlier attempt never overwrites a later one's, so events arriving
//! late, twice or out of order change nothing they should not.

use chrono::{DateTime, TimeZone, Utc};

use crate::error::StepError;
use crate::ids::OrderId;
use crate::ports::{OrderStore, Stall, StallOutcome, StoppedStatus};
use crate::step_io::{ExecutionStatusChange, WatchOutcome, WatchReport};

/// Records on the order that its execution stopped, when `change` says so.
///
/// The order is the execution's name (the api names each execution after
/// its order). A status other than FAILED, TIMED_OUT or ABORTED, or an
/// execution not named after an order, is reported and ignored: nothing is
/// stuck that the order service owns.
///
/// Errors: `TransientError` when the Orders table is unavailable (the event
/// is retried, then dead-lettered).
pub async fn record_execution_stop(
    orders: &impl OrderStore,
    change: &ExecutionStatusChange,
) -> Result<WatchReport, StepError> {
    let report = |order_id: Option<OrderId>, outcome| WatchReport {
        order_id,
        status: change.status.clone(),
        outcome,
    };
    let Some(status) = StoppedStatus::parse(&change.status) else {
        tracing::info!(status = %change.status, execution_arn = %change.execution_arn, "not a stop; ignored");
        return Ok(report(None, WatchOutcome::Ignored));
    };
    let order_id: OrderId = match change.name.parse() {
        Ok(order_id) => order_id,
        Err(error) => {
            tracing::warn!(name = %change.name, %error, execution_arn = %change.execution_arn, "execution not named after an order; ignored");
            return Ok(report(None, WatchOutcome::UnknownOrder));
        }
    };
    let stall = Stall {
        execution_arn: change.execution_arn.clone(),
        status,
        error: change.error.clone(),
        cause: change.cause.clone(),
        stopped_at: stop_instant(change),
        redrive_count: change.redrive_count,
    };
    let outcome = match orders.record_stall(&order_id, &stall).await? {
        StallOutcome::Recorded => {
            tracing::warn!(
                %order_id,
                status = status.as_str(),
                error = stall.error.as_deref(),
                cause = stall.cause.as_deref(),
                redrive_count = stall.redrive_count,
                execution_arn = %stall.execution_arn,
                "order stalled: its execution stopped before the order was final; redrive it"
            );
            WatchOutcome::Recorded
        }
        StallOutcome::AlreadyFinal(final_status) => {
            tracing::info!(%order_id, order_status = final_status.as_str(), "execution stopped after the order was final; nothing to do");
            WatchOutcome::AlreadyFinal
        }
        StallOutcome::Superseded => {
            tracing::info!(%order_id, redrive_count = stall.redrive_count, "a later attempt's stop is already recorded; ignored");
            WatchOutcome::Superseded
        }
        StallOutcome::NotFound => {
            tracing::warn!(%order_id, execution_arn = %stall.execution_arn, "execution stopped for an order that does not exist; ignored");
            WatchOutcome::UnknownOrder
        }
    };
    Ok(report(Some(order_id), outcome))
}

/// The event's `stopDate` (epoch milliseconds), or the epoch when absent
/// or out of range (an ordering hint only: the redrive count decides).
fn stop_instant(change: &ExecutionStatusChange) -> DateTime<Utc> {
    change
        .stop_date
        .and_then(|millis| Utc.timestamp_millis_opt(millis).single())
        .unwrap_or(DateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::InMemoryOrders;
    use crate::ports::OrderStatus;

    fn change(name: &str, status: &str, redrive_count: u32) -> ExecutionStatusChange {
        ExecutionStatusChange {
            execution_arn: format!(
                "arn:aws:states:us-east-1:000000000000:execution:order-saga:{name}"
            ),
            name: name.to_owned(),
            status: status.to_owned(),
            stop_date: Some(1_767_225_600_000),
            error: Some("States.TaskFailed".to_owned()),
            cause: Some("ShipOrder ran out of retries".to_owned()),
            redrive_count,
        }
    }

    async fn store_with(order: &str) -> InMemoryOrders {
        let orders = InMemoryOrders::new();
        orders
            .create_order(&crate::contract::orders::new_order(order, "customer-a", 0))
            .await
            .unwrap();
        orders
    }

    #[tokio::test]
    async fn a_failed_execution_stalls_its_order_until_the_final_write() {
        let orders = store_with("ord-1").await;
        let report = record_execution_stop(&orders, &change("ord-1", "FAILED", 0))
            .await
            .unwrap();
        assert_eq!(report.outcome, WatchOutcome::Recorded);
        let order = orders
            .get_order(&"ord-1".parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        let stall = order.stall.expect("the order carries the stall");
        assert_eq!(stall.status, StoppedStatus::Failed);
        assert_eq!(stall.error.as_deref(), Some("States.TaskFailed"));
        assert_eq!(stall.stopped_at.timestamp_millis(), 1_767_225_600_000);
        assert_eq!(orders.stalled_orders(10).await.unwrap().len(), 1);

        // A redrive finishes the order: the final write clears the stall,
        // and a late copy of the event changes nothing.
        orders.record_progress(
            &"ord-1".parse().unwrap(),
            "MarkCompleted",
            OrderStatus::Completed,
            "2026-01-01T00:01:00.000Z",
            None,
            None,
        );
        assert!(orders.stalled_orders(10).await.unwrap().is_empty());
        let late = record_execution_stop(&orders, &change("ord-1", "FAILED", 0))
            .await
            .unwrap();
        assert_eq!(late.outcome, WatchOutcome::AlreadyFinal);
        assert!(orders.stalled_orders(10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_earlier_attempts_stop_never_overwrites_a_later_one() {
        let orders = store_with("ord-2").await;
        let later = change("ord-2", "TIMED_OUT", 2);
        record_execution_stop(&orders, &later).await.unwrap();
        let earlier = record_execution_stop(&orders, &change("ord-2", "FAILED", 1))
            .await
            .unwrap();
        assert_eq!(earlier.outcome, WatchOutcome::Superseded);
        let order = orders
            .get_order(&"ord-2".parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(order.stall.unwrap().status, StoppedStatus::TimedOut);
        // The same attempt again (a duplicate delivery) is recorded again, harmlessly.
        let again = record_execution_stop(&orders, &later).await.unwrap();
        assert_eq!(again.outcome, WatchOutcome::Recorded);
    }

    #[tokio::test]
    async fn other_statuses_and_foreign_executions_are_ignored() {
        let orders = store_with("ord-3").await;
        for status in ["RUNNING", "SUCCEEDED", "PENDING_REDRIVE"] {
            let report = record_execution_stop(&orders, &change("ord-3", status, 0))
                .await
                .unwrap();
            assert_eq!(report.outcome, WatchOutcome::Ignored, "{status}");
        }
        let foreign = record_execution_stop(&orders, &change("not an order id!", "ABORTED", 0))
            .await
            .unwrap();
        assert_eq!(foreign.outcome, WatchOutcome::UnknownOrder);
        let missing = record_execution_stop(&orders, &change("ord-404", "ABORTED", 0))
            .await
            .unwrap();
        assert_eq!(missing.outcome, WatchOutcome::UnknownOrder);
        assert!(orders.stalled_orders(10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_unavailable_table_is_a_transient_error() {
        let orders = store_with("ord-4").await;
        orders.faults.fail_next(1);
        let error = record_execution_stop(&orders, &change("ord-4", "FAILED", 0))
            .await
            .unwrap_err();
        assert_eq!(error.error_type(), "TransientError");
    }
}

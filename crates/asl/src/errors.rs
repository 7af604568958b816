//! The predefined error names of the States Language and how `ErrorEquals`
//! matches them.

/// Matches every error except `States.Runtime` and `States.DataLimitExceeded`.
pub const ALL: &str = "States.ALL";
/// A state ran longer than `TimeoutSeconds`.
pub const TIMEOUT: &str = "States.Timeout";
/// A task sent no heartbeat for `HeartbeatSeconds`.
pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
/// Matches every error except `States.Timeout` (and the terminal ones).
pub const TASK_FAILED: &str = "States.TaskFailed";
/// The task was not allowed to run.
pub const PERMISSIONS: &str = "States.Permissions";
/// `ResultPath` could not be applied to the input.
pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
/// A Parallel branch failed.
pub const BRANCH_FAILED: &str = "States.BranchFailed";
/// No Choice rule matched and there is no Default.
pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
/// An intrinsic function failed.
pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
/// A Map state failed more items than it tolerates.
pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
/// A payload exceeded the 256 KiB service limit.
pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
/// The interpreter could not process the state (bad path, wrong type ...).
pub const RUNTIME: &str = "States.Runtime";
/// A Map item reader failed.
pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
/// A Map result writer failed.
pub const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";

/// The largest payload, in bytes, a state may pass on.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// Whether an `ErrorEquals` list matches `error`.
///
/// `States.ALL` matches everything except the terminal errors; `States.TaskFailed`
/// matches everything except `States.Timeout` and terminal errors. `States.Runtime`
/// and `States.DataLimitExceeded` are never caught or retried.
pub fn matches(error_equals: &[String], error: &str) -> bool {
    if error == RUNTIME || error == DATA_LIMIT_EXCEEDED {
        return false;
    }
    error_equals.iter().any(|candidate| {
        candidate == error || candidate == ALL || (candidate == TASK_FAILED && error != TIMEOUT)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_follows_the_spec() {
        let all = vec![ALL.to_owned()];
        let task = vec![TASK_FAILED.to_owned()];
        let cases = [
            (&all, "Custom", true),
            (&all, TIMEOUT, true),
            (&all, RUNTIME, false),
            (&all, DATA_LIMIT_EXCEEDED, false),
            (&task, "Custom", true),
            (&task, TIMEOUT, false),
            (&vec![RUNTIME.to_owned()], RUNTIME, false),
            (&vec!["A".to_owned()], "B", false),
        ];
        for (list, error, expected) in cases {
            assert_eq!(matches(list, error), expected, "{list:?} {error}");
        }
    }
}

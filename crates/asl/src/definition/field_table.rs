//! Which fields Step Functions accepts where: on a machine, on each state
//! type, in a retrier and in a catcher. Any other field is a schema
//! problem, so a misspelt field (`Paramters`) is reported instead of being
//! silently ignored.

/// Fields of the top-level machine.
pub(super) const TOP_MACHINE_FIELDS: &[&str] = &[
    "StartAt",
    "States",
    "Comment",
    "Version",
    "TimeoutSeconds",
    "QueryLanguage",
];

/// Fields of a Parallel branch or a Map processor.
pub(super) const NESTED_MACHINE_FIELDS: &[&str] = &[
    "StartAt",
    "States",
    "Comment",
    "ProcessorConfig",
    "QueryLanguage",
];

/// Fields every state type accepts.
pub(super) const COMMON_FIELDS: &[&str] = &["Type", "Comment", "QueryLanguage"];

/// JSONata's counterparts of JSONPath fields, named in their own message.
pub(super) const JSONATA_FIELDS: &[&str] = &["Arguments", "Output", "Items"];

/// Fields of a `Retry` entry.
pub(super) const RETRIER_FIELDS: &[&str] = &[
    "ErrorEquals",
    "IntervalSeconds",
    "MaxAttempts",
    "BackoffRate",
    "MaxDelaySeconds",
    "JitterStrategy",
    "Comment",
];

/// Fields of a `Catch` entry (`Output` is JSONata's, tolerated here).
pub(super) const CATCHER_FIELDS: &[&str] = &[
    "ErrorEquals",
    "Next",
    "ResultPath",
    "Assign",
    "Comment",
    "Output",
];

/// The fields a state of type `kind` accepts besides [`COMMON_FIELDS`];
/// empty for an unknown type.
// Long because it is the table itself: one arm per state type.
pub(super) fn allowed_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "Pass" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "Parameters",
            "ResultPath",
            "Result",
            "Assign",
        ],
        "Task" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "Resource",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
            "Assign",
        ],
        "Choice" => &["InputPath", "OutputPath", "Choices", "Default", "Assign"],
        "Wait" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "Seconds",
            "Timestamp",
            "SecondsPath",
            "TimestampPath",
            "Assign",
        ],
        "Succeed" => &["InputPath", "OutputPath"],
        "Fail" => &["Error", "Cause", "ErrorPath", "CausePath"],
        "Parallel" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "Branches",
            "Assign",
        ],
        "Map" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "Iterator",
            "ItemProcessor",
            "ItemsPath",
            "ItemSelector",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "Label",
            "Assign",
        ],
        _ => &[],
    }
}

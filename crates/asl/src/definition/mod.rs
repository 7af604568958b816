//! Parsing and validating a state machine definition into a closed model.
//!
//! [`Definition::parse`] checks what AWS's `ValidateStateMachineDefinition`
//! checks: the document shape, that `StartAt` and every `Next`, `Default`
//! and `Catch` target exist in the same scope, that every state is
//! reachable, that non-terminal states say where to go, that Choice states
//! have rules, and that every path, template and intrinsic call parses.
//! Every problem names the state and field (`/States/Foo/Next`), and all of
//! them are reported at once. After parsing, the interpreter never meets an
//! unknown state, a dangling transition or an unparsed path.
//!
//! `QueryLanguage: JSONata` is rejected with its own error code; the model
//! keeps JSONPath-specific fields on the states so that a JSONata variant
//! can be added beside them.
//!
//! Code map: [`model`] is what a definition parses into; `parse` reads the
//! machine and each state's common fields, `kinds` the type-specific ones,
//! `recovery` the `Retry` and `Catch` lists, `fields` one object's fields
//! with problem reporting, `field_table`
//! which fields are allowed where; `validate` holds the problem types and
//! the checks that need a whole machine (targets, reachability).

mod field_table;
mod fields;
mod kinds;
pub mod model;
mod parse;
mod recovery;
mod validate;

pub use model::{
    Catcher, Definition, FailText, IntegrationPattern, MapSpec, NumberSource, ResultPath, Retrier,
    Selector, State, StateKind, StateMachine, TaskSpec, Transition, WaitSpec,
};
pub use parse::parse_single_state;
pub use validate::{DefinitionError, Problem, UNSUPPORTED_JSONATA};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn problems(document: Value) -> Vec<String> {
        match Definition::parse(&document) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn accepts_a_valid_machine() {
        let ok = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "C"}], "Default": "D"},
            "C": {"Type": "Succeed"},
            "D": {"Type": "Fail", "Error": "E"}
        }});
        assert_eq!(problems(ok), Vec::<String>::new());
    }

    #[test]
    fn names_the_state_and_field() {
        let cases = [
            (
                json!({"States": {"A": {"Type": "Succeed"}}}),
                "SCHEMA_VALIDATION_FAILED: the field 'StartAt' is required at /",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nope"}}}),
                "MISSING_TRANSITION_TARGET: Missing 'Next' target: Nope at /States/A/Next",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "B": {"Type": "Succeed"}}}),
                "UNREACHABLE_STATE: State 'B' is not reachable at /States/B",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": []}}}),
                "SCHEMA_VALIDATION_FAILED: a Choice state needs a non-empty 'Choices' array at /States/A/Choices",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "InputPath": "x", "End": true}}}),
                "INVALID_JSON_PATH: invalid JSONPath 'x': a path must start with '$' at /States/A/InputPath",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "ResultPath": "$.a[*]", "End": true}}}),
                "INVALID_JSON_PATH: '$.a[*]' is not a reference path (only names and indices are allowed) at /States/A/ResultPath",
            ),
            (
                json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}),
                "UNSUPPORTED_QUERY_LANGUAGE: QueryLanguage 'JSONata' is not supported by this interpreter; use JSONPath at /QueryLanguage",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass"}}}),
                "SCHEMA_VALIDATION_FAILED: a non-terminal state needs 'Next' or 'End: true' at /States/A",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "X", "States": {"Y": {"Type": "Succeed"}}}]}}}),
                "MISSING_TRANSITION_TARGET: Missing 'Next' target: X at /States/A/Branches/0/StartAt",
            ),
        ];
        for (document, expected) in cases {
            let found = problems(document.clone());
            assert!(found.iter().any(|p| p == expected), "{document}: {found:?}");
        }
    }

    #[test]
    fn jsonata_is_recognised() {
        let error = Definition::parse(&json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "QueryLanguage": "JSONata", "End": true}}}))
            .unwrap_err();
        assert!(error.is_jsonata());
    }

    /// Every problem of a definition comes out at once, in a stable order:
    /// the machine's fields, then its states by name (serde_json keeps
    /// object keys sorted), each state's fields in the order the parser
    /// reads them, then the transition checks; the top-level
    /// `TimeoutSeconds` comes last. The expected lists were recorded
    /// before the definition module was split.
    #[test]
    fn reports_every_problem_in_a_stable_order() {
        let cases = [
            (
                json!({"StartAt": 1, "Bogus": 1, "TimeoutSeconds": 0, "States": {
                    "": {"Type": "Pass", "End": true},
                    "T": {"Type": "Task", "Next": "Nope", "Paramters": {}, "Output": 1, "Retry": [
                        {"ErrorEquals": [], "IntervalSeconds": 0, "MaxAttempts": -1, "BackoffRate": 0.5, "JitterStrategy": "X", "Extra": 1, "MaxDelaySeconds": 0},
                        3,
                        {"ErrorEquals": ["States.ALL", "A", 3]}
                    ], "Catch": [{"ErrorEquals": ["A"], "Next": "Gone", "ResultPath": "$.a[*]", "Assign": 3, "Bad": 1}, 4, {"ErrorEquals": ["B"]}],
                    "TimeoutSeconds": 5, "HeartbeatSeconds": 9},
                    "W": {"Type": "Wait", "Seconds": 1, "Timestamp": "x", "End": true},
                    "W2": {"Type": "Wait", "Timestamp": "not a time", "Next": "T"},
                    "F": {"Type": "Fail", "Error": 1, "CausePath": "States.Format(", "ErrorPath": "$.x"},
                    "P": {"Type": "Parallel", "Branches": [{"StartAt": "X", "States": {"X": {"Type": "Succeed"}, "Y": {"Type": "Pass", "Next": "Z"}}}, 5], "Next": "T", "End": true},
                    "M": {"Type": "Map", "ItemProcessor": {"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}, "Iterator": {}, "End": true},
                    "M2": {"Type": "Map", "ItemReader": {}, "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "A", "States": {"A": {"Type": "Succeed"}}},
                           "ItemsPath": "$.a[*]", "ItemSelector": {}, "Parameters": {}, "MaxConcurrency": -1, "ToleratedFailureCount": 1, "ToleratedFailureCountPath": "$.x", "ToleratedFailurePercentage": 101, "Next": "M"},
                    "C": {"Type": "Choice", "Choices": [{"Variable": "$.x"}, {"Condition": "{% true %}", "Next": "T"}], "Default": 3},
                    "U": {"Type": "Unknown"},
                    "N": {"Type": 3},
                    "J": {"Type": "Pass", "QueryLanguage": "JSONata", "End": true},
                    "X": {"Type": "Pass", "Next": 5},
                    "Y": {"Type": "Pass", "Next": "T", "End": true}
                }}),
                vec![
                    "SCHEMA_VALIDATION_FAILED: the field 'Bogus' is not supported by Step Functions at /Bogus",
                    "SCHEMA_VALIDATION_FAILED: 'StartAt' must be a string at /StartAt",
                    "SCHEMA_VALIDATION_FAILED: a state name must be 1 to 80 characters at /States/",
                    "SCHEMA_VALIDATION_FAILED: a top-level choice rule needs 'Next' at /States/C/Choices/0",
                    "UNSUPPORTED_QUERY_LANGUAGE: 'Condition' is JSONata; this interpreter supports JSONPath rules only at /States/C/Choices/1",
                    "SCHEMA_VALIDATION_FAILED: 'Default' must be a string at /States/C/Default",
                    "SCHEMA_VALIDATION_FAILED: 'Error' and 'ErrorPath' are mutually exclusive at /States/F/Error",
                    "SCHEMA_VALIDATION_FAILED: invalid intrinsic function 'States.Format(': missing argument at /States/F/CausePath",
                    "UNSUPPORTED_QUERY_LANGUAGE: QueryLanguage 'JSONata' is not supported by this interpreter; use JSONPath at /States/J/QueryLanguage",
                    "SCHEMA_VALIDATION_FAILED: 'ItemProcessor' and 'Iterator' are mutually exclusive at /States/M/Iterator",
                    "SCHEMA_VALIDATION_FAILED: 'ItemReader' (reading items from S3) is not supported by this interpreter at /States/M2/ItemReader",
                    "INVALID_JSON_PATH: '$.a[*]' is not a reference path (only names and indices are allowed) at /States/M2/ItemsPath",
                    "SCHEMA_VALIDATION_FAILED: 'Type' must be a string at /States/N/Type",
                    "SCHEMA_VALIDATION_FAILED: 'Next' and 'End' are mutually exclusive at /States/P/End",
                    "MISSING_TRANSITION_TARGET: Missing 'Next' target: Z at /States/P/Branches/0/States/Y/Next",
                    "SCHEMA_VALIDATION_FAILED: a state machine must be a JSON object at /States/P/Branches/1",
                    "SCHEMA_VALIDATION_FAILED: the field 'Output' is JSONata; this interpreter supports JSONPath only at /States/T/Output",
                    "SCHEMA_VALIDATION_FAILED: the field 'Paramters' is not supported by Step Functions for a Task state at /States/T/Paramters",
                    "SCHEMA_VALIDATION_FAILED: 'ErrorEquals' must be a non-empty array of strings at /States/T/Retry/0",
                    "SCHEMA_VALIDATION_FAILED: 'IntervalSeconds' must be an integer >= 1 at /States/T/Retry/0/IntervalSeconds",
                    "SCHEMA_VALIDATION_FAILED: 'MaxAttempts' must be an integer >= 0 at /States/T/Retry/0/MaxAttempts",
                    "SCHEMA_VALIDATION_FAILED: 'MaxDelaySeconds' must be an integer >= 1 at /States/T/Retry/0/MaxDelaySeconds",
                    "SCHEMA_VALIDATION_FAILED: 'BackoffRate' must be a number >= 1.0 at /States/T/Retry/0/BackoffRate",
                    "SCHEMA_VALIDATION_FAILED: 'JitterStrategy' must be FULL or NONE at /States/T/Retry/0/JitterStrategy",
                    "SCHEMA_VALIDATION_FAILED: the field 'Extra' is not supported in a retrier at /States/T/Retry/0/Extra",
                    "SCHEMA_VALIDATION_FAILED: a retrier must be an object at /States/T/Retry/1",
                    "SCHEMA_VALIDATION_FAILED: 'ErrorEquals' must hold strings at /States/T/Retry/2/ErrorEquals",
                    "SCHEMA_VALIDATION_FAILED: 'States.ALL' must appear alone in 'ErrorEquals' at /States/T/Retry/2/ErrorEquals",
                    "INVALID_JSON_PATH: '$.a[*]' is not a reference path (only names and indices are allowed) at /States/T/Catch/0/ResultPath",
                    "SCHEMA_VALIDATION_FAILED: 'Assign' must be an object at /States/T/Catch/0/Assign",
                    "SCHEMA_VALIDATION_FAILED: the field 'Bad' is not supported in a catcher at /States/T/Catch/0/Bad",
                    "SCHEMA_VALIDATION_FAILED: a catcher must be an object at /States/T/Catch/1",
                    "SCHEMA_VALIDATION_FAILED: a catcher needs 'Next' at /States/T/Catch/2",
                    "SCHEMA_VALIDATION_FAILED: a Task state needs 'Resource' at /States/T",
                    "SCHEMA_VALIDATION_FAILED: unknown state type 'Unknown' at /States/U/Type",
                    "SCHEMA_VALIDATION_FAILED: a Wait state needs exactly one of 'Seconds', 'Timestamp', 'SecondsPath', 'TimestampPath' at /States/W",
                    "SCHEMA_VALIDATION_FAILED: 'Timestamp' must be an RFC 3339 timestamp at /States/W2/Timestamp",
                    "SCHEMA_VALIDATION_FAILED: 'Next' must be a string at /States/X/Next",
                    "SCHEMA_VALIDATION_FAILED: 'Next' and 'End' are mutually exclusive at /States/Y/End",
                    "SCHEMA_VALIDATION_FAILED: must be a positive integer at /TimeoutSeconds",
                ],
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "Next": "B", "Catch": [{"ErrorEquals": ["X"], "Next": "Missing"}, {"ErrorEquals": ["Y"], "Next": "B"}]}, "B": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "Gone"}], "Default": "Away"}}}),
                vec![
                    "MISSING_TRANSITION_TARGET: Missing 'Next' target: Missing at /States/A/Catch/0/Next",
                    "MISSING_TRANSITION_TARGET: Missing 'Next' target: Gone at /States/B/Choices/0/Next",
                    "MISSING_TRANSITION_TARGET: Missing 'Next' target: Away at /States/B/Default",
                ],
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}, "Z": {"Type": "Pass", "Next": "Y"}, "Y": {"Type": "Pass", "Next": "Z"}, "K": {"Type": "Succeed"}}}),
                vec![
                    "UNREACHABLE_STATE: State 'K' is not reachable at /States/K",
                    "UNREACHABLE_STATE: State 'Y' is not reachable at /States/Y",
                    "UNREACHABLE_STATE: State 'Z' is not reachable at /States/Z",
                ],
            ),
        ];
        for (document, expected) in cases {
            assert_eq!(problems(document), expected);
        }
    }
}

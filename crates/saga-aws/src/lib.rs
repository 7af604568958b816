//! AWS adapters of the saga's ports: DynamoDB stores (aws-sdk-dynamodb) and
//! the Step Functions task reporter (aws-sdk-sfn).
//!
//! - [`tables`]: the key schema of every service table and a helper that
//!   creates a table from it (tests; deployed tables come from the template).

pub mod tables;

//! What every emulator test needs: SDK configuration that points at the
//! emulator `cargo xtask test` started, and unique names for fresh resources.
//!
//! A test run without the emulator's endpoint variable fails at once with a
//! message saying how to run it; it never passes by skipping.

use aws_config::{BehaviorVersion, SdkConfig};

/// SDK configuration for the emulator behind `endpoint_variable` (for example
/// `AWS_ENDPOINT_URL_DYNAMODB`), read from the environment like production code.
pub async fn emulator_config(endpoint_variable: &str) -> SdkConfig {
    match std::env::var(endpoint_variable) {
        Ok(endpoint) if !endpoint.is_empty() => {}
        _ => panic!(
            "{endpoint_variable} is not set: these tests need the local emulators. \
             Run them with `cargo xtask test` (or `cargo xtask test --tier <tier>`), \
             which installs and starts the emulators and sets the AWS_* variables."
        ),
    }
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// A name no other test (or earlier run) uses: `<prefix>-<uuid>`.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A DynamoDB client for DynamoDB Local.
#[allow(dead_code)] // Not every test binary that includes this module talks to DynamoDB.
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&emulator_config("AWS_ENDPOINT_URL_DYNAMODB").await)
}

/// Creates `name` in DynamoDB Local as a copy of the template's table
/// `logical_id` (e.g. `InventoryTable`): the keys and indexes deployed are
/// the ones tested, read from `template.yaml` by `saga-template`.
#[allow(dead_code)] // Not every test binary that includes this module creates tables.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, logical_id: &str, name: &str) {
    let spec = saga_template::project_table(logical_id).unwrap_or_else(|error| panic!("{error}"));
    saga_template::create_table(client, &spec.named(name))
        .await
        .unwrap_or_else(|error| panic!("{error}"));
}

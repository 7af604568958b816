//! One typed reading of `template.yaml`, the stack's single source of truth.
//!
//! - [`Template`] ([`document`]): the YAML, with intrinsic tags in long form.
//! - [`LocalNames`] ([`names`]): physical names and ARNs of every resource in
//!   a local deployment, and `!Ref`/`!GetAtt`/`!Sub`/`!Join` resolved to them.
//! - [`TableSpec`] ([`tables`]): tables with typed keys and indexes, and
//!   [`create_table`] to create one in DynamoDB.
//! - [`stack`]: queues with their redrive policies, functions with their
//!   environment, timeout, memory, routes and schedules, SQS event source
//!   mappings, the state machine with its substitutions applied, and the
//!   HTTP API's JWT authorizer.
//!
//! The local cloud provisions and runs from this; the DynamoDB and API test
//! tiers create their tables from it ([`project_tables`]); the consistency
//! tests read it. Nothing talks to a service except [`create_table`].

pub mod document;
pub mod names;
pub mod stack;
pub mod tables;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use document::{Resource, Template, TemplateError};
pub use names::{LOCAL_ACCOUNT, LOCAL_REGION, LocalNames, scalar_text};
pub use tables::{
    AttributeType, CreateTableError, IndexSpec, KeySchema, Projection, TableSpec, create_table,
};

/// The repository's own `template.yaml`.
pub fn project_template_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml")
}

/// The tables of the repository's template, named `<stack>-<LogicalId>`:
/// what tests create fresh copies of ([`TableSpec::named`]), so their tables
/// are exactly the deployed ones.
pub fn project_tables(stack: &str) -> Result<Vec<TableSpec>, TemplateError> {
    let template = Template::load(&project_template_path())?;
    let names = LocalNames::with_placeholders(&template, stack)?;
    tables::tables(&template, &names)
}

/// The table with `logical_id` (e.g. `InventoryTable`) of the repository's
/// template. The template is read once per process: tests ask for a fresh
/// table in every case.
pub fn project_table(logical_id: &str) -> Result<TableSpec, TemplateError> {
    static TABLES: OnceLock<Result<Vec<TableSpec>, String>> = OnceLock::new();
    let tables = TABLES
        .get_or_init(|| project_tables("test").map_err(|error| error.to_string()))
        .as_ref()
        .map_err(|reason| TemplateError::Unresolvable {
            what: "the project's tables".to_owned(),
            reason: reason.clone(),
        })?;
    tables
        .iter()
        .find(|table| table.logical_id == logical_id)
        .cloned()
        .ok_or_else(|| TemplateError::Unresolvable {
            what: format!("table {logical_id}"),
            reason: format!(
                "{} has no AWS::DynamoDB::Table with this logical id",
                project_template_path().display()
            ),
        })
}

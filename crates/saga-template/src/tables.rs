//! The template's DynamoDB tables, typed: key attributes with their scalar
//! types, the table's key schema, and every global secondary index with its
//! keys and projection. A definition CloudFormation would refuse (an index
//! without a name, a key attribute without a type, no partition key) is an
//! error here too, never a default.
//!
//! [`create_table`] creates one in DynamoDB Local: the local cloud provisions
//! the template's tables with it, and the DynamoDB and API test tiers create
//! their fresh tables from the same specs, so no table schema is written by
//! hand anywhere else.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    ProjectionType, ScalarAttributeType, TableStatus,
};
use serde_json::Value;

use crate::document::{Template, TemplateError};
use crate::names::{LocalNames, scalar_text};

/// The scalar type of a key attribute (`AttributeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeType {
    /// `S`.
    String,
    /// `N`.
    Number,
    /// `B`.
    Binary,
}

impl AttributeType {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "S" => Some(Self::String),
            "N" => Some(Self::Number),
            "B" => Some(Self::Binary),
            _ => None,
        }
    }

    fn sdk(self) -> ScalarAttributeType {
        match self {
            Self::String => ScalarAttributeType::S,
            Self::Number => ScalarAttributeType::N,
            Self::Binary => ScalarAttributeType::B,
        }
    }
}

/// A key schema: the partition (`HASH`) key and the optional sort (`RANGE`) key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySchema {
    /// The `HASH` attribute.
    pub partition_key: String,
    /// The `RANGE` attribute, if any.
    pub sort_key: Option<String>,
}

/// What an index projects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Projection {
    /// Every attribute (`ALL`, the default).
    All,
    /// Only the table's and the index's keys (`KEYS_ONLY`).
    KeysOnly,
    /// The keys and these attributes (`INCLUDE`).
    Include(Vec<String>),
}

/// A global secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    /// `IndexName`.
    pub name: String,
    /// Its keys.
    pub keys: KeySchema,
    /// `Projection`.
    pub projection: Projection,
}

/// A DynamoDB table of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    /// Logical id in the template.
    pub logical_id: String,
    /// Physical name (`TableName`, or the local name of the logical id).
    pub name: String,
    /// `AttributeDefinitions`: every key attribute of the table and its indexes.
    pub attributes: BTreeMap<String, AttributeType>,
    /// `KeySchema`.
    pub keys: KeySchema,
    /// `GlobalSecondaryIndexes`.
    pub indexes: Vec<IndexSpec>,
}

impl TableSpec {
    /// The index called `name`.
    pub fn index(&self, name: &str) -> Option<&IndexSpec> {
        self.indexes.iter().find(|index| index.name == name)
    }

    /// The same table under another physical name (tests create fresh,
    /// uniquely named copies).
    pub fn named(&self, name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..self.clone()
        }
    }
}

fn invalid(logical_id: &str, reason: impl Into<String>) -> TemplateError {
    TemplateError::Unresolvable {
        what: format!("table {logical_id}"),
        reason: reason.into(),
    }
}

fn text<'v>(value: &'v Value, field: &str) -> Option<&'v str> {
    value.get(field).and_then(Value::as_str)
}

fn key_schema(
    logical_id: &str,
    where_: &str,
    list: Option<&Value>,
) -> Result<KeySchema, TemplateError> {
    let mut partition_key = None;
    let mut sort_key = None;
    for element in list.and_then(Value::as_array).into_iter().flatten() {
        let name = text(element, "AttributeName")
            .ok_or_else(|| invalid(logical_id, format!("{where_}: a key without AttributeName")))?;
        match text(element, "KeyType") {
            Some("HASH") if partition_key.is_none() => partition_key = Some(name.to_owned()),
            Some("RANGE") if sort_key.is_none() => sort_key = Some(name.to_owned()),
            other => {
                return Err(invalid(
                    logical_id,
                    format!(
                        "{where_}: key {name} has KeyType {other:?}; one HASH and at most one RANGE"
                    ),
                ));
            }
        }
    }
    let partition_key =
        partition_key.ok_or_else(|| invalid(logical_id, format!("{where_}: no HASH key")))?;
    Ok(KeySchema {
        partition_key,
        sort_key,
    })
}

fn projection(
    logical_id: &str,
    index: &str,
    value: Option<&Value>,
) -> Result<Projection, TemplateError> {
    let Some(value) = value else {
        return Ok(Projection::All);
    };
    match text(value, "ProjectionType").unwrap_or("ALL") {
        "ALL" => Ok(Projection::All),
        "KEYS_ONLY" => Ok(Projection::KeysOnly),
        "INCLUDE" => Ok(Projection::Include(
            value
                .get("NonKeyAttributes")
                .and_then(Value::as_array)
                .map(|names| names.iter().map(scalar_text).collect())
                .unwrap_or_default(),
        )),
        other => Err(invalid(
            logical_id,
            format!("index {index}: unknown ProjectionType {other:?}"),
        )),
    }
}

/// Reads one table from its resolved `Properties`.
fn table(logical_id: &str, name: String, properties: &Value) -> Result<TableSpec, TemplateError> {
    let mut attributes = BTreeMap::new();
    for definition in properties
        .get("AttributeDefinitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(attribute), Some(kind)) = (
            text(definition, "AttributeName"),
            text(definition, "AttributeType"),
        ) else {
            return Err(invalid(
                logical_id,
                "an AttributeDefinition needs AttributeName and AttributeType",
            ));
        };
        let kind = AttributeType::parse(kind).ok_or_else(|| {
            invalid(
                logical_id,
                format!("attribute {attribute} has type {kind:?}, not S, N or B"),
            )
        })?;
        attributes.insert(attribute.to_owned(), kind);
    }
    let keys = key_schema(logical_id, "KeySchema", properties.get("KeySchema"))?;
    let mut indexes = Vec::new();
    for index in properties
        .get("GlobalSecondaryIndexes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let index_name = text(index, "IndexName")
            .ok_or_else(|| invalid(logical_id, "a GlobalSecondaryIndex without IndexName"))?;
        indexes.push(IndexSpec {
            name: index_name.to_owned(),
            keys: key_schema(
                logical_id,
                &format!("index {index_name}"),
                index.get("KeySchema"),
            )?,
            projection: projection(logical_id, index_name, index.get("Projection"))?,
        });
    }
    let key_attributes = std::iter::once(&keys)
        .chain(indexes.iter().map(|index| &index.keys))
        .flat_map(|keys| std::iter::once(&keys.partition_key).chain(&keys.sort_key));
    for attribute in key_attributes {
        if !attributes.contains_key(attribute) {
            return Err(invalid(
                logical_id,
                format!("key attribute {attribute} is not in AttributeDefinitions"),
            ));
        }
    }
    Ok(TableSpec {
        logical_id: logical_id.to_owned(),
        name,
        attributes,
        keys,
        indexes,
    })
}

/// The tables of the template, resolved to local names.
pub fn tables(template: &Template, names: &LocalNames) -> Result<Vec<TableSpec>, TemplateError> {
    template
        .resources_of("AWS::DynamoDB::Table")
        .map(|(logical_id, resource)| {
            let properties = names.resolve(&resource.properties)?;
            let name = properties
                .get("TableName")
                .map(scalar_text)
                .unwrap_or_else(|| names.physical_name(logical_id));
            table(logical_id, name, &properties)
        })
        .collect()
}

/// Why a table could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateTableError {
    /// The spec does not make a valid request.
    #[error("invalid table definition for {table}: {source}")]
    Definition {
        /// The table.
        table: String,
        /// Why.
        #[source]
        source: aws_sdk_dynamodb::error::BuildError,
    },
    /// DynamoDB refused or failed.
    #[error("cannot create or describe table {table}: {source}")]
    Service {
        /// The table.
        table: String,
        /// Why.
        #[source]
        source: Box<aws_sdk_dynamodb::Error>,
    },
    /// The table exists but is not usable.
    #[error("table {table} is not ACTIVE after creation (status: {status})")]
    NotActive {
        /// The table.
        table: String,
        /// Its status.
        status: String,
    },
}

fn key_elements(
    keys: &KeySchema,
) -> Result<Vec<KeySchemaElement>, aws_sdk_dynamodb::error::BuildError> {
    std::iter::once((&keys.partition_key, KeyType::Hash))
        .chain(keys.sort_key.iter().map(|sort| (sort, KeyType::Range)))
        .map(|(name, key_type)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
        })
        .collect()
}

/// Creates `table` on-demand and returns once DynamoDB reports it ACTIVE. A
/// table of that name that already exists is kept (so restarting the local
/// cloud keeps its data) and only checked to be ACTIVE.
pub async fn create_table(client: &Client, table: &TableSpec) -> Result<(), CreateTableError> {
    let definition = |source| CreateTableError::Definition {
        table: table.name.clone(),
        source,
    };
    let service = |source: aws_sdk_dynamodb::Error| CreateTableError::Service {
        table: table.name.clone(),
        source: Box::new(source),
    };
    let mut request = client
        .create_table()
        .table_name(&table.name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_elements(&table.keys).map_err(definition)?));
    for (name, kind) in &table.attributes {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(kind.sdk())
                .build()
                .map_err(definition)?,
        );
    }
    for index in &table.indexes {
        let projection = match &index.projection {
            Projection::All => {
                aws_sdk_dynamodb::types::Projection::builder().projection_type(ProjectionType::All)
            }
            Projection::KeysOnly => aws_sdk_dynamodb::types::Projection::builder()
                .projection_type(ProjectionType::KeysOnly),
            Projection::Include(attributes) => aws_sdk_dynamodb::types::Projection::builder()
                .projection_type(ProjectionType::Include)
                .set_non_key_attributes(Some(attributes.clone())),
        };
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&index.name)
                .set_key_schema(Some(key_elements(&index.keys).map_err(definition)?))
                .projection(projection.build())
                .build()
                .map_err(definition)?,
        );
    }
    if let Err(error) = request.send().await {
        let error = aws_sdk_dynamodb::Error::from(error);
        if !matches!(error, aws_sdk_dynamodb::Error::ResourceInUseException(_)) {
            return Err(service(error));
        }
    }
    let described = client
        .describe_table()
        .table_name(&table.name)
        .send()
        .await
        .map_err(|error| service(error.into()))?;
    match described.table().and_then(|table| table.table_status()) {
        Some(TableStatus::Active) => Ok(()),
        status => Err(CreateTableError::NotActive {
            table: table.name.clone(),
            status: status.map_or_else(|| "unknown".to_owned(), |s| s.as_str().to_owned()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn inventory() -> Value {
        json!({
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "shard", "AttributeType": "S"},
                {"AttributeName": "at", "AttributeType": "N"},
            ],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "GlobalSecondaryIndexes": [{
                "IndexName": "ByAt",
                "KeySchema": [
                    {"AttributeName": "shard", "KeyType": "HASH"},
                    {"AttributeName": "at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }],
        })
    }

    #[test]
    fn keys_indexes_and_projections_are_typed() {
        let spec = table("Inventory", "st-Inventory".to_owned(), &inventory()).unwrap();
        assert_eq!(spec.keys.partition_key, "pk");
        assert_eq!(spec.keys.sort_key, None);
        assert_eq!(spec.attributes["at"], AttributeType::Number);
        let index = spec.index("ByAt").unwrap();
        assert_eq!(index.keys.sort_key.as_deref(), Some("at"));
        assert_eq!(index.projection, Projection::KeysOnly);
        assert_eq!(spec.named("fresh").name, "fresh");
    }

    #[test]
    fn definitions_cloudformation_refuses_are_errors() {
        let mut no_index_name = inventory();
        no_index_name["GlobalSecondaryIndexes"][0]
            .as_object_mut()
            .unwrap()
            .remove("IndexName");
        let mut untyped_key = inventory();
        untyped_key["AttributeDefinitions"]
            .as_array_mut()
            .unwrap()
            .remove(2);
        let mut no_hash = inventory();
        no_hash["KeySchema"] = json!([{"AttributeName": "pk", "KeyType": "RANGE"}]);
        let mut bad_type = inventory();
        bad_type["AttributeDefinitions"][0]["AttributeType"] = json!("BOOL");
        let cases = [
            (no_index_name, "IndexName"),
            (untyped_key, "at is not in AttributeDefinitions"),
            (no_hash, "HASH"),
            (bad_type, "BOOL"),
        ];
        for (properties, expected) in cases {
            let error = table("Inventory", "x".to_owned(), &properties).unwrap_err();
            assert!(
                error.to_string().contains(expected),
                "{error} should say {expected}"
            );
        }
    }
}

//! The Shipments table (key `orderId`) behind the domain's [`ShipmentStore`]:
//! one shipment per order, by a conditional put.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use saga_domain::ports::{CreateShipmentOutcome, Shipment, ShipmentStatus, ShipmentStore};
use saga_domain::{OrderId, PortError};

use serde::{Deserialize, Serialize};

use crate::item::{Item, get_by_order_id};
use crate::record::{Corrupt, instant, instant_text, parse_item, parsed, to_item};
use crate::sdk_errors::port_error;

/// The Shipments table of one deployment.
#[derive(Debug, Clone)]
pub struct DynamoShipments {
    client: Client,
    table: String,
}

impl DynamoShipments {
    /// The store on `table` (from `SHIPMENTS_TABLE`).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn read(
        &self,
        operation: &'static str,
        order_id: &OrderId,
    ) -> Result<Option<Shipment>, PortError> {
        get_by_order_id(&self.client, &self.table, operation, order_id)
            .await?
            .map(|item| parse_shipment(operation, &item))
            .transpose()
    }
}

/// A Shipments item as stored (ARCHITECTURE.md, "Data").
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShipmentRecord {
    order_id: String,
    shipment_id: String,
    tracking_number: String,
    status: String,
    created_at: String,
}

impl From<&Shipment> for ShipmentRecord {
    fn from(shipment: &Shipment) -> Self {
        Self {
            order_id: shipment.order_id.as_str().to_owned(),
            shipment_id: shipment.shipment_id.clone(),
            tracking_number: shipment.tracking_number.clone(),
            status: shipment.status.as_str().to_owned(),
            created_at: instant_text(shipment.created_at),
        }
    }
}

impl TryFrom<ShipmentRecord> for Shipment {
    type Error = Corrupt;

    fn try_from(record: ShipmentRecord) -> Result<Self, Corrupt> {
        let status = ShipmentStatus::parse(&record.status).ok_or_else(|| Corrupt {
            attribute: "status".to_owned(),
            problem: format!("unknown shipment status {:?}", record.status),
        })?;
        Ok(Shipment {
            order_id: parsed("orderId", &record.order_id)?,
            shipment_id: record.shipment_id,
            tracking_number: record.tracking_number,
            status,
            created_at: instant("createdAt", &record.created_at)?,
        })
    }
}

fn parse_shipment(operation: &'static str, item: &Item) -> Result<Shipment, PortError> {
    parse_item::<ShipmentRecord, _>(operation, item)
}

impl ShipmentStore for DynamoShipments {
    async fn create_shipment(
        &self,
        shipment: &Shipment,
    ) -> Result<CreateShipmentOutcome, PortError> {
        const OPERATION: &str = "create_shipment";
        let item = to_item(OPERATION, &ShipmentRecord::from(shipment))?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(orderId)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(CreateShipmentOutcome::Created(shipment.clone())),
            Err(error) => match error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    let existing = match &failed.item {
                        Some(item) => Some(parse_shipment(OPERATION, item)?),
                        None => self.read(OPERATION, &shipment.order_id).await?,
                    };
                    existing
                        .map(CreateShipmentOutcome::AlreadyExists)
                        .ok_or_else(|| {
                            PortError::unavailable(
                                OPERATION,
                                "the shipment existed and is gone now",
                            )
                        })
                }
                _ => Err(port_error(OPERATION, error)),
            },
        }
    }

    async fn get_shipment(&self, order_id: &OrderId) -> Result<Option<Shipment>, PortError> {
        self.read("get_shipment", order_id).await
    }
}

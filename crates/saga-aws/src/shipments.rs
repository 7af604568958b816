//! The Shipments table (key `orderId`) behind the domain's [`ShipmentStore`]:
//! one shipment per order, by a conditional put.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use saga_domain::ports::{CreateShipmentOutcome, Shipment, ShipmentStatus, ShipmentStore};
use saga_domain::{OrderId, PortError};

use crate::item::{Item, ItemReader, get_by_order_id, s, timestamp};
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

fn parse_shipment(operation: &'static str, item: &Item) -> Result<Shipment, PortError> {
    let reader = ItemReader::new(operation, item);
    let status_name = reader.string("status")?;
    let status = ShipmentStatus::parse(status_name).ok_or_else(|| {
        PortError::rejected(
            operation,
            format!("unknown shipment status {status_name:?}"),
        )
    })?;
    Ok(Shipment {
        order_id: reader.parsed("orderId")?,
        shipment_id: reader.string("shipmentId")?.to_owned(),
        tracking_number: reader.string("trackingNumber")?.to_owned(),
        status,
        created_at: reader.timestamp("createdAt")?,
    })
}

impl ShipmentStore for DynamoShipments {
    async fn create_shipment(
        &self,
        shipment: &Shipment,
    ) -> Result<CreateShipmentOutcome, PortError> {
        const OPERATION: &str = "create_shipment";
        let item = Item::from([
            ("orderId".to_owned(), s(shipment.order_id.as_str())),
            ("shipmentId".to_owned(), s(shipment.shipment_id.as_str())),
            (
                "trackingNumber".to_owned(),
                s(shipment.tracking_number.as_str()),
            ),
            ("status".to_owned(), s(shipment.status.as_str())),
            ("createdAt".to_owned(), timestamp(shipment.created_at)),
        ]);
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

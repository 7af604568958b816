//! The Payments table (key `orderId`) behind the domain's [`PaymentStore`].
//!
//! The intent is a conditional put (`attribute_not_exists`), so a retried
//! charge finds the first intent instead of writing a second; each status move
//! is an update conditional on the status it starts from, and a failed
//! condition returns the stored payment (`StatusMismatch`) or `NotFound`.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};
use saga_domain::ports::{
    Payment, PaymentIntent, PaymentStatus, PaymentStore, PaymentTransition, RecordIntentOutcome,
};
use saga_domain::{Money, OrderId, PortError};

use crate::item::{Item, ItemReader, get_by_order_id, n, s, timestamp};
use crate::sdk_errors::port_error;

/// The Payments table of one deployment.
#[derive(Debug, Clone)]
pub struct DynamoPayments {
    client: Client,
    table: String,
}

impl DynamoPayments {
    /// The store on `table` (from `PAYMENTS_TABLE`).
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
    ) -> Result<Option<Payment>, PortError> {
        get_by_order_id(&self.client, &self.table, operation, order_id)
            .await?
            .map(|item| parse_payment(operation, &item))
            .transpose()
    }

    /// `from` → `to`, setting `attribute` (the provider's reference or code).
    async fn transition(
        &self,
        operation: &'static str,
        order_id: &OrderId,
        (from, to): (PaymentStatus, PaymentStatus),
        (attribute, value): (&str, &str),
        now: DateTime<Utc>,
    ) -> Result<PaymentTransition, PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("orderId", s(order_id.as_str()))
            .update_expression("SET #status = :to, #detail = :detail, updatedAt = :now")
            .condition_expression("#status = :from")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#detail", attribute)
            .expression_attribute_values(":from", s(from.as_str()))
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":detail", s(value))
            .expression_attribute_values(":now", timestamp(now))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let item = output.attributes.ok_or_else(|| {
                    PortError::rejected(operation, "the update returned no attributes")
                })?;
                Ok(PaymentTransition::Applied(parse_payment(operation, &item)?))
            }
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    let found = match &failed.item {
                        Some(item) => Some(parse_payment(operation, item)?),
                        None => self.read(operation, order_id).await?,
                    };
                    Ok(found.map_or(
                        PaymentTransition::NotFound,
                        PaymentTransition::StatusMismatch,
                    ))
                }
                _ => Err(port_error(operation, error)),
            },
        }
    }
}

fn parse_payment(operation: &'static str, item: &Item) -> Result<Payment, PortError> {
    let reader = ItemReader::new(operation, item);
    let status_name = reader.string("status")?;
    let status = PaymentStatus::parse(status_name).ok_or_else(|| {
        PortError::rejected(operation, format!("unknown payment status {status_name:?}"))
    })?;
    let amount = Money::new(reader.number("amountMinor")?, reader.parsed("currency")?)
        .map_err(|error| PortError::rejected(operation, error.to_string()))?;
    let optional = |attribute| {
        reader
            .optional_string(attribute)
            .map(|value| value.map(str::to_owned))
    };
    Ok(Payment {
        order_id: reader.parsed("orderId")?,
        amount,
        payment_method: reader.parsed("paymentMethod")?,
        status,
        provider_reference: optional("providerReference")?,
        decline_reason: optional("declineReason")?,
        refund_reference: optional("refundReference")?,
        created_at: reader.timestamp("createdAt")?,
        updated_at: reader.timestamp("updatedAt")?,
    })
}

impl PaymentStore for DynamoPayments {
    async fn record_intent(
        &self,
        intent: &PaymentIntent,
    ) -> Result<RecordIntentOutcome, PortError> {
        const OPERATION: &str = "record_intent";
        let item = Item::from([
            ("orderId".to_owned(), s(intent.order_id.as_str())),
            ("amountMinor".to_owned(), n(intent.amount.amount_minor())),
            ("currency".to_owned(), s(intent.amount.currency().as_str())),
            (
                "paymentMethod".to_owned(),
                s(intent.payment_method.as_str()),
            ),
            ("status".to_owned(), s(PaymentStatus::Pending.as_str())),
            ("createdAt".to_owned(), timestamp(intent.created_at)),
            ("updatedAt".to_owned(), timestamp(intent.created_at)),
        ]);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.clone()))
            .condition_expression("attribute_not_exists(orderId)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(RecordIntentOutcome::Recorded(parse_payment(
                OPERATION, &item,
            )?)),
            Err(error) => match error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    let existing = match &failed.item {
                        Some(item) => Some(parse_payment(OPERATION, item)?),
                        None => self.read(OPERATION, &intent.order_id).await?,
                    };
                    existing
                        .map(RecordIntentOutcome::AlreadyRecorded)
                        .ok_or_else(|| {
                            PortError::unavailable(OPERATION, "the payment existed and is gone now")
                        })
                }
                _ => Err(port_error(OPERATION, error)),
            },
        }
    }

    async fn mark_captured(
        &self,
        order_id: &OrderId,
        provider_reference: &str,
        now: DateTime<Utc>,
    ) -> Result<PaymentTransition, PortError> {
        self.transition(
            "mark_captured",
            order_id,
            (PaymentStatus::Pending, PaymentStatus::Captured),
            ("providerReference", provider_reference),
            now,
        )
        .await
    }

    async fn mark_declined(
        &self,
        order_id: &OrderId,
        decline_reason: &str,
        now: DateTime<Utc>,
    ) -> Result<PaymentTransition, PortError> {
        self.transition(
            "mark_declined",
            order_id,
            (PaymentStatus::Pending, PaymentStatus::Declined),
            ("declineReason", decline_reason),
            now,
        )
        .await
    }

    async fn mark_refunded(
        &self,
        order_id: &OrderId,
        refund_reference: &str,
        now: DateTime<Utc>,
    ) -> Result<PaymentTransition, PortError> {
        self.transition(
            "mark_refunded",
            order_id,
            (PaymentStatus::Captured, PaymentStatus::Refunded),
            ("refundReference", refund_reference),
            now,
        )
        .await
    }

    async fn get_payment(&self, order_id: &OrderId) -> Result<Option<Payment>, PortError> {
        self.read("get_payment", order_id).await
    }
}

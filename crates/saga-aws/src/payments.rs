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

use serde::{Deserialize, Serialize};

use crate::item::{Item, get_by_order_id, s, timestamp};
use crate::record::{Corrupt, instant, instant_text, parse_item, parsed, to_item};
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

/// A Payments item as stored (ARCHITECTURE.md, "Data").
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PaymentRecord {
    order_id: String,
    amount_minor: i64,
    currency: String,
    payment_method: String,
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    provider_reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    decline_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refund_reference: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<&PaymentIntent> for PaymentRecord {
    /// The PENDING payment an intent starts.
    fn from(intent: &PaymentIntent) -> Self {
        Self {
            order_id: intent.order_id.as_str().to_owned(),
            amount_minor: intent.amount.amount_minor(),
            currency: intent.amount.currency().as_str().to_owned(),
            payment_method: intent.payment_method.as_str().to_owned(),
            status: PaymentStatus::Pending.as_str().to_owned(),
            provider_reference: None,
            decline_reason: None,
            refund_reference: None,
            created_at: instant_text(intent.created_at),
            updated_at: instant_text(intent.created_at),
        }
    }
}

impl TryFrom<PaymentRecord> for Payment {
    type Error = Corrupt;

    fn try_from(record: PaymentRecord) -> Result<Self, Corrupt> {
        let status = PaymentStatus::parse(&record.status).ok_or_else(|| Corrupt {
            attribute: "status".to_owned(),
            problem: format!("unknown payment status {:?}", record.status),
        })?;
        let amount = Money::new(record.amount_minor, parsed("currency", &record.currency)?)
            .map_err(|error| Corrupt {
                attribute: "amountMinor".to_owned(),
                problem: error.to_string(),
            })?;
        Ok(Payment {
            order_id: parsed("orderId", &record.order_id)?,
            amount,
            payment_method: parsed("paymentMethod", &record.payment_method)?,
            status,
            provider_reference: record.provider_reference,
            decline_reason: record.decline_reason,
            refund_reference: record.refund_reference,
            created_at: instant("createdAt", &record.created_at)?,
            updated_at: instant("updatedAt", &record.updated_at)?,
        })
    }
}

fn parse_payment(operation: &'static str, item: &Item) -> Result<Payment, PortError> {
    parse_item::<PaymentRecord, _>(operation, item)
}

impl PaymentStore for DynamoPayments {
    async fn record_intent(
        &self,
        intent: &PaymentIntent,
    ) -> Result<RecordIntentOutcome, PortError> {
        const OPERATION: &str = "record_intent";
        let item = to_item(OPERATION, &PaymentRecord::from(intent))?;
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

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;

    fn stored() -> Item {
        let text = |value: &str| AttributeValue::S(value.to_owned());
        Item::from([
            ("orderId".to_owned(), text("ord-1")),
            (
                "amountMinor".to_owned(),
                AttributeValue::N("3000".to_owned()),
            ),
            ("currency".to_owned(), text("EUR")),
            ("paymentMethod".to_owned(), text("pm_card_visa")),
            ("status".to_owned(), text("CAPTURED")),
            ("providerReference".to_owned(), text("ch_1")),
            ("createdAt".to_owned(), text("2026-03-01T12:00:00Z")),
            ("updatedAt".to_owned(), text("2026-03-01T12:00:05Z")),
        ])
    }

    #[test]
    fn a_stored_payment_reads_back_and_round_trips() {
        let payment = parse_payment("test", &stored()).unwrap();
        assert_eq!(payment.status, PaymentStatus::Captured);
        assert_eq!(payment.amount.amount_minor(), 3000);
        assert_eq!(payment.provider_reference.as_deref(), Some("ch_1"));
        assert_eq!(payment.refund_reference, None);
        let intent = PaymentIntent {
            order_id: payment.order_id.clone(),
            amount: payment.amount,
            payment_method: payment.payment_method.clone(),
            created_at: payment.created_at,
        };
        let written = to_item("test", &PaymentRecord::from(&intent)).unwrap();
        assert_eq!(written["amountMinor"], AttributeValue::N("3000".to_owned()));
        assert_eq!(written["status"], AttributeValue::S("PENDING".to_owned()));
        assert!(
            !written.contains_key("providerReference"),
            "absent, not null"
        );
    }

    #[test]
    fn a_corrupt_item_is_rejected_naming_the_attribute() {
        let cases = [
            ("amountMinor", AttributeValue::S("lots".to_owned())),
            ("status", AttributeValue::S("MAYBE".to_owned())),
            ("currency", AttributeValue::S("euro".to_owned())),
            ("createdAt", AttributeValue::S("yesterday".to_owned())),
            ("orderId", AttributeValue::N("7".to_owned())),
        ];
        for (attribute, value) in cases {
            let mut item = stored();
            item.insert(attribute.to_owned(), value);
            let error = parse_payment("test", &item).unwrap_err().to_string();
            assert!(error.contains(attribute), "{attribute}: {error}");
        }
        let mut missing = stored();
        missing.remove("updatedAt");
        let error = parse_payment("test", &missing).unwrap_err().to_string();
        assert!(error.contains("updatedAt"), "{error}");
    }
}

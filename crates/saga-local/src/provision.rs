//! Creates the template's queues (with their redrive policies) in moto and
//! seeds the demo catalog (the tables come from
//! [`saga_template::create_table`]). Idempotent: what exists is kept, so
//! restarting the local cloud against running emulators keeps their data.

use anyhow::{Context, Result, bail};
use aws_sdk_sqs::types::QueueAttributeName;
use saga_domain::ports::{Catalog, StockItem};
use saga_domain::{Currency, Money, Sku};
use saga_template::stack::QueueSpec;
use saga_template::{LocalNames, scalar_text};

/// Creates every queue, records their URLs and ARNs in `names`, then sets
/// the redrive policies (which name other queues' ARNs).
pub async fn create_queues(
    client: &aws_sdk_sqs::Client,
    queues: &[QueueSpec],
    names: &mut LocalNames,
) -> Result<()> {
    for queue in queues {
        let mut request = client.create_queue().queue_name(&queue.name);
        for (name, value) in &queue.attributes {
            request = request.attributes(QueueAttributeName::from(name.as_str()), value);
        }
        let created = request
            .send()
            .await
            .with_context(|| format!("cannot create queue {}", queue.name))?;
        let Some(url) = created.queue_url else {
            bail!("moto created queue {} without a URL", queue.name);
        };
        let arn = queue_arn(client, &url).await?;
        names.learn_queue(&queue.logical_id, &queue.name, &url, &arn);
    }
    for queue in queues {
        let Some(policy) = &queue.redrive_policy else {
            continue;
        };
        let resolved = names.resolve(policy)?;
        let text = match resolved {
            serde_json::Value::String(text) => text,
            other => {
                let target = other
                    .get("deadLetterTargetArn")
                    .map(scalar_text)
                    .unwrap_or_default();
                let count: u64 = other
                    .get("maxReceiveCount")
                    .map(scalar_text)
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(10);
                serde_json::json!({"deadLetterTargetArn": target, "maxReceiveCount": count})
                    .to_string()
            }
        };
        let url = names.attribute(&queue.logical_id, "QueueUrl")?;
        client
            .set_queue_attributes()
            .queue_url(url)
            .attributes(QueueAttributeName::RedrivePolicy, text)
            .send()
            .await
            .with_context(|| format!("cannot set the redrive policy of {}", queue.name))?;
    }
    Ok(())
}

/// A queue's ARN, as the service reports it.
pub async fn queue_arn(client: &aws_sdk_sqs::Client, url: &str) -> Result<String> {
    let attributes = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .with_context(|| format!("cannot read the attributes of {url}"))?;
    attributes
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .with_context(|| format!("{url} has no QueueArn"))
}

/// The demo catalog: (sku, name, available, price in cents). EUR throughout.
pub const DEMO_CATALOG: &[(&str, &str, u64, i64)] = &[
    ("SKU-TEE-M", "T-shirt, size M", 100, 1500),
    ("SKU-TEE-L", "T-shirt, size L", 100, 1500),
    ("SKU-MUG", "Mug", 50, 900),
    ("SKU-HOODIE", "Hoodie", 20, 4500),
    ("SKU-STICKER", "Sticker pack", 1000, 300),
];

/// Writes (or resets) one catalog item.
pub async fn put_stock(
    catalog: &impl Catalog,
    sku: &str,
    name: &str,
    available: u64,
    price_minor: i64,
    currency: &str,
) -> Result<()> {
    let item = StockItem {
        sku: Sku::try_from(sku).map_err(|e| anyhow::anyhow!("{e}"))?,
        name: name.to_owned(),
        available,
        reserved: 0,
        unit_price: Money::new(
            price_minor,
            currency
                .parse::<Currency>()
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    catalog
        .put_stock_item(&item)
        .await
        .map_err(|e| anyhow::anyhow!("cannot write stock of {sku}: {e}"))
}

/// Seeds [`DEMO_CATALOG`].
pub async fn seed_demo_catalog(catalog: &impl Catalog) -> Result<()> {
    for (sku, name, available, price) in DEMO_CATALOG {
        put_stock(catalog, sku, name, *available, *price, "EUR").await?;
    }
    Ok(())
}

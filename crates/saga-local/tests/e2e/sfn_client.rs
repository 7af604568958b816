//! Wire compatibility: the real `aws-sdk-sfn` client against the local
//! endpoint (start, idempotent start, describe, list, history, redrive,
//! task-token errors).

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use serde_json::{Value, json};

use crate::support::{LocalCloud, new_key, order_body};

async fn client(cloud: &LocalCloud) -> aws_sdk_sfn::Client {
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sfn::config::Credentials::new(
            "local", "local", None, None, "e2e",
        ))
        .load()
        .await;
    let config = aws_sdk_sfn::config::Builder::from(&shared)
        .endpoint_url(&cloud.url)
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}

fn execution_input(order_id: &str) -> String {
    json!({
        "orderId": order_id,
        "customerId": "user-sdk",
        "items": [{"sku": "SKU-MUG", "quantity": 1, "unitPrice": {"amountMinor": 900, "currency": "EUR"}}],
        "total": {"amountMinor": 900, "currency": "EUR"},
        "paymentMethod": "pm_card_visa",
        "shippingAddress": {"name": "A", "line1": "B", "city": "C", "postalCode": "1", "country": "DE"},
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_sdk_starts_describes_lists_reads_history_and_redrives() {
    let cloud = LocalCloud::start(&[]).await;
    let sfn = client(&cloud).await;
    let machine = cloud.state_machine_arn().await;
    // The reservation runs late (so the execution is still running when it
    // is started again), and the charge fails once for good, so the
    // execution fails at ChargePayment.
    cloud
        .set_fault(json!({"function": "reserve", "mode": "delay", "delayMs": 1500, "count": 1}))
        .await;
    cloud
        .set_fault(json!({"function": "charge", "mode": "permanent", "count": 1}))
        .await;

    // The order is placed through the API, which writes it PENDING and
    // starts the execution named by its id: the state machine's status
    // writes are conditional on the order being there.
    cloud.set_stock("SKU-SDK", 10).await;
    let token = cloud.token("user-sdk").await;
    let (status, order) = cloud
        .place_order(
            &token,
            &new_key(),
            &order_body("SKU-SDK", 1, "pm_card_visa"),
        )
        .await;
    assert_eq!(status, 202, "{order}");
    let order_id = order["orderId"].as_str().unwrap().to_owned();
    let listed = sfn
        .list_executions()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    let arn = listed
        .executions()
        .iter()
        .find(|execution| execution.name() == order_id)
        .expect("the API started an execution named by the order id")
        .execution_arn()
        .to_owned();
    assert!(
        arn.contains(":execution:") && arn.ends_with(&format!(":{order_id}")),
        "{arn}"
    );
    let input = sfn
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap()
        .input()
        .unwrap()
        .to_owned();

    // Same name and input while it runs: the same execution; another input: an error.
    let again = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name(&order_id)
        .input(&input)
        .send()
        .await
        .unwrap();
    assert_eq!(again.execution_arn(), arn);
    let conflict = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name(&order_id)
        .input(execution_input("other"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(conflict.is_execution_already_exists(), "{conflict:?}");

    let failed = cloud.wait_for_execution(&order_id, 60).await;
    assert_eq!(failed["status"], "FAILED", "{failed}");
    let described = sfn
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(described.status(), &ExecutionStatus::Failed);
    assert_eq!(described.error(), Some("InjectedFault"));
    assert_eq!(described.name(), Some(order_id.as_str()));
    assert!(described.stop_date().is_some());

    let listed = sfn
        .list_executions()
        .state_machine_arn(&machine)
        .status_filter(ExecutionStatus::Failed)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.executions().len(), 1);
    assert_eq!(listed.executions()[0].execution_arn(), arn);

    let history = sfn
        .get_execution_history()
        .execution_arn(&arn)
        .max_results(1000)
        .send()
        .await
        .unwrap();
    let types: Vec<&HistoryEventType> = history.events().iter().map(|e| e.r#type()).collect();
    assert_eq!(types.first(), Some(&&HistoryEventType::ExecutionStarted));
    assert_eq!(types.last(), Some(&&HistoryEventType::ExecutionFailed));
    let task_failed = history
        .events()
        .iter()
        .find_map(|e| e.task_failed_event_details())
        .expect("a TaskFailed event");
    assert_eq!(task_failed.error(), Some("InjectedFault"));
    let cause: Value = serde_json::from_str(task_failed.cause().unwrap()).unwrap();
    assert_eq!(
        cause["errorType"], "InjectedFault",
        "Lambda's error payload as the cause"
    );

    let redriven = sfn
        .redrive_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    assert!(redriven.redrive_date().secs() > 0);
    let succeeded = cloud.wait_for_execution(&order_id, 60).await;
    assert_eq!(succeeded["status"], "SUCCEEDED", "{succeeded}");
    let described = sfn
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(described.redrive_count(), Some(1));
    let history = sfn
        .get_execution_history()
        .execution_arn(&arn)
        .max_results(1000)
        .send()
        .await
        .unwrap();
    assert!(
        history
            .events()
            .iter()
            .any(|e| e.r#type() == &HistoryEventType::ExecutionRedriven)
    );
    let records = cloud.records(&order_id).await;
    assert_eq!(records["order"]["status"], "COMPLETED", "{records}");

    let not_redrivable = sfn
        .redrive_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        not_redrivable.is_execution_not_redrivable(),
        "{not_redrivable:?}"
    );
    let missing = sfn
        .describe_execution()
        .execution_arn(format!("{arn}-missing"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(missing.is_execution_does_not_exist(), "{missing:?}");
    let no_task = sfn
        .send_task_success()
        .task_token("nope")
        .output("{}")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(no_task.is_task_does_not_exist(), "{no_task:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_executions_pages_with_next_token() {
    let cloud = LocalCloud::start(&[]).await;
    let sfn = client(&cloud).await;
    let machine = cloud.state_machine_arn().await;
    for index in 0..5 {
        let name = format!("page-{index}");
        sfn.start_execution()
            .state_machine_arn(&machine)
            .name(&name)
            .input(execution_input(&name))
            .send()
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut token = None;
    for _ in 0..10 {
        let page = sfn
            .list_executions()
            .state_machine_arn(&machine)
            .max_results(2)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        assert!(page.executions().len() <= 2);
        seen.extend(page.executions().iter().map(|e| e.name().to_owned()));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    seen.sort();
    assert_eq!(seen, ["page-0", "page-1", "page-2", "page-3", "page-4"]);
}

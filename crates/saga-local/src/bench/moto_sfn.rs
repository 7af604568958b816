//! Executions per second of moto's Step Functions interpreter (moto's
//! `execute_state_machine` configuration) on the shared benchmark
//! definition: the peer figure for the `asl` interpreter's.
//!
//! moto runs a Lambda Task without Docker when its `lambda.use_docker`
//! configuration is off: the invocation succeeds with a fixed payload, so
//! the definition's Task succeeds as with the echo handler the `asl`
//! figure uses, and every execution visits the same 7 states. The
//! definition's Lambda ARN is replaced by that of a function created in
//! moto's account.
//!
//! `executions` are started by `clients` concurrent callers; the figure is
//! executions over the time from the first start until the last one has
//! finished (each execution is polled with `DescribeExecution`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use aws_sdk_sfn::types::ExecutionStatus;
use serde::Serialize;
use serde_json::{Value, json};

/// The Lambda ARN the shared definition's Task names.
const BENCH_FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:111111111111:function:bench-echo";
/// How long the whole measurement may take.
const DEADLINE: Duration = Duration::from_secs(600);

/// The figure.
#[derive(Debug, Clone, Serialize)]
pub struct MotoFigure {
    /// Executions started and finished.
    pub executions: usize,
    /// Of which succeeded.
    pub succeeded: usize,
    /// Concurrent callers.
    pub clients: usize,
    /// From the first start to the last finish.
    pub seconds: f64,
    /// `executions / seconds`.
    pub executions_per_second: f64,
    /// States entered by one execution.
    pub states_per_execution: usize,
}

/// Configures moto at `endpoint`, creates the function and the state
/// machine, runs the executions and returns the figure.
pub async fn measure(
    endpoint: &str,
    definition: &Path,
    input: &Path,
    executions: usize,
    clients: usize,
) -> Result<MotoFigure> {
    if executions == 0 || clients == 0 {
        bail!("at least one execution and one client are needed");
    }
    let endpoint = endpoint.trim_end_matches('/');
    let definition = std::fs::read_to_string(definition)
        .with_context(|| format!("reading {}", definition.display()))?;
    let input =
        std::fs::read_to_string(input).with_context(|| format!("reading {}", input.display()))?;
    saga_stripe::install_crypto_provider();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    configure_moto(&http, endpoint).await?;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let role = create_role(&http, endpoint, &run).await?;
    let function = create_function(&http, endpoint, &run, &role).await?;
    let definition = definition.replace(BENCH_FUNCTION_ARN, &function);
    let sfn = crate::aws::sfn_client(endpoint).await;
    let machine = sfn
        .create_state_machine()
        .name(format!("bench-{run}"))
        .definition(definition)
        .role_arn(&role)
        .send()
        .await
        .context("CreateStateMachine on moto")?
        .state_machine_arn;

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (sfn, machine, input, next) = (
            sfn.clone(),
            machine.clone(),
            input.clone(),
            Arc::clone(&next),
        );
        workers.push(tokio::spawn(async move {
            let mut arns = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= executions {
                    return Ok::<_, anyhow::Error>(arns);
                }
                let arn = sfn
                    .start_execution()
                    .state_machine_arn(&machine)
                    .name(format!("e{index}"))
                    .input(&input)
                    .send()
                    .await
                    .context("StartExecution on moto")?
                    .execution_arn;
                arns.push(arn);
            }
        }));
    }
    let mut arns = Vec::with_capacity(executions);
    for worker in workers {
        arns.extend(worker.await.context("a starting client panicked")??);
    }
    let mut succeeded = 0;
    for arn in &arns {
        loop {
            if started.elapsed() > DEADLINE {
                bail!("moto's executions still run after {} s", DEADLINE.as_secs());
            }
            let status = sfn
                .describe_execution()
                .execution_arn(arn)
                .send()
                .await
                .context("DescribeExecution on moto")?
                .status;
            match status {
                ExecutionStatus::Running | ExecutionStatus::PendingRedrive => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                ExecutionStatus::Succeeded => {
                    succeeded += 1;
                    break;
                }
                _ => break,
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let history = sfn
        .get_execution_history()
        .execution_arn(&arns[0])
        .max_results(1000)
        .send()
        .await
        .context("GetExecutionHistory on moto")?;
    let states_per_execution = history
        .events
        .iter()
        .filter(|event| event.r#type.as_str().ends_with("StateEntered"))
        .count();
    #[allow(clippy::cast_precision_loss)]
    let executions_per_second = executions as f64 / seconds;
    Ok(MotoFigure {
        executions,
        succeeded,
        clients,
        seconds,
        executions_per_second,
        states_per_execution,
    })
}

/// moto picks the service of a request from its signature's scope; it does
/// not check the signature itself.
fn authorization(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=bench/20260101/{}/{service}/aws4_request, SignedHeaders=host, Signature=0",
        saga_template::LOCAL_REGION
    )
}

async fn configure_moto(http: &reqwest::Client, endpoint: &str) -> Result<()> {
    let response = http
        .post(format!("{endpoint}/moto-api/config"))
        .json(&json!({
            "stepfunctions": {"execute_state_machine": true},
            "lambda": {"use_docker": false},
        }))
        .send()
        .await
        .with_context(|| format!("is moto running at {endpoint}?"))?;
    if !response.status().is_success() {
        bail!(
            "moto refused its configuration: {}: {}",
            response.status(),
            response.text().await.unwrap_or_default()
        );
    }
    Ok(())
}

async fn create_role(http: &reqwest::Client, endpoint: &str, run: &str) -> Result<String> {
    let name = format!("bench-{run}");
    let response = http
        .post(format!("{endpoint}/"))
        .header("Authorization", authorization("iam"))
        .form(&[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", name.as_str()),
            ("AssumeRolePolicyDocument", "{}"),
        ])
        .send()
        .await
        .context("CreateRole on moto")?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("CreateRole on moto: {status}: {text}");
    }
    let arn = text
        .split("<Arn>")
        .nth(1)
        .and_then(|rest| rest.split("</Arn>").next())
        .with_context(|| format!("CreateRole on moto answered without an Arn: {text}"))?;
    Ok(arn.to_owned())
}

async fn create_function(
    http: &reqwest::Client,
    endpoint: &str,
    run: &str,
    role: &str,
) -> Result<String> {
    use base64::Engine as _;
    let response = http
        .post(format!("{endpoint}/2015-03-31/functions"))
        .header("Authorization", authorization("lambda"))
        .json(&json!({
            "FunctionName": format!("bench-echo-{run}"),
            "Runtime": "provided.al2023",
            "Role": role,
            "Handler": "bootstrap",
            "Code": {"ZipFile": base64::engine::general_purpose::STANDARD.encode(empty_zip())},
        }))
        .send()
        .await
        .context("CreateFunction on moto")?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("CreateFunction on moto: {status}: {body}");
    }
    body["FunctionArn"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("CreateFunction on moto answered without an ARN: {body}"))
}

/// A valid zip archive with no entries (moto only stores the code).
fn empty_zip() -> Vec<u8> {
    let mut zip = vec![0x50, 0x4b, 0x05, 0x06];
    zip.extend([0_u8; 18]);
    zip
}

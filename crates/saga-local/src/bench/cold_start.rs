//! Cold start of a Lambda binary, in two figures:
//!
//! - **init**: the time from spawning the process to its first
//!   `GET /2018-06-01/runtime/invocation/next` on the Runtime API, which is
//!   when Lambda ends the init phase;
//! - **first invoke**: from that poll, answered with an event, to the
//!   function's answer (`.../response` or `.../error`). The event is one the
//!   function answers without calling AWS ([`bench_event`]: an empty batch
//!   for ship, a malformed order id for the api, a SUCCEEDED execution for
//!   the watcher, `{}` for the others, which the steps refuse as invalid
//!   input), so the figure is the per-invocation cost of the runtime, the
//!   event's parsing, logging, and the trace's spans and their export
//!   (`OTEL_EXPORTER_OTLP_ENDPOINT` names the stub, which takes
//!   `POST /v1/traces` as the collector extension does), not a network's.
//!
//! The Runtime API here is a stub on 127.0.0.1 that answers the first poll
//! of each run with the event and leaves the next one unanswered; the
//! process is then killed. Runs are interleaved (every binary once per
//! round) so that the machine's noise falls on all of them alike.
//!
//! Each function gets the environment `template.yaml` gives it, with every
//! AWS endpoint pointed at a closed port and static dummy credentials: a
//! function that reached out at init would fail or stall, not talk to AWS.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use saga_template::{LocalNames, Template, stack};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::{median, millis};

/// How long one process may take to reach its first poll.
const INIT_DEADLINE: Duration = Duration::from_secs(20);
/// Where every AWS endpoint of a measured function points: nothing listens.
const CLOSED_ENDPOINT: &str = "http://127.0.0.1:9";

/// One binary to measure.
#[derive(Debug, Clone)]
pub struct Subject {
    /// The name in the results: the binary's file name.
    pub name: String,
    /// The executable.
    pub path: PathBuf,
    /// Its environment besides the Lambda runtime's own variables.
    pub environment: BTreeMap<String, String>,
    /// The event of its first invocation.
    pub event: serde_json::Value,
}

/// The first event `binary` gets: one it answers without calling AWS, and
/// inside its invocation's span where it can (so the figure includes the
/// spans' export).
pub fn bench_event(binary: &str) -> serde_json::Value {
    let sample = |text: &str| serde_json::from_str(text).unwrap_or_default();
    match binary {
        // An SQS batch with no records: nothing to process.
        "ship" => serde_json::json!({"Records": []}),
        // GET /orders/{id} with a malformed id: answered 400 before any read.
        "api" => sample(include_str!(
            "../../../../events/api/get-order--malformed-id.json"
        )),
        // A SUCCEEDED execution: counted, nothing read or written.
        "watcher" => sample(include_str!(
            "../../../../events/watcher/ignored--succeeded-order-completed.json"
        )),
        // The steps refuse it as invalid input. The reaper and the sweeper
        // have no event they answer without DynamoDB: `{}` does not parse,
        // so theirs is the runtime's path without a span.
        _ => serde_json::json!({}),
    }
}

/// The figures of one binary.
#[derive(Debug, Clone, Serialize)]
pub struct ColdStart {
    /// The binary's name.
    pub name: String,
    /// Its size on disk, bytes.
    pub size_bytes: u64,
    /// Init of every run, milliseconds, in run order.
    pub init_ms: Vec<f64>,
    /// Their median.
    pub init_median_ms: f64,
    /// First invocation of every run, milliseconds, in run order.
    pub first_invoke_ms: Vec<f64>,
    /// Their median.
    pub first_invoke_median_ms: f64,
}

/// What the stub Runtime API saw.
enum Seen {
    Poll(Instant),
    Answered(Instant),
    InitError(String),
}

/// The event the next first poll is answered with (taken by that poll).
type Delivery = Arc<std::sync::Mutex<Option<Vec<u8>>>>;

/// The subjects for the function binaries in `directory` (e.g.
/// `target/release`) named by `template`'s functions (`binaries`: which
/// ones; all when empty), each with the template's environment for it.
pub fn function_subjects(
    template: &Path,
    directory: &Path,
    binaries: &[String],
) -> Result<Vec<Subject>> {
    let template = Template::load(template)?;
    let mut names = LocalNames::with_placeholders(&template, "bench")?;
    stack::learn_state_machine_names(&template, &mut names)?;
    names.learn_queues_at(&template, CLOSED_ENDPOINT);
    let stack = stack::load(&template, &names)?;
    let mut subjects = Vec::new();
    for function in stack.functions.values() {
        if !binaries.is_empty() && !binaries.contains(&function.binary) {
            continue;
        }
        let mut environment = function.environment.clone();
        environment.insert("AWS_LAMBDA_FUNCTION_NAME".to_owned(), function.name.clone());
        environment.insert(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".to_owned(),
            function.memory_size.to_string(),
        );
        subjects.push(Subject {
            name: function.binary.clone(),
            path: directory.join(&function.binary),
            environment,
            event: bench_event(&function.binary),
        });
    }
    if let Some(missing) = binaries
        .iter()
        .find(|binary| !subjects.iter().any(|subject| &subject.name == *binary))
    {
        bail!("template.yaml has no function whose binary is {missing}");
    }
    Ok(subjects)
}

/// Measures every subject `runs` times, interleaved.
pub async fn measure(subjects: &[Subject], runs: usize) -> Result<Vec<ColdStart>> {
    if runs == 0 {
        bail!("at least one run is needed");
    }
    for subject in subjects {
        if !subject.path.is_file() {
            bail!("{} does not exist: build it first", subject.path.display());
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the stub Runtime API")?;
    let address = listener.local_addr()?;
    let (seen_sender, mut seen) = mpsc::unbounded_channel();
    let seen_sender = Arc::new(seen_sender);
    let delivery: Delivery = Arc::default();
    let server_delivery = Arc::clone(&delivery);
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let sender = Arc::clone(&seen_sender);
            let delivery = Arc::clone(&server_delivery);
            tokio::spawn(async move {
                let _ = serve(stream, &sender, &delivery).await;
            });
        }
    });
    let mut samples: Vec<Vec<(f64, f64)>> = vec![Vec::with_capacity(runs); subjects.len()];
    for _ in 0..runs {
        for (subject, samples) in subjects.iter().zip(&mut samples) {
            while seen.try_recv().is_ok() {}
            *delivery
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some(serde_json::to_vec(&subject.event)?);
            samples.push(one_run(subject, &address.to_string(), &mut seen).await?);
        }
    }
    server.abort();
    subjects
        .iter()
        .zip(samples)
        .map(|(subject, runs)| {
            let size_bytes = std::fs::metadata(&subject.path)
                .with_context(|| format!("reading {}", subject.path.display()))?
                .len();
            let (init_ms, first_invoke_ms): (Vec<f64>, Vec<f64>) = runs.into_iter().unzip();
            Ok(ColdStart {
                name: subject.name.clone(),
                size_bytes,
                init_median_ms: median(&init_ms).unwrap_or(f64::NAN),
                init_ms,
                first_invoke_median_ms: median(&first_invoke_ms).unwrap_or(f64::NAN),
                first_invoke_ms,
            })
        })
        .collect()
}

async fn one_run(
    subject: &Subject,
    runtime_api: &str,
    seen: &mut mpsc::UnboundedReceiver<Seen>,
) -> Result<(f64, f64)> {
    let mut command = Command::new(&subject.path);
    command
        .env_clear()
        .envs(&subject.environment)
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", subject.name),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .env("AWS_REGION", saga_template::LOCAL_REGION)
        .env("AWS_DEFAULT_REGION", saga_template::LOCAL_REGION)
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", CLOSED_ENDPOINT)
        .env("TZ", ":UTC")
        // Tracing on: spans go to the stub, as to the collector extension.
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://{runtime_api}"),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if !subject.environment.contains_key("AWS_LAMBDA_FUNCTION_NAME") {
        command.env("AWS_LAMBDA_FUNCTION_NAME", &subject.name);
    }
    if !subject
        .environment
        .contains_key("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    {
        command.env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128");
    }
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", subject.path.display()))?;
    let outcome = tokio::time::timeout(INIT_DEADLINE, seen.recv()).await;
    let polled = match outcome {
        Ok(Some(Seen::Poll(at))) => Ok(at),
        Ok(Some(Seen::InitError(body))) => Err(anyhow::anyhow!(
            "{} reported an init error: {body}",
            subject.name
        )),
        Ok(Some(Seen::Answered(_))) => Err(anyhow::anyhow!(
            "{} answered before it polled",
            subject.name
        )),
        Ok(None) => Err(anyhow::anyhow!("the stub Runtime API stopped")),
        Err(_) => Err(anyhow::anyhow!(
            "{} did not poll the Runtime API within {} s",
            subject.name,
            INIT_DEADLINE.as_secs()
        )),
    };
    let answered = match &polled {
        Ok(_) => match tokio::time::timeout(INIT_DEADLINE, seen.recv()).await {
            Ok(Some(Seen::Answered(at))) => Ok(at),
            _ => Err(anyhow::anyhow!(
                "{} did not answer its first event within {} s",
                subject.name,
                INIT_DEADLINE.as_secs()
            )),
        },
        Err(_) => Err(anyhow::anyhow!("no poll")),
    };
    let _ = child.kill();
    let exit = child.wait();
    let polled = polled.with_context(|| format!("exit: {exit:?}"))?;
    let answered = answered?;
    Ok((
        millis(polled.duration_since(started)),
        millis(answered.duration_since(polled)),
    ))
}

/// Serves one connection: answers the run's first `invocation/next` poll
/// with its event and leaves later ones unanswered (the process waits
/// there), notes the poll, the answer and every init error, and takes trace
/// exports.
async fn serve(
    stream: TcpStream,
    seen: &mpsc::UnboundedSender<Seen>,
    delivery: &Delivery,
) -> Result<()> {
    use tokio::io::AsyncWriteExt as _;
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await? == 0 {
            return Ok(());
        }
        let at = Instant::now();
        let mut content_length = 0_usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).await? == 0 {
                return Ok(());
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                content_length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0_u8; content_length.min(64 * 1024)];
        reader.read_exact(&mut body).await?;
        if request_line.contains("/runtime/invocation/next") {
            let event = delivery
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            let Some(event) = event else {
                // Never answered: the process is killed while it waits.
                std::future::pending::<()>().await;
                return Ok(());
            };
            let _ = seen.send(Seen::Poll(at));
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis()
                + 30_000;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 lambda-runtime-aws-request-id: bench-request\r\nlambda-runtime-deadline-ms: {deadline}\r\n\
                 lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:000000000000:function:bench\r\n\
                 lambda-runtime-trace-id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1\r\n\r\n",
                event.len()
            );
            let stream = reader.get_mut();
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&event).await?;
            continue;
        }
        if request_line.contains("/runtime/invocation/")
            && (request_line.contains("/response") || request_line.contains("/error"))
        {
            let _ = seen.send(Seen::Answered(Instant::now()));
        }
        if request_line.contains("/v1/traces") {
            reader
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
                .await?;
            return Ok(());
        }
        if request_line.contains("/runtime/init/error") {
            let _ = seen.send(Seen::InitError(String::from_utf8_lossy(&body).into_owned()));
        }
        reader
            .get_mut()
            .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
            .await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_events_are_the_samples_they_name() {
        let api = bench_event("api");
        assert_eq!(api["routeKey"], "GET /orders/{id}");
        let watcher = bench_event("watcher");
        assert_eq!(watcher["detail"]["status"], "SUCCEEDED");
        assert_eq!(bench_event("ship"), serde_json::json!({"Records": []}));
        assert_eq!(bench_event("reserve"), serde_json::json!({}));
    }
}

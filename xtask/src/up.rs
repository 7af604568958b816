//! `cargo xtask up [--port P] [--payments simulated|stripe]`: the whole
//! local cloud on a fresh machine.
//!
//! Installs DynamoDB Local and moto into `.local/` when missing, starts both
//! on free 127.0.0.1 ports (and localstripe with `--payments stripe`), then
//! runs `saga-local` (built by `cargo run`),
//! which creates the tables (with their indexes) and queues (with their
//! redrive policies) from `template.yaml`, seeds the demo catalog and serves
//! the Step Functions API, the HTTP API and the console on `--port`. Once
//! `/health` answers 200 it prints the URLs, a token command and a `curl`
//! that places an order, then waits. Ctrl-C (or SIGTERM/SIGHUP) stops every
//! child process group; so does saga-local exiting on its own.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::emulators::{self, Emulator, RunningEmulator};
use crate::process_group::{self, GroupChild};

/// The port the local cloud listens on unless `--port` says otherwise.
pub const DEFAULT_PORT: u16 = 4000;

/// How long `cargo run -p saga-local` may take to build and answer: a cold
/// build of the AWS SDKs on two cores takes minutes.
const READY_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// The line `saga-local` prints on stdout once it serves.
const READY_PREFIX: &str = "saga-local: ready on ";

/// The Stripe secret key the local charge and refund functions get with
/// `--payments stripe`: localstripe takes any `sk_` key.
pub(crate) const LOCAL_STRIPE_SECRET_KEY: &str = "sk_test_local";

/// The options of `cargo xtask up`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct UpOptions {
    /// Port of the local cloud on 127.0.0.1.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// The payment provider of the charge and refund functions. `simulated`
    /// is the local default: it needs no second emulator for a first try,
    /// and its fault modes (pm_card_transientFailure, answers lost after the
    /// provider acted) are what the chaos campaign drives. `stripe` also
    /// starts localstripe (infra/localstripe/serve.py) and gives the
    /// functions its URL and a local test key.
    #[arg(long, value_enum, value_name = "PROVIDER", default_value_t = Payments::Simulated)]
    pub payments: Payments,
}

impl Default for UpOptions {
    fn default() -> Self {
        Self {
            port: DEFAULT_PORT,
            payments: Payments::Simulated,
        }
    }
}

/// The template's `PaymentProvider` for the local cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Payments {
    /// The project's simulated provider, in the functions' own process.
    Simulated,
    /// Stripe's API, as localstripe serves it on 127.0.0.1.
    Stripe,
}

impl Payments {
    /// The value of the template's `PaymentProvider` parameter.
    fn parameter_value(self) -> &'static str {
        match self {
            Self::Simulated => "simulated",
            Self::Stripe => "stripe",
        }
    }
}

/// The emulators a local cloud runs on; dropping them stops them.
pub(crate) struct LocalEmulators {
    pub dynamodb: RunningEmulator,
    pub moto: RunningEmulator,
    /// Started with `--payments stripe` only.
    pub localstripe: Option<RunningEmulator>,
}

/// Runs the local cloud until Ctrl-C, with the emulators in `<root>/.local`.
pub fn run(root: &Path, options: &UpOptions) -> Result<ExitCode> {
    run_with_installs(root, &root.join(".local"), options)
}

/// [`run`] with the emulator installs and logs in `local`.
pub fn run_with_installs(root: &Path, local: &Path, options: &UpOptions) -> Result<ExitCode> {
    let started = Instant::now();
    process_group::stop_all_on_interrupt()?;
    let emulators = start_emulators(local, options.payments)?;
    let mut saga_local = spawn_saga_local(root, options, &emulators)?;
    let Some(stdout) = saga_local.take_stdout() else {
        bail!("saga-local's stdout was not piped");
    };
    let base_url = match wait_until_ready(stdout, &mut saga_local)? {
        Some(url) => url,
        None => bail!(
            "saga-local exited before it was ready; its log is above (and in {})",
            local.join("logs").display()
        ),
    };
    wait_for_health(&base_url, &mut saga_local)?;
    print_banner(&base_url, started.elapsed(), &emulators);
    let status = saga_local.wait()?;
    // Dropping the emulators stops them; say why we are leaving.
    drop(emulators);
    if status.success() {
        Ok(ExitCode::SUCCESS)
    } else {
        bail!("saga-local stopped ({status}); the emulators were stopped too")
    }
}

/// Starts DynamoDB Local, moto and, for `Payments::Stripe`, localstripe side
/// by side (each installs first if needed).
pub(crate) fn start_emulators(local: &Path, payments: Payments) -> Result<LocalEmulators> {
    let in_background = |emulator: Emulator| {
        let local = local.to_path_buf();
        thread::spawn(move || emulators::start(&local, emulator))
    };
    let dynamodb = in_background(Emulator::DynamoDbLocal);
    let localstripe = (payments == Payments::Stripe).then(|| in_background(Emulator::LocalStripe));
    let moto = emulators::start(local, Emulator::Moto);
    let joined =
        |thread: thread::JoinHandle<Result<RunningEmulator>>, name: &str| match thread.join() {
            Ok(result) => result,
            Err(_) => bail!("the thread starting {name} panicked"),
        };
    let dynamodb = joined(dynamodb, "DynamoDB Local");
    let localstripe = localstripe.map(|thread| joined(thread, "localstripe"));
    Ok(LocalEmulators {
        dynamodb: dynamodb?,
        moto: moto?,
        localstripe: localstripe.transpose()?,
    })
}

pub(crate) fn spawn_saga_local(
    root: &Path,
    options: &UpOptions,
    emulators: &LocalEmulators,
) -> Result<GroupChild> {
    spawn_saga_local_with(root, options, emulators, &[], None)
}

/// saga-local's arguments for the payment provider: always the template's
/// `PaymentProvider` (its default is `stripe`, for deployments), and for
/// Stripe the functions' variables that point them at localstripe.
fn payment_arguments(payments: Payments, localstripe: Option<&str>) -> Result<Vec<String>> {
    let mut arguments = vec![
        "--parameter".to_owned(),
        format!("PaymentProvider={}", payments.parameter_value()),
    ];
    if payments == Payments::Stripe {
        let Some(endpoint) = localstripe else {
            bail!("--payments stripe needs localstripe running");
        };
        for variable in [
            format!("STRIPE_API_BASE={endpoint}"),
            format!("STRIPE_SECRET_KEY={LOCAL_STRIPE_SECRET_KEY}"),
        ] {
            arguments.push("--function-env".to_owned());
            arguments.push(variable);
        }
    }
    Ok(arguments)
}

/// [`spawn_saga_local`] with `extra` arguments for saga-local, and its log
/// (stderr) in `log` instead of the terminal.
pub(crate) fn spawn_saga_local_with(
    root: &Path,
    options: &UpOptions,
    emulators: &LocalEmulators,
    extra: &[&str],
    log: Option<std::fs::File>,
) -> Result<GroupChild> {
    let localstripe = emulators.localstripe.as_ref();
    let payments = payment_arguments(options.payments, localstripe.map(|up| up.endpoint.as_str()))?;
    let mut command = cargo_run_saga_local(root, "saga-local");
    command
        .arg("--template")
        .arg(root.join("template.yaml"))
        .args(["--port", &options.port.to_string()])
        .args(["--dynamodb-endpoint", &emulators.dynamodb.endpoint])
        .args(["--sqs-endpoint", &emulators.moto.endpoint])
        .arg("--seed-demo")
        // Before `extra`, which may override them.
        .args(&payments)
        .args(extra)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    if let Some(log) = log {
        command.stderr(log);
    }
    eprintln!(
        "xtask: building and starting saga-local (cargo run -p saga-local) on 127.0.0.1:{}",
        options.port
    );
    GroupChild::spawn(&mut command)
}

/// A local cloud this command started on a free port, with its emulators;
/// dropping it stops saga-local, then the emulators.
pub(crate) struct StartedCloud {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    _saga_local: GroupChild,
    _emulators: LocalEmulators,
}

impl StartedCloud {
    /// moto's endpoint (the cloud's SQS).
    pub fn moto_endpoint(&self) -> &str {
        &self._emulators.moto.endpoint
    }

    /// DynamoDB Local's endpoint.
    pub fn dynamodb_endpoint(&self) -> &str {
        &self._emulators.dynamodb.endpoint
    }

    /// `(name, process group)` of DynamoDB Local, moto and saga-local.
    pub fn process_groups(&self) -> [(&'static str, i32); 3] {
        [
            ("dynamodb-local", self._emulators.dynamodb.group_id()),
            ("saga-local", self._saga_local.group_id()),
            ("moto", self._emulators.moto.group_id()),
        ]
    }
}

/// Starts the emulators and saga-local on a free port with `extra`
/// arguments (its log in `log`, else on the terminal), and waits until
/// `/health` answers. Its payments are simulated: the chaos campaign drives
/// the simulated provider's fault modes.
pub(crate) fn start_on_free_port(
    root: &Path,
    extra: &[&str],
    log: Option<(std::fs::File, &Path)>,
) -> Result<StartedCloud> {
    process_group::stop_all_on_interrupt()?;
    let options = UpOptions {
        // Port 0: saga-local binds a free port and prints its URL.
        port: 0,
        payments: Payments::Simulated,
    };
    let emulators = start_emulators(&root.join(".local"), options.payments)?;
    let (log_file, log_path) = log.map_or((None, None), |(file, path)| (Some(file), Some(path)));
    let mut saga_local = spawn_saga_local_with(root, &options, &emulators, extra, log_file)?;
    let Some(stdout) = saga_local.take_stdout() else {
        bail!("saga-local's stdout was not piped");
    };
    let Some(url) = wait_until_ready(stdout, &mut saga_local)? else {
        match log_path {
            Some(path) => bail!(
                "saga-local exited before it was ready; its log: {}",
                path.display()
            ),
            None => bail!("saga-local exited before it was ready; its log is above"),
        }
    };
    wait_for_health(&url, &mut saga_local)?;
    Ok(StartedCloud {
        url,
        _saga_local: saga_local,
        _emulators: emulators,
    })
}

/// `cargo run --quiet -p saga-local --bin <binary> --` in `root`, ready for
/// the binary's own arguments.
pub(crate) fn cargo_run_saga_local(root: &Path, binary: &str) -> Command {
    let mut command = crate::cargo_command();
    command.current_dir(root).args([
        "run",
        "--quiet",
        "--package",
        "saga-local",
        "--bin",
        binary,
        "--",
    ]);
    command
}

/// Reads saga-local's stdout until its ready line and returns the URL;
/// `None` if it exited first. Later stdout lines keep being echoed.
pub(crate) fn wait_until_ready(
    stdout: std::process::ChildStdout,
    child: &mut GroupChild,
) -> Result<Option<String>> {
    let (ready, ready_receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut ready = Some(ready);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(url) = line.strip_prefix(READY_PREFIX) {
                if let Some(sender) = ready.take() {
                    let _ = sender.send(url.trim().to_owned());
                }
            } else {
                println!("{line}");
            }
        }
    });
    let deadline = Instant::now() + READY_DEADLINE;
    loop {
        match ready_receiver.recv_timeout(Duration::from_millis(200)) {
            Ok(url) => return Ok(Some(url)),
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(None),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if child.try_exit_status()?.is_some() {
            return Ok(None);
        }
        if Instant::now() >= deadline {
            bail!(
                "saga-local did not report ready within {} s",
                READY_DEADLINE.as_secs()
            );
        }
    }
}

/// Waits until `GET /health` answers 200.
pub(crate) fn wait_for_health(base_url: &str, child: &mut GroupChild) -> Result<()> {
    let port: u16 = base_url
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .with_context(|| format!("saga-local reported an unexpected URL {base_url:?}"))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if health_status(port) == Some(200) {
            return Ok(());
        }
        if child.try_exit_status()?.is_some() {
            bail!("saga-local exited before /health answered 200");
        }
        if Instant::now() >= deadline {
            bail!("{base_url}/health did not answer 200 within 60 s");
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// The status code of `GET /health`, if the server answers.
pub(crate) fn health_status(port: u16) -> Option<u16> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let request =
        format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = [0_u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn print_banner(base_url: &str, elapsed: Duration, emulators: &LocalEmulators) {
    let payments = match &emulators.localstripe {
        None => {
            "  payments            simulated (--payments stripe for Stripe's API on localstripe)"
                .to_owned()
        }
        Some(localstripe) => format!(
            "  payments            stripe: localstripe at {url} (log: .local/logs/localstripe.log)\
             \n\n  # localstripe's PaymentIntents (the charges the saga made)\
             \n  curl -s -u {LOCAL_STRIPE_SECRET_KEY}: {url}/v1/payment_intents",
            url = localstripe.endpoint
        ),
    };
    println!(
        "\nxtask: the local cloud is up after {:.1}s (Ctrl-C stops everything)\n\
         \n  console             {base_url}/console\
         \n  HTTP API            {base_url}/orders, {base_url}/products\
         \n  Step Functions API  {base_url}  (AWS_ENDPOINT_URL_SFN={base_url})\
         \n  health              {base_url}/health\
         \n{payments}\
         \n\n  # a dev token (LOCAL ONLY: signed by a key made at start-up)\
         \n  TOKEN=$(curl -s -X POST {base_url}/local/token -H 'Content-Type: application/json' -d '{{\"sub\":\"user-1\"}}' | sed 's/.*\"token\":\"\\([^\"]*\\)\".*/\\1/')\
         \n\n  # place an order, then read it\
         \n  curl -s -X POST {base_url}/orders -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\\
         \n    -H \"Idempotency-Key: $(date +%s%N)\" \\\
         \n    -d '{{\"items\":[{{\"sku\":\"SKU-TEE-M\",\"quantity\":2}}],\"paymentMethod\":\"pm_card_visa\",\
         \"shippingAddress\":{{\"name\":\"Ada Lovelace\",\"line1\":\"1 Analytical St\",\"city\":\"London\",\"postalCode\":\"N1 9GU\",\"country\":\"GB\"}}}}'\
         \n  curl -s {base_url}/orders/<orderId> -H \"Authorization: Bearer $TOKEN\"\
         \n\n  # its page (execution, trace, records), its trace as a waterfall and as OTLP JSON\
         \n  {base_url}/console/order/<orderId>\
         \n  {base_url}/console/trace/<orderId>\
         \n  curl -s {base_url}/local/traces/<orderId>\n",
        elapsed.as_secs_f64()
    );
    let _ = std::io::stdout().flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_payments_name_the_provider_and_nothing_else() {
        assert_eq!(
            payment_arguments(Payments::Simulated, None).unwrap(),
            ["--parameter", "PaymentProvider=simulated"]
        );
    }

    #[test]
    fn stripe_payments_point_every_function_at_localstripe() {
        assert_eq!(
            payment_arguments(Payments::Stripe, Some("http://127.0.0.1:4242")).unwrap(),
            [
                "--parameter",
                "PaymentProvider=stripe",
                "--function-env",
                "STRIPE_API_BASE=http://127.0.0.1:4242",
                "--function-env",
                "STRIPE_SECRET_KEY=sk_test_local",
            ]
        );
        let error = payment_arguments(Payments::Stripe, None).unwrap_err();
        assert!(error.to_string().contains("localstripe"), "{error}");
    }
}

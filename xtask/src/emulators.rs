//! The local AWS emulators the test tiers run against, started on demand.
//!
//! Each emulator runs on a free port of 127.0.0.1 (and only there), writes its
//! output to `.local/logs/<name>.log`, and is stopped with its whole process
//! group when its [`RunningEmulator`] is dropped. A start succeeds only once
//! the emulator answers HTTP; one that exits or stays silent past
//! [`STARTUP_DEADLINE`] fails with its name and its log file.

use std::fs::{self, File};
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::install;
use crate::process_group::GroupChild;

/// How long an emulator may take to answer after it was started. Generous:
/// the JVM starts slowly on a 2-core machine that is also compiling.
const STARTUP_DEADLINE: Duration = Duration::from_secs(90);

/// The wrapper that serves localstripe on 127.0.0.1, in the repository.
const LOCALSTRIPE_WRAPPER: &str = "infra/localstripe/serve.py";

/// An emulator the tiers can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emulator {
    /// Amazon's DynamoDB Local, for the tables.
    DynamoDbLocal,
    /// moto's server, for SQS queues and their dead-letter queues.
    Moto,
    /// localstripe, a fake Stripe API, behind the project's wrapper
    /// `infra/localstripe/serve.py` (idempotency keys, PaymentIntent search,
    /// declining test cards, test controls under `/_shim/`).
    LocalStripe,
}

impl Emulator {
    pub fn name(self) -> &'static str {
        match self {
            Self::DynamoDbLocal => "dynamodb-local",
            Self::Moto => "moto",
            Self::LocalStripe => "localstripe",
        }
    }

    /// The variable that points a client at this emulator: the AWS SDK's
    /// for the AWS services, the Stripe adapter's for localstripe.
    pub fn endpoint_variable(self) -> &'static str {
        match self {
            Self::DynamoDbLocal => "AWS_ENDPOINT_URL_DYNAMODB",
            Self::Moto => "AWS_ENDPOINT_URL_SQS",
            Self::LocalStripe => "STRIPE_API_BASE",
        }
    }
}

/// An emulator that answers on `endpoint` until dropped.
pub struct RunningEmulator {
    pub emulator: Emulator,
    pub endpoint: String,
    // Dropping the process stops the emulator's process group.
    _process: GroupChild,
}

impl RunningEmulator {
    /// The emulator's process group.
    pub fn group_id(&self) -> i32 {
        self._process.group_id()
    }
}

/// Installs `emulator` into `local` if needed, starts it and waits until it answers.
pub fn start(local: &Path, emulator: Emulator) -> Result<RunningEmulator> {
    let port = free_port()?;
    let mut command = match emulator {
        Emulator::DynamoDbLocal => {
            let install = install::dynamodb_local(local)?;
            let mut command = Command::new("java");
            command
                .arg(format!(
                    "-Djava.library.path={}",
                    install.jar_dir.join("DynamoDBLocal_lib").display()
                ))
                .arg("-cp")
                .arg(format!(
                    "{}:{}",
                    install.jar_dir.join("DynamoDBLocal.jar").display(),
                    install.launcher_dir.display()
                ))
                .arg("LoopbackDynamoDbLocal")
                .args(["-inMemory", "-disableTelemetry", "-port", &port.to_string()]);
            command
        }
        Emulator::Moto => {
            let mut command = Command::new(install::moto_server(local)?);
            command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
            command
        }
        Emulator::LocalStripe => {
            let mut command = Command::new(install::localstripe_python(local)?);
            command
                .arg(crate::repo_root()?.join(LOCALSTRIPE_WRAPPER))
                .args(["--port", &port.to_string()])
                // Its log lines reach the log file as they happen.
                .env("PYTHONUNBUFFERED", "1");
            command
        }
    };
    let log = open_log(local, emulator)?;
    command
        .stdin(Stdio::null())
        .stdout(log.file.try_clone().context("cannot share the log file")?)
        .stderr(log.file);
    let started = Instant::now();
    let mut process = GroupChild::spawn(&mut command).with_context(|| {
        format!(
            "cannot start {} (log: {})",
            emulator.name(),
            log.path.display()
        )
    })?;
    wait_until_answering(emulator, &mut process, port, &log.path)?;
    eprintln!(
        "xtask: {} answers on http://127.0.0.1:{port} after {:.1}s (log: {})",
        emulator.name(),
        started.elapsed().as_secs_f64(),
        log.path.display()
    );
    Ok(RunningEmulator {
        emulator,
        endpoint: format!("http://127.0.0.1:{port}"),
        _process: process,
    })
}

struct Log {
    file: File,
    path: PathBuf,
}

fn open_log(local: &Path, emulator: Emulator) -> Result<Log> {
    let dir = local.join("logs");
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(format!("{}.log", emulator.name()));
    let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(Log { file, path })
}

/// A port that was free on 127.0.0.1 a moment ago. Another process could take
/// it before the emulator binds; the emulator then fails fast and says so in its log.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .context("cannot bind a free port on 127.0.0.1")?;
    Ok(listener
        .local_addr()
        .context("cannot read the bound port")?
        .port())
}

fn wait_until_answering(
    emulator: Emulator,
    process: &mut GroupChild,
    port: u16,
    log: &Path,
) -> Result<()> {
    let deadline = Instant::now() + STARTUP_DEADLINE;
    loop {
        if let Some(status) = process.try_exit_status()? {
            bail!(
                "{} exited during startup ({status}); see its log: {}",
                emulator.name(),
                log.display()
            );
        }
        if answers_http(port) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "{} did not answer on 127.0.0.1:{port} within {}s; see its log: {}",
                emulator.name(),
                STARTUP_DEADLINE.as_secs(),
                log.display()
            );
        }
        thread::sleep(Duration::from_millis(200));
    }
}

/// Whether an HTTP server answers on `port` with any status line.
fn answers_http(port: u16) -> bool {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let timeout = Duration::from_secs(2);
    let Ok(mut stream) = TcpStream::connect_timeout(&address, timeout) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let request = format!("GET / HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut status_line = [0_u8; 5];
    stream.read_exact(&mut status_line).is_ok() && &status_line == b"HTTP/"
}

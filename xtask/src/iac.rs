//! Infrastructure checks: lint the SAM template and the state machine
//! definition with the tools AWS and the community ship, at pinned versions.
//!
//! The tools are installed into the git-ignored `.local/iac/` from the pins in
//! `infra/tools/`: one Python venv per requirements file (SAM CLI and cfn-lint
//! share one because `sam validate --lint` runs that cfn-lint; checkov and
//! cargo-lambda pin dependencies that conflict with the SAM CLI's), and
//! `npm ci` of `infra/tools/package.json` + lock for asl-validator. Each
//! install writes a stamp holding the pins it installed; a matching stamp
//! skips the install, so only a changed pin touches the network.
//!
//! Every check prints its tool's output and counts findings; a check passes
//! with zero findings. Suppressions live in `template.yaml` next to the
//! resource, each with its reason, never here.
//!
//! With `sam_build`, `sam build` compiles every function through cargo-lambda
//! (plain cargo as the compiler, x86_64 so no cross toolchain is needed) and
//! each `bootstrap` is checked to need no glibc newer than 2.34, the version
//! of Lambda's `provided.al2023` runtime, and to stay within its size budget:
//! issue #15's 6 MB (a bigger binary pages in more at cold start), 6.5 MB for
//! charge and refund, which also carry the Stripe client and SSM. Before
//! `sam build`, one `cargo lambda build` of every function with the same
//! flags builds them all, so cargo links two at a time (each fat-LTO link
//! is one thread), where `sam build`'s one `cargo lambda build --bin X` per
//! function would link them one after the other; `sam build` then finds
//! every binary fresh and copies it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// The template and the definition the checks read, relative to the repo root.
const TEMPLATE: &str = "template.yaml";
const DEFINITION: &str = "infra/order-saga.asl.json";
/// Where the pins are, relative to the repo root.
const TOOLS_DIR: &str = "infra/tools";
/// Offline region for `sam validate` (it never calls AWS with `--lint`).
const REGION: &str = "us-east-1";
/// The newest glibc symbol version a `provided.al2023` binary may need.
const MAX_GLIBC: (u32, u32) = (2, 34);
/// The largest a function's stripped `bootstrap` may be, in bytes: 6 MB,
/// the target of issue #15.
const MAX_BOOTSTRAP_BYTES: u64 = 6_000_000;
/// The budget of the functions with the Stripe client and SSM on top of
/// what every function has (measured 6.07 and 6.14 MB when it was set).
const MAX_PAYMENT_BOOTSTRAP_BYTES: u64 = 6_500_000;

/// Name of the stamp file that marks a finished install.
const STAMP_FILE: &str = ".xtask-installed";

/// The size budget of `function` (a logical id), in bytes.
fn size_budget(function: &str) -> u64 {
    match function {
        "ChargeFunction" | "RefundFunction" => MAX_PAYMENT_BOOTSTRAP_BYTES,
        _ => MAX_BOOTSTRAP_BYTES,
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IacCheck {
    /// Short name of the check, e.g. `cfn-lint`.
    pub name: &'static str,
    /// Findings the tool reported (0 when it passed).
    pub findings: usize,
    /// Whether the check passed: the tool ran and reported nothing.
    pub passed: bool,
    /// Figures worth keeping beyond the count (build time, binary sizes).
    pub details: Vec<String>,
}

/// Every check that ran, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IacReport {
    pub checks: Vec<IacCheck>,
}

impl IacReport {
    /// True when every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|check| check.passed)
    }
}

/// Installs the pinned tools when needed and runs every check against the
/// repository at `root`; `sam_build` adds the `sam build` check. An `Err`
/// means a tool could not be installed or started, not that a check failed.
pub fn run(root: &Path, sam_build: bool) -> Result<IacReport> {
    let tools = Tools::install(root, sam_build)?;
    let mut report = IacReport::default();
    report.checks.push(sam_validate(root, &tools)?);
    report.checks.push(cfn_lint(root, &tools)?);
    report.checks.push(checkov(root, &tools)?);
    report.checks.push(asl_validator(root, &tools)?);
    if sam_build {
        report.checks.push(sam_build_check(root, &tools)?);
    }
    for check in &report.checks {
        println!(
            "iac: {:<14} {} ({} finding{})",
            check.name,
            if check.passed { "passed" } else { "FAILED" },
            check.findings,
            if check.findings == 1 { "" } else { "s" }
        );
        for detail in &check.details {
            println!("iac:   {detail}");
        }
    }
    Ok(report)
}

/// Where the installed tools live.
struct Tools {
    /// `bin/` of the venv with `sam` and `cfn-lint`.
    sam_bin: PathBuf,
    /// `bin/` of the venv with `checkov`.
    checkov_bin: PathBuf,
    /// `node_modules/.bin` with `asl-validator`.
    npm_bin: PathBuf,
    /// `bin/` of the venv with `cargo-lambda`, when `sam build` will run.
    cargo_lambda_bin: Option<PathBuf>,
    /// Scratch space for machine-readable tool output.
    scratch: PathBuf,
}

impl Tools {
    fn install(root: &Path, sam_build: bool) -> Result<Self> {
        let iac = root.join(".local").join("iac");
        let pins = root.join(TOOLS_DIR);
        let sam_bin = python_venv(&iac.join("sam"), &pins.join("requirements.txt"))?;
        let checkov_bin =
            python_venv(&iac.join("checkov"), &pins.join("requirements-checkov.txt"))?;
        let npm_bin = npm_tools(&iac.join("npm"), &pins)?;
        let cargo_lambda_bin = if sam_build {
            Some(python_venv(
                &iac.join("cargo-lambda"),
                &pins.join("requirements-cargo-lambda.txt"),
            )?)
        } else {
            None
        };
        let scratch = iac.join("out");
        fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
        Ok(Self {
            sam_bin,
            checkov_bin,
            npm_bin,
            cargo_lambda_bin,
            scratch,
        })
    }

    /// A `PATH` with `first` ahead of the venvs' and the caller's.
    fn path_with(&self, first: &[&Path]) -> Result<std::ffi::OsString> {
        let inherited = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs: Vec<PathBuf> = first.iter().map(|dir| dir.to_path_buf()).collect();
        dirs.push(self.sam_bin.clone());
        dirs.extend(std::env::split_paths(&inherited));
        std::env::join_paths(dirs).context("building PATH for the IaC tools")
    }
}

/// A venv at `dir` with exactly the pins of `requirements`; returns its `bin/`.
fn python_venv(dir: &Path, requirements: &Path) -> Result<PathBuf> {
    let pins = fs::read_to_string(requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    let bin = dir.join("bin");
    if is_installed(dir, &pins) {
        return Ok(bin);
    }
    eprintln!(
        "iac: installing {} into {}",
        requirements.display(),
        dir.display()
    );
    fresh_dir(dir)?;
    crate::run_to_success(Command::new("python3").args(["-m", "venv"]).arg(dir))?;
    crate::run_to_success(
        Command::new(bin.join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(requirements),
    )?;
    write_stamp(dir, &pins)?;
    Ok(bin)
}

/// `npm ci` of the pinned Node tools into `dir`; returns `node_modules/.bin`.
fn npm_tools(dir: &Path, pins: &Path) -> Result<PathBuf> {
    let manifest = fs::read_to_string(pins.join("package.json"))
        .with_context(|| format!("reading {}/package.json", pins.display()))?;
    let lock = fs::read_to_string(pins.join("package-lock.json"))
        .with_context(|| format!("reading {}/package-lock.json", pins.display()))?;
    let stamp = format!("{manifest}\n{lock}");
    let bin = dir.join("node_modules").join(".bin");
    if is_installed(dir, &stamp) {
        return Ok(bin);
    }
    eprintln!(
        "iac: installing {}/package.json into {}",
        pins.display(),
        dir.display()
    );
    fresh_dir(dir)?;
    fs::write(dir.join("package.json"), &manifest).context("copying package.json")?;
    fs::write(dir.join("package-lock.json"), &lock).context("copying package-lock.json")?;
    crate::run_to_success(
        Command::new("npm")
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
            .current_dir(dir),
    )?;
    write_stamp(dir, &stamp)?;
    Ok(bin)
}

fn is_installed(dir: &Path, stamp: &str) -> bool {
    fs::read_to_string(dir.join(STAMP_FILE)).is_ok_and(|found| found == stamp)
}

fn write_stamp(dir: &Path, stamp: &str) -> Result<()> {
    fs::write(dir.join(STAMP_FILE), stamp)
        .with_context(|| format!("writing the install stamp in {}", dir.display()))
}

fn fresh_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

/// Runs a check's tool, echoes its output, and returns it for counting.
fn run_tool(name: &str, command: &mut Command) -> Result<Output> {
    println!("iac: == {name}: {command:?}");
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("starting {name} ({command:?})"))?;
    print!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    Ok(output)
}

/// The common shape: findings counted from the output, and a non-zero exit
/// with nothing counted still fails (the tool broke, it did not pass).
fn outcome(name: &'static str, output: &Output, counted: usize) -> IacCheck {
    let findings = if output.status.success() {
        counted
    } else {
        counted.max(1)
    };
    IacCheck {
        name,
        findings,
        passed: output.status.success() && findings == 0,
        details: Vec::new(),
    }
}

/// `sam validate --lint`: the SAM transform plus cfn-lint's default rules.
fn sam_validate(root: &Path, tools: &Tools) -> Result<IacCheck> {
    let output = run_tool(
        "sam validate",
        Command::new(tools.sam_bin.join("sam"))
            .args([
                "validate",
                "--lint",
                "--region",
                REGION,
                "--template-file",
                TEMPLATE,
            ])
            .env("SAM_CLI_TELEMETRY", "0")
            .current_dir(root),
    )?;
    // Matches print as `[E3034: <rule>] (<message>) matched <line>`.
    let text = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    let counted = text
        .split('[')
        .filter(|piece| is_rule_id(piece.split(':').next().unwrap_or_default()))
        .count();
    Ok(outcome("sam validate", &output, counted))
}

/// cfn-lint with the serverless rules (ES*/WS*) on top of its own.
fn cfn_lint(root: &Path, tools: &Tools) -> Result<IacCheck> {
    let output = run_tool(
        "cfn-lint",
        Command::new(tools.sam_bin.join("cfn-lint"))
            .args([
                TEMPLATE,
                "-a",
                "cfn_lint_serverless.rules",
                "--format",
                "parseable",
            ])
            .current_dir(root),
    )?;
    // One finding a line: `file:line:col:line:col:RULE:message`.
    let counted = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.split(':').nth(5).is_some_and(is_rule_id))
        .count();
    Ok(outcome("cfn-lint", &output, counted))
}

/// checkov's CloudFormation checks; the JSON copy of its report gives the count.
fn checkov(root: &Path, tools: &Tools) -> Result<IacCheck> {
    let json_path = tools.scratch.join("checkov.json");
    if json_path.exists() {
        fs::remove_file(&json_path)
            .with_context(|| format!("removing the stale {}", json_path.display()))?;
    }
    let output = run_tool(
        "checkov",
        Command::new(tools.checkov_bin.join("checkov"))
            .args([
                "--skip-download",
                "--quiet",
                "--compact",
                "--framework",
                "cloudformation",
            ])
            .args([
                "-f",
                TEMPLATE,
                "-o",
                "cli",
                "-o",
                "json",
                "--output-file-path",
            ])
            .arg(format!("console,{}", json_path.display()))
            .current_dir(root),
    )?;
    let report: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(&json_path)
            .with_context(|| format!("checkov wrote no JSON report at {}", json_path.display()))?,
    )
    .context("parsing checkov's JSON report")?;
    // One framework gives an object; several would give a list of them.
    let failed = std::iter::once(&report)
        .chain(report.as_array().into_iter().flatten())
        .filter_map(|framework| framework.pointer("/summary/failed")?.as_u64())
        .sum::<u64>();
    let counted = usize::try_from(failed).context("checkov's failed count overflows")?;
    Ok(outcome("checkov", &output, counted))
}

/// asl-validator: schema and reachability of the state machine definition.
fn asl_validator(root: &Path, tools: &Tools) -> Result<IacCheck> {
    let output = run_tool(
        "asl-validator",
        Command::new(tools.npm_bin.join("asl-validator"))
            .args(["--json-path", DEFINITION])
            .current_dir(root),
    )?;
    // On failure: a `✕ ... is invalid:` header, then one `CODE: message` a line.
    let text = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    let counted = text
        .lines()
        .filter(|line| {
            let code = line.trim_start().split(':').next().unwrap_or_default();
            !code.is_empty() && code.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        })
        .count();
    Ok(outcome("asl-validator", &output, counted))
}

/// `sam build` of every function through cargo-lambda, then the size and
/// glibc requirement of each `bootstrap`.
fn sam_build_check(root: &Path, tools: &Tools) -> Result<IacCheck> {
    let cargo_lambda_bin = tools
        .cargo_lambda_bin
        .as_deref()
        .context("cargo-lambda was not installed for sam build")?;
    let build_dir = root.join(".aws-sam").join("build");
    let template = fs::read_to_string(root.join(TEMPLATE)).context("reading the template")?;
    let binaries = template_binaries(&template);

    // `cargo lambda`, as sam build runs it: cargo finds `cargo-lambda` on PATH.
    let mut prebuild = crate::cargo_command();
    prebuild.args(["lambda", "build", "--release"]);
    for binary in &binaries {
        prebuild.args(["--bin", binary]);
    }
    let (prebuilt, prebuild_seconds) = run_cargo_lambda(
        "cargo lambda build, every function at once",
        &mut prebuild,
        root,
        tools,
        cargo_lambda_bin,
    )?;
    if !prebuilt.success() {
        return Ok(IacCheck {
            name: "sam build",
            findings: 1,
            passed: false,
            details: vec![format!(
                "cargo lambda build of {} functions failed after {prebuild_seconds:.0} s ({prebuilt})",
                binaries.len()
            )],
        });
    }

    let mut command = Command::new(tools.sam_bin.join("sam"));
    command
        .args(["build", "--template-file", TEMPLATE, "--build-dir"])
        .arg(&build_dir)
        .args(["--parameter-overrides", "Architecture=x86_64"])
        .env("SAM_CLI_TELEMETRY", "0")
        // The cargo-lambda build method is a SAM CLI beta feature.
        .env("SAM_CLI_BETA_RUST_CARGO_LAMBDA", "1");
    let (status, seconds) =
        run_cargo_lambda("sam build", &mut command, root, tools, cargo_lambda_bin)?;

    let mut check = IacCheck {
        name: "sam build",
        findings: 0,
        passed: false,
        details: vec![format!(
            "wall time {:.0} s: cargo lambda build of {} functions {prebuild_seconds:.0} s, then sam build {seconds:.0} s ({status})",
            prebuild_seconds + seconds,
            binaries.len()
        )],
    };
    if !status.success() {
        check.findings = 1;
        return Ok(check);
    }
    let expected = template.matches("BuildMethod: rust-cargolambda").count();
    let bootstraps = built_bootstraps(&build_dir)?;
    if bootstraps.len() != expected {
        check.findings += 1;
        check.details.push(format!(
            "expected {expected} bootstrap binaries, found {}",
            bootstraps.len()
        ));
    }
    for (function, bootstrap) in bootstraps {
        let bytes = fs::metadata(&bootstrap)
            .with_context(|| format!("reading {}", bootstrap.display()))?
            .len();
        let newest = newest_glibc(&bootstrap)?;
        let too_new = newest.is_some_and(|version| version > MAX_GLIBC);
        let budget = size_budget(&function);
        let too_big = bytes > budget;
        check.findings += usize::from(too_new) + usize::from(too_big);
        check.details.push(format!(
            "{function}: {bytes} bytes ({:.2} MB){}, needs glibc {}{}",
            bytes as f64 / 1_000_000.0,
            if too_big {
                format!(
                    " > {:.1} MB: over its size budget",
                    budget as f64 / 1_000_000.0
                )
            } else {
                String::new()
            },
            newest.map_or("(none)".to_owned(), |(major, minor)| format!(
                "{major}.{minor}"
            )),
            if too_new {
                " > 2.34: FAILS on provided.al2023"
            } else {
                ""
            }
        ));
    }
    check.passed = check.findings == 0;
    Ok(check)
}

/// Runs `command` in `root` with cargo-lambda on PATH and plain cargo as its
/// compiler (the host's x86_64: no Zig cross-linking needed), its output on
/// the terminal; its exit status and wall time in seconds.
fn run_cargo_lambda(
    name: &str,
    command: &mut Command,
    root: &Path,
    tools: &Tools,
    cargo_lambda_bin: &Path,
) -> Result<(std::process::ExitStatus, f64)> {
    command
        .env("PATH", tools.path_with(&[cargo_lambda_bin])?)
        .env("CARGO_LAMBDA_COMPILER", "cargo")
        .current_dir(root)
        .stdin(Stdio::null());
    println!("iac: == {name}: {command:?}");
    let started = Instant::now();
    let status = command
        .status()
        .with_context(|| format!("starting {name} ({command:?})"))?;
    Ok((status, started.elapsed().as_secs_f64()))
}

/// The binaries the template's functions are built from
/// (`BuildProperties: {Binary: <name>}`), in template order.
fn template_binaries(template: &str) -> Vec<String> {
    template
        .lines()
        .filter_map(|line| line.split_once("Binary:"))
        .map(|(_, rest)| {
            rest.trim()
                .trim_end_matches('}')
                .trim()
                .trim_matches(|c| c == '"' || c == '\'')
                .to_owned()
        })
        .filter(|binary| !binary.is_empty())
        .collect()
}

/// `(logical id, path)` of every `bootstrap` sam build produced, sorted.
fn built_bootstraps(build_dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    for entry in
        fs::read_dir(build_dir).with_context(|| format!("listing {}", build_dir.display()))?
    {
        let entry = entry.with_context(|| format!("listing {}", build_dir.display()))?;
        let bootstrap = entry.path().join("bootstrap");
        if bootstrap.is_file() {
            found.push((entry.file_name().to_string_lossy().into_owned(), bootstrap));
        }
    }
    found.sort();
    Ok(found)
}

/// The newest `GLIBC_x.y` symbol version `binary` imports, via `objdump -T`.
fn newest_glibc(binary: &Path) -> Result<Option<(u32, u32)>> {
    let output = Command::new("objdump")
        .arg("-T")
        .arg(binary)
        .output()
        .context("starting objdump (binutils) to read the glibc symbol versions")?;
    if !output.status.success() {
        bail!(
            "objdump -T {} failed: {}",
            binary.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(glibc_versions(&String::from_utf8_lossy(&output.stdout)).max())
}

/// Every `GLIBC_major.minor` version named in `objdump -T` output.
fn glibc_versions(dynamic_symbols: &str) -> impl Iterator<Item = (u32, u32)> + '_ {
    dynamic_symbols.split("GLIBC_").skip(1).filter_map(|rest| {
        let version: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let mut parts = version.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next().map_or(Some(0), |minor| minor.parse().ok())?;
        Some((major, minor))
    })
}

/// A lint rule id: one or two capital letters then four digits (E3034, ES6000).
fn is_rule_id(candidate: &str) -> bool {
    let letters = candidate
        .chars()
        .take_while(char::is_ascii_uppercase)
        .count();
    let digits = &candidate[letters..];
    (1..=2).contains(&letters) && digits.len() == 4 && digits.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_functions_have_their_own_size_budget() {
        assert_eq!(size_budget("ReserveFunction"), 6_000_000);
        assert_eq!(size_budget("ApiFunction"), 6_000_000);
        assert_eq!(size_budget("ChargeFunction"), 6_500_000);
        assert_eq!(size_budget("RefundFunction"), 6_500_000);
    }

    #[test]
    fn the_template_names_every_function_binary() {
        let template = fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(TEMPLATE),
        )
        .expect("the template");
        let mut binaries = template_binaries(&template);
        binaries.sort();
        assert_eq!(
            binaries,
            [
                "api", "charge", "confirm", "reaper", "refund", "release", "reserve", "ship",
                "sweeper", "watcher"
            ]
        );
        assert_eq!(
            template_binaries("  BuildProperties: {Binary: \"ship\"}\n      Binary: api\n"),
            ["ship", "api"]
        );
    }

    #[test]
    fn rule_ids_are_recognised() {
        let cases = [
            ("E3034", true),
            ("ES6000", true),
            ("W3011", true),
            ("I1022", true),
            ("E303", false),
            ("ABC1234", false),
            ("template.yaml", false),
            ("", false),
        ];
        for (candidate, expected) in cases {
            assert_eq!(is_rule_id(candidate), expected, "{candidate}");
        }
    }

    #[test]
    fn glibc_versions_are_read_from_objdump_output() {
        let objdump = "\
0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.2.5) free
0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.34) __libc_start_main
0000000000000000  w   DF *UND*  0000000000000000 (GLIBC_2.18) __cxa_thread_atexit_impl
0000000000000000      DF *UND*  0000000000000000  GLIBC_2.3 __tls_get_addr
";
        let versions: Vec<_> = glibc_versions(objdump).collect();
        assert_eq!(versions, vec![(2, 2), (2, 34), (2, 18), (2, 3)]);
        assert_eq!(versions.into_iter().max(), Some((2, 34)));
    }

    #[test]
    fn a_tool_that_exits_non_zero_never_passes() {
        let failed = Command::new("false").output().unwrap();
        let check = outcome("tool", &failed, 0);
        assert_eq!((check.findings, check.passed), (1, false));

        let succeeded = Command::new("true").output().unwrap();
        assert!(outcome("tool", &succeeded, 0).passed);
        assert_eq!(outcome("tool", &succeeded, 2).findings, 2);
        assert!(!outcome("tool", &succeeded, 2).passed);
    }
}

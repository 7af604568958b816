//! Installs what the console's browser test needs: Debian's Chromium (no
//! browser download, which this network refuses) and the pinned
//! `playwright-core` that drives it.
//!
//! Chromium comes from apt, so it lands in the system, not in `.local/`; it
//! is installed only when `/usr/bin/chromium` is missing, as root or through
//! `sudo`. playwright-core is installed with `npm ci` from the lock file next
//! to the test, skipped when the lock has not changed since the last install.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// The browser the test launches (playwright-core's `executablePath`).
const CHROMIUM: &str = "/usr/bin/chromium";
/// The npm project of the console's browser test.
const BROWSER_TEST_DIR: &str = "crates/saga-local/tests/browser";

/// Makes sure Chromium and playwright-core are installed.
pub fn ensure(root: &Path) -> Result<()> {
    if !Path::new(CHROMIUM).is_file() {
        install_chromium()?;
    }
    install_playwright_core(&root.join(BROWSER_TEST_DIR))
}

fn install_chromium() -> Result<()> {
    eprintln!("xtask: installing Debian's chromium (apt-get)");
    let as_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false);
    let apt = |args: &[&str]| -> Result<()> {
        let mut command = if as_root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.args(["-n", "apt-get"]);
            sudo
        };
        command
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null());
        let status = command
            .status()
            .with_context(|| format!("cannot run apt-get {}", args.join(" ")))?;
        if !status.success() {
            bail!(
                "apt-get {} failed ({status}); install Chromium yourself: \
                 apt-get install chromium",
                args.join(" ")
            );
        }
        Ok(())
    };
    apt(&["update", "-q"])?;
    apt(&["install", "-y", "-q", "--no-install-recommends", "chromium"])?;
    if !Path::new(CHROMIUM).is_file() {
        bail!("apt-get installed chromium but {CHROMIUM} is still missing");
    }
    Ok(())
}

fn install_playwright_core(dir: &Path) -> Result<()> {
    let lock_path = dir.join("package-lock.json");
    let lock = fs::read_to_string(&lock_path)
        .with_context(|| format!("cannot read {}", lock_path.display()))?;
    // npm keeps a copy of the lock it installed from; equal means up to date.
    let installed = dir.join("node_modules/.package-lock.json");
    let up_to_date = dir.join("node_modules/playwright-core").is_dir()
        && fs::read_to_string(&installed).is_ok_and(|text| same_packages(&text, &lock));
    if up_to_date {
        return Ok(());
    }
    eprintln!(
        "xtask: installing playwright-core (npm ci) in {}",
        dir.display()
    );
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .status()
        .context("cannot run npm (Node 20 with npm is required)")?;
    if !status.success() {
        bail!("npm ci in {} failed ({status})", dir.display());
    }
    Ok(())
}

/// Whether two npm lock files pin the same packages (npm's hidden lock in
/// `node_modules` omits the root entry, so compare the package versions only).
fn same_packages(installed: &str, lock: &str) -> bool {
    let versions = |text: &str| -> Option<Vec<(String, String)>> {
        let document: serde_json::Value = serde_json::from_str(text).ok()?;
        let mut pins: Vec<(String, String)> = document
            .get("packages")?
            .as_object()?
            .iter()
            .filter(|(path, _)| !path.is_empty())
            .map(|(path, package)| {
                let version = package
                    .get("version")
                    .and_then(|v| v.as_str())
                    .unwrap_or("");
                (path.clone(), version.to_owned())
            })
            .collect();
        pins.sort();
        Some(pins)
    };
    matches!((versions(installed), versions(lock)), (Some(a), Some(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_files_compare_by_package_versions_only() {
        let lock = r#"{"packages": {"": {"name": "x"}, "node_modules/playwright-core": {"version": "1.57.0"}}}"#;
        let same = r#"{"packages": {"node_modules/playwright-core": {"version": "1.57.0"}}}"#;
        let other = r#"{"packages": {"node_modules/playwright-core": {"version": "1.58.0"}}}"#;
        assert!(same_packages(same, lock));
        assert!(!same_packages(other, lock));
        assert!(!same_packages("not json", lock));
    }
}

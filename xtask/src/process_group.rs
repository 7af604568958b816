//! Child processes that never outlive xtask.
//!
//! Every child xtask starts (emulators, cargo commands) leads a process group
//! of its own, so stopping it also stops whatever it started (moto's workers,
//! cargo's test binaries). Live groups are registered in [`LIVE_GROUPS`]:
//! dropping a [`GroupChild`] stops its group, and the Ctrl-C/SIGTERM/SIGHUP
//! handler stops every registered group before xtask exits, so neither a
//! failure nor an interrupt leaves an orphan behind.

use std::process::{Child, ChildStdout, Command, ExitStatus};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

/// How long a group gets to exit after SIGTERM before it gets SIGKILL.
const GRACE_PERIOD: Duration = Duration::from_secs(5);

/// Exit code after an interrupt, as a shell reports death by SIGINT.
const INTERRUPTED_EXIT_CODE: i32 = 130;

/// The process groups started and not yet stopped.
static LIVE_GROUPS: Mutex<Vec<Pid>> = Mutex::new(Vec::new());

fn live_groups() -> MutexGuard<'static, Vec<Pid>> {
    // A panic while holding the lock cannot leave the list half-updated.
    LIVE_GROUPS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether [`stop_all_on_interrupt`] has installed its handler.
static HANDLER_INSTALLED: Mutex<bool> = Mutex::new(false);

/// Stops every live group on Ctrl-C, SIGTERM or SIGHUP, then exits. Calling
/// it again (a command that starts a local cloud among other things) keeps
/// the handler installed the first time.
pub fn stop_all_on_interrupt() -> Result<()> {
    let mut installed = HANDLER_INSTALLED
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if *installed {
        return Ok(());
    }
    ctrlc::set_handler(|| {
        eprintln!("\nxtask: interrupted; stopping the processes it started");
        // Keep the lock until exit, so no new group can start meanwhile.
        let groups = live_groups();
        groups.iter().for_each(|group| stop_group(*group));
        std::process::exit(INTERRUPTED_EXIT_CODE);
    })
    .context("cannot install the Ctrl-C handler")?;
    *installed = true;
    Ok(())
}

/// A running child that leads its own process group.
pub struct GroupChild {
    child: Child,
    group: Pid,
    running: bool,
}

impl GroupChild {
    /// Spawns `command` as the leader of a new process group.
    pub fn spawn(command: &mut Command) -> Result<Self> {
        use std::os::unix::process::CommandExt as _;
        command.process_group(0);
        // Hold the lock across the spawn so an interrupt cannot miss the group.
        let mut groups = live_groups();
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {command:?}"))?;
        let group = Pid::from_raw(i32::try_from(child.id()).context("process id out of range")?);
        groups.push(group);
        Ok(Self {
            child,
            group,
            running: true,
        })
    }

    /// The process group's id (the leader's pid).
    pub fn group_id(&self) -> i32 {
        self.group.as_raw()
    }

    /// The child's stdout, when it was spawned with a pipe there.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// The exit status if the leader has exited, without waiting.
    pub fn try_exit_status(&mut self) -> Result<Option<ExitStatus>> {
        let status = self
            .child
            .try_wait()
            .context("cannot poll a child process")?;
        if status.is_some() {
            self.forget();
        }
        Ok(status)
    }

    /// Waits for the leader to exit.
    pub fn wait(&mut self) -> Result<ExitStatus> {
        let status = self
            .child
            .wait()
            .context("cannot wait for a child process")?;
        self.forget();
        Ok(status)
    }

    /// Stops the whole group: SIGTERM, then SIGKILL after a grace period.
    pub fn stop(&mut self) {
        if self.running {
            stop_group(self.group);
            self.forget();
        }
    }

    /// Removes the group from the live list once its leader is gone.
    fn forget(&mut self) {
        self.running = false;
        live_groups().retain(|group| *group != self.group);
    }
}

impl Drop for GroupChild {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends SIGTERM to `group`, reaps its leader, and sends SIGKILL to whatever
/// is left after [`GRACE_PERIOD`].
fn stop_group(group: Pid) {
    if killpg(group, Signal::SIGTERM) == Err(Errno::ESRCH) {
        return;
    }
    let deadline = Instant::now() + GRACE_PERIOD;
    while Instant::now() < deadline {
        // The leader is our child: reap it, or it stays in the group as a zombie.
        let _ = waitpid(group, Some(WaitPidFlag::WNOHANG));
        if killpg(group, None) == Err(Errno::ESRCH) {
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let _ = killpg(group, Signal::SIGKILL);
    let _ = waitpid(group, None);
}

/// CPU time (user and system) used so far by the live processes of each
/// process group of `groups`, in seconds, from one pass over
/// `/proc/<pid>/stat` (Linux; clock ticks of USER_HZ, 100 on every Linux
/// ABI). A process that exited is no longer counted, so take both readings
/// while the groups run.
pub fn groups_cpu_seconds(groups: &[i32]) -> Result<Vec<f64>> {
    let mut ticks = vec![0_u64; groups.len()];
    for entry in std::fs::read_dir("/proc").context("cannot list /proc")? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // Gone between the listing and the read: not counted.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((process_group, used)) = group_and_cpu_ticks(&stat)
            && let Some(at) = groups.iter().position(|group| *group == process_group)
        {
            ticks[at] += used;
        }
    }
    #[allow(clippy::cast_precision_loss)]
    Ok(ticks.into_iter().map(|used| used as f64 / 100.0).collect())
}

/// `(pgrp, utime + stime)` from one `/proc/<pid>/stat` line. The command
/// name (field 2) is in parentheses and may hold spaces, so fields are
/// counted from its closing parenthesis.
fn group_and_cpu_ticks(stat: &str) -> Option<(i32, u64)> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: state (3), ppid (4), pgrp (5), ... utime (14), stime (15).
    let group = fields.get(2)?.parse().ok()?;
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some((group, user + system))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_its_group_and_cpu_ticks() {
        let stat = "4242 (moto server) S 1 4240 4240 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 3 0 99 1000 200";
        assert_eq!(group_and_cpu_ticks(stat), Some((4240, 281)));
        assert_eq!(group_and_cpu_ticks("garbage"), None);
        // This process's own group is counted (at least zero seconds).
        let own = nix::unistd::getpgrp().as_raw();
        let used = groups_cpu_seconds(&[own, -1]).expect("reads /proc");
        assert_eq!(used.len(), 2);
        assert!(used[0] >= 0.0);
        assert_eq!(used[1], 0.0, "no process is in group -1");
    }

    #[test]
    fn stopping_a_child_stops_its_whole_group() {
        // The shell starts a grandchild in the same group and waits on it.
        let mut child =
            GroupChild::spawn(Command::new("sh").args(["-c", "sleep 600 & wait"])).unwrap();
        let group = child.group;
        assert!(live_groups().contains(&group));
        child.stop();
        assert_eq!(
            killpg(group, None),
            Err(Errno::ESRCH),
            "group still has members"
        );
        assert!(!live_groups().contains(&group));
    }

    #[test]
    fn the_interrupt_handler_can_be_asked_for_twice() {
        // `cargo xtask bench` asks, then starts a local cloud, which asks again.
        stop_all_on_interrupt().unwrap();
        stop_all_on_interrupt().unwrap();
    }

    #[test]
    fn a_child_that_exits_is_forgotten() {
        let mut child = GroupChild::spawn(&mut Command::new("true")).unwrap();
        let group = child.group;
        assert!(child.wait().unwrap().success());
        assert!(!live_groups().contains(&group));
    }
}

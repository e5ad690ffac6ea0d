//! One CPU for SQLite's writer thread and its connection's thread.
//!
//! Every statement of a write is a hand-off from the writer thread to the thread of the
//! connection (sqlx runs each SQLite connection on a thread of its own) and back. With the two
//! on different CPUs, each hand-off wakes the other CPU, which has gone idle meanwhile; on a
//! virtual machine whose idle CPUs halt at once, as this project's benchmark machine's do, each
//! of those wake-ups is an exit to the hypervisor. On one CPU a hand-off is a plain switch
//! between two threads: reset went from 2,500-2,900 to 5,900-7,400 requests/s (BENCHMARKS.md,
//! session 9). A thread starts with the CPUs of the thread that spawns it, which is how the
//! connection's thread gets its CPU (see `db::connect`).

use std::sync::OnceLock;

/// The CPU SQLite's writer pair shares: the last one this process may run on (on this 2-core
/// machine either measured alike), chosen once. `None` where threads cannot be pinned.
pub fn sqlite_writer_cpu() -> Option<usize> {
    static CPU: OnceLock<Option<usize>> = OnceLock::new();
    *CPU.get_or_init(platform::last_allowed_cpu)
}

/// Runs `work` to its end on a thread of its own, with a single-threaded runtime of its own,
/// on `cpu` alone (anywhere when `None` or when pinning fails: the work is the same, only the
/// hand-offs are slower).
pub fn run_on(
    name: &str,
    cpu: Option<usize>,
    work: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            if let Some(cpu) = cpu
                && let Err(error) = platform::pin_current_thread(cpu)
            {
                log::warn!("could not keep a thread on CPU {cpu}: {error}");
            }
            runtime.block_on(work);
        })
        .map(drop)
}

#[cfg(target_os = "linux")]
mod platform {
    use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
    use nix::unistd::Pid;

    /// The calling thread (a process id of 0 names it to the scheduler calls).
    fn this_thread() -> Pid {
        Pid::from_raw(0)
    }

    pub fn last_allowed_cpu() -> Option<usize> {
        let allowed = sched_getaffinity(this_thread()).ok()?;
        (0..CpuSet::count())
            .rev()
            .find(|&cpu| allowed.is_set(cpu).unwrap_or(false))
    }

    pub fn pin_current_thread(cpu: usize) -> nix::Result<()> {
        let mut only = CpuSet::new();
        only.set(cpu)?;
        sched_setaffinity(this_thread(), &only)
    }
}

#[cfg(not(target_os = "linux"))]
mod platform {
    pub fn last_allowed_cpu() -> Option<usize> {
        None
    }

    pub fn pin_current_thread(_cpu: usize) -> std::io::Result<()> {
        Ok(())
    }
}

//! One CPU for SQLite's writer thread and its connection's thread, and one for each HTTP worker
//! and its SQLite readers' threads.
//!
//! Every statement of a write is a hand-off from the writer thread to the thread of the
//! connection (sqlx runs each SQLite connection on a thread of its own) and back. With the two
//! on different CPUs, each hand-off wakes the other CPU, which has gone idle meanwhile; on a
//! virtual machine whose idle CPUs halt at once, as this project's benchmark machine's do, each
//! of those wake-ups is an exit to the hypervisor. On one CPU a hand-off is a plain switch
//! between two threads: reset went from 2,500-2,900 to 5,900-7,400 requests/s (BENCHMARKS.md,
//! session 9). A thread starts with the CPUs of the thread that spawns it, which is how the
//! connection's thread gets its CPU (see `db::connect`). Reads are the same chain, shorter: an
//! HTTP worker hands each query to a reader connection's thread, which gets the worker's CPU by
//! opening from the worker's thread (see `db::worker_readers`): reads 20-40% faster
//! (BENCHMARKS.md, session 12). `PIN_THREADS=false` (`Settings::pin_threads`) turns all of it
//! off, for a machine whose other work keeps a CPU busy.

use std::num::NonZeroUsize;
use std::sync::OnceLock;

/// The CPU SQLite's writer pair shares: the last one this process may run on (on this 2-core
/// machine either measured alike), chosen once. `None` where threads cannot be pinned.
pub fn sqlite_writer_cpu() -> Option<usize> {
    static CPU: OnceLock<Option<usize>> = OnceLock::new();
    *CPU.get_or_init(|| platform::allowed_cpus().last().copied())
}

/// How many CPUs the process may use (its affinity and CPU quota: `available_parallelism`),
/// read once, before any thread here is pinned: on a pinned thread the standard library
/// would answer 1, and the hashing threads and search readers sized from it would be too few.
pub fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, NonZeroUsize::get))
}

/// Keeps the calling thread, the HTTP worker numbered `index` (from 0), on one CPU of those the
/// process may use, the workers taking them in turn. Where threads cannot be pinned it runs
/// anywhere, with slower hand-offs.
pub fn pin_http_worker(index: usize) {
    cores(); // read while this thread may still use every CPU
    let cpus = platform::allowed_cpus();
    if cpus.is_empty() {
        return;
    }
    let cpu = cpus[index % cpus.len()];
    if let Err(error) = platform::pin_current_thread(cpu) {
        log::warn!("could not keep HTTP worker {index} on CPU {cpu}: {error}");
    }
}

/// Lets the calling thread run on every CPU the process may use (those of its main thread),
/// whichever thread started it: a thread started by a pinned HTTP worker would otherwise be
/// kept on the worker's CPU.
pub fn unpin_current_thread() {
    if let Err(error) = platform::unpin_current_thread() {
        log::warn!("could not let a thread use every CPU: {error}");
    }
}

/// Runs `work` to its end on a thread of its own, with a single-threaded runtime of its own,
/// on `cpu` alone (anywhere when `None` or when pinning fails: the work is the same, only the
/// hand-offs are slower).
pub fn run_on(
    name: &str,
    cpu: Option<usize>,
    work: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    cores(); // read before the thread below is pinned
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

    /// The CPUs this thread may run on, in order (none when they cannot be read).
    pub fn allowed_cpus() -> Vec<usize> {
        let Ok(allowed) = sched_getaffinity(this_thread()) else {
            return Vec::new();
        };
        (0..CpuSet::count())
            .filter(|&cpu| allowed.is_set(cpu).unwrap_or(false))
            .collect()
    }

    pub fn pin_current_thread(cpu: usize) -> nix::Result<()> {
        let mut only = CpuSet::new();
        only.set(cpu)?;
        sched_setaffinity(this_thread(), &only)
    }

    pub fn unpin_current_thread() -> nix::Result<()> {
        // The process id names the main thread, which nothing pins.
        let process = sched_getaffinity(Pid::this())?;
        sched_setaffinity(this_thread(), &process)
    }
}

#[cfg(not(target_os = "linux"))]
mod platform {
    pub fn allowed_cpus() -> Vec<usize> {
        Vec::new()
    }

    pub fn pin_current_thread(_cpu: usize) -> std::io::Result<()> {
        Ok(())
    }

    pub fn unpin_current_thread() -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// What the HTTP workers' readers rely on: a thread started by a pinned worker (as sqlx
    /// starts a connection's thread) runs on the worker's CPU alone, and workers take the
    /// allowed CPUs in turn.
    #[test]
    fn threads_a_pinned_worker_starts_share_its_cpu() {
        let allowed = platform::allowed_cpus();
        assert!(!allowed.is_empty(), "this thread's CPUs are readable");
        for index in [0, 1, allowed.len() + 1] {
            let inherited = std::thread::spawn(move || {
                pin_http_worker(index);
                std::thread::spawn(platform::allowed_cpus)
                    .join()
                    .expect("the connection-like thread")
            })
            .join()
            .expect("the worker-like thread");
            assert_eq!(
                inherited,
                vec![allowed[index % allowed.len()]],
                "worker {index}"
            );
        }
    }

    /// The password hashing threads start from whichever thread hashes first, an HTTP worker
    /// among them: they must run on every CPU all the same.
    #[test]
    fn an_unpinned_thread_started_by_a_pinned_worker_uses_every_cpu() {
        let process = platform::allowed_cpus();
        let unpinned = std::thread::spawn(|| {
            pin_http_worker(0);
            std::thread::spawn(|| {
                unpin_current_thread();
                platform::allowed_cpus()
            })
            .join()
            .expect("the hashing-like thread")
        })
        .join()
        .expect("the worker-like thread");
        assert_eq!(unpinned, process);
    }
}

//! Requests that could only run one after another run together instead: those that arrive while
//! one batch of their key runs wait, and go together in the next batch.
//!
//! One caller's resets of one organization's link are such requests: each replaces the link
//! the one before made, so in the database they take turns on the organization's row, and on
//! PostgreSQL each waits out the one before's commit and the wake-up of its backend (952-1,969
//! resets/s from 32 clients, by the day; `BENCHMARKS.md`). A batch does the waiting ones' work in one
//! transaction, in the order they arrived, and each gets its own answer, as if they had run one
//! after another.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::future::Future;
use std::hash::Hash;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::FutureExt;
use tokio::sync::oneshot;

/// The most requests one batch takes: a bound on how long the first of them waits.
const MAX_BATCH: usize = 64;

/// The requests of each key waiting for their batch; shared by every HTTP worker.
pub struct Batches<K, R, A> {
    /// A key is here while a task runs its batches, with the requests waiting for the next.
    waiting: Mutex<HashMap<K, Vec<Waiting<R, A>>>>,
}

/// A request and where its answer goes.
struct Waiting<R, A> {
    request: R,
    answer: oneshot::Sender<A>,
}

impl<R, A> Waiting<R, A> {
    /// Whether its request has gone (the client hung up): its work need not be done.
    fn abandoned(&self) -> bool {
        self.answer.is_closed()
    }
}

impl<K, R, A> Default for Batches<K, R, A> {
    fn default() -> Self {
        Self {
            waiting: Mutex::new(HashMap::new()),
        }
    }
}

impl<K, R, A> Batches<K, R, A> {
    fn lock(&self) -> MutexGuard<'_, HashMap<K, Vec<Waiting<R, A>>>> {
        // Nothing panics while holding it; if something did, the map is still whole.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<K, R, A> Batches<K, R, A>
where
    K: Hash + Eq + Clone + Send + 'static,
    R: Send + 'static,
    A: Send + 'static,
{
    /// Adds `request` to `key`'s next batch and waits for its answer. If no batch of `key` is
    /// running, starts a task on this runtime that runs them through `run` until none waits;
    /// `run` answers a batch's requests in their order. `None` when the batch ended without an
    /// answer for it (`run` panicked or answered too few).
    pub async fn join<F, Run>(self: &Arc<Self>, key: K, request: R, run: Run) -> Option<A>
    where
        Run: Fn(Vec<R>) -> F + Send + 'static,
        F: Future<Output = Vec<A>> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let waiting = Waiting { request, answer };
        // A key absent from the map has no task running its batches.
        let starts = match self.lock().entry(key.clone()) {
            Entry::Occupied(mut queue) => {
                queue.get_mut().push(waiting);
                false
            }
            Entry::Vacant(queue) => {
                queue.insert(vec![waiting]);
                true
            }
        };
        if starts {
            let running = Running {
                batches: Arc::clone(self),
                key,
                done: false,
            };
            tokio::spawn(running.drain(run));
        }
        answered.await.ok()
    }

    /// Takes the next batch of `key`, or, when none waits, ends its run (removes the key).
    fn next_batch(&self, key: &K) -> Option<Vec<Waiting<R, A>>> {
        let mut waiting = self.lock();
        let queue = waiting.get_mut(key)?;
        queue.retain(|waiting| !waiting.abandoned());
        if queue.is_empty() {
            waiting.remove(key);
            return None;
        }
        let rest = queue.split_off(queue.len().min(MAX_BATCH));
        Some(std::mem::replace(queue, rest))
    }
}

/// The task running one key's batches.
struct Running<K: Hash + Eq, R, A> {
    batches: Arc<Batches<K, R, A>>,
    key: K,
    /// Set when the run ended by removing its key, so that dropping it removes nothing.
    done: bool,
}

impl<K, R, A> Running<K, R, A>
where
    K: Hash + Eq + Clone + Send + 'static,
    R: Send + 'static,
    A: Send + 'static,
{
    async fn drain<F, Run>(mut self, run: Run)
    where
        Run: Fn(Vec<R>) -> F,
        F: Future<Output = Vec<A>>,
    {
        while let Some(batch) = self.batches.next_batch(&self.key) {
            let (requests, answers): (Vec<R>, Vec<_>) = batch
                .into_iter()
                .map(|waiting| (waiting.request, waiting.answer))
                .unzip();
            // A panic leaves its batch unanswered (each learns so) and the key runnable.
            let results = AssertUnwindSafe(run(requests))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| {
                    log::error!("a batch of requests panicked");
                    Vec::new()
                });
            for (answer, result) in answers.into_iter().zip(results) {
                let _ = answer.send(result);
            }
        }
        self.done = true;
    }
}

impl<K: Hash + Eq, R, A> Drop for Running<K, R, A> {
    /// A run stopped before its end (its runtime shut down) lets the requests still waiting
    /// learn that they will get no answer, and the next request of the key start a new run.
    fn drop(&mut self) {
        if !self.done {
            self.batches.lock().remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    type Doubling = Batches<u8, u32, (u32, usize)>;

    /// Answers each request with its double and the size of the batch it ran in, after `pause`.
    fn doubling(
        pause: Duration,
    ) -> impl Fn(Vec<u32>) -> futures_util::future::BoxFuture<'static, Vec<(u32, usize)>> {
        move |requests| {
            Box::pin(async move {
                tokio::time::sleep(pause).await;
                let size = requests.len();
                requests.into_iter().map(|n| (n * 2, size)).collect()
            })
        }
    }

    #[tokio::test]
    async fn each_request_gets_its_own_answer() {
        let batches = Arc::new(Doubling::default());
        let answer = batches.join(1, 21, doubling(Duration::ZERO)).await;
        assert_eq!(answer, Some((42, 1)));
        assert!(
            batches.lock().is_empty(),
            "a finished run leaves no key behind"
        );
    }

    /// How many requests of `key` wait for its next batch; `None` when no batch of it runs.
    fn waiting(batches: &Doubling, key: u8) -> Option<usize> {
        batches.lock().get(&key).map(Vec::len)
    }

    async fn until(condition: impl Fn() -> bool) {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// `doubling` whose batches each wait for a permit of `gate`, so a test decides when one ends.
    fn gated(
        gate: Arc<tokio::sync::Semaphore>,
    ) -> impl Fn(Vec<u32>) -> futures_util::future::BoxFuture<'static, Vec<(u32, usize)>> + Clone
    {
        move |requests| {
            let gate = Arc::clone(&gate);
            Box::pin(async move {
                gate.acquire().await.expect("never closed").forget();
                doubling(Duration::ZERO)(requests).await
            })
        }
    }

    /// Joins `n` to key 1's batches on a task of its own.
    fn join_gated(
        batches: &Arc<Doubling>,
        gate: &Arc<tokio::sync::Semaphore>,
        n: u32,
    ) -> tokio::task::JoinHandle<Option<(u32, usize)>> {
        let (batches, run) = (Arc::clone(batches), gated(Arc::clone(gate)));
        tokio::spawn(async move { batches.join(1, n, run).await })
    }

    #[tokio::test]
    async fn requests_waiting_during_a_batch_run_together_in_order() {
        let batches = Arc::new(Doubling::default());
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let join = |n| join_gated(&batches, &gate, n);
        let first = join(1);
        until(|| waiting(&batches, 1) == Some(0)).await;
        let later: Vec<_> = (2..=4).map(join).collect();
        until(|| waiting(&batches, 1) == Some(3)).await;
        gate.add_permits(2);
        assert_eq!(first.await.expect("first"), Some((2, 1)));
        // Were the three not one batch, a third batch would wait for a permit that never comes.
        let answers = tokio::time::timeout(
            Duration::from_secs(5),
            futures_util::future::join_all(later),
        )
        .await
        .expect("two batches answered everyone");
        let answers: Vec<_> = answers
            .into_iter()
            .map(|answer| answer.expect("later"))
            .collect();
        assert_eq!(answers, [Some((4, 3)), Some((6, 3)), Some((8, 3))]);
        assert_eq!(
            waiting(&batches, 1),
            None,
            "the run ended with its last batch"
        );
    }

    #[tokio::test]
    async fn a_request_gone_before_its_batch_is_left_out() {
        let batches = Arc::new(Doubling::default());
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let first = join_gated(&batches, &gate, 1);
        until(|| waiting(&batches, 1) == Some(0)).await;
        let gone = join_gated(&batches, &gate, 2);
        let stays = join_gated(&batches, &gate, 3);
        until(|| waiting(&batches, 1) == Some(2)).await;
        gone.abort();
        assert!(gone.await.is_err_and(|error| error.is_cancelled()));
        gate.add_permits(2);
        assert_eq!(first.await.expect("first"), Some((2, 1)));
        let stayed = tokio::time::timeout(Duration::from_secs(5), stays)
            .await
            .expect("answered")
            .expect("joined");
        assert_eq!(
            stayed,
            Some((6, 1)),
            "its batch held the waiting request alone"
        );
    }

    #[tokio::test]
    async fn keys_run_apart() {
        let batches = Arc::new(Doubling::default());
        let pause = Duration::from_millis(30);
        let (one, two) = tokio::join!(
            batches.join(1, 5, doubling(pause)),
            batches.join(2, 6, doubling(pause))
        );
        assert_eq!((one, two), (Some((10, 1)), Some((12, 1))));
    }

    #[tokio::test]
    async fn a_panicking_batch_answers_none_and_the_key_runs_again() {
        let batches = Arc::new(Doubling::default());
        let panicking =
            |_: Vec<u32>| -> futures_util::future::BoxFuture<'static, Vec<(u32, usize)>> {
                Box::pin(async { panic!("broken batch") })
            };
        assert_eq!(batches.join(1, 1, panicking).await, None);
        let answer = batches.join(1, 2, doubling(Duration::ZERO)).await;
        assert_eq!(answer, Some((4, 1)));
    }
}

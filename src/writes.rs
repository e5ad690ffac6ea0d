//! Transactions for requests that change something.
//!
//! On PostgreSQL and MariaDB each is a database transaction of its own. On SQLite, one connection
//! does all the writing, and each commit waits for its write-ahead log to reach the disk (about
//! 0.3 ms here) while every other writer waits too. So there one writer thread runs every write,
//! in groups: the requests waiting when a transaction begins are its members, each runs in turn
//! (all but the first in a savepoint of its own), one COMMIT and fsync serve them all, and each
//! learns its outcome only then. None is answered before its change is durable, and a member's
//! failure undoes its own changes alone. The thread runs on the same CPU as the writer
//! connection's thread, which it hands every statement to (see `crate::affinity`).

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, TransactionError,
    TransactionTrait,
};
use tokio::sync::{mpsc, oneshot};

use crate::affinity;
use crate::request_context::{self, RequestContext};

/// Runs write transactions; cheap to clone.
#[derive(Clone)]
pub struct Writes(Route);

#[derive(Clone)]
enum Route {
    /// A transaction of its own on the pool (PostgreSQL, MariaDB).
    Alone(DatabaseConnection),
    /// The queue of the SQLite writer thread.
    Grouped(mpsc::UnboundedSender<Box<dyn Job>>),
}

/// The most members a group takes before it commits: a bound on how long the first waits.
const MAX_GROUP: usize = 64;

impl Writes {
    /// Transactions on `db`: grouped by a writer thread when it is SQLite's single writer
    /// connection, each on its own otherwise. On SQLite, starts the writer on a thread of its
    /// own, on `cpu` (that of the connection's thread: `db::sqlite_writer_cpu`); it ends when
    /// the last clone of the returned value is dropped.
    pub fn new(db: DatabaseConnection, cpu: Option<usize>) -> std::io::Result<Self> {
        match db.get_database_backend() {
            DbBackend::Sqlite => Self::grouped(db, cpu),
            _ => Ok(Self(Route::Alone(db))),
        }
    }

    fn grouped(db: DatabaseConnection, cpu: Option<usize>) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::unbounded_channel();
        affinity::run_on("sqlite-writer", cpu, run_writer(db, queue))?;
        Ok(Self(Route::Grouped(jobs)))
    }

    /// Runs `work` in a transaction, committed when `work` succeeds and rolled back when it
    /// fails. On SQLite `work` runs on the writer thread: a request that goes away before its
    /// turn writes nothing, and one that goes away during it is written whole.
    pub async fn run<T, E, W>(&self, work: W) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbErr> + std::fmt::Display + std::fmt::Debug + Send + 'static,
        W: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<T, E>> + Send + 'static,
    {
        match &self.0 {
            Route::Alone(db) => db.transaction(work).await.map_err(|error| match error {
                TransactionError::Connection(error) => error.into(),
                TransactionError::Transaction(error) => error,
            }),
            Route::Grouped(jobs) => {
                let (reply, answer) = oneshot::channel();
                let job = Queued {
                    work,
                    reply,
                    context: request_context::current(),
                };
                jobs.send(Box::new(job)).map_err(|_| writer_stopped())?;
                answer.await.map_err(|_| writer_stopped())?
            }
        }
    }
}

fn writer_stopped() -> DbErr {
    DbErr::Custom("the database writer has stopped".into())
}

/// A request's work waiting for its turn, the type of its answer erased.
trait Job: Send {
    /// Its request has gone before its turn: nothing of it need be written.
    fn abandoned(&self) -> bool;
    /// Answers with `error` instead of running.
    fn refuse(self: Box<Self>, error: DbErr);
    fn run<'t>(self: Box<Self>, txn: &'t DatabaseTransaction) -> BoxFuture<'t, Box<dyn Ran>>;
}

/// A job that has run, holding its answer until its group has ended.
trait Ran: Send {
    fn succeeded(&self) -> bool;
    /// Answers the request: its own result, unless that was a success the group's `commit`
    /// then lost.
    fn answer(self: Box<Self>, commit: &Result<(), String>);
}

struct Queued<W, T, E> {
    work: W,
    reply: oneshot::Sender<Result<T, E>>,
    /// The request's id and client address, which the audit entries the work records carry.
    context: Option<RequestContext>,
}

impl<W, T, E> Job for Queued<W, T, E>
where
    T: Send + 'static,
    E: From<DbErr> + Send + 'static,
    W: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<T, E>> + Send + 'static,
{
    fn abandoned(&self) -> bool {
        self.reply.is_closed()
    }

    fn refuse(self: Box<Self>, error: DbErr) {
        let _ = self.reply.send(Err(error.into()));
    }

    fn run<'t>(self: Box<Self>, txn: &'t DatabaseTransaction) -> BoxFuture<'t, Box<dyn Ran>> {
        let Queued {
            work,
            reply,
            context,
        } = *self;
        Box::pin(async move {
            // A panic fails this write alone instead of ending the writer.
            let result = AssertUnwindSafe(request_context::within(context, work(txn)))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| {
                    log::error!("a write panicked; its changes are rolled back");
                    Err(DbErr::Custom("the write failed unexpectedly".into()).into())
                });
            Box::new(Answer { result, reply }) as Box<dyn Ran>
        })
    }
}

struct Answer<T, E> {
    result: Result<T, E>,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<T: Send, E: From<DbErr> + Send> Ran for Answer<T, E> {
    fn succeeded(&self) -> bool {
        self.result.is_ok()
    }

    fn answer(self: Box<Self>, commit: &Result<(), String>) {
        let answer = match (self.result, commit) {
            (Ok(_), Err(message)) => Err(DbErr::Custom(message.clone()).into()),
            (result, _) => result,
        };
        let _ = self.reply.send(answer);
    }
}

/// The SQLite writer: runs whoever is waiting, group after group.
async fn run_writer(db: DatabaseConnection, mut queue: mpsc::UnboundedReceiver<Box<dyn Job>>) {
    while let Some(first) = queue.recv().await {
        run_group(&db, first, &mut queue).await;
    }
}

/// Runs `first` and the jobs queued behind it in one transaction, commits, and answers them.
async fn run_group(
    db: &DatabaseConnection,
    first: Box<dyn Job>,
    queue: &mut mpsc::UnboundedReceiver<Box<dyn Job>>,
) {
    let group = match db.begin().await {
        Ok(group) => group,
        Err(error) => return first.refuse(error),
    };
    let mut ran = Vec::new();
    let mut taken = 0;
    let mut end = End::Commit;
    let mut next = Some(first);
    while let Some(job) = next.take() {
        taken += 1;
        if !job.abandoned() {
            // Until one succeeds the transaction holds nothing: a failure rolls it all back.
            match turn(&group, job, ran.is_empty()).await {
                Turn::Succeeded(done) => ran.push(done),
                Turn::Ended(how) => {
                    end = how;
                    break;
                }
            }
        }
        if taken < MAX_GROUP {
            next = queue.try_recv().ok();
        }
    }
    let commit = match end {
        End::Commit => group.commit().await.map_err(|error| error.to_string()),
        End::Rollback(reason) => {
            let _ = group.rollback().await;
            Err(reason.to_owned())
        }
    };
    if let Err(message) = &commit
        && !ran.is_empty()
    {
        log::error!("a group of {} writes failed: {message}", ran.len());
    }
    for done in ran {
        done.answer(&commit);
    }
}

enum Turn {
    Succeeded(Box<dyn Ran>),
    /// The group ends here, and how.
    Ended(End),
}

enum End {
    Commit,
    Rollback(&'static str),
}

/// Savepoints nest: each member's opens inside the one before, and a rollback to the name
/// undoes the latest member's changes alone. None is released: the group's COMMIT commits them,
/// and a release would cost a hand-off and change nothing.
const OPEN_TURN: &str = "SAVEPOINT group_member";
const UNDO_TURN: &str = "ROLLBACK TO group_member";

/// Runs one member: the first without a savepoint (rolling the transaction back undoes it
/// alone), each later one in a savepoint of its own.
async fn turn(group: &DatabaseTransaction, job: Box<dyn Job>, first: bool) -> Turn {
    if !first && let Err(error) = group.execute_unprepared(OPEN_TURN).await {
        job.refuse(error);
        return Turn::Ended(End::Rollback(
            "a savepoint for a member of the group could not be opened",
        ));
    }
    let done = job.run(group).await;
    if done.succeeded() {
        return Turn::Succeeded(done);
    }
    done.answer(&Ok(()));
    if first {
        return Turn::Ended(End::Rollback("nothing to commit"));
    }
    match group.execute_unprepared(UNDO_TURN).await {
        // SQLite rolls a whole transaction back on some errors (disk full, I/O), after which
        // the savepoints are gone too: the group commits at once, so that such a loss fails the
        // commit instead of going unseen under the next member's savepoint (which would open a
        // new transaction).
        Ok(_) => Turn::Ended(End::Commit),
        Err(error) => {
            log::error!("a failed write could not be rolled back alone: {error}");
            Turn::Ended(End::Rollback(
                "a failed member of the group could not be rolled back alone",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sea_orm::{ConnectOptions, Database, Statement};

    use super::*;

    async fn database() -> DatabaseConnection {
        let mut options = ConnectOptions::new("sqlite::memory:");
        options.max_connections(1).sqlx_logging(false);
        let db = Database::connect(options).await.expect("in-memory SQLite");
        db.execute_unprepared("CREATE TABLE notes (text TEXT NOT NULL)")
            .await
            .expect("table");
        db
    }

    async fn write(txn: &DatabaseTransaction, text: &str) -> Result<(), DbErr> {
        txn.execute_unprepared(&format!("INSERT INTO notes VALUES ('{text}')"))
            .await
            .map(drop)
    }

    /// Writes `text`, then fails when `fail` says so, as a request refused after writing does.
    fn note(
        writes: &Writes,
        text: &'static str,
        fail: bool,
    ) -> tokio::task::JoinHandle<Result<(), DbErr>> {
        spawn_write(writes, move |txn| {
            Box::pin(async move {
                write(txn, text).await?;
                if fail {
                    return Err(DbErr::Custom(format!("{text} refused")));
                }
                Ok(())
            })
        })
    }

    /// Runs `work` through `writes` on a task of its own, as a request does.
    fn spawn_write<W>(writes: &Writes, work: W) -> tokio::task::JoinHandle<Result<(), DbErr>>
    where
        W: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<(), DbErr>>
            + Send
            + 'static,
    {
        let writes = writes.clone();
        tokio::spawn(async move { writes.run(work).await })
    }

    async fn notes(db: &DatabaseConnection) -> Vec<String> {
        let rows = db
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT text FROM notes ORDER BY text",
            ))
            .await
            .expect("select");
        rows.iter()
            .map(|row| row.try_get_by_index(0).expect("text"))
            .collect()
    }

    fn pause() -> tokio::time::Sleep {
        tokio::time::sleep(Duration::from_millis(30))
    }

    /// Three requests in one group: the first is answered only once the group commits, after
    /// the second has finished; the third fails and loses its change alone.
    #[tokio::test]
    async fn a_group_commits_together_and_a_failed_member_rolls_back_alone() {
        let db = database().await;
        let writes = Writes::grouped(db.clone(), None).expect("writer");
        // Someone else holds the writer connection, so the three queue, in this order.
        let busy = db.begin().await.expect("writer connection");
        let first = note(&writes, "first", false);
        pause().await;
        let (finish_second, second_may_finish) = oneshot::channel::<()>();
        let second = spawn_write(&writes, move |txn| {
            Box::pin(async move {
                write(txn, "second").await?;
                let _ = second_may_finish.await;
                Ok::<_, DbErr>(())
            })
        });
        pause().await;
        let third = note(&writes, "third", true);
        pause().await;
        busy.commit()
            .await
            .expect("the writer connection is free again");
        pause().await;
        assert!(
            !first.is_finished(),
            "the first is answered before its group committed"
        );
        finish_second.send(()).expect("second waits");
        first.await.expect("task").expect("first commits");
        second.await.expect("task").expect("second commits");
        let refused = third.await.expect("task").expect_err("third fails");
        assert_eq!(
            refused.to_string(),
            DbErr::Custom("third refused".into()).to_string()
        );
        assert_eq!(notes(&db).await, ["first", "second"]);

        // The writer goes on with the next group.
        note(&writes, "later", false)
            .await
            .expect("task")
            .expect("later commits");
        assert_eq!(notes(&db).await, ["first", "later", "second"]);
    }

    /// The first member runs without a savepoint: when it fails, the transaction is rolled back
    /// and the members behind it commit in the next group.
    #[tokio::test]
    async fn a_failed_first_member_takes_nothing_with_it() {
        let db = database().await;
        let writes = Writes::grouped(db.clone(), None).expect("writer");
        let busy = db.begin().await.expect("writer connection");
        let first = note(&writes, "first", true);
        pause().await;
        let second = note(&writes, "second", false);
        pause().await;
        busy.commit().await.expect("free");
        first.await.expect("task").expect_err("first fails");
        second.await.expect("task").expect("second commits");
        assert_eq!(notes(&db).await, ["second"]);
    }

    /// A panic in one write fails it alone; the writer and the rest of its group go on.
    #[tokio::test]
    async fn a_panicking_write_fails_alone() {
        let db = database().await;
        let writes = Writes::grouped(db.clone(), None).expect("writer");
        let busy = db.begin().await.expect("writer connection");
        let first = note(&writes, "first", false);
        pause().await;
        let panicking = spawn_write(&writes, move |txn| {
            Box::pin(async move {
                write(txn, "panicked").await?;
                if txn.get_database_backend() == DbBackend::Sqlite {
                    panic!("a bug in a write");
                }
                Ok::<_, DbErr>(())
            })
        });
        pause().await;
        busy.commit().await.expect("free");
        first.await.expect("task").expect("first commits");
        panicking
            .await
            .expect("task")
            .expect_err("the panicking write fails");
        note(&writes, "after", false)
            .await
            .expect("task")
            .expect("the writer goes on");
        assert_eq!(notes(&db).await, ["after", "first"]);
    }

    /// Work done on the writer thread still belongs to its request: audit entries carry its id.
    #[tokio::test]
    async fn the_work_sees_its_requests_context() {
        let db = database().await;
        let writes = Writes::grouped(db, None).expect("writer");
        let context = RequestContext {
            id: "request-42".into(),
            client_address: Some("192.0.2.1".into()),
        };
        let seen = request_context::within(
            Some(context),
            writes.run(|_txn| {
                Box::pin(async {
                    Ok::<_, DbErr>((
                        request_context::current_id(),
                        request_context::client_address(),
                    ))
                })
            }),
        )
        .await
        .expect("runs");
        assert_eq!(seen, (Some("request-42".into()), Some("192.0.2.1".into())));
    }

    /// A request that goes away before its turn writes nothing; one that goes away during its
    /// turn is written whole, as if it had waited for the answer.
    #[tokio::test]
    async fn a_request_that_goes_away_writes_whole_or_not_at_all() {
        let db = database().await;
        let writes = Writes::grouped(db.clone(), None).expect("writer");
        let busy = db.begin().await.expect("writer connection");
        let gone_before = note(&writes, "gone before its turn", false);
        pause().await;
        gone_before.abort();
        let (finish, may_finish) = oneshot::channel::<()>();
        let (started, turn_started) = oneshot::channel::<()>();
        let gone_during = spawn_write(&writes, move |txn| {
            Box::pin(async move {
                write(txn, "gone during its turn").await?;
                let _ = started.send(());
                let _ = may_finish.await;
                write(txn, "gone during its turn, second half").await
            })
        });
        busy.commit().await.expect("free");
        turn_started.await.expect("its turn starts");
        gone_during.abort();
        finish.send(()).expect("the work still waits");
        note(&writes, "after", false)
            .await
            .expect("task")
            .expect("later commits");
        assert_eq!(
            notes(&db).await,
            [
                "after",
                "gone during its turn",
                "gone during its turn, second half"
            ]
        );
    }

    /// Many concurrent writers: every acknowledged change is there.
    #[tokio::test]
    async fn every_acknowledged_change_of_a_burst_is_stored() {
        let db = database().await;
        let writes = Writes::grouped(db.clone(), None).expect("writer");
        let texts: Vec<&'static str> = (0..100)
            .map(|n| &*Box::leak(format!("{n:03}").into_boxed_str()))
            .collect();
        let burst = texts.iter().map(|text| note(&writes, text, false));
        for done in futures_util::future::join_all(burst).await {
            done.expect("task").expect("commit");
        }
        assert_eq!(notes(&db).await, texts);
    }
}

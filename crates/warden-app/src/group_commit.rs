//! Group commit of single reports (issue 14): concurrent `POST /api/reports` (and X-ARF)
//! requests share write transactions, and "acknowledged" still means "committed".
//!
//! Why: every intake transaction appends to the audit chain, whose head is one row, so write
//! transactions take turns — on SQLite behind the store's write lock, on PostgreSQL behind
//! `FOR UPDATE` on the head — and one report per transaction is bounded by the latency of a
//! commit (an fsync on PostgreSQL). [`App::store_reports`] stores any number of reports with a
//! fixed number of statements, so sixteen reports cost a transaction little more than one.
//!
//! How: a request is checked completely where it arrives — the rate limit, the role, every
//! field — so that each problem stays its own request's, before anything is queued. The valid
//! report goes with a one-shot reply into a bounded queue. A writer task takes what is waiting
//! (at most `max_group`; it waits for more only if `linger_ms` says so, so a lone request is
//! not delayed: a group is whatever arrived while the previous commit ran), stores it in one
//! transaction through `store_reports`, commits, and only then answers each waiter with its
//! receipt. `store_reports` treats the group as reports stored one after another, each by its
//! own principal, so every receipt is the one a transaction of its own would have given:
//! two reports of one target correlate into one case (INT-4), a detector's sure detection
//! confirms with its own token as the actor (INT-5), an anonymous reporter sees only its
//! report id and status.
//!
//! Failures stay with their item: if the group fails before its commit, each item is stored
//! again alone, in its own transaction, and answered with its own result. A failed commit is
//! answered as an error to everyone in the group (its outcome is unknown, as a lone request's
//! would be; a 503 asks the client to retry). A waiter whose group never committed — its
//! writer stopped, the process is ending — gets an error, never a receipt.
//!
//! Writers start with the first report and stop with [`App::close_intake`], which refuses new
//! reports, lets the writers drain the queue and answer, and returns when they have; `warden
//! serve` calls it after the HTTP server has finished its requests. SQLite runs one writer
//! (its writes are serialised in-process anyway). PostgreSQL runs `writers` (default one):
//! more let one gather and answer a group while another commits, but the second still waits
//! for the chain's head, and one writer makes larger groups. Several nodes on one database
//! each run their own writers; the chain's head orders their transactions, and a group's
//! correlation query runs after it took the head, so it sees every case committed before.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::App;
use crate::error::{AppError, AppResult};
use crate::intake::{Item, Receipt};

/// How single reports are grouped into transactions (`[intake]` `group_commit*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCommitSettings {
    /// Group concurrent single reports; off, each commits in its request's own transaction.
    pub enabled: bool,
    /// Writer tasks on PostgreSQL (at least 1; SQLite always runs one).
    pub writers: usize,
    /// Most reports in one transaction.
    pub max_group: usize,
    /// Reports that may wait for a writer; a request finding the queue full waits for room.
    pub queue_depth: usize,
    /// After the first report of a group, wait this long for more (0: commit at once).
    pub linger_ms: u64,
}

impl Default for GroupCommitSettings {
    fn default() -> Self {
        GroupCommitSettings {
            enabled: true,
            writers: 1,
            max_group: 256,
            queue_depth: 4096,
            linger_ms: 0,
        }
    }
}

impl GroupCommitSettings {
    /// Checks the numbers; the error names the offending setting.
    pub fn validate(&self) -> Result<(), String> {
        if self.writers == 0 || self.writers > 64 {
            return Err("group_commit_writers must be 1 to 64".into());
        }
        if self.max_group == 0 || self.max_group > 10_000 {
            return Err("group_commit_max_reports must be 1 to 10000".into());
        }
        if self.queue_depth == 0 || self.queue_depth > 1_000_000 {
            return Err("group_commit_queue must be 1 to 1000000".into());
        }
        if self.linger_ms > 1000 {
            return Err("group_commit_linger_ms must be at most 1000".into());
        }
        Ok(())
    }
}

/// A report waiting for its group's commit.
#[derive(Debug)]
pub(crate) struct Pending {
    item: Item,
    reply: oneshot::Sender<AppResult<Receipt>>,
}

/// The queue and the writers of one app (shared by its clones).
#[derive(Debug)]
pub struct GroupCommit {
    settings: GroupCommitSettings,
    writers: Mutex<Writers>,
}

#[derive(Debug)]
enum Writers {
    /// No report yet: nothing runs.
    Idle,
    /// Writers running on `queue`.
    Running {
        queue: mpsc::Sender<Pending>,
        tasks: Vec<JoinHandle<()>>,
    },
    /// [`App::close_intake`] was called: reports are refused.
    Closed,
}

/// The answer to a request that came after [`App::close_intake`].
const CLOSED: &str = "intake is shutting down; nothing was stored, send the report again";

/// The answer to a waiter whose group never committed (its writer stopped).
const NOT_COMMITTED: &str =
    "the report was not stored (intake stopped before it was committed); send it again";

/// The answer to the members of a group whose commit failed; the cause is logged.
const COMMIT_FAILED: &str =
    "storage failed while committing; the report may not be stored, send it again";

impl GroupCommit {
    /// Nothing runs until the first report.
    pub fn new(settings: GroupCommitSettings) -> GroupCommit {
        GroupCommit {
            settings,
            writers: Mutex::new(Writers::Idle),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &GroupCommitSettings {
        &self.settings
    }

    /// The queue, starting the writers (with `start`) if none runs yet.
    fn queue(
        &self,
        start: impl FnOnce(mpsc::Receiver<Pending>) -> Vec<JoinHandle<()>>,
    ) -> AppResult<mpsc::Sender<Pending>> {
        let mut w = self
            .writers
            .lock()
            .map_err(|_| AppError::Internal("the group-commit state is poisoned".into()))?;
        match &*w {
            Writers::Running { queue, .. } => Ok(queue.clone()),
            Writers::Closed => Err(AppError::Unavailable(CLOSED)),
            Writers::Idle => {
                let (queue, rx) = mpsc::channel(self.settings.queue_depth.max(1));
                let tasks = start(rx);
                *w = Writers::Running {
                    queue: queue.clone(),
                    tasks,
                };
                Ok(queue)
            }
        }
    }

    /// Refuses further reports; returns the writers to wait for.
    fn close(&self) -> Vec<JoinHandle<()>> {
        let Ok(mut w) = self.writers.lock() else {
            return Vec::new();
        };
        match std::mem::replace(&mut *w, Writers::Closed) {
            // Dropping the queue's sender lets the writers finish once it is empty.
            Writers::Running { tasks, .. } => tasks,
            Writers::Idle | Writers::Closed => Vec::new(),
        }
    }
}

/// How a group's transaction failed.
enum Failure {
    /// Before the commit: nothing of it is stored.
    Unstored(AppError),
    /// At the commit: the outcome is unknown.
    Commit(AppError),
}

impl App {
    /// Stores one checked report: in a group with whatever else is waiting, or alone when
    /// group commit is off. Returns once the report is committed.
    pub(crate) async fn commit_report(&self, item: Item) -> AppResult<Receipt> {
        if !self.group_commit.settings.enabled {
            let mut receipts = self
                .commit_items(std::slice::from_ref(&item))
                .await
                .map_err(|f| match f {
                    Failure::Unstored(e) | Failure::Commit(e) => e,
                })?;
            self.metrics.inc_accepted(1);
            return receipts.pop().ok_or_else(|| {
                AppError::Internal("a report was accepted but nothing was stored".into())
            });
        }
        let queue = self.group_commit.queue(|rx| self.start_writers(rx))?;
        let (reply, answer) = oneshot::channel();
        let sent = queue.send(Pending { item, reply }).await;
        // Only the writers' queue may keep it open: closing waits for the queue to drain.
        drop(queue);
        if sent.is_err() {
            return Err(AppError::Unavailable(CLOSED));
        }
        answer
            .await
            .unwrap_or(Err(AppError::Unavailable(NOT_COMMITTED)))
    }

    /// Stops taking single reports: later ones are refused (503), the writers commit and
    /// answer what is queued, and this returns when they have. For the end of `warden serve`,
    /// after the HTTP server finished its requests.
    pub async fn close_intake(&self) {
        for task in self.group_commit.close() {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "an intake writer ended abnormally");
            }
        }
    }

    fn start_writers(&self, rx: mpsc::Receiver<Pending>) -> Vec<JoinHandle<()>> {
        let writers = match self.store.engine() {
            warden_store::Engine::Sqlite => 1,
            warden_store::Engine::Postgres => self.group_commit.settings.writers.max(1),
        };
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        (0..writers)
            .map(|_| {
                let app = self.clone();
                let rx = rx.clone();
                tokio::spawn(async move { app.write_groups(rx).await })
            })
            .collect()
    }

    /// One writer: takes a group from the queue, commits it, answers, until the queue is
    /// closed and empty. Writers take turns at the queue, so a group is what one found waiting.
    async fn write_groups(&self, rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Pending>>>) {
        let max = self.group_commit.settings.max_group.max(1);
        let linger = Duration::from_millis(self.group_commit.settings.linger_ms);
        loop {
            let group = {
                let mut rx = rx.lock().await;
                let Some(first) = rx.recv().await else {
                    break;
                };
                let mut group = Vec::with_capacity(max.min(64));
                group.push(first);
                while group.len() < max {
                    match rx.try_recv() {
                        Ok(p) => group.push(p),
                        Err(_) => break,
                    }
                }
                if !linger.is_zero() {
                    let until = tokio::time::Instant::now() + linger;
                    while group.len() < max {
                        match tokio::time::timeout_at(until, rx.recv()).await {
                            Ok(Some(p)) => group.push(p),
                            Ok(None) | Err(_) => break,
                        }
                    }
                }
                group
            };
            self.commit_group(group).await;
        }
    }

    /// Commits `group` in one transaction and answers each waiter; if the transaction fails
    /// before its commit, each item is tried alone.
    async fn commit_group(&self, group: Vec<Pending>) {
        let (items, replies): (Vec<Item>, Vec<_>) =
            group.into_iter().map(|p| (p.item, p.reply)).unzip();
        self.metrics.intake_group(items.len() as u64);
        match self.commit_items(&items).await {
            Ok(receipts) => {
                self.metrics.inc_accepted(receipts.len() as u64);
                for (reply, receipt) in replies.into_iter().zip(receipts) {
                    let _ = reply.send(Ok(receipt));
                }
            }
            Err(Failure::Unstored(e)) if items.len() > 1 => {
                tracing::warn!(error = %e, reports = items.len(), "a group of reports failed; storing each alone");
                self.metrics.intake_group_retried();
                for (item, reply) in items.iter().zip(replies) {
                    let one = match self.commit_items(std::slice::from_ref(item)).await {
                        Ok(mut r) => r.pop().ok_or_else(|| {
                            AppError::Internal(
                                "a report was accepted but nothing was stored".into(),
                            )
                        }),
                        Err(Failure::Unstored(e) | Failure::Commit(e)) => Err(e),
                    };
                    if one.is_ok() {
                        self.metrics.inc_accepted(1);
                    }
                    let _ = reply.send(one);
                }
            }
            Err(Failure::Commit(e)) if items.len() > 1 => {
                tracing::error!(error = %e, reports = items.len(), "committing a group of reports failed");
                for reply in replies {
                    let _ = reply.send(Err(AppError::Unavailable(COMMIT_FAILED)));
                }
            }
            // A group of one: its own error, as a request of its own would have had.
            Err(Failure::Unstored(e) | Failure::Commit(e)) => {
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(Err(e));
                }
            }
        }
    }

    /// `items` in one write transaction, committed.
    async fn commit_items(&self, items: &[Item]) -> Result<Vec<Receipt>, Failure> {
        let mut tx = self
            .store
            .begin_write()
            .await
            .map_err(|e| Failure::Unstored(e.into()))?;
        let receipts = self
            .store_reports(&mut tx, items)
            .await
            .map_err(Failure::Unstored)?;
        tx.commit().await.map_err(|e| Failure::Commit(e.into()))?;
        Ok(receipts)
    }
}

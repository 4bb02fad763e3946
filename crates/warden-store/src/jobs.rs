//! The durable job queue (LIFE-4): jobs and timers live in the database.
//!
//! A job has a `run_at`, a lease while a node works on it, retries with exponential backoff and
//! a `dead` state. A `dedup_key` names a timer ("the deadline of case X") so that the use case
//! which changes the case can arm, move or cancel its timer in the same transaction.
//!
//! Claiming: on PostgreSQL `FOR UPDATE SKIP LOCKED` lets several nodes claim disjoint batches; on
//! SQLite the single node claims under the write lock. A job whose lease ran out (its node died)
//! is claimable again, and a job that fell due while Warden was down is simply due at start.

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::{Engine, Result, Store, WriteTx, c, i, oi, os, placeholders, s};

warden_domain::codes! {
    /// What a job does. Every kind a worker can run is named here, so a job stored by a newer
    /// version is a loud decoding error rather than a job that silently never runs.
    pub enum JobKind: "job kind" {
        /// Diagnostics: record that a node ran it (the timer benchmark, LIFE-4).
        DiagPing = "diag.ping",
        /// An alerting case's deadline (LIFE-2).
        CaseDeadline = "case.deadline",
        /// A high-confidence detection confirms its case (INT-5).
        CaseConfirm = "case.confirm",
        /// One webhook delivery of one enforcement change, as queued before the outbound queue
        /// (still run: it becomes an outbound message).
        WebhookDeliver = "webhook.deliver",
        /// Cluster-wide reconciliation of enforcement deliveries (ENF-2).
        EnforceReconcile = "enforce.reconcile",
        /// One attempt at one message of the outbound queue (NOT-1, NOT-2, ENF-2).
        OutboundDeliver = "outbound.deliver",
        /// NOT-3: the reminder before an alerting case's deadline.
        CaseReminder = "case.reminder",
        /// DDOS-4: a blackhole's planned end.
        BlackholeEnd = "blackhole.end",
        /// DDOS-6, AUD-3: the hourly roll-up of the traffic minutes and the purge of minutes and
        /// hours past their retention (one job, re-armed every hour).
        TrafficRollup = "traffic.rollup",
        /// ASMT-1/2/5: an assessment's window ends.
        AssessmentEnd = "assessment.end",
        /// ASMT-5: remind the tenant to confirm its phishing test's disclosure.
        AssessmentReminder = "assessment.reminder",
    }
}

warden_domain::codes! {
    /// Where a job stands.
    pub enum JobState: "job state" {
        /// Waiting for its `run_at`.
        Pending = "pending",
        /// Leased by a node.
        Running = "running",
        /// Completed.
        Done = "done",
        /// Out of attempts.
        Dead = "dead",
    }
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Job {
    /// Id.
    pub id: String,
    /// Kind.
    pub kind: JobKind,
    /// JSON payload.
    pub payload: String,
    /// Due, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub run_at: i64,
    /// State.
    pub state: JobState,
    /// Attempts started.
    pub attempts: i64,
    /// Attempts allowed before `dead`.
    pub max_attempts: i64,
    /// Timer name, if any.
    pub dedup_key: Option<String>,
    /// Node holding the lease.
    pub lease_owner: Option<String>,
    /// Lease end, ms.
    pub lease_until: Option<i64>,
    /// Last failure.
    pub last_error: Option<String>,
}

fn row(r: &AnyRow) -> Result<Job> {
    Ok(Job {
        id: s(r, "id")?,
        kind: c(r, "jobs", "kind")?,
        payload: s(r, "payload")?,
        run_at: i(r, "run_at")?,
        state: c(r, "jobs", "state")?,
        attempts: i(r, "attempts")?,
        max_attempts: i(r, "max_attempts")?,
        dedup_key: os(r, "dedup_key")?,
        lease_owner: os(r, "lease_owner")?,
        lease_until: oi(r, "lease_until")?,
        last_error: os(r, "last_error")?,
    })
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Kind.
    pub kind: JobKind,
    /// JSON payload.
    pub payload: String,
    /// Due, ms.
    pub run_at: i64,
    /// Timer name: enqueueing with a key that names a pending job moves that job instead.
    pub dedup_key: Option<String>,
    /// Attempts before `dead`.
    pub max_attempts: i64,
}

/// Counts per state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct JobCounts {
    /// Waiting.
    pub pending: i64,
    /// Leased.
    pub running: i64,
    /// Finished.
    pub done: i64,
    /// Gave up.
    pub dead: i64,
}

/// Delay before retry `attempt` (1-based): 1 s, 2 s, 4 s... capped at one hour.
pub fn backoff_ms(attempt: i64) -> i64 {
    let exp = attempt.clamp(1, 13) - 1;
    (1000_i64 << exp).min(3_600_000)
}

impl WriteTx {
    /// Enqueues a job, or, when its `dedup_key` names a job not yet finished, moves that job to
    /// the new time and payload. Returns the job id.
    pub async fn enqueue(&mut self, job: &NewJob, id: &str, now: i64) -> Result<String> {
        if let Some(key) = &job.dedup_key {
            let existing = sqlx::query("SELECT id, state FROM jobs WHERE dedup_key = $1")
                .bind(key)
                .fetch_optional(self.conn())
                .await?;
            if let Some(r) = existing {
                let existing_id = s(&r, "id")?;
                let state: JobState = c(&r, "jobs", "state")?;
                if matches!(state, JobState::Pending | JobState::Running) {
                    sqlx::query("UPDATE jobs SET run_at = $1, payload = $2, state = 'pending', lease_owner = NULL, lease_until = NULL, updated_at = $3 WHERE id = $4")
                        .bind(job.run_at)
                        .bind(&job.payload)
                        .bind(now)
                        .bind(&existing_id)
                        .execute(self.conn())
                        .await?;
                    return Ok(existing_id);
                }
                // A finished timer frees its name.
                sqlx::query("UPDATE jobs SET dedup_key = NULL WHERE id = $1")
                    .bind(&existing_id)
                    .execute(self.conn())
                    .await?;
            }
        }
        sqlx::query(
            "INSERT INTO jobs (id, kind, payload, run_at, state, attempts, max_attempts, dedup_key, created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6, $7, $7)",
        )
        .bind(id)
        .bind(job.kind.code())
        .bind(&job.payload)
        .bind(job.run_at)
        .bind(job.max_attempts.max(1))
        .bind(job.dedup_key.clone())
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(id.to_string())
    }

    /// Cancels the pending timer with this key; true if there was one.
    pub async fn cancel_timer(&mut self, dedup_key: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM jobs WHERE dedup_key = $1 AND state = 'pending'")
            .bind(dedup_key)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Marks a job done, if `node` still holds its lease. False means the lease was lost and the
    /// caller must roll back what it did for the job.
    pub async fn complete_job(&mut self, id: &str, node: &str, now: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE jobs SET state = 'done', lease_owner = NULL, lease_until = NULL, updated_at = $1 WHERE id = $2 AND state = 'running' AND lease_owner = $3",
        )
        .bind(now)
        .bind(id)
        .bind(node)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records a failed attempt: retried after [`backoff_ms`], or `dead` after `max_attempts`.
    /// Returns whether the job is now dead; nothing changes if `node` no longer holds the lease.
    pub async fn fail_job(&mut self, job: &Job, node: &str, error: &str, now: i64) -> Result<bool> {
        let dead = job.attempts >= job.max_attempts;
        sqlx::query(
            "UPDATE jobs SET state = $1, run_at = $2, last_error = $3, lease_owner = NULL, lease_until = NULL, updated_at = $4 WHERE id = $5 AND lease_owner = $6",
        )
        .bind(if dead { JobState::Dead } else { JobState::Pending }.code())
        .bind(now + backoff_ms(job.attempts))
        .bind(error.chars().take(2000).collect::<String>())
        .bind(now)
        .bind(&job.id)
        .bind(node)
        .execute(self.conn())
        .await?;
        Ok(dead)
    }

    /// Marks jobs done if `node` still holds all their leases; false (and nothing changed that
    /// the caller must keep) when any lease was lost — the caller rolls back.
    pub async fn complete_jobs(&mut self, ids: &[String], node: &str, now: i64) -> Result<bool> {
        self.prefer_indexes().await?;
        let mut done = 0u64;
        for chunk in ids.chunks(crate::KEYS_PER_QUERY) {
            let list: Vec<String> = (0..chunk.len()).map(|n| format!("${}", n + 3)).collect();
            let sql = format!(
                "UPDATE jobs SET state = 'done', lease_owner = NULL, lease_until = NULL, updated_at = $1 WHERE state = 'running' AND lease_owner = $2 AND id IN ({})",
                list.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now).bind(node);
            for id in chunk {
                q = q.bind(id.as_str());
            }
            done += q.execute(self.conn()).await?.rows_affected();
        }
        Ok(done == ids.len() as u64)
    }

    /// Records that `node` ran these jobs (the `diag.ping` job's effect).
    pub async fn record_job_runs(&mut self, ids: &[String], node: &str, now: i64) -> Result<()> {
        for chunk in ids.chunks(self.engine().rows_per_statement()) {
            let sql = format!(
                "INSERT INTO job_runs (job_id, node, ran_at) VALUES {}",
                placeholders(chunk.len(), 3)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id.as_str()).bind(node).bind(now);
            }
            q.execute(self.conn()).await?;
        }
        Ok(())
    }

    /// Inserts many new jobs at once (no timer-name handling: for bulk arming).
    pub async fn insert_jobs(&mut self, jobs: &[(String, NewJob)], now: i64) -> Result<()> {
        for chunk in jobs.chunks(self.engine().rows_per_statement()) {
            let sql = format!(
                "INSERT INTO jobs (id, kind, payload, run_at, state, attempts, max_attempts, dedup_key, created_at, updated_at) VALUES {}",
                placeholders(chunk.len(), 10)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (id, j) in chunk {
                q = q
                    .bind(id.as_str())
                    .bind(j.kind.code())
                    .bind(j.payload.as_str())
                    .bind(j.run_at)
                    .bind("pending")
                    .bind(0_i64)
                    .bind(j.max_attempts.max(1))
                    .bind(j.dedup_key.as_deref())
                    .bind(now)
                    .bind(now);
            }
            q.execute(self.conn()).await?;
        }
        Ok(())
    }

    /// Records that `node` ran job `id` (the `diag.ping` job's effect).
    pub async fn record_job_run(&mut self, id: &str, node: &str, now: i64) -> Result<()> {
        sqlx::query("INSERT INTO job_runs (job_id, node, ran_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(node)
            .bind(now)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

impl Store {
    /// Claims up to `limit` due jobs for `node`, leasing them until `now + lease_ms`. Jobs whose
    /// lease ran out are claimable again.
    pub async fn claim_jobs(
        &self,
        node: &str,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<Job>> {
        let lock = match self.engine() {
            Engine::Postgres => "FOR UPDATE SKIP LOCKED",
            Engine::Sqlite => "",
        };
        // Two index-friendly claims rather than one OR: due pending jobs by (state, run_at),
        // then jobs whose node died (lease ran out).
        let due = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = $1, lease_until = $2, updated_at = $3 \
             WHERE id IN (SELECT id FROM jobs WHERE state = 'pending' AND run_at <= $3 ORDER BY run_at, id LIMIT $4 {lock}) \
             RETURNING *"
        );
        let expired = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = $1, lease_until = $2, updated_at = $3 \
             WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND lease_until < $3 ORDER BY run_at, id LIMIT $4 {lock}) \
             RETURNING *"
        );
        let limit = limit.clamp(1, 1000);
        let mut tx = self.begin_write().await?;
        tx.prefer_indexes().await?;
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(expired))
            .bind(node)
            .bind(now + lease_ms)
            .bind(now)
            .bind(limit)
            .fetch_all(tx.conn())
            .await?;
        let left = limit - i64::try_from(rows.len()).unwrap_or(limit);
        if left > 0 {
            rows.extend(
                sqlx::query(sqlx::AssertSqlSafe(due))
                    .bind(node)
                    .bind(now + lease_ms)
                    .bind(now)
                    .bind(left)
                    .fetch_all(tx.conn())
                    .await?,
            );
        }
        tx.commit().await?;
        let mut jobs = rows.iter().map(row).collect::<Result<Vec<_>>>()?;
        jobs.sort_by(|a, b| (a.run_at, &a.id).cmp(&(b.run_at, &b.id)));
        Ok(jobs)
    }

    /// One job.
    pub async fn get_job(&self, id: &str) -> Result<Option<Job>> {
        let r = sqlx::query("SELECT * FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        r.as_ref().map(row).transpose()
    }

    /// The job currently holding a timer name.
    pub async fn get_timer(&self, dedup_key: &str) -> Result<Option<Job>> {
        let r = sqlx::query("SELECT * FROM jobs WHERE dedup_key = $1")
            .bind(dedup_key)
            .fetch_optional(self.pool())
            .await?;
        r.as_ref().map(row).transpose()
    }

    /// Jobs per state.
    pub async fn job_counts(&self) -> Result<JobCounts> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
            .fetch_all(self.pool())
            .await?;
        let mut counts = JobCounts::default();
        for r in &rows {
            let n = i(r, "n")?;
            match c(r, "jobs", "state")? {
                JobState::Pending => counts.pending = n,
                JobState::Running => counts.running = n,
                JobState::Done => counts.done = n,
                JobState::Dead => counts.dead = n,
            }
        }
        Ok(counts)
    }

    /// Times each job ran, per job id, from `job_runs` (diagnostics).
    pub async fn job_run_counts(&self) -> Result<Vec<(String, i64, String)>> {
        let rows = sqlx::query("SELECT job_id, COUNT(*) AS n, MIN(node) AS node FROM job_runs GROUP BY job_id ORDER BY job_id")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((s(r, "job_id")?, i(r, "n")?, s(r, "node")?)))
            .collect()
    }

    /// Firing lag (`ran_at - run_at`, ms) of every job recorded in `job_runs` (benchmarks).
    pub async fn job_lags(&self) -> Result<Vec<i64>> {
        let rows = sqlx::query(
            "SELECT r.ran_at - j.run_at AS lag FROM job_runs r JOIN jobs j ON j.id = r.job_id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| i(r, "lag")).collect()
    }

    /// Whether any job is pending or running (index-backed, cheap on a large queue).
    pub async fn has_unfinished_jobs(&self) -> Result<bool> {
        let r = sqlx::query("SELECT id FROM jobs WHERE state IN ('pending', 'running') LIMIT 1")
            .fetch_optional(self.pool())
            .await?;
        Ok(r.is_some())
    }

    /// The earliest `run_at` of a pending job, so a worker can sleep until then.
    pub async fn next_due(&self) -> Result<Option<i64>> {
        let r = sqlx::query("SELECT MIN(run_at) AS t FROM jobs WHERE state = 'pending'")
            .fetch_one(self.pool())
            .await?;
        oi(&r, "t")
    }
}

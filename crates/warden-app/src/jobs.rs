//! Job workers (LIFE-4): claim due jobs, run them, complete or back off.
//!
//! A handler that changes state does so in the same transaction that completes the job, and
//! `complete_job` checks the lease: if this node lost it (it was too slow and another node took
//! the job over), the transaction rolls back and the job's effect happens once, on the other node.

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use warden_domain::identity::Role;
use warden_domain::resource::InvalidInput;
use warden_store::jobs::{Job, JobCounts, JobKind, NewJob};

use crate::App;
use crate::auth::Principal;
use crate::error::AppResult;

/// Body of `POST /api/admin/jobs/ping`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PingInput {
    /// How many ping jobs (1..=10000).
    #[schemars(range(min = 1, max = 10000))]
    pub count: i64,
    /// Due in this many ms (0 = now; at most 30 days).
    #[serde(default)]
    #[schemars(range(min = 0, max = 2_592_000_000_i64))]
    pub delay_ms: i64,
}

impl App {
    /// Enqueues `diag.ping` jobs: each records which node ran it. Operators use it to check that
    /// workers run (and the multi-node test to prove each job runs once).
    pub async fn enqueue_pings(
        &self,
        who: &Principal,
        input: &PingInput,
    ) -> AppResult<Vec<String>> {
        who.require(&[Role::Admin], "enqueue diagnostic jobs")?;
        if !(1..=10_000).contains(&input.count) {
            return Err(InvalidInput::new("count", "must be 1 to 10000").into());
        }
        if !(0..=30 * 86_400_000).contains(&input.delay_ms) {
            return Err(InvalidInput::new("delay_ms", "must be 0 to 30 days").into());
        }
        let now = self.now();
        let mut tx = self.store.begin_write().await?;
        let mut ids = Vec::new();
        for _ in 0..input.count {
            let job = NewJob {
                kind: JobKind::DiagPing,
                payload: "{}".into(),
                run_at: now + input.delay_ms,
                dedup_key: None,
                max_attempts: 5,
            };
            ids.push(
                tx.enqueue(&job, &warden_store::new_id("job", now), now)
                    .await?,
            );
        }
        let mut ev = self.event(who, "jobs.ping", "jobs".into());
        ev.details = serde_json::json!({ "count": input.count, "delay_ms": input.delay_ms });
        tx.append_audit(ev).await?;
        tx.commit().await?;
        self.job_wakeup.notify_waiters();
        Ok(ids)
    }

    /// Queue counts.
    pub async fn job_counts(&self, who: &Principal) -> AppResult<JobCounts> {
        who.require(&[Role::Admin, Role::Operator], "read the job queue")?;
        Ok(self.store.job_counts().await?)
    }

    /// Runs due jobs until `shutdown` turns true.
    pub async fn run_worker(&self, mut shutdown: watch::Receiver<bool>) {
        let node = self.settings.node_id.clone();
        tracing::info!(node = %node, "job worker started");
        loop {
            if *shutdown.borrow() {
                break;
            }
            let claimed = self
                .store
                .claim_jobs(
                    &node,
                    self.now(),
                    self.settings.job_lease_ms,
                    self.settings.job_batch,
                )
                .await;
            let jobs = match claimed {
                Ok(j) => j,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming jobs failed; retrying");
                    Vec::new()
                }
            };
            let busy = !jobs.is_empty();
            // Pings are handled as one batch in one transaction (the timer benchmark fires
            // thousands per second); every other kind runs one by one.
            let (pings, others): (Vec<Job>, Vec<Job>) =
                jobs.into_iter().partition(|j| j.kind == JobKind::DiagPing);
            if !pings.is_empty() {
                self.run_pings(&node, pings).await;
            }
            for job in others {
                self.run_job(&node, job).await;
            }
            if busy {
                continue;
            }
            let wait = std::time::Duration::from_millis(self.settings.job_poll_ms);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.job_wakeup.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
        tracing::info!(node = %node, "job worker stopped");
    }

    async fn run_pings(&self, node: &str, jobs: Vec<Job>) {
        let ids: Vec<String> = jobs.iter().map(|j| j.id.clone()).collect();
        let result: AppResult<bool> = async {
            let now = self.now();
            let mut tx = self.store.begin_write().await?;
            tx.lock_chain().await?;
            tx.record_job_runs(&ids, node, now).await?;
            if !tx.complete_jobs(&ids, node, now).await? {
                return Ok(false);
            }
            let mut ev = self.event(&Principal::System, "job.run", "jobs:diag.ping".into());
            ev.details = serde_json::json!({ "kind": "diag.ping", "node": node, "job_ids": ids });
            tx.append_audit(ev).await?;
            tx.commit().await?;
            Ok(true)
        }
        .await;
        match result {
            Ok(true) => {
                for _ in &jobs {
                    self.metrics.job(true);
                }
            }
            // A lease was lost (this node was too slow): nothing was kept; run them one by one.
            Ok(false) => {
                tracing::warn!(
                    node,
                    count = jobs.len(),
                    "lease lost in a ping batch; running one by one"
                );
                for job in jobs {
                    self.run_job(node, job).await;
                }
            }
            Err(e) => {
                for job in jobs {
                    self.metrics.job(false);
                    if let Err(e2) = self.record_failure(node, &job, &e.to_string()).await {
                        tracing::error!(job = %job.id, error = %e2, "could not record job failure");
                    }
                }
            }
        }
    }

    async fn run_job(&self, node: &str, job: Job) {
        let result = self.handle(node, &job).await;
        match result {
            Ok(()) => self.metrics.job(true),
            Err(e) => {
                self.metrics.job(false);
                tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempts, error = %e, "job failed");
                if let Err(e) = self.record_failure(node, &job, &e.to_string()).await {
                    tracing::error!(job = %job.id, error = %e, "could not record job failure; its lease will expire and it will run again");
                }
            }
        }
    }

    /// Backs a failed job off (or marks it dead) and audits that, in one transaction.
    async fn record_failure(&self, node: &str, job: &Job, error: &str) -> AppResult<()> {
        let mut tx = self.store.begin_write().await?;
        // The chain before the job's row, as in `handle`.
        tx.lock_chain().await?;
        let dead = tx.fail_job(job, node, error, self.now()).await?;
        let action = if dead { "job.dead" } else { "job.retry" };
        let mut ev = self.event(&Principal::System, action, format!("job:{}", job.id));
        ev.details = serde_json::json!({ "kind": job.kind, "node": node, "attempt": job.attempts, "error": error });
        tx.append_audit(ev).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Runs one job: its effect, its audit event and its completion commit together, and only
    /// while this node still holds the lease.
    async fn handle(&self, node: &str, job: &Job) -> AppResult<()> {
        let now = self.now();
        let mut tx = self.store.begin_write().await?;
        let mut rolled_until = None;
        match job.kind {
            JobKind::DiagPing => {
                tx.lock_chain().await?;
                tx.record_job_run(&job.id, node, now).await?;
            }
            // Lifecycle jobs transition the case in their own transaction; they are idempotent
            // (a case that moved on ignores them), so completing the job afterwards is safe.
            JobKind::CaseDeadline | JobKind::CaseConfirm => {
                drop(tx);
                let case_id = payload_text(job, "case_id");
                if job.kind == JobKind::CaseDeadline {
                    self.deadline_fired(&case_id).await?;
                } else {
                    self.auto_confirm(&case_id).await?;
                }
                tx = self.store.begin_write().await?;
            }
            JobKind::WebhookDeliver => {
                drop(tx);
                self.deliver_legacy_webhook(job).await?;
                tx = self.store.begin_write().await?;
            }
            JobKind::OutboundDeliver => {
                drop(tx);
                self.deliver_outbound(job).await?;
                tx = self.store.begin_write().await?;
            }
            JobKind::CaseReminder => {
                drop(tx);
                self.reminder_fired(&payload_text(job, "case_id")).await?;
                tx = self.store.begin_write().await?;
            }
            JobKind::BlackholeEnd => {
                drop(tx);
                self.blackhole_timer_fired(&payload_text(job, "blackhole_id"))
                    .await?;
                tx = self.store.begin_write().await?;
            }
            JobKind::EnforceReconcile => {
                drop(tx);
                self.reconcile().await?;
                tx = self.store.begin_write().await?;
            }
            // ASMT-1/2/5: transitions in their own transaction, ignored by an assessment that
            // moved on.
            JobKind::AssessmentEnd | JobKind::AssessmentReminder => {
                drop(tx);
                let id = payload_text(job, "assessment_id");
                if job.kind == JobKind::AssessmentEnd {
                    self.assessment_window_ended(&id).await?;
                } else {
                    self.assessment_reminder_due(&id).await?;
                }
                tx = self.store.begin_write().await?;
            }
            // Idempotent too (each hour is recomputed, never added to): its work commits in
            // transactions of its own; completing re-arms it with where it stopped.
            JobKind::TrafficRollup => {
                drop(tx);
                rolled_until = Some(self.traffic_rollup_fired(job).await?.rolled_until);
                tx = self.store.begin_write().await?;
            }
        }
        // The audit chain first, then the job's row: the order every writer takes them in (an
        // operator's re-drive locks the chain, then re-queues the same job row), so two of them
        // never wait on each other (PostgreSQL: "deadlock detected").
        tx.lock_chain().await?;
        if tx.complete_job(&job.id, node, now).await? {
            if job.kind == JobKind::EnforceReconcile {
                self.rearm_reconciliation(&mut tx).await?;
            }
            if rolled_until.is_some() {
                self.rearm_traffic_rollup(&mut tx, rolled_until).await?;
            }
            let mut ev = self.event(&Principal::System, "job.run", format!("job:{}", job.id));
            ev.details =
                serde_json::json!({ "kind": job.kind, "node": node, "attempt": job.attempts });
            tx.append_audit(ev).await?;
            tx.commit().await?;
        } else {
            tracing::warn!(job = %job.id, "lease lost before completion; rolled back");
        }
        Ok(())
    }
}

/// A text field of a job's JSON payload (`case_id`, `blackhole_id`); empty when absent, which
/// the handlers treat as a subject that no longer exists.
fn payload_text(job: &Job, field: &str) -> String {
    serde_json::from_str::<serde_json::Value>(&job.payload)
        .ok()
        .and_then(|p| p.get(field).and_then(|v| v.as_str()).map(str::to_string))
        .unwrap_or_default()
}

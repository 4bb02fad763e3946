//! How long an IP's traffic is kept (issue 12; DDOS-6, AUD-3), and the hourly series a chart
//! of half a year reads.
//!
//! The samples are folded into 1-minute rows per source as they arrive ([`crate::ddos`]). A job,
//! `traffic.rollup`, runs a few minutes past every hour and
//!
//! 1. rolls the minutes of the complete hours up into `traffic_hours` — from where the last run
//!    stopped (its payload's `rolled_until`) or, at the latest, from [`LATE_SAMPLES_MS`] back,
//!    because telemetry may report a sample up to a day late and its hour must be recomputed.
//!    Each hour is recomputed from its minutes and replaces the stored one
//!    ([`warden_store::WriteTx::roll_up_traffic`]), so a repeated or overlapping run never
//!    counts twice;
//! 2. removes the minutes older than `[ddos] traffic_minutes_days` (30), each hour rolled up
//!    once more in the transaction that removes its minutes, so none leaves without its hour;
//! 3. removes the hours older than `[ddos] traffic_hours_days` (180, never fewer: AUD-3).
//!
//! Attack events and blackholes, with their evidence, are never purged. The run is a system
//! maintenance step: its summary goes to the log (`traffic retention ran`), and the audit log
//! has only the job's own `job.run` event, as for every job. It re-arms itself in the transaction
//! that completes it, like the enforcement reconciliation, so one stays armed in a cluster.

use serde::{Deserialize, Serialize};
use warden_domain::identity::Role;
use warden_domain::resource::InvalidInput;
use warden_domain::time::Timestamp;
use warden_store::ddos::{
    HOUR_MS, MAX_HOURS_READ, MIN_HOUR_RETENTION_DAYS, MIN_MINUTE_RETENTION_DAYS, TrafficHour,
    hour_of,
};
use warden_store::jobs::{Job, JobKind, JobState, NewJob};

use crate::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};

/// The timer name (dedup key) of the one roll-up job.
pub const ROLLUP_JOB: &str = "traffic.rollup";
/// How far back every run recomputes hours: telemetry takes samples up to 24 hours old, so an
/// hour may still change that long after it ended; two more hours of margin.
pub const LATE_SAMPLES_MS: i64 = 26 * HOUR_MS;
/// The run starts this long after the hour, so that the hour's last minute is in.
const AFTER_THE_HOUR_MS: i64 = 5 * 60_000;
/// Hours rolled up per transaction.
const HOURS_PER_TRANSACTION: i64 = 24;
/// Longest retention accepted, days (ten years): beyond it is a typo.
const MAX_RETENTION_DAYS: i64 = 3650;
const DAY_MS: i64 = 86_400_000;

/// How long the series are kept (`[ddos] traffic_minutes_days`, `traffic_hours_days`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrafficRetention {
    /// Days the 1-minute series is kept (30..=`hours_days`). Default 30.
    pub minutes_days: i64,
    /// Days the hourly series is kept (180..=3650, AUD-3). Default 180.
    pub hours_days: i64,
}

impl Default for TrafficRetention {
    fn default() -> Self {
        TrafficRetention {
            minutes_days: MIN_MINUTE_RETENTION_DAYS,
            hours_days: MIN_HOUR_RETENTION_DAYS,
        }
    }
}

impl TrafficRetention {
    /// Checks the lengths; the error names the `[ddos]` key.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if !(MIN_HOUR_RETENTION_DAYS..=MAX_RETENTION_DAYS).contains(&self.hours_days) {
            return Err(InvalidInput::new(
                "traffic_hours_days",
                format!(
                    "must be {MIN_HOUR_RETENTION_DAYS} to {MAX_RETENTION_DAYS} days (network logs are kept at least 180 days, AUD-3); got {}",
                    self.hours_days
                ),
            ));
        }
        if !(MIN_MINUTE_RETENTION_DAYS..=self.hours_days).contains(&self.minutes_days) {
            return Err(InvalidInput::new(
                "traffic_minutes_days",
                format!(
                    "must be {MIN_MINUTE_RETENTION_DAYS} days (the 1-minute series is kept 30 days) to traffic_hours_days ({}); got {}",
                    self.hours_days, self.minutes_days
                ),
            ));
        }
        Ok(())
    }
}

/// The roll-up job's payload: where the last run stopped.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct RollupPayload {
    /// Every hour before this (ms) was rolled up by an earlier run.
    #[serde(default)]
    rolled_until: Option<i64>,
}

/// What one retention run did (logged).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RetentionRun {
    /// The hours recomputed: `[from, rolled_until)`, ms.
    pub from: i64,
    /// Every complete hour before this is rolled up, ms.
    pub rolled_until: i64,
    /// Hour rows written (per IP and source).
    pub hours_written: u64,
    /// Minute rows removed (past `traffic_minutes_days`, after their hours were rolled up).
    pub minutes_purged: u64,
    /// Hour rows removed (past `traffic_hours_days`).
    pub hours_purged: u64,
}

/// `ip_traffic_hours`: an IP's hourly series (DDOS-6).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TrafficHoursView {
    /// The IP.
    pub ip: String,
    /// The capacity in force, bps.
    pub capacity_bps: u64,
    /// The range read: hours starting at or after `from` and before `to`.
    pub from: Timestamp,
    /// The range's end.
    pub to: Timestamp,
    /// The hours with traffic, oldest first (hours without samples are absent).
    pub hours: Vec<TrafficHour>,
}

impl App {
    /// Makes sure the roll-up job is armed (at start). An armed job keeps its time and where it
    /// stopped; nodes that start together race for its name and the loser finds it armed.
    pub async fn arm_traffic_rollup(&self) -> AppResult<()> {
        if let Some(j) = self.store.get_timer(ROLLUP_JOB).await?
            && matches!(j.state, JobState::Pending | JobState::Running)
        {
            return Ok(());
        }
        let armed = async {
            let mut tx = self.store.begin_write().await?;
            self.rearm_traffic_rollup(&mut tx, None).await?;
            tx.commit().await?;
            Ok::<(), AppError>(())
        }
        .await;
        match armed {
            Err(AppError::Store(e)) if e.is_unique_violation() => Ok(()),
            other => other,
        }
    }

    /// Arms the next run a few minutes past the next hour, remembering where this one stopped
    /// (in the transaction that completes this one, so exactly one stays armed).
    pub(crate) async fn rearm_traffic_rollup(
        &self,
        tx: &mut warden_store::WriteTx,
        rolled_until: Option<i64>,
    ) -> AppResult<()> {
        let now = self.now();
        let job = NewJob {
            kind: JobKind::TrafficRollup,
            payload: serde_json::to_string(&RollupPayload { rolled_until })
                .unwrap_or_else(|_| "{}".into()),
            run_at: hour_of(now) + HOUR_MS + AFTER_THE_HOUR_MS,
            dedup_key: Some(ROLLUP_JOB.into()),
            max_attempts: 1_000_000,
        };
        tx.enqueue(&job, &warden_store::new_id("job", now), now)
            .await?;
        Ok(())
    }

    /// The `traffic.rollup` job: one run from where the last one stopped.
    pub(crate) async fn traffic_rollup_fired(&self, job: &Job) -> AppResult<RetentionRun> {
        let p: RollupPayload = serde_json::from_str(&job.payload).unwrap_or_default();
        self.run_traffic_retention(p.rolled_until).await
    }

    /// Rolls up the complete hours from `rolled_until` (or the oldest minute kept, on a first
    /// run) and from [`LATE_SAMPLES_MS`] back at the latest, then purges what is past its
    /// retention. Idempotent: running it twice changes nothing the first did not.
    pub async fn run_traffic_retention(
        &self,
        rolled_until: Option<i64>,
    ) -> AppResult<RetentionRun> {
        let keep = self.ddos.retention;
        let now = self.now();
        let to = hour_of(now);
        let oldest_kept = hour_of(now - keep.minutes_days.saturating_mul(DAY_MS));
        let from = rolled_until
            .unwrap_or(oldest_kept)
            .min(to - LATE_SAMPLES_MS)
            .max(oldest_kept);
        let mut run = RetentionRun {
            from,
            rolled_until: to,
            ..RetentionRun::default()
        };
        let mut at = from;
        while at < to {
            let end = to.min(at + HOURS_PER_TRANSACTION * HOUR_MS);
            let mut tx = self.store.begin_write().await?;
            run.hours_written += tx.roll_up_traffic(at, end).await?;
            tx.commit().await?;
            at = end;
        }
        // A day of hours per transaction; bounded, in case the clock jumped years.
        for _ in 0..(MAX_RETENTION_DAYS + 1) {
            let mut tx = self.store.begin_write().await?;
            let removed = tx.purge_traffic_minutes(keep.minutes_days, now).await?;
            tx.commit().await?;
            if removed == 0 {
                break;
            }
            run.minutes_purged += removed;
        }
        let mut tx = self.store.begin_write().await?;
        run.hours_purged = tx.purge_traffic_hours(keep.hours_days, now).await?;
        tx.commit().await?;
        tracing::info!(
            from = %Timestamp(run.from).to_rfc3339(),
            rolled_until = %Timestamp(run.rolled_until).to_rfc3339(),
            hours_written = run.hours_written,
            minutes_purged = run.minutes_purged,
            hours_purged = run.hours_purged,
            "traffic retention ran"
        );
        Ok(run)
    }

    /// An IP's hourly traffic in `[from, to)` (default: everything kept, up to now) for a
    /// chart of up to 180 days (DDOS-6); a tenant reads its own IPs only.
    pub async fn ip_traffic_hours(
        &self,
        who: &Principal,
        ip: &str,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> AppResult<TrafficHoursView> {
        who.require(
            &[Role::Admin, Role::Operator, Role::Reviewer, Role::Tenant],
            "read traffic",
        )?;
        let ip: std::net::IpAddr = ip
            .parse()
            .map_err(|_| InvalidInput::new("ip", "is not an IPv4 or IPv6 address"))?;
        let now = self.now();
        let to = to.map_or(now, Timestamp::millis);
        let kept = now - self.ddos.retention.hours_days.saturating_mul(DAY_MS);
        let from = from.map_or(kept, Timestamp::millis).max(kept);
        if from >= to {
            return Err(InvalidInput::new("from", "must be before to").into());
        }
        let span = i64::try_from(MAX_HOURS_READ).unwrap_or(i64::MAX) * HOUR_MS;
        if to - hour_of(from) > span {
            return Err(InvalidInput::new(
                "from",
                format!("the range may span at most {MAX_HOURS_READ} hours"),
            )
            .into());
        }
        let mut tx = self.store.begin_write().await?;
        let ctx = self
            .ip_context(&mut tx, ip, &who.scope())
            .await?
            .ok_or(AppError::NotFound("ip"))?;
        drop(tx);
        Ok(TrafficHoursView {
            hours: self.store.traffic_hours_of(&ctx.text, from, to).await?,
            ip: ctx.text,
            capacity_bps: ctx.capacity,
            from: Timestamp(from),
            to: Timestamp(to),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn retention_defaults_are_the_policy_and_bad_lengths_name_their_key() {
        let d = TrafficRetention::default();
        assert_eq!((d.minutes_days, d.hours_days), (30, 180));
        d.validate().unwrap();
        for (minutes_days, hours_days, field) in [
            (29, 180, "traffic_minutes_days"),
            (181, 180, "traffic_minutes_days"),
            (30, 179, "traffic_hours_days"),
            (30, 3651, "traffic_hours_days"),
        ] {
            let e = TrafficRetention {
                minutes_days,
                hours_days,
            }
            .validate()
            .unwrap_err();
            assert_eq!(e.field, field, "{minutes_days}/{hours_days}: {}", e.reason);
        }
        TrafficRetention {
            minutes_days: 90,
            hours_days: 365,
        }
        .validate()
        .unwrap();
    }
}

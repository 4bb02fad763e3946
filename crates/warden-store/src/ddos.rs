//! DDoS protection, traffic and blackholes (issue 12; DDOS-1..6).
//!
//! An IP's protection is a row only once it is not basic; its traffic is kept as 1-minute
//! aggregates (the 1 s samples are folded in as they arrive); each blackhole is one row holding
//! the domain's [`BlackholeFacts`] as JSON beside the columns queries filter on (ip, account,
//! state, planned end). The latest blackhole of an IP carries the ladder's bookkeeping into the
//! next one. Self-service release attempts are per account.
//!
//! Retention (issue 12, AUD-3): the minutes are rolled up into `traffic_hours` (the same sums
//! and peaks per hour and source) and kept 30 days, the hours 180 days; a minute is removed only
//! in the transaction that rolled its hour up. Protection history, attack events, blackholes and
//! release attempts are never purged.
//!
//! Tenant reads take a [`Scope`] and add the account condition to their SQL.

use serde::Serialize;
use sqlx::any::AnyRow;
use warden_domain::blackhole::{BlackholeFacts, Protection, SelfServiceRelease, State};
use warden_domain::time::Timestamp;

use crate::{Result, Scope, Store, StoreError, WriteTx, c, i, oi, s, scope_condition};

/// A blackhole as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlackholeRow {
    /// Id (`bh_...`).
    pub id: String,
    /// The IP, as text.
    pub ip: String,
    /// The IP's account.
    pub account_id: String,
    /// The resource whose public IP it is.
    pub resource_id: String,
    /// The case that carries its enforcement action (tenant-visible).
    pub case_id: String,
    /// The `blackhole` action record.
    pub action_id: String,
    /// Where it stands.
    pub state: State,
    /// Started, ms.
    pub started_at: i64,
    /// Planned end while active, ms.
    pub planned_end: Option<i64>,
    /// Released, ms.
    pub ended_at: Option<i64>,
    /// The latest decision's reason.
    pub reason: String,
    /// The domain's facts.
    pub facts: BlackholeFacts,
    /// Last change, ms.
    pub updated_at: i64,
}

fn blackhole_row(r: &AnyRow) -> Result<BlackholeRow> {
    let facts: String = s(r, "facts")?;
    Ok(BlackholeRow {
        id: s(r, "id")?,
        ip: s(r, "ip")?,
        account_id: s(r, "account_id")?,
        resource_id: s(r, "resource_id")?,
        case_id: s(r, "case_id")?,
        action_id: s(r, "action_id")?,
        state: c(r, "blackholes", "state")?,
        started_at: i(r, "started_at")?,
        planned_end: oi(r, "planned_end")?,
        ended_at: oi(r, "ended_at")?,
        reason: s(r, "reason")?,
        facts: serde_json::from_str(&facts)
            .map_err(|e| StoreError::Corrupt(format!("blackholes.facts: {e}")))?,
        updated_at: i(r, "updated_at")?,
    })
}

/// One change of an IP's protection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ProtectionChange {
    /// The protection from then on.
    pub protection: Protection,
    /// Who changed it (actor id).
    pub actor: String,
    /// When.
    pub at: Timestamp,
}

/// One minute of an IP's traffic (DDOS-6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct TrafficMinute {
    /// The minute's start.
    pub minute: Timestamp,
    /// Samples folded in.
    pub samples: i64,
    /// Highest inbound bps.
    pub in_bps_max: i64,
    /// Average inbound bps.
    pub in_bps_avg: i64,
    /// Highest inbound pps.
    pub in_pps_max: i64,
    /// Average inbound pps.
    pub in_pps_avg: i64,
    /// Highest outbound bps, where reported.
    pub out_bps_max: Option<i64>,
    /// Highest outbound pps, where reported.
    pub out_pps_max: Option<i64>,
}

/// A row of `traffic_minutes` or `traffic_hours`, whose bucket start is column `bucket`.
fn bucket_row(r: &AnyRow, bucket: &str) -> Result<TrafficMinute> {
    let n = i(r, "samples")?.max(1);
    Ok(TrafficMinute {
        minute: Timestamp(i(r, bucket)?),
        samples: i(r, "samples")?,
        in_bps_max: i(r, "in_bps_max")?,
        in_bps_avg: i(r, "in_bps_sum")? / n,
        in_pps_max: i(r, "in_pps_max")?,
        in_pps_avg: i(r, "in_pps_sum")? / n,
        out_bps_max: oi(r, "out_bps_max")?,
        out_pps_max: oi(r, "out_pps_max")?,
    })
}

/// The minutes of one IP from its rows per source (ordered by minute): a detector's view
/// (`api`) is whole, the flow nodes' views (`flow:<node>`) are parts that add up, so a minute is
/// the larger of the detectors' and the nodes' sum, field by field. At most 1500 minutes.
fn merge_sources(rows: &[AnyRow]) -> Result<Vec<TrafficMinute>> {
    merge_buckets(rows, "minute", 1500)
}

/// [`merge_sources`] over buckets whose start is column `bucket` (`minute`, `hour`), ordered
/// by it and then by source; at most `cap` buckets.
fn merge_buckets(rows: &[AnyRow], bucket: &str, cap: usize) -> Result<Vec<TrafficMinute>> {
    fn add(a: Option<i64>, b: Option<i64>) -> Option<i64> {
        match (a, b) {
            (Some(a), Some(b)) => Some(a.saturating_add(b)),
            (a, b) => a.or(b),
        }
    }
    fn max(a: Option<i64>, b: Option<i64>) -> Option<i64> {
        match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
    fn combine(api: Option<TrafficMinute>, flows: Option<TrafficMinute>) -> Option<TrafficMinute> {
        match (api, flows) {
            (Some(a), Some(f)) => Some(TrafficMinute {
                minute: a.minute,
                samples: a.samples.max(f.samples),
                in_bps_max: a.in_bps_max.max(f.in_bps_max),
                in_bps_avg: a.in_bps_avg.max(f.in_bps_avg),
                in_pps_max: a.in_pps_max.max(f.in_pps_max),
                in_pps_avg: a.in_pps_avg.max(f.in_pps_avg),
                out_bps_max: max(a.out_bps_max, f.out_bps_max),
                out_pps_max: max(a.out_pps_max, f.out_pps_max),
            }),
            (a, f) => a.or(f),
        }
    }
    let mut out: Vec<TrafficMinute> = Vec::new();
    let mut api: Option<TrafficMinute> = None;
    let mut flows: Option<TrafficMinute> = None;
    for r in rows {
        let m = bucket_row(r, bucket)?;
        let current = api.as_ref().or(flows.as_ref()).map(|x| x.minute);
        if current.is_some_and(|c| c != m.minute) {
            out.extend(combine(api.take(), flows.take()));
            if out.len() >= cap {
                return Ok(out);
            }
        }
        if s(r, "source")? == "api" {
            api = Some(m);
        } else {
            flows = Some(match flows.take() {
                None => m,
                Some(f) => TrafficMinute {
                    minute: f.minute,
                    samples: f.samples.max(m.samples),
                    in_bps_max: f.in_bps_max.saturating_add(m.in_bps_max),
                    in_bps_avg: f.in_bps_avg.saturating_add(m.in_bps_avg),
                    in_pps_max: f.in_pps_max.saturating_add(m.in_pps_max),
                    in_pps_avg: f.in_pps_avg.saturating_add(m.in_pps_avg),
                    out_bps_max: add(f.out_bps_max, m.out_bps_max),
                    out_pps_max: add(f.out_pps_max, m.out_pps_max),
                },
            });
        }
    }
    out.extend(combine(api, flows));
    Ok(out)
}

// --- Retention: the hourly series (issue 12; DDOS-6, AUD-3) ----------------------------------

/// An hour, ms.
pub const HOUR_MS: i64 = 3_600_000;
/// The 1-minute series is kept at least this long (issue 12).
pub const MIN_MINUTE_RETENTION_DAYS: i64 = 30;
/// The hourly series is network logging: kept at least 180 days (AUD-3).
pub const MIN_HOUR_RETENTION_DAYS: i64 = crate::audit::MIN_RETENTION_DAYS;
/// Most hours one read of the hourly series returns: 180 days and a little.
pub const MAX_HOURS_READ: usize = 4400;
/// Most hours of minutes one call of [`WriteTx::purge_traffic_minutes`] rolls up and removes.
const PURGE_HOURS_PER_CALL: i64 = 24;

/// The start of the hour holding `ms`.
pub fn hour_of(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// One hour of an IP's traffic (DDOS-6): the minutes of the hour summed up, merged across
/// sources like a minute (max(api, sum of the flow nodes)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct TrafficHour {
    /// The hour's start.
    pub hour: Timestamp,
    /// Samples folded in.
    pub samples: i64,
    /// Highest inbound bps of a sample in the hour.
    pub in_bps_max: i64,
    /// Average inbound bps over the hour's samples.
    pub in_bps_avg: i64,
    /// Highest inbound pps.
    pub in_pps_max: i64,
    /// Average inbound pps.
    pub in_pps_avg: i64,
    /// Highest outbound bps, where reported.
    pub out_bps_max: Option<i64>,
    /// Highest outbound pps, where reported.
    pub out_pps_max: Option<i64>,
}

impl From<TrafficMinute> for TrafficHour {
    fn from(m: TrafficMinute) -> Self {
        TrafficHour {
            hour: m.minute,
            samples: m.samples,
            in_bps_max: m.in_bps_max,
            in_bps_avg: m.in_bps_avg,
            in_pps_max: m.in_pps_max,
            in_pps_avg: m.in_pps_avg,
            out_bps_max: m.out_bps_max,
            out_pps_max: m.out_pps_max,
        }
    }
}

impl WriteTx {
    /// Rolls the minutes of the hours in `[from, to)` (both rounded down to the hour) up into
    /// `traffic_hours`, per (ip, hour, source): samples and sums summed, maxima max'ed. Each hour
    /// is recomputed from all its minutes and replaces what was there, so running it again — or
    /// after late samples joined a minute — never counts twice; an hour without minutes left is
    /// not touched. Returns the hour rows written. Keep the range short (a day per transaction):
    /// it reads every minute in it.
    pub async fn roll_up_traffic(&mut self, from: i64, to: i64) -> Result<u64> {
        let (from, to) = (hour_of(from), hour_of(to));
        if from >= to {
            return Ok(0);
        }
        // `WHERE` before `GROUP BY` also keeps SQLite from reading `ON CONFLICT` as a join's `ON`.
        let r = sqlx::query(
            "INSERT INTO traffic_hours (ip, hour, source, account_id, samples, in_bps_max, in_bps_sum, in_pps_max, in_pps_sum, out_bps_max, out_pps_max) \
             SELECT ip, (minute / 3600000) * 3600000, source, MAX(account_id), SUM(samples), MAX(in_bps_max), SUM(in_bps_sum), MAX(in_pps_max), SUM(in_pps_sum), MAX(out_bps_max), MAX(out_pps_max) \
             FROM traffic_minutes WHERE minute >= $1 AND minute < $2 \
             GROUP BY ip, (minute / 3600000) * 3600000, source \
             ON CONFLICT (ip, hour, source) DO UPDATE SET account_id = excluded.account_id, samples = excluded.samples, in_bps_max = excluded.in_bps_max, in_bps_sum = excluded.in_bps_sum, in_pps_max = excluded.in_pps_max, in_pps_sum = excluded.in_pps_sum, out_bps_max = excluded.out_bps_max, out_pps_max = excluded.out_pps_max",
        )
        .bind(from)
        .bind(to)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected())
    }

    /// Removes the minutes older than `retention_days` (never fewer than
    /// [`MIN_MINUTE_RETENTION_DAYS`]) before `now`, whole hours only, oldest first and at most a
    /// day of hours per call: each hour is rolled up ([`WriteTx::roll_up_traffic`]) in this
    /// transaction right before its minutes go, so no minute leaves without its hour. Returns
    /// the minutes removed; 0 when none is that old.
    pub async fn purge_traffic_minutes(&mut self, retention_days: i64, now: i64) -> Result<u64> {
        let days = retention_days.max(MIN_MINUTE_RETENTION_DAYS);
        let cut = hour_of(now.saturating_sub(days.saturating_mul(86_400_000)));
        let r = sqlx::query("SELECT MIN(minute) AS m FROM traffic_minutes")
            .fetch_one(self.conn())
            .await?;
        let Some(oldest) = oi(&r, "m")? else {
            return Ok(0);
        };
        let oldest = hour_of(oldest);
        if oldest >= cut {
            return Ok(0);
        }
        let upto = cut.min(oldest.saturating_add(PURGE_HOURS_PER_CALL * HOUR_MS));
        self.roll_up_traffic(oldest, upto).await?;
        let r = sqlx::query("DELETE FROM traffic_minutes WHERE minute < $1")
            .bind(upto)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected())
    }

    /// Removes the hours that started more than `retention_days` (never fewer than
    /// [`MIN_HOUR_RETENTION_DAYS`], AUD-3) before `now`. Returns the rows removed. Attack events
    /// and blackholes, with their evidence, are not traffic and are never purged here.
    pub async fn purge_traffic_hours(&mut self, retention_days: i64, now: i64) -> Result<u64> {
        let days = retention_days.max(MIN_HOUR_RETENTION_DAYS);
        let cut = now.saturating_sub(days.saturating_mul(86_400_000));
        let r = sqlx::query("DELETE FROM traffic_hours WHERE hour < $1")
            .bind(cut)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected())
    }
}

impl Store {
    /// The hours of `ip` starting in `[from, to)`, oldest first, merged across sources like the
    /// minutes (max(api, sum of the flow nodes)). At most [`MAX_HOURS_READ`] hours (the oldest).
    pub async fn traffic_hours_of(&self, ip: &str, from: i64, to: i64) -> Result<Vec<TrafficHour>> {
        let rows = sqlx::query(
            "SELECT * FROM traffic_hours WHERE ip = $1 AND hour >= $2 AND hour < $3 ORDER BY hour, source LIMIT 50000",
        )
        .bind(ip)
        .bind(hour_of(from))
        .bind(to)
        .fetch_all(self.pool())
        .await?;
        Ok(merge_buckets(&rows, "hour", MAX_HOURS_READ)?
            .into_iter()
            .map(TrafficHour::from)
            .collect())
    }
}

/// An account's self-service release attempts since a time, oldest first (at most 256).
const RELEASES_SINCE: &str = "SELECT at, succeeded FROM blackhole_releases WHERE account_id = $1 AND at >= $2 ORDER BY at, id LIMIT 256";

fn release_row(r: &AnyRow) -> Result<SelfServiceRelease> {
    Ok(SelfServiceRelease {
        at: Timestamp(i(r, "at")?),
        succeeded: i(r, "succeeded")? != 0,
    })
}

/// One 1 s sample, to fold into its minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// When, ms.
    pub at: i64,
    /// Inbound bps.
    pub in_bps: i64,
    /// Inbound pps.
    pub in_pps: i64,
    /// Outbound bps.
    pub out_bps: Option<i64>,
    /// Outbound pps.
    pub out_pps: Option<i64>,
}

/// An attack against an IP (DDOS-3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttackEvent {
    /// Id (`atk_...`).
    pub id: String,
    /// The IP.
    pub ip: String,
    /// Its account.
    pub account_id: String,
    /// Its resource.
    pub resource_id: String,
    /// The blackhole it started.
    pub blackhole_id: Option<String>,
    /// Seen first, ms.
    pub started_at: i64,
    /// Peak inbound bps.
    pub peak_bps: i64,
    /// Peak inbound pps.
    pub peak_pps: i64,
    /// What the detection saw (JSON).
    pub evidence: String,
}

fn protection_of(kind: &str, capacity: Option<i64>, table: &str) -> Result<Protection> {
    match (kind, capacity) {
        ("basic", _) => Ok(Protection::Basic),
        ("high_defense", Some(c)) => Ok(Protection::HighDefense {
            capacity_bps: u64::try_from(c).unwrap_or(0),
        }),
        (other, _) => Err(StoreError::Corrupt(format!(
            "{table}.kind holds {other:?}, not basic or high_defense with a capacity"
        ))),
    }
}

fn protection_columns(p: Protection) -> (&'static str, Option<i64>) {
    match p {
        Protection::Basic => ("basic", None),
        Protection::HighDefense { capacity_bps } => (
            "high_defense",
            Some(i64::try_from(capacity_bps).unwrap_or(i64::MAX)),
        ),
    }
}

fn facts_json(f: &BlackholeFacts) -> Result<String> {
    serde_json::to_string(f).map_err(|e| StoreError::Corrupt(format!("blackhole facts: {e}")))
}

impl WriteTx {
    /// The protection of `ip` (basic without a row).
    pub async fn ip_protection(&mut self, ip: &str) -> Result<Protection> {
        let r = sqlx::query("SELECT kind, capacity_bps FROM ip_protection WHERE ip = $1")
            .bind(ip)
            .fetch_optional(self.conn())
            .await?;
        match r {
            Some(r) => protection_of(&s(&r, "kind")?, oi(&r, "capacity_bps")?, "ip_protection"),
            None => Ok(Protection::Basic),
        }
    }

    /// Sets the protection of `ip` and records the change.
    pub async fn set_ip_protection(
        &mut self,
        ip: &str,
        account_id: &str,
        p: Protection,
        actor: &str,
        now: i64,
    ) -> Result<()> {
        let (kind, cap) = protection_columns(p);
        sqlx::query(
            "INSERT INTO ip_protection (ip, account_id, kind, capacity_bps, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (ip) DO UPDATE SET account_id = excluded.account_id, kind = excluded.kind, capacity_bps = excluded.capacity_bps, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(ip)
        .bind(account_id)
        .bind(kind)
        .bind(cap)
        .bind(now)
        .bind(actor)
        .execute(self.conn())
        .await?;
        sqlx::query(
            "INSERT INTO ip_protection_history (id, ip, account_id, kind, capacity_bps, actor, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(crate::new_id("prt", now))
        .bind(ip)
        .bind(account_id)
        .bind(kind)
        .bind(cap)
        .bind(actor)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Folds samples of `ip` seen by `source` (`api`, `flow:<node>`) into their minutes.
    pub async fn add_traffic(
        &mut self,
        ip: &str,
        account_id: &str,
        source: &str,
        samples: &[Sample],
    ) -> Result<()> {
        for x in samples {
            let minute = x.at.div_euclid(60_000) * 60_000;
            sqlx::query(
                "INSERT INTO traffic_minutes (ip, minute, source, account_id, samples, in_bps_max, in_bps_sum, in_pps_max, in_pps_sum, out_bps_max, out_pps_max) VALUES ($1, $2, $8, $3, 1, $4, $4, $5, $5, $6, $7) ON CONFLICT (ip, minute, source) DO UPDATE SET samples = traffic_minutes.samples + 1, in_bps_max = CASE WHEN excluded.in_bps_max > traffic_minutes.in_bps_max THEN excluded.in_bps_max ELSE traffic_minutes.in_bps_max END, in_bps_sum = traffic_minutes.in_bps_sum + excluded.in_bps_sum, in_pps_max = CASE WHEN excluded.in_pps_max > traffic_minutes.in_pps_max THEN excluded.in_pps_max ELSE traffic_minutes.in_pps_max END, in_pps_sum = traffic_minutes.in_pps_sum + excluded.in_pps_sum, out_bps_max = CASE WHEN traffic_minutes.out_bps_max IS NULL OR excluded.out_bps_max > traffic_minutes.out_bps_max THEN COALESCE(excluded.out_bps_max, traffic_minutes.out_bps_max) ELSE traffic_minutes.out_bps_max END, out_pps_max = CASE WHEN traffic_minutes.out_pps_max IS NULL OR excluded.out_pps_max > traffic_minutes.out_pps_max THEN COALESCE(excluded.out_pps_max, traffic_minutes.out_pps_max) ELSE traffic_minutes.out_pps_max END",
            )
            .bind(ip)
            .bind(minute)
            .bind(account_id)
            .bind(x.in_bps)
            .bind(x.in_pps)
            .bind(x.out_bps)
            .bind(x.out_pps)
            .bind(source)
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }

    /// The minutes of `ip` starting at or after `since`, oldest first.
    pub async fn traffic_since(&mut self, ip: &str, since: i64) -> Result<Vec<TrafficMinute>> {
        let rows = sqlx::query(
            "SELECT * FROM traffic_minutes WHERE ip = $1 AND minute >= $2 ORDER BY minute, source LIMIT 15000",
        )
        .bind(ip)
        .bind(since)
        .fetch_all(self.conn())
        .await?;
        merge_sources(&rows)
    }

    /// The latest blackhole of `ip`, if it ever had one.
    pub async fn latest_blackhole(&mut self, ip: &str) -> Result<Option<BlackholeRow>> {
        let r = sqlx::query(
            "SELECT * FROM blackholes WHERE ip = $1 ORDER BY started_at DESC, id DESC LIMIT 1",
        )
        .bind(ip)
        .fetch_optional(self.conn())
        .await?;
        r.as_ref().map(blackhole_row).transpose()
    }

    /// A blackhole by id.
    pub async fn get_blackhole(&mut self, id: &str) -> Result<Option<BlackholeRow>> {
        let r = sqlx::query("SELECT * FROM blackholes WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(blackhole_row).transpose()
    }

    /// Stores a new blackhole.
    pub async fn insert_blackhole(&mut self, b: &BlackholeRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO blackholes (id, ip, account_id, resource_id, case_id, action_id, state, started_at, planned_end, ended_at, reason, facts, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&b.id)
        .bind(&b.ip)
        .bind(&b.account_id)
        .bind(&b.resource_id)
        .bind(&b.case_id)
        .bind(&b.action_id)
        .bind(b.state.code())
        .bind(b.started_at)
        .bind(b.planned_end)
        .bind(b.ended_at)
        .bind(&b.reason)
        .bind(facts_json(&b.facts)?)
        .bind(b.updated_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Stores a blackhole's new state, planned end, end, reason and facts.
    pub async fn update_blackhole(&mut self, b: &BlackholeRow) -> Result<()> {
        sqlx::query(
            "UPDATE blackholes SET state = $1, planned_end = $2, ended_at = $3, reason = $4, facts = $5, updated_at = $6 WHERE id = $7",
        )
        .bind(b.state.code())
        .bind(b.planned_end)
        .bind(b.ended_at)
        .bind(&b.reason)
        .bind(facts_json(&b.facts)?)
        .bind(b.updated_at)
        .bind(&b.id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Records an attack.
    pub async fn insert_attack(&mut self, a: &AttackEvent) -> Result<()> {
        sqlx::query(
            "INSERT INTO attack_events (id, ip, account_id, resource_id, blackhole_id, started_at, ended_at, peak_bps, peak_pps, evidence) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $9)",
        )
        .bind(&a.id)
        .bind(&a.ip)
        .bind(&a.account_id)
        .bind(&a.resource_id)
        .bind(&a.blackhole_id)
        .bind(a.started_at)
        .bind(a.peak_bps)
        .bind(a.peak_pps)
        .bind(&a.evidence)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Ends the attack that started blackhole `id`, with its final peaks.
    pub async fn end_attack(
        &mut self,
        blackhole_id: &str,
        peak_bps: i64,
        peak_pps: i64,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE attack_events SET ended_at = $1, peak_bps = $2, peak_pps = $3 WHERE blackhole_id = $4 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(peak_bps)
        .bind(peak_pps)
        .bind(blackhole_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The account's self-service release attempts since `since`, oldest first.
    pub async fn account_releases(
        &mut self,
        account_id: &str,
        since: i64,
    ) -> Result<Vec<SelfServiceRelease>> {
        let rows = sqlx::query(RELEASES_SINCE)
            .bind(account_id)
            .bind(since)
            .fetch_all(self.conn())
            .await?;
        rows.iter().map(release_row).collect()
    }

    /// Records a self-service release attempt.
    pub async fn insert_release_attempt(
        &mut self,
        account_id: &str,
        blackhole_id: &str,
        at: i64,
        succeeded: bool,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO blackhole_releases (id, account_id, blackhole_id, at, succeeded) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(crate::new_id("rel", at))
        .bind(account_id)
        .bind(blackhole_id)
        .bind(at)
        .bind(i64::from(succeeded))
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl Store {
    /// Blackholes in `scope`, newest first; `active_only` keeps the active ones.
    pub async fn list_blackholes(
        &self,
        scope: &Scope,
        active_only: bool,
        limit: i64,
    ) -> Result<Vec<BlackholeRow>> {
        let (cond, account) = scope_condition(scope, "account_id", 1);
        let state = if active_only {
            " AND state = 'active'"
        } else {
            ""
        };
        let sql = format!(
            "SELECT * FROM blackholes WHERE 1 = 1{cond}{state} ORDER BY started_at DESC, id DESC LIMIT {}",
            crate::page(limit)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(a) = account {
            q = q.bind(a);
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(blackhole_row).collect()
    }

    /// The protection history of `ip`, oldest first.
    pub async fn protection_history(&self, ip: &str) -> Result<Vec<ProtectionChange>> {
        let rows = sqlx::query(
            "SELECT kind, capacity_bps, actor, at FROM ip_protection_history WHERE ip = $1 ORDER BY at, id LIMIT 1000",
        )
        .bind(ip)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ProtectionChange {
                    protection: protection_of(
                        &s(r, "kind")?,
                        oi(r, "capacity_bps")?,
                        "ip_protection_history",
                    )?,
                    actor: s(r, "actor")?,
                    at: Timestamp(i(r, "at")?),
                })
            })
            .collect()
    }

    /// The minutes of `ip` starting at or after `since`, oldest first.
    pub async fn traffic_of(&self, ip: &str, since: i64) -> Result<Vec<TrafficMinute>> {
        let rows = sqlx::query(
            "SELECT * FROM traffic_minutes WHERE ip = $1 AND minute >= $2 ORDER BY minute, source LIMIT 15000",
        )
        .bind(ip)
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        merge_sources(&rows)
    }
}

/// An attack against an IP as read back (DDOS-3, DDOS-6): the stored [`AttackEvent`] and its
/// end, once its blackhole was released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttackRecord {
    /// Id (`atk_...`), sortable by creation: the key of keyset paging.
    pub id: String,
    /// The IP.
    pub ip: String,
    /// Its account.
    pub account_id: String,
    /// Its resource.
    pub resource_id: String,
    /// The blackhole it started.
    pub blackhole_id: Option<String>,
    /// Seen first, ms.
    pub started_at: i64,
    /// Over (its blackhole released), ms.
    pub ended_at: Option<i64>,
    /// Peak inbound bps.
    pub peak_bps: i64,
    /// Peak inbound pps.
    pub peak_pps: i64,
    /// What the detection saw (JSON text as stored).
    pub evidence: String,
}

fn attack_row(r: &AnyRow) -> Result<AttackRecord> {
    Ok(AttackRecord {
        id: s(r, "id")?,
        ip: s(r, "ip")?,
        account_id: s(r, "account_id")?,
        resource_id: s(r, "resource_id")?,
        blackhole_id: crate::os(r, "blackhole_id")?,
        started_at: i(r, "started_at")?,
        ended_at: oi(r, "ended_at")?,
        peak_bps: i(r, "peak_bps")?,
        peak_pps: i(r, "peak_pps")?,
        evidence: s(r, "evidence")?,
    })
}

/// Which blackholes a page lists (newest first, by id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlackholeFilter {
    /// Only this IP's.
    pub ip: Option<String>,
    /// Only active ones.
    pub active_only: bool,
    /// Keyset cursor: only ids below this one (the last id of the previous page).
    pub before: Option<String>,
}

/// The read side of DDoS: what the GET routes and pages read, from the pool and never inside a
/// write transaction, so that reading a chart or a list takes no write lock (on SQLite, the
/// one writer's lock; on PostgreSQL, no row locks).
impl Store {
    /// The protection of `ip` (basic without a row).
    pub async fn read_ip_protection(&self, ip: &str) -> Result<Protection> {
        let r = sqlx::query("SELECT kind, capacity_bps FROM ip_protection WHERE ip = $1")
            .bind(ip)
            .fetch_optional(self.pool())
            .await?;
        match r {
            Some(r) => protection_of(&s(&r, "kind")?, oi(&r, "capacity_bps")?, "ip_protection"),
            None => Ok(Protection::Basic),
        }
    }

    /// The protections of the IPs of `scope` that are not basic, by IP (at most 5000).
    pub async fn ip_protections(&self, scope: &Scope) -> Result<Vec<(String, Protection)>> {
        let (cond, account) = scope_condition(scope, "account_id", 1);
        let sql = format!(
            "SELECT ip, kind, capacity_bps FROM ip_protection WHERE 1 = 1{cond} ORDER BY ip LIMIT 5000"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(a) = account {
            q = q.bind(a);
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok((
                    s(r, "ip")?,
                    protection_of(&s(r, "kind")?, oi(r, "capacity_bps")?, "ip_protection")?,
                ))
            })
            .collect()
    }

    /// The latest blackhole of `ip`, if it ever had one.
    pub async fn read_latest_blackhole(&self, ip: &str) -> Result<Option<BlackholeRow>> {
        let r = sqlx::query(
            "SELECT * FROM blackholes WHERE ip = $1 ORDER BY started_at DESC, id DESC LIMIT 1",
        )
        .bind(ip)
        .fetch_optional(self.pool())
        .await?;
        r.as_ref().map(blackhole_row).transpose()
    }

    /// The account's self-service release attempts since `since`, oldest first.
    pub async fn read_account_releases(
        &self,
        account_id: &str,
        since: i64,
    ) -> Result<Vec<SelfServiceRelease>> {
        let rows = sqlx::query(RELEASES_SINCE)
            .bind(account_id)
            .bind(since)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(release_row).collect()
    }

    /// A page of blackholes in `scope`, newest first (keyset on the id, never an offset).
    pub async fn blackholes_page(
        &self,
        scope: &Scope,
        f: &BlackholeFilter,
        limit: i64,
    ) -> Result<Vec<BlackholeRow>> {
        let conditions = crate::Conditions::from(1)
            .scope(scope, "account_id")
            .eq("ip", f.ip.as_deref())
            .when(f.active_only, " AND state = 'active'")
            .cmp("id", "<", f.before.as_deref());
        let sql = format!(
            "SELECT * FROM blackholes WHERE 1 = 1{} ORDER BY id DESC LIMIT {}",
            conditions.sql(),
            crate::page(limit)
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql));
        let rows = conditions.bind(q).fetch_all(self.pool()).await?;
        rows.iter().map(blackhole_row).collect()
    }

    /// A page of attacks in `scope`, newest first, optionally of one IP; `before` is the last id
    /// of the previous page (keyset, never an offset).
    pub async fn attacks_page(
        &self,
        scope: &Scope,
        ip: Option<&str>,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AttackRecord>> {
        let conditions = crate::Conditions::from(1)
            .scope(scope, "account_id")
            .eq("ip", ip)
            .cmp("id", "<", before);
        let sql = format!(
            "SELECT * FROM attack_events WHERE 1 = 1{} ORDER BY id DESC LIMIT {}",
            conditions.sql(),
            crate::page(limit)
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql));
        let rows = conditions.bind(q).fetch_all(self.pool()).await?;
        rows.iter().map(attack_row).collect()
    }
}

//! The outbound queue's rows (NOT-1, NOT-2, ENF-2): one per message to one endpoint of one
//! channel, and every attempt to send it.
//!
//! The job queue runs the attempts; these rows are what operators see and re-drive. A message
//! is written in the transaction of what it reports (an enforcement change, a notice), so
//! nothing acknowledged goes unsent; writing the same id again (a re-send, a re-drive) puts the
//! message back to `pending` and keeps its history.

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::{Result, Store, WriteTx, c, i, oi, os, page, s};

warden_domain::codes! {
    /// How a message leaves Warden.
    pub enum Channel: "outbound channel" {
        /// An HTTP POST signed the Standard Webhooks way (ENF-1).
        Webhook = "webhook",
        /// E-mail over SMTP (NOT-1).
        Email = "email",
        /// SMS through the provider's HTTP gateway (NOT-1).
        Sms = "sms",
    }
}

warden_domain::codes! {
    /// Where a message stands.
    pub enum OutboundState: "outbound state" {
        /// Waiting for its next attempt (or its first).
        Pending = "pending",
        /// The endpoint took it.
        Sent = "sent",
        /// Out of attempts, or refused for good: waits for an operator to re-drive it.
        Dead = "dead",
    }
}

/// A message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Outbound {
    /// Stable id (`webhook:<endpoint>:<msg id>`, `email:<notice id>`, `sms:<notice id>`).
    pub id: String,
    /// Channel.
    pub channel: Channel,
    /// The endpoint within the channel (a webhook endpoint's name, `smtp`, `gateway`).
    pub endpoint: String,
    /// What it is about (`notice:<id>`, `change:<action id>:<op>`).
    pub subject: String,
    /// The account it concerns, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// What to send (channel-specific JSON; no recipient in it).
    #[serde(skip)]
    pub payload: String,
    /// State.
    pub state: OutboundState,
    /// Attempts made.
    pub attempts: i64,
    /// Why the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Queued, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub created_at: i64,
    /// Last change, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub updated_at: i64,
    /// Taken by the endpoint, ms.
    #[serde(with = "warden_domain::time::rfc3339::option")]
    #[schemars(with = "Option<warden_domain::time::Timestamp>")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<i64>,
    /// Position in the lists (newest highest); the cursor of the next page.
    pub seq: i64,
}

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewOutbound {
    /// Stable id.
    pub id: String,
    /// Channel.
    pub channel: Channel,
    /// Endpoint.
    pub endpoint: String,
    /// Subject.
    pub subject: String,
    /// Account.
    pub account_id: Option<String>,
    /// Payload.
    pub payload: String,
}

/// One attempt to send a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct OutboundAttempt {
    /// Id.
    pub id: String,
    /// The message.
    pub outbound_id: String,
    /// 1-based.
    pub attempt: i64,
    /// The endpoint's status code (HTTP status, SMTP reply code), when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    /// What went wrong, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub at: i64,
}

/// Which messages to list.
#[derive(Debug, Clone, Default)]
pub struct OutboundFilter {
    /// Only this channel.
    pub channel: Option<Channel>,
    /// Only this state.
    pub state: Option<OutboundState>,
    /// Only about this (`notice:ntc_...`).
    pub subject: Option<String>,
    /// Only with a `seq` below this (the next page).
    pub before: Option<i64>,
}

fn row(r: &AnyRow) -> Result<Outbound> {
    Ok(Outbound {
        seq: i(r, "seq")?,
        id: s(r, "id")?,
        channel: c(r, "outbound", "channel")?,
        endpoint: s(r, "endpoint")?,
        subject: s(r, "subject")?,
        account_id: os(r, "account_id")?,
        payload: s(r, "payload")?,
        state: c(r, "outbound", "state")?,
        attempts: i(r, "attempts")?,
        last_error: os(r, "last_error")?,
        created_at: i(r, "created_at")?,
        updated_at: i(r, "updated_at")?,
        sent_at: oi(r, "sent_at")?,
    })
}

fn attempt_row(r: &AnyRow) -> Result<OutboundAttempt> {
    Ok(OutboundAttempt {
        id: s(r, "id")?,
        outbound_id: s(r, "outbound_id")?,
        attempt: i(r, "attempt")?,
        status: oi(r, "status")?,
        error: os(r, "error")?,
        at: i(r, "at")?,
    })
}

/// Most characters of an error kept.
const MAX_ERROR: usize = 2000;

impl WriteTx {
    /// Queues a message, or puts the message with this id back to `pending` with this payload
    /// (a re-send or a re-drive keeps the id, the attempts made and the history).
    pub async fn put_outbound(&mut self, m: &NewOutbound, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO outbound (id, channel, endpoint, subject, account_id, payload, state, attempts, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7) ON CONFLICT (id) DO UPDATE SET payload = excluded.payload, state = 'pending', updated_at = excluded.updated_at, sent_at = NULL",
        )
        .bind(m.id.as_str())
        .bind(m.channel.code())
        .bind(m.endpoint.as_str())
        .bind(m.subject.as_str())
        .bind(m.account_id.as_deref())
        .bind(m.payload.as_str())
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The message, read inside the transaction.
    pub async fn get_outbound(&mut self, id: &str) -> Result<Option<Outbound>> {
        let r = sqlx::query("SELECT * FROM outbound WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(row).transpose()
    }

    /// Records an attempt and where the message stands after it: `Sent`, `Pending` (it will be
    /// tried again) or `Dead`.
    pub async fn record_outbound_attempt(
        &mut self,
        a: &OutboundAttempt,
        state: OutboundState,
    ) -> Result<()> {
        let error = a
            .error
            .as_ref()
            .map(|e| e.chars().take(MAX_ERROR).collect::<String>());
        sqlx::query("INSERT INTO outbound_attempts (id, outbound_id, attempt, status, error, at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(a.id.as_str())
            .bind(a.outbound_id.as_str())
            .bind(a.attempt)
            .bind(a.status)
            .bind(error.as_deref())
            .bind(a.at)
            .execute(self.conn())
            .await?;
        sqlx::query(
            "UPDATE outbound SET state = $1, attempts = attempts + 1, last_error = $2, updated_at = $3, sent_at = CASE WHEN $1 = 'sent' THEN $3 ELSE sent_at END WHERE id = $4",
        )
        .bind(state.code())
        .bind(error.as_deref())
        .bind(a.at)
        .bind(a.outbound_id.as_str())
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl Store {
    /// One message.
    pub async fn get_outbound(&self, id: &str) -> Result<Option<Outbound>> {
        let r = sqlx::query("SELECT * FROM outbound WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        r.as_ref().map(row).transpose()
    }

    /// Messages, newest first, a page of at most `limit`.
    pub async fn list_outbound(&self, f: &OutboundFilter, limit: i64) -> Result<Vec<Outbound>> {
        let mut sql = String::from("SELECT * FROM outbound WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        let mut bind = |sql: &mut String, column: &str, value: &str| {
            binds.push(value.to_string());
            sql.push_str(&format!(" AND {column} = ${}", binds.len()));
        };
        if let Some(ch) = f.channel {
            bind(&mut sql, "channel", ch.code());
        }
        if let Some(st) = f.state {
            bind(&mut sql, "state", st.code());
        }
        if let Some(subject) = f.subject.as_deref() {
            bind(&mut sql, "subject", subject);
        }
        let n = binds.len();
        if f.before.is_some() {
            sql.push_str(&format!(" AND seq < ${}", n + 1));
        }
        let limit_at = n + 1 + usize::from(f.before.is_some());
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT ${limit_at}"));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in &binds {
            q = q.bind(b.as_str());
        }
        if let Some(before) = f.before {
            q = q.bind(before);
        }
        let rows = q.bind(page(limit)).fetch_all(self.pool()).await?;
        rows.iter().map(row).collect()
    }

    /// The messages about any of `subjects`, oldest first.
    pub async fn outbound_about(&self, subjects: &[String]) -> Result<Vec<Outbound>> {
        let mut out = Vec::new();
        for chunk in subjects.chunks(crate::KEYS_PER_QUERY) {
            if chunk.is_empty() {
                continue;
            }
            let list: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT * FROM outbound WHERE subject IN ({}) ORDER BY seq",
                list.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for s in chunk {
                q = q.bind(s.as_str());
            }
            for r in q.fetch_all(self.pool()).await? {
                out.push(row(&r)?);
            }
        }
        out.sort_by_key(|m| m.seq);
        Ok(out)
    }

    /// A message's attempts, newest first.
    pub async fn outbound_attempts(&self, id: &str, limit: i64) -> Result<Vec<OutboundAttempt>> {
        let rows = sqlx::query(
            "SELECT * FROM outbound_attempts WHERE outbound_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(id)
        .bind(page(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(attempt_row).collect()
    }

    /// Messages `pending` whose delivery job is gone or finished (its handler kept failing
    /// outside the send, say, until the job was dead): reconciliation queues them again.
    pub async fn orphaned_outbound(&self, limit: i64) -> Result<Vec<Outbound>> {
        let rows = sqlx::query(
            "SELECT o.* FROM outbound o WHERE o.state = 'pending' AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.dedup_key = 'out:' || o.id AND j.state IN ('pending', 'running')) ORDER BY o.seq LIMIT $1",
        )
        .bind(page(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(row).collect()
    }

    /// Messages not sent, by channel and state (the metrics' gauge).
    pub async fn outbound_counts(&self) -> Result<Vec<(Channel, OutboundState, i64)>> {
        let rows = sqlx::query(
            "SELECT channel, state, COUNT(*) AS n FROM outbound WHERE state <> 'sent' GROUP BY channel, state ORDER BY channel, state",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    c(r, "outbound", "channel")?,
                    c(r, "outbound", "state")?,
                    i(r, "n")?,
                ))
            })
            .collect()
    }
}

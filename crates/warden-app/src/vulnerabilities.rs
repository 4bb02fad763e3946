//! The confidential vulnerability channel (ASMT-4): vulnerabilities in the provider's own
//! infrastructure, reported by anyone, read only by the security team (and admins), never
//! published.
//!
//! How the text is kept from everyone else:
//!
//! - It is sealed before it reaches storage (title, description, details and the affected
//!   component, with the same key as reporter contacts, AUD-4), and opened only in the two
//!   reads of the security team: the inbox and one report.
//! - Those reads are use cases of their own, refused to every other role; no other use case
//!   reads the table, so case search, counts, the audit export, notices, webhooks and metrics
//!   cannot reach it. Each read writes an audit event in the same transaction, naming the
//!   reader and the reports' ids and nothing of their text; if the event cannot be written,
//!   nothing is returned.
//! - Above the store the text travels as [`Confidential`], whose `Debug` is `[redacted]`, so no
//!   `tracing` line, error or panic message can show it; the input type's and views' `Debug`
//!   follow from it. Validation errors name the field and the bound, never the value.
//! - The reporter sees where its report stands, never its text: a tenant the statuses of its
//!   account's reports, anyone else (anonymous reporters among them) the status of one report
//!   through the status token returned once at submission, of which only the SHA-256 is kept.
//! - The security team sees who reported as a kind (`tenant`, `anonymous`, or the staff role),
//!   not the account: it reads nothing tenant-visible (SPEC §1). The account is on the audit
//!   record of the submission, for auditors.

use serde::{Deserialize, Serialize};
use warden_domain::code::Code;
use warden_domain::identity::Role;
use warden_domain::resource::InvalidInput;
use warden_domain::time::Timestamp;
use warden_domain::vulnerability::{
    Confidential, Submission, VulnerabilitySeverity, VulnerabilityState, transition,
};
use warden_store::vulnerabilities::{VulnerabilityRow, VulnerabilityStatus};

use crate::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};

/// Who reads and handles vulnerability reports.
pub const SECURITY: &[Role] = &[Role::Admin, Role::SecurityTeam];

/// A vulnerability report as submitted (ASMT-4). Its `Debug` shows no field's value, the
/// severity included (a reporter may type anything there).
#[derive(Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VulnerabilityInput {
    /// A one-line summary, 1 to 200 characters.
    #[schemars(required, length(min = 1, max = 200), pattern(r"\S"))]
    pub title: Option<Confidential>,
    /// What is wrong and what it allows, 1 to 20000 characters.
    #[schemars(required, length(min = 1, max = 20000), pattern(r"\S"))]
    pub description: Option<Confidential>,
    /// Steps to reproduce, a proof of concept; up to 20000 characters.
    #[serde(default)]
    #[schemars(with = "Option<String>", length(max = 20000))]
    pub details: Option<Confidential>,
    /// The affected component or address of the provider's infrastructure (a host name, an IP
    /// address, a service), 1 to 500 characters.
    #[schemars(required, length(min = 1, max = 500), pattern(r"\S"))]
    pub component: Option<Confidential>,
    /// The severity as you judge it: `low`, `medium`, `high` or `critical`.
    #[schemars(required, with = "VulnerabilitySeverity")]
    pub severity: Option<String>,
}

impl std::fmt::Debug for VulnerabilityInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VulnerabilityInput([redacted])")
    }
}

/// What the reporter learns at submission.
#[derive(Clone, Serialize, schemars::JsonSchema)]
pub struct VulnerabilityReceipt {
    /// The report's id.
    pub id: String,
    /// Always `received`.
    pub state: VulnerabilityState,
    /// When it was received.
    pub received_at: Timestamp,
    /// For a reporter without a tenant account: the secret that shows the report's status
    /// (`POST /api/vulnerabilities/status`). Shown this once; Warden keeps only its digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_token: Option<String>,
}

impl std::fmt::Debug for VulnerabilityReceipt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VulnerabilityReceipt")
            .field("id", &self.id)
            .field("state", &self.state)
            .field(
                "status_token",
                &self.status_token.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// A status lookup by token.
#[derive(Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusTokenInput {
    /// The status token returned at submission.
    #[schemars(required, length(min = 1, max = 200))]
    pub token: Option<String>,
}

impl std::fmt::Debug for StatusTokenInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StatusTokenInput([redacted])")
    }
}

/// A state change by the security team.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VulnerabilityStateInput {
    /// `triaged`, `fixed` or `rejected`.
    #[schemars(required, with = "VulnerabilityState")]
    pub state: Option<String>,
}

/// Who reported, as the security team sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReporterKind {
    /// A tenant, from its account.
    Tenant,
    /// Someone without a token.
    Anonymous,
    /// Provider staff or a machine credential.
    Staff,
}

impl ReporterKind {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            ReporterKind::Tenant => "tenant",
            ReporterKind::Anonymous => "anonymous",
            ReporterKind::Staff => "staff",
        }
    }
}

/// A vulnerability report as the security team reads it, its text opened.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct VulnerabilityView {
    /// Id.
    pub id: String,
    /// Where it stands.
    pub state: VulnerabilityState,
    /// The severity as declared.
    pub severity: VulnerabilitySeverity,
    /// Who reported it, by kind.
    pub reporter: ReporterKind,
    /// The summary.
    pub title: Confidential,
    /// The description.
    pub description: Confidential,
    /// The details, if given.
    pub details: Option<Confidential>,
    /// The affected component or address.
    pub component: Confidential,
    /// Received.
    pub received_at: Timestamp,
    /// Last state change.
    pub updated_at: Timestamp,
    /// Who made the last state change (token or user id).
    pub updated_by: Option<String>,
}

/// One line of the security team's inbox.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct VulnerabilitySummary {
    /// Id.
    pub id: String,
    /// Where it stands.
    pub state: VulnerabilityState,
    /// The severity as declared.
    pub severity: VulnerabilitySeverity,
    /// Who reported it, by kind.
    pub reporter: ReporterKind,
    /// The summary.
    pub title: Confidential,
    /// The affected component or address.
    pub component: Confidential,
    /// Received.
    pub received_at: Timestamp,
    /// Last state change.
    pub updated_at: Timestamp,
}

/// How many reports are in one state.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StateCount {
    /// The state.
    pub state: VulnerabilityState,
    /// How many reports are in it.
    pub count: i64,
}

/// The security team's inbox: a page of reports, newest first, and the count per state.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct VulnerabilityInbox {
    /// This page.
    pub items: Vec<VulnerabilitySummary>,
    /// Pass as `before` for the next page (`null`: the last).
    pub next_before: Option<String>,
    /// Reports per state (every state, zeros included).
    pub counts: Vec<StateCount>,
}

/// The inbox's filter.
#[derive(Debug, Clone, Default)]
pub struct InboxFilter {
    /// Only this state (a code).
    pub state: Option<String>,
    /// Continue below this id.
    pub before: Option<String>,
    /// Page size (1 to 500).
    pub limit: i64,
}

fn reporter_kind(r: &VulnerabilityRow) -> ReporterKind {
    match (&r.account_id, r.reporter.as_str()) {
        (Some(_), _) => ReporterKind::Tenant,
        (None, "anonymous") => ReporterKind::Anonymous,
        (None, _) => ReporterKind::Staff,
    }
}

/// SHA-256 of a status token (only the digest is stored).
fn token_digest(token: &str) -> String {
    warden_domain::sha256_hex(token.as_bytes())
}

fn new_status_token() -> AppResult<String> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b)
        .map_err(|_| AppError::Crypto(crate::crypto::CryptoError::NoRandom))?;
    Ok(format!("vst_{}", hex::encode(b)))
}

impl App {
    fn seal_text(&self, c: &Confidential) -> AppResult<Vec<u8>> {
        Ok(self.sealer.seal(c.expose().as_bytes())?)
    }

    fn open_text(&self, sealed: &[u8]) -> AppResult<Confidential> {
        let plain = self.sealer.open(sealed)?;
        String::from_utf8(plain)
            .map(Confidential::new)
            .map_err(|_| AppError::Internal("a sealed vulnerability text is not UTF-8".into()))
    }

    fn vulnerability_view(&self, r: &VulnerabilityRow) -> AppResult<VulnerabilityView> {
        Ok(VulnerabilityView {
            id: r.id.clone(),
            state: r.state,
            severity: r.severity,
            reporter: reporter_kind(r),
            title: self.open_text(&r.title_enc)?,
            description: self.open_text(&r.description_enc)?,
            details: r
                .details_enc
                .as_deref()
                .map(|d| self.open_text(d))
                .transpose()?,
            component: self.open_text(&r.component_enc)?,
            received_at: Timestamp(r.received_at),
            updated_at: Timestamp(r.updated_at),
            updated_by: r.updated_by.clone(),
        })
    }

    fn rate_limit_anonymous(&self, who: &Principal) -> AppResult<()> {
        if let Principal::Anonymous { ip } = who
            && !self.limiter.allow(ip, self.now())
        {
            self.metrics.inc_rejected("rate_limited");
            return Err(AppError::RateLimited);
        }
        Ok(())
    }

    /// Submits a vulnerability report (ASMT-4): anyone may, anonymous callers rate-limited
    /// like public abuse reports. A tenant's report is tied to its account (its users follow
    /// it with [`App::my_vulnerabilities`]); anyone else gets a status token, once.
    pub async fn submit_vulnerability(
        &self,
        who: &Principal,
        input: VulnerabilityInput,
    ) -> AppResult<VulnerabilityReceipt> {
        self.rate_limit_anonymous(who)?;
        let s = Submission::parse(
            input.title.as_ref(),
            input.description.as_ref(),
            input.details.as_ref(),
            input.component.as_ref(),
            input.severity.as_deref(),
        )?;
        let account = match who {
            Principal::Token {
                role: Role::Tenant,
                account,
                ..
            } => Some(
                account
                    .clone()
                    .filter(|a| !a.is_empty())
                    .ok_or(AppError::Forbidden(
                        "report vulnerabilities without an account",
                    ))?,
            ),
            _ => None,
        };
        let token = match account {
            Some(_) => None,
            None => Some(new_status_token()?),
        };
        let now = self.now();
        let row = VulnerabilityRow {
            id: warden_store::new_id("vul", now),
            account_id: account.clone(),
            reporter: who.actor(),
            status_token_sha256: token.as_deref().map(token_digest),
            severity: s.severity,
            state: VulnerabilityState::Received,
            title_enc: self.seal_text(&s.title)?,
            description_enc: self.seal_text(&s.description)?,
            details_enc: s.details.as_ref().map(|d| self.seal_text(d)).transpose()?,
            component_enc: self.seal_text(&s.component)?,
            received_at: now,
            updated_at: now,
            updated_by: None,
        };
        let mut tx = self.store.begin_write().await?;
        tx.insert_vulnerability(&row).await?;
        let mut ev = self.event(
            who,
            "vulnerability.submit",
            format!("vulnerability:{}", row.id),
        );
        ev.account_id = account;
        ev.details = serde_json::json!({ "severity": row.severity });
        tx.append_audit(ev).await?;
        tx.commit().await?;
        Ok(VulnerabilityReceipt {
            id: row.id,
            state: row.state,
            received_at: Timestamp(now),
            status_token: token,
        })
    }

    /// The statuses of the tenant's account's vulnerability reports, newest first: no text.
    pub async fn my_vulnerabilities(&self, who: &Principal) -> AppResult<Vec<VulnerabilityStatus>> {
        who.require(
            &[Role::Tenant],
            "follow vulnerability reports of an account",
        )?;
        let Principal::Token {
            account: Some(account),
            ..
        } = who
        else {
            return Ok(Vec::new());
        };
        Ok(self.store.vulnerability_statuses(account, 500).await?)
    }

    /// The status of the report a status token was given for (anyone; anonymous callers
    /// rate-limited). An unknown token is 404, like a missing report.
    pub async fn vulnerability_status(
        &self,
        who: &Principal,
        input: StatusTokenInput,
    ) -> AppResult<VulnerabilityStatus> {
        self.rate_limit_anonymous(who)?;
        // Taken as given (a token has no spaces to trim): what is not a token names nothing.
        let token = input
            .token
            .filter(|t| !t.is_empty() && t.chars().count() <= 200)
            .ok_or_else(|| InvalidInput::new("token", "must be 1 to 200 characters"))?;
        self.store
            .vulnerability_status_by_token(&token_digest(&token))
            .await?
            .ok_or(AppError::NotFound("vulnerability report"))
    }

    /// The security team's inbox (ASMT-4): a page of reports newest first, with their titles,
    /// and the count per state. The read is audited: the event names the ids shown.
    pub async fn list_vulnerabilities(
        &self,
        who: &Principal,
        f: &InboxFilter,
    ) -> AppResult<VulnerabilityInbox> {
        who.require(SECURITY, "read vulnerability reports")?;
        let state = f
            .state
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                VulnerabilityState::from_code(s).ok_or_else(|| {
                    InvalidInput::new(
                        "state",
                        format!("is not one of {}", VulnerabilityState::expected()),
                    )
                })
            })
            .transpose()?;
        let limit = f.limit.clamp(1, 500);
        let mut tx = self.store.begin_write().await?;
        let mut rows = tx
            .list_vulnerabilities(state, f.before.as_deref(), limit + 1)
            .await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(500));
        let stored = tx.count_vulnerabilities_by_state().await?;
        let counts = VulnerabilityState::ALL
            .iter()
            .map(|s| StateCount {
                state: *s,
                count: stored.iter().find(|(st, _)| st == s).map_or(0, |(_, n)| *n),
            })
            .collect();
        let items = rows
            .iter()
            .map(|r| {
                Ok(VulnerabilitySummary {
                    id: r.id.clone(),
                    state: r.state,
                    severity: r.severity,
                    reporter: reporter_kind(r),
                    title: self.open_text(&r.title_enc)?,
                    component: self.open_text(&r.component_enc)?,
                    received_at: Timestamp(r.received_at),
                    updated_at: Timestamp(r.updated_at),
                })
            })
            .collect::<AppResult<Vec<_>>>()?;
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let mut ev = self.event(who, "vulnerability.list", "vulnerabilities".into());
        ev.details = serde_json::json!({ "ids": ids, "state": state, "before": f.before });
        tx.append_audit(ev).await?;
        tx.commit().await?;
        Ok(VulnerabilityInbox {
            next_before: more.then(|| rows.last().map(|r| r.id.clone())).flatten(),
            items,
            counts,
        })
    }

    /// One vulnerability report, its text opened (ASMT-4; security team and admins). The read
    /// is audited, naming the report and the reader.
    pub async fn get_vulnerability(
        &self,
        who: &Principal,
        id: &str,
    ) -> AppResult<VulnerabilityView> {
        who.require(SECURITY, "read vulnerability reports")?;
        let mut tx = self.store.begin_write().await?;
        let r = tx
            .get_vulnerability(id)
            .await?
            .ok_or(AppError::NotFound("vulnerability report"))?;
        let view = self.vulnerability_view(&r)?;
        let ev = self.event(who, "vulnerability.read", format!("vulnerability:{id}"));
        tx.append_audit(ev).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Moves a report to another state (ASMT-4; security team and admins): `triaged`, then
    /// `fixed` or `rejected`. The reporter sees the new state; the audit event names the
    /// states, not the text.
    pub async fn set_vulnerability_state(
        &self,
        who: &Principal,
        id: &str,
        input: VulnerabilityStateInput,
    ) -> AppResult<VulnerabilityStatus> {
        who.require(SECURITY, "handle vulnerability reports")?;
        let to = input
            .state
            .as_deref()
            .map(str::trim)
            .and_then(VulnerabilityState::from_code)
            .ok_or_else(|| {
                InvalidInput::new(
                    "state",
                    format!("is not one of {}", VulnerabilityState::expected()),
                )
            })?;
        let now = self.now();
        let mut tx = self.store.begin_write().await?;
        let r = tx
            .get_vulnerability(id)
            .await?
            .ok_or(AppError::NotFound("vulnerability report"))?;
        let to = transition(r.state, to).map_err(|e| AppError::Conflict(e.to_string()))?;
        if !tx
            .set_vulnerability_state(id, r.state, to, &who.actor(), now)
            .await?
        {
            return Err(AppError::Conflict(
                "the vulnerability report changed meanwhile; reload it".into(),
            ));
        }
        let mut ev = self.event(who, "vulnerability.state", format!("vulnerability:{id}"));
        ev.details = serde_json::json!({ "from": r.state, "to": to });
        tx.append_audit(ev).await?;
        tx.commit().await?;
        Ok(VulnerabilityStatus {
            id: r.id,
            state: to,
            received_at: r.received_at,
            updated_at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// No `Debug` of the channel's types shows the text or a status token (a `tracing` field
    /// or a panic message would print it).
    #[test]
    fn debug_never_shows_the_text() {
        let secret = "RCE-in-the-billing-gateway";
        let c = || Some(Confidential::new(secret));
        let input = VulnerabilityInput {
            title: c(),
            description: c(),
            details: c(),
            component: c(),
            severity: Some(secret.into()),
        };
        let view = VulnerabilityView {
            id: "vul_1".into(),
            state: VulnerabilityState::Received,
            severity: VulnerabilitySeverity::High,
            reporter: ReporterKind::Anonymous,
            title: Confidential::new(secret),
            description: Confidential::new(secret),
            details: c(),
            component: Confidential::new(secret),
            received_at: Timestamp(0),
            updated_at: Timestamp(0),
            updated_by: None,
        };
        let receipt = VulnerabilityReceipt {
            id: "vul_1".into(),
            state: VulnerabilityState::Received,
            received_at: Timestamp(0),
            status_token: Some(secret.into()),
        };
        let token = StatusTokenInput {
            token: Some(secret.into()),
        };
        for shown in [
            format!("{input:?}"),
            format!("{view:?}"),
            format!("{receipt:?}"),
            format!("{token:?}"),
        ] {
            assert!(!shown.contains(secret), "{shown}");
        }
        // Where the security team reads it, the text is there.
        assert!(serde_json::to_string(&view).unwrap().contains(secret));
    }
}

//! Report intake (INT-1, INT-3, INT-4, INT-5).
//!
//! A report is validated completely before anything is written; then one transaction finds the
//! owner (RES-2), joins or opens the correlated case (INT-4), stores the report with its evidence
//! digest (INT-3) and sealed reporter contact (AUD-4), confirms the case if a trusted detector is
//! sure enough (INT-5), and appends the audit events. Acknowledged means committed.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;
use warden_domain::identity::Role;
use warden_domain::lifecycle::{Command, State};
use warden_domain::report::{ReportRequest, Source, ValidReport};
use warden_domain::resource::{InvalidInput, Target};
use warden_domain::taxonomy::Category;
use warden_store::WriteTx;
use warden_store::jobs::JobKind;
use warden_store::reports::{Case, Report};

use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::{App, digest};

/// What the submitter learns about a stored report.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Receipt {
    /// The report id.
    pub report_id: String,
    /// Always `received`.
    pub status: &'static str,
    /// The case it joined (not shown to anonymous reporters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    /// Whether it joined an existing case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<bool>,
    /// The case's state after this report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_state: Option<State>,
    /// Whether an owner was found (`false` = unowned, goes to triage).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owned: Option<bool>,
}

/// One item of a batch result.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct BatchItem {
    /// Index in the request.
    pub index: usize,
    /// The receipt, if stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
    /// The problem, if rejected (nothing of it stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<BatchError>,
}

/// Why a batch item was rejected.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct BatchError {
    /// Stable code.
    pub code: &'static str,
    /// Offending field.
    pub field: String,
    /// Explanation.
    pub message: String,
}

/// Batch outcome.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct BatchReceipt {
    /// Stored.
    pub accepted: usize,
    /// Rejected.
    pub rejected: usize,
    /// Per item.
    pub items: Vec<BatchItem>,
}

/// A fixed-window per-IP limiter for anonymous reports. Bounded: when it tracks too many
/// addresses it forgets finished windows first, then everything (failing open briefly is better
/// than refusing every reporter).
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    seen: Mutex<HashMap<String, (i64, u32)>>,
}

const LIMITER_MAX_KEYS: usize = 100_000;

impl RateLimiter {
    /// `per_minute` requests per address per minute.
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request from `ip` at `now`; false when over the limit.
    pub fn allow(&self, ip: &str, now: i64) -> bool {
        let minute = now.div_euclid(60_000);
        let Ok(mut seen) = self.seen.lock() else {
            return true;
        };
        if seen.len() >= LIMITER_MAX_KEYS {
            seen.retain(|_, (m, _)| *m == minute);
            if seen.len() >= LIMITER_MAX_KEYS {
                seen.clear();
            }
        }
        let e = seen.entry(ip.to_string()).or_insert((minute, 0));
        if e.0 != minute {
            *e = (minute, 0);
        }
        e.1 += 1;
        e.1 <= self.per_minute
    }
}

/// How a report was written (its source, who sent it, is apart: [`Source`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The JSON report API.
    Json,
    /// X-ARF v3 posted to `/api/reports/xarf`.
    Xarf,
    /// A report read from an e-mail, by its format's code (`arf`, `xarf_v4`, ...).
    Mail(&'static str),
}

impl Format {
    fn code(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Xarf => "xarf",
            Format::Mail(code) => code,
        }
    }
}

impl App {
    fn source_for(&self, who: &Principal, requested: Option<&str>) -> AppResult<Source> {
        let src = match who {
            Principal::Anonymous { ip } => {
                if !self.limiter.allow(ip, self.now()) {
                    self.metrics.inc_rejected("rate_limited");
                    return Err(AppError::RateLimited);
                }
                Source::Public
            }
            Principal::Token {
                role: Role::Detector,
                ..
            } => Source::Detector,
            Principal::Token {
                role: Role::Operator | Role::Admin,
                ..
            }
            | Principal::System => match requested {
                None | Some("operator") => Source::Operator,
                Some("regulator") => Source::Regulator,
                Some(_) => {
                    return Err(InvalidInput::new(
                        "source",
                        "operators may set operator or regulator",
                    )
                    .into());
                }
            },
            Principal::Token { .. } => return Err(AppError::Forbidden("submit reports")),
        };
        if requested.is_some() && matches!(src, Source::Public | Source::Detector) {
            return Err(AppError::Forbidden(
                "set a report's source (operators and admins only; leave `source` out)",
            ));
        }
        Ok(src)
    }

    /// Stores one JSON report.
    pub async fn submit_report(&self, who: &Principal, req: ReportRequest) -> AppResult<Receipt> {
        let source = self.source_for(who, req.source.as_deref())?;
        let valid = req
            .validate()
            .and_then(|v| self.attacked_infrastructure(who, v))
            .inspect_err(|_| self.metrics.inc_rejected("invalid"))?;
        self.commit_report(Item {
            who: who.clone(),
            source,
            format: Format::Json,
            report: valid,
            raw: None,
            trusted: None,
        })
        .await
    }

    /// ASMT-3: a report naming the address a reported machine attacked says so first in its
    /// description — as an attack on the provider's own infrastructure when the address is in
    /// `[assessments.infrastructure]`. Never refused for it: a report is evidence, and a
    /// detector whose idea of the infrastructure differs from the configuration's must not
    /// lose it.
    fn attacked_infrastructure(
        &self,
        _who: &Principal,
        mut v: ValidReport,
    ) -> Result<ValidReport, InvalidInput> {
        let Some(ip) = v.attacked_address else {
            return Ok(v);
        };
        let note = if self.assessments.infrastructure.holds(&Target::Ip(ip)) {
            format!("ASMT-3: attacked the provider's own infrastructure at {ip}.")
        } else {
            format!("Attacked {ip} (not in the provider's configured infrastructure).")
        };
        v.description = if v.description.trim().is_empty() {
            note
        } else {
            format!("{note} {}", v.description)
        };
        Ok(v)
    }

    /// Stores a batch: every valid item in one transaction; invalid items are listed and none of
    /// them is stored. Items are read one by one at the boundary: an item that could not be read
    /// as a report at all comes as its error (the field relative to the item, empty for the
    /// whole item) and is listed like an invalid one, as `reports[i]` or `reports[i].field`.
    pub async fn submit_batch(
        &self,
        who: &Principal,
        reqs: Vec<Result<ReportRequest, InvalidInput>>,
    ) -> AppResult<BatchReceipt> {
        who.require(
            &[Role::Detector, Role::Operator, Role::Admin],
            "submit report batches",
        )?;
        if reqs.is_empty() || reqs.len() > self.settings.max_batch {
            return Err(InvalidInput::new(
                "reports",
                format!("must hold 1 to {} reports", self.settings.max_batch),
            )
            .into());
        }
        let mut items = Vec::with_capacity(reqs.len());
        let mut valid = Vec::with_capacity(reqs.len());
        for (index, req) in reqs.into_iter().enumerate() {
            let checked = req.map_err(AppError::from).and_then(|req| {
                self.source_for(who, req.source.as_deref()).and_then(|s| {
                    let v = req
                        .validate()
                        .and_then(|v| self.attacked_infrastructure(who, v))?;
                    Ok((s, v))
                })
            });
            match checked {
                Ok(v) => valid.push((index, v)),
                Err(e) => {
                    let (field, message) = match &e {
                        AppError::Invalid(i) if i.field.is_empty() => {
                            (format!("reports[{index}]"), i.reason.clone())
                        }
                        AppError::Invalid(i) => {
                            (format!("reports[{index}].{}", i.field), i.reason.clone())
                        }
                        other => (format!("reports[{index}]"), other.to_string()),
                    };
                    items.push(BatchItem {
                        index,
                        receipt: None,
                        error: Some(BatchError {
                            code: "invalid_field",
                            field,
                            message,
                        }),
                    });
                }
            }
        }
        let rejected = items.len();
        self.metrics.add_rejected("invalid", rejected as u64);
        let (indexes, batch): (Vec<usize>, Vec<Item>) = valid
            .into_iter()
            .map(|(index, (source, report))| {
                (
                    index,
                    Item {
                        who: who.clone(),
                        source,
                        format: Format::Json,
                        report,
                        raw: None,
                        trusted: None,
                    },
                )
            })
            .unzip();
        let mut tx = self.store.begin_write().await?;
        let receipts = self.store_reports(&mut tx, &batch).await?;
        tx.commit().await?;
        for (index, receipt) in indexes.into_iter().zip(receipts) {
            items.push(BatchItem {
                index,
                receipt: Some(receipt),
                error: None,
            });
        }
        let accepted = items.len() - rejected;
        self.metrics.inc_accepted(accepted as u64);
        items.sort_by_key(|i| i.index);
        Ok(BatchReceipt {
            accepted,
            rejected,
            items,
        })
    }

    /// Stores an X-ARF v3 report (INT-2); the whole document is kept as evidence, except that the
    /// reporter's contact is sealed like a JSON report's and the kept document says so in its
    /// place (AUD-4).
    pub async fn submit_xarf(&self, who: &Principal, body: &[u8]) -> AppResult<Receipt> {
        let source = self.source_for(who, None)?;
        let x = warden_domain::xarf::parse_v3(body)
            .inspect_err(|_| self.metrics.inc_rejected("invalid_xarf"))?;
        let kept = warden_domain::xarf::redact_contact(body)
            .inspect_err(|_| self.metrics.inc_rejected("invalid_xarf"))?;
        let target = Target::parse(&x.target).map_err(|e| {
            self.metrics.inc_rejected("invalid_xarf");
            AppError::Xarf(warden_domain::xarf::XarfError {
                code: "invalid_field",
                field: "Report".into(),
                message: format!("the reported source cannot be resolved: {}", e.reason),
            })
        })?;
        let valid = ValidReport {
            target,
            category: x.category,
            description: x.summary,
            evidence: None,
            reporter_contact: x.reporter_contact,
            confidence: None,
            views: None,
            regulator: None,
            attacked_address: None,
        };
        // Who sent it (an anonymous X-ARF report is the public's) is apart from how it was
        // written (`format: xarf`).
        self.commit_report(Item {
            who: who.clone(),
            source,
            format: Format::Xarf,
            report: valid,
            raw: Some(kept),
            trusted: None,
        })
        .await
    }

    pub(crate) async fn store_report(
        &self,
        tx: &mut WriteTx,
        who: &Principal,
        source: Source,
        format: Format,
        v: ValidReport,
        raw: Option<&[u8]>,
    ) -> AppResult<Receipt> {
        let item = Item {
            who: who.clone(),
            source,
            format,
            report: v,
            raw: raw.map(<[u8]>::to_vec),
            trusted: None,
        };
        let mut receipts = self.store_reports(tx, std::slice::from_ref(&item)).await?;
        receipts.pop().ok_or_else(|| {
            AppError::Internal("a report was accepted but nothing was stored".into())
        })
    }

    /// Stores validated reports in the caller's transaction with a fixed number of statements
    /// whatever their number: one owner lookup, one correlation query, multi-row inserts of new
    /// cases, reports and audit events, and one update per existing case.
    ///
    /// Items are stored as if one after another, each as its own principal: a report joins a
    /// case an earlier item opened (INT-4), a detector's sure detection confirms (INT-5) with its
    /// own token as the actor, and each receipt shows the case as that report left it. So a
    /// group of single reports committed together (`group_commit`) answers every submitter
    /// exactly what a transaction of its own would have.
    pub(crate) async fn store_reports(
        &self,
        tx: &mut WriteTx,
        items: &[Item],
    ) -> AppResult<Vec<Receipt>> {
        let now = self.now();
        tx.lock_chain().await?;
        let targets: Vec<Target> = items.iter().map(|i| i.report.target.clone()).collect();
        let owners = tx.lookup_owners(&targets).await?;
        let keys: Vec<String> = items
            .iter()
            .zip(&owners)
            .map(|(i, o)| {
                correlation_key(
                    o.as_ref().map(|o| o.resource_id.as_str()),
                    &i.report.target.canonical(),
                    i.report.category,
                )
            })
            .collect();
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        let existing = tx
            .find_correlated_cases(&unique, now - self.settings.correlation_window_ms)
            .await?;

        let mut new_cases: Vec<Case> = Vec::new();
        let mut new_index: HashMap<String, usize> = HashMap::new();
        let mut bumps: HashMap<String, (i64, i64)> = HashMap::new();
        let mut case_state: HashMap<String, State> = HashMap::new();
        // (case, its account, the item whose principal confirms it)
        let mut to_confirm: Vec<(String, Option<String>, usize)> = Vec::new();
        let mut accept_reasons: HashMap<String, String> = HashMap::new();
        let mut reports = Vec::with_capacity(items.len());
        let mut events = Vec::with_capacity(items.len());
        let mut receipts = Vec::with_capacity(items.len());
        let mut regulator_notices = Vec::new();
        for (n, ((item, owner), key)) in items.iter().zip(owners).zip(keys).enumerate() {
            let v = &item.report;
            let who = &item.who;
            let views = v.views.unwrap_or(0);
            let (case_id, account_id, duplicate) = if let Some(c) = existing.get(&key) {
                let b = bumps.entry(c.id.clone()).or_insert((0, 0));
                b.0 += 1;
                b.1 = b.1.max(views);
                case_state.entry(c.id.clone()).or_insert(c.state);
                (c.id.clone(), c.account_id.clone(), true)
            } else if let Some(c) = new_index.get(&key).and_then(|i| new_cases.get_mut(*i)) {
                c.report_count += 1;
                c.duplicate_count += 1;
                c.views = c.views.max(views);
                (c.id.clone(), c.account_id.clone(), true)
            } else {
                let c = Case {
                    id: warden_store::new_id("case", now),
                    account_id: owner.as_ref().map(|o| o.account_id.clone()),
                    resource_id: owner.as_ref().map(|o| o.resource_id.clone()),
                    target: v.target.canonical(),
                    category: v.category,
                    state: State::Reported,
                    source: item.source.code().into(),
                    correlation_key: key.clone(),
                    report_count: 1,
                    duplicate_count: 0,
                    views,
                    state_reason: None,
                    opened_at: now,
                    last_report_at: now,
                    updated_at: now,
                };
                case_state.insert(c.id.clone(), State::Reported);
                new_index.insert(key, new_cases.len());
                let ids = (c.id.clone(), c.account_id.clone(), false);
                new_cases.push(c);
                ids
            };
            // The case keeps the notice (UNB-4: no console unblock), whether the regulator's
            // report opened it or joined it.
            if let Some(notice) = v.regulator.clone() {
                regulator_notices.push((case_id.clone(), notice));
            }
            let evidence: Option<Vec<u8>> = item
                .raw
                .clone()
                .or_else(|| v.evidence.clone().map(String::into_bytes));
            let report = Report {
                id: warden_store::new_id("rep", now),
                case_id: case_id.clone(),
                account_id: account_id.clone(),
                source: item.source.code().into(),
                format: item.format.code().into(),
                category: v.category,
                target: v.target.canonical(),
                description: v.description.clone(),
                evidence_sha256: evidence.as_deref().map(warden_domain::sha256_hex),
                evidence,
                reporter_contact_enc: v
                    .reporter_contact
                    .as_ref()
                    .map(|c| self.sealer.seal(c.as_bytes()))
                    .transpose()?,
                submitted_by: who.actor(),
                confidence: v.confidence,
                views: v.views,
                received_at: now,
            };
            let mut ev = self.event(who, "report.create", format!("report:{}", report.id));
            ev.account_id = account_id.clone();
            ev.after_digest = Some(digest(&report));
            ev.details = serde_json::json!({
                "case_id": case_id, "new_case": !duplicate, "source": report.source, "format": report.format,
                "category": report.category, "evidence_sha256": report.evidence_sha256,
            });
            events.push(ev);
            // INT-6: a trusted reporter's report confirms a case still in triage.
            if let Some(reporter) = &item.trusted
                && case_state.get(&case_id) == Some(&State::Reported)
            {
                case_state.insert(case_id.clone(), State::Confirmed);
                accept_reasons.insert(case_id.clone(), format!("trusted reporter {reporter}"));
                to_confirm.push((case_id.clone(), account_id.clone(), n));
            }
            // INT-5: a sure enough detection by a detector confirms a case still in triage.
            if let (
                Principal::Token {
                    role: Role::Detector,
                    label,
                    ..
                },
                Some(conf),
            ) = (who, v.confidence)
            {
                let threshold = self
                    .settings
                    .detector_thresholds
                    .get(label)
                    .copied()
                    .unwrap_or(self.settings.detector_confirm_confidence);
                if conf >= threshold && case_state.get(&case_id) == Some(&State::Reported) {
                    let reason = format!("high-confidence detection ({conf:.2} >= {threshold:.2})");
                    case_state.insert(case_id.clone(), State::Confirmed);
                    accept_reasons.insert(case_id.clone(), reason);
                    to_confirm.push((case_id.clone(), account_id.clone(), n));
                }
            }
            // What this report's own transaction would have answered: the case as it left it.
            let anonymous = matches!(who, Principal::Anonymous { .. });
            let state = case_state.get(&case_id).copied().unwrap_or(State::Reported);
            receipts.push(Receipt {
                report_id: report.id.clone(),
                status: "received",
                case_state: (!anonymous).then_some(state),
                case_id: (!anonymous).then_some(case_id),
                duplicate: (!anonymous).then_some(duplicate),
                owned: (!anonymous).then_some(account_id.is_some()),
            });
            reports.push(report);
        }
        tx.insert_cases(&new_cases).await?;
        for (case_id, notice) in regulator_notices {
            tx.flag_regulator(
                &case_id,
                &serde_json::to_string(&notice).unwrap_or_default(),
            )
            .await?;
        }
        let bumps: Vec<(String, i64, i64)> =
            bumps.into_iter().map(|(id, (n, v))| (id, n, v)).collect();
        tx.add_reports_to_cases(&bumps, now).await?;
        tx.insert_reports(&reports).await?;
        tx.append_audits(events).await?;
        // INT-5: accepted through the lifecycle like any transition (one `case.confirm` event,
        // by the detector whose report confirmed it); an owned case is graded and alerted or
        // enforced by a job right after.
        for (case_id, account_id, n) in to_confirm {
            let Some(item) = items.get(n) else {
                continue;
            };
            let mut l = self.load(tx, &case_id, None).await?;
            let reason = accept_reasons.remove(&case_id).unwrap_or_default();
            let cmd = Command::Accept { reason };
            self.act(
                tx,
                &item.who,
                &mut l,
                &cmd,
                "confirm",
                serde_json::Value::Null,
            )
            .await?;
            if account_id.is_some() {
                enqueue_confirm(tx, &case_id, now).await?;
            }
        }
        Ok(receipts)
    }
}

/// A validated report on its way into storage, with who submitted it.
#[derive(Debug)]
pub(crate) struct Item {
    /// The submitter: the report's `submitted_by`, its audit event's actor, and for a
    /// detector the INT-5 threshold.
    pub(crate) who: Principal,
    pub(crate) source: Source,
    pub(crate) format: Format,
    pub(crate) report: ValidReport,
    /// The document kept as evidence instead of the report's `evidence` (X-ARF, e-mail).
    pub(crate) raw: Option<Vec<u8>>,
    /// INT-6: the trusted reporter whose report confirms its case at once (like INT-5).
    pub(crate) trusted: Option<String>,
}

/// Grading and the penalty of a confirmed case with an owner follow as a job (LIFE-1/LIFE-3),
/// at most one per case.
pub(crate) async fn enqueue_confirm(tx: &mut WriteTx, case_id: &str, now: i64) -> AppResult<()> {
    let job = warden_store::jobs::NewJob {
        kind: JobKind::CaseConfirm,
        payload: serde_json::json!({ "case_id": case_id }).to_string(),
        run_at: now,
        dedup_key: Some(format!("confirm:{case_id}")),
        max_attempts: 5,
    };
    tx.enqueue(&job, &warden_store::new_id("job", now), now)
        .await?;
    Ok(())
}

/// INT-4: the correlation key of (owner resource, target, category); `target` is the
/// canonical text ([`Target::canonical`]), so every spelling of a target meets one key.
pub fn correlation_key(resource: Option<&str>, target: &str, category: Category) -> String {
    warden_domain::sha256_hex(
        format!(
            "{}\n{}\n{}",
            resource.unwrap_or("unowned"),
            target,
            category.code()
        )
        .as_bytes(),
    )
}

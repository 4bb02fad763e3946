//! The provider's own views: the audit log (search by actor, subject, action, account and time;
//! verify the chain; export), the policy in force (penalty matrix, grading rules, base
//! severities, working-time calendar, lexicon version), and the enforcement deliveries with
//! failed webhook messages to re-drive (AUD-1/2, PEN-1, GRD-2, UNB-3, ENF-2).

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use warden_app::App;
use warden_app::audit::AuditEntry;
use warden_app::enforce::OpenDeliveries;
use warden_app::error::AppError;
use warden_domain::identity::Role;
use warden_domain::taxonomy::CATEGORIES;
use warden_domain::time::civil_from_days;
use warden_store::audit::{AuditFilter, Verification};
use warden_store::outbound::{Outbound, OutboundFilter, OutboundState};

use super::view::{Chrome, DoneQuery, PAGE, describe, error_page, flash, redirect, render};
use super::{Access, FormData, OPERATORS, Page, Viewer};

/// Who reads the audit log.
const AUDITORS: Access = Access::Roles(&[Role::Admin, Role::Auditor]);
/// Who reads the policy (auditors read the audit log and its exports, nothing else: SPEC §1).
const POLICY_READERS: Access = Access::Roles(&[Role::Admin, Role::Operator, Role::Reviewer]);
/// Who reads the handling-times dashboard (the roles of `App::handling_times`).
const HANDLING_READERS: Access = Access::Roles(&[Role::Admin, Role::Operator, Role::Reviewer]);

pub(super) fn pages() -> Vec<Page> {
    Vec::from([
        Page::get("/staff/audit", AUDITORS, get(audit)),
        Page::post("/staff/audit/verify", AUDITORS, post(verify)),
        Page::get("/staff/audit/export", AUDITORS, get(export)),
        Page::get("/staff/policy", POLICY_READERS, get(policy)),
        Page::get("/staff/dashboard", HANDLING_READERS, get(dashboard)),
        Page::get("/staff/deliveries", OPERATORS, get(deliveries)),
        Page::post("/staff/deliveries/redrive", OPERATORS, post(redrive)),
    ])
}

#[derive(Debug, Default, Deserialize)]
struct AuditQuery {
    actor: Option<String>,
    subject: Option<String>,
    action: Option<String>,
    account: Option<String>,
    from: Option<String>,
    to: Option<String>,
    after: Option<i64>,
}

/// `YYYY-MM-DD` in the provider's zone → ms at local midnight.
fn day_start(app: &App, text: &str) -> Result<i64, AppError> {
    let d = warden_domain::calendar::Date::parse(text.trim())?;
    let offset = i64::from(app.lifecycle.calendar.utc_offset_minutes()) * 60_000;
    Ok(d.days_since_epoch() * 86_400_000 - offset)
}

async fn filter_of(app: &App, v: &Viewer, q: &AuditQuery) -> Result<AuditFilter, AppError> {
    let some = |o: &Option<String>| {
        o.as_ref()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let actor = match some(&q.actor) {
        Some(a) => Some(app.actor_id(&v.principal(), &a).await?),
        None => None,
    };
    let from = some(&q.from).map(|d| day_start(app, &d)).transpose()?;
    // `to` names the last day included.
    let to = some(&q.to)
        .map(|d| day_start(app, &d).map(|t| t + 86_400_000))
        .transpose()?;
    Ok(AuditFilter {
        action: some(&q.action),
        subject: some(&q.subject),
        account_id: some(&q.account),
        actor,
        from,
        to,
    })
}

fn query_of(q: &AuditQuery) -> String {
    super::view::query_string(&[
        ("actor", q.actor.as_deref()),
        ("subject", q.subject.as_deref()),
        ("action", q.action.as_deref()),
        ("account", q.account.as_deref()),
        ("from", q.from.as_deref()),
        ("to", q.to.as_deref()),
    ])
}

#[derive(Template)]
#[template(path = "staff/audit.html")]
struct Audit {
    c: Chrome,
    q: AuditQuery,
    events: Vec<AuditEntry>,
    more: Option<i64>,
    query: String,
    verification: Option<Verification>,
}

async fn audit(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<AuditQuery>,
) -> Response {
    let c = Chrome::new(&app, &v, "/staff/audit", "audit.title");
    audit_view(&app, &v, c, q, None, StatusCode::OK).await
}

async fn audit_view(
    app: &App,
    v: &Viewer,
    mut c: Chrome,
    q: AuditQuery,
    verification: Option<Verification>,
    status: StatusCode,
) -> Response {
    let loaded = async {
        let f = filter_of(app, v, &q).await?;
        app.list_audit(&v.principal(), &f, q.after.unwrap_or(0), PAGE + 1)
            .await
    }
    .await;
    let mut events = match loaded {
        Ok(e) => e,
        Err(e @ AppError::Invalid(_)) => {
            c.error = Some(describe(v.lang, &e).1);
            Vec::new()
        }
        Err(e) => return error_page(v.lang, &e, Some(v)),
    };
    let more = super::view::next_page(&mut events, PAGE, |e| e.seq);
    render(
        status,
        &Audit {
            query: query_of(&q),
            c,
            q,
            events,
            more,
            verification,
        },
    )
}

async fn verify(State(app): State<App>, Extension(v): Extension<Viewer>) -> Response {
    match app.verify_audit(&v.principal()).await {
        Ok(ver) => {
            let mut c = Chrome::new(&app, &v, "/staff/audit", "audit.title");
            if ver.broken.is_none() {
                c.flash = Some(c.f(
                    "audit.verified",
                    &[
                        ("n", &ver.checked.to_string()),
                        ("seq", &ver.last_seq.to_string()),
                    ],
                ));
            } else {
                c.error = Some(c.t("audit.broken"));
            }
            audit_view(
                &app,
                &v,
                c,
                AuditQuery::default(),
                Some(ver),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => error_page(v.lang, &e, Some(&v)),
    }
}

/// Most events in one export (larger exports: narrow the filter, or `GET /api/audit` pages).
const MAX_EXPORT: usize = 100_000;

async fn export(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<AuditQuery>,
) -> Response {
    let who = v.principal();
    let run = async {
        let f = filter_of(&app, &v, &q).await?;
        let mut out = String::new();
        let mut after = 0;
        let mut n = 0usize;
        while n < MAX_EXPORT {
            let page = app.list_audit(&who, &f, after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for e in &page {
                out.push_str(&serde_json::to_string(e).unwrap_or_default());
                out.push('\n');
                n += 1;
            }
        }
        app.note_audit_export(&who, &f, n).await?;
        Ok::<_, AppError>(out)
    }
    .await;
    match run {
        Ok(body) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/x-ndjson; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"warden-audit.ndjson\"",
                ),
            ],
            body,
        )
            .into_response(),
        Err(e) => error_page(v.lang, &e, Some(&v)),
    }
}

/// One row of the penalty matrix.
#[derive(Debug)]
struct MatrixRow {
    product: String,
    cells: Vec<String>,
}

#[derive(Template)]
#[template(path = "staff/policy.html")]
struct Policy {
    c: Chrome,
    levels: Vec<String>,
    matrix: Vec<MatrixRow>,
    rules: Vec<(String, String)>,
    lifecycle: Vec<(String, String)>,
    severities: Vec<(String, &'static str, String)>,
    hours: String,
    weekend: String,
    holidays: Vec<String>,
    makeup: Vec<String>,
    review_sla: String,
    /// `None` for those who may not read the lexicon (reviewers): no lexicon section.
    lexicon_version: Option<u64>,
    lexicon: Vec<(String, usize)>,
}

fn pairs(v: serde_json::Value) -> Vec<(String, String)> {
    match v {
        serde_json::Value::Object(m) => m
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

async fn policy(State(app): State<App>, Extension(v): Extension<Viewer>) -> Response {
    use warden_domain::code::Code as _;
    use warden_domain::taxonomy::Level;
    let c = Chrome::new(&app, &v, "/staff/policy", "policy.title");
    let l = &app.lifecycle;
    let level_list = [Level::General, Level::Serious, Level::EspeciallySerious];
    let zh = c.zh();
    let matrix = l
        .matrix
        .products
        .iter()
        .map(|(p, row)| MatrixRow {
            product: c.code("product", p.code()),
            cells: level_list
                .iter()
                .map(|lv| match row.get(lv) {
                    Some(cell) => {
                        let mut words: Vec<String> = cell
                            .actions
                            .iter()
                            .map(|a| if zh { a.label_zh() } else { a.label_en() }.to_string())
                            .collect();
                        if cell.no_unblock {
                            words.push(format!("({})", c.t("case.no_unblock")));
                        }
                        words.join(if zh { "、" } else { ", " })
                    }
                    None => "—".into(),
                })
                .collect(),
        })
        .collect();
    let severities = CATEGORIES
        .iter()
        .map(|i| {
            (
                c.category(i.code),
                i.code,
                c.code("level", i.base_severity.code()),
            )
        })
        .collect();
    let (start, end) = l.calendar.working_hours();
    let weekend = l
        .calendar
        .weekend()
        .iter()
        .enumerate()
        .filter(|(_, w)| **w)
        .map(|(n, _)| c.code("weekday", &(n + 1).to_string()))
        .collect::<Vec<_>>()
        .join(", ");
    // The lexicon is the operators' (its use case says who): reviewers read the policy without it.
    let lexicon = match app.lexicon(&v.principal(), None).await {
        Ok(x) => Some(x),
        Err(AppError::Forbidden(_)) => None,
        Err(e) => return error_page(v.lang, &e, Some(&v)),
    };
    // Levels in the rules are words of the page's language, not codes.
    let words = |pairs: Vec<(String, String)>| -> Vec<(String, String)> {
        pairs
            .into_iter()
            .map(|(k, v)| match Level::from_code(&v) {
                Some(l) => (k, c.code("level", l.code())),
                None => (k, v),
            })
            .collect()
    };
    let rules = words(pairs(serde_json::to_value(&l.grading).unwrap_or_default()));
    let lifecycle = words(pairs(serde_json::to_value(&l.policy).unwrap_or_default()));
    render(
        StatusCode::OK,
        &Policy {
            levels: level_list
                .iter()
                .map(|lv| c.code("level", lv.code()))
                .collect(),
            matrix,
            rules,
            lifecycle,
            severities,
            hours: format!(
                "{:02}:{:02}–{:02}:{:02} {}",
                start / 60,
                start % 60,
                end / 60,
                end % 60,
                c.zone
            ),
            weekend,
            holidays: l.calendar.holidays().iter().map(|d| date(*d)).collect(),
            makeup: l.calendar.makeup_days().iter().map(|d| date(*d)).collect(),
            review_sla: c.count("policy.minutes", l.review_sla_ms / 60_000),
            lexicon_version: lexicon.as_ref().map(|x| x.version),
            lexicon: lexicon
                .map(|x| x.terms_per_category)
                .unwrap_or_default()
                .into_iter()
                .map(|(k, n)| (c.category(&k), n))
                .collect(),
            c,
        },
    )
}

#[derive(Template)]
#[template(path = "staff/deliveries.html")]
struct Deliveries {
    c: Chrome,
    open: OpenDeliveries,
    /// Outbound messages out of attempts or refused for good: re-drivable.
    dead: Vec<Outbound>,
    /// Messages that failed and wait for their next attempt.
    retrying: Vec<Outbound>,
}

async fn deliveries(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let mut c = Chrome::new(&app, &v, "/staff/deliveries", "deliveries.title");
    c.flash = flash(v.lang, q.done.as_deref());
    deliveries_view(&app, &v, c, StatusCode::OK).await
}

async fn deliveries_view(app: &App, v: &Viewer, c: Chrome, status: StatusCode) -> Response {
    let who = v.principal();
    let loaded = async {
        let open = app.open_deliveries(&who, false).await?;
        let of = |state| OutboundFilter {
            state: Some(state),
            ..OutboundFilter::default()
        };
        let dead = app
            .list_outbound(&who, &of(OutboundState::Dead), 100)
            .await?;
        let pending = app
            .list_outbound(&who, &of(OutboundState::Pending), 100)
            .await?;
        Ok::<_, AppError>((open, dead.items, pending.items))
    }
    .await;
    match loaded {
        Ok((open, dead, pending)) => {
            let retrying = pending.into_iter().filter(|m| m.attempts > 0).collect();
            render(
                status,
                &Deliveries {
                    c,
                    open,
                    dead,
                    retrying,
                },
            )
        }
        Err(e) => error_page(v.lang, &e, Some(v)),
    }
}

async fn redrive(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
) -> Response {
    let id = form.get("id").unwrap_or_default();
    match app.redrive_outbound(&v.principal(), &id).await {
        Ok(_) => redirect("/staff/deliveries?done=redriven"),
        Err(e) => {
            let (status, text) = describe(v.lang, &e);
            let mut c = Chrome::new(&app, &v, "/staff/deliveries", "deliveries.title");
            c.error = Some(text);
            deliveries_view(&app, &v, c, status).await
        }
    }
}

#[derive(Template)]
#[template(path = "staff/dashboard.html")]
struct Dashboard {
    c: Chrome,
    weeks: Vec<warden_app::work::WeekFigures>,
    charts: Vec<String>,
}

async fn dashboard(State(app): State<App>, Extension(v): Extension<Viewer>) -> Response {
    let weeks = match app.handling_times(&v.principal(), 12).await {
        Ok(w) => w,
        Err(e) => return error_page(v.lang, &e, Some(&v)),
    };
    let c = Chrome::new(&app, &v, "/staff/dashboard", "handling.title");
    let labels: Vec<String> = weeks.iter().map(|w| w.week.clone()).collect();
    let hours = |m: Option<i64>| m.map(|m| m as f64 / 60.0);
    let charts = vec![
        super::chart::bars(
            "chart-triage",
            &c.t("handling.triage"),
            &labels,
            &weeks
                .iter()
                .map(|w| hours(w.triage_median_min))
                .collect::<Vec<_>>(),
            &c.t("handling.hours"),
        ),
        super::chart::bars(
            "chart-decision",
            &c.t("handling.decision"),
            &labels,
            &weeks
                .iter()
                .map(|w| hours(w.decision_median_min))
                .collect::<Vec<_>>(),
            &c.t("handling.hours"),
        ),
        super::chart::bars(
            "chart-unblock-breaches",
            &c.t("handling.unblock_breaches"),
            &labels,
            &weeks
                .iter()
                .map(|w| Some(w.unblock_breaches as f64))
                .collect::<Vec<_>>(),
            "",
        ),
        super::chart::bars(
            "chart-ticket-breaches",
            &c.t("handling.ticket_breaches"),
            &labels,
            &weeks
                .iter()
                .map(|w| Some(w.ticket_breaches as f64))
                .collect::<Vec<_>>(),
            "",
        ),
    ];
    render(StatusCode::OK, &Dashboard { c, weeks, charts })
}

//! The pages of customers' own security assessments (UI-1; ASMT-1, ASMT-2, ASMT-3, ASMT-5):
//! for tenants, the list of their account's assessments, the declaration form and one
//! assessment with its plan, history, the stop and — for a phishing test whose window is over —
//! the disclosure confirmation; for staff, the approval queue with its working-time SLA clocks
//! (earliest due first, overdue ones marked and counted), the phishing tests awaiting their
//! disclosure, the assessments in force, and one assessment with the approve, reject and stop
//! forms.
//!
//! Every read and change goes through the use cases of `warden_app::assessments` with the
//! signed-in user as principal, so the scope check (foreign targets named, and nothing about
//! whose they are; the provider's infrastructure refused as such), the roles and the audit are
//! theirs, and a tenant opening another account's assessment gets what a missing one gets
//! (404). Forms post and redirect (303) with `?done=`; a refusal shows the same page again with
//! the reason on top — the declaration form with everything the tenant typed — and nothing is
//! stored.
//!
//! Window times are typed as the provider's local time (`datetime-local` inputs, the zone
//! named beside them), or as RFC 3339 with an offset; rates take SI prefixes (`5G`).

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use warden_app::App;
use warden_app::assessments::{
    AssessmentQuery, AssessmentView, DeclareInput, DisclosureInput, ReasonInput,
    RequiredReasonInput,
};
use warden_app::error::AppError;
use warden_app::triage::HistoryEntry;
use warden_domain::assessment::{AssessmentKind, AssessmentState, Plan};
use warden_domain::code::Code as _;
use warden_domain::identity::Role;
use warden_domain::time::Timestamp;

use super::view::{
    Chrome, DoneQuery, Opt, PAGE, describe, error_page, flash, query_string, redirect, refusal,
    render, urlencode,
};
use super::{FormData, OPERATORS, Page, STAFF, TENANTS, Viewer};

pub(super) fn pages() -> Vec<Page> {
    Vec::from([
        Page::get("/console/assessments", TENANTS, get(list)),
        Page::post("/console/assessments", TENANTS, post(declare)),
        Page::get("/console/assessments/new", TENANTS, get(new_form)),
        Page::get("/console/assessments/{id}", TENANTS, get(tenant_page)),
        Page::post("/console/assessments/{id}/stop", TENANTS, post(tenant_stop)),
        Page::post(
            "/console/assessments/{id}/disclosure",
            TENANTS,
            post(disclose),
        ),
        Page::get("/staff/assessments", STAFF, get(queue)),
        Page::get("/staff/assessments/{id}", STAFF, get(staff_page)),
        Page::post("/staff/assessments/{id}/approve", OPERATORS, post(approve)),
        Page::post("/staff/assessments/{id}/reject", OPERATORS, post(reject)),
        Page::post("/staff/assessments/{id}/stop", OPERATORS, post(staff_stop)),
    ])
}

/// The approval clock of a pending plan (ASMT-2), as the review queues show theirs.
#[derive(Debug)]
struct Sla {
    /// When it is due, RFC 3339.
    due: String,
    /// Working time left, in words (or "overdue").
    left: Option<String>,
    /// Past its due time.
    overdue: bool,
}

/// An assessment as a row: its codes in the page's words.
#[derive(Debug)]
struct Row {
    a: AssessmentView,
    kind: String,
    state: String,
    sla: Option<Sla>,
}

impl Row {
    fn of(c: &Chrome, a: AssessmentView) -> Row {
        let sla = a
            .approval_sla
            .as_ref()
            .filter(|_| a.state == AssessmentState::PendingApproval)
            .and_then(|s| {
                s.due.as_ref().map(|due| Sla {
                    due: due.clone(),
                    left: s.working_ms_left.map(|ms| c.left(ms)),
                    overdue: s.overdue,
                })
            });
        Row {
            kind: c.code("asm_kind", a.kind.code()),
            state: c.code("asm_state", a.state.code()),
            sla,
            a,
        }
    }

    /// Late for the staff: a plan past its SLA, or a disclosure past its due time.
    fn late(&self) -> bool {
        self.a.disclosure_overdue || self.sla.as_ref().is_some_and(|s| s.overdue)
    }
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    done: Option<String>,
    /// The cursor: the last (oldest) assessment of the previous page.
    after: Option<String>,
}

#[derive(Template)]
#[template(path = "tenant/assessments.html")]
struct ListPage {
    c: Chrome,
    rows: Vec<Row>,
    next: Option<String>,
    first: bool,
}

async fn list(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<ListQuery>,
) -> Response {
    let after = q.after.filter(|a| !a.trim().is_empty());
    let query = AssessmentQuery {
        after: after.clone(),
        limit: Some(PAGE),
        state: None,
    };
    let page = match app.list_assessments(&v.principal(), &query).await {
        Ok(p) => p,
        Err(e) => return error_page(v.lang, &e, Some(&v)),
    };
    let mut c = Chrome::new(&app, &v, "/console/assessments", "asm.title");
    c.flash = flash(v.lang, q.done.as_deref());
    let next = page.next_after.as_deref().map(|k| {
        format!(
            "/console/assessments?{}",
            query_string(&[("after", Some(k))])
        )
    });
    render(
        StatusCode::OK,
        &ListPage {
            rows: page.items.into_iter().map(|a| Row::of(&c, a)).collect(),
            next,
            first: after.is_some(),
            c,
        },
    )
}

/// What the tenant typed into the declaration form, shown again after a refusal.
#[derive(Debug, Default, Clone)]
struct Typed {
    kind: String,
    targets: String,
    sources: String,
    window_start: String,
    window_end: String,
    peak_bps: String,
    peak_pps: String,
    peak_rps: String,
    method: String,
    contact: String,
    rollback_plan: String,
    attest_rights: bool,
    attest_backups: bool,
}

impl Typed {
    fn of(form: &FormData) -> Typed {
        let text = |k: &str| form.get(k).unwrap_or_default();
        Typed {
            kind: text("kind"),
            targets: text("targets"),
            sources: text("sources"),
            window_start: text("window_start"),
            window_end: text("window_end"),
            peak_bps: text("peak_bps"),
            peak_pps: text("peak_pps"),
            peak_rps: text("peak_rps"),
            method: text("method"),
            contact: text("contact"),
            rollback_plan: text("rollback_plan"),
            attest_rights: form.checked("attest_rights"),
            attest_backups: form.checked("attest_backups"),
        }
    }
}

#[derive(Template)]
#[template(path = "tenant/assessment_new.html")]
struct NewPage {
    c: Chrome,
    kinds: Vec<Opt>,
    f: Typed,
}

fn kinds(c: &Chrome, current: &str) -> Vec<Opt> {
    Opt::list(
        AssessmentKind::ALL
            .iter()
            .map(|k| (k.code().to_string(), c.code("asm_kind", k.code()))),
        current,
    )
}

fn new_view(c: Chrome, f: Typed, status: StatusCode) -> Response {
    render(
        status,
        &NewPage {
            kinds: kinds(&c, &f.kind),
            f,
            c,
        },
    )
}

async fn new_form(State(app): State<App>, Extension(v): Extension<Viewer>) -> Response {
    let c = Chrome::new(&app, &v, "/console/assessments/new", "asm.new_title");
    new_view(c, Typed::default(), StatusCode::OK)
}

/// A time typed into the form: `2026-12-01T10:00` (what a `datetime-local` input sends; seconds
/// optional, a space for the `T` too) in the provider's zone, `offset_min` from UTC — or RFC
/// 3339 with its own offset.
fn parse_local(text: &str, offset_min: i32) -> Option<Timestamp> {
    let t = text.trim();
    if let Ok(ts) = Timestamp::parse_rfc3339(t) {
        return Some(ts);
    }
    let t = t.replacen(' ', "T", 1);
    let t = match t.len() {
        16 => format!("{t}:00"),
        19 => t,
        _ => return None,
    };
    let sign = if offset_min < 0 { '-' } else { '+' };
    let m = offset_min.unsigned_abs();
    Timestamp::parse_rfc3339(&format!("{t}{sign}{:02}:{:02}", m / 60, m % 60)).ok()
}

/// A rate as typed: a whole number (`5000000000`), or a decimal with an SI prefix (`5G`,
/// `1.5 M`, `200k`), a unit after it ignored (`5 Gbps`, `1M pps`); `None` when it is none of
/// these.
fn rate_of(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_suffix("/s").unwrap_or(&t);
    let t = ["bps", "pps", "rps"]
        .iter()
        .find_map(|u| t.strip_suffix(u))
        .unwrap_or(t)
        .trim_end();
    let prefixed = [('k', 1e3), ('m', 1e6), ('g', 1e9), ('t', 1e12)]
        .iter()
        .find_map(|(p, mult)| t.strip_suffix(*p).map(|n| (n.trim_end(), *mult)));
    let digits = |n: &str| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit() || c == '.');
    match prefixed {
        None if t.chars().all(|c| c.is_ascii_digit()) => t.parse().ok(),
        None => None,
        Some((n, mult)) if digits(n) => {
            let v = n.parse::<f64>().ok()? * mult;
            if !v.is_finite() || v > 1e18 {
                return None;
            }
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // 0 ≤ v ≤ 10^18
            Some(v.round() as u64)
        }
        Some(_) => None,
    }
}

/// The declaration of `f`, or why not in the page's words (a field missing, a time or rate
/// unreadable, an attestation not given); the use case checks the rest.
fn declaration(c: &Chrome, f: &Typed, offset_min: i32) -> Result<DeclareInput, String> {
    let required = |label: String| c.f("asm.required", &[("field", &label)]);
    let kind = AssessmentKind::from_code(&f.kind).ok_or_else(|| required(c.t("asm.kind")))?;
    let lines = |s: &str| -> Vec<String> {
        s.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    };
    let targets = lines(&f.targets);
    if targets.is_empty() {
        return Err(required(c.t("asm.targets")));
    }
    let sources = lines(&f.sources);
    if sources.is_empty() {
        return Err(required(c.t("asm.sources")));
    }
    let time = |text: &str, key: &str| {
        let label = c.f(key, &[("zone", &c.zone)]);
        if text.trim().is_empty() {
            return Err(required(label));
        }
        parse_local(text, offset_min)
            .ok_or_else(|| c.f("asm.bad_time", &[("field", &label), ("zone", &c.zone)]))
    };
    let window_start = time(&f.window_start, "asm.window_start")?;
    let window_end = time(&f.window_end, "asm.window_end")?;
    let plan = if kind.needs_approval() {
        let rate = |text: &str, key: &str, needed: bool| {
            if text.trim().is_empty() {
                return if needed {
                    Err(required(c.t(key)))
                } else {
                    Ok(0)
                };
            }
            rate_of(text).ok_or_else(|| c.f("asm.bad_rate", &[("field", &c.t(key))]))
        };
        let text = |v: &str, key: &str| {
            if v.trim().is_empty() {
                Err(required(c.t(key)))
            } else {
                Ok(v.to_string())
            }
        };
        let plan = Plan {
            peak_bps: rate(&f.peak_bps, "asm.peak_bps", true)?,
            peak_pps: rate(&f.peak_pps, "asm.peak_pps", true)?,
            peak_rps: rate(&f.peak_rps, "asm.peak_rps", false)?,
            method: text(&f.method, "asm.method")?,
            contact: text(&f.contact, "asm.contact")?,
            rollback_plan: text(&f.rollback_plan, "asm.rollback_plan")?,
            attest_rights: f.attest_rights,
            attest_backups: f.attest_backups,
        };
        if !plan.attest_rights {
            return Err(c.t("asm.attest_rights_missing"));
        }
        if kind == AssessmentKind::DestructiveTest && !plan.attest_backups {
            return Err(c.t("asm.attest_backups_missing"));
        }
        Some(plan)
    } else {
        None
    };
    Ok(DeclareInput {
        kind,
        targets,
        sources,
        window_start,
        window_end,
        plan,
    })
}

/// ASMT-1/2/3/5: the tenant declares. A refusal (a foreign target, the provider's
/// infrastructure, a bad field) shows the form again with what was typed; nothing is stored.
async fn declare(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
) -> Response {
    let typed = Typed::of(&form);
    let mut c = Chrome::new(&app, &v, "/console/assessments/new", "asm.new_title");
    let offset = app.lifecycle.calendar.utc_offset_minutes();
    let input = match declaration(&c, &typed, offset) {
        Ok(i) => i,
        Err(text) => {
            c.error = Some(text);
            return new_view(c, typed, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    match app.declare_assessment(&v.principal(), input).await {
        Ok(a) => {
            let id = urlencode(&a.id);
            redirect(&if a.state == AssessmentState::PendingApproval {
                format!("/console/assessments/{id}?done=assessment_submitted")
            } else {
                format!("/console/assessments/{id}?done=assessment_declared")
            })
        }
        Err(e) => {
            let (status, text) = describe(v.lang, &e);
            c.error = Some(text);
            new_view(c, typed, status)
        }
    }
}

/// One assessment as both its pages show it.
#[derive(Debug)]
struct Detail {
    row: Row,
    /// The plan's contact.
    contact: Option<String>,
    history: Vec<HistoryEntry>,
    /// Why it stands where it does, in the page's words.
    why: Option<String>,
    /// The plan's peaks in words: bps, pps, rps (`None` when not an HTTP test).
    peaks: Option<(String, String, Option<String>)>,
}

impl Detail {
    fn a(&self) -> &AssessmentView {
        &self.row.a
    }

    /// It may still be stopped.
    fn stoppable(&self) -> bool {
        matches!(
            self.a().state,
            AssessmentState::Declared
                | AssessmentState::PendingApproval
                | AssessmentState::Approved
        )
    }

    fn pending(&self) -> bool {
        self.a().state == AssessmentState::PendingApproval
    }

    fn awaiting_disclosure(&self) -> bool {
        self.a().state == AssessmentState::AwaitingDisclosure
    }
}

/// `n` per second with an SI prefix (`1.5 Mpps`).
fn per_second(n: u64, unit: &str) -> String {
    let (div, prefix) = match n {
        1_000_000_000_000.. => (1e12, "T"),
        1_000_000_000.. => (1e9, "G"),
        1_000_000.. => (1e6, "M"),
        1_000.. => (1e3, "k"),
        _ => return format!("{n} {unit}"),
    };
    let text = format!("{:.2}", n as f64 / div);
    format!(
        "{} {prefix}{unit}",
        text.trim_end_matches('0').trim_end_matches('.')
    )
}

async fn load(app: &App, v: &Viewer, c: &Chrome, id: &str) -> Result<Detail, AppError> {
    let d = app.get_assessment(&v.principal(), id).await?;
    let state = d.assessment.state.code();
    let why = d
        .history
        .iter()
        .rev()
        .find(|h| h.to.as_deref() == Some(state))
        .and_then(|h| h.why.as_ref())
        .map(|w| c.why("why", w));
    let peaks = d.assessment.plan.as_ref().map(|p| {
        (
            c.rate(p.peak_bps),
            per_second(p.peak_pps, "pps"),
            (p.peak_rps > 0).then(|| per_second(p.peak_rps, "rps")),
        )
    });
    Ok(Detail {
        row: Row::of(c, d.assessment),
        contact: d.contact,
        history: d.history,
        why,
        peaks,
    })
}

#[derive(Template)]
#[template(path = "tenant/assessment.html")]
struct TenantPage {
    c: Chrome,
    d: Detail,
}

#[derive(Template)]
#[template(path = "staff/assessment.html")]
struct StaffPage {
    c: Chrome,
    d: Detail,
    can_decide: bool,
}

/// One assessment's page, tenant's or staff's; after a refused form, its words on top
/// (`error`), after a done one the flash of `done`. A missing id — or, for a tenant, another
/// account's — is the error page.
async fn show(
    app: &App,
    v: &Viewer,
    id: &str,
    error: Option<(StatusCode, String)>,
    done: Option<&str>,
) -> Response {
    let staff = v.role() != Some(Role::Tenant);
    let path = if staff {
        format!("/staff/assessments/{}", urlencode(id))
    } else {
        format!("/console/assessments/{}", urlencode(id))
    };
    let mut c = Chrome::new(app, v, &path, "asm.one_title");
    let d = match load(app, v, &c, id).await {
        Ok(d) => d,
        Err(e) => return error_page(v.lang, &e, Some(v)),
    };
    c.flash = flash(v.lang, done);
    let status = match error {
        Some((s, text)) => {
            c.error = Some(text);
            s
        }
        None => StatusCode::OK,
    };
    if staff {
        let can_decide = matches!(v.role(), Some(Role::Admin | Role::Operator));
        render(status, &StaffPage { c, d, can_decide })
    } else {
        render(status, &TenantPage { c, d })
    }
}

async fn tenant_page(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    show(&app, &v, &id, None, q.done.as_deref()).await
}

async fn staff_page(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    show(&app, &v, &id, None, q.done.as_deref()).await
}

/// A step the assessment cannot take as it stands (409) in the page's words: the use case
/// says it in English for the API.
fn in_words(e: AppError) -> AppError {
    match e {
        AppError::Conflict(message) => AppError::Refused {
            code: "assessment_transition",
            message,
        },
        e => e,
    }
}

/// The outcome of a form on assessment `id`: the redirect to `to`, or the page again with the
/// refusal on top (nothing changed).
async fn answer(
    app: &App,
    v: &Viewer,
    id: &str,
    result: Result<AssessmentView, AppError>,
    to: String,
) -> Response {
    match result {
        Ok(_) => redirect(&to),
        Err(e) => match refusal(v, &in_words(e)) {
            Ok(words) => show(app, v, id, Some(words), None).await,
            Err(page) => *page,
        },
    }
}

/// The page again with `key`'s words on top: a field the form needs was left blank.
async fn blank(app: &App, v: &Viewer, id: &str, key: &str) -> Response {
    let text = v.t(key);
    show(
        app,
        v,
        id,
        Some((StatusCode::UNPROCESSABLE_ENTITY, text)),
        None,
    )
    .await
}

async fn tenant_stop(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
    Path(id): Path<String>,
) -> Response {
    let Some(reason) = form.get("reason") else {
        return blank(&app, &v, &id, "asm.reason_required").await;
    };
    let input = RequiredReasonInput {
        reason: Some(reason),
    };
    let r = app.stop_assessment(&v.principal(), &id, input).await;
    let to = format!(
        "/console/assessments/{}?done=assessment_stopped",
        urlencode(&id)
    );
    answer(&app, &v, &id, r, to).await
}

/// ASMT-5: the tenant confirms, with the text it used, that it told its users.
async fn disclose(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
    Path(id): Path<String>,
) -> Response {
    let Some(text) = form.get("text") else {
        return blank(&app, &v, &id, "asm.text_required").await;
    };
    let input = DisclosureInput { text: Some(text) };
    let r = app.confirm_disclosure(&v.principal(), &id, input).await;
    let to = format!(
        "/console/assessments/{}?done=assessment_disclosed",
        urlencode(&id)
    );
    answer(&app, &v, &id, r, to).await
}

#[derive(Template)]
#[template(path = "staff/assessments.html")]
struct QueuePage {
    c: Chrome,
    pending: Vec<Row>,
    awaiting: Vec<Row>,
    approvals_overdue: usize,
    disclosures_overdue: usize,
    in_force: Vec<Row>,
}

/// ASMT-2/5: the plans waiting for a decision, earliest SLA due first, and the phishing tests
/// whose disclosure is unconfirmed; then what is in force (approved plans and declared
/// assessments), to stop one.
async fn queue(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let who = v.principal();
    let loaded = async {
        let queue = app.assessment_queue(&who).await?;
        let mut in_force = Vec::new();
        for state in [AssessmentState::Approved, AssessmentState::Declared] {
            let q = AssessmentQuery {
                state: Some(state.code().to_string()),
                limit: Some(PAGE),
                after: None,
            };
            in_force.extend(app.list_assessments(&who, &q).await?.items);
        }
        Ok::<_, AppError>((queue, in_force))
    }
    .await;
    let (queue, in_force) = match loaded {
        Ok(x) => x,
        Err(e) => return error_page(v.lang, &e, Some(&v)),
    };
    let mut c = Chrome::new(&app, &v, "/staff/assessments", "asm.queue_title");
    c.flash = flash(v.lang, q.done.as_deref());
    let rows = |items: Vec<AssessmentView>| -> Vec<Row> {
        items.into_iter().map(|a| Row::of(&c, a)).collect()
    };
    let page = QueuePage {
        pending: rows(queue.pending_approval),
        awaiting: rows(queue.awaiting_disclosure),
        in_force: rows(in_force),
        approvals_overdue: queue.approvals_overdue,
        disclosures_overdue: queue.disclosures_overdue,
        c,
    };
    render(StatusCode::OK, &page)
}

/// ASMT-2: an operator approves a plan, with an optional note the tenant is told.
async fn approve(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
    Path(id): Path<String>,
) -> Response {
    let input = ReasonInput {
        reason: form.get("reason"),
    };
    let r = app.approve_assessment(&v.principal(), &id, input).await;
    let to = format!(
        "/staff/assessments/{}?done=assessment_approved",
        urlencode(&id)
    );
    answer(&app, &v, &id, r, to).await
}

/// ASMT-2: an operator rejects a plan, with the reason the tenant is told.
async fn reject(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
    Path(id): Path<String>,
) -> Response {
    let Some(reason) = form.get("reason") else {
        return blank(&app, &v, &id, "asm.reason_required").await;
    };
    let input = RequiredReasonInput {
        reason: Some(reason),
    };
    let r = app.reject_assessment(&v.principal(), &id, input).await;
    let to = format!(
        "/staff/assessments/{}?done=assessment_rejected",
        urlencode(&id)
    );
    answer(&app, &v, &id, r, to).await
}

/// An operator stops an assessment early, with the reason the tenant is told.
async fn staff_stop(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
    Path(id): Path<String>,
) -> Response {
    let Some(reason) = form.get("reason") else {
        return blank(&app, &v, &id, "asm.reason_required").await;
    };
    let input = RequiredReasonInput {
        reason: Some(reason),
    };
    let r = app.stop_assessment(&v.principal(), &id, input).await;
    let to = format!(
        "/staff/assessments/{}?done=assessment_stopped_staff",
        urlencode(&id)
    );
    answer(&app, &v, &id, r, to).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_times_are_read_in_the_providers_zone() {
        let t = |s: &str| Timestamp::parse_rfc3339(s).unwrap();
        assert_eq!(
            parse_local("2026-12-01T10:00", 480),
            Some(t("2026-12-01T02:00:00Z"))
        );
        assert_eq!(
            parse_local(" 2026-12-01 10:00:30 ", 480),
            Some(t("2026-12-01T02:00:30Z"))
        );
        assert_eq!(
            parse_local("2026-12-01T10:00", -90),
            Some(t("2026-12-01T11:30:00Z"))
        );
        // An offset of its own wins.
        assert_eq!(
            parse_local("2026-12-01T10:00:00Z", 480),
            Some(t("2026-12-01T10:00:00Z"))
        );
        for bad in [
            "",
            "tomorrow",
            "2026-13-01T10:00",
            "2026-12-01",
            "2026-12-01T25:00",
        ] {
            assert_eq!(parse_local(bad, 480), None, "{bad}");
        }
    }

    #[test]
    fn rates_take_si_prefixes() {
        assert_eq!(rate_of("5000000000"), Some(5_000_000_000));
        assert_eq!(rate_of("5G"), Some(5_000_000_000));
        assert_eq!(rate_of("5 Gbps"), Some(5_000_000_000));
        assert_eq!(rate_of("1.5M"), Some(1_500_000));
        assert_eq!(rate_of("1.5 M pps"), Some(1_500_000));
        assert_eq!(rate_of("200k"), Some(200_000));
        assert_eq!(rate_of("200 rps"), Some(200));
        assert_eq!(rate_of("0"), Some(0));
        for bad in ["", "x", "-1", "1e9", "5 G G", "1,5M", "NaNG", ".G", "5.5"] {
            assert_eq!(rate_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn rates_per_second_in_words() {
        assert_eq!(per_second(999, "pps"), "999 pps");
        assert_eq!(per_second(1_500_000, "pps"), "1.5 Mpps");
        assert_eq!(per_second(2_000, "rps"), "2 krps");
    }
}

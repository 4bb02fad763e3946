//! The staff's pages (UI-1): the triage queue with filters and bulk dismissal, the case list, a
//! case with its grading, actions and their delivery, confirm / dismiss / enforce, and the
//! review queue of manual unblock requests with working-time SLA clocks, overdue first.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use warden_app::App;
use warden_app::error::AppError;
use warden_app::lifecycle::{ConfirmInput, EnforceInput, Penalties, QueuedRequest};
use warden_app::tickets::{CloseTicketInput, TicketView};
use warden_app::triage::{HistoryEntry, ReportView, TriageInput};
use warden_app::work::{ClaimView, NoteView};
use warden_domain::lifecycle::State as CaseState;
use warden_domain::taxonomy::{CATEGORIES, Category};
use warden_store::reports::{Case, CaseFilter};

use super::view::{
    Chrome, DoneQuery, Opt, PAGE, describe, error_page, flash, next_page, query_string, redirect,
    render,
};
use super::{FormData, OPERATORS, Page, REVIEWERS, STAFF, Viewer};

pub(super) fn pages() -> Vec<Page> {
    Vec::from([
        Page::get("/staff", OPERATORS, get(triage)),
        Page::post("/staff/triage/dismiss", OPERATORS, post(bulk_dismiss)),
        Page::post("/staff/triage/confirm", OPERATORS, post(bulk_confirm)),
        Page::get("/staff/cases", STAFF, get(cases)),
        Page::get("/staff/cases/{id}", STAFF, get(case_page)),
        Page::post("/staff/cases/{id}/confirm", OPERATORS, post(confirm)),
        Page::post("/staff/cases/{id}/dismiss", OPERATORS, post(dismiss)),
        Page::post("/staff/cases/{id}/enforce", OPERATORS, post(enforce)),
        Page::get("/staff/regulator", OPERATORS, get(regulator_form)),
        Page::post("/staff/regulator", OPERATORS, post(regulator_submit)),
        Page::get("/staff/reviews", STAFF, get(reviews)),
        Page::post("/staff/reviews/{id}", REVIEWERS, post(decide_review)),
        Page::post("/staff/tickets/{id}/close", REVIEWERS, post(close_ticket)),
        Page::post("/staff/cases/{id}/notes", STAFF, post(add_note)),
        Page::post("/staff/claims", STAFF, post(claim)),
        Page::post("/staff/claims/release", STAFF, post(release)),
        Page::post("/staff/claims/assign", OPERATORS, post(assign)),
    ])
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    category: Option<String>,
    source: Option<String>,
    unowned: Option<String>,
    state: Option<String>,
    sort: Option<String>,
    after: Option<String>,
    done: Option<String>,
}

const SOURCES: [&str; 4] = ["public", "detector", "regulator", "operator"];

#[derive(Template)]
#[template(path = "staff/triage.html")]
struct Triage {
    c: Chrome,
    cases: Vec<(Case, Option<ClaimView>)>,
    total: i64,
    categories: Vec<Opt>,
    sources: Vec<Opt>,
    unowned: bool,
    spread: bool,
    more: Option<String>,
    query: String,
}

fn filter_of(q: &ListQuery) -> Result<CaseFilter, AppError> {
    let category = q
        .category
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| {
            Category::parse(c).map_err(|_| {
                AppError::Invalid(warden_domain::resource::InvalidInput::new(
                    "category",
                    "is not a category of the taxonomy",
                ))
            })
        })
        .transpose()?;
    let source = q
        .source
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            if SOURCES.contains(&s) {
                Ok(s.to_string())
            } else {
                Err(AppError::Invalid(
                    warden_domain::resource::InvalidInput::new(
                        "source",
                        "is not one of public, detector, regulator, operator",
                    ),
                ))
            }
        })
        .transpose()?;
    let state = q
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(CaseState::parse)
        .transpose()
        .map_err(AppError::Invalid)?;
    Ok(CaseFilter {
        state,
        unowned: q.unowned.is_some(),
        category,
        source,
        confirmed: false,
    })
}

fn query_of(q: &ListQuery) -> String {
    query_string(&[
        ("category", q.category.as_deref()),
        ("source", q.source.as_deref()),
        ("state", q.state.as_deref()),
        ("unowned", q.unowned.as_deref()),
        ("sort", q.sort.as_deref()),
    ])
}

fn category_options(c: &Chrome, current: &str) -> Vec<Opt> {
    Opt::list(
        CATEGORIES
            .iter()
            .map(|i| (i.category.code().to_string(), c.category(i.category.code()))),
        current,
    )
}

async fn triage(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<ListQuery>,
) -> Response {
    let mut c = Chrome::new(&app, &v, "/staff", "triage.title");
    c.flash = flash(v.lang, q.done.as_deref());
    triage_view(&app, &v, c, &q, StatusCode::OK).await
}

async fn triage_view(
    app: &App,
    v: &Viewer,
    c: Chrome,
    q: &ListQuery,
    status: StatusCode,
) -> Response {
    let mut f = match filter_of(q) {
        Ok(f) => f,
        Err(e) => return error_page(v.lang, &e, Some(v)),
    };
    f.state = Some(CaseState::Reported);
    let who = v.principal();
    let after = q.after.clone().unwrap_or_default();
    let spread = q.sort.as_deref() == Some("spread");
    let listed = async {
        let cases = if spread {
            let key = after
                .split_once(':')
                .and_then(|(n, id)| Some((n.parse::<i64>().ok()?, id)));
            app.list_cases_by_spread(&who, &f, key, PAGE + 1).await?
        } else {
            app.list_cases(&who, &f, &after, PAGE + 1).await?
        };
        let total = app.count_cases(&who, &f).await?;
        Ok::<_, AppError>((cases, total))
    }
    .await;
    let (mut cases, total) = match listed {
        Ok(x) => x,
        Err(e) => return error_page(v.lang, &e, Some(v)),
    };
    let more = next_page(&mut cases, PAGE, |c| {
        if spread {
            format!("{}:{}", c.report_count, c.id)
        } else {
            c.id.clone()
        }
    });
    // Who is working on which case, for everyone to see.
    let items: Vec<String> = cases.iter().map(|c| format!("case:{}", c.id)).collect();
    let claims = match app.claims(&who, &items).await {
        Ok(c) => c,
        Err(e) => return error_page(v.lang, &e, Some(v)),
    };
    let cases = cases
        .into_iter()
        .map(|k| {
            let item = format!("case:{}", k.id);
            let claim = claims.iter().find(|c| c.claim.item == item).cloned();
            (k, claim)
        })
        .collect();
    render(
        status,
        &Triage {
            categories: category_options(&c, q.category.as_deref().unwrap_or_default()),
            sources: Opt::list(
                SOURCES.map(|s| (s.to_string(), c.code("source", s))),
                q.source.as_deref().unwrap_or_default(),
            ),
            unowned: q.unowned.is_some(),
            spread,
            query: query_of(q),
            c,
            cases,
            total,
            more,
        },
    )
}

/// What a bulk form does to each selected case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bulk {
    Dismiss,
    Confirm,
}

async fn bulk_dismiss(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
) -> Response {
    bulk(&app, &v, &form, Bulk::Dismiss).await
}

async fn bulk_confirm(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
) -> Response {
    bulk(&app, &v, &form, Bulk::Confirm).await
}

/// Applies one decision with one reason to every selected case (at most 500), each in its own
/// use case; says which ones it could not decide and why.
async fn bulk(app: &App, v: &Viewer, form: &FormData, what: Bulk) -> Response {
    let ids = form.all("case");
    let reason = form.get("reason");
    let refusal = if ids.is_empty() {
        Some("triage.none_selected")
    } else if what == Bulk::Dismiss && reason.is_none() {
        Some("triage.reason_required")
    } else {
        None
    };
    if let Some(key) = refusal {
        let mut c = Chrome::new(app, v, "/staff", "triage.title");
        c.error = Some(c.t(key));
        let q = ListQuery::default();
        return triage_view(app, v, c, &q, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let who = v.principal();
    let mut done = 0usize;
    let mut failed = Vec::new();
    for id in ids.iter().take(500) {
        let r = match what {
            Bulk::Dismiss => {
                let input = TriageInput {
                    reason: reason.clone(),
                };
                app.dismiss(&who, id, input).await.map(|_| ())
            }
            Bulk::Confirm => {
                let input = ConfirmInput {
                    reason: reason.clone(),
                    ..Default::default()
                };
                app.confirm_case(&who, id, input).await.map(|_| ())
            }
        };
        match r {
            Ok(()) => done += 1,
            Err(e) => failed.push(format!("{id}: {}", describe(v.lang, &e).1)),
        }
    }
    let (ok, partly) = match what {
        Bulk::Dismiss => ("/staff?done=dismissed_all", "triage.partly"),
        Bulk::Confirm => ("/staff?done=confirmed_all", "triage.partly_confirmed"),
    };
    if failed.is_empty() {
        return redirect(ok);
    }
    let mut c = Chrome::new(app, v, "/staff", "triage.title");
    c.error = Some(c.f(
        partly,
        &[("done", &done.to_string()), ("failed", &failed.join("; "))],
    ));
    triage_view(app, v, c, &ListQuery::default(), StatusCode::CONFLICT).await
}

#[derive(Template)]
#[template(path = "staff/regulator.html")]
struct Regulator {
    c: Chrome,
    categories: Vec<Opt>,
    form: FormData,
}

async fn regulator_form(State(app): State<App>, Extension(v): Extension<Viewer>) -> Response {
    let c = Chrome::new(&app, &v, "/staff/regulator", "regulator.title");
    render(
        StatusCode::OK,
        &Regulator {
            categories: category_options(&c, ""),
            c,
            form: FormData::default(),
        },
    )
}

/// A regulator notice (INT-1: 监管通报) entered by an operator: a report with source
/// `regulator` and the notice's authority, document number and legal basis.
async fn regulator_submit(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
) -> Response {
    let req = warden_domain::report::ReportRequest {
        target: form.get("target"),
        category: form.get("category"),
        description: form.get("description"),
        source: Some("regulator".into()),
        regulator: Some(warden_domain::report::RegulatorNotice {
            authority: form.get("authority").unwrap_or_default(),
            document_number: form.get("document_number").unwrap_or_default(),
            legal_basis: form.get("legal_basis").unwrap_or_default(),
        }),
        ..Default::default()
    };
    match app.submit_report(&v.principal(), req).await {
        Ok(r) => match r.case_id {
            Some(id) => redirect(&format!("/staff/cases/{id}?done=regulator_entered")),
            None => redirect("/staff?done=regulator_entered"),
        },
        Err(e) => {
            let (status, text) = describe(v.lang, &e);
            let mut c = Chrome::new(&app, &v, "/staff/regulator", "regulator.title");
            c.error = Some(text);
            let current = form.get("category").unwrap_or_default();
            render(
                status,
                &Regulator {
                    categories: category_options(&c, &current),
                    c,
                    form,
                },
            )
        }
    }
}

#[derive(Template)]
#[template(path = "staff/cases.html")]
struct Cases {
    c: Chrome,
    cases: Vec<Case>,
    states: Vec<Opt>,
    more: Option<String>,
    query: String,
}

async fn cases(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<ListQuery>,
) -> Response {
    let f = match filter_of(&q) {
        Ok(f) => f,
        Err(e) => return error_page(v.lang, &e, Some(&v)),
    };
    let after = q.after.clone().unwrap_or_default();
    let mut cases = match app.list_cases(&v.principal(), &f, &after, PAGE + 1).await {
        Ok(c) => c,
        Err(e) => return error_page(v.lang, &e, Some(&v)),
    };
    let more = next_page(&mut cases, PAGE, |c| c.id.clone());
    let c = Chrome::new(&app, &v, "/staff/cases", "cases.title");
    render(
        StatusCode::OK,
        &Cases {
            states: Opt::list(
                CaseState::ALL.map(|s| (s.code().to_string(), c.code("state", s.code()))),
                q.state.as_deref().unwrap_or_default(),
            ),
            c,
            cases,
            query: query_of(&q),
            more,
        },
    )
}

#[derive(Template)]
#[template(path = "staff/case.html")]
struct StaffCase {
    c: Chrome,
    case: Case,
    pen: Penalties,
    reports: Vec<ReportView>,
    history: Vec<HistoryEntry>,
    state_why: Option<warden_domain::why::Why>,
    operator: bool,
    legal_refs: &'static [&'static str],
    notes: Vec<NoteView>,
    claim: Option<ClaimView>,
    /// The case's notices and where their e-mails and texts stand (NOT-1, NOT-2).
    told: Vec<warden_app::outbound::NoticeDeliveries>,
}

async fn case_page(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let mut c = Chrome::new(&app, &v, "/staff/cases", "case.title");
    c.flash = flash(v.lang, q.done.as_deref());
    case_view(&app, &v, &id, c, StatusCode::OK).await
}

async fn case_view(app: &App, v: &Viewer, id: &str, c: Chrome, status: StatusCode) -> Response {
    let who = v.principal();
    let loaded = async {
        let data = super::view::load_case(app, &who, id).await?;
        let state_why = data.state_why();
        let super::view::CaseData {
            case,
            pen,
            reports,
            history,
        } = data;
        let notes = app.notes(&who, id).await?;
        let told = app.case_notices(&who, id).await?;
        let claim = app
            .claims(&who, &[format!("case:{}", case.id)])
            .await?
            .into_iter()
            .next();
        Ok::<_, AppError>((case, pen, reports, history, state_why, notes, claim, told))
    }
    .await;
    match loaded {
        Ok((case, pen, reports, history, state_why, notes, claim, told)) => render(
            status,
            &StaffCase {
                told,
                state_why,
                notes,
                claim,
                legal_refs: case.category.info().legal_refs,
                operator: matches!(
                    v.role(),
                    Some(
                        warden_domain::identity::Role::Admin
                            | warden_domain::identity::Role::Operator
                    )
                ),
                c,
                case,
                pen,
                reports,
                history,
            },
        ),
        Err(e) => error_page(v.lang, &e, Some(v)),
    }
}

async fn case_error(app: &App, v: &Viewer, id: &str, e: &AppError) -> Response {
    let (status, text) = match super::view::refusal(v, e) {
        Ok(r) => r,
        Err(page) => return *page,
    };
    let mut c = Chrome::new(app, v, "/staff/cases", "case.title");
    c.error = Some(text);
    case_view(app, v, id, c, status).await
}

async fn confirm(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
    Path(id): Path<String>,
) -> Response {
    let level = form.get("level");
    let level_reason = form.get("level_reason");
    if level.is_some() && level_reason.is_none() {
        let mut c = Chrome::new(&app, &v, "/staff/cases", "case.title");
        c.error = Some(c.t("case.override_reason_required"));
        return case_view(&app, &v, &id, c, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let input = ConfirmInput {
        reason: form.get("reason"),
        level,
        level_reason,
        markers: form.get("markers").map(|m| {
            m.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        }),
        impacts_other_tenants: form.checked("impacts_other_tenants").then_some(true),
        wide_impact: form.checked("wide_impact").then_some(true),
    };
    match app.confirm_case(&v.principal(), &id, input).await {
        Ok(_) => redirect(&format!("/staff/cases/{id}?done=confirmed")),
        Err(e) => case_error(&app, &v, &id, &e).await,
    }
}

async fn dismiss(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
    Path(id): Path<String>,
) -> Response {
    match app
        .dismiss(
            &v.principal(),
            &id,
            TriageInput {
                reason: form.get("reason"),
            },
        )
        .await
    {
        Ok(_) => redirect(&format!("/staff/cases/{id}?done=dismissed")),
        Err(e) => case_error(&app, &v, &id, &e).await,
    }
}

async fn enforce(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
    Path(id): Path<String>,
) -> Response {
    let input = EnforceInput {
        actions: None,
        no_unblock: form.checked("no_unblock"),
        reason: form.get("reason"),
    };
    match app.enforce_case(&v.principal(), &id, input).await {
        Ok(_) => redirect(&format!("/staff/cases/{id}?done=enforced")),
        Err(e) => case_error(&app, &v, &id, &e).await,
    }
}

#[derive(Template)]
#[template(path = "staff/reviews.html")]
struct Reviews {
    c: Chrome,
    queue: Vec<(QueuedRequest, Option<ClaimView>)>,
    tickets: Vec<(TicketView, Option<ClaimView>)>,
    reviewer: bool,
    operator: bool,
}

async fn reviews(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let mut c = Chrome::new(&app, &v, "/staff/reviews", "reviews.title");
    c.flash = flash(v.lang, q.done.as_deref());
    reviews_view(&app, &v, c, StatusCode::OK).await
}

async fn reviews_view(app: &App, v: &Viewer, c: Chrome, status: StatusCode) -> Response {
    let who = v.principal();
    let loaded = async {
        let mut queue = app.unblock_queue(&who).await?;
        // Overdue first, then by due time.
        queue.sort_by_key(|r| (!r.sla.overdue, r.request.due_at.unwrap_or(i64::MAX)));
        let mut tickets: Vec<TicketView> = app
            .list_tickets(&who)
            .await?
            .into_iter()
            .filter(|t| t.ticket.state == warden_domain::lifecycle::TicketState::Open)
            .collect();
        tickets.sort_by_key(|t| (!t.sla.overdue, t.ticket.due_at.unwrap_or(i64::MAX)));
        let items: Vec<String> = queue
            .iter()
            .map(|q| format!("unblock:{}", q.request.id))
            .chain(tickets.iter().map(|t| format!("ticket:{}", t.ticket.id)))
            .collect();
        let claims = app.claims(&who, &items).await?;
        let of = |item: String| claims.iter().find(|c| c.claim.item == item).cloned();
        let queue = queue
            .into_iter()
            .map(|q| {
                let c = of(format!("unblock:{}", q.request.id));
                (q, c)
            })
            .collect();
        let tickets = tickets
            .into_iter()
            .map(|t| {
                let c = of(format!("ticket:{}", t.ticket.id));
                (t, c)
            })
            .collect();
        Ok::<_, AppError>((queue, tickets))
    }
    .await;
    let (queue, tickets) = match loaded {
        Ok(x) => x,
        Err(e) => return error_page(v.lang, &e, Some(v)),
    };
    use warden_domain::identity::Role;
    render(
        status,
        &Reviews {
            c,
            queue,
            tickets,
            reviewer: matches!(v.role(), Some(Role::Admin | Role::Reviewer)),
            operator: matches!(v.role(), Some(Role::Admin | Role::Operator)),
        },
    )
}

async fn close_ticket(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
    Path(id): Path<String>,
) -> Response {
    let input = CloseTicketInput {
        resolution: form.get("resolution"),
        lift: form.checked("lift"),
    };
    match app.close_ticket(&v.principal(), &id, input).await {
        Ok(_) => redirect("/staff/reviews?done=ticket_closed"),
        Err(e) => review_error(&app, &v, &e).await,
    }
}

async fn review_error(app: &App, v: &Viewer, e: &AppError) -> Response {
    let (status, text) = match super::view::refusal(v, e) {
        Ok(r) => r,
        Err(page) => return *page,
    };
    let mut c = Chrome::new(app, v, "/staff/reviews", "reviews.title");
    c.error = Some(text);
    reviews_view(app, v, c, status).await
}

/// Where a claim form sends the browser back to: a local staff page only.
fn back_of(form: &FormData) -> String {
    match form.get("back") {
        Some(b) if b.starts_with("/staff") && !b.contains("//") => b,
        _ => "/staff/reviews".into(),
    }
}

async fn claim(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
) -> Response {
    let item = form.get("item").unwrap_or_default();
    let back = back_of(&form);
    match app.claim(&v.principal(), &item).await {
        Ok(_) => redirect(&with_done(&back, "claimed")),
        Err(e) => claim_error(&app, &v, &back, &e).await,
    }
}

async fn release(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
) -> Response {
    let item = form.get("item").unwrap_or_default();
    let back = back_of(&form);
    match app.release_claim(&v.principal(), &item).await {
        Ok(()) => redirect(&with_done(&back, "released")),
        Err(e) => claim_error(&app, &v, &back, &e).await,
    }
}

async fn assign(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
) -> Response {
    let item = form.get("item").unwrap_or_default();
    let to = form.get("to").unwrap_or_default();
    let back = back_of(&form);
    match app.assign_claim(&v.principal(), &item, &to).await {
        Ok(()) => redirect(&with_done(&back, "assigned")),
        Err(e) => claim_error(&app, &v, &back, &e).await,
    }
}

fn with_done(back: &str, done: &str) -> String {
    let base = back.split('?').next().unwrap_or(back);
    format!("{base}?done={done}")
}

async fn claim_error(app: &App, v: &Viewer, back: &str, e: &AppError) -> Response {
    if let Some(id) = back.strip_prefix("/staff/cases/") {
        let id = id.split('?').next().unwrap_or(id).to_string();
        return case_error(app, v, &id, e).await;
    }
    review_error(app, v, e).await
}

async fn add_note(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
    Path(id): Path<String>,
) -> Response {
    match app
        .add_note(&v.principal(), &id, &form.get("body").unwrap_or_default())
        .await
    {
        Ok(_) => redirect(&format!("/staff/cases/{id}?done=noted")),
        Err(e) => case_error(&app, &v, &id, &e).await,
    }
}

async fn decide_review(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
    Path(id): Path<String>,
) -> Response {
    let approve = match form.get("decision").as_deref() {
        Some("approve") => true,
        Some("reject") => false,
        _ => {
            let mut c = Chrome::new(&app, &v, "/staff/reviews", "reviews.title");
            c.error = Some(c.t("reviews.pick"));
            return reviews_view(&app, &v, c, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    match app
        .review_unblock(&v.principal(), &id, approve, form.get("reason"))
        .await
    {
        Ok(_) => redirect(if approve {
            "/staff/reviews?done=approved"
        } else {
            "/staff/reviews?done=rejected"
        }),
        Err(e) => review_error(&app, &v, &e).await,
    }
}

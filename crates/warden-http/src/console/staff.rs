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
use warden_app::triage::{HistoryEntry, ReportView, TriageInput};
use warden_domain::lifecycle::State as CaseState;
use warden_domain::taxonomy::{CATEGORIES, Category};
use warden_store::reports::{Case, CaseFilter};

use super::view::{Chrome, Opt, PAGE, describe, error_page, flash, redirect, render, urlencode};
use super::{FormData, OPERATORS, Page, REVIEWERS, STAFF, Viewer};

pub(super) fn pages() -> Vec<Page> {
    Vec::from([
        Page::get("/staff", OPERATORS, get(triage)),
        Page::post("/staff/triage/dismiss", OPERATORS, post(bulk_dismiss)),
        Page::get("/staff/cases", STAFF, get(cases)),
        Page::get("/staff/cases/{id}", STAFF, get(case_page)),
        Page::post("/staff/cases/{id}/confirm", OPERATORS, post(confirm)),
        Page::post("/staff/cases/{id}/dismiss", OPERATORS, post(dismiss)),
        Page::post("/staff/cases/{id}/enforce", OPERATORS, post(enforce)),
        Page::get("/staff/reviews", STAFF, get(reviews)),
        Page::post("/staff/reviews/{id}", REVIEWERS, post(decide_review)),
    ])
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    category: Option<String>,
    source: Option<String>,
    unowned: Option<String>,
    state: Option<String>,
    after: Option<String>,
    done: Option<String>,
}

const SOURCES: [&str; 4] = ["public", "detector", "regulator", "operator"];

#[derive(Template)]
#[template(path = "staff/triage.html")]
struct Triage {
    c: Chrome,
    cases: Vec<Case>,
    total: i64,
    categories: Vec<Opt>,
    sources: Vec<Opt>,
    unowned: bool,
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
    })
}

fn query_of(q: &ListQuery) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("category", &q.category),
        ("source", &q.source),
        ("state", &q.state),
        ("unowned", &q.unowned),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            parts.push(format!("{k}={}", urlencode(v)));
        }
    }
    parts.join("&")
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
    let listed = async {
        let cases = app.list_cases(&who, &f, &after, PAGE + 1).await?;
        let total = app.count_cases(&who, &f).await?;
        Ok::<_, AppError>((cases, total))
    }
    .await;
    let (mut cases, total) = match listed {
        Ok(x) => x,
        Err(e) => return error_page(v.lang, &e, Some(v)),
    };
    let more = (cases.len() > PAGE as usize).then(|| {
        cases.truncate(PAGE as usize);
        cases.last().map(|c| c.id.clone()).unwrap_or_default()
    });
    render(
        status,
        &Triage {
            categories: category_options(&c, q.category.as_deref().unwrap_or_default()),
            sources: Opt::list(
                SOURCES.map(|s| (s.to_string(), c.code("source", s))),
                q.source.as_deref().unwrap_or_default(),
            ),
            unowned: q.unowned.is_some(),
            query: query_of(q),
            c,
            cases,
            total,
            more,
        },
    )
}

async fn bulk_dismiss(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
) -> Response {
    let ids = form.all("case");
    let reason = form.get("reason");
    let refuse = |key: &str| {
        let mut c = Chrome::new(&app, &v, "/staff", "triage.title");
        c.error = Some(c.t(key));
        c
    };
    if ids.is_empty() {
        let c = refuse("triage.none_selected");
        return triage_view(
            &app,
            &v,
            c,
            &ListQuery::default(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    if reason.is_none() {
        let c = refuse("triage.reason_required");
        return triage_view(
            &app,
            &v,
            c,
            &ListQuery::default(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let who = v.principal();
    let mut done = 0usize;
    let mut failed = Vec::new();
    for id in ids.iter().take(500) {
        match app
            .dismiss(
                &who,
                id,
                TriageInput {
                    reason: reason.clone(),
                },
            )
            .await
        {
            Ok(_) => done += 1,
            Err(e) => failed.push(format!("{id}: {}", describe(v.lang, &e).1)),
        }
    }
    if failed.is_empty() {
        redirect(&format!("/staff?done=dismissed&n={done}"))
    } else {
        let mut c = Chrome::new(&app, &v, "/staff", "triage.title");
        c.error = Some(c.f(
            "triage.partly",
            &[("done", &done.to_string()), ("failed", &failed.join("; "))],
        ));
        triage_view(&app, &v, c, &ListQuery::default(), StatusCode::CONFLICT).await
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
    let more = (cases.len() > PAGE as usize).then(|| {
        cases.truncate(PAGE as usize);
        cases.last().map(|c| c.id.clone()).unwrap_or_default()
    });
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
    operator: bool,
    legal_refs: &'static [&'static str],
}

#[derive(Debug, Deserialize)]
struct DoneQuery {
    done: Option<String>,
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
        let case = app.get_case(&who, id).await?;
        let pen = app.case_penalties(&who, id).await?;
        let reports = app.case_reports(&who, id).await?;
        let history = app.case_history(&who, id).await?;
        Ok::<_, AppError>((case, pen, reports, history))
    }
    .await;
    match loaded {
        Ok((case, pen, reports, history)) => render(
            status,
            &StaffCase {
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
    let (status, text) = describe(v.lang, e);
    if status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN {
        return error_page(v.lang, e, Some(v));
    }
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
    queue: Vec<QueuedRequest>,
    reviewer: bool,
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
    match app.unblock_queue(&v.principal()).await {
        Ok(mut queue) => {
            // Overdue first, then by due time.
            queue.sort_by_key(|r| (!r.sla.overdue, r.request.due_at.unwrap_or(i64::MAX)));
            render(
                status,
                &Reviews {
                    c,
                    queue,
                    reviewer: matches!(
                        v.role(),
                        Some(
                            warden_domain::identity::Role::Admin
                                | warden_domain::identity::Role::Reviewer
                        )
                    ),
                },
            )
        }
        Err(e) => error_page(v.lang, &e, Some(v)),
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
        Err(e) => {
            let (status, text) = describe(v.lang, &e);
            if status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN {
                return error_page(v.lang, &e, Some(&v));
            }
            let mut c = Chrome::new(&app, &v, "/staff/reviews", "reviews.title");
            c.error = Some(text);
            reviews_view(&app, &v, c, status).await
        }
    }
}

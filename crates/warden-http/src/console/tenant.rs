//! The tenant's pages (UI-1): the dashboard, the list of every case, a case with its unblock
//! paths, the inbox, tickets and resources. Every read goes through the use cases with the signed-in user as principal, so
//! a foreign case id answers exactly like a missing one (404).

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use warden_app::App;
use warden_app::error::AppError;
use warden_app::lifecycle::{Penalties, SelfUnblockInput, SelfUnblockOutcome, UnblockOptions};
use warden_app::tickets::{TicketInput, TicketView};
use warden_app::triage::{HistoryEntry, ReportView};
use warden_domain::lifecycle::{LifecycleError, State as CaseState};
use warden_store::lifecycle::Notice;
use warden_store::reports::{Case, CaseFilter};
use warden_store::resources::Resource;

use super::view::{
    Chrome, DoneQuery, Opt, PAGE, describe, error_page, flash, next_page, query_string, redirect,
    render,
};
use super::{FormData, Page, TENANTS, Viewer};

pub(super) fn pages() -> Vec<Page> {
    Vec::from([
        Page::get("/console", TENANTS, get(dashboard)),
        Page::get("/console/cases", TENANTS, get(case_list)),
        Page::get("/console/cases/{id}", TENANTS, get(case_page)),
        Page::post("/console/cases/{id}/unblock", TENANTS, post(self_unblock)),
        Page::post(
            "/console/cases/{id}/manual-unblock",
            TENANTS,
            post(manual_unblock),
        ),
        Page::get("/console/inbox", TENANTS, get(inbox)),
        Page::post("/console/inbox/{id}/read", TENANTS, post(mark_read)),
        Page::get("/console/tickets", TENANTS, get(tickets)),
        Page::post("/console/tickets", TENANTS, post(file_ticket)),
        Page::get("/console/resources", TENANTS, get(resources)),
    ])
}

/// Open states: what the dashboard lists. A report staff have not confirmed yet is not shown:
/// it may be false, and the tenant hears of a case when it is confirmed (LIFE-1).
const OPEN: [CaseState; 3] = [
    CaseState::Alerting,
    CaseState::Enforced,
    CaseState::UnblockRequested,
];

/// A case line on the dashboard.
#[derive(Debug)]
struct CaseLine {
    case: Case,
    deadline: Option<i64>,
}

/// The states of the cases a tenant has heard of (LIFE-1): what its case list filters by.
const HEARD_OF: [CaseState; 6] = [
    CaseState::Confirmed,
    CaseState::Alerting,
    CaseState::Enforced,
    CaseState::UnblockRequested,
    CaseState::Lifted,
    CaseState::Resolved,
];

/// Lines with their countdowns, in one query for the whole page.
async fn with_deadlines(
    app: &App,
    who: &warden_app::auth::Principal,
    cases: Vec<Case>,
) -> Result<Vec<CaseLine>, AppError> {
    let ids: Vec<String> = cases.iter().map(|c| c.id.clone()).collect();
    let deadlines = app.case_deadlines(who, &ids).await?;
    Ok(cases
        .into_iter()
        .map(|case| CaseLine {
            deadline: deadlines.get(&case.id).copied(),
            case,
        })
        .collect())
}

#[derive(Template)]
#[template(path = "tenant/dashboard.html")]
struct Dashboard {
    c: Chrome,
    open: Vec<CaseLine>,
    blocked: Vec<CaseLine>,
    /// Open states with more cases than the dashboard shows: (state, link words).
    more: Vec<(&'static str, String)>,
    unread: i64,
    now: i64,
}

async fn dashboard(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let who = v.principal();
    // At most a page of each open state, in the order of every list (oldest first), and every
    // countdown in one query: the dashboard costs the same for a tenant with ten cases or ten
    // thousand. A state with more links to the case list, which reaches them all.
    let c = Chrome::new(&app, &v, "/console", "dashboard.title");
    let mut lines = Vec::new();
    let mut more = Vec::new();
    for state in OPEN {
        let f = CaseFilter {
            state: Some(state),
            ..Default::default()
        };
        match app.list_cases(&who, &f, "", PAGE + 1).await {
            Ok(mut cases) => {
                if next_page(&mut cases, PAGE, |_| ()).is_some() {
                    let words = c.f(
                        "dashboard.more",
                        &[("state", &c.code("state", state.code()))],
                    );
                    more.push((state.code(), words));
                }
                lines.extend(cases);
            }
            Err(e) => return error_page(v.lang, &e, Some(&v)),
        }
    }
    let mut open = match with_deadlines(&app, &who, lines).await {
        Ok(l) => l,
        Err(e) => return error_page(v.lang, &e, Some(&v)),
    };
    open.sort_by_key(|l| std::cmp::Reverse(l.case.last_report_at));
    let (blocked, open): (Vec<_>, Vec<_>) = open.into_iter().partition(|l| {
        matches!(
            l.case.state,
            CaseState::Enforced | CaseState::UnblockRequested
        )
    });
    let unread = app.count_unread_notices(&who).await.unwrap_or(0);
    let mut c = c;
    c.flash = flash(v.lang, q.done.as_deref());
    render(
        StatusCode::OK,
        &Dashboard {
            c,
            open,
            blocked,
            more,
            unread,
            now: app.now(),
        },
    )
}

#[derive(Debug, Default, Deserialize)]
struct CaseListQuery {
    state: Option<String>,
    /// The cursor: the last (oldest) case of the previous page.
    before: Option<String>,
    /// Cases per page, 1 to [`PAGE`].
    limit: Option<String>,
}

#[derive(Template)]
#[template(path = "tenant/cases.html")]
struct CaseList {
    c: Chrome,
    cases: Vec<CaseLine>,
    states: Vec<Opt>,
    /// The next page's link, when there is one.
    next: Option<String>,
    /// The first page's link, on every later page.
    first: Option<String>,
    now: i64,
}

/// The case list's state and page size; a bad one is refused naming the parameter.
fn case_list_params(
    state: Option<&str>,
    limit: Option<&str>,
) -> Result<(Option<CaseState>, i64), AppError> {
    let state = state
        .map(CaseState::parse)
        .transpose()
        .map_err(AppError::Invalid)?;
    let limit = match limit.filter(|l| !l.is_empty()) {
        None => PAGE,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=PAGE).contains(l))
            .ok_or_else(|| {
                AppError::Invalid(warden_domain::resource::InvalidInput::new(
                    "limit",
                    "is not a whole number from 1 to 50",
                ))
            })?,
    };
    Ok((state, limit))
}

/// Every case of the tenant's account it has heard of (LIFE-1), newest first, by state, a page
/// at a time: the next page's link carries the last case shown (keyset paging, never an
/// offset), so a case confirmed meanwhile neither shifts nor repeats the pages.
async fn case_list(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<CaseListQuery>,
) -> Response {
    let state = q.state.as_deref().filter(|s| !s.is_empty());
    let (filter_state, limit) = match case_list_params(state, q.limit.as_deref()) {
        Ok(x) => x,
        Err(e) => return error_page(v.lang, &e, Some(&v)),
    };
    let f = CaseFilter {
        state: filter_state,
        confirmed: true,
        ..Default::default()
    };
    let who = v.principal();
    let before = q.before.as_deref().unwrap_or_default();
    let mut cases = match app.list_cases_newest(&who, &f, before, limit + 1).await {
        Ok(c) => c,
        Err(e) => return error_page(v.lang, &e, Some(&v)),
    };
    let limit_param = q.limit.as_deref().filter(|_| limit != PAGE);
    let next = next_page(&mut cases, limit, |k| {
        let query = query_string(&[
            ("state", state),
            ("limit", limit_param),
            ("before", Some(&k.id)),
        ]);
        format!("/console/cases?{query}")
    });
    let first = (!before.is_empty()).then(|| {
        let query = query_string(&[("state", state), ("limit", limit_param)]);
        if query.is_empty() {
            "/console/cases".to_string()
        } else {
            format!("/console/cases?{query}")
        }
    });
    let cases = match with_deadlines(&app, &who, cases).await {
        Ok(l) => l,
        Err(e) => return error_page(v.lang, &e, Some(&v)),
    };
    let c = Chrome::new(&app, &v, "/console/cases", "mycases.title");
    render(
        StatusCode::OK,
        &CaseList {
            states: Opt::list(
                HEARD_OF.map(|s| (s.code().to_string(), c.code("state", s.code()))),
                state.unwrap_or_default(),
            ),
            c,
            cases,
            next,
            first,
            now: app.now(),
        },
    )
}

/// An unblock path as the page shows it: available, or the rule that refuses it in words.
#[derive(Debug)]
struct PathView {
    available: bool,
    why_not: Option<String>,
}

fn path_view(c: &Chrome, r: &Result<(), LifecycleError>) -> PathView {
    match r {
        Ok(()) => PathView {
            available: true,
            why_not: None,
        },
        Err(e) => PathView {
            available: false,
            why_not: Some(refusal_words(c, e)),
        },
    }
}

/// The words of a lifecycle refusal in the page language: the rule and what the tenant can do.
fn refusal_words(c: &Chrome, e: &LifecycleError) -> String {
    let key = format!("refused.{}", e.code());
    if c.lang.catalog().has(&key) {
        c.t(&key)
    } else {
        e.to_string()
    }
}

#[derive(Template)]
#[template(path = "tenant/case.html")]
struct CasePage {
    c: Chrome,
    case: Case,
    pen: Penalties,
    reports: Vec<ReportView>,
    history: Vec<HistoryEntry>,
    self_service: PathView,
    manual: PathView,
    cdn: bool,
    host_security: bool,
    legal_refs: &'static [&'static str],
    now: i64,
}

async fn case_page(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let mut c = Chrome::new(&app, &v, "/console/cases", "case.title");
    c.flash = flash(v.lang, q.done.as_deref());
    case_view(&app, &v, &id, c, StatusCode::OK).await
}

async fn case_view(app: &App, v: &Viewer, id: &str, c: Chrome, status: StatusCode) -> Response {
    let who = v.principal();
    let loaded = async {
        let d = super::view::load_case(app, &who, id).await?;
        let options: UnblockOptions = app.unblock_options(&who, id).await?;
        Ok::<_, AppError>((d.case, d.pen, d.reports, d.history, options))
    }
    .await;
    let (case, pen, reports, history, options) = match loaded {
        Ok(x) => x,
        Err(e) => return error_page(v.lang, &e, Some(v)),
    };
    let host_security = case.category.kind() == warden_domain::taxonomy::Kind::Behaviour;
    let self_service = path_view(&c, &options.self_service);
    let manual = path_view(&c, &options.manual);
    let legal_refs = case.category.info().legal_refs;
    render(
        status,
        &CasePage {
            self_service,
            manual,
            cdn: options.cdn,
            host_security,
            legal_refs,
            now: app.now(),
            c,
            case,
            pen,
            reports,
            history,
        },
    )
}

async fn self_unblock(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
    Path(id): Path<String>,
) -> Response {
    let input = SelfUnblockInput {
        commitment_confirmed: form.checked("commitment"),
    };
    match app.self_unblock(&v.principal(), &id, input).await {
        Ok(r) => match r.outcome {
            SelfUnblockOutcome::Lifted => redirect(&format!("/console/cases/{id}?done=unblocked")),
            SelfUnblockOutcome::Failed => {
                redirect(&format!("/console/cases/{id}?done=unblock_failed"))
            }
        },
        Err(e) => case_error(&app, &v, &id, &e).await,
    }
}

async fn manual_unblock(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
) -> Response {
    match app.manual_unblock(&v.principal(), &id).await {
        Ok(_) => redirect(&format!("/console/cases/{id}?done=manual_requested")),
        Err(e) => case_error(&app, &v, &id, &e).await,
    }
}

/// The case page again with the refusal on top (nothing changed), or the error page where the
/// case itself cannot be shown.
async fn case_error(app: &App, v: &Viewer, id: &str, e: &AppError) -> Response {
    let (status, text) = match super::view::refusal(v, e) {
        Ok(r) => r,
        Err(page) => return *page,
    };
    let mut c = Chrome::new(app, v, "/console/cases", "case.title");
    c.error = Some(text);
    case_view(app, v, id, c, status).await
}

#[derive(Template)]
#[template(path = "tenant/inbox.html")]
struct Inbox {
    c: Chrome,
    notices: Vec<Notice>,
    more: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    after: Option<String>,
    done: Option<String>,
}

async fn inbox(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<PageQuery>,
) -> Response {
    let after = q.after.unwrap_or_default();
    match app.list_notices(&v.principal(), &after, PAGE + 1).await {
        Ok(mut notices) => {
            let more = next_page(&mut notices, PAGE, |n| n.id.clone());
            let mut c = Chrome::new(&app, &v, "/console/inbox", "inbox.title");
            c.flash = flash(v.lang, q.done.as_deref());
            render(StatusCode::OK, &Inbox { c, notices, more })
        }
        Err(e) => error_page(v.lang, &e, Some(&v)),
    }
}

async fn mark_read(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
) -> Response {
    match app.mark_notice_read(&v.principal(), &id).await {
        Ok(()) => redirect("/console/inbox?done=read"),
        Err(e) => error_page(v.lang, &e, Some(&v)),
    }
}

#[derive(Template)]
#[template(path = "tenant/tickets.html")]
struct Tickets {
    c: Chrome,
    tickets: Vec<TicketView>,
    kinds: Vec<&'static str>,
    case_id: String,
    subject: String,
    body: String,
}

#[derive(Debug, Deserialize)]
struct TicketQuery {
    done: Option<String>,
    case: Option<String>,
}

const TICKET_KINDS: [&str; 4] = ["unblock", "harmful_behaviour", "regulator", "question"];

async fn tickets(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<TicketQuery>,
) -> Response {
    let mut c = Chrome::new(&app, &v, "/console/tickets", "tickets.title");
    c.flash = flash(v.lang, q.done.as_deref());
    tickets_view(
        &app,
        &v,
        c,
        StatusCode::OK,
        q.case.unwrap_or_default(),
        String::new(),
        String::new(),
    )
    .await
}

async fn tickets_view(
    app: &App,
    v: &Viewer,
    c: Chrome,
    status: StatusCode,
    case_id: String,
    subject: String,
    body: String,
) -> Response {
    match app.list_tickets(&v.principal()).await {
        Ok(tickets) => render(
            status,
            &Tickets {
                c,
                tickets,
                kinds: TICKET_KINDS.to_vec(),
                case_id,
                subject,
                body,
            },
        ),
        Err(e) => error_page(v.lang, &e, Some(v)),
    }
}

async fn file_ticket(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
) -> Response {
    let input = TicketInput {
        kind: form.get("kind"),
        case_id: form.get("case_id"),
        subject: form.get("subject"),
        body: form.get("body"),
    };
    match app.file_ticket(&v.principal(), input).await {
        Ok(_) => redirect("/console/tickets?done=ticket_filed"),
        Err(e) => {
            let (status, text) = describe(v.lang, &e);
            let mut c = Chrome::new(&app, &v, "/console/tickets", "tickets.title");
            c.error = Some(text);
            tickets_view(
                &app,
                &v,
                c,
                status,
                form.get("case_id").unwrap_or_default(),
                form.get("subject").unwrap_or_default(),
                form.get("body").unwrap_or_default(),
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "tenant/resources.html")]
struct Resources {
    c: Chrome,
    resources: Vec<Resource>,
}

async fn resources(State(app): State<App>, Extension(v): Extension<Viewer>) -> Response {
    match app.list_resources(&v.principal(), None, "", 500).await {
        Ok(resources) => render(
            StatusCode::OK,
            &Resources {
                c: Chrome::new(&app, &v, "/console/resources", "resources.title"),
                resources,
            },
        ),
        Err(e) => error_page(v.lang, &e, Some(&v)),
    }
}

//! The confidential vulnerability channel in the console (ASMT-4): a form anyone may use to
//! report a vulnerability in the provider's infrastructure, with its receipt (the status token,
//! shown once, for a reporter without a tenant account) and a status page that takes the token
//! in a posted form, never in a URL; a tenant's list of its account's reports by state; and the
//! security team's inbox, one report with its text, and the state-change form.
//!
//! The pages call the same use cases as the API (`warden_app::vulnerabilities`), so the role
//! checks, the sealing and the audit of every read are theirs. Pages showing a report's text
//! are sent `Cache-Control: no-store` (every signed-in page is).

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use warden_app::App;
use warden_app::vulnerabilities::{
    InboxFilter, StatusTokenInput, VulnerabilityInbox, VulnerabilityInput, VulnerabilityStateInput,
    VulnerabilityView,
};
use warden_domain::identity::Role;
use warden_domain::vulnerability::{Confidential, VulnerabilitySeverity, VulnerabilityState};
use warden_store::vulnerabilities::VulnerabilityStatus;

use super::view::{
    Chrome, DoneQuery, Opt, PAGE, describe, error_page, flash, query_string, redirect, refusal,
    render,
};
use super::{Access, FormData, Page, TENANTS, Viewer};

/// The security team, and admins.
pub const SECURITY: Access = Access::Roles(&[Role::Admin, Role::SecurityTeam]);

pub(super) fn pages() -> Vec<Page> {
    Vec::from([
        Page::get("/vulnerability", Access::Public, get(form)),
        Page::post("/vulnerability", Access::Public, post(submit)),
        Page::get("/vulnerability/status", Access::Public, get(status_form)),
        Page::post("/vulnerability/status", Access::Public, post(status)),
        Page::get("/console/vulnerabilities", TENANTS, get(mine)),
        Page::get("/staff/vulnerabilities", SECURITY, get(inbox)),
        Page::get("/staff/vulnerabilities/{id}", SECURITY, get(report)),
        Page::post(
            "/staff/vulnerabilities/{id}/state",
            SECURITY,
            post(set_state),
        ),
    ])
}

/// No copy of a page with a report's text or a status token in any cache, signed in or not.
fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn severities(c: &Chrome, current: &str) -> Vec<Opt> {
    Opt::list(
        VulnerabilitySeverity::ALL
            .iter()
            .map(|s| (s.code().to_string(), c.code("vuln_severity", s.code()))),
        current,
    )
}

#[derive(Template)]
#[template(path = "vulnerability.html")]
struct Form {
    c: Chrome,
    severities: Vec<Opt>,
    tenant: bool,
    title: String,
    component: String,
    description: String,
    details: String,
}

async fn form(State(app): State<App>, Extension(v): Extension<Viewer>) -> Response {
    let c = Chrome::new(&app, &v, "/vulnerability", "vuln.title");
    render(
        StatusCode::OK,
        &Form {
            severities: severities(&c, ""),
            tenant: v.role() == Some(Role::Tenant),
            c,
            title: String::new(),
            component: String::new(),
            description: String::new(),
            details: String::new(),
        },
    )
}

#[derive(Template)]
#[template(path = "vulnerability_receipt.html")]
struct Receipt {
    c: Chrome,
    id: String,
    token: Option<String>,
    tenant: bool,
}

async fn submit(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
) -> Response {
    // The honeypot, as on the abuse report form: answer as if received, store nothing.
    if form.get("website").is_some() {
        let c = Chrome::new(&app, &v, "/vulnerability", "vuln.received");
        return no_store(render(
            StatusCode::OK,
            &Receipt {
                c,
                id: String::new(),
                token: None,
                tenant: false,
            },
        ));
    }
    let text = |k: &str| form.get(k).map(Confidential::new);
    let input = VulnerabilityInput {
        title: text("title"),
        description: text("description"),
        details: text("details"),
        component: text("component"),
        severity: form.get("severity"),
    };
    let tenant = v.role() == Some(Role::Tenant);
    match app.submit_vulnerability(&v.principal(), input).await {
        Ok(r) => {
            let c = Chrome::new(&app, &v, "/vulnerability", "vuln.received");
            no_store(render(
                StatusCode::OK,
                &Receipt {
                    c,
                    id: r.id,
                    token: r.status_token,
                    tenant,
                },
            ))
        }
        Err(e) => {
            let (status, text) = describe(v.lang, &e);
            let mut c = Chrome::new(&app, &v, "/vulnerability", "vuln.title");
            c.error = Some(text);
            let severity = form.get("severity").unwrap_or_default();
            // The reporter's own words back in its own form, never anywhere else.
            no_store(render(
                status,
                &Form {
                    severities: severities(&c, &severity),
                    c,
                    tenant,
                    title: form.get("title").unwrap_or_default(),
                    component: form.get("component").unwrap_or_default(),
                    description: form.get("description").unwrap_or_default(),
                    details: form.get("details").unwrap_or_default(),
                },
            ))
        }
    }
}

#[derive(Template)]
#[template(path = "vulnerability_status.html")]
struct StatusPage {
    c: Chrome,
    status: Option<VulnerabilityStatus>,
}

async fn status_form(State(app): State<App>, Extension(v): Extension<Viewer>) -> Response {
    render(
        StatusCode::OK,
        &StatusPage {
            c: Chrome::new(&app, &v, "/vulnerability/status", "vuln.status_title"),
            status: None,
        },
    )
}

async fn status(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
) -> Response {
    let input = StatusTokenInput {
        token: form.get("token"),
    };
    let mut c = Chrome::new(&app, &v, "/vulnerability/status", "vuln.status_title");
    match app.vulnerability_status(&v.principal(), input).await {
        Ok(s) => no_store(render(StatusCode::OK, &StatusPage { c, status: Some(s) })),
        Err(e) => {
            let (status, text) = describe(v.lang, &e);
            c.error = Some(text);
            no_store(render(status, &StatusPage { c, status: None }))
        }
    }
}

#[derive(Template)]
#[template(path = "tenant/vulnerabilities.html")]
struct Mine {
    c: Chrome,
    items: Vec<VulnerabilityStatus>,
}

async fn mine(State(app): State<App>, Extension(v): Extension<Viewer>) -> Response {
    match app.my_vulnerabilities(&v.principal()).await {
        Ok(items) => render(
            StatusCode::OK,
            &Mine {
                c: Chrome::new(&app, &v, "/console/vulnerabilities", "vuln.mine_title"),
                items,
            },
        ),
        Err(e) => error_page(v.lang, &e, Some(&v)),
    }
}

#[derive(Debug, Deserialize)]
struct InboxQuery {
    state: Option<String>,
    before: Option<String>,
}

#[derive(Template)]
#[template(path = "staff/vulnerabilities.html")]
struct Inbox {
    c: Chrome,
    inbox: VulnerabilityInbox,
    states: Vec<Opt>,
    next: Option<String>,
}

async fn inbox(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<InboxQuery>,
) -> Response {
    let f = InboxFilter {
        state: q.state.clone(),
        before: q.before.clone(),
        limit: PAGE,
    };
    match app.list_vulnerabilities(&v.principal(), &f).await {
        Ok(inbox) => {
            let c = Chrome::new(&app, &v, "/staff/vulnerabilities", "vuln.inbox_title");
            let current = q.state.clone().unwrap_or_default();
            let states = Opt::list(
                VulnerabilityState::ALL
                    .iter()
                    .map(|s| (s.code().to_string(), c.code("vuln_state", s.code()))),
                &current,
            );
            let next = inbox.next_before.as_deref().map(|b| {
                format!(
                    "/staff/vulnerabilities?{}",
                    query_string(&[("state", q.state.as_deref()), ("before", Some(b))])
                )
            });
            render(
                StatusCode::OK,
                &Inbox {
                    c,
                    inbox,
                    states,
                    next,
                },
            )
        }
        Err(e) => error_page(v.lang, &e, Some(&v)),
    }
}

#[derive(Template)]
#[template(path = "staff/vulnerability.html")]
struct Report {
    c: Chrome,
    r: VulnerabilityView,
    moves: Vec<Opt>,
}

fn moves(c: &Chrome, from: VulnerabilityState) -> Vec<Opt> {
    Opt::list(
        VulnerabilityState::ALL
            .iter()
            .filter(|to| warden_domain::vulnerability::transition(from, **to).is_ok())
            .map(|s| (s.code().to_string(), c.code("vuln_state", s.code()))),
        "",
    )
}

/// The report page; after a refused form, its words above it (`error`); after a done one, the
/// flash of `done`. One read, so one audit event, per page shown.
async fn show(
    app: &App,
    v: &Viewer,
    id: &str,
    error: Option<(StatusCode, String)>,
    done: Option<&str>,
) -> Response {
    match app.get_vulnerability(&v.principal(), id).await {
        Ok(r) => {
            let path = format!("/staff/vulnerabilities/{id}");
            let mut c = Chrome::new(app, v, &path, "vuln.report_title");
            c.flash = flash(v.lang, done);
            let status = match error {
                Some((s, text)) => {
                    c.error = Some(text);
                    s
                }
                None => StatusCode::OK,
            };
            let moves = moves(&c, r.state);
            render(status, &Report { c, r, moves })
        }
        Err(e) => error_page(v.lang, &e, Some(v)),
    }
}

async fn report(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    show(&app, &v, &id, None, q.done.as_deref()).await
}

async fn set_state(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
    Path(id): Path<String>,
) -> Response {
    let input = VulnerabilityStateInput {
        state: form.get("state"),
    };
    match app
        .set_vulnerability_state(&v.principal(), &id, input)
        .await
    {
        Ok(_) => redirect(&format!(
            "/staff/vulnerabilities/{}?done=vulnerability_state",
            super::view::urlencode(&id)
        )),
        Err(e) => match refusal(&v, &e) {
            Ok(words) => show(&app, &v, &id, Some(words), None).await,
            Err(page) => *page,
        },
    }
}

//! Pages anyone can open: the front page, sign-in and sign-out, the language switch, the
//! password change, the public report form (用户举报) with its acknowledgment, and the laws and
//! regulations page (相关法律法规, UI-2).

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use warden_app::App;
use warden_app::error::AppError;
use warden_domain::identity::Role;
use warden_domain::report::ReportRequest;
use warden_domain::taxonomy::{CATEGORIES, CategoryInfo};

use super::view::{Chrome, DoneQuery, Opt, describe, flash, redirect, render};
use super::{
    Access, FormData, LANG_COOKIE, Lang, Page, SESSION_COOKIE, SIGNED_IN, Viewer, set_cookie,
};

pub(super) fn pages() -> Vec<Page> {
    Vec::from([
        Page::get("/", Access::Public, get(home)),
        Page::get("/login", Access::Public, get(login_form)),
        Page::post("/login", Access::Public, post(login)),
        Page::post("/logout", Access::Public, post(logout)),
        Page::post("/lang", Access::Public, post(switch_lang)),
        Page::get("/account/password", SIGNED_IN, get(password_form)),
        Page::post("/account/password", SIGNED_IN, post(change_password)),
        Page::get("/report", Access::Public, get(report_form)),
        Page::post("/report", Access::Public, post(submit_report)),
        Page::get("/report/thanks", Access::Public, get(report_thanks)),
        Page::get("/laws", Access::Public, get(laws)),
    ])
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    c: Chrome,
}

async fn home(State(app): State<App>, Extension(v): Extension<Viewer>) -> Response {
    match v.role() {
        Some(Role::Tenant) => redirect("/console"),
        Some(Role::Admin | Role::Operator) => redirect("/staff"),
        Some(Role::Reviewer) => redirect("/staff/reviews"),
        Some(Role::SecurityTeam) => redirect("/staff/vulnerabilities"),
        _ => render(
            StatusCode::OK,
            &Home {
                c: Chrome::new(&app, &v, "/", "home.title"),
            },
        ),
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct Login {
    c: Chrome,
    next: String,
    login: String,
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    next: Option<String>,
    ended: Option<String>,
    done: Option<String>,
}

/// Only a local path: never `//evil.example` or `https://…` (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.contains(['\r', '\n']) =>
        {
            n.to_string()
        }
        _ => String::new(),
    }
}

async fn login_form(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<LoginQuery>,
) -> Response {
    let mut c = Chrome::new(&app, &v, "/login", "login.title");
    if q.ended.is_some() {
        c.flash = Some(c.t("login.ended"));
    }
    if let Some(f) = flash(v.lang, q.done.as_deref()) {
        c.flash = Some(f);
    }
    render(
        StatusCode::OK,
        &Login {
            c,
            next: safe_next(q.next.as_deref()),
            login: String::new(),
        },
    )
}

async fn login(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
) -> Response {
    let login = form.get("login").unwrap_or_default();
    let password = form
        .0
        .iter()
        .find(|(k, _)| k == "password")
        .map(|(_, p)| p.clone());
    let next = safe_next(form.get("next").as_deref());
    match app
        .sign_in(&v.ip, &login, password.as_deref().unwrap_or_default())
        .await
    {
        Ok(s) => {
            let to = if s.user.must_change_password {
                "/account/password?done=must_change".to_string()
            } else if !next.is_empty() {
                next
            } else {
                "/".to_string()
            };
            let mut resp = redirect(&to);
            resp.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(&app, SESSION_COOKIE, &s.secret, None),
            );
            resp
        }
        Err(e) => {
            let (status, text) = describe(v.lang, &e);
            let status = match e {
                AppError::Refused {
                    code: "rate_limited",
                    ..
                } => StatusCode::TOO_MANY_REQUESTS,
                AppError::Refused { .. } => StatusCode::UNAUTHORIZED,
                _ => status,
            };
            let mut c = Chrome::new(&app, &v, "/login", "login.title");
            c.error = Some(text);
            render(status, &Login { c, next, login })
        }
    }
}

async fn logout(
    State(app): State<App>,
    Extension(_v): Extension<Viewer>,
    headers: axum::http::HeaderMap,
) -> Response {
    if let Some(secret) = super::cookie(&headers, SESSION_COOKIE)
        && let Err(e) = app.sign_out(secret).await
    {
        return super::view::error_page(_v.lang, &e, None);
    }
    let mut resp = redirect("/login?done=signed_out");
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&app, SESSION_COOKIE, "", Some(0)),
    );
    resp
}

async fn switch_lang(State(app): State<App>, Extension(form): Extension<FormData>) -> Response {
    let lang = form
        .get("lang")
        .as_deref()
        .and_then(Lang::from_tag)
        .unwrap_or(Lang::En);
    let back = safe_next(form.get("back").as_deref());
    let mut resp = redirect(if back.is_empty() { "/" } else { &back });
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&app, LANG_COOKIE, lang.tag(), Some(365 * 86_400)),
    );
    resp
}

#[derive(Template)]
#[template(path = "password.html")]
struct Password {
    c: Chrome,
}

async fn password_form(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let mut c = Chrome::new(&app, &v, "/account/password", "password.title");
    c.flash = flash(v.lang, q.done.as_deref());
    render(StatusCode::OK, &Password { c })
}

async fn change_password(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
) -> Response {
    let raw = |k: &str| {
        form.0
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, p)| p.clone())
            .unwrap_or_default()
    };
    let Some(me) = &v.signed else {
        return redirect("/login");
    };
    let (current, new, again) = (
        raw("current_password"),
        raw("new_password"),
        raw("new_password_again"),
    );
    let result = if new != again {
        Err(AppError::Invalid(
            warden_domain::resource::InvalidInput::new(
                "new_password_again",
                v.t("password.mismatch"),
            ),
        ))
    } else {
        app.change_password(me, &current, &new).await
    };
    match result {
        Ok(()) => redirect("/account/password?done=password_changed"),
        Err(e) => {
            let (status, text) = describe(v.lang, &e);
            let mut c = Chrome::new(&app, &v, "/account/password", "password.title");
            c.error = Some(text);
            render(status, &Password { c })
        }
    }
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportForm {
    c: Chrome,
    categories: Vec<Opt>,
    target: String,
    description: String,
}

fn category_options(lang: Lang, current: &str) -> Vec<Opt> {
    Opt::list(
        CATEGORIES.iter().map(|i: &CategoryInfo| {
            (
                i.category.code().to_string(),
                match lang {
                    Lang::Zh => i.label_zh.to_string(),
                    Lang::En => i.label_en.to_string(),
                },
            )
        }),
        current,
    )
}

async fn report_form(State(app): State<App>, Extension(v): Extension<Viewer>) -> Response {
    render(
        StatusCode::OK,
        &ReportForm {
            c: Chrome::new(&app, &v, "/report", "report.title"),
            categories: category_options(v.lang, ""),
            target: String::new(),
            description: String::new(),
        },
    )
}

async fn submit_report(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
) -> Response {
    // The honeypot: a field people never see and bots fill. Answer as if accepted, store
    // nothing.
    if form.get("website").is_some() {
        return redirect("/report/thanks?id=received");
    }
    let target = form.get("target").unwrap_or_default();
    let category = form.get("category").unwrap_or_default();
    let description = form.get("description").unwrap_or_default();
    let req = ReportRequest {
        target: Some(target.clone()),
        category: Some(category.clone()),
        description: Some(description.clone()),
        reporter_contact: form.get("contact"),
        ..Default::default()
    };
    // Reports filed from the console are public reports, whoever is signed in.
    let who = warden_app::auth::Principal::Anonymous { ip: v.ip.clone() };
    match app.submit_report(&who, req).await {
        Ok(r) => redirect(&format!(
            "/report/thanks?id={}",
            super::view::urlencode(&r.report_id)
        )),
        Err(e) => {
            let (status, text) = describe(v.lang, &e);
            let mut c = Chrome::new(&app, &v, "/report", "report.title");
            c.error = Some(text);
            render(
                status,
                &ReportForm {
                    c,
                    categories: category_options(v.lang, &category),
                    target,
                    description,
                },
            )
        }
    }
}

#[derive(Template)]
#[template(path = "report_thanks.html")]
struct ReportThanks {
    c: Chrome,
    id: String,
}

#[derive(Debug, Deserialize)]
struct IdQuery {
    id: Option<String>,
}

async fn report_thanks(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<IdQuery>,
) -> Response {
    let id: String =
        q.id.unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
    render(
        StatusCode::OK,
        &ReportThanks {
            c: Chrome::new(&app, &v, "/report/thanks", "thanks.title"),
            id,
        },
    )
}

#[derive(Template)]
#[template(path = "laws.html")]
struct Laws {
    c: Chrome,
    laws: Vec<String>,
    categories: Vec<(String, &'static str, &'static [&'static str])>,
}

async fn laws(State(app): State<App>, Extension(v): Extension<Viewer>) -> Response {
    let mut laws: Vec<String> = Vec::new();
    for i in CATEGORIES {
        for l in i.legal_refs {
            if !laws.iter().any(|x| x == l) {
                laws.push((*l).to_string());
            }
        }
    }
    let c = Chrome::new(&app, &v, "/laws", "laws.title");
    let categories = CATEGORIES
        .iter()
        .map(|i| {
            (
                c.category(i.category.code()),
                i.category.code(),
                i.legal_refs,
            )
        })
        .collect();
    render(
        StatusCode::OK,
        &Laws {
            c,
            laws,
            categories,
        },
    )
}

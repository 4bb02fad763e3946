//! The browser console (UI-1, UI-2): server-rendered pages for tenants, staff and the public.
//!
//! A page is one askama template (`templates/`), one handler and one entry in [`pages`]: the
//! entry names the path, the method and who may use it, and the one layer in this module does
//! the rest for every page alike — it resolves the session cookie, picks the language, refuses a
//! form posted without its CSRF token before any handler runs (so no form can forget), sends
//! people who are not signed in to the sign-in page, refuses roles the entry does not list, and
//! sets the security headers. Handlers then call the same use cases as the JSON API, with the
//! signed-in user as the principal, so the tenant scope and the role checks of `warden-app`
//! apply to every page too.
//!
//! Every page works without JavaScript: forms post and redirect (303) to a page that says what
//! happened. The little script in `assets/console.js` only ticks countdowns, toggles
//! checkboxes and re-fetches the traffic chart of an IP page (same origin, as the CSP allows).

mod assessments;
mod chart;
mod ddos;
pub mod i18n;
mod ops;
mod public;
mod registry;
mod staff;
mod tenant;
mod view;
mod vulnerabilities;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use warden_app::App;
use warden_app::auth::Principal;
use warden_app::error::AppError;
use warden_app::people::{NoSession, SignedIn};
use warden_domain::identity::Role;

pub use i18n::Lang;

/// The session cookie.
pub const SESSION_COOKIE: &str = "wdn_session";
/// The pre-session cookie: the CSRF secret of forms used before sign-in.
pub const PRE_COOKIE: &str = "wdn_pre";
/// The remembered language.
pub const LANG_COOKIE: &str = "wdn_lang";
/// Largest form body.
pub const MAX_FORM: usize = 1024 * 1024;

/// Who may use a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Signed-in users of these roles.
    Roles(&'static [Role]),
}

/// Provider staff who work cases.
pub const STAFF: Access = Access::Roles(&[Role::Admin, Role::Operator, Role::Reviewer]);
/// Staff who triage and enforce.
pub const OPERATORS: Access = Access::Roles(&[Role::Admin, Role::Operator]);
/// Staff who decide manual unblock requests (the use case refuses operators).
pub const REVIEWERS: Access = Access::Roles(&[Role::Admin, Role::Reviewer]);
/// Tenant users.
pub const TENANTS: Access = Access::Roles(&[Role::Tenant]);
/// Anyone signed in.
pub const SIGNED_IN: Access = Access::Roles(&[
    Role::Admin,
    Role::Operator,
    Role::Reviewer,
    Role::Auditor,
    Role::Tenant,
    Role::SecurityTeam,
]);

/// One console page: path, method, who may use it, handler.
#[derive(Debug)]
pub struct Page {
    /// The path (axum syntax).
    pub path: &'static str,
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Who may use it.
    pub access: Access,
    handler: MethodRouter<App>,
}

impl Page {
    fn get(path: &'static str, access: Access, h: MethodRouter<App>) -> Page {
        Page {
            path,
            method: "GET",
            access,
            handler: h,
        }
    }
    fn post(path: &'static str, access: Access, h: MethodRouter<App>) -> Page {
        Page {
            path,
            method: "POST",
            access,
            handler: h,
        }
    }
}

/// Every console page.
pub fn pages() -> Vec<Page> {
    [
        public::pages(),
        tenant::pages(),
        staff::pages(),
        ddos::pages(),
        registry::pages(),
        ops::pages(),
        vulnerabilities::pages(),
        assessments::pages(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn find(method: &Method, path: &str) -> Option<Access> {
    static TABLE: std::sync::OnceLock<Vec<(&'static str, &'static str, Access)>> =
        std::sync::OnceLock::new();
    TABLE
        .get_or_init(|| {
            pages()
                .into_iter()
                .map(|p| (p.method, p.path, p.access))
                .collect()
        })
        .iter()
        .find(|(m, p, _)| *m == method.as_str() && *p == path)
        .map(|(_, _, a)| *a)
}

/// The console router (merged beside the API by [`crate::router`]).
pub fn router(app: App) -> Router<App> {
    let mut by_path: Vec<(&'static str, MethodRouter<App>)> = Vec::new();
    for p in pages() {
        if let Some((_, mr)) = by_path.iter_mut().find(|(path, _)| *path == p.path) {
            let merged = std::mem::take(mr).merge(p.handler);
            *mr = merged;
        } else {
            by_path.push((p.path, p.handler));
        }
    }
    let mut r = Router::new();
    for (path, mr) in by_path {
        r = r.route(path, mr);
    }
    r.route("/assets/console.css", axum::routing::get(css))
        .route("/assets/console.js", axum::routing::get(js))
        .route_layer(axum::middleware::from_fn_with_state(app, layer))
}

async fn css() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("assets/console.css"),
    )
}

async fn js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/console.js"),
    )
}

fn asset(ct: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, ct),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// Who is looking at a page, in which language, with which CSRF token.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The signed-in user, if any.
    pub signed: Option<SignedIn>,
    /// The page language.
    pub lang: Lang,
    /// The CSRF token every form of this page carries.
    pub csrf: String,
    /// The client's address (rate limits).
    pub ip: String,
    /// Why the presented session cookie did not open a session.
    pub ended: Option<NoSession>,
}

impl Viewer {
    /// The principal use cases see.
    pub fn principal(&self) -> Principal {
        match &self.signed {
            Some(s) => s.principal.clone(),
            None => Principal::Anonymous {
                ip: self.ip.clone(),
            },
        }
    }

    /// The signed-in user's role.
    pub fn role(&self) -> Option<Role> {
        self.signed.as_ref().map(|s| s.user.role)
    }

    /// The catalogue of the page language.
    pub fn t(&self, key: &str) -> String {
        self.lang.catalog().get(key)
    }
}

/// A form's fields, parsed (and its CSRF token checked) by the layer.
#[derive(Debug, Clone, Default)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    /// The first value of `name`, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// Whether the box `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty() && v.len() <= 200)
}

/// A `Set-Cookie` value with the console's flags (`HttpOnly`, `SameSite=Lax`, `Path=/`, and
/// `Secure` unless turned off for plain-HTTP local use).
pub fn set_cookie(app: &App, name: &str, value: &str, max_age_s: Option<i64>) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if app.settings.sessions.secure_cookies {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age_s {
        c.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("x=; Path=/"))
}

/// The one layer every console page passes (see the module doc).
async fn layer(State(app): State<App>, req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    if path.starts_with("/assets/") {
        return next.run(req).await;
    }
    let Some(access) = find(req.method(), &path) else {
        return next.run(req).await;
    };
    let headers = req.headers().clone();
    let ip = crate::client_ip(&app, &req);
    let lang = cookie(&headers, LANG_COOKIE)
        .and_then(Lang::from_tag)
        .unwrap_or_else(|| {
            Lang::from_accept(
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default(),
            )
        });
    let mut ended = None;
    let mut signed = None;
    let session_secret = cookie(&headers, SESSION_COOKIE).map(str::to_string);
    if let Some(secret) = &session_secret {
        match app.session(secret).await {
            Ok(Ok(s)) => signed = Some(s),
            Ok(Err(why)) => ended = Some(why),
            Err(e) => return view::error_page(lang, &e, None),
        }
    }
    let mut new_pre = None;
    let csrf_secret = match (&signed, &session_secret) {
        (Some(_), Some(secret)) => secret.clone(),
        _ => match cookie(&headers, PRE_COOKIE) {
            Some(p) => p.to_string(),
            None => match app.new_presession() {
                Ok(p) => {
                    new_pre = Some(p.clone());
                    p
                }
                Err(e) => return view::error_page(lang, &e, None),
            },
        },
    };
    let viewer = Viewer {
        signed,
        lang,
        csrf: app.csrf_token(&csrf_secret),
        ip,
        ended,
    };
    // Access: people who are not signed in go to the sign-in page, wrong roles get a 403.
    if let Access::Roles(roles) = access {
        match viewer.role() {
            None => {
                let next_path = req
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str().to_string())
                    .filter(|_| req.method() == Method::GET)
                    .unwrap_or_else(|| "/console".into());
                let mut to = format!("/login?next={}", view::urlencode(&next_path));
                if viewer.ended.is_some() {
                    to.push_str("&ended=1");
                }
                let mut resp = view::redirect(&to);
                finish(
                    &app,
                    &mut resp,
                    &viewer,
                    new_pre.as_deref(),
                    ended.is_some(),
                );
                return resp;
            }
            Some(r) if !roles.contains(&r) => {
                let mut resp =
                    view::error_page(lang, &AppError::Forbidden("open this page"), Some(&viewer));
                finish(&app, &mut resp, &viewer, new_pre.as_deref(), false);
                return resp;
            }
            Some(_) => {}
        }
    }
    // A password someone else set is changed before anything else is done.
    if viewer
        .signed
        .as_ref()
        .is_some_and(|s| s.user.must_change_password)
        && !matches!(path.as_str(), "/account/password" | "/logout" | "/lang")
    {
        let mut resp = view::redirect("/account/password?done=must_change");
        finish(&app, &mut resp, &viewer, new_pre.as_deref(), false);
        return resp;
    }
    let (mut parts, body) = req.into_parts();
    let mut form = FormData::default();
    let body = if parts.method == Method::POST {
        let bytes: Bytes = match axum::body::to_bytes(body, MAX_FORM).await {
            Ok(b) => b,
            Err(_) => {
                return view::error_page(
                    lang,
                    &AppError::Invalid(warden_domain::resource::InvalidInput::new(
                        "form",
                        "is larger than 1 MiB",
                    )),
                    Some(&viewer),
                );
            }
        };
        form = FormData(
            form_urlencoded::parse(&bytes)
                .take(10_000)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        );
        let token = form.get("csrf").unwrap_or_default();
        if !app.csrf_ok(&csrf_secret, &token) {
            let mut resp = view::csrf_refused(&viewer);
            finish(&app, &mut resp, &viewer, new_pre.as_deref(), false);
            return resp;
        }
        Body::from(bytes)
    } else {
        body
    };
    parts.extensions.insert(form);
    parts.extensions.insert(viewer.clone());
    let mut resp = next.run(Request::from_parts(parts, body)).await;
    finish(
        &app,
        &mut resp,
        &viewer,
        new_pre.as_deref(),
        ended.is_some(),
    );
    resp
}

fn finish(app: &App, resp: &mut Response, viewer: &Viewer, new_pre: Option<&str>, clear: bool) {
    let h = resp.headers_mut();
    if let Some(p) = new_pre {
        h.append(header::SET_COOKIE, set_cookie(app, PRE_COOKIE, p, None));
    }
    if clear {
        h.append(
            header::SET_COOKIE,
            set_cookie(app, SESSION_COOKIE, "", Some(0)),
        );
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if viewer.signed.is_some() {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    h.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(viewer.lang.tag()),
    );
    h.append(
        header::VARY,
        HeaderValue::from_static("Cookie, Accept-Language"),
    );
}

#[derive(askama::Template)]
#[template(path = "notice451.html")]
struct Notice451<'a> {
    lang: Lang,
    t: &'static i18n::Catalog,
    css: &'static str,
    case_id: &'a str,
    reason: String,
}

impl Notice451<'_> {
    fn t(&self, key: &str) -> String {
        self.t.get(key)
    }
}

/// The HTTP 451 page (RFC 7725) in the console's look, self-contained (its style inline): nginx
/// serves it on the blocked site's own host, where the console's assets are not. It names the
/// case and its category only for a case in force (`case`); any other id gets the page of an
/// unknown case.
pub fn notice_451(lang: Lang, case: Option<(&str, warden_domain::taxonomy::Category)>) -> String {
    use askama::Template as _;
    let t = lang.catalog();
    let label = case.map_or_else(
        || t.get("notice.unknown_reason"),
        |(_, c)| match lang {
            Lang::Zh => c.info().label_zh.to_string(),
            Lang::En => c.info().label_en.to_string(),
        },
    );
    let page = Notice451 {
        lang,
        t,
        css: include_str!("assets/console.css"),
        case_id: case.map_or("-", |(id, _)| id),
        reason: t.fmt("notice.reason", &[("category", &label)]),
    };
    page.render().unwrap_or_else(|_| {
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>451</title></head><body><h1>451</h1></body></html>".into()
    })
}

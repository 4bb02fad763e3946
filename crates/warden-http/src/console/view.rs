//! What every page shares: the frame around it ([`Chrome`]), rendering, redirects, error pages,
//! and the words for the domain's codes (states, levels, actions, categories).

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use warden_app::App;
use warden_app::error::AppError;
use warden_domain::identity::Role;
use warden_domain::penalty::Action;
use warden_domain::time::{Timestamp, civil_from_days};
use warden_domain::why::Why;

use super::{Lang, Viewer};

/// A time in ms, however many references deep a template holds it.
pub trait Millis {
    /// The value.
    fn ms(&self) -> i64;
}

impl Millis for i64 {
    fn ms(&self) -> i64 {
        *self
    }
}

impl Millis for Timestamp {
    fn ms(&self) -> i64 {
        self.millis()
    }
}

impl<T: Millis + ?Sized> Millis for &T {
    fn ms(&self) -> i64 {
        (**self).ms()
    }
}

/// A rate in bps, however many references deep a template holds it.
pub trait Bps {
    /// The value.
    fn bps(&self) -> u64;
}

impl Bps for u64 {
    fn bps(&self) -> u64 {
        *self
    }
}

impl<T: Bps + ?Sized> Bps for &T {
    fn bps(&self) -> u64 {
        (**self).bps()
    }
}

/// An option of a `<select>`.
#[derive(Debug, Clone)]
pub struct Opt {
    /// Its value.
    pub value: String,
    /// Its words.
    pub label: String,
    /// Selected now.
    pub selected: bool,
}

impl Opt {
    /// Options from (value, label) pairs, `current` selected.
    pub fn list(items: impl IntoIterator<Item = (String, String)>, current: &str) -> Vec<Opt> {
        items
            .into_iter()
            .map(|(value, label)| Opt {
                selected: value == current,
                value,
                label,
            })
            .collect()
    }
}

/// A link of the navigation bar.
#[derive(Debug, Clone)]
pub struct NavItem {
    /// Where.
    pub href: &'static str,
    /// Its words.
    pub label: String,
    /// The current page is under it.
    pub current: bool,
}

/// The frame of every page: language, navigation, who is signed in, the CSRF token, a message.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The page language.
    pub lang: Lang,
    /// The page title (already in the page language).
    pub title: String,
    /// Navigation.
    pub nav: Vec<NavItem>,
    /// The signed-in login.
    pub login: Option<String>,
    /// The CSRF token of this page's forms.
    pub csrf: String,
    /// A message to show at the top (what just happened).
    pub flash: Option<String>,
    /// An error to show at the top (why the form was refused; nothing changed).
    pub error: Option<String>,
    /// The path of this page (language switch returns here).
    pub path: String,
    /// The provider's time zone, named on SLA clocks (`UTC+08:00`).
    pub zone: String,
}

impl Chrome {
    /// The frame for `viewer` on `path` with the title of catalogue key `title_key`.
    pub fn new(app: &App, viewer: &Viewer, path: &str, title_key: &str) -> Chrome {
        let t = viewer.lang.catalog();
        let mut nav: Vec<(&'static str, &'static str)> = Vec::new();
        match viewer.role() {
            Some(Role::Tenant) => nav.extend([
                ("/console", "nav.dashboard"),
                ("/console/cases", "nav.cases"),
                ("/console/inbox", "nav.inbox"),
                ("/console/tickets", "nav.tickets"),
                ("/console/resources", "nav.resources"),
                ("/console/ips", "nav.ips"),
                ("/console/assessments", "nav.assessments"),
            ]),
            Some(Role::Admin | Role::Operator) => nav.extend([
                ("/staff", "nav.triage"),
                ("/staff/cases", "nav.cases"),
                ("/staff/reviews", "nav.reviews"),
                ("/staff/assessments", "nav.assessment_plans"),
                ("/staff/regulator", "nav.regulator"),
                ("/staff/accounts", "nav.accounts"),
                ("/staff/deliveries", "nav.deliveries"),
                ("/staff/blackholes", "nav.blackholes"),
                ("/staff/dashboard", "nav.handling"),
                ("/staff/policy", "nav.policy"),
            ]),
            Some(Role::Reviewer) => nav.extend([
                ("/staff/cases", "nav.cases"),
                ("/staff/reviews", "nav.reviews"),
                ("/staff/assessments", "nav.assessment_plans"),
                ("/staff/accounts", "nav.accounts"),
                ("/staff/blackholes", "nav.blackholes"),
                ("/staff/dashboard", "nav.handling"),
                ("/staff/policy", "nav.policy"),
            ]),
            // Auditors read the audit log and its exports, nothing else (SPEC §1).
            Some(Role::Auditor) => nav.push(("/staff/audit", "nav.audit")),
            // The security team reads the confidential vulnerability reports, nothing
            // tenant-visible (SPEC §1, ASMT-4).
            Some(Role::SecurityTeam) => nav.push(("/staff/vulnerabilities", "nav.vulnerabilities")),
            Some(Role::Detector | Role::Edge) | None => {}
        }
        let manages_users = viewer.role() == Some(Role::Admin)
            || viewer.signed.as_ref().is_some_and(|s| s.user.account_owner);
        if manages_users {
            nav.push(("/users", "nav.users"));
        }
        if viewer.role() == Some(Role::Admin) {
            nav.push(("/staff/audit", "nav.audit"));
            nav.push(("/staff/vulnerabilities", "nav.vulnerabilities"));
        }
        if viewer.role() == Some(Role::Tenant) {
            nav.push(("/console/vulnerabilities", "nav.my_vulnerabilities"));
        }
        nav.extend([
            ("/report", "nav.report"),
            ("/vulnerability", "nav.vulnerability"),
            ("/laws", "nav.laws"),
        ]);
        let nav = nav
            .into_iter()
            .map(|(href, key)| NavItem {
                href,
                label: t.get(key),
                current: path == href
                    || (href != "/console" && href != "/staff" && path.starts_with(href)),
            })
            .collect();
        Chrome {
            lang: viewer.lang,
            title: t.get(title_key),
            nav,
            login: viewer.signed.as_ref().map(|s| s.user.login.clone()),
            csrf: viewer.csrf.clone(),
            flash: None,
            error: None,
            path: path.to_string(),
            zone: zone_name(app.lifecycle.calendar.utc_offset_minutes()),
        }
    }

    /// The text of catalogue key `key`.
    pub fn t(&self, key: &str) -> String {
        self.lang.catalog().get(key)
    }

    /// The text of `key` with placeholders filled.
    pub fn f(&self, key: &str, args: &[(&str, &str)]) -> String {
        self.lang.catalog().fmt(key, args)
    }

    /// The words for a code under `prefix` (`state.enforced`), or the code itself where the
    /// catalogue has none (data the catalogue cannot know, such as a custom product).
    pub fn code(&self, prefix: &str, code: &str) -> String {
        let key = format!("{prefix}.{code}");
        let c = self.lang.catalog();
        if c.has(&key) {
            c.get(&key)
        } else {
            code.to_string()
        }
    }

    /// A reason in codes in the page language: the catalogue's `{prefix}.{code}` (`why.…` for a
    /// state change, `grade.…` for a level reason) with its facts in the page's words — action,
    /// level and category codes by their names, a time in the provider's zone, and what a
    /// person typed as written. An unknown code shows as itself, like [`Chrome::code`].
    pub fn why(&self, prefix: &str, why: &Why) -> String {
        let key = format!("{prefix}.{}", why.code);
        let c = self.lang.catalog();
        if !c.has(&key) {
            return why.code.clone();
        }
        let sep = if self.zh() { "、" } else { ", " };
        let actions = |v: &str| {
            v.split(',')
                .filter(|a| !a.is_empty())
                .map(|a| match Action::parse(a) {
                    Ok(a) if self.zh() => a.label_zh().to_string(),
                    Ok(a) => a.label_en().to_string(),
                    Err(_) => a.to_string(),
                })
                .collect::<Vec<_>>()
                .join(sep)
        };
        let shown: Vec<(&str, String)> = why
            .args
            .iter()
            .map(|(name, v)| {
                let v = match name.as_str() {
                    "actions" | "stay" => actions(v),
                    "level" | "from" | "to" | "min" => self.code("level", v),
                    "category" => self.category(v),
                    "at" => Timestamp::parse_rfc3339(v)
                        .map(|t| self.time(t.millis()))
                        .unwrap_or_else(|_| v.clone()),
                    "urls" => v.lines().collect::<Vec<_>>().join(sep),
                    // Rates (the blackhole's reasons, DDOS-3..5) in SI units.
                    "bps" | "peak_bps" | "capacity_bps" => v
                        .parse::<u64>()
                        .map(super::chart::rate)
                        .unwrap_or_else(|_| v.clone()),
                    _ => v.clone(),
                };
                (name.as_str(), v)
            })
            .collect();
        let args: Vec<(&str, &str)> = shown.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut text = c.fmt(&key, &args);
        if let Some((_, stay)) = shown.iter().find(|(k, _)| *k == "stay") {
            text.push_str(&self.f("why.stay", &[("actions", stay)]));
        }
        text
    }

    /// A category's label in the page language.
    pub fn category(&self, code: &str) -> String {
        match warden_domain::taxonomy::Category::parse(code) {
            Ok(c) => match self.lang {
                Lang::Zh => c.info().label_zh.to_string(),
                Lang::En => c.info().label_en.to_string(),
            },
            Err(_) => code.to_string(),
        }
    }

    /// A time as `2026-01-05 09:00` in the provider's zone; the page script rewrites it into
    /// the viewer's own zone.
    pub fn time(&self, ms: impl Millis) -> String {
        local_time(ms.ms(), &self.zone)
    }

    /// An RFC 3339 instant (as history entries carry them) like [`Chrome::time`].
    pub fn stamp(&self, rfc3339: &str) -> String {
        Timestamp::parse_rfc3339(rfc3339)
            .map(|t| self.time(t.millis()))
            .unwrap_or_else(|_| rfc3339.to_string())
    }

    /// RFC 3339 for a `datetime` attribute.
    pub fn iso(&self, ms: impl Millis) -> String {
        Timestamp(ms.ms()).to_rfc3339()
    }

    /// "Times in UTC+08:00" for the footer.
    pub fn zone_note(&self) -> String {
        self.f("app.zone", &[("zone", &self.zone)])
    }

    /// The text of `key` with `{n}` filled.
    pub fn count(&self, key: &str, n: impl std::fmt::Display) -> String {
        self.f(key, &[("n", &n.to_string())])
    }

    /// Time left until `at` from `now`, in words (`2 d 3 h`), or that it has passed.
    pub fn until(&self, at: impl Millis, now: impl Millis) -> String {
        let left = at.ms() - now.ms();
        if left <= 0 {
            return self.t("deadline.passed");
        }
        let min = left / 60_000;
        let (d, h, m) = (min / 1440, (min / 60) % 24, min % 60);
        self.f(
            "deadline.left",
            &[
                ("d", &d.to_string()),
                ("h", &h.to_string()),
                ("m", &m.to_string()),
            ],
        )
    }

    /// Minutes as hours with one decimal (`1.5`).
    pub fn hours(&self, min: impl Millis) -> String {
        format!("{:.1}", min.ms() as f64 / 60.0)
    }

    /// A rate in SI units (`2.5 Gbps`).
    pub fn rate(&self, bps: impl Bps) -> String {
        super::chart::rate(bps.bps())
    }

    /// Whether the page is in Chinese.
    pub fn zh(&self) -> bool {
        self.lang == Lang::Zh
    }

    /// Working time left, in words (`3 h 20 min`), or overdue.
    pub fn left(&self, ms: impl Millis) -> String {
        let ms = ms.ms();
        if ms <= 0 {
            return self.t("sla.overdue");
        }
        let min = ms / 60_000;
        self.f(
            "sla.left",
            &[
                ("h", &(min / 60).to_string()),
                ("m", &(min % 60).to_string()),
            ],
        )
    }
}

/// `UTC+08:00`.
pub fn zone_name(offset_min: i32) -> String {
    let sign = if offset_min < 0 { '-' } else { '+' };
    let m = offset_min.unsigned_abs();
    format!("UTC{sign}{:02}:{:02}", m / 60, m % 60)
}

/// A time in the zone named `zone` (as [`zone_name`] writes it).
pub fn local_time(ms: i64, zone: &str) -> String {
    let offset = parse_zone(zone);
    let t = ms + i64::from(offset) * 60_000;
    let days = t.div_euclid(86_400_000);
    let rem = t.rem_euclid(86_400_000);
    let (y, mo, d) = civil_from_days(days);
    format!(
        "{y:04}-{mo:02}-{d:02} {:02}:{:02} {zone}",
        rem / 3_600_000,
        (rem / 60_000) % 60
    )
}

fn parse_zone(zone: &str) -> i32 {
    let Some(rest) = zone.strip_prefix("UTC") else {
        return 0;
    };
    let neg = rest.starts_with('-');
    let digits: Vec<i32> = rest
        .trim_start_matches(['+', '-'])
        .split(':')
        .filter_map(|p| p.parse().ok())
        .collect();
    let v = digits.first().copied().unwrap_or(0) * 60 + digits.get(1).copied().unwrap_or(0);
    if neg { -v } else { v }
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A 303 to `to` (after a form: the browser then GETs the page that says what happened).
pub fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}

/// Renders a template as an HTML page with `status`.
pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            let id = warden_store::new_id("err", 0);
            tracing::error!(error_id = %id, error = %e, "console template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html(format!(
                    "<!doctype html><html><head><meta charset=\"utf-8\"><title>Error</title></head><body><p>Internal error {id}</p></body></html>"
                )),
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    c: Chrome,
    detail: String,
    status: u16,
}

/// The status and the words for a use-case error, in `lang`; internal causes are logged with
/// an id and never shown.
pub fn describe(lang: Lang, e: &AppError) -> (StatusCode, String) {
    let t = lang.catalog();
    match e {
        AppError::NotFound(what) => (
            StatusCode::NOT_FOUND,
            t.fmt(
                "error.not_found",
                &[("what", &t.get(&format!("what.{what}")))],
            ),
        ),
        AppError::Forbidden(_) => (StatusCode::FORBIDDEN, t.get("error.forbidden")),
        AppError::Unauthenticated => (StatusCode::UNAUTHORIZED, t.get("error.sign_in")),
        AppError::Invalid(i) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            t.fmt(
                "error.invalid",
                &[("field", &i.field), ("reason", &i.reason)],
            ),
        ),
        AppError::Refused { code, message } => {
            let key = format!("refused.{code}");
            let text = if t.has(&key) {
                t.get(&key)
            } else {
                message.clone()
            };
            (StatusCode::CONFLICT, text)
        }
        AppError::RateLimited => (StatusCode::TOO_MANY_REQUESTS, t.get("error.rate_limited")),
        AppError::Conflict(m) => (StatusCode::CONFLICT, m.clone()),
        AppError::Unreachable(m) => (StatusCode::BAD_GATEWAY, m.clone()),
        AppError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, t.get("error.unavailable")),
        AppError::Xarf(x) => (StatusCode::UNPROCESSABLE_ENTITY, x.to_string()),
        AppError::Mail(m) => (StatusCode::UNPROCESSABLE_ENTITY, m.to_string()),
        // ASMT-1/3: the targets, in the page's language.
        AppError::OutOfScope {
            foreign,
            infrastructure,
            ..
        } => {
            let mut parts = Vec::new();
            if !foreign.is_empty() {
                parts.push(t.fmt("asm_refused.foreign", &[("targets", &foreign.join(", "))]));
            }
            if !infrastructure.is_empty() {
                parts.push(t.fmt(
                    "asm_refused.infrastructure",
                    &[("targets", &infrastructure.join(", "))],
                ));
            }
            (StatusCode::UNPROCESSABLE_ENTITY, parts.join(" "))
        }
        AppError::Store(_) | AppError::Crypto(_) | AppError::Internal(_) => {
            let id = warden_store::new_id("err", 0);
            tracing::error!(error_id = %id, error = %e, "console request failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                t.fmt("error.internal", &[("id", &id)]),
            )
        }
    }
}

/// An error page for `e`.
pub fn error_page(lang: Lang, e: &AppError, viewer: Option<&Viewer>) -> Response {
    let (status, detail) = describe(lang, e);
    let c = match viewer {
        Some(v) => Chrome {
            lang,
            title: lang.catalog().get("error.title"),
            nav: Vec::new(),
            login: v.signed.as_ref().map(|s| s.user.login.clone()),
            csrf: v.csrf.clone(),
            flash: None,
            error: None,
            path: "/".into(),
            zone: String::new(),
        },
        None => Chrome {
            lang,
            title: lang.catalog().get("error.title"),
            nav: Vec::new(),
            login: None,
            csrf: String::new(),
            flash: None,
            error: None,
            path: "/".into(),
            zone: String::new(),
        },
    };
    render(
        status,
        &ErrorPage {
            c,
            detail,
            status: status.as_u16(),
        },
    )
}

/// The page for a form posted without a valid CSRF token: nothing was changed.
pub fn csrf_refused(viewer: &Viewer) -> Response {
    let lang = viewer.lang;
    let t = lang.catalog();
    let c = Chrome {
        lang,
        title: t.get("error.title"),
        nav: Vec::new(),
        login: viewer.signed.as_ref().map(|s| s.user.login.clone()),
        csrf: viewer.csrf.clone(),
        flash: None,
        error: None,
        path: "/".into(),
        zone: String::new(),
    };
    render(
        StatusCode::FORBIDDEN,
        &ErrorPage {
            c,
            detail: t.get("error.csrf"),
            status: 403,
        },
    )
}

/// The words of a `?done=` message: only keys the catalogue lists under `done.`, so a link
/// cannot make a page say anything else.
pub fn flash(lang: Lang, done: Option<&str>) -> Option<String> {
    let key = format!("done.{}", done?);
    let c = lang.catalog();
    c.has(&key).then(|| c.get(&key))
}

/// What both case pages show: the case, its penalties, reports and history.
#[derive(Debug)]
pub struct CaseData {
    /// The case.
    pub case: warden_store::reports::Case,
    /// Level, deadline, actions and unblock requests.
    pub pen: warden_app::lifecycle::Penalties,
    /// Its reports (what the viewer may see of them).
    pub reports: Vec<warden_app::triage::ReportView>,
    /// Its history.
    pub history: Vec<warden_app::triage::HistoryEntry>,
}

impl CaseData {
    /// Why the case is in its state now: the reason of the last change into it.
    pub fn state_why(&self) -> Option<Why> {
        let state = self.case.state.code();
        self.history
            .iter()
            .rev()
            .find(|h| h.to.as_deref() == Some(state))
            .and_then(|h| h.why.clone())
    }
}

/// Loads [`CaseData`] as `who` sees it (a foreign or missing id is `NotFound` alike).
pub async fn load_case(
    app: &App,
    who: &warden_app::auth::Principal,
    id: &str,
) -> Result<CaseData, AppError> {
    Ok(CaseData {
        case: app.get_case(who, id).await?,
        pen: app.case_penalties(who, id).await?,
        reports: app.case_reports(who, id).await?,
        history: app.case_history(who, id).await?,
    })
}

/// The `?done=` of the page a form redirected to.
#[derive(Debug, serde::Deserialize)]
pub struct DoneQuery {
    /// A `done.` catalogue key (see [`flash`]).
    pub done: Option<String>,
}

/// The words of a refused form, to show above the same page again (nothing changed); or, where
/// there is no page to show again (a missing or forbidden object), the error page itself.
pub fn refusal(v: &Viewer, e: &AppError) -> Result<(StatusCode, String), Box<Response>> {
    let (status, text) = describe(v.lang, e);
    if status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN {
        return Err(Box::new(error_page(v.lang, e, Some(v))));
    }
    Ok((status, text))
}

/// Bounded page size of lists.
pub const PAGE: i64 = 50;

/// Keyset paging (never an offset): `items` were fetched with one more than `size`; cuts them
/// to `size` and, when there was more, gives the key of the last one shown — the cursor of the
/// next page's link.
pub fn next_page<T, K>(items: &mut Vec<T>, size: i64, key: impl FnOnce(&T) -> K) -> Option<K> {
    let size = usize::try_from(size).unwrap_or(0);
    if items.len() <= size {
        return None;
    }
    items.truncate(size);
    items.last().map(key)
}

/// The query string of a list's filters (`k=v&...`, blank ones left out), for its next-page
/// link and the links that keep the filters.
pub fn query_string(pairs: &[(&str, Option<&str>)]) -> String {
    pairs
        .iter()
        .filter_map(|(k, v)| {
            v.filter(|v| !v.trim().is_empty())
                .map(|v| format!("{k}={}", urlencode(v)))
        })
        .collect::<Vec<_>>()
        .join("&")
}

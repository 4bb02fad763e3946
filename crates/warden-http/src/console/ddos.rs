//! The DDoS pages (UI-1; DDOS-5, DDOS-6): for tenants, their public IPs with protection,
//! capacity and any active blackhole, and per IP a traffic chart drawn on the server (refreshed
//! by the page script every few seconds, from the same SVG route), its blackholes with start,
//! planned end and reason in the page language, its attacks, the protection upgrade and the
//! self-service early release with the quota left; for staff, the active blackholes across
//! accounts with the operator release (a reason is mandatory) and the attack events.
//!
//! Every read and change goes through the use cases with the signed-in user as principal, so a
//! tenant opening another account's IP gets exactly what an unknown IP gets (404). Forms post
//! and redirect (303) to the IP's page, whose `?done=` says what happened; a refusal shows the
//! same page again with the reason on top, and nothing changed.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use warden_app::App;
use warden_app::ddos::{BlackholeView, MAX_RATE, ProtectionInput, ProtectionView, ReleaseInput};
use warden_app::ddos_read::{AttackQuery, AttackView, BlackholeLine, IpLine, TrafficChartData};
use warden_app::error::AppError;
use warden_domain::blackhole::{Protection, Quota, State as BhState};
use warden_domain::resource::InvalidInput;
use warden_domain::why::Why;
use warden_store::ddos::BlackholeFilter;

use super::chart::{self, Band, TrafficChart};
use super::view::{Chrome, PAGE, describe, error_page, flash, query_string, redirect, render};
use super::{FormData, OPERATORS, Page, STAFF, TENANTS, Viewer};

/// How often the IP page's script fetches the chart again, seconds.
const REFRESH_SECONDS: u32 = 10;

pub(super) fn pages() -> Vec<Page> {
    Vec::from([
        Page::get("/console/ips", TENANTS, get(ip_list)),
        Page::get("/console/ips/{ip}", TENANTS, get(ip_page)),
        Page::get("/console/ips/{ip}/traffic.svg", TENANTS, get(traffic_svg)),
        Page::post(
            "/console/ips/{ip}/protection",
            TENANTS,
            post(upgrade_protection),
        ),
        Page::post(
            "/console/blackholes/{id}/release",
            TENANTS,
            post(self_release),
        ),
        Page::get("/staff/blackholes", STAFF, get(staff_blackholes)),
        Page::post(
            "/staff/blackholes/{id}/release",
            OPERATORS,
            post(operator_release),
        ),
        Page::get("/staff/attacks", STAFF, get(staff_attacks)),
    ])
}

/// The words of a protection: basic, or high-defense with its capacity.
fn protection_words(c: &Chrome, p: &Protection) -> String {
    match p {
        Protection::Basic => c.t("ddos.basic"),
        Protection::HighDefense { capacity_bps } => c.f(
            "ddos.high_defense",
            &[("rate", &chart::rate(*capacity_bps))],
        ),
    }
}

/// A blackhole as a page row: its reasons in the page language.
#[derive(Debug)]
struct Line {
    b: BlackholeView,
    /// Why it started.
    reason: String,
    /// Why it was last extended or released, if it was.
    latest: Option<String>,
    /// Its state (and, once released, how) in words.
    state: String,
}

impl Line {
    fn of(c: &Chrome, l: BlackholeLine) -> Line {
        // Without its start event (it cannot go missing, but the page must not fail), the
        // facts of the row say the same.
        let started = l.started.unwrap_or_else(|| {
            Why::new("blackhole_started")
                .with("peak_bps", l.blackhole.peak_bps.to_string())
                .with("capacity_bps", l.blackhole.capacity_bps.to_string())
        });
        let state = match (l.blackhole.state, l.blackhole.released_by) {
            (BhState::Released, Some(k)) => c.code("bh_released_by", k.code()),
            (s, _) => c.code("bh_state", s.code()),
        };
        Line {
            reason: c.why("why", &started),
            latest: l.latest.map(|w| c.why("why", &w)),
            state,
            b: l.blackhole,
        }
    }

    fn active(&self) -> bool {
        self.b.state == BhState::Active
    }
}

#[derive(Template)]
#[template(path = "tenant/ips.html")]
struct IpList {
    c: Chrome,
    ips: Vec<(IpLine, String)>,
    quota: Option<Quota>,
}

async fn ip_list(State(app): State<App>, Extension(v): Extension<Viewer>) -> Response {
    let who = v.principal();
    let loaded = async {
        let ips = app.list_ips(&who).await?;
        let quota = app.release_quota(&who).await?;
        Ok::<_, AppError>((ips, quota))
    }
    .await;
    let (ips, quota) = match loaded {
        Ok(x) => x,
        Err(e) => return error_page(v.lang, &e, Some(&v)),
    };
    let c = Chrome::new(&app, &v, "/console/ips", "ips.title");
    let ips = ips
        .into_iter()
        .map(|l| {
            let words = protection_words(&c, &l.protection);
            (l, words)
        })
        .collect();
    render(StatusCode::OK, &IpList { c, ips, quota })
}

#[derive(Debug, Default, Deserialize)]
struct IpQuery {
    done: Option<String>,
    /// With `done=upgrade_short`: the shortfall, bps.
    short: Option<u64>,
    /// The blackholes' cursor: the last (oldest) blackhole of the previous page.
    before: Option<String>,
}

#[derive(Template)]
#[template(path = "tenant/ip.html")]
struct IpPage {
    c: Chrome,
    p: ProtectionView,
    protection: String,
    chart: String,
    chart_src: String,
    refresh: u32,
    lines: Vec<Line>,
    next: Option<String>,
    first: Option<String>,
    attacks: Vec<AttackRow>,
    quota: Option<Quota>,
    capacity_gbps: String,
}

/// An attack as a page row: its top protocols and sources in one line each.
#[derive(Debug)]
struct AttackRow {
    a: AttackView,
    protocols: String,
    sources: String,
}

impl AttackRow {
    fn of(a: AttackView) -> AttackRow {
        let protocols = a
            .top_protocols
            .iter()
            .map(|p| format!("{} ({})", protocol_name(p.protocol), bytes(p.bytes)))
            .collect::<Vec<_>>()
            .join(", ");
        let sources = a
            .top_sources
            .iter()
            .map(|s| format!("{} ({})", s.ip, bytes(s.bytes)))
            .collect::<Vec<_>>()
            .join(", ");
        AttackRow {
            a,
            protocols,
            sources,
        }
    }
}

/// Bytes in SI units (`1.5 GB`).
fn bytes(n: u64) -> String {
    let (v, unit) = match n {
        1_000_000_000_000.. => (n as f64 / 1e12, "TB"),
        1_000_000_000.. => (n as f64 / 1e9, "GB"),
        1_000_000.. => (n as f64 / 1e6, "MB"),
        1_000.. => (n as f64 / 1e3, "kB"),
        _ => return format!("{n} B"),
    };
    let text = format!("{v:.2}");
    format!(
        "{} {unit}",
        text.trim_end_matches('0').trim_end_matches('.')
    )
}

/// An IANA protocol number by its usual name.
fn protocol_name(n: u8) -> String {
    match n {
        1 => "ICMP".into(),
        6 => "TCP".into(),
        17 => "UDP".into(),
        47 => "GRE".into(),
        50 => "ESP".into(),
        58 => "ICMPv6".into(),
        n => format!("#{n}"),
    }
}

/// The SVG of an IP's traffic chart in the page language.
fn chart_of(c: &Chrome, d: &TrafficChartData, offset_min: i32) -> String {
    let points: Vec<(i64, u64)> = d
        .traffic
        .minutes
        .iter()
        .map(|m| (m.minute.millis(), u64::try_from(m.in_bps_max).unwrap_or(0)))
        .collect();
    let peak = points.iter().map(|p| p.1).max().unwrap_or(0);
    let capacity = chart::rate(d.traffic.capacity_bps);
    let bands: Vec<Band> = d
        .blackholes
        .iter()
        .map(|b| Band {
            id: b.id.clone(),
            start: b.started_at.millis(),
            end: b.ended_at.map(|t| t.millis()),
            label: c.f(
                "chart.band",
                &[
                    ("start", &c.time(b.started_at)),
                    ("peak", &chart::rate(b.peak_bps)),
                ],
            ),
        })
        .collect();
    let title = c.f("chart.title", &[("ip", &d.traffic.ip)]);
    let desc = c.f(
        "chart.desc",
        &[
            ("from", &c.time(d.from)),
            ("to", &c.time(d.to)),
            ("peak", &chart::rate(peak)),
            ("capacity", &capacity),
            ("n", &bands.len().to_string()),
            ("minutes", &points.len().to_string()),
        ],
    );
    let capacity_label = c.f("chart.capacity", &[("rate", &capacity)]);
    let traffic_label = c.t("chart.traffic");
    let band_label = c.t("chart.blackholed");
    chart::traffic(&TrafficChart {
        id: "traffic-chart",
        title: &title,
        desc: &desc,
        from: d.from,
        to: d.to,
        points: &points,
        capacity: d.traffic.capacity_bps,
        capacity_label: &capacity_label,
        traffic_label: &traffic_label,
        band_label: &band_label,
        bands: &bands,
        offset_min,
    })
}

fn offset_of(app: &App) -> i32 {
    app.lifecycle.calendar.utc_offset_minutes()
}

async fn ip_page(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Path(ip): Path<String>,
    Query(q): Query<IpQuery>,
) -> Response {
    let mut c = Chrome::new(&app, &v, "/console/ips", "ip.title");
    c.flash = match (q.done.as_deref(), q.short) {
        (Some("upgrade_short"), Some(short)) => Some(c.f(
            "done.upgrade_short",
            &[("short", &chart::rate(short)), ("bps", &short.to_string())],
        )),
        (Some("upgrade_short"), None) => None,
        (done, _) => flash(v.lang, done),
    };
    ip_view(&app, &v, &ip, c, StatusCode::OK, q.before, String::new()).await
}

async fn ip_view(
    app: &App,
    v: &Viewer,
    ip: &str,
    c: Chrome,
    status: StatusCode,
    before: Option<String>,
    capacity_gbps: String,
) -> Response {
    let who = v.principal();
    let before = before.filter(|b| !b.is_empty());
    let loaded = async {
        let p = app.ip_protection(&who, ip).await?;
        let chart = app.traffic_chart(&who, ip).await?;
        let f = BlackholeFilter {
            ip: Some(p.ip.clone()),
            before: before.clone(),
            ..Default::default()
        };
        let lines = app.blackhole_lines(&who, &f, PAGE).await?;
        let attacks = app
            .list_attacks(
                &who,
                &AttackQuery {
                    ip: Some(p.ip.clone()),
                    limit: Some(10),
                    ..Default::default()
                },
            )
            .await?;
        let quota = app.release_quota(&who).await?;
        Ok::<_, AppError>((p, chart, lines, attacks.items, quota))
    }
    .await;
    let (p, data, lines, attacks, quota) = match loaded {
        Ok(x) => x,
        Err(e) => return error_page(v.lang, &e, Some(v)),
    };
    let path = format!("/console/ips/{}", p.ip);
    let next = lines
        .next
        .as_ref()
        .map(|k| format!("{path}?{}", query_string(&[("before", Some(k.as_str()))])));
    let first = before.is_some().then(|| path.clone());
    let mut c = c;
    c.path = path.clone();
    c.title = c.f("ip.title_of", &[("ip", &p.ip)]);
    let chart = chart_of(&c, &data, offset_of(app));
    render(
        status,
        &IpPage {
            protection: protection_words(&c, &p.protection),
            chart,
            chart_src: format!("{path}/traffic.svg"),
            refresh: REFRESH_SECONDS,
            lines: lines.items.into_iter().map(|l| Line::of(&c, l)).collect(),
            next,
            first,
            attacks: attacks.into_iter().map(AttackRow::of).collect(),
            quota,
            capacity_gbps,
            c,
            p,
        },
    )
}

/// The chart alone, for the page script's refresh (and for anyone who wants the picture).
async fn traffic_svg(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Path(ip): Path<String>,
) -> Response {
    match app.traffic_chart(&v.principal(), &ip).await {
        Ok(data) => {
            let c = Chrome::new(&app, &v, "/console/ips", "ip.title");
            let svg = chart_of(&c, &data, offset_of(&app));
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")],
                svg,
            )
                .into_response()
        }
        Err(e) => error_page(v.lang, &e, Some(&v)),
    }
}

/// A capacity in Gbps as typed (`5`, `2.5`, `0,8`), in bps; invalid naming the field.
fn capacity_of(text: Option<&str>) -> Result<u64, AppError> {
    let invalid = || {
        AppError::Invalid(InvalidInput::new(
            "capacity_gbps",
            "is not a number of Gbps above 0 (for example 10 or 2.5)",
        ))
    };
    let text = text.ok_or_else(invalid)?.replace(',', ".");
    let gbps: f64 = text.trim().parse().map_err(|_| invalid())?;
    if !gbps.is_finite() || gbps <= 0.0 || gbps * 1e9 > MAX_RATE as f64 {
        return Err(invalid());
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // positive, ≤ 10^15
    let bps = (gbps * 1e9).round() as u64;
    if bps == 0 {
        return Err(invalid());
    }
    Ok(bps)
}

/// DDOS-5: enable or upgrade high-defense protection. The answer says whether the active
/// blackhole was released, or by how much the new capacity falls short of the attack's peak.
async fn upgrade_protection(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
    Path(ip): Path<String>,
) -> Response {
    let typed = form.get("capacity_gbps");
    let result = match capacity_of(typed.as_deref()) {
        Ok(capacity_bps) => {
            let input = ProtectionInput {
                protection: Protection::HighDefense { capacity_bps },
            };
            app.set_protection(&v.principal(), &ip, input).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(r) => {
            let path = format!("/console/ips/{}", r.view.ip);
            match (r.released, r.shortfall_bps) {
                (true, _) => redirect(&format!("{path}?done=upgrade_released")),
                (false, Some(short)) => {
                    redirect(&format!("{path}?done=upgrade_short&short={short}"))
                }
                (false, None) => redirect(&format!("{path}?done=protection_set")),
            }
        }
        Err(e) => ip_error(&app, &v, &ip, &e, typed.unwrap_or_default()).await,
    }
}

/// A release of a blackhole that is no longer active (409) in the page's words: the use case
/// says it in English for the API.
fn in_words(e: &AppError) -> Option<AppError> {
    match e {
        AppError::Conflict(m) => Some(AppError::Refused {
            code: "blackhole_not_active",
            message: m.clone(),
        }),
        _ => None,
    }
}

/// The IP page again with the refusal on top (nothing changed), or the error page where the
/// IP itself cannot be shown (unknown, or another account's: 404 alike).
async fn ip_error(app: &App, v: &Viewer, ip: &str, e: &AppError, typed: String) -> Response {
    let words = in_words(e);
    let (status, text) = match super::view::refusal(v, words.as_ref().unwrap_or(e)) {
        Ok(r) => r,
        Err(page) => return *page,
    };
    let mut c = Chrome::new(app, v, "/console/ips", "ip.title");
    c.error = Some(text);
    ip_view(app, v, ip, c, status, None, typed).await
}

/// DDOS-5: the tenant's self-service early release, within the monthly quota. A failed
/// attempt (the attack goes on, or its traffic is unknown) says so and does not use the quota.
async fn self_release(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
    Path(id): Path<String>,
) -> Response {
    match app
        .release_blackhole(&v.principal(), &id, ReleaseInput { reason: None })
        .await
    {
        Ok(r) => {
            let done = if r.released {
                "self_released"
            } else {
                "self_release_failed"
            };
            redirect(&format!("/console/ips/{}?done={done}", r.blackhole.ip))
        }
        Err(e) => match form.get("ip") {
            // The IP the form came from: its page again, with the refusal (its own checks
            // answer 404 for an IP that is not the tenant's).
            Some(ip) if !matches!(e, AppError::NotFound(_)) => {
                ip_error(&app, &v, &ip, &e, String::new()).await
            }
            _ => error_page(v.lang, &e, Some(&v)),
        },
    }
}

#[derive(Debug, Default, Deserialize)]
struct StaffQuery {
    done: Option<String>,
    /// The cursor: the last (oldest) item of the previous page.
    before: Option<String>,
    /// The attacks of one IP.
    ip: Option<String>,
}

#[derive(Template)]
#[template(path = "staff/blackholes.html")]
struct StaffBlackholes {
    c: Chrome,
    lines: Vec<Line>,
    next: Option<String>,
    first: bool,
    can_release: bool,
}

async fn staff_blackholes(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<StaffQuery>,
) -> Response {
    let mut c = Chrome::new(&app, &v, "/staff/blackholes", "blackholes.title");
    c.flash = flash(v.lang, q.done.as_deref());
    staff_blackholes_view(&app, &v, c, StatusCode::OK, q.before).await
}

async fn staff_blackholes_view(
    app: &App,
    v: &Viewer,
    c: Chrome,
    status: StatusCode,
    before: Option<String>,
) -> Response {
    let before = before.filter(|b| !b.is_empty());
    let f = BlackholeFilter {
        active_only: true,
        before: before.clone(),
        ..Default::default()
    };
    let page = match app.blackhole_lines(&v.principal(), &f, PAGE).await {
        Ok(p) => p,
        Err(e) => return error_page(v.lang, &e, Some(v)),
    };
    let next = page.next.as_ref().map(|k| {
        format!(
            "/staff/blackholes?{}",
            query_string(&[("before", Some(k.as_str()))])
        )
    });
    let can_release = matches!(
        v.role(),
        Some(warden_domain::identity::Role::Admin | warden_domain::identity::Role::Operator)
    );
    render(
        status,
        &StaffBlackholes {
            lines: page.items.into_iter().map(|l| Line::of(&c, l)).collect(),
            next,
            first: before.is_some(),
            can_release,
            c,
        },
    )
}

/// An operator's release of a blackhole, with its mandatory reason (audited, told to the
/// tenant).
async fn operator_release(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
    Path(id): Path<String>,
) -> Response {
    let Some(reason) = form.get("reason") else {
        let mut c = Chrome::new(&app, &v, "/staff/blackholes", "blackholes.title");
        c.error = Some(c.t("blackholes.reason_required"));
        return staff_blackholes_view(&app, &v, c, StatusCode::UNPROCESSABLE_ENTITY, None).await;
    };
    let input = ReleaseInput {
        reason: Some(reason),
    };
    match app.release_blackhole(&v.principal(), &id, input).await {
        Ok(_) => redirect("/staff/blackholes?done=operator_released"),
        Err(e) => {
            let words = in_words(&e);
            let (status, text) = match super::view::refusal(&v, words.as_ref().unwrap_or(&e)) {
                Ok(r) => r,
                Err(page) => return *page,
            };
            let mut c = Chrome::new(&app, &v, "/staff/blackholes", "blackholes.title");
            c.error = Some(text);
            staff_blackholes_view(&app, &v, c, status, None).await
        }
    }
}

#[derive(Template)]
#[template(path = "staff/attacks.html")]
struct StaffAttacks {
    c: Chrome,
    attacks: Vec<AttackRow>,
    ip: String,
    next: Option<String>,
    first: Option<String>,
}

async fn staff_attacks(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<StaffQuery>,
) -> Response {
    let ip = q.ip.as_deref().map(str::trim).filter(|i| !i.is_empty());
    let before = q.before.as_deref().filter(|b| !b.is_empty());
    let query = AttackQuery {
        ip: ip.map(str::to_string),
        after: before.map(str::to_string),
        limit: Some(PAGE),
    };
    let page = match app.list_attacks(&v.principal(), &query).await {
        Ok(p) => p,
        Err(e) => {
            let (status, text) = describe(v.lang, &e);
            if status == StatusCode::UNPROCESSABLE_ENTITY {
                let mut c = Chrome::new(&app, &v, "/staff/attacks", "attacks.title");
                c.error = Some(text);
                return render(
                    status,
                    &StaffAttacks {
                        c,
                        attacks: Vec::new(),
                        ip: ip.unwrap_or_default().to_string(),
                        next: None,
                        first: Some("/staff/attacks".into()),
                    },
                );
            }
            return error_page(v.lang, &e, Some(&v));
        }
    };
    let next = page.next_after.as_ref().map(|k| {
        format!(
            "/staff/attacks?{}",
            query_string(&[("ip", ip), ("before", Some(k.as_str()))])
        )
    });
    let first = before.map(|_| {
        let q = query_string(&[("ip", ip)]);
        if q.is_empty() {
            "/staff/attacks".to_string()
        } else {
            format!("/staff/attacks?{q}")
        }
    });
    let c = Chrome::new(&app, &v, "/staff/attacks", "attacks.title");
    render(
        StatusCode::OK,
        &StaffAttacks {
            c,
            attacks: page.items.into_iter().map(AttackRow::of).collect(),
            ip: ip.unwrap_or_default().to_string(),
            next,
            first,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capacity_is_read_in_gbps() {
        assert_eq!(capacity_of(Some("10")).unwrap(), 10_000_000_000);
        assert_eq!(capacity_of(Some("2.5")).unwrap(), 2_500_000_000);
        assert_eq!(capacity_of(Some("0,8")).unwrap(), 800_000_000);
        for bad in [
            None,
            Some("0"),
            Some("-1"),
            Some("x"),
            Some("NaN"),
            Some("1e9"),
        ] {
            assert!(capacity_of(bad).is_err(), "{bad:?}");
        }
    }
}

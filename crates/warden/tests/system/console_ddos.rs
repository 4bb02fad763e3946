//! The DDoS console pages and GET /api/attacks (issue 12 deliver 8; DDOS-5, DDOS-6, UI-1): a
//! tenant sees only its own IPs' traffic, blackholes and attacks, on pages and through the API
//! (another account's IP is 404 exactly like an unknown one); the IP page's chart is an SVG
//! with the capacity line and a band per blackhole; an upgrade that covers the attack's peak
//! releases the blackhole at once, a short one names the shortfall; the early release shows
//! the quota going down, and a failed attempt says why and keeps it; forms without their CSRF
//! token change nothing; staff see the active blackholes and the attacks (with the flow
//! evidence's top protocols and sources) and release with a mandatory reason.
//!
//! The generic checks (every page parses, labels its fields, speaks its language; every page
//! and form lets in exactly its roles) cover these pages through `console_pages` and
//! `console_access`, whose fixture holds a blackholed IP per account.

use std::net::IpAddr;

use serde_json::{Value, json};
use warden_app::Settings;
use warden_app::clock::Clock as _;
use warden_app::ddos::FlowRate;
use warden_domain::identity::Role;

use crate::both_engines;
use crate::console::{Answer, Client, PASSWORD, person};
use crate::console_pages::{El, check_page, collect_elements};
use crate::support::{Engine, TestApp, spawn_app};

both_engines!(
    a_tenant_sees_only_its_own_ips_traffic_blackholes_and_attacks,
    the_chart_has_the_capacity_line_and_a_band_per_blackhole,
    an_upgrade_covering_the_peak_releases_at_once_and_a_short_one_names_the_shortfall,
    the_early_release_uses_the_quota_only_when_it_succeeds,
    ddos_forms_without_their_csrf_token_change_nothing,
    staff_see_blackholes_and_attacks_and_release_with_a_reason,
);

const ACME_IP: &str = "203.0.113.5";
const GLOBEX_IP: &str = "198.51.100.7";
const V6_IP: &str = "2001:db8::5";
const UNKNOWN_IP: &str = "192.0.2.200";
const GBPS: u64 = 1_000_000_000;

/// A sample's time as the API takes it.
fn at(ms: i64) -> String {
    warden_domain::time::Timestamp(ms).to_rfc3339()
}

/// Five seconds of `bps` to `ip` from a detector; the blackhole it started, if any.
pub(crate) async fn samples(t: &TestApp, det: &str, ip: &str, bps: u64) -> Value {
    let now = t.clock.now().millis();
    let s: Vec<Value> = (0..5)
        .map(|i| json!({ "ip": ip, "at": at(now - i * 1000), "in_bps": bps, "in_pps": bps / 1000 }))
        .collect();
    let (st, b) = t
        .call(
            "POST",
            "/api/telemetry",
            Some(det),
            Some(&json!({ "samples": s })),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    b
}

/// An attack of `bps` on `ip` a detector saw (above the basic 2 Gbps): its blackhole's id.
pub(crate) async fn attack(t: &TestApp, det: &str, ip: &str, bps: u64) -> String {
    let r = samples(t, det, ip, bps).await;
    r["blackholed"][0]
        .as_str()
        .unwrap_or_else(|| panic!("{ip} not blackholed: {r}"))
        .to_string()
}

/// An attack of `bps` on `ip` a flow collector saw, mostly UDP from one source: its
/// blackhole's id.
pub(crate) async fn flow_attack(t: &TestApp, ip: &str, bps: u64) -> String {
    let rate = FlowRate {
        ip: ip.parse().unwrap(),
        in_bps: bps,
        in_pps: bps / 800,
        out_bps: 0,
        out_pps: 0,
        out_peers: 0,
        top_protocols: vec![(17, 9 * GBPS), (6, GBPS / 10)],
        top_sources: vec![("203.0.113.66".parse::<IpAddr>().unwrap(), 4 * GBPS)],
    };
    let r = t
        .app
        .ingest_flow_rates("node-1", t.clock.now(), 10, &[rate])
        .await
        .unwrap();
    r.blackholed[0].clone()
}

/// The elements of an SVG, as a browser's HTML parser reads it inline.
fn svg_elements(svg: &str) -> Vec<El> {
    collect_elements(&format!(
        "<!DOCTYPE html><html lang=\"en\"><head><title>t</title></head><body>{svg}</body></html>"
    ))
}

/// `a` is the traffic chart: an SVG image with an accessible title and description, its
/// capacity line, and no English of the catalogue on a zh-CN chart.
pub(crate) fn check_svg(what: &str, a: &Answer, lang: &str, problems: &mut Vec<String>) {
    if !a.content_type.starts_with("image/svg+xml") {
        problems.push(format!("{what}: Content-Type {:?}", a.content_type));
    }
    if !a.body.starts_with("<svg") || !a.body.ends_with("</svg>") {
        problems.push(format!("{what}: not one <svg>"));
    }
    // The same checks as a page's, with the SVG inline in one (as the IP page holds it).
    let page = format!(
        "<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>t</title></head><body>{}</body></html>",
        a.body
    );
    check_page(what, &page, lang, problems);
    let els = svg_elements(&a.body);
    for name in ["title", "desc"] {
        if !els
            .iter()
            .any(|e| e.name == name && e.attrs.contains_key("id"))
        {
            problems.push(format!(
                "{what}: no <{name} id> for the chart's aria-labelledby"
            ));
        }
    }
    if !els.iter().any(|e| e.has_class("capacity")) {
        problems.push(format!("{what}: no capacity line"));
    }
}

impl El {
    fn has_class(&self, class: &str) -> bool {
        self.attrs
            .get("class")
            .is_some_and(|c| c.split_whitespace().any(|x| x == class))
    }
}

/// Two accounts with a public IP each (acme also an IPv6 one), their tenant users, a detector,
/// an operator and a reviewer; nothing attacked yet.
struct Ddos {
    t: TestApp,
    det: String,
    acme: String,
    globex: String,
}

async fn ddos_world(engine: Engine) -> Option<Ddos> {
    let mut settings = Settings::default();
    settings.sessions.secure_cookies = false;
    settings.sessions.attempts_per_minute = 10_000;
    let t = spawn_app(engine, settings).await?;
    for (id, ips) in [("acme", vec![ACME_IP, V6_IP]), ("globex", vec![GLOBEX_IP])] {
        let (s, _) = t
            .call(
                "POST",
                "/api/accounts",
                Some(&t.admin),
                Some(&json!({ "id": id, "name": id })),
            )
            .await;
        assert_eq!(s, 201);
        let identifiers: Vec<Value> = ips
            .iter()
            .map(|ip| json!({ "kind": "public_ip", "value": ip }))
            .collect();
        let (s, b) = t
            .call(
                "POST",
                "/api/resources",
                Some(&t.admin),
                Some(&json!({ "id": format!("{id}-vm"), "name": format!("{id} vm"), "account_id": id, "product": "cvm", "identifiers": identifiers })),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    for (login, role, account) in [
        ("tina", Role::Tenant, Some("acme")),
        ("gina", Role::Tenant, Some("globex")),
        ("olga", Role::Operator, None),
        ("rita", Role::Reviewer, None),
    ] {
        person(&t, login, role, account, false).await;
    }
    Some(Ddos {
        det: t.token("detector", None).await,
        acme: t.token("tenant", Some("acme")).await,
        globex: t.token("tenant", Some("globex")).await,
        t,
    })
}

async fn signed_in(t: &TestApp, login: &str, lang: &'static str) -> Client {
    let mut c = Client::new(&t.base, lang);
    assert_eq!(c.sign_in(login, PASSWORD).await.status, 303, "{login}");
    c
}

/// `body` with `ids` written as `{id}`.
fn normalised(body: &str, ids: &[&str]) -> String {
    ids.iter()
        .fold(body.to_string(), |b, id| b.replace(id, "{id}"))
}

/// The `data-left` of the quota on an IP page.
fn quota_left(body: &str) -> Option<u32> {
    let at = body.find("id=\"quota\" data-left=\"")?;
    let rest = &body[at + 22..];
    rest[..rest.find('"')?].parse().ok()
}

/// §1, DDOS-6: tina sees acme's IPs, and none of globex's — on her list, as pages, as the
/// chart, and through the API — and another account's IP answers exactly as an unknown one.
async fn a_tenant_sees_only_its_own_ips_traffic_blackholes_and_attacks(engine: Engine) {
    let Some(d) = ddos_world(engine).await else {
        return;
    };
    let t = &d.t;
    let acme_bh = attack(t, &d.det, ACME_IP, 3 * GBPS).await;
    let globex_bh = flow_attack(t, GLOBEX_IP, 5 * GBPS).await;
    let mut tina = signed_in(t, "tina", "en").await;

    let list = tina.get("/console/ips").await;
    assert_eq!(list.status, 200);
    assert!(
        list.body
            .contains(&format!("href=\"/console/ips/{ACME_IP}\"")),
        "{}",
        list.body
    );
    assert!(
        list.body
            .contains(&format!("href=\"/console/ips/{V6_IP}\""))
    );
    assert!(list.body.contains(&format!("data-blackhole=\"{acme_bh}\"")));
    assert!(!list.body.contains(GLOBEX_IP) && !list.body.contains(&globex_bh));
    let page = tina.get(&format!("/console/ips/{ACME_IP}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&format!("data-blackhole=\"{acme_bh}\"")));
    assert!(!page.body.contains(&globex_bh));
    // An IPv6 address works too (no traffic: an empty chart, no blackhole).
    let v6 = tina.get(&format!("/console/ips/{V6_IP}")).await;
    assert_eq!(v6.status, 200, "{}", v6.body);
    assert!(v6.body.contains("id=\"no-blackholes\""));

    // Another account's IP is answered as an unknown one: page, chart, forms.
    for (theirs, unknown) in [
        (
            format!("/console/ips/{GLOBEX_IP}"),
            format!("/console/ips/{UNKNOWN_IP}"),
        ),
        (
            format!("/console/ips/{GLOBEX_IP}/traffic.svg"),
            format!("/console/ips/{UNKNOWN_IP}/traffic.svg"),
        ),
    ] {
        let (a, b) = (tina.get(&theirs).await, tina.get(&unknown).await);
        assert_eq!((a.status, b.status), (404, 404), "{theirs}");
        assert_eq!(
            normalised(&a.body, &[GLOBEX_IP, UNKNOWN_IP]),
            normalised(&b.body, &[GLOBEX_IP, UNKNOWN_IP]),
            "{theirs}"
        );
        assert!(!a.body.contains("globex"));
    }
    let a = tina
        .post(
            "/console/ips",
            &format!("/console/ips/{GLOBEX_IP}/protection"),
            &[("capacity_gbps", "100")],
        )
        .await;
    let b = tina
        .post(
            "/console/ips",
            &format!("/console/ips/{UNKNOWN_IP}/protection"),
            &[("capacity_gbps", "100")],
        )
        .await;
    assert_eq!((a.status, b.status), (404, 404));
    let a = tina
        .post(
            "/console/ips",
            &format!("/console/blackholes/{globex_bh}/release"),
            &[],
        )
        .await;
    let b = tina
        .post(
            "/console/ips",
            "/console/blackholes/bh_000000000000_0000ffffffff/release",
            &[],
        )
        .await;
    assert_eq!((a.status, b.status), (404, 404));
    assert_eq!(
        normalised(&a.body, &[&globex_bh, "bh_000000000000_0000ffffffff"]),
        normalised(&b.body, &[&globex_bh, "bh_000000000000_0000ffffffff"])
    );
    // globex's blackhole is still there, its protection basic.
    let (_, b) = t
        .call("GET", "/api/blackholes?active=true", Some(&d.globex), None)
        .await;
    assert_eq!(b["items"][0]["id"], globex_bh.as_str());
    let (_, p) = t
        .call(
            "GET",
            &format!("/api/ips/{GLOBEX_IP}/protection"),
            Some(&d.globex),
            None,
        )
        .await;
    assert_eq!(p["protection"]["kind"], "basic", "{p}");

    // The API: traffic and protection of another's IP are 404 like an unknown one's; the
    // attack list holds the tenant's own only, and `ip=` of another's IP lists nothing.
    for path in [
        format!("/api/ips/{GLOBEX_IP}/traffic"),
        format!("/api/ips/{GLOBEX_IP}/protection"),
        format!("/api/ips/{UNKNOWN_IP}/traffic"),
    ] {
        let (s, _) = t.call("GET", &path, Some(&d.acme), None).await;
        assert_eq!(s, 404, "{path}");
    }
    let (s, own) = t.call("GET", "/api/attacks", Some(&d.acme), None).await;
    assert_eq!(s, 200, "{own}");
    let items = own["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{own}");
    assert_eq!(items[0]["ip"], ACME_IP);
    assert_eq!(items[0]["blackhole_id"], acme_bh.as_str());
    assert!(!own.to_string().contains(GLOBEX_IP));
    for ip in [GLOBEX_IP, UNKNOWN_IP] {
        let (s, b) = t
            .call("GET", &format!("/api/attacks?ip={ip}"), Some(&d.acme), None)
            .await;
        assert_eq!((s, b["items"].as_array().unwrap().len()), (200, 0), "{b}");
    }
    let (s, b) = t
        .call("GET", "/api/attacks?ip=not-an-ip", Some(&d.acme), None)
        .await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["details"]["field"], "ip", "{b}");
    // Staff see both, newest first, a page at a time by keyset.
    let op = t.token("operator", None).await;
    let (_, first) = t.call("GET", "/api/attacks?limit=1", Some(&op), None).await;
    assert_eq!(first["items"][0]["ip"], GLOBEX_IP, "{first}");
    assert_eq!(first["items"][0]["top_protocols"][0]["protocol"], 17);
    assert_eq!(first["items"][0]["top_sources"][0]["ip"], "203.0.113.66");
    let after = first["next_after"].as_str().unwrap();
    let (_, second) = t
        .call(
            "GET",
            &format!("/api/attacks?limit=1&after={after}"),
            Some(&op),
            None,
        )
        .await;
    assert_eq!(second["items"][0]["ip"], ACME_IP, "{second}");
    assert!(second["next_after"].is_null(), "{second}");
    d.t.stop().await;
}

/// DDOS-6: the chart (inline on the page and on its own) draws the capacity line at the
/// capacity, a band for the blackhole, the traffic, readable axis labels, and an accessible
/// title and description in the page language; the page refreshes it from its own SVG route.
async fn the_chart_has_the_capacity_line_and_a_band_per_blackhole(engine: Engine) {
    let Some(d) = ddos_world(engine).await else {
        return;
    };
    let t = &d.t;
    samples(t, &d.det, ACME_IP, GBPS).await;
    t.clock.advance(120_000);
    let bh = attack(t, &d.det, ACME_IP, 3 * GBPS).await;
    for lang in ["zh-CN", "en"] {
        let mut tina = signed_in(t, "tina", lang).await;
        let svg = tina
            .get(&format!("/console/ips/{ACME_IP}/traffic.svg"))
            .await;
        assert_eq!(svg.status, 200);
        let mut problems = Vec::new();
        check_svg(lang, &svg, lang, &mut problems);
        assert!(problems.is_empty(), "{problems:#?}");
        let els = svg_elements(&svg.body);
        let root = els.iter().find(|e| e.name == "svg").unwrap();
        assert_eq!(root.attrs["role"], "img");
        let labelled: Vec<&str> = root.attrs["aria-labelledby"].split(' ').collect();
        for id in &labelled {
            assert!(
                els.iter()
                    .any(|e| e.attrs.get("id").map(String::as_str) == Some(*id))
            );
        }
        let capacity = els.iter().find(|e| e.has_class("capacity")).unwrap();
        assert_eq!(capacity.attrs["data-bps"], "2000000000");
        let bands: Vec<&El> = els.iter().filter(|e| e.has_class("blackhole")).collect();
        assert_eq!(bands.len(), 1);
        assert_eq!(bands[0].attrs["data-blackhole"], bh);
        assert!(bands[0].attrs["width"].parse::<f64>().unwrap() > 0.0);
        let traffic = els.iter().find(|e| e.has_class("traffic")).unwrap();
        assert!(traffic.attrs["d"].starts_with('M'), "{:?}", traffic.attrs);
        // Axis labels: rates in SI units and times every 3 hours.
        let y_labels: Vec<String> = els
            .iter()
            .filter(|e| e.has_class("axis-y"))
            .map(|e| e.own_text.concat())
            .collect();
        assert!(
            y_labels.iter().any(|l| l.ends_with(" Gbps")),
            "{y_labels:?}"
        );
        let x_labels = els.iter().filter(|e| e.has_class("axis-x")).count();
        assert!((8..=9).contains(&x_labels), "{x_labels}");
        let title = els
            .iter()
            .find(|e| e.name == "title" && e.attrs.contains_key("id"))
            .unwrap();
        if lang == "zh-CN" {
            assert!(title.text.contains("入方向流量"), "{}", title.text);
        } else {
            assert!(title.text.contains("Inbound traffic"), "{}", title.text);
        }
        // The page holds the same chart inline, refreshed from the SVG route by the script,
        // which the CSP allows (same origin, no inline script).
        let page = tina.get(&format!("/console/ips/{ACME_IP}")).await;
        assert!(page.body.contains(&format!(
            "data-refresh=\"/console/ips/{ACME_IP}/traffic.svg\""
        )));
        assert!(page.body.contains("<svg id=\"traffic-chart\""));
        assert!(!page.body.contains("<script>") && !page.body.contains("onload="));
        let mut problems = Vec::new();
        check_page(lang, &page.body, lang, &mut problems);
        assert!(problems.is_empty(), "{problems:#?}");
        // The reason in the page language, with the rates in words.
        if lang == "zh-CN" {
            assert!(page.body.contains("超过防护能力 2 Gbps"), "{}", page.body);
        } else {
            assert!(
                page.body
                    .contains("attack traffic of 3 Gbps exceeded the capacity of 2 Gbps"),
                "{}",
                page.body
            );
        }
    }
    d.t.stop().await;
}

/// DDOS-5: an upgrade short of the attack's peak is kept and the answer names the shortfall (in
/// Gbps and bps) while the blackhole stays; one that covers the peak releases it at once.
async fn an_upgrade_covering_the_peak_releases_at_once_and_a_short_one_names_the_shortfall(
    engine: Engine,
) {
    let Some(d) = ddos_world(engine).await else {
        return;
    };
    let t = &d.t;
    let bh = attack(t, &d.det, ACME_IP, 3 * GBPS).await;
    let mut tina = signed_in(t, "tina", "en").await;
    let page = format!("/console/ips/{ACME_IP}");
    let a = tina
        .post(
            &page,
            &format!("{page}/protection"),
            &[("capacity_gbps", "2.5")],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(
        a.location,
        format!("{page}?done=upgrade_short&short=500000000")
    );
    let shown = tina.get(&a.location).await;
    assert!(
        shown
            .body
            .contains("500 Mbps (500000000 bps) short of the attack"),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("data-bps=\"2500000000\""));
    let (_, b) = t
        .call("GET", "/api/blackholes?active=true", Some(&d.acme), None)
        .await;
    assert_eq!(b["items"][0]["id"], bh.as_str(), "still blackholed: {b}");
    // In Chinese, the same facts.
    let mut zh = signed_in(t, "tina", "zh-CN").await;
    let shown = zh.get(&a.location).await;
    assert!(
        shown.body.contains("低 500 Mbps（500000000 bps）"),
        "{}",
        shown.body
    );
    // A capacity that is no number is refused on the page, naming the field; nothing changed.
    let a = tina
        .post(
            &page,
            &format!("{page}/protection"),
            &[("capacity_gbps", "lots")],
        )
        .await;
    assert_eq!(a.status, 422);
    assert!(a.body.contains("id=\"error\"") && a.body.contains("capacity_gbps"));
    assert!(a.body.contains("value=\"lots\""), "the typed value is kept");
    // Covering the peak: released at once.
    let a = tina
        .post(
            &page,
            &format!("{page}/protection"),
            &[("capacity_gbps", "5")],
        )
        .await;
    assert_eq!(a.location, format!("{page}?done=upgrade_released"));
    let shown = tina.get(&a.location).await;
    assert!(
        shown.body.contains("the blackhole is released"),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("released by a protection upgrade"));
    assert!(
        shown
            .body
            .contains("the new capacity of 5 Gbps covers the attack&#39;s peak of 3 Gbps")
            || shown
                .body
                .contains("the new capacity of 5 Gbps covers the attack's peak of 3 Gbps"),
        "{}",
        shown.body
    );
    let (_, b) = t
        .call("GET", "/api/blackholes?active=true", Some(&d.acme), None)
        .await;
    assert!(b["items"].as_array().unwrap().is_empty(), "{b}");
    let (_, a) = t.call("GET", "/api/attacks", Some(&d.acme), None).await;
    assert!(
        a["items"][0]["ended_at"].is_string(),
        "the attack ended: {a}"
    );
    // Without a blackhole, the upgrade just changes the protection.
    let a = tina
        .post(
            &page,
            &format!("{page}/protection"),
            &[("capacity_gbps", "10")],
        )
        .await;
    assert_eq!(a.location, format!("{page}?done=protection_set"));
    d.t.stop().await;
}

/// DDOS-5: while the attack goes on, the early release fails, says why, and the quota left
/// stays; once the traffic is within the capacity it succeeds and the quota goes down.
async fn the_early_release_uses_the_quota_only_when_it_succeeds(engine: Engine) {
    let Some(d) = ddos_world(engine).await else {
        return;
    };
    let t = &d.t;
    let bh = attack(t, &d.det, ACME_IP, 3 * GBPS).await;
    let mut tina = signed_in(t, "tina", "en").await;
    let page = format!("/console/ips/{ACME_IP}");
    let shown = tina.get(&page).await;
    assert_eq!(quota_left(&shown.body), Some(3), "{}", shown.body);
    assert!(shown.body.contains("Release early (3 left this month)"));
    // Still attacked: the attempt fails and keeps the quota.
    let a = tina
        .post(
            &page,
            &format!("/console/blackholes/{bh}/release"),
            &[("ip", ACME_IP)],
        )
        .await;
    assert_eq!(a.location, format!("{page}?done=self_release_failed"));
    let shown = tina.get(&a.location).await;
    assert!(
        shown.body.contains("The early release failed"),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("did not use your quota"));
    assert_eq!(quota_left(&shown.body), Some(3));
    let (_, b) = t
        .call("GET", "/api/blackholes?active=true", Some(&d.acme), None)
        .await;
    assert_eq!(b["items"][0]["id"], bh.as_str());
    // The attack is over: released, and one release fewer is left.
    t.clock.advance(120_000);
    samples(t, &d.det, ACME_IP, GBPS / 2).await;
    let a = tina
        .post(
            &page,
            &format!("/console/blackholes/{bh}/release"),
            &[("ip", ACME_IP)],
        )
        .await;
    assert_eq!(a.location, format!("{page}?done=self_released"));
    let shown = tina.get(&a.location).await;
    assert!(shown.body.contains("released early"), "{}", shown.body);
    assert_eq!(quota_left(&shown.body), Some(2));
    let list = tina.get("/console/ips").await;
    assert!(
        list.body.contains("left this month: 2 of 3"),
        "{}",
        list.body
    );
    // Releasing what is no longer blackholed is refused on the page; nothing changes.
    let a = tina
        .post(
            &page,
            &format!("/console/blackholes/{bh}/release"),
            &[("ip", ACME_IP)],
        )
        .await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert!(
        a.body
            .contains("no longer active: there is nothing to release")
    );
    assert_eq!(quota_left(&a.body), Some(2));
    d.t.stop().await;
}

/// UI-1: the DDoS forms posted without their CSRF token are refused (403) and change nothing:
/// the blackhole holds, the protection stays basic, the quota is whole.
async fn ddos_forms_without_their_csrf_token_change_nothing(engine: Engine) {
    let Some(d) = ddos_world(engine).await else {
        return;
    };
    let t = &d.t;
    let bh = attack(t, &d.det, ACME_IP, 3 * GBPS).await;
    t.clock.advance(120_000);
    samples(t, &d.det, ACME_IP, GBPS / 2).await; // a release would now succeed
    let state = async || {
        let (_, b) = t.call("GET", "/api/blackholes", Some(&d.acme), None).await;
        let (_, p) = t
            .call(
                "GET",
                &format!("/api/ips/{ACME_IP}/protection"),
                Some(&d.acme),
                None,
            )
            .await;
        json!([b["items"], b["quota"], p["protection"], p["history"]])
    };
    let before = state().await;
    for (login, path, fields) in [
        (
            "tina",
            format!("/console/ips/{ACME_IP}/protection"),
            vec![("capacity_gbps", "100")],
        ),
        (
            "tina",
            format!("/console/blackholes/{bh}/release"),
            vec![("ip", ACME_IP)],
        ),
        (
            "olga",
            format!("/staff/blackholes/{bh}/release"),
            vec![("reason", "customer asked")],
        ),
    ] {
        let mut c = signed_in(t, login, "en").await;
        let a = c.post_raw(&path, &fields).await;
        assert_eq!(a.status, 403, "POST {path} without a CSRF token");
        // A wrong token is no better.
        let mut with = vec![("csrf", "not-the-token")];
        with.extend(fields.iter().copied());
        assert_eq!(c.post_raw(&path, &with).await.status, 403, "{path}");
    }
    assert_eq!(state().await, before, "a refused form changed something");
    d.t.stop().await;
}

/// UI-1, DDOS-3/6: staff see the active blackholes across accounts (keyset paged) and the
/// attacks with the flow evidence's top protocols and sources; an operator's release needs a
/// reason (refused on the page without one, nothing changed); a reviewer reads but does not
/// release; tenants open neither page.
async fn staff_see_blackholes_and_attacks_and_release_with_a_reason(engine: Engine) {
    let Some(d) = ddos_world(engine).await else {
        return;
    };
    let t = &d.t;
    let acme_bh = attack(t, &d.det, ACME_IP, 3 * GBPS).await;
    let globex_bh = flow_attack(t, GLOBEX_IP, 5 * GBPS).await;
    let mut olga = signed_in(t, "olga", "en").await;
    let list = olga.get("/staff/blackholes").await;
    assert_eq!(list.status, 200);
    for id in [&acme_bh, &globex_bh] {
        assert!(
            list.body.contains(&format!("data-blackhole=\"{id}\"")),
            "{id}"
        );
        assert!(
            list.body
                .contains(&format!("/staff/blackholes/{id}/release"))
        );
    }
    assert!(list.body.contains("5 Gbps") && list.body.contains("globex"));
    let attacks = olga.get("/staff/attacks").await;
    assert_eq!(attacks.status, 200);
    assert!(attacks.body.contains("UDP (9 GB)"), "{}", attacks.body);
    assert!(attacks.body.contains("203.0.113.66 (4 GB)"));
    let one = olga.get(&format!("/staff/attacks?ip={ACME_IP}")).await;
    assert!(one.body.contains(ACME_IP) && !one.body.contains(GLOBEX_IP));
    let bad = olga.get("/staff/attacks?ip=not-an-ip").await;
    assert_eq!(bad.status, 422);
    // Without a reason: refused on the page, still blackholed.
    let a = olga
        .post(
            "/staff/blackholes",
            &format!("/staff/blackholes/{acme_bh}/release"),
            &[("reason", "  ")],
        )
        .await;
    assert_eq!(a.status, 422);
    assert!(a.body.contains("Give a reason for the release"));
    let (_, b) = t
        .call("GET", "/api/blackholes?active=true", Some(&d.acme), None)
        .await;
    assert_eq!(b["items"][0]["id"], acme_bh.as_str());
    // With one: released, the tenant sees why.
    let a = olga
        .post(
            "/staff/blackholes",
            &format!("/staff/blackholes/{acme_bh}/release"),
            &[("reason", "the customer's scrubbing took over")],
        )
        .await;
    assert_eq!(a.location, "/staff/blackholes?done=operator_released");
    let list = olga.get(&a.location).await;
    assert!(!list.body.contains(&format!("data-blackhole=\"{acme_bh}\"")));
    assert!(
        list.body
            .contains(&format!("data-blackhole=\"{globex_bh}\""))
    );
    let mut tina = signed_in(t, "tina", "en").await;
    let page = tina.get(&format!("/console/ips/{ACME_IP}")).await;
    assert!(
        page.body
            .contains("released by an operator: the customer&#39;s scrubbing took over")
            || page
                .body
                .contains("released by an operator: the customer's scrubbing took over"),
        "{}",
        page.body
    );
    // A reviewer reads, does not release; tenants open neither page.
    let mut rita = signed_in(t, "rita", "en").await;
    let list = rita.get("/staff/blackholes").await;
    assert_eq!(list.status, 200);
    assert!(
        !list.body.contains("/release\""),
        "no release form for a reviewer"
    );
    let a = rita
        .post(
            "/staff/blackholes",
            &format!("/staff/blackholes/{globex_bh}/release"),
            &[("reason", "x")],
        )
        .await;
    assert_eq!(a.status, 403);
    for path in ["/staff/blackholes", "/staff/attacks"] {
        assert_eq!(tina.get(path).await.status, 403, "{path}");
    }
    // Keyset paging of the blackholes page: a cursor below every id lists nothing.
    let later = olga
        .get(&format!("/staff/blackholes?before={globex_bh}"))
        .await;
    assert!(
        !later
            .body
            .contains(&format!("data-blackhole=\"{globex_bh}\""))
    );
    d.t.stop().await;
}

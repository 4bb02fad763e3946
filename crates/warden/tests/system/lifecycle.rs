//! The violation lifecycle through the HTTP API (SPEC §5–9, 12, 15), on SQLite and PostgreSQL,
//! with a short grace period, a manual clock, the job worker running, and a local web server
//! whose page the test changes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use serde_json::{Value, json};
use warden_app::Settings;
use warden_app::lifecycle::LifecycleSettings;
use warden_domain::calendar::WorkCalendar;
use warden_domain::time::Timestamp;

use crate::both_engines;
use crate::support::{Engine, T0, TestApp};

both_engines!(
    a_alerting_deadline_enforced_self_unblock,
    b_manual_unblock_sla_and_review,
    b_calendar_holiday_and_makeup_day,
    c_serious_case_enforced_at_once,
    d_regulator_case_goes_through_a_ticket,
    regulator_notice_joining_an_open_case_makes_it_a_regulator_case,
    e_violation_limit,
    harmful_behaviour_is_restricted_and_lifted_by_ticket,
    trusted_detection_is_graded_automatically,
);

pub(crate) const GRACE_MS: i64 = 60 * 60 * 1000;

pub(crate) type Page = Arc<Mutex<String>>;

async fn page_server() -> (String, Page) {
    let page: Page = Arc::new(Mutex::new(
        "<html><body>免费色情视频 free porn videos</body></html>".into(),
    ));
    let app =
        Router::new()
            .route(
                "/page",
                get(|State(p): State<Page>| async move {
                    Html(p.lock().unwrap().clone()).into_response()
                }),
            )
            .with_state(page.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (base, page)
}

pub(crate) fn lifecycle(calendar: WorkCalendar) -> LifecycleSettings {
    let mut l = LifecycleSettings::default();
    l.policy.grace_ms = GRACE_MS;
    l.calendar = calendar.validate().unwrap();
    l
}

pub(crate) struct World {
    pub(crate) t: TestApp,
    pub(crate) op: String,
    pub(crate) tenant: String,
    pub(crate) reviewer: String,
    pub(crate) url: String,
    pub(crate) page: Page,
}

pub(crate) async fn world(engine: Engine, l: LifecycleSettings) -> Option<World> {
    world_with(engine, Settings::default(), l).await
}

/// As [`world`], with other settings.
pub(crate) async fn world_with(
    engine: Engine,
    settings: Settings,
    l: LifecycleSettings,
) -> Option<World> {
    world_notifying(
        engine,
        settings,
        l,
        warden_app::outbound::NoticeSettings::default(),
    )
    .await
}

/// As [`world_with`], sending notices as `notices` says (NOT-1).
pub(crate) async fn world_notifying(
    engine: Engine,
    settings: Settings,
    l: LifecycleSettings,
    notices: warden_app::outbound::NoticeSettings,
) -> Option<World> {
    let t = crate::support::spawn_app_notifying(engine, settings, l, notices, true).await?;
    let (base, page) = page_server().await;
    let (s, _) = t
        .call(
            "POST",
            "/api/accounts",
            Some(&t.admin),
            Some(&json!({ "id": "acme", "name": "Acme" })),
        )
        .await;
    assert_eq!(s, 201);
    let (s, b) = t
        .call(
            "POST",
            "/api/resources",
            Some(&t.admin),
            // The page is served on loopback, which is no public IP: the site is a URL prefix;
            // the machine's public address is a documentation one.
            Some(&json!({ "id": "web-1", "account_id": "acme", "product": "cvm", "identifiers": [{ "kind": "url_prefix", "value": base }, { "kind": "public_ip", "value": "192.0.2.77" }] })),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let op = t.token("operator", None).await;
    let tenant = t.token("tenant", Some("acme")).await;
    let reviewer = t.token("reviewer", None).await;
    Some(World {
        t,
        op,
        tenant,
        reviewer,
        url: format!("{base}/page"),
        page,
    })
}

impl World {
    pub(crate) async fn report(&self, category: &str) -> String {
        let (s, r) = self
            .t
            .call(
                "POST",
                "/api/reports",
                Some(&self.op),
                Some(&json!({ "target": self.url, "category": category })),
            )
            .await;
        assert_eq!(s, 201, "{r}");
        r["case_id"].as_str().unwrap().to_string()
    }

    pub(crate) async fn confirm(&self, case: &str, body: Value) -> (u16, Value) {
        self.t
            .call(
                "POST",
                &format!("/api/cases/{case}/confirm"),
                Some(&self.op),
                Some(&body),
            )
            .await
    }

    pub(crate) async fn case(&self, case: &str) -> Value {
        self.t
            .call("GET", &format!("/api/cases/{case}"), Some(&self.op), None)
            .await
            .1
    }

    /// The case's penalties once every enforcement point confirmed what was decided (PEN-3:
    /// an action is `applied` or `lifted` only when its adapters confirm; the in-process
    /// index confirms within a poll). Account-level actions have no adapter by default and
    /// stay `pending`.
    pub(crate) async fn penalties(&self, case: &str) -> Value {
        let settled = |a: &Value| match (a["desired"].as_str(), a["state"].as_str()) {
            (Some("planned"), _) => true,
            (Some("lifted"), s) => s == Some("lifted"),
            (_, Some("pending")) => {
                matches!(
                    a["action"].as_str(),
                    Some("freeze_account" | "isolate_account")
                )
            }
            _ => true,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let (s, p) = self
                .t
                .call(
                    "GET",
                    &format!("/api/cases/{case}/penalties"),
                    Some(&self.tenant),
                    None,
                )
                .await;
            assert_eq!(s, 200, "{p}");
            if p["actions"].as_array().unwrap().iter().all(settled) {
                return p;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the enforcement points did not confirm within 5 s: {p}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) async fn wait_state(&self, case: &str, state: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let c = self.case(case).await;
            if c["state"] == state {
                return c;
            }
            assert!(Instant::now() < deadline, "case never became {state}: {c}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn self_unblock(&self, case: &str, commitment: bool) -> (u16, Value) {
        self.t
            .call(
                "POST",
                &format!("/api/cases/{case}/unblock/self"),
                Some(&self.tenant),
                Some(&json!({ "commitment_confirmed": commitment })),
            )
            .await
    }

    /// A general first-offence porn case that went past its deadline still violating, then
    /// failed a self-service unblock: the starting point of a manual request.
    pub(crate) async fn enforced_after_failed_self_unblock(&self) -> String {
        let case = self.report("porn_vulgar").await;
        let (s, c) = self
            .confirm(&case, json!({ "markers": ["色情视频"] }))
            .await;
        assert_eq!((s, c["state"].as_str()), (200, Some("alerting")), "{c}");
        self.t.clock.advance(GRACE_MS + 1000);
        self.wait_state(&case, "enforced").await;
        let (s, r) = self.self_unblock(&case, true).await;
        assert_eq!((s, r["state"].as_str()), (200, Some("failed")), "{r}");
        case
    }
}

pub(crate) fn codes(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{}:{}",
                a["action"].as_str().unwrap(),
                a["state"].as_str().unwrap()
            )
        })
        .collect()
}

/// (a) LIFE-1/2, UNB-1/2, DET-3, NOT-1, LIFE-5: first general porn case on a cvm URL → alerting →
/// the deadline passes while the page still violates → enforced with block_url → self-service
/// unblock fails naming the URL → page fixed → self-service unblock lifts.
async fn a_alerting_deadline_enforced_self_unblock(engine: Engine) {
    let Some(w) = world(engine, lifecycle(WorkCalendar::default())).await else {
        return;
    };
    let case = w.report("porn_vulgar").await;
    let (s, c) = w.confirm(&case, json!({ "markers": ["色情视频"] })).await;
    assert_eq!((s, c["state"].as_str()), (200, Some("alerting")), "{c}");
    let p = w.penalties(&case).await;
    assert_eq!(p["level"], "general");
    assert_eq!(p["level_reasons"][0]["code"], "base_severity");
    assert_eq!(p["deadline"], Timestamp(T0 + GRACE_MS).to_rfc3339());
    assert_eq!(
        codes(&p, "actions"),
        vec!["block_url:pending"],
        "the plan waits for the deadline"
    );
    // LIFE-1: asking to unblock an alerting case is refused: not blocked, rectify first.
    let (s, e) = w.self_unblock(&case, true).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (409, Some("not_blocked_yet")),
        "{e}"
    );
    assert!(e["message"].as_str().unwrap().contains("deadline"), "{e}");
    // NOT-1: the inbox names the link, category, action and deadline.
    let (_, inbox) = w.t.call("GET", "/api/notices", Some(&w.tenant), None).await;
    let alert = &inbox["items"][0];
    assert_eq!(alert["template"], "case.alerting");
    for part in [
        w.url.as_str(),
        "色情低俗",
        "阻断URL",
        "2026-01-05 10:00 (UTC+08:00)",
    ] {
        assert!(
            alert["body"].as_str().unwrap().contains(part),
            "notice lacks {part}: {alert}"
        );
    }
    // LIFE-2: not before the deadline...
    w.t.clock.advance(GRACE_MS - 60_000);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(w.case(&case).await["state"], "alerting");
    // ...but after it, still violating → enforced with the matrix's action.
    w.t.clock.advance(61_000);
    w.wait_state(&case, "enforced").await;
    assert_eq!(
        codes(&w.penalties(&case).await, "actions"),
        vec!["block_url:applied"]
    );
    // Regression: listing by a lifecycle state past triage was refused as an unknown state.
    let (s, list) =
        w.t.call("GET", "/api/cases?state=enforced", Some(&w.op), None)
            .await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["items"][0]["id"], case.as_str(), "{list}");
    let (s, e) =
        w.t.call(
            "POST",
            &format!("/api/cases/{case}/dismiss"),
            Some(&w.op),
            Some(&json!({ "reason": "changed my mind" })),
        )
        .await;
    assert_eq!(s, 409, "an enforced case is past dismissal: {e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("only reported cases"),
        "{e}"
    );
    // UNB-1: the commitment is required.
    let (s, e) = w.self_unblock(&case, false).await;
    assert_eq!(
        (s, e["details"]["field"].as_str()),
        (422, Some("commitment_confirmed")),
        "{e}"
    );
    // UNB-2: still violating → fails naming the URL.
    let (s, r) = w.self_unblock(&case, true).await;
    assert_eq!((s, r["outcome"].as_str()), (200, Some("failed")), "{r}");
    assert_eq!(r["still_violating"], json!([w.url]), "{r}");
    assert_eq!(w.case(&case).await["state"], "enforced");
    // The tenant fixes the page; self-service unblock lifts everything.
    *w.page.lock().unwrap() = "<html>花店 flower shop</html>".into();
    let (s, r) = w.self_unblock(&case, true).await;
    assert_eq!((s, r["state"].as_str()), (201, Some("succeeded")), "{r}");
    assert_eq!(w.case(&case).await["state"], "lifted");
    assert_eq!(
        codes(&w.penalties(&case).await, "actions"),
        vec!["block_url:lifted"]
    );
    // LIFE-5: every transition is in the history and the audit log, and the chain verifies.
    let (_, h) =
        w.t.call(
            "GET",
            &format!("/api/cases/{case}/history"),
            Some(&w.tenant),
            None,
        )
        .await;
    let actions: Vec<&str> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "report.create",
            "case.confirm",
            "case.deadline",
            "case.unblock_request",
            "case.unblock_self_result",
            "case.unblock_request",
            "case.unblock_self_result"
        ],
        "{h}"
    );
    let tos: Vec<&str> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["to"].as_str())
        .collect();
    assert_eq!(
        tos,
        vec![
            "alerting",
            "enforced",
            "unblock_requested",
            "enforced",
            "unblock_requested",
            "lifted"
        ]
    );
    let (_, inbox) = w.t.call("GET", "/api/notices", Some(&w.tenant), None).await;
    let templates: Vec<&str> = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["template"].as_str().unwrap())
        .collect();
    assert_eq!(
        templates,
        vec![
            "case.alerting",
            "case.enforced",
            "unblock.failed",
            "case.lifted"
        ]
    );
    let (_, v) =
        w.t.call("GET", "/api/audit/verify", Some(&w.t.admin), None)
            .await;
    assert_eq!(v["broken"], Value::Null);
    // ENF-1: the change feed saw the apply and the lift, with growing revisions; nothing is in
    // force now; a long-poll with nothing new returns empty after its wait.
    let edge = w.t.token("edge", None).await;
    let (_, feed) =
        w.t.call("GET", "/api/enforcement/changes?since=0", Some(&edge), None)
            .await;
    let ops: Vec<String> = feed["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}:{}",
                c["op"].as_str().unwrap(),
                c["action"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(ops, vec!["apply:block_url", "lift:block_url"], "{feed}");
    assert_eq!(feed["changes"][0]["target"], w.url.as_str());
    let rev = feed["revision"].as_i64().unwrap();
    let (_, snap) =
        w.t.call("GET", "/api/enforcement/snapshot", Some(&edge), None)
            .await;
    assert_eq!(
        (
            snap["revision"].as_i64(),
            snap["items"].as_array().map(Vec::len)
        ),
        (Some(rev), Some(0))
    );
    let started = Instant::now();
    let (_, empty) =
        w.t.call(
            "GET",
            &format!("/api/enforcement/changes?since={rev}&wait_ms=300"),
            Some(&edge),
            None,
        )
        .await;
    assert!(
        empty["changes"].as_array().unwrap().is_empty()
            && started.elapsed() >= Duration::from_millis(300)
    );
    let (s, _) =
        w.t.call(
            "GET",
            "/api/enforcement/changes?since=0",
            Some(&w.tenant),
            None,
        )
        .await;
    assert_eq!(s, 403, "tenants do not read the feed");
    w.t.stop().await;
}

/// Friday 2026-01-09 17:30 in Asia/Shanghai.
pub(crate) const FRIDAY_1730: i64 = 1_767_951_000_000;

pub(crate) async fn to_friday_1730(w: &World) {
    let now = w.t.app.now();
    w.t.clock.advance(FRIDAY_1730 - now);
}

/// (b) UNB-3: manual unblock submitted Friday 17:30 → due Monday 10:30; withdraw refused; one
/// open request; reject without a reason refused; the tenant sees the reason; approval lifts.
async fn b_manual_unblock_sla_and_review(engine: Engine) {
    let Some(w) = world(engine, lifecycle(WorkCalendar::default())).await else {
        return;
    };
    let case = w.enforced_after_failed_self_unblock().await;
    to_friday_1730(&w).await;
    let (s, r) =
        w.t.call(
            "POST",
            &format!("/api/cases/{case}/unblock/manual"),
            Some(&w.tenant),
            None,
        )
        .await;
    assert_eq!((s, r["state"].as_str()), (201, Some("pending")), "{r}");
    assert_eq!(
        r["due_at"].as_str(),
        Some("2026-01-12T02:30:00.000Z"),
        "Monday 10:30 +08:00"
    );
    let req = r["id"].as_str().unwrap().to_string();
    let (s, e) =
        w.t.call(
            "DELETE",
            &format!("/api/unblock-requests/{req}"),
            Some(&w.tenant),
            None,
        )
        .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (409, Some("request_cannot_be_withdrawn")),
        "{e}"
    );
    let (s, e) =
        w.t.call(
            "POST",
            &format!("/api/cases/{case}/unblock/manual"),
            Some(&w.tenant),
            None,
        )
        .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (409, Some("request_already_open")),
        "{e}"
    );
    // The reviewer queue shows the request with its SLA clock; after Monday 10:30 it is overdue.
    let (_, q) =
        w.t.call("GET", "/api/unblock-requests", Some(&w.reviewer), None)
            .await;
    assert_eq!(
        (
            q["items"][0]["request"]["id"].as_str(),
            q["items"][0]["overdue"].as_bool()
        ),
        (Some(req.as_str()), Some(false)),
        "{q}"
    );
    assert_eq!(q["items"][0]["working_ms_left"], 2 * 3_600_000);
    w.t.clock.advance(3 * 86_400_000);
    let (_, q) =
        w.t.call("GET", "/api/unblock-requests", Some(&w.reviewer), None)
            .await;
    assert_eq!(q["items"][0]["overdue"], true);
    let (_, m) = w.t.call("GET", "/metrics", None, None).await;
    assert!(
        m.as_str().unwrap().contains("warden_review_sla_breaches 1"),
        "SLA breaches are a metric"
    );
    let (s, e) =
        w.t.call(
            "POST",
            &format!("/api/unblock-requests/{req}/reject"),
            Some(&w.reviewer),
            Some(&json!({})),
        )
        .await;
    assert_eq!(
        (s, e["details"]["field"].as_str()),
        (422, Some("reason")),
        "{e}"
    );
    let (s, r) =
        w.t.call(
            "POST",
            &format!("/api/unblock-requests/{req}/reject"),
            Some(&w.reviewer),
            Some(&json!({ "reason": "the URL still has violating content" })),
        )
        .await;
    assert_eq!((s, r["state"].as_str()), (200, Some("rejected")), "{r}");
    let p = w.penalties(&case).await;
    let seen = p["unblock_requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == req.as_str())
        .unwrap()
        .clone();
    assert_eq!(seen["reason"], "the URL still has violating content");
    assert_eq!(w.case(&case).await["state"], "enforced");
    // Another request, approved: every action lifted.
    let (_, r2) =
        w.t.call(
            "POST",
            &format!("/api/cases/{case}/unblock/manual"),
            Some(&w.tenant),
            None,
        )
        .await;
    let (s, _) =
        w.t.call(
            "POST",
            &format!(
                "/api/unblock-requests/{}/approve",
                r2["id"].as_str().unwrap()
            ),
            Some(&w.reviewer),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(w.case(&case).await["state"], "lifted");
    w.t.stop().await;
}

/// (b) the calendar is data: a Monday holiday moves the due time to Tuesday; a make-up working
/// Saturday (调休) brings it to Saturday.
async fn b_calendar_holiday_and_makeup_day(engine: Engine) {
    for (cal, due) in [
        (
            WorkCalendar {
                holidays: vec!["2026-01-12".into()],
                ..WorkCalendar::default()
            },
            "2026-01-13T02:30:00.000Z",
        ),
        (
            WorkCalendar {
                makeup_workdays: vec!["2026-01-10".into()],
                ..WorkCalendar::default()
            },
            "2026-01-10T02:30:00.000Z",
        ),
    ] {
        let Some(w) = world(engine, lifecycle(cal)).await else {
            return;
        };
        let case = w.enforced_after_failed_self_unblock().await;
        to_friday_1730(&w).await;
        let (s, r) =
            w.t.call(
                "POST",
                &format!("/api/cases/{case}/unblock/manual"),
                Some(&w.tenant),
                None,
            )
            .await;
        assert_eq!(s, 201, "{r}");
        assert_eq!(r["due_at"].as_str(), Some(due), "{r}");
        w.t.stop().await;
    }
}

/// (c) LIFE-3, PEN-1, UNB-4: a serious case (gambling) is enforced at once with the matrix's
/// cvm serious cell (block_network, no_unblock); console unblock refused.
async fn c_serious_case_enforced_at_once(engine: Engine) {
    let Some(w) = world(engine, lifecycle(WorkCalendar::default())).await else {
        return;
    };
    let case = w.report("gambling").await;
    let (s, c) = w.confirm(&case, json!({})).await;
    assert_eq!((s, c["state"].as_str()), (200, Some("enforced")), "{c}");
    let p = w.penalties(&case).await;
    assert_eq!(p["level"], "serious");
    assert_eq!(codes(&p, "actions"), vec!["block_network:applied"]);
    assert_eq!(p["actions"][0]["no_unblock"], true);
    let (s, e) = w.self_unblock(&case, true).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (409, Some("level_not_unblockable")),
        "{e}"
    );
    let (s, e) =
        w.t.call(
            "POST",
            &format!("/api/cases/{case}/unblock/manual"),
            Some(&w.tenant),
            None,
        )
        .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (409, Some("level_not_unblockable")),
        "{e}"
    );
    // NOT-1: notices follow the account's language.
    let (s, _) =
        w.t.call(
            "PATCH",
            "/api/accounts/acme",
            Some(&w.t.admin),
            Some(&json!({ "lang": "en" })),
        )
        .await;
    assert_eq!(s, 200);
    // PEN-2: a violation with wide impact is especially serious: machine shut down, account
    // frozen and isolated, and the month's fee recorded as not refunded.
    let wide = w.report("rumor").await;
    let (s, c) = w.confirm(&wide, json!({ "wide_impact": true })).await;
    assert_eq!((s, c["state"].as_str()), (200, Some("enforced")), "{c}");
    let p = w.penalties(&wide).await;
    assert_eq!(p["level"], "especially_serious");
    assert_eq!(
        codes(&p, "actions"),
        vec![
            "shutdown_machine:applied",
            "freeze_account:pending",
            "isolate_account:pending"
        ]
    );
    // Nothing enforces account-level actions unless a webhook asks for them: they stay
    // pending, and staff are told why (tenants see the state only).
    let (_, staff_view) =
        w.t.call(
            "GET",
            &format!("/api/cases/{wide}/penalties"),
            Some(&w.op),
            None,
        )
        .await;
    assert_eq!(
        staff_view["actions"][1]["last_error"],
        warden_store::enforcement::NO_ADAPTER
    );
    assert_eq!(
        staff_view["actions"][0]["deliveries"][0]["adapter"],
        "index"
    );
    assert_eq!(
        staff_view["actions"][0]["deliveries"][0]["state"],
        "confirmed"
    );
    assert_eq!(p["actions"][1]["last_error"], Value::Null);
    let billing = w.t.app.store.list_billing_records("acme").await.unwrap();
    assert_eq!(billing.len(), 1);
    assert_eq!(billing[0].2, "isolation_clearance");
    assert!(billing[0].3.contains("not refunded"), "{billing:?}");
    let (_, inbox) = w.t.call("GET", "/api/notices", Some(&w.tenant), None).await;
    assert!(
        inbox["items"].as_array().unwrap().last().unwrap()["title"]
            .as_str()
            .unwrap()
            .starts_with("[Penalty applied]"),
        "{inbox}"
    );
    // PEN-4: a destructive action keeps the evidence first (cos serious: delete_file).
    let (s, _) = w
        .t
        .call("POST", "/api/resources", Some(&w.t.admin), Some(&json!({ "id": "bkt-1", "account_id": "acme", "product": "cos", "identifiers": [{ "kind": "bucket_key", "value": "media-1250" }] })))
        .await;
    assert_eq!(s, 201);
    let (_, r) = w.t.call("POST", "/api/reports", Some(&w.op), Some(&json!({ "target": "cos://media-1250/a.jpg", "category": "gambling", "evidence": "casino banner" }))).await;
    let cos = r["case_id"].as_str().unwrap().to_string();
    w.confirm(&cos, json!({})).await;
    let p = w.penalties(&cos).await;
    assert_eq!(
        codes(&p, "actions"),
        vec!["delete_file:applied", "freeze_bucket:applied"]
    );
    assert_eq!(
        p["actions"][0]["evidence_sha256"],
        warden_domain::sha256_hex(b"casino banner")
    );
    assert_eq!(p["actions"][1]["evidence_sha256"], Value::Null);
    // GRD-3: an operator override needs a reason.
    let case2 = w.report("fraud").await;
    let (s, e) = w.confirm(&case2, json!({ "level": "general" })).await;
    assert_eq!(
        (s, e["details"]["field"].as_str()),
        (422, Some("level_reason")),
        "{e}"
    );
    w.t.stop().await;
}

/// (d) INT-1, UNB-4, TKT-1: a regulator case cannot be unblocked from the console; the tenant
/// files a ticket and a reviewer lifts through it.
async fn d_regulator_case_goes_through_a_ticket(engine: Engine) {
    let Some(w) = world(engine, lifecycle(WorkCalendar::default())).await else {
        return;
    };
    let body = json!({ "target": w.url, "category": "porn_vulgar", "source": "regulator" });
    let (s, e) =
        w.t.call("POST", "/api/reports", Some(&w.op), Some(&body))
            .await;
    assert_eq!(
        (s, e["details"]["field"].as_str()),
        (422, Some("regulator")),
        "{e}"
    );
    let mut body = body;
    body["regulator"] = json!({ "authority": "网信办", "document_number": "网信函〔2026〕12号", "legal_basis": "《网络安全法》第四十七条" });
    let (s, r) =
        w.t.call("POST", "/api/reports", Some(&w.op), Some(&body))
            .await;
    assert_eq!(s, 201, "{r}");
    let case = r["case_id"].as_str().unwrap().to_string();
    let (s, c) = w.confirm(&case, json!({ "level": "general", "level_reason": "first notice, small site", "markers": ["色情视频"] })).await;
    assert_eq!((s, c["state"].as_str()), (200, Some("alerting")), "{c}");
    w.t.clock.advance(GRACE_MS + 1000);
    w.wait_state(&case, "enforced").await;
    let (s, e) = w.self_unblock(&case, true).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (409, Some("regulator_case")),
        "{e}"
    );
    *w.page.lock().unwrap() = "deleted".into();
    let (s, t) = w.t.call("POST", "/api/tickets", Some(&w.tenant), Some(&json!({ "kind": "regulator", "case_id": case, "subject": "Content deleted", "body": "May the site be unblocked?" }))).await;
    assert_eq!(s, 201, "{t}");
    let (_, q) =
        w.t.call("GET", "/api/tickets", Some(&w.reviewer), None)
            .await;
    assert_eq!(q["items"][0]["id"], t["id"]);
    // One time format in every response: RFC 3339 with an offset.
    let due = q["items"][0]["due_at"].as_str().unwrap();
    assert!(
        Timestamp::parse_rfc3339(due).is_ok() && due.ends_with('Z'),
        "{due}"
    );
    let (s, e) =
        w.t.call(
            "POST",
            &format!("/api/tickets/{}/close", t["id"].as_str().unwrap()),
            Some(&w.reviewer),
            Some(&json!({ "lift": true })),
        )
        .await;
    assert_eq!(
        (s, e["details"]["field"].as_str()),
        (422, Some("resolution"))
    );
    let (s, closed) =
        w.t.call(
            "POST",
            &format!("/api/tickets/{}/close", t["id"].as_str().unwrap()),
            Some(&w.reviewer),
            Some(
                &json!({ "resolution": "Unblocked after the regulator confirmed.", "lift": true }),
            ),
        )
        .await;
    assert_eq!(
        (s, closed["state"].as_str()),
        (200, Some("closed")),
        "{closed}"
    );
    assert_eq!(w.case(&case).await["state"], "lifted");
    let (_, mine) = w.t.call("GET", "/api/tickets", Some(&w.tenant), None).await;
    assert_eq!(
        mine["items"][0]["resolution"],
        "Unblocked after the regulator confirmed."
    );
    w.t.stop().await;
}

/// Regression: a regulator's notice about a case that was already open (from a user report)
/// joined it as a report but left it an ordinary case, so the tenant could unblock it from the
/// console (UNB-4 says a regulator case goes through a ticket).
async fn regulator_notice_joining_an_open_case_makes_it_a_regulator_case(engine: Engine) {
    let Some(w) = world(engine, lifecycle(WorkCalendar::default())).await else {
        return;
    };
    let case = w.report("porn_vulgar").await;
    let body = json!({ "target": w.url, "category": "porn_vulgar", "source": "regulator", "regulator": { "authority": "网信办", "document_number": "网信函〔2026〕13号", "legal_basis": "《网络安全法》第四十七条" } });
    let (s, r) =
        w.t.call("POST", "/api/reports", Some(&w.op), Some(&body))
            .await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["case_id"], case.as_str(), "joined the open case");
    let (s, c) = w
        .confirm(
            &case,
            json!({ "level": "general", "level_reason": "small site", "markers": ["色情视频"] }),
        )
        .await;
    assert_eq!((s, c["state"].as_str()), (200, Some("alerting")), "{c}");
    w.t.clock.advance(GRACE_MS + 1000);
    w.wait_state(&case, "enforced").await;
    let (s, e) = w.self_unblock(&case, true).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (409, Some("regulator_case")),
        "{e}"
    );
    w.t.stop().await;
}

/// (e) UNB-4: an account past the violation-count limit gets no console unblock.
async fn e_violation_limit(engine: Engine) {
    let mut l = lifecycle(WorkCalendar::default());
    l.policy.violation_limit = 1;
    l.grading.repeat_offence_serious_after = 100;
    l.grading.repeat_offence_especially_serious_after = 200;
    let Some(w) = world(engine, l).await else {
        return;
    };
    for cat in ["porn_vulgar", "spam_ads"] {
        let c = w.report(cat).await;
        assert_eq!(w.confirm(&c, json!({})).await.0, 200);
    }
    let case = w.report("rumor").await;
    let (s, c) = w.confirm(&case, json!({})).await;
    assert_eq!(
        (s, c["state"].as_str()),
        (200, Some("enforced")),
        "not a first offence: enforced at once: {c}"
    );
    let (s, e) = w.self_unblock(&case, true).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (409, Some("violation_limit")),
        "{e}"
    );
    w.t.stop().await;
}

/// HARM-1/HARM-2, PEN-5: a machine attacking others gets block_network and a notice pointing to
/// the host-security checks; a reviewer lifts it through a ticket.
async fn harmful_behaviour_is_restricted_and_lifted_by_ticket(engine: Engine) {
    let Some(w) = world(engine, lifecycle(WorkCalendar::default())).await else {
        return;
    };
    let (_, r) =
        w.t.call(
            "POST",
            "/api/reports",
            Some(&w.op),
            Some(&json!({ "target": "192.0.2.77", "category": "scanning" })),
        )
        .await;
    let case = r["case_id"].as_str().unwrap().to_string();
    let (s, e) =
        w.t.call(
            "POST",
            &format!("/api/cases/{case}/enforce"),
            Some(&w.op),
            Some(&json!({ "actions": ["block_network"] })),
        )
        .await;
    assert_eq!((s, e["details"]["field"].as_str()), (422, Some("reason")));
    let (s, c) = w.t.call("POST", &format!("/api/cases/{case}/enforce"), Some(&w.op), Some(&json!({ "actions": ["block_network"], "reason": "outbound scanning of other tenants" }))).await;
    assert_eq!((s, c["state"].as_str()), (200, Some("enforced")), "{c}");
    let (_, inbox) = w.t.call("GET", "/api/notices", Some(&w.tenant), None).await;
    let n = inbox["items"].as_array().unwrap().last().unwrap().clone();
    assert!(
        n["body"].as_str().unwrap().contains("主机安全排查指引"),
        "{n}"
    );
    let (s, e) = w.self_unblock(&case, true).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (409, Some("level_not_unblockable")),
        "{e}"
    );
    let (_, t) = w.t.call("POST", "/api/tickets", Some(&w.tenant), Some(&json!({ "kind": "harmful_behaviour", "case_id": case, "subject": "Cleaned", "body": "Removed the miner." }))).await;
    let (s, _) =
        w.t.call(
            "POST",
            &format!("/api/tickets/{}/close", t["id"].as_str().unwrap()),
            Some(&w.reviewer),
            Some(&json!({ "resolution": "Restriction lifted.", "lift": true })),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(w.case(&case).await["state"], "lifted");
    w.t.stop().await;
}

/// INT-5 + LIFE-1: a detection at or above the detector's threshold confirms the case, and the
/// worker grades it and alerts the tenant without an operator; one below waits in triage.
async fn trusted_detection_is_graded_automatically(engine: Engine) {
    let Some(w) = world(engine, lifecycle(WorkCalendar::default())).await else {
        return;
    };
    let det = w.t.token("detector", None).await;
    let (_, low) = w.t.call("POST", "/api/reports", Some(&det), Some(&json!({ "target": format!("{}?low", w.url), "category": "porn_vulgar", "confidence": 0.3 }))).await;
    let (_, high) =
        w.t.call(
            "POST",
            "/api/reports",
            Some(&det),
            Some(&json!({ "target": w.url, "category": "porn_vulgar", "confidence": 0.97 })),
        )
        .await;
    let case = high["case_id"].as_str().unwrap().to_string();
    w.wait_state(&case, "alerting").await;
    assert_eq!(w.penalties(&case).await["level"], "general");
    let (_, inbox) = w.t.call("GET", "/api/notices", Some(&w.tenant), None).await;
    assert_eq!(inbox["items"][0]["template"], "case.alerting");
    assert_eq!(
        w.case(low["case_id"].as_str().unwrap()).await["state"],
        "reported"
    );
}

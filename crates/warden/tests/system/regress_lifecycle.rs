//! Regressions of the violation lifecycle found when Warden was probed: unblock answers,
//! reviewer reasons, refusals that sent the tenant to a dead end, the ticket queue's SLA clock,
//! notice wording, the anonymous notice page, and the API walk-through. Each test is named after
//! the defect it pins; all run on SQLite and PostgreSQL.

use std::time::Duration;

use serde_json::{Value, json};
use warden_domain::calendar::WorkCalendar;

use crate::both_engines;
use crate::lifecycle::{GRACE_MS, World, lifecycle, to_friday_1730, world};
use crate::support::Engine;

both_engines!(
    regression_failed_self_unblock_answers_a_typed_failure,
    regression_approval_reason_is_kept_and_shown,
    regression_every_unblock_refusal_names_a_step_that_works,
    regression_ticket_queue_has_the_unblock_queue_sla_clock,
    regression_notices_name_resource_and_action_in_words_and_advise_what_applies,
    regression_notice_page_of_a_case_that_blocks_nothing_is_the_unknown_case_page,
    regression_api_walkthrough_first_offence_is_a_general_category,
    regression_a_blackhole_on_a_url_case_read_as_applied_with_no_route,
);

fn fresh() -> warden_app::lifecycle::LifecycleSettings {
    lifecycle(WorkCalendar::default())
}

impl World {
    async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.t.call("POST", path, Some(token), Some(&body)).await
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        let (s, v) = self.t.call("GET", path, Some(token), None).await;
        assert_eq!(s, 200, "GET {path}: {v}");
        v
    }

    /// A general first-offence porn case past its deadline, still violating: enforced.
    async fn enforced_general(&self) -> String {
        let case = self.report("porn_vulgar").await;
        let (s, c) = self
            .confirm(&case, json!({ "markers": ["色情视频"] }))
            .await;
        assert_eq!((s, c["state"].as_str()), (200, Some("alerting")), "{c}");
        self.t.clock.advance(GRACE_MS + 1000);
        self.wait_state(&case, "enforced").await;
        case
    }

    /// A resource of `acme` on `product` with one identifier.
    async fn resource(&self, id: &str, product: &str, kind: &str, value: &str) {
        let (s, r) = self
            .post(
                "/api/resources",
                &self.t.admin,
                json!({ "id": id, "account_id": "acme", "product": product, "identifiers": [{ "kind": kind, "value": value }] }),
            )
            .await;
        assert_eq!(s, 201, "{r}");
    }

    /// An operator's report of `category` on `target`; returns the case id.
    async fn report_on(&self, target: &str, category: &str) -> String {
        let (s, r) = self
            .post(
                "/api/reports",
                &self.op,
                json!({ "target": target, "category": category }),
            )
            .await;
        assert_eq!(s, 201, "{r}");
        r["case_id"].as_str().unwrap().to_string()
    }

    /// The case's action records as `action:desired` (what was decided, whatever the
    /// enforcement points confirmed), sorted.
    async fn desired(&self, case: &str) -> Vec<String> {
        let p = self
            .get(&format!("/api/cases/{case}/penalties"), &self.tenant)
            .await;
        let mut v: Vec<String> = p["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                format!(
                    "{}:{}",
                    a["action"].as_str().unwrap(),
                    a["desired"].as_str().unwrap()
                )
            })
            .collect();
        v.sort();
        v
    }

    /// The tenant's inbox, oldest first.
    async fn inbox(&self) -> Vec<Value> {
        self.get("/api/notices", &self.tenant).await["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    async fn manual_unblock(&self, case: &str) -> (u16, Value) {
        self.t
            .call(
                "POST",
                &format!("/api/cases/{case}/unblock/manual"),
                Some(&self.tenant),
                None,
            )
            .await
    }

    /// Follows what a refusal's message tells the tenant about tickets: when it says to file
    /// a ticket, the tenant files one and a reviewer closes it lifting — which must work; when
    /// it does not, the system must indeed have nothing a ticket can lift. Returns the answer
    /// to the reviewer's close.
    async fn follow_ticket_advice(&self, case: &str, message: &str) -> (u16, Value) {
        // What the lifecycle enforced is confirmed by the enforcement points first, as a
        // tenant would see it (and a lift racing a confirmation can deadlock on PostgreSQL).
        self.penalties(case).await;
        let kind = message
            .split("(kind ")
            .nth(1)
            .and_then(|r| r.split(')').next())
            .unwrap_or("question");
        let (s, t) = self
            .post(
                "/api/tickets",
                &self.tenant,
                json!({ "kind": kind, "case_id": case, "subject": "Unblock", "body": "Content removed." }),
            )
            .await;
        assert_eq!(s, 201, "{t}");
        let closed = self
            .post(
                &format!("/api/tickets/{}/close", t["id"].as_str().unwrap()),
                &self.reviewer,
                json!({ "resolution": "Decided.", "lift": true }),
            )
            .await;
        if message.contains("file a ticket") {
            assert_eq!(
                closed.0, 200,
                "the refusal said to file a ticket, but the ticket cannot lift anything: {message:?} → {}",
                closed.1
            );
        } else {
            assert_eq!(
                (closed.0, closed.1["code"].as_str()),
                (409, Some("action_not_unblockable")),
                "the refusal did not offer a ticket, yet a ticket lifted: {message:?}"
            );
        }
        closed
    }
}

/// The refusal's (status, code, message) for a self-service unblock request.
async fn self_refusal(w: &World, case: &str) -> (u16, String, String) {
    let (s, e) = w.self_unblock(case, true).await;
    (
        s,
        e["code"].as_str().unwrap_or_default().to_string(),
        e["message"].as_str().unwrap_or_default().to_string(),
    )
}

/// Regression (UNB-2): a failed self-service unblock answered 201 Created with
/// `still_violating` as a JSON string. It now answers 200 with `outcome: failed` and the URLs as
/// an array (also in the request the tenant sees later); success is 201 with `outcome: lifted`.
async fn regression_failed_self_unblock_answers_a_typed_failure(engine: Engine) {
    let Some(w) = world(engine, fresh()).await else {
        return;
    };
    let case = w.enforced_general().await;
    let (s, r) = w.self_unblock(&case, true).await;
    assert_eq!(s, 200, "a failed attempt is not 201 Created: {r}");
    assert_eq!(
        (r["outcome"].as_str(), r["state"].as_str()),
        (Some("failed"), Some("failed")),
        "{r}"
    );
    assert_eq!(r["still_violating"], json!([w.url]), "{r}");
    let p = w.penalties(&case).await;
    assert_eq!(
        p["unblock_requests"][0]["still_violating"],
        json!([w.url]),
        "{p}"
    );
    assert_eq!(w.case(&case).await["state"], "enforced");

    *w.page.lock().unwrap() = "<html>花店 flower shop</html>".into();
    let (s, r) = w.self_unblock(&case, true).await;
    assert_eq!(
        (s, r["outcome"].as_str(), r["state"].as_str()),
        (201, Some("lifted"), Some("succeeded")),
        "{r}"
    );
    assert_eq!(r["still_violating"], json!([]), "{r}");
    assert_eq!(w.case(&case).await["state"], "lifted");
    w.t.stop().await;
}

/// Regression (UNB-3, LIFE-5): `POST /api/unblock-requests/{id}/approve` took no body, so a
/// reviewer's reason was dropped without a word. It takes an optional `{ "reason" }` (unknown
/// fields refused, nothing changed), kept with the decision, in the audit event, in the request
/// the tenant sees, in the case history and in the notice.
async fn regression_approval_reason_is_kept_and_shown(engine: Engine) {
    let Some(w) = world(engine, fresh()).await else {
        return;
    };
    let case = w.enforced_after_failed_self_unblock().await;
    let (s, r) = w.manual_unblock(&case).await;
    assert_eq!(s, 201, "{r}");
    let req = r["id"].as_str().unwrap().to_string();
    let approve = format!("/api/unblock-requests/{req}/approve");

    let (s, e) = w
        .post(
            &approve,
            &w.reviewer,
            json!({ "reason": "ok", "comment": "typo" }),
        )
        .await;
    assert_eq!(
        (s, e["code"].as_str(), e["details"]["field"].as_str()),
        (422, Some("invalid_field"), Some("comment")),
        "{e}"
    );
    assert_eq!(w.case(&case).await["state"], "unblock_requested");
    let q = w.get("/api/unblock-requests", &w.reviewer).await;
    assert_eq!(q["items"][0]["request"]["state"], "pending", "{q}");

    let reason = "checked by hand: the page now sells flowers";
    w.penalties(&case).await;
    let (s, r) = w
        .post(&approve, &w.reviewer, json!({ "reason": reason }))
        .await;
    assert_eq!(
        (s, r["state"].as_str(), r["reason"].as_str()),
        (200, Some("approved"), Some(reason)),
        "{r}"
    );
    assert_eq!(w.case(&case).await["state"], "lifted");

    let p = w.penalties(&case).await;
    let seen = p["unblock_requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == req.as_str())
        .unwrap()
        .clone();
    assert_eq!(seen["reason"], reason, "the tenant sees it: {seen}");

    let h = w
        .get(&format!("/api/cases/{case}/history"), &w.tenant)
        .await;
    let approval = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "case.unblock_approve")
        .unwrap()
        .clone();
    assert!(
        approval["reason"].as_str().unwrap().contains(reason),
        "the case history shows it: {approval}"
    );

    let a = w
        .get("/api/audit?action=case.unblock_approve", &w.t.admin)
        .await;
    assert!(
        a["items"][0]["details"].to_string().contains(reason),
        "the audit event keeps it: {a}"
    );

    let inbox = w.inbox().await;
    let lifted = inbox.last().unwrap();
    assert_eq!(lifted["template"], "case.lifted");
    assert!(
        lifted["body"].as_str().unwrap().contains(reason),
        "the notice shows it: {lifted}"
    );
    w.t.stop().await;
}

/// Regression (UNB-4, PEN-3, TKT-1, UNB-6, UNB-3, LIFE-1): a no_unblock action's refusal told
/// the tenant to file a ticket, but closing that ticket with `lift` was refused — a dead end.
/// Every refusal now names what the tenant can do; each one here is followed and must lead
/// somewhere: a ticket that lifts (all, or what is liftable), no ticket offered when nothing can
/// ever be lifted, the deadline, the open request's decision, self-service first.
async fn regression_every_unblock_refusal_names_a_step_that_works(engine: Engine) {
    // not_blocked_yet (LIFE-1): rectify before the deadline → resolved, nothing to ticket.
    {
        let Some(w) = world(engine, fresh()).await else {
            return;
        };
        let case = w.report("porn_vulgar").await;
        w.confirm(&case, json!({ "markers": ["色情视频"] })).await;
        let (s, code, msg) = self_refusal(&w, &case).await;
        assert_eq!((s, code.as_str()), (409, "not_blocked_yet"), "{msg}");
        assert!(msg.contains("deadline") && !msg.contains("ticket"), "{msg}");
        *w.page.lock().unwrap() = "<html>花店</html>".into();
        w.t.clock.advance(GRACE_MS + 1000);
        w.wait_state(&case, "resolved").await;
        w.t.stop().await;
    }

    // level_not_unblockable with everything no_unblock (gambling on cvm: block_network, 禁止解封):
    // no ticket offered, and indeed a ticket cannot lift it. Then level_not_unblockable where a
    // ticket lifts everything (gambling on cdn: domain_offline), and where it lifts some and the
    // no_unblock action stays (especially serious on cdn: isolate_account stays).
    {
        let Some(w) = world(engine, fresh()).await else {
            return;
        };
        let case = w.report("gambling").await;
        assert_eq!(w.confirm(&case, json!({})).await.1["state"], "enforced");
        let (s, code, msg) = self_refusal(&w, &case).await;
        assert_eq!((s, code.as_str()), (409, "level_not_unblockable"), "{msg}");
        assert!(
            msg.contains("block_network") && msg.contains("never"),
            "names the action that is never lifted: {msg}"
        );
        w.follow_ticket_advice(&case, &msg).await;
        assert_eq!(w.desired(&case).await, vec!["block_network:in_force"]);

        w.resource("cdn-1", "cdn", "domain", "cdn.acme.example")
            .await;
        let cdn = w
            .report_on("https://cdn.acme.example/casino", "gambling")
            .await;
        assert_eq!(w.confirm(&cdn, json!({})).await.1["state"], "enforced");
        let (_, code, msg) = self_refusal(&w, &cdn).await;
        assert_eq!(code, "level_not_unblockable", "{msg}");
        w.follow_ticket_advice(&cdn, &msg).await;
        assert_eq!(w.case(&cdn).await["state"], "lifted");

        let wide = w
            .report_on("https://cdn.acme.example/rumour", "rumor")
            .await;
        let (_, c) = w.confirm(&wide, json!({ "wide_impact": true })).await;
        assert_eq!(c["state"], "enforced", "{c}");
        let (_, code, msg) = self_refusal(&w, &wide).await;
        assert_eq!(code, "level_not_unblockable", "{msg}");
        assert!(
            msg.contains("isolate_account") && msg.contains("stays"),
            "says what a ticket cannot lift: {msg}"
        );
        w.follow_ticket_advice(&wide, &msg).await;
        assert_eq!(
            w.desired(&wide).await,
            vec![
                "freeze_account:lifted",
                "isolate_account:in_force",
                "stop_service:lifted"
            ]
        );
        assert_eq!(w.case(&wide).await["state"], "enforced");
        w.t.stop().await;
    }

    // action_not_unblockable on a general case with a liftable action too: the ticket lifts
    // block_url, block_network (no_unblock) stays.
    {
        let Some(w) = world(engine, fresh()).await else {
            return;
        };
        let case = w.report("porn_vulgar").await;
        w.confirm(&case, json!({})).await;
        let (s, c) = w
            .post(
                &format!("/api/cases/{case}/enforce"),
                &w.op,
                json!({ "actions": ["block_network"], "no_unblock": true, "reason": "repeated abuse" }),
            )
            .await;
        assert_eq!((s, c["state"].as_str()), (200, Some("enforced")), "{c}");
        let (_, code, msg) = self_refusal(&w, &case).await;
        assert_eq!(code, "action_not_unblockable", "{msg}");
        assert!(
            msg.contains("block_url"),
            "names what a ticket lifts: {msg}"
        );
        w.follow_ticket_advice(&case, &msg).await;
        assert_eq!(
            w.desired(&case).await,
            vec!["block_network:in_force", "block_url:lifted"]
        );
        w.t.stop().await;
    }

    // regulator_case: delete the content and file a ticket; the reviewer lifts.
    {
        let Some(w) = world(engine, fresh()).await else {
            return;
        };
        let (s, r) = w
            .post(
                "/api/reports",
                &w.op,
                json!({ "target": w.url, "category": "porn_vulgar", "source": "regulator", "regulator": { "authority": "网信办", "document_number": "网信函〔2026〕12号", "legal_basis": "《网络安全法》第四十七条" } }),
            )
            .await;
        assert_eq!(s, 201, "{r}");
        let case = r["case_id"].as_str().unwrap().to_string();
        w.confirm(
            &case,
            json!({ "level": "general", "level_reason": "small site", "markers": ["色情视频"] }),
        )
        .await;
        w.t.clock.advance(GRACE_MS + 1000);
        w.wait_state(&case, "enforced").await;
        let (_, code, msg) = self_refusal(&w, &case).await;
        assert_eq!(code, "regulator_case", "{msg}");
        w.follow_ticket_advice(&case, &msg).await;
        assert_eq!(w.case(&case).await["state"], "lifted");
        w.t.stop().await;
    }

    // violation_limit: no console unblock, but a ticket can grant it (TKT-1).
    {
        let mut l = fresh();
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
        assert_eq!(w.confirm(&case, json!({})).await.1["state"], "enforced");
        let (_, code, msg) = self_refusal(&w, &case).await;
        assert_eq!(code, "violation_limit", "{msg}");
        w.follow_ticket_advice(&case, &msg).await;
        assert_eq!(w.case(&case).await["state"], "lifted");
        w.t.stop().await;
    }

    // product_needs_ticket (UNB-5): cos has no console unblock; a ticket lifts.
    {
        let Some(w) = world(engine, fresh()).await else {
            return;
        };
        w.resource("bkt-1", "cos", "bucket_key", "media-1250").await;
        let case = w.report_on("cos://media-1250/a.jpg", "porn_vulgar").await;
        assert_eq!(w.confirm(&case, json!({})).await.1["state"], "alerting");
        w.t.clock.advance(GRACE_MS + 1000);
        w.wait_state(&case, "enforced").await;
        let (_, code, msg) = self_refusal(&w, &case).await;
        assert_eq!(code, "product_needs_ticket", "{msg}");
        w.follow_ticket_advice(&case, &msg).await;
        assert_eq!(w.case(&case).await["state"], "lifted");
        w.t.stop().await;
    }

    // self_service_first → self-service is open; then request_already_open → the request is
    // there to wait for, and its decision lifts.
    {
        let Some(w) = world(engine, fresh()).await else {
            return;
        };
        let case = w.enforced_general().await;
        let (s, e) = w.manual_unblock(&case).await;
        assert_eq!((s, e["code"].as_str()), (409, Some("self_service_first")));
        assert!(
            e["message"].as_str().unwrap().contains("self-service"),
            "{e}"
        );
        let (s, r) = w.self_unblock(&case, true).await;
        assert!(s == 200 || s == 201, "self-service is open as told: {r}");
        let (s, r) = w.manual_unblock(&case).await;
        assert_eq!(s, 201, "{r}");
        let (s, code, msg) = self_refusal(&w, &case).await;
        assert_eq!((s, code.as_str()), (409, "request_already_open"), "{msg}");
        assert!(msg.contains("wait"), "says what to do: {msg}");
        let p = w.penalties(&case).await;
        let open = p["unblock_requests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["state"] == "pending")
            .cloned()
            .unwrap_or_default();
        assert_eq!(open["id"], r["id"], "the open request is visible: {p}");
        let (s, _) = w
            .post(
                &format!(
                    "/api/unblock-requests/{}/approve",
                    r["id"].as_str().unwrap()
                ),
                &w.reviewer,
                json!({}),
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(w.case(&case).await["state"], "lifted");
        w.t.stop().await;
    }
}

/// Regression (TKT-1, UNB-3): the reviewer's ticket queue lacked the `overdue` and
/// `working_ms_left` the unblock queue has. A ticket and a manual request filed at the same
/// moment now show the same SLA clock, before and after the due time.
async fn regression_ticket_queue_has_the_unblock_queue_sla_clock(engine: Engine) {
    let Some(w) = world(engine, fresh()).await else {
        return;
    };
    let case = w.enforced_after_failed_self_unblock().await;
    to_friday_1730(&w).await;
    let (s, r) = w.manual_unblock(&case).await;
    assert_eq!(s, 201, "{r}");
    let (s, t) = w
        .post(
            "/api/tickets",
            &w.tenant,
            json!({ "kind": "question", "case_id": case, "subject": "When?", "body": "When is it decided?" }),
        )
        .await;
    assert_eq!(s, 201, "{t}");
    let clocks = |q: &Value, key: &str| {
        let item = &q["items"][0];
        (
            item["due"].clone(),
            item["overdue"].clone(),
            item[key].clone(),
        )
    };
    for (advance, overdue) in [(0, false), (3 * 86_400_000, true)] {
        w.t.clock.advance(advance);
        let u = w.get("/api/unblock-requests", &w.reviewer).await;
        let q = w.get("/api/tickets", &w.reviewer).await;
        assert_eq!(q["items"][0]["id"], t["id"], "{q}");
        assert_eq!(q["items"][0]["overdue"], overdue, "{q}");
        assert_eq!(
            clocks(&q, "working_ms_left"),
            clocks(&u, "working_ms_left"),
            "tickets: {q}\nunblock requests: {u}"
        );
    }
    w.t.stop().await;
}

/// Whether `text` contains a spec id such as `LIFE-1` (capitals, a dash, a digit).
fn has_spec_id(text: &str) -> Option<String> {
    let b = text.as_bytes();
    (0..b.len()).find_map(|i| {
        let caps = b[i..].iter().take_while(|c| c.is_ascii_uppercase()).count();
        let starts = i == 0 || !b[i - 1].is_ascii_uppercase();
        (starts
            && caps > 0
            && b.get(i + caps) == Some(&b'-')
            && b.get(i + caps + 1).is_some_and(u8::is_ascii_digit))
        .then(|| text[i..i + caps + 2].to_string())
    })
}

/// An English sentence inside a Chinese text: three or more ASCII words in a row (a URL or
/// an id is one token, not a word).
fn english_sentence(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii() || c == '\n')
        .find(|run| {
            let mut words = 0;
            for token in run.split(' ') {
                let w = token.trim_matches(|c: char| c.is_ascii_punctuation());
                words = if w.len() > 1 && w.chars().all(|c| c.is_ascii_alphabetic()) {
                    words + 1
                } else {
                    0
                };
                if words >= 3 {
                    return true;
                }
            }
            false
        })
        .map(str::to_string)
}

/// Checks a notice: resource name and id, action in words and not as a code, no spec ids, no
/// English sentences in a zh-CN body, and the advice: `yes` must appear, `no` must not.
fn check_notice(n: &Value, zh: bool, action: (&str, &str), yes: &[&str], no: &[&str]) {
    let body = n["body"].as_str().unwrap();
    let title = n["title"].as_str().unwrap();
    let all = format!("{title}\n{body}");
    let (words, code) = action;
    for part in [RESOURCE_NAME, "web-1", words].iter().chain(yes) {
        assert!(all.contains(part), "notice lacks {part:?}:\n{all}");
    }
    for part in [code].iter().chain(no) {
        assert!(!all.contains(part), "notice has {part:?}:\n{all}");
    }
    assert_eq!(has_spec_id(&all), None, "spec id in the notice:\n{all}");
    if zh {
        assert_eq!(
            english_sentence(&all),
            None,
            "English in the zh-CN notice:\n{all}"
        );
    }
}

const RESOURCE_NAME: &str = "商城主站";

/// Regression (NOT-1, UNB-1, UNB-4): inbox notices named the resource by id and the action by
/// code (`block_url`), the zh-CN body carried English and spec ids ("说明：LIFE-1: general first
/// offence…"), and a serious case's notice still advised self-service unblock. Notices now name
/// the resource by name and id and the action in words, carry no spec ids, and advise only what
/// applies: nothing to unblock while alerting, self-service once a general first offence is
/// enforced, no console unblock for a serious case — a ticket where a reviewer can lift, and
/// neither where the action is never lifted (禁止解封).
async fn regression_notices_name_resource_and_action_in_words_and_advise_what_applies(
    engine: Engine,
) {
    for lang in ["zh-CN", "en"] {
        let zh = lang == "zh-CN";
        let Some(w) = world(engine, fresh()).await else {
            return;
        };
        let (s, _) =
            w.t.call(
                "PATCH",
                "/api/accounts/acme",
                Some(&w.t.admin),
                Some(&json!({ "lang": lang })),
            )
            .await;
        assert_eq!(s, 200);
        let (s, r) =
            w.t.call(
                "PATCH",
                "/api/resources/web-1",
                Some(&w.t.admin),
                Some(&json!({ "name": RESOURCE_NAME })),
            )
            .await;
        assert_eq!(s, 200, "{r}");
        let (self_service, ticket, never, serious_words) = if zh {
            ("自助解封", "工单", "禁止解封", "严重违规")
        } else {
            ("self-service", "ticket", "never lifted", "Serious cases")
        };
        let url_blocked = if zh {
            ("阻断URL", "block_url")
        } else {
            ("URL blocked", "block_url")
        };

        // A general first offence: alerting (nothing to unblock yet), then enforced
        // (self-service unblock applies).
        let case = w.enforced_general().await;
        let inbox = w.inbox().await;
        assert_eq!(inbox[0]["template"], "case.alerting");
        check_notice(&inbox[0], zh, url_blocked, &[], &[self_service, ticket]);
        assert_eq!(inbox[1]["template"], "case.enforced");
        check_notice(&inbox[1], zh, url_blocked, &[self_service], &[ticket]);
        assert_eq!(w.case(&case).await["state"], "enforced");

        // Serious, on cvm: block_network is never lifted; neither self-service nor a ticket.
        let serious = w.report_on(&format!("{}?casino", w.url), "gambling").await;
        assert_eq!(w.confirm(&serious, json!({})).await.1["state"], "enforced");
        let n = w.inbox().await.last().unwrap().clone();
        let network = if zh {
            ("阻断网络", "block_network")
        } else {
            ("network access blocked", "block_network")
        };
        check_notice(
            &n,
            zh,
            network,
            &[serious_words, never],
            &[self_service, ticket],
        );

        // Serious, on cdn: domain_offline can be lifted by a reviewer on a ticket.
        let (s, r) = w
            .post(
                "/api/resources",
                &w.t.admin,
                json!({ "id": "web-1-cdn", "name": RESOURCE_NAME, "account_id": "acme", "product": "cdn", "identifiers": [{ "kind": "domain", "value": "cdn.acme.example" }] }),
            )
            .await;
        assert_eq!(s, 201, "{r}");
        let cdn = w
            .report_on("https://cdn.acme.example/casino", "gambling")
            .await;
        assert_eq!(w.confirm(&cdn, json!({})).await.1["state"], "enforced");
        let n = w.inbox().await.last().unwrap().clone();
        let offline = if zh {
            ("加速域名下线", "domain_offline")
        } else {
            ("acceleration domain taken offline", "domain_offline")
        };
        check_notice(
            &n,
            zh,
            offline,
            &[serious_words, ticket],
            &[self_service, never],
        );
        w.t.stop().await;
    }
}

/// The anonymous 451 notice page for `case`: status and body.
async fn notice_page(w: &World, case: &str) -> (u16, Value) {
    w.t.call(
        "GET",
        &format!("/api/enforcement/notice?case={case}"),
        None,
        None,
    )
    .await
}

/// Regression (ENF-1): the anonymous 451 page, given the id of a case that blocks nothing
/// (alerting, dismissed, lifted), showed its category. Such a case now answers exactly as an
/// unknown one; a case in force still gets its notice.
async fn regression_notice_page_of_a_case_that_blocks_nothing_is_the_unknown_case_page(
    engine: Engine,
) {
    let Some(w) = world(engine, fresh()).await else {
        return;
    };
    let unknown = notice_page(&w, "case_unknown").await;
    assert_eq!(unknown.0, 451);

    let alerting = w.report("porn_vulgar").await;
    w.confirm(&alerting, json!({ "markers": ["色情视频"] }))
        .await;
    assert_eq!(notice_page(&w, &alerting).await, unknown, "alerting");

    let dismissed = w.report_on(&format!("{}?other", w.url), "spam_ads").await;
    let (s, _) = w
        .post(
            &format!("/api/cases/{dismissed}/dismiss"),
            &w.op,
            json!({ "reason": "not spam" }),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(notice_page(&w, &dismissed).await, unknown, "dismissed");

    w.t.clock.advance(GRACE_MS + 1000);
    w.wait_state(&alerting, "enforced").await;
    w.penalties(&alerting).await;
    let blocked = notice_page(&w, &alerting).await;
    assert_eq!(blocked.0, 451);
    assert!(
        blocked.1.as_str().unwrap().contains("色情低俗")
            && blocked.1.as_str().unwrap().contains(&alerting),
        "a case in force gets its notice: {blocked:?}"
    );

    *w.page.lock().unwrap() = "<html>花店</html>".into();
    let (s, r) = w.self_unblock(&alerting, true).await;
    assert_eq!(s, 201, "{r}");
    // The index drops the rule within a poll.
    w.penalties(&alerting).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(notice_page(&w, &alerting).await, unknown, "lifted");
    w.t.stop().await;
}

/// Regression (LIFE-1, TAX-3, docs): docs/api.md walked a newcomer through "a general first
/// offence becomes alerting" with a gambling report, but gambling's base severity is serious, so
/// it is enforced at once. The walk-through's report category (the first report in the tour)
/// must have base severity general in `GET /api/taxonomy`, and such a report, confirmed as the
/// account's first offence, must start alerting as the tour says.
async fn regression_api_walkthrough_first_offence_is_a_general_category(engine: Engine) {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/api.md"),
    )
    .unwrap();
    let category = doc
        .split("\"category\": \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let Some(w) = world(engine, fresh()).await else {
        return;
    };
    let (_, tax) = w.t.call("GET", "/api/taxonomy", None, None).await;
    let row = tax["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == category.as_str())
        .unwrap_or_else(|| panic!("{category} is not in the taxonomy"))
        .clone();
    assert_eq!(
        row["base_severity"], "general",
        "the walk-through's {category} is not a general category: {row}"
    );
    let case = w.report(&category).await;
    let (s, c) = w.confirm(&case, json!({})).await;
    assert_eq!((s, c["state"].as_str()), (200, Some("alerting")), "{c}");
    w.t.stop().await;
}

/// Regression (DDOS-7): an operator's `blackhole` on a case whose target is a URL was accepted,
/// and the BGP export, having no IP to route, held nothing while the action read as applied. A
/// blackhole needs an IP: refused as a conflict that says so, nothing changed.
async fn regression_a_blackhole_on_a_url_case_read_as_applied_with_no_route(engine: Engine) {
    let Some(w) = world(engine, lifecycle(WorkCalendar::default())).await else {
        return;
    };
    let case = w.report("porn_vulgar").await;
    let before = w.case(&case).await;
    let (s, e) = w
        .post(
            &format!("/api/cases/{case}/enforce"),
            &w.op,
            json!({ "actions": ["block_url", "blackhole"], "reason": "flood" }),
        )
        .await;
    // The body is valid; the case is the wrong one for it.
    assert_eq!((s, e["code"].as_str()), (409, Some("conflict")), "{e}");
    assert!(e["message"].as_str().unwrap().contains("IP address"), "{e}");
    assert_eq!(
        w.case(&case).await["state"],
        before["state"],
        "nothing changed"
    );
    w.t.stop().await;
}

//! The rules beside the blackhole (issue 12): HARM-1 outbound floods and scans from a tenant IP
//! open harmful-behaviour cases (a flood restricted at once, one case however long it lasts);
//! ASMT-2 traffic inside an approved stress-test plan is no attack, outside it is; PEN-2 an
//! attack that harms a shared uplink's other tenants isolates the account (billing counted to
//! the isolation day) or waits for an operator; and several nodes' partial flows of one IP add
//! up to one decision: exactly one blackhole, whichever node crosses the line.

use std::sync::Arc;

use serde_json::{Value, json};
use warden_app::clock::Clock as _;
use warden_app::ddos::{DdosSettings, FlowRate};
use warden_app::ddos_rules::{HeldStressPlans, IsolationSettings, StressPlanRecord, Uplink};
use warden_app::{App, Settings};
use warden_domain::assessment::{AssessmentTarget, Plan};
use warden_domain::time::Timestamp;
use warden_store::{Store, StoreOptions};

use crate::both_engines;
use crate::support::{Engine, TestApp, spawn_app};

both_engines!(
    outbound_flood_and_scan_open_harm_cases,
    stress_test_inside_its_plan_is_no_attack,
    attack_harming_an_uplink_isolates_the_account,
    two_nodes_add_up_to_one_blackhole
);

const IP: &str = "203.0.113.40";
const GBPS: u64 = 1_000_000_000;

async fn setup(t: &TestApp) -> String {
    let (s, b) = t
        .call(
            "POST",
            "/api/accounts",
            Some(&t.admin),
            Some(&json!({ "id": "acme", "name": "Acme" })),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = t
        .call(
            "POST",
            "/api/resources",
            Some(&t.admin),
            Some(&json!({ "account_id": "acme", "product": "cvm", "identifiers": [{ "kind": "public_ip", "value": IP }] })),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    t.token("operator", None).await
}

fn rate(in_bps: u64, out_bps: u64, out_peers: u64) -> FlowRate {
    FlowRate {
        ip: IP.parse().unwrap(),
        in_bps,
        in_pps: in_bps / 8000,
        out_bps,
        out_pps: out_bps / 8000,
        out_peers,
        top_protocols: vec![(17, in_bps / 8)],
        top_sources: vec![("198.51.100.66".parse().unwrap(), in_bps / 8)],
    }
}

async fn cases_of(t: &TestApp, op: &str, category: &str) -> Vec<Value> {
    let (s, b) = t.call("GET", "/api/cases?limit=200", Some(op), None).await;
    assert_eq!(s, 200, "{b}");
    b["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["category"] == category)
        .cloned()
        .collect()
}

async fn penalties(t: &TestApp, op: &str, case: &str) -> Value {
    let (s, b) = t
        .call(
            "GET",
            &format!("/api/cases/{case}/penalties"),
            Some(op),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    b
}

fn action_codes(p: &Value) -> Vec<String> {
    p["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap().to_string())
        .collect()
}

fn now(t: &TestApp) -> Timestamp {
    t.clock.now()
}

/// HARM-1: a flood from the tenant's IP opens a `ddos_attack` case restricted at once with
/// `block_network`; the same flood a second later is the same case, not another report; a scan
/// (many distinct hosts) opens a `scanning` case left for an operator (triage).
async fn outbound_flood_and_scan_open_harm_cases(engine: Engine) {
    let Some(t) = spawn_app(engine, Settings::default()).await else {
        return;
    };
    let op = setup(&t).await;
    let r = t
        .app
        .ingest_flow_rates("n1", now(&t), 10, &[rate(0, 3 * GBPS, 0)])
        .await
        .unwrap();
    assert_eq!(r.rules.harm_cases.len(), 1, "{r:?}");
    let floods = cases_of(&t, &op, "ddos_attack").await;
    assert_eq!(floods.len(), 1, "{floods:?}");
    assert_eq!(floods[0]["target"], IP);
    assert_eq!(floods[0]["state"], "enforced", "{:?}", floods[0]);
    let p = penalties(&t, &op, floods[0]["id"].as_str().unwrap()).await;
    assert_eq!(action_codes(&p), ["block_network"], "{p}");

    t.clock.advance(1000);
    let again = t
        .app
        .ingest_flow_rates("n1", now(&t), 10, &[rate(0, 3 * GBPS, 0)])
        .await
        .unwrap();
    assert!(again.rules.harm_cases.is_empty(), "{again:?}");
    let floods = cases_of(&t, &op, "ddos_attack").await;
    assert_eq!(floods.len(), 1);
    assert_eq!(floods[0]["report_count"], 1, "one report per period");

    // Below the thresholds: nothing.
    let quiet = t
        .app
        .ingest_flow_rates("n1", now(&t), 10, &[rate(0, GBPS / 2, 999)])
        .await
        .unwrap();
    assert!(quiet.rules.harm_cases.is_empty());
    assert!(cases_of(&t, &op, "scanning").await.is_empty());

    let scan = t
        .app
        .ingest_flow_rates("n1", now(&t), 10, &[rate(0, 0, 4000)])
        .await
        .unwrap();
    assert_eq!(scan.rules.harm_cases.len(), 1);
    let scans = cases_of(&t, &op, "scanning").await;
    assert_eq!(scans.len(), 1);
    assert_eq!(
        scans[0]["state"], "reported",
        "an operator decides: {:?}",
        scans[0]
    );
    let (_, reports) = t
        .call(
            "GET",
            &format!("/api/cases/{}/reports", scans[0]["id"].as_str().unwrap()),
            Some(&op),
            None,
        )
        .await;
    let text = reports.to_string();
    assert!(text.contains("4000 distinct hosts"), "{text}");
    t.stop().await;
}

/// ASMT-2: inbound traffic above capacity inside an approved plan (window, peak, declared
/// sources) blackholes nothing; above the plan's peak, or from an undeclared source, it is an
/// attack whose evidence names the plan and the limit exceeded. Outbound traffic from a plan's
/// source inside its peak is no flood.
async fn stress_test_inside_its_plan_is_no_attack(engine: Engine) {
    let Some(t) = spawn_app(engine, Settings::default()).await else {
        return;
    };
    let op = setup(&t).await;
    let plans = Arc::new(HeldStressPlans::default());
    let start = now(&t).millis();
    let plan = |id: &str, targets: &str, sources: &str| StressPlanRecord {
        id: id.into(),
        targets: vec![AssessmentTarget::parse(targets).unwrap()],
        sources: vec![sources.parse().unwrap()],
        window_start: Timestamp(start),
        window_end: Timestamp(start + 3_600_000),
        plan: Plan {
            peak_bps: 5 * GBPS,
            peak_pps: 5 * GBPS / 8000,
            peak_rps: 0,
            method: "UDP load from the tenant's generators".into(),
            contact: "ops@example.com".into(),
            rollback_plan: "stop the generators".into(),
            attest_rights: true,
            attest_backups: false,
        },
    };
    // Inbound: IP is the target, the generators 198.51.100.64/28 the sources.
    plans.approve(plan("asm_in", IP, "198.51.100.64/28"));
    // Outbound: IP is the generator testing another resource of the tenant.
    plans.approve(plan("asm_out", "203.0.113.41", &format!("{IP}/32")));
    let app = t.app.clone().with_stress_plans(plans);
    let mut inside = rate(4 * GBPS, 4 * GBPS, 0);
    inside.top_sources = vec![("198.51.100.66".parse().unwrap(), GBPS)];
    let r = app
        .ingest_flow_rates("n1", now(&t), 10, &[inside.clone()])
        .await
        .unwrap();
    assert_eq!(r.within_plan, [IP], "{r:?}");
    assert!(r.blackholed.is_empty());
    assert!(r.rules.harm_cases.is_empty());
    assert!(cases_of(&t, &op, "ddos_attack").await.is_empty());

    // The same rate from a source the plan did not declare: an attack, and it says so.
    t.clock.advance(1000);
    let mut stranger = inside.clone();
    stranger.top_sources = vec![("192.0.2.77".parse().unwrap(), GBPS)];
    let r = app
        .ingest_flow_rates("n1", now(&t), 10, &[stranger])
        .await
        .unwrap();
    assert_eq!(
        r.blackholed.len(),
        1,
        "an undeclared source is an attack: {r:?}"
    );
    let events = t
        .app
        .store
        .list_audit(
            &warden_store::audit::AuditFilter {
                action: Some("blackhole.started".into()),
                ..Default::default()
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    let details: Value = serde_json::from_str(&events[0].details).unwrap();
    let sp = &details["evidence"]["stress_plan"];
    assert_eq!(sp["plan_id"], "asm_in", "{details}");
    assert_eq!(sp["exceeded"]["limit"], "source", "{details}");
    assert!(
        details["evidence"]["stress_plan_words"]
            .as_str()
            .unwrap()
            .contains("192.0.2.77, a source it did not declare"),
        "{details}"
    );

    // Outbound above the plan's peak: a flood, and the case says which limit.
    let r = app
        .ingest_flow_rates("n1", now(&t), 10, &[rate(0, 9 * GBPS, 0)])
        .await
        .unwrap();
    assert_eq!(r.rules.harm_cases.len(), 1, "{r:?}");
    let (_, reports) = t
        .call(
            "GET",
            &format!("/api/cases/{}/reports", r.rules.harm_cases[0]),
            Some(&op),
            None,
        )
        .await;
    assert!(
        reports
            .to_string()
            .contains("above its peak of 5000000000 bps"),
        "{reports}"
    );
    t.stop().await;
}

/// PEN-2: with `auto_isolate`, an attack whose traffic alone reaches the uplink's threshold is
/// blackholed and isolates the account: an especially serious `ddos_victim_impact` case with
/// `isolate_account`, billed to the isolation day. Without it, the case waits for an operator.
async fn attack_harming_an_uplink_isolates_the_account(engine: Engine) {
    let Some(t) = spawn_app(engine, Settings::default()).await else {
        return;
    };
    let op = setup(&t).await;
    let uplink = Uplink {
        name: "bj-edge-1".into(),
        prefixes: vec!["203.0.113.0/24".parse().unwrap()],
        threshold_bps: 20 * GBPS,
    };
    let propose = t.app.clone().with_ddos(DdosSettings {
        isolation: IsolationSettings {
            uplinks: vec![uplink.clone()],
            auto_isolate: false,
        },
        ..Default::default()
    });
    // Above capacity but below the uplink's threshold: a blackhole, no PEN-2 case.
    let r = propose
        .ingest_flow_rates("n1", now(&t), 10, &[rate(10 * GBPS, 0, 0)])
        .await
        .unwrap();
    assert_eq!(r.blackholed.len(), 1, "{r:?}");
    assert!(r.rules.isolation_cases.is_empty());
    t.clock.advance(1000);
    let r = propose
        .ingest_flow_rates("n1", now(&t), 10, &[rate(60 * GBPS, 0, 0)])
        .await
        .unwrap();
    assert_eq!(r.rules.isolation_cases.len(), 1, "{r:?}");
    let waiting = &r.rules.isolation_cases[0];
    let cases = cases_of(&t, &op, "ddos_victim_impact").await;
    let case = cases.iter().find(|c| c["id"] == waiting.as_str()).unwrap();
    assert_eq!(case["state"], "reported", "an operator decides: {case}");
    assert!(
        t.app
            .store
            .list_billing_records("acme")
            .await
            .unwrap()
            .is_empty(),
        "nothing billed before isolation"
    );
    // The operator dismisses it; with auto_isolate the next one isolates at once.
    let (s, b) = t
        .call(
            "POST",
            &format!("/api/cases/{waiting}/dismiss"),
            Some(&op),
            Some(&json!({ "reason": "uplink had headroom" })),
        )
        .await;
    assert_eq!(s, 200, "{b}");

    let auto = t.app.clone().with_ddos(DdosSettings {
        isolation: IsolationSettings {
            uplinks: vec![uplink],
            auto_isolate: true,
        },
        ..Default::default()
    });
    t.clock.advance(31 * 60_000);
    let r = auto
        .ingest_flow_rates("n1", now(&t), 10, &[rate(60 * GBPS, 0, 0)])
        .await
        .unwrap();
    assert_eq!(r.rules.isolation_cases.len(), 1, "{r:?}");
    let id = &r.rules.isolation_cases[0];
    let p = penalties(&t, &op, id).await;
    assert_eq!(p["level"], "especially_serious", "{p}");
    assert!(
        action_codes(&p).contains(&"isolate_account".to_string()),
        "{p}"
    );
    let billing = t.app.store.list_billing_records("acme").await.unwrap();
    assert_eq!(billing.len(), 1, "{billing:?}");
    assert_eq!(billing[0].2, "ddos_isolation");
    assert!(billing[0].3.contains("isolation day"), "{billing:?}");
    let day = &now(&t).to_rfc3339()[..10];
    assert!(billing[0].3.contains(day), "{billing:?}");
    t.stop().await;
}

/// Scale: two nodes on one database each see half of an attack (below the capacity alone,
/// above it together): their partial views add up in the shared minutes, and exactly one
/// blackhole starts — the node whose tick crosses the line decides, the other finds it active.
async fn two_nodes_add_up_to_one_blackhole(engine: Engine) {
    let Some(t) = spawn_app(engine, Settings::default()).await else {
        return;
    };
    let op = setup(&t).await;
    let store = Store::open(&StoreOptions::new(&t.db_url)).await.unwrap();
    let other = App::for_tests(
        store,
        t.clock.clone(),
        warden_app::crypto::Sealer::from_key(&[3; 32]),
        Settings::default(),
    );
    // Each node alone: 1.5 Gbps, under the 2 Gbps basic capacity.
    let half = rate(3 * GBPS / 2, 0, 0);
    let a = t
        .app
        .ingest_flow_rates("node-a", now(&t), 10, std::slice::from_ref(&half))
        .await
        .unwrap();
    assert!(a.blackholed.is_empty(), "{a:?}");
    let (a2, b) = tokio::join!(
        t.app
            .ingest_flow_rates("node-a", now(&t), 10, std::slice::from_ref(&half)),
        other.ingest_flow_rates("node-b", now(&t), 10, std::slice::from_ref(&half)),
    );
    let (a2, b) = (a2.unwrap(), b.unwrap());
    assert_eq!(
        a2.blackholed.len() + b.blackholed.len(),
        1,
        "exactly one node starts it: {a2:?} {b:?}"
    );
    let (_, list) = t.call("GET", "/api/blackholes", Some(&op), None).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["ip"], IP);
    // The chart shows the sum of the nodes, not either half.
    let (_, traffic) = t
        .call("GET", &format!("/api/ips/{IP}/traffic"), Some(&op), None)
        .await;
    let minute = traffic["minutes"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(minute["in_bps_avg"], 3 * GBPS, "{minute}");
    t.stop().await;
}

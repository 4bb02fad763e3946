//! DDoS and blackholes through the HTTP API (issue 12; DDOS-1..5): samples above capacity
//! blackhole an IP for 2 h with a notice and an enforcement change; at the planned end it lifts
//! when the attack is over, and is extended while it goes on or nothing is known; an upgrade
//! covering the peak releases it at once, a short one is kept with the shortfall named; the
//! self-service quota; tenant isolation; bad input is a 422 naming the field.

use serde_json::{Value, json};
use warden_app::Settings;
use warden_app::clock::Clock as _;

use crate::both_engines;
use crate::support::{Engine, T0, TestApp, spawn_app_with};

both_engines!(blackhole_story);

const IP: &str = "203.0.113.5";
const GBPS: u64 = 1_000_000_000;

async fn setup(t: &TestApp) -> (String, String, String) {
    for (id, ip) in [("acme", IP), ("other", "198.51.100.7")] {
        t.call(
            "POST",
            "/api/accounts",
            Some(&t.admin),
            Some(&json!({ "id": id, "name": id })),
        )
        .await;
        let (s, b) = t
            .call(
                "POST",
                "/api/resources",
                Some(&t.admin),
                Some(&json!({ "account_id": id, "product": "cvm", "identifiers": [{ "kind": "public_ip", "value": ip }] })),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    (
        t.token("detector", None).await,
        t.token("tenant", Some("acme")).await,
        t.token("tenant", Some("other")).await,
    )
}

async fn samples(t: &TestApp, det: &str, bps: u64) -> Value {
    let now = t.clock.now().millis();
    let s: Vec<Value> = (0..5)
        .map(|i| json!({ "ip": IP, "at": at(now - i * 1000), "in_bps": bps, "in_pps": bps / 1000 }))
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

/// A sample's time as the API takes it: RFC 3339 text.
fn at(ms: i64) -> String {
    warden_domain::time::Timestamp(ms).to_rfc3339()
}

async fn active(t: &TestApp, tenant: &str) -> Vec<Value> {
    let (s, b) = t
        .call("GET", "/api/blackholes?active=true", Some(tenant), None)
        .await;
    assert_eq!(s, 200, "{b}");
    b["items"].as_array().unwrap().clone()
}

/// Advances to the planned end and waits for the worker to run the timer.
async fn planned_end(t: &TestApp, tenant: &str, id: &str) -> Value {
    let (_, b) = t.call("GET", "/api/blackholes", Some(tenant), None).await;
    let bh = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == id)
        .unwrap()
        .clone();
    let end =
        warden_domain::time::Timestamp::parse_rfc3339(bh["planned_end"].as_str().unwrap()).unwrap();
    t.clock.advance(end.millis() - t.clock.now().millis());
    t.app.job_wakeup.notify_waiters();
    for _ in 0..200 {
        let (_, b) = t.call("GET", "/api/blackholes", Some(tenant), None).await;
        let now = b["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .unwrap()
            .clone();
        if now["state"] != "active" || now["planned_end"] != bh["planned_end"] {
            return now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the timer of {id} did not run");
}

async fn blackhole_story(engine: Engine) {
    let Some(t) = spawn_app_with(
        engine,
        Settings::default(),
        warden_app::lifecycle::LifecycleSettings::default(),
        true,
    )
    .await
    else {
        return;
    };
    let (det, acme, other) = setup(&t).await;

    // Bad input: a 422 naming the field; unknown IPs are counted, not refused.
    let (s, b) = t
        .call(
            "POST",
            "/api/telemetry",
            Some(&det),
            Some(&json!({ "samples": [{ "ip": "nope", "at": at(T0), "in_bps": 1, "in_pps": 1 }] })),
        )
        .await;
    assert_eq!(s, 422, "{b}");
    assert!(b.to_string().contains("samples[0].ip"), "{b}");
    let (s, b) = t
        .call(
            "POST",
            "/api/telemetry",
            Some(&det),
            Some(&json!({ "samples": [] })),
        )
        .await;
    assert_eq!(s, 422, "{b}");
    let (s, b) = t
        .call(
            "POST",
            "/api/telemetry",
            Some(&det),
            Some(
                &json!({ "samples": [{ "ip": "192.0.2.99", "at": at(T0), "in_bps": 1, "in_pps": 1 }] }),
            ),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["unknown_ip"], 1);

    // Within capacity: nothing. Above: blackholed for 2 h.
    samples(&t, &det, GBPS).await;
    assert!(active(&t, &acme).await.is_empty());
    // The window averages: past it, the quiet samples no longer count.
    t.clock.advance(120_000);
    let r = samples(&t, &det, 3 * GBPS).await;
    assert_eq!(r["blackholed"].as_array().unwrap().len(), 1, "{r}");
    let bh = active(&t, &acme).await.remove(0);
    let id = bh["id"].as_str().unwrap().to_string();
    let end = warden_domain::time::Timestamp::parse_rfc3339(bh["planned_end"].as_str().unwrap());
    assert_eq!(
        end.unwrap().millis() - t.clock.now().millis(),
        2 * 3_600_000
    );
    let (_, n) = t.call("GET", "/api/notices", Some(&acme), None).await;
    assert!(n.to_string().contains("blackhole.started"), "{n}");
    let (_, ch) = t
        .call(
            "GET",
            "/api/enforcement/changes?since=0",
            Some(&t.admin),
            None,
        )
        .await;
    assert!(ch.to_string().contains("\"blackhole\""), "{ch}");
    assert!(ch.to_string().contains(IP), "{ch}");

    // Another tenant sees none of it.
    assert!(active(&t, &other).await.is_empty());
    let (s, _) = t
        .call(
            "GET",
            &format!("/api/ips/{IP}/protection"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = t
        .call(
            "POST",
            &format!("/api/blackholes/{id}/release"),
            Some(&other),
            Some(&json!({})),
        )
        .await;
    assert_eq!(s, 404);

    // No data at the planned end: extended.
    let now = planned_end(&t, &acme, &id).await;
    assert_eq!(now["state"], "active", "{now}");
    assert_eq!(now["extensions"], 1);
    // Still attacked: extended again.
    samples(&t, &det, 3 * GBPS).await;
    let now = planned_end(&t, &acme, &id).await;
    assert_eq!(now["extensions"], 2, "{now}");

    // A short upgrade is kept, with the shortfall; a covering one releases at once.
    let (s, b) = t
        .call("PUT", &format!("/api/ips/{IP}/protection"), Some(&acme), Some(&json!({ "protection": { "kind": "high_defense", "capacity_bps": 2_500_000_000_u64 } })))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["released"], false);
    assert_eq!(b["shortfall_bps"], 500_000_000);
    assert_eq!(b["capacity_bps"], 2_500_000_000_u64);
    let (s, b) = t
        .call(
            "PUT",
            &format!("/api/ips/{IP}/protection"),
            Some(&acme),
            Some(&json!({ "protection": { "kind": "high_defense", "capacity_bps": 4 * GBPS } })),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["released"], true, "{b}");
    assert_eq!(b["history"].as_array().unwrap().len(), 2);
    let (s, b) = t
        .call(
            "PUT",
            &format!("/api/ips/{IP}/protection"),
            Some(&acme),
            Some(&json!({ "protection": { "kind": "high_defense" } })),
        )
        .await;
    assert_eq!(s, 422, "{b}");

    // Back to basic. Attack over at the planned end: released and withdrawn.
    t.call(
        "PUT",
        &format!("/api/ips/{IP}/protection"),
        Some(&acme),
        Some(&json!({ "protection": { "kind": "basic" } })),
    )
    .await;
    t.clock.advance(60_000);
    samples(&t, &det, 3 * GBPS).await;
    let id = active(&t, &acme).await.remove(0)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let bh = active(&t, &acme).await.remove(0);
    let end = warden_domain::time::Timestamp::parse_rfc3339(bh["planned_end"].as_str().unwrap());
    // Quiet samples just before the planned end (within the window).
    t.clock
        .advance(end.unwrap().millis() - t.clock.now().millis() - 10_000);
    samples(&t, &det, GBPS / 2).await;
    let now = planned_end(&t, &acme, &id).await;
    assert_eq!(now["state"], "released", "{now}");
    assert_eq!(now["released_by"], "expired");
    let (_, ch) = t
        .call(
            "GET",
            "/api/enforcement/changes?since=0",
            Some(&t.admin),
            None,
        )
        .await;
    assert!(ch.to_string().contains("\"lift\""), "{ch}");
    // The record is lifted too, not only the change logged: nothing holds it in force any more
    // (reconciliation would otherwise send it again).
    let case = now["case_id"].as_str().unwrap();
    let (s, pen) = t
        .call(
            "GET",
            &format!("/api/cases/{case}/penalties"),
            Some(&t.admin),
            None,
        )
        .await;
    assert_eq!(s, 200, "{pen}");
    let blackhole = pen["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "blackhole")
        .unwrap_or_else(|| panic!("no blackhole record: {pen}"));
    assert_eq!(blackhole["desired"], "lifted", "{pen}");

    // Self-service: a failed attempt (attack on) does not count; three succeed; the fourth is
    // refused naming the reset time.
    for round in 0..4 {
        t.clock.advance(60_000);
        samples(&t, &det, 3 * GBPS).await;
        let id = active(&t, &acme).await.remove(0)["id"]
            .as_str()
            .unwrap()
            .to_string();
        let path = format!("/api/blackholes/{id}/release");
        if round == 0 {
            let (s, b) = t.call("POST", &path, Some(&acme), Some(&json!({}))).await;
            assert_eq!(s, 200, "{b}");
            assert_eq!(b["released"], false, "{b}");
            assert_eq!(b["quota"]["remaining"], 3, "{b}");
        }
        t.clock.advance(120_000);
        samples(&t, &det, GBPS / 2).await;
        let (s, b) = t.call("POST", &path, Some(&acme), Some(&json!({}))).await;
        if round < 3 {
            assert_eq!(s, 200, "{b}");
            assert_eq!(b["released"], true, "{b}");
        } else {
            assert_eq!(s, 409, "{b}");
            assert!(b.to_string().contains("self_release_quota_used"), "{b}");
            assert!(b.to_string().contains("resets"), "{b}");
            // An operator releases it, with a reason.
            let op = t.token("operator", None).await;
            let (s, b) = t.call("POST", &path, Some(&op), Some(&json!({}))).await;
            assert_eq!(s, 403, "{b}");
            let (s, b) = t
                .call(
                    "POST",
                    &path,
                    Some(&op),
                    Some(&json!({ "reason": "customer call" })),
                )
                .await;
            assert_eq!(s, 200, "{b}");
            assert_eq!(b["released"], true);
        }
    }
    t.stop().await;
}

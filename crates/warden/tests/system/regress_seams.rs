//! Regressions of the typed seams (issue 9, item 1): transitions all go through the lifecycle's
//! `decide`, and each writes its one audit event (LIFE-5, INT-5).

use serde_json::{Value, json};
use warden_app::Settings;

use crate::both_engines;
use crate::enforcement::{seed_case, until};
use crate::support::{Engine, spawn_app_with};

both_engines!(regression_auto_confirm_writes_one_confirm_event);

/// INT-5: a trusted detector's sure detection used to set the case `confirmed` by hand and write
/// `case.confirm`, and the grading job then wrote a second `case.confirm`. Now the acceptance goes
/// through `decide` (one `case.confirm`, reported → confirmed) and the grading is `case.grade`
/// (confirmed → alerting for a general first offence, LIFE-1).
async fn regression_auto_confirm_writes_one_confirm_event(engine: Engine) {
    let lifecycle = warden_app::lifecycle::LifecycleSettings::default();
    let Some(t) = spawn_app_with(engine, Settings::default(), lifecycle, true).await else {
        return;
    };
    let (op, _) = seed_case(
        &t,
        "cvm",
        "acme.example",
        "https://acme.example/other",
        "spam_ads",
    )
    .await;
    let det = t.token("detector", None).await;
    let (s, r) = t
        .call(
            "POST",
            "/api/reports",
            Some(&det),
            Some(&json!({ "target": "https://acme.example/ads", "category": "spam_ads", "confidence": 0.97 })),
        )
        .await;
    assert_eq!(
        (s, r["case_state"].as_str()),
        (201, Some("confirmed")),
        "{r}"
    );
    let case = r["case_id"].as_str().unwrap().to_string();
    until("graded", async || {
        let (_, c) = t
            .call("GET", &format!("/api/cases/{case}"), Some(&op), None)
            .await;
        c["state"] == "alerting"
    })
    .await;
    let (_, h) = t
        .call(
            "GET",
            &format!("/api/cases/{case}/history"),
            Some(&op),
            None,
        )
        .await;
    let steps: Vec<(&str, &str, &str)> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().is_some_and(|a| a.starts_with("case.")))
        .map(|e: &Value| {
            (
                e["action"].as_str().unwrap_or_default(),
                e["from"].as_str().unwrap_or_default(),
                e["to"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("case.confirm", "reported", "confirmed"),
            ("case.grade", "confirmed", "alerting")
        ],
        "{h}"
    );
    t.stop().await;
}

//! Content detection through the API (DET-1..3): scans of text and pages, and lexicon changes
//! that take effect on the next scan without a restart.

use serde_json::json;
use warden_app::Settings;

use crate::both_engines;
use crate::support::{Engine, spawn_app};

both_engines!(
    lexicon_changes_apply_without_restart,
    pages_are_fetched_decoded_and_scanned
);

/// DET-1: a lexicon change through the API affects the next verdict; verdicts record the version.
async fn lexicon_changes_apply_without_restart(engine: Engine) {
    let Some(t) = spawn_app(engine, Settings::default()).await else {
        return;
    };
    let op = t.token("operator", None).await;
    let text = json!({ "text": "今晚 Z o r b l a x 大奖等你" });
    let (s, v) = t.call("POST", "/api/scan", Some(&op), Some(&text)).await;
    assert_eq!(s, 200, "{v}");
    let v0 = v["verdict"]["lexicon_version"].as_u64().unwrap();
    assert!(
        v["verdict"]["categories"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["category"] != "gambling"),
        "{v}"
    );
    let (s, c) = t
        .call(
            "POST",
            "/api/lexicon/terms",
            Some(&op),
            Some(&json!({ "category": "gambling", "term": "zorblax", "weight": 2.0 })),
        )
        .await;
    assert_eq!(s, 200, "{c}");
    let v1 = c["version"].as_u64().unwrap();
    assert!(v1 > v0);
    let (_, v) = t.call("POST", "/api/scan", Some(&op), Some(&text)).await;
    assert_eq!(v["verdict"]["lexicon_version"].as_u64(), Some(v1), "{v}");
    let gambling = v["verdict"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == "gambling")
        .cloned()
        .unwrap();
    assert_eq!(
        gambling["hits"][0]["original"], "Z o r b l a x",
        "offsets point into the original text: {gambling}"
    );
    let (_, c) = t
        .call(
            "POST",
            "/api/lexicon/terms/remove",
            Some(&op),
            Some(&json!({ "category": "gambling", "term": "zorblax" })),
        )
        .await;
    let (_, v) = t.call("POST", "/api/scan", Some(&op), Some(&text)).await;
    assert_eq!(v["verdict"]["lexicon_version"], c["version"]);
    assert!(
        v["verdict"]["categories"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["category"] != "gambling"),
        "{v}"
    );
    // Bad input names the field and changes nothing.
    let (s, e) = t
        .call(
            "POST",
            "/api/lexicon/terms",
            Some(&op),
            Some(&json!({ "category": "ddos_attack", "term": "x" })),
        )
        .await;
    assert_eq!((s, e["details"]["field"].as_str()), (422, Some("category")));
    let (s, e) = t
        .call("POST", "/api/scan", Some(&op), Some(&json!({})))
        .await;
    assert_eq!((s, e["details"]["field"].as_str()), (422, Some("text")));
    let (_, l) = t.call("GET", "/api/lexicon", Some(&op), None).await;
    assert_eq!(l["version"], c["version"]);
    assert!(
        l["terms_per_category"]["gambling"].as_u64().unwrap() >= 60,
        "{}",
        l["terms_per_category"]
    );
    t.stop().await;
}

/// DET-2: a GBK page is fetched, decoded and scanned; the evidence names what was seen.
async fn pages_are_fetched_decoded_and_scanned(engine: Engine) {
    let Some(t) = spawn_app(engine, Settings::default()).await else {
        return;
    };
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/gbk", l.local_addr().unwrap());
    tokio::spawn(async move {
        let app = axum::Router::new().route(
            "/big5",
            axum::routing::get(|| async {
                let (b, _, _) = encoding_rs::BIG5.encode("<html><head><meta charset=\"big5\"></head><body>線上賭場 百家樂</body></html>");
                ([("content-type", "text/html")], b.into_owned())
            }),
        ).route(
            "/gbk",
            axum::routing::get(|| async {
                let (b, _, _) = encoding_rs::GBK.encode(
                    "<html><title>首页</title><body><p>澳门 赌 场 在线开户</p></body></html>",
                );
                ([("content-type", "text/html; charset=gbk")], b.into_owned())
            }),
        );
        axum::serve(l, app).await.unwrap()
    });
    let det = t.token("detector", None).await;
    let (s, v) = t
        .call(
            "POST",
            "/api/scan",
            Some(&det),
            Some(&json!({ "url": url })),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["fetched"]["charset"], "GBK");
    assert!(
        v["verdict"]["categories"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["category"] == "gambling"),
        "{v}"
    );
    // Big5, traditional characters: decoded, folded to simplified, detected, and the hit shows
    // what the page really said.
    let (s, v) = t
        .call(
            "POST",
            "/api/scan",
            Some(&det),
            Some(&json!({ "url": url.replace("/gbk", "/big5") })),
        )
        .await;
    assert_eq!(
        (s, v["fetched"]["charset"].as_str()),
        (200, Some("Big5")),
        "{v}"
    );
    let g = v["verdict"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == "gambling")
        .cloned()
        .unwrap();
    assert!(
        g["hits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["original"] == "賭場"),
        "{g}"
    );
    let (s, e) = t
        .call(
            "POST",
            "/api/scan",
            Some(&det),
            Some(&json!({ "url": "http://169.254.169.254/latest/meta-data/" })),
        )
        .await;
    assert_eq!(
        (s, e["details"]["field"].as_str()),
        (422, Some("url")),
        "{e}"
    );
    assert!(e["message"].as_str().unwrap().contains("non-public"), "{e}");
    t.stop().await;
}

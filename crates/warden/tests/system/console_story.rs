//! The console's story in a real Chromium (issue 10 acceptance), once in zh-CN and once in en:
//! a reporter files through the public form → an operator confirms a general case → the tenant
//! sees the countdown → the (short) deadline passes with the content still there → blocked →
//! self-service fails naming the URL → the tenant fixes the page → self-service succeeds →
//! lifted. A screenshot of each step is saved under `target/screenshots/`.

use warden_app::Settings;
use warden_domain::calendar::WorkCalendar;
use warden_domain::identity::Role;

use crate::browser::Browser;
use crate::console::{PASSWORD, user};
use crate::lifecycle::{GRACE_MS, lifecycle, world_with};
use crate::support::Engine;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_story_in_chinese() {
    story("zh-CN").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_story_in_english() {
    story("en").await;
}

async fn sign_in(b: &Browser, base: &str, login: &str) {
    b.delete_cookies().await;
    b.goto(&format!("{base}/login")).await;
    b.find("#login").await.send_keys(login).await;
    b.find("#password").await.send_keys(PASSWORD).await;
    b.find("#sign-in").await.click().await;
    b.find("[data-testid=signed-in]").await;
}

async fn story(lang: &str) {
    let Some(b) = Browser::start(lang).await else {
        return;
    };
    let mut settings = Settings::default();
    settings.sessions.secure_cookies = false; // plain HTTP on loopback
    let w = world_with(Engine::Sqlite, settings, lifecycle(WorkCalendar::default()))
        .await
        .unwrap();
    let base = w.t.base.clone();
    user(&w.t, "tina", Role::Tenant, Some("acme")).await;
    user(&w.t, "olga", Role::Operator, None).await;
    let shot = |step: &str| format!("console-{lang}-{step}");
    let zh = lang == "zh-CN";

    // 1. A reporter files through the public form, in the page language.
    b.goto(&format!("{base}/report")).await;
    assert_eq!(
        b.find("html").await.attr("lang").await.as_deref(),
        Some(if zh { "zh-CN" } else { "en" })
    );
    b.find("#target").await.send_keys(&w.url).await;
    b.find("#category").await.select_option("porn_vulgar").await;
    b.find("#description")
        .await
        .send_keys("色情视频 on this page")
        .await;
    b.find("#submit-report").await.click().await;
    let report_id = b.find("#report-id").await.text().await;
    assert!(report_id.starts_with("rep_"), "{report_id}");
    b.screenshot(&shot("1-reported")).await;

    // 2. An operator finds it in the triage queue and confirms it as a general case.
    sign_in(&b, &base, "olga").await;
    b.goto(&format!("{base}/staff")).await;
    b.wait_for_text(&w.url).await;
    b.screenshot(&shot("2-triage")).await;
    b.find("#triage tbody a").await.click().await;
    b.find("#markers").await.send_keys("色情视频").await;
    b.find("#confirm").await.click().await;
    b.find("#flash").await;
    let state = b.find("#case-state").await.attr("data-state").await;
    assert_eq!(state.as_deref(), Some("alerting"));
    let case_url = b.current_url().await;
    let case_id = case_url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    b.screenshot(&shot("3-confirmed")).await;

    // 3. The tenant sees the case counting down to its deadline.
    sign_in(&b, &base, "tina").await;
    b.goto(&format!("{base}/console")).await;
    let left = b.find("#open-cases .left").await.text().await;
    assert!(
        left.contains(if zh { "剩余" } else { "left" }),
        "no countdown: {left}"
    );
    b.screenshot(&shot("4-countdown")).await;

    // 4. The deadline passes with the content still there: blocked.
    w.t.clock.advance(GRACE_MS + 1000);
    w.wait_state(&case_id, "enforced").await;
    w.penalties(&case_id).await;
    // An hour passed: the idle session ended, so the tenant signs in again.
    b.goto(&format!("{base}/console")).await;
    assert!(b.current_url().await.contains("ended=1"));
    sign_in(&b, &base, "tina").await;
    b.goto(&format!("{base}/console/cases/{case_id}")).await;
    assert_eq!(
        b.find("#case-state")
            .await
            .attr("data-state")
            .await
            .as_deref(),
        Some("enforced")
    );
    b.screenshot(&shot("5-blocked")).await;

    // 5. Self-service unblock while the page still violates: fails, naming the URL.
    b.find("#commitment").await.click().await;
    b.find("#self-unblock").await.click().await;
    b.find("#flash").await;
    let urls = b.find_all(".still-violating").await;
    assert_eq!(urls.len(), 1);
    assert_eq!(urls[0].text().await, w.url);
    assert!(
        b.exists("#manual-unblock").await,
        "manual unblock is offered after a failure"
    );
    b.screenshot(&shot("6-self-unblock-failed")).await;

    // 6. The tenant fixes the page; self-service unblock succeeds and lifts the case.
    *w.page.lock().unwrap() = "<html><body>已整改 fixed</body></html>".into();
    b.find("#commitment").await.click().await;
    b.find("#self-unblock").await.click().await;
    b.find("#flash").await;
    assert_eq!(
        b.find("#case-state")
            .await
            .attr("data-state")
            .await
            .as_deref(),
        Some("lifted")
    );
    b.screenshot(&shot("7-lifted")).await;
    // No untranslated key anywhere on the way.
    assert!(!b.source().await.contains('⟦'));
    b.quit().await;
    w.t.stop().await;
}

//! Notices leave Warden (issue 11; NOT-1, NOT-2, NOT-3): every inbox notice also goes by e-mail
//! to a real SMTP server (aiosmtpd on 127.0.0.1, `python3-aiosmtpd`) and, where routed, by SMS to
//! a gateway stub that checks the signature and the length; mails survive the server being
//! down (retried, none lost, none twice), a dead letter is visible and re-driven; the reminder
//! goes out before the deadline of an unrectified case and not for one rectified first.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_app::Settings;
use warden_app::outbound::NoticeSettings;
use warden_app::outbound::email::{SmtpSettings, SmtpTls, SmtpTransport};
use warden_app::outbound::sms::{SmsGateway, SmsSettings};
use warden_store::outbound::Channel;

use crate::both_engines;
use crate::lifecycle::{GRACE_MS, World, lifecycle, world_notifying};
use crate::support::Engine;

both_engines!(mail_follows_the_lifecycle_in_order);

/// The receiving server's script, shared with the e-mail transport's own tests.
const SMTPD: &str = include_str!("../../../warden-app/tests/email/smtpd.py");

/// How long before the deadline the reminder goes out in these tests.
const REMIND_BEFORE_MS: i64 = 10 * 60_000;

/// A Python 3 that can import aiosmtpd; `None` (loudly) on a developer's machine without it,
/// a failure under `CI=true` (`.ci/run` installs `python3-aiosmtpd`).
fn python() -> Option<&'static str> {
    for p in ["/usr/bin/python3", "python3"] {
        let ok = Command::new(p)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(p);
        }
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true and python3-aiosmtpd is not installed (.ci/run installs it)"
    );
    eprintln!(
        "\n!!!!!!!!\n!!! SKIPPED: python3-aiosmtpd is not installed (apt-get install python3-aiosmtpd)\n!!!!!!!!\n"
    );
    None
}

/// An aiosmtpd on a fixed 127.0.0.1 port, stopped and started again at will; what every run
/// received stays in one directory.
struct Smtpd {
    python: &'static str,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// Extra arguments of the script (`--data-delay-ms 150`).
    args: Vec<String>,
}

impl Smtpd {
    /// On a free port, not started yet.
    fn new() -> Option<Smtpd> {
        let python = python()?;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("smtpd.py"), SMTPD).unwrap();
        std::fs::create_dir(dir.path().join("mail")).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Some(Smtpd {
            python,
            port,
            dir,
            child: None,
            args: Vec::new(),
        })
    }

    fn start(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("stderr.log")).unwrap();
        let child = Command::new(self.python)
            .arg(self.dir.path().join("smtpd.py"))
            .args(["--port", &self.port.to_string()])
            .arg("--dir")
            .arg(self.dir.path().join("mail"))
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen: {}",
                std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Every message received, in arrival order: (raw, the parser's view).
    fn received(&self) -> Vec<(String, Value)> {
        let mail = self.dir.path().join("mail");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&mail)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|eml| {
                let mut raw = String::new();
                std::fs::File::open(eml)
                    .unwrap()
                    .read_to_string(&mut raw)
                    .unwrap();
                let json = std::fs::read_to_string(eml.with_extension("json")).unwrap();
                (raw, serde_json::from_str(&json).unwrap())
            })
            .collect()
    }

    /// The Message-IDs received, in order.
    fn message_ids(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|(_, m)| m["message_id"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn transport(port: u16) -> SmtpTransport {
    SmtpTransport::new(SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        tls: SmtpTls::None,
        username: None,
        password: None,
        from: "Security <abuse@provider.example>".into(),
        reply_to: Some("Review <review@provider.example>".into()),
        timeout: Duration::from_secs(5),
        hello_name: None,
        extra_root_certs_pem: None,
    })
    .unwrap()
}

fn notice_settings(smtp_port: u16, max_attempts: i64) -> NoticeSettings {
    NoticeSettings {
        email: Some(Arc::new(transport(smtp_port))),
        console_url: Some("https://console.provider.example".into()),
        message_id_domain: "provider.example".into(),
        reminder_before_ms: REMIND_BEFORE_MS,
        max_attempts,
        ..NoticeSettings::default()
    }
}

/// The world of the lifecycle tests, its account reachable at `ops@acme.example` (and
/// `+8613800000000`) in `lang`.
async fn world(engine: Engine, notices: NoticeSettings, lang: &str) -> Option<World> {
    let w = world_notifying(
        engine,
        Settings::default(),
        lifecycle(Default::default()),
        notices,
    )
    .await?;
    let (s, b) =
        w.t.call(
            "PATCH",
            "/api/accounts/acme",
            Some(&w.t.admin),
            Some(&json!({ "email": "ops@acme.example", "phone": "+8613800000000", "lang": lang })),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    Some(w)
}

/// The tenant's inbox, oldest first: (id, kind).
async fn inbox(w: &World) -> Vec<(String, String)> {
    let (s, b) =
        w.t.call("GET", "/api/notices?limit=100", Some(&w.tenant), None)
            .await;
    assert_eq!(s, 200, "{b}");
    b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap().to_string(),
                n["template"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The operators' view of one message.
async fn message(w: &World, id: &str) -> Value {
    let (s, b) =
        w.t.call("GET", &format!("/api/outbound/{id}"), Some(&w.op), None)
            .await;
    assert_eq!(s, 200, "{b}");
    b
}

/// Waits until `check` holds, advancing the manual clock by `step_ms` each round (retries wait
/// out their backoff on it).
async fn until(what: &str, w: &World, step_ms: i64, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "{what} did not happen");
        w.t.clock.advance(step_ms);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// Every inbox notice has its mail, once, in inbox order.
async fn mails_match_inbox(w: &World, smtp: &Smtpd) -> Vec<(String, String)> {
    let notices = inbox(w).await;
    let want: Vec<String> = notices
        .iter()
        .map(|(id, _)| format!("<{id}.email@provider.example>"))
        .collect();
    until("every notice was mailed", w, 0, async || {
        smtp.message_ids().len() >= want.len()
    })
    .await;
    // A moment for a duplicate to show, if there were one.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(smtp.message_ids(), want, "the mails, in order: {notices:?}");
    notices
}

/// NOT-1, NOT-2, end to end: alerting → reminder → enforced → self-service failed → manual
/// request → rejected → a second request → lifted, each notice in the inbox and in one mail, in
/// order; the enforced mail read raw: encoded zh-CN subject, both parts, the link, the advice.
async fn mail_follows_the_lifecycle_in_order(engine: Engine) {
    let Some(mut smtp) = Smtpd::new() else {
        return;
    };
    smtp.start();
    let Some(w) = world(engine, notice_settings(smtp.port, 5), "zh-CN").await else {
        return;
    };
    let case = w.report("porn_vulgar").await;
    let (s, c) = w.confirm(&case, json!({ "markers": ["色情视频"] })).await;
    assert_eq!((s, c["state"].as_str()), (200, Some("alerting")), "{c}");
    // Past the reminder (the page still violates) and then past the deadline.
    w.t.clock.advance(GRACE_MS - REMIND_BEFORE_MS + 1000);
    until("the reminder", &w, 0, async || {
        inbox(&w).await.iter().any(|(_, k)| k == "case.reminder")
    })
    .await;
    w.t.clock.advance(REMIND_BEFORE_MS);
    w.wait_state(&case, "enforced").await;
    let (s, r) = w.self_unblock(&case, true).await;
    assert_eq!((s, r["outcome"].as_str()), (200, Some("failed")), "{r}");
    let manual = async || {
        let (s, r) =
            w.t.call(
                "POST",
                &format!("/api/cases/{case}/unblock/manual"),
                Some(&w.tenant),
                None,
            )
            .await;
        assert_eq!(s, 201, "{r}");
        r["id"].as_str().unwrap().to_string()
    };
    let review = async |id: &str, verdict: &str, reason: &str| {
        let (s, r) =
            w.t.call(
                "POST",
                &format!("/api/unblock-requests/{id}/{verdict}"),
                Some(&w.reviewer),
                Some(&json!({ "reason": reason })),
            )
            .await;
        assert_eq!(s, 200, "{r}");
    };
    let first = manual().await;
    review(&first, "reject", "页面仍有违规图片").await;
    *w.page.lock().unwrap() = "<html><body>整改后的页面</body></html>".into();
    let second = manual().await;
    review(&second, "approve", "已复核").await;
    w.wait_state(&case, "lifted").await;

    let notices = mails_match_inbox(&w, &smtp).await;
    let kinds: Vec<&str> = notices.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "case.alerting",
            "case.reminder",
            "case.enforced",
            "unblock.failed",
            "unblock.queued",
            "unblock.rejected",
            "unblock.queued",
            "case.lifted"
        ]
    );

    // The enforced mail as the tenant's mail program gets it.
    let received = smtp.received();
    let (raw, m) = &received[2];
    let subject = m["subject"].as_str().unwrap();
    assert!(raw.contains("Subject: =?utf-8?"), "RFC 2047 subject: {raw}");
    assert!(
        subject.contains("【违规处罚】") && subject.contains("色情低俗"),
        "{subject}"
    );
    assert_eq!(m["content_language"], "zh-CN");
    assert_eq!(m["rcpt_tos"], json!(["ops@acme.example"]));
    assert!(
        m["from"]
            .as_str()
            .unwrap()
            .contains("abuse@provider.example")
    );
    assert!(
        m["reply_to"]
            .as_str()
            .unwrap()
            .contains("review@provider.example")
    );
    let part = |ct: &str| {
        m["parts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["content_type"] == ct)
            .unwrap_or_else(|| panic!("no {ct} part: {m}"))["content"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (text, html) = (part("text/plain"), part("text/html"));
    let link = format!("https://console.provider.example/console/cases/{case}");
    for needle in [
        &w.url,
        "web-1",
        "色情低俗",
        "阻断URL",
        "《中华人民共和国",
        "自助解封",
        &link,
    ] {
        assert!(text.contains(needle), "text part lacks {needle}: {text}");
    }
    assert!(html.contains(&format!("href=\"{link}\"")), "{html}");
    // Nothing is pending any more, and nothing is dead.
    let (_, q) =
        w.t.call("GET", "/api/outbound?channel=email", Some(&w.op), None)
            .await;
    let states: Vec<&str> = q["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, vec!["sent"; 8], "{q}");
    w.t.stop().await;
}

/// A case just alerting while the SMTP server is down: its notice in the inbox, the mail's
/// first attempt failed. (No reminders: the alerting and any later notice are all there is.)
struct Down {
    smtp: Smtpd,
    w: World,
    case: String,
    notice: String,
    mail: String,
}

async fn alerting_while_smtp_is_down() -> Option<Down> {
    let smtp = Smtpd::new()?;
    let notices = NoticeSettings {
        reminder_before_ms: 0,
        ..notice_settings(smtp.port, 3)
    };
    let w = world(Engine::Sqlite, notices, "en").await?;
    let case = w.report("porn_vulgar").await;
    let (s, _) = w.confirm(&case, json!({ "markers": ["porn"] })).await;
    assert_eq!(s, 200);
    let (notice, kind) = inbox(&w).await.remove(0);
    assert_eq!(kind, "case.alerting");
    let mail = format!("email:{notice}");
    until("the first attempt failed", &w, 0, async || {
        message(&w, &mail).await["attempts"]
            .as_array()
            .unwrap()
            .len()
            == 1
    })
    .await;
    Some(Down {
        smtp,
        w,
        case,
        notice,
        mail,
    })
}

/// NOT-2: the SMTP server is down for a while: the mail is retried and arrives once when the
/// server is back; a mail whose attempts all fail is dead, visible to operators and in the
/// metrics, re-driven once the server is up, and then arrives once. The inbox had both notices
/// all along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_outlives_an_smtp_outage_and_a_dead_letter_is_redriven() {
    // Down: the alerting notice is in the inbox, its mail fails and waits for a retry.
    let Some(Down {
        mut smtp,
        w,
        case,
        notice: alerting,
        mail,
    }) = alerting_while_smtp_is_down().await
    else {
        return;
    };
    let m = message(&w, &mail).await;
    assert_eq!(m["state"], "pending", "{m}");
    assert!(m["last_error"].is_string(), "the failure is on record: {m}");
    // Back up before the last attempt: delivered once.
    smtp.start();
    until("the retry delivered", &w, 1_000, async || {
        message(&w, &mail).await["state"] == "sent"
    })
    .await;
    assert_eq!(
        smtp.message_ids(),
        [format!("<{alerting}.email@provider.example>")]
    );

    // Down for longer than the attempts last: dead.
    smtp.stop();
    w.t.clock.advance(GRACE_MS + 1000);
    w.wait_state(&case, "enforced").await;
    let enforced = inbox(&w)
        .await
        .into_iter()
        .find(|(_, k)| k == "case.enforced")
        .expect("the enforced notice is in the inbox")
        .0;
    let dead = format!("email:{enforced}");
    until("the mail is dead", &w, 4_000, async || {
        message(&w, &dead).await["state"] == "dead"
    })
    .await;
    let m = message(&w, &dead).await;
    assert_eq!(m["attempts"].as_array().unwrap().len(), 3, "{m}");
    let (_, q) =
        w.t.call("GET", "/api/outbound?state=dead", Some(&w.op), None)
            .await;
    assert_eq!(q["items"][0]["id"], dead, "{q}");
    assert_eq!(
        q["items"][0]["subject"],
        format!("notice:{enforced}"),
        "{q}"
    );
    let metrics =
        w.t.client
            .get(format!("{}/metrics", w.t.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    assert!(
        metrics.contains("warden_outbound_messages{channel=\"email\",state=\"dead\"} 1"),
        "{metrics}"
    );
    // Tenants cannot see or re-drive the queue.
    let (s, _) =
        w.t.call("GET", "/api/outbound", Some(&w.tenant), None)
            .await;
    assert_eq!(s, 403);
    // A re-drive of a message that is not dead is refused and changes nothing.
    let (s, b) =
        w.t.call(
            "POST",
            &format!("/api/outbound/{mail}/redrive"),
            Some(&w.op),
            None,
        )
        .await;
    assert_eq!(s, 409, "{b}");
    // An operator sees it in the console — on the case page (what the tenant was told, and
    // how) and among the dead messages — and re-drives it there once the server is back.
    crate::console::user(&w.t, "olga", warden_domain::identity::Role::Operator, None).await;
    let mut olga = crate::console::Client::new(&w.t.base, "en");
    olga.sign_in("olga", crate::console::PASSWORD).await;
    let page = olga.get(&format!("/staff/cases/{case}")).await;
    assert_eq!(page.status, 200);
    let told = &page.body[page.body.find("id=\"told\"").expect("the notices table")..];
    assert!(
        told.contains(&format!("data-notice=\"{enforced}\""))
            && told.contains("data-channel=\"email\" data-state=\"dead\""),
        "{told}"
    );
    let list = olga.get("/staff/deliveries").await;
    assert!(
        list.body.contains(&format!("data-id=\"{dead}\"")),
        "{}",
        list.body
    );
    smtp.start();
    let done = olga
        .post(
            "/staff/deliveries",
            "/staff/deliveries/redrive",
            &[("id", dead.as_str())],
        )
        .await;
    assert_eq!(
        (done.status, done.location.as_str()),
        (303, "/staff/deliveries?done=redriven"),
        "{}",
        done.body
    );
    until("the re-driven mail arrived", &w, 0, async || {
        message(&w, &dead).await["state"] == "sent"
    })
    .await;
    assert_eq!(
        smtp.message_ids(),
        [
            format!("<{alerting}.email@provider.example>"),
            format!("<{enforced}.email@provider.example>")
        ],
        "each mail once, the dead one after its re-drive"
    );
    w.t.stop().await;
}

/// What the SMS gateway stub received: per message id, how many times, and the bodies.
#[derive(Default)]
struct Gateway {
    received: Vec<(String, Value)>,
}

/// A gateway on 127.0.0.1 that accepts a request only with a valid signature (401 otherwise)
/// and a text that fits one SMS segment with the sign name (400 otherwise).
async fn start_gateway(secret: Vec<u8>) -> (Arc<Mutex<Gateway>>, String) {
    use axum::http::{HeaderMap, StatusCode};
    let state = Arc::new(Mutex::new(Gateway::default()));
    let s = state.clone();
    let app = axum::Router::new().route(
        "/send",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let s = s.clone();
            let secret = secret.clone();
            async move {
                let h = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string()
                };
                let (id, ts) = (h("webhook-id"), h("webhook-timestamp"));
                let want = warden_app::enforce::webhook_signature(
                    &secret,
                    &id,
                    ts.parse().unwrap_or_default(),
                    &body,
                );
                if h("webhook-signature") != want {
                    return (StatusCode::UNAUTHORIZED, "bad signature".to_string());
                }
                let v: Value = serde_json::from_str(&body).unwrap_or_default();
                let shown = format!(
                    "【{}】{}",
                    v["sign_name"].as_str().unwrap_or_default(),
                    v["text"].as_str().unwrap_or_default()
                );
                if shown.encode_utf16().count() > 70 {
                    return (StatusCode::BAD_REQUEST, format!("too long: {shown}"));
                }
                s.lock().unwrap().received.push((id, v));
                (
                    StatusCode::OK,
                    json!({ "accepted": true, "gateway_id": "gw-1" }).to_string(),
                )
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/send", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (state, url)
}

/// NOT-1: notices routed to SMS reach the gateway signed, in one segment, in the account's
/// language, each once; the inbox has them too. NOT-3: a case rectified before its reminder is
/// resolved at the reminder's re-check and gets no reminder (the reminder of a case still
/// violating is in `mail_follows_the_lifecycle_in_order`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_and_reminders_follow_the_notices() {
    let secret = vec![9u8; 32];
    let (gateway, url) = start_gateway(secret.clone()).await;
    let clock: Arc<dyn warden_app::clock::Clock> =
        Arc::new(warden_app::clock::ManualClock::new(crate::support::T0));
    let sms = SmsGateway::new(
        SmsSettings {
            url,
            secret,
            timeout: Duration::from_secs(5),
            sign_name: Some("某云".into()),
        },
        clock,
    )
    .unwrap();
    let notices = NoticeSettings {
        sms: Some(Arc::new(sms)),
        routes: warden_domain::lifecycle::NoticeKind::ALL
            .iter()
            .map(|k| (*k, vec![Channel::Sms]))
            .collect::<BTreeMap<_, _>>(),
        reminder_before_ms: REMIND_BEFORE_MS,
        max_attempts: 3,
        ..NoticeSettings::default()
    };
    let Some(w) = world(Engine::Sqlite, notices, "zh-CN").await else {
        return;
    };
    // Rectified before the reminder: resolved at the reminder's re-check, no reminder.
    let case = w.report("porn_vulgar").await;
    let (s, _) = w.confirm(&case, json!({ "markers": ["色情视频"] })).await;
    assert_eq!(s, 200);
    *w.page.lock().unwrap() = "<html><body>整改后的页面</body></html>".into();
    w.t.clock.advance(GRACE_MS - REMIND_BEFORE_MS + 1000);
    w.wait_state(&case, "resolved").await;
    let kinds = |n: &[(String, String)]| n.iter().map(|(_, k)| k.clone()).collect::<Vec<_>>();
    assert_eq!(kinds(&inbox(&w).await), ["case.alerting", "case.resolved"]);
    // The deadline timer went with it: nothing more happens at the deadline.
    w.t.clock.advance(REMIND_BEFORE_MS);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(w.case(&case).await["state"], "resolved");

    // A second violation of the account: enforced at once (no first offence), told by SMS.
    *w.page.lock().unwrap() = "<html><body>免费色情视频 free porn videos</body></html>".into();
    let (s, r) =
        w.t.call(
            "POST",
            "/api/reports",
            Some(&w.op),
            Some(&json!({ "target": format!("{}?p=2", w.url), "category": "porn_vulgar" })),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let second = r["case_id"].as_str().unwrap().to_string();
    let (s, c) = w.confirm(&second, json!({ "markers": ["色情视频"] })).await;
    assert_eq!(
        (s, c["state"].as_str()),
        (200, Some("enforced")),
        "a second violation is no first offence: {c}"
    );
    let notices = inbox(&w).await;
    assert_eq!(
        kinds(&notices),
        ["case.alerting", "case.resolved", "case.enforced"]
    );

    // Each notice reached the gateway once, with its template, params and a one-segment text.
    let deadline = Instant::now() + Duration::from_secs(10);
    while gateway.lock().unwrap().received.len() < notices.len() {
        assert!(
            Instant::now() < deadline,
            "the gateway got {} texts",
            gateway.lock().unwrap().received.len()
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got = gateway.lock().unwrap().received.clone();
    let ids: Vec<&str> = got.iter().map(|(id, _)| id.as_str()).collect();
    let want: Vec<String> = notices.iter().map(|(id, _)| format!("sms:{id}")).collect();
    assert_eq!(ids, want);
    let (_, enforced) = &got[2];
    assert_eq!(enforced["template"], "case_enforced");
    assert_eq!(enforced["phone"], "+8613800000000");
    assert_eq!(enforced["lang"], "zh-CN");
    assert_eq!(enforced["params"]["case"], second.as_str());
    assert!(
        enforced["text"].as_str().unwrap().contains("处罚"),
        "{enforced}"
    );
    w.t.stop().await;
}

/// NOT-2, OPS: `kill -9` of a real `warden serve` while mails are in flight (the server takes
/// 150 ms per mail): after the restart every notice is delivered, and the receiver, keeping
/// Message-IDs, has each exactly once (a mail the server took just before the kill, and Warden
/// had not recorded yet, comes again under the same Message-ID).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_with_mails_in_flight_loses_none() {
    use crate::support::{http, spawn_warden};
    let Some(mut smtp) = Smtpd::new() else {
        return;
    };
    smtp.args = vec!["--data-delay-ms".into(), "150".into()];
    smtp.start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "[notices]\nconsole_url = \"https://console.provider.example\"\nmessage_id_domain = \"provider.example\"\n\n[notices.email]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"Security <abuse@provider.example>\"\n",
            smtp.port
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let env = [
        ("WARDEN_CONFIG", config.as_str()),
        ("WARDEN_JOBS__POLL_INTERVAL_MS", "50"),
        // A killed node's leases run out quickly, so the restarted one takes its jobs over.
        ("WARDEN_JOBS__LEASE_SECS", "2"),
    ];
    let mut p = spawn_warden(dir.path(), &env, &[]);
    let admin = p.admin.clone().unwrap();
    let (s, b) = http(
        &p.base,
        "POST",
        "/api/accounts",
        Some(&admin),
        Some(&json!({ "id": "acme", "name": "Acme", "email": "ops@acme.example", "lang": "en" })),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = http(&p.base, "POST", "/api/resources", Some(&admin), Some(&json!({ "id": "web-1", "account_id": "acme", "product": "cvm", "identifiers": [{ "kind": "domain", "value": "shop.example" }] }))).await;
    assert_eq!(s, 201, "{b}");
    // Twelve serious cases, enforced at once: twelve notices, twelve mails queued.
    for n in 0..12 {
        let (s, r) = http(&p.base, "POST", "/api/reports", Some(&admin), Some(&json!({ "target": format!("http://shop.example/casino/{n}"), "category": "gambling" }))).await;
        assert_eq!(s, 201, "{r}");
        let case = r["case_id"].as_str().unwrap().to_string();
        let (s, c) = http(
            &p.base,
            "POST",
            &format!("/api/cases/{case}/confirm"),
            Some(&admin),
            Some(&json!({})),
        )
        .await;
        assert_eq!((s, c["state"].as_str()), (200, Some("enforced")), "{c}");
    }
    // Some mails are through, the rest queued or on the wire: kill -9.
    let deadline = Instant::now() + Duration::from_secs(20);
    while smtp.message_ids().is_empty() {
        assert!(Instant::now() < deadline, "no mail arrived before the kill");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    p.kill9();
    let before = smtp.message_ids().len();
    assert!(
        before < 12,
        "all {before} mails were through before the kill: nothing was in flight"
    );
    let p = spawn_warden(dir.path(), &env, &[]);
    let (s, notices) = http(&p.base, "GET", "/api/notices?limit=100", Some(&admin), None).await;
    assert_eq!(s, 200, "{notices}");
    let want: std::collections::BTreeSet<String> = notices["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| format!("<{}.email@provider.example>", n["id"].as_str().unwrap()))
        .collect();
    assert_eq!(want.len(), 12);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got: std::collections::BTreeSet<String> = smtp.message_ids().into_iter().collect();
        if got == want {
            break;
        }
        assert!(
            got.is_subset(&want),
            "a mail no notice stands for: {:?}",
            got.difference(&want).collect::<Vec<_>>()
        );
        assert!(
            Instant::now() < deadline,
            "after the restart {} of 12 notices were mailed",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all = smtp.message_ids();
    println!(
        "{before} of 12 mails before kill -9; {} received in all, {} repeated under the same Message-ID",
        all.len(),
        all.len() - want.len()
    );
    // Each repeat is one taken just before the kill: at most the one on the wire then.
    assert!(all.len() - want.len() <= 1, "repeats: {all:?}");
    let (_, q) = http(
        &p.base,
        "GET",
        "/api/outbound?channel=email",
        Some(&admin),
        None,
    )
    .await;
    assert!(
        q["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["state"] == "sent"),
        "{q}"
    );
}

/// NOT-2: a message still pending whose delivery job was lost (here deleted, as if its job had
/// died of a fault outside the send) is queued again by reconciliation and delivered once. And
/// AUD-4: the queue keeps no recipient — neither the address nor the phone is in its rows or its
/// attempts' errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_requeues_a_message_whose_job_was_lost() {
    use sqlx::Row as _;
    let Some(Down {
        mut smtp,
        w,
        case: _,
        notice,
        mail,
    }) = alerting_while_smtp_is_down().await
    else {
        return;
    };
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&w.t.db_url)
        .await
        .unwrap();
    sqlx::query("DELETE FROM jobs WHERE dedup_key = $1")
        .bind(format!("out:{mail}"))
        .execute(&pool)
        .await
        .unwrap();
    smtp.start();
    w.t.clock.advance(60_000);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        message(&w, &mail).await["state"],
        "pending",
        "nothing runs it"
    );
    let (s, r) =
        w.t.call("POST", "/api/enforcement/reconcile", Some(&w.op), None)
            .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["requeued"], json!([mail]), "{r}");
    until("the requeued mail arrived", &w, 0, async || {
        message(&w, &mail).await["state"] == "sent"
    })
    .await;
    assert_eq!(
        smtp.message_ids(),
        [format!("<{notice}.email@provider.example>")]
    );
    for sql in [
        "SELECT payload AS v FROM outbound",
        "SELECT COALESCE(last_error, '') AS v FROM outbound",
        "SELECT COALESCE(error, '') AS v FROM outbound_attempts",
    ] {
        for row in sqlx::query(sql).fetch_all(&pool).await.unwrap() {
            let v: String = row.try_get("v").unwrap();
            assert!(
                !v.contains("ops@acme.example") && !v.contains("13800000000"),
                "{sql}: {v}"
            );
        }
    }
    w.t.stop().await;
}

/// TKT-1, NOT-1: a reviewer's answer to a ticket reaches the tenant: closed without a lift, a
/// `ticket.answered` notice (inbox and mail) carries the answer; closed with a lift, the lifted
/// notice carries it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_answer_reaches_the_tenant() {
    let Some(mut smtp) = Smtpd::new() else {
        return;
    };
    smtp.start();
    let notices = NoticeSettings {
        reminder_before_ms: 0,
        ..notice_settings(smtp.port, 3)
    };
    let Some(w) = world(Engine::Sqlite, notices, "en").await else {
        return;
    };
    // A general case enforced at its deadline: its block_url can be lifted on a ticket.
    let case = w.report("porn_vulgar").await;
    let (s, c) = w.confirm(&case, json!({ "markers": ["porn"] })).await;
    assert_eq!((s, c["state"].as_str()), (200, Some("alerting")), "{c}");
    w.t.clock.advance(GRACE_MS + 1000);
    w.wait_state(&case, "enforced").await;
    let ticket = async || {
        let (s, t) = w
            .t
            .call(
                "POST",
                "/api/tickets",
                Some(&w.tenant),
                Some(&json!({ "kind": "unblock", "case_id": case, "subject": "Please unblock", "body": "The page is fixed." })),
            )
            .await;
        assert_eq!(s, 201, "{t}");
        t["id"].as_str().unwrap().to_string()
    };
    let close = async |id: &str, resolution: &str, lift: bool| {
        let (s, b) =
            w.t.call(
                "POST",
                &format!("/api/tickets/{id}/close"),
                Some(&w.reviewer),
                Some(&json!({ "resolution": resolution, "lift": lift })),
            )
            .await;
        assert_eq!(s, 200, "{b}");
    };
    let first = ticket().await;
    close(&first, "The casino banner is still on /offer.", false).await;
    let second = ticket().await;
    close(&second, "Checked by hand: clean now.", true).await;
    w.wait_state(&case, "lifted").await;
    let notices = mails_match_inbox(&w, &smtp).await;
    let kinds: Vec<&str> = notices.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "case.alerting",
            "case.enforced",
            "ticket.answered",
            "case.lifted"
        ]
    );
    let received = smtp.received()[1..].to_vec();
    let text = |i: usize| {
        received[i].1["parts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["content_type"] == "text/plain")
            .unwrap()["content"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        received[1].1["subject"]
            .as_str()
            .unwrap()
            .contains("[Ticket answered]"),
        "{}",
        received[1].1
    );
    // The English mail as the tenant's mail program gets it.
    let m = &received[1].1;
    assert_eq!(m["content_language"], "en");
    assert!(received[1].0.contains("Message-ID: <"), "{}", received[1].0);
    let link = format!("https://console.provider.example/console/cases/{case}");
    for needle in [
        w.url.as_str(),
        "web-1",
        "Pornographic",
        "URL blocked",
        "Legal basis",
        &link,
    ] {
        assert!(
            text(1).contains(needle),
            "the text part lacks {needle}: {}",
            text(1)
        );
    }
    assert!(
        text(1).contains("The casino banner is still on /offer."),
        "{}",
        text(1)
    );
    assert!(
        text(2).contains("Checked by hand: clean now."),
        "{}",
        text(2)
    );
    w.t.stop().await;
}

//! NOT-1: the SMS transport against a gateway stub written here — a real HTTP server on
//! 127.0.0.1 that verifies the Standard Webhooks signature and timestamp with its own HMAC,
//! keeps message ids (counts receptions per id, sends each once), refuses texts that do not fit
//! one segment with the sign name, and answers as the test tells it to. AUD-4: no error text
//! carries the phone number or the secret.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use hmac::Mac as _;
use warden_app::clock::{Clock, ManualClock, SystemClock};
use warden_app::outbound::SendError;
use warden_app::outbound::sms::{
    MAX_SEGMENTS, Sms, SmsGateway, SmsSettings, phone_is_valid, segments, shown_text,
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OTHER_SECRET: &str = "whsec_c2Vjb25kLXNlY3JldC1rZXktYnl0ZXM=";
const PHONE: &str = "+8613800000000";
const SIGN: &str = "某云";
const ZH: &str = "您的云服务器因涉嫌传播违规内容已被限制访问，请于24小时内整改后在控制台申请解封。";
const EN: &str = "Server 203.0.113.7 restricted (gambling). Fix within 24h.";

/// How the stub answers a request whose signature verified.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Accept,
    Status(u16),
    NotAccepted,
    Slow,
}

#[derive(Debug)]
struct Stub {
    secret: Vec<u8>,
    mode: Mutex<Mode>,
    /// Verified receptions per webhook-id.
    receptions: Mutex<BTreeMap<String, usize>>,
    /// Each message the stub took, once, parsed.
    sent: Mutex<Vec<serde_json::Value>>,
    /// Why requests were refused.
    refused: Mutex<Vec<String>>,
}

impl Stub {
    fn set(&self, m: Mode) {
        *self.mode.lock().unwrap() = m;
    }
    fn receptions(&self, id: &str) -> usize {
        self.receptions
            .lock()
            .unwrap()
            .get(id)
            .copied()
            .unwrap_or(0)
    }
    fn total(&self) -> usize {
        self.receptions.lock().unwrap().values().sum()
    }
    fn sent(&self) -> Vec<serde_json::Value> {
        self.sent.lock().unwrap().clone()
    }
    fn refused(&self) -> Vec<String> {
        self.refused.lock().unwrap().clone()
    }
}

fn refuse(stub: &Stub, status: StatusCode, code: &str) -> Response {
    stub.refused.lock().unwrap().push(code.to_owned());
    (
        status,
        Json(serde_json::json!({ "accepted": false, "code": code })),
    )
        .into_response()
}

/// Standard Webhooks verification, written here rather than borrowed from the crate under test.
fn signature_ok(secret: &[u8], id: &str, ts: &str, body: &str, header: &str) -> bool {
    header.split(' ').any(|sig| {
        let Some(b64) = sig.strip_prefix("v1,") else {
            return false;
        };
        let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(b64) else {
            return false;
        };
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(format!("{id}.{ts}.{body}").as_bytes());
        mac.verify_slice(&expected).is_ok()
    })
}

/// The stub's own length rule: the text as the phone shows it (`【sign】text`) fits one
/// segment — 160 characters if plain ASCII, else 70 UTF-16 units.
fn fits_one_segment(shown: &str) -> bool {
    if shown.is_ascii() {
        shown.len() <= 160
    } else {
        shown.encode_utf16().count() <= 70
    }
}

async fn receive(State(stub): State<Arc<Stub>>, headers: HeaderMap, body: String) -> Response {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (id, ts, sig) = (
        h("webhook-id"),
        h("webhook-timestamp"),
        h("webhook-signature"),
    );
    if !signature_ok(&stub.secret, &id, &ts, &body, &sig) {
        return refuse(&stub, StatusCode::UNAUTHORIZED, "bad_signature");
    }
    let now = SystemClock.now().millis() / 1000;
    match ts.parse::<i64>() {
        Ok(t) if (now - t).abs() <= 300 => {}
        _ => return refuse(&stub, StatusCode::UNAUTHORIZED, "stale_timestamp"),
    }
    let Ok(msg) = serde_json::from_str::<serde_json::Value>(&body) else {
        return refuse(&stub, StatusCode::BAD_REQUEST, "not_json");
    };
    if msg["id"] != id.as_str() || h("content-type") != "application/json" {
        return refuse(&stub, StatusCode::BAD_REQUEST, "id_mismatch");
    }
    let shown = format!(
        "【{}】{}",
        msg["sign_name"].as_str().unwrap_or(""),
        msg["text"].as_str().unwrap_or("")
    );
    if !fits_one_segment(&shown) {
        return refuse(&stub, StatusCode::BAD_REQUEST, "text_too_long");
    }
    let first = {
        let mut r = stub.receptions.lock().unwrap();
        let n = r.entry(id.clone()).or_insert(0);
        *n += 1;
        *n == 1
    };
    let mode = *stub.mode.lock().unwrap();
    match mode {
        Mode::Status(s) => {
            // Not taken: the next attempt is a first reception again.
            *stub.receptions.lock().unwrap().get_mut(&id).unwrap() -= 1;
            return (
                StatusCode::from_u16(s).unwrap(),
                // A careless gateway echoes the number; the transport must not quote it.
                format!("busy, cannot send to {}", msg["phone"]),
            )
                .into_response();
        }
        Mode::NotAccepted => {
            *stub.receptions.lock().unwrap().get_mut(&id).unwrap() -= 1;
            return Json(serde_json::json!({ "accepted": false, "code": "quota_exceeded", "phone": msg["phone"] }))
                .into_response();
        }
        Mode::Slow => tokio::time::sleep(Duration::from_secs(3)).await,
        Mode::Accept => {}
    }
    if first {
        stub.sent.lock().unwrap().push(msg);
    }
    Json(serde_json::json!({ "accepted": true, "gateway_id": format!("gw-{id}") })).into_response()
}

async fn stub(secret: &str) -> (String, Arc<Stub>) {
    let s = Arc::new(Stub {
        secret: warden_app::enforce::webhook_secret(secret).unwrap(),
        mode: Mutex::new(Mode::Accept),
        receptions: Mutex::default(),
        sent: Mutex::default(),
        refused: Mutex::default(),
    });
    let app = Router::new()
        .route("/sms", post(receive))
        .with_state(s.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, s)
}

fn settings(url: &str, secret: &str) -> SmsSettings {
    SmsSettings {
        url: url.to_owned(),
        secret: warden_app::enforce::webhook_secret(secret).unwrap(),
        timeout: Duration::from_millis(1500),
        sign_name: Some(SIGN.into()),
    }
}

fn gateway(url: &str, secret: &str) -> SmsGateway {
    SmsGateway::new(settings(url, secret), Arc::new(SystemClock)).unwrap()
}

fn sms(id: &str, lang: &str) -> Sms {
    let (text, action) = if lang == "en" {
        (EN, "restricted")
    } else {
        (ZH, "限制访问")
    };
    Sms {
        message_id: id.to_owned(),
        phone: PHONE.to_owned(),
        template: "case_enforced".into(),
        params: BTreeMap::from([
            ("resource".to_string(), "203.0.113.7".to_string()),
            ("action".to_string(), action.to_string()),
            ("hours".to_string(), "24".to_string()),
        ]),
        text: text.to_owned(),
        lang: lang.to_owned(),
    }
}

/// AUD-4: an error names what went wrong, never the number or the key.
fn assert_clean(e: &SendError, phone: &str) {
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(phone), "phone number in {shown}");
    assert!(
        !shown.contains(phone.trim_start_matches('+')),
        "phone digits in {shown}"
    );
    for s in [SECRET, OTHER_SECRET] {
        assert!(
            !shown.contains(s.trim_start_matches("whsec_")),
            "secret in {shown}"
        );
    }
}

/// NOT-1: a zh-CN and an en notice each arrive once, signed, with the template id, parameters,
/// text, language and sign name; both fit one segment as the phone shows them.
#[tokio::test]
async fn zh_and_en_texts_arrive_once_with_template_params_and_sign_name() {
    let (url, stub) = stub(SECRET).await;
    let gw = gateway(&url, SECRET);
    for (id, lang) in [("ntc_1_sms_zh", "zh-CN"), ("ntc_1_sms_en", "en")] {
        let m = sms(id, lang);
        assert_eq!(segments(&shown_text(Some(SIGN), &m.text)), 1, "{lang}");
        gw.send(&m).await.unwrap();
        assert_eq!(stub.receptions(id), 1);
    }
    assert!(stub.refused().is_empty(), "{:?}", stub.refused());
    let sent = stub.sent();
    assert_eq!(sent.len(), 2);
    for (got, (lang, text, action)) in sent
        .iter()
        .zip([("zh-CN", ZH, "限制访问"), ("en", EN, "restricted")])
    {
        assert_eq!(got["phone"], PHONE);
        assert_eq!(got["template"], "case_enforced");
        assert_eq!(got["lang"], lang);
        assert_eq!(got["text"], text);
        assert_eq!(got["sign_name"], SIGN);
        assert_eq!(got["params"]["resource"], "203.0.113.7");
        assert_eq!(got["params"]["action"], action);
        assert_eq!(got["params"]["hours"], "24");
    }
    assert_eq!(sent[0]["id"], "ntc_1_sms_zh");
}

/// NOT-2: a retry carries the same id, so the gateway counts two receptions of one message and
/// sends it once.
#[tokio::test]
async fn a_retry_keeps_the_message_id_and_the_gateway_sends_it_once() {
    let (url, stub) = stub(SECRET).await;
    let gw = gateway(&url, SECRET);
    let m = sms("ntc_7_sms", "zh-CN");
    gw.send(&m).await.unwrap();
    gw.send(&m).await.unwrap();
    assert_eq!(stub.receptions("ntc_7_sms"), 2);
    assert_eq!(stub.sent().len(), 1, "one unique message");
}

/// A gateway that cannot verify the signature (another secret) refuses with 401: permanent.
#[tokio::test]
async fn a_wrong_secret_is_refused_for_good() {
    let (url, stub) = stub(SECRET).await;
    let e = gateway(&url, OTHER_SECRET)
        .send(&sms("ntc_2_sms", "en"))
        .await
        .unwrap_err();
    assert!(e.permanent, "{e}");
    assert!(e.message.contains("HTTP 401"), "{e}");
    assert_clean(&e, PHONE);
    assert_eq!(stub.refused(), ["bad_signature"]);
    assert_eq!(stub.total(), 0);
}

/// The timestamp is signed and checked: a request stamped an hour ago is refused.
#[tokio::test]
async fn a_stale_timestamp_is_refused() {
    let (url, stub) = stub(SECRET).await;
    let an_hour_ago = SystemClock.now().millis() - 3_600_000;
    let gw = SmsGateway::new(
        settings(&url, SECRET),
        Arc::new(ManualClock::new(an_hour_ago)),
    )
    .unwrap();
    let e = gw.send(&sms("ntc_3_sms", "zh-CN")).await.unwrap_err();
    assert!(e.permanent && e.message.contains("HTTP 401"), "{e}");
    assert_eq!(stub.refused(), ["stale_timestamp"]);
}

/// 503 (busy), 429 and 408 are worth another attempt; the echoed number is not quoted.
#[tokio::test]
async fn a_busy_gateway_is_transient() {
    let (url, stub) = stub(SECRET).await;
    let gw = gateway(&url, SECRET);
    let m = sms("ntc_4_sms", "zh-CN");
    for s in [503, 500, 429, 408] {
        stub.set(Mode::Status(s));
        let e = gw.send(&m).await.unwrap_err();
        assert!(!e.permanent, "{s}: {e}");
        assert!(e.message.contains(&format!("HTTP {s}")), "{e}");
        assert_clean(&e, PHONE);
    }
    // Another 4xx is a refusal of this message.
    stub.set(Mode::Status(422));
    let e = gw.send(&m).await.unwrap_err();
    assert!(e.permanent && e.message.contains("HTTP 422"), "{e}");
    assert_clean(&e, PHONE);
    // Once the gateway recovers the same message goes through, once.
    stub.set(Mode::Accept);
    gw.send(&m).await.unwrap();
    assert_eq!(stub.sent().len(), 1);
}

/// A 2xx that does not accept the message is a failure that says what was wrong.
#[tokio::test]
async fn a_2xx_without_accepted_true_is_transient_and_says_why() {
    let (url, stub) = stub(SECRET).await;
    stub.set(Mode::NotAccepted);
    let e = gateway(&url, SECRET)
        .send(&sms("ntc_5_sms", "en"))
        .await
        .unwrap_err();
    assert!(!e.permanent, "{e}");
    assert!(
        e.message.contains("did not accept") && e.message.contains("\"accepted\": false"),
        "{e}"
    );
    assert!(e.message.contains("quota_exceeded"), "{e}");
    assert_clean(&e, PHONE);
    assert!(stub.sent().is_empty());
}

/// Nobody listening, or no answer in time: transient.
#[tokio::test]
async fn a_gateway_down_or_slow_is_transient() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let e = gateway(&format!("http://{closed}/sms"), SECRET)
        .send(&sms("ntc_6_sms", "zh-CN"))
        .await
        .unwrap_err();
    assert!(!e.permanent, "{e}");
    assert!(e.message.contains("unreachable"), "{e}");
    assert_clean(&e, PHONE);

    let (url, stub) = stub(SECRET).await;
    stub.set(Mode::Slow);
    let mut s = settings(&url, SECRET);
    s.timeout = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let e = SmsGateway::new(s, Arc::new(SystemClock))
        .unwrap()
        .send(&sms("ntc_6_sms", "zh-CN"))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "timeout honoured"
    );
    assert!(!e.permanent, "{e}");
    assert!(e.message.contains("no answer within 300 ms"), "{e}");
}

/// AUD-4: a number that is not E.164 is refused for good without a request, and the refusal
/// does not repeat it.
#[tokio::test]
async fn an_invalid_phone_is_refused_without_a_request() {
    let (url, stub) = stub(SECRET).await;
    let gw = gateway(&url, SECRET);
    for bad in [
        "13800000000",
        "+86 138 0000 0000",
        "+86-13800000000",
        "+0861380000000",
        "+1234567",
        "+1234567890123456",
        "",
        "+",
        "+８６13800000000",
    ] {
        assert!(!phone_is_valid(bad), "{bad:?}");
        let mut m = sms("ntc_8_sms", "zh-CN");
        m.phone = bad.to_owned();
        let e = gw.send(&m).await.unwrap_err();
        assert!(e.permanent, "{bad:?}: {e}");
        assert!(e.message.contains("E.164"), "{e}");
        if !bad.trim_start_matches('+').is_empty() {
            assert_clean(&e, bad);
        }
    }
    assert_eq!(stub.total(), 0);
    assert!(stub.refused().is_empty());
    for good in [PHONE, "+12025550123", "+4915112345678", "+85212345678"] {
        assert!(phone_is_valid(good), "{good}");
    }
}

/// Texts are short: longer than MAX_SEGMENTS is refused without a request; a gateway that
/// wants one segment refuses two, for good.
#[tokio::test]
async fn long_texts_are_refused() {
    let (url, stub) = stub(SECRET).await;
    let gw = gateway(&url, SECRET);
    let mut m = sms("ntc_9_sms", "zh-CN");
    m.text = "违".repeat(67 * MAX_SEGMENTS);
    let e = gw.send(&m).await.unwrap_err();
    assert!(e.permanent, "{e}");
    assert!(
        e.message
            .contains(&format!("{} segments", MAX_SEGMENTS + 1)),
        "{e}"
    );
    assert_eq!(stub.total() + stub.refused().len(), 0, "no request");

    m.text = "违".repeat(70);
    assert_eq!(segments(&shown_text(Some(SIGN), &m.text)), 2);
    let e = gw.send(&m).await.unwrap_err();
    assert!(e.permanent && e.message.contains("HTTP 400"), "{e}");
    assert_eq!(stub.refused(), ["text_too_long"]);

    m.text = "  ".into();
    assert!(gw.send(&m).await.unwrap_err().permanent);
}

/// The segment count of SMS: GSM-7 160 / 153 per part, UCS-2 70 / 67 per part.
#[test]
fn segments_count_as_phones_do() {
    assert_eq!(segments(""), 0);
    // Chinese: UCS-2.
    assert_eq!(segments(ZH), 1);
    assert_eq!(segments("您的网站含违规内容，已被封禁。"), 1);
    assert_eq!(segments(&"违".repeat(70)), 1);
    assert_eq!(segments(&"违".repeat(71)), 2);
    assert_eq!(segments(&"违".repeat(134)), 2);
    assert_eq!(segments(&"违".repeat(135)), 3);
    // Typical short zh notices with the sign name stay within one 70-character segment.
    for zh in [
        ZH,
        "您的域名example.com因涉赌已被暂停解析，请整改后在控制台申请解封。",
        "提醒：您的违规告警将于2小时后到期，请尽快整改。",
    ] {
        let shown = shown_text(Some(SIGN), zh);
        assert!(shown.chars().count() <= 70, "{shown}");
        assert_eq!(segments(&shown), 1, "{shown}");
    }
    // Plain English: GSM-7.
    assert_eq!(segments(EN), 1);
    assert_eq!(segments(&"a".repeat(160)), 1);
    assert_eq!(segments(&"a".repeat(161)), 2);
    assert_eq!(segments(&"a".repeat(306)), 2);
    assert_eq!(segments(&"a".repeat(307)), 3);
    // Extension characters take two septets.
    assert_eq!(segments(&"{".repeat(80)), 1);
    assert_eq!(segments(&format!("{}€", "a".repeat(159))), 2);
    // One character outside GSM-7 makes the whole text UCS-2; so does a 【sign】.
    assert_eq!(segments(&format!("{}é", "a".repeat(100))), 1, "é is GSM-7");
    assert_eq!(segments(&format!("{}—", "a".repeat(70))), 2);
    assert_eq!(segments(&shown_text(Some(SIGN), &"a".repeat(66))), 1);
    assert_eq!(segments(&shown_text(Some(SIGN), &"a".repeat(67))), 2);
    assert_eq!(segments(&shown_text(None, &"a".repeat(67))), 1);
    // An emoji is two UTF-16 units.
    assert_eq!(segments(&"😀".repeat(35)), 1);
    assert_eq!(segments(&"😀".repeat(36)), 2);
}

/// Construction refuses what can never work and never prints the secret.
#[test]
fn settings_are_checked_and_the_secret_is_not_shown() {
    let clock = || -> Arc<dyn Clock> { Arc::new(SystemClock) };
    let ok = settings("http://127.0.0.1:9/sms", SECRET);
    assert!(SmsGateway::new(ok.clone(), clock()).is_ok());
    for url in [
        "ftp://gw.example/sms",
        "gw.example/sms",
        "file:///etc/passwd",
        "",
    ] {
        let mut s = ok.clone();
        s.url = url.into();
        let e = SmsGateway::new(s, clock()).unwrap_err();
        assert!(e.contains("url"), "{e}");
    }
    let mut s = ok.clone();
    s.secret = b"short".to_vec();
    assert!(SmsGateway::new(s, clock()).unwrap_err().contains("secret"));
    let mut s = ok.clone();
    s.timeout = Duration::ZERO;
    assert!(SmsGateway::new(s, clock()).unwrap_err().contains("timeout"));
    for sign in ["", "【某云】"] {
        let mut s = ok.clone();
        s.sign_name = Some(sign.into());
        assert!(
            SmsGateway::new(s, clock())
                .unwrap_err()
                .contains("sign name")
        );
    }
    let gw = SmsGateway::new(ok, clock()).unwrap();
    let shown = format!("{gw:?} {:?} {:?}", gw.settings(), sms("x", "en"));
    assert!(shown.contains("***"), "{shown}");
    assert!(!shown.contains(PHONE), "{shown}");
    let key =
        String::from_utf8_lossy(&warden_app::enforce::webhook_secret(SECRET).unwrap()).into_owned();
    assert!(
        !shown.contains("secret: [") && !shown.contains(&key),
        "{shown}"
    );
}

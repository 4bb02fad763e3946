//! The abuse desk's e-mail doors (issue 14; INT-2, INT-3, INT-6): a raw message posted to
//! `POST /api/reports/mail` or piped into `warden intake mail` becomes reports on the JSON
//! path's cases — real reporters' feedback-loop mail (sisimai's set) and X-ARF v4 samples as
//! MIME parts, from `../shared/data`. A message is taken in whole or not at all, once: the same
//! bytes again answer the first receipt; a broken one is refused naming the part, and nothing
//! of it is stored. Reporter trust: trusted confirms, muted is kept without a case, and a
//! notify-only report (a vulnerable service) opens none. Other bodies on the JSON routes are
//! 415 naming what the route reads.

use serde_json::{Value, json};
use warden_app::Settings;
use warden_app::mail::{MailSettings, ReporterSetting, Trust};

use crate::both_engines;
use crate::support::{Engine, TestApp, shared_data, spawn_app_wired};

both_engines!(
    a_feedback_report_mail_joins_the_tenants_case_once,
    a_broken_mail_is_refused_naming_the_part_and_stores_nothing,
    xarf_parts_are_reports_and_trust_decides_what_opens_a_case,
);

/// acme's address: sisimai's arf-01.eml names it as its Source-IP.
const ARF_IP: &str = "192.0.2.89";
/// acme's scanner: the X-ARF v4 port-scan sample's source.
const SCAN_IP: &str = "198.51.100.150";
/// acme's exposed service: the X-ARF v4 open-service sample's source.
const OPEN_IP: &str = "192.0.2.50";

async fn app(engine: Engine, mail: MailSettings) -> Option<TestApp> {
    spawn_app_wired(
        engine,
        Settings::default(),
        warden_app::lifecycle::LifecycleSettings::default(),
        warden_app::outbound::NoticeSettings::default(),
        false,
        move |a| a.with_mail(mail),
    )
    .await
}

async fn setup(t: &TestApp) {
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
            Some(
                &json!({ "id": "vm-1", "account_id": "acme", "product": "cvm", "identifiers": [
                { "kind": "public_ip", "value": ARF_IP },
                { "kind": "public_ip", "value": SCAN_IP },
                { "kind": "public_ip", "value": OPEN_IP },
            ] }),
            ),
        )
        .await;
    assert_eq!(s, 201, "{b}");
}

async fn post_mail(t: &TestApp, token: &str, content_type: &str, raw: &[u8]) -> (u16, Value) {
    let resp = t
        .client
        .post(format!("{}/api/reports/mail", t.base))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(raw.to_vec())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn cases(t: &TestApp) -> Vec<Value> {
    let (s, b) = t
        .call("GET", "/api/cases?limit=100", Some(&t.admin), None)
        .await;
    assert_eq!(s, 200, "{b}");
    b["items"].as_array().unwrap().clone()
}

/// A message from `from` whose only report is the X-ARF document `json`, as a JSON attachment.
fn xarf_mail(from: &str, id: &str, json: &[u8]) -> Vec<u8> {
    let body = String::from_utf8_lossy(json);
    format!(
        "From: {from}\r\nTo: abuse@provider.example\r\nSubject: X-ARF report {id}\r\nMessage-ID: <{id}@reporter.example>\r\nDate: Sat, 11 Jan 2025 11:30:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAn X-ARF report is attached.\r\n--b1\r\nContent-Type: application/json\r\nContent-Disposition: attachment; filename=\"report.json\"\r\n\r\n{body}\r\n--b1--\r\n"
    )
    .into_bytes()
}

/// INT-2/INT-3/INT-4: a feedback-loop report about acme's address opens a case on acme's
/// resource with the report part as evidence; the same message again is the same receipt with
/// nothing added; a different message about the same address joins the case.
async fn a_feedback_report_mail_joins_the_tenants_case_once(engine: Engine) {
    let Some(t) = app(engine, MailSettings::default()).await else {
        return;
    };
    setup(&t).await;
    let detector = t.token("detector", None).await;
    let raw = std::fs::read(shared_data("arf/sisimai/arf-01.eml")).unwrap();
    let (s, first) = post_mail(&t, &detector, "message/rfc822", &raw).await;
    assert_eq!(s, 201, "{first}");
    assert_eq!(first["duplicate"], false);
    assert_eq!(first["stored"], 1, "{first}");
    let r = &first["reports"][0];
    assert_eq!(
        (
            r["target"].as_str(),
            r["format"].as_str(),
            r["owned"].as_bool()
        ),
        (Some(ARF_IP), Some("arf"), Some(true)),
        "{first}"
    );
    let case_id = r["case_id"].as_str().unwrap().to_string();
    let (s, case) = t
        .call(
            "GET",
            &format!("/api/cases/{case_id}"),
            Some(&t.admin),
            None,
        )
        .await;
    assert_eq!(s, 200, "{case}");
    assert_eq!(case["account_id"], "acme", "{case}");
    assert_eq!(case["category"], "spam_mail", "{case}");
    // The report keeps the feedback report part as evidence, with its digest (INT-3).
    let (s, reports) = t
        .call(
            "GET",
            &format!("/api/cases/{case_id}/reports"),
            Some(&t.admin),
            None,
        )
        .await;
    assert_eq!(s, 200, "{reports}");
    let rep = &reports["items"][0];
    assert_eq!(rep["format"], "arf", "{rep}");
    assert_eq!(rep["source"], "detector", "{rep}");
    assert!(
        rep["evidence_sha256"]
            .as_str()
            .is_some_and(|h| h.len() == 64),
        "{rep}"
    );

    // The sender retries (it never saw the answer): the first receipt, nothing stored again.
    let (s, again) = post_mail(&t, &detector, "message/rfc822", &raw).await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["mail_id"], first["mail_id"]);
    assert_eq!(again["reports"][0]["report_id"], r["report_id"]);
    let (_, case) = t
        .call(
            "GET",
            &format!("/api/cases/{case_id}"),
            Some(&t.admin),
            None,
        )
        .await;
    assert_eq!(case["report_count"], 1, "{case}");

    // Another message about the same address (a new Message-ID) joins the case (INT-4).
    let text = String::from_utf8_lossy(&raw).replace(
        "Message-ID: <000000000000000.000000000000@x34.mx.example.net>",
        "Message-ID: <second@x34.mx.example.net>",
    );
    let (s, second) = post_mail(&t, &detector, "message/rfc822", text.as_bytes()).await;
    assert_eq!(s, 201, "{second}");
    assert_eq!(
        second["reports"][0]["case_id"].as_str(),
        Some(case_id.as_str())
    );
    assert_eq!(second["reports"][0]["duplicate"], true);
    assert_eq!(cases(&t).await.len(), 1);

    // Who may hand mail in: not a tenant, not anonymous.
    let tenant = t.token("tenant", Some("acme")).await;
    let (s, b) = post_mail(&t, &tenant, "message/rfc822", &raw).await;
    assert_eq!(s, 403, "{b}");
    t.stop().await;
}

/// INT-2: truncated MIME, a wrong boundary and a message over the configured size are each
/// refused 422 naming the part (or the bound), and nothing of them is stored; a raw e-mail on
/// the JSON route is 415 pointing at the mail door, and so is CSV.
async fn a_broken_mail_is_refused_naming_the_part_and_stores_nothing(engine: Engine) {
    let Some(t) = app(
        engine,
        MailSettings {
            max_message_bytes: 64 * 1024,
            ..MailSettings::default()
        },
    )
    .await
    else {
        return;
    };
    setup(&t).await;
    let operator = t.token("operator", None).await;
    let raw = std::fs::read(shared_data("arf/sisimai/arf-01.eml")).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();

    // Cut inside the feedback report: the multipart never closes, its third part is missing.
    let cut = text.find("Redacted-Address: redacted@").unwrap();
    let (s, b) = post_mail(&t, &operator, "message/rfc822", &raw[..cut]).await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["code"], "invalid_mail", "{b}");
    assert!(b["details"]["part"].is_string(), "{b}");
    assert!(b["message"].as_str().unwrap().contains("part"), "{b}");

    // A boundary the body never uses.
    let wrong = text.replace(
        "boundary=\"boundary-0000-00000-0000000-000000\"",
        "boundary=\"no-such-boundary\"",
    );
    let (s, b) = post_mail(&t, &operator, "message/rfc822", wrong.as_bytes()).await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["details"]["reason"], "wrong_boundary", "{b}");

    // Over mail.max_message_bytes: named by its bound.
    let mut big = raw.clone();
    big.extend(std::iter::repeat_n(b'x', 70 * 1024));
    let (s, b) = post_mail(&t, &operator, "message/rfc822", &big).await;
    assert_eq!(s, 422, "{b}");
    assert!(
        b["message"].as_str().unwrap().contains("max_message_bytes"),
        "{b}"
    );

    assert!(
        cases(&t).await.is_empty(),
        "a refused message stored a case"
    );

    // The JSON routes read JSON: a raw e-mail there is 415, pointing at the mail door.
    let resp = t
        .client
        .post(format!("{}/api/reports", t.base))
        .bearer_auth(&operator)
        .header("content-type", "message/rfc822")
        .body(raw.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 415);
    let b: Value = resp.json().await.unwrap();
    assert_eq!(b["code"], "unsupported_media_type", "{b}");
    assert_eq!(
        b["details"]["supported"],
        json!(["application/json"]),
        "{b}"
    );
    assert!(
        b["message"].as_str().unwrap().contains("/api/reports/mail"),
        "{b}"
    );
    let resp = t
        .client
        .post(format!("{}/api/reports", t.base))
        .bearer_auth(&operator)
        .header("content-type", "text/csv")
        .body("ip,category\n192.0.2.89,spam\n")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 415);
    // JSON with a charset, and a +json type, are JSON.
    let resp = t
        .client
        .post(format!("{}/api/reports", t.base))
        .bearer_auth(&operator)
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"target":"192.0.2.89","category":"spam_mail"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    // And the mail door reads mail only.
    let (s, b) = post_mail(&t, &operator, "application/json", b"{}").await;
    assert_eq!(s, 415, "{b}");
    assert_eq!(b["details"]["supported"], json!(["message/rfc822"]), "{b}");
    t.stop().await;
}

/// INT-2/INT-6: X-ARF v4 documents attached to mail are reports; the port scan of a normal
/// reporter waits in triage, the same from a trusted one is confirmed at once, a muted
/// reporter's is kept with no case, and an open-service report (a vulnerable service) is kept
/// notify-only with no case whoever sends it.
async fn xarf_parts_are_reports_and_trust_decides_what_opens_a_case(engine: Engine) {
    let mail = MailSettings {
        reporters: vec![
            ReporterSetting {
                name: "Trusted CERT".into(),
                domains: vec!["cert.example".into()],
                trust: Trust::Trusted,
                // The claimed sender is believed here; the DKIM test below checks signatures.
                require_dkim: false,
            },
            ReporterSetting {
                name: "Noisy scanner".into(),
                domains: vec!["noisy.example".into()],
                trust: Trust::Muted,
                require_dkim: true,
            },
        ],
        ..MailSettings::default()
    };
    let Some(t) = app(engine, mail).await else {
        return;
    };
    setup(&t).await;
    let operator = t.token("operator", None).await;
    let sample = |name: &str| {
        std::fs::read(shared_data(&format!("xarf/xarf_spec_v4/samples/{name}"))).unwrap()
    };
    let scan = sample("connection-port-scan.json");
    // The sample's reporter is netsec-monitor.example: a reporter Warden does not know.
    let (s, normal) = post_mail(
        &t,
        &operator,
        "message/rfc822",
        &xarf_mail("alerts@netsec-monitor.example", "n1", &scan),
    )
    .await;
    assert_eq!(s, 201, "{normal}");
    assert_eq!(normal["trust"], "normal", "{normal}");
    let r = &normal["reports"][0];
    assert_eq!(
        (
            r["target"].as_str(),
            r["format"].as_str(),
            r["category"].as_str()
        ),
        (Some(SCAN_IP), Some("xarf_v4"), Some("scanning")),
        "{normal}"
    );
    let (_, case) = t
        .call(
            "GET",
            &format!("/api/cases/{}", r["case_id"].as_str().unwrap()),
            Some(&t.admin),
            None,
        )
        .await;
    assert_eq!(case["state"], "reported", "{case}");

    // The same document from a trusted reporter's domain (its reporter block says so too).
    let trusted_doc =
        String::from_utf8_lossy(&scan).replace("netsec-monitor.example", "cert.example");
    let (s, trusted) = post_mail(
        &t,
        &operator,
        "message/rfc822",
        &xarf_mail("alerts@cert.example", "t1", trusted_doc.as_bytes()),
    )
    .await;
    assert_eq!(s, 201, "{trusted}");
    assert_eq!(
        (trusted["reporter"].as_str(), trusted["trust"].as_str()),
        (Some("Trusted CERT"), Some("trusted")),
        "{trusted}"
    );
    // It joins the case of the same target and category, which it confirms (INT-5 for mail).
    let case_id = trusted["reports"][0]["case_id"].as_str().unwrap();
    assert_eq!(case_id, r["case_id"].as_str().unwrap());
    let (_, case) = t
        .call(
            "GET",
            &format!("/api/cases/{case_id}"),
            Some(&t.admin),
            None,
        )
        .await;
    assert_eq!(case["state"], "confirmed", "{case}");

    // A muted reporter: kept, no case.
    let before = cases(&t).await.len();
    let muted_doc =
        String::from_utf8_lossy(&scan).replace("netsec-monitor.example", "noisy.example");
    let (s, muted) = post_mail(
        &t,
        &operator,
        "message/rfc822",
        &xarf_mail("bot@noisy.example", "m1", muted_doc.as_bytes()),
    )
    .await;
    assert_eq!(s, 201, "{muted}");
    assert_eq!(
        (muted["stored"].as_u64(), muted["held"].as_u64()),
        (Some(0), Some(1)),
        "{muted}"
    );
    assert_eq!(muted["held_reports"][0]["disposition"], "muted", "{muted}");
    assert_eq!(
        cases(&t).await.len(),
        before,
        "a muted reporter opened a case"
    );

    // A vulnerable service: notify-only, no case, even from the trusted reporter.
    let open = String::from_utf8_lossy(&sample("vulnerability-open-service.json")).to_string();
    let (s, notify) = post_mail(
        &t,
        &operator,
        "message/rfc822",
        &xarf_mail("alerts@cert.example", "v1", open.as_bytes()),
    )
    .await;
    assert_eq!(s, 201, "{notify}");
    let h = &notify["held_reports"][0];
    assert_eq!(
        (
            h["disposition"].as_str(),
            h["target"].as_str(),
            h["owned"].as_bool()
        ),
        (Some("notify_only"), Some(OPEN_IP), Some(true)),
        "{notify}"
    );
    assert_eq!(notify["stored"], 0, "{notify}");
    assert_eq!(
        cases(&t).await.len(),
        before,
        "a notify-only report opened a case"
    );
    // The tenant is told (INT-6): one advisory in its inbox, naming the address; no case.
    let tenant = t.token("tenant", Some("acme")).await;
    let (s, inbox) = t
        .call("GET", "/api/notices?limit=50", Some(&tenant), None)
        .await;
    assert_eq!(s, 200, "{inbox}");
    let advisories: Vec<&Value> = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["template"] == "report.advisory")
        .collect();
    assert_eq!(advisories.len(), 1, "{inbox}");
    assert!(
        advisories[0]["body"].as_str().unwrap().contains(OPEN_IP),
        "{inbox}"
    );
    assert!(advisories[0]["case_id"].is_null(), "{inbox}");

    // Every message is on the audit record, its sender's address is not.
    let (s, audit) = t
        .call(
            "GET",
            "/api/audit?action=mail.receive&limit=50",
            Some(&t.admin),
            None,
        )
        .await;
    assert_eq!(s, 200, "{audit}");
    let events = audit["items"].as_array().unwrap();
    assert_eq!(events.len(), 4, "{audit}");
    assert!(
        !audit.to_string().contains("alerts@cert.example"),
        "{audit}"
    );
    t.stop().await;
}

/// INT-2: `warden intake mail` for an MTA's pipe transport — exit 0 and the reports stored for
/// a good message, 65 (the MTA bounces) with the part named for a broken one, nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipe_command_takes_a_message_or_refuses_it_for_the_mta() {
    use std::io::Write as _;
    use std::process::Stdio;

    use crate::support::{http, spawn_warden, warden_command};
    let dir = tempfile::tempdir().unwrap();
    let mut p = spawn_warden(dir.path(), &[], &[]);
    let admin = p.admin.clone().unwrap();
    for (path, body) in [
        ("/api/accounts", json!({ "id": "acme", "name": "Acme" })),
        (
            "/api/resources",
            json!({ "id": "vm-1", "account_id": "acme", "product": "cvm", "identifiers": [{ "kind": "public_ip", "value": ARF_IP }] }),
        ),
    ] {
        let (s, b) = http(&p.base, "POST", path, Some(&admin), Some(&body)).await;
        assert_eq!(s, 201, "{b}");
    }
    let pipe = |raw: Vec<u8>| {
        let mut child = warden_command(dir.path(), &[])
            .args(["intake", "mail"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&raw).unwrap();
        child.wait_with_output().unwrap()
    };
    let raw = std::fs::read(shared_data("arf/sisimai/arf-01.eml")).unwrap();
    let out = pipe(raw.clone());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let receipt: Value = serde_json::from_str(stdout.trim()).unwrap();
    let case_id = receipt["reports"][0]["case_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, reports) = http(
        &p.base,
        "GET",
        &format!("/api/cases/{case_id}/reports"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 200, "{reports}");
    assert_eq!(reports["items"][0]["source"], "mail", "{reports}");

    // Cut short: 65, the part named, nothing stored.
    let text = String::from_utf8_lossy(&raw);
    let cut = text.find("Feedback-Type: abuse").unwrap();
    let out = pipe(raw[..cut].to_vec());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{stderr}");
    assert!(
        stderr.contains("part") && stderr.contains("nothing was stored"),
        "{stderr}"
    );
    let (_, cases) = http(&p.base, "GET", "/api/cases?limit=10", Some(&admin), None).await;
    assert_eq!(cases["items"].as_array().unwrap().len(), 1, "{cases}");
    assert!(p.terminate(10));
}

/// INT-6: a trusted reporter (DKIM required, the default) is trusted only when its message
/// carries a signature of its domain that verifies against the configured resolver — a real
/// Unbound on loopback serving the selector's key. Signed: its report confirms the case. The
/// same message with its body changed after signing, and one unsigned, are a normal reporter's:
/// triage, and the receipt says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_reporter_needs_a_verifying_dkim_signature() {
    use base64::Engine as _;
    use mail_auth::common::crypto::Ed25519Key;
    use mail_auth::common::headers::HeaderWriter as _;
    use mail_auth::dkim::DkimSigner;

    use crate::enforcement::{free_port, program, until};
    let Some(unbound) = program(&["/usr/sbin/unbound"], "unbound") else {
        return;
    };
    let pkcs8 = Ed25519Key::generate_pkcs8().unwrap();
    let public = Ed25519Key::from_pkcs8_der(&pkcs8).unwrap().public_key();
    let p = base64::engine::general_purpose::STANDARD.encode(&public);
    // Unbound answers the selector's key and refuses everything else: nothing leaves loopback.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let port = free_port();
    let conf = format!("{d}/unbound.conf");
    std::fs::write(
        &conf,
        format!(
            "server:\n  interface: 127.0.0.1\n  port: {port}\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"{d}/unbound.pid\"\n  use-syslog: no\n  logfile: \"\"\n  access-control: 127.0.0.0/8 allow\n  do-not-query-localhost: yes\n  local-zone: \".\" refuse\n  local-zone: \"cert.example.\" static\n  local-data: 'wdn._domainkey.cert.example. 60 IN TXT \"v=DKIM1; k=ed25519; p={p}\"'\n"
        ),
    )
    .unwrap();
    let mut ub = std::process::Command::new(unbound)
        .arg("-c")
        .arg(&conf)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    until("unbound answering", async || {
        crate::enforcement::dns_query(port, "wdn._domainkey.cert.example").is_some()
    })
    .await;

    let mail = MailSettings {
        reporters: vec![ReporterSetting {
            name: "Trusted CERT".into(),
            domains: vec!["cert.example".into()],
            trust: Trust::Trusted,
            require_dkim: true,
        }],
        dkim_resolver: Some(format!("127.0.0.1:{port}")),
        ..MailSettings::default()
    };
    mail.validate().unwrap();
    let Some(t) = app(Engine::Sqlite, mail).await else {
        let _ = ub.kill();
        let _ = ub.wait();
        return;
    };
    setup(&t).await;
    let operator = t.token("operator", None).await;
    let scan = std::fs::read(shared_data(
        "xarf/xarf_spec_v4/samples/connection-port-scan.json",
    ))
    .unwrap();
    let doc = String::from_utf8_lossy(&scan).replace("netsec-monitor.example", "cert.example");
    let sign = |raw: &[u8]| {
        let key = Ed25519Key::from_pkcs8_der(&pkcs8).unwrap();
        let sig = DkimSigner::from_key(key)
            .domain("cert.example")
            .selector("wdn")
            .headers(["From", "To", "Subject", "Message-ID", "Date"])
            .sign(raw)
            .unwrap();
        let mut signed = sig.to_header().into_bytes();
        signed.extend_from_slice(raw);
        signed
    };

    // Unsigned: a normal reporter's, in triage.
    let (s, unsigned) = post_mail(
        &t,
        &operator,
        "message/rfc822",
        &xarf_mail("alerts@cert.example", "u1", doc.as_bytes()),
    )
    .await;
    assert_eq!(s, 201, "{unsigned}");
    assert_eq!(
        (unsigned["trust"].as_str(), unsigned["dkim"].as_str()),
        (Some("normal"), Some("none")),
        "{unsigned}"
    );
    assert!(
        unsigned["warnings"].to_string().contains("DKIM"),
        "{unsigned}"
    );
    let case_id = unsigned["reports"][0]["case_id"]
        .as_str()
        .unwrap()
        .to_string();
    let state = async || {
        let (_, c) = t
            .call(
                "GET",
                &format!("/api/cases/{case_id}"),
                Some(&t.admin),
                None,
            )
            .await;
        c["state"].as_str().unwrap().to_string()
    };
    assert_eq!(state().await, "reported");

    // Signed, then the body changed: the signature fails, still normal.
    let signed = sign(&xarf_mail("alerts@cert.example", "f1", doc.as_bytes()));
    let forged = String::from_utf8_lossy(&signed).replace(
        "An X-ARF report is attached.",
        "An X-ARF report is attached!",
    );
    let (s, failed) = post_mail(&t, &operator, "message/rfc822", forged.as_bytes()).await;
    assert_eq!(s, 201, "{failed}");
    assert_eq!(
        (failed["trust"].as_str(), failed["dkim"].as_str()),
        (Some("normal"), Some("fail")),
        "{failed}"
    );
    assert_eq!(state().await, "reported");

    // Signed and intact: trusted, and the case is confirmed at once.
    let signed = sign(&xarf_mail("alerts@cert.example", "p1", doc.as_bytes()));
    let (s, passed) = post_mail(&t, &operator, "message/rfc822", &signed).await;
    assert_eq!(s, 201, "{passed}");
    assert_eq!(
        (passed["trust"].as_str(), passed["dkim"].as_str()),
        (Some("trusted"), Some("pass")),
        "{passed}"
    );
    assert_eq!(
        passed["reports"][0]["case_id"].as_str(),
        Some(case_id.as_str())
    );
    assert_eq!(state().await, "confirmed");
    t.stop().await;
    let _ = ub.kill();
    let _ = ub.wait();
}

/// A Shadowserver sinkhole report of `rows` infected hosts of acme's 2001:db8:1::/112, as a
/// CSV attachment; `day` makes each message's bytes its own.
fn sinkhole_mail(rows: usize, day: u32) -> Vec<u8> {
    let mut csv = String::from(
        "\"timestamp\",\"protocol\",\"src_ip\",\"src_port\",\"src_asn\",\"src_geo\",\"dst_ip\",\"dst_port\",\"infection\",\"family\",\"tag\"\r\n",
    );
    for n in 0..rows {
        csv.push_str(&format!(
            "\"2026-11-{day:02} 01:{:02}:{:02}\",\"tcp\",\"2001:db8:1::{:x}\",{},64500,\"CN\",\"198.18.0.1\",80,\"andromeda\",\"andromeda\",\"andromeda\"\r\n",
            (n / 60) % 60,
            n % 60,
            n + 1,
            40000 + n % 20000
        ));
    }
    format!(
        "From: Shadowserver Reports <reports@shadowserver.example>\r\nTo: abuse@provider.example\r\nSubject: [Shadowserver] Sinkhole Events Report: 2026-11-{day:02}\r\nDate: Tue, 01 Dec 2026 03:00:00 +0000\r\nMessage-ID: <sinkhole-{day}@shadowserver.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"ss\"\r\n\r\n--ss\r\nContent-Type: text/plain\r\n\r\nAttached is the Sinkhole Events report for your network.\r\n\r\n--ss\r\nContent-Type: text/csv; name=\"2026-11-{day:02}-event4_sinkhole-example-geo.csv\"\r\nContent-Disposition: attachment; filename=\"2026-11-{day:02}-event4_sinkhole-example-geo.csv\"\r\n\r\n{csv}--ss--\r\n"
    )
    .into_bytes()
}

/// INT-2 (issue 14 acceptance): `kill -9` while a 10,000-row Shadowserver mail is being stored.
/// After the restart the mail's reports are all there (it was acknowledged) or none are (it was
/// not, and the sender sends it again) — never some. The kill falls half-way through a store
/// of the same size timed just before; the resend completes the set exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_while_a_large_csv_mail_is_stored_keeps_it_whole_or_not_at_all() {
    use std::time::Instant;

    use crate::support::{http, spawn_warden};
    const ROWS: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let mut p = spawn_warden(dir.path(), &[], &[]);
    let admin = p.admin.clone().unwrap();
    for (path, body) in [
        ("/api/accounts", json!({ "id": "acme", "name": "Acme" })),
        (
            "/api/resources",
            json!({ "id": "hosts", "account_id": "acme", "product": "cvm", "identifiers": [{ "kind": "public_ip", "value": "2001:db8:1::/112" }] }),
        ),
    ] {
        let (s, b) = http(&p.base, "POST", path, Some(&admin), Some(&body)).await;
        assert_eq!(s, 201, "{b}");
    }
    let post = |base: String, admin: String, raw: Vec<u8>| async move {
        reqwest::Client::new()
            .post(format!("{base}/api/reports/mail"))
            .bearer_auth(admin)
            .header("content-type", "message/rfc822")
            .body(raw)
            .send()
            .await
    };
    let count = |base: String, admin: String| async move {
        let (s, c) = http(&base, "GET", "/api/cases/count", Some(&admin), None).await;
        assert_eq!(s, 200, "{c}");
        c["count"].as_i64().unwrap()
    };

    // How long a store of this size takes here: one whole mail, timed.
    let started = Instant::now();
    let resp = post(p.base.clone(), admin.clone(), sinkhole_mail(ROWS, 1))
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(resp.status().as_u16(), 201);
    let first: Value = resp.json().await.unwrap();
    assert_eq!(first["stored"], ROWS, "every row is a report");
    let base_cases = count(p.base.clone(), admin.clone()).await;
    assert_eq!(base_cases, ROWS as i64);

    // The second mail (other days, the same hosts: reports joining those cases), killed
    // half-way through its store.
    let raw = sinkhole_mail(ROWS, 2);
    let sending = tokio::spawn(post(p.base.clone(), admin.clone(), raw.clone()));
    tokio::time::sleep(took / 2).await;
    p.kill9();
    let acknowledged = match sending.await.unwrap() {
        Ok(r) => r.status().as_u16() == 201,
        Err(_) => false,
    };
    eprintln!(
        "killed {} ms into a store that takes {} ms; acknowledged before the kill: {acknowledged}",
        took.as_millis() / 2,
        took.as_millis()
    );

    let mut p = spawn_warden(dir.path(), &[], &[]);
    let (s, reports) = http(
        &p.base,
        "GET",
        &format!(
            "/api/cases/{}/reports",
            first["reports"][0]["case_id"].as_str().unwrap()
        ),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 200, "{reports}");
    let (_, audit) = http(
        &p.base,
        "GET",
        "/api/audit?action=mail.receive&limit=10",
        Some(&admin),
        None,
    )
    .await;
    let mails = audit["items"].as_array().unwrap().len();
    // The same case holds one report per mail taken in: 1 (not stored) or 2 (stored whole).
    let on_case = reports["items"].as_array().unwrap().len();
    assert!(
        (mails, on_case) == (1, 1) || (mails, on_case) == (2, 2),
        "half a mail: {mails} mail records, {on_case} reports on a case"
    );
    if acknowledged {
        assert_eq!(mails, 2, "an acknowledged mail was lost");
    }
    assert_eq!(count(p.base.clone(), admin.clone()).await, base_cases);

    // The sender retries: taken in now (201), or the first receipt again (200) — once either way.
    let resp = post(p.base.clone(), admin.clone(), raw).await.unwrap();
    let status = resp.status().as_u16();
    let again: Value = resp.json().await.unwrap();
    assert!(
        status == 201 || (status == 200 && again["duplicate"] == true),
        "{status} {again}"
    );
    assert_eq!(again["stored"], ROWS, "{again}");
    let (_, reports) = http(
        &p.base,
        "GET",
        &format!(
            "/api/cases/{}/reports",
            first["reports"][0]["case_id"].as_str().unwrap()
        ),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(reports["items"].as_array().unwrap().len(), 2);
    assert!(p.terminate(10));
}

//! NOT-1: the SMTP transport against a real receiving server (aiosmtpd, Debian's
//! `python3-aiosmtpd`) on 127.0.0.1: plain, STARTTLS and implicit TLS with a private CA made at
//! test time, AUTH, refusals. Each test reads what the server stored — the raw message and what
//! Python's own e-mail parser decodes from it — and checks what a recipient would see: the
//! Message-ID given, an RFC 2047 subject that decodes back, both parts in both languages.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use warden_app::clock::ManualClock;
use warden_app::outbound::email::{Mail, SmtpSettings, SmtpTls, SmtpTransport};

const SERVER: &str = include_str!("email/smtpd.py");

/// A Python 3 that can import aiosmtpd (Debian's package lives in the system Python, which a
/// pyenv `python3` on PATH does not see). `None` with a loud notice on a developer's machine
/// without it; a failure under `CI=true` (`.ci/run` installs it).
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
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and python3-aiosmtpd is not installed (.ci/run installs it)");
    }
    eprintln!(
        "\n!!!!!!!!\n!!! SKIPPED: python3-aiosmtpd is not installed \
         (apt-get install python3-aiosmtpd).\n!!!!!!!!\n"
    );
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private CA and a server certificate it signed for `localhost` and `127.0.0.1`.
struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn pki() -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Warden test CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let leaf =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        cert_pem: leaf_cert.pem(),
        key_pem: leaf_key.serialize_pem(),
    }
}

/// What the server was started with.
#[derive(Default)]
struct Opts<'a> {
    tls: Option<(&'a str, &'a Pki)>,
    auth: Option<(&'a str, &'a str)>,
    rcpt_reply: Option<&'a str>,
}

/// One aiosmtpd process on 127.0.0.1, killed when dropped.
struct Smtpd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Smtpd {
    /// `None` when aiosmtpd is missing outside CI (the test then returns).
    fn start(opts: Opts<'_>) -> Option<Smtpd> {
        let python = python()?;
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("smtpd.py");
        std::fs::write(&script, SERVER).unwrap();
        let mail = dir.path().join("mail");
        std::fs::create_dir(&mail).unwrap();
        let port = free_port();
        let mut cmd = Command::new(python);
        cmd.arg(&script)
            .arg("--port")
            .arg(port.to_string())
            .arg("--dir")
            .arg(&mail);
        if let Some((mode, pki)) = opts.tls {
            let cert = dir.path().join("cert.pem");
            let key = dir.path().join("key.pem");
            std::fs::write(&cert, &pki.cert_pem).unwrap();
            std::fs::write(&key, &pki.key_pem).unwrap();
            cmd.args(["--tls", mode])
                .arg("--cert")
                .arg(&cert)
                .arg("--key")
                .arg(&key);
        }
        if let Some((user, password)) = opts.auth {
            cmd.args(["--user", user, "--password", password]);
        }
        if let Some(reply) = opts.rcpt_reply {
            cmd.args(["--rcpt-reply", reply]);
        }
        let log = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut server = Smtpd { child, port, dir };
        server.wait_ready();
        Some(server)
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("aiosmtpd exited ({status}): {}", self.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on {} within 15 s: {}",
                self.port,
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Every stored message, in arrival order: the raw bytes and the parser's view.
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
                let raw = read(eml);
                let json = read(&eml.with_extension("json"));
                (raw, serde_json::from_str(&json).unwrap())
            })
            .collect()
    }
}

fn read(p: &Path) -> String {
    let mut s = String::new();
    std::fs::File::open(p)
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    s
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn settings(port: u16, tls: SmtpTls) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        tls,
        username: None,
        password: None,
        from: "Warden 安全中心 <noc@provider.example>".into(),
        reply_to: Some("Abuse desk <abuse@provider.example>".into()),
        timeout: Duration::from_secs(10),
        hello_name: Some("warden.provider.example".into()),
        extra_root_certs_pem: None,
    }
}

const TENANT: &str = "tenant-li@example.com";

fn zh_mail(id: &str) -> Mail {
    Mail {
        message_id: id.to_owned(),
        to: TENANT.to_owned(),
        subject: "【违规通知】您的资源 www.example.cn 存在违规内容，请于 24 小时内整改".to_owned(),
        text: "尊敬的客户：\n\n您的资源 www.example.cn 上的链接 https://www.example.cn/a 存在违规内容（类别：赌博）。\n\
               处置：告警，整改期限 2026-12-02 18:00（北京时间）。\n整改后请在控制台申请解封。\n"
            .to_owned(),
        html: "<!doctype html><html lang=\"zh-CN\"><body><p>尊敬的客户：</p>\
               <p>您的资源 <b>www.example.cn</b> 存在违规内容（类别：赌博）。</p>\
               <p>整改期限：2026-12-02 18:00</p></body></html>"
            .to_owned(),
        lang: "zh-CN".to_owned(),
    }
}

fn en_mail(id: &str) -> Mail {
    Mail {
        message_id: id.to_owned(),
        to: TENANT.to_owned(),
        subject: "Violation notice: www.example.com must be rectified within 24 hours".to_owned(),
        text:
            "Dear customer,\n\nThe link https://www.example.com/a on your resource www.example.com \
               violates our policy (category: gambling). Action: alert; deadline 2026-12-02 18:00 \
               (UTC+8). Once rectified, ask for unblock in the console.\n"
                .to_owned(),
        html: "<!doctype html><html lang=\"en\"><body><p>Dear customer,</p>\
               <p>Your resource <b>www.example.com</b> violates our policy.</p></body></html>"
            .to_owned(),
        lang: "en".to_owned(),
    }
}

/// The raw header block, unfolded, as (name, value) pairs.
fn raw_headers(raw: &str) -> Vec<(String, String)> {
    let head = raw.split("\r\n\r\n").next().unwrap();
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with(' ') || line.starts_with('\t') {
            out.last_mut().unwrap().1.push_str(line);
        } else {
            let (name, value) = line.split_once(':').unwrap();
            out.push((name.to_owned(), value.trim().to_owned()));
        }
    }
    out
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    let found: Vec<&(String, String)> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .collect();
    assert_eq!(found.len(), 1, "exactly one {name} header in {headers:?}");
    &found[0].1
}

/// What a recipient would check, on one stored message.
fn assert_delivered(raw: &str, parsed: &Value, mail: &Mail) {
    assert!(raw.is_ascii(), "the raw message is 7-bit clean");
    assert_eq!(
        parsed["defects"],
        serde_json::json!([]),
        "parser defects: {parsed}"
    );
    let headers = raw_headers(raw);
    assert_eq!(
        header(&headers, "Message-ID"),
        format!("<{}>", mail.message_id)
    );
    assert_eq!(header(&headers, "Content-Language"), mail.lang);
    assert_eq!(header(&headers, "MIME-Version"), "1.0");
    assert!(
        header(&headers, "Content-Type").starts_with("multipart/alternative"),
        "{headers:?}"
    );
    assert!(!header(&headers, "Date").is_empty());
    let subject = header(&headers, "Subject");
    if mail.subject.is_ascii() {
        assert_eq!(subject, mail.subject);
    } else {
        assert!(
            subject.contains("=?utf-8?b?") && !subject.contains("违规"),
            "a non-ASCII subject is RFC 2047 encoded: {subject}"
        );
    }

    assert_eq!(parsed["message_id"], format!("<{}>", mail.message_id));
    assert_eq!(parsed["subject"], mail.subject.as_str());
    assert_eq!(parsed["content_language"], mail.lang.as_str());
    assert_eq!(parsed["content_type"], "multipart/alternative");
    assert_eq!(parsed["from"], "Warden 安全中心 <noc@provider.example>");
    assert_eq!(parsed["reply_to"], "Abuse desk <abuse@provider.example>");
    assert_eq!(parsed["to"], TENANT);
    assert_eq!(parsed["mail_from"], "noc@provider.example");
    assert_eq!(parsed["rcpt_tos"], serde_json::json!([TENANT]));

    let parts = parsed["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "{parts:?}");
    for (part, (kind, content)) in parts
        .iter()
        .zip([("text/plain", &mail.text), ("text/html", &mail.html)])
    {
        assert_eq!(part["content_type"], kind);
        assert_eq!(part["charset"], "utf-8");
        let cte = part["transfer_encoding"].as_str().unwrap_or("7bit");
        if !content.is_ascii() {
            assert!(
                cte == "quoted-printable" || cte == "base64",
                "non-ASCII {kind} travels as quoted-printable or base64, not {cte}"
            );
        }
        // Text travels in canonical form (CRLF line ends, RFC 2045); Python's get_content also
        // ends it with a line break when the body lacks one.
        let decoded = part["content"].as_str().unwrap().replace("\r\n", "\n");
        assert_eq!(
            decoded.trim_end_matches('\n'),
            content.replace("\r\n", "\n").trim_end_matches('\n'),
            "{kind} decodes back to what was sent"
        );
    }
}

#[tokio::test]
async fn plain_to_a_loopback_relay_delivers_both_languages_with_every_header() {
    let Some(server) = Smtpd::start(Opts::default()) else {
        return;
    };
    let smtp = SmtpTransport::new(settings(server.port, SmtpTls::None)).unwrap();
    let zh = zh_mail("ntc_1.email@warden.invalid");
    let en = en_mail("ntc_2.email@warden.invalid");
    smtp.send(&zh).await.unwrap();
    smtp.send(&en).await.unwrap();

    let got = server.received();
    assert_eq!(got.len(), 2);
    assert_delivered(&got[0].0, &got[0].1, &zh);
    assert_delivered(&got[1].0, &got[1].1, &en);
    assert_eq!(got[0].1["tls"], false);
}

#[tokio::test]
async fn a_retry_sends_the_same_message_id() {
    let Some(server) = Smtpd::start(Opts::default()) else {
        return;
    };
    let smtp = SmtpTransport::new(settings(server.port, SmtpTls::None)).unwrap();
    let mail = zh_mail("ntc_7.email@warden.invalid");
    smtp.send(&mail).await.unwrap();
    smtp.send(&mail).await.unwrap();
    let got = server.received();
    assert_eq!(got.len(), 2);
    for (raw, parsed) in &got {
        assert_delivered(raw, parsed, &mail);
    }
}

#[tokio::test]
async fn starttls_with_a_private_ca_delivers() {
    let pki = pki();
    let Some(server) = Smtpd::start(Opts {
        tls: Some(("starttls", &pki)),
        ..Opts::default()
    }) else {
        return;
    };
    let smtp = SmtpTransport::new(SmtpSettings {
        extra_root_certs_pem: Some(pki.ca_pem.clone()),
        ..settings(server.port, SmtpTls::StartTls)
    })
    .unwrap();
    let mail = zh_mail("ntc_3.email@warden.invalid");
    smtp.send(&mail).await.unwrap();
    let got = server.received();
    assert_eq!(got.len(), 1);
    assert_delivered(&got[0].0, &got[0].1, &mail);
    assert_eq!(
        got[0].1["tls"], true,
        "the message travelled after STARTTLS"
    );
}

#[tokio::test]
async fn implicit_tls_with_a_private_ca_delivers() {
    let pki = pki();
    let Some(server) = Smtpd::start(Opts {
        tls: Some(("implicit", &pki)),
        ..Opts::default()
    }) else {
        return;
    };
    let smtp = SmtpTransport::new(SmtpSettings {
        extra_root_certs_pem: Some(pki.ca_pem.clone()),
        ..settings(server.port, SmtpTls::Implicit)
    })
    .unwrap();
    let mail = en_mail("ntc_4.email@warden.invalid");
    smtp.send(&mail).await.unwrap();
    let got = server.received();
    assert_eq!(got.len(), 1);
    assert_delivered(&got[0].0, &got[0].1, &mail);
    assert_eq!(got[0].1["tls"], true);
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_a_transient_tls_failure() {
    let pki = pki();
    let Some(server) = Smtpd::start(Opts {
        tls: Some(("implicit", &pki)),
        ..Opts::default()
    }) else {
        return;
    };
    let smtp = SmtpTransport::new(settings(server.port, SmtpTls::Implicit)).unwrap();
    let err = smtp
        .send(&en_mail("ntc_5.email@warden.invalid"))
        .await
        .unwrap_err();
    assert!(!err.permanent, "{err}");
    assert!(err.message.contains("TLS"), "{err}");
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn starttls_refuses_a_server_that_does_not_offer_it() {
    let Some(server) = Smtpd::start(Opts::default()) else {
        return;
    };
    let smtp = SmtpTransport::new(settings(server.port, SmtpTls::StartTls)).unwrap();
    let err = smtp
        .send(&en_mail("ntc_6.email@warden.invalid"))
        .await
        .unwrap_err();
    assert!(!err.permanent, "{err}");
    assert!(
        server.received().is_empty(),
        "nothing went out in plain text"
    );
}

#[tokio::test]
async fn auth_with_the_right_password_delivers_and_a_wrong_one_is_an_error() {
    let pki = pki();
    let Some(server) = Smtpd::start(Opts {
        tls: Some(("starttls", &pki)),
        auth: Some(("warden", "s3cret-pass")),
        ..Opts::default()
    }) else {
        return;
    };
    let with = |password: &str| {
        SmtpTransport::new(SmtpSettings {
            username: Some("warden".into()),
            password: Some(password.into()),
            extra_root_certs_pem: Some(pki.ca_pem.clone()),
            ..settings(server.port, SmtpTls::StartTls)
        })
        .unwrap()
    };

    let mail = zh_mail("ntc_8.email@warden.invalid");
    with("s3cret-pass").send(&mail).await.unwrap();
    let got = server.received();
    assert_eq!(got.len(), 1);
    assert_delivered(&got[0].0, &got[0].1, &mail);
    assert_eq!(got[0].1["authenticated"], true);

    let err = with("wrong-pass").send(&mail).await.unwrap_err();
    assert!(
        !err.permanent,
        "a refused login is the relay's configuration, not this message: {err}"
    );
    assert!(err.message.contains("535"), "{err}");
    assert!(!err.message.contains("wrong-pass"), "{err}");
    assert!(!err.message.contains(TENANT), "{err}");
    assert_eq!(server.received().len(), 1, "nothing more was accepted");
}

#[tokio::test]
async fn a_550_on_rcpt_is_permanent_and_does_not_name_the_recipient() {
    let Some(server) = Smtpd::start(Opts {
        rcpt_reply: Some("550 5.1.1 <{addr}>: mailbox unavailable"),
        ..Opts::default()
    }) else {
        return;
    };
    let smtp = SmtpTransport::new(settings(server.port, SmtpTls::None)).unwrap();
    let err = smtp
        .send(&zh_mail("ntc_9.email@warden.invalid"))
        .await
        .unwrap_err();
    assert!(err.permanent, "{err}");
    assert!(err.message.contains("550"), "{err}");
    assert!(
        err.message
            .contains("5.1.1 <recipient>: mailbox unavailable"),
        "the reply is passed on with the address taken out: {err}"
    );
    assert!(!err.message.contains("tenant-li"), "{err}");
    assert!(!err.message.contains("example.com"), "{err}");
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_451_on_rcpt_is_transient() {
    let Some(server) = Smtpd::start(Opts {
        rcpt_reply: Some("451 4.3.0 <{addr}>: try again later"),
        ..Opts::default()
    }) else {
        return;
    };
    let smtp = SmtpTransport::new(settings(server.port, SmtpTls::None)).unwrap();
    let err = smtp
        .send(&en_mail("ntc_10.email@warden.invalid"))
        .await
        .unwrap_err();
    assert!(!err.permanent, "{err}");
    assert!(err.message.contains("451"), "{err}");
    assert!(!err.message.contains("tenant-li"), "{err}");
}

#[tokio::test]
async fn a_server_that_is_down_is_a_transient_error() {
    let port = free_port();
    let smtp = SmtpTransport::new(settings(port, SmtpTls::None)).unwrap();
    let err = smtp
        .send(&en_mail("ntc_11.email@warden.invalid"))
        .await
        .unwrap_err();
    assert!(!err.permanent, "{err}");
    assert!(!err.message.contains("tenant-li"), "{err}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_as_transient() {
    // Accepts the connection and says nothing: no greeting, ever.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_secs(3));
        drop(conn);
    });
    let smtp = SmtpTransport::new(SmtpSettings {
        timeout: Duration::from_millis(500),
        ..settings(port, SmtpTls::None)
    })
    .unwrap();
    let started = Instant::now();
    let err = smtp
        .send(&en_mail("ntc_12.email@warden.invalid"))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(!err.permanent, "{err}");
    hold.join().unwrap();
}

#[tokio::test]
async fn an_invalid_recipient_is_permanent_and_not_repeated() {
    // Refused before any connection: the port has nothing behind it.
    let smtp = SmtpTransport::new(settings(free_port(), SmtpTls::None)).unwrap();
    for bad in [
        "not an address",
        "tenant-li@",
        "tenant-li@exa mple.com\r\nBcc: x@y.z",
    ] {
        let mail = Mail {
            to: bad.to_owned(),
            ..en_mail("ntc_13.email@warden.invalid")
        };
        let err = smtp.send(&mail).await.unwrap_err();
        assert!(err.permanent, "{bad:?}: {err}");
        assert!(!err.message.contains("tenant-li"), "{err}");
        assert!(!err.message.contains("not an address"), "{err}");
    }
}

#[test]
fn plain_smtp_to_a_host_off_this_machine_is_refused_at_construction() {
    // Never connects: the refusal is in `new`.
    for host in ["192.0.2.1", "mail.example.com", "2001:db8::25"] {
        let err = SmtpTransport::new(SmtpSettings {
            host: host.into(),
            ..settings(25, SmtpTls::None)
        })
        .unwrap_err();
        assert!(err.contains("tls"), "{err}");
        assert!(err.contains("loopback"), "{err}");
        assert!(err.contains(host), "{err}");
    }
    for host in ["localhost", "127.0.0.1", "::1"] {
        SmtpTransport::new(SmtpSettings {
            host: host.into(),
            ..settings(25, SmtpTls::None)
        })
        .unwrap();
    }
    SmtpTransport::new(SmtpSettings {
        host: "mail.example.com".into(),
        ..settings(587, SmtpTls::StartTls)
    })
    .unwrap();
}

#[test]
fn bad_settings_are_refused_with_the_setting_named() {
    let cases: Vec<(SmtpSettings, &str)> = vec![
        (
            SmtpSettings {
                from: "not a mailbox".into(),
                ..settings(25, SmtpTls::None)
            },
            "from",
        ),
        (
            SmtpSettings {
                reply_to: Some("abuse@".into()),
                ..settings(25, SmtpTls::None)
            },
            "reply_to",
        ),
        (
            SmtpSettings {
                username: Some("warden".into()),
                ..settings(25, SmtpTls::None)
            },
            "password",
        ),
        (
            SmtpSettings {
                extra_root_certs_pem: Some("garbage".into()),
                ..settings(465, SmtpTls::Implicit)
            },
            "extra_root_certs_pem",
        ),
        (
            SmtpSettings {
                timeout: Duration::ZERO,
                ..settings(25, SmtpTls::None)
            },
            "timeout",
        ),
    ];
    for (s, setting) in cases {
        let err = SmtpTransport::new(s).unwrap_err();
        assert!(err.contains(setting), "{setting}: {err}");
    }
    let err = SmtpTransport::new(SmtpSettings {
        username: Some("warden".into()),
        password: Some("hunter2".into()),
        from: "bad".into(),
        ..settings(25, SmtpTls::None)
    })
    .unwrap_err();
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn the_same_mail_at_the_same_instant_is_the_same_bytes() {
    let clock = Arc::new(ManualClock::new(1_796_000_000_000));
    let smtp = SmtpTransport::new(settings(25, SmtpTls::None))
        .unwrap()
        .with_clock(clock.clone());
    let mail = zh_mail("ntc_14.email@warden.invalid");
    let a = smtp.build_message(&mail).unwrap();
    let b = smtp.build_message(&mail).unwrap();
    assert_eq!(a, b);
    let text = String::from_utf8(a).unwrap();
    assert!(
        text.contains("Message-ID: <ntc_14.email@warden.invalid>\r\n"),
        "{text}"
    );
    assert!(
        text.contains("Date: Mon, 30 Nov 2026 00:53:20 +0000\r\n"),
        "the Date is the clock's: {text}"
    );
    assert!(text.contains("Content-Language: zh-CN\r\n"), "{text}");
    assert!(text.contains("Reply-To: "), "{text}");
    clock.advance(60_000);
    assert_ne!(smtp.build_message(&mail).unwrap(), b, "the Date moved on");

    let no_reply_to = SmtpTransport::new(SmtpSettings {
        reply_to: None,
        ..settings(25, SmtpTls::None)
    })
    .unwrap();
    let text = String::from_utf8(no_reply_to.build_message(&mail).unwrap()).unwrap();
    assert!(!text.contains("Reply-To:"), "{text}");
}

#[test]
fn a_malformed_message_id_or_language_is_permanent() {
    let smtp = SmtpTransport::new(settings(25, SmtpTls::None)).unwrap();
    for id in [
        "<ntc_1@warden.invalid>",
        "ntc_1",
        "ntc 1@warden.invalid",
        "",
    ] {
        let err = smtp.build_message(&en_mail(id)).unwrap_err();
        assert!(err.permanent, "{id:?}: {err}");
    }
    let err = smtp
        .build_message(&Mail {
            lang: "zh CN\r\nX: y".into(),
            ..zh_mail("ntc_15.email@warden.invalid")
        })
        .unwrap_err();
    assert!(err.permanent, "{err}");
}

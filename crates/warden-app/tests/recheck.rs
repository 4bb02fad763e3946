//! DET-2/DET-3: the re-checker against a real local web server whose page the test changes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use warden_app::recheck::{FetchPolicy, HttpRechecker, Rechecker, Verdict, fetch};

type Page = Arc<Mutex<(u16, String)>>;

async fn page(State(p): State<Page>) -> Response {
    let (status, body) = p.lock().unwrap().clone();
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn server() -> (String, Page) {
    let p: Page = Arc::new(Mutex::new((
        200,
        "<html><body>在线 赌场 Online CASINO, bet now</body></html>".into(),
    )));
    let app = Router::new()
        .route("/page", get(page))
        .route(
            "/big",
            get(|| async { "x".repeat(3 * 1024 * 1024) + "CASINO" }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route(
            "/to-metadata",
            get(|| async { Redirect::temporary("http://169.254.169.254/latest/meta-data/") }),
        )
        .route("/to-page", get(|| async { Redirect::temporary("/page") }))
        .route("/gbk", get(|| async {
            let (b, _, _) = encoding_rs::GBK.encode("<html><body><p>欢迎光临网上赌场</p><script>var x='clean'</script></body></html>");
            ([("content-type", "text/html; charset=gbk")], b.into_owned())
        }))
        .route("/big5", get(|| async {
            let (b, _, _) = encoding_rs::BIG5.encode("<html><head><meta charset=big5><title>線上賭場</title></head><body>歡迎</body></html>");
            ([("content-type", "text/html")], b.into_owned())
        }))
        .with_state(p.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (base, p)
}

fn allow_localhost() -> FetchPolicy {
    FetchPolicy {
        allowed_networks: vec!["127.0.0.1/32".parse().unwrap()],
        timeout: Duration::from_millis(800),
        ..FetchPolicy::default()
    }
}

/// DET-3: still violating while the text is there; clean once the page is fixed or gone.
#[tokio::test]
async fn verdict_follows_the_page() {
    let (base, p) = server().await;
    let r = HttpRechecker {
        policy: allow_localhost(),
    };
    let markers = vec!["online casino".to_string(), "赌场".to_string()];
    let url = format!("{base}/page");
    match r.recheck(&url, &markers, "").await {
        Verdict::Violating { found, evidence } => {
            assert_eq!(found, markers);
            assert_eq!(evidence.status, 200);
            assert_eq!(evidence.sha256, warden_domain::sha256_hex(&evidence.body));
        }
        v => panic!("{v:?}"),
    }
    p.lock().unwrap().1 = "<html>We sell flowers.</html>".into();
    assert!(matches!(
        r.recheck(&url, &markers, "").await,
        Verdict::Clean { .. }
    ));
    *p.lock().unwrap() = (404, "gone".into());
    assert!(
        matches!(r.recheck(&url, &markers, "").await, Verdict::Clean { .. }),
        "removed content is clean"
    );
    *p.lock().unwrap() = (503, "down".into());
    assert!(
        matches!(r.recheck(&url, &markers, "").await, Verdict::Unknown { .. }),
        "a failing server is not clean"
    );
    // Redirects inside the allowed network are followed.
    p.lock().unwrap().0 = 200;
    p.lock().unwrap().1 = "online  Casino".into();
    assert!(matches!(
        r.recheck(&format!("{base}/to-page"), &markers, "").await,
        Verdict::Violating { .. }
    ));
}

/// DET-2: no SSRF — loopback, link-local metadata and private addresses are refused, also after a
/// redirect, unless an operator allow-lists the network.
#[tokio::test]
async fn internal_addresses_are_refused() {
    let (base, _) = server().await;
    let strict = FetchPolicy {
        timeout: Duration::from_millis(800),
        ..FetchPolicy::default()
    };
    let port = base.rsplit(':').next().unwrap();
    for url in [
        format!("{base}/page"),
        format!("http://localhost:{port}/page"),
        format!("http://[::1]:{port}/page"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://10.0.0.1/".to_string(),
        "http://172.16.5.4/".to_string(),
        "http://192.168.1.1/".to_string(),
        "http://100.64.0.1/".to_string(),
        "http://[::ffff:192.168.0.1]/".to_string(),
    ] {
        let e = fetch(&url, &strict).await.unwrap_err().to_string();
        assert!(e.contains("non-public address"), "{url}: {e}");
    }
    let e = fetch(&format!("{base}/to-metadata"), &allow_localhost())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("169.254.169.254"),
        "a redirect to an internal address is refused: {e}"
    );
    assert!(fetch("ftp://example.com/x", &strict).await.is_err());
}

/// DET-2: time and size are bounded.
#[tokio::test]
async fn time_and_size_are_bounded() {
    let (base, _) = server().await;
    let policy = FetchPolicy {
        max_bytes: 1024 * 1024,
        ..allow_localhost()
    };
    let f = fetch(&format!("{base}/big"), &policy).await.unwrap();
    assert!(f.truncated);
    assert_eq!(f.body.len(), 1024 * 1024);
    let started = std::time::Instant::now();
    let e = fetch(&format!("{base}/slow"), &policy).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "{e}");
}

/// DET-2: GBK and Big5 pages are decoded before the text is looked at.
#[tokio::test]
async fn gbk_and_big5_pages_are_decoded() {
    let (base, _) = server().await;
    let policy = allow_localhost();
    let f = fetch(&format!("{base}/gbk"), &policy).await.unwrap();
    assert_eq!(f.charset, "GBK");
    assert!(
        f.text.contains("欢迎光临网上赌场") && !f.text.contains("var x"),
        "{}",
        f.text
    );
    let f = fetch(&format!("{base}/big5"), &policy).await.unwrap();
    assert_eq!(f.charset, "Big5");
    assert!(f.text.contains("線上賭場"), "{}", f.text);
    let r = HttpRechecker { policy };
    assert!(matches!(
        r.recheck(&format!("{base}/gbk"), &["网上赌场".to_string()], "")
            .await,
        Verdict::Violating { .. }
    ));
}

/// DET-2: an https page is fetched over TLS (most violating pages are https): the client opens
/// with a TLS handshake to the pinned address; a server that is not one fails the fetch.
#[tokio::test]
async fn https_pages_are_fetched_over_tls() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let first = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut head = [0u8; 3];
        s.read_exact(&mut head).await.unwrap();
        // Not a TLS server after all: an alert-free close makes the handshake fail.
        let _ = s.shutdown().await;
        head
    });
    let e = fetch(
        &format!("https://127.0.0.1:{port}/page"),
        &allow_localhost(),
    )
    .await
    .unwrap_err();
    let head = tokio::time::timeout(Duration::from_secs(5), first)
        .await
        .expect("the fetch connected to the https server")
        .unwrap();
    assert_eq!(
        (head[0], head[1]),
        (0x16, 0x03),
        "a TLS handshake record (ClientHello) opens the connection"
    );
    let text = e.to_string();
    assert!(!text.contains("scheme"), "{text}");
}

/// DET-2/DET-3: a real https page (TLS with a certificate a trusted authority signed) is
/// re-checked like a plain one; the same page under an authority the policy does not trust is
/// refused, and that is an unknown verdict, never "clean".
#[tokio::test]
async fn https_pages_are_rechecked_and_untrusted_certificates_refused() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls;
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap(),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = l.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = [0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let body = "<html><body>在线 赌场 Online CASINO</body></html>";
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    let url = format!("https://127.0.0.1:{port}/page");
    let trusting = FetchPolicy {
        extra_roots_pem: vec![ca_cert.pem()],
        ..allow_localhost()
    };
    let f = fetch(&url, &trusting).await.unwrap();
    assert!(f.text.contains("CASINO"), "{}", f.text);
    let checker = HttpRechecker {
        policy: trusting.clone(),
    };
    assert!(
        matches!(
            checker.recheck(&url, &["casino".into()], "gambling").await,
            Verdict::Violating { .. }
        ),
        "the https page still violates"
    );
    // The system's roots alone do not know the test's authority.
    assert!(fetch(&url, &allow_localhost()).await.is_err());
    let untrusted = HttpRechecker {
        policy: allow_localhost(),
    };
    assert!(
        matches!(
            untrusted
                .recheck(&url, &["casino".into()], "gambling")
                .await,
            Verdict::Unknown { .. }
        ),
        "an untrusted certificate is no clean verdict"
    );
}

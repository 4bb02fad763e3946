//! A small WebDriver client so browser tests drive a real Chromium (Debian's `chromium` and
//! `chromium-driver`) from Rust, without a WebDriver crate: the W3C protocol is a handful of JSON
//! calls over HTTP, and reqwest, serde_json and base64 are already here. Chromium runs headless
//! with a throwaway profile and may only reach loopback. Every failure panics with the command
//! and WebDriver's message: these are tests.
//! (Drives UI-1/UI-2 tests in real Chromium.)

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};

use crate::enforcement::program;

/// How long `find` and `wait_for_text` wait for the page to catch up.
const WAIT: Duration = Duration::from_secs(5);
/// The key under which W3C WebDriver names an element.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless Chromium behind its own chromedriver; both end when this is dropped.
#[derive(Debug)]
pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:<port>`, the chromedriver.
    driver_url: String,
    /// Empty until the session exists and again after `quit`.
    session: String,
    driver: Option<Child>,
    /// Chromium's profile; removed after the driver (and so Chromium) has ended.
    profile: tempfile::TempDir,
}

/// An element of the current page, found by CSS selector.
#[derive(Debug, Clone)]
pub struct Element<'b> {
    browser: &'b Browser,
    id: String,
}

/// A cookie as the browser holds it, with the flags tests check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    pub name: String,
    pub value: String,
    pub path: String,
    pub http_only: bool,
    pub secure: bool,
    /// `Strict`, `Lax` or `None`, as Chromium reports it.
    pub same_site: String,
}

impl Browser {
    /// A fresh Chromium whose UI language and `Accept-Language` are `lang`; `None` (with a loud
    /// notice) when chromium or chromium-driver is missing on a developer's machine, a panic
    /// under `CI=true`.
    pub async fn start(lang: &str) -> Option<Browser> {
        let driver = program(&["/usr/bin/chromedriver"], "chromium-driver")?;
        // The real binary, not the /usr/bin/chromium wrapper: that one sources /etc/chromium.d,
        // which adds extension flags and, on this machine, trips over its own /dev/shm check.
        let chromium = program(&["/usr/lib/chromium/chromium"], "chromium")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        // No --allowed-ips: without it chromedriver listens on loopback only; with an empty
        // list it listens on every interface and accepts anyone.
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver");
        let mut b = Browser {
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("http client"),
            driver_url: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            driver: Some(child),
            profile: tempfile::tempdir().expect("profile dir"),
        };
        b.wait_ready().await;
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
            // Loopback only: every other name (and address) fails to resolve.
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost",
        ]
        .map(String::from)
        .into_iter()
        .chain([
            format!("--user-data-dir={}", b.profile.path().display()),
            format!("--lang={lang}"),
        ])
        .collect::<Vec<_>>();
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "timeouts": { "pageLoad": 20_000, "script": 10_000 },
            "goog:chromeOptions": {
                "binary": chromium,
                "args": args,
                // --lang sets the UI; this pref is what Accept-Language is made from.
                "prefs": { "intl.accept_languages": lang },
            },
        }}});
        let v = b.call(Method::POST, "/session", Some(caps)).await;
        b.session = v["sessionId"].as_str().expect("sessionId").to_owned();
        Some(b)
    }

    /// Polls `GET /status` until chromedriver says it is ready, failing fast if it exited.
    async fn wait_ready(&mut self) {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(Ok(Some(status))) = self.driver.as_mut().map(Child::try_wait) {
                panic!("chromedriver exited before it was ready: {status}");
            }
            let url = format!("{}/status", self.driver_url);
            if let Ok(r) = self.http.get(url).send().await
                && let Ok(v) = r.json::<Value>().await
                && v["value"]["ready"] == true
            {
                return;
            }
            assert!(Instant::now() < until, "chromedriver not ready after 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// One WebDriver command; its `value`, or a panic naming the command and WebDriver's error.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.driver_url));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let fail = |e: &dyn std::fmt::Display| -> ! { panic!("WebDriver {method} {path}: {e}") };
        let r = req.send().await.unwrap_or_else(|e| fail(&e));
        let mut v: Value = r.json().await.unwrap_or_else(|e| fail(&e));
        let value = v["value"].take();
        if let Some(error) = value["error"].as_str() {
            // The message usually repeats the error's name.
            let message = value["message"].as_str().unwrap_or(error);
            fail(&if message.starts_with(error) {
                message.to_owned()
            } else {
                format!("{error}: {message}")
            });
        }
        value
    }

    /// A command on this session: `path` is relative to `/session/<id>`.
    async fn cmd(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    /// Loads `url` and waits for the page load to finish.
    pub async fn goto(&self, url: &str) {
        self.cmd(Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    pub async fn current_url(&self) -> String {
        string(self.cmd(Method::GET, "/url", None).await)
    }

    pub async fn title(&self) -> String {
        string(self.cmd(Method::GET, "/title", None).await)
    }

    /// The page's HTML as the browser now holds it (after scripts ran).
    pub async fn source(&self) -> String {
        string(self.cmd(Method::GET, "/source", None).await)
    }

    /// What a reader sees: the body's `innerText`.
    pub async fn text_of_page(&self) -> String {
        let script = "return document.body ? document.body.innerText : ''";
        string(self.execute(script, &[]).await)
    }

    /// Runs `script` as a function body with `arguments` = `args`; its return value.
    pub async fn execute(&self, script: &str, args: &[Value]) -> Value {
        let body = json!({ "script": script, "args": args });
        self.cmd(Method::POST, "/execute/sync", Some(body)).await
    }

    /// The first element matching `css`, waiting up to 5 s for it to appear; panics naming the
    /// selector, the page and what it says when it never does.
    pub async fn find(&self, css: &str) -> Element<'_> {
        let until = Instant::now() + WAIT;
        loop {
            if let Some(e) = self.find_all(css).await.into_iter().next() {
                return e;
            }
            if Instant::now() >= until {
                let (url, text) = (self.current_url().await, self.text_of_page().await);
                let excerpt: String = text.chars().take(600).collect();
                panic!("no element `{css}` on {url} after {WAIT:?}; the page says:\n{excerpt}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every element matching `css` now (no wait).
    pub async fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        let body = json!({ "using": "css selector", "value": css });
        let v = self.cmd(Method::POST, "/elements", Some(body)).await;
        v.as_array()
            .into_iter()
            .flatten()
            .map(|e| self.element(e))
            .collect()
    }

    /// Whether `css` matches anything now (no wait).
    pub async fn exists(&self, css: &str) -> bool {
        !self.find_all(css).await.is_empty()
    }

    fn element(&self, v: &Value) -> Element<'_> {
        let id = v[ELEMENT]
            .as_str()
            .expect("an element reference")
            .to_owned();
        Element { browser: self, id }
    }

    /// Waits up to 5 s for the page's text to contain `text`.
    pub async fn wait_for_text(&self, text: &str) {
        let until = Instant::now() + WAIT;
        loop {
            let page = self.text_of_page().await;
            if page.contains(text) {
                return;
            }
            if Instant::now() >= until {
                let url = self.current_url().await;
                let excerpt: String = page.chars().take(600).collect();
                panic!("`{text}` not on {url} after {WAIT:?}; the page says:\n{excerpt}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves the viewport as `target/screenshots/<name>.png` and prints where.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = base64::engine::general_purpose::STANDARD
            .decode(string(self.cmd(Method::GET, "/screenshot", None).await))
            .expect("screenshot is base64");
        let crate_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = crate_dir
            .ancestors()
            .nth(2)
            .expect("workspace")
            .join("target/screenshots");
        std::fs::create_dir_all(&dir).expect("create target/screenshots");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        println!("screenshot: {}", path.display());
        path
    }

    /// Sets a cookie (path `/`) for the current page's host; a page must be loaded.
    pub async fn add_cookie(&self, name: &str, value: &str) {
        let body = json!({ "cookie": { "name": name, "value": value, "path": "/" } });
        self.cmd(Method::POST, "/cookie", Some(body)).await;
    }

    /// The cookies visible to the current page, with their flags.
    pub async fn cookies(&self) -> Vec<Cookie> {
        let v = self.cmd(Method::GET, "/cookie", None).await;
        let all = v.as_array().cloned().unwrap_or_default();
        all.into_iter()
            .map(|c| Cookie {
                name: string(c["name"].clone()),
                value: string(c["value"].clone()),
                path: c["path"].as_str().unwrap_or("").to_owned(),
                http_only: c["httpOnly"] == true,
                secure: c["secure"] == true,
                same_site: c["sameSite"].as_str().unwrap_or("").to_owned(),
            })
            .collect()
    }

    /// The cookie called `name`, if the current page sees one.
    pub async fn cookie(&self, name: &str) -> Option<Cookie> {
        self.cookies().await.into_iter().find(|c| c.name == name)
    }

    pub async fn delete_cookies(&self) {
        self.cmd(Method::DELETE, "/cookie", None).await;
    }

    /// Ends the session (Chromium quits), then chromedriver.
    pub async fn quit(mut self) {
        self.cmd(Method::DELETE, "", None).await;
        self.session.clear();
    }
}

impl Drop for Browser {
    /// Best effort and synchronous (a test may be unwinding): ask chromedriver to end the
    /// session so Chromium does not outlive it, then kill chromedriver.
    fn drop(&mut self) {
        let Some(mut driver) = self.driver.take() else {
            return;
        };
        if !self.session.is_empty() {
            let _ = delete_session(&self.driver_url, &self.session);
        }
        let _ = driver.kill();
        let _ = driver.wait();
    }
}

/// `DELETE /session/<id>` over a plain socket, for `Drop` (no runtime there).
fn delete_session(driver_url: &str, session: &str) -> std::io::Result<()> {
    let addr = driver_url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "DELETE /session/{session} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    // chromedriver answers once Chromium has quit, and keeps the connection open regardless of
    // `Connection: close`: the first bytes of the answer are the signal.
    s.read(&mut [0; 64]).map(drop)
}

impl Element<'_> {
    async fn cmd(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        self.browser
            .cmd(method, &format!("/element/{}{path}", self.id), body)
            .await
    }

    pub async fn click(&self) {
        self.cmd(Method::POST, "/click", Some(json!({}))).await;
    }

    /// Types `text` into the element (appending to what it holds).
    pub async fn send_keys(&self, text: &str) {
        let body = json!({ "text": text });
        self.cmd(Method::POST, "/value", Some(body)).await;
    }

    pub async fn clear(&self) {
        self.cmd(Method::POST, "/clear", Some(json!({}))).await;
    }

    /// The rendered text, as a reader sees it.
    pub async fn text(&self) -> String {
        string(self.cmd(Method::GET, "/text", None).await)
    }

    /// The HTML attribute `name` as written in the page; `None` when absent.
    pub async fn attr(&self, name: &str) -> Option<String> {
        let v = self
            .cmd(Method::GET, &format!("/attribute/{name}"), None)
            .await;
        v.as_str().map(str::to_owned)
    }

    /// The DOM property `name` (what the user changed: `value`, `checked`); `null` when absent.
    pub async fn prop(&self, name: &str) -> Value {
        self.cmd(Method::GET, &format!("/property/{name}"), None)
            .await
    }

    /// For a `<select>`: chooses the option whose value is `value` by clicking it.
    pub async fn select_option(&self, value: &str) {
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
        let css = format!("option[value=\"{escaped}\"]");
        let body = json!({ "using": "css selector", "value": css });
        let v = self.cmd(Method::POST, "/elements", Some(body)).await;
        let option = v.as_array().and_then(|a| a.first()).unwrap_or_else(|| {
            panic!("no option with value `{value}` in this select");
        });
        self.browser.element(option).click().await;
    }

    /// This element as a script argument for `Browser::execute`.
    pub fn as_arg(&self) -> Value {
        json!({ ELEMENT: self.id })
    }
}

fn string(v: Value) -> String {
    match v {
        Value::String(s) => s,
        other => panic!("expected a string from WebDriver, got {other}"),
    }
}

mod self_test {
    //! The client against a tiny form served on loopback: typing (UTF-8 included), clicking,
    //! waiting, Accept-Language, a screenshot and cookie flags, once per language.

    use axum::Router;
    use axum::http::{HeaderMap, header};
    use axum::response::Html;
    use axum::routing::{get, post};

    use super::Browser;

    const FORM: &str = r#"<!doctype html><html><head><meta charset="utf-8"><title>Form</title></head>
<body><form method="post" action="/echo">
<label for="text">Text</label> <input id="text" name="text">
<label for="pick">Pick</label> <select id="pick" name="pick"><option value="a">A</option><option value="b">B</option></select>
<button type="submit">Send</button>
</form></body></html>"#;

    /// `application/x-www-form-urlencoded` decoding, by hand (axum's `form` feature is off).
    fn form_value(body: &str, key: &str) -> String {
        let raw = body
            .split('&')
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or("");
        let mut bytes = Vec::new();
        let mut it = raw.bytes();
        while let Some(b) = it.next() {
            match b {
                b'+' => bytes.push(b' '),
                b'%' => {
                    let hex: String = it.by_ref().take(2).map(char::from).collect();
                    bytes.push(u8::from_str_radix(&hex, 16).expect("percent escape"));
                }
                b => bytes.push(b),
            }
        }
        String::from_utf8(bytes).expect("UTF-8 form value")
    }

    fn escape(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }

    async fn echo(headers: HeaderMap, body: String) -> Html<String> {
        let lang = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Echo</title></head><body>\
             <p id=\"echo\">{}</p><p id=\"pick\">{}</p><p id=\"lang\">{}</p></body></html>",
            escape(&form_value(&body, "text")),
            escape(&form_value(&body, "pick")),
            escape(lang),
        ))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn browser_drives_a_real_chromium() {
        let app = Router::new()
            .route(
                "/",
                get(|| async {
                    let cookie = "t=1; HttpOnly; SameSite=Lax; Path=/";
                    ([(header::SET_COOKIE, cookie)], Html(FORM))
                }),
            )
            .route("/echo", post(echo));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", l.local_addr().unwrap().port());
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });

        for lang in ["zh-CN", "en"] {
            let Some(b) = Browser::start(lang).await else {
                return;
            };
            b.goto(&format!("{base}/")).await;
            assert_eq!(b.title().await, "Form");
            assert!(b.source().await.contains("action=\"/echo\""));
            assert!(b.exists("label[for=text]").await);
            assert!(!b.exists("#nothing").await);
            assert_eq!(b.find_all("option").await.len(), 2);

            // Chromium reaches loopback only: a name and an address elsewhere both fail.
            let script = "return fetch(arguments[0], { mode: 'no-cors' })\
                          .then(() => 'reached', () => 'blocked')";
            for (url, want) in [
                (base.as_str(), "reached"),
                ("http://example.com/", "blocked"),
                ("http://1.1.1.1/", "blocked"),
            ] {
                assert_eq!(b.execute(script, &[url.into()]).await, want, "{url}");
            }

            let t = b.cookie("t").await.expect("cookie t");
            assert_eq!(t.value, "1");
            assert!(t.http_only && !t.secure, "{t:?}");
            assert_eq!((t.same_site.as_str(), t.path.as_str()), ("Lax", "/"));
            b.add_cookie("u", "2").await;
            assert_eq!(b.cookies().await.len(), 2);
            b.delete_cookies().await;
            assert!(b.cookies().await.is_empty());

            let input = b.find("#text").await;
            input.send_keys("wrong").await;
            input.clear().await;
            input.send_keys("整改完成 done").await;
            assert_eq!(input.prop("value").await, "整改完成 done");
            assert_eq!(input.attr("name").await.as_deref(), Some("text"));
            b.find("#pick").await.select_option("b").await;
            let pick = b.find("#pick").await.as_arg();
            let picked = b.execute("return arguments[0].value", &[pick]).await;
            assert_eq!(picked, "b");
            b.find("button[type=submit]").await.click().await;

            b.wait_for_text("整改完成 done").await;
            assert!(b.current_url().await.ends_with("/echo"));
            assert_eq!(b.find("#echo").await.text().await, "整改完成 done");
            assert_eq!(b.find("#pick").await.text().await, "b");
            let seen = b.find("#lang").await.text().await;
            assert!(
                seen.starts_with(lang),
                "Accept-Language {seen:?} for {lang}"
            );
            eprintln!("{lang}: Accept-Language {seen:?}");
            let shot = b.screenshot(&format!("browser-self-test-{lang}")).await;
            assert!(std::fs::metadata(shot).unwrap().len() > 1000);
            b.quit().await;
        }
    }
}

//! Test harness: an in-process server on port 0 with its own database (zero2prod's `spawn_app`),
//! and the real binary as a child process.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use warden_app::auth::Principal;
use warden_app::clock::ManualClock;
use warden_app::crypto::Sealer;
use warden_app::{App, Settings};
use warden_store::testing::PgDatabase;
use warden_store::{Store, StoreOptions};

/// 2026-01-05T01:00:00Z, a Monday morning in Beijing.
pub const T0: i64 = 1_767_574_800_000;

/// Where the shared third-party test data lives.
pub fn shared_data(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub app: App,
    pub clock: Arc<ManualClock>,
    pub client: reqwest::Client,
    pub admin: String,
    pub db_url: String,
    stop: tokio::sync::watch::Sender<bool>,
    _dir: Option<tempfile::TempDir>,
    pg: Option<PgDatabase>,
}

/// A server on port 0 with a fresh database; `None` when PostgreSQL is asked for but absent
/// outside CI.
pub async fn spawn_app(engine: Engine, settings: Settings) -> Option<TestApp> {
    spawn_app_with(
        engine,
        settings,
        warden_app::lifecycle::LifecycleSettings::default(),
        false,
    )
    .await
}

/// As [`spawn_app`], with lifecycle settings, a re-checker allowed to fetch from 127.0.0.1 (the
/// tests' own web server), and optionally the job worker running on the manual clock.
pub async fn spawn_app_with(
    engine: Engine,
    settings: Settings,
    lifecycle: warden_app::lifecycle::LifecycleSettings,
    worker: bool,
) -> Option<TestApp> {
    spawn_app_notifying(
        engine,
        settings,
        lifecycle,
        warden_app::outbound::NoticeSettings::default(),
        worker,
    )
    .await
}

/// As [`spawn_app_with`], sending notices as `notices` says (NOT-1).
pub async fn spawn_app_notifying(
    engine: Engine,
    settings: Settings,
    lifecycle: warden_app::lifecycle::LifecycleSettings,
    notices: warden_app::outbound::NoticeSettings,
    worker: bool,
) -> Option<TestApp> {
    spawn_app_wired(engine, settings, lifecycle, notices, worker, |a| a).await
}

/// As [`spawn_app_notifying`], the app passed through `wire` before it serves (other
/// assessment or DDoS settings).
pub async fn spawn_app_wired(
    engine: Engine,
    mut settings: Settings,
    lifecycle: warden_app::lifecycle::LifecycleSettings,
    notices: warden_app::outbound::NoticeSettings,
    worker: bool,
    wire: impl FnOnce(App) -> App,
) -> Option<TestApp> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn,sqlx=error")
        .with_test_writer()
        .try_init();
    let (url, dir, pg) = match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            (
                format!("sqlite://{}/w.db", dir.path().display()),
                Some(dir),
                None,
            )
        }
        Engine::Postgres => {
            let pg = PgDatabase::create().await?;
            (pg.url.clone(), None, Some(pg))
        }
    };
    let store = Store::open(&StoreOptions::new(&url)).await.unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    settings.job_poll_ms = 20;
    let policy = warden_app::recheck::FetchPolicy {
        allowed_networks: vec!["127.0.0.1/32".parse().unwrap()],
        timeout: std::time::Duration::from_secs(2),
        ..Default::default()
    };
    let app = App::for_tests(store, clock.clone(), Sealer::from_key(&[3; 32]), settings)
        .with_lifecycle(lifecycle)
        .with_notices(notices)
        .with_scanning_rechecker(policy);
    let app = wire(app);
    let admin = app
        .create_token(&Principal::System, "admin", None, "test admin")
        .await
        .unwrap()
        .secret;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, mut rx) = tokio::sync::watch::channel(false);
    let mut rx2 = rx.clone();
    tokio::spawn(warden_http::serve(listener, app.clone(), async move {
        let _ = rx.changed().await;
    }));
    {
        let f = app.clone();
        let mut rx3 = rx2.clone();
        tokio::spawn(async move {
            let (_keep, never) = tokio::sync::watch::channel(false);
            tokio::select! {
                _ = f.follow_enforcement(never, std::time::Duration::from_millis(50)) => {}
                _ = rx3.changed() => {}
            }
        });
    }
    if worker {
        let w = app.clone();
        tokio::spawn(async move {
            let (_keep, never) = tokio::sync::watch::channel(false);
            tokio::select! {
                _ = w.run_worker(never) => {}
                _ = rx2.changed() => {}
            }
        });
    }
    Some(TestApp {
        base,
        app,
        clock,
        client: reqwest::Client::new(),
        admin,
        db_url: url,
        stop,
        _dir: dir,
        pg,
    })
}

impl TestApp {
    /// A token of `role` (tenant tokens bound to `account`).
    pub async fn token(&self, role: &str, account: Option<&str>) -> String {
        self.app
            .create_token(&Principal::System, role, account, role)
            .await
            .unwrap()
            .secret
    }

    /// Sends a request; returns status and JSON body (`Value::Null` when not JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(m, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Sends raw bytes.
    pub async fn post_raw(&self, path: &str, token: Option<&str>, body: Vec<u8>) -> (u16, Value) {
        let mut req = self.client.post(format!("{}{path}", self.base)).body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.app.store.close().await;
        if let Some(pg) = self.pg {
            pg.drop_db().await;
        }
    }
}

/// Runs `f` on SQLite and on PostgreSQL (skipped loudly when absent outside CI).
#[macro_export]
macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::support::Engine::Sqlite).await; }
        )* }
        mod postgres { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::support::Engine::Postgres).await; }
        )* }
    };
}

/// A running `warden` process.
pub struct Proc {
    pub child: Child,
    pub base: String,
    pub admin: Option<String>,
    pub stderr: mpsc::Receiver<String>,
    /// What it printed on standard output before "warden listening on" (other listeners).
    pub stdout: Vec<String>,
}

/// The `warden` binary in `cwd` with `envs` as its only Warden settings (none inherited) and
/// `RUST_LOG=warn` unless `envs` sets it.
pub fn warden_command(cwd: &Path, envs: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.current_dir(cwd);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("WARDEN_")) {
        cmd.env_remove(k);
    }
    cmd.env("RUST_LOG", "warn").envs(envs.iter().copied());
    cmd
}

/// Starts `warden serve --listen 127.0.0.1:0` in `cwd` with only `envs` as Warden settings, and
/// waits until it listens.
pub fn spawn_warden(cwd: &Path, envs: &[(&str, &str)], extra_args: &[&str]) -> Proc {
    spawn_warden_on("127.0.0.1:0", cwd, envs, extra_args)
}

/// [`spawn_warden`] on a fixed address (a restart that clients must find again).
pub fn spawn_warden_on(
    listen: &str,
    cwd: &Path,
    envs: &[(&str, &str)],
    extra_args: &[&str],
) -> Proc {
    let mut cmd = warden_command(cwd, envs);
    cmd.arg("serve")
        .arg("--listen")
        .arg(listen)
        .args(extra_args);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (out_tx, out_rx) = mpsc::channel();
    let (err_tx, err_rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = out_tx.send(line);
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = err_tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut printed = Vec::new();
    let base = loop {
        let line = out_rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| {
                let errs: Vec<String> = err_rx.try_iter().collect();
                panic!(
                    "warden did not start listening; stderr:\n{}",
                    errs.join("\n")
                )
            });
        if let Some(url) = line.strip_prefix("warden listening on ") {
            break url.trim().to_string();
        }
        printed.push(line);
    };
    let mut admin = None;
    let mut rest = Vec::new();
    while let Ok(l) = err_rx.recv_timeout(Duration::from_millis(200)) {
        if let Some(t) = l.split_whitespace().find(|w| w.starts_with("wdn_")) {
            admin = Some(t.to_string());
        }
        rest.push(l);
    }
    Proc {
        child,
        base,
        admin,
        stderr: err_rx,
        stdout: printed,
    }
}

impl Proc {
    /// kill -9.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits; returns whether it exited successfully within `secs`.
    pub fn terminate(&mut self, secs: u64) -> bool {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill9();
        false
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// An HTTP call against a process.
pub async fn http(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = client.request(m, format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

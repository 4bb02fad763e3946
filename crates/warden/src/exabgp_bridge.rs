//! `warden exabgp-bridge` (DDOS-7): the process ExaBGP runs to export blackholes to BGP.
//!
//! ExaBGP starts it from its configuration (`process ... { run ...; encoder text; }`) and reads
//! its standard output as API commands, answering each on its standard input with `done` or
//! `error` (`exabgp.api.ack`, on by default). The bridge reads what is in force from
//! `GET /api/enforcement/snapshot`, announces every blackhole as a host route (/32, /128) with
//! the configured next hop and communities, then long-polls `GET /api/enforcement/changes` and
//! writes `announce` / `withdraw` lines. Once ExaBGP acknowledged every line up to a revision it
//! confirms that revision (`POST /api/enforcement/confirm`), so a blackhole is `applied` only
//! when the border holds it (ENF-2, PEN-3).
//!
//! It keeps the set of routes ExaBGP holds from it. When Warden is lost (refused, restarted,
//! an answer it cannot read) it re-reads the snapshot and sends only the difference: what is no
//! longer in force is withdrawn, what is missing is announced. A new bridge process (ExaBGP
//! respawns it when it dies) cannot know what an earlier one left in ExaBGP's RIB, so it first
//! clears the adj-RIB-out and announces the snapshot straight after: nothing stays stranded.
//! Standard output carries ExaBGP commands and nothing else; logs go to standard error.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use tokio::sync::mpsc;
use warden_app::enforce::{
    RouteAttributes, announce_line, blackhole_prefix, exabgp_adapter_name, valid_community,
    withdraw_line,
};
use warden_domain::delivery::ChangeOp;
use warden_domain::penalty::Action;

/// `warden exabgp-bridge`: run by ExaBGP (`process ... { run warden exabgp-bridge ...; }`).
/// The `edge`-role API token comes from `WARDEN_BRIDGE_TOKEN` or `--token-file`, never from
/// the command line (ExaBGP's configuration and `ps` would show it).
#[derive(Debug, clap::Args)]
pub struct BridgeArgs {
    /// Warden's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    url: String,
    /// The bridge's name: `[[exabgp]] name` in Warden's configuration (it confirms as
    /// `exabgp:<name>`).
    #[arg(long)]
    adapter: String,
    /// A file holding the edge token (instead of `WARDEN_BRIDGE_TOKEN`).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Next hop of IPv4 blackhole routes: an address the routers route to discard.
    #[arg(long, default_value = "192.0.2.1")]
    next_hop: std::net::Ipv4Addr,
    /// Next hop of IPv6 blackhole routes (the RFC 6666 discard prefix by default).
    #[arg(long, default_value = "100::1")]
    next_hop6: std::net::Ipv6Addr,
    /// Communities of every route (repeat the flag; `ASN:VALUE` or a well-known name).
    #[arg(long = "community", default_values = ["65535:666", "no-export"])]
    communities: Vec<String>,
    /// How long one long-poll of the change feed waits, ms (Warden caps it at 30000).
    #[arg(long, default_value_t = 25_000)]
    wait_ms: u64,
    /// How long ExaBGP may take to acknowledge one line, ms; past it the bridge exits and
    /// ExaBGP starts a fresh one.
    #[arg(long, default_value_t = 10_000)]
    ack_timeout_ms: u64,
}

/// A change of the feed, as far as the bridge reads it.
#[derive(Debug, Deserialize)]
struct Change {
    action_id: String,
    op: ChangeOp,
    action: Action,
    #[serde(default)]
    target: String,
}

#[derive(Debug, Deserialize)]
struct Snapshot {
    revision: i64,
    items: Vec<Change>,
}

#[derive(Debug, Deserialize)]
struct Feed {
    revision: i64,
    changes: Vec<Change>,
}

/// What went wrong in one round.
#[derive(Debug)]
enum Lost {
    /// Warden did not answer, or answered something unreadable: re-read the snapshot.
    Warden(anyhow::Error),
    /// ExaBGP refused a line (`error`): retried from the snapshot, after a pause.
    Refused(String),
}

/// The bridge's standard streams: lines out, acknowledgements in.
struct Exabgp {
    acks: mpsc::Receiver<String>,
    ack_timeout: Duration,
}

impl Exabgp {
    /// Writes one command and waits for its acknowledgement: `Ok(true)` done, `Ok(false)`
    /// refused. ExaBGP gone (standard input closed, `shutdown`) or silent ends the process.
    async fn send(&mut self, line: &str) -> anyhow::Result<bool> {
        {
            // One short line, written whole and flushed: ExaBGP reads commands line by line.
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(format!("{line}\n").as_bytes())?;
            out.flush()?;
        }
        loop {
            let ack = tokio::time::timeout(self.ack_timeout, self.acks.recv())
                .await
                .with_context(|| format!("ExaBGP did not acknowledge `{line}`"))?;
            match ack.as_deref().map(str::trim) {
                None | Some("shutdown") => bail!("ExaBGP is shutting down"),
                Some("done") => return Ok(true),
                Some("error") => return Ok(false),
                // Anything else is no answer to this line (a message of another API feature).
                Some(other) => tracing::debug!(line = other, "ignored a line from ExaBGP"),
            }
        }
    }
}

/// The bridge's state: what is in force (action → route) and what ExaBGP holds from it.
#[derive(Debug, Default)]
struct Routes {
    in_force: BTreeMap<String, String>,
    announced: BTreeSet<String>,
}

impl Routes {
    /// Takes one change of the feed (or one snapshot item, an apply).
    fn take(&mut self, c: &Change) {
        if c.action != Action::Blackhole {
            return;
        }
        match c.op {
            ChangeOp::Apply => match blackhole_prefix(&c.target) {
                Some(prefix) => {
                    self.in_force.insert(c.action_id.clone(), prefix);
                }
                None => tracing::error!(
                    action_id = %c.action_id,
                    target = %c.target,
                    "a blackhole's target is not a bare IP address; no route announced"
                ),
            },
            ChangeOp::Lift => {
                self.in_force.remove(&c.action_id);
            }
        }
    }

    /// The lines that make ExaBGP hold what is in force: withdrawals first, then
    /// announcements (a route two actions blackhole stays while one of them is in force).
    fn difference(&self, attrs: &RouteAttributes) -> Vec<(String, String, bool)> {
        let want: BTreeSet<&String> = self.in_force.values().collect();
        let gone = self
            .announced
            .iter()
            .filter(|p| !want.contains(p))
            .map(|p| (p.clone(), withdraw_line(p), false));
        let new = want
            .iter()
            .filter(|p| !self.announced.contains(**p))
            .map(|p| ((*p).clone(), announce_line(p, attrs), true));
        gone.chain(new).collect()
    }

    /// Sends the difference, keeping `announced` to what ExaBGP acknowledged; `Ok(Some(line))`
    /// names the line ExaBGP refused.
    async fn sync(
        &mut self,
        x: &mut Exabgp,
        attrs: &RouteAttributes,
    ) -> anyhow::Result<Option<String>> {
        for (prefix, line, announce) in self.difference(attrs) {
            if !x.send(&line).await? {
                return Ok(Some(line));
            }
            tracing::info!(prefix = %prefix, command = %line, "ExaBGP acknowledged");
            if announce {
                self.announced.insert(prefix);
            } else {
                self.announced.remove(&prefix);
            }
        }
        Ok(None)
    }
}

/// Warden's API as the bridge uses it.
struct Warden {
    client: reqwest::Client,
    base: String,
    token: String,
    adapter: String,
    wait_ms: u64,
}

impl Warden {
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        timeout: Duration,
    ) -> anyhow::Result<T> {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .timeout(timeout)
            .send()
            .await?;
        let status = resp.status();
        if !status.is_success() {
            bail!("GET {path}: HTTP {status}");
        }
        Ok(resp.json().await?)
    }

    async fn snapshot(&self) -> anyhow::Result<Snapshot> {
        self.get("/api/enforcement/snapshot", Duration::from_secs(30))
            .await
    }

    async fn changes(&self, since: i64) -> anyhow::Result<Feed> {
        let path = format!(
            "/api/enforcement/changes?since={since}&wait_ms={}",
            self.wait_ms
        );
        self.get(&path, Duration::from_millis(self.wait_ms + 15_000))
            .await
    }

    async fn confirm(&self, revision: i64) -> anyhow::Result<()> {
        let resp = self
            .client
            .post(format!("{}/api/enforcement/confirm", self.base))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(30))
            .json(&serde_json::json!({ "adapter": self.adapter, "revision": revision }))
            .send()
            .await?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            bail!("POST /api/enforcement/confirm: HTTP {status}: {body}");
        }
        Ok(())
    }
}

/// The token: `WARDEN_BRIDGE_TOKEN`, else the first line of `--token-file`.
fn token(args: &BridgeArgs) -> anyhow::Result<String> {
    let t = match &args.token_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the token file {}", path.display()))?,
        None => std::env::var("WARDEN_BRIDGE_TOKEN")
            .context("set WARDEN_BRIDGE_TOKEN or --token-file to an edge-role API token")?,
    };
    let t = t.trim().to_string();
    if t.is_empty() {
        bail!("the edge token is empty");
    }
    Ok(t)
}

/// Backoff after losing Warden: 200 ms doubling to 5 s.
fn backoff(failures: u32) -> Duration {
    Duration::from_millis((200_u64 << failures.min(5)).min(5_000))
}

/// Runs the bridge until ExaBGP goes away (standard input closes: the process exits); returns
/// only when the arguments are wrong.
pub async fn run(args: BridgeArgs) -> anyhow::Result<u8> {
    init_logging();
    if let Some(bad) = args.communities.iter().find(|c| !valid_community(c)) {
        bail!("--community {bad:?}: must be ASN:VALUE (16-bit each) or a well-known name");
    }
    let base = args.url.trim_end_matches('/').to_string();
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        bail!("--url must start with http:// or https://");
    }
    let warden = Warden {
        client: reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()?,
        base,
        token: token(&args)?,
        adapter: exabgp_adapter_name(&args.adapter),
        wait_ms: args.wait_ms.clamp(1, 30_000),
    };
    let attrs = RouteAttributes {
        next_hop_v4: args.next_hop,
        next_hop_v6: args.next_hop6,
        communities: args.communities.clone(),
    };
    let (tx, acks) = mpsc::channel(64);
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::stdin().lock().lines().map_while(Result::ok) {
            if tx.blocking_send(l).is_err() {
                break;
            }
        }
        // Dropping `tx` tells the writer that ExaBGP is gone.
    });
    let mut x = Exabgp {
        acks,
        ack_timeout: Duration::from_millis(args.ack_timeout_ms.max(1)),
    };
    tracing::info!(adapter = %warden.adapter, url = %warden.base, "exabgp bridge started");
    follow(&warden, &mut x, &attrs).await
}

/// The bridge's life: snapshot, then the feed, re-reading the snapshot whenever Warden was
/// lost. Never returns: losing ExaBGP ends the process.
async fn follow(warden: &Warden, x: &mut Exabgp, attrs: &RouteAttributes) -> ! {
    let mut routes = Routes::default();
    let mut cleared = false;
    let mut failures = 0_u32;
    let mut confirmed = -1_i64;
    loop {
        if failures > 0 {
            tokio::time::sleep(backoff(failures)).await;
        }
        match round(warden, x, attrs, &mut routes, &mut cleared, &mut confirmed).await {
            Ok(()) => failures = 0,
            Err(Lost::Warden(e)) => {
                failures = failures.saturating_add(1);
                tracing::warn!(error = %format!("{e:#}"), attempt = failures, "lost Warden; re-reading the snapshot");
            }
            Err(Lost::Refused(e)) => {
                failures = failures.saturating_add(1);
                tracing::error!(error = %e, "ExaBGP refused a command; retrying from the snapshot");
            }
        }
    }
}

/// One snapshot and the feed after it, until Warden is lost or ExaBGP refuses a line (losing
/// ExaBGP ends the process).
async fn round(
    warden: &Warden,
    x: &mut Exabgp,
    attrs: &RouteAttributes,
    routes: &mut Routes,
    cleared: &mut bool,
    confirmed: &mut i64,
) -> Result<(), Lost> {
    let snap = warden.snapshot().await.map_err(Lost::Warden)?;
    routes.in_force.clear();
    for c in snap.items.iter().filter(|c| c.op == ChangeOp::Apply) {
        routes.take(c);
    }
    if !*cleared {
        // A fresh process: whatever an earlier bridge left in ExaBGP is unknown. Clear it and
        // announce the snapshot straight away (ExaBGP merges both into its next UPDATEs).
        send_or_exit(x, "clear adj-rib out").await?;
        routes.announced.clear();
        *cleared = true;
    }
    sync_or_exit(routes, x, attrs).await?;
    let mut revision = snap.revision;
    confirm(warden, revision, confirmed).await;
    tracing::info!(
        revision,
        routes = routes.announced.len(),
        "ExaBGP holds what is in force"
    );
    loop {
        let feed = warden.changes(revision).await.map_err(Lost::Warden)?;
        for c in &feed.changes {
            routes.take(c);
        }
        sync_or_exit(routes, x, attrs).await?;
        revision = feed.revision.max(revision);
        confirm(warden, revision, confirmed).await;
    }
}

/// One line ExaBGP must accept; losing ExaBGP ends the process (ExaBGP starts a new one).
async fn send_or_exit(x: &mut Exabgp, line: &str) -> Result<(), Lost> {
    match x.send(line).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(Lost::Refused(format!("ExaBGP refused `{line}`"))),
        Err(e) => gone(e),
    }
}

async fn sync_or_exit(
    routes: &mut Routes,
    x: &mut Exabgp,
    attrs: &RouteAttributes,
) -> Result<(), Lost> {
    match routes.sync(x, attrs).await {
        Ok(None) => Ok(()),
        Ok(Some(line)) => Err(Lost::Refused(format!("ExaBGP refused `{line}`"))),
        Err(e) => gone(e),
    }
}

/// ExaBGP is gone or stuck: nothing the bridge sends can be trusted to arrive any more.
fn gone(e: anyhow::Error) -> ! {
    tracing::error!(error = %format!("{e:#}"), "lost ExaBGP; exiting");
    std::process::exit(1)
}

/// Confirms `revision` once (a failure is retried with the next revision).
async fn confirm(warden: &Warden, revision: i64, confirmed: &mut i64) {
    if revision <= *confirmed {
        return;
    }
    match warden.confirm(revision).await {
        Ok(()) => *confirmed = revision,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), revision, "confirming failed; retrying later")
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn change(id: &str, op: ChangeOp, target: &str) -> Change {
        Change {
            action_id: id.into(),
            op,
            action: Action::Blackhole,
            target: target.into(),
        }
    }

    #[test]
    fn the_difference_withdraws_then_announces_and_keeps_shared_routes() {
        let a = RouteAttributes::default();
        let mut r = Routes::default();
        r.take(&change("a1", ChangeOp::Apply, "203.0.113.7"));
        r.take(&change("a2", ChangeOp::Apply, "203.0.113.7"));
        r.take(&change("a3", ChangeOp::Apply, "http://203.0.113.8/"));
        r.announced.insert("203.0.113.9/32".into());
        let lines: Vec<String> = r.difference(&a).into_iter().map(|d| d.1).collect();
        assert_eq!(
            lines,
            [
                "withdraw route 203.0.113.9/32",
                "announce route 203.0.113.7/32 next-hop 192.0.2.1 community [65535:666 no-export]",
            ]
        );
        r.announced = ["203.0.113.7/32".to_string()].into();
        r.take(&change("a1", ChangeOp::Lift, ""));
        assert!(r.difference(&a).is_empty(), "a2 still holds the route");
        r.take(&change("a2", ChangeOp::Lift, ""));
        assert_eq!(r.difference(&a)[0].1, "withdraw route 203.0.113.7/32");
    }
}

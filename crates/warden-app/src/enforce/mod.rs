//! The enforcement plane inside Warden (ENF-1): the decision index of everything in force,
//! built from the change log at start and kept current by following it (so every node of a
//! PostgreSQL cluster converges within a poll interval), and the decisions the check endpoint,
//! the decision API and the notice page give.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use warden_domain::penalty::Action;
use warden_enforce::index::{Decision, Error as IndexError, Index, Rule, RuleKind, SharedIndex};
use warden_store::enforcement::EnforcementChange;
use warden_store::jobs::{JobKind, JobState};

use crate::App;
use crate::error::AppResult;

/// What a reconciliation run re-sent (ENF-2).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Reconciliation {
    /// Deliveries that failed or stayed unconfirmed, sent again.
    pub resent: Vec<Resent>,
    /// Actions in force sent to an endpoint configured after they were applied.
    pub added: Vec<Resent>,
    /// Actions whose deliveries to adapters no longer configured were retired.
    pub retired: Vec<String>,
    /// Outbound messages (e-mail, SMS, webhook) still pending whose delivery job was gone,
    /// queued again (their ids).
    pub requeued: Vec<String>,
}

/// One delivery a reconciliation sent.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Resent {
    /// The adapter (`webhook:<endpoint>`).
    pub adapter: String,
    /// The action.
    pub action_id: String,
    /// Apply or lift (re-sent deliveries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub op: Option<warden_domain::delivery::ChangeOp>,
}

/// Deliveries no enforcement point has confirmed yet (ENF-2).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct OpenDeliveries {
    /// The configured adapters.
    pub adapters: Vec<String>,
    /// Open deliveries, oldest change first.
    pub items: Vec<warden_store::enforcement::Delivery>,
}

/// A configured webhook endpoint, without its secret.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct EndpointView {
    /// Name.
    pub name: String,
    /// Where it is POSTed.
    pub url: String,
    /// Only these actions (empty: all).
    pub actions: Vec<Action>,
    /// Only these products (empty: all).
    pub products: Vec<warden_domain::resource::Product>,
}

/// One message's delivery job to one endpoint.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct MessageView {
    /// The endpoint.
    pub endpoint: String,
    /// Where the message stands (`dead`: re-drivable).
    pub state: warden_store::outbound::OutboundState,
    /// Attempts so far.
    pub attempts: i64,
    /// The last failure.
    pub last_error: Option<String>,
}

/// The webhook delivery log (ENF-2).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct WebhookLog {
    /// Configured endpoints.
    pub endpoints: Vec<EndpointView>,
    /// With `msg_id`: that message's job per endpoint.
    pub messages: Vec<MessageView>,
    /// Attempts, newest message first.
    pub attempts: Vec<warden_store::enforcement::WebhookAttempt>,
}

/// A re-driven delivery.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Redriven {
    /// The new job.
    pub job_id: String,
    /// The message (the same `webhook-id` as before).
    pub msg_id: String,
}

/// A blocked request's explanation.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Blocked {
    /// The case.
    pub case_id: String,
    /// The action in force.
    pub action: String,
    /// The rule that matched.
    pub rule: String,
}

/// The host a target names, in the one canonical form intake gave the case: a URL's host,
/// or the target itself as a domain.
pub(crate) fn host_of(target: &str) -> Option<String> {
    match warden_domain::resource::Target::parse(target).ok()? {
        warden_domain::resource::Target::Url(u) => Some(u.host),
        warden_domain::resource::Target::Domain(d) => Some(d),
        _ => None,
    }
}

/// The rule an action enforces, if it is one an edge can check (account-level actions are not).
/// Every action is named, so a new one must say here whether and how edges enforce it.
pub fn rule_for(c: &EnforcementChange) -> Option<Rule> {
    let target = c.target.as_str();
    let host = || host_of(target);
    let kind = match c.action {
        Action::BlockUrl => RuleKind::parse("url", target).ok()?,
        // A network block on a URL blocks its host; an IP host (literal URL) is an IP rule.
        Action::BlockNetwork | Action::ShutdownMachine => {
            match target.parse::<std::net::IpAddr>() {
                Ok(_) => RuleKind::parse("ip", target).ok()?,
                Err(_) => {
                    let h = host()?;
                    let bare = h.trim_start_matches('[').trim_end_matches(']');
                    match bare.parse::<std::net::IpAddr>() {
                        Ok(_) => RuleKind::parse("ip", bare).ok()?,
                        Err(_) => RuleKind::parse("host", &h).ok()?,
                    }
                }
            }
        }
        Action::DomainOffline
        | Action::SuspendResolution
        | Action::LockRecords
        | Action::StopService => RuleKind::parse("domain", &host()?).ok()?,
        Action::ShieldContent | Action::DeleteFile | Action::FreezeBucket => {
            RuleKind::parse("object", target.strip_prefix("cos://").unwrap_or(target)).ok()?
        }
        Action::StopSingleService | Action::ForbidNewService => {
            RuleKind::parse("service", target.strip_prefix("apigw:").unwrap_or(target)).ok()?
        }
        // Account-level actions: carried out on the provider's side (billing, IAM), through
        // a webhook; nothing an edge can check.
        Action::FreezeAccount | Action::IsolateAccount | Action::ForbidTransfer => return None,
        // A blackholed IP's traffic is dropped at the border (BGP, DDOS-7): it never reaches an
        // edge that could check it.
        Action::Blackhole => return None,
    };
    Some(Rule {
        id: c.action_id.clone(),
        kind,
        action: c.action.code().to_string(),
        case_id: c.case_id.clone(),
        notice: None,
    })
}

mod adapter;
mod decision;
mod exabgp;
mod feed;
mod rpz;
mod webhook;

pub use adapter::{Adapter, AdapterError, Mode, PushFuture, lift_of};
pub use decision::IndexAdapter;
pub use exabgp::{
    ExabgpAdapter, RouteAttributes, announce_line, blackhole_prefix, exabgp_adapter_name,
    valid_community, withdraw_line,
};
pub use feed::{ChangeFeed, Confirmed, Snapshot};
pub use rpz::{RpzAdapter, RpzConfig, render_zone};
pub use webhook::{
    WebhookAdapter, WebhookEndpoint, adapter_name, delivery_key, message_body, message_id,
    webhook_secret, webhook_signature,
};

/// What the adapters are built from (ENF-1, ENF-2): the webhook endpoints, the RPZ file (when
/// `enforcement.rpz_file` is set) and the timeouts.
#[derive(Debug, Clone)]
pub struct AdaptersConfig {
    /// One webhook adapter each.
    pub webhooks: Vec<WebhookEndpoint>,
    /// How long one webhook POST may take.
    pub webhook_timeout: Duration,
    /// The zone file, its reload commands and their timeout; `None`: no RPZ adapter.
    pub rpz: Option<RpzConfig>,
    /// The ExaBGP bridges (DDOS-7), by name: one pulled adapter each.
    pub exabgp: Vec<String>,
}

/// The configured adapters (ENF-2): the decision index always, the RPZ file when
/// `enforcement.rpz_file` is set, one per webhook endpoint.
pub struct Adapters {
    /// All of them, followers first.
    pub all: Vec<Arc<dyn Adapter>>,
    /// The webhook ones.
    pub webhooks: Vec<Arc<WebhookAdapter>>,
}

impl std::fmt::Debug for Adapters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.all.iter().map(|a| a.name()))
            .finish()
    }
}

impl Adapters {
    /// From `config`; the index adapter works on `index`.
    pub fn new(
        config: &AdaptersConfig,
        index: &Arc<SharedIndex>,
        clock: &Arc<dyn crate::clock::Clock>,
    ) -> Self {
        let mut all: Vec<Arc<dyn Adapter>> = vec![Arc::new(IndexAdapter::new(index.clone()))];
        if let Some(rpz) = &config.rpz {
            all.push(Arc::new(RpzAdapter::new(rpz.clone())));
        }
        let webhooks: Vec<Arc<WebhookAdapter>> = config
            .webhooks
            .iter()
            .map(|e| {
                Arc::new(WebhookAdapter::new(
                    e.clone(),
                    config.webhook_timeout,
                    clock.clone(),
                ))
            })
            .collect();
        for w in &webhooks {
            all.push(w.clone());
        }
        for name in &config.exabgp {
            all.push(Arc::new(ExabgpAdapter::new(name)));
        }
        Adapters { all, webhooks }
    }

    /// Their names.
    pub fn names(&self) -> Vec<String> {
        self.all.iter().map(|a| a.name().to_string()).collect()
    }

    /// A configured adapter that pulls the feed and confirms through the API, by its name.
    pub fn pulled(&self, name: &str) -> Option<&Arc<dyn Adapter>> {
        self.all
            .iter()
            .find(|a| a.mode() == Mode::Pull && a.name() == name)
    }

    /// The webhook adapter of an endpoint.
    pub fn webhook(&self, endpoint: &str) -> Option<&Arc<WebhookAdapter>> {
        self.webhooks.iter().find(|w| w.endpoint().name == endpoint)
    }
}

/// One follower adapter's progress on this node.
struct Follower {
    adapter: Arc<dyn Adapter>,
    /// Changes it must still be given.
    backlog: Vec<EnforcementChange>,
    /// The log revision it will hold once the backlog is pushed.
    upto: i64,
    /// Whether a push is due even with an empty backlog (at start: the point may hold stale
    /// state from before).
    force: bool,
    /// The revision up to which its confirmations are written.
    confirmed: i64,
    failures: u32,
    retry_at: Option<std::time::Instant>,
}

/// The timer name (dedup key) of the cluster-wide reconciliation job.
pub const RECONCILE_JOB: &str = "enforce.reconcile";

/// Backoff of a failing follower push: 200 ms doubling to 30 s.
fn follower_backoff(failures: u32) -> Duration {
    Duration::from_millis((200_u64 << failures.min(8)).min(30_000))
}

impl App {
    /// Follows the change log until `shutdown`: every follower adapter (the decision index, the
    /// RPZ file) is given every apply and lift in revision order, its confirmations are
    /// written, failures are retried with backoff, and every `reconcile_ms` what it holds is
    /// compared with what the log has in force and the difference re-sent.
    pub async fn follow_enforcement(&self, mut shutdown: watch::Receiver<bool>, poll: Duration) {
        let mut followers: Vec<Follower> = self
            .adapters
            .all
            .iter()
            .filter(|a| a.mode() == Mode::Follow)
            .map(|a| Follower {
                adapter: a.clone(),
                backlog: Vec::new(),
                upto: 0,
                force: true,
                confirmed: 0,
                failures: 0,
                retry_at: None,
            })
            .collect();
        let mut revision: Option<i64> = None;
        let reconcile_every =
            Duration::from_millis(u64::try_from(self.settings.reconcile_ms.max(1)).unwrap_or(1));
        let mut next_reconcile = std::time::Instant::now() + reconcile_every;
        loop {
            if *shutdown.borrow() {
                break;
            }
            let mut more = false;
            match revision {
                None => match self.store.enforcement_snapshot().await {
                    Ok((rev, items)) => {
                        for f in &mut followers {
                            f.backlog = items
                                .iter()
                                .filter(|c| f.adapter.handles(c))
                                .cloned()
                                .collect();
                            f.upto = rev;
                        }
                        revision = Some(rev);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "loading what is in force failed; retrying")
                    }
                },
                Some(since) => match self.store.enforcement_changes_since(since, 500).await {
                    Ok(changes) => {
                        more = changes.len() >= 500;
                        if let Some(last) = changes.last() {
                            revision = Some(last.revision);
                            for f in &mut followers {
                                f.backlog.extend(
                                    changes.iter().filter(|c| f.adapter.handles(c)).cloned(),
                                );
                                f.upto = last.revision;
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "reading the enforcement log failed; retrying")
                    }
                },
            }
            if revision.is_some() {
                for f in &mut followers {
                    self.drive(f).await;
                }
                if std::time::Instant::now() >= next_reconcile {
                    next_reconcile = std::time::Instant::now() + reconcile_every;
                    for f in &mut followers {
                        self.reconcile_follower(f).await;
                    }
                }
            }
            if more {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Pushes a follower's backlog (when due) and writes the outcome.
    async fn drive(&self, f: &mut Follower) {
        let due = f.retry_at.is_none_or(|t| std::time::Instant::now() >= t);
        if due && (f.force || !f.backlog.is_empty()) {
            match f.adapter.push(&f.backlog).await {
                Ok(()) => {
                    f.backlog.clear();
                    f.force = false;
                    f.failures = 0;
                    f.retry_at = None;
                }
                Err(e) => {
                    f.failures += 1;
                    f.retry_at = Some(std::time::Instant::now() + follower_backoff(f.failures));
                    tracing::warn!(adapter = f.adapter.name(), attempt = f.failures, error = %e, "enforcement adapter failed; retrying");
                    if let Err(e) = self
                        .record_follower_failure(f.adapter.name(), f.upto, &e.message)
                        .await
                    {
                        tracing::warn!(error = %e, "recording an adapter failure failed");
                    }
                }
            }
        }
        // With nothing left to push it holds the log up to `upto`: write that once per revision.
        if f.backlog.is_empty() && !f.force && f.failures == 0 && f.confirmed < f.upto {
            match self.confirm_follower(f.adapter.name(), f.upto).await {
                Ok(()) => f.confirmed = f.upto,
                Err(e) => {
                    tracing::warn!(error = %e, "writing adapter confirmations failed; retrying")
                }
            }
        }
    }

    /// Compares what a follower holds with what the log has in force; re-sends the difference.
    async fn reconcile_follower(&self, f: &mut Follower) {
        let Some(held) = f.adapter.holds() else {
            return;
        };
        if !f.backlog.is_empty() {
            return; // still catching up (or failing): the backlog is the difference
        }
        let (rev, items) = match self.store.enforcement_snapshot().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "reconciliation could not read what is in force");
                return;
            }
        };
        if rev > f.upto {
            return; // newer changes arrive through the log first
        }
        let held: std::collections::HashMap<String, Action> = held.into_iter().collect();
        let should: Vec<&EnforcementChange> =
            items.iter().filter(|c| f.adapter.handles(c)).collect();
        let should_ids: std::collections::HashSet<&str> =
            should.iter().map(|c| c.action_id.as_str()).collect();
        let mut diff: Vec<EnforcementChange> = should
            .iter()
            .filter(|c| !held.contains_key(&c.action_id))
            .map(|c| (*c).clone())
            .collect();
        let missing = diff.len();
        diff.extend(
            held.iter()
                .filter(|(id, _)| !should_ids.contains(id.as_str()))
                .map(|(id, action)| lift_of(id, *action, rev)),
        );
        if diff.is_empty() {
            return;
        }
        tracing::warn!(
            adapter = f.adapter.name(),
            missing,
            extra = diff.len() - missing,
            "an enforcement adapter drifted from the log; re-sending the difference"
        );
        f.backlog = diff;
        f.force = true;
        self.drive(f).await;
    }

    async fn confirm_follower(&self, adapter: &str, upto: i64) -> AppResult<()> {
        let mut tx = self.store.begin_write().await?;
        // Chain first, like every lifecycle change: the same lock order on every path, so a
        // confirmation and a lift of the same action cannot deadlock on PostgreSQL.
        tx.lock_chain().await?;
        let ids = tx
            .confirm_deliveries_up_to(adapter, upto, self.now())
            .await?;
        if ids.is_empty() {
            return Ok(());
        }
        self.settle(&mut tx, &ids).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn record_follower_failure(
        &self,
        adapter: &str,
        upto: i64,
        error: &str,
    ) -> AppResult<()> {
        let mut tx = self.store.begin_write().await?;
        tx.lock_chain().await?;
        let ids = tx
            .fail_deliveries_up_to(
                adapter,
                upto,
                error,
                self.settings.webhook_max_attempts,
                self.now(),
            )
            .await?;
        self.settle(&mut tx, &ids).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves the confirmed state of `ids` from their deliveries; every move is audited
    /// (`action.applied`, `action.lifted`, `action.failed`, `action.pending`).
    pub(crate) async fn settle(
        &self,
        tx: &mut warden_store::WriteTx,
        ids: &[String],
    ) -> AppResult<()> {
        let now = self.now();
        let mut seen = std::collections::HashSet::new();
        for id in ids {
            if !seen.insert(id) {
                continue;
            }
            if let Some(m) = tx.settle_action(id, now).await? {
                let mut ev = self.event(
                    &crate::auth::Principal::System,
                    &format!("action.{}", m.to),
                    format!("action:{}", m.action_id),
                );
                ev.account_id = m.account_id.clone();
                ev.details = serde_json::json!({ "case_id": m.case_id, "from": m.from, "to": m.to, "confirmed_by": m.adapters });
                tx.append_audit(ev).await?;
            }
        }
        Ok(())
    }

    /// The DNS Response Policy Zone (ENF-1) served over HTTP, from this node's index.
    pub fn render_rpz(&self, revision: i64) -> String {
        let snapshot = self.index.load();
        render_zone(
            revision,
            snapshot
                .rules()
                .filter(|r| {
                    Action::parse(r.action()).is_ok_and(rpz::in_zone)
                        && matches!(r.kind_name(), "domain" | "host")
                })
                .map(|r| r.value()),
        )
    }
}
impl App {
    /// Whether a URL is blocked (ENF-1). A URL that cannot be normalised is an error naming
    /// what is wrong with it, never "not blocked": an enforcement point that asks about
    /// garbage gets no answer it could serve the request on.
    pub fn check_url(&self, url: &str) -> Result<Option<Blocked>, IndexError> {
        Ok(blocked(&self.index.load().check_url(url)?))
    }

    /// Whether a host is blocked; a malformed host is an error, as for [`App::check_url`].
    pub fn check_host(&self, host: &str) -> Result<Option<Blocked>, IndexError> {
        Ok(blocked(&self.index.load().check_host(host)?))
    }

    /// Whether an IP is blocked.
    pub fn check_ip(&self, ip: std::net::IpAddr) -> Option<Blocked> {
        blocked(&self.index.load().check_ip(ip))
    }
}

impl App {
    /// The case, if it has a rule in force in this node's decision index (ENF-1): the one case
    /// the anonymous notice page may name. A case that blocks nothing (alerting, dismissed,
    /// lifted, account-level actions only) is `None`, like an unknown one. Cost: the case's
    /// action records and one index lookup each.
    pub async fn blocking_case(
        &self,
        case_id: &str,
    ) -> AppResult<Option<warden_store::reports::Case>> {
        let scope = warden_store::Scope::All;
        let Some(case) = self.store.get_case(&scope, case_id).await? else {
            return Ok(None);
        };
        let index = self.index.load();
        let in_force = self
            .store
            .list_case_actions(&scope, case_id)
            .await?
            .iter()
            .filter(|a| a.desired == warden_domain::lifecycle::Desired::InForce)
            .filter_map(|a| {
                rule_for(&crate::lifecycle::change(
                    a,
                    warden_domain::delivery::ChangeOp::Apply,
                    None,
                    0,
                ))
            })
            .any(|rule| holds(&index, &rule));
        Ok(in_force.then_some(case))
    }
}

/// Whether `index` enforces `rule`'s case at the rule's own key: the rule, or another of its
/// case, wins there.
fn holds(index: &Index, rule: &Rule) -> bool {
    let decision = match &rule.kind {
        RuleKind::UrlExact(v) | RuleKind::UrlPrefix(v) => index.check_url(v).ok(),
        RuleKind::Host(v) | RuleKind::Domain(v) => index.check_host(v).ok(),
        RuleKind::Ip(net) => Some(index.check_ip(net.network())),
        RuleKind::Object(v) => Some(index.check_object(v)),
        RuleKind::Service(v) => Some(index.check_service(v)),
    };
    decision
        .and_then(|d| d.rule())
        .is_some_and(|r| r.case_id() == rule.case_id)
}

fn blocked(d: &Decision<'_>) -> Option<Blocked> {
    match d {
        Decision::Allowed => None,
        Decision::Blocked { rule } => Some(Blocked {
            case_id: rule.case_id().to_string(),
            action: rule.action().to_string(),
            rule: rule.id().to_string(),
        }),
    }
}

/// A shared, empty index.
pub fn new_index() -> Arc<SharedIndex> {
    Arc::new(SharedIndex::new(Index::empty()))
}

/// A queued delivery.
#[derive(Debug, Serialize, serde::Deserialize, schemars::JsonSchema)]
struct DeliveryJob {
    endpoint: String,
    change: EnforcementChange,
}

impl App {
    /// Logs an apply or lift (ENF-1) and, in the same transaction, says what each adapter that
    /// enforces it must now hold, queues the webhook deliveries and settles the action's
    /// confirmed state: nothing acknowledged is lost, and each message keeps its id across
    /// retries.
    pub(crate) async fn log_change(
        &self,
        tx: &mut warden_store::WriteTx,
        mut c: EnforcementChange,
    ) -> AppResult<()> {
        c.revision = tx.record_enforcement_change(&c).await?;
        for a in self.adapters.all.iter().filter(|a| a.handles(&c)) {
            tx.expect_delivery(&c.action_id, a.name(), c.op, c.revision, c.created_at)
                .await?;
        }
        for w in self.adapters.webhooks.iter().filter(|w| w.handles(&c)) {
            self.enqueue_delivery(tx, &w.endpoint().name, &c, c.created_at)
                .await?;
        }
        self.settle(tx, std::slice::from_ref(&c.action_id)).await
    }

    async fn enqueue_delivery(
        &self,
        tx: &mut warden_store::WriteTx,
        endpoint: &str,
        c: &EnforcementChange,
        now: i64,
    ) -> AppResult<String> {
        let m = webhook_message(endpoint, c);
        self.queue_outbound(tx, &m, self.settings.webhook_max_attempts, now)
            .await
    }

    /// One POST of a webhook message (the outbound queue's `webhook` channel).
    pub(crate) async fn send_webhook_message(
        &self,
        m: &warden_store::outbound::Outbound,
    ) -> crate::outbound::Attempted {
        use crate::outbound::{Attempted, SendError};
        let p: DeliveryJob = match serde_json::from_str(&m.payload) {
            Ok(p) => p,
            Err(e) => {
                return Attempted {
                    status: None,
                    result: Err(SendError::permanent(format!("unreadable message: {e}"))),
                };
            }
        };
        let outcome: Result<u16, String> = match self.adapters.webhook(&p.endpoint) {
            None => Err(format!("endpoint {} is no longer configured", p.endpoint)),
            Some(w) => w.post(&p.change).await,
        };
        Attempted {
            status: outcome.as_ref().ok().map(|s| i64::from(*s)),
            result: match webhook::outcome_error(&outcome) {
                None => Ok(()),
                Some(e) => Err(SendError::transient(e)),
            },
        }
    }

    /// After an attempt at a webhook message: the adapter's delivery is confirmed, or its
    /// failure recorded (`failed` once the message is dead), and the action settled (ENF-2).
    pub(crate) async fn webhook_attempted(
        &self,
        tx: &mut warden_store::WriteTx,
        m: &warden_store::outbound::Outbound,
        error: Option<&str>,
        dead: bool,
    ) -> AppResult<()> {
        let Ok(p) = serde_json::from_str::<DeliveryJob>(&m.payload) else {
            return Ok(());
        };
        let (c, name, now) = (&p.change, adapter_name(&p.endpoint), self.now());
        match error {
            None => {
                tx.confirm_delivery(&c.action_id, &name, c.revision, now)
                    .await?;
            }
            Some(e) => {
                tx.fail_delivery(&c.action_id, &name, c.revision, e, dead, now)
                    .await?;
            }
        }
        self.settle(tx, std::slice::from_ref(&c.action_id)).await
    }

    /// A dead webhook message re-driven: its delivery waits for the adapter again (the action
    /// is no longer `failed`).
    pub(crate) async fn webhook_redriven(
        &self,
        tx: &mut warden_store::WriteTx,
        m: &warden_store::outbound::Outbound,
        now: i64,
    ) -> AppResult<()> {
        let Ok(p) = serde_json::from_str::<DeliveryJob>(&m.payload) else {
            return Ok(());
        };
        let c = &p.change;
        tx.expect_delivery(
            &c.action_id,
            &adapter_name(&p.endpoint),
            c.op,
            c.revision,
            now,
        )
        .await?;
        self.settle(tx, std::slice::from_ref(&c.action_id)).await
    }

    /// A `webhook.deliver` job queued before the outbound queue existed: it becomes the
    /// outbound message it stands for, attempted now under the job's own count.
    pub(crate) async fn deliver_legacy_webhook(
        &self,
        job: &warden_store::jobs::Job,
    ) -> AppResult<()> {
        let p: DeliveryJob = serde_json::from_str(&job.payload).map_err(|e| {
            crate::error::AppError::Internal(format!("unreadable webhook job payload: {e}"))
        })?;
        let m = webhook_message(&p.endpoint, &p.change);
        let mut tx = self.store.begin_write().await?;
        if tx.get_outbound(&m.id).await?.is_none() {
            tx.put_outbound(&m, self.now()).await?;
        }
        tx.commit().await?;
        self.attempt_outbound(&m.id, job.attempts, job.max_attempts)
            .await
    }

    /// Makes sure one reconciliation job is armed (at start; it re-arms itself). Nodes that
    /// start together race for the job's name; the loser finds it armed.
    pub async fn arm_reconciliation(&self) -> AppResult<()> {
        let armed = async {
            let mut tx = self.store.begin_write().await?;
            self.rearm_reconciliation(&mut tx).await?;
            tx.commit().await?;
            Ok::<(), crate::error::AppError>(())
        }
        .await;
        match armed {
            Err(crate::error::AppError::Store(e)) if e.is_unique_violation() => Ok(()),
            Err(crate::error::AppError::Conflict(_)) => Ok(()),
            other => other,
        }
    }

    /// Reconciliation (ENF-2), cluster-wide: compares what each queued adapter (webhook) should
    /// hold with what it confirmed and re-sends the difference — deliveries that failed for
    /// good or stayed unconfirmed past an interval, and actions in force that an endpoint
    /// configured later never heard of — and retires deliveries of adapters no longer
    /// configured. Then arms its next run. (Followers reconcile on every node, in
    /// [`App::follow_enforcement`].)
    pub(crate) async fn reconcile(&self) -> AppResult<Reconciliation> {
        let now = self.now();
        let mut tx = self.store.begin_write().await?;
        tx.lock_chain().await?;
        let retired = tx.retire_deliveries(&self.adapters.names(), now).await?;
        self.settle(&mut tx, &retired).await?;
        tx.commit().await?;
        let stale_before = now - self.settings.reconcile_ms;
        let (mut resent, mut added) = (Vec::new(), Vec::new());
        for w in &self.adapters.webhooks {
            let endpoint = w.endpoint().name.clone();
            for d in self
                .store
                .open_deliveries(Some(w.name()), false, stale_before, 500)
                .await?
            {
                let Some(c) = self.store.latest_change(&d.action_id).await? else {
                    continue;
                };
                if c.revision != d.revision {
                    continue;
                }
                // A delivery whose job is still queued is its job's to finish.
                if let Some(j) = self
                    .store
                    .get_timer(&crate::outbound::job_key(&delivery_key(
                        &endpoint,
                        &message_id(&c),
                    )))
                    .await?
                    && matches!(j.state, JobState::Pending | JobState::Running)
                {
                    continue;
                }
                self.resend(w, &c, now).await?;
                resent.push(Resent {
                    adapter: w.name().to_string(),
                    action_id: c.action_id.clone(),
                    op: Some(c.op),
                });
            }
            for c in self
                .store
                .in_force_without_delivery(w.name(), 0, 500)
                .await?
                .into_iter()
                .filter(|c| w.handles(c))
            {
                self.resend(w, &c, now).await?;
                added.push(Resent {
                    adapter: w.name().to_string(),
                    action_id: c.action_id.clone(),
                    op: None,
                });
            }
        }
        // Outbound messages still pending whose job is gone (e-mail, SMS and webhooks alike).
        let mut requeued = Vec::new();
        for m in self.store.orphaned_outbound(500).await? {
            let mut tx = self.store.begin_write().await?;
            let new = warden_store::outbound::NewOutbound {
                id: m.id.clone(),
                channel: m.channel,
                endpoint: m.endpoint.clone(),
                subject: m.subject.clone(),
                account_id: m.account_id.clone(),
                payload: m.payload.clone(),
            };
            self.queue_outbound(&mut tx, &new, self.max_attempts(m.channel), now)
                .await?;
            tx.commit().await?;
            requeued.push(m.id);
        }
        let summary = Reconciliation {
            resent,
            added,
            retired,
            requeued,
        };
        let (resent, added, retired, requeued) = (
            summary.resent.len(),
            summary.added.len(),
            summary.retired.len(),
            summary.requeued.len(),
        );
        let mut tx = self.store.begin_write().await?;
        if resent + added + retired + requeued > 0 {
            tracing::warn!(
                resent,
                added,
                retired,
                requeued,
                "reconciliation re-sent deliveries"
            );
            let mut ev = self.event(
                &crate::auth::Principal::System,
                "enforcement.reconcile",
                "enforcement".into(),
            );
            ev.details = serde_json::to_value(&summary).unwrap_or_default();
            tx.append_audit(ev).await?;
        }
        tx.commit().await?;
        if resent + added + requeued > 0 {
            self.job_wakeup.notify_waiters();
        }
        Ok(summary)
    }

    /// Sends change `c` to a webhook adapter again: a fresh delivery (same message id) and its
    /// job, in one transaction.
    async fn resend(&self, w: &WebhookAdapter, c: &EnforcementChange, now: i64) -> AppResult<()> {
        let mut tx = self.store.begin_write().await?;
        tx.lock_chain().await?;
        tx.expect_delivery(&c.action_id, w.name(), c.op, c.revision, now)
            .await?;
        self.enqueue_delivery(&mut tx, &w.endpoint().name, c, now)
            .await?;
        self.settle(&mut tx, std::slice::from_ref(&c.action_id))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Arms the next reconciliation run (in the transaction that completes this one, so
    /// exactly one stays armed).
    pub(crate) async fn rearm_reconciliation(
        &self,
        tx: &mut warden_store::WriteTx,
    ) -> AppResult<()> {
        let now = self.now();
        let job = warden_store::jobs::NewJob {
            kind: JobKind::EnforceReconcile,
            payload: "{}".into(),
            run_at: now + self.settings.reconcile_ms,
            dedup_key: Some(RECONCILE_JOB.into()),
            max_attempts: 1_000_000,
        };
        tx.enqueue(&job, &warden_store::new_id("job", now), now)
            .await?;
        Ok(())
    }

    /// Runs reconciliation now (operators, after mending an endpoint), audited.
    pub async fn reconcile_now(&self, who: &crate::auth::Principal) -> AppResult<Reconciliation> {
        who.require(
            &[
                warden_domain::identity::Role::Admin,
                warden_domain::identity::Role::Operator,
            ],
            "reconcile enforcement",
        )?;
        let summary = self.reconcile().await?;
        let mut tx = self.store.begin_write().await?;
        let mut ev = self.event(who, "enforcement.reconcile_now", "enforcement".into());
        ev.details = serde_json::to_value(&summary).unwrap_or_default();
        tx.append_audit(ev).await?;
        tx.commit().await?;
        Ok(summary)
    }

    /// Deliveries not confirmed (operators): what each enforcement point still has to confirm.
    pub async fn open_deliveries(
        &self,
        who: &crate::auth::Principal,
        only_failed: bool,
    ) -> AppResult<OpenDeliveries> {
        who.require(
            &[
                warden_domain::identity::Role::Admin,
                warden_domain::identity::Role::Operator,
            ],
            "read enforcement deliveries",
        )?;
        let items = self
            .store
            .open_deliveries(None, only_failed, i64::MAX, 500)
            .await?;
        Ok(OpenDeliveries {
            adapters: self.adapters.names(),
            items,
        })
    }

    /// The delivery log and the configured endpoints (operators).
    pub async fn webhook_log(
        &self,
        who: &crate::auth::Principal,
        msg_id: Option<&str>,
    ) -> AppResult<WebhookLog> {
        who.require(
            &[
                warden_domain::identity::Role::Admin,
                warden_domain::identity::Role::Operator,
            ],
            "read webhook deliveries",
        )?;
        let subject = msg_id.map(change_subject_of_message);
        let attempts = self.store.webhook_attempts(subject.as_deref(), 500).await?;
        let endpoints = self
            .settings
            .webhooks
            .iter()
            .map(|e| EndpointView {
                name: e.name.clone(),
                url: e.url.clone(),
                actions: e.actions.clone(),
                products: e.products.clone(),
            })
            .collect();
        let mut messages = Vec::new();
        if let Some(m) = msg_id {
            for e in &self.settings.webhooks {
                let key = delivery_key(&e.name, m);
                if let Some(o) = self.store.get_outbound(&key).await? {
                    messages.push(MessageView {
                        endpoint: e.name.clone(),
                        state: o.state,
                        attempts: o.attempts,
                        last_error: o.last_error,
                    });
                }
            }
        }
        Ok(WebhookLog {
            endpoints,
            messages,
            attempts,
        })
    }

    /// Re-drives a dead delivery (same message id): the outbound message of `endpoint`.
    pub async fn redrive_webhook(
        &self,
        who: &crate::auth::Principal,
        msg_id: &str,
        endpoint: &str,
    ) -> AppResult<Redriven> {
        who.require(
            &[
                warden_domain::identity::Role::Admin,
                warden_domain::identity::Role::Operator,
            ],
            "re-drive webhooks",
        )?;
        let key = delivery_key(endpoint, msg_id);
        if self.store.get_outbound(&key).await?.is_none() {
            return Err(crate::error::AppError::NotFound("webhook message"));
        }
        self.redrive_outbound(who, &key).await?;
        let job = self
            .store
            .get_timer(&crate::outbound::job_key(&key))
            .await?
            .ok_or(crate::error::AppError::NotFound("webhook message"))?;
        Ok(Redriven {
            job_id: job.id,
            msg_id: msg_id.to_string(),
        })
    }
}

/// The outbound message of change `c` to webhook `endpoint`: its id is the delivery key, the
/// same on every re-send and re-drive; its subject the change.
fn webhook_message(endpoint: &str, c: &EnforcementChange) -> warden_store::outbound::NewOutbound {
    warden_store::outbound::NewOutbound {
        id: delivery_key(endpoint, &message_id(c)),
        channel: warden_store::outbound::Channel::Webhook,
        endpoint: endpoint.to_string(),
        subject: format!("change:{}:{}", c.action_id, c.op),
        account_id: c.account_id.clone(),
        payload: serde_json::to_string(&DeliveryJob {
            endpoint: endpoint.to_string(),
            change: c.clone(),
        })
        .unwrap_or_default(),
    }
}

/// The subject (`change:<action id>:<op>`) of the webhook message `msg_<action id>_<op>`.
fn change_subject_of_message(msg_id: &str) -> String {
    let rest = msg_id.strip_prefix("msg_").unwrap_or(msg_id);
    match rest.rsplit_once('_') {
        Some((action, op)) => format!("change:{action}:{op}"),
        None => format!("change:{rest}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn change(action: &str, target: &str) -> EnforcementChange {
        EnforcementChange {
            revision: 1,
            action_id: "act_1".into(),
            case_id: "case_1".into(),
            account_id: None,
            op: warden_domain::delivery::ChangeOp::Apply,
            action: Action::parse(action).unwrap(),
            product: None,
            target: target.into(),
            created_at: 0,
        }
    }

    /// Regression: `block_network` on a URL whose host is an IP literal was refused by the
    /// index (a host rule cannot name an IP), so nothing enforced it.
    #[test]
    fn network_block_on_an_ip_url_is_an_ip_rule() {
        let r = rule_for(&change("block_network", "http://203.0.113.9:8080/page")).unwrap();
        assert_eq!(r.kind.name(), "ip");
        let r = rule_for(&change("block_network", "http://[2001:db8::1]/x")).unwrap();
        assert_eq!(r.kind.name(), "ip");
        let r = rule_for(&change("block_network", "https://shop.example/x")).unwrap();
        assert_eq!(r.kind.name(), "host");
        assert!(rule_for(&change("isolate_account", "acct_1")).is_none());
    }
}

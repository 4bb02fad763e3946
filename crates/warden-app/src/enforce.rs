//! The enforcement plane inside Warden (ENF-1): the decision index of everything in force,
//! built from the change log at start and kept current by following it (so every node of a
//! PostgreSQL cluster converges within a poll interval), and the decisions the check endpoint,
//! the decision API and the notice page give.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use warden_enforce::index::{Change, Decision, Index, Rule, RuleKind, SharedIndex};
use warden_store::enforcement::EnforcementChange;

use crate::App;
use crate::error::AppResult;

/// A blocked request's explanation.
#[derive(Debug, Clone, Serialize)]
pub struct Blocked {
    /// The case.
    pub case_id: String,
    /// The action in force.
    pub action: String,
    /// The rule that matched.
    pub rule: String,
}

/// The rule an action enforces, if it is one an edge can check (account-level actions are not).
pub fn rule_for(c: &EnforcementChange) -> Option<Rule> {
    let target = c.target.as_str();
    let host = || {
        warden_domain::resource::parse_url(target)
            .map(|u| u.host)
            .or_else(|| warden_domain::resource::normalise_domain(target))
    };
    let kind = match c.action.as_str() {
        "block_url" => RuleKind::parse("url", target).ok()?,
        "block_network" | "shutdown_machine" => match target.parse::<std::net::IpAddr>() {
            Ok(_) => RuleKind::parse("ip", target).ok()?,
            Err(_) => RuleKind::parse("host", &host()?).ok()?,
        },
        "domain_offline" | "suspend_resolution" | "lock_records" | "stop_service" => {
            RuleKind::parse("domain", &host()?).ok()?
        }
        "shield_content" | "delete_file" | "freeze_bucket" => {
            RuleKind::parse("object", target.strip_prefix("cos://").unwrap_or(target)).ok()?
        }
        "stop_single_service" | "forbid_new_service" => {
            RuleKind::parse("service", target.strip_prefix("apigw:").unwrap_or(target)).ok()?
        }
        _ => return None,
    };
    Some(Rule {
        id: c.action_id.clone(),
        kind,
        action: c.action.clone(),
        case_id: c.case_id.clone(),
        notice: None,
    })
}

impl App {
    /// Loads everything in force into the index (at start).
    pub async fn load_enforcement(&self) -> AppResult<i64> {
        let (revision, items) = self.store.enforcement_snapshot().await?;
        let changes: Vec<Change> = items.iter().filter_map(rule_for).map(Change::Add).collect();
        let out = self.index.apply(changes);
        for (rule, e) in &out.rejected {
            tracing::warn!(action = %rule.id, error = %e, "an action's target cannot be enforced by edges");
        }
        self.publish_rpz(revision).await;
        Ok(revision)
    }

    /// Follows the change log until `shutdown`, applying applies and lifts to the index.
    pub async fn follow_enforcement(&self, mut shutdown: watch::Receiver<bool>, poll: Duration) {
        let mut revision = match self.load_enforcement().await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "loading the enforcement index failed; retrying");
                0
            }
        };
        loop {
            if *shutdown.borrow() {
                break;
            }
            match self.store.enforcement_changes_since(revision, 500).await {
                Ok(changes) if !changes.is_empty() => {
                    let mut batch = Vec::with_capacity(changes.len());
                    for c in &changes {
                        match c.op.as_str() {
                            "apply" => batch.extend(rule_for(c).map(Change::Add)),
                            _ => batch.push(Change::Remove(c.action_id.clone())),
                        }
                        revision = c.revision;
                    }
                    let out = self.index.apply(batch);
                    for (rule, e) in &out.rejected {
                        tracing::warn!(action = %rule.id, error = %e, "an action's target cannot be enforced by edges");
                    }
                    self.publish_rpz(revision).await;
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "reading the enforcement log failed; retrying")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Whether a URL is blocked (ENF-1).
    /// The DNS Response Policy Zone (ENF-1): every domain under `suspend_resolution` (域名暂停解析)
    /// answers NXDOMAIN (`CNAME .`), itself and its subdomains. The SOA serial is the enforcement
    /// revision, so a secondary or a reload sees every change.
    pub fn render_rpz(&self, revision: i64) -> String {
        let mut domains: Vec<&str> = Vec::new();
        let snapshot = self.index.load();
        for r in snapshot.rules() {
            if matches!(r.action(), "suspend_resolution")
                && matches!(r.kind_name(), "domain" | "host")
            {
                domains.push(r.value());
            }
        }
        domains.sort_unstable();
        domains.dedup();
        let mut zone = format!(
            "$TTL 60\n@ IN SOA rpz.warden. hostmaster.warden. {} 3600 600 86400 60\n@ IN NS localhost.\n",
            revision.max(1)
        );
        for d in domains {
            zone.push_str(&format!("{d} CNAME .\n*.{d} CNAME .\n"));
        }
        zone
    }

    /// Writes the zone file atomically (temporary file, then rename) and runs the reload
    /// commands; failures are logged and retried at the next change.
    async fn publish_rpz(&self, revision: i64) {
        let Some(path) = self.settings.rpz_file.clone() else {
            return;
        };
        let zone = self.render_rpz(revision);
        let commands = self.settings.rpz_reload.clone();
        let result = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, zone)?;
            std::fs::rename(&tmp, &path)?;
            for argv in &commands {
                if let Some((program, args)) = argv.split_first() {
                    let out = std::process::Command::new(program).args(args).output()?;
                    if !out.status.success() {
                        tracing::warn!(command = %argv.join(" "), stderr = %String::from_utf8_lossy(&out.stderr), "RPZ reload command failed");
                    }
                }
            }
            Ok(())
        })
        .await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "writing the RPZ zone failed"),
            Err(e) => tracing::error!(error = %e, "writing the RPZ zone failed"),
        }
    }

    /// A URL that cannot be parsed is not blocked (the edge serves it as it would anyway).
    pub fn check_url(&self, url: &str) -> Option<Blocked> {
        self.index
            .load()
            .check_url(url)
            .ok()
            .and_then(|d| blocked(&d))
    }

    /// Whether a host is blocked.
    pub fn check_host(&self, host: &str) -> Option<Blocked> {
        self.index
            .load()
            .check_host(host)
            .ok()
            .and_then(|d| blocked(&d))
    }

    /// Whether an IP is blocked.
    pub fn check_ip(&self, ip: std::net::IpAddr) -> Option<Blocked> {
        blocked(&self.index.load().check_ip(ip))
    }
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

/// A webhook endpoint (ENF-1): every apply and lift of the actions and products it asks for is
/// POSTed to it, signed the Standard Webhooks way, retried with backoff until it answers 2xx.
#[derive(Clone)]
pub struct WebhookEndpoint {
    /// Name (in the delivery log).
    pub name: String,
    /// Where to POST.
    pub url: String,
    /// HMAC-SHA256 key (from `whsec_<base64>`).
    pub secret: Vec<u8>,
    /// Only these action codes (empty: all).
    pub actions: Vec<String>,
    /// Only these products (empty: all).
    pub products: Vec<String>,
}

impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("secret", &"***")
            .finish()
    }
}

impl WebhookEndpoint {
    fn wants(&self, c: &EnforcementChange) -> bool {
        (self.actions.is_empty() || self.actions.contains(&c.action))
            && (self.products.is_empty()
                || c.product
                    .as_ref()
                    .is_some_and(|p| self.products.contains(p)))
    }
}

/// Decodes a Standard Webhooks secret (`whsec_<base64>`).
pub fn webhook_secret(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim().strip_prefix("whsec_").unwrap_or(text.trim()))
        .ok()
        .filter(|k| k.len() >= 16)
}

/// `v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>` (Standard Webhooks).
pub fn webhook_signature(secret: &[u8], msg_id: &str, timestamp: i64, body: &str) -> String {
    use base64::Engine as _;
    use hmac::Mac;
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(format!("{msg_id}.{timestamp}.{body}").as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

const WEBHOOK_JOB: &str = "webhook.deliver";

impl App {
    /// Logs an apply or lift (ENF-1) and, in the same transaction, queues its webhook
    /// deliveries: nothing acknowledged is lost, and each message keeps its id across retries.
    pub(crate) async fn log_change(
        &self,
        tx: &mut warden_store::WriteTx,
        c: EnforcementChange,
    ) -> AppResult<()> {
        tx.record_enforcement_change(&c).await?;
        let msg_id = format!("msg_{}_{}", c.action_id, c.op);
        let body = serde_json::json!({
            "type": if c.op == "apply" { "action.applied" } else { "action.lifted" },
            "timestamp": warden_domain::time::Timestamp(c.created_at).to_rfc3339(),
            "data": { "action_id": c.action_id, "case_id": c.case_id, "account_id": c.account_id, "action": c.action, "product": c.product, "target": c.target },
        })
        .to_string();
        for e in self.settings.webhooks.iter().filter(|e| e.wants(&c)) {
            let job = warden_store::jobs::NewJob {
                kind: WEBHOOK_JOB.into(),
                payload: serde_json::json!({ "msg_id": msg_id, "endpoint": e.name, "body": body })
                    .to_string(),
                run_at: c.created_at,
                dedup_key: Some(format!("webhook:{}:{msg_id}", e.name)),
                max_attempts: self.settings.webhook_max_attempts,
            };
            tx.enqueue(
                &job,
                &warden_store::new_id("job", c.created_at),
                c.created_at,
            )
            .await?;
        }
        Ok(())
    }

    /// Delivers one webhook message; every attempt is logged (ENF-2).
    pub(crate) async fn deliver_webhook(&self, job: &warden_store::jobs::Job) -> AppResult<()> {
        let p: serde_json::Value = serde_json::from_str(&job.payload).unwrap_or_default();
        let field = |k: &str| {
            p.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let (msg_id, name, body) = (field("msg_id"), field("endpoint"), field("body"));
        let now = self.now();
        let outcome: Result<u16, String> =
            match self.settings.webhooks.iter().find(|e| e.name == name) {
                None => Err(format!("endpoint {name} is no longer configured")),
                Some(e) => {
                    let ts = now.div_euclid(1000);
                    let client = reqwest::Client::builder()
                        .timeout(Duration::from_secs(10))
                        .build()
                        .map_err(|e| e.to_string());
                    match client {
                        Err(e) => Err(e),
                        Ok(client) => client
                            .post(&e.url)
                            .header("content-type", "application/json")
                            .header("webhook-id", &msg_id)
                            .header("webhook-timestamp", ts.to_string())
                            .header(
                                "webhook-signature",
                                webhook_signature(&e.secret, &msg_id, ts, &body),
                            )
                            .body(body.clone())
                            .send()
                            .await
                            .map(|r| r.status().as_u16())
                            .map_err(|e| format!("{e}")),
                    }
                }
            };
        let mut tx = self.store.begin_write().await?;
        tx.record_webhook_attempt(&warden_store::enforcement::WebhookAttempt {
            id: warden_store::new_id("wha", now),
            msg_id: msg_id.clone(),
            endpoint: name.clone(),
            attempt: job.attempts,
            status: outcome.as_ref().ok().map(|s| i64::from(*s)),
            error: match &outcome {
                Ok(s) if (200..300).contains(s) => None,
                Ok(s) => Some(format!("HTTP {s}")),
                Err(e) => Some(e.clone()),
            },
            at: now,
        })
        .await?;
        tx.commit().await?;
        match outcome {
            Ok(s) if (200..300).contains(&s) => Ok(()),
            Ok(s) => Err(crate::error::AppError::Conflict(format!(
                "webhook {name} answered HTTP {s}"
            ))),
            Err(e) => Err(crate::error::AppError::Conflict(format!(
                "webhook {name}: {e}"
            ))),
        }
    }

    /// The delivery log and the configured endpoints (operators).
    pub async fn webhook_log(
        &self,
        who: &crate::auth::Principal,
        msg_id: Option<&str>,
    ) -> AppResult<serde_json::Value> {
        who.require(
            &[
                warden_domain::identity::Role::Admin,
                warden_domain::identity::Role::Operator,
            ],
            "read webhook deliveries",
        )?;
        let attempts = self.store.webhook_attempts(msg_id, 500).await?;
        let endpoints: Vec<serde_json::Value> = self
            .settings
            .webhooks
            .iter()
            .map(|e| serde_json::json!({ "name": e.name, "url": e.url, "actions": e.actions, "products": e.products }))
            .collect();
        let mut messages = Vec::new();
        if let Some(m) = msg_id {
            for e in &self.settings.webhooks {
                if let Some(j) = self
                    .store
                    .get_timer(&format!("webhook:{}:{m}", e.name))
                    .await?
                {
                    messages.push(serde_json::json!({ "endpoint": e.name, "state": j.state, "attempts": j.attempts, "last_error": j.last_error }));
                }
            }
        }
        Ok(
            serde_json::json!({ "endpoints": endpoints, "messages": messages, "attempts": attempts }),
        )
    }

    /// Re-drives a dead delivery (same message id).
    pub async fn redrive_webhook(
        &self,
        who: &crate::auth::Principal,
        msg_id: &str,
        endpoint: &str,
    ) -> AppResult<serde_json::Value> {
        who.require(
            &[
                warden_domain::identity::Role::Admin,
                warden_domain::identity::Role::Operator,
            ],
            "re-drive webhooks",
        )?;
        let key = format!("webhook:{endpoint}:{msg_id}");
        let job = self
            .store
            .get_timer(&key)
            .await?
            .ok_or(crate::error::AppError::NotFound("webhook message"))?;
        if job.state != "dead" {
            return Err(crate::error::AppError::Conflict(format!(
                "the delivery is {}, not dead",
                job.state
            )));
        }
        let now = self.now();
        let mut tx = self.store.begin_write().await?;
        let new = warden_store::jobs::NewJob {
            kind: WEBHOOK_JOB.into(),
            payload: job.payload,
            run_at: now,
            dedup_key: Some(key),
            max_attempts: self.settings.webhook_max_attempts,
        };
        let id = tx
            .enqueue(&new, &warden_store::new_id("job", now), now)
            .await?;
        let mut ev = self.event(who, "webhook.redrive", format!("webhook:{endpoint}"));
        ev.details = serde_json::json!({ "msg_id": msg_id, "job_id": id });
        tx.append_audit(ev).await?;
        tx.commit().await?;
        self.job_wakeup.notify_waiters();
        Ok(serde_json::json!({ "job_id": id, "msg_id": msg_id }))
    }
}

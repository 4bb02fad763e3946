//! The one shape every enforcement adapter has (STYLE habit 7, ENF-2).
//!
//! An adapter makes one kind of enforcement point hold what the change log says: the decision
//! index that nginx and Envoy ask, the DNS zone Unbound loads, a provider's webhook receiver.
//! Warden calls [`Adapter::push`] with applies and lifts; the adapter answers only when the point
//! holds them, and an action is `applied` (or `lifted`) only when every adapter that enforces
//! it has answered so. Every adapter must:
//!
//! - treat a change it already holds as done (apply and lift are idempotent, so re-sending is
//!   always safe and reconciliation can re-send freely);
//! - fail with [`AdapterError`] rather than half-succeed silently, so Warden retries;
//! - give up within its configured timeout, so one stuck point never stalls the others.
//!
//! The shared compliance test (`crates/warden/tests/system/adapters.rs`) holds every adapter to
//! these three rules against the real program behind it.

use std::future::Future;
use std::pin::Pin;

use warden_domain::delivery::ChangeOp;
use warden_domain::penalty::Action;
use warden_store::enforcement::EnforcementChange;

/// How Warden drives an adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every node follows the change log and pushes it in order (the point is local to the
    /// node: its in-memory index, its zone file).
    Follow,
    /// Each change is a durable job, retried with backoff until the point confirms (the point
    /// is remote and shared: a webhook receiver).
    Queue,
    /// The point pulls the change feed itself and confirms through the API
    /// (`POST /api/enforcement/confirm`): nothing pushes to it, its deliveries wait for its
    /// confirmation (the ExaBGP bridge, DDOS-7).
    Pull,
}

/// Why an adapter could not make its point hold a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AdapterError {
    /// What went wrong, for the delivery record operators read.
    pub message: String,
}

impl AdapterError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        AdapterError {
            message: message.into(),
        }
    }
}

/// What [`Adapter::push`] returns.
pub type PushFuture<'a> = Pin<Box<dyn Future<Output = Result<(), AdapterError>> + Send + 'a>>;

/// One enforcement adapter.
pub trait Adapter: Send + Sync {
    /// Its name in delivery records: `index`, `rpz`, `webhook:<endpoint>`.
    fn name(&self) -> &str;
    /// How Warden drives it.
    fn mode(&self) -> Mode;
    /// Whether it enforces this change's action (decided from configuration only, so every
    /// node agrees).
    fn handles(&self, change: &EnforcementChange) -> bool;
    /// Makes the point hold these changes, in order. Idempotent; returns within the adapter's
    /// timeout.
    fn push<'a>(&'a self, changes: &'a [EnforcementChange]) -> PushFuture<'a>;
    /// The actions it holds now (id and action), for adapters that keep their state in this
    /// process (the follower compares them with the log and re-sends the difference); `None` for
    /// remote ones.
    fn holds(&self) -> Option<Vec<(String, Action)>> {
        None
    }
}

/// A lift of `action_id` (an `action`) with nothing else known: what reconciliation sends for
/// an action an adapter holds but the log no longer has in force.
pub fn lift_of(action_id: &str, action: Action, revision: i64) -> EnforcementChange {
    EnforcementChange {
        revision,
        action_id: action_id.to_string(),
        case_id: String::new(),
        account_id: None,
        op: ChangeOp::Lift,
        action,
        product: None,
        target: String::new(),
        created_at: 0,
    }
}

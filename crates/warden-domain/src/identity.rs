//! Who may do what (SPEC §1): roles of API tokens.

use serde::{Deserialize, Serialize};

use crate::resource::InvalidInput;

/// A token's role. A `tenant` token is bound to exactly one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Configures policy, users and keys.
    Admin,
    /// Triage, confirm, grade, apply and lift penalties.
    Operator,
    /// Works the unblock and ticket queues.
    Reviewer,
    /// Reads the audit log and exports, nothing else.
    Auditor,
    /// A customer account: sees only its own data.
    Tenant,
    /// A machine credential of an automated detector.
    Detector,
    /// An enforcement point (nginx, Envoy, a DNS server's sync job) reading the change feed.
    Edge,
    /// Provider security staff who read and handle the confidential vulnerability reports
    /// (ASMT-4), and nothing tenant-visible: no cases, accounts, audit log or operator power.
    SecurityTeam,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 8] = [
        Role::Admin,
        Role::Operator,
        Role::Reviewer,
        Role::Auditor,
        Role::Tenant,
        Role::Detector,
        Role::Edge,
        Role::SecurityTeam,
    ];

    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Reviewer => "reviewer",
            Role::Auditor => "auditor",
            Role::Tenant => "tenant",
            Role::Detector => "detector",
            Role::Edge => "edge",
            Role::SecurityTeam => "security_team",
        }
    }

    /// Parses a role code.
    pub fn parse(code: &str) -> Result<Role, InvalidInput> {
        Role::ALL
            .into_iter()
            .find(|r| r.code() == code)
            .ok_or_else(|| {
                InvalidInput::new(
                    "role",
                    "is not one of admin, operator, reviewer, auditor, tenant, detector, edge, security_team",
                )
            })
    }

    /// Provider staff who work cases and their queues (everyone but tenants, detectors, edges
    /// and anonymous reporters). The security team is provider staff too, but not of this kind:
    /// it sees nothing tenant-visible (SPEC §1), so it is not "staff" for any case, ticket or
    /// queue read.
    pub fn is_staff(self) -> bool {
        matches!(
            self,
            Role::Admin | Role::Operator | Role::Reviewer | Role::Auditor
        )
    }
}

crate::impl_code!(Role, "role");

/// Whom a query may see. Storage applies it in SQL, so a tenant query can never return another
/// account's rows whatever the handler does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Provider staff and the system: every account.
    All,
    /// One account only.
    Account(String),
    /// Nothing at all (detectors and anonymous reporters submit; they never read).
    Nobody,
}

impl Scope {
    /// The account this scope is limited to, if any.
    pub fn account(&self) -> Option<&str> {
        match self {
            Scope::All => None,
            Scope::Account(a) => Some(a),
            Scope::Nobody => Some(""),
        }
    }

    /// The value storage binds for `($n = '' OR account_id = $n)`: empty for all accounts, the
    /// account id, or a value no account id can take (account ids are `[A-Za-z0-9_.-]+`), so that
    /// an empty or missing account can never widen a query to every account.
    pub fn sql_param(&self) -> &str {
        match self {
            Scope::All => "",
            Scope::Account(a) if !a.is_empty() => a,
            Scope::Account(_) | Scope::Nobody => "\u{1}nobody",
        }
    }
}

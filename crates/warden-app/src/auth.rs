//! API tokens and principals (SPEC §1).
//!
//! A token is 32 random bytes shown once as `wdn_<hex>`; only its SHA-256 is stored. High-entropy
//! tokens need no slow hash: nobody can guess one from its digest.

use serde::Serialize;
use warden_domain::identity::{Role, Scope};
use warden_domain::resource::InvalidInput;
use warden_store::tokens::Token;

use crate::error::{AppError, AppResult};
use crate::{App, digest};

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An unauthenticated reporter, by source address.
    Anonymous {
        /// Source IP (rate limiting only; not stored).
        ip: String,
    },
    /// A token holder, or a person signed in to the console (ids `tok_...` / `usr_...`; the
    /// label of a user is its login). Use cases treat both alike: a role, and for a tenant one
    /// account.
    Token {
        /// Token id.
        id: String,
        /// Its role.
        role: Role,
        /// The account of a tenant token.
        account: Option<String>,
        /// The token's label.
        label: String,
    },
    /// Warden itself (workers, CLI maintenance).
    System,
}

impl Principal {
    /// The role, if any.
    pub fn role(&self) -> Option<Role> {
        match self {
            Principal::Token { role, .. } => Some(*role),
            _ => None,
        }
    }

    /// Role code for audit (`anonymous`, `system`...).
    pub fn role_code(&self) -> &'static str {
        match self {
            Principal::Anonymous { .. } => "anonymous",
            Principal::Token { role, .. } => role.code(),
            Principal::System => "system",
        }
    }

    /// Actor for audit: the token id, never the secret.
    pub fn actor(&self) -> String {
        match self {
            Principal::Anonymous { .. } => "anonymous".into(),
            Principal::Token { id, .. } => id.clone(),
            Principal::System => "system".into(),
        }
    }

    /// What this principal may see. Tenants see their account; anonymous callers and detectors
    /// see nothing by id (they only submit), staff and the system see everything.
    pub fn scope(&self) -> Scope {
        match self {
            Principal::Token {
                role: Role::Tenant,
                account,
                ..
            } => Scope::Account(account.clone().unwrap_or_default()),
            // The security team sees no account's data (SPEC §1: nothing tenant-visible); its
            // vulnerability reports are no account's and are read through their own use cases.
            Principal::Token {
                role: Role::Detector | Role::SecurityTeam,
                ..
            }
            | Principal::Anonymous { .. } => Scope::Nobody,
            // Edges read the whole enforcement state; staff see every account.
            Principal::Token {
                role: Role::Admin | Role::Operator | Role::Reviewer | Role::Auditor | Role::Edge,
                ..
            }
            | Principal::System => Scope::All,
        }
    }

    /// Fails unless the role is one of `roles`.
    pub fn require(&self, roles: &[Role], what: &'static str) -> AppResult<()> {
        match self {
            Principal::System => Ok(()),
            Principal::Token { role, .. } if roles.contains(role) => Ok(()),
            Principal::Anonymous { .. } => Err(AppError::Unauthenticated),
            Principal::Token { .. } => Err(AppError::Forbidden(what)),
        }
    }
}

/// Who did something, as people read it: the token's id and its label (`system`, `anonymous`
/// and deleted tokens have no label).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Actor {
    /// Token id, or `system` / `anonymous`.
    pub id: String,
    /// The token's label, e.g. `alice (operator)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// Token labels by id, to show actors.
#[derive(Debug, Clone, Default)]
pub struct Actors(std::collections::HashMap<String, String>);

impl Actors {
    /// The actor with id `id`.
    pub fn get(&self, id: &str) -> Actor {
        Actor {
            id: id.to_string(),
            label: self.0.get(id).cloned(),
        }
    }
}

/// A token just created: the secret is in this value only.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct IssuedToken {
    /// The stored record.
    #[serde(flatten)]
    pub token: Token,
    /// The secret, shown once.
    pub secret: String,
}

/// SHA-256 of a token secret.
pub fn token_hash(secret: &str) -> String {
    warden_domain::sha256_hex(secret.as_bytes())
}

fn new_secret() -> AppResult<String> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b)
        .map_err(|_| AppError::Crypto(crate::crypto::CryptoError::NoRandom))?;
    Ok(format!("wdn_{}", hex::encode(b)))
}

impl App {
    /// The principal of a bearer token.
    pub async fn authenticate(&self, secret: &str) -> AppResult<Principal> {
        let t = self
            .store
            .find_token(&token_hash(secret.trim()))
            .await?
            .ok_or(AppError::Unauthenticated)?;
        Ok(Principal::Token {
            id: t.id,
            role: t.role,
            account: t.account_id,
            label: t.label,
        })
    }

    /// Issues a token (admin only; the CLI acts as [`Principal::System`]).
    pub async fn create_token(
        &self,
        who: &Principal,
        role: &str,
        account: Option<&str>,
        label: &str,
    ) -> AppResult<IssuedToken> {
        who.require(&[Role::Admin], "create tokens")?;
        let role = Role::parse(role)?;
        let label = label.trim();
        if label.is_empty() || label.chars().count() > 100 {
            return Err(InvalidInput::new("label", "must be 1 to 100 characters").into());
        }
        let account = match (role, account) {
            (Role::Tenant, Some(a)) => Some(a.to_string()),
            (Role::Tenant, None) => {
                return Err(
                    InvalidInput::new("account_id", "is required for a tenant token").into(),
                );
            }
            (_, Some(_)) => {
                return Err(InvalidInput::new(
                    "account_id",
                    "only tenant tokens are bound to an account",
                )
                .into());
            }
            (_, None) => None,
        };
        let now = self.now();
        let secret = new_secret()?;
        let token = Token {
            id: warden_store::new_id("tok", now),
            role,
            account_id: account.clone(),
            label: label.into(),
            created_at: now,
            revoked_at: None,
        };
        let mut tx = self.store.begin_write().await?;
        if let Some(a) = &account
            && tx.get_account(a).await?.is_none()
        {
            return Err(AppError::NotFound("account"));
        }
        self.insert_token(&mut tx, who, &token, &secret).await?;
        tx.commit().await?;
        Ok(IssuedToken { token, secret })
    }

    async fn insert_token(
        &self,
        tx: &mut warden_store::WriteTx,
        who: &Principal,
        token: &Token,
        secret: &str,
    ) -> AppResult<()> {
        tx.insert_token(token, &token_hash(secret)).await?;
        let mut ev = self.event(who, "token.create", format!("token:{}", token.id));
        ev.after_digest = Some(digest(token));
        ev.details = serde_json::json!({ "role": token.role, "account_id": token.account_id, "label": token.label });
        ev.account_id = token.account_id.clone();
        tx.append_audit(ev).await?;
        Ok(())
    }

    /// Issues the first admin token if there is no live one (first start); `None` otherwise.
    /// Check and insert share one transaction under the chain lock, so two nodes starting
    /// together on one database issue one token between them.
    pub async fn bootstrap_admin(&self) -> AppResult<Option<IssuedToken>> {
        let mut tx = self.store.begin_write().await?;
        tx.lock_chain().await?;
        if tx.count_admin_tokens().await? > 0 {
            return Ok(None);
        }
        let now = self.now();
        let secret = new_secret()?;
        let token = Token {
            id: warden_store::new_id("tok", now),
            role: Role::Admin,
            account_id: None,
            label: "bootstrap admin".into(),
            created_at: now,
            revoked_at: None,
        };
        self.insert_token(&mut tx, &Principal::System, &token, &secret)
            .await?;
        tx.commit().await?;
        Ok(Some(IssuedToken { token, secret }))
    }

    /// Revokes a token — refused (`last_admin_token`) for the last live admin token, which
    /// would lock everyone out of the admin API. The check and the revocation share one
    /// transaction under the chain lock, so two admins revoking each other's tokens at once
    /// cannot both succeed: the second sees one admin token left.
    pub async fn revoke_token(&self, who: &Principal, id: &str) -> AppResult<()> {
        who.require(&[Role::Admin], "revoke tokens")?;
        let mut tx = self.store.begin_write().await?;
        tx.lock_chain().await?;
        let token = tx
            .live_token(id)
            .await?
            .ok_or(AppError::NotFound("token"))?;
        if token.role == Role::Admin && tx.count_admin_tokens().await? <= 1 {
            return Err(AppError::Refused {
                code: "last_admin_token",
                message: "this is the last admin token; revoking it would lock everyone out of the admin API. Create another admin token first (POST /api/tokens or `warden admin create-token --role admin`), then revoke this one".into(),
            });
        }
        if !tx.revoke_token(id, self.now()).await? {
            return Err(AppError::NotFound("token"));
        }
        tx.append_audit(self.event(who, "token.revoke", format!("token:{id}")))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every token's label and user's login by id (to show actors to staff).
    pub(crate) async fn actors(&self) -> AppResult<Actors> {
        let mut m: std::collections::HashMap<String, String> = self
            .store
            .list_tokens()
            .await?
            .into_iter()
            .map(|t| (t.id, t.label))
            .collect();
        m.extend(self.store.user_logins().await?);
        Ok(Actors(m))
    }

    /// All tokens (admin).
    pub async fn list_tokens(&self, who: &Principal) -> AppResult<Vec<Token>> {
        who.require(&[Role::Admin], "list tokens")?;
        Ok(self.store.list_tokens().await?)
    }
}

//! API tokens. Only the SHA-256 of a token is stored; the token itself is shown once.

use serde::Serialize;
use sqlx::any::AnyRow;

use warden_domain::identity::Role;

use crate::{Result, Store, WriteTx, c, i, oi, os, s};

/// A token row (without the secret, which is never stored).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Token {
    /// Id (`tok_...`), safe to show and log.
    pub id: String,
    /// Role code.
    pub role: Role,
    /// The account a tenant token is bound to.
    pub account_id: Option<String>,
    /// Free label ("ci detector", "alice").
    pub label: String,
    /// Created, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub created_at: i64,
    /// Revoked, ms.
    #[serde(with = "warden_domain::time::rfc3339::option")]
    #[schemars(with = "Option<warden_domain::time::Timestamp>")]
    pub revoked_at: Option<i64>,
}

fn row(r: &AnyRow) -> Result<Token> {
    Ok(Token {
        id: s(r, "id")?,
        role: c(r, "api_tokens", "role")?,
        account_id: os(r, "account_id")?,
        label: s(r, "label")?,
        created_at: i(r, "created_at")?,
        revoked_at: oi(r, "revoked_at")?,
    })
}

impl WriteTx {
    /// Stores a token by its hash.
    pub async fn insert_token(&mut self, t: &Token, token_hash: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_tokens (id, token_hash, role, account_id, label, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, NULL)",
        )
        .bind(&t.id)
        .bind(token_hash)
        .bind(t.role.code())
        .bind(t.account_id.clone())
        .bind(&t.label)
        .bind(t.created_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Revokes a token; false when there is no such live token.
    pub async fn revoke_token(&mut self, id: &str, now: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The live (unrevoked) token with this id.
    pub async fn live_token(&mut self, id: &str) -> Result<Option<Token>> {
        let r = sqlx::query("SELECT * FROM api_tokens WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(row).transpose()
    }

    /// Number of live admin tokens (first-start bootstrap, the last-admin check).
    pub async fn count_admin_tokens(&mut self) -> Result<i64> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n FROM api_tokens WHERE role = 'admin' AND revoked_at IS NULL",
        )
        .fetch_one(self.conn())
        .await?;
        i(&r, "n")
    }
}

impl Store {
    /// The live token with this hash.
    pub async fn find_token(&self, token_hash: &str) -> Result<Option<Token>> {
        let r =
            sqlx::query("SELECT * FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL")
                .bind(token_hash)
                .fetch_optional(self.pool())
                .await?;
        r.as_ref().map(row).transpose()
    }

    /// All tokens (staff view).
    pub async fn list_tokens(&self) -> Result<Vec<Token>> {
        let rows = sqlx::query("SELECT * FROM api_tokens ORDER BY id LIMIT 1000")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(row).collect()
    }
}

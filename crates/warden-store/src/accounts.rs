//! Accounts (tenants). E-mail and phone arrive already sealed (AES-256-GCM, AUD-4); storage
//! never sees them in clear.

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::{Result, Scope, Store, WriteTx, i, ob, page, s};

/// An account row.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Account {
    /// Id (`acct_...` or the provider's own id).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Sealed e-mail.
    #[serde(skip)]
    pub email_enc: Option<Vec<u8>>,
    /// Sealed phone.
    #[serde(skip)]
    pub phone_enc: Option<Vec<u8>>,
    /// Notice language, `zh-CN` or `en`.
    pub lang: String,
    /// Created, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub created_at: i64,
    /// Updated, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub updated_at: i64,
}

fn row(r: &AnyRow) -> Result<Account> {
    Ok(Account {
        id: s(r, "id")?,
        name: s(r, "name")?,
        email_enc: ob(r, "email_enc")?,
        phone_enc: ob(r, "phone_enc")?,
        lang: s(r, "lang")?,
        created_at: i(r, "created_at")?,
        updated_at: i(r, "updated_at")?,
    })
}

impl WriteTx {
    /// Inserts an account; a taken id is a conflict.
    pub async fn insert_account(&mut self, a: &Account) -> Result<()> {
        let res = sqlx::query(
            "INSERT INTO accounts (id, name, email_enc, phone_enc, created_at, updated_at, lang) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&a.id)
        .bind(&a.name)
        .bind(a.email_enc.clone())
        .bind(a.phone_enc.clone())
        .bind(a.created_at)
        .bind(a.updated_at)
        .bind(&a.lang)
        .execute(self.conn())
        .await;
        crate::conflict_on_unique(res, || format!("account {} already exists", a.id)).map(|_| ())
    }

    /// The id of an account whose id equals `id` but for ASCII case, if any (account ids are
    /// unique case-insensitively).
    pub async fn account_id_taken(&mut self, id: &str) -> Result<Option<String>> {
        let r = sqlx::query("SELECT id FROM accounts WHERE lower(id) = lower($1) LIMIT 1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(|r| s(r, "id")).transpose()
    }

    /// Replaces name and sealed contacts of an account.
    pub async fn update_account(&mut self, a: &Account) -> Result<()> {
        sqlx::query("UPDATE accounts SET name = $1, email_enc = $2, phone_enc = $3, updated_at = $4, lang = $6 WHERE id = $5")
            .bind(&a.name)
            .bind(a.email_enc.clone())
            .bind(a.phone_enc.clone())
            .bind(a.updated_at)
            .bind(&a.id)
            .bind(&a.lang)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Reads an account inside the transaction (for a before-image).
    pub async fn get_account(&mut self, id: &str) -> Result<Option<Account>> {
        let r = sqlx::query("SELECT * FROM accounts WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(row).transpose()
    }
}

impl Store {
    /// One account, if the scope may see it.
    pub async fn get_account(&self, scope: &Scope, id: &str) -> Result<Option<Account>> {
        let r = sqlx::query("SELECT * FROM accounts WHERE id = $1 AND ($2 = '' OR id = $2)")
            .bind(id)
            .bind(scope.sql_param())
            .fetch_optional(self.pool())
            .await?;
        r.as_ref().map(row).transpose()
    }

    /// Accounts in id order after `after`, as the scope may see them.
    pub async fn list_accounts(
        &self,
        scope: &Scope,
        after: &str,
        limit: i64,
    ) -> Result<Vec<Account>> {
        let rows = sqlx::query(
            "SELECT * FROM accounts WHERE id > $1 AND ($2 = '' OR id = $2) ORDER BY id LIMIT $3",
        )
        .bind(after)
        .bind(scope.sql_param())
        .bind(page(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(row).collect()
    }
}

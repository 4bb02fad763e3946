//! People who sign in to the console, and their sessions (issue 10).
//!
//! A user has one role; a tenant user is bound to one account, and an account owner may add
//! sub-users to it. Only the argon2id hash of a password is stored, and only the SHA-256 of a
//! session's cookie secret: a copy of the database opens no session. Sessions live here rather
//! than in a node's memory so that several nodes behind one load balancer share them.

use serde::Serialize;
use sqlx::any::AnyRow;

use warden_domain::identity::{Role, Scope};

use crate::{Conditions, Result, Store, WriteTx, c, i, oi, os, s};

/// A user row (without the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Id (`usr_...`), safe to show and log.
    pub id: String,
    /// The login handle (`alice`), lower case.
    pub login: String,
    /// Role.
    pub role: Role,
    /// The account of a tenant user.
    pub account_id: Option<String>,
    /// A tenant user who may add sub-users to the account.
    pub account_owner: bool,
    /// The password was set by someone else and must be changed at the next sign-in.
    pub must_change_password: bool,
    /// Failed sign-ins since the last success.
    pub failed_logins: i64,
    /// Signed-in refused until then (temporary lockout), ms.
    pub locked_until: Option<i64>,
    /// Who created it (actor id).
    pub created_by: String,
    /// Created, ms.
    pub created_at: i64,
    /// Password last set, ms.
    pub password_changed_at: i64,
    /// Disabled, ms (a disabled user cannot sign in).
    pub disabled_at: Option<i64>,
}

/// A session row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    /// Id (`ses_...`), safe to show and log; the cookie holds a different, secret value.
    pub id: String,
    /// Whose.
    pub user_id: String,
    /// Started, ms.
    pub created_at: i64,
    /// Last request, ms (idle expiry counts from here).
    pub last_seen_at: i64,
    /// Absolute expiry, ms.
    pub expires_at: i64,
    /// Ended by logout, password change or an admin, ms.
    pub ended_at: Option<i64>,
}

fn user_row(r: &AnyRow) -> Result<User> {
    Ok(User {
        id: s(r, "id")?,
        login: s(r, "login")?,
        role: c(r, "users", "role")?,
        account_id: os(r, "account_id")?,
        account_owner: i(r, "account_owner")? != 0,
        must_change_password: i(r, "must_change_password")? != 0,
        failed_logins: i(r, "failed_logins")?,
        locked_until: oi(r, "locked_until")?,
        created_by: s(r, "created_by")?,
        created_at: i(r, "created_at")?,
        password_changed_at: i(r, "password_changed_at")?,
        disabled_at: oi(r, "disabled_at")?,
    })
}

fn session_row(r: &AnyRow) -> Result<Session> {
    Ok(Session {
        id: s(r, "session_id")?,
        user_id: s(r, "user_id")?,
        created_at: i(r, "session_created_at")?,
        last_seen_at: i(r, "last_seen_at")?,
        expires_at: i(r, "expires_at")?,
        ended_at: oi(r, "ended_at")?,
    })
}

macro_rules! user_cols {
    () => {
        "u.id, u.login, u.role, u.account_id, u.account_owner, u.must_change_password, u.failed_logins, u.locked_until, u.created_by, u.created_at, u.password_changed_at, u.disabled_at"
    };
}

impl WriteTx {
    /// Stores a new user with its password hash.
    pub async fn insert_user(&mut self, u: &User, password_hash: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (id, login, role, account_id, account_owner, password_hash, must_change_password, failed_logins, locked_until, created_by, created_at, password_changed_at, disabled_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, NULL, $8, $9, $10, NULL)",
        )
        .bind(&u.id)
        .bind(&u.login)
        .bind(u.role.code())
        .bind(u.account_id.clone())
        .bind(i64::from(u.account_owner))
        .bind(password_hash)
        .bind(i64::from(u.must_change_password))
        .bind(&u.created_by)
        .bind(u.created_at)
        .bind(u.password_changed_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The user with this login and its password hash, read inside the transaction.
    pub async fn user_by_login(&mut self, login: &str) -> Result<Option<(User, String)>> {
        let r = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            ", u.password_hash FROM users u WHERE u.login = $1"
        ))
        .bind(login)
        .fetch_optional(self.conn())
        .await?;
        r.map(|r| Ok((user_row(&r)?, s(&r, "password_hash")?)))
            .transpose()
    }

    /// The user with this id and its password hash.
    pub async fn user_with_hash(&mut self, id: &str) -> Result<Option<(User, String)>> {
        let r = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            ", u.password_hash FROM users u WHERE u.id = $1"
        ))
        .bind(id)
        .fetch_optional(self.conn())
        .await?;
        r.map(|r| Ok((user_row(&r)?, s(&r, "password_hash")?)))
            .transpose()
    }

    /// Counts a failed sign-in; once `max_failures` are reached the user is locked until
    /// `lock_until`. Returns the new count.
    pub async fn record_login_failure(
        &mut self,
        user_id: &str,
        max_failures: i64,
        lock_until: i64,
    ) -> Result<i64> {
        let r = sqlx::query(
            "UPDATE users SET failed_logins = failed_logins + 1, locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END WHERE id = $1 RETURNING failed_logins",
        )
        .bind(user_id)
        .bind(max_failures)
        .bind(lock_until)
        .fetch_one(self.conn())
        .await?;
        i(&r, "failed_logins")
    }

    /// Clears failed sign-ins and any lockout (after a success, or by an admin).
    pub async fn clear_login_failures(&mut self, user_id: &str) -> Result<()> {
        sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
            .bind(user_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Sets a new password hash.
    pub async fn set_password(
        &mut self,
        user_id: &str,
        password_hash: &str,
        must_change: bool,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE users SET password_hash = $2, must_change_password = $3, password_changed_at = $4, failed_logins = 0, locked_until = NULL WHERE id = $1",
        )
        .bind(user_id)
        .bind(password_hash)
        .bind(i64::from(must_change))
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Disables a user; false when there is no such enabled user.
    pub async fn disable_user(&mut self, user_id: &str, now: i64) -> Result<bool> {
        let r =
            sqlx::query("UPDATE users SET disabled_at = $2 WHERE id = $1 AND disabled_at IS NULL")
                .bind(user_id)
                .bind(now)
                .execute(self.conn())
                .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Number of enabled admin users (first-start bootstrap).
    pub async fn count_admin_users(&mut self) -> Result<i64> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled_at IS NULL",
        )
        .fetch_one(self.conn())
        .await?;
        i(&r, "n")
    }

    /// Starts a session stored by the hash of its cookie secret.
    pub async fn insert_session(&mut self, ses: &Session, secret_hash: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (secret_hash, id, user_id, created_at, last_seen_at, expires_at, ended_at) VALUES ($1, $2, $3, $4, $5, $6, NULL)",
        )
        .bind(secret_hash)
        .bind(&ses.id)
        .bind(&ses.user_id)
        .bind(ses.created_at)
        .bind(ses.last_seen_at)
        .bind(ses.expires_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Ends the live session with this secret hash; its id when there was one.
    pub async fn end_session(&mut self, secret_hash: &str, now: i64) -> Result<Option<String>> {
        let r = sqlx::query(
            "UPDATE sessions SET ended_at = $2 WHERE secret_hash = $1 AND ended_at IS NULL RETURNING id",
        )
        .bind(secret_hash)
        .bind(now)
        .fetch_optional(self.conn())
        .await?;
        r.map(|r| s(&r, "id")).transpose()
    }

    /// Ends every live session of a user but `keep` (a session id); how many ended.
    pub async fn end_user_sessions(
        &mut self,
        user_id: &str,
        keep: Option<&str>,
        now: i64,
    ) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE sessions SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL AND id <> $3",
        )
        .bind(user_id)
        .bind(now)
        .bind(keep.unwrap_or(""))
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected())
    }
}

impl Store {
    /// The live session with this secret hash and its user, whatever their expiry (the caller
    /// decides on expiry with its clock and settings).
    pub async fn find_session(&self, secret_hash: &str) -> Result<Option<(Session, User)>> {
        let r = sqlx::query(concat!("SELECT s.id AS session_id, s.user_id, s.created_at AS session_created_at, s.last_seen_at, s.expires_at, s.ended_at, ", user_cols!(), " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.secret_hash = $1 AND s.ended_at IS NULL"))
        .bind(secret_hash)
        .fetch_optional(self.pool())
        .await?;
        r.map(|r| Ok((session_row(&r)?, user_row(&r)?))).transpose()
    }

    /// Records activity on a session (idle expiry counts from `now`).
    pub async fn touch_session(&self, secret_hash: &str, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE sessions SET last_seen_at = $2 WHERE secret_hash = $1 AND last_seen_at < $2",
        )
        .bind(secret_hash)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The user with this id within `scope` (a tenant sees its account's users only).
    pub async fn get_user(&self, scope: &Scope, id: &str) -> Result<Option<User>> {
        let r = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM users u WHERE u.id = $1 AND ($2 = '' OR u.account_id = $2)"
        ))
        .bind(id)
        .bind(scope.sql_param())
        .fetch_optional(self.pool())
        .await?;
        r.as_ref().map(user_row).transpose()
    }

    /// Users within `scope`, by login, at most 1,000.
    pub async fn list_users(&self, scope: &Scope) -> Result<Vec<User>> {
        let conditions = Conditions::from(1).scope(scope, "u.account_id");
        let sql = format!(
            concat!(
                "SELECT ",
                user_cols!(),
                " FROM users u WHERE 1 = 1{} ORDER BY u.login LIMIT 1000"
            ),
            conditions.sql()
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql));
        let rows = conditions.bind(q).fetch_all(self.pool()).await?;
        rows.iter().map(user_row).collect()
    }

    /// Every user's login by id (to show actors to staff).
    pub async fn user_logins(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT id, login FROM users ORDER BY id LIMIT 100000")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((s(r, "id")?, s(r, "login")?)))
            .collect()
    }
}

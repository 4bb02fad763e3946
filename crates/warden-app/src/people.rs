//! People and sessions (issue 10): users with passwords, sign-in, sessions, sign-out.
//!
//! Passwords are hashed with argon2id (the argon2 crate's defaults: 19 MiB, 2 passes, the
//! OWASP minimum) on a blocking thread, so a burst of sign-ins never stalls the request workers.
//! A session is a 32-byte random secret in a cookie; the database keeps its SHA-256, its last
//! activity (idle expiry) and its absolute expiry, so every node sees the same sessions and a
//! sign-out on one node holds on all. CSRF tokens are MACs of the session secret under a key
//! derived from the data key: a form token cannot be computed without both.
//!
//! Sign-in is limited twice: per source address in memory (a burst from one address), and per
//! login in the database (five failures lock the login for fifteen minutes, on every node).
//! An unknown login costs the same argon2 work as a wrong password, so timing tells nothing.
//! Every sign-in, failed sign-in, sign-out and expiry is an audit event; the attempted login
//! name of a failure is not recorded (people type passwords into it).

use serde::Serialize;
use warden_domain::identity::Role;
use warden_domain::resource::InvalidInput;
use warden_store::users::{Session, User};

use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::{App, digest};

/// Session and sign-in limits.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// A session unused this long ends (ms).
    pub idle_ms: i64,
    /// A session ends this long after sign-in whatever its use (ms).
    pub absolute_ms: i64,
    /// Failed sign-ins in a row that lock a login.
    pub max_failures: i64,
    /// How long a locked login stays locked (ms).
    pub lockout_ms: i64,
    /// Sign-in attempts allowed per source address per minute.
    pub attempts_per_minute: u32,
    /// Cookies carry `Secure` (turn off only for plain-HTTP local use).
    pub secure_cookies: bool,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            idle_ms: 30 * 60_000,
            absolute_ms: 12 * 3_600_000,
            max_failures: 5,
            lockout_ms: 15 * 60_000,
            attempts_per_minute: 10,
            secure_cookies: true,
        }
    }
}

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 12;
/// Longest password accepted (argon2 takes any length; a megabyte "password" is an attack).
pub const MAX_PASSWORD: usize = 256;

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login handle: 2 to 64 of `a-z 0-9 . _ -`, starting with a letter or digit.
    pub login: String,
    /// Role.
    pub role: Role,
    /// The account of a tenant user.
    pub account_id: Option<String>,
    /// A tenant user who may add sub-users.
    pub account_owner: bool,
    /// The password; `None` generates one, shown once, to be changed at first sign-in.
    pub password: Option<String>,
}

/// A user just created, with the generated password if there was one (shown once).
#[derive(Debug, Serialize)]
pub struct IssuedUser {
    /// The stored user.
    pub user: User,
    /// The generated one-time password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// A successful sign-in: the cookie secret (in this value only) and who signed in.
#[derive(Debug)]
pub struct SignIn {
    /// The session cookie's value.
    pub secret: String,
    /// The session.
    pub session: Session,
    /// The user.
    pub user: User,
}

/// A live session resolved from its cookie.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The session.
    pub session: Session,
    /// The user.
    pub user: User,
    /// The principal use cases see.
    pub principal: Principal,
}

/// Why a session cookie does not open a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSession {
    /// Unknown, signed out, or its user disabled.
    Unknown,
    /// Unused for longer than the idle limit.
    Idle,
    /// Older than the absolute limit.
    Expired,
}

/// Checks a login handle.
pub fn check_login(login: &str) -> AppResult<String> {
    let l = login.trim().to_ascii_lowercase();
    let ok = (2..=64).contains(&l.len())
        && l.starts_with(|c: char| c.is_ascii_alphanumeric())
        && l.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if !ok {
        return Err(InvalidInput::new(
            "login",
            "must be 2 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit (a handle such as alice or acme-ops, not an e-mail address)",
        )
        .into());
    }
    Ok(l)
}

/// Checks a new password.
pub fn check_password(p: &str) -> AppResult<()> {
    let n = p.chars().count();
    if n < MIN_PASSWORD {
        return Err(InvalidInput::new(
            "password",
            format!("must be at least {MIN_PASSWORD} characters"),
        )
        .into());
    }
    if n > MAX_PASSWORD {
        return Err(InvalidInput::new(
            "password",
            format!("must be at most {MAX_PASSWORD} characters"),
        )
        .into());
    }
    Ok(())
}

fn random_hex(bytes: usize) -> AppResult<String> {
    let mut b = vec![0u8; bytes];
    getrandom::getrandom(&mut b)
        .map_err(|_| AppError::Crypto(crate::crypto::CryptoError::NoRandom))?;
    Ok(hex::encode(b))
}

/// A generated password: 20 characters from an alphabet without look-alikes (about 113 bits).
fn generate_password() -> AppResult<String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 20];
    getrandom::getrandom(&mut b)
        .map_err(|_| AppError::Crypto(crate::crypto::CryptoError::NoRandom))?;
    Ok(b.iter()
        .map(|x| {
            let i = usize::from(*x) % ALPHABET.len();
            char::from(ALPHABET.get(i).copied().unwrap_or(b'x'))
        })
        .collect())
}

async fn hash_password(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || {
        use argon2::PasswordHasher as _;
        argon2::Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(format!("argon2: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(format!("argon2 task: {e}")))?
}

async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        use argon2::PasswordVerifier as _;
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok()
    })
    .await
    .unwrap_or(false)
}

/// A hash no password matches, verified against for unknown logins so that they cost the same.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| {
        use argon2::PasswordHasher as _;
        argon2::Argon2::default()
            .hash_password(b"warden: no such user")
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// The SHA-256 of a session secret (what the database keeps).
pub fn session_hash(secret: &str) -> String {
    warden_domain::sha256_hex(secret.as_bytes())
}

fn principal_of(u: &User) -> Principal {
    Principal::Token {
        id: u.id.clone(),
        role: u.role,
        account: u.account_id.clone(),
        label: u.login.clone(),
    }
}

impl App {
    /// Creates a user. Admins create anyone; an account owner creates tenant users of its own
    /// account (never owners, never staff).
    pub async fn create_user(&self, who: &Principal, new: NewUser) -> AppResult<IssuedUser> {
        let login = check_login(&new.login)?;
        match who {
            Principal::System => {}
            Principal::Token {
                role: Role::Admin, ..
            } => {}
            Principal::Token {
                role: Role::Tenant,
                id,
                account,
                ..
            } => {
                let owner = self
                    .store
                    .get_user(&who.scope(), id)
                    .await?
                    .is_some_and(|u| u.account_owner && u.disabled_at.is_none());
                if !owner {
                    return Err(AppError::Forbidden(
                        "add users (only the account's owner may)",
                    ));
                }
                if new.role != Role::Tenant || new.account_owner {
                    return Err(AppError::Forbidden(
                        "add anyone but ordinary users of your own account",
                    ));
                }
                if new.account_id.as_deref() != account.as_deref() {
                    return Err(AppError::NotFound("account"));
                }
            }
            Principal::Anonymous { .. } => return Err(AppError::Unauthenticated),
            Principal::Token { .. } => return Err(AppError::Forbidden("add users")),
        }
        match (new.role, &new.account_id) {
            (Role::Tenant, None) => {
                return Err(
                    InvalidInput::new("account_id", "is required for a tenant user").into(),
                );
            }
            (Role::Tenant, Some(_)) => {}
            (Role::Detector | Role::Edge, _) => {
                return Err(InvalidInput::new(
                    "role",
                    "detectors and edges are machines: give them an API token, not a user",
                )
                .into());
            }
            (_, Some(_)) => {
                return Err(InvalidInput::new(
                    "account_id",
                    "only tenant users are bound to an account",
                )
                .into());
            }
            (_, None) => {}
        }
        if new.account_owner && new.role != Role::Tenant {
            return Err(
                InvalidInput::new("account_owner", "only tenant users own an account").into(),
            );
        }
        let (password, generated) = match new.password {
            Some(p) => {
                check_password(&p)?;
                (p, false)
            }
            None => (generate_password()?, true),
        };
        let hash = hash_password(password.clone()).await?;
        let now = self.now();
        let user = User {
            id: warden_store::new_id("usr", now),
            login,
            role: new.role,
            account_id: new.account_id,
            account_owner: new.account_owner,
            must_change_password: generated,
            failed_logins: 0,
            locked_until: None,
            created_by: who.actor(),
            created_at: now,
            password_changed_at: now,
            disabled_at: None,
        };
        let mut tx = self.store.begin_write().await?;
        if let Some(a) = &user.account_id
            && tx.get_account(a).await?.is_none()
        {
            return Err(AppError::NotFound("account"));
        }
        if tx.user_by_login(&user.login).await?.is_some() {
            return Err(AppError::Conflict(format!(
                "the login {} is taken; choose another",
                user.login
            )));
        }
        tx.insert_user(&user, &hash).await?;
        let mut ev = self.event(who, "user.create", format!("user:{}", user.id));
        ev.after_digest = Some(digest(&user));
        ev.details = serde_json::json!({
            "login": user.login, "role": user.role, "account_id": user.account_id,
            "account_owner": user.account_owner,
        });
        ev.account_id = user.account_id.clone();
        tx.append_audit(ev).await?;
        tx.commit().await?;
        Ok(IssuedUser {
            user,
            password: generated.then_some(password),
        })
    }

    /// Creates the first admin user (`admin`, a generated password to change at first sign-in)
    /// if there is no enabled admin user; `None` otherwise. Two nodes starting together create
    /// one between them (the check and the insert share a transaction under the chain lock).
    pub async fn bootstrap_admin_user(&self) -> AppResult<Option<IssuedUser>> {
        let mut tx = self.store.begin_write().await?;
        tx.lock_chain().await?;
        if tx.count_admin_users().await? > 0 {
            return Ok(None);
        }
        let mut login = "admin".to_string();
        if tx.user_by_login(&login).await?.is_some() {
            login = format!("admin-{}", &random_hex(3)?);
        }
        let password = generate_password()?;
        let hash = hash_password(password.clone()).await?;
        let now = self.now();
        let user = User {
            id: warden_store::new_id("usr", now),
            login,
            role: Role::Admin,
            account_id: None,
            account_owner: false,
            must_change_password: true,
            failed_logins: 0,
            locked_until: None,
            created_by: "system".into(),
            created_at: now,
            password_changed_at: now,
            disabled_at: None,
        };
        tx.insert_user(&user, &hash).await?;
        let mut ev = self.event(
            &Principal::System,
            "user.create",
            format!("user:{}", user.id),
        );
        ev.after_digest = Some(digest(&user));
        ev.details =
            serde_json::json!({ "login": user.login, "role": user.role, "bootstrap": true });
        tx.append_audit(ev).await?;
        tx.commit().await?;
        Ok(Some(IssuedUser {
            user,
            password: Some(password),
        }))
    }

    /// Signs in. `ip` is the client's address (rate limit only; not stored).
    pub async fn sign_in(&self, ip: &str, login: &str, password: &str) -> AppResult<SignIn> {
        let now = self.now();
        if !self.login_limiter.allow(ip, now) {
            return Err(AppError::Refused {
                code: "rate_limited",
                message: "too many sign-in attempts from your address; wait a minute and try again"
                    .into(),
            });
        }
        let wrong = || AppError::Refused {
            code: "sign_in_failed",
            message: "wrong login or password".into(),
        };
        let s = &self.settings.sessions;
        let login = login.trim().to_ascii_lowercase();
        let password: String = password.chars().take(MAX_PASSWORD + 1).collect();
        let mut tx = self.store.begin_write().await?;
        let found = if login.is_empty() {
            None
        } else {
            tx.user_by_login(&login).await?
        };
        let Some((user, hash)) = found else {
            let _ = verify_password(password, dummy_hash().to_string()).await;
            let mut ev = self.event(
                &Principal::System,
                "session.login_failed",
                "user:unknown".into(),
            );
            ev.actor = "anonymous".into();
            ev.role = "anonymous".into();
            ev.details = serde_json::json!({ "reason": "unknown_login" });
            tx.append_audit(ev).await?;
            tx.commit().await?;
            return Err(wrong());
        };
        let fail_event = |reason: &str| {
            let mut ev = self.event(
                &Principal::System,
                "session.login_failed",
                format!("user:{}", user.id),
            );
            ev.actor = "anonymous".into();
            ev.role = "anonymous".into();
            ev.details = serde_json::json!({ "reason": reason });
            ev.account_id = user.account_id.clone();
            ev
        };
        if user.disabled_at.is_some() {
            let _ = verify_password(password, dummy_hash().to_string()).await;
            tx.append_audit(fail_event("disabled")).await?;
            tx.commit().await?;
            return Err(wrong());
        }
        if let Some(until) = user.locked_until
            && until > now
        {
            tx.append_audit(fail_event("locked")).await?;
            tx.commit().await?;
            let minutes = (until - now + 59_999) / 60_000;
            return Err(AppError::Refused {
                code: "login_locked",
                message: format!(
                    "this login is locked after {} failed sign-ins; try again in {minutes} minute(s), or ask an administrator to unlock it",
                    s.max_failures
                ),
            });
        }
        if !verify_password(password, hash).await {
            let n = tx
                .record_login_failure(&user.id, s.max_failures, now + s.lockout_ms)
                .await?;
            let mut ev = fail_event("wrong_password");
            ev.details = serde_json::json!({ "reason": "wrong_password", "failures": n, "locked": n >= s.max_failures });
            tx.append_audit(ev).await?;
            tx.commit().await?;
            return Err(wrong());
        }
        tx.clear_login_failures(&user.id).await?;
        let secret = format!("wss_{}", random_hex(32)?);
        let session = Session {
            id: warden_store::new_id("ses", now),
            user_id: user.id.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + s.absolute_ms,
            ended_at: None,
        };
        tx.insert_session(&session, &session_hash(&secret)).await?;
        let p = principal_of(&user);
        let mut ev = self.event(&p, "session.login", format!("user:{}", user.id));
        ev.details = serde_json::json!({ "session": session.id });
        ev.account_id = user.account_id.clone();
        tx.append_audit(ev).await?;
        tx.commit().await?;
        let user = User {
            failed_logins: 0,
            locked_until: None,
            ..user
        };
        Ok(SignIn {
            secret,
            session,
            user,
        })
    }

    /// The live session of a cookie secret, or why there is none. An expired session is ended
    /// (and audited) the first time it is presented after expiry.
    pub async fn session(&self, secret: &str) -> AppResult<Result<SignedIn, NoSession>> {
        let hash = session_hash(secret.trim());
        let Some((session, user)) = self.store.find_session(&hash).await? else {
            return Ok(Err(NoSession::Unknown));
        };
        let now = self.now();
        let s = &self.settings.sessions;
        let why = if user.disabled_at.is_some() {
            Some(("disabled", NoSession::Unknown))
        } else if now >= session.expires_at {
            Some(("absolute", NoSession::Expired))
        } else if now - session.last_seen_at >= s.idle_ms {
            Some(("idle", NoSession::Idle))
        } else {
            None
        };
        if let Some((reason, no)) = why {
            let mut tx = self.store.begin_write().await?;
            if let Some(id) = tx.end_session(&hash, now).await? {
                let mut ev = self.event(
                    &Principal::System,
                    "session.expire",
                    format!("user:{}", user.id),
                );
                ev.details = serde_json::json!({ "session": id, "reason": reason });
                ev.account_id = user.account_id.clone();
                tx.append_audit(ev).await?;
            }
            tx.commit().await?;
            return Ok(Err(no));
        }
        // One write a minute per session is enough for idle expiry in minutes.
        if now - session.last_seen_at >= 60_000 {
            self.store.touch_session(&hash, now).await?;
        }
        let principal = principal_of(&user);
        Ok(Ok(SignedIn {
            session,
            user,
            principal,
        }))
    }

    /// Signs out the session of `secret` (nothing when it is not live).
    pub async fn sign_out(&self, secret: &str) -> AppResult<()> {
        let hash = session_hash(secret.trim());
        let Some((_, user)) = self.store.find_session(&hash).await? else {
            return Ok(());
        };
        let mut tx = self.store.begin_write().await?;
        if let Some(id) = tx.end_session(&hash, self.now()).await? {
            let p = principal_of(&user);
            let mut ev = self.event(&p, "session.logout", format!("user:{}", user.id));
            ev.details = serde_json::json!({ "session": id });
            ev.account_id = user.account_id.clone();
            tx.append_audit(ev).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Changes the signed-in user's password after checking the current one; every other
    /// session of the user ends.
    pub async fn change_password(&self, me: &SignedIn, current: &str, new: &str) -> AppResult<()> {
        check_password(new)?;
        if new == current {
            return Err(
                InvalidInput::new("new_password", "must differ from the current password").into(),
            );
        }
        let mut tx = self.store.begin_write().await?;
        let (_, hash) = tx
            .user_with_hash(&me.user.id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        if !verify_password(current.chars().take(MAX_PASSWORD + 1).collect(), hash).await {
            return Err(
                InvalidInput::new("current_password", "is not your current password").into(),
            );
        }
        let new_hash = hash_password(new.to_string()).await?;
        let now = self.now();
        tx.set_password(&me.user.id, &new_hash, false, now).await?;
        let ended = tx
            .end_user_sessions(&me.user.id, Some(&me.session.id), now)
            .await?;
        let mut ev = self.event(
            &me.principal,
            "user.password_change",
            format!("user:{}", me.user.id),
        );
        ev.details = serde_json::json!({ "other_sessions_ended": ended });
        ev.account_id = me.user.account_id.clone();
        tx.append_audit(ev).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The CSRF token of a session or pre-session cookie value.
    pub fn csrf_token(&self, cookie_secret: &str) -> String {
        self.sealer.mac("csrf", cookie_secret.as_bytes())
    }

    /// Whether `token` is the CSRF token of `cookie_secret` (constant time).
    pub fn csrf_ok(&self, cookie_secret: &str, token: &str) -> bool {
        let want = self.csrf_token(cookie_secret);
        want.len() == token.len()
            && want
                .bytes()
                .zip(token.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    /// Users in the caller's scope (admins: all; an account owner: its account's).
    pub async fn list_users(&self, who: &Principal) -> AppResult<Vec<User>> {
        who.require(&[Role::Admin, Role::Tenant], "list users")?;
        Ok(self.store.list_users(&who.scope()).await?)
    }

    /// A new random pre-session value (the anonymous forms' CSRF cookie).
    pub fn new_presession(&self) -> AppResult<String> {
        random_hex(16)
    }
}

//! Accounts and resources (RES-1..3): create, read, update, list, bulk import, owner lookup.
//! Tenant e-mail and phone are sealed before storage; revealing them is an audited read (AUD-4).

use serde::{Deserialize, Serialize};
use warden_domain::identity::{Role, Scope};
use warden_domain::resource::{Identifier, IdentifierKind, InvalidInput, Product, Target};
use warden_store::WriteTx;
use warden_store::accounts::Account;
use warden_store::resources::{OwnerMatch, Resource};

use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::{App, digest};

const STAFF_WRITE: &[Role] = &[Role::Admin, Role::Operator];
const READERS: &[Role] = &[Role::Admin, Role::Operator, Role::Reviewer, Role::Tenant];

/// Body of account create/update.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountInput {
    /// Provider's own id (optional on create; `[A-Za-z0-9_.-]`, at most 64).
    #[serde(default)]
    #[schemars(length(min = 1, max = 64), pattern(r"^[A-Za-z0-9_.-]+$"))]
    pub id: Option<String>,
    /// Display name: 1 to 200 characters, no control characters (required on create).
    #[serde(default)]
    #[schemars(length(min = 1, max = 200), pattern(NAME_PATTERN))]
    pub name: Option<String>,
    /// Contact e-mail (personal data).
    #[serde(default)]
    #[schemars(email, length(max = 254))]
    pub email: Option<String>,
    /// Contact phone (personal data): 5 to 20 digits, with spaces, `+`, `-` and parentheses.
    #[serde(default)]
    #[schemars(pattern(PHONE_PATTERN))]
    pub phone: Option<String>,
    /// Notice language: `zh-CN` (default) or `en` (NOT-1).
    #[serde(default)]
    #[schemars(extend("enum" = ["zh-CN", "en"]))]
    pub lang: Option<String>,
}

/// A name or label: some character that is not white space, and no control characters.
pub const NAME_PATTERN: &str =
    r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x1f\x7f-\x9f\s][^\x00-\x1f\x7f-\x9f]*$";
/// A phone number: 5 to 20 digits among spaces, `+`, `-` and parentheses.
pub const PHONE_PATTERN: &str = r"^\s*[ +()-]*([0-9][ +()-]*){5,20}\s*$";

/// An account as the API shows it: contacts only say whether they are set.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AccountView {
    /// The row.
    #[serde(flatten)]
    pub account: Account,
    /// Whether an e-mail is on file.
    pub has_email: bool,
    /// Whether a phone is on file.
    pub has_phone: bool,
}

impl From<Account> for AccountView {
    fn from(account: Account) -> Self {
        AccountView {
            has_email: account.email_enc.is_some(),
            has_phone: account.phone_enc.is_some(),
            account,
        }
    }
}

/// Decrypted contacts.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Contacts {
    /// E-mail.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
}

/// One identifier in a resource body.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = identifier_schema)]
pub struct IdentifierInput {
    /// Kind code.
    pub kind: String,
    /// Value.
    pub value: String,
}

/// An identifier's value depends on its kind: one schema per kind, its value in the format of
/// that kind, described as `docs/api.md` does (`Identifier::parse` is what accepts it).
fn identifier_schema(schema: &mut schemars::Schema) {
    let kinds = [
        (
            "public_ip",
            "public-ip-or-cidr",
            "A public IP address or CIDR block (at most an IPv4 /8 or an IPv6 /32); loopback, \
             private, link-local, metadata and other special-purpose addresses are refused.",
        ),
        (
            "internal_ip",
            "ip-or-cidr",
            "An IP address or CIDR block (a VPC address; never used for owner lookup).",
        ),
        (
            "domain",
            "domain",
            "A domain name of two labels or more (Unicode is stored as punycode); covers its \
             subdomains.",
        ),
        (
            "url_prefix",
            "url-prefix",
            "An http(s) URL, or host[:port][/path] without a scheme (http assumed) whose host \
             is a domain name of two labels or more or an IP address (IPv6 in brackets), such \
             as example.com/shop; stored as host[:port]/path. A value with another scheme or \
             without such a host is refused.",
        ),
        (
            "bucket_key",
            "bucket-key",
            "A bucket name or bucket/key prefix (optionally cos://), without whitespace.",
        ),
        (
            "vod_id",
            "service-id",
            "A VOD file id: letters, digits and - _ . :",
        ),
        (
            "apigw_service",
            "service-id",
            "An API-gateway service id: letters, digits and - _ . :",
        ),
    ];
    let one_of: Vec<serde_json::Value> = kinds
        .iter()
        .map(|(kind, format, description)| {
            serde_json::json!({
                "properties": {
                    "kind": { "const": kind },
                    "value": { "type": "string", "format": format, "description": description },
                }
            })
        })
        .collect();
    schema.insert("oneOf".into(), serde_json::Value::Array(one_of));
}

/// Body of resource create/update, and one line of a bulk import.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceInput {
    /// Provider's own id (optional on create; `[A-Za-z0-9_.-]`, at most 64).
    #[serde(default)]
    #[schemars(length(min = 1, max = 64), pattern(r"^[A-Za-z0-9_.-]+$"))]
    pub id: Option<String>,
    /// Owning account (create only; required there).
    #[serde(default)]
    #[schemars(length(min = 1, max = 64), pattern(r"^[A-Za-z0-9_.-]+$"))]
    pub account_id: Option<String>,
    /// Product code (create only; required there).
    #[serde(default)]
    #[schemars(with = "Option<Product>")]
    pub product: Option<String>,
    /// Display name (the id if left out).
    #[serde(default)]
    #[schemars(length(min = 1, max = 200), pattern(NAME_PATTERN))]
    pub name: Option<String>,
    /// Region (`default` if left out).
    #[serde(default)]
    #[schemars(length(min = 1, max = 64), pattern(NAME_PATTERN))]
    pub region: Option<String>,
    /// Identifiers, at most 256 (replaces all on update).
    #[serde(default)]
    #[schemars(length(max = 256))]
    pub identifiers: Option<Vec<IdentifierInput>>,
}

/// Outcome of one line of a bulk import.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ImportLine {
    /// 1-based line number.
    pub line: usize,
    /// `created` or `error`.
    pub status: &'static str,
    /// The resource id, when created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Stable error code, when failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// Offending field, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Result of a bulk import.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ImportReport {
    /// Lines that created a resource.
    pub created: usize,
    /// Lines that failed (nothing of them was stored).
    pub failed: usize,
    /// Per-line outcome.
    pub lines: Vec<ImportLine>,
}

/// The answer to an owner lookup (RES-2), as the caller may see it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum OwnerAnswer {
    /// Staff: the owner by longest match over every account.
    Staff {
        /// The target as asked.
        target: String,
        /// The owning resource and the identifier that matched; `None` when unowned.
        owner: Option<OwnerMatch>,
        /// No identifier covers the target (it goes to triage as `unowned`).
        unowned: bool,
    },
    /// A tenant: only whether one of its own identifiers covers the target, found among its
    /// own identifiers alone, so the answer is the same whether nobody or another account
    /// owns the target (§1), and never names another account.
    Tenant {
        /// The target as asked.
        target: String,
        /// One of the tenant's identifiers covers the target.
        own: bool,
        /// The tenant's resource and identifier, when `own`.
        owner: Option<OwnerMatch>,
    },
}

/// Most lines in one import.
pub const MAX_IMPORT_LINES: usize = 10_000;

fn check_id(field: &str, id: &str) -> Result<(), InvalidInput> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        return Err(InvalidInput::new(
            field,
            "must be 1 to 64 characters of A-Z a-z 0-9 _ . -",
        ));
    }
    Ok(())
}

fn check_text(field: &str, v: &str, max: usize) -> Result<String, InvalidInput> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(InvalidInput::new(
            field,
            format!("must be 1 to {max} printable characters"),
        ));
    }
    Ok(v.to_string())
}

fn parse_identifiers(list: &[IdentifierInput]) -> Result<Vec<Identifier>, InvalidInput> {
    if list.len() > 256 {
        return Err(InvalidInput::new("identifiers", "at most 256 per resource"));
    }
    let mut out: Vec<Identifier> = Vec::with_capacity(list.len());
    for (n, i) in list.iter().enumerate() {
        let at = format!("identifiers[{n}]");
        let kind = IdentifierKind::parse(&i.kind).map_err(|e| e.under(&at))?;
        let id = Identifier::parse(kind, &i.value).map_err(|e| e.under(&at))?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

impl App {
    /// Creates an account (RES-3).
    pub async fn create_account(
        &self,
        who: &Principal,
        input: AccountInput,
    ) -> AppResult<AccountView> {
        who.require(STAFF_WRITE, "create accounts")?;
        let now = self.now();
        let id = match input.id {
            Some(id) => {
                check_id("id", &id)?;
                id
            }
            None => warden_store::new_id("acct", now),
        };
        let name = check_text("name", input.name.as_deref().unwrap_or_default(), 200)?;
        let email = input.email.as_deref().map(check_email).transpose()?;
        let phone = input.phone.as_deref().map(check_phone).transpose()?;
        let account = Account {
            id,
            name,
            email_enc: email.map(|e| self.sealer.seal(e.as_bytes())).transpose()?,
            phone_enc: phone.map(|p| self.sealer.seal(p.as_bytes())).transpose()?,
            lang: check_lang(input.lang.as_deref().unwrap_or("zh-CN"))?,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.store.begin_write().await?;
        // Account ids are unique whatever their case: `Acme` beside `acme` is a typo waiting
        // to attach resources and tokens to the wrong tenant.
        if let Some(existing) = tx.account_id_taken(&account.id).await? {
            return Err(AppError::Conflict(format!(
                "account id {} is taken: account {existing} differs from it only in case",
                account.id
            )));
        }
        tx.insert_account(&account).await?;
        let mut ev = self.event(who, "account.create", format!("account:{}", account.id));
        ev.account_id = Some(account.id.clone());
        ev.after_digest = Some(digest(&AccountView::from(account.clone())));
        tx.append_audit(ev).await?;
        tx.commit().await?;
        Ok(account.into())
    }

    /// Updates name and contacts.
    pub async fn update_account(
        &self,
        who: &Principal,
        id: &str,
        input: AccountInput,
    ) -> AppResult<AccountView> {
        who.require(STAFF_WRITE, "update accounts")?;
        if input.id.as_deref().is_some_and(|i| i != id) {
            return Err(InvalidInput::new("id", "cannot be changed").into());
        }
        let mut tx = self.store.begin_write().await?;
        let before = tx
            .get_account(id)
            .await?
            .ok_or(AppError::NotFound("account"))?;
        let mut a = before.clone();
        if let Some(n) = &input.name {
            a.name = check_text("name", n, 200)?;
        }
        if let Some(e) = &input.email {
            a.email_enc = Some(self.sealer.seal(check_email(e)?.as_bytes())?);
        }
        if let Some(p) = &input.phone {
            a.phone_enc = Some(self.sealer.seal(check_phone(p)?.as_bytes())?);
        }
        if let Some(l) = &input.lang {
            a.lang = check_lang(l)?;
        }
        a.updated_at = self.now();
        tx.update_account(&a).await?;
        let mut ev = self.event(who, "account.update", format!("account:{id}"));
        ev.account_id = Some(id.into());
        ev.before_digest = Some(digest(&AccountView::from(before)));
        ev.after_digest = Some(digest(&AccountView::from(a.clone())));
        tx.append_audit(ev).await?;
        tx.commit().await?;
        Ok(a.into())
    }

    /// One account (tenants: only their own; others are "not found").
    pub async fn get_account(&self, who: &Principal, id: &str) -> AppResult<AccountView> {
        who.require(READERS, "read accounts")?;
        let a = self
            .store
            .get_account(&who.scope(), id)
            .await?
            .ok_or(AppError::NotFound("account"))?;
        Ok(a.into())
    }

    /// Accounts page.
    pub async fn list_accounts(
        &self,
        who: &Principal,
        after: &str,
        limit: i64,
    ) -> AppResult<Vec<AccountView>> {
        who.require(READERS, "list accounts")?;
        Ok(self
            .store
            .list_accounts(&who.scope(), after, limit)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Decrypts an account's contacts; the read itself is audited (AUD-4).
    pub async fn reveal_contacts(&self, who: &Principal, id: &str) -> AppResult<Contacts> {
        who.require(
            &[Role::Admin, Role::Operator, Role::Reviewer, Role::Tenant],
            "read contact details",
        )?;
        let a = self
            .store
            .get_account(&who.scope(), id)
            .await?
            .ok_or(AppError::NotFound("account"))?;
        let open = |v: &Option<Vec<u8>>| -> AppResult<Option<String>> {
            v.as_deref()
                .map(|b| Ok(String::from_utf8_lossy(&self.sealer.open(b)?).into_owned()))
                .transpose()
        };
        let contacts = Contacts {
            email: open(&a.email_enc)?,
            phone: open(&a.phone_enc)?,
        };
        let mut tx = self.store.begin_write().await?;
        let mut ev = self.event(who, "personal_data.read", format!("account:{id}"));
        ev.account_id = Some(id.into());
        ev.details = serde_json::json!({ "fields": ["email", "phone"] });
        tx.append_audit(ev).await?;
        tx.commit().await?;
        Ok(contacts)
    }

    /// Creates a resource with its identifiers (RES-2). Nothing is stored if any part fails.
    pub async fn create_resource(
        &self,
        who: &Principal,
        input: ResourceInput,
    ) -> AppResult<Resource> {
        who.require(STAFF_WRITE, "register resources")?;
        let (r, ids) = self.validate_new_resource(input)?;
        let mut tx = self.store.begin_write().await?;
        self.insert_resource_tx(&mut tx, who, &r, &ids).await?;
        tx.commit().await?;
        Ok(r)
    }

    fn validate_new_resource(
        &self,
        input: ResourceInput,
    ) -> AppResult<(Resource, Vec<Identifier>)> {
        let now = self.now();
        let id = match input.id {
            Some(id) => {
                check_id("id", &id)?;
                id
            }
            None => warden_store::new_id("res", now),
        };
        let account_id = input
            .account_id
            .ok_or_else(|| InvalidInput::new("account_id", "is required"))?;
        check_id("account_id", &account_id)?;
        let product = Product::parse(input.product.as_deref().unwrap_or_default())?;
        let name = check_text("name", input.name.as_deref().unwrap_or(&id), 200)?;
        let region = match input.region.as_deref() {
            Some(r) => check_text("region", r, 64)?,
            None => "default".into(),
        };
        let ids = parse_identifiers(input.identifiers.as_deref().unwrap_or_default())?;
        let r = Resource {
            id,
            account_id,
            product,
            name,
            region,
            identifiers: ids
                .iter()
                .map(|i| warden_store::resources::IdentifierRow {
                    kind: i.kind().code().into(),
                    value: i.value().into(),
                })
                .collect(),
            created_at: now,
            updated_at: now,
        };
        Ok((r, ids))
    }

    async fn insert_resource_tx(
        &self,
        tx: &mut warden_store::WriteTx,
        who: &Principal,
        r: &Resource,
        ids: &[Identifier],
    ) -> AppResult<()> {
        if tx.get_account(&r.account_id).await?.is_none() {
            return Err(AppError::NotFound("account"));
        }
        tx.insert_resource(r, ids).await?;
        let mut ev = self.event(who, "resource.create", format!("resource:{}", r.id));
        ev.account_id = Some(r.account_id.clone());
        ev.after_digest = Some(digest(r));
        tx.append_audit(ev).await?;
        self.rematch_unowned(tx, who, ids).await
    }

    /// RES-2: cases opened `unowned` whose target `ids` now own get their owner in the
    /// caller's transaction — the resource, the account (on the case and its reports) and the
    /// correlation key later reports about the target will compute — with one audit event
    /// each. A case a detector already confirmed goes on to grading (LIFE-1), as it would
    /// have had it been owned at intake.
    async fn rematch_unowned(
        &self,
        tx: &mut WriteTx,
        who: &Principal,
        ids: &[Identifier],
    ) -> AppResult<()> {
        let cases = tx.unowned_cases_for(ids).await?;
        if cases.is_empty() {
            return Ok(());
        }
        let now = self.now();
        let parsed: Vec<_> = cases
            .into_iter()
            .filter_map(|c| {
                let target = Target::parse(&c.target).ok()?;
                let category = c.category;
                Some((c, target, category))
            })
            .collect();
        let targets: Vec<Target> = parsed.iter().map(|(_, t, _)| t.clone()).collect();
        let owners = tx.lookup_owners(&targets).await?;
        for ((case, target, category), owner) in parsed.into_iter().zip(owners) {
            let Some(owner) = owner else { continue };
            let key = crate::intake::correlation_key(
                Some(&owner.resource_id),
                &target.canonical(),
                category,
            );
            let assigned = tx
                .assign_case_owner(&case.id, &owner.account_id, &owner.resource_id, &key, now)
                .await?;
            if !assigned {
                continue;
            }
            if case.state == warden_domain::lifecycle::State::Confirmed {
                crate::intake::enqueue_confirm(tx, &case.id, now).await?;
            }
            let mut ev = self.event(who, "case.owner_matched", format!("case:{}", case.id));
            ev.account_id = Some(owner.account_id.clone());
            ev.details = serde_json::json!({
                "resource_id": owner.resource_id, "identifier": owner.identifier,
                "target": case.target, "state": case.state,
            });
            tx.append_audit(ev).await?;
        }
        Ok(())
    }

    /// Updates name/region/identifiers.
    pub async fn update_resource(
        &self,
        who: &Principal,
        id: &str,
        input: ResourceInput,
    ) -> AppResult<Resource> {
        who.require(STAFF_WRITE, "update resources")?;
        if input.account_id.is_some() || input.product.is_some() || input.id.is_some() {
            return Err(InvalidInput::new(
                "account_id",
                "id, account_id and product cannot be changed; register a new resource",
            )
            .into());
        }
        let ids = input
            .identifiers
            .as_deref()
            .map(parse_identifiers)
            .transpose()?;
        let mut tx = self.store.begin_write().await?;
        let before = tx
            .get_resource(id)
            .await?
            .ok_or(AppError::NotFound("resource"))?;
        let mut r = before.clone();
        if let Some(n) = &input.name {
            r.name = check_text("name", n, 200)?;
        }
        if let Some(g) = &input.region {
            r.region = check_text("region", g, 64)?;
        }
        r.updated_at = self.now();
        tx.update_resource(&r, ids.as_deref()).await?;
        if let Some(ids) = &ids {
            self.rematch_unowned(&mut tx, who, ids).await?;
        }
        let after = tx
            .get_resource(id)
            .await?
            .ok_or(AppError::NotFound("resource"))?;
        let mut ev = self.event(who, "resource.update", format!("resource:{id}"));
        ev.account_id = Some(r.account_id.clone());
        ev.before_digest = Some(digest(&before));
        ev.after_digest = Some(digest(&after));
        tx.append_audit(ev).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// One resource.
    pub async fn get_resource(&self, who: &Principal, id: &str) -> AppResult<Resource> {
        who.require(READERS, "read resources")?;
        self.store
            .get_resource(&who.scope(), id)
            .await?
            .ok_or(AppError::NotFound("resource"))
    }

    /// Resources page.
    pub async fn list_resources(
        &self,
        who: &Principal,
        account: Option<&str>,
        after: &str,
        limit: i64,
    ) -> AppResult<Vec<Resource>> {
        who.require(READERS, "list resources")?;
        Ok(self
            .store
            .list_resources(&who.scope(), account, after, limit)
            .await?)
    }

    /// Owner of a URL, domain or IP (RES-2): staff get the owner by longest match, a tenant
    /// only whether the target is its own ([`OwnerAnswer`]).
    pub async fn lookup_owner(&self, who: &Principal, target: &str) -> AppResult<OwnerAnswer> {
        who.require(READERS, "look up owners")?;
        let t = Target::parse(target)?;
        let scope = who.scope();
        let owner = self.store.lookup_owner(&scope, &t).await?;
        let target = target.to_string();
        Ok(match scope {
            Scope::All => OwnerAnswer::Staff {
                target,
                unowned: owner.is_none(),
                owner,
            },
            Scope::Account(_) | Scope::Nobody => OwnerAnswer::Tenant {
                target,
                own: owner.is_some(),
                owner,
            },
        })
    }

    /// Bulk import of JSON lines (RES-3): each line is a [`ResourceInput`] stored in its own
    /// transaction, so a bad line stores nothing and does not stop the others.
    pub async fn import_resources(&self, who: &Principal, body: &str) -> AppResult<ImportReport> {
        who.require(STAFF_WRITE, "import resources")?;
        let lines: Vec<&str> = body.lines().collect();
        if lines.len() > MAX_IMPORT_LINES {
            return Err(InvalidInput::new(
                "body",
                format!("at most {MAX_IMPORT_LINES} lines per import"),
            )
            .into());
        }
        let mut report = ImportReport {
            created: 0,
            failed: 0,
            lines: Vec::new(),
        };
        for (n, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let outcome = self.import_line(who, line).await;
            let entry = match outcome {
                Ok(id) => {
                    report.created += 1;
                    ImportLine {
                        line: n + 1,
                        status: "created",
                        id: Some(id),
                        code: None,
                        field: None,
                        message: None,
                    }
                }
                Err(e) => {
                    report.failed += 1;
                    let (code, field) = match &e {
                        AppError::Invalid(i) => ("invalid_field", Some(i.field.clone())),
                        AppError::Conflict(_) => ("conflict", None),
                        AppError::NotFound(_) => ("not_found", Some("account_id".to_string())),
                        AppError::Store(_) => ("internal", None),
                        _ => ("invalid_line", None),
                    };
                    let message = match &e {
                        AppError::Store(_) => "storage failed; retry this line".to_string(),
                        other => other.to_string(),
                    };
                    ImportLine {
                        line: n + 1,
                        status: "error",
                        id: None,
                        code: Some(code),
                        field,
                        message: Some(message),
                    }
                }
            };
            report.lines.push(entry);
        }
        Ok(report)
    }

    async fn import_line(&self, who: &Principal, line: &str) -> AppResult<String> {
        let input: ResourceInput = serde_json::from_str(line)
            .map_err(|e| InvalidInput::new("line", format!("not a resource JSON object: {e}")))?;
        let (r, ids) = self.validate_new_resource(input)?;
        let mut tx = self.store.begin_write().await?;
        self.insert_resource_tx(&mut tx, who, &r, &ids).await?;
        tx.commit().await?;
        Ok(r.id)
    }
}

fn check_lang(l: &str) -> Result<String, InvalidInput> {
    match l {
        "zh-CN" | "en" => Ok(l.to_string()),
        _ => Err(InvalidInput::new("lang", "is not one of zh-CN, en")),
    }
}

fn check_email(e: &str) -> Result<String, InvalidInput> {
    let e = e.trim();
    let ok = e.len() <= 254
        && e.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(e.to_string())
    } else {
        Err(InvalidInput::new("email", "is not an e-mail address"))
    }
}

fn check_phone(p: &str) -> Result<String, InvalidInput> {
    let p = p.trim();
    let digits = p.chars().filter(char::is_ascii_digit).count();
    let ok =
        (5..=20).contains(&digits) && p.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c));
    if ok {
        Ok(p.to_string())
    } else {
        Err(InvalidInput::new("phone", "is not a phone number"))
    }
}

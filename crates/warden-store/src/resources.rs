//! Resources and their identifiers (RES-1..3), and owner lookup by longest match.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Serialize;
use sqlx::any::AnyRow;
use warden_domain::resource::{Identifier, IdentifierKind, MatchKey, Product, Target, ip_hex};

use crate::reports::{Case, case_row};
use crate::{
    Conditions, KEYS_PER_QUERY, Result, Scope, Store, WriteTx, c, conflict_on_unique, i, page, s,
};

/// A resource with its identifiers.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Resource {
    /// Id (`res_...` or the provider's own id).
    pub id: String,
    /// Owning account.
    pub account_id: String,
    /// Product.
    pub product: Product,
    /// Display name.
    pub name: String,
    /// Region (free text, e.g. `ap-guangzhou`).
    pub region: String,
    /// Identifiers by which reports find it.
    pub identifiers: Vec<IdentifierRow>,
    /// Created, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub created_at: i64,
    /// Updated, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub updated_at: i64,
}

/// One stored identifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct IdentifierRow {
    /// Kind code.
    pub kind: String,
    /// Normalised value.
    pub value: String,
}

/// The owner of a target, and which identifier matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct OwnerMatch {
    /// The resource.
    pub resource_id: String,
    /// Its account.
    pub account_id: String,
    /// The product.
    pub product: Product,
    /// The identifier that matched.
    pub identifier: IdentifierRow,
}

fn base_row(r: &AnyRow) -> Result<Resource> {
    Ok(Resource {
        id: s(r, "id")?,
        account_id: s(r, "account_id")?,
        product: c(r, "resources", "product")?,
        name: s(r, "name")?,
        region: s(r, "region")?,
        identifiers: Vec::new(),
        created_at: i(r, "created_at")?,
        updated_at: i(r, "updated_at")?,
    })
}

impl WriteTx {
    /// Inserts a resource and its identifiers. An identifier already owned elsewhere is a
    /// [`StoreError::Conflict`] naming it.
    pub async fn insert_resource(
        &mut self,
        r: &Resource,
        identifiers: &[Identifier],
    ) -> Result<()> {
        let res = sqlx::query(
            "INSERT INTO resources (id, account_id, product, name, region, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&r.id)
        .bind(&r.account_id)
        .bind(r.product.code())
        .bind(&r.name)
        .bind(&r.region)
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(self.conn())
        .await;
        conflict_on_unique(res, || format!("resource {} already exists", r.id))?;
        self.insert_identifiers(&r.id, &r.account_id, identifiers)
            .await
    }

    async fn insert_identifiers(
        &mut self,
        resource_id: &str,
        account_id: &str,
        ids: &[Identifier],
    ) -> Result<()> {
        for id in ids {
            let (key, lo, hi, spec) = match id.match_key() {
                MatchKey::Key { key, specificity } => (Some(key), None, None, specificity),
                MatchKey::Range {
                    lo,
                    hi,
                    specificity,
                } => (None, Some(lo), Some(hi), specificity),
                MatchKey::None => (None, None, None, 0),
            };
            let res = sqlx::query(
                "INSERT INTO resource_identifiers (resource_id, account_id, kind, value, match_key, ip_lo, ip_hi, specificity) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(resource_id)
            .bind(account_id)
            .bind(id.kind().code())
            .bind(id.value())
            .bind(key)
            .bind(lo)
            .bind(hi)
            .bind(spec)
            .execute(self.conn())
            .await;
            conflict_on_unique(res, || {
                format!(
                    "identifier {} {} is already registered to a resource",
                    id.kind().code(),
                    id.value()
                )
            })?;
        }
        Ok(())
    }

    /// Updates name/region and, when `identifiers` is given, replaces them all.
    pub async fn update_resource(
        &mut self,
        r: &Resource,
        identifiers: Option<&[Identifier]>,
    ) -> Result<()> {
        sqlx::query("UPDATE resources SET name = $1, region = $2, updated_at = $3 WHERE id = $4")
            .bind(&r.name)
            .bind(&r.region)
            .bind(r.updated_at)
            .bind(&r.id)
            .execute(self.conn())
            .await?;
        if let Some(ids) = identifiers {
            sqlx::query("DELETE FROM resource_identifiers WHERE resource_id = $1")
                .bind(&r.id)
                .execute(self.conn())
                .await?;
            self.insert_identifiers(&r.id, &r.account_id, ids).await?;
        }
        Ok(())
    }

    /// Reads a resource inside the transaction (for a before-image).
    pub async fn get_resource(&mut self, id: &str) -> Result<Option<Resource>> {
        let row = sqlx::query("SELECT * FROM resources WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut r = base_row(&row)?;
        let ids = sqlx::query("SELECT kind, value FROM resource_identifiers WHERE resource_id = $1 ORDER BY kind, value")
            .bind(id)
            .fetch_all(self.conn())
            .await?;
        r.identifiers = ids
            .iter()
            .map(|x| {
                Ok(IdentifierRow {
                    kind: s(x, "kind")?,
                    value: s(x, "value")?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Some(r))
    }

    /// Owner lookup inside a transaction (intake correlates in the same transaction).
    pub async fn lookup_owner(&mut self, target: &Target) -> Result<Option<OwnerMatch>> {
        lookup(self.conn(), target, &Scope::All).await
    }

    /// Owners of many targets, in order.
    pub async fn lookup_owners(&mut self, targets: &[Target]) -> Result<Vec<Option<OwnerMatch>>> {
        lookup_many(self.conn(), targets, &Scope::All).await
    }

    /// Cases still `unowned` (any state but dismissed) whose target one of `identifiers` may
    /// own: a superset found by the target's text, which the caller narrows with owner lookup
    /// (RES-2: a case opened before its resource was registered finds its owner then).
    pub async fn unowned_cases_for(&mut self, identifiers: &[Identifier]) -> Result<Vec<Case>> {
        let patterns: BTreeSet<String> = identifiers.iter().flat_map(target_patterns).collect();
        let patterns: Vec<String> = patterns.into_iter().collect();
        let mut out: BTreeMap<String, Case> = BTreeMap::new();
        for chunk in patterns.chunks(KEYS_PER_QUERY) {
            let like: Vec<String> = (1..=chunk.len())
                .map(|n| format!("target LIKE ${n} ESCAPE '\\'"))
                .collect();
            let sql = format!(
                "SELECT * FROM cases WHERE account_id IS NULL AND state <> 'dismissed' AND ({}) ORDER BY id",
                like.join(" OR ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for p in chunk {
                q = q.bind(p.as_str());
            }
            for r in q.fetch_all(self.conn()).await? {
                let c = case_row(&r)?;
                out.insert(c.id.clone(), c);
            }
        }
        Ok(out.into_values().collect())
    }
}

/// `LIKE` patterns (escape `\`) that every canonical target an identifier can own matches;
/// more may match, never fewer. Keys and hosts are found as text; an IP block by its first
/// octet (IPv4) or group (IPv6), bare or as a URL's host.
fn target_patterns(id: &Identifier) -> Vec<String> {
    fn esc(s: &str) -> String {
        s.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    }
    let value = id.value();
    match id.kind() {
        IdentifierKind::Domain => vec![format!("%{}%", esc(value))],
        IdentifierKind::UrlPrefix => {
            let authority = value.split('/').next().unwrap_or(value);
            vec![format!("%://{}%", esc(authority))]
        }
        IdentifierKind::BucketKey => {
            let bucket = value.split('/').next().unwrap_or(value);
            vec![format!("cos://{}%", esc(bucket))]
        }
        IdentifierKind::VodId => vec![format!("vod:{}", esc(value))],
        IdentifierKind::ApigwService => vec![format!("apigw:{}", esc(value))],
        // The value is a canonical CIDR (`network/len`) of at least a /8 or a /32, so every
        // address in it shares the network's first octet or group.
        IdentifierKind::PublicIp => match value.split('/').next().map(str::parse) {
            Some(Ok(IpAddr::V4(net))) => {
                let first = net.octets().first().copied().unwrap_or(0);
                vec![format!("{first}.%"), format!("%://{first}.%")]
            }
            // A group other than the first may be compressed away (`2001::1`), the first only
            // when it is zero.
            Some(Ok(IpAddr::V6(net))) => match net.segments().first().copied().unwrap_or(0) {
                0 => vec!["%:%".to_string()],
                first => vec![format!("{first:x}:%"), format!("%://[{first:x}:%")],
            },
            _ => Vec::new(),
        },
        IdentifierKind::InternalIp => Vec::new(),
    }
}

const OWNER_SELECT: &str = "SELECT ri.match_key, ri.resource_id, ri.account_id, ri.kind, ri.value, ri.specificity, r.product FROM resource_identifiers ri JOIN resources r ON r.id = ri.resource_id";

/// Owners of many targets with one key query (plus one range query per distinct IP): intake
/// batches resolve hundreds of targets at once. Only identifiers the scope may see take
/// part: a tenant's lookup is the longest match among its own identifiers, so that its
/// answer never depends on another account's.
async fn lookup_many(
    conn: &mut sqlx::AnyConnection,
    targets: &[Target],
    scope: &Scope,
) -> Result<Vec<Option<OwnerMatch>>> {
    use std::collections::HashMap;
    let keys: BTreeSet<String> = targets.iter().flat_map(Target::candidate_keys).collect();
    let keys: Vec<String> = keys.into_iter().collect();
    let mut by_key: HashMap<String, (i64, OwnerMatch)> = HashMap::new();
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "{OWNER_SELECT} WHERE ri.match_key IN ({}) AND (${s} = '' OR ri.account_id = ${s})",
            placeholders.join(", "),
            s = chunk.len() + 1
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for k in chunk {
            q = q.bind(k.as_str());
        }
        q = q.bind(scope.sql_param());
        for r in q.fetch_all(&mut *conn).await? {
            by_key.insert(s(&r, "match_key")?, (i(&r, "specificity")?, owner_row(&r)?));
        }
    }
    let mut by_ip: HashMap<std::net::IpAddr, Option<(i64, OwnerMatch)>> = HashMap::new();
    for ip in targets.iter().filter_map(Target::ip) {
        if by_ip.contains_key(&ip) {
            continue;
        }
        let sql = format!(
            "{OWNER_SELECT} WHERE ri.kind = 'public_ip' AND ri.ip_lo <= $1 AND ri.ip_hi >= $1 AND ($2 = '' OR ri.account_id = $2) ORDER BY ri.specificity DESC, ri.resource_id LIMIT 1"
        );
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ip_hex(ip))
            .bind(scope.sql_param())
            .fetch_optional(&mut *conn)
            .await?;
        let hit = r
            .map(|r| Ok::<_, crate::StoreError>((i(&r, "specificity")?, owner_row(&r)?)))
            .transpose()?;
        by_ip.insert(ip, hit);
    }
    Ok(targets
        .iter()
        .map(|t| {
            let mut best: Option<&(i64, OwnerMatch)> = None;
            let from_ip = t
                .ip()
                .and_then(|ip| by_ip.get(&ip))
                .and_then(Option::as_ref);
            for cand in t
                .candidate_keys()
                .iter()
                .filter_map(|k| by_key.get(k))
                .chain(from_ip)
            {
                if best.is_none_or(|b| cand.0 > b.0) {
                    best = Some(cand);
                }
            }
            best.map(|(_, m)| m.clone())
        })
        .collect())
}

async fn lookup(
    conn: &mut sqlx::AnyConnection,
    target: &Target,
    scope: &Scope,
) -> Result<Option<OwnerMatch>> {
    Ok(lookup_many(conn, std::slice::from_ref(target), scope)
        .await?
        .pop()
        .flatten())
}

fn owner_row(r: &AnyRow) -> Result<OwnerMatch> {
    Ok(OwnerMatch {
        resource_id: s(r, "resource_id")?,
        account_id: s(r, "account_id")?,
        product: c(r, "resources", "product")?,
        identifier: IdentifierRow {
            kind: s(r, "kind")?,
            value: s(r, "value")?,
        },
    })
}

impl Store {
    /// One resource with its identifiers, if the scope may see it.
    pub async fn get_resource(&self, scope: &Scope, id: &str) -> Result<Option<Resource>> {
        let row =
            sqlx::query("SELECT * FROM resources WHERE id = $1 AND ($2 = '' OR account_id = $2)")
                .bind(id)
                .bind(scope.sql_param())
                .fetch_optional(self.pool())
                .await?;
        let Some(row) = row else { return Ok(None) };
        let mut r = base_row(&row)?;
        self.fill_identifiers(std::slice::from_mut(&mut r)).await?;
        Ok(Some(r))
    }

    /// Resources in id order after `after`, optionally of one account, as the scope may see them.
    pub async fn list_resources(
        &self,
        scope: &Scope,
        account: Option<&str>,
        after: &str,
        limit: i64,
    ) -> Result<Vec<Resource>> {
        // The scope's account and the one asked for: both, so another account's is empty.
        let conditions = Conditions::from(2)
            .scope(scope, "account_id")
            .eq("account_id", account);
        let sql = format!(
            "SELECT * FROM resources WHERE id > $1{} ORDER BY id LIMIT {}",
            conditions.sql(),
            page(limit)
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(after);
        let rows = conditions.bind(q).fetch_all(self.pool()).await?;
        let mut out = rows.iter().map(base_row).collect::<Result<Vec<_>>>()?;
        self.fill_identifiers(&mut out).await?;
        Ok(out)
    }

    async fn fill_identifiers(&self, resources: &mut [Resource]) -> Result<()> {
        for r in resources {
            let ids = sqlx::query("SELECT kind, value FROM resource_identifiers WHERE resource_id = $1 ORDER BY kind, value")
                .bind(&r.id)
                .fetch_all(self.pool())
                .await?;
            r.identifiers = ids
                .iter()
                .map(|x| {
                    Ok(IdentifierRow {
                        kind: s(x, "kind")?,
                        value: s(x, "value")?,
                    })
                })
                .collect::<Result<_>>()?;
        }
        Ok(())
    }

    /// The owner of a target (RES-2): most specific identifier wins; `None` is `unowned`.
    /// A tenant scope only ever learns about its own resources, and only from them: its
    /// answer is the most specific of *its* identifiers that covers the target, whatever
    /// other accounts hold, so that neither the answer nor its absence says anything about
    /// them.
    pub async fn lookup_owner(&self, scope: &Scope, target: &Target) -> Result<Option<OwnerMatch>> {
        let mut conn = self.pool().acquire().await?;
        lookup(&mut conn, target, scope).await
    }
}

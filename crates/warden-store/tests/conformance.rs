//! The storage conformance suite: the same test functions run on SQLite and on PostgreSQL
//! (OPS-1; garage's one-suite-every-engine pattern). Each test gets a fresh database.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests may unwrap (STYLE 5)

use warden_domain::code::Code;
use warden_domain::identity::Scope;
use warden_domain::resource::{Identifier, IdentifierKind, Target};
use warden_store::accounts::Account;
use warden_store::audit::{AuditFilter, NewAuditEvent};
use warden_store::jobs::NewJob;
use warden_store::reports::{Case, CaseFilter, Report};
use warden_store::resources::Resource;
use warden_store::testing::PgDatabase;
use warden_store::{Store, StoreOptions, new_id};

/// A stored code by its text (the rows below are written as a person reads them).
fn code<T: Code>(text: &str) -> T {
    T::from_code(text).unwrap_or_else(|| panic!("{text:?} is not a {}", T::WHAT))
}

/// A store plus what keeps its database alive, and the URL for raw access.
struct Db {
    store: Store,
    url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<PgDatabase>,
}

impl Db {
    async fn done(self) {
        self.store.close().await;
        if let Some(pg) = self.pg {
            pg.drop_db().await;
        }
    }

    async fn raw(&self, sql: &str) {
        use sqlx::Executor;
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&self.url)
            .await
            .unwrap();
        pool.execute(sqlx::AssertSqlSafe(sql.to_string()))
            .await
            .unwrap();
        pool.close().await;
    }
}

async fn sqlite() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/warden.db", dir.path().display());
    let store = Store::open(&StoreOptions::new(&url)).await.unwrap();
    Db {
        store,
        url,
        _dir: Some(dir),
        pg: None,
    }
}

async fn postgres() -> Option<Db> {
    let pg = PgDatabase::create().await?;
    let store = Store::open(&StoreOptions::new(&pg.url)).await.unwrap();
    Some(Db {
        store,
        url: pg.url.clone(),
        _dir: None,
        pg: Some(pg),
    })
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { let db = super::sqlite().await; super::$name(&db).await; db.done().await; }
        )* }
        mod postgres { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { let Some(db) = super::postgres().await else { return }; super::$name(&db).await; db.done().await; }
        )* }
    };
}

suite!(
    migrations_are_idempotent,
    accounts_are_scoped,
    identifiers_conflict_and_roll_back,
    owner_lookup_takes_longest_match,
    reports_correlate_into_cases,
    case_lists_and_counts_combine_every_filter,
    notices_are_listed_and_counted_per_scope,
    jobs_timers_move_and_cancel,
    jobs_lease_retry_and_die,
    concurrent_claims_are_disjoint,
    audit_chain_detects_every_flipped_byte,
    audit_purge_respects_retention,
    regression_null_confidence_then_value,
    many_rows_per_statement,
    lifecycle_records,
    unblock_requests_and_tickets,
    bulk_jobs_complete_only_with_every_lease,
    lexicon_changes_are_versioned,
    enforcement_changes_have_revisions,
    actions_are_applied_only_when_every_adapter_confirms,
    unknown_stored_codes_are_errors_naming_column_and_value,
    regression_audit_verify_reads_one_snapshot_under_concurrent_appends,
    optional_filters_of_tickets_resources_audit_and_users_combine,
    ddos_protection_is_set_read_and_kept_in_history,
    ddos_traffic_folds_per_source_and_merges,
    ddos_blackholes_are_stored_updated_and_listed_per_scope,
    ddos_attacks_are_recorded_and_ended_once,
    ddos_release_attempts_are_read_per_account_and_window,
    ddos_traffic_rolls_up_into_hours_idempotently,
    ddos_traffic_purge_keeps_hours_and_never_touches_attacks,
    assessments_are_stored_listed_and_queued,
    vulnerability_reports_are_stored_listed_and_moved,
);

#[path = "conformance/assessments.rs"]
mod assessments;
use assessments::assessments_are_stored_listed_and_queued;

#[path = "conformance/ddos.rs"]
mod ddos;
use ddos::{
    ddos_attacks_are_recorded_and_ended_once,
    ddos_blackholes_are_stored_updated_and_listed_per_scope,
    ddos_protection_is_set_read_and_kept_in_history,
    ddos_release_attempts_are_read_per_account_and_window,
    ddos_traffic_folds_per_source_and_merges,
    ddos_traffic_purge_keeps_hours_and_never_touches_attacks,
    ddos_traffic_rolls_up_into_hours_idempotently,
};

#[path = "conformance/vulnerabilities.rs"]
mod vulnerabilities;
use vulnerabilities::vulnerability_reports_are_stored_listed_and_moved;

const NOW: i64 = 1_700_000_000_000;

fn account(id: &str) -> Account {
    Account {
        id: id.into(),
        name: format!("Account {id}"),
        email_enc: Some(vec![1, 2, 3]),
        phone_enc: None,
        lang: "zh-CN".into(),
        created_at: NOW,
        updated_at: NOW,
    }
}

fn ident(kind: IdentifierKind, v: &str) -> Identifier {
    Identifier::parse(kind, v).unwrap()
}

async fn seed_resource(s: &Store, acct: &str, id: &str, product: &str, ids: &[Identifier]) {
    let mut tx = s.begin_write().await.unwrap();
    if tx.get_account(acct).await.unwrap().is_none() {
        tx.insert_account(&account(acct)).await.unwrap();
    }
    let r = Resource {
        id: id.into(),
        account_id: acct.into(),
        product: code(product),
        name: id.into(),
        region: "ap-guangzhou".into(),
        identifiers: vec![],
        created_at: NOW,
        updated_at: NOW,
    };
    tx.insert_resource(&r, ids).await.unwrap();
    tx.commit().await.unwrap();
}

async fn migrations_are_idempotent(db: &Db) {
    db.store.migrate().await.unwrap();
    db.store.migrate().await.unwrap();
    db.store.ping().await.unwrap();
}

/// RES-3 and §1 tenant isolation at the storage layer.
async fn accounts_are_scoped(db: &Db) {
    let s = &db.store;
    let mut tx = s.begin_write().await.unwrap();
    tx.insert_account(&account("acct_a")).await.unwrap();
    tx.insert_account(&account("acct_b")).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = s.begin_write().await.unwrap();
    assert!(
        tx.insert_account(&account("acct_a"))
            .await
            .unwrap_err()
            .is_unique_violation()
    );
    drop(tx);
    let a = Scope::Account("acct_a".into());
    assert_eq!(
        s.get_account(&a, "acct_a")
            .await
            .unwrap()
            .unwrap()
            .email_enc,
        Some(vec![1, 2, 3])
    );
    assert!(s.get_account(&a, "acct_b").await.unwrap().is_none());
    assert_eq!(s.list_accounts(&a, "", 100).await.unwrap().len(), 1);
    assert_eq!(
        s.list_accounts(&Scope::All, "", 100).await.unwrap().len(),
        2
    );
    assert_eq!(
        s.list_accounts(&Scope::All, "acct_a", 100).await.unwrap()[0].id,
        "acct_b"
    );
}

/// RES-2: an identifier belongs to one resource; a failed insert leaves nothing behind.
async fn identifiers_conflict_and_roll_back(db: &Db) {
    let s = &db.store;
    seed_resource(
        s,
        "acct_a",
        "res_1",
        "cvm",
        &[ident(IdentifierKind::PublicIp, "203.0.113.10")],
    )
    .await;
    let mut tx = s.begin_write().await.unwrap();
    tx.insert_account(&account("acct_b")).await.unwrap();
    let r = Resource {
        id: "res_2".into(),
        account_id: "acct_b".into(),
        product: code("cvm"),
        name: "x".into(),
        region: "r".into(),
        identifiers: vec![],
        created_at: NOW,
        updated_at: NOW,
    };
    let err = tx
        .insert_resource(
            &r,
            &[
                ident(IdentifierKind::Domain, "b.example"),
                ident(IdentifierKind::PublicIp, "203.0.113.10"),
            ],
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("203.0.113.10"), "{err}");
    drop(tx);
    assert!(
        s.get_resource(&Scope::All, "res_2")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.get_account(&Scope::All, "acct_b")
            .await
            .unwrap()
            .is_none()
    );
    // Internal IPs may overlap between tenants (VPCs).
    seed_resource(
        s,
        "acct_c",
        "res_3",
        "cvm",
        &[ident(IdentifierKind::InternalIp, "10.0.0.5")],
    )
    .await;
    seed_resource(
        s,
        "acct_d",
        "res_4",
        "cvm",
        &[ident(IdentifierKind::InternalIp, "10.0.0.5")],
    )
    .await;
}

/// RES-2: longest match; IPs by CIDR; unknown → unowned.
async fn owner_lookup_takes_longest_match(db: &Db) {
    let s = &db.store;
    seed_resource(
        s,
        "acct_a",
        "res_dom",
        "cdn",
        &[ident(IdentifierKind::Domain, "example.com")],
    )
    .await;
    seed_resource(
        s,
        "acct_b",
        "res_shop",
        "cvm",
        &[ident(IdentifierKind::UrlPrefix, "shop.example.com/store")],
    )
    .await;
    seed_resource(
        s,
        "acct_c",
        "res_net",
        "clb",
        &[ident(IdentifierKind::PublicIp, "198.51.100.0/24")],
    )
    .await;
    seed_resource(
        s,
        "acct_d",
        "res_host",
        "cvm",
        &[ident(IdentifierKind::PublicIp, "198.51.100.7")],
    )
    .await;
    seed_resource(
        s,
        "acct_e",
        "res_bkt",
        "cos",
        &[ident(IdentifierKind::BucketKey, "media-1250000000/img")],
    )
    .await;
    seed_resource(
        s,
        "acct_f",
        "res_v6",
        "cvm",
        &[ident(IdentifierKind::PublicIp, "2001:db8::/48")],
    )
    .await;
    let owner = |t: &'static str| async move {
        s.lookup_owner(&Scope::All, &Target::parse(t).unwrap())
            .await
            .unwrap()
            .map(|m| m.resource_id)
    };
    assert_eq!(
        owner("https://www.example.com/a").await.as_deref(),
        Some("res_dom")
    );
    assert_eq!(
        owner("https://shop.example.com/store/item/1")
            .await
            .as_deref(),
        Some("res_shop")
    );
    assert_eq!(
        owner("https://shop.example.com/storefront")
            .await
            .as_deref(),
        Some("res_dom")
    );
    assert_eq!(owner("198.51.100.9").await.as_deref(), Some("res_net"));
    assert_eq!(owner("198.51.100.7").await.as_deref(), Some("res_host"));
    assert_eq!(
        owner("http://198.51.100.7:8080/x").await.as_deref(),
        Some("res_host")
    );
    assert_eq!(owner("2001:db8::1").await.as_deref(), Some("res_v6"));
    assert_eq!(
        owner("cos://media-1250000000/img/a.jpg").await.as_deref(),
        Some("res_bkt")
    );
    assert_eq!(owner("198.51.101.1").await, None);
    assert_eq!(owner("https://other.org/").await, None);
    // A tenant never learns another account's resource through lookup.
    let t = Target::parse("198.51.100.9").unwrap();
    assert!(
        s.lookup_owner(&Scope::Account("acct_a".into()), &t)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        s.list_resources(&Scope::Account("acct_c".into()), None, "", 50)
            .await
            .unwrap()
            .len(),
        1
    );
}

fn case(id: &str, key: &str, acct: Option<&str>, at: i64) -> Case {
    Case {
        id: id.into(),
        account_id: acct.map(Into::into),
        resource_id: None,
        target: "https://x.example/".into(),
        category: code("gambling"),
        state: code("reported"),
        source: "public".into(),
        correlation_key: key.into(),
        report_count: 1,
        duplicate_count: 0,
        views: 0,
        state_reason: None,
        opened_at: at,
        last_report_at: at,
        updated_at: at,
    }
}

fn report(id: &str, case_id: &str, acct: Option<&str>) -> Report {
    Report {
        id: id.into(),
        case_id: case_id.into(),
        account_id: acct.map(Into::into),
        source: "public".into(),
        format: "json".into(),
        category: code("gambling"),
        target: "https://x.example/".into(),
        description: "casino".into(),
        evidence: Some(b"<html>casino</html>".to_vec()),
        evidence_sha256: Some(warden_domain::sha256_hex(b"<html>casino</html>")),
        reporter_contact_enc: Some(vec![9; 40]),
        submitted_by: "anonymous".into(),
        confidence: Some(0.5),
        views: Some(10),
        received_at: NOW,
    }
}

/// INT-3/INT-4: reports keep evidence; correlation finds the open case inside the window only.
async fn reports_correlate_into_cases(db: &Db) {
    let s = &db.store;
    seed_resource(s, "acct_a", "res_a", "cvm", &[]).await;
    let mut tx = s.begin_write().await.unwrap();
    tx.insert_case(&case("case_1", "k1", Some("acct_a"), NOW))
        .await
        .unwrap();
    tx.insert_report(&report("rep_1", "case_1", Some("acct_a")))
        .await
        .unwrap();
    tx.insert_case(&case("case_2", "k2", None, NOW))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = s.begin_write().await.unwrap();
    let hit = tx
        .find_correlated_case("k1", NOW - 1000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hit.id, "case_1");
    assert!(
        tx.find_correlated_case("k1", NOW + 1)
            .await
            .unwrap()
            .is_none(),
        "outside the window"
    );
    tx.add_report_to_case("case_1", 500, NOW + 10)
        .await
        .unwrap();
    tx.insert_report(&report("rep_2", "case_1", Some("acct_a")))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let c = s.get_case(&Scope::All, "case_1").await.unwrap().unwrap();
    assert_eq!(
        (c.report_count, c.duplicate_count, c.views, c.last_report_at),
        (2, 1, 500, NOW + 10)
    );
    let reps = s
        .list_case_reports(&Scope::Account("acct_a".into()), "case_1", 10)
        .await
        .unwrap();
    assert_eq!(reps.len(), 2);
    assert_eq!(
        reps[0].evidence.as_deref(),
        Some(&b"<html>casino</html>"[..])
    );
    assert_eq!(reps[0].confidence, Some(0.5));

    // Dismissed cases no longer collect duplicates.
    let mut tx = s.begin_write().await.unwrap();
    tx.set_case_state(
        "case_1",
        code("dismissed"),
        Some("not a violation"),
        NOW + 20,
    )
    .await
    .unwrap();
    assert!(tx.find_correlated_case("k1", 0).await.unwrap().is_none());
    tx.commit().await.unwrap();

    let other = Scope::Account("acct_b".into());
    assert!(s.get_case(&other, "case_1").await.unwrap().is_none());
    assert!(
        s.list_case_reports(&other, "case_1", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.get_report(&other, "rep_1").await.unwrap().is_none());
    assert_eq!(
        s.count_cases(&other, &CaseFilter::default()).await.unwrap(),
        0
    );
    assert_eq!(
        s.count_cases(&Scope::All, &CaseFilter::default())
            .await
            .unwrap(),
        2
    );
    let unowned = CaseFilter {
        unowned: true,
        ..Default::default()
    };
    assert_eq!(
        s.list_cases(&Scope::All, &unowned, "", 10).await.unwrap()[0].id,
        "case_2"
    );
    let dismissed = CaseFilter {
        state: Some(code("dismissed")),
        ..Default::default()
    };
    assert_eq!(
        s.count_cases(&Scope::Account("acct_a".into()), &dismissed)
            .await
            .unwrap(),
        1
    );
}

/// Case lists and counts (the triage queue, the case lists, a tenant's dashboard): every
/// combination of scope and filter gives the cases a filter in memory gives, in id order, and
/// paging resumes after the last id. Pins the conditions written out per filter (they were
/// `($n = '' OR column = $n)`, which kept SQLite from using an index).
async fn case_lists_and_counts_combine_every_filter(db: &Db) {
    let s = &db.store;
    seed_resource(s, "acct_a", "res_a", "cvm", &[]).await;
    seed_resource(s, "acct_b", "res_b", "cvm", &[]).await;
    let rows = [
        ("case_01", Some("acct_a"), "reported", "gambling", "public"),
        (
            "case_02",
            Some("acct_a"),
            "enforced",
            "gambling",
            "detector",
        ),
        (
            "case_03",
            Some("acct_b"),
            "reported",
            "porn_vulgar",
            "public",
        ),
        ("case_04", None, "reported", "gambling", "public"),
        (
            "case_05",
            Some("acct_a"),
            "reported",
            "porn_vulgar",
            "operator",
        ),
        (
            "case_06",
            Some("acct_b"),
            "dismissed",
            "gambling",
            "regulator",
        ),
        ("case_07", Some("acct_a"), "alerting", "gambling", "public"),
        (
            "case_08",
            Some("acct_b"),
            "lifted",
            "porn_vulgar",
            "detector",
        ),
    ];
    let mut tx = s.begin_write().await.unwrap();
    // Report counts 2, 3, 1, 2, 3, 1, 2, 3: the spread order differs from the id order.
    let spread_of = |id: &str| -> i64 { (id[5..].parse::<i64>().unwrap() % 3) + 1 };
    for (id, acct, state, category, source) in rows {
        let mut c = case(id, id, acct, NOW);
        c.state = code(state);
        c.category = code(category);
        c.source = source.into();
        c.report_count = spread_of(id);
        tx.insert_case(&c).await.unwrap();
    }
    tx.commit().await.unwrap();
    let scopes = [
        Scope::All,
        Scope::Account("acct_a".into()),
        Scope::Account("acct_b".into()),
        Scope::Account(String::new()),
        Scope::Nobody,
    ];
    let mut filters = Vec::new();
    for state in [None, Some("reported"), Some("enforced")] {
        for category in [None, Some("gambling")] {
            for source in [None, Some(""), Some("public")] {
                for (unowned, confirmed) in [(false, false), (true, false), (false, true)] {
                    filters.push(CaseFilter {
                        state: state.map(code),
                        unowned,
                        category: category.map(code),
                        source: source.map(str::to_string),
                        confirmed,
                    });
                }
            }
        }
    }
    for scope in &scopes {
        for f in &filters {
            let expected: Vec<&str> = rows
                .iter()
                .filter(|(_, acct, state, category, source)| {
                    let visible = match scope {
                        Scope::All => true,
                        Scope::Account(a) => !a.is_empty() && *acct == Some(a.as_str()),
                        Scope::Nobody => false,
                    };
                    visible
                        && f.state.is_none_or(|s| s.code() == *state)
                        && f.category.is_none_or(|c| c.code() == *category)
                        && f.source
                            .as_deref()
                            .is_none_or(|x| x.is_empty() || x == *source)
                        && (!f.unowned || acct.is_none())
                        && (!f.confirmed || !["reported", "dismissed"].contains(state))
                })
                .map(|r| r.0)
                .collect();
            let listed = s.list_cases(scope, f, "", 100).await.unwrap();
            let ids: Vec<&str> = listed.iter().map(|c| c.id.as_str()).collect();
            assert_eq!(ids, expected, "{scope:?} {f:?}");
            assert_eq!(
                s.count_cases(scope, f).await.unwrap(),
                expected.len() as i64,
                "{scope:?} {f:?}"
            );
            if let Some(first) = expected.first() {
                let rest = s.list_cases(scope, f, first, 100).await.unwrap();
                let ids: Vec<&str> = rest.iter().map(|c| c.id.as_str()).collect();
                assert_eq!(ids, expected[1..], "after {first}: {scope:?} {f:?}");
                let one = s.list_cases(scope, f, "", 1).await.unwrap();
                assert_eq!(one.len(), 1);
            }
            // By spread: most reports first, then by id, paged by (report_count, id).
            let mut by_spread = expected.clone();
            by_spread.sort_by_key(|id| (std::cmp::Reverse(spread_of(id)), *id));
            let mut paged: Vec<String> = Vec::new();
            let mut after: Option<(i64, String)> = None;
            loop {
                let page = s
                    .list_cases_by_spread(
                        scope,
                        f,
                        after.as_ref().map(|(n, id)| (*n, id.as_str())),
                        2,
                    )
                    .await
                    .unwrap();
                let Some(last) = page.last() else { break };
                after = Some((last.report_count, last.id.clone()));
                paged.extend(page.iter().map(|c| c.id.clone()));
            }
            assert_eq!(paged, by_spread, "by spread: {scope:?} {f:?}");
            // Newest first, paged by the last id: every case once, none missing.
            let mut newest: Vec<String> = Vec::new();
            let mut before = String::new();
            loop {
                let page = s.list_cases_newest(scope, f, &before, 2).await.unwrap();
                let Some(last) = page.last() else { break };
                before = last.id.clone();
                newest.extend(page.iter().map(|c| c.id.clone()));
            }
            let mut reversed = expected.clone();
            reversed.reverse();
            assert_eq!(newest, reversed, "newest first: {scope:?} {f:?}");
        }
    }
}

/// NOT-2: a tenant's inbox and its unread count hold its own notices only, in id order, with
/// paging; staff see all; an empty or no account sees none.
async fn notices_are_listed_and_counted_per_scope(db: &Db) {
    use warden_store::lifecycle::Notice;
    let s = &db.store;
    seed_resource(s, "acct_a", "res_a", "cvm", &[]).await;
    seed_resource(s, "acct_b", "res_b", "cvm", &[]).await;
    let mut tx = s.begin_write().await.unwrap();
    for (id, acct) in [
        ("ntc_1", "acct_a"),
        ("ntc_2", "acct_b"),
        ("ntc_3", "acct_a"),
    ] {
        tx.insert_notice(&Notice {
            id: id.into(),
            account_id: acct.into(),
            case_id: None,
            template: code("case.enforced"),
            lang: "zh-CN".into(),
            title: id.into(),
            body: "已封禁".into(),
            created_at: NOW,
            read_at: None,
        })
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let a = Scope::Account("acct_a".into());
    assert!(s.mark_notice_read(&a, "ntc_1", NOW).await.unwrap());
    assert!(!s.mark_notice_read(&a, "ntc_2", NOW).await.unwrap());
    for (scope, ids, unread) in [
        (Scope::All, vec!["ntc_1", "ntc_2", "ntc_3"], 2),
        (a.clone(), vec!["ntc_1", "ntc_3"], 1),
        (Scope::Account("acct_b".into()), vec!["ntc_2"], 1),
        (Scope::Account(String::new()), vec![], 0),
        (Scope::Nobody, vec![], 0),
    ] {
        let listed = s.list_notices(&scope, "", 10).await.unwrap();
        let got: Vec<&str> = listed.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(got, ids, "{scope:?}");
        assert_eq!(s.count_unread_notices(&scope).await.unwrap(), unread);
        if let Some(first) = ids.first() {
            let rest = s.list_notices(&scope, first, 10).await.unwrap();
            let got: Vec<&str> = rest.iter().map(|n| n.id.as_str()).collect();
            assert_eq!(got, ids[1..], "{scope:?}");
        }
    }
}

fn job(kind: &str, run_at: i64, key: Option<&str>) -> NewJob {
    NewJob {
        kind: code(kind),
        payload: "{}".into(),
        run_at,
        dedup_key: key.map(Into::into),
        max_attempts: 3,
    }
}

/// LIFE-4: a timer is armed, moved and cancelled by name; late jobs are due at once.
async fn jobs_timers_move_and_cancel(db: &Db) {
    let s = &db.store;
    let mut tx = s.begin_write().await.unwrap();
    let a = tx
        .enqueue(
            &job("case.deadline", NOW + 60_000, Some("deadline:case_1")),
            "job_a",
            NOW,
        )
        .await
        .unwrap();
    let b = tx
        .enqueue(
            &job("case.deadline", NOW + 120_000, Some("deadline:case_1")),
            "job_b",
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(a, b, "same timer name moves the job");
    tx.enqueue(&job("diag.ping", NOW - 3_600_000, None), "job_late", NOW)
        .await
        .unwrap();
    tx.enqueue(&job("diag.ping", NOW + 5_000, Some("t2")), "job_c", NOW)
        .await
        .unwrap();
    assert!(tx.cancel_timer("t2").await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(
        s.get_timer("deadline:case_1")
            .await
            .unwrap()
            .unwrap()
            .run_at,
        NOW + 120_000
    );
    assert!(s.get_timer("t2").await.unwrap().is_none());

    let claimed = s.claim_jobs("n1", NOW, 30_000, 10).await.unwrap();
    assert_eq!(
        claimed.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        vec!["job_late"]
    );
    let mut tx = s.begin_write().await.unwrap();
    assert!(tx.complete_job("job_late", "n1", NOW + 1).await.unwrap());
    tx.commit().await.unwrap();
    let claimed = s.claim_jobs("n1", NOW + 120_000, 30_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, "job_a");
    let mut tx = s.begin_write().await.unwrap();
    assert!(tx.complete_job("job_a", "n1", NOW + 120_001).await.unwrap());
    // A finished timer frees its name for the next deadline.
    let next = tx
        .enqueue(
            &job("case.deadline", NOW + 999_999, Some("deadline:case_1")),
            "job_d",
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(next, "job_d");
    tx.commit().await.unwrap();
    assert_eq!(s.next_due().await.unwrap(), Some(NOW + 999_999));
}

/// LIFE-4 / ENF-2: leases expire, failures back off, and a job dies after its attempts.
async fn jobs_lease_retry_and_die(db: &Db) {
    let s = &db.store;
    let mut tx = s.begin_write().await.unwrap();
    tx.enqueue(&job("diag.ping", NOW, None), "job_x", NOW)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let j = s
        .claim_jobs("n1", NOW, 1_000, 10)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert!(
        s.claim_jobs("n2", NOW + 500, 1_000, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    // n1 died: its lease ran out, n2 takes the job over and n1 can no longer complete it.
    let j2 = s
        .claim_jobs("n2", NOW + 1_001, 1_000, 10)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!((j2.id.as_str(), j2.attempts), ("job_x", 2));
    let mut tx = s.begin_write().await.unwrap();
    assert!(!tx.complete_job(&j.id, "n1", NOW + 1_002).await.unwrap());
    drop(tx);
    let mut tx = s.begin_write().await.unwrap();
    assert!(
        !tx.fail_job(&j2, "n2", "adapter timed out", NOW + 1_100)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    let after = s.get_job("job_x").await.unwrap().unwrap();
    assert_eq!(
        (after.state.code(), after.run_at),
        ("pending", NOW + 1_100 + 2_000)
    );
    assert_eq!(after.last_error.as_deref(), Some("adapter timed out"));
    assert!(
        s.claim_jobs("n2", NOW + 2_000, 1_000, 10)
            .await
            .unwrap()
            .is_empty(),
        "backing off"
    );
    let j3 = s
        .claim_jobs("n2", NOW + 3_100, 1_000, 10)
        .await
        .unwrap()
        .pop()
        .unwrap();
    let mut tx = s.begin_write().await.unwrap();
    assert!(
        tx.fail_job(&j3, "n2", "again", NOW + 3_200).await.unwrap(),
        "third attempt of three: dead"
    );
    tx.commit().await.unwrap();
    assert_eq!(
        s.get_job("job_x").await.unwrap().unwrap().state.code(),
        "dead"
    );
    assert_eq!(s.job_counts().await.unwrap().dead, 1);
}

/// LIFE-4: concurrent claimers never get the same job.
async fn concurrent_claims_are_disjoint(db: &Db) {
    let s = &db.store;
    let mut tx = s.begin_write().await.unwrap();
    for n in 0..200 {
        tx.enqueue(&job("diag.ping", NOW, None), &format!("job_{n:04}"), NOW)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let mut tasks = Vec::new();
    for node in 0..4 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = s
                    .claim_jobs(&format!("n{node}"), NOW, 60_000, 7)
                    .await
                    .unwrap();
                if batch.is_empty() {
                    break got;
                }
                got.extend(batch.into_iter().map(|j| j.id));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!((n, all.len()), (200, 200));
}

fn audit(action: &str, n: i64) -> NewAuditEvent {
    NewAuditEvent {
        actor: "tok_1".into(),
        role: "operator".into(),
        action: action.into(),
        subject: format!("case:case_{n}"),
        account_id: Some("acct_a".into()),
        before_digest: Some(warden_domain::sha256_hex(b"before")),
        after_digest: Some(warden_domain::sha256_hex(format!("after{n}").as_bytes())),
        details: serde_json::json!({ "n": n, "reason": "测试" }),
        at: NOW + n,
    }
}

/// AUD-2: flipping one byte of any column of any event makes verification fail naming it.
async fn audit_chain_detects_every_flipped_byte(db: &Db) {
    let s = &db.store;
    for n in 1..=5 {
        let mut tx = s.begin_write().await.unwrap();
        assert_eq!(tx.append_audit(audit("case.confirm", n)).await.unwrap(), n);
        tx.commit().await.unwrap();
    }
    let v = s.verify_audit().await.unwrap();
    assert_eq!((v.checked, v.broken), (5, None));
    assert_eq!(
        s.list_audit(
            &AuditFilter {
                subject: Some("case:case_3".into()),
                ..Default::default()
            },
            0,
            10
        )
        .await
        .unwrap()
        .len(),
        1
    );

    // Flip one character in each text column of event 3 in turn, and restore it.
    let cols = [
        "actor",
        "role",
        "action",
        "subject",
        "account_id",
        "before_digest",
        "after_digest",
        "details",
        "prev_hash",
        "hash",
    ];
    for col in cols {
        let events = s.list_audit(&AuditFilter::default(), 2, 1).await.unwrap();
        let e = &events[0];
        let original = serde_json::to_value(e).unwrap()[col]
            .as_str()
            .unwrap()
            .to_string();
        let mut bytes = original.clone().into_bytes();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        let flipped = String::from_utf8(bytes).unwrap();
        db.raw(&format!(
            "UPDATE audit_events SET {col} = '{}' WHERE seq = 3",
            flipped.replace('\'', "''")
        ))
        .await;
        let v = s.verify_audit().await.unwrap();
        assert_eq!(
            v.broken.as_ref().map(|b| b.seq),
            Some(3),
            "flipping {col} must break event 3: {v:?}"
        );
        db.raw(&format!(
            "UPDATE audit_events SET {col} = '{}' WHERE seq = 3",
            original.replace('\'', "''")
        ))
        .await;
    }
    db.raw("UPDATE audit_events SET at = at + 1 WHERE seq = 4")
        .await;
    assert_eq!(s.verify_audit().await.unwrap().broken.unwrap().seq, 4);
    db.raw("UPDATE audit_events SET at = at - 1 WHERE seq = 4")
        .await;
    assert_eq!(s.verify_audit().await.unwrap().broken, None);
    db.raw("DELETE FROM audit_events WHERE seq = 5").await;
    assert_eq!(
        s.verify_audit().await.unwrap().broken.unwrap().seq,
        5,
        "a removed tail is detected"
    );
}

/// AUD-3: nothing younger than 180 days can be purged, whatever the configuration says.
async fn audit_purge_respects_retention(db: &Db) {
    let s = &db.store;
    let day = 86_400_000;
    for n in 0..4 {
        let mut tx = s.begin_write().await.unwrap();
        let mut e = audit("report.create", n);
        e.at = NOW - (400 - n * 100) * day; // 400, 300, 200, 100 days old
        tx.append_audit(e).await.unwrap();
        tx.commit().await.unwrap();
    }
    let mut tx = s.begin_write().await.unwrap();
    let err = tx.purge_audit(NOW - 30 * day, 30, NOW).await.unwrap_err();
    assert!(err.to_string().contains("180 days"), "{err}");
    let err = tx.purge_audit(NOW - 150 * day, 180, NOW).await.unwrap_err();
    assert!(err.to_string().contains("younger than 180"), "{err}");
    assert_eq!(s.verify_audit().await.unwrap().checked, 4);
    let p = tx.purge_audit(NOW - 250 * day, 180, NOW).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(p.removed, 2);
    let v = s.verify_audit().await.unwrap();
    assert_eq!(
        (v.checked, v.broken),
        (2, None),
        "the chain still verifies after a purge"
    );
    let mut tx = s.begin_write().await.unwrap();
    tx.append_audit(audit("report.create", 99)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(s.verify_audit().await.unwrap().checked, 3);
}

/// Regression (AUD-2): verification read the chain head and the events at different moments,
/// so appends committed in between made a sound chain look broken ("the chain ends at 2977 but
/// the head records 2946"). It reads one snapshot: no false alarm under concurrent appends.
async fn regression_audit_verify_reads_one_snapshot_under_concurrent_appends(db: &Db) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let s = &db.store;
    let mut tx = s.begin_write().await.unwrap();
    tx.append_audits((0..300).map(|n| audit("report.create", n)).collect())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (s, stop) = (s.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let mut tx = s.begin_write().await.unwrap();
                tx.append_audits(vec![audit("report.create", n), audit("case.confirm", n)])
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                n += 1;
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            n
        })
    };
    let mut alarms = Vec::new();
    let mut seqs = Vec::new();
    for _ in 0..150 {
        // A verification that chases the writer's tail may never end: bound it.
        let v = tokio::time::timeout(std::time::Duration::from_secs(30), s.verify_audit())
            .await
            .expect("verification finishes while the chain grows")
            .unwrap();
        seqs.push(v.last_seq);
        if let Some(b) = v.broken {
            alarms.push(b);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let appended = writer.await.unwrap();
    assert!(
        alarms.is_empty(),
        "{} of 150 verifications raised a false alarm, e.g. {:?}",
        alarms.len(),
        alarms[0]
    );
    assert!(
        appended > 0 && seqs.first() < seqs.last(),
        "the chain grew while it was verified: {seqs:?}"
    );
}

/// Regression: on PostgreSQL through sqlx's Any driver, a report without confidence followed by
/// one with confidence on the same connection failed with "incorrect binary data format".
async fn regression_null_confidence_then_value(db: &Db) {
    let s = &db.store;
    let mut tx = s.begin_write().await.unwrap();
    tx.insert_case(&case("case_1", "k1", None, NOW))
        .await
        .unwrap();
    for (n, c) in [None, Some(0.25), None, Some(0.999_999)]
        .into_iter()
        .enumerate()
    {
        let mut r = report(&format!("rep_{n}"), "case_1", None);
        r.confidence = c;
        r.views = c.map(|_| 3);
        r.evidence_sha256 = None;
        tx.insert_report(&r).await.unwrap();
    }
    tx.commit().await.unwrap();
    let got: Vec<Option<f64>> = s
        .list_case_reports(&Scope::All, "case_1", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.confidence)
        .collect();
    assert_eq!(got, vec![None, Some(0.25), None, Some(0.999_999)]);
}

/// Intake writes batches with multi-row statements; more rows than one statement holds still
/// land exactly (INT-4 counters included).
async fn many_rows_per_statement(db: &Db) {
    let s = &db.store;
    let cases: Vec<Case> = (0..45)
        .map(|n| case(&format!("case_{n:02}"), &format!("k{n}"), None, NOW))
        .collect();
    let mut tx = s.begin_write().await.unwrap();
    tx.insert_cases(&cases).await.unwrap();
    let reports: Vec<Report> = (0..45)
        .map(|n| report(&format!("rep_{n:02}"), &format!("case_{n:02}"), None))
        .collect();
    tx.insert_reports(&reports).await.unwrap();
    let bumps: Vec<(String, i64, i64)> = (0..45)
        .map(|n| (format!("case_{n:02}"), n + 1, n * 10))
        .collect();
    tx.add_reports_to_cases(&bumps, NOW + 5).await.unwrap();
    let keys: Vec<String> = (0..45).map(|n| format!("k{n}")).collect();
    assert_eq!(
        tx.find_correlated_cases(&keys, NOW).await.unwrap().len(),
        45
    );
    let events: Vec<NewAuditEvent> = (0..45).map(|n| audit("report.create", n)).collect();
    assert_eq!(
        tx.append_audits(events).await.unwrap(),
        (1..=45).collect::<Vec<i64>>()
    );
    tx.commit().await.unwrap();
    let c = s.get_case(&Scope::All, "case_44").await.unwrap().unwrap();
    assert_eq!(
        (c.report_count, c.duplicate_count, c.views, c.last_report_at),
        (46, 45, 440, NOW + 5)
    );
    assert_eq!(s.count_reports().await.unwrap(), 45);
    assert_eq!(s.verify_audit().await.unwrap().checked, 45);
}

/// PEN-3 (action records; a no_unblock action is never lifted), NOT-2 (the inbox), GRD-2
/// (violation count), LIFE-1 (deadline) — stored alike on both engines and scoped to the tenant.
async fn lifecycle_records(db: &Db) {
    use warden_store::lifecycle::{ActionRow, CaseLifecycle, Notice};
    let s = &db.store;
    seed_resource(s, "acct_a", "res_a", "cvm", &[]).await;
    let mut tx = s.begin_write().await.unwrap();
    for (id, state) in [
        ("case_1", "alerting"),
        ("case_2", "dismissed"),
        ("case_3", "enforced"),
    ] {
        let mut c = case(id, id, Some("acct_a"), NOW);
        c.state = code(state);
        tx.insert_case(&c).await.unwrap();
    }
    let l = CaseLifecycle {
        level: Some(code("general")),
        deadline_at: Some(NOW + 86_400_000),
        markers: Some("[\"casino\"]".into()),
        ..Default::default()
    };
    tx.set_case_lifecycle("case_1", &l).await.unwrap();
    assert_eq!(
        tx.count_account_violations("acct_a", 0, "case_1")
            .await
            .unwrap(),
        1,
        "case_3 only"
    );
    let action = |id: &str, no_unblock: bool| ActionRow {
        id: id.into(),
        case_id: "case_3".into(),
        account_id: Some("acct_a".into()),
        action: code("block_network"),
        target: "203.0.113.9".into(),
        state: code("applied"),
        desired: code("in_force"),
        no_unblock,
        attempts: 1,
        last_error: None,
        evidence_sha256: None,
        created_at: NOW,
        updated_at: NOW,
    };
    tx.insert_actions(&[action("act_1", false), action("act_2", true)])
        .await
        .unwrap();
    assert!(
        tx.set_action_desired("act_1", code("lifted"), NOW + 1)
            .await
            .unwrap()
    );
    assert!(
        !tx.set_action_desired("act_2", code("lifted"), NOW + 1)
            .await
            .unwrap(),
        "no_unblock is never lifted"
    );
    tx.insert_notice(&Notice {
        id: "ntc_1".into(),
        account_id: "acct_a".into(),
        case_id: Some("case_1".into()),
        template: code("case.alerting"),
        lang: "zh-CN".into(),
        title: "违规告警".into(),
        body: "请在截止时间前整改".into(),
        created_at: NOW,
        read_at: None,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let a = Scope::Account("acct_a".into());
    let b = Scope::Account("acct_b".into());
    assert_eq!(s.get_case_lifecycle(&a, "case_1").await.unwrap(), Some(l));
    assert!(s.get_case_lifecycle(&b, "case_1").await.unwrap().is_none());
    let acts = s.list_case_actions(&a, "case_3").await.unwrap();
    assert_eq!(
        acts.iter()
            .map(|x| (x.desired.code(), x.no_unblock))
            .collect::<Vec<_>>(),
        vec![("lifted", false), ("in_force", true)]
    );
    assert!(s.list_case_actions(&b, "case_3").await.unwrap().is_empty());
    assert_eq!(
        s.list_notices(&a, "", 10).await.unwrap()[0].title,
        "违规告警"
    );
    assert!(s.list_notices(&b, "", 10).await.unwrap().is_empty());
}

/// UNB-3/UNB-6 and TKT-1: requests are decided once, queues are ordered by SLA due time, and a
/// tenant sees only its own.
async fn unblock_requests_and_tickets(db: &Db) {
    use warden_store::unblock::{Ticket, UnblockRequest};
    let s = &db.store;
    seed_resource(s, "acct_a", "res_a", "cvm", &[]).await;
    let mut tx = s.begin_write().await.unwrap();
    tx.insert_case(&case("case_1", "k1", Some("acct_a"), NOW))
        .await
        .unwrap();
    let req = |id: &str, due: i64| UnblockRequest {
        id: id.into(),
        case_id: "case_1".into(),
        account_id: Some("acct_a".into()),
        kind: code("manual"),
        state: code("pending"),
        commitment: Some("content removed; will not recur".into()),
        still_violating: vec![],
        reason: None,
        submitted_at: NOW,
        due_at: Some(due),
        decided_at: None,
        decided_by: None,
    };
    tx.insert_unblock_request(&req("unb_2", NOW + 2))
        .await
        .unwrap();
    assert!(tx.has_open_unblock_request("case_1").await.unwrap());
    tx.insert_unblock_request(&req("unb_1", NOW + 1))
        .await
        .unwrap();
    // A failed self-service attempt keeps the URLs that still violate, as a list.
    let failed = UnblockRequest {
        kind: code("self"),
        state: code("failed"),
        still_violating: vec!["http://a.example/x".into(), "http://a.example/y".into()],
        due_at: None,
        ..req("unb_9", NOW)
    };
    tx.insert_unblock_request(&failed).await.unwrap();
    assert_eq!(
        tx.get_unblock_request("unb_9").await.unwrap().unwrap(),
        failed
    );
    assert_eq!(
        tx.get_unblock_request("unb_1")
            .await
            .unwrap()
            .unwrap()
            .still_violating,
        Vec::<String>::new()
    );
    assert!(
        tx.decide_unblock_request(
            "unb_1",
            code("rejected"),
            Some("the URL still has violating content"),
            "tok_r",
            NOW + 5
        )
        .await
        .unwrap()
    );
    assert!(
        !tx.decide_unblock_request("unb_1", code("approved"), None, "tok_r", NOW + 6)
            .await
            .unwrap(),
        "decided once"
    );
    let t = Ticket {
        id: "tkt_1".into(),
        account_id: "acct_a".into(),
        case_id: Some("case_1".into()),
        kind: code("regulator"),
        subject: "Can this be unblocked?".into(),
        body: "Content deleted.".into(),
        state: code("open"),
        submitted_at: NOW,
        due_at: Some(NOW + 7_200_000),
        closed_at: None,
        closed_by: None,
        resolution: None,
    };
    tx.insert_ticket(&t).await.unwrap();
    tx.insert_billing_record(
        "bil_1",
        "acct_a",
        Some("case_1"),
        "isolation_clearance",
        "{}",
        NOW,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let queue = s.unblock_queue(10).await.unwrap();
    assert_eq!(
        queue.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        vec!["unb_2"]
    );
    let a = Scope::Account("acct_a".into());
    let b = Scope::Account("acct_b".into());
    let mine = s.list_unblock_requests(&a, "case_1").await.unwrap();
    assert_eq!(
        mine[0].reason.as_deref(),
        Some("the URL still has violating content")
    );
    assert!(
        s.list_unblock_requests(&b, "case_1")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.list_tickets(&Scope::All, true, 10).await.unwrap().len(),
        1
    );
    assert!(s.get_ticket(&b, "tkt_1").await.unwrap().is_none());
    let mut tx = s.begin_write().await.unwrap();
    assert!(
        tx.close_ticket("tkt_1", "Unblocked after review.", "tok_r", NOW + 9)
            .await
            .unwrap()
    );
    assert!(
        !tx.close_ticket("tkt_1", "again", "tok_r", NOW + 9)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    assert!(
        s.list_tickets(&Scope::All, true, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.list_billing_records("acct_a").await.unwrap().len(), 1);
}

/// LIFE-4: batch completion keeps nothing when any lease of the batch was lost.
async fn bulk_jobs_complete_only_with_every_lease(db: &Db) {
    let s = &db.store;
    let jobs: Vec<(String, NewJob)> = (0..130)
        .map(|n| (format!("job_{n:03}"), job("diag.ping", NOW + n, None)))
        .collect();
    let mut tx = s.begin_write().await.unwrap();
    tx.insert_jobs(&jobs, NOW).await.unwrap();
    tx.commit().await.unwrap();
    let mine: Vec<String> = s
        .claim_jobs("n1", NOW + 200, 1_000, 500)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(mine.len(), 130);
    // n2 takes one job over after n1's lease ran out.
    let mut tx = s.begin_write().await.unwrap();
    tx.enqueue(&job("diag.ping", NOW, Some("x")), "job_x", NOW)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    db.raw("UPDATE jobs SET lease_owner = 'n2' WHERE id = 'job_007'")
        .await;
    let mut tx = s.begin_write().await.unwrap();
    tx.record_job_runs(&mine, "n1", NOW + 201).await.unwrap();
    assert!(!tx.complete_jobs(&mine, "n1", NOW + 201).await.unwrap());
    drop(tx);
    assert!(s.job_run_counts().await.unwrap().is_empty(), "rolled back");
    let without: Vec<String> = mine.iter().filter(|id| *id != "job_007").cloned().collect();
    let mut tx = s.begin_write().await.unwrap();
    tx.record_job_runs(&without, "n1", NOW + 202).await.unwrap();
    assert!(tx.complete_jobs(&without, "n1", NOW + 202).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(s.job_counts().await.unwrap().done, 129);
    assert_eq!(s.job_run_counts().await.unwrap().len(), 129);
}

/// DET-1: lexicon changes replace by (category, term), bump the version, and verdicts record it.
async fn lexicon_changes_are_versioned(db: &Db) {
    use warden_store::scan::TermRow;
    let s = &db.store;
    assert_eq!(s.lexicon_version().await.unwrap(), 1);
    let row = |term: &str, removed: bool| TermRow {
        category: "gambling".into(),
        term: term.into(),
        weight_milli: 1500,
        near_term: None,
        near_within: None,
        removed,
        updated_at: NOW,
        updated_by: "tok_1".into(),
    };
    let mut tx = s.begin_write().await.unwrap();
    assert_eq!(
        tx.put_lexicon_term(&row("百家乐真人", false))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        tx.put_lexicon_term(&row("百家乐真人", true)).await.unwrap(),
        3
    );
    tx.insert_verdict(&warden_store::scan::VerdictRow {
        id: "ver_1".into(),
        case_id: Some("case_x".into()),
        target: "https://a.example/".into(),
        lexicon_version: 3,
        verdict: "{}".into(),
        evidence_sha256: None,
        created_at: NOW,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (v, terms) = s.lexicon_terms().await.unwrap();
    assert_eq!(v, 3);
    assert_eq!(terms.len(), 1, "one row per (category, term)");
    assert!(terms[0].removed);
    assert_eq!(s.case_verdicts("case_x").await.unwrap()[0].1, 3);
}

/// ENF-1: applies and lifts get growing revisions; the snapshot holds what is in force.
async fn enforcement_changes_have_revisions(db: &Db) {
    use warden_store::enforcement::EnforcementChange;
    let s = &db.store;
    let change = |action_id: &str, op: &str| EnforcementChange {
        revision: 0,
        action_id: action_id.into(),
        case_id: "case_1".into(),
        account_id: Some("acct_a".into()),
        op: code(op),
        action: code("block_url"),
        product: Some(code("cvm")),
        target: format!("https://a.example/{action_id}"),
        created_at: NOW,
    };
    assert_eq!(s.enforcement_snapshot().await.unwrap(), (0, vec![]));
    let mut tx = s.begin_write().await.unwrap();
    for (a, op) in [("act_1", "apply"), ("act_2", "apply"), ("act_1", "lift")] {
        tx.record_enforcement_change(&change(a, op)).await.unwrap();
    }
    tx.commit().await.unwrap();
    let all = s.enforcement_changes_since(0, 100).await.unwrap();
    let revs: Vec<i64> = all.iter().map(|c| c.revision).collect();
    assert!(
        revs.windows(2).all(|w| w[0] < w[1]) && revs.len() == 3,
        "{revs:?}"
    );
    assert_eq!(
        s.enforcement_changes_since(revs[1], 100)
            .await
            .unwrap()
            .len(),
        1
    );
    let (rev, live) = s.enforcement_snapshot().await.unwrap();
    assert_eq!(rev, revs[2]);
    assert_eq!(
        live.iter()
            .map(|c| c.action_id.as_str())
            .collect::<Vec<_>>(),
        vec!["act_2"]
    );
}

/// PEN-3/ENF-2: an action's confirmed state follows its adapters' deliveries: `applied` only when
/// every adapter confirmed the apply, `failed` when one ran out of retries, `lifted` only when
/// every adapter confirmed the lift; a confirmation of an older change never confirms a newer
/// one, and an action no adapter enforces says so.
async fn actions_are_applied_only_when_every_adapter_confirms(db: &Db) {
    use warden_store::enforcement::{EnforcementChange, NO_ADAPTER};
    use warden_store::lifecycle::ActionRow;
    let s = &db.store;
    seed_resource(s, "acct_a", "res_a", "cvm", &[]).await;
    let mut tx = s.begin_write().await.unwrap();
    tx.insert_case(&case("case_1", "case_1", Some("acct_a"), NOW))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let row = |id: &str| ActionRow {
        id: id.into(),
        case_id: "case_1".into(),
        account_id: Some("acct_a".into()),
        action: code("block_url"),
        target: "https://a.example/x".into(),
        state: code("pending"),
        desired: code("in_force"),
        no_unblock: false,
        attempts: 0,
        last_error: None,
        evidence_sha256: None,
        created_at: NOW,
        updated_at: NOW,
    };
    let change = |id: &str, op: &str| EnforcementChange {
        revision: 0,
        action_id: id.into(),
        case_id: "case_1".into(),
        account_id: Some("acct_a".into()),
        op: code(op),
        action: code("block_url"),
        product: None,
        target: "https://a.example/x".into(),
        created_at: NOW,
    };
    let state = |id: &'static str| async move {
        let a = s.list_case_actions(&Scope::All, "case_1").await.unwrap();
        let a = a.into_iter().find(|a| a.id == id).unwrap();
        (a.state, a.last_error)
    };
    let mut tx = s.begin_write().await.unwrap();
    tx.insert_actions(&[row("act_1"), row("act_2")])
        .await
        .unwrap();
    let r1 = tx
        .record_enforcement_change(&change("act_1", "apply"))
        .await
        .unwrap();
    tx.expect_delivery("act_1", "index", code("apply"), r1, NOW)
        .await
        .unwrap();
    tx.expect_delivery("act_1", "webhook:a", code("apply"), r1, NOW)
        .await
        .unwrap();
    assert_eq!(
        tx.settle_action("act_1", NOW).await.unwrap(),
        None,
        "still pending"
    );
    // act_2: nothing enforces it.
    tx.record_enforcement_change(&change("act_2", "apply"))
        .await
        .unwrap();
    tx.settle_action("act_2", NOW).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        state("act_2").await,
        (code("pending"), Some(NO_ADAPTER.into()))
    );

    let mut tx = s.begin_write().await.unwrap();
    assert_eq!(
        tx.confirm_deliveries_up_to("index", r1, NOW + 1)
            .await
            .unwrap(),
        vec!["act_1".to_string()]
    );
    assert_eq!(
        tx.settle_action("act_1", NOW + 1).await.unwrap(),
        None,
        "the webhook has not confirmed"
    );
    assert!(
        tx.fail_delivery("act_1", "webhook:a", r1, "HTTP 503", false, NOW + 2)
            .await
            .unwrap()
    );
    tx.settle_action("act_1", NOW + 2).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        state("act_1").await,
        (code("pending"), Some("webhook:a: HTTP 503".into()))
    );

    let mut tx = s.begin_write().await.unwrap();
    tx.fail_delivery("act_1", "webhook:a", r1, "HTTP 503", true, NOW + 3)
        .await
        .unwrap();
    let m = tx.settle_action("act_1", NOW + 3).await.unwrap().unwrap();
    assert_eq!((m.from.code(), m.to.code()), ("pending", "failed"));
    assert!(
        tx.confirm_delivery("act_1", "webhook:a", r1, NOW + 4)
            .await
            .unwrap()
    );
    let m = tx.settle_action("act_1", NOW + 4).await.unwrap().unwrap();
    assert_eq!((m.from.code(), m.to.code()), ("failed", "applied"));
    assert_eq!(
        m.adapters,
        vec!["index".to_string(), "webhook:a".to_string()]
    );

    // The lift: desired first, then each adapter.
    tx.set_action_desired("act_1", code("lifted"), NOW + 5)
        .await
        .unwrap();
    let r2 = tx
        .record_enforcement_change(&change("act_1", "lift"))
        .await
        .unwrap();
    tx.expect_delivery("act_1", "index", code("lift"), r2, NOW + 5)
        .await
        .unwrap();
    tx.expect_delivery("act_1", "webhook:a", code("lift"), r2, NOW + 5)
        .await
        .unwrap();
    assert_eq!(
        tx.settle_action("act_1", NOW + 5).await.unwrap(),
        None,
        "still applied at the edge"
    );
    assert!(
        !tx.confirm_delivery("act_1", "webhook:a", r1, NOW + 6)
            .await
            .unwrap(),
        "an old confirmation"
    );
    assert!(
        tx.confirm_delivery("act_1", "webhook:a", r2, NOW + 6)
            .await
            .unwrap()
    );
    assert_eq!(tx.settle_action("act_1", NOW + 6).await.unwrap(), None);
    tx.commit().await.unwrap();
    let open = s.open_deliveries(None, false, i64::MAX, 10).await.unwrap();
    assert_eq!(
        open.iter()
            .map(|d| (d.adapter.as_str(), d.op.code()))
            .collect::<Vec<_>>(),
        vec![("index", "lift")]
    );
    // An adapter no longer configured no longer holds the action back.
    let mut tx = s.begin_write().await.unwrap();
    assert_eq!(
        tx.retire_deliveries(&["webhook:a".into()], NOW + 7)
            .await
            .unwrap(),
        vec!["act_1".to_string()]
    );
    let m = tx.settle_action("act_1", NOW + 7).await.unwrap().unwrap();
    assert_eq!((m.from.code(), m.to.code()), ("applied", "lifted"));
    // Lifting what nothing enforces is done at once.
    tx.set_action_desired("act_2", code("lifted"), NOW + 8)
        .await
        .unwrap();
    tx.settle_action("act_2", NOW + 8).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(state("act_2").await, (code("lifted"), None));
    assert_eq!(
        s.latest_change("act_1").await.unwrap().unwrap().revision,
        r2
    );
}

#[test]
fn ids_sort_by_creation() {
    // Within a process ids increase even when the clock stands still (a manual clock, or many
    // ids in one millisecond), and follow the clock when it moves.
    let a = new_id("case", NOW);
    let b = new_id("case", NOW);
    let c = new_id("case", NOW + 1_000_000);
    assert!(a < b && b < c, "{a} {b} {c}");
}

/// Stored states and kinds are decoded once, at the boundary: a value this version does not know
/// (a row written by a newer version, or corrupted) is an error naming the column and the value,
/// never read as a default.
async fn unknown_stored_codes_are_errors_naming_column_and_value(db: &Db) {
    let s = &db.store;
    let mut tx = s.begin_write().await.unwrap();
    tx.insert_case(&case("case_1", "k1", None, NOW))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(s.get_case(&Scope::All, "case_1").await.unwrap().is_some());
    db.raw("UPDATE cases SET state = 'archived' WHERE id = 'case_1'")
        .await;
    let err = s.get_case(&Scope::All, "case_1").await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, warden_store::StoreError::UnknownCode { column, value, .. } if column == "cases.state" && value == "archived"),
        "{text}"
    );
    assert!(
        text.contains("cases.state") && text.contains("\"archived\""),
        "{text}"
    );
    assert!(
        text.contains("expected one of reported, confirmed"),
        "{text}"
    );
    // A list fails as a whole rather than skipping the row.
    assert!(
        s.list_cases(&Scope::All, &CaseFilter::default(), "", 10)
            .await
            .is_err()
    );
}

/// AUD-1, TKT-1, RES-1, §1 scope: the other lists' optional filters, each written out only when
/// set (no `($n = '' OR column = $n)`), combine exactly as an in-memory filter of the same rows:
/// the audit log by actor, action, subject, account and time range, paged by `seq`; tickets by
/// scope and open state; resources by scope and account; users by scope.
async fn optional_filters_of_tickets_resources_audit_and_users_combine(db: &Db) {
    use warden_store::unblock::Ticket;
    use warden_store::users::User;
    let s = &db.store;
    seed_resource(s, "acct_a", "res_a1", "cvm", &[]).await;
    seed_resource(s, "acct_a", "res_a2", "cdn", &[]).await;
    seed_resource(s, "acct_b", "res_b1", "cvm", &[]).await;
    // Audit: (actor, action, account, at offset).
    let events = [
        ("usr_ada", "case.confirm", Some("acct_a"), 0),
        ("usr_ada", "case.dismiss", Some("acct_b"), 10),
        ("usr_olga", "case.confirm", Some("acct_a"), 20),
        ("usr_ada", "case.confirm", None, 30),
        ("usr_olga", "ticket.close", Some("acct_b"), 40),
        ("usr_ada", "case.confirm", Some("acct_a"), 50),
    ];
    let mut tx = s.begin_write().await.unwrap();
    for (n, (actor, action, account, at)) in events.iter().enumerate() {
        let mut e = audit(action, n as i64 + 1);
        e.actor = (*actor).into();
        e.account_id = account.map(str::to_string);
        e.at = NOW + at;
        tx.append_audit(e).await.unwrap();
    }
    // Tickets: acct_a open and closed, acct_b open.
    for (id, acct, state) in [
        ("tkt_1", "acct_a", "open"),
        ("tkt_2", "acct_a", "closed"),
        ("tkt_3", "acct_b", "open"),
    ] {
        tx.insert_ticket(&Ticket {
            id: id.into(),
            account_id: acct.into(),
            case_id: None,
            kind: code("question"),
            subject: format!("subject {id}"),
            body: "body".into(),
            state: code(state),
            submitted_at: NOW,
            due_at: Some(NOW + 7_200_000),
            closed_at: None,
            closed_by: None,
            resolution: None,
        })
        .await
        .unwrap();
    }
    for (id, login, acct) in [
        ("usr_1", "alice", Some("acct_a")),
        ("usr_2", "bob", Some("acct_b")),
        ("usr_3", "carol", None),
        ("usr_4", "dave", Some("acct_a")),
    ] {
        let u = User {
            id: id.into(),
            login: login.into(),
            role: code(if acct.is_some() { "tenant" } else { "operator" }),
            account_id: acct.map(str::to_string),
            account_owner: false,
            must_change_password: false,
            failed_logins: 0,
            locked_until: None,
            created_by: "system".into(),
            created_at: NOW,
            password_changed_at: NOW,
            disabled_at: None,
        };
        tx.insert_user(&u, "$argon2id$not-a-real-hash")
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    // The audit log: every combination of the filters, against the rows themselves.
    let mut checked = 0;
    for actor in [None, Some(""), Some("usr_ada"), Some("usr_nobody")] {
        for action in [None, Some("case.confirm")] {
            for account in [None, Some("acct_a")] {
                for (from, to) in [
                    (None, None),
                    (Some(NOW + 10), None),
                    (None, Some(NOW + 40)),
                    (Some(NOW + 10), Some(NOW + 50)),
                ] {
                    let f = AuditFilter {
                        actor: actor.map(str::to_string),
                        action: action.map(str::to_string),
                        account_id: account.map(str::to_string),
                        from,
                        to,
                        ..Default::default()
                    };
                    let expected: Vec<i64> = events
                        .iter()
                        .enumerate()
                        .filter(|(_, (a, act, acct, at))| {
                            actor.is_none_or(|x| x.is_empty() || x == *a)
                                && action.is_none_or(|x| x == *act)
                                && account.is_none_or(|x| Some(x) == *acct)
                                && from.is_none_or(|t| NOW + at >= t)
                                && to.is_none_or(|t| NOW + at < t)
                        })
                        .map(|(n, _)| n as i64 + 1)
                        .collect();
                    let listed = s.list_audit(&f, 0, 100).await.unwrap();
                    let seqs: Vec<i64> = listed.iter().map(|e| e.seq).collect();
                    assert_eq!(seqs, expected, "{f:?}");
                    // Paged one at a time by seq: the same events, in order.
                    let mut paged = Vec::new();
                    let mut after = 0;
                    while let Some(e) = s.list_audit(&f, after, 1).await.unwrap().pop() {
                        after = e.seq;
                        paged.push(e.seq);
                    }
                    assert_eq!(paged, expected, "paged: {f:?}");
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 64);
    // ada's confirmations of acct_a in [NOW + 10, NOW + 60): only the last one.
    let f = AuditFilter {
        actor: Some("usr_ada".into()),
        action: Some("case.confirm".into()),
        account_id: Some("acct_a".into()),
        from: Some(NOW + 10),
        to: Some(NOW + 60),
        ..Default::default()
    };
    let hits = s.list_audit(&f, 0, 100).await.unwrap();
    assert_eq!(
        hits.iter()
            .map(|e| (e.actor.as_str(), e.at))
            .collect::<Vec<_>>(),
        vec![("usr_ada", NOW + 50)]
    );

    let scopes = [
        Scope::All,
        Scope::Account("acct_a".into()),
        Scope::Account("acct_b".into()),
        Scope::Account(String::new()),
        Scope::Nobody,
    ];
    let sees = |scope: &Scope, acct: Option<&str>| match scope {
        Scope::All => true,
        Scope::Account(a) => !a.is_empty() && acct == Some(a.as_str()),
        Scope::Nobody => false,
    };
    let tickets = [
        ("tkt_1", "acct_a", "open"),
        ("tkt_2", "acct_a", "closed"),
        ("tkt_3", "acct_b", "open"),
    ];
    let resources = [
        ("res_a1", "acct_a"),
        ("res_a2", "acct_a"),
        ("res_b1", "acct_b"),
    ];
    for scope in &scopes {
        // Tickets: one account's open tickets, or all of them.
        for only_open in [false, true] {
            let listed = s.list_tickets(scope, only_open, 10).await.unwrap();
            let ids: Vec<&str> = listed.iter().map(|t| t.id.as_str()).collect();
            let expected: Vec<&str> = tickets
                .iter()
                .filter(|(_, a, st)| sees(scope, Some(a)) && (!only_open || *st == "open"))
                .map(|t| t.0)
                .collect();
            assert_eq!(ids, expected, "tickets {scope:?} open only: {only_open}");
        }
        // Resources: within the scope, of one account when asked (another's is empty).
        for account in [None, Some(""), Some("acct_a"), Some("acct_b")] {
            let listed = s.list_resources(scope, account, "", 10).await.unwrap();
            let ids: Vec<&str> = listed.iter().map(|r| r.id.as_str()).collect();
            let expected: Vec<&str> = resources
                .iter()
                .filter(|(_, a)| {
                    sees(scope, Some(a)) && account.is_none_or(|x| x.is_empty() || x == *a)
                })
                .map(|r| r.0)
                .collect();
            assert_eq!(ids, expected, "resources {scope:?} account {account:?}");
            if let Some(first) = expected.first() {
                let rest = s.list_resources(scope, account, first, 10).await.unwrap();
                let ids: Vec<&str> = rest.iter().map(|r| r.id.as_str()).collect();
                assert_eq!(ids, expected[1..], "after {first}: {scope:?} {account:?}");
            }
        }
        // Users: the scope's, by login.
        let logins: Vec<String> = s
            .list_users(scope)
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.login)
            .collect();
        let expected: Vec<&str> = [
            ("alice", Some("acct_a")),
            ("bob", Some("acct_b")),
            ("carol", None),
            ("dave", Some("acct_a")),
        ]
        .iter()
        .filter(|(_, a)| sees(scope, *a))
        .map(|u| u.0)
        .collect();
        assert_eq!(logins, expected, "users {scope:?}");
    }
}

//! Group commit of single reports (issue 14), on SQLite and PostgreSQL: reports submitted
//! together are committed together, and every submitter is answered what a transaction of its
//! own would have answered — one case for one target, each principal its own actor, one bad
//! report failing alone, nothing acknowledged that is not committed, the audit chain intact.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::sync::Arc;

use sqlx::Executor;
use warden_app::auth::Principal;
use warden_app::clock::ManualClock;
use warden_app::crypto::Sealer;
use warden_app::group_commit::GroupCommitSettings;
use warden_app::intake::Receipt;
use warden_app::registry::{AccountInput, IdentifierInput, ResourceInput};
use warden_app::{App, AppError, Settings};
use warden_domain::lifecycle::State;
use warden_domain::report::ReportRequest;
use warden_store::audit::AuditFilter;
use warden_store::testing::PgDatabase;
use warden_store::{Scope, Store, StoreOptions};

/// 2026-01-05T01:00:00Z.
const T0: i64 = 1_767_574_800_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Sqlite,
    Postgres,
}

/// Runs each test on SQLite and on PostgreSQL (skipped loudly when absent outside CI).
macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Engine::Sqlite).await; }
        )* }
        mod postgres { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Engine::Postgres).await; }
        )* }
    };
}

both_engines!(
    concurrent_reports_of_one_target_open_one_case,
    each_principal_stays_the_actor_of_its_own_reports,
    one_failing_report_fails_alone,
    closing_commits_what_is_queued_and_refuses_the_rest,
    a_group_that_never_commits_gets_no_receipt,
);

/// A grouped run answers exactly what one transaction per report answers: the same reports
/// in the same order, once with group commit off and once queued into one group.
mod same_receipts {
    #[tokio::test(flavor = "current_thread")]
    async fn sqlite() {
        super::grouped_receipts_equal_sequential_ones(super::Engine::Sqlite).await;
    }
    #[tokio::test(flavor = "current_thread")]
    async fn postgres() {
        super::grouped_receipts_equal_sequential_ones(super::Engine::Postgres).await;
    }
}

struct Env {
    app: App,
    url: String,
    engine: Engine,
    _dir: Option<tempfile::TempDir>,
    pg: Option<PgDatabase>,
}

impl Env {
    async fn stop(self) {
        self.app.close_intake().await;
        self.app.store.close().await;
        if let Some(pg) = self.pg {
            pg.drop_db().await;
        }
    }

    /// A detector token's principal.
    async fn detector(&self, label: &str) -> Principal {
        let t = self
            .app
            .create_token(&Principal::System, "detector", None, label)
            .await
            .unwrap();
        self.app.authenticate(&t.secret).await.unwrap()
    }

    /// Reports whose description is `poison` fail at their insert from now on (a trigger).
    async fn poison_reports(&self) {
        let sql = match self.engine {
            Engine::Sqlite => {
                "CREATE TRIGGER poison BEFORE INSERT ON reports WHEN NEW.description = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned report'); END;"
            }
            Engine::Postgres => {
                "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN IF NEW.description = 'poison' THEN RAISE EXCEPTION 'poisoned report'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql; CREATE TRIGGER poison BEFORE INSERT ON reports FOR EACH ROW EXECUTE FUNCTION poison();"
            }
        };
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&self.url)
            .await
            .unwrap();
        pool.execute(sql).await.unwrap();
        pool.close().await;
    }

    /// `report.create` events, by report id: (actor, role).
    async fn report_events(&self) -> Vec<(String, String, String)> {
        let f = AuditFilter {
            action: Some("report.create".into()),
            ..Default::default()
        };
        self.app
            .store
            .list_audit(&f, 0, 10_000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| {
                (
                    e.subject.trim_start_matches("report:").to_string(),
                    e.actor,
                    e.role,
                )
            })
            .collect()
    }

    async fn verify_audit(&self) {
        let v = self.app.verify_audit(&Principal::System).await.unwrap();
        assert!(v.broken.is_none(), "the audit chain verifies: {v:?}");
        assert!(v.checked > 0);
    }
}

/// A fresh database with account `acme` owning `shop.example.com`, and an app grouping single
/// reports as `gc` says.
async fn env(engine: Engine, gc: GroupCommitSettings) -> Option<Env> {
    let (url, dir, pg) = match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            (
                format!("sqlite://{}/w.db", dir.path().display()),
                Some(dir),
                None,
            )
        }
        Engine::Postgres => {
            let pg = PgDatabase::create().await?;
            (pg.url.clone(), None, Some(pg))
        }
    };
    let mut opts = StoreOptions::new(&url);
    opts.max_connections = 16;
    let store = Store::open(&opts).await.unwrap();
    let settings = Settings {
        group_commit: gc,
        ..Settings::default()
    };
    let app = App::for_tests(
        store,
        Arc::new(ManualClock::new(T0)),
        Sealer::from_key(&[3; 32]),
        settings,
    );
    let sys = Principal::System;
    app.create_account(
        &sys,
        AccountInput {
            id: Some("acme".into()),
            name: Some("Acme".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    app.create_resource(
        &sys,
        ResourceInput {
            account_id: Some("acme".into()),
            product: Some("cvm".into()),
            identifiers: Some(vec![IdentifierInput {
                kind: "domain".into(),
                value: "shop.example.com".into(),
            }]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    Some(Env {
        app,
        url,
        engine,
        _dir: dir,
        pg,
    })
}

/// Group commit with a linger, so that reports sent together surely share a group.
fn lingering(ms: u64) -> GroupCommitSettings {
    GroupCommitSettings {
        linger_ms: ms,
        ..GroupCommitSettings::default()
    }
}

fn report(target: &str, confidence: f64, description: &str) -> ReportRequest {
    ReportRequest {
        target: Some(target.into()),
        category: Some("gambling".into()),
        description: Some(description.into()),
        evidence: Some("<html>casino</html>".into()),
        confidence: Some(confidence),
        ..Default::default()
    }
}

/// INT-4 under concurrency: N reports of one target submitted at once make one case with N
/// reports, exactly one receipt says `duplicate: false`, every acknowledged report is readable
/// the moment its call returns, and the chain verifies.
async fn concurrent_reports_of_one_target_open_one_case(engine: Engine) {
    const N: usize = 40;
    let Some(e) = env(engine, lingering(20)).await else {
        return;
    };
    let who = e.detector("scanner").await;
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let app = e.app.clone();
            let who = who.clone();
            tokio::spawn(async move {
                let r = app
                    .submit_report(
                        &who,
                        report("https://shop.example.com/bad", 0.5, &format!("n{i}")),
                    )
                    .await
                    .unwrap();
                // Acknowledged means committed: readable by anyone now.
                let stored = app
                    .store
                    .get_report(&Scope::All, &r.report_id)
                    .await
                    .unwrap();
                assert!(stored.is_some(), "report {} is readable", r.report_id);
                r
            })
        })
        .collect();
    let mut receipts = Vec::new();
    for t in tasks {
        receipts.push(t.await.unwrap());
    }
    let cases: BTreeSet<_> = receipts.iter().map(|r| r.case_id.clone()).collect();
    assert_eq!(cases.len(), 1, "one case: {cases:?}");
    let firsts = receipts
        .iter()
        .filter(|r| r.duplicate == Some(false))
        .count();
    assert_eq!(firsts, 1, "exactly one report opened the case");
    assert!(receipts.iter().all(|r| r.owned == Some(true)
        && r.case_state == Some(State::Reported)
        && r.status == "received"));
    let case_id = receipts[0].case_id.clone().unwrap();
    let case = e.app.get_case(&Principal::System, &case_id).await.unwrap();
    assert_eq!(
        (case.report_count, case.duplicate_count),
        (N as i64, N as i64 - 1)
    );
    assert_eq!(e.app.store.count_reports().await.unwrap(), N as i64);
    let g = e.app.metrics.intake_groups();
    assert_eq!(g.reports, N as u64);
    assert!(g.groups < N as u64, "reports shared transactions: {g:?}");
    assert!(
        e.app
            .metrics
            .render(&Default::default())
            .contains(&format!("warden_reports_accepted_total {N}"))
    );
    e.verify_audit().await;
    e.stop().await;
}

/// Reports of two detectors and an anonymous reporter in the same groups: each report's
/// `submitted_by` and its audit event's actor are its own submitter's; the sure detection
/// confirms its case (INT-5) with the confirming detector as the actor; the anonymous
/// reporter learns only its report's id and status.
async fn each_principal_stays_the_actor_of_its_own_reports(engine: Engine) {
    let Some(e) = env(engine, lingering(20)).await else {
        return;
    };
    let a = e.detector("detector-a").await;
    let b = e.detector("detector-b").await;
    let anon = Principal::Anonymous {
        ip: "192.0.2.7".into(),
    };
    let mut tasks = Vec::new();
    for i in 0..30 {
        let (who, conf) = match i % 3 {
            0 => (a.clone(), 0.5),
            1 => (b.clone(), 0.5),
            _ => (anon.clone(), 0.5),
        };
        // Detector A is sure about one page; the rest are ordinary.
        let (target, conf) = if i == 9 {
            ("https://shop.example.com/sure".to_string(), 0.99)
        } else {
            (format!("https://shop.example.com/p{}", i % 4), conf)
        };
        let app = e.app.clone();
        tasks.push(tokio::spawn(async move {
            let r = app.submit_report(&who, report(&target, conf, "x")).await;
            (who, r.unwrap())
        }));
    }
    let mut by = Vec::new();
    for t in tasks {
        by.push(t.await.unwrap());
    }
    let events = e.report_events().await;
    assert_eq!(events.len(), by.len());
    for (who, r) in &by {
        let (_, actor, role) = events
            .iter()
            .find(|(id, _, _)| id == &r.report_id)
            .expect("every report has its event");
        assert_eq!(
            (actor.as_str(), role.as_str()),
            (who.actor().as_str(), who.role_code())
        );
        let stored = e
            .app
            .store
            .get_report(&Scope::All, &r.report_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.submitted_by, who.actor());
        if matches!(who, Principal::Anonymous { .. }) {
            assert!(
                r.case_id.is_none()
                    && r.duplicate.is_none()
                    && r.case_state.is_none()
                    && r.owned.is_none(),
                "anonymous sees only id and status: {r:?}"
            );
        } else {
            assert!(r.case_id.is_some() && r.owned == Some(true));
        }
    }
    let (_, sure) = by
        .iter()
        .find(|(_, r)| r.case_state == Some(State::Confirmed))
        .expect("the sure detection confirmed its case");
    let f = AuditFilter {
        action: Some("case.confirm".into()),
        ..Default::default()
    };
    let confirms = e.app.store.list_audit(&f, 0, 100).await.unwrap();
    assert_eq!(confirms.len(), 1, "{confirms:?}");
    assert_eq!(confirms[0].actor, a.actor(), "detector A confirmed");
    assert_eq!(
        confirms[0].subject,
        format!("case:{}", sure.case_id.clone().unwrap())
    );
    e.verify_audit().await;
    e.stop().await;
}

/// A report the store refuses (a trigger fails its insert) fails alone: its group is stored
/// again one by one, the others are acknowledged and stored, the failing one is not.
async fn one_failing_report_fails_alone(engine: Engine) {
    let Some(e) = env(engine, lingering(100)).await else {
        return;
    };
    let who = e.detector("scanner").await;
    e.poison_reports().await;
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let app = e.app.clone();
            let who = who.clone();
            let description = if i == 5 { "poison" } else { "fine" };
            tokio::spawn(async move {
                app.submit_report(
                    &who,
                    report(
                        &format!("https://shop.example.com/p{}", i % 3),
                        0.5,
                        description,
                    ),
                )
                .await
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    for (i, r) in results.iter().enumerate() {
        if i == 5 {
            assert!(
                matches!(r, Err(AppError::Store(_))),
                "the poisoned report fails: {r:?}"
            );
        } else {
            let r = r.as_ref().expect("the others are stored");
            assert!(
                e.app
                    .store
                    .get_report(&Scope::All, &r.report_id)
                    .await
                    .unwrap()
                    .is_some()
            );
        }
    }
    assert_eq!(e.app.store.count_reports().await.unwrap(), 11);
    let g = e.app.metrics.intake_groups();
    assert!(g.retried >= 1, "a group was retried one by one: {g:?}");
    // One case per target, each opened once, as if the poisoned report had never come.
    let receipts: Vec<&Receipt> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    let cases: BTreeSet<_> = receipts.iter().map(|r| r.case_id.clone()).collect();
    assert_eq!(cases.len(), 3);
    assert_eq!(
        receipts
            .iter()
            .filter(|r| r.duplicate == Some(false))
            .count(),
        3
    );
    assert!(
        e.app
            .metrics
            .render(&Default::default())
            .contains("warden_reports_accepted_total 11")
    );
    e.verify_audit().await;
    e.stop().await;
}

/// Shutdown: reports queued when intake closes are committed and answered; a report after it
/// is refused (503 `unavailable`) and nothing of it is stored.
async fn closing_commits_what_is_queued_and_refuses_the_rest(engine: Engine) {
    let Some(e) = env(engine, lingering(400)).await else {
        return;
    };
    let who = e.detector("scanner").await;
    let tasks: Vec<_> = (0..5)
        .map(|i| {
            let app = e.app.clone();
            let who = who.clone();
            tokio::spawn(async move {
                app.submit_report(
                    &who,
                    report(&format!("https://shop.example.com/q{i}"), 0.5, "x"),
                )
                .await
            })
        })
        .collect();
    // The writer is lingering on its group when intake closes.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    e.app.close_intake().await;
    for t in tasks {
        let r = t.await.unwrap().expect("queued reports are committed");
        assert!(
            e.app
                .store
                .get_report(&Scope::All, &r.report_id)
                .await
                .unwrap()
                .is_some()
        );
    }
    let late = e
        .app
        .submit_report(&who, report("https://shop.example.com/late", 0.5, "x"))
        .await;
    assert!(
        matches!(late, Err(AppError::Unavailable(_))),
        "refused after close: {late:?}"
    );
    assert_eq!(e.app.store.count_reports().await.unwrap(), 5);
    e.verify_audit().await;
    e.stop().await;
}

/// A waiter whose group cannot commit (the database went away under the writer) is answered
/// with an error, never a receipt, and nothing of it is stored.
async fn a_group_that_never_commits_gets_no_receipt(engine: Engine) {
    let Some(e) = env(engine, lingering(300)).await else {
        return;
    };
    let who = e.detector("scanner").await;
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let app = e.app.clone();
            let who = who.clone();
            tokio::spawn(async move {
                app.submit_report(
                    &who,
                    report(&format!("https://shop.example.com/r{i}"), 0.5, "x"),
                )
                .await
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    e.app.store.close().await;
    for t in tasks {
        let r = t.await.unwrap();
        assert!(r.is_err(), "no receipt for an uncommitted report: {r:?}");
    }
    let store = Store::open(&StoreOptions::new(&e.url)).await.unwrap();
    assert_eq!(store.count_reports().await.unwrap(), 0);
    store.close().await;
    e.stop().await;
}

/// A receipt without its ids: (case number in order of appearance, duplicate, state, owned).
type Shape = (Option<usize>, Option<bool>, Option<State>, Option<bool>);

fn shapes(receipts: &[Receipt]) -> Vec<Shape> {
    let mut cases: Vec<String> = Vec::new();
    receipts
        .iter()
        .map(|r| {
            let case = r.case_id.as_ref().map(|c| {
                cases.iter().position(|x| x == c).unwrap_or_else(|| {
                    cases.push(c.clone());
                    cases.len() - 1
                })
            });
            (case, r.duplicate, r.case_state, r.owned)
        })
        .collect()
}

async fn grouped_receipts_equal_sequential_ones(engine: Engine) {
    let off = GroupCommitSettings {
        enabled: false,
        ..GroupCommitSettings::default()
    };
    let mut runs = Vec::new();
    for gc in [off, lingering(200)] {
        let Some(e) = env(engine, gc.clone()).await else {
            return;
        };
        let d = e.detector("scanner").await;
        let anon = Principal::Anonymous {
            ip: "192.0.2.9".into(),
        };
        let steps: Vec<(Principal, ReportRequest)> = vec![
            (d.clone(), report("https://shop.example.com/a", 0.5, "1")),
            // INT-5 in the middle of a group: this one confirms the case...
            (d.clone(), report("https://shop.example.com/a", 0.95, "2")),
            // ...and the next joins it confirmed; the first still said "reported".
            (d.clone(), report("https://shop.example.com/a", 0.5, "3")),
            (anon.clone(), report("https://shop.example.com/b", 0.5, "4")),
            (d.clone(), report("https://shop.example.com/b", 0.5, "5")),
            (
                d.clone(),
                report("https://elsewhere.example.net/", 0.5, "6"),
            ),
            (
                d.clone(),
                report("https://elsewhere.example.net/", 0.99, "7"),
            ),
        ];
        let receipts = if gc.enabled {
            // On this one-thread runtime the tasks run in the order they were spawned, each
            // up to its queued report: one group in submission order.
            let tasks: Vec<_> = steps
                .into_iter()
                .map(|(who, req)| {
                    let app = e.app.clone();
                    tokio::spawn(async move { app.submit_report(&who, req).await.unwrap() })
                })
                .collect();
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.unwrap());
            }
            let g = e.app.metrics.intake_groups();
            assert_eq!((g.groups, g.reports), (1, 7), "one group of seven");
            out
        } else {
            let mut out = Vec::new();
            for (who, req) in steps {
                out.push(e.app.submit_report(&who, req).await.unwrap());
            }
            out
        };
        let confirms = e
            .app
            .store
            .list_audit(
                &AuditFilter {
                    action: Some("case.confirm".into()),
                    ..Default::default()
                },
                0,
                100,
            )
            .await
            .unwrap()
            .len();
        e.verify_audit().await;
        e.stop().await;
        runs.push((shapes(&receipts), confirms));
    }
    let (sequential, grouped) = (&runs[0], &runs[1]);
    assert_eq!(
        sequential.0[..3],
        [
            (Some(0), Some(false), Some(State::Reported), Some(true)),
            (Some(0), Some(true), Some(State::Confirmed), Some(true)),
            (Some(0), Some(true), Some(State::Confirmed), Some(true)),
        ]
    );
    assert_eq!(sequential.0[3], (None, None, None, None), "anonymous");
    assert_eq!(grouped, sequential);
}

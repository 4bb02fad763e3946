//! The assessments table on both engines (issue 13; ASMT-1, ASMT-2, ASMT-5): stored and read back
//! whole (the plan without its contact, which is kept sealed), updated, listed per scope and
//! state with keyset paging, the staff queues by due time, and the stress-test plans in force
//! for the DDoS plane.

use warden_domain::assessment::{
    self, AssessmentCommand, AssessmentKind, AssessmentState, AssessmentTarget, Plan,
};
use warden_domain::identity::Scope;
use warden_domain::time::Timestamp;
use warden_store::assessments::{AssessmentFilter, AssessmentRow};

use super::{Db, NOW};

const HOUR: i64 = 3_600_000;

impl Db {
    /// The count of rows `sql` (a `SELECT COUNT(*) ...`) finds.
    async fn count_of(&self, sql: &str) -> i64 {
        use sqlx::Row;
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&self.url)
            .await
            .unwrap();
        let r = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        r.try_get::<i64, _>(0).unwrap()
    }
}

fn plan() -> Plan {
    Plan {
        peak_bps: 5_000_000_000,
        peak_pps: 1_000_000,
        peak_rps: 0,
        method: "UDP load from our generators".into(),
        contact: "+86 138 0000 0000".into(),
        rollback_plan: "stop the generators".into(),
        attest_rights: true,
        attest_backups: false,
    }
}

fn row(id: &str, account: &str, kind: AssessmentKind, start: i64, end: i64) -> AssessmentRow {
    let d = assessment::declare(
        kind,
        &["203.0.113.8/30".into()],
        &["198.51.100.0/28".into()],
        Timestamp(start),
        Timestamp(end),
        kind.needs_approval().then(plan),
        Timestamp(NOW),
    )
    .unwrap();
    let s = assessment::start(&d);
    AssessmentRow {
        id: id.into(),
        account_id: account.into(),
        kind,
        state: s.next.state,
        targets: d.targets.clone(),
        sources: d.sources.clone(),
        window_start: start,
        window_end: end,
        plan: d.plan.clone(),
        contact_enc: d.plan.as_ref().map(|_| vec![1, 2, 3]),
        facts: s.next,
        reason: s.reason,
        disclosure: None,
        due_at: kind.needs_approval().then_some(NOW + 8 * HOUR),
        disclosure_due_at: None,
        decided_by: None,
        decided_at: None,
        created_by: "tok_a".into(),
        created_at: NOW,
        updated_at: NOW,
    }
}

pub(super) async fn assessments_are_stored_listed_and_queued(db: &Db) {
    let s = &db.store;
    let a = Scope::Account("acct_a".into());
    let rows = [
        row(
            "asm_1",
            "acct_a",
            AssessmentKind::StressTest,
            NOW + HOUR,
            NOW + 3 * HOUR,
        ),
        row(
            "asm_2",
            "acct_a",
            AssessmentKind::PhishingTest,
            NOW,
            NOW + HOUR,
        ),
        row(
            "asm_3",
            "acct_b",
            AssessmentKind::StressTest,
            NOW,
            NOW + HOUR,
        ),
        row(
            "asm_4",
            "acct_a",
            AssessmentKind::PenetrationTest,
            NOW,
            NOW + HOUR,
        ),
    ];
    let mut tx = s.begin_write().await.unwrap();
    for r in &rows {
        tx.insert_assessment(r).await.unwrap();
    }
    tx.commit().await.unwrap();

    // Read back whole; the plan's contact is not stored in the clear.
    let got = s.get_assessment(&a, "asm_1").await.unwrap().unwrap();
    assert_eq!(
        got.targets,
        [AssessmentTarget::parse("203.0.113.8/30").unwrap()]
    );
    assert_eq!(got.plan.as_ref().unwrap().contact, "");
    assert_eq!(got.plan.as_ref().unwrap().peak_bps, 5_000_000_000);
    assert_eq!(got.contact_enc.as_deref(), Some(&[1u8, 2, 3][..]));
    assert_eq!(got.facts, rows[0].facts);
    assert_eq!(got.state, AssessmentState::PendingApproval);
    assert_eq!(
        db.count_of("SELECT COUNT(*) FROM assessments WHERE plan LIKE '%138 0000%'")
            .await,
        0
    );

    // Scoped: another account's id is not found.
    assert!(s.get_assessment(&a, "asm_3").await.unwrap().is_none());
    assert!(
        s.get_assessment(&Scope::All, "asm_3")
            .await
            .unwrap()
            .is_some()
    );

    // Lists: newest first, per scope and state, keyset paging.
    let ids = |v: Vec<AssessmentRow>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let all = AssessmentFilter::default();
    assert_eq!(
        ids(s.assessments_page(&a, &all, 10).await.unwrap()),
        ["asm_4", "asm_2", "asm_1"]
    );
    assert_eq!(
        ids(s.assessments_page(&Scope::All, &all, 10).await.unwrap()).len(),
        4
    );
    let page2 = AssessmentFilter {
        before: Some("asm_4".into()),
        ..Default::default()
    };
    assert_eq!(
        ids(s.assessments_page(&a, &page2, 1).await.unwrap()),
        ["asm_2"]
    );
    let pending = AssessmentFilter {
        state: Some(AssessmentState::PendingApproval),
        ..Default::default()
    };
    assert_eq!(
        ids(s.assessments_page(&a, &pending, 10).await.unwrap()),
        ["asm_1"]
    );
    assert_eq!(
        ids(s.assessments_page(&Scope::Nobody, &all, 10).await.unwrap()),
        Vec::<String>::new()
    );

    // The approval queue by due time.
    let mut tx = s.begin_write().await.unwrap();
    let mut r3 = tx
        .get_assessment_for_update("asm_3")
        .await
        .unwrap()
        .unwrap();
    r3.due_at = Some(NOW + HOUR);
    tx.update_assessment(&r3).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        ids(s
            .assessment_queue(AssessmentState::PendingApproval, 10)
            .await
            .unwrap()),
        ["asm_3", "asm_1"]
    );

    // Nothing approved yet: no plan in force.
    assert!(s.stress_plans_in_force(NOW).await.unwrap().is_empty());

    // Approve asm_1 (a window not begun yet) and asm_3: both in force until their window ends.
    let mut tx = s.begin_write().await.unwrap();
    for id in ["asm_1", "asm_3"] {
        let mut r = tx.get_assessment_for_update(id).await.unwrap().unwrap();
        let d = assessment::decide(
            &r.facts,
            &AssessmentCommand::Approve { reason: None },
            Timestamp(NOW),
        )
        .unwrap();
        r.state = d.next.state;
        r.facts = d.next;
        r.reason = d.reason;
        r.decided_by = Some("tok_op".into());
        r.decided_at = Some(NOW);
        r.updated_at = NOW;
        tx.update_assessment(&r).await.unwrap();
    }
    tx.commit().await.unwrap();
    let got = s.get_assessment(&a, "asm_1").await.unwrap().unwrap();
    assert_eq!(got.state, AssessmentState::Approved);
    assert_eq!(got.decided_by.as_deref(), Some("tok_op"));
    assert_eq!(
        ids(s.stress_plans_in_force(NOW).await.unwrap()),
        ["asm_3", "asm_1"]
    );
    assert_eq!(
        ids(s.stress_plans_in_force(NOW + 2 * HOUR).await.unwrap()),
        ["asm_1"]
    );
    assert!(
        s.stress_plans_in_force(NOW + 3 * HOUR)
            .await
            .unwrap()
            .is_empty()
    );

    // The disclosure queue (ASMT-5).
    let mut tx = s.begin_write().await.unwrap();
    let mut r2 = tx
        .get_assessment_for_update("asm_2")
        .await
        .unwrap()
        .unwrap();
    let d = assessment::decide(
        &r2.facts,
        &AssessmentCommand::WindowEnded,
        Timestamp(NOW + HOUR),
    )
    .unwrap();
    r2.state = d.next.state;
    r2.facts = d.next;
    r2.disclosure_due_at = Some(NOW + 4 * HOUR);
    tx.update_assessment(&r2).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        ids(s
            .assessment_queue(AssessmentState::AwaitingDisclosure, 10)
            .await
            .unwrap()),
        ["asm_2"]
    );
    let got = s.get_assessment(&a, "asm_2").await.unwrap().unwrap();
    assert_eq!(got.disclosure_due_at, Some(NOW + 4 * HOUR));

    // A stored state this version does not know is an error naming the column.
    db.raw("UPDATE assessments SET state = 'paused' WHERE id = 'asm_4'")
        .await;
    let e = s.get_assessment(&a, "asm_4").await.unwrap_err().to_string();
    assert!(
        e.contains("assessments.state") && e.contains("paused"),
        "{e}"
    );
}

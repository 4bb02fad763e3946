//! The confidential vulnerability reports on both engines (ASMT-4): stored as given (sealed
//! bytes in, the same bytes out), the inbox newest first by state and by keyset page, counts per
//! state, a state change only from the state it was read in, the reporter's status by account
//! or by status-token digest with no text, and a status-token digest taken only once.

use warden_domain::vulnerability::{VulnerabilitySeverity, VulnerabilityState};
use warden_store::vulnerabilities::VulnerabilityRow;

use super::{Db, NOW};

fn vuln(id: &str, account: Option<&str>, token: Option<&str>, at: i64) -> VulnerabilityRow {
    VulnerabilityRow {
        id: id.into(),
        account_id: account.map(Into::into),
        reporter: account.map_or("anonymous".into(), |a| format!("usr_{a}")),
        status_token_sha256: token.map(Into::into),
        severity: VulnerabilitySeverity::High,
        state: VulnerabilityState::Received,
        // Not real ciphertext: the store keeps whatever bytes it is given, NUL and 0xff too.
        title_enc: vec![1, 0, 0xff, b't'],
        description_enc: vec![1, 2, 3, 0],
        details_enc: account.map(|_| vec![1, 9, 9]),
        component_enc: vec![1, 0xfe],
        received_at: at,
        updated_at: at,
        updated_by: None,
    }
}

pub(super) async fn vulnerability_reports_are_stored_listed_and_moved(db: &Db) {
    let s = &db.store;
    let rows = [
        vuln("vul_1", Some("acct_a"), None, NOW),
        vuln("vul_2", None, Some("digest-2"), NOW + 1),
        vuln("vul_3", Some("acct_b"), None, NOW + 2),
        vuln("vul_4", None, Some("digest-4"), NOW + 3),
    ];
    let mut tx = s.begin_write().await.unwrap();
    for r in &rows {
        tx.insert_vulnerability(r).await.unwrap();
    }
    tx.commit().await.unwrap();

    // A status token's digest is taken once; the failed insert leaves nothing behind.
    let mut tx = s.begin_write().await.unwrap();
    let e = tx
        .insert_vulnerability(&vuln("vul_5", None, Some("digest-2"), NOW + 4))
        .await
        .unwrap_err();
    assert!(e.is_unique_violation(), "{e}");
    drop(tx);

    let mut tx = s.begin_write().await.unwrap();
    assert_eq!(
        tx.get_vulnerability("vul_1").await.unwrap().unwrap(),
        rows[0]
    );
    assert_eq!(
        tx.get_vulnerability("vul_2").await.unwrap().unwrap(),
        rows[1]
    );
    assert_eq!(tx.get_vulnerability("vul_5").await.unwrap(), None);
    let ids = |v: Vec<VulnerabilityRow>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(tx.list_vulnerabilities(None, None, 50).await.unwrap()),
        ["vul_4", "vul_3", "vul_2", "vul_1"]
    );
    assert_eq!(
        ids(tx.list_vulnerabilities(None, None, 2).await.unwrap()),
        ["vul_4", "vul_3"]
    );
    assert_eq!(
        ids(tx
            .list_vulnerabilities(None, Some("vul_3"), 2)
            .await
            .unwrap()),
        ["vul_2", "vul_1"]
    );

    // A state change only from the state it was read in.
    use VulnerabilityState::{Fixed, Received, Rejected, Triaged};
    assert!(
        tx.set_vulnerability_state("vul_2", Received, Triaged, "usr_sec", NOW + 10)
            .await
            .unwrap()
    );
    assert!(
        !tx.set_vulnerability_state("vul_2", Received, Rejected, "usr_sec", NOW + 11)
            .await
            .unwrap()
    );
    assert!(
        !tx.set_vulnerability_state("vul_9", Received, Triaged, "usr_sec", NOW + 11)
            .await
            .unwrap()
    );
    assert!(
        tx.set_vulnerability_state("vul_3", Received, Fixed, "usr_sec", NOW + 12)
            .await
            .unwrap()
    );
    let moved = tx.get_vulnerability("vul_2").await.unwrap().unwrap();
    assert_eq!(
        (moved.state, moved.updated_at, moved.updated_by.as_deref()),
        (Triaged, NOW + 10, Some("usr_sec"))
    );
    assert_eq!(moved.title_enc, rows[1].title_enc);
    assert_eq!(
        ids(tx
            .list_vulnerabilities(Some(Received), None, 50)
            .await
            .unwrap()),
        ["vul_4", "vul_1"]
    );
    assert_eq!(
        ids(tx
            .list_vulnerabilities(Some(Triaged), None, 50)
            .await
            .unwrap()),
        ["vul_2"]
    );
    assert_eq!(
        ids(tx
            .list_vulnerabilities(Some(Received), Some("vul_4"), 50)
            .await
            .unwrap()),
        ["vul_1"]
    );
    assert_eq!(
        tx.count_vulnerabilities_by_state().await.unwrap(),
        [(Fixed, 1), (Received, 2), (Triaged, 1)]
    );
    tx.commit().await.unwrap();

    // The reporter's views: status only, by account or by token digest.
    let mine = s.vulnerability_statuses("acct_a", 50).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(
        (mine[0].id.as_str(), mine[0].state, mine[0].received_at),
        ("vul_1", Received, NOW)
    );
    assert!(s.vulnerability_statuses("", 50).await.unwrap().is_empty());
    assert!(
        s.vulnerability_statuses("acct_c", 50)
            .await
            .unwrap()
            .is_empty()
    );
    let by_token = s
        .vulnerability_status_by_token("digest-2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (by_token.id.as_str(), by_token.state, by_token.updated_at),
        ("vul_2", Triaged, NOW + 10)
    );
    assert_eq!(
        s.vulnerability_status_by_token("digest-9").await.unwrap(),
        None
    );
    assert_eq!(s.vulnerability_status_by_token("").await.unwrap(), None);

    // An unknown stored state is an error naming the column, never a default.
    db.raw("UPDATE vulnerability_reports SET state = 'published' WHERE id = 'vul_4'")
        .await;
    let mut tx = s.begin_write().await.unwrap();
    let e = tx.get_vulnerability("vul_4").await.unwrap_err().to_string();
    assert!(e.contains("vulnerability_reports.state"), "{e}");
}

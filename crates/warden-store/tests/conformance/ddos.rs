//! The DDoS tables on both engines (issue 12; DDOS-1..6, AUD-3): protection and its history,
//! traffic minutes folded per source and merged (max(api, sum of the flow nodes)), blackholes
//! per scope, attacks, self-service release attempts, and the retention of the series — hours
//! rolled up idempotently, minutes purged only with their hour rolled up, hours kept 180 days,
//! attack events and blackholes never purged.

use std::net::IpAddr;

use warden_domain::blackhole::{BlackholeFacts, Protection, ReleaseKind, State};
use warden_domain::identity::Scope;
use warden_domain::time::Timestamp;
use warden_store::ddos::{AttackEvent, BlackholeRow, HOUR_MS, Sample, TrafficHour, TrafficMinute};

use super::{Db, NOW};

const DAY: i64 = 86_400_000;
/// The hour holding NOW.
const H: i64 = NOW / HOUR_MS * HOUR_MS;
const IP_A: &str = "203.0.113.5";
const IP_B: &str = "198.51.100.7";
const IP_6: &str = "2001:db8::5";
const GBPS: u64 = 1_000_000_000;

impl Db {
    /// The first column of every row of `sql`, as integers.
    async fn ints(&self, sql: &str) -> Vec<i64> {
        use sqlx::Row;
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&self.url)
            .await
            .unwrap();
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_all(&pool)
            .await
            .unwrap();
        pool.close().await;
        rows.iter()
            .map(|r| r.try_get::<i64, _>(0).unwrap())
            .collect()
    }

    async fn count(&self, table: &str) -> i64 {
        self.ints(&format!("SELECT COUNT(*) FROM {table}")).await[0]
    }
}

fn sample(at: i64, in_bps: i64, in_pps: i64, out: (Option<i64>, Option<i64>)) -> Sample {
    Sample {
        at,
        in_bps,
        in_pps,
        out_bps: out.0,
        out_pps: out.1,
    }
}

async fn add(db: &Db, ip: &str, source: &str, samples: &[Sample]) {
    let mut tx = db.store.begin_write().await.unwrap();
    tx.add_traffic(ip, "acct_a", source, samples).await.unwrap();
    tx.commit().await.unwrap();
}

fn minute(
    at: i64,
    samples: i64,
    bps: (i64, i64),
    pps: (i64, i64),
    out: (Option<i64>, Option<i64>),
) -> TrafficMinute {
    TrafficMinute {
        minute: Timestamp(at),
        samples,
        in_bps_max: bps.0,
        in_bps_avg: bps.1,
        in_pps_max: pps.0,
        in_pps_avg: pps.1,
        out_bps_max: out.0,
        out_pps_max: out.1,
    }
}

/// DDOS-1: an IP without a row is basic; every change is kept in its history, oldest first,
/// per IP; a change rolled back leaves nothing.
pub(crate) async fn ddos_protection_is_set_read_and_kept_in_history(db: &Db) {
    let s = &db.store;
    let mut tx = s.begin_write().await.unwrap();
    assert_eq!(tx.ip_protection(IP_A).await.unwrap(), Protection::Basic);
    let hd = Protection::HighDefense {
        capacity_bps: 20 * GBPS,
    };
    tx.set_ip_protection(IP_A, "acct_a", hd, "usr_tenant", NOW)
        .await
        .unwrap();
    tx.set_ip_protection(IP_B, "acct_b", hd, "usr_other", NOW + 1)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = s.begin_write().await.unwrap();
    assert_eq!(tx.ip_protection(IP_A).await.unwrap(), hd);
    tx.set_ip_protection(IP_A, "acct_a", Protection::Basic, "usr_op", NOW + 2)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // Rolled back: neither the protection nor its history changes.
    let mut tx = s.begin_write().await.unwrap();
    tx.set_ip_protection(IP_A, "acct_a", hd, "usr_op", NOW + 3)
        .await
        .unwrap();
    drop(tx);
    let mut tx = s.begin_write().await.unwrap();
    assert_eq!(tx.ip_protection(IP_A).await.unwrap(), Protection::Basic);
    assert_eq!(tx.ip_protection(IP_6).await.unwrap(), Protection::Basic);
    drop(tx);
    let h = s.protection_history(IP_A).await.unwrap();
    let seen: Vec<(Protection, &str, i64)> = h
        .iter()
        .map(|c| (c.protection, c.actor.as_str(), c.at.millis()))
        .collect();
    assert_eq!(
        seen,
        [
            (hd, "usr_tenant", NOW),
            (Protection::Basic, "usr_op", NOW + 2)
        ]
    );
    assert_eq!(s.protection_history(IP_B).await.unwrap().len(), 1);
    assert!(s.protection_history(IP_6).await.unwrap().is_empty());
}

/// DDOS-2/6: samples fold into their minute per source (count, max, sum for the average,
/// outbound maxima where reported); a minute's sources merge as max(api, sum of the flow
/// nodes); reads start at the minute asked for, inclusive, and never mix IPs.
pub(crate) async fn ddos_traffic_folds_per_source_and_merges(db: &Db) {
    let s = &db.store;
    let m0 = H;
    add(
        db,
        IP_A,
        "api",
        &[
            sample(m0 + 1_000, 100, 10, (None, None)),
            sample(m0 + 2_000, 300, 30, (Some(50), Some(5))),
            sample(m0 + 59_999, 200, 20, (Some(40), None)),
            sample(m0 + 60_000, 400, 40, (None, None)),
        ],
    )
    .await;
    // Two flow nodes each see part of the IP's traffic in minute m0; one alone in m0+2.
    add(
        db,
        IP_A,
        "flow:n1",
        &[sample(m0 + 5_000, 1_000, 100, (Some(10), Some(1)))],
    )
    .await;
    add(
        db,
        IP_A,
        "flow:n2",
        &[
            sample(m0 + 6_000, 500, 50, (Some(20), None)),
            sample(m0 + 120_000, 70, 7, (None, None)),
        ],
    )
    .await;
    // Another IP's minute is its own.
    add(db, IP_B, "api", &[sample(m0, 9_999, 999, (None, None))]).await;
    let expected = vec![
        // api: 3 samples, max 300, avg 200 / 30, 20; flows: 1000 + 500, 100 + 50 — larger.
        // Outbound: api 50 beats 10 + 20; pps 5 beats 1 (+ nothing).
        minute(m0, 3, (1_500, 1_500), (150, 150), (Some(50), Some(5))),
        minute(m0 + 60_000, 1, (400, 400), (40, 40), (None, None)),
        minute(m0 + 120_000, 1, (70, 70), (7, 7), (None, None)),
    ];
    assert_eq!(s.traffic_of(IP_A, m0).await.unwrap(), expected);
    let mut tx = s.begin_write().await.unwrap();
    assert_eq!(tx.traffic_since(IP_A, m0).await.unwrap(), expected);
    assert_eq!(
        tx.traffic_since(IP_A, m0 + 60_000).await.unwrap(),
        expected[1..],
        "the start minute is included"
    );
    assert_eq!(
        tx.traffic_since(IP_A, m0 + 60_001).await.unwrap(),
        expected[2..]
    );
    assert!(
        tx.traffic_since(IP_A, m0 + 180_000)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(tx.traffic_since(IP_6, 0).await.unwrap().is_empty());
    drop(tx);
    assert_eq!(
        s.traffic_of(IP_B, 0).await.unwrap(),
        [minute(m0, 1, (9_999, 9_999), (999, 999), (None, None))]
    );
    // The api view alone: when the detectors see more than the flows add up to, it wins.
    add(
        db,
        IP_A,
        "api",
        &[sample(m0 + 30_000, 5_000, 500, (None, None))],
    )
    .await;
    let m = &s.traffic_of(IP_A, m0).await.unwrap()[0];
    assert_eq!(
        (m.samples, m.in_bps_max, m.in_bps_avg, m.in_pps_max),
        (4, 5_000, 1_500, 500),
        "max per field: api's peak, the flows' average"
    );
}

fn facts(ip: &str, state: State) -> BlackholeFacts {
    let mut f = BlackholeFacts::new(ip.parse::<IpAddr>().unwrap(), Protection::Basic, 2 * GBPS);
    f.state = state;
    f.started_at = Some(Timestamp(NOW));
    f.peak_bps = 5 * GBPS;
    f
}

fn blackhole(id: &str, ip: &str, acct: &str, state: State, started_at: i64) -> BlackholeRow {
    BlackholeRow {
        id: id.into(),
        ip: ip.into(),
        account_id: acct.into(),
        resource_id: format!("res_{acct}"),
        case_id: format!("case_{id}"),
        action_id: format!("act_{id}"),
        state,
        started_at,
        planned_end: (state == State::Active).then_some(started_at + 2 * HOUR_MS),
        ended_at: (state == State::Released).then_some(started_at + HOUR_MS),
        reason: "attack 5 Gbps over 2 Gbps".into(),
        facts: facts(ip, state),
        updated_at: started_at,
    }
}

/// DDOS-3/6: blackholes round-trip; the latest of an IP is the last started; an update stores
/// state, planned end, end, reason and facts and nothing else; lists are newest first, limited,
/// and a tenant's scope sees its own account only (nothing at all for `Nobody`).
pub(crate) async fn ddos_blackholes_are_stored_updated_and_listed_per_scope(db: &Db) {
    let s = &db.store;
    let b1 = blackhole("bh_1", IP_A, "acct_a", State::Active, NOW);
    let b2 = blackhole("bh_2", IP_6, "acct_a", State::Released, NOW + 1_000);
    let b3 = blackhole("bh_3", IP_B, "acct_b", State::Active, NOW + 2_000);
    let mut tx = s.begin_write().await.unwrap();
    for b in [&b1, &b2, &b3] {
        tx.insert_blackhole(b).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut tx = s.begin_write().await.unwrap();
    assert_eq!(tx.get_blackhole("bh_1").await.unwrap().as_ref(), Some(&b1));
    assert_eq!(tx.get_blackhole("bh_none").await.unwrap(), None);
    assert_eq!(tx.latest_blackhole(IP_A).await.unwrap().as_ref(), Some(&b1));
    assert_eq!(tx.latest_blackhole("192.0.2.1").await.unwrap(), None);
    // A second blackhole of IP_A, started later, is its latest.
    let b4 = blackhole("bh_4", IP_A, "acct_a", State::Active, NOW + 3_000);
    tx.insert_blackhole(&b4).await.unwrap();
    assert_eq!(tx.latest_blackhole(IP_A).await.unwrap().unwrap().id, "bh_4");
    // Released: the update keeps its identity columns whatever the row says.
    let mut released = b1.clone();
    released.state = State::Released;
    released.planned_end = None;
    released.ended_at = Some(NOW + 500);
    released.reason = "the attack stopped".into();
    released.facts.state = State::Released;
    released.facts.released_by = Some(ReleaseKind::Expired);
    released.updated_at = NOW + 500;
    let mut with_other_identity = released.clone();
    with_other_identity.ip = IP_B.into();
    with_other_identity.account_id = "acct_b".into();
    with_other_identity.started_at = 0;
    tx.update_blackhole(&with_other_identity).await.unwrap();
    assert_eq!(tx.get_blackhole("bh_1").await.unwrap(), Some(released));
    tx.commit().await.unwrap();
    let ids = |v: Vec<BlackholeRow>| v.into_iter().map(|b| b.id).collect::<Vec<_>>();
    let a = Scope::Account("acct_a".into());
    let b = Scope::Account("acct_b".into());
    assert_eq!(
        ids(s.list_blackholes(&Scope::All, false, 100).await.unwrap()),
        ["bh_4", "bh_3", "bh_2", "bh_1"]
    );
    assert_eq!(
        ids(s.list_blackholes(&Scope::All, true, 100).await.unwrap()),
        ["bh_4", "bh_3"]
    );
    assert_eq!(
        ids(s.list_blackholes(&a, false, 100).await.unwrap()),
        ["bh_4", "bh_2", "bh_1"]
    );
    assert_eq!(
        ids(s.list_blackholes(&a, true, 100).await.unwrap()),
        ["bh_4"]
    );
    assert_eq!(
        ids(s.list_blackholes(&b, false, 100).await.unwrap()),
        ["bh_3"]
    );
    assert_eq!(
        ids(s
            .list_blackholes(&Scope::Account("acct_c".into()), false, 100)
            .await
            .unwrap()),
        Vec::<String>::new()
    );
    assert!(
        s.list_blackholes(&Scope::Nobody, false, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(s.list_blackholes(&a, false, 2).await.unwrap()),
        ["bh_4", "bh_2"]
    );
    assert_eq!(s.list_blackholes(&a, false, 0).await.unwrap().len(), 1);
}

fn attack(id: &str, blackhole: &str, peak: i64) -> AttackEvent {
    AttackEvent {
        id: id.into(),
        ip: IP_A.into(),
        account_id: "acct_a".into(),
        resource_id: "res_acct_a".into(),
        blackhole_id: Some(blackhole.into()),
        started_at: NOW,
        peak_bps: peak,
        peak_pps: peak / 1000,
        evidence: r#"{"window_seconds":60}"#.into(),
    }
}

/// DDOS-3: an attack is recorded with its evidence; ending it sets its end and final peaks,
/// for that blackhole's attack only and once (a second end changes nothing).
pub(crate) async fn ddos_attacks_are_recorded_and_ended_once(db: &Db) {
    let s = &db.store;
    let mut tx = s.begin_write().await.unwrap();
    tx.insert_attack(&attack("atk_1", "bh_1", 5_000))
        .await
        .unwrap();
    tx.insert_attack(&attack("atk_2", "bh_2", 7_000))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let open = "SELECT COUNT(*) FROM attack_events WHERE ended_at IS NULL";
    assert_eq!(db.ints(open).await, [2]);
    let mut tx = s.begin_write().await.unwrap();
    tx.end_attack("bh_1", 9_000, 9, NOW + 100).await.unwrap();
    tx.end_attack("bh_1", 1, 1, NOW + 200).await.unwrap();
    tx.end_attack("bh_none", 1, 1, NOW + 200).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        db.ints("SELECT ended_at FROM attack_events WHERE id = 'atk_1'")
            .await,
        [NOW + 100]
    );
    assert_eq!(
        db.ints("SELECT peak_bps FROM attack_events ORDER BY id")
            .await,
        [9_000, 7_000]
    );
    assert_eq!(
        db.ints("SELECT peak_pps FROM attack_events WHERE id = 'atk_1'")
            .await,
        [9]
    );
    assert_eq!(db.ints(open).await, [1]);
}

/// DDOS-5: release attempts are per account, read from a start time on (inclusive), oldest
/// first, failed ones kept as failed.
pub(crate) async fn ddos_release_attempts_are_read_per_account_and_window(db: &Db) {
    let s = &db.store;
    let mut tx = s.begin_write().await.unwrap();
    tx.insert_release_attempt("acct_a", "bh_1", NOW + 20, true)
        .await
        .unwrap();
    tx.insert_release_attempt("acct_a", "bh_1", NOW - DAY, true)
        .await
        .unwrap();
    tx.insert_release_attempt("acct_a", "bh_2", NOW + 10, false)
        .await
        .unwrap();
    tx.insert_release_attempt("acct_b", "bh_3", NOW + 15, true)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = s.begin_write().await.unwrap();
    let seen = |v: Vec<warden_domain::blackhole::SelfServiceRelease>| {
        v.into_iter()
            .map(|r| (r.at.millis(), r.succeeded))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        seen(tx.account_releases("acct_a", NOW - DAY).await.unwrap()),
        [(NOW - DAY, true), (NOW + 10, false), (NOW + 20, true)]
    );
    assert_eq!(
        seen(tx.account_releases("acct_a", NOW + 10).await.unwrap()),
        [(NOW + 10, false), (NOW + 20, true)]
    );
    assert!(
        tx.account_releases("acct_a", NOW + 21)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        seen(tx.account_releases("acct_b", 0).await.unwrap()),
        [(NOW + 15, true)]
    );
    assert!(tx.account_releases("acct_c", 0).await.unwrap().is_empty());
}

fn hour(
    at: i64,
    samples: i64,
    bps: (i64, i64),
    pps: (i64, i64),
    out: (Option<i64>, Option<i64>),
) -> TrafficHour {
    minute(at, samples, bps, pps, out).into()
}

/// DDOS-6: minutes roll up into hours per source (samples and sums summed, maxima max'ed) and
/// the hourly series merges sources like a minute; rolling up again — or after a late sample —
/// recomputes the hour instead of adding to it.
pub(crate) async fn ddos_traffic_rolls_up_into_hours_idempotently(db: &Db) {
    let s = &db.store;
    let (h0, h1) = (H - 2 * HOUR_MS, H - HOUR_MS);
    add(
        db,
        IP_A,
        "api",
        &[
            sample(h0, 100, 10, (None, None)),
            sample(h0 + 1_000, 300, 30, (Some(8), None)),
            sample(h0 + 59 * 60_000, 200, 20, (Some(9), Some(2))),
            sample(h1 + 30 * 60_000, 50, 5, (None, None)),
        ],
    )
    .await;
    add(
        db,
        IP_A,
        "flow:n1",
        &[
            sample(h0 + 60_000, 250, 25, (None, None)),
            sample(h0 + 120_000, 150, 15, (None, None)),
        ],
    )
    .await;
    add(
        db,
        IP_A,
        "flow:n2",
        &[sample(h0 + 60_000, 100, 10, (Some(4), None))],
    )
    .await;
    add(db, IP_B, "api", &[sample(h0, 1, 1, (None, None))]).await;
    let mut tx = s.begin_write().await.unwrap();
    // (A, h0, api), (A, h0, flow:n1), (A, h0, flow:n2), (A, h1, api), (B, h0, api).
    assert_eq!(tx.roll_up_traffic(h0, H).await.unwrap(), 5);
    tx.commit().await.unwrap();
    let expected = vec![
        // api: 3 samples, max 300, sum 600 (avg 200); flows: n1 2 samples max 250 avg 200,
        // n2 1 sample 100 → 350 peak, 300 average, beating api's 300 and 200.
        hour(h0, 3, (350, 300), (35, 30), (Some(9), Some(2))),
        hour(h1, 1, (50, 50), (5, 5), (None, None)),
    ];
    assert_eq!(s.traffic_hours_of(IP_A, h0, H).await.unwrap(), expected);
    // Again: the same hours, not twice the samples.
    let before = db
        .ints("SELECT CAST(SUM(samples) AS BIGINT) FROM traffic_hours")
        .await;
    let mut tx = s.begin_write().await.unwrap();
    tx.roll_up_traffic(h0, H).await.unwrap();
    tx.roll_up_traffic(h0 + 1, H + 1).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        db.ints("SELECT CAST(SUM(samples) AS BIGINT) FROM traffic_hours")
            .await,
        before
    );
    assert_eq!(s.traffic_hours_of(IP_A, h0, H).await.unwrap(), expected);
    // A late sample joins h1's minute; the hour is recomputed with it, once.
    add(
        db,
        IP_A,
        "api",
        &[sample(h1 + 30 * 60_000 + 5, 150, 15, (None, None))],
    )
    .await;
    for _ in 0..2 {
        let mut tx = s.begin_write().await.unwrap();
        tx.roll_up_traffic(h1, H).await.unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(
        s.traffic_hours_of(IP_A, h1, H).await.unwrap(),
        [hour(h1, 2, (150, 100), (15, 10), (None, None))]
    );
    // Ranges: rounded down to the hour; empty ones write nothing; `to` is exclusive.
    let mut tx = s.begin_write().await.unwrap();
    assert_eq!(tx.roll_up_traffic(H, H).await.unwrap(), 0);
    assert_eq!(tx.roll_up_traffic(H, h0).await.unwrap(), 0);
    drop(tx);
    assert_eq!(
        s.traffic_hours_of(IP_A, h0 + 1, h1).await.unwrap(),
        expected[..1],
        "from is rounded down to its hour, to is exclusive"
    );
    assert_eq!(s.traffic_hours_of(IP_A, h1 + 1, H).await.unwrap().len(), 1);
    assert!(
        s.traffic_hours_of(IP_A, H, H + DAY)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.traffic_hours_of(IP_B, 0, H).await.unwrap(),
        [hour(h0, 1, (1, 1), (1, 1), (None, None))]
    );
    assert!(s.traffic_hours_of(IP_6, 0, H).await.unwrap().is_empty());
}

/// Issue 12, AUD-3: minutes older than their retention (never below 30 days) go whole hours
/// at a time and only in the transaction that rolled their hour up — even an hour no roll-up
/// ever saw keeps its traffic; hours go after 180 days (never fewer); attack events,
/// blackholes, release attempts and protection history are never purged.
pub(crate) async fn ddos_traffic_purge_keeps_hours_and_never_touches_attacks(db: &Db) {
    let s = &db.store;
    let old = H - 40 * DAY;
    // Three days of one minute per hour, 40 days ago; never rolled up.
    for h in 0..72 {
        add(
            db,
            IP_A,
            "api",
            &[sample(
                old + h * HOUR_MS + 60_000,
                1_000 + h,
                10,
                (None, None),
            )],
        )
        .await;
    }
    add(
        db,
        IP_A,
        "flow:n1",
        &[sample(old + 90_000, 7, 7, (None, None))],
    )
    .await;
    // Recent minutes stay.
    add(db, IP_A, "api", &[sample(H, 5, 5, (None, None))]).await;
    let mut tx = s.begin_write().await.unwrap();
    tx.insert_blackhole(&blackhole(
        "bh_old",
        IP_A,
        "acct_a",
        State::Released,
        old - 200 * DAY,
    ))
    .await
    .unwrap();
    tx.insert_attack(&AttackEvent {
        started_at: old - 200 * DAY,
        ..attack("atk_old", "bh_old", 1)
    })
    .await
    .unwrap();
    tx.insert_release_attempt("acct_a", "bh_old", old - 200 * DAY, true)
        .await
        .unwrap();
    tx.set_ip_protection(IP_A, "acct_a", Protection::Basic, "usr_op", old - 200 * DAY)
        .await
        .unwrap();
    // A retention below 30 days is read as 30: nothing of 40 days ago is that old 12 days on.
    assert_eq!(
        tx.purge_traffic_minutes(1, H - 12 * DAY).await.unwrap(),
        0,
        "nothing is younger than 30 days"
    );
    tx.commit().await.unwrap();
    assert_eq!(db.count("traffic_minutes").await, 74);
    // 40 days on: a day of hours per call, each rolled up before its minutes go.
    let mut removed = Vec::new();
    loop {
        let mut tx = s.begin_write().await.unwrap();
        let n = tx.purge_traffic_minutes(30, H).await.unwrap();
        tx.commit().await.unwrap();
        if n == 0 {
            break;
        }
        removed.push(n);
    }
    assert_eq!(
        removed,
        [25, 24, 24],
        "a day of hours per call (+ the flow's minute)"
    );
    assert_eq!(
        db.count("traffic_minutes").await,
        1,
        "the recent minute stays"
    );
    let hours = s.traffic_hours_of(IP_A, old, H).await.unwrap();
    assert_eq!(hours.len(), 72, "every purged hour was rolled up");
    assert_eq!(
        hours[0],
        hour(old, 1, (1_000, 1_000), (10, 10), (None, None))
    );
    assert_eq!(hours[71].in_bps_max, 1_071);
    assert!(
        s.traffic_hours_of(IP_A, H, H + HOUR_MS)
            .await
            .unwrap()
            .is_empty(),
        "the current hour is not rolled up by a purge"
    );
    // Rolling up the purged range again changes nothing (its minutes are gone).
    let mut tx = s.begin_write().await.unwrap();
    assert_eq!(tx.roll_up_traffic(old, old + 3 * DAY).await.unwrap(), 0);
    tx.commit().await.unwrap();
    assert_eq!(s.traffic_hours_of(IP_A, old, H).await.unwrap(), hours);
    // Hours: kept 180 days however short a retention is asked for.
    let mut tx = s.begin_write().await.unwrap();
    assert_eq!(tx.purge_traffic_hours(10, H).await.unwrap(), 0);
    assert_eq!(
        tx.purge_traffic_hours(180, old + 180 * DAY).await.unwrap(),
        0,
        "an hour exactly 180 days old stays"
    );
    assert_eq!(
        tx.purge_traffic_hours(180, old + 180 * DAY + 24 * HOUR_MS)
            .await
            .unwrap(),
        25,
        "the first day's hours (api and flow) go one by one as they pass 180 days"
    );
    tx.commit().await.unwrap();
    assert_eq!(db.count("traffic_hours").await, 48);
    // A year on, as the job runs it: the minutes (the last one's hour rolled up as it goes),
    // then the hours; everything else stays.
    let mut tx = s.begin_write().await.unwrap();
    assert_eq!(
        tx.purge_traffic_minutes(30, H + 400 * DAY).await.unwrap(),
        1
    );
    assert_eq!(
        tx.purge_traffic_hours(180, H + 400 * DAY).await.unwrap(),
        49
    );
    tx.commit().await.unwrap();
    for (table, n) in [
        ("traffic_minutes", 0),
        ("traffic_hours", 0),
        ("attack_events", 1),
        ("blackholes", 1),
        ("blackhole_releases", 1),
        ("ip_protection_history", 1),
    ] {
        assert_eq!(db.count(table).await, n, "{table}");
    }
}

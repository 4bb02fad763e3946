//! Traffic retention through the job worker on the manual clock (issue 12; DDOS-6, AUD-3): the
//! `traffic.rollup` job runs past every hour and rolls the hour's minutes up; re-running
//! changes nothing; 30 days on the minutes are gone and their hours remain, readable by the
//! IP's tenant only; 180 days on the hours go too. No sleeping on the clock: it is moved.

use serde_json::json;
use warden_app::Settings;
use warden_app::auth::Principal;
use warden_app::clock::Clock as _;
use warden_app::ddos_retention::ROLLUP_JOB;
use warden_store::jobs::JobState;

use crate::both_engines;
use crate::enforcement::until;
use crate::support::{Engine, T0, TestApp, spawn_app_with};

both_engines!(the_hourly_job_rolls_traffic_up_and_keeps_it_by_retention);

const IP: &str = "203.0.113.9";
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

async fn tenant(t: &TestApp, account: &str) -> Principal {
    let secret = t.token("tenant", Some(account)).await;
    t.app.authenticate(&secret).await.unwrap()
}

/// Moves the clock to `at` and waits until the roll-up job armed for then ran (it is armed
/// again, later, with where it stopped).
async fn run_job_at(t: &TestApp, at: i64) {
    let before = t.app.store.get_timer(ROLLUP_JOB).await.unwrap().unwrap();
    assert!(before.run_at <= at, "armed for {}", before.run_at);
    t.clock.advance(at - t.clock.now().millis());
    t.app.job_wakeup.notify_waiters();
    until("the roll-up job ran", async || {
        let j = t.app.store.get_timer(ROLLUP_JOB).await.unwrap().unwrap();
        j.state == JobState::Pending && j.run_at > before.run_at
    })
    .await;
}

async fn the_hourly_job_rolls_traffic_up_and_keeps_it_by_retention(engine: Engine) {
    let Some(t) = spawn_app_with(
        engine,
        Settings::default(),
        warden_app::lifecycle::LifecycleSettings::default(),
        true,
    )
    .await
    else {
        return;
    };
    for (id, ip) in [("acme", IP), ("other", "198.51.100.9")] {
        t.call(
            "POST",
            "/api/accounts",
            Some(&t.admin),
            Some(&json!({ "id": id, "name": id })),
        )
        .await;
        let (s, b) = t
            .call(
                "POST",
                "/api/resources",
                Some(&t.admin),
                Some(&json!({ "account_id": id, "product": "cvm", "identifiers": [{ "kind": "public_ip", "value": ip }] })),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    let (acme, other) = (tenant(&t, "acme").await, tenant(&t, "other").await);
    // Armed once, a few minutes past the next hour, however often the nodes start.
    t.app.arm_traffic_rollup().await.unwrap();
    t.app.arm_traffic_rollup().await.unwrap();
    let job = t.app.store.get_timer(ROLLUP_JOB).await.unwrap().unwrap();
    assert_eq!(job.run_at, T0 + HOUR + 5 * 60_000);
    // Ten minutes into the hour, a detector reports five seconds (1..5 Mbps, well in capacity).
    t.clock.advance(10 * 60_000);
    let det = t.token("detector", None).await;
    let now = t.clock.now().millis();
    let samples: Vec<_> = (1..=5_i64)
        .map(|i| {
            json!({
                "ip": IP,
                "at": warden_domain::time::Timestamp(now - i * 1000).to_rfc3339(),
                "in_bps": i * 1_000_000,
                "in_pps": i * 1_000,
            })
        })
        .collect();
    let (s, b) = t
        .call(
            "POST",
            "/api/telemetry",
            Some(&det),
            Some(&json!({ "samples": samples })),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let hours = async |who: &Principal| {
        t.app
            .ip_traffic_hours(who, IP, None, None)
            .await
            .map(|v| v.hours)
    };
    assert!(
        hours(&acme).await.unwrap().is_empty(),
        "nothing rolled up yet"
    );
    // Past the hour the job rolls it up: 5 samples, peak 5 Mbps, average 3 Mbps.
    run_job_at(&t, T0 + HOUR + 5 * 60_000).await;
    let rolled = hours(&acme).await.unwrap();
    assert_eq!(rolled.len(), 1, "{rolled:?}");
    let h = &rolled[0];
    assert_eq!(h.hour.millis(), T0);
    assert_eq!(
        (h.samples, h.in_bps_max, h.in_bps_avg, h.in_pps_max),
        (5, 5_000_000, 3_000_000, 5_000)
    );
    // Tenant isolation: another account's tenant does not find the IP.
    assert!(hours(&other).await.is_err());
    // Re-running (a retry, an overlapping node) counts nothing twice.
    for _ in 0..2 {
        let run = t.app.run_traffic_retention(Some(T0)).await.unwrap();
        assert_eq!((run.minutes_purged, run.hours_purged), (0, 0), "{run:?}");
    }
    assert_eq!(hours(&acme).await.unwrap(), rolled);
    // 31 days on, at the next run: the minutes are past 30 days and go, their hour stays.
    let next = t.app.store.get_timer(ROLLUP_JOB).await.unwrap().unwrap();
    run_job_at(&t, next.run_at + 31 * DAY).await;
    assert!(
        t.app.store.traffic_of(IP, 0).await.unwrap().is_empty(),
        "minutes older than 30 days are purged"
    );
    assert_eq!(hours(&acme).await.unwrap(), rolled, "the hour is kept");
    // A chart asking for an explicit range reads the same hour.
    let view = t
        .app
        .ip_traffic_hours(
            &acme,
            IP,
            Some(warden_domain::time::Timestamp(T0)),
            Some(warden_domain::time::Timestamp(T0 + HOUR)),
        )
        .await
        .unwrap();
    assert_eq!(view.hours, rolled);
    // 181 days on: the hour is past 180 days and goes.
    let next = t.app.store.get_timer(ROLLUP_JOB).await.unwrap().unwrap();
    run_job_at(&t, next.run_at.max(T0 + 181 * DAY + HOUR)).await;
    assert!(hours(&acme).await.unwrap().is_empty());
    assert!(
        t.app
            .store
            .traffic_hours_of(IP, 0, i64::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    t.stop().await;
}

//! The blackhole ladder and state machine (DDOS-1, DDOS-3, DDOS-4, DDOS-5): scenarios, and a
//! property test of its invariants over random command sequences.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::IpAddr;

use proptest::prelude::*;
use warden_domain::blackhole::{
    BlackholeError, BlackholeFacts, BlackholePolicy, Command, Decision, Effect, GBPS, MAX_STEP_MS,
    MIN_STEP_MS, NoticeKind, Protection, ProtectionPolicy, Refusal, ReleaseKind,
    SelfServiceRelease, State, Traffic, capacity_bps, decide, new_blackhole_step,
    self_service_quota,
};
use warden_domain::time::Timestamp;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

fn t(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn ip() -> IpAddr {
    "203.0.113.7".parse().unwrap()
}

fn basic() -> BlackholeFacts {
    BlackholeFacts::new(ip(), Protection::Basic, 2 * GBPS)
}

fn run(f: &BlackholeFacts, cmd: Command, now: Timestamp) -> Result<Decision, BlackholeError> {
    decide(f, &cmd, now, &BlackholePolicy::default())
}

fn attack(bps: u64) -> Command {
    Command::AttackDetected {
        peak_bps: bps,
        peak_pps: 1_000_000,
    }
}

fn planned_minutes(d: &Decision) -> i64 {
    (d.next.planned_end.unwrap().millis() - d.next.step_started_at.unwrap().millis()) / MINUTE
}

/// Blackholes `f` at `now` with an attack of `bps` and releases it by an operator right away.
fn blackhole_and_release(f: &BlackholeFacts, bps: u64, now: Timestamp) -> BlackholeFacts {
    let d = run(f, attack(bps), now).unwrap();
    assert_eq!(d.next.state, State::Active);
    run(
        &d.next,
        Command::OperatorRelease {
            reason: "test".into(),
        },
        now,
    )
    .unwrap()
    .next
}

#[test]
fn ddos1_capacity_in_force() {
    let mut p = ProtectionPolicy::default();
    assert_eq!(capacity_bps(&p, ip(), None, Protection::Basic), 2 * GBPS);
    p.regions.insert("ap-guangzhou".into(), 5 * GBPS);
    p.ips.insert(ip(), 10 * GBPS);
    let other: IpAddr = "2001:db8::1".parse().unwrap();
    assert_eq!(
        capacity_bps(&p, other, Some("ap-guangzhou"), Protection::Basic),
        5 * GBPS
    );
    assert_eq!(
        capacity_bps(&p, other, Some("ap-beijing"), Protection::Basic),
        2 * GBPS
    );
    assert_eq!(
        capacity_bps(&p, ip(), Some("ap-guangzhou"), Protection::Basic),
        10 * GBPS
    );
    let hd = Protection::HighDefense {
        capacity_bps: 300 * GBPS,
    };
    assert_eq!(capacity_bps(&p, other, None, hd), 300 * GBPS);
    // A package never lowers what basic protection gives.
    let small = Protection::HighDefense { capacity_bps: GBPS };
    assert_eq!(capacity_bps(&p, ip(), None, small), 10 * GBPS);
    p.basic_bps = 0;
    assert_eq!(p.validate().unwrap_err().field, "basic_bps");
}

#[test]
fn ddos3_first_blackhole_of_the_day_is_two_hours() {
    let now = t("2026-01-05T10:00:00+08:00");
    let d = run(&basic(), attack(3 * GBPS), now).unwrap();
    assert_eq!(d.next.state, State::Active);
    assert_eq!(d.next.planned_end, Some(now.plus_millis(2 * HOUR)));
    assert_eq!(
        d.effects,
        vec![
            Effect::Announce {
                ip: ip(),
                prefix_len: 32
            },
            Effect::ArmTimer {
                at: now.plus_millis(2 * HOUR)
            },
            Effect::Notify {
                kind: NoticeKind::BlackholeStarted
            },
            Effect::Audit {
                event: warden_domain::blackhole::AuditEvent::Started
            },
        ]
    );
    assert_eq!(d.why.code, "blackhole_started");
    assert!(d.reason.starts_with("DDOS-3"), "{}", d.reason);
    // IPv6 routes are /128.
    let v6 = BlackholeFacts::new("2001:db8::1".parse().unwrap(), Protection::Basic, 2 * GBPS);
    let d = run(&v6, attack(3 * GBPS), now).unwrap();
    assert!(matches!(
        d.effects.first(),
        Some(Effect::Announce {
            prefix_len: 128,
            ..
        })
    ));
}

#[test]
fn ddos3_within_capacity_no_blackhole() {
    let now = t("2026-01-05T10:00:00+08:00");
    let d = run(&basic(), attack(2 * GBPS), now).unwrap();
    assert_eq!(d.next.state, State::None);
    assert!(d.effects.is_empty());
    assert_eq!(d.why.code, "within_capacity");
}

#[test]
fn ddos3_repeats_the_same_provider_day_are_longer() {
    let morning = t("2026-01-05T08:00:00+08:00");
    let f = blackhole_and_release(&basic(), 3 * GBPS, morning);
    let d = run(&f, attack(3 * GBPS), morning.plus_millis(HOUR)).unwrap();
    assert_eq!(planned_minutes(&d), 240);
    let f = blackhole_and_release(&f, 3 * GBPS, morning.plus_millis(HOUR));
    let d = run(&f, attack(3 * GBPS), morning.plus_millis(2 * HOUR)).unwrap();
    assert_eq!(planned_minutes(&d), 480);
    // The provider-day (UTC+08:00) starts afresh at 00:00 local, not at 00:00 UTC.
    let next_day = t("2026-01-06T00:05:00+08:00");
    let d = run(&f, attack(3 * GBPS), next_day).unwrap();
    assert_eq!(planned_minutes(&d), 120);
    // 07:00 +08:00 on 5 January is 23:00 UTC on 4 January: for the provider it is the same
    // day as 10:00 +08:00 on 5 January; for UTC it is not.
    let early = t("2026-01-05T07:00:00+08:00");
    let s = new_blackhole_step(
        &BlackholePolicy::default(),
        &[early],
        t("2026-01-05T10:00:00+08:00"),
        3 * GBPS,
        2 * GBPS,
    );
    assert_eq!((s.earlier_today, s.step, s.duration_ms), (1, 1, 4 * HOUR));
    let utc = BlackholePolicy {
        utc_offset_minutes: 0,
        ..BlackholePolicy::default()
    };
    let s = new_blackhole_step(
        &utc,
        &[early],
        t("2026-01-05T10:00:00+08:00"),
        3 * GBPS,
        2 * GBPS,
    );
    assert_eq!((s.earlier_today, s.duration_ms), (0, 2 * HOUR));
}

#[test]
fn ddos3_a_huge_attack_is_longer() {
    let now = t("2026-01-05T10:00:00+08:00");
    // 4× capacity: one tier up; 10×: two.
    assert_eq!(
        planned_minutes(&run(&basic(), attack(8 * GBPS), now).unwrap()),
        240
    );
    assert_eq!(
        planned_minutes(&run(&basic(), attack(500 * GBPS), now).unwrap()),
        480
    );
}

#[test]
fn ddos3_every_step_is_within_30_minutes_and_24_hours() {
    let p = BlackholePolicy::default();
    for i in 0..100 {
        let ms = p.step_ms(i);
        assert!((MIN_STEP_MS..=MAX_STEP_MS).contains(&ms), "step {i}: {ms}");
    }
    assert_eq!(p.step_ms(99), MAX_STEP_MS);
    // Many repeats and a huge attack stay at 24 h.
    let s = new_blackhole_step(&p, &[Timestamp(0); 50], Timestamp(1), u64::MAX, 1);
    assert_eq!(s.duration_ms, MAX_STEP_MS);
    // An unvalidated policy out of bounds is clamped anyway.
    let wild = BlackholePolicy {
        steps_minutes: vec![1, 100_000],
        ..BlackholePolicy::default()
    };
    assert_eq!(wild.step_ms(0), MIN_STEP_MS);
    assert_eq!(wild.step_ms(1), MAX_STEP_MS);
    // and refused by validation, naming the step.
    assert_eq!(wild.validate().unwrap_err().field, "steps_minutes[0]");
    let err = decide(&basic(), &attack(3 * GBPS), Timestamp(0), &wild).unwrap_err();
    assert_eq!(err.code(), "invalid_policy");
    for (json, field) in [
        (r#"{"steps_minutes":[]}"#, "steps_minutes"),
        (r#"{"steps_minutes":[120,60]}"#, "steps_minutes[1]"),
        (r#"{"steps_minutes":[1441]}"#, "steps_minutes[0]"),
        (r#"{"size_multiples":[4,4]}"#, "size_multiples[1]"),
        (r#"{"size_multiples":[1]}"#, "size_multiples[0]"),
        (r#"{"utc_offset_minutes":900}"#, "utc_offset_minutes"),
    ] {
        let p: BlackholePolicy = serde_json::from_str(json).unwrap();
        assert_eq!(p.validate().unwrap_err().field, field, "{json}");
    }
    assert!(serde_json::from_str::<BlackholePolicy>(r#"{"steps":[120]}"#).is_err());
}

fn active(now: Timestamp) -> BlackholeFacts {
    run(&basic(), attack(3 * GBPS), now).unwrap().next
}

#[test]
fn ddos4_lifts_at_the_planned_end_only_when_the_attack_is_over() {
    let now = t("2026-01-05T10:00:00+08:00");
    let end = now.plus_millis(2 * HOUR);
    let f = active(now);
    // The timer never fires early.
    assert_eq!(
        run(&f, Command::TimerFired, end.plus_millis(-1))
            .unwrap_err()
            .code(),
        "timer_not_due"
    );
    // Quiet: lifts.
    let quiet = run(
        &f,
        Command::TrafficReport {
            observed: Some(GBPS / 10),
        },
        now.plus_millis(HOUR),
    )
    .unwrap();
    assert!(quiet.effects.is_empty());
    assert_eq!(
        quiet.next.state,
        State::Active,
        "a report alone never lifts"
    );
    let d = run(&quiet.next, Command::TimerFired, end).unwrap();
    assert_eq!(d.next.state, State::Released);
    assert_eq!(d.next.released_by, Some(ReleaseKind::Expired));
    assert_eq!(d.why.code, "blackhole_expired");
    assert_eq!(
        d.effects.first(),
        Some(&Effect::Withdraw {
            ip: ip(),
            prefix_len: 32
        })
    );
    assert!(!d.effects.contains(&Effect::CancelTimer), "the timer fired");
    // Still attacked: extended one step (4 h from now).
    let loud = run(
        &f,
        Command::TrafficReport {
            observed: Some(5 * GBPS),
        },
        now.plus_millis(HOUR),
    )
    .unwrap();
    let d = run(&loud.next, Command::TimerFired, end).unwrap();
    assert_eq!(d.next.state, State::Active);
    assert_eq!(d.why.code, "blackhole_extended_attack");
    assert_eq!(d.next.planned_end, Some(end.plus_millis(4 * HOUR)));
    assert_eq!(d.next.extensions, 1);
    assert!(d.effects.contains(&Effect::Notify {
        kind: NoticeKind::BlackholeExtended
    }));
    assert_eq!(d.next.peak_bps, 5 * GBPS, "the peak follows the reports");
    // The ladder stops at its last step: never more than 24 h in one step.
    let mut f = d.next;
    for _ in 0..10 {
        let at = f.planned_end.unwrap();
        f = run(&f, Command::TimerFired, at).unwrap().next;
        assert!(f.planned_end.unwrap().millis() - at.millis() <= MAX_STEP_MS);
    }
    assert_eq!(
        f.planned_end.unwrap().millis() - f.step_started_at.unwrap().millis(),
        MAX_STEP_MS
    );
}

#[test]
fn ddos4_no_data_extends_never_releases() {
    let now = t("2026-01-05T10:00:00+08:00");
    let end = now.plus_millis(2 * HOUR);
    // A quiet reading, then "no data": the latest is unknown.
    let f = active(now);
    let f = run(
        &f,
        Command::TrafficReport {
            observed: Some(GBPS / 10),
        },
        now.plus_millis(10 * MINUTE),
    )
    .unwrap()
    .next;
    let d = run(
        &f,
        Command::TrafficReport { observed: None },
        now.plus_millis(HOUR),
    )
    .unwrap();
    assert_eq!(d.next.state, State::Active);
    assert!(matches!(d.next.traffic, Traffic::NoData { .. }));
    let d = run(&d.next, Command::TimerFired, end).unwrap();
    assert_eq!(d.next.state, State::Active);
    assert_eq!(d.why.code, "blackhole_extended_no_data");
    assert_eq!(d.next.planned_end, Some(end.plus_millis(4 * HOUR)));
    // No self-service release on "no data" either, and the attempt does not use the quota.
    let s = run(
        &d.next,
        Command::SelfServiceEarlyRelease,
        end.plus_millis(MINUTE),
    )
    .unwrap();
    assert_eq!(s.next.state, State::Active);
    assert_eq!(s.why.code, "self_release_failed");
    assert_eq!(
        self_service_quota(
            &BlackholePolicy::default(),
            &s.next.account_releases,
            end.plus_millis(MINUTE)
        )
        .remaining,
        3
    );
}

#[test]
fn ddos5_an_upgrade_covering_the_peak_releases_at_once() {
    let now = t("2026-01-05T10:00:00+08:00");
    let f = active(now);
    let d = run(
        &f,
        Command::UpgradeProtection {
            capacity_bps: 20 * GBPS,
        },
        now.plus_millis(5 * MINUTE),
    )
    .unwrap();
    assert_eq!(d.next.state, State::Released);
    assert_eq!(d.next.released_by, Some(ReleaseKind::Upgrade));
    assert_eq!(d.next.capacity_bps, 20 * GBPS);
    assert!(d.effects.contains(&Effect::CancelTimer));
    assert!(d.effects.contains(&Effect::Withdraw {
        ip: ip(),
        prefix_len: 32
    }));
    assert_eq!(d.why.code, "released_by_upgrade");
}

#[test]
fn ddos5_an_upgrade_short_of_the_peak_is_refused_naming_the_shortfall() {
    let now = t("2026-01-05T10:00:00+08:00");
    let f = active(now);
    let err = run(
        &f,
        Command::UpgradeProtection {
            capacity_bps: 2_500_000_000,
        },
        now,
    )
    .unwrap_err();
    assert_eq!(
        err,
        BlackholeError::Refused(Refusal::UpgradeShort {
            capacity_bps: 2_500_000_000,
            peak_bps: 3 * GBPS,
            shortfall_bps: 500_000_000
        })
    );
    assert_eq!(err.code(), "upgrade_short_of_peak");
    assert!(err.to_string().contains("500000000 bps short"), "{err}");
}

/// A blackholed IP whose latest traffic is quiet, on the account with `releases`.
fn quiet_active(now: Timestamp, releases: &[SelfServiceRelease]) -> BlackholeFacts {
    let mut f = active(now);
    f.account_releases = releases.to_vec();
    run(
        &f,
        Command::TrafficReport {
            observed: Some(GBPS / 10),
        },
        now,
    )
    .unwrap()
    .next
}

#[test]
fn ddos5_self_service_three_a_month_then_refused_naming_the_reset() {
    let mut now = t("2026-01-10T10:00:00+08:00");
    // A failed attempt (the attack still going) first: it does not count.
    let loud = active(now);
    let d = run(&loud, Command::SelfServiceEarlyRelease, now).unwrap();
    assert_eq!(d.next.state, State::Active);
    assert_eq!(d.next.account_releases.len(), 1);
    let mut releases = d.next.account_releases.clone();
    for i in 0..3 {
        now = now.plus_millis(HOUR);
        let f = quiet_active(now, &releases);
        let d = run(&f, Command::SelfServiceEarlyRelease, now).unwrap();
        assert_eq!(d.next.state, State::Released, "release {i}");
        assert_eq!(d.next.released_by, Some(ReleaseKind::SelfService));
        releases = d.next.account_releases.clone();
    }
    let q = self_service_quota(&BlackholePolicy::default(), &releases, now);
    assert_eq!((q.limit, q.used, q.remaining), (3, 3, 0));
    let f = quiet_active(now.plus_millis(HOUR), &releases);
    let err = run(&f, Command::SelfServiceEarlyRelease, now.plus_millis(HOUR)).unwrap_err();
    let resets = t("2026-02-01T00:00:00+08:00");
    assert_eq!(
        err,
        BlackholeError::Refused(Refusal::QuotaUsedUp {
            limit: 3,
            resets_at: resets
        })
    );
    assert!(
        err.to_string().contains("2026-01-31T16:00:00.000Z"),
        "{err}"
    );
}

#[test]
fn ddos5_quota_resets_at_the_provider_month_boundary() {
    let p = BlackholePolicy::default();
    let used: Vec<_> = [
        "2026-01-05T10:00:00+08:00",
        "2026-01-20T10:00:00+08:00",
        // 2026-02-01 00:10 +08:00 is still January in UTC, but February for the provider.
        "2026-01-31T23:30:00+08:00",
    ]
    .iter()
    .map(|s| SelfServiceRelease {
        at: t(s),
        succeeded: true,
    })
    .collect();
    let before = self_service_quota(&p, &used, t("2026-01-31T23:45:00+08:00"));
    assert_eq!(before.remaining, 0);
    assert_eq!(before.resets_at, t("2026-02-01T00:00:00+08:00"));
    let after = self_service_quota(&p, &used, t("2026-02-01T00:10:00+08:00"));
    assert_eq!((after.used, after.remaining), (0, 3));
    assert_eq!(after.resets_at, t("2026-03-01T00:00:00+08:00"));
    // In a UTC provider zone both instants are January.
    let utc = BlackholePolicy {
        utc_offset_minutes: 0,
        ..BlackholePolicy::default()
    };
    assert_eq!(
        self_service_quota(&utc, &used, t("2026-02-01T00:10:00+08:00")).remaining,
        0
    );
    // Failed attempts never count.
    let failed: Vec<_> = (0..10)
        .map(|i| SelfServiceRelease {
            at: t("2026-01-05T10:00:00+08:00").plus_millis(i * MINUTE),
            succeeded: false,
        })
        .collect();
    assert_eq!(
        self_service_quota(&p, &failed, t("2026-01-06T10:00:00+08:00")).remaining,
        3
    );
    // December rolls into the next year.
    assert_eq!(
        self_service_quota(&p, &[], t("2026-12-15T10:00:00+08:00")).resets_at,
        t("2027-01-01T00:00:00+08:00")
    );
}

#[test]
fn operator_release_needs_a_reason() {
    let now = t("2026-01-05T10:00:00+08:00");
    let f = active(now);
    for blank in ["", "   "] {
        let err = run(
            &f,
            Command::OperatorRelease {
                reason: blank.into(),
            },
            now,
        )
        .unwrap_err();
        assert_eq!(err.code(), "missing_field");
    }
    let d = run(
        &f,
        Command::OperatorRelease {
            reason: " false positive: load test ".into(),
        },
        now,
    )
    .unwrap();
    assert_eq!(d.next.state, State::Released);
    assert_eq!(d.why.arg("note"), Some("false positive: load test"));
}

#[test]
fn nothing_to_release_or_fire_outside_a_blackhole() {
    let now = t("2026-01-05T10:00:00+08:00");
    for cmd in [
        Command::TimerFired,
        Command::SelfServiceEarlyRelease,
        Command::UpgradeProtection {
            capacity_bps: 100 * GBPS,
        },
        Command::OperatorRelease { reason: "x".into() },
    ] {
        assert_eq!(
            run(&basic(), cmd, now).unwrap_err().code(),
            "invalid_transition"
        );
    }
}

// ---- property test ----

/// The caller's model: stores each decision, carries out its effects, checks the invariants.
#[derive(Debug)]
struct Model {
    facts: BlackholeFacts,
    now: Timestamp,
    announced: bool,
    announces: u32,
    withdraws: u32,
    timer: Option<Timestamp>,
}

impl Model {
    fn step(&mut self, cmd: &Command) {
        let before = self.facts.clone();
        let policy = BlackholePolicy::default();
        let Ok(d) = decide(&before, cmd, self.now, &policy) else {
            return;
        };
        for e in &d.effects {
            match e {
                Effect::Announce { prefix_len, .. } => {
                    assert!(!self.announced, "announced twice: {d:?}");
                    assert_eq!(*prefix_len, 32);
                    self.announced = true;
                    self.announces += 1;
                }
                Effect::Withdraw { .. } => {
                    assert!(self.announced, "withdraw without an announce: {d:?}");
                    self.announced = false;
                    self.withdraws += 1;
                }
                Effect::ArmTimer { at } => {
                    assert!(*at > self.now);
                    self.timer = Some(*at);
                }
                Effect::CancelTimer => self.timer = None,
                Effect::Notify { .. } | Effect::Audit { .. } => {}
            }
        }
        let next = &d.next;
        if matches!(cmd, Command::TimerFired) && before.state == State::Active {
            // The timer fired (and is re-armed by an extension).
            if next.state == State::Released {
                self.timer = None;
            }
        }
        // Released only from an active blackhole, and only by a rule that allows it.
        if before.state == State::Active && next.state == State::Released {
            match next.released_by {
                Some(ReleaseKind::Expired | ReleaseKind::SelfService) => {
                    let Traffic::Known { bps, .. } = before.traffic else {
                        panic!("released on unknown traffic: {before:?} {cmd:?}");
                    };
                    assert!(bps <= before.capacity_bps, "released while attacked: {d:?}");
                }
                Some(ReleaseKind::Upgrade) => {
                    assert!(next.capacity_bps >= before.peak_bps, "{d:?}");
                }
                Some(ReleaseKind::Operator) => {
                    assert!(
                        matches!(cmd, Command::OperatorRelease { reason } if !reason.trim().is_empty())
                    );
                }
                None => panic!("released without a kind: {d:?}"),
            }
        }
        if let Command::TrafficReport { observed: None } = cmd {
            assert_eq!(next.state, before.state, "no data changed the state");
        }
        self.facts = d.next;
        self.check();
    }

    fn check(&self) {
        let f = &self.facts;
        assert_eq!(self.announced, f.state == State::Active, "{self:?}");
        assert!(self.withdraws <= self.announces);
        assert!(self.announces - self.withdraws <= 1);
        if f.state == State::Active {
            let planned = f.planned_end.unwrap().millis() - f.step_started_at.unwrap().millis();
            assert!(
                (MIN_STEP_MS..=MAX_STEP_MS).contains(&planned),
                "planned {planned} ms: {f:?}"
            );
            assert_eq!(self.timer, f.planned_end, "timer vs planned end: {self:?}");
        } else {
            assert_eq!(self.timer, None, "stray timer: {self:?}");
        }
        let q = self_service_quota(&BlackholePolicy::default(), &f.account_releases, self.now);
        assert!(q.used <= q.limit, "quota overdrawn: {q:?}");
        assert_eq!(q.remaining, q.limit - q.used);
    }
}

fn arb_bps() -> impl Strategy<Value = u64> {
    prop_oneof![
        2 => 0u64..2 * GBPS,
        3 => 2 * GBPS..30 * GBPS,
        1 => Just(2 * GBPS),
        1 => 30 * GBPS..1000 * GBPS,
    ]
}

fn arb_command() -> impl Strategy<Value = Command> {
    prop_oneof![
        3 => (arb_bps(), 0u64..10_000_000).prop_map(|(peak_bps, peak_pps)| Command::AttackDetected { peak_bps, peak_pps }),
        4 => Just(Command::TimerFired),
        4 => proptest::option::weighted(0.6, arb_bps()).prop_map(|observed| Command::TrafficReport { observed }),
        1 => arb_bps().prop_map(|capacity_bps| Command::UpgradeProtection { capacity_bps }),
        2 => Just(Command::SelfServiceEarlyRelease),
        1 => prop_oneof![Just(""), Just(" "), Just("false positive")]
            .prop_map(|r| Command::OperatorRelease { reason: r.to_string() }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// DDOS-3/4/5 invariants: every active step lasts 30 min..24 h; never released while the
    /// latest known traffic exceeds capacity except by an operator or a covering upgrade; "no
    /// data" never releases; each Announce is matched by at most one Withdraw; the quota is
    /// never overdrawn.
    #[test]
    fn blackhole_invariants_hold(
        steps in proptest::collection::vec((0i64..10 * HOUR, proptest::bool::weighted(0.3), arb_command()), 1..60),
    ) {
        let mut m = Model {
            facts: basic(),
            now: t("2026-01-28T10:00:00+08:00"),
            announced: false,
            announces: 0,
            withdraws: 0,
            timer: None,
        };
        for (advance, to_timer, cmd) in steps {
            // Sometimes jump to the armed timer, as the scheduler would.
            m.now = match (to_timer, m.timer) {
                (true, Some(at)) => at.max(m.now),
                _ => m.now.plus_millis(advance),
            };
            m.step(&cmd);
        }
    }
}

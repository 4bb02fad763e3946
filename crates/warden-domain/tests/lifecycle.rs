//! The case lifecycle (LIFE-1..5, UNB-1..6, HARM-1/2): scenario tests for each rule, and a
//! property test that drives random command sequences through `decide` against a model that
//! carries the effects out.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use warden_domain::lifecycle::{
    ActionRecord, ActionState, CaseFacts, Command, Decision, Effect, LifecycleError,
    LifecyclePolicy, NoticeKind, Refusal, State, UnblockRoute, decide, unblock_eligibility,
};
use warden_domain::penalty::{Action, PenaltyMatrix, PlannedAction, plan};
use warden_domain::resource::Product;
use warden_domain::taxonomy::{Kind, Level};
use warden_domain::time::Timestamp;

const HOUR: i64 = 60 * 60 * 1000;
const T0: Timestamp = Timestamp(1_700_000_000_000);

fn facts(product: Product, kind: Kind) -> CaseFacts {
    CaseFacts {
        state: State::Reported,
        level: None,
        product: Some(product),
        kind,
        first_offence: true,
        regulator: false,
        account_violations: 0,
        open_unblock_request: None,
        actions: vec![],
        deadline: None,
        self_unblock_failed: false,
    }
}

/// The model of the caller: stores the decision and carries the effects out, checking the
/// invariants the property test names as it goes.
#[derive(Debug, Clone)]
struct Model {
    case: CaseFacts,
    timers: Vec<Timestamp>,
    ever_enforced: bool,
    now: Timestamp,
}

impl Model {
    fn new(case: CaseFacts) -> Self {
        Model {
            case,
            timers: vec![],
            ever_enforced: false,
            now: T0,
        }
    }

    fn run(&mut self, cmd: &Command) -> Result<Decision, LifecycleError> {
        let policy = LifecyclePolicy::default();
        let d = decide(&self.case, cmd, self.now, &policy)?;
        self.apply(cmd, &d);
        Ok(d)
    }

    fn apply(&mut self, cmd: &Command, d: &Decision) {
        // What the caller records from the command itself.
        match cmd {
            Command::Confirm { level, planned } => {
                self.case.level = Some(*level);
                self.case
                    .actions
                    .extend(planned.iter().map(|p| ActionRecord {
                        action: p.action,
                        no_unblock: p.no_unblock,
                        state: ActionState::Pending,
                    }));
            }
            Command::DeadlinePassed { .. } => {
                // The timer fired.
                let now = self.now;
                self.timers.retain(|t| *t > now);
            }
            Command::RequestSelfUnblock { .. } => {
                self.case.open_unblock_request = Some(UnblockRoute::SelfService)
            }
            Command::RequestManualUnblock => {
                self.case.open_unblock_request = Some(UnblockRoute::Manual)
            }
            Command::SelfUnblockResult { clean, .. } => {
                self.case.open_unblock_request = None;
                if !clean {
                    self.case.self_unblock_failed = true;
                }
            }
            Command::ReviewApprove { .. } | Command::ReviewReject { .. } => {
                self.case.open_unblock_request = None
            }
            Command::Accept { .. }
            | Command::Dismiss { .. }
            | Command::Rectified
            | Command::WithdrawUnblock
            | Command::LiftByTicket
            | Command::Enforce { .. } => {}
        }
        for effect in &d.effects {
            match effect {
                Effect::ArmTimer { at } => {
                    self.timers.push(*at);
                    self.case.deadline = Some(*at);
                }
                Effect::CancelTimer => self.timers.clear(),
                Effect::Enforce(actions) => {
                    assert!(!actions.is_empty(), "empty Enforce effect");
                    self.ever_enforced = true;
                    for p in actions {
                        let rec = self.case.actions.iter_mut().find(|r| {
                            r.action == p.action
                                && r.no_unblock == p.no_unblock
                                && r.state != ActionState::Lifted
                        });
                        match rec {
                            Some(r) => r.state = ActionState::Applied,
                            None => self.case.actions.push(ActionRecord {
                                action: p.action,
                                no_unblock: p.no_unblock,
                                state: ActionState::Applied,
                            }),
                        }
                    }
                }
                Effect::Lift(actions) => {
                    assert!(self.ever_enforced, "Lift before any Enforce: {d:?}");
                    for a in actions {
                        for r in self.case.actions.iter_mut() {
                            if r.action == *a && r.state != ActionState::Lifted {
                                assert!(!r.no_unblock, "lifted a no_unblock {a}: {d:?}");
                                assert_ne!(r.state, ActionState::Pending, "lifted unapplied {a}");
                                r.state = ActionState::Lifted;
                            }
                        }
                    }
                }
                Effect::Notify { .. } | Effect::Recheck => {}
            }
        }
        self.case.state = d.next;
    }

    fn check_invariants(&self) {
        let case = &self.case;
        // No case is lifted without having been enforced.
        if case.state == State::Lifted {
            assert!(self.ever_enforced, "lifted, never enforced: {case:?}");
        }
        // A no_unblock action is never lifted.
        assert!(
            case.actions
                .iter()
                .all(|r| !(r.no_unblock && r.state == ActionState::Lifted)),
            "no_unblock lifted: {case:?}"
        );
        // Every enforced case has at least one action in force.
        if matches!(case.state, State::Enforced | State::UnblockRequested) {
            assert!(
                case.actions.iter().any(|r| r.state == ActionState::Applied),
                "enforced without actions: {case:?}"
            );
        }
        // A refusal sends the tenant to a ticket exactly when a reviewer can lift something on
        // it (UNB-4, TKT-1, PEN-3): never to a ticket that can only be refused.
        if case.state == State::Enforced
            && case.open_unblock_request.is_none()
            && let Err(r) = unblock_eligibility(case, &LifecyclePolicy::default())
        {
            let offers = r.message().contains("file a ticket");
            let lifts = decide(
                case,
                &Command::LiftByTicket,
                self.now,
                &LifecyclePolicy::default(),
            )
            .is_ok();
            assert_eq!(
                offers, lifts,
                "{r}: a ticket offered {offers}, lifts {lifts}"
            );
        }
        // Every alerting case has exactly one armed deadline timer; no other case has one.
        if case.state == State::Alerting {
            assert_eq!(self.timers.len(), 1, "alerting timers: {self:?}");
            assert_eq!(case.deadline, self.timers.first().copied());
        } else {
            assert!(self.timers.is_empty(), "stray timer: {self:?}");
        }
    }
}

fn confirm(level: Level, m: &Model) -> Command {
    Command::Confirm {
        level,
        planned: plan(
            &PenaltyMatrix::default(),
            m.case.product.unwrap(),
            level,
            m.case.kind,
        ),
    }
}

fn refusal(r: Result<Decision, LifecycleError>) -> Refusal {
    match r {
        Err(LifecycleError::Refused(refusal)) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn planned(action: Action, no_unblock: bool) -> PlannedAction {
    PlannedAction { action, no_unblock }
}

/// LIFE-1: a general first offence alerts with a 24 h deadline and an armed timer; asking to
/// unblock is refused with "not blocked, rectify before the deadline"; rectifying resolves and
/// cancels the timer.
#[test]
fn life1_general_first_offence_alerts_then_rectified() {
    let mut m = Model::new(facts(Product::Cvm, Kind::Content));
    let d = m.run(&confirm(Level::General, &m)).unwrap();
    assert_eq!(d.next, State::Alerting);
    let at = T0.plus_millis(24 * HOUR);
    assert_eq!(
        d.effects,
        [
            Effect::ArmTimer { at },
            Effect::Notify {
                kind: NoticeKind::Alerting
            }
        ]
    );
    assert_eq!(m.case.deadline, Some(at));
    m.check_invariants();

    let r = refusal(m.run(&Command::RequestSelfUnblock {
        commitment_confirmed: true,
    }));
    assert_eq!(r.code(), "not_blocked_yet");
    assert!(
        r.to_string()
            .contains("not blocked, rectify before the deadline")
    );
    assert_eq!(
        unblock_eligibility(&m.case, &LifecyclePolicy::default())
            .unwrap_err()
            .code(),
        "not_blocked_yet"
    );

    let d = m.run(&Command::Rectified).unwrap();
    assert_eq!(d.next, State::Resolved);
    assert_eq!(d.effects.first(), Some(&Effect::CancelTimer));
    m.check_invariants();
    assert!(!m.ever_enforced);
}

/// LIFE-2: at the deadline, still violating → enforced with the matrix's actions; clean →
/// resolved. The timer never fires early.
#[test]
fn life2_deadline_enforces_or_resolves() {
    let mut m = Model::new(facts(Product::Cvm, Kind::Content));
    m.run(&confirm(Level::General, &m)).unwrap();
    m.now = T0.plus_millis(HOUR);
    let early = m.run(&Command::DeadlinePassed {
        still_violating: true,
    });
    assert!(matches!(
        early,
        Err(LifecycleError::DeadlineNotReached { .. })
    ));
    let mut clean = m.clone();

    m.now = T0.plus_millis(25 * HOUR);
    let d = m
        .run(&Command::DeadlinePassed {
            still_violating: true,
        })
        .unwrap();
    assert_eq!(d.next, State::Enforced);
    assert_eq!(
        d.effects.first(),
        Some(&Effect::Enforce(vec![planned(Action::BlockUrl, false)]))
    );
    m.check_invariants();

    clean.now = T0.plus_millis(24 * HOUR);
    let d = clean
        .run(&Command::DeadlinePassed {
            still_violating: false,
        })
        .unwrap();
    assert_eq!(d.next, State::Resolved);
    clean.check_invariants();
}

/// LIFE-3 (and LIFE-1 for repeat offenders): serious, especially serious, and general repeat
/// offences are enforced at once; an empty plan is refused.
#[test]
fn life3_serious_cases_enforced_at_once() {
    for (level, first) in [
        (Level::Serious, true),
        (Level::EspeciallySerious, true),
        (Level::General, false),
    ] {
        let mut case = facts(Product::Cos, Kind::Content);
        case.first_offence = first;
        let mut m = Model::new(case);
        let cmd = confirm(level, &m);
        let d = m.run(&cmd).unwrap();
        assert_eq!(d.next, State::Enforced, "{level:?}");
        let Command::Confirm { planned, .. } = cmd else {
            unreachable!()
        };
        assert_eq!(d.effects.first(), Some(&Effect::Enforce(planned)));
        m.check_invariants();
    }
    let m = Model::new(facts(Product::Cos, Kind::Content));
    let empty = Command::Confirm {
        level: Level::Serious,
        planned: vec![],
    };
    assert_eq!(
        decide(&m.case, &empty, T0, &LifecyclePolicy::default()),
        Err(LifecycleError::EmptyPlan)
    );
    let twice = Command::Confirm {
        level: Level::Serious,
        planned: vec![
            planned(Action::DeleteFile, false),
            planned(Action::DeleteFile, true),
        ],
    };
    let err = decide(&m.case, &twice, T0, &LifecyclePolicy::default()).unwrap_err();
    assert_eq!(err.code(), "duplicate_action");
    assert!(err.to_string().contains("delete_file"), "{err}");
}

/// Triage: a dismissal needs a reason; dismissed cases take nothing more.
#[test]
fn dismissal_needs_a_reason() {
    let mut m = Model::new(facts(Product::Cdn, Kind::Content));
    let err = m
        .run(&Command::Dismiss {
            reason: "  ".into(),
        })
        .unwrap_err();
    assert!(err.to_string().starts_with("reason"), "{err}");
    let d = m
        .run(&Command::Dismiss {
            reason: "duplicate".into(),
        })
        .unwrap();
    assert_eq!(d.next, State::Dismissed);
    assert!(m.run(&confirm(Level::General, &m)).is_err());
}

fn enforced_general(product: Product) -> Model {
    let mut case = facts(product, Kind::Content);
    case.first_offence = false;
    let mut m = Model::new(case);
    m.run(&confirm(Level::General, &m)).unwrap();
    assert_eq!(m.case.state, State::Enforced);
    m
}

/// UNB-1: self-service needs the commitment, re-checks, and a clean re-check lifts every action.
#[test]
fn unb1_self_service_unblock_lifts() {
    let mut m = enforced_general(Product::Cdn);
    let err = m
        .run(&Command::RequestSelfUnblock {
            commitment_confirmed: false,
        })
        .unwrap_err();
    assert!(err.to_string().contains("commitment_confirmed"), "{err}");
    let d = m
        .run(&Command::RequestSelfUnblock {
            commitment_confirmed: true,
        })
        .unwrap();
    assert_eq!(d.next, State::UnblockRequested);
    assert!(d.effects.contains(&Effect::Recheck));
    let d = m
        .run(&Command::SelfUnblockResult {
            clean: true,
            still_violating_urls: vec![],
        })
        .unwrap();
    assert_eq!(d.next, State::Lifted);
    assert_eq!(
        d.effects.first(),
        Some(&Effect::Lift(vec![Action::BlockUrl]))
    );
    m.check_invariants();
}

/// UNB-2 and UNB-3: a failed re-check names the URLs; then manual unblock goes to a reviewer,
/// cannot be withdrawn, and a rejection needs a reason; an approval lifts.
#[test]
fn unb2_unb3_failed_self_service_then_manual_review() {
    let mut m = enforced_general(Product::Cvm);
    assert_eq!(
        m.run(&Command::RequestManualUnblock),
        Err(LifecycleError::SelfServiceFirst)
    );
    m.run(&Command::RequestSelfUnblock {
        commitment_confirmed: true,
    })
    .unwrap();
    let url = "http://shop.example.com/bad".to_string();
    let d = m
        .run(&Command::SelfUnblockResult {
            clean: false,
            still_violating_urls: vec![url.clone()],
        })
        .unwrap();
    assert_eq!(d.next, State::Enforced);
    assert!(d.reason.contains(&url) && d.reason.contains("UNB-2"));
    // UI-2: the same reason in codes, for the console's languages.
    assert_eq!(d.why.code, "self_unblock_failed");
    assert_eq!(d.why.arg("urls"), Some(url.as_str()));
    assert!(m.case.self_unblock_failed);

    let d = m.run(&Command::RequestManualUnblock).unwrap();
    assert_eq!(d.next, State::UnblockRequested);
    assert_eq!(
        m.run(&Command::WithdrawUnblock),
        Err(LifecycleError::CannotWithdraw)
    );
    // UNB-6: one open request per case.
    assert_eq!(
        refusal(m.run(&Command::RequestManualUnblock)).code(),
        "request_already_open"
    );
    // A self-service result does not decide a manual request.
    assert!(
        m.run(&Command::SelfUnblockResult {
            clean: true,
            still_violating_urls: vec![]
        })
        .is_err()
    );
    let err = m
        .run(&Command::ReviewReject { reason: "".into() })
        .unwrap_err();
    assert!(err.to_string().starts_with("reason"), "{err}");
    let d = m
        .run(&Command::ReviewReject {
            reason: "the URL still has violating content".into(),
        })
        .unwrap();
    assert_eq!(d.next, State::Enforced);
    assert!(d.reason.contains("the URL still has violating content"));
    assert_eq!(d.why.code, "manual_unblock_rejected");
    assert_eq!(
        d.why.arg("note"),
        Some("the URL still has violating content")
    );

    m.run(&Command::RequestManualUnblock).unwrap();
    let d = m
        .run(&Command::ReviewApprove {
            reason: Some(" checked by hand ".into()),
        })
        .unwrap();
    assert_eq!(d.next, State::Lifted);
    assert!(
        d.reason
            .ends_with("approved by a reviewer: checked by hand"),
        "{}",
        d.reason
    );
    assert_eq!(d.why.code, "manual_unblock_approved");
    assert_eq!(d.why.arg("note"), Some("checked by hand"));
    m.check_invariants();
}

/// UNB-4, UNB-5: each rule refuses with its own code and a message naming it.
#[test]
fn unb4_unb5_refusals_name_the_rule() {
    let policy = LifecyclePolicy::default();
    let code = |m: &Model| unblock_eligibility(&m.case, &policy).unwrap_err();

    let mut m = Model::new(facts(Product::Cdn, Kind::Content));
    m.run(&confirm(Level::Serious, &m)).unwrap();
    let r = code(&m);
    assert_eq!(r.code(), "level_not_unblockable");
    assert!(r.to_string().contains("UNB-4"));

    let mut m = enforced_general(Product::Cvm);
    m.case.actions[0].no_unblock = true;
    let r = code(&m);
    assert_eq!(r.code(), "action_not_unblockable");
    assert!(r.to_string().contains("block_url"));

    let mut m = enforced_general(Product::Cvm);
    m.case.regulator = true;
    assert_eq!(code(&m).code(), "regulator_case");
    assert!(code(&m).to_string().contains("ticket"));

    let mut m = enforced_general(Product::Cvm);
    m.case.account_violations = 6;
    assert_eq!(code(&m).code(), "violation_limit");
    m.case.account_violations = 5;
    assert_eq!(unblock_eligibility(&m.case, &policy), Ok(()));

    for product in [
        Product::Cos,
        Product::Dns,
        Product::Dnspod,
        Product::Vod,
        Product::Apigw,
    ] {
        let m = enforced_general(product);
        let r = code(&m);
        assert_eq!(r.code(), "product_needs_ticket", "{product:?}");
        assert!(r.to_string().contains("UNB-5"));
    }
    for product in [Product::Cvm, Product::Clb, Product::Cdn] {
        assert_eq!(
            unblock_eligibility(&enforced_general(product).case, &policy),
            Ok(())
        );
    }

    // The same rules refuse the request itself, and manual requests too.
    let mut m = enforced_general(Product::Vod);
    m.case.self_unblock_failed = true;
    assert_eq!(
        refusal(m.run(&Command::RequestManualUnblock)).code(),
        "product_needs_ticket"
    );
}

/// HARM-1/HARM-2: an operator restricts a harmful machine's network; console unblock is refused
/// (file a ticket); a reviewer lifts it on the ticket. No_unblock actions are never lifted, even
/// by a ticket: the case stays enforced with them.
#[test]
fn harm_block_network_then_ticket_lift() {
    let mut m = Model::new(facts(Product::Cvm, Kind::Behaviour));
    let d = m
        .run(&Command::Enforce {
            actions: vec![planned(Action::BlockNetwork, false)],
        })
        .unwrap();
    assert_eq!(d.next, State::Enforced);
    assert!(d.effects.contains(&Effect::Notify {
        kind: NoticeKind::EnforcedHostSecurity
    }));
    assert_eq!(
        refusal(m.run(&Command::RequestSelfUnblock {
            commitment_confirmed: true
        }))
        .code(),
        "level_not_unblockable"
    );
    assert_eq!(
        m.run(&Command::Enforce {
            actions: vec![planned(Action::BlockNetwork, false)],
        }),
        Err(LifecycleError::AlreadyEnforced)
    );
    let d = m.run(&Command::LiftByTicket).unwrap();
    assert_eq!(d.next, State::Lifted);
    assert_eq!(
        d.effects.first(),
        Some(&Effect::Lift(vec![Action::BlockNetwork]))
    );

    // cvm serious: block_network + no_unblock; especially serious keeps isolate_account.
    let mut m = Model::new(facts(Product::Cvm, Kind::Behaviour));
    m.run(&confirm(Level::Serious, &m)).unwrap();
    assert_eq!(
        refusal(m.run(&Command::LiftByTicket)).code(),
        "action_not_unblockable"
    );
    let mut m = Model::new(facts(Product::Cdn, Kind::Content));
    m.run(&confirm(Level::EspeciallySerious, &m)).unwrap();
    let d = m.run(&Command::LiftByTicket).unwrap();
    assert_eq!(d.next, State::Enforced);
    assert_eq!(
        d.effects.first(),
        Some(&Effect::Lift(vec![
            Action::StopService,
            Action::FreezeAccount
        ]))
    );
    m.check_invariants();
}

/// LIFE-5 support: every state code round-trips.
#[test]
fn state_codes_round_trip() {
    for s in State::ALL {
        assert_eq!(State::parse(s.code()), Ok(s));
        assert_eq!(
            serde_json::to_value(s).unwrap(),
            serde_json::Value::String(s.code().into())
        );
    }
}

/// Biased towards the products with console unblock, so unblock paths get exercised.
fn arb_product() -> impl Strategy<Value = Product> {
    prop_oneof![
        3 => proptest::sample::select(vec![Product::Cvm, Product::Clb, Product::Cdn]),
        1 => proptest::sample::select(Product::ALL.to_vec()),
    ]
}

fn arb_level() -> impl Strategy<Value = Level> {
    prop_oneof![
        2 => Just(Level::General),
        1 => Just(Level::Serious),
        1 => Just(Level::EspeciallySerious)
    ]
}

fn arb_planned() -> impl Strategy<Value = Vec<PlannedAction>> {
    proptest::collection::vec(
        (
            proptest::sample::select(Action::ALL.to_vec()),
            proptest::bool::weighted(0.25),
        )
            .prop_map(|(action, no_unblock)| PlannedAction { action, no_unblock }),
        0..4,
    )
}

/// A command; `None` in `Confirm` means "the matrix's plan for the case".
fn arb_command() -> impl Strategy<Value = (Command, bool)> {
    prop_oneof![
        3 => (arb_level(), arb_planned(), proptest::bool::weighted(0.75)).prop_map(|(level, planned, use_matrix)| {
            (Command::Confirm { level, planned }, use_matrix)
        }),
        1 => prop_oneof![3 => Just(""), 1 => Just("spam")]
            .prop_map(|r| (Command::Dismiss { reason: r.into() }, false)),
        1 => prop_oneof![1 => Just(""), 3 => Just("detector confidence 0.95 >= 0.90")]
            .prop_map(|r| (Command::Accept { reason: r.into() }, false)),
        3 => any::<bool>().prop_map(|still_violating| (Command::DeadlinePassed { still_violating }, false)),
        1 => Just((Command::Rectified, false)),
        3 => any::<bool>().prop_map(|commitment_confirmed| {
            (Command::RequestSelfUnblock { commitment_confirmed }, false)
        }),
        3 => any::<bool>().prop_map(|clean| {
            let urls = if clean { vec![] } else { vec!["http://x.example/a".to_string()] };
            (Command::SelfUnblockResult { clean, still_violating_urls: urls }, false)
        }),
        2 => Just((Command::RequestManualUnblock, false)),
        2 => prop_oneof![Just(None), Just(Some("checked".to_string()))]
            .prop_map(|reason| (Command::ReviewApprove { reason }, false)),
        1 => prop_oneof![Just(""), Just("still violating")]
            .prop_map(|r| (Command::ReviewReject { reason: r.into() }, false)),
        1 => Just((Command::WithdrawUnblock, false)),
        2 => Just((Command::LiftByTicket, false)),
        2 => arb_planned().prop_map(|actions| (Command::Enforce { actions }, false)),
    ]
}

fn arb_case() -> impl Strategy<Value = CaseFacts> {
    (
        arb_product(),
        prop_oneof![Just(Kind::Content), Just(Kind::Behaviour)],
        any::<bool>(),
        proptest::bool::weighted(0.2),
        0u32..8,
    )
        .prop_map(|(product, kind, first_offence, regulator, violations)| {
            let mut c = facts(product, kind);
            c.first_offence = first_offence;
            c.regulator = regulator;
            c.account_violations = violations;
            c
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// LIFE-1..3, UNB-1..6, HARM-1/2, PEN-3: over random command sequences, no case is lifted
    /// without having been enforced; a no_unblock action is never lifted; every enforced case has
    /// an action in force; every alerting case has exactly one armed deadline timer.
    #[test]
    fn lifecycle_invariants_hold(
        case in arb_case(),
        steps in proptest::collection::vec((0i64..30 * HOUR, arb_command()), 1..40),
    ) {
        let matrix = PenaltyMatrix::default();
        let mut m = Model::new(case);
        for (advance, (cmd, use_matrix)) in steps {
            m.now = m.now.plus_millis(advance);
            let cmd = match cmd {
                Command::Confirm { level, .. } if use_matrix => Command::Confirm {
                    level,
                    planned: plan(&matrix, m.case.product.unwrap(), level, m.case.kind),
                },
                other => other,
            };
            let before = m.case.clone();
            match m.run(&cmd) {
                Ok(d) => {
                    // UI-2: every decision says why in codes too.
                    prop_assert!(!d.why.code.is_empty(), "no why: {}", d.reason);
                    if d.next == State::Lifted {
                        prop_assert!(
                            d.effects.iter().any(|e| matches!(e, Effect::Lift(_))),
                            "lifted without a Lift effect"
                        );
                    }
                }
                Err(_) => prop_assert_eq!(&m.case, &before),
            }
            m.check_invariants();
        }
    }
}

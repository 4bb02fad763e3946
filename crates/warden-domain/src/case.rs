//! Cases (INT-4, LIFE-1..5): correlated reports and the triage part of the lifecycle.
//!
//! `decide` is the only way a case changes state. Its `match` names every (state, command) pair,
//! so adding a state makes the compiler point at every transition that must consider it.

use serde::{Deserialize, Serialize};

use crate::resource::InvalidInput;

/// Where a case stands (LIFE-1..5; the later states arrive with the lifecycle issue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Reported, waiting in the triage queue.
    Reported,
    /// Confirmed by an operator or a high-confidence detector (INT-5).
    Confirmed,
    /// Dismissed by an operator, with a reason.
    Dismissed,
}

impl CaseState {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            CaseState::Reported => "reported",
            CaseState::Confirmed => "confirmed",
            CaseState::Dismissed => "dismissed",
        }
    }

    /// Parses a state code (as stored).
    pub fn parse(code: &str) -> Result<CaseState, InvalidInput> {
        [
            CaseState::Reported,
            CaseState::Confirmed,
            CaseState::Dismissed,
        ]
        .into_iter()
        .find(|s| s.code() == code)
        .ok_or_else(|| InvalidInput::new("state", "is not one of reported, confirmed, dismissed"))
    }

    /// Whether new reports about the same target and category still join this case (INT-4).
    pub fn accepts_duplicates(self) -> bool {
        match self {
            CaseState::Reported | CaseState::Confirmed => true,
            CaseState::Dismissed => false,
        }
    }
}

/// A triage command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriageCommand {
    /// Confirm the violation.
    Confirm,
    /// Dismiss, with a mandatory reason.
    Dismiss {
        /// Why.
        reason: String,
    },
}

/// A transition that the lifecycle does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {from} case cannot be {action}")]
pub struct TransitionError {
    /// Current state code.
    pub from: &'static str,
    /// What was attempted.
    pub action: &'static str,
}

/// The next state of a case under a triage command.
pub fn decide(state: CaseState, command: &TriageCommand) -> Result<CaseState, TransitionError> {
    match (state, command) {
        (CaseState::Reported, TriageCommand::Confirm) => Ok(CaseState::Confirmed),
        (CaseState::Reported, TriageCommand::Dismiss { .. }) => Ok(CaseState::Dismissed),
        (CaseState::Confirmed, TriageCommand::Confirm) => Err(TransitionError {
            from: "confirmed",
            action: "confirmed again",
        }),
        (CaseState::Confirmed, TriageCommand::Dismiss { .. }) => Err(TransitionError {
            from: "confirmed",
            action: "dismissed (confirmed cases go on to grading)",
        }),
        (CaseState::Dismissed, TriageCommand::Confirm) => Err(TransitionError {
            from: "dismissed",
            action: "confirmed",
        }),
        (CaseState::Dismissed, TriageCommand::Dismiss { .. }) => Err(TransitionError {
            from: "dismissed",
            action: "dismissed again",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// LIFE-1: triage moves only reported cases.
    #[test]
    fn only_reported_cases_are_triaged() {
        let dismiss = TriageCommand::Dismiss {
            reason: "spam report".into(),
        };
        assert_eq!(
            decide(CaseState::Reported, &TriageCommand::Confirm),
            Ok(CaseState::Confirmed)
        );
        assert_eq!(
            decide(CaseState::Reported, &dismiss),
            Ok(CaseState::Dismissed)
        );
        for s in [CaseState::Confirmed, CaseState::Dismissed] {
            assert!(decide(s, &TriageCommand::Confirm).is_err());
            assert!(decide(s, &dismiss).is_err());
        }
    }
}

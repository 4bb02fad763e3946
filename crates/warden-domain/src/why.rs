//! Reasons in codes (UI-2): why a case changed state or has its level, as a stable code and its
//! named facts, so that each language can say it in its own words.
//!
//! The English sentences of the lifecycle and the grading rules stay what the API and the audit
//! log carry; beside each one goes a [`Why`], which the console renders through its catalogue
//! (`why.<code>`, `grade.<code>`). The facts are plain strings; their names say how to show them:
//!
//! - `note`: words a person typed (an operator's or reviewer's reason), shown as written;
//! - `actions`, `stay`: action codes, comma-separated;
//! - `level`, `from`, `to`, `min`: level codes;
//! - `category`: a category code;
//! - `at`: an RFC 3339 instant;
//! - `urls`: URLs, one per line;
//! - anything else: a number or a value shown as is.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A reason as a code and its facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Why {
    /// Stable snake_case code (`deadline_enforced`, `self_unblock_failed`, `base_severity`...).
    pub code: String,
    /// The facts the sentence names, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
}

impl Why {
    /// A reason with no facts.
    pub fn new(code: &str) -> Why {
        Why {
            code: code.to_string(),
            args: BTreeMap::new(),
        }
    }

    /// Adds a fact.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Why {
        self.args.insert(name.to_string(), value.into());
        self
    }

    /// A fact by name.
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.args.get(name).map(String::as_str)
    }
}

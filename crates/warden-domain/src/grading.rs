//! Grading (SPEC §5, GRD-1..3): from the facts of a case to a penalty level with its reasons.
//!
//! The level starts at the category's base severity and every rule can only raise it, so adding
//! a rule never makes a grade milder. The thresholds are configuration ([`GradingRules`]); the
//! facts ([`GradingFacts`]) are gathered by the caller, who also counts the account's earlier
//! violations over [`GradingRules::violation_window_days`]. Every rule that fires leaves a
//! [`Reason`], so an operator (and the tenant's notice) can see why a case got its level.

use serde::{Deserialize, Serialize};

use crate::resource::InvalidInput;
use crate::taxonomy::{Category, Level};
use crate::why::Why;

/// Longest operator override reason accepted, in characters.
pub const MAX_OVERRIDE_REASON_CHARS: usize = 2000;

/// What grading looks at for one case (GRD-2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GradingFacts {
    /// The case's category; its base severity is the starting level.
    pub category: Category,
    /// The account's violations within [`GradingRules::violation_window_days`], excluding this
    /// case.
    pub prior_violations: u32,
    /// The case's report count.
    pub reports: i64,
    /// Views or traffic of the violating content, as far as known (0 when unknown).
    pub views: i64,
    /// A regulator notice names this case.
    pub regulator_notice: bool,
    /// The violation impacts other tenants (e.g. a DDoS against the tenant harming its neighbours).
    pub impacts_other_tenants: bool,
    /// The violation has wide social impact (PEN-2: isolated at once).
    pub wide_impact: bool,
}

/// The grading rules (GRD-2), as configuration. Defaults are Warden's reading of the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct GradingRules {
    /// How far back earlier violations of the account count, in days. Callers use it to compute
    /// [`GradingFacts::prior_violations`]. Default `365`.
    pub violation_window_days: u32,
    /// From this many prior violations in the window on, a case is at least `serious`.
    /// Default `2` (the account's third violation). Set it very high to turn the rule off.
    pub repeat_offence_serious_after: u32,
    /// From this many prior violations in the window on, a case is `especially_serious`.
    /// Default `5`.
    pub repeat_offence_especially_serious_after: u32,
    /// From this many reports on, a case counts as widely spread and is at least `serious`.
    /// Default `20`.
    pub spread_reports_serious: i64,
    /// From this many views on, a case counts as widely spread and is at least `serious`.
    /// Default `10000`.
    pub spread_views_serious: i64,
    /// From this many views on, a case is `especially_serious`. Default `1000000`.
    pub spread_views_especially_serious: i64,
    /// The least level of a case named in a regulator notice. Default `serious`.
    pub regulator_notice_min_level: Level,
    /// The least level of a case that impacts other tenants. Default `serious`.
    pub other_tenant_impact_min_level: Level,
    /// The level of a case with wide impact. Default `especially_serious`.
    pub wide_impact_level: Level,
}

impl Default for GradingRules {
    fn default() -> Self {
        GradingRules {
            violation_window_days: 365,
            repeat_offence_serious_after: 2,
            repeat_offence_especially_serious_after: 5,
            spread_reports_serious: 20,
            spread_views_serious: 10_000,
            spread_views_especially_serious: 1_000_000,
            regulator_notice_min_level: Level::Serious,
            other_tenant_impact_min_level: Level::Serious,
            wide_impact_level: Level::EspeciallySerious,
        }
    }
}

impl GradingRules {
    /// Checks the rules for settings that are almost certainly mistakes: a zero window or
    /// threshold (which would make every case serious) and an "especially serious" threshold
    /// below its "serious" one. The error names the field.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if self.violation_window_days == 0 {
            return Err(InvalidInput::new(
                "violation_window_days",
                "must be at least 1",
            ));
        }
        let positive = [
            (
                "repeat_offence_serious_after",
                i64::from(self.repeat_offence_serious_after),
            ),
            (
                "repeat_offence_especially_serious_after",
                i64::from(self.repeat_offence_especially_serious_after),
            ),
            ("spread_reports_serious", self.spread_reports_serious),
            ("spread_views_serious", self.spread_views_serious),
            (
                "spread_views_especially_serious",
                self.spread_views_especially_serious,
            ),
        ];
        for (field, value) in positive {
            if value < 1 {
                return Err(InvalidInput::new(
                    field,
                    "must be at least 1 (set a very large number to turn the rule off)",
                ));
            }
        }
        if self.repeat_offence_especially_serious_after < self.repeat_offence_serious_after {
            return Err(InvalidInput::new(
                "repeat_offence_especially_serious_after",
                "must not be below repeat_offence_serious_after",
            ));
        }
        if self.spread_views_especially_serious < self.spread_views_serious {
            return Err(InvalidInput::new(
                "spread_views_especially_serious",
                "must not be below spread_views_serious",
            ));
        }
        Ok(())
    }
}

/// Why a case has (at least) some level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Reason {
    /// Stable snake_case code: `base_severity`, `repeat_offence`, `wide_spread`,
    /// `regulator_notice`, `other_tenants_impacted`, `wide_impact` or `operator_override`.
    pub code: &'static str,
    /// The level this reason asks for on its own.
    pub level: Level,
    /// Human-readable English, with the facts and the rule that fired.
    pub detail: String,
    /// The same in codes (`code` and the facts), for the console's languages (UI-2).
    pub why: Why,
}

/// A case's level with every reason behind it (GRD-2). The first reason is always
/// `base_severity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Grade {
    /// The resulting level: the highest level any reason asks for (or an operator's override).
    pub level: Level,
    /// The reasons, in the order the rules were evaluated; an override comes last.
    pub reasons: Vec<Reason>,
}

fn plural(n: impl Into<i64>, one: &str, many: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Grades a case (GRD-1, GRD-2): the category's base severity, raised by every rule that fires.
pub fn grade(facts: &GradingFacts, rules: &GradingRules) -> Grade {
    let info = facts.category.info();
    let mut reasons = vec![Reason {
        code: "base_severity",
        level: info.base_severity,
        detail: format!(
            "category {} ({}) has base severity {}",
            info.code,
            info.label_en,
            info.base_severity.code()
        ),
        why: Why::new("base_severity")
            .with("category", info.code)
            .with("level", info.base_severity.code()),
    }];

    let prior = facts.prior_violations;
    let repeat = if prior >= rules.repeat_offence_especially_serious_after {
        Some(Level::EspeciallySerious)
    } else if prior >= rules.repeat_offence_serious_after {
        Some(Level::Serious)
    } else {
        None
    };
    if let Some(level) = repeat {
        reasons.push(Reason {
            code: "repeat_offence",
            level,
            detail: format!(
                "{} in {} (rule: serious from {} prior, especially serious from {})",
                plural(prior, "prior violation", "prior violations"),
                plural(rules.violation_window_days, "day", "days"),
                rules.repeat_offence_serious_after,
                rules.repeat_offence_especially_serious_after
            ),
            why: Why::new("repeat_offence")
                .with("prior", prior.to_string())
                .with("days", rules.violation_window_days.to_string())
                .with("serious", rules.repeat_offence_serious_after.to_string())
                .with(
                    "especially",
                    rules.repeat_offence_especially_serious_after.to_string(),
                ),
        });
    }

    let (reports, views) = (facts.reports.max(0), facts.views.max(0));
    let spread = if views >= rules.spread_views_especially_serious {
        Some(Level::EspeciallySerious)
    } else if reports >= rules.spread_reports_serious || views >= rules.spread_views_serious {
        Some(Level::Serious)
    } else {
        None
    };
    if let Some(level) = spread {
        reasons.push(Reason {
            code: "wide_spread",
            level,
            detail: format!(
                "{} and {} (rule: serious from {} reports or {} views, especially serious from {} views)",
                plural(reports, "report", "reports"),
                plural(views, "view", "views"),
                rules.spread_reports_serious,
                rules.spread_views_serious,
                rules.spread_views_especially_serious
            ),
            why: Why::new("wide_spread")
                .with("reports", reports.to_string())
                .with("views", views.to_string())
                .with("reports_serious", rules.spread_reports_serious.to_string())
                .with("views_serious", rules.spread_views_serious.to_string())
                .with(
                    "views_especially",
                    rules.spread_views_especially_serious.to_string(),
                ),
        });
    }

    if facts.regulator_notice {
        reasons.push(Reason {
            code: "regulator_notice",
            level: rules.regulator_notice_min_level,
            detail: format!(
                "a regulator notice names this case (rule: at least {})",
                rules.regulator_notice_min_level.code()
            ),
            why: Why::new("regulator_notice").with("min", rules.regulator_notice_min_level.code()),
        });
    }
    if facts.impacts_other_tenants {
        reasons.push(Reason {
            code: "other_tenants_impacted",
            level: rules.other_tenant_impact_min_level,
            detail: format!(
                "the violation impacts other tenants (rule: at least {})",
                rules.other_tenant_impact_min_level.code()
            ),
            why: Why::new("other_tenants_impacted")
                .with("min", rules.other_tenant_impact_min_level.code()),
        });
    }
    if facts.wide_impact {
        reasons.push(Reason {
            code: "wide_impact",
            level: rules.wide_impact_level,
            detail: format!(
                "the violation has wide impact (rule: {})",
                rules.wide_impact_level.code()
            ),
            why: Why::new("wide_impact").with("level", rules.wide_impact_level.code()),
        });
    }

    let level = reasons
        .iter()
        .map(|r| r.level)
        .fold(info.base_severity, Level::max);
    Grade { level, reasons }
}

/// An operator's override of a grade (GRD-3): the level becomes `to`, and the mandatory `reason`
/// is kept as an `operator_override` reason after the computed ones. Overriding to the same level
/// is allowed (it records that an operator confirmed it). The caller audits the change.
pub fn override_level(grade: &Grade, to: Level, reason: &str) -> Result<Grade, InvalidInput> {
    // Blank as the API document's `\S` reads it, `\f` and U+3000 among them.
    if crate::text::is_blank(reason) {
        return Err(InvalidInput::new(
            "reason",
            "is required when overriding a level",
        ));
    }
    // Counted as sent, as the document's maxLength counts (code points, spaces included).
    if reason.chars().count() > MAX_OVERRIDE_REASON_CHARS {
        return Err(InvalidInput::new(
            "reason",
            format!("is longer than {MAX_OVERRIDE_REASON_CHARS} characters"),
        ));
    }
    let reason = crate::text::trim(reason);
    let mut reasons = grade.reasons.clone();
    reasons.push(Reason {
        code: "operator_override",
        level: to,
        detail: format!(
            "an operator changed the level from {} to {}: {reason}",
            grade.level.code(),
            to.code()
        ),
        why: Why::new("operator_override")
            .with("from", grade.level.code())
            .with("to", to.code())
            .with("note", reason),
    });
    Ok(Grade { level: to, reasons })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(category: Category) -> GradingFacts {
        GradingFacts {
            category,
            prior_violations: 0,
            reports: 1,
            views: 0,
            regulator_notice: false,
            impacts_other_tenants: false,
            wide_impact: false,
        }
    }

    /// The reason codes, checking that each reason says the same in codes (UI-2).
    fn codes(g: &Grade) -> Vec<&'static str> {
        for r in &g.reasons {
            assert_eq!(r.why.code, r.code, "{r:?}");
        }
        g.reasons.iter().map(|r| r.code).collect()
    }

    /// GRD-1, GRD-2: with no aggravating facts the level is the category's base severity, and it
    /// comes with the `base_severity` reason.
    #[test]
    fn base_severity_only() {
        let rules = GradingRules::default();
        for (cat, level) in [
            (Category::PornVulgar, Level::General),
            (Category::Gambling, Level::Serious),
            (Category::PoliticsSecurity, Level::EspeciallySerious),
        ] {
            let g = grade(&facts(cat), &rules);
            assert_eq!(g.level, level);
            assert_eq!(codes(&g), ["base_severity"]);
        }
    }

    /// GRD-2: repeat offences in the window raise the level, with the rule in the reason.
    #[test]
    fn repeat_offence_raises() {
        let rules = GradingRules::default();
        let mut f = facts(Category::SpamAds);
        f.prior_violations = 1;
        assert_eq!(grade(&f, &rules).level, Level::General);
        f.prior_violations = 2;
        assert_eq!(grade(&f, &rules).level, Level::Serious);
        f.prior_violations = 3;
        let g = grade(&f, &rules);
        assert_eq!(g.level, Level::Serious);
        assert_eq!(codes(&g), ["base_severity", "repeat_offence"]);
        let why = &g.reasons[1].why;
        assert_eq!(
            (why.arg("prior"), why.arg("serious")),
            (Some("3"), Some("2"))
        );
        let detail = &g.reasons.get(1).unwrap().detail;
        assert!(
            detail.contains("3 prior violations in 365 days"),
            "{detail}"
        );
        assert!(detail.contains("serious from 2"), "{detail}");
        f.prior_violations = 5;
        assert_eq!(grade(&f, &rules).level, Level::EspeciallySerious);
    }

    /// GRD-2: wide spread (reports or views) raises the level.
    #[test]
    fn wide_spread_raises() {
        let rules = GradingRules::default();
        let mut f = facts(Category::Rumor);
        f.reports = 19;
        f.views = 9_999;
        assert_eq!(grade(&f, &rules).level, Level::General);
        f.reports = 20;
        let g = grade(&f, &rules);
        assert_eq!(g.level, Level::Serious);
        assert_eq!(codes(&g), ["base_severity", "wide_spread"]);
        f.reports = 1;
        f.views = 10_000;
        assert_eq!(grade(&f, &rules).level, Level::Serious);
        f.views = 1_000_000;
        assert_eq!(grade(&f, &rules).level, Level::EspeciallySerious);
        f.views = -5;
        f.reports = -5;
        assert_eq!(grade(&f, &rules).level, Level::General);
    }

    /// GRD-2: circumstances and consequences (regulator notice, other tenants, wide impact).
    #[test]
    fn circumstances_raise() {
        let rules = GradingRules::default();
        let mut f = facts(Category::DdosVictimImpact);
        f.impacts_other_tenants = true;
        let g = grade(&f, &rules);
        assert_eq!(g.level, Level::Serious);
        assert_eq!(codes(&g), ["base_severity", "other_tenants_impacted"]);

        let mut f = facts(Category::Privacy);
        f.regulator_notice = true;
        assert_eq!(grade(&f, &rules).level, Level::Serious);
        f.wide_impact = true;
        let g = grade(&f, &rules);
        assert_eq!(g.level, Level::EspeciallySerious);
        assert_eq!(
            codes(&g),
            ["base_severity", "regulator_notice", "wide_impact"]
        );
    }

    /// GRD-2: rules only raise; a rule asking for less than the base severity keeps the base, but
    /// still leaves its reason.
    #[test]
    fn rules_never_lower() {
        let rules = GradingRules {
            regulator_notice_min_level: Level::General,
            ..GradingRules::default()
        };
        let mut f = facts(Category::AgainstConstitution);
        f.regulator_notice = true;
        let g = grade(&f, &rules);
        assert_eq!(g.level, Level::EspeciallySerious);
        assert_eq!(codes(&g), ["base_severity", "regulator_notice"]);
    }

    /// GRD-2: the rules are configuration with documented defaults; unknown keys are refused and
    /// missing ones take the default.
    #[test]
    fn rules_from_config() {
        let r: GradingRules = serde_json::from_str(
            r#"{"repeat_offence_serious_after": 3, "wide_impact_level": "serious"}"#,
        )
        .unwrap();
        assert_eq!(r.repeat_offence_serious_after, 3);
        assert_eq!(r.wide_impact_level, Level::Serious);
        assert_eq!(r.spread_views_serious, 10_000);
        assert!(r.validate().is_ok());
        assert!(serde_json::from_str::<GradingRules>(r#"{"nope": 1}"#).is_err());
        assert!(GradingRules::default().validate().is_ok());

        let bad = GradingRules {
            spread_reports_serious: 0,
            ..GradingRules::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "spread_reports_serious");
        let bad = GradingRules {
            repeat_offence_especially_serious_after: 1,
            ..GradingRules::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().field,
            "repeat_offence_especially_serious_after"
        );
    }

    /// GRD-3: an override needs a reason and is kept after the computed reasons.
    #[test]
    fn override_needs_reason() {
        let g = grade(&facts(Category::Gambling), &GradingRules::default());
        assert_eq!(
            override_level(&g, Level::General, "  ").unwrap_err().field,
            "reason"
        );
        for blank in ["\u{c}", "\u{b}", "\u{3000}", "\u{feff}", " \u{a0}\u{2029}"] {
            assert!(
                override_level(&g, Level::General, blank).is_err(),
                "{blank:?}"
            );
        }
        let long = "x".repeat(MAX_OVERRIDE_REASON_CHARS + 1);
        assert!(override_level(&g, Level::General, &long).is_err());
        let o = override_level(&g, Level::General, "licensed lottery reseller").unwrap();
        assert_eq!(o.level, Level::General);
        assert_eq!(codes(&o), ["base_severity", "operator_override"]);
        let last = o.reasons.last().unwrap();
        assert!(
            last.detail
                .contains("from serious to general: licensed lottery reseller")
        );
    }

    /// GRD-2: a grade serialises with snake_case levels and its reasons.
    #[test]
    fn grade_serialises() {
        let g = grade(&facts(Category::Fraud), &GradingRules::default());
        let v = serde_json::to_value(&g).unwrap();
        assert_eq!(v["level"], "serious");
        assert_eq!(v["reasons"][0]["code"], "base_severity");
        assert_eq!(v["reasons"][0]["level"], "serious");
    }
}

//! Reports (INT-1, INT-3): sources, the JSON report request, and its validation.

use serde::{Deserialize, Serialize};

use crate::resource::{InvalidInput, Target};
use crate::taxonomy::Category;

/// Most evidence text we keep per report (INT-3); larger snapshots are refused, not cut.
pub const MAX_EVIDENCE_BYTES: usize = 256 * 1024;
/// Most free text per report.
pub const MAX_DESCRIPTION_CHARS: usize = 8000;
/// Most characters of reporter contact.
pub const MAX_CONTACT_CHARS: usize = 320;

/// Where a report came from (INT-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// 用户举报: the public form or API, unauthenticated.
    Public,
    /// An automated detector.
    Detector,
    /// 上级主管部门通知: a regulator notice entered by an operator.
    Regulator,
    /// Created by an operator.
    Operator,
    /// An X-ARF report posted without a token, as reports stored before sources and formats
    /// were apart say; such a report is now `public` with `format: xarf`.
    Xarf,
    /// An e-mail to the abuse desk, handed in by the MTA (the pipe command or the SMTP
    /// listener); its format (ARF, X-ARF, ...) is the report's `format`.
    Mail,
}

impl Source {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Source::Public => "public",
            Source::Detector => "detector",
            Source::Regulator => "regulator",
            Source::Operator => "operator",
            Source::Xarf => "xarf",
            Source::Mail => "mail",
        }
    }

    /// Parses a source code.
    pub fn parse(code: &str) -> Result<Source, InvalidInput> {
        [
            Source::Public,
            Source::Detector,
            Source::Regulator,
            Source::Operator,
            Source::Xarf,
            Source::Mail,
        ]
        .into_iter()
        .find(|s| s.code() == code)
        .ok_or_else(|| {
            InvalidInput::new(
                "source",
                "is not one of public, detector, regulator, operator, xarf, mail",
            )
        })
    }
}

/// The JSON body of `POST /api/reports` as sent; [`ReportRequest::validate`] makes a
/// [`ValidReport`] of it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
// A regulator notice comes with `regulator`, and `regulator` only with one (INT-1). A `null`
// is a field left out (`source` then defaults to `operator`).
// ASMT-3: `attacked_address` only with a scanning or hacking report.
#[schemars(extend("allOf" = [
    { "anyOf": [
        { "required": ["source", "regulator"], "properties": { "source": { "const": "regulator" }, "regulator": { "type": "object" } } },
        { "properties": { "source": { "enum": ["operator", null] }, "regulator": { "type": "null" } } },
    ] },
    { "anyOf": [
        { "not": { "required": ["attacked_address"] } },
        { "properties": { "attacked_address": { "type": "null" } } },
        { "properties": { "category": { "enum": ["scanning", "hacking"] } } },
    ] },
]))]
pub struct ReportRequest {
    /// URL, domain, IP, `cos://bucket/key`, `vod:<id>` or `apigw:<id>` (at most 2048 bytes).
    #[schemars(required, extend("format" = "target"))]
    pub target: Option<String>,
    /// Category code from the taxonomy.
    #[schemars(required, with = "Category")]
    pub category: Option<String>,
    /// Free text, at most 8000 characters.
    #[serde(default)]
    #[schemars(length(max = 8000))]
    pub description: Option<String>,
    /// Snapshot of the violating content (text/HTML, at most 256 KiB), hashed with SHA-256.
    #[serde(default)]
    pub evidence: Option<String>,
    /// Reporter contact (personal data; encrypted at rest), 1 to 320 characters.
    #[serde(default)]
    #[schemars(length(min = 1, max = 320), pattern(r"\S"))]
    pub reporter_contact: Option<String>,
    /// Operators and admins only (any other role: 403): `operator` (default) or `regulator`.
    #[serde(default)]
    #[schemars(extend("enum" = ["operator", "regulator"]))]
    pub source: Option<String>,
    /// Detectors: confidence 0..=1 (INT-5).
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub confidence: Option<f64>,
    /// Views or hits of the content, if known (spread signal, GRD-2).
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub views: Option<i64>,
    /// INT-1: for `source: regulator` (and only then), the notice: authority, document
    /// number, legal basis.
    #[serde(default)]
    pub regulator: Option<RegulatorNotice>,
    /// ASMT-3: for a `scanning` or `hacking` report, the address the reported machine
    /// attacked. When it is in the provider's configured infrastructure
    /// (`[assessments.infrastructure]`) the report says the provider was attacked (ASMT-3);
    /// otherwise it names the address. Never refused for it: a report is not lost over it.
    #[serde(default)]
    #[schemars(extend("format" = "ip-address"))]
    pub attacked_address: Option<String>,
}

/// A report that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidReport {
    /// Parsed target.
    pub target: Target,
    /// Category.
    pub category: Category,
    /// Free text (may be empty).
    pub description: String,
    /// Evidence text, if any.
    pub evidence: Option<String>,
    /// Reporter contact, if any.
    pub reporter_contact: Option<String>,
    /// Detector confidence, if any.
    pub confidence: Option<f64>,
    /// Views, if any.
    pub views: Option<i64>,
    /// The regulator notice, for `source: regulator` reports.
    pub regulator: Option<RegulatorNotice>,
    /// ASMT-3: the provider's own address the reported machine attacked (scanning, hacking).
    pub attacked_address: Option<std::net::IpAddr>,
}

impl ReportRequest {
    /// Checks every field; the first problem is returned, naming its field.
    pub fn validate(self) -> Result<ValidReport, InvalidInput> {
        let target = self
            .target
            .ok_or_else(|| InvalidInput::new("target", "is required"))?;
        let target = Target::parse(&target)?;
        let category = self
            .category
            .ok_or_else(|| InvalidInput::new("category", "is required"))?;
        let category =
            Category::parse(&category).map_err(|e| InvalidInput::new("category", e.to_string()))?;
        let description = self.description.unwrap_or_default();
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(InvalidInput::new(
                "description",
                format!("is longer than {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        if self
            .evidence
            .as_ref()
            .is_some_and(|e| e.len() > MAX_EVIDENCE_BYTES)
        {
            return Err(InvalidInput::new(
                "evidence",
                format!("is larger than {MAX_EVIDENCE_BYTES} bytes"),
            ));
        }
        if self
            .reporter_contact
            .as_ref()
            .is_some_and(|c| c.chars().count() > MAX_CONTACT_CHARS || c.trim().is_empty())
        {
            return Err(InvalidInput::new(
                "reporter_contact",
                format!("must be 1 to {MAX_CONTACT_CHARS} characters"),
            ));
        }
        if self.confidence.is_some_and(|c| !(0.0..=1.0).contains(&c)) {
            return Err(InvalidInput::new("confidence", "must be between 0 and 1"));
        }
        if self.views.is_some_and(|v| v < 0) {
            return Err(InvalidInput::new("views", "must not be negative"));
        }
        let regulator = match (self.source.as_deref(), self.regulator) {
            (Some("regulator"), Some(r)) => Some(r.validate()?),
            (Some("regulator"), None) => {
                return Err(InvalidInput::new(
                    "regulator",
                    "is required for a regulator notice: authority, document_number, legal_basis",
                ));
            }
            (_, Some(_)) => {
                return Err(InvalidInput::new(
                    "regulator",
                    "is only for reports with source regulator",
                ));
            }
            (_, None) => None,
        };
        let attacked_address = match self.attacked_address.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(a) => {
                if !matches!(category, Category::Scanning | Category::Hacking) {
                    return Err(InvalidInput::new(
                        "attacked_address",
                        "is only for scanning and hacking reports (ASMT-3)",
                    ));
                }
                Some(a.parse::<std::net::IpAddr>().map_err(|_| {
                    InvalidInput::new("attacked_address", format!("{a:?} is not an IP address"))
                })?)
            }
        };
        Ok(ValidReport {
            target,
            category,
            description,
            evidence: self.evidence,
            reporter_contact: self.reporter_contact.map(|c| c.trim().to_string()),
            confidence: self.confidence,
            views: self.views,
            regulator,
            attacked_address,
        })
    }
}

/// A regulator notice (上级主管部门通知, INT-1) as the operator records it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegulatorNotice {
    /// The authority that issued it (1 to 500 characters).
    #[schemars(length(min = 1, max = 500), pattern(r"\S"))]
    pub authority: String,
    /// Its document number (文号; 1 to 500 characters).
    #[schemars(length(min = 1, max = 500), pattern(r"\S"))]
    pub document_number: String,
    /// The legal basis it cites (1 to 500 characters).
    #[schemars(length(min = 1, max = 500), pattern(r"\S"))]
    pub legal_basis: String,
}

impl RegulatorNotice {
    fn validate(self) -> Result<RegulatorNotice, InvalidInput> {
        for (field, v) in [
            ("authority", &self.authority),
            ("document_number", &self.document_number),
            ("legal_basis", &self.legal_basis),
        ] {
            if v.trim().is_empty() || v.chars().count() > 500 {
                return Err(InvalidInput::new(
                    format!("regulator.{field}"),
                    "must be 1 to 500 characters",
                ));
            }
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(target: &str, category: &str) -> ReportRequest {
        ReportRequest {
            target: Some(target.into()),
            category: Some(category.into()),
            ..Default::default()
        }
    }

    #[test]
    fn names_the_offending_field() {
        assert_eq!(
            req("nope nope", "gambling").validate().unwrap_err().field,
            "target"
        );
        assert_eq!(
            req("https://a.example/x", "nope")
                .validate()
                .unwrap_err()
                .field,
            "category"
        );
        let mut r = req("https://a.example/x", "gambling");
        r.confidence = Some(2.0);
        assert_eq!(r.validate().unwrap_err().field, "confidence");
        assert!(req("https://a.example/x", "gambling").validate().is_ok());
    }
}

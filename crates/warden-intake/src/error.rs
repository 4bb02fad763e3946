//! The errors of intake: one enum, each refusal naming where in the message it is (`part 2
//! (message/feedback-report)`) and, for a report, the field.

use crate::limits::Limit;
use crate::report::Format;

/// Why a message (or a report body) was refused. Nothing of a refused message is returned: the
/// caller stores all of its reports or none (INT-2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// A bound of [`crate::Limits`] was exceeded; `limit` names it.
    #[error("{at}: {what} is {actual}; the limit {limit} is {max}")]
    Limit {
        /// Which bound.
        limit: Limit,
        /// Where: `message`, `part 2 (text/plain)`.
        at: String,
        /// What was counted (`the message`, `the part`, `header fields`...).
        what: &'static str,
        /// The count found (at least `max + 1`).
        actual: usize,
        /// The bound.
        max: usize,
    },
    /// The MIME structure is broken: truncated, a boundary that never occurs, a bad encoding.
    #[error("{at}: {message}")]
    Mime {
        /// What kind of break.
        fault: MimeFault,
        /// Where: `message (multipart/report)`, `part 3 (message/rfc822)`.
        at: String,
        /// Human-readable explanation.
        message: String,
    },
    /// A report part (ARF, X-ARF, IODEF, a CSV) is invalid.
    #[error("{at}: {message}")]
    Report {
        /// The format the part was read as.
        format: Format,
        /// Where: `part 2 (message/feedback-report)`, `body` for a bare document, `part 3
        /// (application/zip) entry `x.csv`` for a file in an archive.
        at: String,
        /// The offending field: `Feedback-Type`, `Source-IP`, `protocol`, `Report.SourceIp`,
        /// `Incident[1].EventData[1].Flow[1].System[1].Node[1].Address[1]`, `row 17.ip` (`$` for
        /// the whole document).
        field: String,
        /// Stable reason: `missing_field`, `invalid_field`, `duplicate_field`, `invalid_json`,
        /// `invalid_xml`, `dtd_refused`, `invalid_csv`, `unsupported_version`, `unknown_type`,
        /// `no_target`, `too_large`, or one of [`warden_domain::xarf::XarfError::code`]'s.
        code: &'static str,
        /// Human-readable explanation, naming the field.
        message: String,
    },
    /// The message is well-formed but carries no report: no structured report (ARF, X-ARF,
    /// IODEF, Shadowserver CSV), no attached message, and no free-form text naming a target
    /// with a recognised reporter or a keyword.
    #[error("no abuse report found: {0}")]
    NoReport(String),
}

/// The kinds of broken MIME.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MimeFault {
    /// The message ends where more must follow (inside a part's header fields, inside a Base64
    /// quantum, before the parts a report needs).
    Truncated,
    /// A multipart's boundary is missing, invalid, or never occurs as a delimiter line.
    WrongBoundary,
    /// A `Content-Transfer-Encoding` that is unknown, or content that is not in it.
    BadEncoding,
    /// Not an RFC 5322 message at all (no header fields).
    NotAMessage,
    /// A gzip or zip attachment that cannot be read: not gzip or zip after all, cut, an
    /// encrypted entry, or a compression method other than stored and deflate.
    BadArchive,
}

impl MailError {
    /// A stable snake_case code for the API's error table.
    pub fn code(&self) -> &'static str {
        match self {
            MailError::Limit { .. } => "too_large",
            MailError::Mime { fault, .. } => match fault {
                MimeFault::Truncated => "truncated",
                MimeFault::WrongBoundary => "wrong_boundary",
                MimeFault::BadEncoding => "bad_encoding",
                MimeFault::NotAMessage => "not_a_message",
                MimeFault::BadArchive => "bad_archive",
            },
            MailError::Report { code, .. } => code,
            MailError::NoReport(_) => "no_report",
        }
    }

    /// The field a [`MailError::Report`] names (`Feedback-Type`, `protocol`); `None` otherwise.
    pub fn field(&self) -> Option<&str> {
        match self {
            MailError::Report { field, .. } => Some(field),
            _ => None,
        }
    }

    pub(crate) fn mime(
        fault: MimeFault,
        at: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        MailError::Mime {
            fault,
            at: at.into(),
            message: message.into(),
        }
    }

    pub(crate) fn report(
        format: Format,
        at: impl Into<String>,
        code: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        MailError::Report {
            format,
            at: at.into(),
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

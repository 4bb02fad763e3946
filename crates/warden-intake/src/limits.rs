//! The bounds of intake (STYLE: everything at intake is bounded). Every count is checked before
//! the work it bounds is done, and a refusal names the bound ([`Limit`]).

/// Bounds on one message. The defaults fit feedback-loop and X-ARF mail with room to spare: a
/// real ARF report is a few KiB, an X-ARF evidence item at most 5 MiB (the v4 core schema).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest raw message, in bytes (default 10 MiB).
    pub max_message_bytes: usize,
    /// Largest body part as received, before decoding, in bytes (default 5 MiB). Decoding never
    /// grows a part (Base64 and quoted-printable only shrink), so this bounds decoded parts too.
    pub max_part_bytes: usize,
    /// Most MIME parts, the message itself included (default 64).
    pub max_parts: usize,
    /// Deepest nesting of multiparts: the message is depth 0, its parts depth 1 (default 8).
    pub max_depth: usize,
    /// Most header fields in one header block: the message's, a part's, an attached message's or
    /// a feedback report's fields (default 500).
    pub max_headers: usize,
    /// Most reports one message may carry (default 32).
    pub max_reports: usize,
    /// Most targets kept per report (default 32); further ones are dropped with a warning.
    pub max_targets: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 10 * 1024 * 1024,
            max_part_bytes: 5 * 1024 * 1024,
            max_parts: 64,
            max_depth: 8,
            max_headers: 500,
            max_reports: 32,
            max_targets: 32,
        }
    }
}

/// Which bound a refusal hit: [`Limits`]' field of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// [`Limits::max_message_bytes`]
    MessageBytes,
    /// [`Limits::max_part_bytes`]
    PartBytes,
    /// [`Limits::max_parts`]
    Parts,
    /// [`Limits::max_depth`]
    Depth,
    /// [`Limits::max_headers`]
    Headers,
    /// [`Limits::max_reports`]
    Reports,
}

impl Limit {
    /// The name of the bound, as in [`Limits`].
    pub fn name(self) -> &'static str {
        match self {
            Limit::MessageBytes => "max_message_bytes",
            Limit::PartBytes => "max_part_bytes",
            Limit::Parts => "max_parts",
            Limit::Depth => "max_depth",
            Limit::Headers => "max_headers",
            Limit::Reports => "max_reports",
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

//! The bounds of intake (STYLE: everything at intake is bounded). Every count is checked before
//! the work it bounds is done, and a refusal names the bound ([`Limit`]).

/// Bounds on one message. The defaults fit feedback-loop and X-ARF mail with room to spare: a
/// real ARF report is a few KiB, an X-ARF evidence item at most 5 MiB (the v4 core schema), an
/// IODEF incident some KiB, a day's Shadowserver CSV for a mid-sized network some thousand rows.
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
    /// Most reports one message may carry, the rows of a CSV not counted (they are bounded by
    /// [`Limits::max_csv_rows`]) (default 32). IODEF incidents count one each.
    pub max_reports: usize,
    /// Most targets kept per ARF, X-ARF or CSV-row report (default 32); further ones are dropped
    /// with a warning.
    pub max_targets: usize,
    /// Most targets kept per IODEF incident or free-form report, which are lists (a watch list,
    /// a bot-net's members, a digest of log lines; the caller filters them to what it hosts)
    /// (default 1,024); further ones are dropped with a warning.
    pub max_candidates: usize,
    /// Deepest nesting of elements in an IODEF document, the root at depth 1 (default 32; the
    /// RFC examples nest 8 deep). For IODEF JSON: objects and arrays.
    pub max_xml_depth: usize,
    /// Most elements in one IODEF document (default 20,000). For IODEF JSON: objects, arrays and
    /// members.
    pub max_xml_elements: usize,
    /// Most data rows of one CSV, and of all the CSVs of one message, the header rows not
    /// counted (default 100,000).
    pub max_csv_rows: usize,
    /// Largest field of a CSV, in bytes (default 16 KiB; Shadowserver's longest, HTTP banners,
    /// are some hundred bytes).
    pub max_csv_field_bytes: usize,
    /// Most bytes inflated from the gzip and zip attachments of one message (or of one
    /// document), all together (default 32 MiB). Counted while inflating, never taken from the
    /// archive's own size fields, so a zip bomb stops at the bound.
    pub max_decompressed_bytes: usize,
    /// Most entries of one zip archive, directories included (default 16).
    pub max_archive_entries: usize,
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
            max_candidates: 1024,
            max_xml_depth: 32,
            max_xml_elements: 20_000,
            max_csv_rows: 100_000,
            max_csv_field_bytes: 16 * 1024,
            max_decompressed_bytes: 32 * 1024 * 1024,
            max_archive_entries: 16,
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
    /// [`Limits::max_xml_depth`]
    XmlDepth,
    /// [`Limits::max_xml_elements`]
    XmlElements,
    /// [`Limits::max_csv_rows`]
    CsvRows,
    /// [`Limits::max_csv_field_bytes`]
    CsvFieldBytes,
    /// [`Limits::max_decompressed_bytes`]
    DecompressedBytes,
    /// [`Limits::max_archive_entries`]
    ArchiveEntries,
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
            Limit::XmlDepth => "max_xml_depth",
            Limit::XmlElements => "max_xml_elements",
            Limit::CsvRows => "max_csv_rows",
            Limit::CsvFieldBytes => "max_csv_field_bytes",
            Limit::DecompressedBytes => "max_decompressed_bytes",
            Limit::ArchiveEntries => "max_archive_entries",
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

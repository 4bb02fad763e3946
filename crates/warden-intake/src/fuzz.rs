//! A bounded mutation fuzzer on stable Rust (no nightly `cargo fuzz`), as `warden_flow::fuzz`:
//! messages and documents of a corpus (the hand-written ones in `corpus/`: ARF, X-ARF, IODEF
//! XML and JSON, Shadowserver CSV, free-form complaints, gzip and zip attachments and bare
//! archives; plus any the caller adds, e.g. the sisimai feedback-loop mails) are mutated —
//! bytes overwritten, bits flipped, cuts and insertions, and, since MIME, XML and CSV are text,
//! line-level ones: lines dropped, doubled or swapped, boundaries broken, encodings, encoded
//! words, DTDs, entities, quotes and defanged addresses injected, the message wrapped in more
//! multipart layers than the depth bound — and fed through every parser: [`parse_message`]
//! (so the MIME reader, ARF, X-ARF, IODEF, Shadowserver, the archives and the free-form
//! reader), [`parse_xarf`], [`parse_document`] (with a content type or file name that takes
//! turns: XML, JSON, two Shadowserver names, CSV, zip, gzip, none), the free-form candidate
//! scanner, and the MIME reader with small bounds. One input in four runs with small bounds,
//! so every limit is hit. Deterministic from its seed, so a failure replays. Besides "no
//! panic", each result is checked against the bounds: at least one report, no more than
//! `max_reports` besides CSV rows and no more than `max_csv_rows` of those, each with a target
//! and no more than `max_targets` (`max_candidates` for IODEF and free-form), and evidence
//! whose SHA-256 is its bytes'.

use std::collections::BTreeMap;

use crate::{Format, Limits, MailError, ParsedReport, parse_document, parse_message, parse_xarf};

/// The hand-written corpus: (name, bytes).
pub const CORPUS: &[(&str, &[u8])] = &[
    ("arf-encoded", include_bytes!("../corpus/arf-encoded.eml")),
    ("xarf-v4", include_bytes!("../corpus/xarf-v4.eml")),
    ("xarf-v3", include_bytes!("../corpus/xarf-v3.eml")),
    ("nested-fraud", include_bytes!("../corpus/nested-fraud.eml")),
    ("forwarded", include_bytes!("../corpus/forwarded.eml")),
    (
        "xarf-v4-bare",
        include_bytes!("../corpus/xarf-v4-bare.json"),
    ),
    ("iodef-v1", include_bytes!("../corpus/iodef-v1.xml")),
    ("iodef-v2", include_bytes!("../corpus/iodef-v2.eml")),
    ("iodef-json", include_bytes!("../corpus/iodef-json.json")),
    (
        "shadowserver-scan",
        include_bytes!("../corpus/2026-11-30-scan_dns-example-asn.csv"),
    ),
    (
        "shadowserver-event",
        include_bytes!("../corpus/shadowserver.eml"),
    ),
    ("free-form-spamcop", include_bytes!("../corpus/spamcop.eml")),
    (
        "free-form-defanged",
        include_bytes!("../corpus/defanged.eml"),
    ),
    ("free-form-gzip", include_bytes!("../corpus/gzip-log.eml")),
    (
        "free-form-zip",
        include_bytes!("../corpus/zip-evidence.eml"),
    ),
    ("zip", include_bytes!("../corpus/reports.zip")),
    ("gzip", include_bytes!("../corpus/report.csv.gz")),
];

/// The hints [`parse_document`] gets, in turn.
const HINTS: &[&str] = &[
    "application/xml",
    "application/json",
    "2026-11-30-scan_dns-example-asn.csv",
    "2026-11-30-event4_sinkhole-example-geo.csv",
    "text/csv",
    "reports.zip",
    "report.csv.gz",
    "",
];

/// xorshift64*: small, fast, deterministic.
#[derive(Debug, Clone)]
pub struct Mutator(u64);

/// Snippets that MIME and JSON parsers trip over.
const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n\n",
    b"--",
    b"=?utf-8?B?",
    b"=?iso-2022-jp?Q?=1B",
    b"?=",
    b"=\r\n",
    b"=ZZ",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"Content-Type: multipart/mixed; boundary=\"x\"\r\n",
    b"Content-Type: message/feedback-report\r\n",
    b"Content-Type: application/json\r\n",
    b"Feedback-Type: abuse\r\n",
    b"Source-IP: 192.0.2.1\r\n",
    b"Received: from x ([203.0.113.9]) by y\r\n",
    b"boundary*0*=utf-8''%",
    b"\"xarf_version\": \"4.0.0\", ",
    b"{\"Version\": \"3\"}",
    b"[[[[[[[[",
    b"\xff\xfe\x00",
    b" \t",
    b"<!DOCTYPE d [<!ENTITY a \"aaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>",
    b"<!ENTITY x SYSTEM \"file:///etc/passwd\">",
    b"&a;",
    b"&#x41;",
    b"&amp;",
    b"<![CDATA[",
    b"<Incident purpose=\"reporting\">",
    b"</Incident>",
    b"<Address category=\"ipv4-net\">192.0.2.0/24</Address>",
    b"<Address category=\"ipv6-addr\">2001:db8::1</Address>",
    b"<Node><NodeName>x.example</NodeName></Node>",
    b"xmlns=\"urn:ietf:params:xml:ns:iodef-2.0\"",
    b"{\"Incident\": [{\"purpose\": \"watch\"}], \"version\": \"2.0\"}",
    b"\"timestamp\",\"ip\",\"port\"\r\n",
    b"\"\"",
    b"\",",
    b",,,,",
    b"hxxp://",
    b"192.0.2[.]1",
    b"2001:db8::",
    b"PK\x03\x04",
    b"\x1f\x8b\x08\x00",
    b"Subject: [SpamCop (http://x.example/) id:1]\r\n",
    b"Content-Type: application/zip; name=\"a.zip\"\r\n",
    b"Content-Type: text/csv; name=\"2026-11-30-scan_ntp-x.csv\"\r\n",
];

impl Mutator {
    /// From a seed (0 is replaced by a fixed non-zero one).
    pub fn new(seed: u64) -> Mutator {
        Mutator(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next pseudo-random number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (0 for `n` of 0).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
    }

    /// One to four mutations of `seed`.
    pub fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
        let mut p = seed.to_vec();
        for _ in 0..=self.below(4) {
            match self.below(10) {
                0 => {
                    let i = self.below(p.len());
                    if let Some(b) = p.get_mut(i) {
                        *b = self.next_u64() as u8;
                    }
                }
                1 => {
                    let i = self.below(p.len());
                    let bit = 1u8 << self.below(8);
                    if let Some(b) = p.get_mut(i) {
                        *b ^= bit;
                    }
                }
                2 => {
                    let n = self.below(p.len() + 1);
                    p.truncate(n);
                }
                3 => {
                    let i = self.below(p.len() + 1);
                    let t = TOKENS.get(self.below(TOKENS.len())).copied().unwrap_or(b"");
                    p.splice(i..i, t.iter().copied());
                }
                4..=6 => p = self.mutate_lines(&p),
                7 => p = self.break_boundary(&p),
                8 => p = wrap(&p, 1 + self.below(12)),
                _ => {
                    let i = self.below(p.len() + 1);
                    let extra: Vec<u8> =
                        (0..self.below(16)).map(|_| self.next_u64() as u8).collect();
                    p.splice(i..i, extra);
                }
            }
        }
        p
    }

    fn mutate_lines(&mut self, p: &[u8]) -> Vec<u8> {
        let mut lines: Vec<&[u8]> = p.split_inclusive(|b| *b == b'\n').collect();
        if lines.is_empty() {
            return p.to_vec();
        }
        let i = self.below(lines.len());
        let j = self.below(lines.len());
        match self.below(4) {
            0 => {
                lines.remove(i);
            }
            1 => {
                if let Some(l) = lines.get(i).copied() {
                    for _ in 0..=self.below(3) {
                        lines.insert(i, l);
                    }
                }
            }
            2 => lines.swap(i, j),
            _ => lines.truncate(i),
        }
        lines.concat()
    }

    /// Changes one character of one occurrence of a `boundary=` value in the body.
    fn break_boundary(&mut self, p: &[u8]) -> Vec<u8> {
        let mut out = p.to_vec();
        let delims: Vec<usize> = out
            .windows(3)
            .enumerate()
            .filter(|(_, w)| *w == b"\n--")
            .map(|(i, _)| i + 3)
            .collect();
        if let Some(&at) = delims.get(self.below(delims.len()))
            && let Some(b) = out.get_mut(at)
        {
            *b = b.wrapping_add(1);
        }
        out
    }
}

/// `p` inside `n` more `multipart/mixed` layers.
fn wrap(p: &[u8], n: usize) -> Vec<u8> {
    let mut body = p.to_vec();
    for level in 0..n {
        let mut out = format!(
            "From: a@reporter.example\r\nContent-Type: multipart/mixed; boundary=\"w{level}\"\r\n\r\n--w{level}\r\n"
        )
        .into_bytes();
        out.extend_from_slice(&body);
        out.extend_from_slice(format!("\r\n--w{level}--\r\n").as_bytes());
        body = out;
    }
    body
}

/// What a run saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FuzzReport {
    /// Inputs fed (each through every parser).
    pub inputs: u64,
    /// Messages that parsed into reports.
    pub parsed: u64,
    /// Reports they carried.
    pub reports: u64,
    /// Bare documents ([`parse_document`]) that parsed into reports.
    pub documents: u64,
    /// Reports of messages and documents by [`Format::code`]: which parsers were reached.
    pub formats: BTreeMap<&'static str, u64>,
    /// Refusals by [`MailError::code`].
    pub errors: BTreeMap<&'static str, u64>,
    /// Broken invariants (a parse result out of its bounds), with the input's number; empty
    /// when all is well.
    pub violations: Vec<(u64, String)>,
}

/// Feeds `inputs` mutations of `corpus` (each picked at random; unmutated now and then) to
/// every parser, calling `each(i, input)` before input `i` (to remember it for a replay). A
/// panic is the caller's to catch.
pub fn run(
    corpus: &[&[u8]],
    inputs: u64,
    seed: u64,
    mut each: impl FnMut(u64, &[u8]),
) -> FuzzReport {
    let limits = Limits::default();
    let small = Limits {
        max_message_bytes: 16 * 1024,
        max_part_bytes: 4 * 1024,
        max_parts: 8,
        max_depth: 3,
        max_headers: 24,
        max_reports: 2,
        max_targets: 3,
        max_candidates: 5,
        max_xml_depth: 6,
        max_xml_elements: 40,
        max_csv_rows: 3,
        max_csv_field_bytes: 64,
        max_decompressed_bytes: 8 * 1024,
        max_archive_entries: 2,
    };
    let mut m = Mutator::new(seed);
    let mut report = FuzzReport {
        inputs,
        ..FuzzReport::default()
    };
    for i in 0..inputs {
        let Some(base) = corpus.get(m.below(corpus.len())) else {
            break;
        };
        let input = if m.below(8) == 0 {
            base.to_vec()
        } else {
            m.mutate(base)
        };
        each(i, &input);
        let l = if i % 4 == 3 { &small } else { &limits };
        match parse_message(&input, l) {
            Ok(mail) => {
                report.parsed += 1;
                report.reports += mail.reports.len() as u64;
                tally(&mut report, &mail.reports);
                if mail.parts > l.max_parts {
                    report.violations.push((i, format!("{} parts", mail.parts)));
                } else if let Some(v) = check(&mail.reports, l) {
                    report.violations.push((i, v));
                }
            }
            Err(e) => count(&mut report, &e),
        }
        if let Err(e) = parse_xarf(&input, l) {
            count(&mut report, &e);
        }
        let hint = HINTS
            .get(usize::try_from(i).unwrap_or(0) % HINTS.len())
            .copied()
            .unwrap_or("");
        match parse_document(&input, hint, l) {
            Ok(doc) => {
                report.documents += 1;
                tally(&mut report, &doc.reports);
                if let Some(v) = check(&doc.reports, l) {
                    report.violations.push((i, format!("document: {v}")));
                }
            }
            Err(e) => count(&mut report, &e),
        }
        let text =
            String::from_utf8_lossy(input.get(..input.len().min(64 * 1024)).unwrap_or_default());
        if crate::freeform::candidates(&text, l.max_candidates).len() > l.max_candidates {
            report
                .violations
                .push((i, "more free-form candidates than the cap".into()));
        }
        let _ = crate::mime::parse(&input, &small);
    }
    report
}

fn tally(report: &mut FuzzReport, reports: &[ParsedReport]) {
    for r in reports {
        *report.formats.entry(r.format.code()).or_default() += 1;
    }
}

fn count(report: &mut FuzzReport, e: &MailError) {
    *report.errors.entry(e.code()).or_default() += 1;
    debug_assert!(!e.to_string().is_empty());
}

/// The bounds the reports of a message or a document must keep.
fn check(reports: &[ParsedReport], l: &Limits) -> Option<String> {
    let rows = reports
        .iter()
        .filter(|r| r.format == Format::Shadowserver)
        .count();
    let others = reports.len() - rows;
    if reports.is_empty() || others > l.max_reports || rows > l.max_csv_rows {
        return Some(format!("{others} reports and {rows} CSV rows"));
    }
    for r in reports {
        let max = match r.format {
            Format::Iodef | Format::FreeForm => l.max_candidates,
            _ => l.max_targets,
        };
        if r.targets.is_empty() || r.targets.len() > max {
            return Some(format!("{} {} targets", r.targets.len(), r.format.code()));
        }
        if warden_domain::sha256_hex(&r.raw.bytes) != r.raw.sha256 {
            return Some("evidence digest mismatch".into());
        }
        let bound = l
            .max_part_bytes
            .max(l.max_message_bytes)
            .max(l.max_decompressed_bytes);
        if r.raw.bytes.len() > bound {
            return Some("evidence over the bound".into());
        }
        if r.evidence_text.len() > warden_domain::report::MAX_EVIDENCE_BYTES {
            return Some("evidence text over the bound".into());
        }
    }
    None
}

//! ARF, the Abuse Reporting Format (RFC 5965, with RFC 6650's rules): a `multipart/report;
//! report-type=feedback-report` of a human-readable part, a `message/feedback-report` part of
//! fields, and the reported message (`message/rfc822`) or its header (`text/rfc822-headers`).
//!
//! # Feedback types and categories
//!
//! | `Feedback-Type`                  | category                    | disposition   | why |
//! |----------------------------------|-----------------------------|---------------|-----|
//! | `abuse`                          | [`Category::SpamMail`]      | violation     | unsolicited or abusive mail |
//! | `fraud`                          | [`Category::FraudPhishing`] | violation     | fraud or phishing mail |
//! | `virus`                          | [`Category::Malware`]       | violation     | the mail carried malware |
//! | `other` and unregistered types   | [`Category::SpamMail`]      | violation     | a complaint about a mail: triage decides |
//! | `not-spam` (RFC 6430)            | [`Category::SpamMail`]      | notify-only   | the opposite of a complaint; kept, never a case |
//! | `auth-failure` (RFC 6591)        | [`Category::SpamMail`]      | notify-only   | SPF/DKIM/DMARC failed: often someone else spoofing the domain |
//! | `opt-out`, `opt-out-list` (drafts) | [`Category::SpamMail`]    | notify-only   | a recipient asks to be removed |
//!
//! A message with no feedback-report part but an attached `message/rfc822` (Microsoft's JMRP,
//! a person forwarding spam as an attachment) is read as `abuse`, marked
//! [`ArfDetails::inferred`]. A delivery report (`report-type=delivery-status`) never is: a
//! bounce is not a complaint.
//!
//! # Targets
//!
//! `Reported-Uri` (http/https), then the source IP, then `Reported-Domain`. The source IP is
//! `Source-IP`; when it is absent, the first external `Received` of the original message's
//! header: walking from the top (the reporter's own MTA wrote the first), the first trace
//! field whose `from` clause names an address that is not private, loopback, link-local or
//! shared (RFC 6598). Within one field the address the receiving MTA saw (in `[]` or `()`)
//! counts before the name the client gave.

use std::net::IpAddr;

use warden_domain::report::MAX_EVIDENCE_BYTES;
use warden_domain::resource::{Target, normalise_domain};
use warden_domain::taxonomy::Category;

use crate::date::parse_rfc5322;
use crate::error::MailError;
use crate::mime::{Headers, Message, Part, parse_header_block, split_head_body};
use crate::report::{
    ArfDetails, Details, Disposition, FeedbackType, Format, ParsedReport, RawPart, SourceIpOrigin,
};
use crate::{Limits, MailContext, cut_text, push_target};

/// The content types of ARF's third part.
pub const ORIGINAL_TYPES: &[&str] = &[
    "message/rfc822",
    "text/rfc822-headers",
    // Sent by some feedback loops, and RFC 6522's misspelling.
    "text/rfc822-header",
    "message/rfc822-headers",
];

/// The category and disposition of a feedback type (the table in the module docs).
pub fn category_of(t: &FeedbackType) -> (Category, Disposition) {
    match t {
        FeedbackType::Abuse | FeedbackType::Other(_) => {
            (Category::SpamMail, Disposition::Violation)
        }
        FeedbackType::Fraud => (Category::FraudPhishing, Disposition::Violation),
        FeedbackType::Virus => (Category::Malware, Disposition::Violation),
        FeedbackType::NotSpam | FeedbackType::AuthFailure | FeedbackType::OptOut => {
            (Category::SpamMail, Disposition::NotifyOnly)
        }
    }
}

/// The report of the `message/feedback-report` part `index` of `msg`.
pub(crate) fn feedback_report(
    msg: &Message<'_>,
    index: usize,
    mail: &MailContext,
    limits: &Limits,
    warnings: &mut Vec<String>,
) -> Result<ParsedReport, MailError> {
    let part = msg
        .parts
        .get(index)
        .ok_or_else(|| MailError::NoReport("no such part".into()))?;
    let at = part.at();
    let err = |code, field: &str, message: String| {
        MailError::report(Format::Arf, at.clone(), code, field, message)
    };
    let body = part.decoded()?;
    let fields = parse_header_block(&body, limits.max_headers).map_err(|n| MailError::Limit {
        limit: crate::Limit::Headers,
        at: at.clone(),
        what: "the number of report fields",
        actual: n,
        max: limits.max_headers,
    })?;
    let once = |name: &'static str| -> Result<Option<&str>, MailError> {
        let mut all = fields.all(name);
        let first = all.next();
        if all.next().is_some() {
            return Err(err(
                "duplicate_field",
                name,
                format!("{name} appears more than once; RFC 5965 allows it once"),
            ));
        }
        Ok(first)
    };
    let feedback_type = once("Feedback-Type")?
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            err(
                "missing_field",
                "Feedback-Type",
                "missing Feedback-Type".into(),
            )
        })?;
    let feedback_type = FeedbackType::parse(feedback_type);
    let version = once("Version")?.map(str::to_string);
    if version.is_none() {
        warnings.push(format!("{at}: no Version field (RFC 5965 requires it)"));
    }
    let user_agent = once("User-Agent")?.map(str::to_string);
    if user_agent.is_none() {
        warnings.push(format!("{at}: no User-Agent field (RFC 5965 requires it)"));
    }
    let source_ip = match once("Source-IP")? {
        Some(v) => Some((
            parse_ip(v).ok_or_else(|| {
                err(
                    "invalid_field",
                    "Source-IP",
                    format!("Source-IP `{}` is not an IP address", cut(v)),
                )
            })?,
            SourceIpOrigin::Field,
        )),
        None => None,
    };
    let mut reported_domains = Vec::new();
    for v in fields.all("Reported-Domain") {
        let d = normalise_domain(v.trim()).ok_or_else(|| {
            err(
                "invalid_field",
                "Reported-Domain",
                format!("Reported-Domain `{}` is not a domain name", cut(v)),
            )
        })?;
        if !reported_domains.contains(&d) {
            reported_domains.push(d);
        }
    }
    let reported_uris: Vec<String> = fields
        .all("Reported-Uri")
        .map(|u| u.trim().trim_matches(['<', '>']).to_string())
        .collect();
    let arrival_text = fields
        .get("Arrival-Date")
        .or_else(|| fields.get("Received-Date"));
    let arrival_date = arrival_text.and_then(parse_rfc5322);
    if let (Some(t), None) = (arrival_text, arrival_date) {
        warnings.push(format!(
            "{at}: Arrival-Date `{}` is not a date; ignored",
            cut(t)
        ));
    }
    let siblings = siblings(msg, index);
    let original_index = siblings.iter().copied().find(|&i| {
        i > index
            && msg
                .parts
                .get(i)
                .is_some_and(|p| ORIGINAL_TYPES.contains(&p.content_type.mime.as_str()))
    });
    let original = original_index.and_then(|i| msg.parts.get(i));
    if original.is_none() {
        warnings.push(format!(
            "{at}: no original message part after it (RFC 5965 requires message/rfc822 or text/rfc822-headers)"
        ));
    }
    let source_ip = match (source_ip, original) {
        (Some(s), _) => Some(s),
        (None, Some(o)) => first_external_received(&original_headers(o, limits)?)
            .map(|ip| (ip, SourceIpOrigin::Received)),
        (None, None) => None,
    };
    let details = ArfDetails {
        feedback_type,
        inferred: false,
        version,
        source_ip,
        reported_domains,
        reported_uris,
        original_mail_from: fields
            .get("Original-Mail-From")
            .map(|v| v.trim().trim_matches(['<', '>']).to_string()),
        original_rcpt_to: fields
            .all("Original-Rcpt-To")
            .take(limits.max_targets)
            .map(|v| v.trim().trim_matches(['<', '>']).to_string())
            .collect(),
        arrival_date,
        authentication_results: fields.get("Authentication-Results").map(str::to_string),
    };
    let evidence = siblings
        .iter()
        .copied()
        .filter(|&i| i < index)
        .filter_map(|i| msg.parts.get(i))
        .find(|p| p.content_type.mime == "text/plain")
        .map(Part::text)
        .transpose()?
        .unwrap_or_default();
    build(
        part, original, details, user_agent, evidence, mail, limits, warnings,
    )
}

/// A complaint that only forwards the offending message (`message/rfc822` part `index`).
pub(crate) fn forwarded(
    msg: &Message<'_>,
    index: usize,
    mail: &MailContext,
    limits: &Limits,
    warnings: &mut Vec<String>,
) -> Result<ParsedReport, MailError> {
    let part = msg
        .parts
        .get(index)
        .ok_or_else(|| MailError::NoReport("no such part".into()))?;
    let headers = original_headers(part, limits)?;
    let details = ArfDetails {
        feedback_type: FeedbackType::Abuse,
        inferred: true,
        version: None,
        source_ip: first_external_received(&headers).map(|ip| (ip, SourceIpOrigin::Received)),
        reported_domains: Vec::new(),
        reported_uris: Vec::new(),
        original_mail_from: headers
            .get("Return-Path")
            .map(|v| v.trim().trim_matches(['<', '>']).to_string())
            .filter(|v| !v.is_empty()),
        original_rcpt_to: Vec::new(),
        arrival_date: None,
        authentication_results: None,
    };
    let evidence = msg
        .parts
        .iter()
        .find(|p| p.content_type.mime == "text/plain" && p.depth <= part.depth)
        .map(Part::text)
        .transpose()?
        .unwrap_or_default();
    build(
        part,
        Some(part),
        details,
        None,
        evidence,
        mail,
        limits,
        warnings,
    )
}

#[allow(clippy::too_many_arguments)]
fn build(
    part: &Part<'_>,
    original: Option<&Part<'_>>,
    details: ArfDetails,
    user_agent: Option<String>,
    evidence: String,
    mail: &MailContext,
    limits: &Limits,
    warnings: &mut Vec<String>,
) -> Result<ParsedReport, MailError> {
    let at = part.at();
    let mut targets = Vec::new();
    for u in &details.reported_uris {
        let is_web = u.split_once("://").is_some_and(|(s, _)| {
            s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https")
        });
        match Target::parse(u) {
            Ok(t @ Target::Url(_)) if is_web => push_target(&mut targets, t, limits, &at, warnings),
            _ => warnings.push(format!(
                "{at}: Reported-Uri `{}` is not an http(s) URL Warden can act on; kept, not a target",
                cut(u)
            )),
        }
    }
    if let Some((ip, _)) = details.source_ip {
        push_target(&mut targets, Target::Ip(ip), limits, &at, warnings);
    }
    for d in &details.reported_domains {
        push_target(
            &mut targets,
            Target::Domain(d.clone()),
            limits,
            &at,
            warnings,
        );
    }
    if targets.is_empty() {
        return Err(MailError::report(
            Format::Arf,
            at,
            "no_target",
            "Source-IP",
            "the report names nothing to act on: no Source-IP, Reported-Domain or http(s) \
             Reported-Uri, and no external Received field in the original message",
        ));
    }
    let (category, disposition) = category_of(&details.feedback_type);
    let mut reporter = mail.reporter.clone();
    reporter.user_agent = user_agent;
    Ok(ParsedReport {
        format: Format::Arf,
        reporter,
        targets,
        category,
        disposition,
        claimed_type: details.feedback_type.as_str().to_string(),
        occurred_at: details.arrival_date,
        reported_at: mail.date,
        evidence_text: cut_text(evidence, MAX_EVIDENCE_BYTES),
        raw: RawPart::new(
            part.id.to_string(),
            part.content_type.mime.clone(),
            part.raw,
        ),
        original: original
            .map(|o| RawPart::new(o.id.to_string(), o.content_type.mime.clone(), o.raw)),
        details: Details::Arf(details),
    })
}

/// The other parts of the multipart that holds part `index` (itself included), in order.
fn siblings(msg: &Message<'_>, index: usize) -> Vec<usize> {
    msg.parts
        .iter()
        .find(|p| p.children.contains(&index))
        .map(|p| p.children.clone())
        .unwrap_or_else(|| vec![index])
}

/// The header of an ARF original (a whole message, or a header block).
fn original_headers(part: &Part<'_>, limits: &Limits) -> Result<Headers, MailError> {
    let bytes = part.decoded()?;
    let head = if part.content_type.mime == "message/rfc822" {
        split_head_body(&bytes).head.to_vec()
    } else {
        bytes.into_owned()
    };
    parse_header_block(&head, limits.max_headers).map_err(|n| MailError::Limit {
        limit: crate::Limit::Headers,
        at: part.at(),
        what: "the number of the original message's header fields",
        actual: n,
        max: limits.max_headers,
    })
}

/// The first external address of the `Received` fields, top down (see the module docs).
pub fn first_external_received(headers: &Headers) -> Option<IpAddr> {
    headers
        .all("Received")
        .find_map(|r| received_from_ips(r).into_iter().find(|ip| is_external(*ip)))
}

/// The addresses in a `Received` field's `from` clause: those in `[]` or `()` (what the
/// receiving MTA saw) before the bare name the client gave.
pub fn received_from_ips(value: &str) -> Vec<IpAddr> {
    let v = value.trim_start();
    let Some(clause) = v
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("from "))
        .and_then(|_| v.get(5..))
    else {
        return Vec::new();
    };
    let mut enclosed = Vec::new();
    let mut bare = Vec::new();
    let mut depth = 0usize;
    let mut token = String::new();
    let mut flush = |token: &mut String, inside: bool| {
        if let Some(ip) = parse_ip(token) {
            if inside {
                enclosed.push(ip);
            } else {
                bare.push(ip);
            }
        }
        token.clear();
    };
    let mut words = 0usize;
    for c in clause.chars() {
        match c {
            '[' | '(' => {
                flush(&mut token, depth > 0);
                depth += 1;
            }
            ']' | ')' => {
                flush(&mut token, depth > 0);
                depth = depth.saturating_sub(1);
            }
            ';' if depth == 0 => break,
            c if c.is_whitespace() => {
                if depth == 0 && token.eq_ignore_ascii_case("by") {
                    break;
                }
                if !token.is_empty() {
                    words += 1;
                }
                flush(&mut token, depth > 0);
            }
            c => {
                if token.len() < 64 {
                    token.push(c);
                }
            }
        }
        if words > 64 {
            break;
        }
    }
    if !token.eq_ignore_ascii_case("by") {
        flush(&mut token, depth > 0);
    }
    enclosed.extend(bare);
    enclosed
}

/// An IP address as mail writes it: `192.0.2.1`, `[192.0.2.1]`, `IPv6:2001:db8::1`,
/// `192.0.2.1:25`.
pub fn parse_ip(text: &str) -> Option<IpAddr> {
    let t = text.trim().trim_matches(['[', ']']);
    let t = t
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("ipv6:"))
        .and_then(|_| t.get(5..))
        .unwrap_or(t);
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    // An IPv4 address with a port.
    let (host, port) = t.rsplit_once(':')?;
    if port.bytes().all(|b| b.is_ascii_digit()) && host.contains('.') {
        return host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4);
    }
    None
}

/// Whether an address can be a sender on the Internet: not private, loopback, link-local,
/// unspecified, shared (100.64.0.0/10), multicast or unique-local.
pub fn is_external(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80)
        }
    }
}

fn cut(v: &str) -> String {
    v.trim().chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_prefers_what_the_mta_saw() {
        let ips = |v| {
            received_from_ips(v)
                .into_iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ips("from 127.0.0.1  (EHLO mx8.example.com) (192.0.2.8)\r\n by mta34 with SMTP"),
            ["192.0.2.8", "127.0.0.1"]
        );
        assert_eq!(
            ips("from [192.0.2.222] ([192.0.2.222:222] helo=mta-2.example.org) by example.org"),
            ["192.0.2.222", "192.0.2.222"]
        );
        assert_eq!(ips("by 192.0.2.25 with SMTP id x"), Vec::<String>::new());
        assert_eq!(
            ips("from localhost ([IPv6:2001:db8::5]) by x; Thu, 29 Apr 2015"),
            ["2001:db8::5"]
        );
        assert!(!is_external("10.0.0.1".parse().unwrap()));
        assert!(!is_external("100.64.1.1".parse().unwrap()));
        assert!(!is_external("::ffff:192.168.0.1".parse().unwrap()));
        assert!(is_external("203.0.113.9".parse().unwrap()));
    }
}

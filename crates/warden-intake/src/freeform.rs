//! Free-form complaints: a person's mail, a SpamCop report, a fail2ban notice, a CERT's
//! letter. No structure to check, so the parser recognises the reporter, finds every address,
//! URL and domain in the text, and picks a category from the reporter or from keywords.
//!
//! This is the last resort of [`crate::parse_message`]: only a message that carries no
//! structured report and no attached message is read so.
//!
//! # Reporters
//!
//! A [`ReporterRule`] names a reporter by its sender's domain (the domain of `From:`, or a
//! subdomain of it) and a subject pattern (substrings, any of which matches, case-insensitive;
//! or a regular expression), and may give the category and a [`TrustHint`]. The first rule
//! that matches wins. The shipped set ([`default_rules`]), which a caller replaces with its own
//! through [`crate::parse_message_with`]:
//!
//! | rule | sender domains | subject | category | trust |
//! |---|---|---|---|---|
//! | `spamcop` | spamcop.net | contains `[SpamCop` | `spam_mail` | normal |
//! | `fail2ban` | any | contains `fail2ban` | `hacking` (brute-force logins) | normal |
//! | `cert` | national CERTs: cert.org.cn (CNCERT/CC), jpcert.or.jp, krcert.or.kr, hkcert.org, twcert.org.tw, cert.org, cisa.gov, ncsc.gov.uk, cert.at, cert.pl, cert-bund.de, bsi.bund.de, cert.br, cert.ssi.gouv.fr, ncsc.nl, cyber.gov.au | any | from the keywords | trusted |
//! | `brand-protection` | phishing take-down firms: netcraft.com, phishlabs.com, markmonitor.com, brandshield.com, zerofox.com, group-ib.com, fraudwatch.io, bolster.ai | any | `fraud_phishing` | normal |
//!
//! A trust hint is only as good as the sender's domain: the caller checks DKIM and DMARC
//! before it believes one, and keeps its own reporter list (INT-6).
//!
//! # Keywords
//!
//! When no rule gives the category, the subject, then the text, is searched for the words of
//! [`KEYWORDS`]; the first row of the table with a hit wins (so a notice about a vulnerable
//! service stays notify-only even if it mentions the DDoS the service could amplify). English
//! words match whole words, case-insensitive; Chinese words anywhere.
//!
//! | row | words | category | disposition |
//! |---|---|---|---|
//! | 1 | open resolver, open recursive, vulnerable, vulnerability, misconfigured, exposed service, 漏洞, 开放解析, 安全隐患 | `cyber_harm` | notify-only (INT-6) |
//! | 2 | phishing, phish, credential harvesting, 钓鱼, 仿冒 | `fraud_phishing` | violation |
//! | 3 | botnet, bot, c2, c&c, command and control, malware, trojan, virus, ransomware, infected, 木马, 病毒, 僵尸网络, 恶意软件, 恶意代码 | `malware` | violation |
//! | 4 | ddos, denial of service, dos attack, syn flood, udp flood, 拒绝服务, 流量攻击 | `ddos_attack` | violation |
//! | 5 | brute force, brute-force, bruteforce, failed password, login attempts, intrusion, exploit, webshell, defacement, sql injection, hacked, 暴力破解, 入侵, 黑客, 攻击 | `hacking` | violation |
//! | 6 | port scan, portscan, scanning, scanner, 扫描 | `scanning` | violation |
//! | 7 | spam, unsolicited, junk mail, 垃圾邮件, 垃圾短信 | `spam_mail` | violation |
//! | 8 | fraud, scam, 诈骗, 欺诈 | `fraud` | violation |
//! | 9 | copyright, dmca, infringement, pirated, 侵权, 盗版 | `infringement` | violation |
//! | 10 | crawler, scraping, 爬虫 | `malicious_crawler` | violation |
//! | 11 | gambling, casino, 赌博, 博彩 | `gambling` | violation |
//! | 12 | porn, pornographic, 色情 | `porn_vulgar` | violation |
//!
//! A rule without a category and no keyword: `cyber_harm`, for triage, with a warning. No rule
//! and no keyword: no report ([`crate::MailError::NoReport`]); a person reads it.
//!
//! # Candidates
//!
//! Every IPv4 and IPv6 address, http(s) URL and domain name in the subject, the text parts
//! (`text/*`, charsets decoded) and the text-like attachments (`.txt`, `.log`, `.csv`,
//! `.json`, `.xml`, and the same inside gzip and zip attachments, see [`crate::archive`]),
//! after undoing the usual defanging (`192.0.2[.]1`, `(.)`, `{.}`, `[dot]`, `hxxp://`,
//! `[:]`, `[://]`, `[@]`). All candidates are returned, canonical and deduplicated (URLs,
//! then addresses, then domains; an address or a domain that is a URL's host only as the URL),
//! at most [`crate::Limits::max_candidates`]: filtering them to what the provider hosts is the
//! caller's job, since it has the owner lookup. Addresses that can never be a host (unspecified,
//! loopback, multicast, broadcast) are left out. A domain is ASCII (IDN in punycode), two labels
//! or more, its last label letters only and not a common file extension (`report.csv`,
//! `index.php`; so `.zip` and `.mov` domains are missed). An attached message
//! (`message/rfc822`) is not searched: a spam's own links are not the complaint's.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use warden_domain::report::MAX_EVIDENCE_BYTES;
use warden_domain::resource::{Target, normalise_domain};
use warden_domain::taxonomy::Category;

use crate::report::{Details, Disposition, Format, FreeFormDetails, ParsedReport, RawPart};
use crate::report::{Reporter, TrustHint};
use crate::{Limits, cut_text};

/// How a rule recognises a subject.
#[derive(Debug, Clone)]
pub enum SubjectPattern {
    /// Any of these substrings, case-insensitive.
    Contains(Vec<String>),
    /// A regular expression (`regex` syntax; `(?i)` for case-insensitive).
    Regex(regex::Regex),
}

/// A subject pattern that is not a regular expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("subject pattern `{pattern}` is not a usable regular expression: {why}")]
pub struct InvalidPattern {
    /// The pattern, cut to 80 characters.
    pub pattern: String,
    /// Why not.
    pub why: String,
}

impl SubjectPattern {
    /// Any of `words`, case-insensitive.
    pub fn contains(words: &[&str]) -> SubjectPattern {
        SubjectPattern::Contains(words.iter().map(|w| w.to_lowercase()).collect())
    }

    /// A regular expression, compiled within a size bound (1 MiB).
    pub fn regex(pattern: &str) -> Result<SubjectPattern, InvalidPattern> {
        regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
            .map(SubjectPattern::Regex)
            .map_err(|e| InvalidPattern {
                pattern: pattern.chars().take(80).collect(),
                why: e.to_string(),
            })
    }

    /// Whether `subject` matches.
    pub fn matches(&self, subject: &str) -> bool {
        match self {
            SubjectPattern::Contains(words) => {
                let s = subject.to_lowercase();
                words.iter().any(|w| s.contains(w.as_str()))
            }
            SubjectPattern::Regex(r) => r.is_match(subject),
        }
    }
}

/// A reporter recognised by its sender's domain and its subject.
#[derive(Debug, Clone)]
pub struct ReporterRule {
    /// Its name (`spamcop`), kept in [`FreeFormDetails::rule`].
    pub name: String,
    /// The sender domains (lower case) it matches, subdomains included; empty for any sender.
    pub sender_domains: Vec<String>,
    /// The subject it matches; `None` for any subject. A rule with neither domains nor a
    /// subject matches nothing (it would take every mail).
    pub subject: Option<SubjectPattern>,
    /// The category of its reports; `None` to choose by keyword.
    pub category: Option<Category>,
    /// How far its reports are trusted, as a hint for the caller.
    pub trust: Option<TrustHint>,
}

impl ReporterRule {
    /// Whether a mail from `sender_domain` with `subject` is this reporter's.
    pub fn matches(&self, sender_domain: Option<&str>, subject: Option<&str>) -> bool {
        if self.sender_domains.is_empty() && self.subject.is_none() {
            return false;
        }
        let domain_ok = self.sender_domains.is_empty()
            || sender_domain.is_some_and(|d| {
                let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
                self.sender_domains.iter().any(|s| {
                    d == *s
                        || d.strip_suffix(s.as_str())
                            .is_some_and(|rest| rest.ends_with('.'))
                })
            });
        let subject_ok = match &self.subject {
            None => true,
            Some(p) => subject.is_some_and(|s| p.matches(s)),
        };
        domain_ok && subject_ok
    }
}

fn rule(
    name: &str,
    domains: &[&str],
    subject: Option<&[&str]>,
    category: Option<Category>,
    trust: TrustHint,
) -> ReporterRule {
    ReporterRule {
        name: name.into(),
        sender_domains: domains.iter().map(|d| (*d).to_string()).collect(),
        subject: subject.map(SubjectPattern::contains),
        category,
        trust: Some(trust),
    }
}

static DEFAULT_RULES: LazyLock<Vec<ReporterRule>> = LazyLock::new(|| {
    vec![
        rule(
            "spamcop",
            &["spamcop.net"],
            Some(&["[spamcop"]),
            Some(Category::SpamMail),
            TrustHint::Normal,
        ),
        rule(
            "fail2ban",
            &[],
            Some(&["fail2ban"]),
            Some(Category::Hacking),
            TrustHint::Normal,
        ),
        rule(
            "cert",
            &[
                "cert.org.cn",
                "jpcert.or.jp",
                "krcert.or.kr",
                "hkcert.org",
                "twcert.org.tw",
                "cert.org",
                "cisa.gov",
                "ncsc.gov.uk",
                "cert.at",
                "cert.pl",
                "cert-bund.de",
                "bsi.bund.de",
                "cert.br",
                "cert.ssi.gouv.fr",
                "ncsc.nl",
                "cyber.gov.au",
            ],
            None,
            None,
            TrustHint::Trusted,
        ),
        rule(
            "brand-protection",
            &[
                "netcraft.com",
                "phishlabs.com",
                "markmonitor.com",
                "brandshield.com",
                "zerofox.com",
                "group-ib.com",
                "fraudwatch.io",
                "bolster.ai",
            ],
            None,
            Some(Category::FraudPhishing),
            TrustHint::Normal,
        ),
    ]
});

/// The shipped reporter rules (the table in the module docs).
pub fn default_rules() -> &'static [ReporterRule] {
    &DEFAULT_RULES
}

/// One row of the keyword table.
#[derive(Debug, Clone, Copy)]
pub struct Keyword {
    /// The words (lower case).
    pub words: &'static [&'static str],
    /// The category they point at.
    pub category: Category,
    /// Violation or notify-only.
    pub disposition: Disposition,
}

/// The keyword table, in precedence order (the module docs' table).
pub const KEYWORDS: &[Keyword] = &[
    Keyword {
        words: &[
            "open resolver",
            "open recursive",
            "vulnerable",
            "vulnerability",
            "misconfigured",
            "exposed service",
            "漏洞",
            "开放解析",
            "安全隐患",
        ],
        category: Category::CyberHarm,
        disposition: Disposition::NotifyOnly,
    },
    Keyword {
        words: &["phishing", "phish", "credential harvesting", "钓鱼", "仿冒"],
        category: Category::FraudPhishing,
        disposition: Disposition::Violation,
    },
    Keyword {
        words: &[
            "botnet",
            "bot",
            "c2",
            "c&c",
            "command and control",
            "malware",
            "trojan",
            "virus",
            "ransomware",
            "infected",
            "木马",
            "病毒",
            "僵尸网络",
            "恶意软件",
            "恶意代码",
        ],
        category: Category::Malware,
        disposition: Disposition::Violation,
    },
    Keyword {
        words: &[
            "ddos",
            "denial of service",
            "dos attack",
            "syn flood",
            "udp flood",
            "拒绝服务",
            "流量攻击",
        ],
        category: Category::DdosAttack,
        disposition: Disposition::Violation,
    },
    Keyword {
        words: &[
            "brute force",
            "brute-force",
            "bruteforce",
            "failed password",
            "login attempts",
            "intrusion",
            "exploit",
            "webshell",
            "defacement",
            "sql injection",
            "hacked",
            "暴力破解",
            "入侵",
            "黑客",
            "攻击",
        ],
        category: Category::Hacking,
        disposition: Disposition::Violation,
    },
    Keyword {
        words: &["port scan", "portscan", "scanning", "scanner", "扫描"],
        category: Category::Scanning,
        disposition: Disposition::Violation,
    },
    Keyword {
        words: &["spam", "unsolicited", "junk mail", "垃圾邮件", "垃圾短信"],
        category: Category::SpamMail,
        disposition: Disposition::Violation,
    },
    Keyword {
        words: &["fraud", "scam", "诈骗", "欺诈"],
        category: Category::Fraud,
        disposition: Disposition::Violation,
    },
    Keyword {
        words: &[
            "copyright",
            "dmca",
            "infringement",
            "pirated",
            "侵权",
            "盗版",
        ],
        category: Category::Infringement,
        disposition: Disposition::Violation,
    },
    Keyword {
        words: &["crawler", "scraping", "爬虫"],
        category: Category::MaliciousCrawler,
        disposition: Disposition::Violation,
    },
    Keyword {
        words: &["gambling", "casino", "赌博", "博彩"],
        category: Category::Gambling,
        disposition: Disposition::Violation,
    },
    Keyword {
        words: &["porn", "pornographic", "色情"],
        category: Category::PornVulgar,
        disposition: Disposition::Violation,
    },
];

/// An automaton over every keyword, and each keyword's row and word by pattern number.
type KeywordIndex = (AhoCorasick, Vec<(usize, &'static str)>);

/// Every keyword with its row, and an automaton over them all.
static KEYWORD_INDEX: LazyLock<Option<KeywordIndex>> = LazyLock::new(|| {
    let words: Vec<(usize, &'static str)> = KEYWORDS
        .iter()
        .enumerate()
        .flat_map(|(row, k)| k.words.iter().map(move |w| (row, *w)))
        .collect();
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .build(words.iter().map(|(_, w)| *w))
        .ok()
        .map(|ac| (ac, words))
});

fn word_char(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The category the keywords of `text` point at (the first row of [`KEYWORDS`] with a hit),
/// and the word.
pub fn keyword_category(text: &str) -> Option<(Category, Disposition, &'static str)> {
    let (ac, words) = KEYWORD_INDEX.as_ref()?;
    let mut best: Option<(usize, &'static str)> = None;
    for m in ac.find_overlapping_iter(text) {
        let Some(&(row, word)) = words.get(m.pattern().as_usize()) else {
            continue;
        };
        if word.is_ascii() {
            let before = text.get(..m.start()).and_then(|s| s.chars().next_back());
            let after = text.get(m.end()..).and_then(|s| s.chars().next());
            if word_char(before) || word_char(after) {
                continue;
            }
        }
        if best.is_none_or(|(r, _)| row < r) {
            best = Some((row, word));
            if row == 0 {
                break;
            }
        }
    }
    let (row, word) = best?;
    KEYWORDS.get(row).map(|k| (k.category, k.disposition, word))
}

/// The defanged spellings and what they stand for.
const DEFANGED: &[(&str, &str)] = &[
    ("[.]", "."),
    ("(.)", "."),
    ("{.}", "."),
    ("[dot]", "."),
    ("(dot)", "."),
    ("{dot}", "."),
    ("[:]", ":"),
    ("[://]", "://"),
    ("[@]", "@"),
    ("hxxp", "http"),
];

static REFANG: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostLongest)
        .build(DEFANGED.iter().map(|(d, _)| *d))
        .ok()
});

/// `text` with the defanging of the module docs undone.
pub fn refang(text: &str) -> String {
    match REFANG.as_ref() {
        Some(ac) => {
            let with: Vec<&str> = DEFANGED.iter().map(|(_, r)| *r).collect();
            ac.replace_all(text, &with)
        }
        None => text.to_string(),
    }
}

/// Last labels that are file extensions far more often than top-level domains in a complaint.
const FILE_EXTENSIONS: &[&str] = &[
    "exe", "dll", "txt", "csv", "json", "xml", "html", "htm", "php", "asp", "aspx", "jsp", "js",
    "css", "png", "jpg", "jpeg", "gif", "bmp", "svg", "pdf", "doc", "docx", "xls", "xlsx", "ppt",
    "pptx", "zip", "gz", "tar", "tgz", "rar", "eml", "msg", "log", "ini", "conf", "cfg", "bin",
    "dat", "sh", "py", "pl", "rb", "java", "cpp", "go", "rs", "md", "yml", "yaml", "tmp", "bak",
    "iso", "img", "mp3", "mp4", "avi", "mov", "wav", "ico", "woff", "ttf", "jar", "apk", "so",
];

/// The candidates of some texts: URLs, addresses and domains, deduplicated.
#[derive(Debug, Default)]
pub struct Candidates {
    urls: Vec<Target>,
    ips: Vec<IpAddr>,
    domains: Vec<String>,
    seen: HashSet<String>,
    cap: usize,
    dropped: usize,
}

impl Candidates {
    /// Collects at most `cap` of each kind (and of all, in [`Candidates::into_targets`]).
    pub fn new(cap: usize) -> Candidates {
        Candidates {
            cap,
            ..Candidates::default()
        }
    }

    fn fresh(&mut self, key: String, len: usize) -> bool {
        if len >= self.cap {
            if !self.seen.contains(&key) {
                self.dropped += 1;
            }
            return false;
        }
        self.seen.insert(key)
    }

    /// Adds the candidates of `text` (defanged or not).
    pub fn scan(&mut self, text: &str) {
        let text = refang(text);
        self.scan_urls(&text);
        self.scan_ips(&text);
        self.scan_domains(&text);
    }

    fn scan_urls(&mut self, text: &str) {
        let lower = text.to_ascii_lowercase();
        let mut from = 0usize;
        while let Some(i) = lower.get(from..).and_then(|r| r.find("http")) {
            let s = from + i;
            let rest = lower.get(s..).unwrap_or_default();
            let scheme = if rest.starts_with("https://") {
                8
            } else if rest.starts_with("http://") {
                7
            } else {
                from = s + 4;
                continue;
            };
            let end = text
                .get(s..)
                .and_then(|r| {
                    r.find(|c: char| {
                        c.is_whitespace()
                            || c.is_control()
                            || matches!(
                                c,
                                '<' | '>' | '"' | '\'' | '`' | '|' | '\\' | '^' | '{' | '}'
                            )
                    })
                })
                .map_or(text.len(), |e| s + e);
            from = end.max(s + scheme);
            let Some(mut url) = text.get(s..end) else {
                continue;
            };
            loop {
                let trimmed = url.trim_end_matches(['.', ',', ';', ':', '!', '?', ']', '*']);
                let trimmed = if trimmed.ends_with(')') && !trimmed.contains('(') {
                    trimmed.trim_end_matches(')')
                } else {
                    trimmed
                };
                if trimmed.len() == url.len() {
                    break;
                }
                url = trimmed;
            }
            let url = url.replace("&amp;", "&");
            if let Ok(t @ Target::Url(_)) = Target::parse(&url) {
                let key = t.canonical();
                if self.fresh(key, self.urls.len()) {
                    self.urls.push(t);
                }
            }
        }
    }

    fn scan_ips(&mut self, text: &str) {
        let b = text.as_bytes();
        let is_ip = |c: u8| c.is_ascii_hexdigit() || c == b':' || c == b'.';
        let mut i = 0usize;
        while i < b.len() {
            if !b.get(i).copied().is_some_and(is_ip) {
                i += 1;
                continue;
            }
            let start = i;
            while b.get(i).copied().is_some_and(is_ip) {
                i += 1;
            }
            let next = b.get(i).copied();
            if next.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') {
                continue;
            }
            let Some(tok) = text.get(start..i) else {
                continue;
            };
            // Leading `:`/`.` and trailing punctuation are not part of an address (`IP:x`,
            // `x.`), but `::1` keeps its colons.
            let lead = if tok.starts_with("::") {
                0
            } else {
                tok.len() - tok.trim_start_matches([':', '.']).len()
            };
            let before = if lead > 0 {
                b':'
            } else {
                start
                    .checked_sub(1)
                    .and_then(|p| b.get(p))
                    .copied()
                    .unwrap_or(b' ')
            };
            if before.is_ascii_alphanumeric() || before == b'_' {
                continue;
            }
            let tok = tok.get(lead..).unwrap_or_default().trim_end_matches('.');
            let tok = if tok.ends_with(':') && !tok.ends_with("::") {
                tok.trim_end_matches(':')
            } else {
                tok
            };
            let ip = if tok.contains(':') {
                tok.parse::<std::net::Ipv6Addr>()
                    .ok()
                    .map(IpAddr::V6)
                    .or_else(|| {
                        // An IPv4 address with a port.
                        let (h, p) = tok.rsplit_once(':')?;
                        (p.bytes().all(|c| c.is_ascii_digit()) && h.contains('.'))
                            .then(|| h.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4))
                            .flatten()
                    })
            } else {
                tok.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
            };
            let Some(ip) = ip.map(|ip| ip.to_canonical()) else {
                continue;
            };
            if !can_be_a_host(ip) {
                continue;
            }
            if self.fresh(ip.to_string(), self.ips.len()) {
                self.ips.push(ip);
            }
        }
    }

    fn scan_domains(&mut self, text: &str) {
        let b = text.as_bytes();
        let is_name = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'.';
        let mut i = 0usize;
        while i < b.len() {
            if !b.get(i).copied().is_some_and(is_name) {
                i += 1;
                continue;
            }
            let start = i;
            while b.get(i).copied().is_some_and(is_name) {
                i += 1;
            }
            // Part of a longer word (`x_y.example`, a non-ASCII letter).
            let before = start.checked_sub(1).and_then(|p| b.get(p)).copied();
            if before.is_some_and(|c| c == b'_' || c >= 0x80)
                || b.get(i).is_some_and(|c| *c == b'_' || *c >= 0x80)
            {
                continue;
            }
            let Some(tok) = text.get(start..i) else {
                continue;
            };
            let tok = tok.trim_matches(['.', '-']);
            if !looks_like_domain(tok) {
                continue;
            }
            let Some(d) = normalise_domain(tok) else {
                continue;
            };
            if self.fresh(format!("d:{d}"), self.domains.len()) {
                self.domains.push(d);
            }
        }
    }

    /// The targets: URLs, then addresses, then domains; an address or domain that is a URL's
    /// host is left out. At most the cap, and how many were dropped beyond it.
    pub fn into_targets(self) -> (Vec<Target>, usize) {
        let hosts: HashSet<String> = self
            .urls
            .iter()
            .filter_map(|t| match t {
                Target::Url(u) => Some(u.host.clone()),
                _ => None,
            })
            .collect();
        let mut out = self.urls;
        out.extend(
            self.ips
                .into_iter()
                .filter(|ip| !hosts.contains(&ip.to_string()))
                .map(Target::Ip),
        );
        out.extend(
            self.domains
                .into_iter()
                .filter(|d| !hosts.contains(d))
                .map(Target::Domain),
        );
        let mut dropped = self.dropped;
        if out.len() > self.cap {
            dropped += out.len() - self.cap;
            out.truncate(self.cap);
        }
        (out, dropped)
    }
}

fn can_be_a_host(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            !(v.is_unspecified() || v.is_loopback() || v.is_multicast() || v.is_broadcast())
        }
        IpAddr::V6(v) => !(v.is_unspecified() || v.is_loopback() || v.is_multicast()),
    }
}

fn looks_like_domain(tok: &str) -> bool {
    if tok.len() > 253 || !tok.contains('.') {
        return false;
    }
    let labels: Vec<&str> = tok.split('.').collect();
    let ok_labels = labels.iter().all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
    });
    let Some(last) = labels.last() else {
        return false;
    };
    let last = last.to_ascii_lowercase();
    let tld = (last.len() >= 2 && last.bytes().all(|c| c.is_ascii_alphabetic()))
        || last.starts_with("xn--");
    ok_labels && tld && !FILE_EXTENSIONS.contains(&last.as_str())
}

/// Every candidate of `text` (the module docs' rules), at most `cap`.
pub fn candidates(text: &str, cap: usize) -> Vec<Target> {
    let mut c = Candidates::new(cap);
    c.scan(text);
    c.into_targets().0
}

/// One text searched: where it was, and the text.
#[derive(Debug, Clone)]
pub(crate) struct Text {
    pub source: String,
    pub text: String,
}

/// The free-form report of a message's texts, or why there is none.
#[allow(clippy::too_many_arguments)]
pub(crate) fn report(
    texts: &[Text],
    subject: Option<&str>,
    reporter: &Reporter,
    reported_at: Option<warden_domain::time::Timestamp>,
    rules: &[ReporterRule],
    raw: RawPart,
    limits: &Limits,
    warnings: &mut Vec<String>,
) -> Result<ParsedReport, String> {
    let rule = rules
        .iter()
        .find(|r| r.matches(reporter.domain.as_deref(), subject));
    let mut c = Candidates::new(limits.max_candidates);
    if let Some(s) = subject {
        c.scan(s);
    }
    for t in texts {
        c.scan(&t.text);
    }
    let (targets, dropped) = c.into_targets();
    if dropped > 0 {
        warnings.push(format!(
            "message: more than {} candidate targets in the text; {dropped} dropped",
            limits.max_candidates
        ));
    }
    if targets.is_empty() {
        return Err("free-form text that names no IP address, URL or domain".into());
    }
    let keyword = || {
        subject
            .and_then(keyword_category)
            .or_else(|| texts.iter().find_map(|t| keyword_category(&t.text)))
    };
    let (category, disposition, word) = match (rule.and_then(|r| r.category), rule) {
        (Some(cat), _) => (cat, Disposition::Violation, None),
        (None, r) => match keyword() {
            Some((cat, d, w)) => (cat, d, Some(w)),
            None if r.is_some() => {
                warnings.push(
                    "message: a recognised reporter, and no keyword in its text: cyber_harm, \
                     for triage"
                        .into(),
                );
                (Category::CyberHarm, Disposition::Violation, None)
            }
            None => {
                return Err(
                    "free-form text from no recognised reporter and with no keyword of a category"
                        .into(),
                );
            }
        },
    };
    let mut evidence = subject.map(str::to_string).unwrap_or_default();
    if let Some(first) = texts.first() {
        if !evidence.is_empty() {
            evidence.push_str("\n\n");
        }
        evidence.push_str(&first.text);
    }
    let mut reporter = reporter.clone();
    if reporter.org.is_none() {
        reporter.org = rule.map(|r| r.name.clone());
    }
    let claimed_type = match (rule, word) {
        (Some(r), _) => format!("rule:{}", r.name),
        (None, Some(w)) => format!("keyword:{w}"),
        (None, None) => "free-form".into(),
    };
    Ok(ParsedReport {
        format: Format::FreeForm,
        reporter,
        targets,
        category,
        disposition,
        claimed_type,
        occurred_at: None,
        reported_at,
        evidence_text: cut_text(evidence, MAX_EVIDENCE_BYTES),
        raw,
        original: None,
        details: Details::FreeForm(FreeFormDetails {
            rule: rule.map(|r| r.name.clone()),
            trust: rule.and_then(|r| r.trust),
            keyword: word.map(str::to_string),
            sources: texts.iter().map(|t| t.source.clone()).collect(),
        }),
    })
}

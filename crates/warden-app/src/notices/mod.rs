//! Notices (NOT-1) are data: one template per notice kind and part — `{kind}.subject`,
//! `{kind}.txt`, `{kind}.html`, `{kind}.sms`, with shared partials (`_layout.*`, `_advice.*`) —
//! compiled into the binary from `templates/notices/`. At start, a file of the same name in
//! `<data_dir>/templates/notices/` replaces the built-in one, so a provider can reword a notice
//! without a new build; a broken replacement is a startup error naming the file and the line,
//! never a notice that fails to render at 3 a.m. (every template is rendered once at load, for
//! every kind in both languages, with facts that take every branch).
//!
//! Templates carry no words of their own: `t("key", name=…)` looks the words up in the one
//! catalogue per language the console uses ([`crate::i18n`]), so one template file serves zh-CN
//! and en and a tenant reads the same words in the inbox, a mail and the console. The facts are
//! variables (see [`NoticeFacts`]). HTML templates auto-escape; the subject, text and SMS do not
//! (they are not markup), and the subject and SMS are folded onto one line.
//!
//! Every notice names the resource (name and id), the violating links, the category with its
//! legal references, the actions in words, the deadline in the provider's time zone (named: a
//! tenant has no zone of its own), how to rectify, and only the unblock route that applies to
//! the case (UNB-1, UNB-4, TKT-1): self-service where the console may unblock, a ticket where a
//! reviewer can lift, neither where nothing is ever lifted — and a link to the case page in the
//! console where one is configured. Notices are for tenants: no action codes, no spec ids.
//! Pure rendering; the use case stores the result in the inbox in the same transaction as the
//! transition it reports (NOT-2).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use minijinja::value::Kwargs;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State, UndefinedBehavior, Value};
use serde::Serialize;
use warden_domain::lifecycle::{NoticeKind, Refusal, TicketLift};
use warden_domain::penalty::Action;
use warden_domain::taxonomy::{Category, Level};
use warden_domain::time::Timestamp;

use crate::i18n::Lang;

#[cfg(test)]
mod tests;

/// What a notice is about.
#[derive(Debug, Clone)]
pub struct NoticeFacts<'a> {
    /// Case id.
    pub case_id: &'a str,
    /// The resource's display name.
    pub resource_name: &'a str,
    /// The resource's id.
    pub resource_id: &'a str,
    /// Product code.
    pub product: &'a str,
    /// Violating links (targets).
    pub links: &'a [String],
    /// Category.
    pub category: Category,
    /// Actions in force (or, while alerting, planned).
    pub actions: &'a [Action],
    /// Deadline, if alerting.
    pub deadline: Option<Timestamp>,
    /// A reviewer's words for the tenant: a rejection's or an approval's reason.
    pub note: Option<&'a str>,
    /// Whether the console takes an unblock request for the case now (`Ok`) or which rule
    /// refuses it (UNB-1, UNB-4); `None` where the notice gives no unblock advice.
    pub unblock: Option<Result<(), Refusal>>,
    /// Behaviour violations may be a compromised machine (PEN-5).
    pub maybe_compromised: bool,
    /// Provider time zone offset for showing times, minutes east of UTC.
    pub utc_offset_minutes: i32,
    /// The console's address as tenants reach it (`https://warden.provider.example`): the
    /// notice links the case page; `None`: no link.
    pub console_url: Option<&'a str>,
}

/// A notice in every part, ready to store and send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedNotice {
    /// The inbox title and the e-mail subject: one line.
    pub title: String,
    /// The inbox body and the e-mail's text part.
    pub text: String,
    /// The e-mail's HTML part: a whole document.
    pub html: String,
    /// The SMS text, without the gateway's 【sign】: one line, one segment where the names allow.
    pub sms: String,
}

/// The parts of a notice, as the template names end.
pub const PARTS: [&str; 4] = ["subject", "txt", "html", "sms"];

/// Largest override file read (bytes): a notice template is a page, not a book.
const MAX_OVERRIDE_BYTES: u64 = 64 * 1024;

/// The built-in templates, by name.
macro_rules! builtin {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/notices/", $name)))),*]
    };
}

/// Every built-in template as (name, source): the names an override may use.
pub const BUILTIN: &[(&str, &str)] = builtin![
    "_layout.txt",
    "_layout.html",
    "_advice.txt",
    "_advice.html",
    "_blackhole.txt",
    "_blackhole.html",
    "case.alerting.subject",
    "case.alerting.txt",
    "case.alerting.html",
    "case.alerting.sms",
    "case.reminder.subject",
    "case.reminder.txt",
    "case.reminder.html",
    "case.reminder.sms",
    "case.enforced.subject",
    "case.enforced.txt",
    "case.enforced.html",
    "case.enforced.sms",
    "case.enforced_host_security.subject",
    "case.enforced_host_security.txt",
    "case.enforced_host_security.html",
    "case.enforced_host_security.sms",
    "case.resolved.subject",
    "case.resolved.txt",
    "case.resolved.html",
    "case.resolved.sms",
    "case.lifted.subject",
    "case.lifted.txt",
    "case.lifted.html",
    "case.lifted.sms",
    "case.partially_lifted.subject",
    "case.partially_lifted.txt",
    "case.partially_lifted.html",
    "case.partially_lifted.sms",
    "unblock.started.subject",
    "unblock.started.txt",
    "unblock.started.html",
    "unblock.started.sms",
    "unblock.failed.subject",
    "unblock.failed.txt",
    "unblock.failed.html",
    "unblock.failed.sms",
    "unblock.rejected.subject",
    "unblock.rejected.txt",
    "unblock.rejected.html",
    "unblock.rejected.sms",
    "ticket.answered.subject",
    "ticket.answered.txt",
    "ticket.answered.html",
    "ticket.answered.sms",
    "unblock.queued.subject",
    "unblock.queued.txt",
    "unblock.queued.html",
    "unblock.queued.sms",
    "blackhole.started.subject",
    "blackhole.started.txt",
    "blackhole.started.html",
    "blackhole.started.sms",
    "blackhole.extended.subject",
    "blackhole.extended.txt",
    "blackhole.extended.html",
    "blackhole.extended.sms",
    "blackhole.released.subject",
    "blackhole.released.txt",
    "blackhole.released.html",
    "blackhole.released.sms",
    "_assessment.txt",
    "_assessment.html",
    "assessment.approved.subject",
    "assessment.approved.txt",
    "assessment.approved.html",
    "assessment.approved.sms",
    "assessment.rejected.subject",
    "assessment.rejected.txt",
    "assessment.rejected.html",
    "assessment.rejected.sms",
    "assessment.stopped.subject",
    "assessment.stopped.txt",
    "assessment.stopped.html",
    "assessment.stopped.sms",
    "assessment.disclosure_due.subject",
    "assessment.disclosure_due.txt",
    "assessment.disclosure_due.html",
    "assessment.disclosure_due.sms",
    "report.advisory.subject",
    "report.advisory.txt",
    "report.advisory.html",
    "report.advisory.sms",
];

/// The notice templates: the built-in ones with the provider's overrides, compiled. Cheap to
/// share behind an `Arc`; rendering takes `&self`.
pub struct NoticeTemplates {
    env: Environment<'static>,
    /// Overridden template name → the file it came from.
    overrides: BTreeMap<String, PathBuf>,
    /// Why the built-in set does not compile (only [`NoticeTemplates::builtin`] keeps one; a
    /// test fails first).
    broken: Option<String>,
}

impl std::fmt::Debug for NoticeTemplates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoticeTemplates")
            .field("overrides", &self.overrides)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl NoticeTemplates {
    /// The built-in templates alone, compiled once per process.
    pub fn builtin() -> Arc<NoticeTemplates> {
        static BUILTIN_SET: OnceLock<Arc<NoticeTemplates>> = OnceLock::new();
        BUILTIN_SET
            .get_or_init(|| {
                Arc::new(
                    NoticeTemplates::compile(Vec::new()).unwrap_or_else(|e| NoticeTemplates {
                        env: Environment::empty(),
                        overrides: BTreeMap::new(),
                        broken: Some(e),
                    }),
                )
            })
            .clone()
    }

    /// The built-in templates, each replaced by `<data_dir>/templates/notices/<its name>` where
    /// that file exists. A file there that names no built-in template, cannot be read, or
    /// whose template does not compile or render is an error naming the file (and the line).
    pub fn load(data_dir: Option<&Path>) -> Result<NoticeTemplates, String> {
        let mut overrides = Vec::new();
        if let Some(dir) = data_dir.map(|d| d.join("templates").join("notices"))
            && dir.is_dir()
        {
            let entries = std::fs::read_dir(&dir)
                .map_err(|e| format!("notice templates: cannot read {}: {e}", dir.display()))?;
            let mut paths = Vec::new();
            for entry in entries.take(1000) {
                let entry = entry
                    .map_err(|e| format!("notice templates: cannot read {}: {e}", dir.display()))?;
                paths.push(entry.path());
            }
            paths.sort();
            for path in paths {
                let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned)
                else {
                    return Err(format!(
                        "{}: not a notice template name (see the built-in names in the documentation)",
                        path.display()
                    ));
                };
                // Editors' and file managers' hidden files.
                if name.starts_with('.') {
                    continue;
                }
                if !BUILTIN.iter().any(|(n, _)| *n == name) {
                    return Err(format!(
                        "{}: not a notice template name; the names are {}",
                        path.display(),
                        BUILTIN
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                let source = read_bounded(&path)?;
                overrides.push((name, path, source));
            }
        }
        NoticeTemplates::compile(overrides)
    }

    /// The templates replaced from the data directory: (name, file).
    pub fn overridden(&self) -> impl Iterator<Item = (&str, &Path)> {
        self.overrides
            .iter()
            .map(|(n, p)| (n.as_str(), p.as_path()))
    }

    /// Compiles the built-ins with `overrides` (name, file, source) in their place, then
    /// renders every kind in both languages so that a template that cannot render fails now.
    fn compile(overrides: Vec<(String, PathBuf, String)>) -> Result<NoticeTemplates, String> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        // A misspelt variable fails the load's trial render instead of printing nothing.
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_formatter(format_value);
        env.add_function("t", t);
        let mut paths = BTreeMap::new();
        let mut sources: BTreeMap<&str, String> = BUILTIN
            .iter()
            .map(|(n, s)| (*n, (*s).to_string()))
            .collect();
        for (name, path, source) in overrides {
            if let Some((n, _)) = BUILTIN.iter().find(|(n, _)| *n == name) {
                sources.insert(n, source);
                paths.insert(name, path);
            }
        }
        let describe = |e: &Error| describe(e, &paths);
        for (name, source) in sources {
            env.add_template_owned(name, source)
                .map_err(|e| describe(&e))?;
        }
        let set = NoticeTemplates {
            env,
            overrides: paths.clone(),
            broken: None,
        };
        for facts in trial_facts() {
            for kind in NoticeKind::ALL {
                for lang in [Lang::Zh, Lang::En] {
                    set.render(*kind, lang, &facts)?;
                }
            }
        }
        Ok(set)
    }

    /// Renders the notice of `kind` in `lang` about `facts`: title, text, HTML and SMS.
    pub fn render(
        &self,
        kind: NoticeKind,
        lang: Lang,
        facts: &NoticeFacts<'_>,
    ) -> Result<RenderedNotice, String> {
        if let Some(e) = &self.broken {
            return Err(e.clone());
        }
        let mut ctx = context(kind, lang, facts);
        let part = |ctx: &Context<'_>, part: &str| -> Result<String, String> {
            let name = format!("{}.{part}", kind.code());
            self.env
                .get_template(&name)
                .and_then(|t| t.render(Value::from_serialize(ctx)))
                .map_err(|e| describe(&e, &self.overrides))
        };
        let title = one_line(&part(&ctx, "subject")?);
        ctx.title = title.clone();
        Ok(RenderedNotice {
            text: text_block(&part(&ctx, "txt")?),
            html: part(&ctx, "html")?,
            sms: one_line(&part(&ctx, "sms")?),
            title,
        })
    }
}

/// A template error for an operator: the file (an override's path, or the built-in name) and
/// the line.
fn describe(e: &Error, overrides: &BTreeMap<String, PathBuf>) -> String {
    let file = match e.name() {
        Some(name) => match overrides.get(name) {
            Some(path) => path.display().to_string(),
            None => format!("built-in notice template {name}"),
        },
        None => "notice templates".to_string(),
    };
    let what = match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    };
    match e.line() {
        Some(line) => format!("{file}: line {line}: {what}"),
        None => format!("{file}: {what}"),
    }
}

/// An override's text, at most [`MAX_OVERRIDE_BYTES`], UTF-8.
fn read_bounded(path: &Path) -> Result<String, String> {
    use std::io::Read as _;
    let file =
        std::fs::File::open(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_OVERRIDE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_OVERRIDE_BYTES {
        return Err(format!(
            "{}: larger than {MAX_OVERRIDE_BYTES} bytes",
            path.display()
        ));
    }
    String::from_utf8(bytes).map_err(|_| format!("{}: not UTF-8 text", path.display()))
}

/// `t("key", name=value, …)`: the words of `key` in the notice's language, with `{name}`
/// placeholders filled. A key the catalogue lacks is an error (the load's trial render finds
/// it), never `⟦key⟧` in a tenant's mail.
fn t(state: &State<'_, '_>, key: &str, args: Kwargs) -> Result<String, Error> {
    let lang = state
        .lookup("lang")
        .and_then(|l| l.as_str().and_then(Lang::from_tag))
        .unwrap_or(Lang::En);
    let catalog = lang.catalog();
    if !catalog.has(key) {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("the {} catalogue has no key {key:?}", lang.tag()),
        ));
    }
    let mut values = Vec::new();
    for name in args.args() {
        let v: Value = args.get(name)?;
        values.push((name, plain(&v)));
    }
    let pairs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Ok(catalog.fmt(key, &pairs))
}

/// A value as text: none and undefined are empty.
fn plain(v: &Value) -> String {
    if v.is_none() || v.is_undefined() {
        String::new()
    } else if let Some(s) = v.as_str() {
        s.to_string()
    } else {
        v.to_string()
    }
}

/// Prints a value; in HTML, escapes `& < > " '` (not `/`, so an `href` reads as written).
fn format_value(
    out: &mut minijinja::Output<'_>,
    state: &State<'_, '_>,
    value: &Value,
) -> Result<(), Error> {
    let text = plain(value);
    let write = |out: &mut minijinja::Output<'_>, s: &str| {
        out.write_str(s)
            .map_err(|_| Error::new(ErrorKind::WriteFailure, "cannot write the notice"))
    };
    if state.auto_escape() == AutoEscape::Html && !value.is_safe() {
        let mut escaped = String::with_capacity(text.len());
        for c in text.chars() {
            match c {
                '&' => escaped.push_str("&amp;"),
                '<' => escaped.push_str("&lt;"),
                '>' => escaped.push_str("&gt;"),
                '"' => escaped.push_str("&quot;"),
                '\'' => escaped.push_str("&#39;"),
                c => escaped.push(c),
            }
        }
        write(out, &escaped)
    } else {
        write(out, &text)
    }
}

/// A subject or SMS on one line: whitespace runs (line breaks included) become one space.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A text part: no blank lines at either end, trailing spaces gone, one final line break.
fn text_block(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.trim_matches('\n').lines() {
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

/// What the templates see.
#[derive(Debug, Serialize)]
struct Context<'a> {
    /// `zh-CN` or `en` (the `lang` attribute; `t` reads it).
    lang: &'static str,
    /// The notice kind's code (`case.enforced`).
    kind: &'static str,
    /// The rendered subject (in the HTML's `<title>` and heading); empty while rendering it.
    title: String,
    case_id: &'a str,
    resource_name: &'a str,
    resource_id: &'a str,
    product: &'a str,
    links: &'a [String],
    /// The category in the notice's language.
    category: &'static str,
    category_code: &'static str,
    /// The laws and regulations the category rests on.
    legal_refs: &'static [&'static str],
    /// The actions in words, joined; `-` for none.
    actions: String,
    /// The actions in words, one by one.
    action_list: Vec<&'static str>,
    /// The deadline in the provider's zone, the zone named: `2026-01-09 17:30 (UTC+08:00)`.
    deadline: Option<String>,
    /// The provider's zone: `UTC+08:00`.
    zone: String,
    note: Option<&'a str>,
    /// The unblock route that applies; `None` where the notice gives no advice.
    advice: Option<Advice>,
    maybe_compromised: bool,
    /// `{console_url}/console/cases/{case_id}`.
    console_link: Option<String>,
}

/// The unblock route for the templates (UNB-1, UNB-4, TKT-1).
#[derive(Debug, Serialize, PartialEq, Eq)]
struct Advice {
    /// `self_service`: the console may unblock; `ticket`: a reviewer can lift on a ticket;
    /// `never`: nothing the case holds is ever lifted.
    route: &'static str,
    /// A CDN case: purge the cache first (UNB-1).
    cdn: bool,
    /// Catalogue key: why the console cannot unblock (`ticket`, `never`); empty otherwise.
    why: &'static str,
    /// For `notify.refused.violation_limit`.
    count: u32,
    /// For `notify.refused.violation_limit`.
    limit: u32,
    /// Catalogue key: which ticket to file (`ticket`); empty otherwise.
    ticket: &'static str,
    /// What a reviewer can lift, in words.
    liftable: String,
    /// What is never lifted (no_unblock), in words; empty when nothing.
    locked: String,
}

/// The facts as the templates see them.
fn context<'a>(kind: NoticeKind, lang: Lang, f: &NoticeFacts<'a>) -> Context<'a> {
    let zh = lang == Lang::Zh;
    let info = f.category.info();
    Context {
        lang: lang.tag(),
        kind: kind.code(),
        title: String::new(),
        case_id: f.case_id,
        resource_name: f.resource_name,
        resource_id: f.resource_id,
        product: f.product,
        links: f.links,
        category: if zh { info.label_zh } else { info.label_en },
        category_code: f.category.code(),
        legal_refs: info.legal_refs,
        actions: words(f.actions, lang),
        action_list: f
            .actions
            .iter()
            .map(|a| if zh { a.label_zh() } else { a.label_en() })
            .collect(),
        deadline: f.deadline.map(|d| local_time(d, f.utc_offset_minutes)),
        zone: zone_name(f.utc_offset_minutes),
        note: f.note,
        advice: advice(f.unblock.as_ref(), lang, f.product == "cdn"),
        maybe_compromised: f.maybe_compromised,
        console_link: f.console_url.map(|u| {
            // An advisory has no case: it links the inbox that holds it.
            if kind == NoticeKind::ReportAdvisory {
                return format!("{}/console/inbox", u.trim_end_matches('/'));
            }
            // An assessment's notice links its page; `case_id` holds the assessment's id.
            let area = if kind.code().starts_with("assessment.") {
                "assessments"
            } else {
                "cases"
            };
            format!("{}/console/{area}/{}", u.trim_end_matches('/'), f.case_id)
        }),
    }
}

/// `UTC+08:00`, as the console names the provider's zone.
pub fn zone_name(offset_min: i32) -> String {
    let sign = if offset_min < 0 { '-' } else { '+' };
    let m = offset_min.unsigned_abs();
    format!("UTC{sign}{:02}:{:02}", m / 60, m % 60)
}

/// `2026-01-09 17:30 (UTC+08:00)`: `t` in the zone `offset_min` minutes east of UTC, named.
pub fn local_time(t: Timestamp, offset_min: i32) -> String {
    let shifted = Timestamp(t.0 + i64::from(offset_min) * 60_000).to_rfc3339();
    format!(
        "{} {} ({})",
        shifted.get(..10).unwrap_or_default(),
        shifted.get(11..16).unwrap_or_default(),
        zone_name(offset_min)
    )
}

/// Actions in words, joined; `-` for none.
fn words(actions: &[Action], lang: Lang) -> String {
    if actions.is_empty() {
        return "-".into();
    }
    let zh = lang == Lang::Zh;
    let labels: Vec<&str> = actions
        .iter()
        .map(|a| if zh { a.label_zh() } else { a.label_en() })
        .collect();
    labels.join(if zh { "、" } else { ", " })
}

/// The unblock route for `unblock` (see [`NoticeFacts::unblock`]); `None` where none applies.
fn advice(unblock: Option<&Result<(), Refusal>>, lang: Lang, cdn: bool) -> Option<Advice> {
    let refusal = match unblock? {
        Ok(()) => {
            return Some(Advice {
                route: "self_service",
                cdn,
                why: "",
                count: 0,
                limit: 0,
                ticket: "",
                liftable: String::new(),
                locked: String::new(),
            });
        }
        Err(r) => r,
    };
    // Why the console cannot unblock, the ticket to file, what a reviewer can lift on it.
    let (why, ticket_key, ticket, (count, limit)): (&str, &str, &TicketLift, (u32, u32)) =
        match refusal {
            Refusal::NotBlockedYet { .. } | Refusal::RequestAlreadyOpen => return None,
            Refusal::LevelNotUnblockable {
                level: Some(level),
                ticket,
            } => {
                let why = match level {
                    Level::EspeciallySerious => "notify.refused.especially_serious",
                    Level::Serious | Level::General => "notify.refused.serious",
                };
                (why, "notify.ticket.unblock", ticket, (0, 0))
            }
            Refusal::LevelNotUnblockable {
                level: None,
                ticket,
            } => (
                "notify.refused.harmful_behaviour",
                "notify.ticket.harmful_behaviour",
                ticket,
                (0, 0),
            ),
            Refusal::ActionNotUnblockable { ticket } => (
                "notify.refused.action_not_unblockable",
                "notify.ticket.unblock",
                ticket,
                (0, 0),
            ),
            Refusal::RegulatorCase { ticket } => (
                "notify.refused.regulator_case",
                "notify.ticket.regulator",
                ticket,
                (0, 0),
            ),
            Refusal::ViolationLimit {
                count,
                limit,
                ticket,
            } => (
                "notify.refused.violation_limit",
                "notify.ticket.unblock",
                ticket,
                (*count, *limit),
            ),
            Refusal::ProductNeedsTicket { ticket, .. } => (
                "notify.refused.product_needs_ticket",
                "notify.ticket.unblock",
                ticket,
                (0, 0),
            ),
        };
    Some(Advice {
        route: if ticket.liftable.is_empty() {
            "never"
        } else {
            "ticket"
        },
        cdn,
        why,
        count,
        limit,
        ticket: ticket_key,
        liftable: if ticket.liftable.is_empty() {
            String::new()
        } else {
            words(&ticket.liftable, lang)
        },
        locked: if ticket.locked.is_empty() {
            String::new()
        } else {
            words(&ticket.locked, lang)
        },
    })
}

/// Every catalogue key [`advice`] can hand a template.
pub const ADVICE_KEYS: &[&str] = &[
    "notify.refused.especially_serious",
    "notify.refused.serious",
    "notify.refused.harmful_behaviour",
    "notify.refused.action_not_unblockable",
    "notify.refused.regulator_case",
    "notify.refused.violation_limit",
    "notify.refused.product_needs_ticket",
    "notify.ticket.unblock",
    "notify.ticket.regulator",
    "notify.ticket.harmful_behaviour",
];

/// Facts that take every branch of the templates, for the load's trial render: everything
/// present with each unblock route, and nothing present.
fn trial_facts() -> Vec<NoticeFacts<'static>> {
    const ACTIONS: &[Action] = &[Action::BlockUrl, Action::IsolateAccount];
    fn links() -> &'static [String] {
        static L: OnceLock<Vec<String>> = OnceLock::new();
        L.get_or_init(|| {
            vec![
                "https://shop.example/a".into(),
                "https://shop.example/b".into(),
            ]
        })
    }
    let full = NoticeFacts {
        case_id: "case_trial",
        resource_name: "<trial & \"name\">",
        resource_id: "res-trial",
        product: "cdn",
        links: links(),
        category: Category::PornVulgar,
        actions: ACTIONS,
        deadline: Some(Timestamp(0)),
        note: Some("note"),
        unblock: Some(Ok(())),
        maybe_compromised: true,
        utc_offset_minutes: 480,
        console_url: Some("https://console.example"),
    };
    let ticket = |liftable: Vec<Action>, locked: Vec<Action>| {
        Some(Err(Refusal::ViolationLimit {
            count: 6,
            limit: 5,
            ticket: TicketLift { liftable, locked },
        }))
    };
    vec![
        full.clone(),
        NoticeFacts {
            unblock: ticket(vec![Action::BlockUrl], vec![Action::IsolateAccount]),
            ..full.clone()
        },
        NoticeFacts {
            unblock: ticket(vec![Action::BlockUrl], vec![]),
            ..full.clone()
        },
        NoticeFacts {
            unblock: ticket(vec![], vec![Action::IsolateAccount]),
            ..full.clone()
        },
        NoticeFacts {
            case_id: "",
            resource_name: "",
            resource_id: "",
            product: "",
            links: &[],
            actions: &[],
            deadline: None,
            note: None,
            unblock: None,
            maybe_compromised: false,
            console_url: None,
            ..full
        },
    ]
}

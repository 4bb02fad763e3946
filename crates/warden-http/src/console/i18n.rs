//! The console's two languages (UI-2): the catalogue is Warden's one catalogue per language,
//! shared with the notice templates, in [`warden_app::i18n`]. The tests here fail on any key
//! that a console template or handler uses and either catalogue lacks, so no English appears on
//! a zh-CN page.

pub use warden_app::i18n::{Catalog, Lang};

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file ending in `.ext` under `path` (or `path` itself), as (file, text).
    fn walk(path: &std::path::Path, ext: &str, out: &mut Vec<(String, String)>) {
        if path.is_file() {
            out.push((
                path.display().to_string(),
                std::fs::read_to_string(path).unwrap(),
            ));
            return;
        }
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() || p.extension().is_some_and(|e| e == ext) {
                walk(&p, ext, out);
            }
        }
    }

    /// The templates and the console's handlers, as (file, text).
    fn console_sources() -> Vec<(String, String)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        walk(&root.join("templates"), "html", &mut out);
        let mut rs = Vec::new();
        walk(&root.join("src/console"), "rs", &mut rs);
        // Tests (this scanner's own examples among them) are no page.
        out.extend(rs.into_iter().map(|(f, src)| {
            let code = src
                .split("#[cfg(test)]")
                .next()
                .unwrap_or_default()
                .to_string();
            (f, code)
        }));
        assert!(out.len() > 15, "found the templates and handlers: {out:?}");
        out
    }

    /// The string literal that starts right after `at` (which points just past its `"`).
    fn literal_at(src: &str, at: usize) -> Option<&str> {
        let rest = src.get(at..)?;
        rest.find('"').map(|end| &rest[..end])
    }

    /// Every catalogue key a template or handler names literally: `c.t("k")`, `c.count("k", …)`,
    /// `c.f("k", …)`, `v.t("k")`, `t.get("k")`, `t.fmt("k", …)` and their spellings inside
    /// `Chrome` (`self.t`, `catalog().get`), the title key of `Chrome::new(…, "k")`, the
    /// navigation's `("/path", "nav.k")`, `refuse("k")`, `c.code("prefix", "code")`, and
    /// `done=k` redirects (the flash `done.k`).
    fn literal_keys(src: &str) -> std::collections::BTreeSet<String> {
        const CALLS: [&str; 12] = [
            "c.t(\"",
            "c.count(\"",
            "c.f(\"",
            "v.t(\"",
            "t.get(\"",
            "t.fmt(\"",
            "self.t(\"",
            "self.f(\"",
            "catalog().get(\"",
            "catalog().fmt(\"",
            "refuse(\"",
            "\", \"nav.",
        ];
        let mut keys = std::collections::BTreeSet::new();
        for call in CALLS {
            for (at, _) in src.match_indices(call) {
                let start = at + call.len();
                if let Some(k) = literal_at(src, start) {
                    let k = if call.ends_with("nav.") {
                        format!("nav.{k}")
                    } else {
                        k.to_string()
                    };
                    keys.insert(k);
                }
            }
        }
        // `c.code("prefix", "code")` with both literal.
        for (at, _) in src.match_indices("c.code(\"") {
            let start = at + "c.code(\"".len();
            let Some(prefix) = literal_at(src, start) else {
                continue;
            };
            let after = start + prefix.len() + 1;
            if let Some(rest) = src.get(after..)
                && let Some(rest) = rest.strip_prefix(", \"")
                && let Some(end) = rest.find('"')
            {
                keys.insert(format!("{prefix}.{}", &rest[..end]));
            }
        }
        // The title key: the last literal of `Chrome::new(…)`.
        for (at, _) in src.match_indices("Chrome::new(") {
            let args = &src[at..];
            let Some(close) = args.find(')') else {
                continue;
            };
            let args = &args[..close];
            if let Some(end) = args.rfind('"') {
                let start = args[..end].rfind('"').unwrap() + 1;
                keys.insert(args[start..end].to_string());
            }
        }
        // `?done=k` redirects and links.
        for (at, _) in src.match_indices("done=") {
            let k: String = src[at + 5..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !k.is_empty() {
                keys.insert(format!("done.{k}"));
            }
        }
        keys
    }

    #[test]
    fn the_scanner_finds_keys_in_every_spelling() {
        let src = r#"{{ c.t("a.b") }} c.count("a.n", 3) Chrome::new(&app, &v, "/x", "x.title")
            redirect("/y?done=saved&n=1") ("/console", "nav.home") c.code("level", "general")
            lang.catalog().get("error.title") refuse("triage.none")"#;
        let keys: Vec<String> = literal_keys(src).into_iter().collect();
        assert_eq!(
            keys,
            [
                "a.b",
                "a.n",
                "done.saved",
                "error.title",
                "level.general",
                "nav.home",
                "triage.none",
                "x.title"
            ]
        );
    }

    /// Every key that a template or handler uses is in both catalogues: a zh-CN page never
    /// shows `⟦key⟧` nor English chrome.
    #[test]
    fn every_key_the_console_uses_is_in_both_catalogues() {
        let mut missing = Vec::new();
        let mut used = 0;
        for (file, src) in console_sources() {
            for key in literal_keys(&src) {
                used += 1;
                for lang in [Lang::En, Lang::Zh] {
                    if !lang.catalog().has(&key) {
                        missing.push(format!("{key} ({}, used in {file})", lang.tag()));
                    }
                }
            }
        }
        assert!(used > 150, "the scan found only {used} keys");
        assert!(missing.is_empty(), "missing keys: {missing:#?}");
    }

    /// The literals right after `needle` in a source file of another crate, or in every `.rs`
    /// file of a folder.
    fn literals_after(rel: &str, needle: &str) -> Vec<String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
        let mut files = Vec::new();
        walk(&path, "rs", &mut files);
        let mut found: Vec<String> = Vec::new();
        for (_, src) in files {
            found.extend(
                src.match_indices(needle)
                    .filter_map(|(at, _)| literal_at(&src, at + needle.len()))
                    .map(str::to_string),
            );
        }
        found.sort();
        found.dedup();
        assert!(!found.is_empty(), "no {needle} in {}", path.display());
        found
    }

    /// Every code that `c.code(prefix, code)` can receive (and the other dynamic keys:
    /// `what.*` of a not-found error, `refused.*` of a refusal) has words in both catalogues;
    /// otherwise a page shows the raw English code.
    #[test]
    fn every_code_a_page_shows_has_words_in_both_catalogues() {
        use warden_domain::delivery::{ChangeOp, DeliveryState};
        use warden_domain::lifecycle::{
            ActionState, NoticeKind, RequestState, State, TicketKind, TicketState, UnblockRoute,
        };
        use warden_domain::report::Source;
        use warden_domain::resource::Product;
        use warden_domain::taxonomy::Level;
        use warden_store::outbound::{Channel, OutboundState};

        fn codes<T: Copy>(all: &[T], code: fn(T) -> &'static str) -> Vec<String> {
            all.iter().map(|x| code(*x).to_string()).collect()
        }
        // Source has no list of its values; the match makes a new one a compile error here.
        let source = |s: Source| match s {
            Source::Public
            | Source::Detector
            | Source::Regulator
            | Source::Operator
            | Source::Xarf
            | Source::Mail => s.code(),
        };
        let sources = [
            Source::Public,
            Source::Detector,
            Source::Regulator,
            Source::Operator,
            Source::Xarf,
            Source::Mail,
        ];
        // The events of a case's history (the case's and its reports' audit actions).
        let events = [
            "report.create",
            "case.confirm",
            "case.grade",
            "case.dismiss",
            "case.deadline",
            "case.enforce",
            "case.unblock_request",
            "case.unblock_self_result",
            "case.unblock_approve",
            "case.unblock_reject",
            "case.lift_by_ticket",
            "case.owner_matched",
            "case.rectified",
            "case.reminder",
            "personal_data.read",
            // An assessment's (ASMT-1..5).
            "assessment.declare",
            "assessment.approve",
            "assessment.reject",
            "assessment.stop",
            "assessment.end",
            "assessment.remind",
            "assessment.disclose",
        ];
        // The refusals a console form can meet (the lifecycle's rules and sign-in's).
        let refused = [
            "not_blocked_yet",
            "level_not_unblockable",
            "action_not_unblockable",
            "regulator_case",
            "violation_limit",
            "product_needs_ticket",
            "request_already_open",
            "self_service_first",
            "sign_in_failed",
            "login_locked",
            "rate_limited",
            // The blackhole's (DDOS-5).
            "self_release_quota_used",
            "upgrade_short_of_peak",
            "blackhole_not_active",
            // An assessment's step it cannot take as it stands (ASMT-2, ASMT-5).
            "assessment_transition",
        ];
        let table: Vec<(&str, Vec<String>)> = vec![
            ("state", codes(&State::ALL, State::code)),
            ("level", codes(Level::ALL, Level::code)),
            ("action_state", codes(ActionState::ALL, ActionState::code)),
            (
                "request_state",
                codes(RequestState::ALL, RequestState::code),
            ),
            ("route", codes(UnblockRoute::ALL, UnblockRoute::code)),
            ("ticket_kind", codes(TicketKind::ALL, TicketKind::code)),
            ("ticket_state", codes(TicketState::ALL, TicketState::code)),
            ("product", codes(&Product::ALL, Product::code)),
            ("delivery", codes(DeliveryState::ALL, DeliveryState::code)),
            ("change_op", codes(ChangeOp::ALL, ChangeOp::code)),
            ("channel", codes(Channel::ALL, Channel::code)),
            (
                "outbound_state",
                codes(OutboundState::ALL, OutboundState::code),
            ),
            ("notice_kind", codes(NoticeKind::ALL, NoticeKind::code)),
            (
                "source",
                sources.iter().map(|s| source(*s).to_string()).collect(),
            ),
            (
                "reason",
                literals_after("../warden-domain/src/grading.rs", "code: \""),
            ),
            ("event", events.iter().map(|e| e.to_string()).collect()),
            // Reasons in codes: a state change's (the lifecycle's) and a level's (grading's).
            (
                "why",
                literals_after("../warden-domain/src/lifecycle.rs", "Why::new(\""),
            ),
            (
                "grade",
                literals_after("../warden-domain/src/grading.rs", "Why::new(\""),
            ),
            // A blackhole's decisions (DDOS-3..5), shown on the DDoS pages.
            (
                "why",
                literals_after("../warden-domain/src/blackhole.rs", "Why::new(\""),
            ),
            (
                "bh_state",
                codes(warden_domain::blackhole::State::ALL, |s| s.code()),
            ),
            (
                "bh_released_by",
                codes(warden_domain::blackhole::ReleaseKind::ALL, |k| k.code()),
            ),
            // An assessment's transitions, kinds and states (ASMT-1..5).
            (
                "why",
                literals_after("../warden-domain/src/assessment.rs", "Why::new(\""),
            ),
            (
                "asm_kind",
                codes(warden_domain::assessment::AssessmentKind::ALL, |k| k.code()),
            ),
            (
                "asm_state",
                codes(warden_domain::assessment::AssessmentState::ALL, |s| {
                    s.code()
                }),
            ),
            (
                "what",
                literals_after("../warden-app/src", "AppError::NotFound(\""),
            ),
            ("refused", refused.iter().map(|e| e.to_string()).collect()),
        ];
        let mut missing = Vec::new();
        for (prefix, codes) in &table {
            assert!(!codes.is_empty(), "no codes for {prefix}");
            for code in codes {
                let key = format!("{prefix}.{code}");
                for lang in [Lang::En, Lang::Zh] {
                    if !lang.catalog().has(&key) {
                        missing.push(format!("{key} ({})", lang.tag()));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "codes without words: {missing:#?}");
    }

    /// A text names the same placeholders in both languages, so no fact is lost in one of them
    /// and none shows as a raw `{name}`.
    #[test]
    fn both_catalogues_fill_the_same_placeholders() {
        fn holes(text: &str) -> std::collections::BTreeSet<&str> {
            text.split('{')
                .skip(1)
                .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
                .collect()
        }
        let (en, zh) = (Lang::En.catalog(), Lang::Zh.catalog());
        let differ: Vec<String> = en
            .keys()
            .filter(|k| zh.has(k))
            .filter(|k| holes(&en.get(k)) != holes(&zh.get(k)))
            .map(|k| {
                format!(
                    "{k}: en {:?}, zh-CN {:?}",
                    holes(&en.get(k)),
                    holes(&zh.get(k))
                )
            })
            .collect();
        assert!(differ.is_empty(), "placeholders differ: {differ:#?}");
    }

    #[test]
    fn both_catalogues_have_the_same_keys() {
        let en: std::collections::BTreeSet<_> = Lang::En.catalog().keys().collect();
        let zh: std::collections::BTreeSet<_> = Lang::Zh.catalog().keys().collect();
        let only_en: Vec<_> = en.difference(&zh).collect();
        let only_zh: Vec<_> = zh.difference(&en).collect();
        assert!(
            only_en.is_empty() && only_zh.is_empty(),
            "missing from zh-CN: {only_en:?}; missing from en: {only_zh:?}"
        );
    }
}

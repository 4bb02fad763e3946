//! The notice templates: what every notice names, snapshots of every kind in both languages,
//! the catalogue keys they use, SMS length, overrides and escaping.

use super::*;
use crate::outbound::sms::{segments, shown_text};
use warden_domain::lifecycle::TicketLift;

fn render(kind: NoticeKind, lang: &str, f: &NoticeFacts<'_>) -> RenderedNotice {
    NoticeTemplates::builtin()
        .render(kind, Lang::from_tag(lang).unwrap(), f)
        .unwrap()
}

fn facts<'a>(links: &'a [String], actions: &'a [Action]) -> NoticeFacts<'a> {
    NoticeFacts {
        case_id: "case_1",
        resource_name: "商城主站",
        resource_id: "web-1",
        product: "cdn",
        links,
        category: Category::PornVulgar,
        actions,
        deadline: Some(Timestamp::parse_rfc3339("2026-01-09T09:30:00Z").unwrap()),
        note: None,
        unblock: None,
        maybe_compromised: false,
        utc_offset_minutes: 480,
        console_url: None,
    }
}

/// NOT-1: resource, links, category, action in words, deadline (provider time, zone named),
/// how to rectify; the unblock route that applies.
#[test]
fn notices_name_everything_the_tenant_needs() {
    let links = vec!["https://a.example/x".to_string()];
    let actions = vec![Action::BlockUrl];
    let n = render(NoticeKind::Alerting, "zh-CN", &facts(&links, &actions));
    let (t, b) = (n.title, n.text);
    assert!(t.contains("商城主站") && t.contains("色情低俗"), "{t}");
    for part in [
        "https://a.example/x",
        "web-1",
        "阻断URL",
        "2026-01-09 17:30 (UTC+08:00)",
        "整改",
        "《中华人民共和国刑法》",
    ] {
        assert!(b.contains(part), "missing {part}: {b}");
    }
    let mut f = facts(&links, &actions);
    f.deadline = None;
    f.unblock = Some(Ok(()));
    let n = render(NoticeKind::Enforced, "en", &f);
    let (t, b) = (n.title, n.text);
    assert!(t.contains("Pornographic"), "{t}");
    assert!(
        b.contains("URL blocked")
            && b.contains("purge the CDN cache")
            && b.contains("self-service unblock")
            && !b.contains("ticket"),
        "{b}"
    );
    // UNB-4/TKT-1: a serious case goes to a ticket naming what a reviewer can lift and
    // what stays; nothing liftable → no ticket at all.
    let ticket = TicketLift {
        liftable: vec![Action::StopService],
        locked: vec![Action::IsolateAccount],
    };
    f.unblock = Some(Err(Refusal::LevelNotUnblockable {
        level: Some(Level::EspeciallySerious),
        ticket: ticket.clone(),
    }));
    let b = render(NoticeKind::Enforced, "zh-CN", &f).text;
    assert!(
        b.contains("工单") && b.contains("服务停用") && b.contains("隔离和清退"),
        "{b}"
    );
    assert!(!b.contains("自助解封"), "{b}");
    f.unblock = Some(Err(Refusal::LevelNotUnblockable {
        level: Some(Level::Serious),
        ticket: TicketLift {
            liftable: vec![],
            locked: vec![Action::BlockNetwork],
        },
    }));
    let b = render(NoticeKind::Enforced, "en", &f).text;
    assert!(
        b.contains("network access blocked: never lifted") && !b.contains("ticket"),
        "{b}"
    );
    // Nothing to unblock while alerting or once a request is open: no advice at all.
    for refusal in [
        Refusal::NotBlockedYet {
            state: warden_domain::lifecycle::State::Alerting,
        },
        Refusal::RequestAlreadyOpen,
    ] {
        f.unblock = Some(Err(refusal));
        let b = render(NoticeKind::Enforced, "en", &f).text;
        assert!(!b.contains("ticket") && !b.contains("self-service"), "{b}");
    }
}

/// The facts of the snapshots: the kind's usual unblock route, a CDN site with two links, a
/// deadline while alerting, the console configured.
fn snapshot_facts<'a>(kind: NoticeKind, links: &'a [String]) -> NoticeFacts<'a> {
    let deadline = Some(Timestamp::parse_rfc3339("2026-01-09T09:30:00Z").unwrap());
    let base = NoticeFacts {
        case_id: "case_01JH3S7Q",
        resource_name: "商城主站",
        resource_id: "web-1",
        product: "cdn",
        links,
        category: Category::PornVulgar,
        actions: &[Action::BlockUrl],
        deadline: None,
        note: None,
        unblock: None,
        maybe_compromised: false,
        utc_offset_minutes: 480,
        console_url: Some("https://console.provider.example"),
    };
    match kind {
        NoticeKind::Alerting | NoticeKind::DeadlineReminder => NoticeFacts { deadline, ..base },
        NoticeKind::Enforced | NoticeKind::UnblockFailed => NoticeFacts {
            unblock: Some(Ok(())),
            ..base
        },
        NoticeKind::EnforcedHostSecurity => NoticeFacts {
            product: "cvm",
            category: Category::Scanning,
            actions: &[Action::BlockNetwork],
            maybe_compromised: true,
            unblock: Some(Err(Refusal::LevelNotUnblockable {
                level: None,
                ticket: TicketLift {
                    liftable: vec![Action::BlockNetwork],
                    locked: vec![],
                },
            })),
            ..base
        },
        NoticeKind::TicketAnswered => NoticeFacts {
            note: Some("解封需先完成整改复查 / the unblock needs a clean re-check first"),
            unblock: Some(Err(Refusal::LevelNotUnblockable {
                level: Some(Level::Serious),
                ticket: TicketLift {
                    liftable: vec![Action::BlockUrl],
                    locked: vec![],
                },
            })),
            ..base
        },
        NoticeKind::UnblockRejected => NoticeFacts {
            note: Some("首页仍有违规图片 / the home page still shows the images"),
            unblock: Some(Err(Refusal::ViolationLimit {
                count: 6,
                limit: 5,
                ticket: TicketLift {
                    liftable: vec![Action::BlockUrl],
                    locked: vec![],
                },
            })),
            ..base
        },
        NoticeKind::PartiallyLifted => NoticeFacts {
            actions: &[Action::DomainOffline],
            unblock: Some(Err(Refusal::ActionNotUnblockable {
                ticket: TicketLift {
                    liftable: vec![],
                    locked: vec![Action::DomainOffline],
                },
            })),
            ..base
        },
        NoticeKind::Resolved | NoticeKind::Lifted => NoticeFacts {
            actions: &[],
            ..base
        },
        NoticeKind::UnblockQueued | NoticeKind::SelfUnblockStarted => base,
        NoticeKind::BlackholeStarted | NoticeKind::BlackholeExtended => NoticeFacts {
            links: blackholed_ip(),
            product: "cvm",
            actions: &[Action::Blackhole],
            deadline: Some(Timestamp::parse_rfc3339("2026-01-05T03:00:00Z").unwrap()),
            ..base
        },
        NoticeKind::BlackholeReleased => NoticeFacts {
            links: blackholed_ip(),
            product: "cvm",
            actions: &[],
            ..base
        },
        // An assessment's notice: its id, its targets, its window's end, the operator's words.
        NoticeKind::AssessmentApproved => NoticeFacts {
            case_id: "asm_01JH3S7Q",
            links: blackholed_ip(),
            product: "",
            actions: &[],
            deadline: Some(Timestamp::parse_rfc3339("2026-01-05T04:00:00Z").unwrap()),
            ..base
        },
        NoticeKind::AssessmentRejected | NoticeKind::AssessmentStopped => NoticeFacts {
            case_id: "asm_01JH3S7Q",
            links: blackholed_ip(),
            product: "",
            actions: &[],
            note: Some("峰值超出业务所需 / the peak is above what the service needs"),
            ..base
        },
        // An advisory (INT-6): the exposed addresses, the category the report's type maps to.
        NoticeKind::ReportAdvisory => NoticeFacts {
            case_id: "mail_01JH3S7Q",
            links: blackholed_ip(),
            category: Category::CyberHarm,
            actions: &[],
            note: Some("open_service"),
            ..base
        },
        NoticeKind::AssessmentDisclosureDue => NoticeFacts {
            case_id: "asm_01JH3S7Q",
            links: blackholed_ip(),
            product: "",
            actions: &[],
            ..base
        },
    }
}

/// The IP of the blackhole snapshots (a documentation address).
fn blackholed_ip() -> &'static [String] {
    static IP: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    IP.get_or_init(|| vec!["203.0.113.5".to_string()])
}

/// Every kind in both languages, every part: the notice as the tenant gets it. Checked by
/// `cargo test`; a change shows as a diff to review (and to accept with `cargo insta`, or by
/// writing the new `.snap`).
#[test]
fn every_notice_in_both_languages() {
    let links = vec![
        "https://shop.example/promo/1".to_string(),
        "https://shop.example/promo/2?id=7&ref=mail".to_string(),
    ];
    for kind in NoticeKind::ALL {
        for lang in ["zh-CN", "en"] {
            let n = render(*kind, lang, &snapshot_facts(*kind, &links));
            let all = format!(
                "--- subject ---\n{}\n--- text ---\n{}--- html ---\n{}--- sms ---\n{}\n",
                n.title, n.text, n.html, n.sms
            );
            insta::assert_snapshot!(format!("{}.{lang}", kind.code()), all);
        }
    }
}

/// Every `t("key"` literal in a template file.
fn template_keys(src: &str) -> Vec<String> {
    src.match_indices("t(\"")
        .filter_map(|(at, _)| {
            let rest = src.get(at + 3..)?;
            rest.find('"').map(|end| rest[..end].to_string())
        })
        .collect()
}

/// Every catalogue key a notice template (read from the files, as an override would be) or
/// the unblock advice uses is in both catalogues: no zh-CN notice says `⟦key⟧` or English.
#[test]
fn every_key_a_notice_uses_is_in_both_catalogues() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/notices");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    // Every file is a built-in template and every built-in template is a file.
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    let mut builtin: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
    builtin.sort();
    assert_eq!(names, builtin);
    for kind in NoticeKind::ALL {
        for part in PARTS {
            let name = format!("{}.{part}", kind.code());
            assert!(names.contains(&name), "no template {name}");
        }
    }
    let mut missing = Vec::new();
    let mut used = 0;
    for path in &files {
        let src = std::fs::read_to_string(path).unwrap();
        let keys = template_keys(&src);
        assert!(!keys.is_empty(), "{} uses no catalogue key", path.display());
        for key in keys.iter().map(String::as_str).chain(
            ADVICE_KEYS
                .iter()
                .copied()
                .filter(|_| path.ends_with("_advice.txt")),
        ) {
            used += 1;
            for lang in [Lang::En, Lang::Zh] {
                if !lang.catalog().has(key) {
                    missing.push(format!("{key} ({}, {})", lang.tag(), path.display()));
                }
            }
        }
    }
    assert!(used > 100, "the scan found only {used} keys");
    assert!(missing.is_empty(), "missing keys: {missing:#?}");
}

/// NOT-1: the SMS of every kind is one segment as the phone shows it (with the gateway's
/// 【sign】) for a typical resource name, in both languages.
#[test]
fn every_sms_fits_one_segment() {
    let links = vec!["https://shop.example/promo/1".to_string()];
    for kind in NoticeKind::ALL {
        for (lang, name) in [("zh-CN", "商城主站"), ("en", "shop-web")] {
            let mut f = snapshot_facts(*kind, &links);
            f.resource_name = name;
            let sms = render(*kind, lang, &f).sms;
            assert!(sms.contains(name), "{sms}");
            let shown = shown_text(Some("某云"), &sms);
            assert_eq!(segments(&shown), 1, "{} {lang}: {shown}", kind.code());
        }
    }
}

/// A resource name is the tenant's text: the HTML part escapes it, the text part shows it.
#[test]
fn html_escapes_what_the_tenant_named() {
    let links = vec!["https://shop.example/?a=1&b=<2>".to_string()];
    let mut f = facts(&links, &[Action::BlockUrl]);
    f.resource_name = "<script>alert(1)</script>";
    f.console_url = Some("https://console.provider.example/");
    for lang in ["zh-CN", "en"] {
        let n = render(NoticeKind::Alerting, lang, &f);
        assert!(!n.html.contains("<script>"), "{}", n.html);
        assert!(
            n.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{}",
            n.html
        );
        assert!(n.html.contains("https://shop.example/?a=1&amp;b=&lt;2&gt;"));
        assert!(
            n.html
                .contains("href=\"https://console.provider.example/console/cases/case_1\""),
            "{}",
            n.html
        );
        assert!(n.text.contains("<script>alert(1)</script>"), "{}", n.text);
        assert!(n.title.contains("<script>"), "{}", n.title);
        assert!(!n.title.contains('\n') && !n.sms.contains('\n'));
    }
}

/// A file in `<data_dir>/templates/notices/` replaces the built-in template of its name; a
/// broken one, an unknown name, a missing key or variable is refused, naming the file and the
/// line.
#[test]
fn the_data_directory_overrides_a_template_and_a_broken_one_is_refused() {
    let data = tempfile::tempdir().unwrap();
    // No directory: the built-ins.
    assert!(NoticeTemplates::load(Some(data.path())).is_ok());
    let dir = data.path().join("templates/notices");
    std::fs::create_dir_all(&dir).unwrap();
    let links = vec!["https://shop.example/x".to_string()];
    let f = facts(&links, &[Action::BlockUrl]);
    let builtin = render(NoticeKind::Alerting, "en", &f);

    let file = dir.join("case.alerting.subject");
    std::fs::write(
        &file,
        "{# ours #}\nACME Cloud: {{ t(\"notify.case.alerting.title\", name=resource_name, category=category) }}\n",
    )
    .unwrap();
    std::fs::write(dir.join(".case.alerting.subject.swp"), "editor junk").unwrap();
    let ours = NoticeTemplates::load(Some(data.path())).unwrap();
    assert_eq!(
        ours.overridden().collect::<Vec<_>>(),
        [("case.alerting.subject", file.as_path())]
    );
    let n = ours.render(NoticeKind::Alerting, Lang::En, &f).unwrap();
    assert_eq!(n.title, format!("ACME Cloud: {}", builtin.title));
    assert_eq!((&n.text, &n.sms), (&builtin.text, &builtin.sms));
    // The HTML part shows the subject as its title.
    assert_eq!(n.html, builtin.html.replace(&builtin.title, &n.title));
    // The other language uses the same file with its own words.
    let zh = ours.render(NoticeKind::Alerting, Lang::Zh, &f).unwrap();
    assert!(
        zh.title.starts_with("ACME Cloud: 【违规告警】"),
        "{}",
        zh.title
    );

    // A partial is a template too.
    std::fs::write(
        dir.join("_layout.txt"),
        "{{ t(\"notify.case\", case=case_id) }}\n{% block what %}{% endblock %}\n",
    )
    .unwrap();
    let n = NoticeTemplates::load(Some(data.path()))
        .unwrap()
        .render(NoticeKind::Alerting, Lang::En, &f)
        .unwrap();
    assert!(
        n.text.starts_with("Case: case_1\nRemove the violating"),
        "{}",
        n.text
    );
    std::fs::remove_file(dir.join("_layout.txt")).unwrap();

    for (source, line, says) in [
        ("first line\n{% if %}\n", "line 2", "syntax error"),
        ("{{ t(\"notify.no_such_key\") }}\n", "line 1", "no_such_key"),
        ("\n\n{{ resource_nmae }}\n", "line 3", "undefined"),
        (
            "{% extends \"_no_layout.txt\" %}\n",
            "line 1",
            "_no_layout.txt",
        ),
    ] {
        std::fs::write(&file, source).unwrap();
        let e = NoticeTemplates::load(Some(data.path())).unwrap_err();
        assert!(
            e.contains(&file.display().to_string()) && e.contains(line) && e.contains(says),
            "{source:?}: {e}"
        );
    }
    std::fs::remove_file(&file).unwrap();
    let stray = dir.join("case.alerting.text");
    std::fs::write(&stray, "hello").unwrap();
    let e = NoticeTemplates::load(Some(data.path())).unwrap_err();
    assert!(
        e.contains(&stray.display().to_string()) && e.contains("case.alerting.txt"),
        "{e}"
    );
    std::fs::remove_file(&stray).unwrap();
    std::fs::write(dir.join("case.alerting.txt"), vec![b'x'; 70_000]).unwrap();
    let e = NoticeTemplates::load(Some(data.path())).unwrap_err();
    assert!(e.contains("larger than"), "{e}");
}

#[test]
fn the_built_in_templates_load_and_times_name_their_zone() {
    assert!(NoticeTemplates::builtin().broken.is_none());
    assert!(
        NoticeTemplates::load(None)
            .unwrap()
            .overridden()
            .next()
            .is_none()
    );
    let t = Timestamp::parse_rfc3339("2026-01-09T09:30:00Z").unwrap();
    assert_eq!(local_time(t, 480), "2026-01-09 17:30 (UTC+08:00)");
    assert_eq!(local_time(t, -330), "2026-01-09 04:00 (UTC-05:30)");
    assert_eq!(local_time(t, 0), "2026-01-09 09:30 (UTC+00:00)");
    assert_eq!(zone_name(480), "UTC+08:00");
}

//! Notice templates (NOT-1), zh-CN and en: every notice names the resource (name and id), the
//! violating links, the category, the actions in words, the deadline if any, how to rectify,
//! and only the unblock route that applies to the case (UNB-1, UNB-4, TKT-1): self-service where
//! the console may unblock, a ticket where a reviewer can lift, neither where nothing is ever
//! lifted. Notices are for tenants: no action codes, no spec ids.
//! Pure rendering; the use case stores the result in the inbox in the same transaction as the
//! transition it reports (NOT-2).

use warden_domain::lifecycle::{NoticeKind, Refusal};
use warden_domain::penalty::Action;
use warden_domain::taxonomy::{Category, Level};
use warden_domain::time::Timestamp;

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
}

/// Templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// LIFE-1: alerting, rectify before the deadline.
    Alerting,
    /// NOT-3: the deadline is near, the content still there.
    Reminder,
    /// LIFE-2/3: penalty applied.
    Enforced,
    /// LIFE-2: rectified in time.
    Resolved,
    /// UNB-1/3: unblocked.
    Lifted,
    /// TKT-1/PEN-3: what could be lifted was; the no_unblock actions stay.
    PartiallyLifted,
    /// UNB-2: self-service unblock found violations.
    UnblockFailed,
    /// UNB-3: a reviewer rejected the request.
    UnblockRejected,
    /// UNB-3: the manual request is in the reviewer queue.
    UnblockQueued,
}

impl Template {
    /// Stable name.
    pub fn code(self) -> &'static str {
        match self {
            Template::Alerting => "case.alerting",
            Template::Reminder => "case.reminder",
            Template::Enforced => "case.enforced",
            Template::Resolved => "case.resolved",
            Template::Lifted => "case.lifted",
            Template::PartiallyLifted => "case.partially_lifted",
            Template::UnblockFailed => "unblock.failed",
            Template::UnblockRejected => "unblock.rejected",
            Template::UnblockQueued => "unblock.queued",
        }
    }
}

fn local_time(t: Timestamp, offset_min: i32) -> String {
    let shifted = Timestamp(t.0 + i64::from(offset_min) * 60_000).to_rfc3339();
    let sign = if offset_min >= 0 { '+' } else { '-' };
    let (h, m) = (offset_min.abs() / 60, offset_min.abs() % 60);
    format!(
        "{} {}{sign}{h:02}:{m:02}",
        shifted.get(..10).unwrap_or_default(),
        shifted.get(11..16).unwrap_or_default()
    )
}

/// Actions in words, joined.
fn words(actions: &[Action], zh: bool) -> String {
    if actions.is_empty() {
        return "-".into();
    }
    let labels: Vec<&str> = actions
        .iter()
        .map(|a| if zh { a.label_zh() } else { a.label_en() })
        .collect();
    labels.join(if zh { "、" } else { ", " })
}

/// The unblock advice for `unblock` (see [`NoticeFacts::unblock`]); empty where none applies.
fn advice(unblock: Option<&Result<(), Refusal>>, zh: bool, cdn: bool) -> String {
    let refusal = match unblock {
        None => return String::new(),
        Some(Ok(())) => {
            let mut a = if zh {
                "整改方法：删除上述链接中的违规内容后，在控制台违规记录中确认整改承诺书并申请自助解封；自助解封失败可申请人工解封。\n".to_string()
            } else {
                "To get unblocked: remove the violating content, then confirm the rectification commitment and request a self-service unblock in the console; if that fails you can request a manual review.\n".to_string()
            };
            if cdn {
                a.push_str(if zh {
                    "CDN 加速域名：请先刷新（清除）CDN 缓存，再申请解封。\n"
                } else {
                    "CDN domains: purge the CDN cache before you request an unblock.\n"
                });
            }
            return a;
        }
        Some(Err(r)) => r,
    };
    // Why the console cannot unblock, the ticket to file, what a reviewer can lift on it.
    let (why, kind, ticket) = match refusal {
        Refusal::NotBlockedYet { .. } | Refusal::RequestAlreadyOpen => return String::new(),
        Refusal::LevelNotUnblockable {
            level: Some(level),
            ticket,
        } => {
            let why = match (level, zh) {
                (Level::EspeciallySerious, true) => "特别严重违规案件不支持控制台解封",
                (Level::EspeciallySerious, false) => {
                    "Especially serious cases cannot be unblocked from the console"
                }
                (Level::Serious | Level::General, true) => "严重违规案件不支持控制台解封",
                (Level::Serious | Level::General, false) => {
                    "Serious cases cannot be unblocked from the console"
                }
            };
            (why.to_string(), TicketKind::Unblock, ticket)
        }
        Refusal::LevelNotUnblockable {
            level: None,
            ticket,
        } => (
            if zh {
                "运营人员因异常行为限制了访问，不支持控制台解封".into()
            } else {
                "An operator restricted access because of harmful behaviour; the console cannot lift it".into()
            },
            TicketKind::HarmfulBehaviour,
            ticket,
        ),
        Refusal::ActionNotUnblockable { ticket } => (
            if zh {
                "本案件含禁止解封的处罚措施，不支持控制台解封".into()
            } else {
                "This case holds actions that are never unblocked from the console".into()
            },
            TicketKind::Unblock,
            ticket,
        ),
        Refusal::RegulatorCase { ticket } => (
            if zh {
                "监管部门通报的案件不支持控制台解封".into()
            } else {
                "Cases from a regulator notice cannot be unblocked from the console".into()
            },
            TicketKind::Regulator,
            ticket,
        ),
        Refusal::ViolationLimit {
            count,
            limit,
            ticket,
        } => (
            if zh {
                format!("账号违规次数（{count} 次）超过上限（{limit} 次），不支持控制台解封")
            } else {
                format!(
                    "Your account has {count} violations, more than the limit of {limit}, so the console cannot unblock"
                )
            },
            TicketKind::Unblock,
            ticket,
        ),
        Refusal::ProductNeedsTicket { ticket, .. } => (
            if zh {
                "该产品不支持控制台解封".into()
            } else {
                "This product has no console unblock".into()
            },
            TicketKind::Unblock,
            ticket,
        ),
    };
    let (liftable, locked) = (words(&ticket.liftable, zh), words(&ticket.locked, zh));
    let file = kind.file(zh);
    match (ticket.liftable.is_empty(), ticket.locked.is_empty(), zh) {
        (true, _, true) => {
            format!("{why}。{locked}为禁止解封措施，不会解除。请删除违规内容，避免再次违规。\n")
        }
        (true, _, false) => format!(
            "{why}. {locked}: never lifted (no unblock). Remove the violating content and avoid further violations.\n"
        ),
        (false, true, true) => format!("{why}。{file}，由审核人员处理。\n"),
        (false, true, false) => format!("{why}. {file}; a reviewer decides.\n"),
        (false, false, true) => {
            format!("{why}。{file}：审核人员可解除{liftable}；{locked}为禁止解封措施，不会解除。\n")
        }
        (false, false, false) => format!(
            "{why}. {file}: a reviewer can lift {liftable}; {locked}: never lifted (no unblock).\n"
        ),
    }
}

/// The ticket a refused tenant files (TKT-1).
#[derive(Debug, Clone, Copy)]
enum TicketKind {
    Unblock,
    Regulator,
    HarmfulBehaviour,
}

impl TicketKind {
    /// What to do, ending in filing the ticket.
    fn file(self, zh: bool) -> &'static str {
        match (self, zh) {
            (TicketKind::Unblock, true) => "请删除违规内容后提交工单（类型：解封申请）并关联本案件",
            (TicketKind::Unblock, false) => {
                "Remove the violating content, then file a ticket (type: unblock) linked to this case"
            }
            (TicketKind::Regulator, true) => {
                "请删除违规内容后提交工单（类型：监管案件）并关联本案件，咨询能否解封及如何解封"
            }
            (TicketKind::Regulator, false) => {
                "Delete the content, then file a ticket (type: regulator) linked to this case asking whether and how it can be unblocked"
            }
            (TicketKind::HarmfulBehaviour, true) => {
                "请完成主机安全排查和清理后提交工单（类型：异常行为）并关联本案件"
            }
            (TicketKind::HarmfulBehaviour, false) => {
                "Clean up the machine, then file a ticket (type: harmful behaviour) linked to this case"
            }
        }
    }
}

/// Renders (title, body) of `template` in `lang` (`zh-CN`, anything else is English).
pub fn render(template: Template, lang: &str, f: &NoticeFacts<'_>) -> (String, String) {
    let zh = lang.eq_ignore_ascii_case("zh-CN") || lang.eq_ignore_ascii_case("zh");
    let info = f.category.info();
    let links = f.links.join("\n  ");
    let actions = words(f.actions, zh);
    let deadline = f.deadline.map(|d| local_time(d, f.utc_offset_minutes));
    let laws = info.legal_refs.join("、");
    let advice = advice(f.unblock.as_ref(), zh, f.product == "cdn");
    let name = f.resource_name;
    let mut body = String::new();
    let title;
    if zh {
        title = match template {
            Template::Alerting => format!(
                "【违规告警】{name} 存在{}内容，请在截止时间前整改",
                info.label_zh
            ),
            Template::Reminder => format!(
                "【整改提醒】{name} 的{}内容尚未整改，截止时间将至",
                info.label_zh
            ),
            Template::Enforced => format!("【违规处罚】{name} 因{}已被处理", info.label_zh),
            Template::Resolved => format!("【已整改】{name} 的违规告警已解除"),
            Template::Lifted => format!("【已解封】{name} 已解除封禁"),
            Template::PartiallyLifted => format!("【部分解封】{name} 的部分处罚已解除"),
            Template::UnblockFailed => format!("【解封失败】{name} 仍存在违规内容"),
            Template::UnblockRejected => format!("【解封驳回】{name} 的人工解封申请未通过"),
            Template::UnblockQueued => format!("【人工解封】{name} 的解封申请已提交审核"),
        };
        body.push_str(&format!(
            "案件：{}\n资源：{name}（ID：{}，产品：{}）\n违规类型：{}\n违规链接：\n  {links}\n",
            f.case_id, f.resource_id, f.product, info.label_zh
        ));
        match template {
            Template::Alerting | Template::Reminder => {
                body.push_str(&format!("逾期未整改将执行的处罚：{actions}\n"));
            }
            Template::PartiallyLifted => body.push_str(&format!("仍在执行的处罚：{actions}\n")),
            Template::Lifted | Template::Resolved => {}
            Template::Enforced
            | Template::UnblockFailed
            | Template::UnblockRejected
            | Template::UnblockQueued => body.push_str(&format!("处罚措施：{actions}\n")),
        }
        if let Some(d) = &deadline {
            body.push_str(&format!("整改截止时间：{d}\n"));
        }
        if let Some(n) = f.note {
            body.push_str(&format!("审核意见：{n}\n"));
        }
        body.push_str(&format!("相关法律法规：{laws}\n"));
        match template {
            Template::Alerting => body.push_str("请删除上述链接中的违规内容。截止时间前整改完成不会被封禁；逾期仍存在违规内容将按处罚规则处理。\n"),
            Template::Reminder => body.push_str("整改截止时间即将到达，上述链接中仍可能存在违规内容。请尽快删除；截止时间前整改完成不会被封禁。\n"),
            Template::Enforced => body.push_str(&advice),
            Template::UnblockFailed => {
                body.push_str("重新检测发现上述链接仍存在违规内容，或无法确认其已删除，自助解封未成功。\n");
                body.push_str(&advice);
            }
            Template::UnblockRejected => {
                body.push_str("审核人员驳回了您的人工解封申请。\n");
                body.push_str(&advice);
            }
            Template::PartiallyLifted => {
                body.push_str("可解除的处罚已解除。\n");
                body.push_str(&advice);
            }
            Template::Resolved | Template::Lifted => body.push_str("感谢配合。再次违规将从重处理。\n"),
            Template::UnblockQueued => body.push_str("您的人工解封申请已进入审核队列，将在工作时间内处理（约 2 个工作小时，最长一个工作日）。申请提交后不可撤回，审核结果将通过站内信通知您。\n"),
        }
        if f.maybe_compromised {
            body.push_str("如非您本人行为，您的服务器可能已被入侵，请参考《Linux 主机安全排查指引》《Windows 主机安全排查指引》进行排查。\n");
        }
    } else {
        title = match template {
            Template::Alerting => format!(
                "[Violation alert] {name}: {} — rectify before the deadline",
                info.label_en
            ),
            Template::Reminder => format!(
                "[Reminder] {name}: {} — the deadline to rectify is near",
                info.label_en
            ),
            Template::Enforced => format!("[Penalty applied] {name}: {}", info.label_en),
            Template::Resolved => format!("[Resolved] {name}: the violation alert is closed"),
            Template::Lifted => format!("[Unblocked] {name} is unblocked"),
            Template::PartiallyLifted => {
                format!("[Partly unblocked] {name}: some penalties are lifted")
            }
            Template::UnblockFailed => {
                format!("[Unblock failed] {name} still has violating content")
            }
            Template::UnblockRejected => {
                format!("[Unblock rejected] {name}: manual unblock request rejected")
            }
            Template::UnblockQueued => {
                format!("[Manual unblock] {name}: your request is in the review queue")
            }
        };
        body.push_str(&format!(
            "Case: {}\nResource: {name} (ID {}, product {})\nCategory: {}\nViolating links:\n  {links}\n",
            f.case_id, f.resource_id, f.product, info.label_en
        ));
        match template {
            Template::Alerting | Template::Reminder => {
                body.push_str(&format!("Action if not rectified in time: {actions}\n"));
            }
            Template::PartiallyLifted => body.push_str(&format!("Still in force: {actions}\n")),
            Template::Lifted | Template::Resolved => {}
            Template::Enforced
            | Template::UnblockFailed
            | Template::UnblockRejected
            | Template::UnblockQueued => body.push_str(&format!("Action: {actions}\n")),
        }
        if let Some(d) = &deadline {
            body.push_str(&format!("Deadline to rectify: {d}\n"));
        }
        if let Some(n) = f.note {
            body.push_str(&format!("Reviewer's note: {n}\n"));
        }
        body.push_str(&format!("Legal basis: {laws}\n"));
        match template {
            Template::Alerting => body.push_str("Remove the violating content at the links above. Nothing is blocked if you rectify before the deadline; content still there afterwards is penalised.\n"),
            Template::Reminder => body.push_str("The deadline to rectify is near and the links above may still hold violating content. Remove it now: nothing is blocked if you rectify before the deadline.\n"),
            Template::Enforced => body.push_str(&advice),
            Template::UnblockFailed => {
                body.push_str("The re-check found violating content still at the links above, or could not confirm it is gone; the self-service unblock did not succeed.\n");
                body.push_str(&advice);
            }
            Template::UnblockRejected => {
                body.push_str("A reviewer rejected your manual unblock request.\n");
                body.push_str(&advice);
            }
            Template::PartiallyLifted => {
                body.push_str("What could be lifted is lifted.\n");
                body.push_str(&advice);
            }
            Template::Resolved | Template::Lifted => body.push_str("Thank you. Repeated violations are penalised more heavily.\n"),
            Template::UnblockQueued => body.push_str("Your manual unblock request is in the review queue and is decided in working hours (about 2 working hours, at most one working day). It cannot be withdrawn; you will be told the result here.\n"),
        }
        if f.maybe_compromised {
            body.push_str("If this was not your doing, your server may be compromised: follow the Linux / Windows host security check guides.\n");
        }
    }
    (title, body)
}

/// The short SMS text of a notice (NOT-1): what happened, to which resource, and where to look
/// — one 70-character segment where the names allow. (`sign` is the gateway's signature,
/// 【…】, added by the gateway.)
pub fn sms_text(kind: NoticeKind, lang: &str, resource: &str, case_id: &str) -> String {
    let zh = lang.eq_ignore_ascii_case("zh-CN") || lang.eq_ignore_ascii_case("zh");
    let what = match (kind, zh) {
        (NoticeKind::Alerting, true) => "存在违规内容，请在截止时间前整改",
        (NoticeKind::Alerting, false) => "has violating content: rectify before the deadline",
        (NoticeKind::DeadlineReminder, true) => "违规内容尚未整改，截止时间将至",
        (NoticeKind::DeadlineReminder, false) => "is not rectified yet; the deadline is near",
        (NoticeKind::Enforced | NoticeKind::EnforcedHostSecurity, true) => "因违规已被处罚",
        (NoticeKind::Enforced | NoticeKind::EnforcedHostSecurity, false) => {
            "is penalised for a violation"
        }
        (NoticeKind::Resolved, true) => "违规告警已解除",
        (NoticeKind::Resolved, false) => "violation alert closed",
        (NoticeKind::Lifted, true) => "已解除封禁",
        (NoticeKind::Lifted, false) => "is unblocked",
        (NoticeKind::PartiallyLifted, true) => "部分处罚已解除",
        (NoticeKind::PartiallyLifted, false) => "is partly unblocked",
        (NoticeKind::UnblockFailed, true) => "自助解封失败，仍存在违规内容",
        (NoticeKind::UnblockFailed, false) => "unblock failed: violating content remains",
        (NoticeKind::UnblockRejected, true) => "人工解封申请被驳回",
        (NoticeKind::UnblockRejected, false) => "manual unblock rejected",
        (NoticeKind::UnblockQueued, true) => "人工解封申请已提交审核",
        (NoticeKind::UnblockQueued, false) => "manual unblock request queued",
        (NoticeKind::SelfUnblockStarted, true) => "正在复查自助解封申请",
        (NoticeKind::SelfUnblockStarted, false) => "self-service unblock re-check started",
    };
    // The case id is long (and in the template's parameters); the console lists the case.
    let _ = case_id;
    if zh {
        format!("您的资源{resource}{what}，详情请登录控制台查看。")
    } else {
        format!("Your resource {resource} {what}. Details in the console.")
    }
}

/// The HTML part of a notice mail: the text's lines as paragraphs, escaped, with the console
/// link (if any) as a link.
pub fn html(lang: &str, title: &str, body: &str, link: Option<&str>) -> String {
    fn esc(t: &str) -> String {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title></head><body>\n<h1>{}</h1>\n",
        esc(lang),
        esc(title),
        esc(title)
    );
    for line in body.lines().filter(|l| !l.trim().is_empty()) {
        out.push_str(&format!("<p>{}</p>\n", esc(line.trim())));
    }
    if let Some(link) = link {
        out.push_str(&format!("<p><a href=\"{0}\">{0}</a></p>\n", esc(link)));
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_domain::lifecycle::TicketLift;

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
        }
    }

    /// NOT-1: resource, links, category, action in words, deadline (provider time), how to
    /// rectify; the unblock route that applies.
    #[test]
    fn notices_name_everything_the_tenant_needs() {
        let links = vec!["https://a.example/x".to_string()];
        let actions = vec![Action::BlockUrl];
        let (t, b) = render(Template::Alerting, "zh-CN", &facts(&links, &actions));
        assert!(t.contains("商城主站") && t.contains("色情低俗"), "{t}");
        for part in [
            "https://a.example/x",
            "web-1",
            "阻断URL",
            "2026-01-09 17:30+08:00",
            "整改",
            "《中华人民共和国刑法》",
        ] {
            assert!(b.contains(part), "missing {part}: {b}");
        }
        let mut f = facts(&links, &actions);
        f.deadline = None;
        f.unblock = Some(Ok(()));
        let (t, b) = render(Template::Enforced, "en", &f);
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
        let (_, b) = render(Template::Enforced, "zh-CN", &f);
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
        let (_, b) = render(Template::Enforced, "en", &f);
        assert!(
            b.contains("network access blocked: never lifted") && !b.contains("ticket"),
            "{b}"
        );
    }
}

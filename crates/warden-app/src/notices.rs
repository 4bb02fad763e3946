//! Notice templates (NOT-1), zh-CN and en: every notice names the resource, the violating
//! links, the category, the action, the deadline if any, and how to rectify and ask for unblock.
//! Pure rendering; the use case stores the result in the inbox in the same transaction as the
//! transition it reports (NOT-2).

use warden_domain::taxonomy::Category;
use warden_domain::time::Timestamp;

/// What a notice is about.
#[derive(Debug, Clone)]
pub struct NoticeFacts<'a> {
    /// Case id.
    pub case_id: &'a str,
    /// Resource id (or name).
    pub resource: &'a str,
    /// Product code.
    pub product: &'a str,
    /// Violating links (targets).
    pub links: &'a [String],
    /// Category.
    pub category: Category,
    /// Action codes applied or planned.
    pub actions: &'a [String],
    /// Deadline, if alerting.
    pub deadline: Option<Timestamp>,
    /// A reason to show (rejection reason, URLs still violating...).
    pub reason: Option<&'a str>,
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
    /// LIFE-2/3: penalty applied.
    Enforced,
    /// LIFE-2: rectified in time.
    Resolved,
    /// UNB-1/3: unblocked.
    Lifted,
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
            Template::Enforced => "case.enforced",
            Template::Resolved => "case.resolved",
            Template::Lifted => "case.lifted",
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

/// Renders (title, body) of `template` in `lang` (`zh-CN`, anything else is English).
pub fn render(template: Template, lang: &str, f: &NoticeFacts<'_>) -> (String, String) {
    let zh = lang.eq_ignore_ascii_case("zh-CN") || lang.eq_ignore_ascii_case("zh");
    let info = f.category.info();
    let links = f.links.join("\n  ");
    let actions = if f.actions.is_empty() {
        "-".to_string()
    } else {
        f.actions.join(", ")
    };
    let deadline = f.deadline.map(|d| local_time(d, f.utc_offset_minutes));
    let laws = info.legal_refs.join("、");
    let cdn = f.product == "cdn";
    let mut body = String::new();
    let title;
    if zh {
        title = match template {
            Template::Alerting => format!(
                "【违规告警】{} 存在{}内容，请在截止时间前整改",
                f.resource, info.label_zh
            ),
            Template::Enforced => format!("【违规处罚】{} 因{}已被处理", f.resource, info.label_zh),
            Template::Resolved => format!("【已整改】{} 的违规告警已解除", f.resource),
            Template::Lifted => format!("【已解封】{} 已解除封禁", f.resource),
            Template::UnblockFailed => format!("【解封失败】{} 仍存在违规内容", f.resource),
            Template::UnblockRejected => format!("【解封驳回】{} 的人工解封申请未通过", f.resource),
            Template::UnblockQueued => format!("【人工解封】{} 的解封申请已提交审核", f.resource),
        };
        body.push_str(&format!(
            "案件：{}\n资源：{}（{}）\n违规类型：{}\n违规链接：\n  {}\n处罚措施：{}\n",
            f.case_id, f.resource, f.product, info.label_zh, links, actions
        ));
        if let Some(d) = &deadline {
            body.push_str(&format!("整改截止时间：{d}\n"));
        }
        if let Some(r) = f.reason {
            body.push_str(&format!("说明：{r}\n"));
        }
        body.push_str(&format!("相关法律法规：{laws}\n"));
        match template {
            Template::Alerting => body.push_str("请删除上述链接中的违规内容。截止时间前整改完成不会被封禁；逾期仍存在违规内容将按处罚规则处理。\n"),
            Template::Enforced | Template::UnblockFailed | Template::UnblockRejected => {
                body.push_str("整改方法：删除上述链接中的违规内容后，在控制台违规记录中确认整改承诺书并申请自助解封；自助解封失败可申请人工解封。不支持控制台解封的情形请提交工单。\n");
                if cdn {
                    body.push_str("CDN 加速域名：请先刷新（清除）CDN 缓存，再申请解封。\n");
                }
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
                "[Violation alert] {}: {} — rectify before the deadline",
                f.resource, info.label_en
            ),
            Template::Enforced => format!("[Penalty applied] {}: {}", f.resource, info.label_en),
            Template::Resolved => {
                format!("[Resolved] {}: the violation alert is closed", f.resource)
            }
            Template::Lifted => format!("[Unblocked] {} is unblocked", f.resource),
            Template::UnblockFailed => format!(
                "[Unblock failed] {} still has violating content",
                f.resource
            ),
            Template::UnblockRejected => format!(
                "[Unblock rejected] {}: manual unblock request rejected",
                f.resource
            ),
            Template::UnblockQueued => {
                format!(
                    "[Manual unblock] {}: your request is in the review queue",
                    f.resource
                )
            }
        };
        body.push_str(&format!(
            "Case: {}\nResource: {} ({})\nCategory: {}\nViolating links:\n  {}\nAction: {}\n",
            f.case_id, f.resource, f.product, info.label_en, links, actions
        ));
        if let Some(d) = &deadline {
            body.push_str(&format!("Deadline to rectify: {d}\n"));
        }
        if let Some(r) = f.reason {
            body.push_str(&format!("Reason: {r}\n"));
        }
        body.push_str(&format!("Legal basis: {laws}\n"));
        match template {
            Template::Alerting => body.push_str("Remove the violating content at the links above. Nothing is blocked if you rectify before the deadline; content still there afterwards is penalised.\n"),
            Template::Enforced | Template::UnblockFailed | Template::UnblockRejected => {
                body.push_str("To get unblocked: remove the violating content, then confirm the rectification commitment and request a self-service unblock in the console; if that fails you can request a manual review. Where the console cannot unblock, file a ticket.\n");
                if cdn {
                    body.push_str("CDN domains: purge the CDN cache before you request an unblock.\n");
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(links: &'a [String], actions: &'a [String]) -> NoticeFacts<'a> {
        NoticeFacts {
            case_id: "case_1",
            resource: "web-1",
            product: "cdn",
            links,
            category: Category::PornVulgar,
            actions,
            deadline: Some(Timestamp::parse_rfc3339("2026-01-09T09:30:00Z").unwrap()),
            reason: None,
            maybe_compromised: false,
            utc_offset_minutes: 480,
        }
    }

    /// NOT-1: resource, links, category, action, deadline (provider time), how to rectify.
    #[test]
    fn notices_name_everything_the_tenant_needs() {
        let links = vec!["https://a.example/x".to_string()];
        let actions = vec!["block_url".to_string()];
        let (t, b) = render(Template::Alerting, "zh-CN", &facts(&links, &actions));
        assert!(t.contains("web-1") && t.contains("色情低俗"), "{t}");
        for part in [
            "https://a.example/x",
            "block_url",
            "2026-01-09 17:30+08:00",
            "整改",
            "《中华人民共和国刑法》",
        ] {
            assert!(b.contains(part), "missing {part}: {b}");
        }
        let (t, b) = render(Template::Enforced, "en", &facts(&links, &actions));
        assert!(t.contains("Pornographic"), "{t}");
        assert!(
            b.contains("purge the CDN cache") && b.contains("self-service unblock"),
            "{b}"
        );
    }
}

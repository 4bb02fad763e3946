//! Working together (issue 10): claims on queue items and staff-only notes.
//!
//! A staff member claims an item (a case in triage, an unblock request, a ticket) before working
//! it; the others see who holds it and cannot act on it until it is released, reassigned by an
//! operator, or idle for longer than [`crate::Settings::claim_idle_ms`]. Deciding the item
//! releases the claim. The use cases that decide items call [`App::check_claim`] in their own
//! transaction, so the rule holds for the console and the API alike.
//!
//! Notes are internal: only staff read them, they are never part of a notice, and the tenant's
//! pages and API answers have no path to them.

use warden_domain::identity::Role;
use warden_domain::resource::InvalidInput;
use warden_store::WriteTx;
use warden_store::claims::{Claim, StaffNote};

use crate::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};

const WORKERS: &[Role] = &[Role::Admin, Role::Operator, Role::Reviewer];

/// The longest note kept, in characters.
pub const MAX_NOTE: usize = 5000;

/// A claim with its holder's name.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClaimView {
    /// The claim.
    pub claim: Claim,
    /// The holder's login or token label.
    pub holder: String,
    /// Held by the viewer.
    pub mine: bool,
}

/// A note with its author's name.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NoteView {
    /// The note.
    pub note: StaffNote,
    /// The author's login or token label.
    pub author: String,
}

fn check_item(item: &str) -> AppResult<()> {
    let ok = ["case:", "unblock:", "ticket:"].iter().any(|p| {
        item.strip_prefix(p)
            .is_some_and(|id| !id.is_empty() && id.len() <= 64)
    });
    if ok {
        Ok(())
    } else {
        Err(InvalidInput::new("item", "must be case:<id>, unblock:<id> or ticket:<id>").into())
    }
}

impl App {
    /// The refusal naming who holds `c`.
    async fn claimed_by_other(&self, c: &Claim) -> AppError {
        let holder = match self.actors().await {
            Ok(a) => a.get(&c.claimed_by),
            Err(e) => return e,
        };
        AppError::Refused {
            code: "claimed_by_other",
            message: format!(
                "{} is working on this; wait until it is released, or ask an operator to reassign it",
                holder.label.unwrap_or(holder.id)
            ),
        }
    }

    fn stale_before(&self) -> i64 {
        self.now() - self.settings.claim_idle_ms
    }

    /// Claims `item` for `who` (or renews `who`'s claim). Refused, naming the holder, while
    /// someone else's claim is live.
    pub async fn claim(&self, who: &Principal, item: &str) -> AppResult<Claim> {
        who.require(WORKERS, "claim queue items")?;
        check_item(item)?;
        let now = self.now();
        let mut tx = self.store.begin_write().await?;
        let c = tx
            .take_claim(item, &who.actor(), now, self.stale_before())
            .await?;
        if c.claimed_by != who.actor() {
            return Err(self.claimed_by_other(&c).await);
        }
        if c.claimed_at == now {
            let mut ev = self.event(who, "claim.take", item.to_string());
            ev.details = serde_json::json!({ "item": item });
            tx.append_audit(ev).await?;
        }
        tx.commit().await?;
        Ok(c)
    }

    /// Releases `who`'s claim on `item`; an operator or admin may release anyone's.
    pub async fn release_claim(&self, who: &Principal, item: &str) -> AppResult<()> {
        who.require(WORKERS, "release claims")?;
        check_item(item)?;
        let any = matches!(who.role(), Some(Role::Admin | Role::Operator));
        let mut tx = self.store.begin_write().await?;
        let actor = who.actor();
        if tx
            .release_claim(item, (!any).then_some(actor.as_str()))
            .await?
        {
            tx.append_audit(self.event(who, "claim.release", item.to_string()))
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Gives `item` to the staff user with login `to` (operators and admins).
    pub async fn assign_claim(&self, who: &Principal, item: &str, to: &str) -> AppResult<()> {
        who.require(&[Role::Admin, Role::Operator], "reassign queue items")?;
        check_item(item)?;
        let mut tx = self.store.begin_write().await?;
        let (user, _) = tx
            .user_by_login(&to.trim().to_ascii_lowercase())
            .await?
            .filter(|(u, _)| WORKERS.contains(&u.role) && u.disabled_at.is_none())
            .ok_or(AppError::NotFound("user"))?;
        tx.assign_claim(item, &user.id, self.now()).await?;
        let mut ev = self.event(who, "claim.assign", item.to_string());
        ev.details = serde_json::json!({ "to": user.id });
        tx.append_audit(ev).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Inside a deciding use case: refuses while someone other than `who` holds a live claim on
    /// `item`; otherwise releases any claim (the item is decided).
    pub(crate) async fn check_claim(
        &self,
        tx: &mut WriteTx,
        who: &Principal,
        item: &str,
    ) -> AppResult<()> {
        if let Some(c) = tx.claim_of(item).await?
            && c.claimed_by != who.actor()
            && c.active_at >= self.stale_before()
            && !matches!(who, Principal::System)
        {
            return Err(self.claimed_by_other(&c).await);
        }
        tx.release_claim(item, None).await?;
        Ok(())
    }

    /// Live claims on these items, with their holders' names.
    pub async fn claims(&self, who: &Principal, items: &[String]) -> AppResult<Vec<ClaimView>> {
        who.require(WORKERS, "see claims")?;
        let claims = self.store.live_claims(items, self.stale_before()).await?;
        let actors = self.actors().await?;
        let me = who.actor();
        Ok(claims
            .into_iter()
            .map(|claim| {
                let a = actors.get(&claim.claimed_by);
                ClaimView {
                    mine: claim.claimed_by == me,
                    holder: a.label.unwrap_or(a.id),
                    claim,
                }
            })
            .collect())
    }

    /// Adds an internal note to a case (staff only; never shown to the tenant).
    pub async fn add_note(
        &self,
        who: &Principal,
        case_id: &str,
        body: &str,
    ) -> AppResult<StaffNote> {
        who.require(WORKERS, "write internal notes")?;
        let body = body.trim();
        if body.is_empty() || body.chars().count() > MAX_NOTE {
            return Err(
                InvalidInput::new("body", format!("must be 1 to {MAX_NOTE} characters")).into(),
            );
        }
        let case = self.get_case(who, case_id).await?;
        let now = self.now();
        let note = StaffNote {
            id: warden_store::new_id("nte", now),
            case_id: case.id.clone(),
            author: who.actor(),
            body: body.to_string(),
            created_at: now,
        };
        let mut tx = self.store.begin_write().await?;
        tx.insert_staff_note(&note).await?;
        // The audit event names the note, not its text: the text is staff-internal.
        let mut ev = self.event(who, "note.create", format!("case:{}", case.id));
        ev.details = serde_json::json!({ "note": note.id });
        ev.account_id = case.account_id.clone();
        tx.append_audit(ev).await?;
        tx.commit().await?;
        Ok(note)
    }

    /// A case's internal notes (staff only).
    pub async fn notes(&self, who: &Principal, case_id: &str) -> AppResult<Vec<NoteView>> {
        who.require(WORKERS, "read internal notes")?;
        let case = self.get_case(who, case_id).await?;
        let actors = self.actors().await?;
        Ok(self
            .store
            .staff_notes(&case.id)
            .await?
            .into_iter()
            .map(|note| {
                let a = actors.get(&note.author);
                NoteView {
                    author: a.label.unwrap_or(a.id),
                    note,
                }
            })
            .collect())
    }
}

/// One week of the handling-times dashboard.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct WeekFigures {
    /// The week's Monday, `YYYY-MM-DD` in the provider's zone.
    pub week: String,
    /// Cases opened.
    pub opened: usize,
    /// Median time from report to triage (confirm or dismiss), minutes.
    pub triage_median_min: Option<i64>,
    /// Median time from a manual unblock request to its decision, minutes.
    pub decision_median_min: Option<i64>,
    /// Manual unblock requests decided after their due time, or still open past it.
    pub unblock_breaches: usize,
    /// Tickets closed after their due time, or still open past it.
    pub ticket_breaches: usize,
}

fn median(mut v: Vec<i64>) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    v.get(v.len() / 2).copied()
}

impl App {
    /// Handling times of the last `weeks` weeks, oldest first (weeks start on Monday in the
    /// provider's zone).
    pub async fn handling_times(
        &self,
        who: &Principal,
        weeks: usize,
    ) -> AppResult<Vec<WeekFigures>> {
        who.require(
            &[Role::Admin, Role::Operator, Role::Reviewer],
            "read handling times",
        )?;
        let weeks = weeks.clamp(1, 52);
        let cal = &self.lifecycle.calendar;
        let offset = i64::from(cal.utc_offset_minutes()) * 60_000;
        let now = self.now();
        let day = (now + offset).div_euclid(86_400_000);
        // 1970-01-01 was a Thursday: days since the last Monday.
        let monday = day - (day + 3).rem_euclid(7);
        let first = monday - 7 * (i64::try_from(weeks).unwrap_or(52) - 1);
        let since = first * 86_400_000 - offset;
        let rows = self.store.handling_rows(since).await?;
        let week_of = |t: i64| -> Option<usize> {
            let d = (t + offset).div_euclid(86_400_000);
            usize::try_from((d - first).div_euclid(7))
                .ok()
                .filter(|w| *w < weeks)
        };
        let mut triage: Vec<Vec<i64>> = vec![Vec::new(); weeks];
        let mut decision: Vec<Vec<i64>> = vec![Vec::new(); weeks];
        let mut out: Vec<WeekFigures> = (0..weeks)
            .map(|w| {
                let (y, m, d) =
                    warden_domain::time::civil_from_days(first + 7 * i64::try_from(w).unwrap_or(0));
                WeekFigures {
                    week: format!("{y:04}-{m:02}-{d:02}"),
                    ..Default::default()
                }
            })
            .collect();
        for (opened, triaged) in rows.triage {
            if let Some(w) = week_of(opened) {
                if let Some(f) = out.get_mut(w) {
                    f.opened += 1;
                }
                if let (Some(t), Some(v)) = (triaged, triage.get_mut(w)) {
                    v.push((t - opened).max(0) / 60_000);
                }
            }
        }
        for (submitted, due, decided) in rows.unblocks {
            if let Some(w) = week_of(submitted) {
                if let (Some(d), Some(v)) = (decided, decision.get_mut(w)) {
                    v.push((d - submitted).max(0) / 60_000);
                }
                let late = due.is_some_and(|due| decided.unwrap_or(now) > due);
                if let (true, Some(f)) = (late, out.get_mut(w)) {
                    f.unblock_breaches += 1;
                }
            }
        }
        for (submitted, due, closed) in rows.tickets {
            if let Some(w) = week_of(submitted) {
                let late = due.is_some_and(|due| closed.unwrap_or(now) > due);
                if let (true, Some(f)) = (late, out.get_mut(w)) {
                    f.ticket_breaches += 1;
                }
            }
        }
        for (w, f) in out.iter_mut().enumerate() {
            f.triage_median_min = triage.get(w).cloned().and_then(median);
            f.decision_median_min = decision.get(w).cloned().and_then(median);
        }
        Ok(out)
    }
}

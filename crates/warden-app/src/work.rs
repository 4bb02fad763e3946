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
            let holder = self.actors().await?.get(&c.claimed_by);
            return Err(AppError::Refused {
                code: "claimed_by_other",
                message: format!(
                    "{} is working on this; wait until it is released, or ask an operator to reassign it",
                    holder.label.unwrap_or(holder.id)
                ),
            });
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
            let holder = self.actors().await?.get(&c.claimed_by);
            return Err(AppError::Refused {
                code: "claimed_by_other",
                message: format!(
                    "{} is working on this; wait until it is released, or ask an operator to reassign it",
                    holder.label.unwrap_or(holder.id)
                ),
            });
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

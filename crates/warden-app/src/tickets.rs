//! Tickets (TKT-1, UNB-5, HARM-2): filed by tenants, worked by reviewers in a queue with the
//! same SLA clock as unblock requests; closing one may lift the linked case's penalty.

use serde::{Deserialize, Serialize};
use warden_domain::code::Code;
use warden_domain::identity::Role;
use warden_domain::lifecycle::{Command, NoticeKind, TicketKind, TicketState, decide};
use warden_domain::resource::InvalidInput;
use warden_domain::time::Timestamp;
use warden_store::unblock::Ticket;

use crate::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::lifecycle::{SlaClock, Step};

/// Body of a ticket.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketInput {
    /// `unblock`, `regulator`, `harmful_behaviour` or `question`.
    #[schemars(required, with = "warden_domain::lifecycle::TicketKind")]
    pub kind: Option<String>,
    /// Linked case.
    #[serde(default)]
    pub case_id: Option<String>,
    /// Subject, 1 to 200 characters.
    #[schemars(required, length(min = 1, max = 200), pattern(r"\S"))]
    pub subject: Option<String>,
    /// Body, 1 to 10000 characters.
    #[schemars(required, length(min = 1, max = 10000), pattern(r"\S"))]
    pub body: Option<String>,
}

/// Body of a ticket closure.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseTicketInput {
    /// The answer the tenant sees, 1 to 2000 characters.
    #[schemars(required, length(min = 1, max = 2000), pattern(r"\S"))]
    pub resolution: Option<String>,
    /// Lift the linked case's penalty (HARM-2, TKT-1).
    #[serde(default)]
    pub lift: bool,
}

/// A ticket with its SLA clock (TKT-1).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TicketView {
    /// The ticket.
    #[serde(flatten)]
    pub ticket: Ticket,
    /// Its SLA clock.
    #[serde(flatten)]
    pub sla: SlaClock,
}

impl App {
    /// Files a ticket (TKT-1): the reviewer queue with the same SLA clock.
    pub async fn file_ticket(&self, who: &Principal, input: TicketInput) -> AppResult<Ticket> {
        who.require(&[Role::Tenant], "file tickets")?;
        let Principal::Token {
            account: Some(account),
            ..
        } = who
        else {
            return Err(AppError::Forbidden("file tickets"));
        };
        let kind = input.kind.unwrap_or_default();
        let kind = TicketKind::from_code(&kind).ok_or_else(|| {
            InvalidInput::new("kind", format!("is not one of {}", TicketKind::expected()))
        })?;
        let subject = input
            .subject
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty() && s.chars().count() <= 200);
        let subject =
            subject.ok_or_else(|| InvalidInput::new("subject", "must be 1 to 200 characters"))?;
        let body = input
            .body
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty() && s.chars().count() <= 10_000);
        let body =
            body.ok_or_else(|| InvalidInput::new("body", "must be 1 to 10000 characters"))?;
        if let Some(c) = &input.case_id {
            self.store
                .get_case(&who.scope(), c)
                .await?
                // A body naming an object that does not exist is 404, as everywhere (docs/api.md).
                .ok_or(AppError::NotFound("case"))?;
        }
        let now = self.now();
        let t = Ticket {
            id: warden_store::new_id("tkt", now),
            account_id: account.clone(),
            case_id: input.case_id,
            kind,
            subject,
            body,
            state: TicketState::Open,
            submitted_at: now,
            due_at: Some(
                self.lifecycle
                    .calendar
                    .sla_due(Timestamp(now), self.lifecycle.review_sla_ms, 1)
                    .millis(),
            ),
            closed_at: None,
            closed_by: None,
            resolution: None,
        };
        let mut tx = self.store.begin_write().await?;
        tx.insert_ticket(&t).await?;
        let mut ev = self.event(who, "ticket.create", format!("ticket:{}", t.id));
        ev.account_id = Some(t.account_id.clone());
        ev.details = serde_json::json!({ "kind": t.kind, "case_id": t.case_id });
        tx.append_audit(ev).await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Tickets: the tenant's own, or the open queue for staff; each with the SLA clock of the
    /// unblock queue (TKT-1: "a reviewer queue with SLA like UNB-3").
    pub async fn list_tickets(&self, who: &Principal) -> AppResult<Vec<TicketView>> {
        who.require(
            &[Role::Admin, Role::Operator, Role::Reviewer, Role::Tenant],
            "read tickets",
        )?;
        let staff = who.role().is_some_and(Role::is_staff);
        let now = self.now();
        Ok(self
            .store
            .list_tickets(&who.scope(), staff, 500)
            .await?
            .into_iter()
            .map(|t| TicketView {
                sla: self.sla_clock(t.due_at, t.state == TicketState::Open, now),
                ticket: t,
            })
            .collect())
    }

    /// Closes a ticket; with `lift`, lifts the linked case's penalty (HARM-2, TKT-1).
    pub async fn close_ticket(
        &self,
        who: &Principal,
        id: &str,
        input: CloseTicketInput,
    ) -> AppResult<Ticket> {
        who.require(&[Role::Admin, Role::Reviewer], "close tickets")?;
        let resolution = input
            .resolution
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        let resolution = resolution
            .ok_or_else(|| InvalidInput::new("resolution", "is required: the tenant sees it"))?;
        let now = self.now();
        let mut tx = self.store.begin_write().await?;
        tx.lock_chain().await?;
        self.check_claim(&mut tx, who, &format!("ticket:{id}"))
            .await?;
        let t = tx
            .get_ticket(id)
            .await?
            .ok_or(AppError::NotFound("ticket"))?;
        if input.lift {
            let case_id = t
                .case_id
                .clone()
                .ok_or_else(|| InvalidInput::new("lift", "the ticket is not linked to a case"))?;
            let mut l = self.load(&mut tx, &case_id, None).await?;
            let d = decide(
                &l.facts,
                &Command::LiftByTicket,
                Timestamp(now),
                &self.lifecycle.policy,
            )?;
            self.apply(
                &mut tx,
                who,
                &mut l,
                Step {
                    command: "lift_by_ticket",
                    decision: &d,
                    planned: &[],
                    extra: serde_json::json!({ "ticket_id": id }),
                    // The lifted notice carries the answer.
                    note: Some(&resolution),
                },
            )
            .await?;
        } else if let Some(case_id) = &t.case_id {
            // TKT-1: the tenant is told the answer, by the channels of `ticket.answered`.
            let l = self.load(&mut tx, case_id, None).await?;
            let state = l.facts.state;
            self.notify(
                &mut tx,
                &l,
                NoticeKind::TicketAnswered,
                state,
                Some(&resolution),
            )
            .await?;
        }
        if !tx.close_ticket(id, &resolution, &who.actor(), now).await? {
            return Err(AppError::Conflict("the ticket is already closed".into()));
        }
        let mut ev = self.event(who, "ticket.close", format!("ticket:{id}"));
        ev.account_id = Some(t.account_id.clone());
        ev.details = serde_json::json!({ "lift": input.lift, "resolution": resolution });
        tx.append_audit(ev).await?;
        let out = tx
            .get_ticket(id)
            .await?
            .ok_or(AppError::NotFound("ticket"))?;
        tx.commit().await?;
        Ok(out)
    }
}

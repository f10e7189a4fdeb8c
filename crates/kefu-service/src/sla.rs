//! SLA clocks: moving a ticket's clocks after each committed change (the ticket hook calls
//! [`SlaService::ticket_changed`]), re-timing open tickets after a policy or calendar edit, and
//! the ticket JSON's `sla` field. The escalation scan that acts on due clocks is
//! [`crate::escalation`].

use kefu_core::business_hours::Calendar;
use kefu_core::model::{Id, User};
use kefu_core::sla_policies::*;
use kefu_core::store::Store;
use kefu_core::tickets::{PolicyMatch, Ticket, TicketFacts, TicketStatus, choose_policy};
use kefu_core::time::Clock;
use kefu_core::{Error, Result};
use std::collections::HashMap;
use std::sync::Arc;

/// Admins and supervisors edit calendars, policies and automation rules.
pub fn require_manager(user: &User) -> Result<()> {
    crate::access::require_manager(user, "change SLA and automation settings")
}

/// The SLA clocks of tickets.
pub struct SlaService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl SlaService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Arc<Self> {
        Arc::new(Self { store, clock })
    }

    /// The customer tier (segmentation) of a ticket's customer, if computed.
    pub async fn ticket_tier_segment(
        &self,
        t: &Ticket,
    ) -> Result<(Option<String>, Option<String>)> {
        let Some(c) = &t.customer else {
            return Ok((None, None));
        };
        match self.store.customer_segments(t.shop_id, c.id).await {
            Ok(Some(s)) => Ok((
                Some(s.tier.as_str().to_owned()),
                s.rfm_segment.map(|r| r.as_str().to_owned()),
            )),
            Ok(None)
            | Err(Error {
                code: kefu_core::ErrorCode::NotFound,
                ..
            }) => Ok((None, None)),
            Err(e) => Err(e),
        }
    }

    /// The policy that applies to a ticket now (enabled policies only) and its calendar.
    async fn policy_for(&self, t: &Ticket) -> Result<Option<(SlaPolicy, Calendar)>> {
        let policies: Vec<SlaPolicy> = self
            .store
            .sla_policies(t.shop_id)
            .await?
            .into_iter()
            .filter(|p| p.enabled)
            .collect();
        if policies.is_empty() {
            return Ok(None);
        }
        let (tier, _) = self.ticket_tier_segment(t).await?;
        let matches: Vec<(i64, PolicyMatch)> = policies
            .iter()
            .map(|p| (p.position, p.matches.clone()))
            .collect();
        let facts = TicketFacts {
            priority: t.priority,
            category: t
                .category
                .as_ref()
                .map(|c| (c.key.as_str(), c.parent_key.as_deref())),
            tier: tier.as_deref(),
        };
        let Some(i) = choose_policy(&matches, &facts) else {
            return Ok(None);
        };
        let policy = policies[i].clone();
        let cal = self.calendar_of(t.shop_id, policy.calendar_id).await?;
        Ok(Some((policy, cal)))
    }

    async fn calendar_of(&self, shop_id: Id, calendar_id: Id) -> Result<Calendar> {
        let stored = self
            .store
            .calendar(shop_id, calendar_id)
            .await?
            .ok_or_else(|| Error::internal(format!("calendar {calendar_id} is gone")))?;
        Calendar::from_spec(&stored.spec).map_err(Error::internal)
    }

    /// Moves the ticket's clocks for what just happened to it (the ticket as committed).
    pub async fn ticket_changed(&self, t: &Ticket, events: &[SlaEvent]) -> Result<()> {
        let Some((policy, cal)) = self.policy_for(t).await? else {
            return Ok(());
        };
        let mut clocks = self.store.sla_clocks(t.shop_id, &[t.id]).await?;
        let before = clocks.clone();
        if clocks.is_empty()
            && !events.contains(&SlaEvent::Created)
            && !matches!(t.status, TicketStatus::Resolved | TicketStatus::Closed)
        {
            // A policy applies for the first time (e.g. a rule or a person raised the priority):
            // the clocks start from the ticket's creation, so the time already passed counts.
            let open = TicketStatus::Open;
            advance_clocks(
                &mut clocks,
                Some(&policy),
                &cal,
                open,
                &[SlaEvent::Created],
                t.id,
                t.created_at,
            );
            if let Some(replied) = t.first_public_reply_at {
                advance_clocks(
                    &mut clocks,
                    Some(&policy),
                    &cal,
                    open,
                    &[SlaEvent::AgentReplied],
                    t.id,
                    replied,
                );
            }
        }
        let removed = advance_clocks(
            &mut clocks,
            Some(&policy),
            &cal,
            t.status,
            events,
            t.id,
            self.clock.now(),
        );
        if clocks == before && removed.is_empty() {
            return Ok(());
        }
        self.store
            .save_sla_clocks(t.shop_id, t.id, &clocks, &removed)
            .await
    }

    /// After a policy or calendar edit, re-times the clocks of the shop's open tickets (the
    /// policy re-chosen, the time already used kept), in the background: a shop may have many.
    pub fn policies_changed(self: &Arc<Self>, shop_id: Id) {
        let state = self.clone();
        tokio::spawn(async move {
            let ids = match state.store.sla_open_tickets(shop_id).await {
                Ok(ids) => ids,
                Err(e) => return tracing::warn!(%e, shop_id, "SLA re-timing: cannot list tickets"),
            };
            for id in ids {
                let done = match state.store.ticket(shop_id, id).await {
                    Ok(Some(t)) => state.ticket_changed(&t, &[]).await,
                    Ok(None) => Ok(()),
                    Err(e) => Err(e),
                };
                if let Err(e) = done {
                    tracing::warn!(%e, ticket_id = id, "SLA re-timing failed");
                }
            }
        });
    }

    /// The `sla` field of these tickets (tickets without clocks are absent).
    pub async fn ticket_slas(
        &self,
        shop_id: Id,
        ticket_ids: &[Id],
    ) -> Result<HashMap<Id, TicketSla>> {
        let clocks = self.store.sla_clocks(shop_id, ticket_ids).await?;
        let now = self.clock.now();
        let mut by_ticket: HashMap<Id, Vec<ClockRecord>> = HashMap::new();
        for c in clocks {
            by_ticket.entry(c.ticket_id).or_default().push(c);
        }
        Ok(by_ticket
            .into_iter()
            .filter_map(|(id, c)| ticket_sla(&c, now).map(|s| (id, s)))
            .collect())
    }

    /// Fills the tickets' `sla` field (one read for all of them). Called after a change is
    /// committed, so a failed read leaves `sla` empty (logged) instead of failing the answer.
    pub async fn fill_sla(&self, tickets: &mut [Ticket]) {
        let Some(shop_id) = tickets.first().map(|t| t.shop_id) else {
            return;
        };
        let ids: Vec<Id> = tickets.iter().map(|t| t.id).collect();
        match self.ticket_slas(shop_id, &ids).await {
            Ok(mut slas) => {
                for t in tickets.iter_mut() {
                    t.sla = slas.remove(&t.id);
                }
            }
            Err(e) => tracing::warn!(%e, "could not read SLA clocks"),
        }
    }
}

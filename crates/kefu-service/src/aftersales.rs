//! After-sales flows: who may see and act on a request, storing it, and what follows a committed
//! change — the `aftersales.updated` event, the shopper's notice in the chat, and after a refund
//! the order's `orders.changed` and the buyer's segments (through the commerce area's
//! `after_ingest`).
//!
//! Scoping follows conversations: admins and supervisors see every request of the shop; agents see
//! the requests assigned to them and the unassigned ones (another agent's is 404, like an unknown id).

use crate::access::visible_conversation;
use crate::commerce::CommerceService;
use crate::inbox::InboxService;
use kefu_core::aftersales::*;
use kefu_core::attachments::NewAttachment;
use kefu_core::events::{Event, EventSink};
use kefu_core::model::{Id, User};
use kefu_core::store::Store;
use kefu_core::{Error, Result};
use std::sync::Arc;

/// Whether `user` may see a request with this assignee.
pub fn sees_request(user: &User, assignee: Option<Id>) -> bool {
    user.role.sees_whole_shop() || assignee.is_none_or(|a| a == user.id)
}

fn actor(user: &User) -> Actor {
    Actor {
        id: Some(user.id),
        name: user.name.clone(),
    }
}

/// After-sales requests: visibility, creation, actions, assignment, evidence.
pub struct AftersalesService {
    store: Arc<dyn Store>,
    events: Arc<dyn EventSink>,
    commerce: Arc<CommerceService>,
    /// The shopper hears of each step in the chat.
    inbox: Arc<InboxService>,
}

impl AftersalesService {
    pub fn new(
        store: Arc<dyn Store>,
        events: Arc<dyn EventSink>,
        commerce: Arc<CommerceService>,
        inbox: Arc<InboxService>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            events,
            commerce,
            inbox,
        })
    }

    /// Segments count after-sales requests as returns (the demanding group): the buyer's are
    /// recomputed after a change. Best effort: a failure only delays segments, the request is stored.
    async fn aftersales_segments(&self, shop_id: Id, customer_id: Id) {
        if let Err(e) = self
            .store
            .recompute_customers(shop_id, &[customer_id])
            .await
        {
            tracing::warn!(shop_id, error = %e, "segments recompute after an after-sales change failed");
        }
    }

    fn aftersales_changed(&self, shop_id: Id, r: &AftersalesRequest, previous: Option<Id>) {
        self.events.publish(Event::AftersalesUpdated {
            shop_id,
            request_id: r.id,
            state: r.state.as_str(),
            assignee_id: r.assignee.as_ref().map(|a| a.id),
            previous_assignee: previous,
        });
    }

    /// The request if `user` may see it; `not_found` otherwise.
    pub async fn visible_request(&self, user: &User, id: Id) -> Result<RequestDetail> {
        let detail = self
            .store
            .aftersales(user.shop_id, id)
            .await?
            .ok_or_else(|| Error::not_found("after-sales request"))?;
        if !sees_request(user, detail.request.assignee.as_ref().map(|a| a.id)) {
            return Err(Error::not_found("after-sales request"));
        }
        Ok(detail)
    }

    /// The request a typed number names (`AS-000007`, `as7`), if `user` may see it. Global
    /// search's jump to a record.
    pub async fn by_typed_number(
        &self,
        user: &User,
        text: &str,
    ) -> Result<Option<AftersalesRequest>> {
        let Some(n) = parse_request_no(text) else {
            return Ok(None);
        };
        let query = RequestQuery {
            number: Some(n),
            visible_to: (!user.role.sees_whole_shop()).then_some(user.id),
            limit: 1,
            ..Default::default()
        };
        Ok(self
            .store
            .list_aftersales(user.shop_id, &query)
            .await?
            .into_iter()
            .next())
    }

    /// Opens a request. Agents open requests for themselves (and only from conversations they may
    /// see); admins and supervisors may hand it to anyone or leave it to the shop's pool.
    pub async fn create_aftersales(
        &self,
        user: &User,
        input: NewRequestInput,
    ) -> Result<RequestDetail> {
        input.validate()?;
        let assignee_id = if user.role.sees_whole_shop() {
            input.assignee_id
        } else {
            match input.assignee_id {
                Some(a) if a != user.id => {
                    return Err(Error::forbidden(
                        "assignee_id: agents open requests for themselves",
                    ));
                }
                _ => Some(user.id),
            }
        };
        if let Some(cid) = input.conversation_id {
            visible_conversation(&*self.store, user, cid).await?;
        }
        let new = NewRequest {
            order_id: input.order_id,
            kind: input.kind,
            reason: input.reason.trim().to_owned(),
            description: input.description.trim().to_owned(),
            lines: input.lines,
            conversation_id: input.conversation_id,
            ticket_id: input.ticket_id,
            assignee_id,
        };
        let detail = self
            .store
            .create_aftersales(user.shop_id, new, actor(user))
            .await?;
        self.aftersales_changed(user.shop_id, &detail.request, None);
        self.inbox
            .aftersales_step(user.shop_id, &detail.request)
            .await;
        self.aftersales_segments(user.shop_id, detail.request.customer.id)
            .await;
        Ok(detail)
    }

    /// Applies an action to a request `user` may see.
    pub async fn act_aftersales(
        &self,
        user: &User,
        id: Id,
        action: Action,
    ) -> Result<RequestDetail> {
        let before = self.visible_request(user, id).await?;
        let acted = self
            .store
            .act_aftersales(user.shop_id, id, action, actor(user))
            .await?;
        self.aftersales_changed(user.shop_id, &acted.detail.request, None);
        if acted.detail.request.state != before.request.state {
            self.inbox
                .aftersales_step(user.shop_id, &acted.detail.request)
                .await;
        }
        if let Some((_order_id, customer_id)) = acted.refunded_order {
            // The order changed: open sidebars reload, and segments follow.
            self.commerce
                .after_ingest(user.shop_id, &[customer_id])
                .await;
        } else if acted.detail.request.state == State::Cancelled {
            self.aftersales_segments(user.shop_id, acted.detail.request.customer.id)
                .await;
        }
        Ok(acted.detail)
    }

    /// Hands a request to an agent or back to the pool. Admins and supervisors may assign anyone;
    /// an agent may only take an unassigned request for themselves.
    pub async fn assign_aftersales(
        &self,
        user: &User,
        id: Id,
        assignee_id: Option<Id>,
    ) -> Result<RequestDetail> {
        let current = self.visible_request(user, id).await?;
        let previous = current.request.assignee.as_ref().map(|a| a.id);
        if !user.role.sees_whole_shop() && (assignee_id != Some(user.id) || previous.is_some()) {
            return Err(Error::forbidden(
                "agents may only take an unassigned request for themselves",
            ));
        }
        let detail = self
            .store
            .assign_aftersales(user.shop_id, id, assignee_id, actor(user))
            .await?;
        self.aftersales_changed(user.shop_id, &detail.request, previous);
        Ok(detail)
    }

    /// Stores an evidence photo (received and checked by the caller, after [`Self::visible_request`])
    /// for a request `user` may see.
    pub async fn add_evidence(
        &self,
        user: &User,
        id: Id,
        photo: NewAttachment,
    ) -> Result<Evidence> {
        self.visible_request(user, id).await?;
        let evidence = self
            .store
            .add_aftersales_evidence(user.shop_id, id, photo, actor(user))
            .await?;
        if let Some(d) = self.store.aftersales(user.shop_id, id).await? {
            self.aftersales_changed(user.shop_id, &d.request, None);
        }
        Ok(evidence)
    }
}

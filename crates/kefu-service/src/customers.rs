//! Customer flows: the steps that follow a profile change — store it, drop what the visitor cache
//! remembers of the shopper, tell the shop's agents (`customer.updated`). kefu-http's customer
//! routes and the widget session endpoint call these.

use crate::visitors::VisitorCache;
use kefu_core::customers::*;
use kefu_core::events::{Event, EventSink};
use kefu_core::model::{Id, NewCustomer, Shop, User};
use kefu_core::store::Store;
use kefu_core::time::Millis;
use kefu_core::{Error, Result};
use std::sync::Arc;

/// What a widget session resolved to.
pub struct SessionCustomer {
    pub customer_id: Id,
    /// The visitor token the shopper sent may keep being used (it points at `customer_id`).
    pub keep_token: bool,
}

fn opt(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Customer profiles: blocks, merges, verified identities, and telling agents of changes.
pub struct CustomerService {
    store: Arc<dyn Store>,
    events: Arc<dyn EventSink>,
    visitors: Arc<VisitorCache>,
}

impl CustomerService {
    pub fn new(
        store: Arc<dyn Store>,
        events: Arc<dyn EventSink>,
        visitors: Arc<VisitorCache>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            events,
            visitors,
        })
    }

    /// Tells the shop's agents a profile changed.
    pub fn customer_changed(&self, shop_id: Id, customer_id: Id, merged_into: Option<Id>) {
        self.events.publish(Event::CustomerUpdated {
            shop_id,
            customer_id,
            merged_into,
        });
    }

    /// The live profile of the shop's customer, or `not_found`.
    pub async fn customer(&self, shop_id: Id, id: Id) -> Result<CustomerProfile> {
        self.store
            .customer_profile(shop_id, id)
            .await?
            .ok_or_else(|| Error::not_found("customer"))
    }

    pub async fn block_customer(
        &self,
        by: &User,
        id: Id,
        blocked: bool,
        reason: Option<&str>,
    ) -> Result<CustomerProfile> {
        self.store
            .set_blocked(by.shop_id, id, blocked, reason, &by.name)
            .await?;
        // The widget authenticates from a 30-second cache; a block must hold from the next request.
        self.visitors.forget_customer(id);
        self.customer_changed(by.shop_id, id, None);
        self.customer(by.shop_id, id).await
    }

    /// After a merge the survivor owns the source's orders: its segments are recomputed (the
    /// merge dropped the source's). The merge is already committed, so a failure here is only
    /// logged; the next recompute catches up.
    async fn segments_follow_merge(&self, shop_id: Id, survivor: Id) {
        if let Err(e) = self.store.recompute_customers(shop_id, &[survivor]).await {
            tracing::warn!(shop_id, survivor, error = %e, "segments recompute after merge failed");
        }
    }

    pub async fn merge_customer(
        &self,
        by: &User,
        target: Id,
        source: Id,
    ) -> Result<CustomerProfile> {
        self.store
            .merge_customers(by.shop_id, target, source, &by.name)
            .await?;
        // The source's visitor tokens now lead to the target.
        self.visitors.forget_customer(source);
        self.customer_changed(by.shop_id, source, Some(target));
        self.customer_changed(by.shop_id, target, None);
        self.segments_follow_merge(by.shop_id, target).await;
        self.customer(by.shop_id, target).await
    }

    /// Applies what a widget session call brought: a signed identity (checked here) and/or
    /// unverified contact fields. `current` is the customer of the visitor token sent, if any.
    pub async fn session_customer(
        &self,
        shop: &Shop,
        current: Option<Id>,
        identity: Option<&SignedIdentity>,
        contact: &NewCustomer,
    ) -> Result<Option<SessionCustomer>> {
        let Some(identity) = identity else {
            return Ok(None);
        };
        let secret = self.store.identity_secret(shop.id).await?;
        verify_identity_signature(&secret, &shop.slug, identity, Millis::now())?;
        let claim = VerifiedClaim {
            external_id: normalize_external_id("identity.external_id", &identity.external_id)?,
            name: opt(&identity.name)
                .map(|n| normalize_name("identity.name", n))
                .transpose()?,
            email: opt(&identity.email)
                .map(|e| normalize_email("identity.email", e))
                .transpose()?,
            phone: opt(&identity.phone)
                .map(|p| normalize_phone("identity.phone", p))
                .transpose()?,
        };
        let outcome = self
            .store
            .apply_verified_identity(shop.id, current, &claim)
            .await?;
        for merged in &outcome.merged {
            self.visitors.forget_customer(*merged);
            self.customer_changed(shop.id, *merged, Some(outcome.customer_id));
        }
        if !outcome.merged.is_empty() {
            self.segments_follow_merge(shop.id, outcome.customer_id)
                .await;
        }
        self.visitors.forget_customer(outcome.customer_id);
        // Unverified extras the same call carried are recorded on whoever the shopper now is.
        let extras = NewCustomer {
            name: None,
            ..contact.clone()
        };
        self.store
            .record_contact(shop.id, outcome.customer_id, &extras, "widget")
            .await?;
        self.customer_changed(shop.id, outcome.customer_id, None);
        Ok(Some(SessionCustomer {
            customer_id: outcome.customer_id,
            keep_token: outcome.keep_token,
        }))
    }
}

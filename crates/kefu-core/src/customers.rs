//! Customer profiles: contact fields, identities (phone/e-mail/external id, verified or not), custom fields, tags and notes, merging, the per-customer timeline and the blocklist.
//!
//! Types and rules here are pure (no I/O); [`CustomerStore`] is the storage port for them, implemented by
//! both store crates and required by [`crate::store::Store`].

use async_trait::async_trait;

/// Storage for this area. Every method is scoped by `shop_id`: another shop's ids answer
/// `not_found` exactly as unknown ids do. Writes return only once committed.
#[async_trait]
pub trait CustomerStore: Send + Sync + 'static {}

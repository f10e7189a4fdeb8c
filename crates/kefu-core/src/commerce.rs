//! Commerce data: products, orders with their lines, shipments with their events, refunds; idempotent batch upserts on the shop's own ids; payment reminders (催付) and their outcomes.
//!
//! Types and rules here are pure (no I/O); [`CommerceStore`] is the storage port for them, implemented by
//! both store crates and required by [`crate::store::Store`].

use async_trait::async_trait;

/// Storage for this area. Every method is scoped by `shop_id`: another shop's ids answer
/// `not_found` exactly as unknown ids do. Writes return only once committed.
#[async_trait]
pub trait CommerceStore: Send + Sync + 'static {}

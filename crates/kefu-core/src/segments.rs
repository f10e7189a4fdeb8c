//! Segmentation: per-customer metrics (RFM), tiers (key / suitable / general), value-added groups, churn risk and the Pareto (80/20) view, with the shop's segmentation rules.
//!
//! Types and rules here are pure (no I/O); [`SegmentStore`] is the storage port for them, implemented by
//! both store crates and required by [`crate::store::Store`].

use async_trait::async_trait;

/// Storage for this area. Every method is scoped by `shop_id`: another shop's ids answer
/// `not_found` exactly as unknown ids do. Writes return only once committed.
#[async_trait]
pub trait SegmentStore: Send + Sync + 'static {}

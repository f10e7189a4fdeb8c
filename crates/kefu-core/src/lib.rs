//! kefu-core: the domain of kefu — types, rules and the ports (traits) that adapters implement.
//!
//! It owns what a shop, an agent, a shopper, a conversation and a message *are*, the rules that
//! decide routing, and the [`store::Store`] and [`events::EventSink`] traits. It must not depend on
//! axum, sqlx or any other adapter: the storage crates and the HTTP crate depend on it, never the
//! other way round.

pub mod aftersales;
pub mod attachments;
pub mod automation;
pub mod base;
pub mod business_hours;
pub mod cards;
pub mod commerce;
pub mod customers;
pub mod error;
pub mod events;
pub mod frames;
pub mod inbox;
pub mod kpi;
pub mod mail;
pub mod members;
pub mod model;
pub mod presence;
pub mod reminders;
pub mod reports;
pub mod reviews;
pub mod routing;
pub mod scripts;
pub mod search;
pub mod segments;
pub mod sla;
pub mod sla_policies;
pub mod sla_view;
pub mod store;
pub mod suggestions;
pub mod tabular;
pub mod tickets;
pub mod time;
pub mod token;
pub mod tools;

pub use error::{Error, ErrorCode, Result};

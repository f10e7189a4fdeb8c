//! The demo shop (`kefu demo` only): which shop it is and the seeded shoppers one may log in as
//! on its page. The seed (crates/kefu) builds it; kefu-http's demo routes serve it.

use kefu_core::model::Id;
use serde::Serialize;
use utoipa::ToSchema;

/// The demo shop and the shoppers one may log in as (set by `kefu demo` only).
#[derive(Debug, Clone)]
pub struct DemoShop {
    pub shop_id: Id,
    pub shoppers: Vec<DemoShopper>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DemoShopper {
    /// What the page sends to log in (the customer's external id).
    pub key: String,
    pub name: String,
    #[serde(skip)]
    pub customer_id: Id,
}

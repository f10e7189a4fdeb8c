//! Commerce data: products, orders with their lines, shipments with their events, refunds; idempotent batch upserts on the shop's own ids; payment reminders (催付) and their outcomes.
//!
//! Types and rules here are pure (no I/O); [`CommerceStore`] is the storage port for them, implemented by
//! both store crates and required by [`crate::store::Store`].
//!
//! Every ingest path (batch API, CSV import, webhooks) turns its input into the same validated
//! documents ([`OrderDoc`], [`ShipmentUpsert`], [`RefundUpsert`], [`ProductDoc`]) and hands them to
//! [`CommerceStore::apply_commerce`], so idempotency, buyer resolution and the created / updated /
//! unchanged accounting live in one place per backend.

pub mod csv_import;
pub mod money;
pub mod webhook;

use crate::model::Id;
use crate::time::Millis;
use crate::{Error, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// The most orders (or products, shipments, refunds) one batch request may carry.
pub const MAX_BATCH_ITEMS: usize = 1000;
/// The most lines one order may have.
pub const MAX_ORDER_LINES: usize = 500;
/// How many orders one CSV import write job stores (one SQLite writer job / one PG transaction):
/// big enough to be fast (SQLite stores a chunk of new orders with a handful of statements per
/// table), small enough not to starve other writers (a chunk takes well under a second).
pub const IMPORT_CHUNK_ORDERS: usize = 10_000;

macro_rules! commerce_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [&'static str] = &[$($text),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            /// Parses the stored/wire form; `None` for an unknown value.
            pub fn from_wire(s: &str) -> Option<Self> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
            /// Parses the wire form of the field `field`; an unknown value is a validation error
            /// naming the field and the allowed values.
            pub fn parse_field(field: &str, s: &str) -> Result<Self> {
                Self::from_wire(s.trim()).ok_or_else(|| {
                    Error::validation(format!("{field}: must be one of {}", Self::ALL.join(", ")))
                })
            }
        }
    };
}

commerce_enum!(
    /// Where an order stands. The order of the variants is the order of progress.
    OrderStatus { Created => "created", Paid => "paid", Shipped => "shipped", Delivered => "delivered", Completed => "completed", Cancelled => "cancelled" }
);
commerce_enum!(
    /// Whether the buyer has paid (and how much came back).
    PaymentStatus { Unpaid => "unpaid", Paid => "paid", PartiallyRefunded => "partially_refunded", Refunded => "refunded" }
);
commerce_enum!(
    /// A parcel's logistics state.
    ShipmentStatus { Pending => "pending", InTransit => "in_transit", OutForDelivery => "out_for_delivery", Delivered => "delivered", Exception => "exception", Returned => "returned" }
);
commerce_enum!(
    /// A refund's state; only `refunded` counts toward an order's `refunded_cents`.
    RefundStatus { Requested => "requested", Approved => "approved", Rejected => "rejected", Refunded => "refunded" }
);
commerce_enum!(
    /// Whether a product is on sale.
    ProductStatus { Active => "active", Inactive => "inactive" }
);

// ---------------------------------------------------------------------------------------------
// Wire input (what clients send). Strings are parsed in validation so errors can name the field.

/// A time as clients may send it: milliseconds since the epoch, or an RFC 3339 / `YYYY-MM-DD HH:MM[:SS]`
/// string (without an offset, China Standard Time, UTC+8, is assumed).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(untagged)]
pub enum TimeInput {
    Millis(i64),
    Text(String),
}

impl TimeInput {
    pub fn parse(&self, field: &str) -> Result<Millis> {
        match self {
            TimeInput::Millis(ms) if *ms >= 0 => Ok(Millis(*ms)),
            TimeInput::Millis(_) => {
                Err(Error::validation(format!("{field}: must not be negative")))
            }
            TimeInput::Text(s) => parse_time(s).ok_or_else(|| {
                Error::validation(format!(
                    "{field}: must be a time like 2026-11-20 14:03:00 or 2026-11-20T06:03:00Z"
                ))
            }),
        }
    }
}

/// Parses RFC 3339, or `YYYY-MM-DD[ T]HH:MM[:SS]` / `YYYY-MM-DD` read as UTC+8, or plain ms digits.
pub fn parse_time(s: &str) -> Option<Millis> {
    use ::time::format_description::well_known::Rfc3339;
    use ::time::macros::{format_description, offset};
    use ::time::{Date, OffsetDateTime, PrimitiveDateTime, Time};
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().ok().map(Millis);
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(Millis((t.unix_timestamp_nanos() / 1_000_000) as i64));
    }
    let s = s.replace('T', " ").replace('/', "-");
    let local = PrimitiveDateTime::parse(
        &s,
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
    )
    .or_else(|_| {
        PrimitiveDateTime::parse(
            &s,
            format_description!("[year]-[month]-[day] [hour]:[minute]"),
        )
    })
    .or_else(|_| {
        Date::parse(&s, format_description!("[year]-[month]-[day]"))
            .map(|d| PrimitiveDateTime::new(d, Time::MIDNIGHT))
    })
    .ok()?;
    let t = local.assume_offset(offset!(+8));
    Some(Millis((t.unix_timestamp_nanos() / 1_000_000) as i64))
}

/// Who bought: the shop's identity of the buyer. Resolved to a customer of the shop by
/// `external_id`, then `phone`, then `email`; a new customer is created when none matches.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema, PartialEq)]
pub struct BuyerInput {
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct OrderItemInput {
    pub sku: String,
    /// Defaults to the catalogue name of the SKU, else the SKU.
    #[serde(default)]
    pub name: Option<String>,
    pub quantity: i64,
    pub unit_price_cents: i64,
    /// Defaults to `quantity × unit_price_cents`.
    #[serde(default)]
    pub total_cents: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ShipmentEventInput {
    pub at: TimeInput,
    pub status: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub location: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ShipmentInput {
    /// Only in `POST /shipments/batch` (inside an order it is implied).
    #[serde(default)]
    pub order_no: Option<String>,
    pub carrier: String,
    pub tracking_no: String,
    /// Defaults to the status of the latest event, else `in_transit`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub shipped_at: Option<TimeInput>,
    #[serde(default)]
    pub delivered_at: Option<TimeInput>,
    #[serde(default)]
    pub events: Vec<ShipmentEventInput>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct RefundInput {
    /// Only in `POST /refunds/batch` (inside an order it is implied).
    #[serde(default)]
    pub order_no: Option<String>,
    pub refund_no: String,
    pub amount_cents: i64,
    #[serde(default)]
    pub reason: String,
    /// Defaults to `refunded`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub created_at: Option<TimeInput>,
    #[serde(default)]
    pub refunded_at: Option<TimeInput>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct OrderInput {
    pub order_no: String,
    /// A known customer of the shop; otherwise `buyer` is resolved to one.
    #[serde(default)]
    pub customer_id: Option<Id>,
    #[serde(default)]
    pub buyer: BuyerInput,
    pub placed_at: TimeInput,
    /// Defaults from the times given: delivered / shipped / paid / created.
    #[serde(default)]
    pub status: Option<String>,
    /// Defaults from `paid_at` and the refunds.
    #[serde(default)]
    pub payment_status: Option<String>,
    /// ISO 4217 code; defaults to `CNY`.
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub discount_cents: i64,
    #[serde(default)]
    pub shipping_fee_cents: i64,
    #[serde(default)]
    pub paid_at: Option<TimeInput>,
    #[serde(default)]
    pub shipped_at: Option<TimeInput>,
    #[serde(default)]
    pub delivered_at: Option<TimeInput>,
    #[serde(default)]
    pub receiver_name: String,
    #[serde(default)]
    pub receiver_phone: String,
    #[serde(default)]
    pub receiver_address: String,
    pub items: Vec<OrderItemInput>,
    #[serde(default)]
    pub shipments: Vec<ShipmentInput>,
    #[serde(default)]
    pub refunds: Vec<RefundInput>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ProductInput {
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub images: Vec<String>,
    /// `active` (default) or `inactive`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub description: String,
}

// ---------------------------------------------------------------------------------------------
// Validated documents (what the store receives).

/// A buyer identity, trimmed; empty strings became `None`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Buyer {
    pub external_id: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

impl Buyer {
    /// The buyer's identities as the customers area stores them (normalized), in matching order:
    /// external id, phone, e-mail. A value that does not normalize is left out (it can still match
    /// the customer's spine column as given).
    pub fn identities(&self) -> Vec<(crate::customers::IdentityKind, String)> {
        use crate::customers::{IdentityKind, normalize_identity};
        [
            (IdentityKind::ExternalId, &self.external_id),
            (IdentityKind::Phone, &self.phone),
            (IdentityKind::Email, &self.email),
        ]
        .into_iter()
        .filter_map(|(kind, raw)| {
            let v = normalize_identity(kind, "value", raw.as_deref()?).ok()?;
            Some((kind, v))
        })
        .collect()
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OrderLine {
    pub line_no: i64,
    pub sku: String,
    /// Empty: the store fills the catalogue name (or the SKU).
    pub name: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
    pub total_cents: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ShipmentEventDoc {
    pub at: Millis,
    pub status: ShipmentStatus,
    pub description: String,
    pub location: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ShipmentDoc {
    pub carrier: String,
    pub tracking_no: String,
    pub status: ShipmentStatus,
    pub shipped_at: Option<Millis>,
    pub delivered_at: Option<Millis>,
    pub events: Vec<ShipmentEventDoc>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RefundDoc {
    pub refund_no: String,
    pub amount_cents: i64,
    pub reason: String,
    pub status: RefundStatus,
    pub created_at: Option<Millis>,
    pub refunded_at: Option<Millis>,
}

/// A validated order document: amounts computed, statuses decided.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OrderDoc {
    pub order_no: String,
    pub customer_id: Option<Id>,
    pub buyer: Buyer,
    pub placed_at: Millis,
    pub status: OrderStatus,
    /// `None`: derived by the store from `paid_at` and the refunds stored for the order.
    pub payment_status: Option<PaymentStatus>,
    pub currency: String,
    pub items_cents: i64,
    pub discount_cents: i64,
    pub shipping_fee_cents: i64,
    pub total_cents: i64,
    pub paid_at: Option<Millis>,
    pub shipped_at: Option<Millis>,
    pub delivered_at: Option<Millis>,
    pub receiver_name: String,
    pub receiver_phone: String,
    pub receiver_address: String,
    pub items: Vec<OrderLine>,
    pub shipments: Vec<ShipmentDoc>,
    pub refunds: Vec<RefundDoc>,
}

impl OrderDoc {
    /// A digest of the whole document: re-sending the same order is recognised as `unchanged`
    /// with one indexed lookup and no writes (this is what makes re-imports cheap).
    pub fn content_hash(&self) -> String {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(&Sha256::digest(&bytes)[..16])
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ShipmentUpsert {
    pub order_no: String,
    pub shipment: ShipmentDoc,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RefundUpsert {
    pub order_no: String,
    pub refund: RefundDoc,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProductDoc {
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub currency: String,
    pub category: String,
    pub images: Vec<String>,
    pub status: ProductStatus,
    pub description: String,
}

/// One change to apply, each item all or nothing. The `usize` is the item's index in the
/// request (or its CSV line number), echoed in the outcome.
#[derive(Debug, Clone)]
pub enum CommerceChange {
    Products(Vec<(usize, ProductDoc)>),
    Orders(Vec<(usize, OrderDoc)>),
    Shipments(Vec<(usize, ShipmentUpsert)>),
    Refunds(Vec<(usize, RefundUpsert)>),
    /// `order.paid`: the order is paid at this time (status at least `paid`).
    MarkPaid {
        order_no: String,
        paid_at: Millis,
    },
}

/// A verified inbound webhook delivery, stored with the change it carries so a replay (same event id
/// or same signature) is refused and changes nothing.
#[derive(Debug, Clone)]
pub struct WebhookDelivery {
    pub event_id: String,
    pub signature: String,
    pub event_type: String,
    pub received_at: Millis,
}

// ---------------------------------------------------------------------------------------------
// Outcomes.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UpsertStatus {
    Created,
    Updated,
    Unchanged,
    Failed,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct ItemError {
    pub code: String,
    /// Names the field, e.g. `orders[3].items[0].quantity: must be at least 1`.
    pub message: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemResult {
    /// The item's index in the request (for CSV imports: the first line number of the order).
    pub index: usize,
    /// The shop's own id of the item (sku, order_no, carrier/tracking_no, refund_no).
    pub key: String,
    pub status: UpsertStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ItemError>,
}

impl ItemResult {
    pub fn failed(index: usize, key: impl Into<String>, e: &Error) -> Self {
        ItemResult {
            index,
            key: key.into(),
            status: UpsertStatus::Failed,
            id: None,
            error: Some(ItemError {
                code: e.code.as_str().into(),
                message: e.message.clone(),
            }),
        }
    }
}

/// The outcome of a batch: per item, counts, and the customers whose orders changed (segments
/// recompute their metrics).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct BatchOutcome {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub items: Vec<ItemResult>,
    pub touched_customer_ids: Vec<Id>,
}

impl BatchOutcome {
    pub fn push(&mut self, item: ItemResult) {
        match item.status {
            UpsertStatus::Created => self.created += 1,
            UpsertStatus::Updated => self.updated += 1,
            UpsertStatus::Unchanged => self.unchanged += 1,
            UpsertStatus::Failed => self.failed += 1,
        }
        self.items.push(item);
    }

    pub fn touch(&mut self, customer_id: Id) {
        self.touched_customer_ids.push(customer_id);
    }

    /// Merges another outcome (e.g. the next import chunk) into this one.
    pub fn merge(&mut self, other: BatchOutcome) {
        for item in other.items {
            self.push(item);
        }
        self.touched_customer_ids.extend(other.touched_customer_ids);
        self.finish();
    }

    /// Sorts items by index and deduplicates the touched customers.
    pub fn finish(&mut self) {
        self.items.sort_by_key(|i| i.index);
        self.touched_customer_ids.sort_unstable();
        self.touched_customer_ids.dedup();
    }
}

// ---------------------------------------------------------------------------------------------
// Read models.

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CatalogProduct {
    pub id: Id,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub currency: String,
    pub category: String,
    pub images: Vec<String>,
    pub status: ProductStatus,
    pub description: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Order {
    pub id: Id,
    pub order_no: String,
    pub customer_id: Id,
    pub customer_name: String,
    pub status: OrderStatus,
    pub payment_status: PaymentStatus,
    pub currency: String,
    pub items_cents: i64,
    pub discount_cents: i64,
    pub shipping_fee_cents: i64,
    pub total_cents: i64,
    pub refunded_cents: i64,
    pub placed_at: Millis,
    pub paid_at: Option<Millis>,
    pub shipped_at: Option<Millis>,
    pub delivered_at: Option<Millis>,
    pub receiver_name: String,
    pub receiver_phone: String,
    pub receiver_address: String,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// Whether an after-sales request (申请售后) may be opened for it: paid, not cancelled, not
    /// refunded in full (`aftersales::order_allows_request`, the rule the request's creation checks).
    pub aftersales_allowed: bool,
    /// Unpaid and not cancelled: a payment reminder (催付) may be sent (`reminders::awaiting_payment`).
    pub awaiting_payment: bool,
}

impl Order {
    /// Fills the derived flags from the stored fields.
    pub fn with_flags(mut self) -> Self {
        self.aftersales_allowed = crate::aftersales::order_allows_request(
            self.paid_at.is_some(),
            self.status == OrderStatus::Cancelled,
            self.total_cents,
            self.refunded_cents,
        );
        self.awaiting_payment =
            crate::reminders::awaiting_payment(self.payment_status.as_str(), self.status.as_str());
        self
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderItem {
    pub id: Id,
    pub line_no: i64,
    pub sku: String,
    pub product_id: Option<Id>,
    pub name: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
    pub total_cents: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShipmentEvent {
    pub at: Millis,
    pub status: ShipmentStatus,
    pub description: String,
    pub location: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Shipment {
    pub id: Id,
    pub carrier: String,
    pub tracking_no: String,
    pub status: ShipmentStatus,
    pub shipped_at: Option<Millis>,
    pub delivered_at: Option<Millis>,
    pub updated_at: Millis,
    /// Newest first.
    pub events: Vec<ShipmentEvent>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Refund {
    pub id: Id,
    pub refund_no: String,
    pub amount_cents: i64,
    pub reason: String,
    pub status: RefundStatus,
    pub created_at: Millis,
    pub refunded_at: Option<Millis>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderDetail {
    #[serde(flatten)]
    pub order: Order,
    pub items: Vec<OrderItem>,
    pub shipments: Vec<Shipment>,
    pub refunds: Vec<Refund>,
}

/// A parcel of an order with only its latest event: what the sidebar shows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShipmentBrief {
    pub carrier: String,
    pub tracking_no: String,
    pub status: ShipmentStatus,
    pub latest_event: Option<ShipmentEvent>,
}

/// One of a customer's recent orders, for the sidebar.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerOrder {
    #[serde(flatten)]
    pub order: Order,
    pub items: Vec<OrderItem>,
    /// The order's most recently updated parcel.
    pub shipment: Option<ShipmentBrief>,
}

#[derive(Debug, Clone, Default)]
pub struct OrderQuery {
    pub customer_id: Option<Id>,
    pub status: Option<OrderStatus>,
    pub payment_status: Option<PaymentStatus>,
    /// Order number prefix.
    pub q: Option<String>,
    pub placed_from: Option<Millis>,
    pub placed_to: Option<Millis>,
    /// Keyset: orders strictly older than `(placed_at, id)`.
    pub before: Option<(Millis, Id)>,
    pub limit: i64,
}

#[derive(Debug, Clone, Default)]
pub struct ProductQuery {
    /// SKU or name substring.
    pub q: Option<String>,
    pub category: Option<String>,
    /// Keyset: products with a greater id.
    pub after_id: Option<Id>,
    pub limit: i64,
}

/// Storage for this area. Every method is scoped by `shop_id`: another shop's ids answer
/// `not_found` exactly as unknown ids do. Writes return only once committed.
#[async_trait]
pub trait CommerceStore: Send + Sync + 'static {
    /// Applies a change, each item all or nothing (a failing item is reported and the others are
    /// kept). With a webhook `delivery`, the whole change is one unit: `conflict` if the delivery
    /// was seen before (same event id or signature), the item's error if it fails; nothing is
    /// stored in either case.
    async fn apply_commerce(
        &self,
        shop_id: Id,
        change: CommerceChange,
        delivery: Option<WebhookDelivery>,
    ) -> Result<BatchOutcome>;

    async fn list_orders(&self, shop_id: Id, query: &OrderQuery) -> Result<Vec<Order>>;
    async fn order_detail(&self, shop_id: Id, order_id: Id) -> Result<Option<OrderDetail>>;
    /// The customer's most recent orders with items and latest logistics; `None` if the customer is
    /// not the shop's.
    async fn customer_orders(
        &self,
        shop_id: Id,
        customer_id: Id,
        limit: i64,
    ) -> Result<Option<Vec<CustomerOrder>>>;
    async fn list_catalog(&self, shop_id: Id, query: &ProductQuery) -> Result<Vec<CatalogProduct>>;

    /// The shop's webhook secret, storing `fresh` as the secret if it has none yet.
    async fn commerce_webhook_secret(&self, shop_id: Id, fresh: &str) -> Result<String>;
    /// Replaces the shop's webhook secret with `fresh`.
    async fn rotate_commerce_webhook_secret(&self, shop_id: Id, fresh: &str) -> Result<()>;

    /// A CSV import of at least one full chunk ([`IMPORT_CHUNK_ORDERS`]) is starting. A store
    /// may prepare for the load in ways that change only speed, never results (SQLite: when
    /// `orders` is empty it drops the orders' secondary indexes and builds them once at the end
    /// instead of inserting a million rows into each at random places). Whatever it does is
    /// undone by [`CommerceStore::end_bulk_import`].
    async fn begin_bulk_import(&self) -> Result<()> {
        Ok(())
    }

    /// Undoes what [`CommerceStore::begin_bulk_import`] did (SQLite: builds every secondary
    /// index of `orders` that is missing). The importer calls it after every import that began
    /// one, also a failed one, and the binary when it opens a store, so an import cut short by a
    /// crash costs speed only until then. Cheap when there is nothing to undo.
    async fn end_bulk_import(&self) -> Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Validation.

fn clean(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn check_len(field: &str, value: &str, max: usize) -> Result<()> {
    if value.chars().count() > max {
        return Err(Error::validation(format!(
            "{field}: must be at most {max} characters"
        )));
    }
    Ok(())
}

/// A shop-own identifier (order_no, sku, tracking_no, refund_no): 1–64 printable characters.
fn check_key(field: &str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::validation(format!("{field}: must not be empty")));
    }
    if v.chars().count() > 64 || v.chars().any(char::is_control) {
        return Err(Error::validation(format!(
            "{field}: must be at most 64 characters without control characters"
        )));
    }
    Ok(v.to_owned())
}

fn check_cents(field: &str, v: i64) -> Result<i64> {
    if !(0..=money::MAX_CENTS).contains(&v) {
        return Err(Error::validation(format!(
            "{field}: must be between 0 and {}",
            money::MAX_CENTS
        )));
    }
    Ok(v)
}

fn check_currency(field: &str, c: Option<&str>) -> Result<String> {
    let c = c.map(str::trim).filter(|c| !c.is_empty()).unwrap_or("CNY");
    if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(Error::validation(format!(
            "{field}: must be a 3-letter currency code like CNY"
        )));
    }
    Ok(c.to_ascii_uppercase())
}

fn opt_time(field: &str, t: &Option<TimeInput>) -> Result<Option<Millis>> {
    t.as_ref().map(|t| t.parse(field)).transpose()
}

/// Normalises a buyer identity: trimmed, phone digits only (with an optional leading +), e-mail
/// lower-cased.
pub fn validate_buyer(prefix: &str, b: &BuyerInput) -> Result<Buyer> {
    let external_id = clean(b.external_id.as_deref());
    if let Some(x) = &external_id {
        check_len(&format!("{prefix}buyer.external_id"), x, 128)?;
    }
    let name = clean(b.name.as_deref());
    if let Some(n) = &name {
        check_len(&format!("{prefix}buyer.name"), n, 100)?;
    }
    let phone = match clean(b.phone.as_deref()) {
        None => None,
        Some(p) => {
            let digits: String = p.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
            let body = digits.strip_prefix('+').unwrap_or(&digits);
            if !(5..=20).contains(&body.len()) || !body.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::validation(format!(
                    "{prefix}buyer.phone: must be 5-20 digits"
                )));
            }
            Some(digits)
        }
    };
    let email = match clean(b.email.as_deref()) {
        None => None,
        Some(e) => {
            let ok = e.len() <= 254
                && e.split_once('@')
                    .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'));
            if !ok || e.chars().any(char::is_whitespace) {
                return Err(Error::validation(format!(
                    "{prefix}buyer.email: must be an e-mail address"
                )));
            }
            Some(e.to_lowercase())
        }
    };
    Ok(Buyer {
        external_id,
        name,
        phone,
        email,
    })
}

pub fn validate_shipment(prefix: &str, s: &ShipmentInput) -> Result<ShipmentDoc> {
    let carrier = s.carrier.trim().to_owned();
    if carrier.is_empty() {
        return Err(Error::validation(format!(
            "{prefix}carrier: must not be empty"
        )));
    }
    check_len(&format!("{prefix}carrier"), &carrier, 40)?;
    let tracking_no = check_key(&format!("{prefix}tracking_no"), &s.tracking_no)?;
    if s.events.len() > 200 {
        return Err(Error::validation(format!(
            "{prefix}events: at most 200 events"
        )));
    }
    let mut events = Vec::with_capacity(s.events.len());
    for (i, e) in s.events.iter().enumerate() {
        let p = format!("{prefix}events[{i}].");
        let description = e.description.trim().to_owned();
        check_len(&format!("{p}description"), &description, 500)?;
        let location = e.location.trim().to_owned();
        check_len(&format!("{p}location"), &location, 100)?;
        events.push(ShipmentEventDoc {
            at: e.at.parse(&format!("{p}at"))?,
            status: ShipmentStatus::parse_field(&format!("{p}status"), &e.status)?,
            description,
            location,
        });
    }
    events.sort_by_key(|e| e.at);
    let status = match &s.status {
        Some(st) => ShipmentStatus::parse_field(&format!("{prefix}status"), st)?,
        None => events
            .last()
            .map_or(ShipmentStatus::InTransit, |e| e.status),
    };
    let shipped_at = opt_time(&format!("{prefix}shipped_at"), &s.shipped_at)?
        .or_else(|| events.first().map(|e| e.at));
    let mut delivered_at = opt_time(&format!("{prefix}delivered_at"), &s.delivered_at)?;
    if delivered_at.is_none() && status == ShipmentStatus::Delivered {
        delivered_at = events
            .iter()
            .rev()
            .find(|e| e.status == ShipmentStatus::Delivered)
            .map(|e| e.at);
    }
    Ok(ShipmentDoc {
        carrier,
        tracking_no,
        status,
        shipped_at,
        delivered_at,
        events,
    })
}

pub fn validate_refund(prefix: &str, r: &RefundInput) -> Result<RefundDoc> {
    let refund_no = check_key(&format!("{prefix}refund_no"), &r.refund_no)?;
    let amount_cents = check_cents(&format!("{prefix}amount_cents"), r.amount_cents)?;
    if amount_cents == 0 {
        return Err(Error::validation(format!(
            "{prefix}amount_cents: must be at least 1"
        )));
    }
    let reason = r.reason.trim().to_owned();
    check_len(&format!("{prefix}reason"), &reason, 500)?;
    let status = match &r.status {
        Some(s) => RefundStatus::parse_field(&format!("{prefix}status"), s)?,
        None => RefundStatus::Refunded,
    };
    Ok(RefundDoc {
        refund_no,
        amount_cents,
        reason,
        status,
        created_at: opt_time(&format!("{prefix}created_at"), &r.created_at)?,
        refunded_at: opt_time(&format!("{prefix}refunded_at"), &r.refunded_at)?,
    })
}

/// Validates an order; every error names its field under `prefix` (e.g. `orders[3].`).
pub fn validate_order(prefix: &str, o: &OrderInput) -> Result<OrderDoc> {
    let order_no = check_key(&format!("{prefix}order_no"), &o.order_no)?;
    let buyer = validate_buyer(prefix, &o.buyer)?;
    if o.customer_id.is_none()
        && buyer.external_id.is_none()
        && buyer.phone.is_none()
        && buyer.email.is_none()
    {
        return Err(Error::validation(format!(
            "{prefix}buyer: needs customer_id or one of buyer.external_id, buyer.phone, buyer.email"
        )));
    }
    let placed_at = o.placed_at.parse(&format!("{prefix}placed_at"))?;
    let currency = check_currency(&format!("{prefix}currency"), o.currency.as_deref())?;
    if o.items.is_empty() {
        return Err(Error::validation(format!(
            "{prefix}items: must have at least one item"
        )));
    }
    if o.items.len() > MAX_ORDER_LINES {
        return Err(Error::validation(format!(
            "{prefix}items: at most {MAX_ORDER_LINES} items"
        )));
    }
    let mut items = Vec::with_capacity(o.items.len());
    let mut items_cents: i64 = 0;
    for (i, it) in o.items.iter().enumerate() {
        let p = format!("{prefix}items[{i}].");
        let sku = check_key(&format!("{p}sku"), &it.sku)?;
        let name = it.name.as_deref().unwrap_or("").trim().to_owned();
        check_len(&format!("{p}name"), &name, 200)?;
        if it.quantity < 1 {
            return Err(Error::validation(format!(
                "{p}quantity: must be at least 1"
            )));
        }
        if it.quantity > 1_000_000 {
            return Err(Error::validation(format!(
                "{p}quantity: must be at most 1000000"
            )));
        }
        let unit = check_cents(&format!("{p}unit_price_cents"), it.unit_price_cents)?;
        let total = match it.total_cents {
            Some(t) => check_cents(&format!("{p}total_cents"), t)?,
            None => unit
                .checked_mul(it.quantity)
                .filter(|t| *t <= money::MAX_CENTS)
                .ok_or_else(|| {
                    Error::validation(format!("{p}quantity: the line total is too large"))
                })?,
        };
        items_cents = items_cents
            .checked_add(total)
            .filter(|t| *t <= money::MAX_CENTS)
            .ok_or_else(|| {
                Error::validation(format!("{prefix}items: the order total is too large"))
            })?;
        items.push(OrderLine {
            line_no: i as i64 + 1,
            sku,
            name,
            quantity: it.quantity,
            unit_price_cents: unit,
            total_cents: total,
        });
    }
    let discount_cents = check_cents(&format!("{prefix}discount_cents"), o.discount_cents)?;
    let shipping_fee_cents =
        check_cents(&format!("{prefix}shipping_fee_cents"), o.shipping_fee_cents)?;
    if discount_cents > items_cents + shipping_fee_cents {
        return Err(Error::validation(format!(
            "{prefix}discount_cents: must not exceed the items and shipping fee"
        )));
    }
    let total_cents = items_cents - discount_cents + shipping_fee_cents;
    let paid_at = opt_time(&format!("{prefix}paid_at"), &o.paid_at)?;
    let mut shipments = Vec::with_capacity(o.shipments.len());
    for (i, s) in o.shipments.iter().enumerate() {
        shipments.push(validate_shipment(&format!("{prefix}shipments[{i}]."), s)?);
    }
    let mut refunds = Vec::with_capacity(o.refunds.len());
    for (i, r) in o.refunds.iter().enumerate() {
        refunds.push(validate_refund(&format!("{prefix}refunds[{i}]."), r)?);
    }
    let shipped_at = opt_time(&format!("{prefix}shipped_at"), &o.shipped_at)?
        .or_else(|| shipments.iter().filter_map(|s| s.shipped_at).min());
    let delivered_at = opt_time(&format!("{prefix}delivered_at"), &o.delivered_at)?.or_else(|| {
        if !shipments.is_empty()
            && shipments
                .iter()
                .all(|s| s.status == ShipmentStatus::Delivered)
        {
            shipments.iter().filter_map(|s| s.delivered_at).max()
        } else {
            None
        }
    });
    let status = match &o.status {
        Some(s) => OrderStatus::parse_field(&format!("{prefix}status"), s)?,
        None if delivered_at.is_some() => OrderStatus::Delivered,
        None if shipped_at.is_some()
            || shipments
                .iter()
                .any(|s| s.status != ShipmentStatus::Pending) =>
        {
            OrderStatus::Shipped
        }
        None if paid_at.is_some() => OrderStatus::Paid,
        None => OrderStatus::Created,
    };
    let payment_status = o
        .payment_status
        .as_deref()
        .map(|s| PaymentStatus::parse_field(&format!("{prefix}payment_status"), s))
        .transpose()?;
    if payment_status.is_some_and(|p| p != PaymentStatus::Unpaid) && paid_at.is_none() {
        return Err(Error::validation(format!(
            "{prefix}paid_at: required when payment_status is not unpaid"
        )));
    }
    for (field, v, max) in [
        ("receiver_name", &o.receiver_name, 100),
        ("receiver_phone", &o.receiver_phone, 30),
        ("receiver_address", &o.receiver_address, 500),
    ] {
        check_len(&format!("{prefix}{field}"), v.trim(), max)?;
    }
    Ok(OrderDoc {
        order_no,
        customer_id: o.customer_id,
        buyer,
        placed_at,
        status,
        payment_status,
        currency,
        items_cents,
        discount_cents,
        shipping_fee_cents,
        total_cents,
        paid_at,
        shipped_at,
        delivered_at,
        receiver_name: o.receiver_name.trim().to_owned(),
        receiver_phone: o.receiver_phone.trim().to_owned(),
        receiver_address: o.receiver_address.trim().to_owned(),
        items,
        shipments,
        refunds,
    })
}

pub fn validate_product(prefix: &str, p: &ProductInput) -> Result<ProductDoc> {
    let sku = check_key(&format!("{prefix}sku"), &p.sku)?;
    let name = p.name.trim().to_owned();
    if name.is_empty() {
        return Err(Error::validation(format!(
            "{prefix}name: must not be empty"
        )));
    }
    check_len(&format!("{prefix}name"), &name, 200)?;
    let category = p.category.trim().to_owned();
    check_len(&format!("{prefix}category"), &category, 100)?;
    if p.images.len() > 20 {
        return Err(Error::validation(format!(
            "{prefix}images: at most 20 images"
        )));
    }
    for (i, url) in p.images.iter().enumerate() {
        let ok =
            (url.starts_with("https://") || url.starts_with("http://") || url.starts_with('/'))
                && url.len() <= 1000
                && !url.chars().any(char::is_whitespace);
        if !ok {
            return Err(Error::validation(format!(
                "{prefix}images[{i}]: must be an http(s) URL or a path"
            )));
        }
    }
    let description = p.description.trim().to_owned();
    check_len(&format!("{prefix}description"), &description, 5000)?;
    Ok(ProductDoc {
        sku,
        name,
        price_cents: check_cents(&format!("{prefix}price_cents"), p.price_cents)?,
        currency: check_currency(&format!("{prefix}currency"), p.currency.as_deref())?,
        category,
        images: p.images.clone(),
        status: match &p.status {
            Some(s) => ProductStatus::parse_field(&format!("{prefix}status"), s)?,
            None => ProductStatus::Active,
        },
        description,
    })
}

/// The payment status an order has once `refunded_cents` of its `total_cents` came back.
pub fn payment_status_for(paid: bool, total_cents: i64, refunded_cents: i64) -> PaymentStatus {
    if !paid {
        PaymentStatus::Unpaid
    } else if refunded_cents <= 0 {
        PaymentStatus::Paid
    } else if refunded_cents >= total_cents {
        PaymentStatus::Refunded
    } else {
        PaymentStatus::PartiallyRefunded
    }
}

/// The later of two order statuses on the path created → paid → shipped → delivered → completed;
/// `cancelled` is kept, never overridden by progress from logistics.
pub fn advance_status(current: OrderStatus, to: OrderStatus) -> OrderStatus {
    if current == OrderStatus::Cancelled || current >= to {
        current
    } else {
        to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buyer_identities_are_normalized_in_matching_order() {
        use crate::customers::IdentityKind;
        let b = Buyer {
            external_id: Some(" u1 ".into()),
            name: Some("王芳".into()),
            phone: Some("+86 138-0013-8000".into()),
            email: Some("Wang@Example.COM".into()),
        };
        assert_eq!(
            b.identities(),
            vec![
                (IdentityKind::ExternalId, "u1".to_owned()),
                (IdentityKind::Phone, "13800138000".to_owned()),
                (IdentityKind::Email, "wang@example.com".to_owned()),
            ]
        );
        let bad = Buyer {
            phone: Some("call me".into()),
            ..Buyer::default()
        };
        assert!(bad.identities().is_empty());
    }

    fn order() -> OrderInput {
        serde_json::from_value(serde_json::json!({
            "order_no": "A1", "buyer": {"phone": "138 0013 8000"}, "placed_at": "2026-11-20 14:03",
            "items": [{"sku": "EAR-1", "quantity": 2, "unit_price_cents": 19900}],
            "shipping_fee_cents": 1000, "discount_cents": 500
        }))
        .unwrap()
    }

    #[test]
    fn order_amounts_and_defaults() {
        let d = validate_order("", &order()).unwrap();
        assert_eq!(d.items_cents, 39800);
        assert_eq!(d.total_cents, 39800 - 500 + 1000);
        assert_eq!(d.status, OrderStatus::Created);
        assert_eq!(d.currency, "CNY");
        assert_eq!(d.buyer.phone.as_deref(), Some("13800138000"));
        // 2026-11-20 14:03 at UTC+8 is 06:03Z.
        assert_eq!(d.placed_at.to_rfc3339(), "2026-11-20T06:03:00.000Z");
    }

    #[test]
    fn errors_name_the_field() {
        let mut o = order();
        o.items[0].quantity = 0;
        let e = validate_order("orders[3].", &o).unwrap_err();
        assert_eq!(e.message, "orders[3].items[0].quantity: must be at least 1");
        let mut o = order();
        o.status = Some("lost".into());
        assert!(
            validate_order("", &o)
                .unwrap_err()
                .message
                .starts_with("status: must be one of")
        );
        let mut o = order();
        o.buyer = BuyerInput::default();
        assert!(
            validate_order("", &o)
                .unwrap_err()
                .message
                .starts_with("buyer:")
        );
        let mut o = order();
        o.discount_cents = 1_000_000;
        assert!(
            validate_order("", &o)
                .unwrap_err()
                .message
                .starts_with("discount_cents:")
        );
    }

    #[test]
    fn same_document_same_hash() {
        let a = validate_order("", &order()).unwrap();
        let mut b = validate_order("", &order()).unwrap();
        assert_eq!(a.content_hash(), b.content_hash());
        b.items[0].quantity = 3;
        assert_ne!(a.content_hash(), b.content_hash());
    }

    #[test]
    fn payment_and_status_rules() {
        assert_eq!(payment_status_for(false, 100, 0), PaymentStatus::Unpaid);
        assert_eq!(payment_status_for(true, 100, 0), PaymentStatus::Paid);
        assert_eq!(
            payment_status_for(true, 100, 40),
            PaymentStatus::PartiallyRefunded
        );
        assert_eq!(payment_status_for(true, 100, 100), PaymentStatus::Refunded);
        assert_eq!(
            advance_status(OrderStatus::Paid, OrderStatus::Shipped),
            OrderStatus::Shipped
        );
        assert_eq!(
            advance_status(OrderStatus::Delivered, OrderStatus::Shipped),
            OrderStatus::Delivered
        );
        assert_eq!(
            advance_status(OrderStatus::Cancelled, OrderStatus::Shipped),
            OrderStatus::Cancelled
        );
    }

    #[test]
    fn times_parse() {
        assert_eq!(parse_time("1700000000123"), Some(Millis(1_700_000_000_123)));
        assert_eq!(
            parse_time("2023-11-14T22:13:20.123Z"),
            Some(Millis(1_700_000_000_123))
        );
        assert_eq!(parse_time("2026/11/20"), parse_time("2026-11-20 00:00:00"));
        assert_eq!(parse_time("yesterday"), None);
    }
}

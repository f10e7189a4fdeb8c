//! kefu-store's implementation of [`kefu_core::commerce::CommerceStore`].
//!
//! Every change runs as one transaction holding the shop's commerce lock ([`ShopLock::Commerce`]:
//! commerce ingest of one shop is serialised, as SQLite's single writer serialises it, so two
//! deliveries of the same new order or buyer cannot both create it); inside it each item (order,
//! shipment, refund, product) runs in its own SAVEPOINT, so a failing item is rolled back alone and
//! reported while the others are kept. A CSV import calls this once per chunk of a few thousand
//! orders, so other writers get their turn between chunks; on SQLite the new orders of a chunk
//! take the bulk path first ([`orders_in_bulk`], `sqlite/bulk_import.rs`).

use super::prelude::*;
use async_trait::async_trait;
use kefu_core::commerce::*;
use kefu_core::customers::IdentityKind;
use kefu_core::model::Id;
use kefu_core::time::Millis;
use kefu_core::{Error, ErrorCode, Result};
use std::collections::HashMap;

/// `SUM` of refunded amounts as an integer.
const REFUNDED_SUM: &str = "SELECT CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT) FROM refunds \
     WHERE order_id = $1 AND status = 'refunded'";

#[async_trait]
impl CommerceStore for DbStore {
    async fn apply_commerce(
        &self,
        shop_id: Id,
        change: CommerceChange,
        delivery: Option<WebhookDelivery>,
    ) -> Result<BatchOutcome> {
        tx!(self, |conn| {
            lock_shop(conn, ShopLock::Commerce, shop_id).await?;
            apply(conn, shop_id, owned!(change), owned!(delivery)).await
        })
    }

    async fn list_orders(&self, shop_id: Id, q: &OrderQuery) -> Result<Vec<Order>> {
        let (sql, binds) = list_orders_sql(shop_id, q);
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for b in binds {
            query = match b {
                Bind::Int(v) => query.bind(v),
                Bind::Text(v) => query.bind(v),
            };
        }
        let rows = query.fetch_all(self.reader()).await.map_err(db_err)?;
        rows.iter().map(order_from_row).collect()
    }

    async fn order_detail(&self, shop_id: Id, order_id: Id) -> Result<Option<OrderDetail>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        order_detail(&mut conn, shop_id, order_id).await
    }

    async fn customer_orders(
        &self,
        shop_id: Id,
        customer_id: Id,
        limit: i64,
    ) -> Result<Option<Vec<CustomerOrder>>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        customer_orders(&mut conn, shop_id, customer_id, limit).await
    }

    async fn list_catalog(&self, shop_id: Id, q: &ProductQuery) -> Result<Vec<CatalogProduct>> {
        let like = q.q.as_ref().map(|s| format!("%{}%", escape_like(s)));
        // Case-insensitive on both backends.
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT id, sku, name, price_cents, currency, category, images, status, description \
             FROM products WHERE shop_id = $1 AND id > $2 \
             AND ($3 IS NULL OR sku {CASELESS_LIKE} $3 ESCAPE '\\' OR name {CASELESS_LIKE} $3 ESCAPE '\\') \
             AND ($4 IS NULL OR category = $4) ORDER BY id LIMIT $5",
        )))
        .bind(shop_id)
        .bind(q.after_id.unwrap_or(0))
        .bind(like)
        .bind(&q.category)
        .bind(q.limit)
        .fetch_all(self.reader())
        .await
        .map_err(db_err)?;
        rows.iter().map(product_from_row).collect()
    }

    async fn commerce_webhook_secret(&self, shop_id: Id, fresh: &str) -> Result<String> {
        // Every webhook delivery reads the secret: answer from a read when it exists.
        let known: Option<String> =
            sqlx::query_scalar("SELECT secret FROM commerce_webhook_secrets WHERE shop_id = $1")
                .bind(shop_id)
                .fetch_optional(self.reader())
                .await
                .map_err(db_err)?;
        if let Some(secret) = known {
            return Ok(secret);
        }
        let fresh = fresh.to_owned();
        tx!(self, |conn| {
            sqlx::query(
                "INSERT INTO commerce_webhook_secrets (shop_id, secret, created_at) \
                     VALUES ($1, $2, $3) ON CONFLICT (shop_id) DO NOTHING",
            )
            .bind(shop_id)
            .bind(&fresh)
            .bind(Millis::now().0)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            sqlx::query_scalar("SELECT secret FROM commerce_webhook_secrets WHERE shop_id = $1")
                .bind(shop_id)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)
        })
    }

    async fn rotate_commerce_webhook_secret(&self, shop_id: Id, fresh: &str) -> Result<()> {
        let fresh = fresh.to_owned();
        tx!(self, |conn| {
            sqlx::query(
                    "INSERT INTO commerce_webhook_secrets (shop_id, secret, created_at) \
                     VALUES ($1, $2, $3) \
                     ON CONFLICT (shop_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at",
                )
                .bind(shop_id)
                .bind(&fresh)
                .bind(Millis::now().0)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(())
        })
    }

    async fn begin_bulk_import(&self) -> Result<()> {
        self.prepare_bulk_import().await
    }

    async fn end_bulk_import(&self) -> Result<()> {
        self.finish_bulk_import().await
    }
}

// ---------------------------------------------------------------------------------------------
// Writes.

/// What one item's write did.
struct Written {
    status: UpsertStatus,
    id: Id,
    customers: Vec<Id>,
}

/// Product lookups cached for the length of one job (imports repeat the same SKUs a lot).
pub(crate) type SkuCache = HashMap<String, Option<(Id, String)>>;

async fn apply(
    conn: &mut Conn,
    shop_id: Id,
    change: CommerceChange,
    delivery: Option<WebhookDelivery>,
) -> Result<BatchOutcome> {
    let webhook = delivery.is_some();
    if let Some(d) = &delivery {
        let inserted = sqlx::query(
            "INSERT INTO commerce_webhook_deliveries (shop_id, event_id, signature, event_type, received_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(shop_id)
        .bind(&d.event_id)
        .bind(&d.signature)
        .bind(&d.event_type)
        .bind(d.received_at.0)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?
        .rows_affected();
        if inserted == 0 {
            return Err(Error::conflict(
                "replayed delivery: this event id or signature was already received",
            ));
        }
    }
    let now = Millis::now();
    let mut out = BatchOutcome::default();
    let mut skus = SkuCache::new();
    macro_rules! each {
        ($items:expr, |$doc:ident| $key:expr, $write:expr) => {
            for (index, $doc) in $items {
                sqlx::query("SAVEPOINT item")
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
                let result: Result<Written> = $write.await;
                if result.is_err() {
                    sqlx::query("ROLLBACK TO SAVEPOINT item")
                        .execute(&mut *conn)
                        .await
                        .map_err(db_err)?;
                }
                sqlx::query("RELEASE SAVEPOINT item")
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
                record(&mut out, index, $key, result);
            }
        };
    }
    match change {
        CommerceChange::Products(items) => {
            each!(
                items,
                |doc| doc.sku.clone(),
                upsert_product(conn, shop_id, &doc, now)
            )
        }
        CommerceChange::Orders(items) => {
            // Imports: on SQLite the new orders first take the bulk path; the rest (everything
            // on PostgreSQL, and everything if the bulk attempt fails) is stored one by one.
            let rest =
                orders_in_bulk(conn, shop_id, items, webhook, now, &mut skus, &mut out).await?;
            each!(
                rest,
                |doc| doc.order_no.clone(),
                upsert_order(conn, shop_id, &doc, now, &mut skus)
            )
        }
        CommerceChange::Shipments(items) => each!(
            items,
            |doc| format!("{}/{}", doc.shipment.carrier, doc.shipment.tracking_no),
            upsert_shipment(conn, shop_id, &doc, now)
        ),
        CommerceChange::Refunds(items) => each!(
            items,
            |doc| doc.refund.refund_no.clone(),
            upsert_refund(conn, shop_id, &doc, now)
        ),
        CommerceChange::MarkPaid { order_no, paid_at } => each!(
            [(0usize, order_no)],
            |order_no| order_no.clone(),
            mark_paid(conn, shop_id, &order_no, paid_at, now)
        ),
    }
    if webhook && let Some(e) = out.items.iter().find_map(|i| i.error.clone()) {
        // A webhook is one unit: failing, it must leave no trace (not even the delivery), so the
        // sender can fix and resend it.
        return Err(if e.code == ErrorCode::NotFound.as_str() {
            Error::new(ErrorCode::NotFound, e.message)
        } else if e.code == ErrorCode::Conflict.as_str() {
            Error::conflict(e.message)
        } else {
            // `field: reason`: the field is named again for the client.
            Error::validation(e.message)
        });
    }
    out.finish();
    Ok(out)
}

fn record(out: &mut BatchOutcome, index: usize, key: String, result: Result<Written>) {
    match result {
        Ok(w) => {
            for c in w.customers {
                out.touch(c);
            }
            out.push(ItemResult {
                index,
                key,
                status: w.status,
                id: Some(w.id),
                error: None,
            });
        }
        Err(e) if e.code == ErrorCode::Internal => {
            // Internal errors are logged by Error::internal; the item still reports a failure.
            out.push(ItemResult::failed(index, key, &e));
        }
        Err(e) => out.push(ItemResult::failed(index, key, &e)),
    }
}

async fn upsert_product(
    conn: &mut Conn,
    shop_id: Id,
    p: &ProductDoc,
    now: Millis,
) -> Result<Written> {
    let images = serde_json::to_string(&p.images).map_err(Error::internal)?;
    let image_url = p.images.first().cloned().unwrap_or_default();
    let existing = sqlx::query(
        "SELECT id, name, price_cents, currency, category, images, status, description \
         FROM products WHERE shop_id = $1 AND sku = $2",
    )
    .bind(shop_id)
    .bind(&p.sku)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    if let Some(r) = existing {
        let id: Id = r.get("id");
        let same = r.get::<String, _>("name") == p.name
            && r.get::<i64, _>("price_cents") == p.price_cents
            && r.get::<String, _>("currency") == p.currency
            && r.get::<String, _>("category") == p.category
            && r.get::<String, _>("images") == images
            && r.get::<String, _>("status") == p.status.as_str()
            && r.get::<String, _>("description") == p.description;
        if same {
            return Ok(Written {
                status: UpsertStatus::Unchanged,
                id,
                customers: vec![],
            });
        }
        sqlx::query(
            "UPDATE products SET name = $1, price_cents = $2, currency = $3, category = $4, images = $5, \
             image_url = $6, status = $7, description = $8, updated_at = $9 WHERE id = $10",
        )
        .bind(&p.name)
        .bind(p.price_cents)
        .bind(&p.currency)
        .bind(&p.category)
        .bind(&images)
        .bind(&image_url)
        .bind(p.status.as_str())
        .bind(&p.description)
        .bind(now.0)
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        return Ok(Written {
            status: UpsertStatus::Updated,
            id,
            customers: vec![],
        });
    }
    let id: Id = sqlx::query_scalar(
        "INSERT INTO products (shop_id, sku, name, price_cents, currency, category, images, image_url, \
         status, description, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id",
    )
    .bind(shop_id)
    .bind(&p.sku)
    .bind(&p.name)
    .bind(p.price_cents)
    .bind(&p.currency)
    .bind(&p.category)
    .bind(&images)
    .bind(&image_url)
    .bind(p.status.as_str())
    .bind(&p.description)
    .bind(now.0)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(Written {
        status: UpsertStatus::Created,
        id,
        customers: vec![],
    })
}

/// Finds (or creates) the shop's customer for an order's buyer. Matching goes through the
/// customers area's identities first (normalized values; external id, then phone, then e-mail;
/// verified identities before unverified, then the oldest customer), then the spine columns as
/// given, never a customer merged into another (merging moves identities to the survivor, so a
/// buyer known only by a merged-away customer lands on the survivor). A found customer gets the
/// contact fields it lacked; a new or filled customer gets the buyer's identities recorded
/// (unverified, source `order`). Returns the customer id.
///
/// This is the single place orders meet customers (the SQLite bulk import path mirrors it in
/// memory).
pub(crate) async fn resolve_buyer(
    conn: &mut Conn,
    shop_id: Id,
    b: &Buyer,
    now: Millis,
) -> Result<Id> {
    let identities = b.identities();
    let mut found = None;
    for (kind, value) in &identities {
        found = sqlx::query(
            "SELECT c.id, c.name, c.email, c.phone, c.external_id FROM customer_identities i \
             JOIN customers c ON c.id = i.customer_id AND c.merged_into IS NULL \
             WHERE i.shop_id = $1 AND i.kind = $2 AND i.value = $3 \
             ORDER BY i.verified DESC, c.id LIMIT 1",
        )
        .bind(shop_id)
        .bind(kind.as_str())
        .bind(value)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        if found.is_some() {
            break;
        }
    }
    let lookups: [(&str, &Option<String>); 3] = [
        (
            "SELECT id, name, email, phone, external_id FROM customers \
             WHERE shop_id = $1 AND external_id = $2 AND merged_into IS NULL ORDER BY id LIMIT 1",
            &b.external_id,
        ),
        (
            "SELECT id, name, email, phone, external_id FROM customers \
             WHERE shop_id = $1 AND phone = $2 AND merged_into IS NULL ORDER BY id LIMIT 1",
            &b.phone,
        ),
        (
            "SELECT id, name, email, phone, external_id FROM customers \
             WHERE shop_id = $1 AND email = $2 AND merged_into IS NULL ORDER BY id LIMIT 1",
            &b.email,
        ),
    ];
    for (sql, value) in lookups {
        if found.is_some() {
            break;
        }
        let Some(value) = value else { continue };
        found = sqlx::query(sql)
            .bind(shop_id)
            .bind(value)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    if let Some(r) = found {
        let id: Id = r.get("id");
        let lacks = |col: &str, given: &Option<String>| {
            given.is_some() && r.get::<Option<String>, _>(col).is_none()
        };
        let lacks_name = b.name.is_some() && r.get::<String, _>("name").is_empty();
        let filled: Vec<_> = identities
            .iter()
            .filter(|(kind, _)| match kind {
                IdentityKind::ExternalId => lacks("external_id", &b.external_id),
                IdentityKind::Phone => lacks("phone", &b.phone),
                IdentityKind::Email => lacks("email", &b.email),
            })
            .cloned()
            .collect();
        if lacks_name
            || lacks("email", &b.email)
            || lacks("phone", &b.phone)
            || lacks("external_id", &b.external_id)
        {
            sqlx::query(
                "UPDATE customers SET name = CASE WHEN name = '' THEN COALESCE($1, name) ELSE name END, \
                 email = COALESCE(email, $2), phone = COALESCE(phone, $3), \
                 external_id = COALESCE(external_id, $4) WHERE id = $5",
            )
            .bind(&b.name)
            .bind(&b.email)
            .bind(&b.phone)
            .bind(&b.external_id)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            record_buyer_identities(conn, shop_id, id, &filled, now).await?;
        }
        return Ok(id);
    }
    let id = insert_customer(conn, shop_id, b, now).await?;
    record_buyer_identities(conn, shop_id, id, &identities, now).await?;
    Ok(id)
}

/// Records an order buyer's identities for a customer it created or filled: unverified, source
/// `order`; an identity the customer already has is kept as it is.
async fn record_buyer_identities(
    conn: &mut Conn,
    shop_id: Id,
    customer_id: Id,
    identities: &[(IdentityKind, String)],
    now: Millis,
) -> Result<()> {
    for (kind, value) in identities {
        sqlx::query(
            "INSERT INTO customer_identities (shop_id, customer_id, kind, value, verified, source, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'order', $6) ON CONFLICT (customer_id, kind, value) DO NOTHING",
        )
        .bind(shop_id)
        .bind(customer_id)
        .bind(kind.as_str())
        .bind(value)
        .bind(false)
        .bind(now.0)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

/// A new customer of the shop from a buyer identity no customer matched.
async fn insert_customer(conn: &mut Conn, shop_id: Id, b: &Buyer, now: Millis) -> Result<Id> {
    sqlx::query_scalar(
        "INSERT INTO customers (shop_id, name, email, phone, external_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(shop_id)
    .bind(b.name.clone().unwrap_or_default())
    .bind(&b.email)
    .bind(&b.phone)
    .bind(&b.external_id)
    .bind(now.0)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)
}

pub(crate) async fn product_of(
    conn: &mut Conn,
    shop_id: Id,
    sku: &str,
    cache: &mut SkuCache,
) -> Result<Option<(Id, String)>> {
    if let Some(hit) = cache.get(sku) {
        return Ok(hit.clone());
    }
    let found: Option<(Id, String)> =
        sqlx::query_as("SELECT id, name FROM products WHERE shop_id = $1 AND sku = $2")
            .bind(shop_id)
            .bind(sku)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    cache.insert(sku.to_owned(), found.clone());
    Ok(found)
}

async fn upsert_order(
    conn: &mut Conn,
    shop_id: Id,
    o: &OrderDoc,
    now: Millis,
    skus: &mut SkuCache,
) -> Result<Written> {
    let hash = o.content_hash();
    let existing: Option<(Id, Id, String)> = sqlx::query_as(
        "SELECT id, customer_id, content_hash FROM orders WHERE shop_id = $1 AND order_no = $2",
    )
    .bind(shop_id)
    .bind(&o.order_no)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    if let Some((id, _, old_hash)) = &existing
        && *old_hash == hash
    {
        return Ok(Written {
            status: UpsertStatus::Unchanged,
            id: *id,
            customers: vec![],
        });
    }
    let customer_id = match o.customer_id {
        Some(c) => {
            let known: Option<Id> =
                sqlx::query_scalar("SELECT id FROM customers WHERE id = $1 AND shop_id = $2")
                    .bind(c)
                    .bind(shop_id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?;
            known.ok_or_else(|| {
                Error::new(
                    ErrorCode::NotFound,
                    "customer_id: no such customer in this shop",
                )
            })?
        }
        None => resolve_buyer(conn, shop_id, &o.buyer, now).await?,
    };
    let refunded_in_doc: i64 = o
        .refunds
        .iter()
        .filter(|r| r.status == RefundStatus::Refunded)
        .map(|r| r.amount_cents)
        .sum();
    let payment_status = o
        .payment_status
        .unwrap_or_else(|| payment_status_for(o.paid_at.is_some(), o.total_cents, refunded_in_doc));
    let mut customers = vec![customer_id];
    let (id, status) = match existing {
        None => {
            let id = insert_order(
                conn,
                shop_id,
                customer_id,
                o,
                &hash,
                payment_status,
                refunded_in_doc,
                now,
            )
            .await?;
            (id, UpsertStatus::Created)
        }
        Some((id, old_customer, _)) => {
            if old_customer != customer_id {
                customers.push(old_customer);
            }
            sqlx::query(
                "UPDATE orders SET customer_id = $1, status = $2, payment_status = $3, currency = $4, \
                 items_cents = $5, discount_cents = $6, shipping_fee_cents = $7, total_cents = $8, \
                 placed_at = $9, paid_at = $10, shipped_at = $11, delivered_at = $12, receiver_name = $13, \
                 receiver_phone = $14, receiver_address = $15, content_hash = $16, updated_at = $17 \
                 WHERE id = $18",
            )
            .bind(customer_id)
            .bind(o.status.as_str())
            .bind(payment_status.as_str())
            .bind(&o.currency)
            .bind(o.items_cents)
            .bind(o.discount_cents)
            .bind(o.shipping_fee_cents)
            .bind(o.total_cents)
            .bind(o.placed_at.0)
            .bind(o.paid_at.map(|t| t.0))
            .bind(o.shipped_at.map(|t| t.0))
            .bind(o.delivered_at.map(|t| t.0))
            .bind(&o.receiver_name)
            .bind(&o.receiver_phone)
            .bind(&o.receiver_address)
            .bind(&hash)
            .bind(now.0)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            sqlx::query("DELETE FROM order_items WHERE order_id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            (id, UpsertStatus::Updated)
        }
    };
    for line in &o.items {
        let product = product_of(conn, shop_id, &line.sku, skus).await?;
        let name = if !line.name.is_empty() {
            line.name.clone()
        } else {
            product
                .as_ref()
                .map_or_else(|| line.sku.clone(), |(_, n)| n.clone())
        };
        sqlx::query(
            "INSERT INTO order_items (shop_id, order_id, line_no, sku, product_id, name, quantity, \
             unit_price_cents, total_cents) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(shop_id)
        .bind(id)
        .bind(line.line_no)
        .bind(&line.sku)
        .bind(product.map(|(p, _)| p))
        .bind(&name)
        .bind(line.quantity)
        .bind(line.unit_price_cents)
        .bind(line.total_cents)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    for (i, s) in o.shipments.iter().enumerate() {
        shipment_row(conn, shop_id, id, s, now)
            .await
            .map_err(|e| prefix_error(&format!("shipments[{i}]."), e))?;
    }
    for (i, r) in o.refunds.iter().enumerate() {
        refund_row(conn, shop_id, id, r, now)
            .await
            .map_err(|e| prefix_error(&format!("refunds[{i}]."), e))?;
    }
    if !o.refunds.is_empty() {
        check_refund_cap(conn, id, "refunds").await?;
    }
    if status == UpsertStatus::Updated && o.payment_status.is_none() {
        // Refunds stored earlier (by the refunds API or a webhook) still count.
        refresh_refunds(conn, id, None).await?;
    }
    Ok(Written {
        status,
        id,
        customers,
    })
}

#[allow(clippy::too_many_arguments)]
async fn insert_order(
    conn: &mut Conn,
    shop_id: Id,
    customer_id: Id,
    o: &OrderDoc,
    hash: &str,
    payment_status: PaymentStatus,
    refunded: i64,
    now: Millis,
) -> Result<Id> {
    sqlx::query_scalar(
        "INSERT INTO orders (shop_id, customer_id, order_no, status, payment_status, currency, \
         items_cents, discount_cents, shipping_fee_cents, total_cents, refunded_cents, placed_at, \
         paid_at, shipped_at, delivered_at, receiver_name, receiver_phone, receiver_address, \
         content_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $20) \
         RETURNING id",
    )
    .bind(shop_id)
    .bind(customer_id)
    .bind(&o.order_no)
    .bind(o.status.as_str())
    .bind(payment_status.as_str())
    .bind(&o.currency)
    .bind(o.items_cents)
    .bind(o.discount_cents)
    .bind(o.shipping_fee_cents)
    .bind(o.total_cents)
    .bind(refunded)
    .bind(o.placed_at.0)
    .bind(o.paid_at.map(|t| t.0))
    .bind(o.shipped_at.map(|t| t.0))
    .bind(o.delivered_at.map(|t| t.0))
    .bind(&o.receiver_name)
    .bind(&o.receiver_phone)
    .bind(&o.receiver_address)
    .bind(hash)
    .bind(now.0)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)
}

fn prefix_error(prefix: &str, e: Error) -> Error {
    if e.code == ErrorCode::Internal {
        return e;
    }
    Error::new(e.code, format!("{prefix}{}", e.message))
}

/// The order of the shop with this number: `(id, customer_id, status)`.
async fn order_by_no(
    conn: &mut Conn,
    shop_id: Id,
    order_no: &str,
) -> Result<(Id, Id, OrderStatus)> {
    let row: Option<(Id, Id, String)> = sqlx::query_as(
        "SELECT id, customer_id, status FROM orders WHERE shop_id = $1 AND order_no = $2",
    )
    .bind(shop_id)
    .bind(order_no)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let (id, customer, status) = row.ok_or_else(|| {
        Error::new(
            ErrorCode::NotFound,
            format!("order_no: no order '{order_no}' in this shop"),
        )
    })?;
    Ok((
        id,
        customer,
        parse_enum(OrderStatus::from_wire(&status), &status)?,
    ))
}

/// Inserts or updates one shipment of an order and adds its new events; `Unchanged` if nothing
/// differed.
async fn shipment_row(
    conn: &mut Conn,
    shop_id: Id,
    order_id: Id,
    s: &ShipmentDoc,
    now: Millis,
) -> Result<(Id, UpsertStatus)> {
    let existing = sqlx::query(
        "SELECT s.id, s.order_id, s.status, s.shipped_at, s.delivered_at, o.order_no FROM shipments s \
         JOIN orders o ON o.id = s.order_id \
         WHERE s.shop_id = $1 AND s.carrier = $2 AND s.tracking_no = $3",
    )
    .bind(shop_id)
    .bind(&s.carrier)
    .bind(&s.tracking_no)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let (id, mut status) = match existing {
        Some(r) => {
            let id: Id = r.get("id");
            if r.get::<Id, _>("order_id") != order_id {
                return Err(Error::conflict(format!(
                    "tracking_no: already used by order '{}'",
                    r.get::<String, _>("order_no")
                )));
            }
            let same = r.get::<String, _>("status") == s.status.as_str()
                && r.get::<Option<i64>, _>("shipped_at") == s.shipped_at.map(|t| t.0)
                && r.get::<Option<i64>, _>("delivered_at") == s.delivered_at.map(|t| t.0);
            if same {
                (id, UpsertStatus::Unchanged)
            } else {
                sqlx::query(
                    "UPDATE shipments SET status = $1, shipped_at = COALESCE($2, shipped_at), \
                     delivered_at = COALESCE($3, delivered_at), updated_at = $4 WHERE id = $5",
                )
                .bind(s.status.as_str())
                .bind(s.shipped_at.map(|t| t.0))
                .bind(s.delivered_at.map(|t| t.0))
                .bind(now.0)
                .bind(id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
                (id, UpsertStatus::Updated)
            }
        }
        None => {
            let id: Id = sqlx::query_scalar(
                "INSERT INTO shipments (shop_id, order_id, carrier, tracking_no, status, shipped_at, \
                 delivered_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(shop_id)
            .bind(order_id)
            .bind(&s.carrier)
            .bind(&s.tracking_no)
            .bind(s.status.as_str())
            .bind(s.shipped_at.map(|t| t.0))
            .bind(s.delivered_at.map(|t| t.0))
            .bind(now.0)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
            (id, UpsertStatus::Created)
        }
    };
    for e in &s.events {
        let added = sqlx::query(
            "INSERT INTO shipment_events (shop_id, shipment_id, at, status, description, location) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(shop_id)
        .bind(id)
        .bind(e.at.0)
        .bind(e.status.as_str())
        .bind(&e.description)
        .bind(&e.location)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?
        .rows_affected();
        if added > 0 && status == UpsertStatus::Unchanged {
            status = UpsertStatus::Updated;
        }
    }
    Ok((id, status))
}

async fn upsert_shipment(
    conn: &mut Conn,
    shop_id: Id,
    u: &ShipmentUpsert,
    now: Millis,
) -> Result<Written> {
    let (order_id, customer, order_status) = order_by_no(conn, shop_id, &u.order_no).await?;
    let s = &u.shipment;
    let (id, status) = shipment_row(conn, shop_id, order_id, s, now).await?;
    // Logistics move the order forward (never back, never out of `cancelled`).
    let target = match s.status {
        ShipmentStatus::Delivered => Some(OrderStatus::Delivered),
        ShipmentStatus::InTransit | ShipmentStatus::OutForDelivery => Some(OrderStatus::Shipped),
        _ => None,
    };
    if let Some(target) = target {
        let next = advance_status(order_status, target);
        sqlx::query(
            "UPDATE orders SET status = $1, shipped_at = COALESCE(shipped_at, $2, $4), \
             delivered_at = CASE WHEN $1 = 'delivered' THEN COALESCE(delivered_at, $3, $4) ELSE delivered_at END, \
             updated_at = $4 WHERE id = $5 AND (status <> $1 OR shipped_at IS NULL \
             OR ($1 = 'delivered' AND delivered_at IS NULL))",
        )
        .bind(next.as_str())
        .bind(s.shipped_at.map(|t| t.0))
        .bind(s.delivered_at.map(|t| t.0))
        .bind(now.0)
        .bind(order_id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    let customers = if status == UpsertStatus::Unchanged {
        vec![]
    } else {
        vec![customer]
    };
    Ok(Written {
        status,
        id,
        customers,
    })
}

pub(crate) async fn refund_row(
    conn: &mut Conn,
    shop_id: Id,
    order_id: Id,
    r: &RefundDoc,
    now: Millis,
) -> Result<(Id, UpsertStatus)> {
    let existing = sqlx::query(
        "SELECT f.id, f.order_id, f.amount_cents, f.reason, f.status, f.refunded_at, o.order_no \
         FROM refunds f JOIN orders o ON o.id = f.order_id WHERE f.shop_id = $1 AND f.refund_no = $2",
    )
    .bind(shop_id)
    .bind(&r.refund_no)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let refunded_at = r
        .refunded_at
        .or((r.status == RefundStatus::Refunded).then_some(now))
        .map(|t| t.0);
    match existing {
        Some(row) => {
            let id: Id = row.get("id");
            if row.get::<Id, _>("order_id") != order_id {
                return Err(Error::conflict(format!(
                    "refund_no: already used by order '{}'",
                    row.get::<String, _>("order_no")
                )));
            }
            let same = row.get::<i64, _>("amount_cents") == r.amount_cents
                && row.get::<String, _>("reason") == r.reason
                && row.get::<String, _>("status") == r.status.as_str()
                && (r.refunded_at.is_none()
                    || row.get::<Option<i64>, _>("refunded_at") == r.refunded_at.map(|t| t.0));
            if same {
                return Ok((id, UpsertStatus::Unchanged));
            }
            sqlx::query(
                "UPDATE refunds SET amount_cents = $1, reason = $2, status = $3, \
                 refunded_at = COALESCE($4, refunded_at) WHERE id = $5",
            )
            .bind(r.amount_cents)
            .bind(&r.reason)
            .bind(r.status.as_str())
            .bind(refunded_at)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            Ok((id, UpsertStatus::Updated))
        }
        None => {
            let id: Id = sqlx::query_scalar(
                "INSERT INTO refunds (shop_id, order_id, refund_no, amount_cents, reason, status, created_at, \
                 refunded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(shop_id)
            .bind(order_id)
            .bind(&r.refund_no)
            .bind(r.amount_cents)
            .bind(&r.reason)
            .bind(r.status.as_str())
            .bind(r.created_at.unwrap_or(now).0)
            .bind(refunded_at)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
            Ok((id, UpsertStatus::Created))
        }
    }
}

/// Refuses refunds beyond what the order took: the refunded ones together, and any single one
/// (whatever its state), may not exceed the order's total. The after-sales flow caps its own
/// refunds the same way; this holds for the batch API and the signed webhook. Called after the
/// refund rows are written, inside the item's savepoint, so a refusal leaves nothing behind.
async fn check_refund_cap(conn: &mut Conn, order_id: Id, field: &str) -> Result<()> {
    let (total, refunded, largest): (i64, i64, i64) = sqlx::query_as(
        "SELECT o.total_cents, \
                CAST(COALESCE(SUM(CASE WHEN f.status = 'refunded' THEN f.amount_cents ELSE 0 END), 0) AS BIGINT), \
                CAST(COALESCE(MAX(f.amount_cents), 0) AS BIGINT) \
         FROM orders o LEFT JOIN refunds f ON f.order_id = o.id \
         WHERE o.id = $1 GROUP BY o.total_cents",
    )
    .bind(order_id)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    let yuan = |cents: i64| format!("{}.{:02}", cents / 100, cents % 100);
    if refunded > total || largest > total {
        return Err(Error::invalid(
            field,
            format!(
                "refunds would total {}, more than the {} the order took",
                yuan(refunded.max(largest)),
                yuan(total),
            ),
        ));
    }
    Ok(())
}

/// Recomputes `refunded_cents` from the order's refunds and, unless the shop stated one, the
/// payment status that follows from it.
pub(crate) async fn refresh_refunds(
    conn: &mut Conn,
    order_id: Id,
    _explicit: Option<PaymentStatus>,
) -> Result<()> {
    let refunded: i64 = sqlx::query_scalar(REFUNDED_SUM)
        .bind(order_id)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    let (total, paid_at): (i64, Option<i64>) =
        sqlx::query_as("SELECT total_cents, paid_at FROM orders WHERE id = $1")
            .bind(order_id)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
    let payment = payment_status_for(paid_at.is_some(), total, refunded);
    sqlx::query("UPDATE orders SET refunded_cents = $1, payment_status = $2 WHERE id = $3")
        .bind(refunded)
        .bind(payment.as_str())
        .bind(order_id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

async fn upsert_refund(
    conn: &mut Conn,
    shop_id: Id,
    u: &RefundUpsert,
    now: Millis,
) -> Result<Written> {
    let (order_id, customer, _) = order_by_no(conn, shop_id, &u.order_no).await?;
    let (id, status) = refund_row(conn, shop_id, order_id, &u.refund, now).await?;
    if status == UpsertStatus::Unchanged {
        return Ok(Written {
            status,
            id,
            customers: vec![],
        });
    }
    check_refund_cap(conn, order_id, "amount_cents").await?;
    refresh_refunds(conn, order_id, None).await?;
    sqlx::query("UPDATE orders SET updated_at = $1 WHERE id = $2")
        .bind(now.0)
        .bind(order_id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(Written {
        status,
        id,
        customers: vec![customer],
    })
}

async fn mark_paid(
    conn: &mut Conn,
    shop_id: Id,
    order_no: &str,
    paid_at: Millis,
    now: Millis,
) -> Result<Written> {
    let (id, customer, status) = order_by_no(conn, shop_id, order_no).await?;
    let (old_paid, payment): (Option<i64>, String) =
        sqlx::query_as("SELECT paid_at, payment_status FROM orders WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
    let next = advance_status(status, OrderStatus::Paid);
    if old_paid.is_some() && next == status && payment != PaymentStatus::Unpaid.as_str() {
        return Ok(Written {
            status: UpsertStatus::Unchanged,
            id,
            customers: vec![],
        });
    }
    sqlx::query(
        "UPDATE orders SET paid_at = COALESCE(paid_at, $1), status = $2, \
         payment_status = CASE WHEN payment_status = 'unpaid' THEN 'paid' ELSE payment_status END, \
         updated_at = $3 WHERE id = $4",
    )
    .bind(paid_at.0)
    .bind(next.as_str())
    .bind(now.0)
    .bind(id)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(Written {
        status: UpsertStatus::Updated,
        id,
        customers: vec![customer],
    })
}

// ---------------------------------------------------------------------------------------------
// Reads.

fn parse_enum<T>(v: Option<T>, raw: &str) -> Result<T> {
    v.ok_or_else(|| Error::internal(format!("unknown stored value '{raw}'")))
}

fn millis(v: Option<i64>) -> Option<Millis> {
    v.map(Millis)
}

const ORDER_SELECT: &str = "SELECT o.id, o.order_no, o.customer_id, c.name AS customer_name, o.status, \
     o.payment_status, o.currency, o.items_cents, o.discount_cents, o.shipping_fee_cents, o.total_cents, \
     o.refunded_cents, o.placed_at, o.paid_at, o.shipped_at, o.delivered_at, o.receiver_name, \
     o.receiver_phone, o.receiver_address, o.created_at, o.updated_at \
     FROM orders o JOIN customers c ON c.id = o.customer_id";

fn order_from_row(r: &DbRow) -> Result<Order> {
    let status: String = r.get("status");
    let payment: String = r.get("payment_status");
    Ok(Order {
        id: r.get("id"),
        order_no: r.get("order_no"),
        customer_id: r.get("customer_id"),
        customer_name: r.get("customer_name"),
        status: parse_enum(OrderStatus::from_wire(&status), &status)?,
        payment_status: parse_enum(PaymentStatus::from_wire(&payment), &payment)?,
        currency: r.get("currency"),
        items_cents: r.get("items_cents"),
        discount_cents: r.get("discount_cents"),
        shipping_fee_cents: r.get("shipping_fee_cents"),
        total_cents: r.get("total_cents"),
        refunded_cents: r.get("refunded_cents"),
        placed_at: Millis(r.get("placed_at")),
        paid_at: millis(r.get("paid_at")),
        shipped_at: millis(r.get("shipped_at")),
        delivered_at: millis(r.get("delivered_at")),
        receiver_name: r.get("receiver_name"),
        receiver_phone: r.get("receiver_phone"),
        receiver_address: r.get("receiver_address"),
        created_at: Millis(r.get("created_at")),
        updated_at: Millis(r.get("updated_at")),
        aftersales_allowed: false,
        awaiting_payment: false,
    }
    .with_flags())
}

fn product_from_row(r: &DbRow) -> Result<CatalogProduct> {
    let status: String = r.get("status");
    let images: String = r.get("images");
    Ok(CatalogProduct {
        id: r.get("id"),
        sku: r.get("sku"),
        name: r.get("name"),
        price_cents: r.get("price_cents"),
        currency: r.get("currency"),
        category: r.get("category"),
        images: serde_json::from_str(&images).unwrap_or_default(),
        status: parse_enum(ProductStatus::from_wire(&status), &status)?,
        description: r.get("description"),
    })
}

fn item_from_row(r: &DbRow) -> OrderItem {
    OrderItem {
        id: r.get("id"),
        line_no: r.get("line_no"),
        sku: r.get("sku"),
        product_id: r.get("product_id"),
        name: r.get("name"),
        quantity: r.get("quantity"),
        unit_price_cents: r.get("unit_price_cents"),
        total_cents: r.get("total_cents"),
    }
}

fn event_from_row(r: &DbRow) -> Result<ShipmentEvent> {
    let status: String = r.get("status");
    Ok(ShipmentEvent {
        at: Millis(r.get("at")),
        status: parse_enum(ShipmentStatus::from_wire(&status), &status)?,
        description: r.get("description"),
        location: r.get("location"),
    })
}

fn shipment_from_row(r: &DbRow) -> Result<Shipment> {
    let status: String = r.get("status");
    Ok(Shipment {
        id: r.get("id"),
        carrier: r.get("carrier"),
        tracking_no: r.get("tracking_no"),
        status: parse_enum(ShipmentStatus::from_wire(&status), &status)?,
        shipped_at: millis(r.get("shipped_at")),
        delivered_at: millis(r.get("delivered_at")),
        updated_at: Millis(r.get("updated_at")),
        events: Vec::new(),
    })
}

fn refund_from_row(r: &DbRow) -> Result<Refund> {
    let status: String = r.get("status");
    Ok(Refund {
        id: r.get("id"),
        refund_no: r.get("refund_no"),
        amount_cents: r.get("amount_cents"),
        reason: r.get("reason"),
        status: parse_enum(RefundStatus::from_wire(&status), &status)?,
        created_at: Millis(r.get("created_at")),
        refunded_at: millis(r.get("refunded_at")),
    })
}

enum Bind {
    Int(i64),
    Text(String),
}

/// The orders list query: only the filters given (constant fragments), newest first, keyset.
fn list_orders_sql(shop_id: Id, q: &OrderQuery) -> (String, Vec<Bind>) {
    let mut sql = format!("{ORDER_SELECT} WHERE o.shop_id = $1");
    let mut binds = vec![Bind::Int(shop_id)];
    let mut add = |frag: &str, b: Bind, sql: &mut String| {
        binds.push(b);
        sql.push_str(&frag.replace('?', &format!("${}", binds.len())));
    };
    if let Some(c) = q.customer_id {
        add(" AND o.customer_id = ?", Bind::Int(c), &mut sql);
    }
    if let Some(s) = q.status {
        add(" AND o.status = ?", Bind::Text(s.as_str().into()), &mut sql);
    }
    if let Some(p) = q.payment_status {
        add(
            " AND o.payment_status = ?",
            Bind::Text(p.as_str().into()),
            &mut sql,
        );
    }
    if let Some(text) = &q.q {
        // A prefix, case-insensitive on both backends.
        add(
            &format!(" AND o.order_no {CASELESS_LIKE} ? ESCAPE '\\'"),
            Bind::Text(format!("{}%", escape_like(text))),
            &mut sql,
        );
    }
    if let Some(f) = q.placed_from {
        add(" AND o.placed_at >= ?", Bind::Int(f.0), &mut sql);
    }
    if let Some(t) = q.placed_to {
        add(" AND o.placed_at < ?", Bind::Int(t.0), &mut sql);
    }
    if let Some((at, id)) = q.before {
        add(" AND (o.placed_at < ?", Bind::Int(at.0), &mut sql);
        add(" OR (o.placed_at = ?", Bind::Int(at.0), &mut sql);
        add(" AND o.id < ?))", Bind::Int(id), &mut sql);
    }
    add(
        " ORDER BY o.placed_at DESC, o.id DESC LIMIT ?",
        Bind::Int(q.limit),
        &mut sql,
    );
    (sql, binds)
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// `$first, $first+1, …` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn items_of(conn: &mut Conn, order_ids: &[Id]) -> Result<Vec<(Id, OrderItem)>> {
    if order_ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT id, order_id, line_no, sku, product_id, name, quantity, unit_price_cents, total_cents \
         FROM order_items WHERE order_id IN ({}) ORDER BY order_id, line_no",
        placeholders(1, order_ids.len())
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for id in order_ids {
        query = query.bind(id);
    }
    let rows = query.fetch_all(&mut *conn).await.map_err(db_err)?;
    Ok(rows
        .iter()
        .map(|r| (r.get("order_id"), item_from_row(r)))
        .collect())
}

/// The shipments of these orders (most recently updated first), each with its events (newest
/// first).
async fn shipments_of(conn: &mut Conn, order_ids: &[Id]) -> Result<Vec<(Id, Shipment)>> {
    if order_ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT id, order_id, carrier, tracking_no, status, shipped_at, delivered_at, updated_at \
         FROM shipments WHERE order_id IN ({}) ORDER BY updated_at DESC, id DESC",
        placeholders(1, order_ids.len())
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for id in order_ids {
        query = query.bind(id);
    }
    let rows = query.fetch_all(&mut *conn).await.map_err(db_err)?;
    let mut shipments = Vec::with_capacity(rows.len());
    for r in &rows {
        shipments.push((r.get::<Id, _>("order_id"), shipment_from_row(r)?));
    }
    if shipments.is_empty() {
        return Ok(shipments);
    }
    let sql = format!(
        "SELECT shipment_id, at, status, description, location FROM shipment_events \
         WHERE shipment_id IN ({}) ORDER BY at DESC, id DESC",
        placeholders(1, shipments.len())
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for (_, s) in &shipments {
        query = query.bind(s.id);
    }
    let rows = query.fetch_all(&mut *conn).await.map_err(db_err)?;
    let mut by_shipment: HashMap<Id, Vec<ShipmentEvent>> = HashMap::new();
    for r in &rows {
        by_shipment
            .entry(r.get("shipment_id"))
            .or_default()
            .push(event_from_row(r)?);
    }
    for (_, s) in &mut shipments {
        s.events = by_shipment.remove(&s.id).unwrap_or_default();
    }
    Ok(shipments)
}

async fn order_detail(conn: &mut Conn, shop_id: Id, order_id: Id) -> Result<Option<OrderDetail>> {
    let sql = format!("{ORDER_SELECT} WHERE o.id = $1 AND o.shop_id = $2");
    let Some(row) = sqlx::query(AssertSqlSafe(sql))
        .bind(order_id)
        .bind(shop_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
    else {
        return Ok(None);
    };
    let order = order_from_row(&row)?;
    let items = items_of(conn, &[order_id])
        .await?
        .into_iter()
        .map(|(_, i)| i)
        .collect();
    let shipments = shipments_of(conn, &[order_id])
        .await?
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    let rows = sqlx::query(
        "SELECT id, refund_no, amount_cents, reason, status, created_at, refunded_at FROM refunds \
         WHERE order_id = $1 ORDER BY created_at, id",
    )
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let refunds = rows.iter().map(refund_from_row).collect::<Result<_>>()?;
    Ok(Some(OrderDetail {
        order,
        items,
        shipments,
        refunds,
    }))
}

/// The sidebar query: the newest `limit` orders of one customer straight off the
/// `orders_customer (shop_id, customer_id, placed_at, id)` index (no sort, however many orders the
/// customer has), then their items and parcels in two `IN` lookups.
async fn customer_orders(
    conn: &mut Conn,
    shop_id: Id,
    customer_id: Id,
    limit: i64,
) -> Result<Option<Vec<CustomerOrder>>> {
    let known: Option<Id> =
        sqlx::query_scalar("SELECT id FROM customers WHERE id = $1 AND shop_id = $2")
            .bind(customer_id)
            .bind(shop_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    if known.is_none() {
        return Ok(None);
    }
    let sql = format!(
        "{ORDER_SELECT} WHERE o.shop_id = $1 AND o.customer_id = $2 \
         ORDER BY o.placed_at DESC, o.id DESC LIMIT $3"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(shop_id)
        .bind(customer_id)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    let orders = rows
        .iter()
        .map(order_from_row)
        .collect::<Result<Vec<_>>>()?;
    let ids: Vec<Id> = orders.iter().map(|o| o.id).collect();
    let mut items: HashMap<Id, Vec<OrderItem>> = HashMap::new();
    for (order_id, item) in items_of(conn, &ids).await? {
        items.entry(order_id).or_default().push(item);
    }
    let mut parcels: HashMap<Id, ShipmentBrief> = HashMap::new();
    for (order_id, s) in shipments_of(conn, &ids).await? {
        // Shipments come most recently updated first: keep the first per order.
        parcels.entry(order_id).or_insert_with(|| ShipmentBrief {
            carrier: s.carrier,
            tracking_no: s.tracking_no,
            status: s.status,
            latest_event: s.events.into_iter().next(),
        });
    }
    Ok(Some(
        orders
            .into_iter()
            .map(|order| CustomerOrder {
                items: items.remove(&order.id).unwrap_or_default(),
                shipment: parcels.remove(&order.id),
                order,
            })
            .collect(),
    ))
}

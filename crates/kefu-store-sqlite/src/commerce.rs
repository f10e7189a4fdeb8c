//! The sqlite implementation of [`kefu_core::commerce::CommerceStore`].
//!
//! Every change runs as one job of the group-committing writer; inside it each item (order,
//! shipment, refund, product) runs in its own SAVEPOINT, so a failing item is rolled back alone and
//! reported while the others are kept. A CSV import calls this once per chunk of a few thousand
//! orders, so other writers get their turn between chunks.
//!
//! The PostgreSQL twin (kefu-store-postgres/src/commerce.rs) carries the same statements; keep the
//! two in step.

use crate::{SqliteStore, db_err};
use async_trait::async_trait;
use kefu_core::commerce::*;
use kefu_core::customers::IdentityKind;
use kefu_core::model::Id;
use kefu_core::time::Millis;
use kefu_core::{Error, ErrorCode, Result};
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row, SqliteConnection};
use std::collections::HashMap;
use std::sync::atomic::Ordering;

type Conn = SqliteConnection;
type DbRow = SqliteRow;

/// `SUM` of refunded amounts as an integer.
const REFUNDED_SUM: &str = "SELECT CAST(COALESCE(SUM(amount_cents), 0) AS INTEGER) FROM refunds \
     WHERE order_id = $1 AND status = 'refunded'";

#[async_trait]
impl CommerceStore for SqliteStore {
    async fn apply_commerce(
        &self,
        shop_id: Id,
        change: CommerceChange,
        delivery: Option<WebhookDelivery>,
    ) -> Result<BatchOutcome> {
        self.write(move |conn| {
            Box::pin(async move { apply(conn, shop_id, change, delivery).await })
        })
        .await
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
        let rows = query.fetch_all(&self.reader).await.map_err(db_err)?;
        rows.iter().map(order_from_row).collect()
    }

    async fn order_detail(&self, shop_id: Id, order_id: Id) -> Result<Option<OrderDetail>> {
        let mut conn = self.reader.acquire().await.map_err(db_err)?;
        order_detail(&mut conn, shop_id, order_id).await
    }

    async fn customer_orders(
        &self,
        shop_id: Id,
        customer_id: Id,
        limit: i64,
    ) -> Result<Option<Vec<CustomerOrder>>> {
        let mut conn = self.reader.acquire().await.map_err(db_err)?;
        customer_orders(&mut conn, shop_id, customer_id, limit).await
    }

    async fn list_catalog(&self, shop_id: Id, q: &ProductQuery) -> Result<Vec<CatalogProduct>> {
        let like = q.q.as_ref().map(|s| format!("%{}%", escape_like(s)));
        let rows = sqlx::query(
            "SELECT id, sku, name, price_cents, currency, category, images, status, description \
             FROM products WHERE shop_id = $1 AND id > $2 \
             AND ($3 IS NULL OR sku LIKE $3 ESCAPE '\\' OR name LIKE $3 ESCAPE '\\') \
             AND ($4 IS NULL OR category = $4) ORDER BY id LIMIT $5",
        )
        .bind(shop_id)
        .bind(q.after_id.unwrap_or(0))
        .bind(like)
        .bind(&q.category)
        .bind(q.limit)
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(product_from_row).collect()
    }

    async fn commerce_webhook_secret(&self, shop_id: Id, fresh: &str) -> Result<String> {
        // Every webhook delivery reads the secret: answer from a read when it exists.
        let known: Option<String> =
            sqlx::query_scalar("SELECT secret FROM commerce_webhook_secrets WHERE shop_id = $1")
                .bind(shop_id)
                .fetch_optional(&self.reader)
                .await
                .map_err(db_err)?;
        if let Some(secret) = known {
            return Ok(secret);
        }
        let fresh = fresh.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
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
        })
        .await
    }

    async fn rotate_commerce_webhook_secret(&self, shop_id: Id, fresh: &str) -> Result<()> {
        let fresh = fresh.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
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
        })
        .await
    }

    async fn begin_bulk_import(&self) -> Result<()> {
        let first = self.bulk_imports.fetch_add(1, Ordering::SeqCst) == 0;
        self.write(move |conn| {
            Box::pin(async move {
                if first {
                    crate::set_cache_kib(conn, crate::IMPORT_CACHE_KIB).await?;
                }
                // Only into an empty table: the indexes serve every shop, and building them at
                // the end costs as much as the rows already there.
                let empty: bool = sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM orders)")
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
                if empty {
                    for (name, _) in DEFERRED_ORDER_INDEXES {
                        sqlx::query(AssertSqlSafe(format!("DROP INDEX IF EXISTS {name}")))
                            .execute(&mut *conn)
                            .await
                            .map_err(db_err)?;
                    }
                }
                Ok(())
            })
        })
        .await
    }

    async fn end_bulk_import(&self) -> Result<()> {
        // Also called without a begin (at every start): the count never goes below zero.
        let last = self
            .bulk_imports
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            == Ok(1);
        let rebuilt = self.build_missing_order_indexes().await;
        if last {
            // The import's large page cache goes back to the usual size (its pages are freed).
            self.write(|conn| Box::pin(crate::set_cache_kib(conn, crate::CACHE_KIB)))
                .await?;
        }
        rebuilt
    }
}

impl SqliteStore {
    /// Builds each deferred index of `orders` that is missing (after a bulk import, or at start
    /// after an import cut short).
    async fn build_missing_order_indexes(&self) -> Result<()> {
        let present: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'orders'",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        for (name, create) in DEFERRED_ORDER_INDEXES {
            if present.iter().any(|p| p == name) {
                continue;
            }
            // One writer job per index, so other writers get their turn between them (each
            // takes about a second per million orders).
            self.write(move |conn| {
                Box::pin(async move {
                    let sql = create.replacen("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1);
                    sqlx::query(AssertSqlSafe(sql))
                        .execute(&mut *conn)
                        .await
                        .map_err(db_err)?;
                    Ok(())
                })
            })
            .await?;
        }
        Ok(())
    }
}

/// The secondary indexes of `orders` that a large import into an empty table builds once at its
/// end (`begin_bulk_import` / `end_bulk_import`), each as migration 0004 creates it (a test holds
/// the two in step). Each of them orders the rows by a random key (customer, time), so inserting a
/// chunk dirties most of their pages, and every chunk's commit writes those pages to the WAL again
/// (and every statement copies them into its statement journal first): the same import of a
/// million orders took 73 s without them against 111-117 s with them (docs/BENCHMARKS.md).
/// The unique `(shop_id, order_no)` index stays (it is the import's idempotency key) and so does
/// `orders_updated` (rows arrive in its order).
pub(crate) const DEFERRED_ORDER_INDEXES: [(&str, &str); 3] = [
    (
        "orders_customer",
        "CREATE INDEX orders_customer ON orders (shop_id, customer_id, placed_at, id)",
    ),
    (
        "orders_payment",
        "CREATE INDEX orders_payment ON orders (shop_id, payment_status, placed_at)",
    ),
    (
        "orders_recent",
        "CREATE INDEX orders_recent ON orders (shop_id, placed_at, id)",
    ),
];

// ---------------------------------------------------------------------------------------------
// Writes.

/// What one item's write did.
struct Written {
    status: UpsertStatus,
    id: Id,
    customers: Vec<Id>,
}

/// Product lookups cached for the length of one job (imports repeat the same SKUs a lot).
type SkuCache = HashMap<String, Option<(Id, String)>>;

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
        CommerceChange::Orders(items) if items.len() >= BULK_MIN_ORDERS && !webhook => {
            // Imports: new orders in bulk (checks first, then set-based writes); the rest, and
            // everything if the bulk attempt fails unexpectedly, one by one below.
            // The documents' digests are pure CPU: they are computed on the blocking pool while
            // SQLite looks the chunk's order numbers up, instead of keeping SQLite waiting.
            let items = std::sync::Arc::new(items);
            let hashes = {
                let items = items.clone();
                tokio::task::spawn_blocking(move || {
                    items
                        .iter()
                        .map(|(_, o)| o.content_hash())
                        .collect::<Vec<_>>()
                })
            };
            sqlx::query("SAVEPOINT bulk")
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            let rest = match bulk_orders(conn, shop_id, &items, hashes, now, &mut skus).await {
                Ok((done, rest)) => {
                    out.merge(done);
                    rest
                }
                Err(e) => {
                    tracing::warn!(error = %e, "bulk order insert failed; storing one by one");
                    sqlx::query("ROLLBACK TO SAVEPOINT bulk")
                        .execute(&mut *conn)
                        .await
                        .map_err(db_err)?;
                    skus.clear();
                    (0..items.len()).collect()
                }
            };
            sqlx::query("RELEASE SAVEPOINT bulk")
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            // The hashing task has let go of its handle unless the bulk path returned before
            // waiting for it (then this clones).
            let items = std::sync::Arc::unwrap_or_clone(items);
            let mut items: Vec<Option<(usize, OrderDoc)>> = items.into_iter().map(Some).collect();
            let rest = rest.into_iter().filter_map(|i| items[i].take());
            each!(
                rest,
                |doc| doc.order_no.clone(),
                upsert_order(conn, shop_id, &doc, now, &mut skus)
            )
        }
        CommerceChange::Orders(items) => each!(
            items,
            |doc| doc.order_no.clone(),
            upsert_order(conn, shop_id, &doc, now, &mut skus)
        ),
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
        let code = if e.code == ErrorCode::NotFound.as_str() {
            ErrorCode::NotFound
        } else if e.code == ErrorCode::Conflict.as_str() {
            ErrorCode::Conflict
        } else {
            ErrorCode::ValidationFailed
        };
        return Err(Error::new(code, e.message));
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

async fn product_of(
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
// The bulk path for imports.

/// Batches of at least this many orders try the bulk path first.
const BULK_MIN_ORDERS: usize = 32;
/// Values per `IN (…)` lookup.
const LOOKUP_SLICE: usize = 500;

/// `?, ?, …` for `n` values. The bulk statements use positional `?` parameters: sqlx binds a
/// `$N` parameter by looking its name up among all of the statement's parameters, which is
/// quadratic in statements with thousands of them.
fn qmarks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// A customer as buyer resolution sees it.
#[derive(Clone)]
struct CustomerRow {
    id: Id,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    external_id: Option<String>,
}

/// Runs `sql_head (…)` (with `?` parameters: the shop id, then the `IN` list) over `values` in
/// slices and returns every row.
async fn lookup_in(
    conn: &mut Conn,
    sql_head: &str,
    sql_tail: &str,
    shop_id: Id,
    values: &[String],
) -> Result<Vec<DbRow>> {
    let mut rows = Vec::new();
    for slice in values.chunks(LOOKUP_SLICE) {
        let sql = format!("{sql_head} ({}) {sql_tail}", qmarks(slice.len()));
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(shop_id);
        for v in slice {
            q = q.bind(v);
        }
        rows.extend(q.fetch_all(&mut *conn).await.map_err(db_err)?);
    }
    Ok(rows)
}

/// Stores the new orders of a large batch with set-based inserts, after checking up front
/// everything that could make an order fail. `hashes` delivers each order's `content_hash`.
/// Returns the outcome of the orders it handled and the indexes (into `items`) of those it left
/// for the one-by-one path: orders that exist already and changed, orders naming a `customer_id`,
/// with refunds or shipment events, whose parcel is taken, or that repeat an order number or a
/// parcel of the batch. Any error here is unexpected: the caller rolls the attempt back and stores
/// the whole batch one by one, so every order stays all or nothing.
async fn bulk_orders(
    conn: &mut Conn,
    shop_id: Id,
    items: &[(usize, OrderDoc)],
    hashes: tokio::task::JoinHandle<Vec<String>>,
    now: Millis,
    skus: &mut SkuCache,
) -> Result<(BatchOutcome, Vec<usize>)> {
    let mut out = BatchOutcome::default();
    let mut rest = Vec::new();
    let nos: Vec<String> = items.iter().map(|(_, o)| o.order_no.clone()).collect();
    let mut seen = std::collections::HashSet::new();
    if !nos.iter().all(|n| seen.insert(n.as_str())) {
        return Ok((out, (0..items.len()).collect()));
    }
    let existing: HashMap<String, (Id, String)> = lookup_in(
        conn,
        "SELECT order_no, id, content_hash FROM orders WHERE shop_id = ? AND order_no IN",
        "",
        shop_id,
        &nos,
    )
    .await?
    .iter()
    .map(|r| (r.get("order_no"), (r.get("id"), r.get("content_hash"))))
    .collect();

    // New orders the bulk path can take.
    let mut hashes = hashes.await.map_err(Error::internal)?;
    let mut fresh = Vec::new();
    let mut parcels: HashMap<(String, String), usize> = HashMap::new();
    for (k, (index, o)) in items.iter().enumerate() {
        let hash = std::mem::take(&mut hashes[k]);
        match existing.get(&o.order_no) {
            Some((id, old)) if *old == hash => out.push(ItemResult {
                index: *index,
                key: o.order_no.clone(),
                status: UpsertStatus::Unchanged,
                id: Some(*id),
                error: None,
            }),
            Some(_) => rest.push(k),
            None if o.customer_id.is_some()
                || !o.refunds.is_empty()
                || o.shipments.iter().any(|s| !s.events.is_empty()) =>
            {
                rest.push(k)
            }
            None => {
                let mut clash = false;
                for s in &o.shipments {
                    clash |= parcels
                        .insert((s.carrier.clone(), s.tracking_no.clone()), k)
                        .is_some();
                }
                if clash {
                    rest.push(k);
                } else {
                    fresh.push((k, hash));
                }
            }
        }
    }
    // Parcels already stored (for any order) make their order go the one-by-one way, which
    // reports the clash or recognises the order's own parcel.
    // One lookup per carrier, so `shipments (shop_id, carrier, tracking_no)` answers it.
    let mut by_carrier: HashMap<&str, Vec<String>> = HashMap::new();
    for (c, t) in parcels.keys() {
        by_carrier.entry(c.as_str()).or_default().push(t.clone());
    }
    let mut taken: std::collections::HashSet<(String, String)> = std::collections::HashSet::new();
    for (carrier, numbers) in by_carrier {
        let mut numbers_with_carrier = Vec::with_capacity(numbers.len() + 1);
        numbers_with_carrier.push(carrier.to_owned());
        numbers_with_carrier.extend(numbers);
        for r in lookup_in_after(
            conn,
            "SELECT carrier, tracking_no FROM shipments WHERE shop_id = ? AND carrier = ? AND tracking_no IN",
            shop_id,
            &numbers_with_carrier,
        )
        .await?
        {
            taken.insert((r.get("carrier"), r.get("tracking_no")));
        }
    }
    let mut in_batch_clash = std::collections::HashSet::new();
    for (c, t) in parcels.keys() {
        if taken.contains(&(c.clone(), t.clone())) {
            in_batch_clash.insert(parcels[&(c.clone(), t.clone())]);
        }
    }
    fresh.retain(|(k, _)| {
        let keep = !in_batch_clash.contains(k);
        if !keep {
            rest.push(*k);
        }
        keep
    });

    // Buyers: every customer the batch could match (through identities, then spine columns; never
    // a merged-away customer), loaded once, then resolved in memory exactly as `resolve_buyer`
    // does; new and filled customers join the maps as they change.
    let mut wanted: HashMap<IdentityKind, Vec<String>> = HashMap::new();
    for (k, _) in &fresh {
        for (kind, v) in items[*k].1.buyer.identities() {
            wanted.entry(kind).or_default().push(v);
        }
    }
    let mut customers: Vec<CustomerRow> = Vec::new();
    let mut by_ext: HashMap<String, usize> = HashMap::new();
    let mut by_phone: HashMap<String, usize> = HashMap::new();
    let mut by_email: HashMap<String, usize> = HashMap::new();
    // (kind, normalized value) → (verified, customer id, index in `customers`): the best holder.
    let mut by_identity: HashMap<(IdentityKind, String), (bool, Id, usize)> = HashMap::new();
    // One row per `IN` slice: the matches come back as one JSON array, since every row sqlx
    // fetches is its own hand-off from SQLite's thread (a chunk matches ~20,000 identity rows).
    let mut identity_rows: Vec<IdentityMatch> = Vec::new();
    for (kind, values) in &wanted {
        let mut with_kind = Vec::with_capacity(values.len() + 1);
        with_kind.push(kind.as_str().to_owned());
        with_kind.extend(values.iter().cloned());
        for r in lookup_in_after(
            conn,
            "SELECT json_group_array(json_array(i.kind, i.value, i.verified, c.id, c.name, \
             c.email, c.phone, c.external_id)) AS matches FROM customer_identities i \
             JOIN customers c ON c.id = i.customer_id AND c.merged_into IS NULL \
             WHERE i.shop_id = ? AND i.kind = ? AND i.value IN",
            shop_id,
            &with_kind,
        )
        .await?
        {
            let json: String = r.get("matches");
            identity_rows.extend(
                serde_json::from_str::<Vec<IdentityMatch>>(&json).map_err(Error::internal)?,
            );
        }
    }
    // The spine columns only answer for buyers none of whose identities matched (as in
    // `resolve_buyer`).
    let matched: std::collections::HashSet<(&str, &str)> = identity_rows
        .iter()
        .map(|m| (m.0.as_str(), m.1.as_str()))
        .collect();
    let mut ext = Vec::new();
    let mut phones = Vec::new();
    let mut emails = Vec::new();
    for (k, _) in &fresh {
        let b = &items[*k].1.buyer;
        if b.identities()
            .iter()
            .any(|(kind, v)| matched.contains(&(kind.as_str(), v.as_str())))
        {
            continue;
        }
        ext.extend(b.external_id.clone());
        phones.extend(b.phone.clone());
        emails.extend(b.email.clone());
    }
    let select = "SELECT id, name, email, phone, external_id FROM customers \
                  WHERE shop_id = ? AND merged_into IS NULL AND";
    let mut loaded = Vec::new();
    for (col, values) in [
        ("external_id", &ext),
        ("phone", &phones),
        ("email", &emails),
    ] {
        loaded.extend(lookup_in(conn, &format!("{select} {col} IN"), "", shop_id, values).await?);
    }
    let mut rows: Vec<CustomerRow> = loaded
        .iter()
        .map(|r| CustomerRow {
            id: r.get("id"),
            name: r.get("name"),
            email: r.get("email"),
            phone: r.get("phone"),
            external_id: r.get("external_id"),
        })
        .chain(identity_rows.iter().map(|m| CustomerRow {
            id: m.3,
            name: m.4.clone(),
            email: m.5.clone(),
            phone: m.6.clone(),
            external_id: m.7.clone(),
        }))
        .collect();
    rows.sort_by_key(|c| c.id);
    rows.dedup_by_key(|c| c.id);
    fn remember(
        c: &CustomerRow,
        i: usize,
        by_ext: &mut HashMap<String, usize>,
        by_phone: &mut HashMap<String, usize>,
        by_email: &mut HashMap<String, usize>,
    ) {
        if let Some(v) = &c.external_id {
            by_ext.entry(v.clone()).or_insert(i);
        }
        if let Some(v) = &c.phone {
            by_phone.entry(v.clone()).or_insert(i);
        }
        if let Some(v) = &c.email {
            by_email.entry(v.clone()).or_insert(i);
        }
    }
    /// Offers a holder of an identity: verified first, then the oldest customer wins.
    fn offer(
        map: &mut HashMap<(IdentityKind, String), (bool, Id, usize)>,
        key: (IdentityKind, String),
        holder: (bool, Id, usize),
    ) {
        let e = map.entry(key).or_insert(holder);
        if (!holder.0, holder.1) < (!e.0, e.1) {
            *e = holder;
        }
    }
    let mut index_of: HashMap<Id, usize> = HashMap::new();
    for c in rows {
        let i = customers.len();
        remember(&c, i, &mut by_ext, &mut by_phone, &mut by_email);
        index_of.insert(c.id, i);
        customers.push(c);
    }
    for m in &identity_rows {
        let Ok(kind) = IdentityKind::parse(&m.0) else {
            continue;
        };
        offer(
            &mut by_identity,
            (kind, m.1.clone()),
            (m.2 != 0, m.3, index_of[&m.3]),
        );
    }
    // Identities to record for created or filled customers, inserted with the lines below.
    let mut new_identities: Vec<(Id, IdentityKind, String)> = Vec::new();
    // The writer owns the database and this runs inside its transaction, so the chunk assigns
    // the ids of its new customers and orders itself and inserts each table with one statement
    // (rows as one JSON parameter) instead of one statement per row.
    let first_new_customer: Id =
        1 + sqlx::query_scalar::<_, Id>("SELECT COALESCE(MAX(id), 0) FROM customers")
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
    let mut next_customer = first_new_customer;
    let mut next_order: Id =
        1 + sqlx::query_scalar::<_, Id>("SELECT COALESCE(MAX(id), 0) FROM orders")
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
    let mut order_rows: Vec<(Id, Id, &OrderDoc, PaymentStatus, &str)> =
        Vec::with_capacity(fresh.len());

    let mut lines: Vec<(Id, &OrderLine, Option<Id>, String)> = Vec::new();
    let mut ships: Vec<(Id, &ShipmentDoc)> = Vec::new();
    for (k, hash) in &fresh {
        let (index, o) = &items[*k];
        let b = &o.buyer;
        let identities = b.identities();
        let found = identities
            .iter()
            .find_map(|key| by_identity.get(key).map(|h| h.2))
            .or_else(|| b.external_id.as_ref().and_then(|v| by_ext.get(v)).copied())
            .or_else(|| b.phone.as_ref().and_then(|v| by_phone.get(v)).copied())
            .or_else(|| b.email.as_ref().and_then(|v| by_email.get(v)).copied());
        let customer_id = match found {
            Some(i) => {
                let c = &customers[i];
                let lacks_name = b.name.is_some() && c.name.is_empty();
                let lacks = |mine: &Option<String>, given: &Option<String>| {
                    mine.is_none() && given.is_some()
                };
                let filled: Vec<_> = identities
                    .iter()
                    .filter(|(kind, _)| match kind {
                        IdentityKind::ExternalId => lacks(&c.external_id, &b.external_id),
                        IdentityKind::Phone => lacks(&c.phone, &b.phone),
                        IdentityKind::Email => lacks(&c.email, &b.email),
                    })
                    .cloned()
                    .collect();
                if lacks_name
                    || lacks(&c.email, &b.email)
                    || lacks(&c.phone, &b.phone)
                    || lacks(&c.external_id, &b.external_id)
                {
                    if customers[i].id < first_new_customer {
                        resolve_fill(conn, &mut customers[i], b).await?;
                    } else {
                        // Made by this chunk and not inserted yet: the insert below takes the
                        // filled row.
                        fill_row(&mut customers[i], b);
                    }
                    let c = customers[i].clone();
                    remember(&c, i, &mut by_ext, &mut by_phone, &mut by_email);
                    for (kind, v) in filled {
                        offer(&mut by_identity, (kind, v.clone()), (false, c.id, i));
                        new_identities.push((c.id, kind, v));
                    }
                }
                customers[i].id
            }
            None => {
                // Every possible match was loaded above: no match means a new customer.
                let id = next_customer;
                next_customer += 1;
                let c = CustomerRow {
                    id,
                    name: b.name.clone().unwrap_or_default(),
                    email: b.email.clone(),
                    phone: b.phone.clone(),
                    external_id: b.external_id.clone(),
                };
                let i = customers.len();
                remember(&c, i, &mut by_ext, &mut by_phone, &mut by_email);
                for (kind, v) in identities {
                    offer(&mut by_identity, (kind, v.clone()), (false, id, i));
                    new_identities.push((id, kind, v));
                }
                customers.push(c);
                id
            }
        };
        let payment_status = o
            .payment_status
            .unwrap_or_else(|| payment_status_for(o.paid_at.is_some(), o.total_cents, 0));
        let id = next_order;
        next_order += 1;
        order_rows.push((id, customer_id, o, payment_status, hash.as_str()));
        for line in &o.items {
            let product = product_of(conn, shop_id, &line.sku, skus).await?;
            let name = if !line.name.is_empty() {
                line.name.clone()
            } else {
                product
                    .as_ref()
                    .map_or_else(|| line.sku.clone(), |(_, n)| n.clone())
            };
            lines.push((id, line, product.map(|(p, _)| p), name));
        }
        for s in &o.shipments {
            ships.push((id, s));
        }
        out.touch(customer_id);
        out.push(ItemResult {
            index: *index,
            key: o.order_no.clone(),
            status: UpsertStatus::Created,
            id: Some(id),
            error: None,
        });
    }
    let new_customers: Vec<&CustomerRow> = customers
        .iter()
        .filter(|c| c.id >= first_new_customer)
        .collect();
    insert_rows(
        conn,
        "INSERT INTO customers (shop_id, id, name, email, phone, external_id, created_at) VALUES",
        "",
        7,
        &new_customers,
        |q, c| {
            q.bind(shop_id)
                .bind(c.id)
                .bind(c.name.as_str())
                .bind(c.email.as_deref())
                .bind(c.phone.as_deref())
                .bind(c.external_id.as_deref())
                .bind(now.0)
        },
    )
    .await?;
    insert_rows(
        conn,
        "INSERT INTO orders (shop_id, id, customer_id, order_no, status, payment_status, currency, \
         items_cents, discount_cents, shipping_fee_cents, total_cents, refunded_cents, placed_at, \
         paid_at, shipped_at, delivered_at, receiver_name, receiver_phone, receiver_address, \
         content_hash, created_at, updated_at) VALUES",
        "",
        22,
        &order_rows,
        |q, (id, customer_id, o, payment_status, hash)| {
            q.bind(shop_id)
                .bind(*id)
                .bind(*customer_id)
                .bind(o.order_no.as_str())
                .bind(o.status.as_str())
                .bind(payment_status.as_str())
                .bind(o.currency.as_str())
                .bind(o.items_cents)
                .bind(o.discount_cents)
                .bind(o.shipping_fee_cents)
                .bind(o.total_cents)
                .bind(0i64)
                .bind(o.placed_at.0)
                .bind(o.paid_at.map(|t| t.0))
                .bind(o.shipped_at.map(|t| t.0))
                .bind(o.delivered_at.map(|t| t.0))
                .bind(o.receiver_name.as_str())
                .bind(o.receiver_phone.as_str())
                .bind(o.receiver_address.as_str())
                .bind(*hash)
                .bind(now.0)
                .bind(now.0)
        },
    )
    .await?;
    insert_rows(
        conn,
        "INSERT INTO customer_identities (shop_id, customer_id, kind, value, verified, source, \
         created_at) VALUES",
        "ON CONFLICT (customer_id, kind, value) DO NOTHING",
        7,
        &new_identities,
        |q, (id, kind, value)| {
            q.bind(shop_id)
                .bind(*id)
                .bind(kind.as_str())
                .bind(value.as_str())
                .bind(0i64)
                .bind("order")
                .bind(now.0)
        },
    )
    .await?;
    insert_rows(
        conn,
        "INSERT INTO order_items (shop_id, order_id, line_no, sku, product_id, name, quantity, \
         unit_price_cents, total_cents) VALUES",
        "",
        9,
        &lines,
        |q, (order_id, line, product, name)| {
            q.bind(shop_id)
                .bind(*order_id)
                .bind(line.line_no)
                .bind(line.sku.as_str())
                .bind(*product)
                .bind(name.as_str())
                .bind(line.quantity)
                .bind(line.unit_price_cents)
                .bind(line.total_cents)
        },
    )
    .await?;
    insert_rows(
        conn,
        "INSERT INTO shipments (shop_id, order_id, carrier, tracking_no, status, shipped_at, \
         delivered_at, updated_at) VALUES",
        "",
        8,
        &ships,
        |q, (order_id, s)| {
            q.bind(shop_id)
                .bind(*order_id)
                .bind(s.carrier.as_str())
                .bind(s.tracking_no.as_str())
                .bind(s.status.as_str())
                .bind(s.shipped_at.map(|t| t.0))
                .bind(s.delivered_at.map(|t| t.0))
                .bind(now.0)
        },
    )
    .await?;
    Ok((out, rest))
}

/// A customer holding a wanted identity: kind, value, verified (0/1), then the customer's id,
/// name, email, phone, external id.
type IdentityMatch = (
    String,
    String,
    i64,
    Id,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A query of the bulk path with its parameters bound so far.
type BulkQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

/// Row counts of the bulk path's multi-row `INSERT … VALUES`, largest first. A chunk's rows go
/// out in statements of these sizes only, so every statement's text is one of a few per table
/// and stays in the writer's statement cache (a statement of hundreds of rows costs
/// milliseconds to prepare; one shape per remainder would be prepared afresh every chunk).
const INSERT_ROWS: [usize; 4] = [512, 64, 8, 1];

/// Inserts `rows` with multi-row `head VALUES (?, …), … tail` statements whose parameters are
/// bound directly (`bind` binds one row's `cols` values, in the column order of `head`). No
/// rows, no statement. Each statement is one hand-off to SQLite's thread, and SQLite reads the
/// bound values as they are: no JSON to write here nor to parse there.
async fn insert_rows<T>(
    conn: &mut Conn,
    head: &'static str,
    tail: &'static str,
    cols: usize,
    rows: &[T],
    bind: impl for<'q> Fn(BulkQuery<'q>, &T) -> BulkQuery<'q>,
) -> Result<()> {
    let one_row = format!("({})", qmarks(cols));
    let mut rest = rows;
    while !rest.is_empty() {
        let n = INSERT_ROWS
            .into_iter()
            .find(|&n| n <= rest.len())
            .unwrap_or(1);
        let (now, later) = rest.split_at(n);
        rest = later;
        let sql = format!("{head} {} {tail}", vec![one_row.as_str(); n].join(", "));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for row in now {
            q = bind(q, row);
        }
        q.execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}

/// [`resolve_fill`] for a customer made by the current chunk and not inserted yet.
fn fill_row(c: &mut CustomerRow, b: &Buyer) {
    if c.name.is_empty() {
        c.name = b.name.clone().unwrap_or_default();
    }
    c.email = c.email.clone().or_else(|| b.email.clone());
    c.phone = c.phone.clone().or_else(|| b.phone.clone());
    c.external_id = c.external_id.clone().or_else(|| b.external_id.clone());
}

/// Like [`lookup_in`] with one fixed value first: `values[0]` binds `$2`, the rest fill the `IN`
/// list in slices.
async fn lookup_in_after(
    conn: &mut Conn,
    sql_head: &str,
    shop_id: Id,
    values: &[String],
) -> Result<Vec<DbRow>> {
    let (fixed, list) = values
        .split_first()
        .ok_or_else(|| Error::internal("lookup without a fixed value"))?;
    let mut rows = Vec::new();
    for slice in list.chunks(LOOKUP_SLICE) {
        let sql = format!("{sql_head} ({})", qmarks(slice.len()));
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(shop_id).bind(fixed);
        for v in slice {
            q = q.bind(v);
        }
        rows.extend(q.fetch_all(&mut *conn).await.map_err(db_err)?);
    }
    Ok(rows)
}

/// Fills the contact fields a matched customer lacks (as [`resolve_buyer`] does) and updates the
/// in-memory row.
async fn resolve_fill(conn: &mut Conn, c: &mut CustomerRow, b: &Buyer) -> Result<()> {
    sqlx::query(
        "UPDATE customers SET name = CASE WHEN name = '' THEN COALESCE($1, name) ELSE name END, \
         email = COALESCE(email, $2), phone = COALESCE(phone, $3), \
         external_id = COALESCE(external_id, $4) WHERE id = $5",
    )
    .bind(&b.name)
    .bind(&b.email)
    .bind(&b.phone)
    .bind(&b.external_id)
    .bind(c.id)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    if c.name.is_empty() {
        c.name = b.name.clone().unwrap_or_default();
    }
    c.email = c.email.clone().or_else(|| b.email.clone());
    c.phone = c.phone.clone().or_else(|| b.phone.clone());
    c.external_id = c.external_id.clone().or_else(|| b.external_id.clone());
    Ok(())
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
    })
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
        add(
            " AND o.order_no LIKE ? ESCAPE '\\'",
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

/// The shipments of these orders (most recently updated first), each with its events (newest first).
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

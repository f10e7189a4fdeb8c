//! SQLite's bulk path for order imports: the new orders of a large chunk are checked up front and
//! written with set-based multi-row inserts instead of one by one ([`orders_in_bulk`], called by
//! the shared commerce area), and a large import into an empty `orders` table drops the table's
//! secondary indexes and builds them once at its end, with a large page cache for the writer
//! meanwhile (`prepare_bulk_import` / `finish_bulk_import`). PostgreSQL has no such path: there
//! every order takes the shared one-by-one path.

use super::commerce::{SkuCache, product_of};
use super::prelude::*;
use super::{CACHE_KIB, IMPORT_CACHE_KIB, set_cache_kib};
use kefu_core::commerce::*;
use kefu_core::customers::IdentityKind;
use kefu_core::model::Id;
use kefu_core::time::Millis;
use kefu_core::{Error, Result};
use std::collections::HashMap;
use std::sync::atomic::Ordering;

impl DbStore {
    /// [`CommerceStore::begin_bulk_import`]: the writer's large page cache, and the deferred
    /// indexes dropped when `orders` is empty.
    pub(crate) async fn prepare_bulk_import(&self) -> Result<()> {
        let first = self.bulk_imports.fetch_add(1, Ordering::SeqCst) == 0;
        tx!(self, |conn| {
            if first {
                set_cache_kib(conn, IMPORT_CACHE_KIB).await?;
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
    }

    /// [`CommerceStore::end_bulk_import`]: the deferred indexes built, the cache back to its size.
    pub(crate) async fn finish_bulk_import(&self) -> Result<()> {
        // Also called without a begin (at every start): the count never goes below zero.
        let last = self
            .bulk_imports
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            == Ok(1);
        let rebuilt = self.build_missing_order_indexes().await;
        if last {
            // The import's large page cache goes back to the usual size (its pages are freed).
            self.write(|conn| Box::pin(set_cache_kib(conn, CACHE_KIB)))
                .await?;
        }
        rebuilt
    }

    /// Builds each deferred index of `orders` that is missing (after a bulk import, or at start
    /// after an import cut short).
    async fn build_missing_order_indexes(&self) -> Result<()> {
        let present: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'orders'",
        )
        .fetch_all(self.reader())
        .await
        .map_err(db_err)?;
        for (name, create) in DEFERRED_ORDER_INDEXES {
            if present.iter().any(|p| p == name) {
                continue;
            }
            // One writer job per index, so other writers get their turn between them (each
            // takes about a second per million orders).
            tx!(self, |conn| {
                let sql = create.replacen("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1);
                sqlx::query(AssertSqlSafe(sql))
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
                Ok(())
            })?;
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

/// Stores the new orders of an import chunk (`items`, at least [`BULK_MIN_ORDERS`] and not a
/// webhook) in bulk and hands back the orders left for the one-by-one path: those the bulk path
/// does not take, or all of them if the attempt fails unexpectedly (it is rolled back, so every
/// order stays all or nothing).
pub(crate) async fn orders_in_bulk(
    conn: &mut Conn,
    shop_id: Id,
    items: Vec<(usize, OrderDoc)>,
    webhook: bool,
    now: Millis,
    skus: &mut SkuCache,
    out: &mut BatchOutcome,
) -> Result<Vec<(usize, OrderDoc)>> {
    if items.len() < BULK_MIN_ORDERS || webhook {
        return Ok(items);
    }
    // The documents' digests are pure CPU: they are computed on the blocking pool while SQLite
    // looks the chunk's order numbers up, instead of keeping SQLite waiting.
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
    let rest = match bulk_orders(conn, shop_id, &items, hashes, now, skus).await {
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
    // The hashing task has let go of its handle unless the bulk path returned before waiting for
    // it (then this clones).
    let items = std::sync::Arc::unwrap_or_clone(items);
    let mut items: Vec<Option<(usize, OrderDoc)>> = items.into_iter().map(Some).collect();
    Ok(rest.into_iter().filter_map(|i| items[i].take()).collect())
}

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

//! kefu-store's implementation of [`kefu_core::customers::CustomerStore`].
//!
//! Each write is one transaction; merges and verified logins take a per-shop lock
//! ([`ShopLock::CustomerMerge`]) so two of them never interleave (SQLite's one writer already
//! serialises them). Reads use the reader pool.

use super::prelude::*;
use async_trait::async_trait;
use kefu_core::customers::*;
use kefu_core::model::{Id, NewCustomer};
use kefu_core::time::Millis;
use kefu_core::{Error, Result};
use std::collections::BTreeMap;

/// Tables whose rows belong to a customer through a plain `customer_id` column and simply move to
/// the target on a merge (`UPDATE … SET customer_id = target`). Tables with per-customer unique
/// keys (tags, custom field values, identities) are merged row by row in [`merge_into`] instead.
/// Other areas add their customer-owned tables here — the commerce area's `orders` belongs in
/// this list once its migration exists (for both backends).
pub(crate) const MERGE_MOVED_TABLES: &[&str] = &[
    "conversations",
    "visitor_tokens",
    "customer_notes",
    "customer_addresses",
    "customer_events",
    // commerce: orders follow their buyer; reminders follow the orders they were about.
    "orders",
    "reminders",
    // after-sales requests and reviews follow their buyer.
    "aftersales_requests",
    "reviews",
    // tickets follow their requester, so the shopper still sees them in the widget.
    "tickets",
];

/// The sources of a customer's timeline, each a SELECT yielding
/// `(at, src, id, kind, title, summary, ref_type, ref_id)` for shop `$1` and customer `$2`. `src`
/// is a small distinct number per source (a tie-breaker for paging). Orders, tickets and calls
/// join by adding a branch here.
pub(crate) const TIMELINE_SOURCES: &[&str] = &[
    "SELECT created_at AS at, CAST(1 AS BIGINT) AS src, id, 'conversation.started' AS kind, \
     '' AS title, last_message_preview AS summary, \
     'conversation' AS ref_type, id AS ref_id \
     FROM conversations WHERE shop_id = $1 AND customer_id = $2",
    "SELECT created_at AS at, CAST(2 AS BIGINT) AS src, id, 'note' AS kind, author_name AS title, body AS summary, \
     'note' AS ref_type, id AS ref_id FROM customer_notes WHERE shop_id = $1 AND customer_id = $2",
    "SELECT at, CAST(3 AS BIGINT) AS src, id, kind, title, summary, ref_type, ref_id \
     FROM customer_events WHERE shop_id = $1 AND customer_id = $2",
    // commerce: orders placed and paid, refunds.
    "SELECT placed_at AS at, CAST(4 AS BIGINT) AS src, id, 'order.placed' AS kind, order_no AS title, \
     '¥' || CAST(total_cents / 100 AS TEXT) || '.' || substr(CAST(100 + total_cents % 100 AS TEXT), 2) AS summary, 'order' AS ref_type, id AS ref_id \
     FROM orders WHERE shop_id = $1 AND customer_id = $2",
    "SELECT paid_at AS at, CAST(5 AS BIGINT) AS src, id, 'order.paid' AS kind, order_no AS title, \
     '¥' || CAST(total_cents / 100 AS TEXT) || '.' || substr(CAST(100 + total_cents % 100 AS TEXT), 2) AS summary, 'order' AS ref_type, id AS ref_id \
     FROM orders WHERE shop_id = $1 AND customer_id = $2 AND paid_at IS NOT NULL",
    "SELECT r.created_at AS at, CAST(6 AS BIGINT) AS src, r.id, 'order.refund' AS kind, o.order_no AS title, \
     '¥' || CAST(r.amount_cents / 100 AS TEXT) || '.' || substr(CAST(100 + r.amount_cents % 100 AS TEXT), 2) || ' ' || r.reason AS summary, 'order' AS ref_type, o.id AS ref_id \
     FROM refunds r JOIN orders o ON o.id = r.order_id \
     WHERE r.shop_id = $1 AND o.customer_id = $2",
    // tickets and after-sales requests about the customer; `$7` is the agent whose view this is
    // (their own and unassigned ones, the lists' rule), NULL for the whole shop.
    "SELECT t.created_at AS at, CAST(7 AS BIGINT) AS src, t.id, 'ticket.created' AS kind, \
     CASE WHEN t.number < 1000000 THEN 'T-' || substr(CAST(1000000 + t.number AS TEXT), 2) \
          ELSE 'T-' || CAST(t.number AS TEXT) END AS title, \
     t.subject AS summary, 'ticket' AS ref_type, t.id AS ref_id \
     FROM tickets t WHERE t.shop_id = $1 AND t.customer_id = $2 \
     AND ($7 IS NULL OR t.assignee_id IS NULL OR t.assignee_id = $7)",
    "SELECT r.created_at AS at, CAST(8 AS BIGINT) AS src, r.id, 'aftersales.created' AS kind, \
     CASE WHEN r.number < 1000000 THEN 'AS-' || substr(CAST(1000000 + r.number AS TEXT), 2) \
          ELSE 'AS-' || CAST(r.number AS TEXT) END AS title, \
     o.order_no AS summary, 'aftersales' AS ref_type, r.id AS ref_id \
     FROM aftersales_requests r JOIN orders o ON o.id = r.order_id \
     WHERE r.shop_id = $1 AND r.customer_id = $2 \
     AND ($7 IS NULL OR r.assignee_id IS NULL OR r.assignee_id = $7)",
];

/// `last_contact_at` is stored as 0 for a record nobody has talked to yet (an import, a merge
/// target): a sortable, `GREATEST`-friendly "never". Readers get `None`, never 1970.
fn contact_time(ms: i64) -> Option<Millis> {
    (ms > 0).then_some(Millis(ms))
}

const SUMMARY_COLUMNS: &str = "c.id, c.name, c.email, c.phone, c.external_id, c.source, \
     c.blocked, c.created_at, c.last_contact_at";

fn summary_from_row(r: &DbRow) -> Result<CustomerSummary> {
    let source: Option<String> = r.get("source");
    Ok(CustomerSummary {
        id: r.get("id"),
        name: r.get("name"),
        email: r.get("email"),
        phone: r.get("phone"),
        external_id: r.get("external_id"),
        source: source.as_deref().map(SourceChannel::parse).transpose()?,
        tags: vec![],
        blocked: r.get("blocked"),
        created_at: Millis(r.get("created_at")),
        last_contact_at: contact_time(r.get("last_contact_at")),
    })
}

async fn tags_of(conn: &mut Conn, customer_id: Id) -> Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT tag FROM customer_tags WHERE customer_id = $1 ORDER BY created_at, tag",
    )
    .bind(customer_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)
}

/// Tags of a page of customers in one query (ids are our own integers, joined into the SQL).
async fn fill_tags(conn: &mut Conn, list: &mut [CustomerSummary]) -> Result<()> {
    if list.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = list.iter().map(|c| c.id.to_string()).collect();
    let rows: Vec<(Id, String)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT customer_id, tag FROM customer_tags WHERE customer_id IN ({}) \
         ORDER BY created_at, tag",
        ids.join(",")
    )))
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    for (id, tag) in rows {
        if let Some(c) = list.iter_mut().find(|c| c.id == id) {
            c.tags.push(tag);
        }
    }
    Ok(())
}

/// A live (not merged) customer of the shop, or `not_found`.
async fn live_customer(conn: &mut Conn, shop_id: Id, id: Id) -> Result<CustomerSummary> {
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM customers c WHERE c.id = $1 AND c.shop_id = $2 \
         AND c.merged_into IS NULL"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .bind(shop_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found("customer"))?;
    summary_from_row(&row)
}

async fn merged_into_of(conn: &mut Conn, shop_id: Id, id: Id) -> Result<Option<Option<Id>>> {
    let row: Option<(Option<Id>,)> =
        sqlx::query_as("SELECT merged_into FROM customers WHERE id = $1 AND shop_id = $2")
            .bind(id)
            .bind(shop_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    Ok(row.map(|r| r.0))
}

fn identity_from_row(r: &DbRow) -> Result<Identity> {
    Ok(Identity {
        id: r.get("id"),
        kind: IdentityKind::parse(r.get("kind"))?,
        value: r.get("value"),
        verified: r.get("verified"),
        source: r.get("source"),
        created_at: Millis(r.get("created_at")),
    })
}

fn address_from_row(r: &DbRow) -> Address {
    Address {
        id: r.get("id"),
        recipient: r.get("recipient"),
        phone: r.get("phone"),
        region: r.get("region"),
        detail: r.get("detail"),
        is_default: r.get("is_default"),
        created_at: Millis(r.get("created_at")),
    }
}

fn note_from_row(r: &DbRow) -> Note {
    Note {
        id: r.get("id"),
        author_id: r.get("author_id"),
        author_name: r.get("author_name"),
        body: r.get("body"),
        created_at: Millis(r.get("created_at")),
    }
}

fn field_def_from_row(r: &DbRow) -> Result<FieldDef> {
    let options: String = r.get("options");
    Ok(FieldDef {
        id: r.get("id"),
        key: r.get("key"),
        label: r.get("label"),
        kind: FieldKind::parse(r.get("kind"))?,
        options: serde_json::from_str(&options).map_err(Error::internal)?,
        position: r.get("position"),
    })
}

async fn load_profile(conn: &mut Conn, shop_id: Id, id: Id) -> Result<Option<CustomerProfile>> {
    let row = sqlx::query(
        "SELECT id, name, email, phone, external_id, source, consent_sms, consent_email, blocked, \
         blocked_reason, blocked_at, created_at, last_contact_at, updated_at, merged_into \
         FROM customers WHERE id = $1 AND shop_id = $2",
    )
    .bind(id)
    .bind(shop_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let Some(r) = row else { return Ok(None) };
    let source: Option<String> = r.get("source");
    let blocked_at: Option<i64> = r.get("blocked_at");
    let identities = sqlx::query(
        "SELECT id, kind, value, verified, source, created_at FROM customer_identities \
         WHERE customer_id = $1 AND shop_id = $2 ORDER BY kind, id",
    )
    .bind(id)
    .bind(shop_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?
    .iter()
    .map(identity_from_row)
    .collect::<Result<Vec<_>>>()?;
    let addresses = sqlx::query(
        "SELECT id, recipient, phone, region, detail, is_default, created_at FROM customer_addresses \
         WHERE customer_id = $1 AND shop_id = $2 ORDER BY is_default DESC, id",
    )
    .bind(id)
    .bind(shop_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?
    .iter()
    .map(address_from_row)
    .collect();
    let notes = sqlx::query(
        "SELECT id, author_id, author_name, body, created_at FROM customer_notes \
         WHERE customer_id = $1 AND shop_id = $2 ORDER BY created_at DESC, id DESC LIMIT 200",
    )
    .bind(id)
    .bind(shop_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?
    .iter()
    .map(note_from_row)
    .collect();
    let fields: Vec<(String, String)> = sqlx::query_as(
        "SELECT d.key, v.value FROM customer_field_values v \
         JOIN customer_field_defs d ON d.id = v.field_id \
         WHERE v.customer_id = $1 AND v.shop_id = $2",
    )
    .bind(id)
    .bind(shop_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(Some(CustomerProfile {
        id: r.get("id"),
        name: r.get("name"),
        email: r.get("email"),
        phone: r.get("phone"),
        external_id: r.get("external_id"),
        source: source.as_deref().map(SourceChannel::parse).transpose()?,
        tags: tags_of(conn, id).await?,
        consent_sms: r.get("consent_sms"),
        consent_email: r.get("consent_email"),
        blocked: r.get("blocked"),
        blocked_reason: r.get("blocked_reason"),
        blocked_at: blocked_at.map(Millis),
        created_at: Millis(r.get("created_at")),
        last_contact_at: contact_time(r.get("last_contact_at")),
        updated_at: Millis(r.get("updated_at")),
        merged_into: r.get("merged_into"),
        identities,
        addresses,
        custom_fields: fields.into_iter().collect::<BTreeMap<_, _>>(),
        notes,
    }))
}

async fn insert_event(
    conn: &mut Conn,
    shop_id: Id,
    customer_id: Id,
    e: &CustomerEvent,
    at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO customer_events (shop_id, customer_id, kind, at, title, summary, ref_type, ref_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(shop_id)
    .bind(customer_id)
    .bind(e.kind)
    .bind(at)
    .bind(&e.title)
    .bind(&e.summary)
    .bind(e.ref_type)
    .bind(e.ref_id)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Adds an identity (or upgrades an unverified one to verified). A verified value another
/// customer already holds verified is a `conflict`.
async fn put_identity(
    conn: &mut Conn,
    shop_id: Id,
    customer_id: Id,
    kind: IdentityKind,
    value: &str,
    verified: bool,
    source: &str,
) -> Result<Id> {
    if verified {
        let holder: Option<Id> = sqlx::query_scalar(
            "SELECT customer_id FROM customer_identities WHERE shop_id = $1 AND kind = $2 \
             AND value = $3 AND verified = $4",
        )
        .bind(shop_id)
        .bind(kind.as_str())
        .bind(value)
        .bind(true)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        if holder.is_some_and(|h| h != customer_id) {
            return Err(Error::conflict(format!(
                "value: this {} is verified for another customer",
                kind.as_str()
            )));
        }
    }
    let now = Millis::now().0;
    sqlx::query(
        "INSERT INTO customer_identities (shop_id, customer_id, kind, value, verified, source, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (customer_id, kind, value) DO UPDATE \
         SET verified = (customer_identities.verified OR excluded.verified), \
         source = CASE WHEN excluded.verified AND NOT customer_identities.verified \
                  THEN excluded.source ELSE customer_identities.source END",
    )
    .bind(shop_id)
    .bind(customer_id)
    .bind(kind.as_str())
    .bind(value)
    .bind(verified)
    .bind(source)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    sqlx::query_scalar(
        "SELECT id FROM customer_identities WHERE customer_id = $1 AND kind = $2 AND value = $3",
    )
    .bind(customer_id)
    .bind(kind.as_str())
    .bind(value)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)
}

/// Records the contact fields of a spine `create_customer`/`update_customer` (any caller: widget,
/// imports, demo) as unverified identities, normalized; a value that does not normalize is left
/// out (the column keeps it as given).
pub(crate) async fn record_identities(
    conn: &mut Conn,
    shop_id: Id,
    customer_id: Id,
    c: &NewCustomer,
) -> Result<()> {
    let fields = [
        (IdentityKind::Email, &c.email),
        (IdentityKind::Phone, &c.phone),
        (IdentityKind::ExternalId, &c.external_id),
    ];
    for (kind, raw) in fields {
        let Some(raw) = raw.as_deref().filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        if let Ok(value) = normalize_identity(kind, "value", raw) {
            put_identity(conn, shop_id, customer_id, kind, &value, false, "contact").await?;
        }
    }
    Ok(())
}

async fn verified_value(
    conn: &mut Conn,
    customer_id: Id,
    kind: IdentityKind,
) -> Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT value FROM customer_identities WHERE customer_id = $1 AND kind = $2 AND verified = $3 \
         ORDER BY id LIMIT 1",
    )
    .bind(customer_id)
    .bind(kind.as_str())
    .bind(true)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)
}

async fn verified_holder(
    conn: &mut Conn,
    shop_id: Id,
    kind: IdentityKind,
    value: &str,
) -> Result<Option<Id>> {
    sqlx::query_scalar(
        "SELECT customer_id FROM customer_identities WHERE shop_id = $1 AND kind = $2 AND value = $3 \
         AND verified = $4",
    )
    .bind(shop_id)
    .bind(kind.as_str())
    .bind(value)
    .bind(true)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)
}

fn is_anonymous_name(name: &str) -> bool {
    name.is_empty() || name.starts_with("访客")
}

/// Merges `source` into `target` inside the caller's transaction: every row of the source moves
/// (see [`MERGE_MOVED_TABLES`]); on conflicts the target wins and the source fills gaps.
async fn merge_into(
    conn: &mut Conn,
    shop_id: Id,
    target: Id,
    source: Id,
    actor: &str,
) -> Result<()> {
    if target == source {
        return Err(Error::validation(
            "source_id: cannot merge a customer into itself",
        ));
    }
    for id in [target, source] {
        match merged_into_of(conn, shop_id, id).await? {
            None => return Err(Error::not_found("customer")),
            Some(Some(_)) => {
                return Err(Error::conflict(format!(
                    "customer {id} was already merged into another record"
                )));
            }
            Some(None) => {}
        }
    }
    if ROW_LOCKS {
        // Lock both records (in id order) so a shopper message, which locks its customer first,
        // cannot open a conversation on the source while its rows move.
        let sql =
            format!("SELECT id FROM customers WHERE id = $1 OR id = $2 ORDER BY id{FOR_UPDATE}");
        sqlx::query(AssertSqlSafe(sql))
            .bind(target)
            .bind(source)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    let t_ext = verified_value(conn, target, IdentityKind::ExternalId).await?;
    let s_ext = verified_value(conn, source, IdentityKind::ExternalId).await?;
    if let (Some(a), Some(b)) = (&t_ext, &s_ext)
        && a != b
    {
        return Err(Error::conflict(format!(
            "source_id: both customers have verified external ids ({a} and {b}); they are different people"
        )));
    }
    let s = load_profile(conn, shop_id, source)
        .await?
        .ok_or_else(|| Error::not_found("customer"))?;
    let t = load_profile(conn, shop_id, target)
        .await?
        .ok_or_else(|| Error::not_found("customer"))?;
    let now = Millis::now().0;
    // One default address at most: the target's default stays.
    if t.addresses.iter().any(|a| a.is_default) {
        sqlx::query("UPDATE customer_addresses SET is_default = $1 WHERE customer_id = $2")
            .bind(false)
            .bind(source)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    for table in MERGE_MOVED_TABLES {
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE {table} SET customer_id = $1 WHERE customer_id = $2 AND shop_id = $3"
        )))
        .bind(target)
        .bind(source)
        .bind(shop_id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    // Segments: the source's metrics described orders that are now the target's. The flow
    // recomputes the target once the merge is committed.
    sqlx::query("DELETE FROM customer_metrics WHERE customer_id = $1 AND shop_id = $2")
        .bind(source)
        .bind(shop_id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    // Tags and custom values: union; the target's value wins where both have one.
    sqlx::query(
        "INSERT INTO customer_tags (shop_id, customer_id, tag, created_at) \
         SELECT shop_id, $1, tag, created_at FROM customer_tags WHERE customer_id = $2 \
         ON CONFLICT DO NOTHING",
    )
    .bind(target)
    .bind(source)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    sqlx::query(
        "INSERT INTO customer_field_values (shop_id, customer_id, field_id, value) \
         SELECT shop_id, $1, field_id, value FROM customer_field_values WHERE customer_id = $2 \
         ON CONFLICT DO NOTHING",
    )
    .bind(target)
    .bind(source)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    for table in ["customer_tags", "customer_field_values"] {
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE customer_id = $1"
        )))
        .bind(source)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    // Identities: a value both hold stays once (verified if either was); the rest move. The
    // source's row is removed before the target's is upgraded so the one-verified-holder index
    // never sees two.
    for i in &s.identities {
        if let Some(mine) = t
            .identities
            .iter()
            .find(|m| m.kind == i.kind && m.value == i.value)
        {
            sqlx::query("DELETE FROM customer_identities WHERE id = $1")
                .bind(i.id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            if i.verified && !mine.verified {
                sqlx::query("UPDATE customer_identities SET verified = $1 WHERE id = $2")
                    .bind(true)
                    .bind(mine.id)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
            }
        } else {
            sqlx::query("UPDATE customer_identities SET customer_id = $1 WHERE id = $2")
                .bind(target)
                .bind(i.id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        }
    }
    // The profile: the target wins, the source fills gaps. A block on either side stays (a
    // blocked shopper must not get out of it by being merged).
    let name = if is_anonymous_name(&t.name) && !is_anonymous_name(&s.name) {
        s.name.clone()
    } else {
        t.name.clone()
    };
    let (blocked, reason, blocked_at) = if t.blocked {
        (true, t.blocked_reason.clone(), t.blocked_at)
    } else if s.blocked {
        (true, s.blocked_reason.clone(), s.blocked_at)
    } else {
        (false, None, None)
    };
    sqlx::query(AssertSqlSafe(format!(
        "UPDATE customers SET name = $1, email = COALESCE(email, $2), phone = COALESCE(phone, $3), \
         external_id = CASE WHEN CAST($4 AS TEXT) IS NOT NULL THEN CAST($4 AS TEXT) \
           ELSE COALESCE(external_id, $5) END, \
         source = COALESCE(source, $6), \
         consent_sms = (consent_sms OR $7), consent_email = (consent_email OR $8), \
         blocked = $9, blocked_reason = $10, blocked_at = $11, \
         created_at = {LEAST}(created_at, $12), last_contact_at = {GREATEST}(last_contact_at, $13), \
         updated_at = $14 WHERE id = $15",
    )))
    .bind(&name)
    .bind(&s.email)
    .bind(&s.phone)
    .bind(t_ext.as_ref().or(s_ext.as_ref()))
    .bind(&s.external_id)
    .bind(s.source.map(SourceChannel::as_str))
    .bind(s.consent_sms)
    .bind(s.consent_email)
    .bind(blocked)
    .bind(reason)
    .bind(blocked_at.map(|m| m.0))
    .bind(s.created_at.0)
    .bind(s.last_contact_at.map_or(0, |m| m.0))
    .bind(now)
    .bind(target)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    sqlx::query("UPDATE customers SET merged_into = $1, updated_at = $2 WHERE id = $3")
        .bind(target)
        .bind(now)
        .bind(source)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    // Records merged into the source earlier now point at the final target.
    sqlx::query("UPDATE customers SET merged_into = $1 WHERE merged_into = $2 AND shop_id = $3")
        .bind(target)
        .bind(source)
        .bind(shop_id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    insert_event(
        conn,
        shop_id,
        target,
        &CustomerEvent {
            kind: "customer.merged",
            title: actor.to_owned(),
            summary: format!("#{source} {}", s.name),
            ref_type: Some("customer"),
            ref_id: Some(source),
        },
        now,
    )
    .await
}

async fn create_plain_customer(conn: &mut Conn, shop_id: Id, name: &str) -> Result<Id> {
    let now = Millis::now().0;
    sqlx::query_scalar(
        "INSERT INTO customers (shop_id, name, created_at, last_contact_at, updated_at) \
         VALUES ($1, $2, $3, $3, $3) RETURNING id",
    )
    .bind(shop_id)
    .bind(name)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)
}

async fn apply_verified(
    conn: &mut Conn,
    shop_id: Id,
    current: Option<Id>,
    claim: &VerifiedClaim,
) -> Result<VerifiedOutcome> {
    let now = Millis::now().0;
    // The shopper's current record, if it is live in this shop.
    let current = match current {
        Some(c) if merged_into_of(conn, shop_id, c).await? == Some(None) => Some(c),
        _ => None,
    };
    let current_ext = match current {
        Some(c) => verified_value(conn, c, IdentityKind::ExternalId).await?,
        None => None,
    };
    // Only a record with no verified external id may become (or join) this one: an anonymous
    // device is attached, a device logged in as someone else is not.
    let attachable = current.filter(|_| current_ext.is_none());
    let holder =
        verified_holder(conn, shop_id, IdentityKind::ExternalId, &claim.external_id).await?;
    let mut merged = Vec::new();
    let (customer_id, keep_token, newly_verified) = match holder {
        Some(h) if current == Some(h) => (h, true, false),
        Some(h) => match attachable {
            Some(c) => {
                merge_into(conn, shop_id, h, c, "identity verification").await?;
                merged.push(c);
                (h, true, false)
            }
            None => (h, false, false),
        },
        None => {
            let id = match attachable {
                Some(c) => c,
                None => {
                    let name = claim
                        .name
                        .clone()
                        .unwrap_or_else(|| claim.external_id.clone());
                    create_plain_customer(conn, shop_id, &name).await?
                }
            };
            put_identity(
                conn,
                shop_id,
                id,
                IdentityKind::ExternalId,
                &claim.external_id,
                true,
                "signed",
            )
            .await?;
            (id, attachable.is_some(), true)
        }
    };
    // The shop vouches for these too: verified where nobody else holds them verified; a record
    // that holds one verified and can be merged (no other verified external id) joins this one.
    for (kind, value) in [
        (IdentityKind::Email, &claim.email),
        (IdentityKind::Phone, &claim.phone),
    ] {
        let Some(value) = value else { continue };
        let other = verified_holder(conn, shop_id, kind, value).await?;
        let verified = match other {
            Some(o) if o != customer_id => {
                let o_ext = verified_value(conn, o, IdentityKind::ExternalId).await?;
                if o_ext.is_none_or(|x| x == claim.external_id) {
                    merge_into(conn, shop_id, customer_id, o, "identity verification").await?;
                    merged.push(o);
                    true
                } else {
                    false
                }
            }
            _ => true,
        };
        put_identity(conn, shop_id, customer_id, kind, value, verified, "signed").await?;
    }
    sqlx::query(AssertSqlSafe(format!(
        "UPDATE customers SET name = COALESCE($1, name), email = COALESCE(email, $2), \
         phone = COALESCE(phone, $3), external_id = $4, \
         last_contact_at = {GREATEST}(last_contact_at, $5), updated_at = $5 WHERE id = $6",
    )))
    .bind(&claim.name)
    .bind(&claim.email)
    .bind(&claim.phone)
    .bind(&claim.external_id)
    .bind(now)
    .bind(customer_id)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    if newly_verified {
        insert_event(
            conn,
            shop_id,
            customer_id,
            &CustomerEvent {
                kind: "identity.verified",
                title: String::new(),
                summary: claim.external_id.clone(),
                ref_type: None,
                ref_id: None,
            },
            now,
        )
        .await?;
    }
    Ok(VerifiedOutcome {
        customer_id,
        merged,
        keep_token,
    })
}

async fn list(conn: &mut Conn, shop_id: Id, f: &CustomerFilter) -> Result<CustomerPage> {
    // Our own constant fragments with numbered placeholders; values are bound in the same order.
    let sort_col = match f.sort {
        CustomerSort::LastContact => "c.last_contact_at",
        CustomerSort::Created => "c.created_at",
    };
    let mut sql = format!(
        "SELECT {SUMMARY_COLUMNS}, {sort_col} AS sort_value FROM customers c \
         WHERE c.shop_id = $1 AND c.merged_into IS NULL"
    );
    enum B {
        I(i64),
        S(String),
        Bool(bool),
    }
    let mut binds: Vec<B> = vec![B::I(shop_id)];
    let p = |binds: &mut Vec<B>, b: B| {
        binds.push(b);
        format!("${}", binds.len())
    };
    if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let like = format!("%{}%", q.to_lowercase().replace(['%', '_', '\\'], ""));
        let name = p(&mut binds, B::S(like));
        // Identity values are normalized, so try the query normalized too (a phone typed with
        // spaces or +86 still matches).
        let norm = normalize_phone("q", q)
            .or_else(|_| normalize_email("q", q))
            .unwrap_or_else(|_| q.to_owned());
        let exact = p(&mut binds, B::S(norm));
        let bare = q.replace(['%', '_', '\\'], "");
        let prefix = p(&mut binds, B::S(format!("{bare}%")));
        // E-mails are stored lower-case; external ids as given: try both spellings.
        let lower = p(&mut binds, B::S(format!("{}%", bare.to_lowercase())));
        sql.push_str(&format!(
            " AND (LOWER(c.name) LIKE {name} OR EXISTS (SELECT 1 FROM customer_identities i \
             WHERE i.customer_id = c.id AND (i.value = {exact} OR i.value LIKE {prefix} \
             OR i.value LIKE {lower})))"
        ));
    }
    if let Some(tag) = &f.tag {
        let t = p(&mut binds, B::S(tag.clone()));
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id AND t.tag = {t})"
        ));
    }
    if let Some(source) = f.source {
        let s = p(&mut binds, B::S(source.as_str().to_owned()));
        sql.push_str(&format!(" AND c.source = {s}"));
    }
    if let Some(from) = f.contact_from {
        let v = p(&mut binds, B::I(from.0));
        sql.push_str(&format!(" AND c.last_contact_at >= {v}"));
    }
    if let Some(to) = f.contact_to {
        let v = p(&mut binds, B::I(to.0));
        sql.push_str(&format!(" AND c.last_contact_at < {v}"));
    }
    if let Some(blocked) = f.blocked {
        let v = p(&mut binds, B::Bool(blocked));
        sql.push_str(&format!(" AND c.blocked = {v}"));
    }
    // Segments and spend come from the computed metrics (segments area); a customer never
    // computed matches no segment condition.
    let segmented = f.segment != Default::default();
    if segmented || f.spend_min_cents.is_some() || f.spend_max_cents.is_some() {
        let mut cond = String::new();
        if segmented {
            let (fragment, values) =
                super::segments::segment_filter_sql(&f.segment, "m", binds.len() + 1);
            cond.push_str(&fragment);
            binds.extend(values.into_iter().map(|v| B::S(v.to_owned())));
        }
        if let Some(min) = f.spend_min_cents {
            let v = p(&mut binds, B::I(min));
            cond.push_str(&format!(" AND m.revenue_cents >= {v}"));
        }
        if let Some(max) = f.spend_max_cents {
            let v = p(&mut binds, B::I(max));
            cond.push_str(&format!(" AND m.revenue_cents < {v}"));
        }
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM customer_metrics m WHERE m.customer_id = c.id{cond})"
        ));
    }
    if let Some((value, id)) = f.after {
        let v = p(&mut binds, B::I(value));
        let i = p(&mut binds, B::I(id));
        sql.push_str(&format!(" AND ({sort_col}, c.id) < ({v}, {i})"));
    }
    let limit = p(&mut binds, B::I(f.limit + 1));
    sql.push_str(&format!(
        " ORDER BY {sort_col} DESC, c.id DESC LIMIT {limit}"
    ));
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for b in binds {
        query = match b {
            B::I(v) => query.bind(v),
            B::S(v) => query.bind(v),
            B::Bool(v) => query.bind(v),
        };
    }
    let rows = query.fetch_all(&mut *conn).await.map_err(db_err)?;
    let mut customers = Vec::new();
    let mut last = None;
    for r in rows.iter().take(f.limit as usize) {
        let c = summary_from_row(r)?;
        last = Some((r.get::<i64, _>("sort_value"), c.id));
        customers.push(c);
    }
    let next_cursor = if rows.len() as i64 > f.limit {
        last.map(|(v, id)| encode_cursor(v, id))
    } else {
        None
    };
    fill_tags(conn, &mut customers).await?;
    Ok(CustomerPage {
        customers,
        next_cursor,
    })
}

async fn set_tags(conn: &mut Conn, shop_id: Id, customer_id: Id, tags: &[String]) -> Result<()> {
    let now = Millis::now().0;
    sqlx::query("DELETE FROM customer_tags WHERE customer_id = $1")
        .bind(customer_id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    for (i, tag) in tags.iter().enumerate() {
        sqlx::query(
            "INSERT INTO customer_tags (shop_id, customer_id, tag, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(shop_id)
        .bind(customer_id)
        .bind(tag)
        // Keep the given order when listing (ordered by created_at).
        .bind(now + i as i64)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

async fn touch_updated(conn: &mut Conn, customer_id: Id) -> Result<()> {
    sqlx::query("UPDATE customers SET updated_at = $1 WHERE id = $2")
        .bind(Millis::now().0)
        .bind(customer_id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

async fn load_address(conn: &mut Conn, customer_id: Id, id: Id) -> Result<Address> {
    let row = sqlx::query(
        "SELECT id, recipient, phone, region, detail, is_default, created_at FROM customer_addresses \
         WHERE id = $1 AND customer_id = $2",
    )
    .bind(id)
    .bind(customer_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or_else(|| Error::not_found("address"))?;
    Ok(address_from_row(&row))
}

async fn clear_default_address(conn: &mut Conn, customer_id: Id) -> Result<()> {
    sqlx::query("UPDATE customer_addresses SET is_default = $1 WHERE customer_id = $2")
        .bind(false)
        .bind(customer_id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

async fn load_field_def(conn: &mut Conn, shop_id: Id, id: Id) -> Result<FieldDef> {
    let row = sqlx::query(
        "SELECT id, key, label, kind, options, position FROM customer_field_defs \
         WHERE id = $1 AND shop_id = $2",
    )
    .bind(id)
    .bind(shop_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or_else(|| Error::not_found("field"))?;
    field_def_from_row(&row)
}

fn field_conflict(e: Error) -> Error {
    if e.code == kefu_core::ErrorCode::Conflict {
        Error::conflict("key: a field with this key already exists")
    } else {
        e
    }
}

#[async_trait]
impl CustomerStore for DbStore {
    async fn customer_profile(&self, shop_id: Id, id: Id) -> Result<Option<CustomerProfile>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        load_profile(&mut conn, shop_id, id).await
    }

    async fn update_customer_profile(
        &self,
        shop_id: Id,
        id: Id,
        change: &CustomerChange,
    ) -> Result<()> {
        let ch = change.clone();
        tx!(self, |conn| {
            live_customer(conn, shop_id, id).await?;
            let now = Millis::now().0;
            sqlx::query(
                    "UPDATE customers SET name = COALESCE($1, name), \
                     email = CASE WHEN $2 THEN $3 ELSE email END, \
                     phone = CASE WHEN $4 THEN $5 ELSE phone END, \
                     source = CASE WHEN $6 THEN $7 ELSE source END, \
                     consent_sms = COALESCE($8, consent_sms), consent_email = COALESCE($9, consent_email), \
                     updated_at = $10 WHERE id = $11",
                )
                .bind(&ch.name)
                .bind(ch.email.is_some())
                .bind(ch.email.clone().flatten())
                .bind(ch.phone.is_some())
                .bind(ch.phone.clone().flatten())
                .bind(ch.source.is_some())
                .bind(ch.source.flatten().map(SourceChannel::as_str))
                .bind(ch.consent_sms)
                .bind(ch.consent_email)
                .bind(now)
                .bind(id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            // A primary e-mail/phone an agent types is also one of the customer's identities.
            if let Some(Some(e)) = &ch.email {
                put_identity(conn, shop_id, id, IdentityKind::Email, e, false, "agent").await?;
            }
            if let Some(Some(p)) = &ch.phone {
                put_identity(conn, shop_id, id, IdentityKind::Phone, p, false, "agent").await?;
            }
            if let Some(tags) = &ch.tags {
                set_tags(conn, shop_id, id, tags).await?;
            }
            for (field_id, value) in &ch.custom_fields {
                match value {
                    Some(v) => {
                        sqlx::query(
                                "INSERT INTO customer_field_values (shop_id, customer_id, field_id, value) \
                                 VALUES ($1, $2, $3, $4) ON CONFLICT (customer_id, field_id) \
                                 DO UPDATE SET value = excluded.value",
                            )
                            .bind(shop_id)
                            .bind(id)
                            .bind(field_id)
                            .bind(v)
                            .execute(&mut *conn)
                            .await
                            .map_err(db_err)?;
                    }
                    None => {
                        sqlx::query(
                                "DELETE FROM customer_field_values WHERE customer_id = $1 AND field_id = $2",
                            )
                            .bind(id)
                            .bind(field_id)
                            .execute(&mut *conn)
                            .await
                            .map_err(db_err)?;
                    }
                }
            }
            Ok(())
        })
    }

    async fn list_customers(&self, shop_id: Id, filter: &CustomerFilter) -> Result<CustomerPage> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        list(&mut conn, shop_id, filter).await
    }

    async fn record_contact(
        &self,
        shop_id: Id,
        customer_id: Id,
        contact: &NewCustomer,
        source: &str,
    ) -> Result<()> {
        let c = contact.clone();
        let source = source.to_owned();
        tx!(self, |conn| {
            live_customer(conn, shop_id, customer_id).await?;
            for (kind, value) in [
                (IdentityKind::Email, &c.email),
                (IdentityKind::Phone, &c.phone),
                (IdentityKind::ExternalId, &c.external_id),
            ] {
                if let Some(v) = value {
                    put_identity(conn, shop_id, customer_id, kind, v, false, &source).await?;
                }
            }
            let now = Millis::now().0;
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE customers SET email = COALESCE(email, $1), phone = COALESCE(phone, $2), \
                 external_id = COALESCE(external_id, $3), \
                 last_contact_at = {GREATEST}(last_contact_at, $4), updated_at = $4 WHERE id = $5",
            )))
            .bind(&c.email)
            .bind(&c.phone)
            .bind(&c.external_id)
            .bind(now)
            .bind(customer_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            Ok(())
        })
    }

    async fn touch_customer(&self, shop_id: Id, customer_id: Id, at: Millis) -> Result<()> {
        tx!(self, |conn| {
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE customers SET last_contact_at = {GREATEST}(last_contact_at, $1) \
                 WHERE id = $2 AND shop_id = $3",
            )))
            .bind(at.0)
            .bind(customer_id)
            .bind(shop_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            Ok(())
        })
    }

    async fn apply_verified_identity(
        &self,
        shop_id: Id,
        current: Option<Id>,
        claim: &VerifiedClaim,
    ) -> Result<VerifiedOutcome> {
        let claim = claim.clone();
        tx!(self, |conn| {
            lock_shop(conn, ShopLock::CustomerMerge, shop_id).await?;
            apply_verified(conn, shop_id, current, &claim).await
        })
    }

    async fn add_identity(
        &self,
        shop_id: Id,
        customer_id: Id,
        kind: IdentityKind,
        value: &str,
        source: &str,
    ) -> Result<Identity> {
        let (value, source) = (value.to_owned(), source.to_owned());
        tx!(self, |conn| {
            live_customer(conn, shop_id, customer_id).await?;
            let id = put_identity(conn, shop_id, customer_id, kind, &value, false, &source).await?;
            touch_updated(conn, customer_id).await?;
            let row = sqlx::query(
                    "SELECT id, kind, value, verified, source, created_at FROM customer_identities WHERE id = $1",
                )
                .bind(id)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
            identity_from_row(&row)
        })
    }

    async fn delete_identity(&self, shop_id: Id, customer_id: Id, identity_id: Id) -> Result<()> {
        tx!(self, |conn| {
            live_customer(conn, shop_id, customer_id).await?;
            let verified: Option<bool> = sqlx::query_scalar(
                "SELECT verified FROM customer_identities WHERE id = $1 AND customer_id = $2",
            )
            .bind(identity_id)
            .bind(customer_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
            match verified {
                None => return Err(Error::not_found("identity")),
                // A verified identity is what ties the shop's account to this record; removing
                // it by hand would let the next login create a stranger.
                Some(true) => {
                    return Err(Error::conflict(
                        "identity: a verified identity cannot be removed",
                    ));
                }
                Some(false) => {}
            }
            sqlx::query("DELETE FROM customer_identities WHERE id = $1")
                .bind(identity_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            touch_updated(conn, customer_id).await
        })
    }

    async fn add_address(&self, shop_id: Id, customer_id: Id, a: &NewAddress) -> Result<Address> {
        let a = a.clone();
        tx!(self, |conn| {
            live_customer(conn, shop_id, customer_id).await?;
            let has_default: bool = sqlx::query_scalar(
                    "SELECT COUNT(*) > 0 FROM customer_addresses WHERE customer_id = $1 AND is_default = $2",
                )
                .bind(customer_id)
                .bind(true)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
            // The first address is the default; a new default replaces the old one.
            let is_default = a.is_default || !has_default;
            if is_default {
                clear_default_address(conn, customer_id).await?;
            }
            let id: Id = sqlx::query_scalar(
                    "INSERT INTO customer_addresses (shop_id, customer_id, recipient, phone, region, detail, \
                     is_default, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                )
                .bind(shop_id)
                .bind(customer_id)
                .bind(&a.recipient)
                .bind(&a.phone)
                .bind(&a.region)
                .bind(&a.detail)
                .bind(is_default)
                .bind(Millis::now().0)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
            touch_updated(conn, customer_id).await?;
            load_address(conn, customer_id, id).await
        })
    }

    async fn update_address(
        &self,
        shop_id: Id,
        customer_id: Id,
        address_id: Id,
        a: &NewAddress,
    ) -> Result<Address> {
        let a = a.clone();
        tx!(self, |conn| {
            live_customer(conn, shop_id, customer_id).await?;
            let old = load_address(conn, customer_id, address_id).await?;
            if a.is_default {
                clear_default_address(conn, customer_id).await?;
            }
            sqlx::query(
                    "UPDATE customer_addresses SET recipient = $1, phone = $2, region = $3, detail = $4, \
                     is_default = $5 WHERE id = $6",
                )
                .bind(&a.recipient)
                .bind(&a.phone)
                .bind(&a.region)
                .bind(&a.detail)
                .bind(a.is_default || old.is_default)
                .bind(address_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            touch_updated(conn, customer_id).await?;
            load_address(conn, customer_id, address_id).await
        })
    }

    async fn delete_address(&self, shop_id: Id, customer_id: Id, address_id: Id) -> Result<()> {
        tx!(self, |conn| {
            live_customer(conn, shop_id, customer_id).await?;
            load_address(conn, customer_id, address_id).await?;
            sqlx::query("DELETE FROM customer_addresses WHERE id = $1")
                .bind(address_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            touch_updated(conn, customer_id).await
        })
    }

    async fn add_note(
        &self,
        shop_id: Id,
        customer_id: Id,
        author_id: Option<Id>,
        author_name: &str,
        body: &str,
    ) -> Result<Note> {
        let (author_name, body) = (author_name.to_owned(), body.to_owned());
        tx!(self, |conn| {
            live_customer(conn, shop_id, customer_id).await?;
            let now = Millis::now().0;
            let id: Id = sqlx::query_scalar(
                    "INSERT INTO customer_notes (shop_id, customer_id, author_id, author_name, body, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(shop_id)
                .bind(customer_id)
                .bind(author_id)
                .bind(&author_name)
                .bind(&body)
                .bind(now)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
            touch_updated(conn, customer_id).await?;
            Ok(Note {
                id,
                author_id,
                author_name: owned!(author_name),
                body: owned!(body),
                created_at: Millis(now),
            })
        })
    }

    async fn delete_note(&self, shop_id: Id, customer_id: Id, note_id: Id) -> Result<()> {
        tx!(self, |conn| {
            live_customer(conn, shop_id, customer_id).await?;
            let done = sqlx::query("DELETE FROM customer_notes WHERE id = $1 AND customer_id = $2")
                .bind(note_id)
                .bind(customer_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            if done.rows_affected() == 0 {
                return Err(Error::not_found("note"));
            }
            touch_updated(conn, customer_id).await
        })
    }

    async fn list_field_defs(&self, shop_id: Id) -> Result<Vec<FieldDef>> {
        sqlx::query(
            "SELECT id, key, label, kind, options, position FROM customer_field_defs \
             WHERE shop_id = $1 ORDER BY position, id",
        )
        .bind(shop_id)
        .fetch_all(self.reader())
        .await
        .map_err(db_err)?
        .iter()
        .map(field_def_from_row)
        .collect()
    }

    async fn create_field_def(&self, shop_id: Id, def: &FieldDefInput) -> Result<FieldDef> {
        let d = def.clone();
        tx!(self, |conn| {
            let options = serde_json::to_string(&d.options).map_err(Error::internal)?;
            let id: Id = sqlx::query_scalar(
                    "INSERT INTO customer_field_defs (shop_id, key, label, kind, options, position, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                )
                .bind(shop_id)
                .bind(&d.key)
                .bind(&d.label)
                .bind(d.kind.as_str())
                .bind(options)
                .bind(d.position)
                .bind(Millis::now().0)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)
                .map_err(field_conflict)?;
            load_field_def(conn, shop_id, id).await
        })
    }

    async fn update_field_def(&self, shop_id: Id, id: Id, def: &FieldDefInput) -> Result<FieldDef> {
        let d = def.clone();
        tx!(self, |conn| {
            let old = load_field_def(conn, shop_id, id).await?;
            if old.kind != d.kind {
                // Stored values were checked against the old kind; changing it would leave
                // values that no longer fit.
                return Err(Error::validation(
                    "kind: cannot change the kind of an existing field; delete it and create a new one",
                ));
            }
            let options = serde_json::to_string(&d.options).map_err(Error::internal)?;
            sqlx::query(
                "UPDATE customer_field_defs SET key = $1, label = $2, options = $3, position = $4 \
                     WHERE id = $5",
            )
            .bind(&d.key)
            .bind(&d.label)
            .bind(options)
            .bind(d.position)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)
            .map_err(field_conflict)?;
            load_field_def(conn, shop_id, id).await
        })
    }

    async fn delete_field_def(&self, shop_id: Id, id: Id) -> Result<()> {
        tx!(self, |conn| {
            load_field_def(conn, shop_id, id).await?;
            sqlx::query("DELETE FROM customer_field_values WHERE field_id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            sqlx::query("DELETE FROM customer_field_defs WHERE id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(())
        })
    }

    async fn merge_customers(
        &self,
        shop_id: Id,
        target: Id,
        source: Id,
        actor: &str,
    ) -> Result<()> {
        let actor = actor.to_owned();
        tx!(self, |conn| {
            lock_shop(conn, ShopLock::CustomerMerge, shop_id).await?;
            merge_into(conn, shop_id, target, source, &actor).await
        })
    }

    async fn merge_suggestions(&self, shop_id: Id, limit: i64) -> Result<Vec<MergeSuggestion>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        // Pairs of live customers sharing an identity value, except pairs that hold two different
        // verified external ids (those are different people and cannot be merged).
        let pairs: Vec<(Id, Id, String, String)> = sqlx::query_as(
            "SELECT a.customer_id, b.customer_id, a.kind, a.value FROM customer_identities a \
             JOIN customer_identities b ON b.shop_id = a.shop_id AND b.kind = a.kind \
               AND b.value = a.value AND b.customer_id > a.customer_id \
             JOIN customers ca ON ca.id = a.customer_id AND ca.merged_into IS NULL \
             JOIN customers cb ON cb.id = b.customer_id AND cb.merged_into IS NULL \
             WHERE a.shop_id = $1 AND NOT EXISTS ( \
               SELECT 1 FROM customer_identities x JOIN customer_identities y \
                 ON y.customer_id = b.customer_id AND y.kind = 'external_id' AND y.verified = $2 \
               WHERE x.customer_id = a.customer_id AND x.kind = 'external_id' AND x.verified = $2 \
                 AND x.value <> y.value) \
             ORDER BY b.customer_id DESC, a.customer_id DESC LIMIT $3",
        )
        .bind(shop_id)
        .bind(true)
        .bind(limit * 3)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        let mut out: Vec<MergeSuggestion> = Vec::new();
        for (a, b, kind, value) in pairs {
            // One suggestion per pair, whatever number of values they share.
            if out.iter().any(|s| s.a.id == a && s.b.id == b) {
                continue;
            }
            let mut sa = live_customer(&mut conn, shop_id, a).await?;
            let mut sb = live_customer(&mut conn, shop_id, b).await?;
            sa.tags = tags_of(&mut conn, a).await?;
            sb.tags = tags_of(&mut conn, b).await?;
            out.push(MergeSuggestion {
                a: sa,
                b: sb,
                reason: IdentityKind::parse(&kind)?,
                value,
            });
            if out.len() as i64 >= limit {
                break;
            }
        }
        Ok(out)
    }

    async fn set_blocked(
        &self,
        shop_id: Id,
        customer_id: Id,
        blocked: bool,
        reason: Option<&str>,
        actor: &str,
    ) -> Result<()> {
        let (reason, actor) = (reason.map(str::to_owned), actor.to_owned());
        tx!(self, |conn| {
            live_customer(conn, shop_id, customer_id).await?;
            let now = Millis::now().0;
            sqlx::query(
                    "UPDATE customers SET blocked = $1, blocked_reason = $2, blocked_at = $3, updated_at = $4 \
                     WHERE id = $5",
                )
                .bind(blocked)
                .bind(reason.as_deref().filter(|_| blocked))
                .bind(blocked.then_some(now))
                .bind(now)
                .bind(customer_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            let event = if blocked {
                CustomerEvent {
                    kind: "customer.blocked",
                    title: actor.to_string(),
                    summary: reason.clone().unwrap_or_default(),
                    ref_type: None,
                    ref_id: None,
                }
            } else {
                CustomerEvent {
                    kind: "customer.unblocked",
                    title: actor.to_string(),
                    summary: String::new(),
                    ref_type: None,
                    ref_id: None,
                }
            };
            insert_event(conn, shop_id, customer_id, &event, now).await
        })
    }

    async fn record_customer_event(
        &self,
        shop_id: Id,
        customer_id: Id,
        event: &CustomerEvent,
    ) -> Result<()> {
        let event = event.clone();
        tx!(self, |conn| {
            live_customer(conn, shop_id, customer_id).await?;
            insert_event(conn, shop_id, customer_id, &event, Millis::now().0).await
        })
    }

    async fn timeline(
        &self,
        shop_id: Id,
        customer_id: Id,
        before: Option<&str>,
        limit: i64,
        agent_view: Option<Id>,
    ) -> Result<TimelinePage> {
        let (at, src, id) = match before {
            Some(c) => decode_timeline_cursor(c)?,
            None => (i64::MAX, 0, 0),
        };
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        if merged_into_of(&mut conn, shop_id, customer_id)
            .await?
            .is_none()
        {
            return Err(Error::not_found("customer"));
        }
        let union = TIMELINE_SOURCES.join(" UNION ALL ");
        let sql = format!(
            "SELECT at, src, id, kind, title, summary, ref_type, ref_id FROM ({union}) t \
             WHERE (t.at < $3) OR (t.at = $3 AND t.src < $4) OR (t.at = $3 AND t.src = $4 AND t.id < $5) \
             ORDER BY t.at DESC, t.src DESC, t.id DESC LIMIT $6"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(shop_id)
            .bind(customer_id)
            .bind(at)
            .bind(src)
            .bind(id)
            .bind(limit + 1)
            .bind(agent_view)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        let mut items: Vec<TimelineItem> = rows
            .iter()
            .map(|r| {
                let (at, src, id): (i64, i64, i64) = (r.get("at"), r.get("src"), r.get("id"));
                TimelineItem {
                    kind: r.get("kind"),
                    at: Millis(at),
                    title: r.get("title"),
                    summary: r.get("summary"),
                    ref_type: r.get("ref_type"),
                    ref_id: r.get("ref_id"),
                    cursor: format!("{at}.{src}.{id}"),
                }
            })
            .collect();
        let next_cursor = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|i| i.cursor.clone())
        } else {
            None
        };
        Ok(TimelinePage { items, next_cursor })
    }

    async fn identity_secret(&self, shop_id: Id) -> Result<String> {
        let existing: Option<String> =
            sqlx::query_scalar("SELECT secret FROM shop_identity_secrets WHERE shop_id = $1")
                .bind(shop_id)
                .fetch_optional(self.reader())
                .await
                .map_err(db_err)?;
        if let Some(s) = existing {
            return Ok(s);
        }
        let fresh = generate_identity_secret();
        tx!(self, |conn| {
            // Another request may have created it meanwhile: keep the first one.
            sqlx::query(
                    "INSERT INTO shop_identity_secrets (shop_id, secret, rotated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (shop_id) DO NOTHING",
                )
                .bind(shop_id)
                .bind(&fresh)
                .bind(Millis::now().0)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            sqlx::query_scalar("SELECT secret FROM shop_identity_secrets WHERE shop_id = $1")
                .bind(shop_id)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)
        })
    }

    async fn rotate_identity_secret(&self, shop_id: Id, secret: &str) -> Result<String> {
        let secret = secret.to_owned();
        tx!(self, |conn| {
            sqlx::query(
                    "INSERT INTO shop_identity_secrets (shop_id, secret, rotated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (shop_id) DO UPDATE SET secret = excluded.secret, rotated_at = excluded.rotated_at",
                )
                .bind(shop_id)
                .bind(&secret)
                .bind(Millis::now().0)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(owned!(secret))
        })
    }
}

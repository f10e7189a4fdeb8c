//! kefu-store's implementation of [`kefu_core::tickets::TicketStore`]: categories (the default
//! complaint categories seeded lazily per shop, like the scripts library), custom field
//! definitions, tickets with their per-shop numbers, thread, links, tags, attachments, audit rows,
//! compensations, merges and saved views.
//!
//! The rules (status moves, the complaint gate, what a change audits) are kefu-core's
//! [`apply_patch`] and [`status_after_entry`], run on the row read inside the write; on PostgreSQL
//! that read locks the ticket row ([`FOR_UPDATE_OF_T`]), so concurrent changes apply one after the
//! other, each to the latest row.

use super::prelude::*;
use async_trait::async_trait;
use kefu_core::customers::FieldKind;
use kefu_core::model::{CustomerRef, Id, TeamRef};
use kefu_core::sla_policies::SlaState;
use kefu_core::tickets::*;
use kefu_core::time::Millis;
use kefu_core::{Error, ErrorCode, Result};
use std::collections::BTreeMap;

const TICKET_SELECT: &str = "SELECT t.id, t.shop_id, t.number, t.subject, t.description, \
       t.customer_id, cu.name AS customer_name, t.category_id, c.key AS category_key, \
       c.name AS category_name, c.parent_id AS category_parent_id, p.key AS category_parent_key, \
       c.is_complaint AS category_is_complaint, t.priority, t.status, t.assignee_id, \
       u.name AS assignee_name, t.team_id, tm.name AS team_name, t.channel, \
       t.shared_with_customer, t.custom_fields, \
       t.tags, t.root_causes, t.handling_result, t.merged_into_id, t.created_by, t.created_at, \
       t.updated_at, t.first_public_reply_at, t.resolved_at, t.closed_at \
     FROM tickets t \
     LEFT JOIN customers cu ON cu.id = t.customer_id \
     LEFT JOIN ticket_categories c ON c.id = t.category_id \
     LEFT JOIN ticket_categories p ON p.id = c.parent_id \
     LEFT JOIN users u ON u.id = t.assignee_id \
     LEFT JOIN teams tm ON tm.id = t.team_id";

fn json_vec(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

fn json_text(v: &serde_json::Value) -> String {
    v.to_string()
}

fn list_json(v: &[String]) -> String {
    json_text(&serde_json::json!(v))
}

fn map_json(v: &BTreeMap<String, String>) -> String {
    json_text(&serde_json::json!(v))
}

fn ticket_from_row(r: &DbRow) -> Result<Ticket> {
    let number: i64 = r.get("number");
    let customer_id: Option<Id> = r.get("customer_id");
    let category_id: Option<Id> = r.get("category_id");
    let team_id: Option<Id> = r.get("team_id");
    let priority: String = r.get("priority");
    let status: String = r.get("status");
    let channel: String = r.get("channel");
    let custom_fields: String = r.get("custom_fields");
    let tags: String = r.get("tags");
    let root_causes: String = r.get("root_causes");
    Ok(Ticket {
        id: r.get("id"),
        shop_id: r.get("shop_id"),
        number,
        display_number: display_number(number),
        subject: r.get("subject"),
        description: r.get("description"),
        customer: customer_id.map(|id| CustomerRef {
            id,
            name: r
                .get::<Option<String>, _>("customer_name")
                .unwrap_or_default(),
        }),
        category: category_id.map(|id| CategoryRef {
            id,
            key: r
                .get::<Option<String>, _>("category_key")
                .unwrap_or_default(),
            name: r
                .get::<Option<String>, _>("category_name")
                .unwrap_or_default(),
            parent_id: r.get("category_parent_id"),
            parent_key: r.get("category_parent_key"),
            is_complaint: r
                .get::<Option<bool>, _>("category_is_complaint")
                .unwrap_or(false),
        }),
        priority: Priority::parse(&priority)
            .ok_or_else(|| Error::internal(format!("stored priority '{priority}'")))?,
        status: TicketStatus::parse(&status)
            .ok_or_else(|| Error::internal(format!("stored status '{status}'")))?,
        assignee_id: r.get("assignee_id"),
        assignee_name: r.get("assignee_name"),
        team: team_id.map(|id| TeamRef {
            id,
            name: r.get::<Option<String>, _>("team_name").unwrap_or_default(),
        }),
        channel: TicketChannel::parse(&channel)?,
        shared_with_customer: r.get("shared_with_customer"),
        custom_fields: serde_json::from_str(&custom_fields).unwrap_or_default(),
        tags: json_vec(&tags),
        root_causes: json_vec(&root_causes),
        handling_result: r.get("handling_result"),
        merged_into_id: r.get("merged_into_id"),
        created_by: r.get("created_by"),
        created_at: Millis(r.get("created_at")),
        updated_at: Millis(r.get("updated_at")),
        first_public_reply_at: r.get::<Option<i64>, _>("first_public_reply_at").map(Millis),
        resolved_at: r.get::<Option<i64>, _>("resolved_at").map(Millis),
        closed_at: r.get::<Option<i64>, _>("closed_at").map(Millis),
        sla: None,
    })
}

async fn load_ticket(conn: &mut Conn, shop_id: Id, id: Id, lock: bool) -> Result<Option<Ticket>> {
    let sql = format!(
        "{TICKET_SELECT} WHERE t.id = $1 AND t.shop_id = $2{}",
        if lock { FOR_UPDATE_OF_T } else { "" }
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .bind(shop_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    row.as_ref().map(ticket_from_row).transpose()
}

async fn must_ticket(conn: &mut Conn, shop_id: Id, id: Id) -> Result<Ticket> {
    load_ticket(conn, shop_id, id, true)
        .await?
        .ok_or_else(|| Error::not_found("ticket"))
}

// ---- categories ----

const CATEGORY_COLUMNS: &str = "id, parent_id, key, name, position, is_complaint, archived";

fn category_from_row(r: &DbRow) -> TicketCategory {
    TicketCategory {
        id: r.get("id"),
        parent_id: r.get("parent_id"),
        key: r.get("key"),
        name: r.get("name"),
        position: r.get("position"),
        is_complaint: r.get("is_complaint"),
        archived: r.get("archived"),
    }
}

async fn is_seeded(conn: &mut Conn, shop_id: Id) -> Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM ticket_category_libraries WHERE shop_id = $1)")
        .bind(shop_id)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)
}

/// Seeds the default complaint categories into a shop that never had them (a no-op otherwise).
async fn seed_categories(conn: &mut Conn, shop_id: Id) -> Result<()> {
    let now = Millis::now().0;
    // The marker first: a concurrent seeder (PostgreSQL) waits on it and then finds it taken.
    let claimed = sqlx::query(
        "INSERT INTO ticket_category_libraries (shop_id, seeded_at) VALUES ($1, $2) \
         ON CONFLICT (shop_id) DO NOTHING",
    )
    .bind(shop_id)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    if claimed.rows_affected() == 0 {
        return Ok(());
    }
    for (i, cat) in DEFAULT_COMPLAINT_CATEGORIES.iter().enumerate() {
        let parent: Option<Id> = sqlx::query_scalar(
            "INSERT INTO ticket_categories (shop_id, parent_id, key, name, position, is_complaint, \
               archived, created_at, updated_at) VALUES ($1, NULL, $2, $3, $4, $5, $6, $7, $7) \
             ON CONFLICT (shop_id, key) DO NOTHING RETURNING id",
        )
        .bind(shop_id)
        .bind(cat.key)
        .bind(cat.name)
        .bind(10 * (i as i64 + 1))
        .bind(true)
        .bind(false)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        // A key the shop already uses keeps its own category (and children).
        let Some(parent) = parent else { continue };
        for (j, (key, name)) in cat.children.iter().enumerate() {
            sqlx::query(
                "INSERT INTO ticket_categories (shop_id, parent_id, key, name, position, \
                   is_complaint, archived, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (shop_id, key) DO NOTHING",
            )
            .bind(shop_id)
            .bind(parent)
            .bind(*key)
            .bind(*name)
            .bind(10 * (j as i64 + 1))
            .bind(true)
            .bind(false)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        }
    }
    Ok(())
}

async fn list_categories(conn: &mut Conn, shop_id: Id) -> Result<Vec<TicketCategory>> {
    let sql = format!(
        "SELECT {CATEGORY_COLUMNS} FROM ticket_categories WHERE shop_id = $1 \
         ORDER BY COALESCE(parent_id, id), parent_id IS NOT NULL, position, id"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(shop_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    let mut all: Vec<TicketCategory> = rows.iter().map(category_from_row).collect();
    // Parents by position, each followed by its children by position.
    let parents: Vec<TicketCategory> = {
        let mut p: Vec<TicketCategory> = all
            .iter()
            .filter(|c| c.parent_id.is_none())
            .cloned()
            .collect();
        p.sort_by_key(|c| (c.position, c.id));
        p
    };
    let mut out = Vec::with_capacity(all.len());
    for p in parents {
        let mut kids: Vec<TicketCategory> = all
            .iter()
            .filter(|c| c.parent_id == Some(p.id))
            .cloned()
            .collect();
        kids.sort_by_key(|c| (c.position, c.id));
        out.push(p);
        out.extend(kids);
    }
    all.clear();
    Ok(out)
}

async fn load_category(conn: &mut Conn, shop_id: Id, id: Id) -> Result<Option<TicketCategory>> {
    let sql =
        format!("SELECT {CATEGORY_COLUMNS} FROM ticket_categories WHERE id = $1 AND shop_id = $2");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .bind(shop_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(row.as_ref().map(category_from_row))
}

/// The category as a ticket carries it; `not_found` when it is not the shop's, 422 when archived.
async fn category_ref(conn: &mut Conn, shop_id: Id, id: Id) -> Result<CategoryRef> {
    let row = sqlx::query(
        "SELECT c.id, c.key, c.name, c.parent_id, p.key AS parent_key, c.is_complaint, c.archived \
         FROM ticket_categories c LEFT JOIN ticket_categories p ON p.id = c.parent_id \
         WHERE c.id = $1 AND c.shop_id = $2",
    )
    .bind(id)
    .bind(shop_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or_else(|| Error::not_found("category"))?;
    if row.get::<bool, _>("archived") {
        return Err(Error::validation(
            "category_id: this category is archived; pick another",
        ));
    }
    Ok(CategoryRef {
        id: row.get("id"),
        key: row.get("key"),
        name: row.get("name"),
        parent_id: row.get("parent_id"),
        parent_key: row.get("parent_key"),
        is_complaint: row.get("is_complaint"),
    })
}

fn category_err(e: sqlx::Error) -> Error {
    let e = db_err(e);
    if e.code == ErrorCode::Conflict {
        Error::conflict("key: a category with this key already exists")
    } else {
        e
    }
}

async fn insert_category(
    conn: &mut Conn,
    shop_id: Id,
    c: &NewTicketCategory,
) -> Result<TicketCategory> {
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM ticket_categories WHERE shop_id = $1")
            .bind(shop_id)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
    if count >= MAX_CATEGORIES {
        return Err(Error::validation(format!(
            "a shop has at most {MAX_CATEGORIES} ticket categories"
        )));
    }
    let mut is_complaint = c.is_complaint.unwrap_or(true);
    if let Some(parent_id) = c.parent_id {
        let parent = load_category(conn, shop_id, parent_id)
            .await?
            .ok_or_else(|| Error::not_found("parent category"))?;
        if parent.parent_id.is_some() {
            return Err(Error::validation(
                "parent_id: categories have two levels; pick a top-level parent",
            ));
        }
        is_complaint = c.is_complaint.unwrap_or(parent.is_complaint);
    }
    let key = match &c.key {
        Some(k) => k.clone(),
        None => format!("cat_{}", &kefu_core::token::generate("")[..10]),
    };
    let now = Millis::now().0;
    let sql = format!(
        "INSERT INTO ticket_categories (shop_id, parent_id, key, name, position, is_complaint, \
           archived, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, COALESCE($5, (SELECT COALESCE(MAX(position), 0) + 10 \
           FROM ticket_categories WHERE shop_id = $1)), $6, $7, $8, $8) \
         RETURNING {CATEGORY_COLUMNS}"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(shop_id)
        .bind(c.parent_id)
        .bind(&key)
        .bind(&c.name)
        .bind(c.position)
        .bind(is_complaint)
        .bind(false)
        .bind(now)
        .fetch_one(&mut *conn)
        .await
        .map_err(category_err)?;
    Ok(category_from_row(&row))
}

// ---- custom field definitions ----

const FIELD_COLUMNS: &str = "id, key, label, kind, options, position, required, archived";

fn field_from_row(r: &DbRow) -> Result<TicketFieldDef> {
    let kind: String = r.get("kind");
    let options: String = r.get("options");
    Ok(TicketFieldDef {
        id: r.get("id"),
        key: r.get("key"),
        label: r.get("label"),
        kind: FieldKind::parse(&kind)?,
        options: json_vec(&options),
        position: r.get("position"),
        required: r.get("required"),
        archived: r.get("archived"),
    })
}

async fn field_defs(conn: &mut Conn, shop_id: Id) -> Result<Vec<TicketFieldDef>> {
    let sql = format!(
        "SELECT {FIELD_COLUMNS} FROM ticket_field_defs WHERE shop_id = $1 ORDER BY position, id"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(shop_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    rows.iter().map(field_from_row).collect()
}

// ---- references ----

async fn customer_ref(conn: &mut Conn, shop_id: Id, id: Id) -> Result<CustomerRef> {
    let name: Option<String> =
        sqlx::query_scalar("SELECT name FROM customers WHERE id = $1 AND shop_id = $2")
            .bind(id)
            .bind(shop_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    name.map(|name| CustomerRef { id, name })
        .ok_or_else(|| Error::not_found("customer"))
}

async fn agent_name(conn: &mut Conn, shop_id: Id, id: Id) -> Result<String> {
    let name: Option<String> =
        sqlx::query_scalar("SELECT name FROM users WHERE id = $1 AND shop_id = $2")
            .bind(id)
            .bind(shop_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    name.ok_or_else(|| Error::not_found("assignee"))
}

async fn team_ref(conn: &mut Conn, shop_id: Id, id: Id) -> Result<TeamRef> {
    let name: Option<String> =
        sqlx::query_scalar("SELECT name FROM teams WHERE id = $1 AND shop_id = $2")
            .bind(id)
            .bind(shop_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    name.map(|name| TeamRef { id, name })
        .ok_or_else(|| Error::not_found("team"))
}

/// What a link shows, checking the thing linked is the shop's.
async fn link_label(conn: &mut Conn, shop_id: Id, link: &NewTicketLink) -> Result<String> {
    match link.kind {
        LinkKind::Conversation => {
            let name: Option<String> = sqlx::query_scalar(
                "SELECT cu.name FROM conversations c JOIN customers cu ON cu.id = c.customer_id \
                 WHERE c.id = $1 AND c.shop_id = $2",
            )
            .bind(link.ref_id)
            .bind(shop_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
            name.map(|n| format!("#{} {n}", link.ref_id))
                .ok_or_else(|| Error::not_found("conversation"))
        }
        LinkKind::Order => {
            let no: Option<String> =
                sqlx::query_scalar("SELECT order_no FROM orders WHERE id = $1 AND shop_id = $2")
                    .bind(link.ref_id)
                    .bind(shop_id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?;
            no.ok_or_else(|| Error::not_found("order"))
        }
        LinkKind::Call => Err(Error::validation("links: call links are not available yet")),
    }
}

async fn insert_link(
    conn: &mut Conn,
    shop_id: Id,
    ticket_id: Id,
    link: &NewTicketLink,
    now: i64,
) -> Result<(TicketLink, bool)> {
    let label = link_label(conn, shop_id, link).await?;
    let inserted = sqlx::query(
        "INSERT INTO ticket_links (shop_id, ticket_id, kind, ref_id, label, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (ticket_id, kind, ref_id) DO NOTHING",
    )
    .bind(shop_id)
    .bind(ticket_id)
    .bind(link.kind.as_str())
    .bind(link.ref_id)
    .bind(&label)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?
    .rows_affected()
        == 1;
    let row = sqlx::query(
        "SELECT id, ticket_id, kind, ref_id, label, created_at FROM ticket_links \
         WHERE ticket_id = $1 AND kind = $2 AND ref_id = $3",
    )
    .bind(ticket_id)
    .bind(link.kind.as_str())
    .bind(link.ref_id)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok((link_from_row(&row)?, inserted))
}

fn link_from_row(r: &DbRow) -> Result<TicketLink> {
    let kind: String = r.get("kind");
    Ok(TicketLink {
        id: r.get("id"),
        ticket_id: r.get("ticket_id"),
        kind: LinkKind::parse(&kind)?,
        ref_id: r.get("ref_id"),
        label: r.get("label"),
        created_at: Millis(r.get("created_at")),
    })
}

// ---- writing a ticket ----

async fn insert_audit(
    conn: &mut Conn,
    shop_id: Id,
    ticket_id: Id,
    actor: Actor,
    changes: &[FieldChange],
    now: i64,
) -> Result<()> {
    for c in changes {
        sqlx::query(
            "INSERT INTO ticket_audit (shop_id, ticket_id, actor_type, actor_id, field, old_value, \
               new_value, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(shop_id)
        .bind(ticket_id)
        .bind(actor.kind.as_str())
        .bind(actor.id)
        .bind(&c.field)
        .bind(&c.old_value)
        .bind(&c.new_value)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

fn audit(field: &str, old: Option<String>, new: Option<String>) -> FieldChange {
    FieldChange {
        field: field.to_owned(),
        old_value: old,
        new_value: new,
    }
}

/// Writes every mutable column of `t` (the row was read in this transaction).
async fn write_ticket(conn: &mut Conn, t: &Ticket) -> Result<()> {
    sqlx::query(
        "UPDATE tickets SET subject = $1, description = $2, customer_id = $3, category_id = $4, \
           priority = $5, status = $6, assignee_id = $7, team_id = $8, custom_fields = $9, \
           tags = $10, root_causes = $11, handling_result = $12, merged_into_id = $13, \
           updated_at = $14, first_public_reply_at = $15, resolved_at = $16, closed_at = $17, \
           shared_with_customer = $18 \
         WHERE id = $19 AND shop_id = $20",
    )
    .bind(&t.subject)
    .bind(&t.description)
    .bind(t.customer.as_ref().map(|c| c.id))
    .bind(t.category.as_ref().map(|c| c.id))
    .bind(t.priority.as_str())
    .bind(t.status.as_str())
    .bind(t.assignee_id)
    .bind(t.team.as_ref().map(|t| t.id))
    .bind(map_json(&t.custom_fields))
    .bind(list_json(&t.tags))
    .bind(list_json(&t.root_causes))
    .bind(&t.handling_result)
    .bind(t.merged_into_id)
    .bind(t.updated_at.0)
    .bind(t.first_public_reply_at.map(|m| m.0))
    .bind(t.resolved_at.map(|m| m.0))
    .bind(t.closed_at.map(|m| m.0))
    .bind(t.shared_with_customer)
    .bind(t.id)
    .bind(t.shop_id)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn set_tags(conn: &mut Conn, shop_id: Id, ticket_id: Id, tags: &[String]) -> Result<()> {
    sqlx::query("DELETE FROM ticket_tags WHERE ticket_id = $1")
        .bind(ticket_id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    for tag in tags {
        sqlx::query("INSERT INTO ticket_tags (ticket_id, shop_id, tag) VALUES ($1, $2, $3)")
            .bind(ticket_id)
            .bind(shop_id)
            .bind(tag)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

/// Binds uploads of `actor` that wait for a ticket to `ticket_id` (and `entry_id`).
async fn bind_attachments(
    conn: &mut Conn,
    shop_id: Id,
    ticket_id: Id,
    entry_id: Option<Id>,
    ids: &[Id],
    actor: Actor,
) -> Result<()> {
    for id in ids {
        let done = sqlx::query(
            "UPDATE ticket_attachments SET ticket_id = $1, entry_id = $2 \
             WHERE id = $3 AND shop_id = $4 AND ticket_id IS NULL AND uploader_type = $5 \
               AND uploader_id = $6",
        )
        .bind(ticket_id)
        .bind(entry_id)
        .bind(id)
        .bind(shop_id)
        .bind(actor.kind.as_str())
        .bind(actor.id.unwrap_or(0))
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        if done.rows_affected() != 1 {
            return Err(Error::validation(format!(
                "attachment_ids: {id} is not an upload of yours waiting to be attached"
            )));
        }
    }
    Ok(())
}

async fn insert_entry(
    conn: &mut Conn,
    shop_id: Id,
    ticket_id: Id,
    kind: EntryKind,
    actor: Actor,
    body: &str,
    now: i64,
) -> Result<Id> {
    sqlx::query_scalar(
        "INSERT INTO ticket_entries (shop_id, ticket_id, kind, author_type, author_id, body, \
           created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(shop_id)
    .bind(ticket_id)
    .bind(kind.as_str())
    .bind(actor.kind.as_str())
    .bind(actor.id)
    .bind(body)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)
}

const ATTACHMENT_COLUMNS: &str = "id, ticket_id, entry_id, uploader_type, uploader_id, sha256, \
     name, mime, size, width, height, has_thumb, created_at";

fn attachment_from_row(r: &DbRow) -> Result<TicketAttachment> {
    let uploader_type: String = r.get("uploader_type");
    Ok(TicketAttachment {
        id: r.get("id"),
        ticket_id: r.get("ticket_id"),
        entry_id: r.get("entry_id"),
        name: r.get("name"),
        mime: r.get("mime"),
        size: r.get("size"),
        width: r.get("width"),
        height: r.get("height"),
        thumb: r.get("has_thumb"),
        created_at: Millis(r.get("created_at")),
        sha256: r.get("sha256"),
        uploader_type: ActorType::parse(&uploader_type)?,
        uploader_id: r.get("uploader_id"),
    })
}

/// The ticket itself and the tickets merged into it.
const THREAD_OF: &str = "(x.ticket_id = $2 OR x.ticket_id IN (SELECT id FROM tickets WHERE merged_into_id = $2 AND shop_id = $1))";

async fn load_entries(
    conn: &mut Conn,
    shop_id: Id,
    ticket_id: Id,
    public_only: bool,
    only_entry: Option<Id>,
) -> Result<Vec<TicketEntry>> {
    let mut sql = format!(
        "SELECT x.id, x.ticket_id, x.kind, x.author_type, x.author_id, x.body, x.created_at, \
           CASE x.author_type WHEN 'agent' THEN (SELECT name FROM users WHERE id = x.author_id) \
             WHEN 'customer' THEN (SELECT name FROM customers WHERE id = x.author_id) END \
             AS author_name \
         FROM ticket_entries x WHERE x.shop_id = $1 AND {THREAD_OF}"
    );
    if public_only {
        sql.push_str(" AND x.kind IN ('public', 'customer')");
    }
    if only_entry.is_some() {
        sql.push_str(" AND x.id = $3");
    }
    sql.push_str(" ORDER BY x.created_at, x.id");
    let mut q = sqlx::query(AssertSqlSafe(sql))
        .bind(shop_id)
        .bind(ticket_id);
    if let Some(e) = only_entry {
        q = q.bind(e);
    }
    let rows = q.fetch_all(&mut *conn).await.map_err(db_err)?;
    let att_sql = format!(
        "SELECT {ATTACHMENT_COLUMNS} FROM ticket_attachments x \
         WHERE x.shop_id = $1 AND {THREAD_OF} AND x.entry_id IS NOT NULL ORDER BY x.id"
    );
    let atts = sqlx::query(AssertSqlSafe(att_sql))
        .bind(shop_id)
        .bind(ticket_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    let mut by_entry: BTreeMap<Id, Vec<TicketAttachment>> = BTreeMap::new();
    for a in &atts {
        let a = attachment_from_row(a)?;
        by_entry.entry(a.entry_id.unwrap_or(0)).or_default().push(a);
    }
    rows.iter()
        .map(|r| {
            let kind: String = r.get("kind");
            let author_type: String = r.get("author_type");
            let id: Id = r.get("id");
            Ok(TicketEntry {
                id,
                ticket_id: r.get("ticket_id"),
                kind: EntryKind::parse(&kind)?,
                author_type: ActorType::parse(&author_type)?,
                author_id: r.get("author_id"),
                author_name: r.get("author_name"),
                body: r.get("body"),
                attachments: by_entry.remove(&id).unwrap_or_default(),
                created_at: Millis(r.get("created_at")),
            })
        })
        .collect()
}

async fn create(
    conn: &mut Conn,
    shop_id: Id,
    t: &NewTicket,
    origin: &TicketOrigin,
) -> Result<Ticket> {
    let now = Millis::now().0;
    if let Some(id) = t.customer_id {
        customer_ref(conn, shop_id, id).await?;
    }
    if let Some(id) = t.category_id {
        category_ref(conn, shop_id, id).await?;
    }
    if let Some(id) = t.assignee_id {
        agent_name(conn, shop_id, id).await?;
    }
    if let Some(id) = t.team_id {
        team_ref(conn, shop_id, id).await?;
    }
    let defs = field_defs(conn, shop_id).await?;
    let custom = validate_custom_fields(&defs, &t.custom_fields)?;
    let number: i64 = sqlx::query_scalar(
        "INSERT INTO ticket_counters (shop_id, last_number) VALUES ($1, 1) \
         ON CONFLICT (shop_id) DO UPDATE SET last_number = ticket_counters.last_number + 1 \
         RETURNING last_number",
    )
    .bind(shop_id)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    let mut tags = t.tags.clone();
    tags.sort();
    let id: Id = sqlx::query_scalar(
        "INSERT INTO tickets (shop_id, number, subject, description, customer_id, category_id, \
           priority, status, assignee_id, team_id, channel, custom_fields, tags, root_causes, \
           created_by, created_at, updated_at, shared_with_customer) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'new', $8, $9, $10, $11, $12, '[]', $13, $14, $14, $15) \
         RETURNING id",
    )
    .bind(shop_id)
    .bind(number)
    .bind(&t.subject)
    .bind(&t.description)
    .bind(t.customer_id)
    .bind(t.category_id)
    .bind(t.priority.unwrap_or(Priority::Normal).as_str())
    .bind(t.assignee_id)
    .bind(t.team_id)
    .bind(origin.channel.as_str())
    .bind(map_json(&custom))
    .bind(list_json(&tags))
    .bind(match origin.actor.kind {
        ActorType::Agent => origin.actor.id,
        _ => None,
    })
    .bind(now)
    .bind(origin.channel == TicketChannel::Widget || t.shared_with_customer)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    set_tags(conn, shop_id, id, &tags).await?;
    for link in &t.links {
        insert_link(conn, shop_id, id, link, now).await?;
    }
    bind_attachments(conn, shop_id, id, None, &t.attachment_ids, origin.actor).await?;
    for (kind, body) in &origin.entries {
        insert_entry(conn, shop_id, id, *kind, origin.actor, body, now).await?;
    }
    insert_audit(
        conn,
        shop_id,
        id,
        origin.actor,
        &[audit("created", None, Some(display_number(number)))],
        now,
    )
    .await?;
    load_ticket(conn, shop_id, id, false)
        .await?
        .ok_or_else(|| Error::internal("created ticket vanished"))
}

async fn update(
    conn: &mut Conn,
    shop_id: Id,
    id: Id,
    patch: &TicketPatch,
    actor: Actor,
) -> Result<TicketUpdate> {
    let before = must_ticket(conn, shop_id, id).await?;
    let mut refs = PatchRefs::default();
    if let Some(Some(c)) = patch.customer_id {
        refs.customer = Some(customer_ref(conn, shop_id, c).await?);
    }
    if let Some(Some(c)) = patch.category_id
        && before.category.as_ref().is_none_or(|cur| cur.id != c)
    {
        refs.category = Some(category_ref(conn, shop_id, c).await?);
    } else if let Some(Some(_)) = patch.category_id {
        refs.category = before.category.clone();
    }
    if let Some(Some(a)) = patch.assignee_id {
        refs.assignee_name = Some(agent_name(conn, shop_id, a).await?);
    }
    if let Some(Some(t)) = patch.team_id {
        refs.team = Some(team_ref(conn, shop_id, t).await?);
    }
    refs.field_defs = field_defs(conn, shop_id).await?;
    let mut after = before.clone();
    let now = Millis::now();
    let changes = apply_patch(&mut after, patch, &refs, now)?;
    if !changes.is_empty() {
        write_ticket(conn, &after).await?;
        if after.tags != before.tags {
            set_tags(conn, shop_id, id, &after.tags).await?;
        }
        insert_audit(conn, shop_id, id, actor, &changes, now.0).await?;
        after = load_ticket(conn, shop_id, id, false)
            .await?
            .ok_or_else(|| Error::not_found("ticket"))?;
    }
    Ok(TicketUpdate {
        before,
        after,
        changes,
    })
}

async fn add_entry(
    conn: &mut Conn,
    shop_id: Id,
    ticket_id: Id,
    e: &NewEntry,
) -> Result<EntryAdded> {
    let before = must_ticket(conn, shop_id, ticket_id).await?;
    if let Some(target) = before.merged_into_id {
        return Err(Error::conflict(format!(
            "this ticket was merged into another one (id {target}); reply there"
        )));
    }
    let next = status_after_entry(before.status, e.kind)?;
    let now = Millis::now();
    let entry_id = insert_entry(conn, shop_id, ticket_id, e.kind, e.actor, &e.body, now.0).await?;
    bind_attachments(
        conn,
        shop_id,
        ticket_id,
        Some(entry_id),
        &e.attachment_ids,
        e.actor,
    )
    .await?;
    let mut after = before.clone();
    let mut changes = Vec::new();
    if let Some(to) = next {
        changes.push(audit(
            "status",
            Some(before.status.as_str().into()),
            Some(to.as_str().into()),
        ));
        after.status = to;
        if to == TicketStatus::Open {
            after.resolved_at = None;
        }
    }
    if e.kind == EntryKind::Public && after.first_public_reply_at.is_none() {
        after.first_public_reply_at = Some(now);
    }
    after.updated_at = now;
    write_ticket(conn, &after).await?;
    insert_audit(conn, shop_id, ticket_id, e.actor, &changes, now.0).await?;
    let entry = load_entries(conn, shop_id, ticket_id, false, Some(entry_id))
        .await?
        .pop()
        .ok_or_else(|| Error::internal("stored entry vanished"))?;
    Ok(EntryAdded {
        entry,
        before,
        after,
        changes,
    })
}

async fn merge(
    conn: &mut Conn,
    shop_id: Id,
    target_id: Id,
    source_ids: &[Id],
    actor: Actor,
) -> Result<Merged> {
    let mut sources: Vec<Id> = source_ids.to_vec();
    sources.sort_unstable();
    sources.dedup();
    if sources.is_empty() || sources.len() > MAX_BULK {
        return Err(Error::validation(format!(
            "source_ids: 1-{MAX_BULK} tickets to merge"
        )));
    }
    if sources.contains(&target_id) {
        return Err(Error::validation(
            "source_ids: a ticket cannot be merged into itself",
        ));
    }
    let target_before = must_ticket(conn, shop_id, target_id).await?;
    if target_before.merged_into_id.is_some() || target_before.status == TicketStatus::Closed {
        return Err(Error::conflict(
            "the target ticket is closed or merged; pick an open one",
        ));
    }
    let now = Millis::now();
    let mut merged = Vec::new();
    let mut tags = target_before.tags.clone();
    for sid in &sources {
        let before = must_ticket(conn, shop_id, *sid).await?;
        if before.merged_into_id.is_some() || before.status == TicketStatus::Closed {
            return Err(Error::conflict(format!(
                "{} is already closed or merged",
                before.display_number
            )));
        }
        let mut after = before.clone();
        after.merged_into_id = Some(target_id);
        after.status = TicketStatus::Closed;
        after.closed_at = Some(now);
        after.updated_at = now;
        write_ticket(conn, &after).await?;
        let changes = vec![
            audit(
                "merged_into",
                None,
                Some(target_before.display_number.clone()),
            ),
            audit(
                "status",
                Some(before.status.as_str().into()),
                Some("closed".into()),
            ),
        ];
        insert_audit(conn, shop_id, *sid, actor, &changes, now.0).await?;
        insert_entry(
            conn,
            shop_id,
            *sid,
            EntryKind::System,
            actor,
            &format!("已合并到工单 {}", target_before.display_number),
            now.0,
        )
        .await?;
        sqlx::query(
            "INSERT INTO ticket_links (shop_id, ticket_id, kind, ref_id, label, created_at) \
             SELECT shop_id, $1, kind, ref_id, label, $2 FROM ticket_links WHERE ticket_id = $3 \
             ON CONFLICT (ticket_id, kind, ref_id) DO NOTHING",
        )
        .bind(target_id)
        .bind(now.0)
        .bind(*sid)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        for t in &before.tags {
            if !tags.contains(t) {
                tags.push(t.clone());
            }
        }
        merged.push((before, after, changes));
    }
    tags.sort();
    tags.truncate(kefu_core::customers::MAX_TAGS);
    let mut target_after = target_before.clone();
    target_after.updated_at = now;
    target_after.tags = tags;
    write_ticket(conn, &target_after).await?;
    if target_after.tags != target_before.tags {
        set_tags(conn, shop_id, target_id, &target_after.tags).await?;
    }
    let numbers: Vec<String> = merged
        .iter()
        .map(|(b, _, _)| b.display_number.clone())
        .collect();
    let target_changes = vec![audit("merged", None, Some(numbers.join(", ")))];
    insert_audit(conn, shop_id, target_id, actor, &target_changes, now.0).await?;
    insert_entry(
        conn,
        shop_id,
        target_id,
        EntryKind::System,
        actor,
        &format!("合并了工单 {}", numbers.join("、")),
        now.0,
    )
    .await?;
    let target_after = load_ticket(conn, shop_id, target_id, false)
        .await?
        .ok_or_else(|| Error::not_found("ticket"))?;
    let mut out = Vec::new();
    for (before, _, changes) in merged {
        let after = load_ticket(conn, shop_id, before.id, false)
            .await?
            .ok_or_else(|| Error::not_found("ticket"))?;
        out.push(TicketUpdate {
            before,
            after,
            changes,
        });
    }
    Ok(Merged {
        target: TicketUpdate {
            before: target_before,
            after: target_after,
            changes: target_changes,
        },
        sources: out,
    })
}

// ---- listing ----

enum Bind {
    I(i64),
    S(String),
}

/// Escapes LIKE wildcards (with `\` as the escape character).
fn like_pattern(q: &str) -> String {
    let mut out = String::from("%");
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

fn list_sql(shop_id: Id, q: &TicketQuery) -> (String, Vec<Bind>) {
    let f = &q.filter;
    let mut binds = vec![Bind::I(shop_id)];
    // The conditions every branch shares (the statuses make the branches, below).
    let mut cond = String::new();
    let push = |binds: &mut Vec<Bind>, b: Bind| -> String {
        binds.push(b);
        format!("${}", binds.len())
    };
    if let Some(target) = f.merged_into_id {
        let p = push(&mut binds, Bind::I(target));
        cond.push_str(&format!(" AND t.merged_into_id = {p}"));
    } else if !f.include_merged {
        cond.push_str(" AND t.merged_into_id IS NULL");
    }
    if let Some(agent) = q.restrict_to_agent {
        let p = push(&mut binds, Bind::I(agent));
        cond.push_str(&format!(
            " AND (t.assignee_id IS NULL OR t.assignee_id = {p})"
        ));
    }
    if !f.priorities.is_empty() {
        let ps: Vec<String> = f
            .priorities
            .iter()
            .map(|s| push(&mut binds, Bind::S(s.as_str().into())))
            .collect();
        cond.push_str(&format!(" AND t.priority IN ({})", ps.join(", ")));
    }
    if let Some(c) = f.category_id {
        let p = push(&mut binds, Bind::I(c));
        cond.push_str(&format!(
            " AND t.category_id IN (SELECT id FROM ticket_categories \
               WHERE shop_id = $1 AND (id = {p} OR parent_id = {p}))"
        ));
    }
    match f.assignee {
        Some(AssigneeFilter::Me) => {
            let p = push(&mut binds, Bind::I(q.viewer_id));
            cond.push_str(&format!(" AND t.assignee_id = {p}"));
        }
        Some(AssigneeFilter::Agent(a)) => {
            let p = push(&mut binds, Bind::I(a));
            cond.push_str(&format!(" AND t.assignee_id = {p}"));
        }
        Some(AssigneeFilter::Unassigned) => cond.push_str(" AND t.assignee_id IS NULL"),
        None => {}
    }
    if let Some(t) = f.team_id {
        let p = push(&mut binds, Bind::I(t));
        cond.push_str(&format!(" AND t.team_id = {p}"));
    }
    if let Some(c) = f.customer_id {
        let p = push(&mut binds, Bind::I(c));
        cond.push_str(&format!(" AND t.customer_id = {p}"));
    }
    if let Some(c) = f.channel {
        let p = push(&mut binds, Bind::S(c.as_str().into()));
        cond.push_str(&format!(" AND t.channel = {p}"));
    }
    if f.shared_only {
        cond.push_str(" AND t.shared_with_customer = TRUE");
    }
    if let Some(from) = f.created_from {
        let p = push(&mut binds, Bind::I(from.0));
        cond.push_str(&format!(" AND t.created_at >= {p}"));
    }
    if let Some(to) = f.created_to {
        let p = push(&mut binds, Bind::I(to.0));
        cond.push_str(&format!(" AND t.created_at < {p}"));
    }
    if let Some(tag) = &f.tag {
        let p = push(&mut binds, Bind::S(tag.clone()));
        cond.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM ticket_tags g WHERE g.ticket_id = t.id AND g.tag = {p})"
        ));
    }
    if !f.sla.is_empty() {
        // A clock not yet met in one of the asked states, judged at `sla_now` from the stored
        // instants, probed per ticket by the unique `(ticket_id, metric)` index (see
        // kefu_core::sla_policies::clock_state).
        let now = push(&mut binds, Bind::I(f.sla_now.0));
        let states: Vec<String> = f
            .sla
            .iter()
            .map(|s| match s {
                SlaState::Breached => format!(
                    "(k.used_ms > k.target_ms OR k.breached_at IS NOT NULL \
                     OR (k.running_since IS NOT NULL AND k.due_at <= {now}))"
                ),
                SlaState::Warning => format!(
                    "(k.running_since IS NOT NULL AND k.warn_at <= {now} AND k.due_at > {now} \
                     AND k.breached_at IS NULL AND k.used_ms <= k.target_ms)"
                ),
                SlaState::Ok => format!(
                    "(k.running_since IS NOT NULL AND k.due_at > {now} \
                     AND (k.warn_at IS NULL OR k.warn_at > {now}) AND k.breached_at IS NULL)"
                ),
                _ => "(k.running_since IS NULL AND k.breached_at IS NULL \
                      AND k.used_ms <= k.target_ms)"
                    .to_owned(),
            })
            .collect();
        cond.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM ticket_sla_clocks k WHERE k.ticket_id = t.id \
               AND k.met_at IS NULL AND ({}))",
            states.join(" OR ")
        ));
    }
    if let Some(text) = &f.q {
        let like = push(&mut binds, Bind::S(like_pattern(text)));
        match parse_number(text) {
            Some(n) => {
                let p = push(&mut binds, Bind::I(n));
                cond.push_str(&format!(
                    " AND (t.number = {p} OR LOWER(t.subject) LIKE {like} ESCAPE '\\')"
                ));
            }
            None => cond.push_str(&format!(" AND LOWER(t.subject) LIKE {like} ESCAPE '\\'")),
        }
    }
    if let Some(no) = &f.order_no {
        let like = push(&mut binds, Bind::S(like_pattern(no)));
        cond.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM ticket_links l JOIN orders o ON o.id = l.ref_id \
               WHERE l.ticket_id = t.id AND l.kind = 'order' AND o.shop_id = $1 \
               AND LOWER(o.order_no) LIKE {like} ESCAPE '\\')"
        ));
    }
    let col = if f.sort.by_created() {
        "t.created_at"
    } else {
        "t.updated_at"
    };
    let (cmp, dir) = if f.sort.descending() {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    if let Some(c) = q.cursor {
        let a = push(&mut binds, Bind::I(c.at.0));
        let b = push(&mut binds, Bind::I(c.id));
        // The first bound alone is an index range; the second makes it exact.
        cond.push_str(&format!(
            " AND {col} {cmp}= {a} AND ({col} {cmp} {a} OR ({col} = {a} AND t.id {cmp} {b}))"
        ));
    }
    let l = push(&mut binds, Bind::I(q.limit.clamp(1, MAX_PAGE)));
    let order = format!("ORDER BY {col} {dir}, t.id {dir} LIMIT {l}");
    let mut statuses = f.statuses.clone();
    statuses.sort_by_key(|s| s.as_str());
    statuses.dedup();
    let sql = if statuses.is_empty() {
        format!("{TICKET_SELECT} WHERE t.shop_id = $1{cond} {order}")
    } else {
        // One branch per status, each an ordered range of (shop_id, status, time, id) or
        // (shop_id, assignee_id, status, time, id) taking its first page, then merged: a filter
        // that matches few tickets never walks the whole shop in time order looking for them.
        let branches: Vec<String> = statuses
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let p = push(&mut binds, Bind::S(s.as_str().into()));
                format!(
                    "SELECT id FROM (SELECT t.id FROM tickets t WHERE t.shop_id = $1 \
                     AND t.status = {p}{cond} {order}) b{i}"
                )
            })
            .collect();
        format!(
            "{TICKET_SELECT} WHERE t.shop_id = $1 AND t.id IN ({}) {order}",
            branches.join(" UNION ALL ")
        )
    };
    (sql, binds)
}

// ---- saved views ----

const VIEW_COLUMNS: &str = "id, name, filters, position, created_at, updated_at";

fn view_from_row(r: &DbRow) -> TicketView {
    let filters: String = r.get("filters");
    TicketView {
        id: r.get("id"),
        name: r.get("name"),
        filters: serde_json::from_str(&filters).unwrap_or_default(),
        position: r.get("position"),
        created_at: Millis(r.get("created_at")),
        updated_at: Millis(r.get("updated_at")),
    }
}

fn view_err(e: sqlx::Error) -> Error {
    let e = db_err(e);
    if e.code == ErrorCode::Conflict {
        Error::conflict("name: you already have a view with this name")
    } else {
        e
    }
}

fn compensation_from_row(r: &DbRow) -> Result<CompensationRecord> {
    let kind: String = r.get("kind");
    Ok(CompensationRecord {
        id: r.get("id"),
        ticket_id: r.get("ticket_id"),
        kind: serde_json::from_value(serde_json::Value::String(kind.clone()))
            .map_err(|_| Error::internal(format!("stored compensation kind '{kind}'")))?,
        amount_cents: r.get("amount_cents"),
        currency: r.get("currency"),
        cost_cents: r.get("cost_cents"),
        note: r.get("note"),
        created_by: r.get("created_by"),
        created_at: Millis(r.get("created_at")),
    })
}

fn kind_str(k: CompensationKind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn money_text(c: &Compensation, currency: &str) -> String {
    format!(
        "{} {} (cost {})",
        kind_str(c.kind),
        kefu_core::scripts::money(c.amount_cents, currency),
        kefu_core::scripts::money(c.cost_cents, currency)
    )
}

impl DbStore {
    async fn ensure_categories(&self, shop_id: Id) -> Result<()> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        if is_seeded(&mut conn, shop_id).await? {
            return Ok(());
        }
        drop(conn);
        tx!(self, |conn| { seed_categories(conn, shop_id).await })
    }
}

#[async_trait]
impl TicketStore for DbStore {
    async fn ticket_categories(&self, shop_id: Id) -> Result<Vec<TicketCategory>> {
        self.ensure_categories(shop_id).await?;
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        list_categories(&mut conn, shop_id).await
    }

    async fn create_ticket_category(
        &self,
        shop_id: Id,
        category: &NewTicketCategory,
    ) -> Result<TicketCategory> {
        self.ensure_categories(shop_id).await?;
        let c = category.clone();
        tx!(self, |conn| { insert_category(conn, shop_id, &c).await })
    }

    async fn update_ticket_category(
        &self,
        shop_id: Id,
        id: Id,
        patch: &TicketCategoryPatch,
    ) -> Result<TicketCategory> {
        let p = patch.clone();
        tx!(self, |conn| {
            let cur = load_category(conn, shop_id, id)
                .await?
                .ok_or_else(|| Error::not_found("category"))?;
            let sql = format!(
                "UPDATE ticket_categories SET name = $1, position = $2, is_complaint = $3, \
                   archived = $4, updated_at = $5 WHERE id = $6 AND shop_id = $7 \
                 RETURNING {CATEGORY_COLUMNS}"
            );
            let row = sqlx::query(AssertSqlSafe(sql))
                .bind(p.name.clone().unwrap_or(cur.name))
                .bind(p.position.unwrap_or(cur.position))
                .bind(p.is_complaint.unwrap_or(cur.is_complaint))
                .bind(p.archived.unwrap_or(cur.archived))
                .bind(Millis::now().0)
                .bind(id)
                .bind(shop_id)
                .fetch_one(&mut *conn)
                .await
                .map_err(category_err)?;
            Ok(category_from_row(&row))
        })
    }

    async fn delete_ticket_category(&self, shop_id: Id, id: Id) -> Result<()> {
        tx!(self, |conn| {
            if load_category(conn, shop_id, id).await?.is_none() {
                return Err(Error::not_found("category"));
            }
            let used: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM tickets WHERE category_id = $1) \
                   OR EXISTS (SELECT 1 FROM ticket_categories WHERE parent_id = $1)",
            )
            .bind(id)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
            if used {
                return Err(Error::conflict(
                    "the category has tickets or sub-categories; archive it instead",
                ));
            }
            sqlx::query("DELETE FROM ticket_categories WHERE id = $1 AND shop_id = $2")
                .bind(id)
                .bind(shop_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(())
        })
    }

    async fn ticket_field_defs(&self, shop_id: Id) -> Result<Vec<TicketFieldDef>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        field_defs(&mut conn, shop_id).await
    }

    async fn create_ticket_field_def(
        &self,
        shop_id: Id,
        def: &TicketFieldInput,
    ) -> Result<TicketFieldDef> {
        let d = def.clone();
        tx!(self, |conn| {
            let count: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM ticket_field_defs WHERE shop_id = $1")
                    .bind(shop_id)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
            if count >= 50 {
                return Err(Error::validation("a shop has at most 50 ticket fields"));
            }
            let sql = format!(
                "INSERT INTO ticket_field_defs (shop_id, key, label, kind, options, required, \
                   position, archived, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 RETURNING {FIELD_COLUMNS}"
            );
            let row = sqlx::query(AssertSqlSafe(sql))
                .bind(shop_id)
                .bind(&d.key)
                .bind(&d.label)
                .bind(d.kind.as_str())
                .bind(list_json(&d.options))
                .bind(d.required)
                .bind(d.position)
                .bind(d.archived)
                .bind(Millis::now().0)
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| {
                    let e = db_err(e);
                    if e.code == ErrorCode::Conflict {
                        Error::conflict("key: a field with this key already exists")
                    } else {
                        e
                    }
                })?;
            field_from_row(&row)
        })
    }

    async fn update_ticket_field_def(
        &self,
        shop_id: Id,
        id: Id,
        def: &TicketFieldInput,
    ) -> Result<TicketFieldDef> {
        let d = def.clone();
        tx!(self, |conn| {
            let sql = format!(
                "UPDATE ticket_field_defs SET label = $1, options = $2, required = $3, \
                   position = $4, archived = $5 WHERE id = $6 AND shop_id = $7 \
                 RETURNING {FIELD_COLUMNS}"
            );
            let row = sqlx::query(AssertSqlSafe(sql))
                .bind(&d.label)
                .bind(list_json(&d.options))
                .bind(d.required)
                .bind(d.position)
                .bind(d.archived)
                .bind(id)
                .bind(shop_id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?
                .ok_or_else(|| Error::not_found("field"))?;
            let f = field_from_row(&row)?;
            if f.key != d.key || f.kind != d.kind {
                return Err(Error::validation(
                    "key and kind of a field cannot change; create a new field",
                ));
            }
            Ok(f)
        })
    }

    async fn create_ticket(
        &self,
        shop_id: Id,
        ticket: &NewTicket,
        origin: &TicketOrigin,
    ) -> Result<Ticket> {
        self.ensure_categories(shop_id).await?;
        let (t, o) = (ticket.clone(), origin.clone());
        tx!(self, |conn| { create(conn, shop_id, &t, &o).await })
    }

    async fn ticket(&self, shop_id: Id, id: Id) -> Result<Option<Ticket>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        load_ticket(&mut conn, shop_id, id, false).await
    }

    async fn ticket_by_number(&self, shop_id: Id, number: i64) -> Result<Option<Ticket>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        let sql = format!("{TICKET_SELECT} WHERE t.shop_id = $1 AND t.number = $2");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(shop_id)
            .bind(number)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
        row.as_ref().map(ticket_from_row).transpose()
    }

    async fn list_tickets(&self, shop_id: Id, query: &TicketQuery) -> Result<Vec<Ticket>> {
        let (sql, binds) = list_sql(shop_id, query);
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in binds {
            q = match b {
                Bind::I(v) => q.bind(v),
                Bind::S(v) => q.bind(v),
            };
        }
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        let rows = q.fetch_all(&mut *conn).await.map_err(db_err)?;
        rows.iter().map(ticket_from_row).collect()
    }

    async fn update_ticket(
        &self,
        shop_id: Id,
        id: Id,
        patch: &TicketPatch,
        actor: Actor,
    ) -> Result<TicketUpdate> {
        let p = patch.clone();
        tx!(self, |conn| { update(conn, shop_id, id, &p, actor).await })
    }

    async fn add_ticket_entry(
        &self,
        shop_id: Id,
        ticket_id: Id,
        entry: &NewEntry,
    ) -> Result<EntryAdded> {
        let e = entry.clone();
        tx!(self, |conn| {
            add_entry(conn, shop_id, ticket_id, &e).await
        })
    }

    async fn ticket_entries(
        &self,
        shop_id: Id,
        ticket_id: Id,
        public_only: bool,
    ) -> Result<Vec<TicketEntry>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        load_entries(&mut conn, shop_id, ticket_id, public_only, None).await
    }

    async fn ticket_attachments(
        &self,
        shop_id: Id,
        ticket_id: Id,
    ) -> Result<Vec<TicketAttachment>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        let sql = format!(
            "SELECT {ATTACHMENT_COLUMNS} FROM ticket_attachments x \
             WHERE x.shop_id = $1 AND {THREAD_OF} AND x.entry_id IS NULL ORDER BY x.id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(shop_id)
            .bind(ticket_id)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        rows.iter().map(attachment_from_row).collect()
    }

    async fn ticket_audit(&self, shop_id: Id, ticket_id: Id) -> Result<Vec<AuditEntry>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        let rows = sqlx::query(
            "SELECT a.id, a.ticket_id, a.actor_type, a.actor_id, a.field, a.old_value, \
               a.new_value, a.at, CASE a.actor_type \
                 WHEN 'agent' THEN (SELECT name FROM users WHERE id = a.actor_id) \
                 WHEN 'customer' THEN (SELECT name FROM customers WHERE id = a.actor_id) END \
                 AS actor_name \
             FROM ticket_audit a WHERE a.shop_id = $1 AND a.ticket_id = $2 ORDER BY a.at, a.id",
        )
        .bind(shop_id)
        .bind(ticket_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let actor_type: String = r.get("actor_type");
                Ok(AuditEntry {
                    id: r.get("id"),
                    ticket_id: r.get("ticket_id"),
                    actor_type: ActorType::parse(&actor_type)?,
                    actor_id: r.get("actor_id"),
                    actor_name: r.get("actor_name"),
                    field: r.get("field"),
                    old_value: r.get("old_value"),
                    new_value: r.get("new_value"),
                    at: Millis(r.get("at")),
                })
            })
            .collect()
    }

    async fn ticket_links(&self, shop_id: Id, ticket_id: Id) -> Result<Vec<TicketLink>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        let sql = format!(
            "SELECT x.id, x.ticket_id, x.kind, x.ref_id, x.label, x.created_at \
             FROM ticket_links x WHERE x.shop_id = $1 AND {THREAD_OF} ORDER BY x.id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(shop_id)
            .bind(ticket_id)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        rows.iter().map(link_from_row).collect()
    }

    async fn add_ticket_link(
        &self,
        shop_id: Id,
        ticket_id: Id,
        link: &NewTicketLink,
        actor: Actor,
    ) -> Result<TicketLink> {
        let l = link.clone();
        tx!(self, |conn| {
            let mut t = must_ticket(conn, shop_id, ticket_id).await?;
            let now = Millis::now();
            let (link, inserted) = insert_link(conn, shop_id, ticket_id, &l, now.0).await?;
            if inserted {
                t.updated_at = now;
                write_ticket(conn, &t).await?;
                let change = audit(
                    "links",
                    None,
                    Some(format!("{}:{}", l.kind.as_str(), link.label)),
                );
                insert_audit(conn, shop_id, ticket_id, actor, &[change], now.0).await?;
            }
            Ok(link)
        })
    }

    async fn remove_ticket_link(
        &self,
        shop_id: Id,
        ticket_id: Id,
        link_id: Id,
        actor: Actor,
    ) -> Result<()> {
        tx!(self, |conn| {
            let mut t = must_ticket(conn, shop_id, ticket_id).await?;
            let row = sqlx::query(
                "DELETE FROM ticket_links WHERE id = $1 AND ticket_id = $2 AND shop_id = $3 \
                 RETURNING kind, label",
            )
            .bind(link_id)
            .bind(ticket_id)
            .bind(shop_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?
            .ok_or_else(|| Error::not_found("link"))?;
            let now = Millis::now();
            t.updated_at = now;
            write_ticket(conn, &t).await?;
            let kind: String = row.get("kind");
            let label: String = row.get("label");
            let change = audit("links", Some(format!("{kind}:{label}")), None);
            insert_audit(conn, shop_id, ticket_id, actor, &[change], now.0).await
        })
    }

    async fn conversation_tickets(&self, shop_id: Id, conversation_id: Id) -> Result<Vec<Ticket>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        let sql = format!(
            "{TICKET_SELECT} WHERE t.shop_id = $1 AND t.id IN (SELECT ticket_id FROM ticket_links \
               WHERE shop_id = $1 AND kind = 'conversation' AND ref_id = $2) \
             ORDER BY t.created_at DESC, t.id DESC LIMIT 20"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(shop_id)
            .bind(conversation_id)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        rows.iter().map(ticket_from_row).collect()
    }

    async fn merge_tickets(
        &self,
        shop_id: Id,
        target_id: Id,
        source_ids: &[Id],
        actor: Actor,
    ) -> Result<Merged> {
        let s = source_ids.to_vec();
        tx!(self, |conn| {
            merge(conn, shop_id, target_id, &s, actor).await
        })
    }

    async fn add_compensation(
        &self,
        shop_id: Id,
        ticket_id: Id,
        compensation: &Compensation,
        currency: &str,
        actor: Actor,
    ) -> Result<CompensationRecord> {
        let (c, cur) = (compensation.clone(), currency.to_owned());
        tx!(self, |conn| {
            let mut t = must_ticket(conn, shop_id, ticket_id).await?;
            let now = Millis::now();
            let row = sqlx::query(
                "INSERT INTO ticket_compensations (shop_id, ticket_id, kind, amount_cents, \
                   currency, cost_cents, note, created_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 RETURNING id, ticket_id, kind, amount_cents, currency, cost_cents, note, \
                   created_by, created_at",
            )
            .bind(shop_id)
            .bind(ticket_id)
            .bind(kind_str(c.kind))
            .bind(c.amount_cents)
            .bind(&cur)
            .bind(c.cost_cents)
            .bind(&c.note)
            .bind(match actor.kind {
                ActorType::Agent => actor.id,
                _ => None,
            })
            .bind(now.0)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
            t.updated_at = now;
            write_ticket(conn, &t).await?;
            let change = audit("compensation", None, Some(money_text(&c, &cur)));
            insert_audit(conn, shop_id, ticket_id, actor, &[change], now.0).await?;
            compensation_from_row(&row)
        })
    }

    async fn compensations(&self, shop_id: Id, ticket_id: Id) -> Result<Vec<CompensationRecord>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        let rows = sqlx::query(
            "SELECT id, ticket_id, kind, amount_cents, currency, cost_cents, note, created_by, \
               created_at FROM ticket_compensations WHERE shop_id = $1 AND ticket_id = $2 \
             ORDER BY id",
        )
        .bind(shop_id)
        .bind(ticket_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(compensation_from_row).collect()
    }

    async fn delete_compensation(
        &self,
        shop_id: Id,
        ticket_id: Id,
        id: Id,
        actor: Actor,
    ) -> Result<()> {
        tx!(self, |conn| {
            let mut t = must_ticket(conn, shop_id, ticket_id).await?;
            let row = sqlx::query(
                "DELETE FROM ticket_compensations WHERE id = $1 AND ticket_id = $2 \
                   AND shop_id = $3 \
                 RETURNING id, ticket_id, kind, amount_cents, currency, cost_cents, note, \
                   created_by, created_at",
            )
            .bind(id)
            .bind(ticket_id)
            .bind(shop_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?
            .ok_or_else(|| Error::not_found("compensation"))?;
            let gone = compensation_from_row(&row)?;
            let now = Millis::now();
            t.updated_at = now;
            write_ticket(conn, &t).await?;
            let c = Compensation {
                kind: gone.kind,
                amount_cents: gone.amount_cents,
                cost_cents: gone.cost_cents,
                note: gone.note,
            };
            let change = audit("compensation", Some(money_text(&c, &gone.currency)), None);
            insert_audit(conn, shop_id, ticket_id, actor, &[change], now.0).await
        })
    }

    async fn add_ticket_attachment(
        &self,
        shop_id: Id,
        uploader: Actor,
        attachment: NewTicketAttachment,
    ) -> Result<TicketAttachment> {
        tx!(self, |conn| {
            let a = &attachment;
            let sql = format!(
                "INSERT INTO ticket_attachments (shop_id, uploader_type, uploader_id, sha256, \
                   name, mime, size, width, height, has_thumb, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 RETURNING {ATTACHMENT_COLUMNS}"
            );
            let row = sqlx::query(AssertSqlSafe(sql))
                .bind(shop_id)
                .bind(uploader.kind.as_str())
                .bind(uploader.id.unwrap_or(0))
                .bind(&a.sha256)
                .bind(&a.name)
                .bind(&a.mime)
                .bind(a.size)
                .bind(a.width)
                .bind(a.height)
                .bind(a.has_thumb)
                .bind(Millis::now().0)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
            attachment_from_row(&row)
        })
    }

    async fn ticket_attachment(&self, shop_id: Id, id: Id) -> Result<Option<TicketAttachment>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        let sql = format!(
            "SELECT {ATTACHMENT_COLUMNS} FROM ticket_attachments WHERE id = $1 AND shop_id = $2"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .bind(shop_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
        row.as_ref().map(attachment_from_row).transpose()
    }

    async fn ticket_entry_kind(&self, shop_id: Id, entry_id: Id) -> Result<Option<EntryKind>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        let kind: Option<String> =
            sqlx::query_scalar("SELECT kind FROM ticket_entries WHERE id = $1 AND shop_id = $2")
                .bind(entry_id)
                .bind(shop_id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
        kind.map(|k| EntryKind::parse(&k)).transpose()
    }

    async fn ticket_views(&self, shop_id: Id, agent_id: Id) -> Result<Vec<TicketView>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        let sql = format!(
            "SELECT {VIEW_COLUMNS} FROM ticket_views WHERE shop_id = $1 AND agent_id = $2 \
             ORDER BY position, id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(shop_id)
            .bind(agent_id)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(view_from_row).collect())
    }

    async fn create_ticket_view(
        &self,
        shop_id: Id,
        agent_id: Id,
        view: &NewTicketView,
    ) -> Result<TicketView> {
        let v = view.clone();
        tx!(self, |conn| {
            let count: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM ticket_views WHERE shop_id = $1 AND agent_id = $2",
            )
            .bind(shop_id)
            .bind(agent_id)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
            if count >= MAX_VIEWS_PER_AGENT {
                return Err(Error::validation(format!(
                    "at most {MAX_VIEWS_PER_AGENT} saved views per agent"
                )));
            }
            let now = Millis::now().0;
            let sql = format!(
                "INSERT INTO ticket_views (shop_id, agent_id, name, filters, position, \
                   created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
                 RETURNING {VIEW_COLUMNS}"
            );
            let row = sqlx::query(AssertSqlSafe(sql))
                .bind(shop_id)
                .bind(agent_id)
                .bind(&v.name)
                .bind(map_json(&v.filters))
                .bind(v.position)
                .bind(now)
                .fetch_one(&mut *conn)
                .await
                .map_err(view_err)?;
            Ok(view_from_row(&row))
        })
    }

    async fn update_ticket_view(
        &self,
        shop_id: Id,
        agent_id: Id,
        id: Id,
        view: &NewTicketView,
    ) -> Result<TicketView> {
        let v = view.clone();
        tx!(self, |conn| {
            let sql = format!(
                "UPDATE ticket_views SET name = $1, filters = $2, position = $3, updated_at = $4 \
                 WHERE id = $5 AND shop_id = $6 AND agent_id = $7 RETURNING {VIEW_COLUMNS}"
            );
            let row = sqlx::query(AssertSqlSafe(sql))
                .bind(&v.name)
                .bind(map_json(&v.filters))
                .bind(v.position)
                .bind(Millis::now().0)
                .bind(id)
                .bind(shop_id)
                .bind(agent_id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(view_err)?
                .ok_or_else(|| Error::not_found("view"))?;
            Ok(view_from_row(&row))
        })
    }

    async fn delete_ticket_view(&self, shop_id: Id, agent_id: Id, id: Id) -> Result<()> {
        tx!(self, |conn| {
            let done = sqlx::query(
                "DELETE FROM ticket_views WHERE id = $1 AND shop_id = $2 AND agent_id = $3",
            )
            .bind(id)
            .bind(shop_id)
            .bind(agent_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            if done.rows_affected() == 0 {
                return Err(Error::not_found("view"));
            }
            Ok(())
        })
    }
}

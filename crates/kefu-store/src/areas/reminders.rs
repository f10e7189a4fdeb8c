//! kefu-store's implementation of [`kefu_core::reminders::ReminderStore`]: card lookups, reminder
//! settings and templates, candidates, and reminders with their judged outcomes.
//!
//! Orders, items and shipments are read by the names of the shared commerce schema (0004).

use super::conversations::{Insert, insert_message, load_conversation, lock_conversation};
use super::prelude::*;
use async_trait::async_trait;
use kefu_core::cards::{
    MAX_CARD_ITEMS, OrderCard, OrderCardItem, OrderCardLogistics, items_summary,
};
use kefu_core::model::*;
use kefu_core::reminders::*;
use kefu_core::time::Millis;
use kefu_core::{Error, ErrorCode, Result};

const PRODUCT_COLUMNS: &str = "id, sku, name, price_cents, currency, image_url, description";

fn product_from_row(r: &DbRow) -> Product {
    Product {
        id: r.get("id"),
        sku: r.get("sku"),
        name: r.get("name"),
        price_cents: r.get("price_cents"),
        currency: r.get("currency"),
        image_url: r.get("image_url"),
        description: r.get("description"),
    }
}

/// `%` and `_` typed by the user match themselves.
pub(crate) fn like_pattern(q: &str) -> String {
    let escaped = q
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

const TEMPLATE_COLUMNS: &str = "id, name, body, is_default, updated_at";

fn template_from_row(r: &DbRow) -> ReminderTemplate {
    ReminderTemplate {
        id: r.get("id"),
        name: r.get("name"),
        body: r.get("body"),
        is_default: r.get("is_default"),
        updated_at: Millis(r.get("updated_at")),
    }
}

/// A unique-name violation names the field.
fn template_err(e: sqlx::Error) -> Error {
    let e = db_err(e);
    if e.code == ErrorCode::Conflict {
        Error::conflict("name: a template with this name already exists")
    } else {
        e
    }
}

const CANDIDATES_SQL: &str = "WITH consulted AS ( \
       SELECT c.customer_id, MAX(m.created_at) AS last_consulted_at \
       FROM conversations c JOIN messages m ON m.conversation_id = c.id \
       WHERE c.shop_id = $1 AND c.last_message_at >= $2 \
         AND m.sender_type = 'customer' AND m.created_at >= $2 \
       GROUP BY c.customer_id) \
     SELECT o.id, o.order_no, o.status, o.total_cents, o.currency, o.placed_at, o.customer_id, \
       cu.name AS customer_name, cv.id AS conversation_id, cv.assignee_id, k.last_consulted_at, \
       (SELECT COUNT(*) FROM reminders r WHERE r.order_id = o.id) AS reminder_count, \
       (SELECT MAX(r.sent_at) FROM reminders r WHERE r.order_id = o.id) AS last_reminded_at \
     FROM consulted k \
     JOIN orders o ON o.shop_id = $1 AND o.customer_id = k.customer_id \
     JOIN customers cu ON cu.id = o.customer_id \
     JOIN conversations cv ON cv.id = (SELECT MAX(x.id) FROM conversations x \
       WHERE x.customer_id = o.customer_id AND x.shop_id = $1) \
     WHERE o.payment_status = 'unpaid' AND o.status <> 'cancelled' \
     ORDER BY k.last_consulted_at DESC, o.id DESC LIMIT $3";

pub(crate) fn candidate_from_row(r: &DbRow) -> ReminderCandidate {
    let last: Option<i64> = r.get("last_reminded_at");
    ReminderCandidate {
        order_id: r.get("id"),
        order_no: r.get("order_no"),
        status: r.get("status"),
        total_cents: r.get("total_cents"),
        currency: r.get("currency"),
        placed_at: Millis(r.get("placed_at")),
        customer: CustomerRef {
            id: r.get("customer_id"),
            name: r.get("customer_name"),
        },
        conversation_id: r.get("conversation_id"),
        conversation_assignee_id: r.get("assignee_id"),
        last_consulted_at: Millis(r.get("last_consulted_at")),
        reminder_count: r.get("reminder_count"),
        last_reminded_at: last.map(Millis),
    }
}

const REMINDERS_SQL: &str = "SELECT r.id, r.order_id, o.order_no, o.total_cents, o.currency, \
       r.customer_id, cu.name AS customer_name, r.conversation_id, r.message_id, r.agent_id, \
       r.agent_name, r.template_id, r.body, r.forced, r.sent_at, o.paid_at \
     FROM reminders r JOIN orders o ON o.id = r.order_id JOIN customers cu ON cu.id = r.customer_id \
     WHERE r.shop_id = $1 AND r.sent_at >= $2 ORDER BY r.sent_at DESC, r.id DESC LIMIT $3";

fn reminder_from_row(r: &DbRow, outcome_hours: i64, now: Millis) -> Reminder {
    let paid_at: Option<i64> = r.get("paid_at");
    let sent_at = Millis(r.get("sent_at"));
    Reminder {
        id: r.get("id"),
        order_id: r.get("order_id"),
        order_no: r.get("order_no"),
        total_cents: r.get("total_cents"),
        currency: r.get("currency"),
        customer: CustomerRef {
            id: r.get("customer_id"),
            name: r.get("customer_name"),
        },
        conversation_id: r.get("conversation_id"),
        message_id: r.get("message_id"),
        agent_id: r.get("agent_id"),
        agent_name: r.get("agent_name"),
        template_id: r.get("template_id"),
        body: r.get("body"),
        forced: r.get("forced"),
        sent_at,
        paid_at: paid_at.map(Millis),
        outcome: outcome(sent_at, paid_at.map(Millis), outcome_hours, now),
    }
}

async fn load_order_card(
    conn: &mut Conn,
    shop_id: Id,
    order_id: Id,
) -> Result<Option<OrderForCard>> {
    let Some(o) = sqlx::query(
        "SELECT id, customer_id, order_no, status, payment_status, currency, total_cents, placed_at \
         FROM orders WHERE id = $1 AND shop_id = $2",
    )
    .bind(order_id)
    .bind(shop_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    else {
        return Ok(None);
    };
    let lines = sqlx::query(
        "SELECT i.name, i.sku, i.quantity, i.total_cents, COALESCE(p.image_url, '') AS image_url \
         FROM order_items i LEFT JOIN products p ON p.id = i.product_id AND p.shop_id = i.shop_id \
         WHERE i.order_id = $1 AND i.shop_id = $2 ORDER BY i.line_no",
    )
    .bind(order_id)
    .bind(shop_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let shipment = sqlx::query(
        "SELECT carrier, tracking_no, status FROM shipments WHERE order_id = $1 AND shop_id = $2 \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(order_id)
    .bind(shop_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let items: Vec<OrderCardItem> = lines
        .iter()
        .map(|r| OrderCardItem {
            name: r.get("name"),
            sku: r.get("sku"),
            quantity: r.get("quantity"),
            total_cents: r.get("total_cents"),
        })
        .collect();
    let item_count = items.iter().map(|i| i.quantity).sum();
    let image_url = lines
        .iter()
        .map(|r| r.get::<String, _>("image_url"))
        .find(|u| !u.is_empty())
        .unwrap_or_default();
    let summary = items_summary(&items, item_count);
    Ok(Some(OrderForCard {
        customer_id: o.get("customer_id"),
        card: OrderCard {
            order_id: o.get("id"),
            order_no: o.get("order_no"),
            status: o.get("status"),
            payment_status: o.get("payment_status"),
            currency: o.get("currency"),
            total_cents: o.get("total_cents"),
            items: items.into_iter().take(MAX_CARD_ITEMS).collect(),
            items_summary: summary,
            item_count,
            image_url,
            logistics: shipment.map(|s| OrderCardLogistics {
                carrier: s.get("carrier"),
                tracking_no: s.get("tracking_no"),
                status: s.get("status"),
            }),
            placed_at: o.get("placed_at"),
            url: String::new(),
        },
    }))
}

async fn list_templates(conn: &mut Conn, shop_id: Id) -> Result<Vec<ReminderTemplate>> {
    let sql = format!(
        "SELECT {TEMPLATE_COLUMNS} FROM reminder_templates WHERE shop_id = $1 \
         ORDER BY is_default DESC, name"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(shop_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(rows.iter().map(template_from_row).collect())
}

/// Writes a template (new when `id` is `None`); the default flag moves, never disappears.
async fn save_template(
    conn: &mut Conn,
    shop_id: Id,
    id: Option<Id>,
    t: &NewReminderTemplate,
) -> Result<ReminderTemplate> {
    let now = Millis::now().0;
    let has_default: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM reminder_templates WHERE shop_id = $1 AND is_default \
         AND (CAST($2 AS BIGINT) IS NULL OR id <> $2))",
    )
    .bind(shop_id)
    .bind(id)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    // The first template is the default; un-setting the default flag keeps it (pick another).
    let make_default = t.is_default || !has_default;
    if make_default {
        sqlx::query(
            "UPDATE reminder_templates SET is_default = FALSE WHERE shop_id = $1 AND is_default",
        )
        .bind(shop_id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    let saved_id: Id = match id {
        None => sqlx::query_scalar(
            "INSERT INTO reminder_templates (shop_id, name, body, is_default, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        )
        .bind(shop_id)
        .bind(t.name.trim())
        .bind(&t.body)
        .bind(make_default)
        .bind(now)
        .fetch_one(&mut *conn)
        .await
        .map_err(template_err)?,
        Some(id) => sqlx::query_scalar(
            "UPDATE reminder_templates SET name = $1, body = $2, \
             is_default = CASE WHEN $3 THEN TRUE ELSE is_default END, updated_at = $4 \
             WHERE id = $5 AND shop_id = $6 RETURNING id",
        )
        .bind(t.name.trim())
        .bind(&t.body)
        .bind(make_default)
        .bind(now)
        .bind(id)
        .bind(shop_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(template_err)?
        .ok_or_else(|| Error::not_found("template"))?,
    };
    let sql = format!("SELECT {TEMPLATE_COLUMNS} FROM reminder_templates WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(saved_id)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(template_from_row(&row))
}

#[async_trait]
impl ReminderStore for DbStore {
    async fn card_product(&self, shop_id: Id, product_id: Id) -> Result<Option<Product>> {
        let sql = format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1 AND shop_id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(product_id)
            .bind(shop_id)
            .fetch_optional(self.reader())
            .await
            .map_err(db_err)?;
        Ok(row.as_ref().map(product_from_row))
    }

    async fn search_products(&self, shop_id: Id, q: &str, limit: i64) -> Result<Vec<Product>> {
        let sql = format!(
            "SELECT {PRODUCT_COLUMNS} FROM products WHERE shop_id = $1 \
             AND ($2 = '' OR name {CASELESS_LIKE} $3 ESCAPE '\\' OR sku {CASELESS_LIKE} $3 ESCAPE '\\') \
             ORDER BY name, id LIMIT $4"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(shop_id)
            .bind(q)
            .bind(like_pattern(q))
            .bind(limit)
            .fetch_all(self.reader())
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(product_from_row).collect())
    }

    async fn customer_by_external_id(
        &self,
        shop_id: Id,
        external_id: &str,
    ) -> Result<Option<CustomerRef>> {
        let row: Option<(Id, String)> = sqlx::query_as(
            "SELECT id, name FROM customers WHERE shop_id = $1 AND external_id = $2 ORDER BY id LIMIT 1",
        )
        .bind(shop_id)
        .bind(external_id)
        .fetch_optional(self.reader())
        .await
        .map_err(db_err)?;
        Ok(row.map(|(id, name)| CustomerRef { id, name }))
    }

    async fn order_for_card(&self, shop_id: Id, order_id: Id) -> Result<Option<OrderForCard>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        load_order_card(&mut conn, shop_id, order_id).await
    }

    async fn reminder_settings(&self, shop_id: Id) -> Result<ReminderSettings> {
        let row: Option<(i64, i64, String, String)> = sqlx::query_as(
            "SELECT consult_window_hours, outcome_hours, product_url_template, order_url_template \
             FROM reminder_settings WHERE shop_id = $1",
        )
        .bind(shop_id)
        .fetch_optional(self.reader())
        .await
        .map_err(db_err)?;
        Ok(
            row.map_or_else(ReminderSettings::default, |(w, o, p, u)| ReminderSettings {
                consult_window_hours: w,
                outcome_hours: o,
                product_url_template: p,
                order_url_template: u,
            }),
        )
    }

    async fn put_reminder_settings(
        &self,
        shop_id: Id,
        settings: &ReminderSettings,
    ) -> Result<ReminderSettings> {
        let s = settings.clone();
        tx!(self, |conn| {
            sqlx::query(
                    "INSERT INTO reminder_settings (shop_id, consult_window_hours, outcome_hours, \
                     product_url_template, order_url_template, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (shop_id) DO UPDATE SET \
                     consult_window_hours = excluded.consult_window_hours, \
                     outcome_hours = excluded.outcome_hours, \
                     product_url_template = excluded.product_url_template, \
                     order_url_template = excluded.order_url_template, updated_at = excluded.updated_at",
                )
                .bind(shop_id)
                .bind(s.consult_window_hours)
                .bind(s.outcome_hours)
                .bind(&s.product_url_template)
                .bind(&s.order_url_template)
                .bind(Millis::now().0)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(owned!(s))
        })
    }

    async fn reminder_templates(&self, shop_id: Id) -> Result<Vec<ReminderTemplate>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        let found = list_templates(&mut conn, shop_id).await?;
        drop(conn);
        if !found.is_empty() {
            return Ok(found);
        }
        tx!(self, |conn| {
            // Another request may have seeded it meanwhile: insert only into an empty list.
            sqlx::query(
                    "INSERT INTO reminder_templates (shop_id, name, body, is_default, created_at, updated_at) \
                     SELECT $1, $2, $3, TRUE, $4, $4 \
                     WHERE NOT EXISTS (SELECT 1 FROM reminder_templates WHERE shop_id = $1)",
                )
                .bind(shop_id)
                .bind(DEFAULT_TEMPLATE_NAME)
                .bind(DEFAULT_TEMPLATE_BODY)
                .bind(Millis::now().0)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            list_templates(conn, shop_id).await
        })
    }

    async fn create_reminder_template(
        &self,
        shop_id: Id,
        template: &NewReminderTemplate,
    ) -> Result<ReminderTemplate> {
        let t = template.clone();
        tx!(self, |conn| {
            save_template(conn, shop_id, None, &t).await
        })
    }

    async fn update_reminder_template(
        &self,
        shop_id: Id,
        id: Id,
        template: &NewReminderTemplate,
    ) -> Result<ReminderTemplate> {
        let t = template.clone();
        tx!(self, |conn| {
            save_template(conn, shop_id, Some(id), &t).await
        })
    }

    async fn delete_reminder_template(&self, shop_id: Id, id: Id) -> Result<()> {
        tx!(self, |conn| {
            let is_default: Option<bool> = sqlx::query_scalar(
                "SELECT is_default FROM reminder_templates WHERE id = $1 AND shop_id = $2",
            )
            .bind(id)
            .bind(shop_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
            match is_default {
                None => Err(Error::not_found("template")),
                Some(true) => Err(Error::conflict(
                    "the default template cannot be deleted; make another one the default first",
                )),
                Some(false) => {
                    sqlx::query("DELETE FROM reminder_templates WHERE id = $1")
                        .bind(id)
                        .execute(&mut *conn)
                        .await
                        .map_err(db_err)?;
                    Ok(())
                }
            }
        })
    }

    async fn reminder_candidates(
        &self,
        shop_id: Id,
        consulted_since: Millis,
        limit: i64,
    ) -> Result<Vec<ReminderCandidate>> {
        let rows = sqlx::query(CANDIDATES_SQL)
            .bind(shop_id)
            .bind(consulted_since.0)
            .bind(limit)
            .fetch_all(self.reader())
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(candidate_from_row).collect())
    }

    async fn send_reminder(&self, r: NewReminder<'_>) -> Result<SentReminder> {
        let (shop_id, order_id, customer_id, conversation_id) =
            (r.shop_id, r.order_id, r.customer_id, r.conversation_id);
        let (agent_id, agent_name) = (r.agent.id, r.agent.name.clone());
        let (text, card_body, card_payload) =
            (r.text.to_owned(), r.card_body.to_owned(), r.card_payload);
        let (template_id, force, guard) = (r.template_id, r.force, r.repeat_guard_since.0);
        tx!(self, |conn| {
            // The conversation is checked first (another shop's is simply not found), then the
            // order; its row lock serialises two reminders for it, so the repeat check below
            // cannot be raced.
            lock_conversation(conn, shop_id, conversation_id).await?;
            let sql = format!(
                "SELECT status, payment_status FROM orders \
                 WHERE id = $1 AND shop_id = $2 AND customer_id = $3{FOR_UPDATE}"
            );
            let order: Option<(String, String)> = sqlx::query_as(AssertSqlSafe(sql))
                .bind(order_id)
                .bind(shop_id)
                .bind(customer_id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
            match order {
                None => return Err(Error::not_found("order")),
                Some((status, payment)) if payment != "unpaid" || status == "cancelled" => {
                    return Err(Error::validation(format!(
                        "order_id: the order is {payment} / {status}, not awaiting payment"
                    )));
                }
                Some(_) => {}
            }
            if !force {
                let recent: Option<i64> = sqlx::query_scalar(
                        "SELECT MAX(sent_at) FROM reminders WHERE shop_id = $1 AND order_id = $2 AND sent_at > $3",
                    )
                    .bind(shop_id)
                    .bind(order_id)
                    .bind(guard)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
                if recent.is_some() {
                    return Err(Error::conflict(
                        "order_id: a reminder for this order was sent within the outcome window; send with force to remind again",
                    ));
                }
            }
            let now = Millis::now().0;
            let mut messages = Vec::with_capacity(2);
            for (body, kind, payload) in [
                (&text, MessageKind::Text, None),
                (&card_body, MessageKind::OrderCard, Some(&card_payload)),
            ] {
                messages.push(
                    insert_message(
                        conn,
                        Insert {
                            shop_id,
                            conversation_id,
                            sender_type: SenderType::Agent,
                            sender_id: Some(agent_id),
                            sender_name: &agent_name,
                            body,
                            private: false,
                            client_msg_id: None,
                            now,
                            kind,
                            payload,
                        },
                    )
                    .await?,
                );
            }
            let last_seq = messages[1].seq;
            sqlx::query(
                "UPDATE conversations SET unread_count = 0, agent_read_seq = $1 WHERE id = $2",
            )
            .bind(last_seq)
            .bind(conversation_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            let reminder_id: Id = sqlx::query_scalar(
                    "INSERT INTO reminders (shop_id, order_id, customer_id, conversation_id, message_id, \
                     agent_id, agent_name, template_id, body, forced, sent_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                )
                .bind(shop_id)
                .bind(order_id)
                .bind(customer_id)
                .bind(conversation_id)
                .bind(messages[0].id)
                .bind(agent_id)
                .bind(&agent_name)
                .bind(template_id)
                .bind(&text)
                .bind(force)
                .bind(now)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
            let conversation = load_conversation(conn, shop_id, conversation_id).await?;
            Ok(SentReminder {
                reminder_id,
                messages,
                conversation,
            })
        })
    }

    async fn list_reminders(
        &self,
        shop_id: Id,
        since: Millis,
        outcome_hours: i64,
        now: Millis,
        limit: i64,
    ) -> Result<Vec<Reminder>> {
        let rows = sqlx::query(REMINDERS_SQL)
            .bind(shop_id)
            .bind(since.0)
            .bind(limit)
            .fetch_all(self.reader())
            .await
            .map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| reminder_from_row(r, outcome_hours, now))
            .collect())
    }
}

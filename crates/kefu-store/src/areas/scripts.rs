//! kefu-store's implementation of [`kefu_core::scripts::ScriptStore`]: categories, scripts,
//! imports, uses and their statistics, and the variable context of a conversation.
//!
//! The default library is seeded lazily, once per shop, by the first read of the shop's library
//! (`ensure_library`): shops that existed before migration 0007 get it exactly like new ones, and a
//! marker row (`script_libraries`) keeps it from coming back after a shop deleted it.
//! The statements are written once for both backends.

use super::prelude::*;
use async_trait::async_trait;
use kefu_core::model::Id;
use kefu_core::scripts::*;
use kefu_core::time::Millis;
use kefu_core::{Error, ErrorCode, Result};

const SCRIPT_SELECT: &str = "SELECT s.id, s.shop_id, s.owner_id, s.category_id, c.name AS category, \
       s.title, s.body, s.shortcut, s.tags, s.created_at, s.updated_at \
     FROM scripts s JOIN script_categories c ON c.id = s.category_id";

fn script_from_row(r: &DbRow) -> Script {
    let tags: String = r.get("tags");
    Script {
        id: r.get("id"),
        shop_id: r.get("shop_id"),
        owner_id: r.get("owner_id"),
        category_id: r.get("category_id"),
        category: r.get("category"),
        title: r.get("title"),
        body: r.get("body"),
        shortcut: r.get("shortcut"),
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        created_at: Millis(r.get("created_at")),
        updated_at: Millis(r.get("updated_at")),
    }
}

fn category_from_row(r: &DbRow) -> ScriptCategory {
    ScriptCategory {
        id: r.get("id"),
        name: r.get("name"),
        position: r.get("position"),
    }
}

fn tags_json(tags: &[String]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".to_owned())
}

/// Unique violations name what collided.
fn script_err(e: sqlx::Error) -> Error {
    let e = db_err(e);
    if e.code == ErrorCode::Conflict {
        Error::conflict("shortcut: already used by another script")
    } else {
        e
    }
}

fn category_err(e: sqlx::Error) -> Error {
    let e = db_err(e);
    if e.code == ErrorCode::Conflict {
        Error::conflict("name: a category with this name already exists")
    } else {
        e
    }
}

async fn is_seeded(conn: &mut Conn, shop_id: Id) -> Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM script_libraries WHERE shop_id = $1)")
        .bind(shop_id)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)
}

/// Seeds the default library into a shop that never had it (a no-op otherwise). Categories that
/// already exist by name are reused; a default shortcut the shop already uses is left off.
async fn seed_library(conn: &mut Conn, shop_id: Id) -> Result<()> {
    let now = Millis::now().0;
    // The marker first: a concurrent seeder (PostgreSQL) waits on it and then finds it taken.
    let claimed = sqlx::query(
        "INSERT INTO script_libraries (shop_id, seeded_at) VALUES ($1, $2) \
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
    for (pos, cat) in default_library().iter().enumerate() {
        let category_id =
            category_id_by_name(conn, shop_id, &cat.name, Some(10 * (pos as i64 + 1))).await?;
        for s in &cat.scripts {
            sqlx::query(
                "INSERT INTO scripts (shop_id, owner_id, category_id, title, body, shortcut, tags, \
                   created_at, updated_at) \
                 SELECT $1, NULL, $2, $3, $4, \
                   CASE WHEN EXISTS (SELECT 1 FROM scripts WHERE shop_id = $1 AND owner_id IS NULL \
                     AND shortcut = $5) THEN NULL ELSE $5 END, $6, $7, $7",
            )
            .bind(shop_id)
            .bind(category_id)
            .bind(&s.title)
            .bind(&s.body)
            .bind(&s.shortcut)
            .bind(tags_json(&s.tags))
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        }
    }
    Ok(())
}

/// The id of the shop's category `name`, created (last, or at `position`) when missing.
/// Positions step by 10, so a category can be placed between two others without renumbering.
async fn category_id_by_name(
    conn: &mut Conn,
    shop_id: Id,
    name: &str,
    position: Option<i64>,
) -> Result<Id> {
    let found: Option<Id> =
        sqlx::query_scalar("SELECT id FROM script_categories WHERE shop_id = $1 AND name = $2")
            .bind(shop_id)
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    if let Some(id) = found {
        return Ok(id);
    }
    insert_category(
        conn,
        shop_id,
        &NewScriptCategory {
            name: name.to_owned(),
            position,
        },
    )
    .await
    .map(|c| c.id)
}

async fn insert_category(
    conn: &mut Conn,
    shop_id: Id,
    c: &NewScriptCategory,
) -> Result<ScriptCategory> {
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM script_categories WHERE shop_id = $1")
            .bind(shop_id)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
    if count >= MAX_CATEGORIES {
        return Err(Error::validation(format!(
            "a shop has at most {MAX_CATEGORIES} script categories"
        )));
    }
    let row = sqlx::query(
        "INSERT INTO script_categories (shop_id, name, position, created_at) \
         VALUES ($1, $2, COALESCE($3, (SELECT COALESCE(MAX(position), 0) + 10 \
           FROM script_categories WHERE shop_id = $1)), $4) \
         RETURNING id, name, position",
    )
    .bind(shop_id)
    .bind(&c.name)
    .bind(c.position)
    .bind(Millis::now().0)
    .fetch_one(&mut *conn)
    .await
    .map_err(category_err)?;
    Ok(category_from_row(&row))
}

async fn list_categories(conn: &mut Conn, shop_id: Id) -> Result<Vec<ScriptCategory>> {
    let rows = sqlx::query(
        "SELECT id, name, position FROM script_categories WHERE shop_id = $1 ORDER BY position, id",
    )
    .bind(shop_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(rows.iter().map(category_from_row).collect())
}

async fn load_script(conn: &mut Conn, shop_id: Id, id: Id) -> Result<Option<Script>> {
    let sql = format!("{SCRIPT_SELECT} WHERE s.id = $1 AND s.shop_id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(shop_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(row.as_ref().map(script_from_row))
}

async fn category_exists(conn: &mut Conn, shop_id: Id, id: Id) -> Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM script_categories WHERE id = $1 AND shop_id = $2)",
    )
    .bind(id)
    .bind(shop_id)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)
}

async fn insert_script(
    conn: &mut Conn,
    shop_id: Id,
    owner_id: Option<Id>,
    s: &NewScript,
) -> Result<Script> {
    if !category_exists(conn, shop_id, s.category_id).await? {
        return Err(Error::not_found("category"));
    }
    let now = Millis::now().0;
    let id: Id = sqlx::query_scalar(
        "INSERT INTO scripts (shop_id, owner_id, category_id, title, body, shortcut, tags, \
           created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(shop_id)
    .bind(owner_id)
    .bind(s.category_id)
    .bind(&s.title)
    .bind(&s.body)
    .bind(&s.shortcut)
    .bind(tags_json(&s.tags))
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(script_err)?;
    load_script(conn, shop_id, id)
        .await?
        .ok_or_else(|| Error::internal("inserted script vanished"))
}

async fn replace_script(conn: &mut Conn, shop_id: Id, id: Id, s: &NewScript) -> Result<Script> {
    if !category_exists(conn, shop_id, s.category_id).await? {
        return Err(Error::not_found("category"));
    }
    let done = sqlx::query(
        "UPDATE scripts SET category_id = $1, title = $2, body = $3, shortcut = $4, tags = $5, \
           updated_at = $6 WHERE id = $7 AND shop_id = $8",
    )
    .bind(s.category_id)
    .bind(&s.title)
    .bind(&s.body)
    .bind(&s.shortcut)
    .bind(tags_json(&s.tags))
    .bind(Millis::now().0)
    .bind(id)
    .bind(shop_id)
    .execute(&mut *conn)
    .await
    .map_err(script_err)?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found("script"));
    }
    load_script(conn, shop_id, id)
        .await?
        .ok_or_else(|| Error::not_found("script"))
}

/// One import row: update by id (same shop and scope), else by (category, title) in the scope,
/// else create. Returns whether it created.
async fn import_row(
    conn: &mut Conn,
    shop_id: Id,
    owner_id: Option<Id>,
    r: &ScriptRecord,
) -> Result<bool> {
    let category_id = category_id_by_name(conn, shop_id, &r.category, None).await?;
    let new = NewScript {
        category_id,
        title: r.title.clone(),
        body: r.body.clone(),
        shortcut: r.shortcut.clone(),
        tags: r.tags.clone(),
    };
    let target: Option<Id> = match r.id {
        Some(id) => {
            let owner: Option<Option<Id>> =
                sqlx::query_scalar("SELECT owner_id FROM scripts WHERE id = $1 AND shop_id = $2")
                    .bind(id)
                    .bind(shop_id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?;
            match owner {
                Some(o) if o == owner_id => Some(id),
                // Another scope's script (or another shop's, or deleted): never touched by id.
                _ => return Err(Error::not_found("script with this id")),
            }
        }
        None => sqlx::query_scalar(
            "SELECT id FROM scripts WHERE shop_id = $1 AND COALESCE(owner_id, 0) = $2 \
             AND category_id = $3 AND title = $4 ORDER BY id LIMIT 1",
        )
        .bind(shop_id)
        .bind(owner_id.unwrap_or(0))
        .bind(category_id)
        .bind(&r.title)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?,
    };
    match target {
        Some(id) => replace_script(conn, shop_id, id, &new).await.map(|_| false),
        None => insert_script(conn, shop_id, owner_id, &new)
            .await
            .map(|_| true),
    }
}

async fn import_all(
    conn: &mut Conn,
    shop_id: Id,
    owner_id: Option<Id>,
    rows: &[ImportRow],
) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    for (line, row) in rows {
        let result = match row {
            Err(e) => Err(Error::validation(e.message.clone())),
            Ok(r) => {
                // Each row alone: a row that fails in the database leaves no trace.
                sqlx::query("SAVEPOINT script_import_row")
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
                let res = import_row(conn, shop_id, owner_id, r).await;
                let end = if res.is_ok() {
                    "RELEASE SAVEPOINT script_import_row"
                } else {
                    "ROLLBACK TO SAVEPOINT script_import_row"
                };
                sqlx::query(end).execute(&mut *conn).await.map_err(db_err)?;
                if res.is_err() {
                    sqlx::query("RELEASE SAVEPOINT script_import_row")
                        .execute(&mut *conn)
                        .await
                        .map_err(db_err)?;
                }
                res
            }
        };
        match result {
            Ok(true) => report.created += 1,
            Ok(false) => report.updated += 1,
            Err(e) if e.code == ErrorCode::Internal => return Err(e),
            Err(e) => {
                report.failed += 1;
                report.errors.push(ImportError::new(*line, &e));
            }
        }
    }
    Ok(report)
}

const STATS_SQL: &str = "SELECT u.script_id, COUNT(*) AS uses, \
       COUNT(DISTINCT u.conversation_id) AS conversations, \
       COUNT(DISTINCT CASE WHEN EXISTS (SELECT 1 FROM orders o \
           WHERE o.shop_id = u.shop_id AND o.customer_id = c.customer_id \
             AND o.placed_at >= u.used_at AND o.placed_at <= u.used_at + $3) \
         THEN u.conversation_id END) AS converted, \
       MAX(u.used_at) AS last_used_at \
     FROM script_uses u JOIN conversations c ON c.id = u.conversation_id \
     WHERE u.shop_id = $1 AND u.used_at >= $2 \
     GROUP BY u.script_id";

async fn context(
    conn: &mut Conn,
    shop_id: Id,
    conversation_id: Id,
    order_id: Option<Id>,
    product_id: Option<Id>,
) -> Result<Option<RenderContext>> {
    let Some(head) = sqlx::query(
        "SELECT cv.customer_id, cu.name AS customer_name, sh.name AS shop_name, \
         cv.current_order_id, cv.current_product_id \
         FROM conversations cv JOIN customers cu ON cu.id = cv.customer_id \
         JOIN shops sh ON sh.id = cv.shop_id WHERE cv.id = $1 AND cv.shop_id = $2",
    )
    .bind(conversation_id)
    .bind(shop_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    else {
        return Ok(None);
    };
    let customer_id: Id = head.get("customer_id");
    // Nothing named: what the conversation is about (kefu_core::inbox), then the latest order.
    let current_order: Option<Id> = head.get("current_order_id");
    let current_product: Option<Id> = head.get("current_product_id");
    let order_sql = "SELECT id, order_no, total_cents, shipping_fee_cents, currency, status, \
       payment_status FROM orders WHERE shop_id = $1 AND customer_id = $2";
    let order_row = match order_id {
        Some(oid) => {
            let sql = format!("{order_sql} AND id = $3");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(shop_id)
                .bind(customer_id)
                .bind(oid)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
            Some(row.ok_or_else(|| Error::not_found("order"))?)
        }
        None => {
            // The current order counts only while it is still this customer's (a merge or a
            // re-import may have moved it); otherwise the latest order.
            let mut row = None;
            if let Some(current) = current_order {
                let sql = format!("{order_sql} AND id = $3");
                row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(shop_id)
                    .bind(customer_id)
                    .bind(current)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?;
            }
            if row.is_none() {
                let sql = format!("{order_sql} ORDER BY placed_at DESC, id DESC LIMIT 1");
                row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(shop_id)
                    .bind(customer_id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?;
            }
            row
        }
    };
    let order = order_row.map(|r| OrderVars {
        id: r.get("id"),
        order_no: r.get("order_no"),
        total_cents: r.get("total_cents"),
        shipping_fee_cents: r.get("shipping_fee_cents"),
        currency: r.get("currency"),
        status: r.get("status"),
        payment_status: r.get("payment_status"),
    });
    // Nothing named: the conversation's current product (while it is still the shop's) before
    // the order's first line. A named order brings its own first line.
    let current_product = match (product_id, order_id, current_product) {
        (None, None, Some(pid)) => sqlx::query(
            "SELECT id, name, price_cents, currency FROM products WHERE id = $1 AND shop_id = $2",
        )
        .bind(pid)
        .bind(shop_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .map(|r| ProductVars {
            id: r.get("id"),
            name: r.get("name"),
            price_cents: r.get("price_cents"),
            currency: r.get("currency"),
        }),
        _ => None,
    };
    let product = match (product_id, &order) {
        _ if current_product.is_some() => current_product,
        (Some(pid), _) => {
            let r = sqlx::query(
                "SELECT id, name, price_cents, currency FROM products WHERE id = $1 AND shop_id = $2",
            )
            .bind(pid)
            .bind(shop_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?
            .ok_or_else(|| Error::not_found("product"))?;
            Some(ProductVars {
                id: r.get("id"),
                name: r.get("name"),
                price_cents: r.get("price_cents"),
                currency: r.get("currency"),
            })
        }
        // The order's first line stands for "the product" being talked about.
        (None, Some(o)) => sqlx::query(
            "SELECT COALESCE(product_id, 0) AS product_id, name, unit_price_cents \
             FROM order_items WHERE order_id = $1 AND shop_id = $2 ORDER BY line_no LIMIT 1",
        )
        .bind(o.id)
        .bind(shop_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .map(|r| ProductVars {
            id: r.get("product_id"),
            name: r.get("name"),
            price_cents: r.get("unit_price_cents"),
            currency: o.currency.clone(),
        }),
        (None, None) => None,
    };
    Ok(Some(RenderContext {
        customer_name: Some(head.get("customer_name")),
        agent_name: None,
        shop_name: Some(head.get("shop_name")),
        order,
        product,
    }))
}

impl DbStore {
    async fn ensure_library(&self, shop_id: Id) -> Result<()> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        if is_seeded(&mut conn, shop_id).await? {
            return Ok(());
        }
        drop(conn);
        tx!(self, |conn| { seed_library(conn, shop_id).await })
    }
}

#[async_trait]
impl ScriptStore for DbStore {
    async fn script_categories(&self, shop_id: Id) -> Result<Vec<ScriptCategory>> {
        self.ensure_library(shop_id).await?;
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        list_categories(&mut conn, shop_id).await
    }

    async fn create_script_category(
        &self,
        shop_id: Id,
        category: &NewScriptCategory,
    ) -> Result<ScriptCategory> {
        self.ensure_library(shop_id).await?;
        let c = category.clone();
        tx!(self, |conn| { insert_category(conn, shop_id, &c).await })
    }

    async fn update_script_category(
        &self,
        shop_id: Id,
        id: Id,
        category: &NewScriptCategory,
    ) -> Result<ScriptCategory> {
        let c = category.clone();
        tx!(self, |conn| {
            sqlx::query(
                "UPDATE script_categories SET name = $1, position = COALESCE($2, position) \
                     WHERE id = $3 AND shop_id = $4 RETURNING id, name, position",
            )
            .bind(&c.name)
            .bind(c.position)
            .bind(id)
            .bind(shop_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(category_err)?
            .as_ref()
            .map(category_from_row)
            .ok_or_else(|| Error::not_found("category"))
        })
    }

    async fn delete_script_category(&self, shop_id: Id, id: Id) -> Result<()> {
        tx!(self, |conn| {
            if !category_exists(conn, shop_id, id).await? {
                return Err(Error::not_found("category"));
            }
            let used: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM scripts WHERE category_id = $1)")
                    .bind(id)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
            if used {
                return Err(Error::conflict(
                    "the category still holds scripts (also other agents' personal ones); move or delete them first",
                ));
            }
            sqlx::query("DELETE FROM script_categories WHERE id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(())
        })
    }

    async fn list_scripts(&self, shop_id: Id, viewer_agent_id: Id) -> Result<Vec<Script>> {
        self.ensure_library(shop_id).await?;
        let sql = format!(
            "{SCRIPT_SELECT} WHERE s.shop_id = $1 AND (s.owner_id IS NULL OR s.owner_id = $2) \
             ORDER BY c.position, c.id, s.id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(shop_id)
            .bind(viewer_agent_id)
            .fetch_all(self.reader())
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(script_from_row).collect())
    }

    async fn script(&self, shop_id: Id, id: Id) -> Result<Option<Script>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        load_script(&mut conn, shop_id, id).await
    }

    async fn create_script(
        &self,
        shop_id: Id,
        owner_id: Option<Id>,
        script: &NewScript,
    ) -> Result<Script> {
        self.ensure_library(shop_id).await?;
        let s = script.clone();
        tx!(self, |conn| {
            insert_script(conn, shop_id, owner_id, &s).await
        })
    }

    async fn update_script(&self, shop_id: Id, id: Id, script: &NewScript) -> Result<Script> {
        let s = script.clone();
        tx!(self, |conn| { replace_script(conn, shop_id, id, &s).await })
    }

    async fn delete_script(&self, shop_id: Id, id: Id) -> Result<()> {
        tx!(self, |conn| {
            sqlx::query("DELETE FROM script_uses WHERE script_id = $1 AND shop_id = $2")
                .bind(id)
                .bind(shop_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            let done = sqlx::query("DELETE FROM scripts WHERE id = $1 AND shop_id = $2")
                .bind(id)
                .bind(shop_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            if done.rows_affected() == 0 {
                return Err(Error::not_found("script"));
            }
            // The search index learns about deletions from tombstones (migration 0012); an id
            // deleted again after SQLite handed it out once more just moves its tombstone.
            sqlx::query(
                    "INSERT INTO script_tombstones (script_id, shop_id, deleted_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (script_id) DO UPDATE SET shop_id = excluded.shop_id, \
                     deleted_at = excluded.deleted_at",
                )
                .bind(id)
                .bind(shop_id)
                .bind(Millis::now().0)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(())
        })
    }

    async fn import_scripts(
        &self,
        shop_id: Id,
        owner_id: Option<Id>,
        rows: Vec<ImportRow>,
    ) -> Result<ImportReport> {
        self.ensure_library(shop_id).await?;
        tx!(self, |conn| {
            import_all(conn, shop_id, owner_id, &rows).await
        })
    }

    async fn record_script_use(
        &self,
        shop_id: Id,
        script_id: Id,
        agent_id: Id,
        conversation_id: Id,
        message_id: Option<Id>,
    ) -> Result<()> {
        tx!(self, |conn| {
            let done = sqlx::query(
                "INSERT INTO script_uses (shop_id, script_id, agent_id, conversation_id, \
                       message_id, used_at) \
                     SELECT $1, $2, $3, $4, $5, $6 \
                     WHERE EXISTS (SELECT 1 FROM scripts WHERE id = $2 AND shop_id = $1) \
                       AND EXISTS (SELECT 1 FROM conversations WHERE id = $4 AND shop_id = $1)",
            )
            .bind(shop_id)
            .bind(script_id)
            .bind(agent_id)
            .bind(conversation_id)
            .bind(message_id)
            .bind(Millis::now().0)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            if done.rows_affected() == 0 {
                return Err(Error::not_found("script or conversation"));
            }
            Ok(())
        })
    }

    async fn script_stats(&self, shop_id: Id, since: Millis) -> Result<Vec<ScriptStats>> {
        let rows = sqlx::query(STATS_SQL)
            .bind(shop_id)
            .bind(since.0)
            .bind(ORDER_WINDOW_MS)
            .fetch_all(self.reader())
            .await
            .map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| {
                let last: Option<i64> = r.get("last_used_at");
                ScriptStats::new(
                    r.get("script_id"),
                    r.get("uses"),
                    r.get("conversations"),
                    r.get("converted"),
                    last.map(Millis),
                )
            })
            .collect())
    }

    async fn script_context(
        &self,
        shop_id: Id,
        conversation_id: Id,
        order_id: Option<Id>,
        product_id: Option<Id>,
    ) -> Result<Option<RenderContext>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        context(&mut conn, shop_id, conversation_id, order_id, product_id).await
    }
}

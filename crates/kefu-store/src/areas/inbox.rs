//! kefu-store's implementation of [`kefu_core::inbox::InboxStore`]: a conversation's current
//! order and product, and the lookups that set them. (What waits — the shopper's preview and
//! `waiting_since` — is kept by `conversations::insert_message` and SQLite's batched path.)

use super::conversations::{
    Insert, insert_message, load_conversation, load_conversation_locked, lock_conversation,
};
use super::prelude::*;
use async_trait::async_trait;
use kefu_core::inbox::{ContextChange, ContextSet, InboxStore};
use kefu_core::model::*;
use kefu_core::time::Millis;
use kefu_core::{Error, Result};

#[async_trait]
impl InboxStore for DbStore {
    async fn set_conversation_context(
        &self,
        shop_id: Id,
        conversation_id: Id,
        change: ContextChange,
    ) -> Result<ContextSet> {
        tx!(self, |conn| {
            let current = load_conversation_locked(conn, shop_id, conversation_id).await?;
            if let Some(Some(order_id)) = change.order_id {
                let owner: Option<Id> = sqlx::query_scalar(
                    "SELECT customer_id FROM orders WHERE id = $1 AND shop_id = $2",
                )
                .bind(order_id)
                .bind(shop_id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
                match owner {
                    None => return Err(Error::not_found("order")),
                    Some(customer) if customer != current.customer.id => {
                        return Err(Error::invalid(
                            "order_id",
                            "not an order of this conversation's customer",
                        ));
                    }
                    Some(_) => {}
                }
            }
            if let Some(Some(product_id)) = change.product_id {
                let found: Option<Id> =
                    sqlx::query_scalar("SELECT id FROM products WHERE id = $1 AND shop_id = $2")
                        .bind(product_id)
                        .bind(shop_id)
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(db_err)?;
                found.ok_or_else(|| Error::not_found("product"))?;
            }
            let order = change.order_id.unwrap_or(current.current_order_id);
            let product = change.product_id.unwrap_or(current.current_product_id);
            if order == current.current_order_id && product == current.current_product_id {
                return Ok(ContextSet {
                    conversation: current,
                    changed: false,
                });
            }
            // `updated_at` stays: it tells the search indexer about fields it indexes.
            sqlx::query(
                "UPDATE conversations SET current_order_id = $1, current_product_id = $2 WHERE id = $3",
            )
            .bind(order)
            .bind(product)
            .bind(conversation_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            Ok(ContextSet {
                conversation: load_conversation(conn, shop_id, conversation_id).await?,
                changed: true,
            })
        })
    }

    async fn customer_order_by_numbers(
        &self,
        shop_id: Id,
        customer_id: Id,
        numbers: &[String],
    ) -> Result<Option<Id>> {
        // One lookup of the `(shop_id, order_no)` key per candidate (a message names a few).
        for no in numbers {
            let found: Option<Id> = sqlx::query_scalar(
                "SELECT id FROM orders WHERE shop_id = $1 AND order_no = $2 AND customer_id = $3",
            )
            .bind(shop_id)
            .bind(no)
            .bind(customer_id)
            .fetch_optional(self.reader())
            .await
            .map_err(db_err)?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    async fn product_by_sku(&self, shop_id: Id, sku: &str) -> Result<Option<Product>> {
        let row: Option<(Id, String, String, i64, String, String, String)> = sqlx::query_as(
            "SELECT id, sku, name, price_cents, currency, image_url, description FROM products \
             WHERE shop_id = $1 AND sku = $2",
        )
        .bind(shop_id)
        .bind(sku)
        .fetch_optional(self.reader())
        .await
        .map_err(db_err)?;
        Ok(row.map(
            |(id, sku, name, price_cents, currency, image_url, description)| Product {
                id,
                sku,
                name,
                price_cents,
                currency,
                image_url,
                description,
            },
        ))
    }

    async fn append_context_card(
        &self,
        shop_id: Id,
        conversation_id: Id,
        kind: MessageKind,
        body: &str,
        payload: serde_json::Value,
    ) -> Result<Appended> {
        let body = body.to_owned();
        tx!(self, |conn| {
            lock_conversation(conn, shop_id, conversation_id).await?;
            let message = insert_message(
                conn,
                Insert {
                    shop_id,
                    conversation_id,
                    sender_type: SenderType::System,
                    sender_id: None,
                    sender_name: "",
                    body: &body,
                    private: false,
                    client_msg_id: None,
                    now: Millis::now().0,
                    kind,
                    payload: Some(&payload),
                },
            )
            .await?;
            Ok(Appended {
                message,
                companions: vec![],
                conversation: load_conversation(conn, shop_id, conversation_id).await?,
                conversation_started: false,
                duplicate: false,
            })
        })
    }
}

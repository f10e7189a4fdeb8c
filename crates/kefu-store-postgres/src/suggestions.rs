//! The PostgreSQL implementation of [`kefu_core::suggestions::SuggestionStore`]: one read walking the
//! primary key of `messages` backwards, so it costs about `limit` rows of a single-shop install and
//! needs no index of its own (which every message insert would pay).

use crate::{PostgresStore, db_err};
use async_trait::async_trait;
use kefu_core::Result;
use kefu_core::model::Id;
use kefu_core::suggestions::{PastTurn, SuggestionStore};
use sqlx::Row;

#[async_trait]
impl SuggestionStore for PostgresStore {
    async fn recent_public_turns(&self, shop_id: Id, limit: i64) -> Result<Vec<PastTurn>> {
        let rows = sqlx::query(
            "SELECT conversation_id, seq, sender_type, body FROM messages \
             WHERE shop_id = $1 AND NOT private AND kind = 'text' \
               AND sender_type IN ('customer', 'agent') \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(shop_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.into_iter()
            .map(|r| {
                Ok(PastTurn {
                    conversation_id: r.try_get(0).map_err(db_err)?,
                    seq: r.try_get(1).map_err(db_err)?,
                    from_customer: r.try_get::<&str, _>(2).map_err(db_err)? == "customer",
                    body: r.try_get(3).map_err(db_err)?,
                })
            })
            .collect()
    }
}

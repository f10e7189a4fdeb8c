//! kefu-store's implementation of [`kefu_core::suggestions::SuggestionStore`]: one read walking the
//! primary key of `messages` backwards, so it costs about `limit` rows of a single-shop install and
//! needs no index of its own (which every message insert would pay).

use super::prelude::*;
use async_trait::async_trait;
use kefu_core::Result;
use kefu_core::model::Id;
use kefu_core::suggestions::{PastExchange, PastTurn, SuggestionStore};

#[async_trait]
impl SuggestionStore for DbStore {
    async fn recent_public_turns(&self, shop_id: Id, limit: i64) -> Result<Vec<PastTurn>> {
        let rows = sqlx::query(
            "SELECT conversation_id, seq, sender_type, body FROM messages \
             WHERE shop_id = $1 AND NOT private AND kind = 'text' \
               AND sender_type IN ('customer', 'agent') \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(shop_id)
        .bind(limit)
        .fetch_all(self.reader())
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

    async fn script_pick_exchanges(&self, shop_id: Id, limit: i64) -> Result<Vec<PastExchange>> {
        // The shopper message before each use: the conversation's latest public text message of
        // the shopper older than the message the script went out in (by id, which grows with
        // time) or, when that is not known, not later than the use. One probe of the
        // (conversation_id, seq) index per use.
        let rows = sqlx::query(
            "SELECT u.conversation_id, s.body, \
               (SELECT m.body FROM messages m \
                WHERE m.conversation_id = u.conversation_id AND m.sender_type = 'customer' \
                  AND NOT m.private AND m.kind = 'text' \
                  AND m.id < COALESCE(u.message_id, 9223372036854775807) \
                  AND m.created_at <= u.used_at \
                ORDER BY m.seq DESC LIMIT 1) AS asked \
             FROM script_uses u JOIN scripts s ON s.id = u.script_id \
             WHERE u.shop_id = $1 ORDER BY u.used_at DESC LIMIT $2",
        )
        .bind(shop_id)
        .bind(limit)
        .fetch_all(self.reader())
        .await
        .map_err(db_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let asked: Option<String> = r.try_get(2).map_err(db_err)?;
            if let Some(asked) = asked {
                out.push(PastExchange {
                    conversation_id: r.try_get(0).map_err(db_err)?,
                    context: vec![asked],
                    reply: r.try_get(1).map_err(db_err)?,
                });
            }
        }
        Ok(out)
    }
}

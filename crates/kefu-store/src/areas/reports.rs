//! kefu-store's implementation of [`kefu_core::reports::ReportStore`]: plain reads of the tickets
//! of a range with their categories, compensations and SLA clocks; counting happens in kefu-core.

use super::prelude::*;
use async_trait::async_trait;
use kefu_core::model::Id;
use kefu_core::reports::*;
use kefu_core::time::Millis;
use kefu_core::{Error, Result};

#[async_trait]
impl ReportStore for DbStore {
    async fn complaint_report_data(
        &self,
        shop_id: Id,
        from: Millis,
        to: Millis,
    ) -> Result<ReportData> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        // Tickets by the (shop_id, created_at, id) index; merged duplicates are not counted twice.
        let tickets = sqlx::query(
            "SELECT id, number, subject, created_at, status, priority, category_id, root_causes, \
             first_public_reply_at, resolved_at FROM tickets \
             WHERE shop_id = $1 AND created_at >= $2 AND created_at < $3 AND merged_into_id IS NULL",
        )
        .bind(shop_id)
        .bind(from.0)
        .bind(to.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(|r| {
            Ok(ReportTicket {
                id: r.get("id"),
                number: r.get("number"),
                subject: r.get("subject"),
                created_at: Millis(r.get("created_at")),
                status: r.get("status"),
                priority: r.get("priority"),
                category_id: r.get("category_id"),
                root_causes: serde_json::from_str(r.get("root_causes")).map_err(Error::internal)?,
                first_public_reply_at: r.get::<Option<i64>, _>("first_public_reply_at").map(Millis),
                resolved_at: r.get::<Option<i64>, _>("resolved_at").map(Millis),
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let categories = sqlx::query(
            "SELECT id, parent_id, key, name, is_complaint FROM ticket_categories WHERE shop_id = $1",
        )
        .bind(shop_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(|r| ReportCategory {
            id: r.get("id"),
            parent_id: r.get("parent_id"),
            key: r.get("key"),
            name: r.get("name"),
            is_complaint: r.get("is_complaint"),
        })
        .collect();
        let compensations = sqlx::query(
            "SELECT c.ticket_id, c.kind, c.amount_cents, c.cost_cents FROM ticket_compensations c \
             JOIN tickets t ON t.id = c.ticket_id WHERE t.shop_id = $1 AND t.created_at >= $2 \
             AND t.created_at < $3 AND t.merged_into_id IS NULL",
        )
        .bind(shop_id)
        .bind(from.0)
        .bind(to.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(|r| ReportCompensation {
            ticket_id: r.get("ticket_id"),
            kind: r.get("kind"),
            amount_cents: r.get("amount_cents"),
            cost_cents: r.get("cost_cents"),
        })
        .collect();
        let sla_clocks = sqlx::query(
            "SELECT k.ticket_id, k.metric, k.used_ms, k.met_at, k.due_at, k.breached_at \
             FROM ticket_sla_clocks k JOIN tickets t ON t.id = k.ticket_id \
             WHERE t.shop_id = $1 AND t.created_at >= $2 AND t.created_at < $3 \
             AND t.merged_into_id IS NULL",
        )
        .bind(shop_id)
        .bind(from.0)
        .bind(to.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(|r| ReportSlaClock {
            ticket_id: r.get("ticket_id"),
            metric: r.get("metric"),
            used_ms: r.get("used_ms"),
            met_at: r.get::<Option<i64>, _>("met_at").map(Millis),
            due_at: r.get::<Option<i64>, _>("due_at").map(Millis),
            breached_at: r.get::<Option<i64>, _>("breached_at").map(Millis),
        })
        .collect();
        Ok(ReportData {
            tickets,
            categories,
            compensations,
            sla_clocks,
        })
    }
}

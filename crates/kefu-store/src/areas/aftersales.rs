//! kefu-store's implementation of [`kefu_core::aftersales::AftersalesStore`] and
//! [`kefu_core::reviews::ReviewStore`] (migration 0015).
//!
//! A read-modify-write reads the request and order rows with [`FOR_UPDATE`] (PostgreSQL locks them,
//! so two concurrent actions or requests on one order are serialised; SQLite's one writer already
//! serialises every write). A refund issued by a
//! request is recorded through the commerce area's own `refund_row` / `refresh_refunds`, so the
//! order's refunded amount and payment status follow exactly as they do for imported refunds.

use super::commerce::{refresh_refunds, refund_row};
use super::prelude::*;
use async_trait::async_trait;
use kefu_core::aftersales::*;
use kefu_core::attachments::NewAttachment;
use kefu_core::commerce::{BatchOutcome, ItemResult, RefundDoc, RefundStatus, UpsertStatus};
use kefu_core::model::{CustomerRef, Id};
use kefu_core::reviews::*;
use kefu_core::time::Millis;
use kefu_core::{Error, Result};

fn millis(v: Option<i64>) -> Option<Millis> {
    v.map(Millis)
}

fn agent(id: Option<Id>, name: Option<String>) -> Option<AgentRef> {
    Some(AgentRef {
        id: id?,
        name: name.unwrap_or_default(),
    })
}

// ---------------------------------------------------------------------------------------------
// After-sales requests.

const REQUEST_SELECT: &str = "SELECT r.id, r.number, r.order_id, o.order_no, o.currency, \
       r.customer_id, cu.name AS customer_name, r.kind, r.state, r.reason, r.description, \
       r.refundable_cents, r.refunded_cents, r.decision, r.return_shipping_paid_by, r.return_carrier, \
       r.return_tracking_no, r.reship_carrier, r.reship_tracking_no, r.inspection_passed, \
       r.inspection_note, r.refund_id, r.conversation_id, r.ticket_id, r.assignee_id, \
       ua.name AS assignee_name, r.created_by, uc.name AS created_by_name, r.created_at, \
       r.updated_at, r.closed_at \
     FROM aftersales_requests r JOIN orders o ON o.id = r.order_id \
     JOIN customers cu ON cu.id = r.customer_id \
     LEFT JOIN users ua ON ua.id = r.assignee_id LEFT JOIN users uc ON uc.id = r.created_by";

fn request_from_row(r: &DbRow) -> Result<AftersalesRequest> {
    let kind: String = r.get("kind");
    let state: String = r.get("state");
    let decision: Option<String> = r.get("decision");
    let payer: Option<String> = r.get("return_shipping_paid_by");
    let parcel = |c: Option<String>, t: Option<String>| {
        Some(Parcel {
            carrier: c?,
            tracking_no: t?,
        })
    };
    let passed: Option<bool> = r.get("inspection_passed");
    Ok(AftersalesRequest {
        id: r.get("id"),
        no: request_no(r.get("number")),
        order_id: r.get("order_id"),
        order_no: r.get("order_no"),
        currency: r.get("currency"),
        customer: CustomerRef {
            id: r.get("customer_id"),
            name: r.get("customer_name"),
        },
        kind: RequestKind::parse(&kind)
            .ok_or_else(|| Error::internal(format!("stored request kind {kind}")))?,
        state: State::parse(&state)
            .ok_or_else(|| Error::internal(format!("stored request state {state}")))?,
        reason: r.get("reason"),
        description: r.get("description"),
        refundable_cents: r.get("refundable_cents"),
        refunded_cents: r.get("refunded_cents"),
        decision: decision
            .map(|d| serde_json::from_str(&d))
            .transpose()
            .map_err(Error::internal)?,
        return_shipping_paid_by: payer.as_deref().and_then(ReturnShippingPayer::parse),
        return_parcel: parcel(r.get("return_carrier"), r.get("return_tracking_no")),
        reship_parcel: parcel(r.get("reship_carrier"), r.get("reship_tracking_no")),
        inspection: passed.map(|passed| Inspection {
            passed,
            note: r
                .get::<Option<String>, _>("inspection_note")
                .unwrap_or_default(),
        }),
        refund_id: r.get("refund_id"),
        conversation_id: r.get("conversation_id"),
        ticket_id: r.get("ticket_id"),
        assignee: agent(r.get("assignee_id"), r.get("assignee_name")),
        created_by: agent(r.get("created_by"), r.get("created_by_name")),
        created_at: Millis(r.get("created_at")),
        updated_at: Millis(r.get("updated_at")),
        closed_at: millis(r.get("closed_at")),
    })
}

fn evidence_from_row(r: &DbRow) -> Evidence {
    let (id, request_id): (Id, Id) = (r.get("id"), r.get("request_id"));
    let (url, thumb_url) = Evidence::urls(request_id, id);
    Evidence {
        id,
        request_id,
        name: r.get("name"),
        mime: r.get("mime"),
        size: r.get("size"),
        width: r.get("width"),
        height: r.get("height"),
        sha256: r.get("sha256"),
        has_thumb: r.get("has_thumb"),
        uploaded_by: agent(r.get("uploaded_by"), r.get("uploader_name")),
        created_at: Millis(r.get("created_at")),
        url,
        thumb_url,
    }
}

const EVIDENCE_SELECT: &str = "SELECT e.id, e.request_id, e.name, e.mime, e.size, e.width, \
       e.height, e.sha256, e.has_thumb, e.uploaded_by, u.name AS uploader_name, e.created_at \
     FROM aftersales_evidence e LEFT JOIN users u ON u.id = e.uploaded_by";

async fn load_detail(conn: &mut Conn, shop_id: Id, id: Id) -> Result<Option<RequestDetail>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "{REQUEST_SELECT} WHERE r.shop_id = $1 AND r.id = $2"
    )))
    .bind(shop_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let Some(row) = row else { return Ok(None) };
    let request = request_from_row(&row)?;
    let lines = sqlx::query(
        "SELECT line_no, sku, name, quantity, unit_price_cents, refundable_cents \
         FROM aftersales_lines WHERE request_id = $1 ORDER BY line_no",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| RequestLine {
        line_no: r.get("line_no"),
        sku: r.get("sku"),
        name: r.get("name"),
        quantity: r.get("quantity"),
        unit_price_cents: r.get("unit_price_cents"),
        refundable_cents: r.get("refundable_cents"),
    })
    .collect();
    let mut history = Vec::new();
    for r in sqlx::query(
        "SELECT h.id, h.action, h.from_state, h.to_state, h.actor_id, u.name AS actor_account, \
           h.actor_name, h.detail, h.at \
         FROM aftersales_history h LEFT JOIN users u ON u.id = h.actor_id \
         WHERE h.request_id = $1 ORDER BY h.id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?
    {
        let from: Option<String> = r.get("from_state");
        let to: String = r.get("to_state");
        let detail: String = r.get("detail");
        history.push(HistoryEntry {
            id: r.get("id"),
            action: r.get("action"),
            from_state: from.as_deref().and_then(State::parse),
            to_state: State::parse(&to)
                .ok_or_else(|| Error::internal(format!("stored state {to}")))?,
            actor: agent(r.get("actor_id"), r.get("actor_account")),
            actor_name: r.get("actor_name"),
            detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
            at: Millis(r.get("at")),
        });
    }
    let evidence = sqlx::query(AssertSqlSafe(format!(
        "{EVIDENCE_SELECT} WHERE e.request_id = $1 ORDER BY e.id"
    )))
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?
    .iter()
    .map(evidence_from_row)
    .collect();
    let allowed_actions = allowed_actions(&request.machine())
        .into_iter()
        .map(str::to_owned)
        .collect();
    Ok(Some(RequestDetail {
        request,
        lines,
        history,
        evidence,
        allowed_actions,
    }))
}

#[allow(clippy::too_many_arguments)]
async fn record_history(
    conn: &mut Conn,
    shop_id: Id,
    request_id: Id,
    action: &str,
    from: Option<State>,
    to: State,
    actor: &Actor,
    detail: &serde_json::Value,
    now: Millis,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO aftersales_history (shop_id, request_id, action, from_state, to_state, \
         actor_id, actor_name, detail, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(shop_id)
    .bind(request_id)
    .bind(action)
    .bind(from.map(State::as_str))
    .bind(to.as_str())
    .bind(actor.id)
    .bind(&actor.name)
    .bind(detail.to_string())
    .bind(now.0)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// An agent of the shop, or a validation error naming `field`.
async fn shop_user(conn: &mut Conn, shop_id: Id, id: Id, field: &str) -> Result<String> {
    let name: Option<String> =
        sqlx::query_scalar("SELECT name FROM users WHERE id = $1 AND shop_id = $2")
            .bind(id)
            .bind(shop_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    name.ok_or_else(|| Error::validation(format!("{field}: no such agent in this shop")))
}

async fn create_request(
    conn: &mut Conn,
    shop_id: Id,
    new: &NewRequest,
    actor: &Actor,
    now: Millis,
) -> Result<RequestDetail> {
    let order = sqlx::query(AssertSqlSafe(format!(
        "SELECT id, customer_id, items_cents, discount_cents, total_cents, refunded_cents, paid_at, \
           status FROM orders WHERE id = $1 AND shop_id = $2{FOR_UPDATE}"
    )))
    .bind(new.order_id)
    .bind(shop_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or_else(|| Error::not_found("order"))?;
    let customer_id: Id = order.get("customer_id");
    let facts = OrderFacts {
        items_cents: order.get("items_cents"),
        discount_cents: order.get("discount_cents"),
        total_cents: order.get("total_cents"),
        refunded_cents: order.get("refunded_cents"),
        paid: order.get::<Option<i64>, _>("paid_at").is_some(),
        cancelled: order.get::<String, _>("status") == "cancelled",
    };
    if let Some(cid) = new.conversation_id {
        let owner: Option<Id> = sqlx::query_scalar(
            "SELECT customer_id FROM conversations WHERE id = $1 AND shop_id = $2",
        )
        .bind(cid)
        .bind(shop_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        match owner {
            None => return Err(Error::not_found("conversation")),
            Some(c) if c != customer_id => {
                return Err(Error::validation(
                    "conversation_id: the conversation is not with the order's buyer",
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(a) = new.assignee_id {
        shop_user(conn, shop_id, a, "assignee_id").await?;
    }
    let claimed: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT l.line_no, CAST(SUM(l.quantity) AS BIGINT) FROM aftersales_lines l \
         JOIN aftersales_requests r ON r.id = l.request_id \
         WHERE r.order_id = $1 AND r.state NOT IN ('rejected', 'cancelled') GROUP BY l.line_no",
    )
    .bind(new.order_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let lines: Vec<OrderLineFacts> = sqlx::query(
        "SELECT id, line_no, sku, name, quantity, unit_price_cents, total_cents \
         FROM order_items WHERE order_id = $1 ORDER BY line_no",
    )
    .bind(new.order_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| {
        let line_no: i64 = r.get("line_no");
        OrderLineFacts {
            id: r.get("id"),
            line_no,
            sku: r.get("sku"),
            name: r.get("name"),
            quantity: r.get("quantity"),
            unit_price_cents: r.get("unit_price_cents"),
            total_cents: r.get("total_cents"),
            already_requested: claimed
                .iter()
                .find(|(n, _)| *n == line_no)
                .map_or(0, |(_, q)| *q),
        }
    })
    .collect();
    let (planned, refundable) = plan_lines(&facts, &lines, &new.lines)?;
    let number: i64 = sqlx::query_scalar(
        "INSERT INTO aftersales_counters (shop_id, last_no) VALUES ($1, 1) \
         ON CONFLICT (shop_id) DO UPDATE SET last_no = aftersales_counters.last_no + 1 \
         RETURNING last_no",
    )
    .bind(shop_id)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    let id: Id = sqlx::query_scalar(
        "INSERT INTO aftersales_requests (shop_id, number, order_id, customer_id, kind, state, \
           reason, description, refundable_cents, conversation_id, ticket_id, assignee_id, \
           created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'requested', $6, $7, $8, $9, $10, $11, $12, $13, $13) \
         RETURNING id",
    )
    .bind(shop_id)
    .bind(number)
    .bind(new.order_id)
    .bind(customer_id)
    .bind(new.kind.as_str())
    .bind(&new.reason)
    .bind(&new.description)
    .bind(refundable)
    .bind(new.conversation_id)
    .bind(new.ticket_id)
    .bind(new.assignee_id)
    .bind(actor.id)
    .bind(now.0)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    for l in &planned {
        sqlx::query(
            "INSERT INTO aftersales_lines (shop_id, request_id, line_no, sku, name, quantity, \
             unit_price_cents, refundable_cents) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(shop_id)
        .bind(id)
        .bind(l.line_no)
        .bind(&l.sku)
        .bind(&l.name)
        .bind(l.quantity)
        .bind(l.unit_price_cents)
        .bind(l.refundable_cents)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    let detail = serde_json::json!({
        "kind": new.kind,
        "reason": new.reason,
        "refundable_cents": refundable,
        "lines": planned.iter().map(|l| serde_json::json!({"line_no": l.line_no, "quantity": l.quantity})).collect::<Vec<_>>(),
    });
    record_history(
        conn,
        shop_id,
        id,
        "create",
        None,
        State::Requested,
        actor,
        &detail,
        now,
    )
    .await?;
    load_detail(conn, shop_id, id)
        .await?
        .ok_or_else(|| Error::internal("a request vanished in its own write"))
}

async fn act(
    conn: &mut Conn,
    shop_id: Id,
    id: Id,
    action: &Action,
    actor: &Actor,
    now: Millis,
) -> Result<Acted> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT kind, state, refundable_cents, refunded_cents, decision, order_id, number \
         FROM aftersales_requests WHERE id = $1 AND shop_id = $2{FOR_UPDATE}"
    )))
    .bind(id)
    .bind(shop_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or_else(|| Error::not_found("after-sales request"))?;
    let kind: String = row.get("kind");
    let state: String = row.get("state");
    let decision: Option<String> = row.get("decision");
    let machine = Request {
        kind: RequestKind::parse(&kind).ok_or_else(|| Error::internal("stored kind"))?,
        state: State::parse(&state).ok_or_else(|| Error::internal("stored state"))?,
        refundable_cents: row.get("refundable_cents"),
        decision: decision
            .map(|d| serde_json::from_str(&d))
            .transpose()
            .map_err(Error::internal)?,
        refunded_cents: row.get("refunded_cents"),
    };
    let order_id: Id = row.get("order_id");
    let number: i64 = row.get("number");
    let next = machine.apply(action)?;
    let mut refunded_order = None;
    match action {
        Action::Decide { decision } => {
            sqlx::query(
                "UPDATE aftersales_requests SET decision = $1, return_shipping_paid_by = $2 WHERE id = $3",
            )
            .bind(serde_json::to_string(decision).map_err(Error::internal)?)
            .bind(decision.return_shipping_paid_by().map(ReturnShippingPayer::as_str))
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        }
        Action::ShipReturn {
            carrier,
            tracking_no,
        } => {
            sqlx::query(
                "UPDATE aftersales_requests SET return_carrier = $1, return_tracking_no = $2 WHERE id = $3",
            )
            .bind(carrier.trim())
            .bind(tracking_no.trim())
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        }
        Action::Reship {
            carrier,
            tracking_no,
        } => {
            sqlx::query(
                "UPDATE aftersales_requests SET reship_carrier = $1, reship_tracking_no = $2 WHERE id = $3",
            )
            .bind(carrier.trim())
            .bind(tracking_no.trim())
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        }
        Action::Inspect { passed, note } => {
            sqlx::query(
                "UPDATE aftersales_requests SET inspection_passed = $1, inspection_note = $2 WHERE id = $3",
            )
            .bind(*passed)
            .bind(note.trim())
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        }
        Action::Refund { amount_cents } => {
            // The order may have been refunded elsewhere since the request was made (an imported
            // refund): never bring back more than it has left.
            let (total, refunded, customer_id): (i64, i64, Id) = sqlx::query_as(AssertSqlSafe(
                format!(
                    "SELECT total_cents, refunded_cents, customer_id FROM orders WHERE id = $1{FOR_UPDATE}"
                ),
            ))
            .bind(order_id)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
            if *amount_cents > total - refunded {
                return Err(Error::validation(format!(
                    "amount_cents: the order has only {} cents left to refund",
                    (total - refunded).max(0)
                )));
            }
            let no = request_no(number);
            let doc = RefundDoc {
                refund_no: no.clone(),
                amount_cents: *amount_cents,
                reason: format!("售后 {no}"),
                status: RefundStatus::Refunded,
                created_at: Some(now),
                refunded_at: Some(now),
            };
            let (refund_id, _) = refund_row(conn, shop_id, order_id, &doc, now).await?;
            refresh_refunds(conn, order_id, None).await?;
            sqlx::query("UPDATE orders SET updated_at = $1 WHERE id = $2")
                .bind(now.0)
                .bind(order_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            sqlx::query(
                "UPDATE aftersales_requests SET refund_id = $1, refunded_cents = $2 WHERE id = $3",
            )
            .bind(refund_id)
            .bind(next.refunded_cents)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            refunded_order = Some((order_id, customer_id));
        }
        Action::Receive | Action::Complete | Action::Cancel => {}
    }
    sqlx::query(
        "UPDATE aftersales_requests SET state = $1, updated_at = $2, \
         closed_at = CASE WHEN $3 THEN $2 ELSE closed_at END WHERE id = $4",
    )
    .bind(next.state.as_str())
    .bind(now.0)
    .bind(next.state.is_final())
    .bind(id)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    let mut detail = serde_json::to_value(action).map_err(Error::internal)?;
    if let Some(obj) = detail.as_object_mut() {
        obj.remove("type");
    }
    if !detail.is_object() {
        detail = serde_json::json!({});
    }
    record_history(
        conn,
        shop_id,
        id,
        action.name(),
        Some(machine.state),
        next.state,
        actor,
        &detail,
        now,
    )
    .await?;
    let detail = load_detail(conn, shop_id, id)
        .await?
        .ok_or_else(|| Error::internal("a request vanished in its own write"))?;
    Ok(Acted {
        detail,
        refunded_order,
    })
}

async fn assign(
    conn: &mut Conn,
    shop_id: Id,
    id: Id,
    assignee: Option<Id>,
    actor: &Actor,
    now: Millis,
) -> Result<RequestDetail> {
    let state: String = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT state FROM aftersales_requests WHERE id = $1 AND shop_id = $2{FOR_UPDATE}"
    )))
    .bind(id)
    .bind(shop_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or_else(|| Error::not_found("after-sales request"))?;
    let state = State::parse(&state).ok_or_else(|| Error::internal("stored state"))?;
    let name = match assignee {
        Some(a) => Some(shop_user(conn, shop_id, a, "assignee_id").await?),
        None => None,
    };
    sqlx::query("UPDATE aftersales_requests SET assignee_id = $1, updated_at = $2 WHERE id = $3")
        .bind(assignee)
        .bind(now.0)
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    let detail = serde_json::json!({"assignee_id": assignee, "assignee_name": name});
    record_history(
        conn,
        shop_id,
        id,
        "assign",
        Some(state),
        state,
        actor,
        &detail,
        now,
    )
    .await?;
    load_detail(conn, shop_id, id)
        .await?
        .ok_or_else(|| Error::internal("a request vanished in its own write"))
}

async fn add_evidence(
    conn: &mut Conn,
    shop_id: Id,
    id: Id,
    file: &NewAttachment,
    actor: &Actor,
    now: Millis,
) -> Result<Evidence> {
    let state: String = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT state FROM aftersales_requests WHERE id = $1 AND shop_id = $2{FOR_UPDATE}"
    )))
    .bind(id)
    .bind(shop_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or_else(|| Error::not_found("after-sales request"))?;
    let state = State::parse(&state).ok_or_else(|| Error::internal("stored state"))?;
    if state.is_final() {
        return Err(Error::conflict(format!(
            "cannot add evidence to a request that is {} (it is closed)",
            state.as_str()
        )));
    }
    let count: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM aftersales_evidence WHERE request_id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    if count >= MAX_EVIDENCE {
        return Err(Error::validation(format!(
            "file: a request keeps at most {MAX_EVIDENCE} photos"
        )));
    }
    let eid: Id = sqlx::query_scalar(
        "INSERT INTO aftersales_evidence (shop_id, request_id, sha256, name, mime, size, width, \
         height, has_thumb, uploaded_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(shop_id)
    .bind(id)
    .bind(&file.sha256)
    .bind(&file.name)
    .bind(&file.mime)
    .bind(file.size)
    .bind(file.width)
    .bind(file.height)
    .bind(file.has_thumb)
    .bind(actor.id)
    .bind(now.0)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    sqlx::query("UPDATE aftersales_requests SET updated_at = $1 WHERE id = $2")
        .bind(now.0)
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    let detail = serde_json::json!({"evidence_id": eid, "name": file.name});
    record_history(
        conn,
        shop_id,
        id,
        "evidence",
        Some(state),
        state,
        actor,
        &detail,
        now,
    )
    .await?;
    evidence(conn, shop_id, id, eid)
        .await?
        .ok_or_else(|| Error::internal("evidence vanished in its own write"))
}

async fn evidence(
    conn: &mut Conn,
    shop_id: Id,
    request_id: Id,
    id: Id,
) -> Result<Option<Evidence>> {
    Ok(sqlx::query(AssertSqlSafe(format!(
        "{EVIDENCE_SELECT} WHERE e.shop_id = $1 AND e.request_id = $2 AND e.id = $3"
    )))
    .bind(shop_id)
    .bind(request_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .as_ref()
    .map(evidence_from_row))
}

/// `%text%` for a case-insensitive LIKE, wildcards escaped with `\\`.
fn contains_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

async fn list_requests(
    conn: &mut Conn,
    shop_id: Id,
    q: &RequestQuery,
) -> Result<Vec<AftersalesRequest>> {
    let (before_at, before_id) = q.before.map_or((None, None), |(t, i)| (Some(t.0), Some(i)));
    sqlx::query(AssertSqlSafe(format!(
        "{REQUEST_SELECT} WHERE r.shop_id = $1 \
           AND ($2 IS NULL OR r.state = $2) AND ($3 IS NULL OR r.kind = $3) \
           AND ($4 IS NULL OR r.customer_id = $4) AND ($5 IS NULL OR r.order_id = $5) \
           AND ($6 IS NULL OR r.created_at >= $6) AND ($7 IS NULL OR r.created_at < $7) \
           AND ($8 IS NULL OR r.assignee_id IS NULL OR r.assignee_id = $8) \
           AND ($9 IS NULL OR r.created_at < $9 OR (r.created_at = $9 AND r.id < $10)) \
           AND ($12 IS NULL OR r.number = $12) \
           AND ($13 IS NULL OR LOWER(o.order_no) LIKE $13 ESCAPE '\\') \
         ORDER BY r.created_at DESC, r.id DESC LIMIT $11"
    )))
    .bind(shop_id)
    .bind(q.state.map(State::as_str))
    .bind(q.kind.map(RequestKind::as_str))
    .bind(q.customer_id)
    .bind(q.order_id)
    .bind(q.created_from.map(|t| t.0))
    .bind(q.created_to.map(|t| t.0))
    .bind(q.visible_to)
    .bind(before_at)
    .bind(before_id)
    .bind(q.limit)
    .bind(q.number)
    .bind(q.order_no.as_deref().map(contains_pattern))
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?
    .iter()
    .map(request_from_row)
    .collect()
}

// ---------------------------------------------------------------------------------------------
// Reviews and follow-ups.

async fn review_settings(conn: &mut Conn, shop_id: Id) -> Result<ReviewSettings> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT low_rating_threshold, followup_hours FROM review_settings WHERE shop_id = $1",
    )
    .bind(shop_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(
        row.map_or_else(ReviewSettings::default, |(t, h)| ReviewSettings {
            low_rating_threshold: t,
            followup_hours: h,
        }),
    )
}

async fn put_review_settings(
    conn: &mut Conn,
    shop_id: Id,
    s: &ReviewSettings,
    now: Millis,
) -> Result<ReviewSettings> {
    sqlx::query(
        "INSERT INTO review_settings (shop_id, low_rating_threshold, followup_hours, updated_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (shop_id) DO UPDATE SET \
         low_rating_threshold = excluded.low_rating_threshold, \
         followup_hours = excluded.followup_hours, updated_at = excluded.updated_at",
    )
    .bind(shop_id)
    .bind(s.low_rating_threshold)
    .bind(s.followup_hours)
    .bind(now.0)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    review_settings(conn, shop_id).await
}

struct ImportedReview {
    status: UpsertStatus,
    id: Id,
    customer_id: Option<Id>,
    opened: bool,
}

async fn import_review(
    conn: &mut Conn,
    shop_id: Id,
    doc: &ReviewDoc,
    settings: &ReviewSettings,
    now: Millis,
) -> Result<ImportedReview> {
    let order: Option<(Id, Id)> = match &doc.order_no {
        Some(no) => sqlx::query_as(
            "SELECT id, customer_id FROM orders WHERE shop_id = $1 AND order_no = $2",
        )
        .bind(shop_id)
        .bind(no)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?,
        None => None,
    };
    let (order_id, customer_id) = (order.map(|o| o.0), order.map(|o| o.1));
    let existing = sqlx::query(
        "SELECT id, platform, rating, body, order_no, order_id, reviewed_at FROM reviews \
         WHERE shop_id = $1 AND external_id = $2",
    )
    .bind(shop_id)
    .bind(&doc.review_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let (id, status) = match existing {
        Some(row) => {
            let id: Id = row.get("id");
            let same = row.get::<String, _>("platform") == doc.platform
                && row.get::<i64, _>("rating") == doc.rating
                && row.get::<String, _>("body") == doc.text
                && row.get::<Option<String>, _>("order_no") == doc.order_no
                && row.get::<Option<Id>, _>("order_id") == order_id
                && row.get::<i64, _>("reviewed_at") == doc.reviewed_at.0;
            if same {
                (id, UpsertStatus::Unchanged)
            } else {
                sqlx::query(
                    "UPDATE reviews SET platform = $1, rating = $2, body = $3, order_no = $4, \
                     order_id = $5, customer_id = $6, reviewed_at = $7, updated_at = $8 WHERE id = $9",
                )
                .bind(&doc.platform)
                .bind(doc.rating)
                .bind(&doc.text)
                .bind(&doc.order_no)
                .bind(order_id)
                .bind(customer_id)
                .bind(doc.reviewed_at.0)
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
                "INSERT INTO reviews (shop_id, external_id, platform, rating, body, order_no, \
                 order_id, customer_id, reviewed_at, imported_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
            )
            .bind(shop_id)
            .bind(&doc.review_id)
            .bind(&doc.platform)
            .bind(doc.rating)
            .bind(&doc.text)
            .bind(&doc.order_no)
            .bind(order_id)
            .bind(customer_id)
            .bind(doc.reviewed_at.0)
            .bind(now.0)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
            (id, UpsertStatus::Created)
        }
    };
    let mut opened = false;
    if status != UpsertStatus::Unchanged {
        let task: Option<(Id, String)> =
            sqlx::query_as("SELECT id, status FROM review_followups WHERE review_id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
        match task {
            None if settings.is_low(doc.rating) => {
                sqlx::query(
                    "INSERT INTO review_followups (shop_id, review_id, status, due_at, created_at, \
                     updated_at) VALUES ($1, $2, 'open', $3, $4, $4)",
                )
                .bind(shop_id)
                .bind(id)
                .bind(settings.due_at(now).0)
                .bind(now.0)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
                opened = true;
            }
            // The shopper raised the rating above the threshold while the task was open: that is
            // the outcome the task was for.
            Some((task_id, s)) if s == "open" && !settings.is_low(doc.rating) => {
                sqlx::query(
                    "UPDATE review_followups SET status = 'review_revised', outcome_note = $1, \
                     closed_at = $2, updated_at = $2 WHERE id = $3",
                )
                .bind(format!("评价已改为 {} 星（导入时自动记录）", doc.rating))
                .bind(now.0)
                .bind(task_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            }
            _ => {}
        }
    }
    Ok(ImportedReview {
        status,
        id,
        customer_id,
        opened,
    })
}

async fn import_reviews(
    conn: &mut Conn,
    shop_id: Id,
    reviews: &[(usize, ReviewDoc)],
    now: Millis,
) -> Result<(BatchOutcome, usize)> {
    let settings = review_settings(conn, shop_id).await?;
    let mut out = BatchOutcome::default();
    let mut opened = 0;
    for (index, doc) in reviews {
        sqlx::query("SAVEPOINT review_item")
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        match import_review(conn, shop_id, doc, &settings, now).await {
            Ok(r) => {
                sqlx::query("RELEASE SAVEPOINT review_item")
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
                if r.opened {
                    opened += 1;
                }
                if r.status != UpsertStatus::Unchanged
                    && let Some(c) = r.customer_id
                {
                    out.touch(c);
                }
                out.push(ItemResult {
                    index: *index,
                    key: doc.review_id.clone(),
                    status: r.status,
                    id: Some(r.id),
                    error: None,
                });
            }
            Err(e) => {
                sqlx::query("ROLLBACK TO SAVEPOINT review_item")
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
                sqlx::query("RELEASE SAVEPOINT review_item")
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
                out.push(ItemResult::failed(*index, doc.review_id.clone(), &e));
            }
        }
    }
    out.finish();
    Ok((out, opened))
}

const REVIEW_COLUMNS: &str = "v.id AS v_id, v.external_id, v.platform, v.rating, v.body, \
       v.order_no, v.order_id, v.customer_id AS v_customer_id, cu.name AS v_customer_name, \
       v.reviewed_at, v.imported_at, v.updated_at AS v_updated_at";

fn review_from_row(r: &DbRow, followup: Option<(Id, String)>) -> Review {
    let customer_id: Option<Id> = r.get("v_customer_id");
    Review {
        id: r.get("v_id"),
        review_id: r.get("external_id"),
        platform: r.get("platform"),
        rating: r.get("rating"),
        text: r.get("body"),
        order_no: r.get("order_no"),
        order_id: r.get("order_id"),
        customer: customer_id.map(|id| CustomerRef {
            id,
            name: r
                .get::<Option<String>, _>("v_customer_name")
                .unwrap_or_default(),
        }),
        reviewed_at: Millis(r.get("reviewed_at")),
        imported_at: Millis(r.get("imported_at")),
        updated_at: Millis(r.get("v_updated_at")),
        followup_id: followup.as_ref().map(|f| f.0),
        followup_status: followup.and_then(|f| FollowupStatus::parse(&f.1)),
    }
}

async fn list_reviews(
    conn: &mut Conn,
    shop_id: Id,
    q: &ReviewQuery,
    now: Millis,
) -> Result<Vec<Review>> {
    let (before_at, before_id) = q.before.map_or((None, None), |(t, i)| (Some(t.0), Some(i)));
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {REVIEW_COLUMNS}, f.id AS f_id, f.status AS f_status \
         FROM reviews v LEFT JOIN customers cu ON cu.id = v.customer_id \
         LEFT JOIN review_followups f ON f.review_id = v.id \
         WHERE v.shop_id = $1 AND ($2 IS NULL OR v.rating <= $2) AND ($3 IS NULL OR v.rating = $3) \
           AND ($4 IS NULL OR f.status = $4) \
           AND ($5 = 0 OR (f.status = 'open' AND f.due_at < $6)) \
           AND ($7 IS NULL OR v.platform = $7) \
           AND ($8 IS NULL OR v.reviewed_at < $8 OR (v.reviewed_at = $8 AND v.id < $9)) \
         ORDER BY v.reviewed_at DESC, v.id DESC LIMIT $10"
    )))
    .bind(shop_id)
    .bind(q.rating_max)
    .bind(q.rating)
    .bind(q.status.map(FollowupStatus::as_str))
    .bind(i64::from(q.overdue))
    .bind(now.0)
    .bind(q.platform.as_deref())
    .bind(before_at)
    .bind(before_id)
    .bind(q.limit)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(rows
        .iter()
        .map(|r| {
            let f_id: Option<Id> = r.get("f_id");
            let f_status: Option<String> = r.get("f_status");
            review_from_row(r, f_id.zip(f_status))
        })
        .collect())
}

const FOLLOWUP_SELECT: &str = "SELECT f.id, f.status, f.assignee_id, ua.name AS assignee_name, \
       f.due_at, f.outcome_note, f.created_at, f.updated_at, f.closed_at, f.closed_by, \
       uc.name AS closed_by_name, {REVIEW} \
     FROM review_followups f JOIN reviews v ON v.id = f.review_id \
     LEFT JOIN customers cu ON cu.id = v.customer_id \
     LEFT JOIN users ua ON ua.id = f.assignee_id LEFT JOIN users uc ON uc.id = f.closed_by";

fn followup_select() -> String {
    FOLLOWUP_SELECT.replace("{REVIEW}", REVIEW_COLUMNS)
}

fn followup_from_row(r: &DbRow, now: Millis) -> Result<Followup> {
    let status: String = r.get("status");
    let status = FollowupStatus::parse(&status)
        .ok_or_else(|| Error::internal(format!("stored follow-up status {status}")))?;
    let id: Id = r.get("id");
    Ok(Followup {
        id,
        status,
        assignee: agent(r.get("assignee_id"), r.get("assignee_name")),
        due_at: Millis(r.get("due_at")),
        overdue: false,
        outcome_note: r.get("outcome_note"),
        created_at: Millis(r.get("created_at")),
        updated_at: Millis(r.get("updated_at")),
        closed_at: millis(r.get("closed_at")),
        closed_by: agent(r.get("closed_by"), r.get("closed_by_name")),
        review: review_from_row(r, Some((id, status.as_str().to_owned()))),
    }
    .judge(now))
}

async fn list_followups(
    conn: &mut Conn,
    shop_id: Id,
    q: &FollowupQuery,
    now: Millis,
) -> Result<Vec<Followup>> {
    let (after_at, after_id) = q.after.map_or((None, None), |(t, i)| (Some(t.0), Some(i)));
    let rows = sqlx::query(AssertSqlSafe(format!(
        "{} WHERE f.shop_id = $1 AND ($2 IS NULL OR f.status = $2) \
           AND ($3 = 0 OR (f.status = 'open' AND f.due_at < $4)) \
           AND ($5 IS NULL OR f.assignee_id = $5) \
           AND ($6 IS NULL OR f.assignee_id IS NULL OR f.assignee_id = $6) \
           AND ($7 IS NULL OR f.due_at > $7 OR (f.due_at = $7 AND f.id > $8)) \
         ORDER BY f.due_at, f.id LIMIT $9",
        followup_select()
    )))
    .bind(shop_id)
    .bind(q.status.map(FollowupStatus::as_str))
    .bind(i64::from(q.overdue))
    .bind(now.0)
    .bind(q.assignee_id)
    .bind(q.visible_to)
    .bind(after_at)
    .bind(after_id)
    .bind(q.limit)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    rows.iter().map(|r| followup_from_row(r, now)).collect()
}

async fn followup(conn: &mut Conn, shop_id: Id, id: Id, now: Millis) -> Result<Option<Followup>> {
    sqlx::query(AssertSqlSafe(format!(
        "{} WHERE f.shop_id = $1 AND f.id = $2",
        followup_select()
    )))
    .bind(shop_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .map(|r| followup_from_row(&r, now))
    .transpose()
}

async fn update_followup(
    conn: &mut Conn,
    shop_id: Id,
    id: Id,
    patch: &FollowupPatch,
    actor: &AgentRef,
    now: Millis,
) -> Result<Followup> {
    let status: String = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT status FROM review_followups WHERE id = $1 AND shop_id = $2{FOR_UPDATE}"
    )))
    .bind(id)
    .bind(shop_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or_else(|| Error::not_found("follow-up"))?;
    let current = FollowupStatus::parse(&status).ok_or_else(|| Error::internal("stored status"))?;
    patch.check(current)?;
    if let Some(Some(a)) = patch.assignee_id {
        shop_user(conn, shop_id, a, "assignee_id").await?;
    }
    let closing = patch.status.is_some();
    sqlx::query(
        "UPDATE review_followups SET status = COALESCE($1, status), \
           outcome_note = COALESCE($2, outcome_note), \
           assignee_id = CASE WHEN $3 THEN $4 ELSE assignee_id END, \
           closed_at = CASE WHEN $5 THEN $6 ELSE closed_at END, \
           closed_by = CASE WHEN $5 THEN $7 ELSE closed_by END, updated_at = $6 \
         WHERE id = $8",
    )
    .bind(patch.status.map(FollowupStatus::as_str))
    .bind(patch.outcome_note.as_deref().map(str::trim))
    .bind(patch.assignee_id.is_some())
    .bind(patch.assignee_id.flatten())
    .bind(closing)
    .bind(now.0)
    .bind(actor.id)
    .bind(id)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    followup(conn, shop_id, id, now)
        .await?
        .ok_or_else(|| Error::internal("a follow-up vanished in its own write"))
}

// ---------------------------------------------------------------------------------------------
// The ports.

#[async_trait]
impl AftersalesStore for DbStore {
    async fn create_aftersales(
        &self,
        shop_id: Id,
        new: NewRequest,
        actor: Actor,
    ) -> Result<RequestDetail> {
        tx!(self, |conn| {
            create_request(conn, shop_id, &new, &actor, Millis::now()).await
        },)
    }

    async fn aftersales(&self, shop_id: Id, id: Id) -> Result<Option<RequestDetail>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        load_detail(&mut conn, shop_id, id).await
    }

    async fn list_aftersales(
        &self,
        shop_id: Id,
        query: &RequestQuery,
    ) -> Result<Vec<AftersalesRequest>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        list_requests(&mut conn, shop_id, query).await
    }

    async fn act_aftersales(
        &self,
        shop_id: Id,
        id: Id,
        action: Action,
        actor: Actor,
    ) -> Result<Acted> {
        tx!(self, |conn| {
            act(conn, shop_id, id, &action, &actor, Millis::now()).await
        })
    }

    async fn assign_aftersales(
        &self,
        shop_id: Id,
        id: Id,
        assignee_id: Option<Id>,
        actor: Actor,
    ) -> Result<RequestDetail> {
        tx!(self, |conn| {
            assign(conn, shop_id, id, assignee_id, &actor, Millis::now()).await
        },)
    }

    async fn add_aftersales_evidence(
        &self,
        shop_id: Id,
        id: Id,
        file: NewAttachment,
        actor: Actor,
    ) -> Result<Evidence> {
        tx!(self, |conn| {
            add_evidence(conn, shop_id, id, &file, &actor, Millis::now()).await
        },)
    }

    async fn aftersales_evidence(
        &self,
        shop_id: Id,
        request_id: Id,
        evidence_id: Id,
    ) -> Result<Option<Evidence>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        evidence(&mut conn, shop_id, request_id, evidence_id).await
    }
}

#[async_trait]
impl ReviewStore for DbStore {
    async fn review_settings(&self, shop_id: Id) -> Result<ReviewSettings> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        review_settings(&mut conn, shop_id).await
    }

    async fn put_review_settings(
        &self,
        shop_id: Id,
        settings: &ReviewSettings,
    ) -> Result<ReviewSettings> {
        let s = *settings;
        tx!(self, |conn| {
            put_review_settings(conn, shop_id, &s, Millis::now()).await
        })
    }

    async fn import_reviews(
        &self,
        shop_id: Id,
        reviews: Vec<(usize, ReviewDoc)>,
        now: Millis,
    ) -> Result<(BatchOutcome, usize)> {
        tx!(self, |conn| {
            // One import at a time per shop, so two imports of the same new review cannot both
            // insert it (the loser would fail on the unique key instead of updating).
            lock_shop(conn, ShopLock::ReviewImport, shop_id).await?;
            import_reviews(conn, shop_id, &reviews, now).await
        })
    }

    async fn list_reviews(
        &self,
        shop_id: Id,
        query: &ReviewQuery,
        now: Millis,
    ) -> Result<Vec<Review>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        list_reviews(&mut conn, shop_id, query, now).await
    }

    async fn list_followups(
        &self,
        shop_id: Id,
        query: &FollowupQuery,
        now: Millis,
    ) -> Result<Vec<Followup>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        list_followups(&mut conn, shop_id, query, now).await
    }

    async fn followup(&self, shop_id: Id, id: Id, now: Millis) -> Result<Option<Followup>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        followup(&mut conn, shop_id, id, now).await
    }

    async fn update_followup(
        &self,
        shop_id: Id,
        id: Id,
        patch: FollowupPatch,
        actor: AgentRef,
        now: Millis,
    ) -> Result<Followup> {
        tx!(self, |conn| {
            update_followup(conn, shop_id, id, &patch, &actor, now).await
        })
    }
}

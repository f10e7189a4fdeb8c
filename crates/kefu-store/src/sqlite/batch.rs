//! The steady-state fast path for shopper messages: many appends in one group commit, stored with a
//! handful of set-based statements for the whole batch instead of ~8 statements per message.
//!
//! Why: every sqlx statement is a round trip to SQLite's worker thread, and on a small machine
//! those thread hand-offs, not SQLite, were the ceiling (see docs/BENCHMARKS.md). Only the common
//! case is handled here — a shopper writing into their open conversation, not a retry. Anything
//! else (a first message, a reopen, a retry, a repeated `client_msg_id` inside the batch, an
//! unknown customer) is left to the per-message path in `conversations::append_customer`, which the
//! writer runs right after, in the same transaction. The results are indistinguishable: the same
//! seqs, counters and rows.

use super::OwnedCustomerMessage;
use super::conversations::conversation_from_row;
use super::prelude::*;
use kefu_core::Result;
use kefu_core::model::*;
use kefu_core::time::Millis;
use sqlx::SqliteConnection;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

/// The conversation select of `conversations.rs` without the queue position (NULL): counting the
/// queue costs time in proportion to its length, and the steady message path never shows it.
const CONVERSATION_SELECT_NO_QUEUE: &str = "SELECT c.id, c.shop_id, c.status, c.assignee_id, \
     u.name AS assignee_name, c.team_id, t.name AS team_name, c.customer_id, \
     cu.name AS customer_name, c.last_seq, c.last_message_at, c.last_message_preview, \
     c.unread_count, c.customer_read_seq, c.agent_read_seq, c.created_at, \
     c.tags, c.snoozed_until, c.last_customer_message_preview, c.waiting_since, \
     c.current_order_id, c.current_product_id, \
     NULL AS queue_position \
     FROM conversations c \
     JOIN customers cu ON cu.id = c.customer_id \
     LEFT JOIN users u ON u.id = c.assignee_id \
     LEFT JOIN teams t ON t.id = c.team_id";

/// `(?, ?), (?, ?) …` numbered from `first`: `rows` tuples of `width` placeholders.
fn placeholders(rows: usize, width: usize, first: usize) -> String {
    let mut out = String::with_capacity(rows * width * 5);
    let mut n = first;
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..width {
            let _ = write!(out, "{}${n}", if c == 0 { "" } else { ", " });
            n += 1;
        }
        out.push(')');
    }
    out
}

/// `$first, $first+1, …`: `n` numbered placeholders.
fn numbered(n: usize, first: usize) -> String {
    (first..first + n)
        .map(|k| format!("${k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Transaction statements to run together with the batch's own (see [`append_steady`]).
#[derive(Clone, Copy)]
pub(crate) struct Framing {
    /// Opens the transaction and the batch's savepoint (the batch may be stored in part).
    pub begin: &'static str,
    /// Releases the savepoint and commits.
    pub commit: &'static str,
    /// Opens the transaction for a batch that is stored whole or not at all (no savepoint: on
    /// failure the caller rolls the whole transaction back).
    pub begin_whole: &'static str,
    /// Commits such a batch.
    pub commit_whole: &'static str,
}

/// What [`append_steady`] did: per input, `Some` when stored here; and whether it committed.
pub(crate) struct Steady {
    pub done: Vec<Option<Appended>>,
    pub committed: bool,
}

/// A shopper's open conversation as the writer last committed it.
#[derive(Clone)]
pub(crate) struct Open {
    conversation_id: Id,
    customer_name: String,
    next_seq: i64,
    /// The whole conversation as committed, when remembered from an earlier batch: the next batch
    /// then works out the new counters itself instead of reading the row back.
    conversation: Option<Conversation>,
}

/// What the writer remembers between batches: `(shop, customer)` → their open conversation.
///
/// Sound only because the writer task is the one connection that writes conversations: it is
/// updated only by batches that committed here, and the writer clears it whenever anything else
/// runs (another job, a message taking the per-message path, an error). A retry of a message
/// stored long ago is still caught without reading: the unique index fails the bulk insert and the
/// batch is redone message by message.
pub(crate) type Known = HashMap<(Id, Id), Open>;

/// One round trip (with the caller's BEGIN, if any) reads what a batch needs: which messages are
/// retries of stored ones (driven by the batch's rows so each is one index lookup — `(a, b) IN
/// (VALUES …)` would make SQLite walk every shopper message), and each shopper's latest
/// conversation. Retries are marked not `fast`.
async fn read_state(
    conn: &mut SqliteConnection,
    msgs: &[&OwnedCustomerMessage],
    framing: Option<Framing>,
    fast: &mut [bool],
) -> Result<HashMap<(Id, Id), Open>> {
    let customers: Vec<Id> = {
        let mut ids: Vec<Id> = msgs.iter().map(|m| m.customer_id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    let first_customer = msgs.len() * 2 + 1;
    let sql = format!(
        "{}SELECT 'retry', v.column1, v.column2, NULL, NULL, NULL, NULL FROM (VALUES {}) AS v \
         JOIN messages m ON m.sender_type = 'customer' AND m.sender_id = v.column1 \
         AND m.client_msg_id = v.column2; \
         SELECT 'open', cu.id, cu.name, cu.shop_id, c.id, c.status, c.last_seq FROM customers cu \
         JOIN conversations c ON c.id = (SELECT MAX(id) FROM conversations WHERE customer_id = cu.id) \
         WHERE cu.id IN ({})",
        framing.map_or("", |f| f.begin),
        placeholders(msgs.len(), 2, 1),
        numbered(customers.len(), first_customer),
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for m in msgs {
        query = query.bind(m.customer_id).bind(m.client_msg_id.as_str());
    }
    for id in &customers {
        query = query.bind(id);
    }
    let mut stored: HashSet<(Id, String)> = HashSet::new();
    let mut open: HashMap<(Id, Id), Open> = HashMap::new(); // (shop, customer) → conversation
    for r in query.fetch_all(&mut *conn).await.map_err(db_err)? {
        if r.get::<String, _>(0) == "retry" {
            stored.insert((r.get(1), r.get(2)));
        } else if r.get::<String, _>(5) != "resolved" {
            open.insert(
                (r.get(3), r.get(1)),
                Open {
                    conversation_id: r.get(4),
                    customer_name: r.get(2),
                    next_seq: r.get::<i64, _>(6) + 1,
                    conversation: None,
                },
            );
        }
    }
    for (i, m) in msgs.iter().enumerate() {
        if stored.contains(&(m.customer_id, m.client_msg_id.clone())) {
            fast[i] = false;
        }
    }

    Ok(open)
}

/// Stores what it can of `msgs` and returns, per input, `Some` when stored here and `None` when
/// the message must go through the per-message path.
///
/// `framing` lets the caller fold its transaction into these round trips: `begin` is run before the
/// reads, and `commit` after the writes — but only when every message was stored here, which the
/// answer's `committed` reports. Without it, the caller's transaction stays open either way.
pub(crate) async fn append_steady(
    conn: &mut SqliteConnection,
    msgs: &[&OwnedCustomerMessage],
    framing: Option<Framing>,
    known: &mut Known,
) -> Result<Steady> {
    let mut fast: Vec<bool> = vec![true; msgs.len()];

    // A client_msg_id seen twice in one batch: the second is a retry of the first.
    let mut seen = HashSet::new();
    for (i, m) in msgs.iter().enumerate() {
        if !seen.insert((m.customer_id, m.client_msg_id.as_str())) {
            fast[i] = false;
        }
    }

    // Every shopper's conversation remembered from earlier batches: no reading at all, and the
    // transaction's BEGIN travels with the writes instead.
    let remembered = framing.is_some()
        && fast.iter().all(|f| *f)
        && msgs.iter().all(|m| {
            known
                .get(&(m.shop_id, m.customer_id))
                .is_some_and(|o| o.conversation.is_some())
        });
    tracing::debug!(messages = msgs.len(), remembered, "bulk append");
    let (mut open, begin_with_writes) = if remembered {
        let open: HashMap<(Id, Id), Open> = msgs
            .iter()
            .map(|m| {
                (
                    (m.shop_id, m.customer_id),
                    known[&(m.shop_id, m.customer_id)].clone(),
                )
            })
            .collect();
        (open, framing.map_or("", |f| f.begin_whole))
    } else {
        (read_state(conn, msgs, framing, &mut fast).await?, "")
    };

    // Seqs for the messages handled here, in arrival order per conversation.
    let now = Millis::now().0;
    let mut rows: Vec<(usize, Id, i64)> = Vec::new(); // (input index, conversation, seq)
    for (i, m) in msgs.iter().enumerate() {
        if !fast[i] {
            continue;
        }
        match open.get_mut(&(m.shop_id, m.customer_id)) {
            Some(o) => {
                rows.push((i, o.conversation_id, o.next_seq));
                o.next_seq += 1;
            }
            None => fast[i] = false, // a start, a reopen or an unknown shopper
        }
    }
    let mut out: Vec<Option<Appended>> = (0..msgs.len()).map(|_| None).collect();
    if rows.is_empty() {
        return Ok(Steady {
            done: out,
            committed: false,
        });
    }
    // Everything stored here: the commit can ride along with the writes.
    let commit = framing
        .filter(|_| fast.iter().all(|f| *f))
        .map(|f| if remembered { f.commit_whole } else { f.commit });

    // One counter update per conversation: its last seq, preview and unread count.
    let mut per_conversation: Vec<(Id, i64, String, i64)> = Vec::new();
    for &(i, conversation_id, seq) in &rows {
        match per_conversation.iter_mut().find(|c| c.0 == conversation_id) {
            Some(c) => {
                c.1 = seq;
                c.2 = preview(&msgs[i].body);
                c.3 += 1;
            }
            None => per_conversation.push((conversation_id, seq, preview(&msgs[i].body), 1)),
        }
    }

    // One round trip writes: the messages, the counters, then (unless remembered) reads the
    // conversations back for the events that follow the commit (they address by shop, assignee and
    // shopper; none shows the queue position, whose count grows with the queue).
    let update_first = rows.len() * 8 + 1;
    let reload_first = update_first + per_conversation.len() * 5;
    let reload = if remembered {
        String::new()
    } else {
        format!(
            "; {CONVERSATION_SELECT_NO_QUEUE} WHERE c.id IN ({})",
            numbered(per_conversation.len(), reload_first)
        )
    };
    let sql = format!(
        "{begin_with_writes}INSERT INTO messages (shop_id, conversation_id, seq, sender_type, sender_id, sender_name, \
         body, private, client_msg_id, created_at) SELECT column1, column2, column3, 'customer', \
         column4, column5, column6, FALSE, column7, column8 FROM (VALUES {}) \
         RETURNING id, conversation_id, seq; \
         UPDATE conversations SET last_seq = v.column2, last_message_at = v.column3, \
         last_message_preview = v.column4, unread_count = unread_count + v.column5, \
         last_customer_message_preview = v.column4, \
         waiting_since = COALESCE(waiting_since, v.column3) \
         FROM (VALUES {}) AS v WHERE conversations.id = v.column1{reload}{}",
        placeholders(rows.len(), 8, 1),
        placeholders(per_conversation.len(), 5, update_first),
        commit.unwrap_or(""),
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for &(i, conversation_id, seq) in &rows {
        let m = msgs[i];
        let name = &open[&(m.shop_id, m.customer_id)].customer_name;
        query = query
            .bind(m.shop_id)
            .bind(conversation_id)
            .bind(seq)
            .bind(m.customer_id)
            .bind(name.as_str())
            .bind(m.body.as_str())
            .bind(m.client_msg_id.as_str())
            .bind(now);
    }
    for (id, last_seq, preview, added) in &per_conversation {
        query = query
            .bind(id)
            .bind(last_seq)
            .bind(now)
            .bind(preview.as_str())
            .bind(added);
    }
    if !remembered {
        for c in &per_conversation {
            query = query.bind(c.0);
        }
    }
    let mut ids: HashMap<(Id, i64), Id> = HashMap::new();
    let mut conversations: HashMap<Id, Conversation> = HashMap::new();
    for r in query.fetch_all(&mut *conn).await.map_err(db_err)? {
        if r.columns().len() == 3 {
            ids.insert((r.get(1), r.get(2)), r.get(0));
        } else {
            let c = conversation_from_row(&r)?;
            conversations.insert(c.id, c);
        }
    }
    if remembered {
        // What the UPDATE above did, done to the remembered rows (exact: nothing else wrote them).
        let mut remembered_rows: HashMap<Id, &Conversation> = HashMap::new();
        for o in open.values() {
            if let Some(c) = &o.conversation {
                remembered_rows.insert(o.conversation_id, c);
            }
        }
        for (id, last_seq, preview, added) in &per_conversation {
            let Some(&c) = remembered_rows.get(id) else {
                return Err(kefu_core::Error::internal(
                    "remembered conversation missing",
                ));
            };
            let mut c = c.clone();
            c.last_seq = *last_seq;
            c.last_message_at = Millis(now);
            c.last_message_preview = preview.clone();
            c.last_customer_message_preview = preview.clone();
            c.waiting_since = c.waiting_since.or(Some(Millis(now)));
            c.unread_count += added;
            conversations.insert(*id, c);
        }
    }

    for &(i, conversation_id, seq) in &rows {
        let m = msgs[i];
        let (Some(&id), Some(conversation)) = (
            ids.get(&(conversation_id, seq)),
            conversations.get(&conversation_id),
        ) else {
            return Err(kefu_core::Error::internal("batched append lost a row"));
        };
        out[i] = Some(Appended {
            message: Message {
                id,
                conversation_id,
                seq,
                sender_type: SenderType::Customer,
                sender_id: Some(m.customer_id),
                sender_name: open[&(m.shop_id, m.customer_id)].customer_name.clone(),
                body: m.body.clone(),
                private: false,
                client_msg_id: Some(m.client_msg_id.clone()),
                created_at: Millis(now),
                // Shopper messages are always text: the insert above leaves both columns to
                // their defaults, so the hot path does no extra work for cards.
                kind: MessageKind::Text,
                payload: None,
            },
            companions: vec![],
            conversation: conversation.clone(),
            conversation_started: false,
            duplicate: false,
        });
    }
    if commit.is_some() {
        // Committed: remember where each shopper's conversation stands for the next batch.
        for m in msgs {
            if let Some(mut o) = open.remove(&(m.shop_id, m.customer_id)) {
                o.conversation = conversations.get(&o.conversation_id).cloned();
                known.insert((m.shop_id, m.customer_id), o);
            }
        }
    }
    Ok(Steady {
        done: out,
        committed: commit.is_some(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_across_rows() {
        assert_eq!(super::placeholders(2, 2, 1), "($1, $2), ($3, $4)");
        assert_eq!(super::placeholders(1, 3, 4), "($4, $5, $6)");
    }
}

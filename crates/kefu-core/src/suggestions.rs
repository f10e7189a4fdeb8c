//! Reply suggestions: what the server tells an agent about the scripts that fit the shopper's latest
//! message, and the shop history the ranking engine (kefu-search) learns from.
//!
//! The ranking itself lives in kefu-search and the flow (engine per shop, worker, events) in
//! kefu-http/src/suggest.rs; this module holds the types they share with the stores and events,
//! and the pure rule that turns a shop's recent messages into (context → agent reply) pairs.

use crate::Result;
use crate::model::Id;
use async_trait::async_trait;
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

/// How many past turns (both sides) form the context of a reply, in the history and when ranking.
pub const CONTEXT_TURNS: usize = 6;

/// A script suggested for a shopper's message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Suggestion {
    pub script_id: Id,
    pub title: String,
    /// The script's text with its `{variables}` unfilled (the console renders them on insert).
    pub body: String,
    /// The script's category name (empty when it has none).
    pub category: String,
    /// The engine's score: only the order means something.
    pub score: f32,
    /// `Some(agent)` for a personal script: suggested to its owner only. Never sent to clients.
    #[serde(skip)]
    pub owner_id: Option<Id>,
}

/// A public text message of a conversation, as the history reader returns it.
#[derive(Debug, Clone)]
pub struct PastTurn {
    pub conversation_id: Id,
    pub seq: i64,
    /// From the shopper (`true`) or an agent (`false`).
    pub from_customer: bool,
    pub body: String,
}

/// A past (context → agent reply) pair, the unit the engine learns from.
#[derive(Debug, Clone, PartialEq)]
pub struct PastExchange {
    pub conversation_id: Id,
    /// Turns before the reply, oldest first, ending with the shopper's message(s).
    pub context: Vec<String>,
    pub reply: String,
}

/// Turns a shop's recent public turns (any order) into exchanges: every agent message that answers
/// a shopper message (the turn before it, in the same conversation, is the shopper's) becomes a
/// reply, its context the up to [`CONTEXT_TURNS`] turns before it. Follow-up agent messages (a
/// second bubble after the first) are not pairs: their context ends with the agent's own words.
pub fn exchanges(mut turns: Vec<PastTurn>) -> Vec<PastExchange> {
    turns.sort_by_key(|t| (t.conversation_id, t.seq));
    let mut by_conversation: HashMap<Id, Vec<&PastTurn>> = HashMap::new();
    for t in &turns {
        by_conversation
            .entry(t.conversation_id)
            .or_default()
            .push(t);
    }
    let mut out = Vec::new();
    let mut ids: Vec<Id> = by_conversation.keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        let list = &by_conversation[&id];
        for (i, t) in list.iter().enumerate() {
            if t.from_customer || i == 0 || !list[i - 1].from_customer {
                continue;
            }
            let from = i.saturating_sub(CONTEXT_TURNS);
            out.push(PastExchange {
                conversation_id: id,
                context: list[from..i].iter().map(|t| t.body.clone()).collect(),
                reply: t.body.clone(),
            });
        }
    }
    out
}

/// What the suggestion engine reads from storage.
#[async_trait]
pub trait SuggestionStore: Send + Sync {
    /// The shop's latest `limit` public text messages from shoppers and agents (newest first is
    /// how they are read; the order returned does not matter). Read from the newest message id
    /// downwards, so the cost follows `limit`, not the size of the shop's history.
    async fn recent_public_turns(&self, shop_id: Id, limit: i64) -> Result<Vec<PastTurn>>;

    /// The shop's latest `limit` script uses as exchanges: the shopper's last public text message
    /// before the use → the script's body, so that what agents picked teaches the engine. Uses
    /// with no shopper message before them are skipped.
    async fn script_pick_exchanges(&self, shop_id: Id, limit: i64) -> Result<Vec<PastExchange>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(c: Id, seq: i64, from_customer: bool, body: &str) -> PastTurn {
        PastTurn {
            conversation_id: c,
            seq,
            from_customer,
            body: body.into(),
        }
    }

    #[test]
    fn agent_answers_to_shoppers_become_exchanges() {
        let turns = vec![
            turn(1, 3, false, "满99包邮"),
            turn(1, 1, true, "在吗"),
            turn(1, 2, true, "运费多少"),
            turn(1, 4, false, "还有别的问题吗"),
            turn(2, 1, false, "您好"),
            turn(2, 2, true, "质量怎么样"),
            turn(2, 3, false, "正品保障"),
        ];
        let e = exchanges(turns);
        assert_eq!(
            e,
            vec![
                PastExchange {
                    conversation_id: 1,
                    context: vec!["在吗".into(), "运费多少".into()],
                    reply: "满99包邮".into(),
                },
                PastExchange {
                    conversation_id: 2,
                    context: vec!["您好".into(), "质量怎么样".into()],
                    reply: "正品保障".into(),
                },
            ]
        );
    }

    #[test]
    fn context_is_bounded() {
        let mut turns: Vec<PastTurn> = (1..=20).map(|s| turn(7, s, true, "x")).collect();
        turns.push(turn(7, 21, false, "y"));
        let e = exchanges(turns);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].context.len(), CONTEXT_TURNS);
    }
}

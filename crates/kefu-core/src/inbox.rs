//! The inbox: what waits, what a conversation is about, and what the shopper is told.
//!
//! - **What waits.** Each conversation keeps the shopper's last message
//!   (`last_customer_message_preview`) and `waiting_since`, the time of the shopper's oldest
//!   message no agent has answered yet. Both are moved by the message insert itself (and SQLite's
//!   batched path), so every way a message arrives keeps them right; an agent's public message
//!   (text, card, attachment, reminder) ends the wait, a bot's or system's does not, and resolving
//!   the conversation ends it too.
//! - **What it is about.** The conversation's current order and product
//!   ([`crate::model::Conversation::current_order_id`]): set when the shopper names one of their
//!   order numbers in a message ([`order_number_candidates`]), when the shop page opens the widget
//!   with `kefu.open({sku, order_no})`, when an agent sends a card or picks an order in the
//!   sidebar. Script variables, order cards and one-click tickets read it before falling back to
//!   the customer's latest order.
//! - **What the shopper is told.** Chinese system notices in the chat when the conversation is
//!   transferred, a ticket about it is resolved, or an after-sales request moves
//!   ([`transfer_notice`], [`ticket_resolved_notice`], [`aftersales_notice`]).
//!
//! Pure rules and the storage port [`InboxStore`]; no HTTP, no SQL.

use crate::aftersales::{AftersalesRequest, Decision, RequestKind, State};
use crate::cards::format_money;
use crate::model::{Appended, Conversation, Id, MessageKind, Product};
use crate::{Error, Result};
use async_trait::async_trait;

/// The most order-number candidates one message is checked for.
pub const MAX_ORDER_CANDIDATES: usize = 5;
/// The longest order number accepted from the shop page.
pub const MAX_ORDER_NO_CHARS: usize = 64;
/// The longest SKU accepted from the shop page.
pub const MAX_SKU_CHARS: usize = 64;

/// Words in a shopper's text that may be order numbers, last named first: runs of ASCII letters,
/// digits, `-` and `_` (full-width forms folded) of 8–40 characters holding at least 6 digits
/// (platform order numbers are 10–19 digits, the demo's `XMF20261120001`). A phone number
/// qualifies too; the lookup among the shopper's own orders sorts them out. Most messages hold
/// none, so they cost no read at all.
pub fn order_number_candidates(text: &str) -> Vec<String> {
    let folded: String = text
        .chars()
        .map(|c| match c {
            // Full-width ASCII (Ｘ, ０…９, －) as a Chinese keyboard types it.
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect();
    let mut out: Vec<String> = Vec::new();
    for word in folded.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')) {
        let word = word.trim_matches(|c| c == '-' || c == '_');
        let digits = word.bytes().filter(u8::is_ascii_digit).count();
        if (8..=40).contains(&word.len()) && digits >= 6 && !out.iter().any(|w| w == word) {
            out.push(word.to_owned());
        }
    }
    out.reverse();
    out.truncate(MAX_ORDER_CANDIDATES);
    out
}

/// What a change of a conversation's current order and product sets (`None`: leave as is;
/// `Some(None)`: clear).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContextChange {
    pub order_id: Option<Option<Id>>,
    pub product_id: Option<Option<Id>>,
}

impl ContextChange {
    pub fn order(id: Id) -> Self {
        Self {
            order_id: Some(Some(id)),
            product_id: None,
        }
    }

    pub fn product(id: Id) -> Self {
        Self {
            order_id: None,
            product_id: Some(Some(id)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.order_id.is_none() && self.product_id.is_none()
    }
}

/// A stored context change.
#[derive(Debug, Clone)]
pub struct ContextSet {
    pub conversation: Conversation,
    /// Whether the order or the product actually changed.
    pub changed: bool,
}

/// The validated value of a shop page's order number or SKU: trimmed, non-empty, not too long.
pub fn page_value(field: &str, raw: Option<&str>, max: usize) -> Result<Option<String>> {
    match raw.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.chars().count() > max => Err(Error::invalid(
            field,
            format!("must be at most {max} characters"),
        )),
        Some(v) if v.chars().any(char::is_control) => Err(Error::invalid(
            field,
            "must not contain control or text-direction characters",
        )),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

/// The shopper's notice when their conversation is handed over by an agent: to an agent (a
/// transfer when another agent had it, else who serves them now) or to a team's queue. `None`
/// when nothing changed for the shopper.
pub fn transfer_notice(before: &Conversation, after: &Conversation) -> Option<String> {
    let team = |c: &Conversation| c.team.as_ref().map(|t| t.id);
    match (&after.assignee_id, &after.assignee_name) {
        (Some(id), name) if before.assignee_id != Some(*id) => {
            let name = name.as_deref().unwrap_or("客服");
            Some(if before.assignee_id.is_some() {
                format!("您的会话已转接给客服「{name}」，请稍候，马上为您服务。")
            } else {
                format!("客服「{name}」正在为您服务。")
            })
        }
        (Some(_), _) => None,
        (None, _) if before.assignee_id.is_some() || team(before) != team(after) => {
            Some(match &after.team {
                Some(t) => format!(
                    "您的会话已转接至「{}」组，请稍候，客服马上为您服务。",
                    t.name
                ),
                None => "您的会话已转接，请稍候，客服马上为您服务。".into(),
            })
        }
        (None, _) => None,
    }
}

/// The shopper's notice when a ticket about their conversation is resolved.
pub fn ticket_resolved_notice(display_number: &str) -> String {
    format!("您反馈的问题（工单 {display_number}）已处理完成。如仍有疑问，直接在这里回复我们即可。")
}

/// What the shopper is told when an after-sales request reaches `request.state`; `None` for a
/// step they take themselves (shipping the goods back).
pub fn aftersales_notice(r: &AftersalesRequest) -> Option<String> {
    let kind = match r.kind {
        RequestKind::Return => "退货退款",
        RequestKind::Exchange => "换货",
        RequestKind::Refund => "退款",
    };
    let head = format!("您的{kind}申请 {}（订单 {}）", r.no, r.order_no);
    let text = match r.state {
        State::Requested => format!("{head}已提交，我们会尽快审核。"),
        State::Approved => match &r.decision {
            Some(Decision::PartialRefund { amount_cents }) => format!(
                "{head}已通过审核，将为您部分退款 {}，商品无需寄回。",
                format_money(*amount_cents, &r.currency)
            ),
            _ => format!("{head}已通过审核，退款将尽快原路退回。"),
        },
        State::AwaitingReturn => {
            let who = match r.return_shipping_paid_by {
                Some(crate::aftersales::ReturnShippingPayer::Shop) => "（运费由店铺承担）",
                Some(crate::aftersales::ReturnShippingPayer::Customer) => "（运费由您承担）",
                None => "",
            };
            format!("{head}已通过审核，请将商品寄回{who}，寄出后告诉我们快递单号。")
        }
        State::ReturnShipped => return None,
        State::Received => format!("{head}：我们已收到您寄回的商品，正在检验。"),
        State::Inspected => format!("{head}：商品检验通过，正在为您处理。"),
        State::Refunded => format!(
            "{head}已退款 {}，将原路退回您的支付账户，请留意到账。",
            format_money(r.refunded_cents, &r.currency)
        ),
        State::Reshipped => match &r.reship_parcel {
            Some(p) => format!(
                "{head}：新商品已发出，{} 单号 {}。",
                p.carrier, p.tracking_no
            ),
            None => format!("{head}：新商品已发出。"),
        },
        State::Completed => format!("{head}已完成，感谢您的耐心。"),
        State::Rejected => match &r.decision {
            Some(Decision::Reject { reason }) if !reason.trim().is_empty() => {
                format!("{head}未通过：{}。如有疑问请直接回复我们。", reason.trim())
            }
            _ => format!("{head}未通过审核。如有疑问请直接回复我们。"),
        },
        State::Cancelled => format!("{head}已取消。"),
    };
    Some(text)
}

/// The inbox's storage port: the conversation's current order and product, and the lookups that
/// set them.
#[async_trait]
pub trait InboxStore: Send + Sync {
    /// Sets the conversation's current order and/or product. The order must be one of the
    /// conversation's customer's (else `validation_failed` naming `order_id`, `not_found` for
    /// another shop's or an unknown one), the product one of the shop's (`not_found`).
    /// `not_found` for another shop's conversation.
    async fn set_conversation_context(
        &self,
        shop_id: Id,
        conversation_id: Id,
        change: ContextChange,
    ) -> Result<ContextSet>;

    /// The first of `numbers` (in the given order) that is an order of this customer.
    async fn customer_order_by_numbers(
        &self,
        shop_id: Id,
        customer_id: Id,
        numbers: &[String],
    ) -> Result<Option<Id>>;

    /// The shop's product with this SKU.
    async fn product_by_sku(&self, shop_id: Id, sku: &str) -> Result<Option<Product>>;

    /// Stores a public `system` card (the product or order the shop page says the shopper is
    /// looking at), so agent and shopper see what the conversation is about where it happened.
    async fn append_context_card(
        &self,
        shop_id: Id,
        conversation_id: Id,
        kind: MessageKind,
        body: &str,
        payload: serde_json::Value,
    ) -> Result<Appended>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::CustomerRef;
    use crate::model::{ConversationStatus, TeamRef};
    use crate::time::Millis;

    fn conversation(agent: Option<(&str, Id)>, team: Option<&str>) -> Conversation {
        Conversation {
            id: 1,
            shop_id: 1,
            status: ConversationStatus::Open,
            assignee_id: agent.map(|a| a.1),
            assignee_name: agent.map(|a| a.0.to_owned()),
            team: team.map(|name| TeamRef {
                id: name.len() as Id,
                name: name.into(),
            }),
            customer: CustomerRef {
                id: 9,
                name: "顾客".into(),
            },
            last_seq: 0,
            last_message_at: Millis(0),
            last_message_preview: String::new(),
            unread_count: 0,
            customer_read_seq: 0,
            agent_read_seq: 0,
            queue_position: None,
            created_at: Millis(0),
            tags: vec![],
            snoozed_until: None,
            last_customer_message_preview: String::new(),
            waiting_since: None,
            current_order_id: None,
            current_product_id: None,
        }
    }

    #[test]
    fn order_numbers_in_text() {
        assert_eq!(
            order_number_candidates("我的耳机到哪了？订单号 XMF202611230001"),
            ["XMF202611230001"]
        );
        // Full-width, punctuation around, the last one named first, no duplicates.
        assert_eq!(
            order_number_candidates(
                "ＸＭＦ２０２６１１２３０００１，还有 HIST-001-0203。HIST-001-0203"
            ),
            ["HIST-001-0203", "XMF202611230001"]
        );
        assert!(order_number_candidates("你好，请问什么时候发货").is_empty());
        assert!(
            order_number_candidates("hello 12345").is_empty(),
            "too few digits"
        );
        assert!(
            order_number_candidates("A1B2C3D4E5").is_empty(),
            "five digits"
        );
        assert!(order_number_candidates("kp:123456").is_empty(), "too short");
        assert_eq!(order_number_candidates("--12345678--"), ["12345678"]);
        let many = (0..9)
            .map(|i| format!("ORD{i}00000{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let got = order_number_candidates(&many);
        assert_eq!(got.len(), MAX_ORDER_CANDIDATES);
        assert_eq!(got[0], "ORD8000008", "the last named comes first");
        assert!(
            order_number_candidates(&"9".repeat(41)).is_empty(),
            "too long"
        );
    }

    #[test]
    fn page_values() {
        assert_eq!(page_value("sku", None, 64).unwrap(), None);
        assert_eq!(page_value("sku", Some("  "), 64).unwrap(), None);
        assert_eq!(
            page_value("sku", Some(" AB-1 "), 64).unwrap().as_deref(),
            Some("AB-1")
        );
        let e = page_value("order_no", Some(&"1".repeat(65)), 64).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("order_no"));
        assert!(page_value("sku", Some("a\u{7}b"), 64).is_err());
    }

    #[test]
    fn notices_are_chinese_and_name_the_target() {
        let mut before = conversation(None, Some("售前"));
        let to_agent = conversation(Some(("王小美", 5)), Some("售前"));
        assert_eq!(
            transfer_notice(&before, &to_agent).as_deref(),
            Some("客服「王小美」正在为您服务。")
        );
        before = conversation(Some(("李娜", 4)), Some("售前"));
        assert!(
            transfer_notice(&before, &to_agent)
                .unwrap()
                .contains("已转接给客服「王小美」")
        );
        assert_eq!(
            transfer_notice(&to_agent, &to_agent),
            None,
            "the same agent"
        );
        let to_team = conversation(None, Some("售后"));
        assert!(
            transfer_notice(&before, &to_team)
                .unwrap()
                .contains("「售后」组")
        );
        assert_eq!(transfer_notice(&to_team, &to_team), None, "nothing changed");
        assert!(ticket_resolved_notice("T-000012").contains("T-000012"));
    }

    #[test]
    fn aftersales_steps_tell_the_shopper() {
        use crate::aftersales::{Parcel, ReturnShippingPayer};
        let mut r = AftersalesRequest {
            id: 1,
            no: "AS-000042".into(),
            order_id: 2,
            order_no: "XMF202611230001".into(),
            currency: "CNY".into(),
            customer: CustomerRef {
                id: 9,
                name: "顾客".into(),
            },
            kind: RequestKind::Return,
            state: State::Requested,
            reason: "不想要了".into(),
            description: String::new(),
            refundable_cents: 59900,
            refunded_cents: 0,
            decision: None,
            return_shipping_paid_by: None,
            return_parcel: None,
            reship_parcel: None,
            inspection: None,
            refund_id: None,
            conversation_id: None,
            ticket_id: None,
            assignee: None,
            created_by: None,
            created_at: Millis(0),
            updated_at: Millis(0),
            closed_at: None,
        };
        let say = |r: &AftersalesRequest| aftersales_notice(r).unwrap_or_default();
        assert!(say(&r).starts_with("您的退货退款申请 AS-000042（订单 XMF202611230001）已提交"));
        r.state = State::AwaitingReturn;
        r.return_shipping_paid_by = Some(ReturnShippingPayer::Shop);
        assert!(say(&r).contains("请将商品寄回（运费由店铺承担）"));
        r.state = State::ReturnShipped;
        assert_eq!(aftersales_notice(&r), None, "the shopper's own step");
        r.state = State::Refunded;
        r.refunded_cents = 59900;
        assert!(say(&r).contains("已退款 599.00元"), "{}", say(&r));
        r.state = State::Rejected;
        r.decision = Some(Decision::Reject {
            reason: "已超过七天无理由退货期".into(),
        });
        assert!(say(&r).contains("未通过：已超过七天无理由退货期"));
        r.kind = RequestKind::Exchange;
        r.state = State::Reshipped;
        r.reship_parcel = Some(Parcel {
            carrier: "顺丰速运".into(),
            tracking_no: "SF123".into(),
        });
        assert!(say(&r).contains("换货申请") && say(&r).contains("顺丰速运 单号 SF123"));
        r.state = State::Approved;
        r.decision = Some(Decision::PartialRefund { amount_cents: 1000 });
        assert!(say(&r).contains("部分退款 10.00元"));
    }
}

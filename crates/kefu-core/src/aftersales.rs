//! After-sales requests (售后): returns, exchanges and refunds tied to order lines, as a state machine.
//!
//! Every step is a state; an [`Action`] moves a request from one state to the next or is refused with
//! a clear error naming the state it needs. The rules are pure so that both stores apply exactly the
//! same ones inside their write transaction, and a property test can walk random action sequences.
//!
//! ```text
//! requested ─decide(reject)──────────────────────────────────────────────▶ rejected
//!     │ decide(refund, no return) / decide(partial refund: goods kept) ─▶ approved ─refund─▶ refunded ─complete─▶ completed
//!     │ decide(refund with return) / decide(exchange) ─▶ awaiting_return ─ship_return─▶ return_shipped
//!     │                                          ─receive (also straight from awaiting_return)─▶ received
//!     │                                          ─inspect(pass)─▶ inspected ─refund─▶ refunded (refund decisions)
//!     │                                                                    ─reship─▶ reshipped ─complete─▶ completed (exchange)
//!     │                                          ─inspect(fail, reason)─▶ rejected
//! cancel: requested | approved | awaiting_return ─▶ cancelled (the shopper withdraws)
//! ```

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// What the shopper asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// 退货退款
    Return,
    /// 换货
    Exchange,
    /// 仅退款
    Refund,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Requested,
    Approved,
    AwaitingReturn,
    ReturnShipped,
    Received,
    Inspected,
    Refunded,
    Reshipped,
    Completed,
    Rejected,
    Cancelled,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Requested => "requested",
            State::Approved => "approved",
            State::AwaitingReturn => "awaiting_return",
            State::ReturnShipped => "return_shipped",
            State::Received => "received",
            State::Inspected => "inspected",
            State::Refunded => "refunded",
            State::Reshipped => "reshipped",
            State::Completed => "completed",
            State::Rejected => "rejected",
            State::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        ALL_STATES.iter().copied().find(|st| st.as_str() == s)
    }

    /// No action leaves these.
    pub fn is_final(self) -> bool {
        matches!(self, State::Completed | State::Rejected | State::Cancelled)
    }
}

pub const ALL_STATES: [State; 11] = [
    State::Requested,
    State::Approved,
    State::AwaitingReturn,
    State::ReturnShipped,
    State::Received,
    State::Inspected,
    State::Refunded,
    State::Reshipped,
    State::Completed,
    State::Rejected,
    State::Cancelled,
];

/// Who pays for sending the goods back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReturnShippingPayer {
    Shop,
    Customer,
}

/// The shop's decision on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Decision {
    /// Refund the lines in full; `return_goods` says whether the goods come back first.
    FullRefund {
        return_goods: bool,
        return_shipping_paid_by: Option<ReturnShippingPayer>,
    },
    /// Refund part of the amount; the shopper keeps the goods.
    PartialRefund {
        amount_cents: i64,
    },
    /// Send replacements once the goods are back.
    Exchange {
        return_shipping_paid_by: ReturnShippingPayer,
    },
    Reject {
        reason: String,
    },
}

/// A step taken on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    Decide {
        decision: Decision,
    },
    ShipReturn {
        carrier: String,
        tracking_no: String,
    },
    Receive,
    Inspect {
        passed: bool,
        note: String,
    },
    Refund {
        amount_cents: i64,
    },
    Reship {
        carrier: String,
        tracking_no: String,
    },
    Complete,
    Cancel,
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Decide { .. } => "decide",
            Action::ShipReturn { .. } => "ship_return",
            Action::Receive => "receive",
            Action::Inspect { .. } => "inspect",
            Action::Refund { .. } => "refund",
            Action::Reship { .. } => "reship",
            Action::Complete => "complete",
            Action::Cancel => "cancel",
        }
    }
}

/// What the state machine needs to know about a request besides its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub kind: RequestKind,
    pub state: State,
    /// The most that may be refunded: the paid amount of the requested lines.
    pub refundable_cents: i64,
    pub decision: Option<Decision>,
    /// Refunded so far.
    pub refunded_cents: i64,
}

fn illegal(action: &Action, state: State, needs: &str) -> Error {
    Error::conflict(format!(
        "cannot {} a request that is {} (it must be {needs})",
        action.name(),
        state.as_str()
    ))
}

fn check_tracking(carrier: &str, tracking_no: &str) -> Result<()> {
    let no = tracking_no.trim();
    if carrier.trim().is_empty() || carrier.chars().count() > 40 {
        return Err(Error::validation(
            "carrier is required (at most 40 characters)",
        ));
    }
    if no.len() < 4 || no.len() > 40 || !no.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(Error::validation(
            "tracking_no must be 4–40 letters, digits or dashes",
        ));
    }
    Ok(())
}

impl Request {
    pub fn new(kind: RequestKind, refundable_cents: i64) -> Self {
        Request {
            kind,
            state: State::Requested,
            refundable_cents,
            decision: None,
            refunded_cents: 0,
        }
    }

    /// Applies `action`: the new request, or why it is refused (409 for a step that does not fit the
    /// state, 422 for bad values). The request is unchanged on error.
    pub fn apply(&self, action: &Action) -> Result<Request> {
        let mut next = self.clone();
        let state = self.state;
        if state.is_final() {
            return Err(Error::conflict(format!(
                "the request is {} and can no longer change",
                state.as_str()
            )));
        }
        next.state = match action {
            Action::Decide { decision } => {
                if state != State::Requested {
                    return Err(illegal(action, state, "requested"));
                }
                let to = self.decide(decision)?;
                next.decision = Some(decision.clone());
                to
            }
            Action::ShipReturn {
                carrier,
                tracking_no,
            } => {
                if state != State::AwaitingReturn {
                    return Err(illegal(action, state, "awaiting_return"));
                }
                check_tracking(carrier, tracking_no)?;
                State::ReturnShipped
            }
            Action::Receive => match state {
                State::AwaitingReturn | State::ReturnShipped => State::Received,
                _ => return Err(illegal(action, state, "awaiting_return or return_shipped")),
            },
            Action::Inspect { passed, note } => {
                if state != State::Received {
                    return Err(illegal(action, state, "received"));
                }
                if !passed && note.trim().is_empty() {
                    return Err(Error::validation(
                        "a failed inspection needs a note saying what was found",
                    ));
                }
                if *passed {
                    State::Inspected
                } else {
                    State::Rejected
                }
            }
            Action::Refund { amount_cents } => {
                let allowed = match (&self.decision, state) {
                    (Some(Decision::FullRefund { return_goods, .. }), s) => {
                        (s == State::Approved && !return_goods)
                            || (s == State::Inspected && *return_goods)
                    }
                    (Some(Decision::PartialRefund { .. }), State::Approved) => true,
                    _ => false,
                };
                if !allowed {
                    return Err(illegal(
                        action,
                        state,
                        "approved for a refund, or inspected after a return",
                    ));
                }
                let cap = match &self.decision {
                    Some(Decision::PartialRefund { amount_cents }) => *amount_cents,
                    _ => self.refundable_cents,
                };
                if *amount_cents <= 0 || *amount_cents > cap {
                    return Err(Error::validation(format!(
                        "the refund must be between 1 and {cap} cents"
                    )));
                }
                next.refunded_cents = *amount_cents;
                State::Refunded
            }
            Action::Reship {
                carrier,
                tracking_no,
            } => {
                if state != State::Inspected
                    || !matches!(self.decision, Some(Decision::Exchange { .. }))
                {
                    return Err(illegal(action, state, "inspected after an exchange return"));
                }
                check_tracking(carrier, tracking_no)?;
                State::Reshipped
            }
            Action::Complete => match state {
                State::Refunded | State::Reshipped => State::Completed,
                _ => return Err(illegal(action, state, "refunded or reshipped")),
            },
            Action::Cancel => match state {
                State::Requested | State::Approved | State::AwaitingReturn => State::Cancelled,
                _ => {
                    return Err(illegal(
                        action,
                        state,
                        "requested, approved or awaiting_return",
                    ));
                }
            },
        };
        Ok(next)
    }

    fn decide(&self, decision: &Decision) -> Result<State> {
        Ok(match decision {
            Decision::Reject { reason } => {
                if reason.trim().is_empty() || reason.chars().count() > 500 {
                    return Err(Error::validation(
                        "a rejection needs a reason (at most 500 characters)",
                    ));
                }
                State::Rejected
            }
            Decision::FullRefund {
                return_goods,
                return_shipping_paid_by,
            } => {
                if self.kind == RequestKind::Exchange {
                    return Err(Error::validation(
                        "an exchange request is decided with exchange, a partial refund or a rejection",
                    ));
                }
                if *return_goods {
                    if return_shipping_paid_by.is_none() {
                        return Err(Error::validation(
                            "say who pays the return shipping (shop or customer)",
                        ));
                    }
                    State::AwaitingReturn
                } else {
                    State::Approved
                }
            }
            Decision::PartialRefund { amount_cents } => {
                if *amount_cents <= 0 || *amount_cents > self.refundable_cents {
                    return Err(Error::validation(format!(
                        "a partial refund must be between 1 and {} cents",
                        self.refundable_cents
                    )));
                }
                State::Approved
            }
            Decision::Exchange { .. } => {
                if self.kind == RequestKind::Refund {
                    return Err(Error::validation(
                        "a refund-only request cannot be decided as an exchange",
                    ));
                }
                State::AwaitingReturn
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Requests as stored: input, line planning, read models and the storage port.

use crate::model::{CustomerRef, Id};
use crate::time::Millis;
use async_trait::async_trait;
use std::collections::HashMap;

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Return => "return",
            RequestKind::Exchange => "exchange",
            RequestKind::Refund => "refund",
        }
    }

    pub fn parse(s: &str) -> Option<RequestKind> {
        [
            RequestKind::Return,
            RequestKind::Exchange,
            RequestKind::Refund,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

impl ReturnShippingPayer {
    pub fn as_str(self) -> &'static str {
        match self {
            ReturnShippingPayer::Shop => "shop",
            ReturnShippingPayer::Customer => "customer",
        }
    }

    pub fn parse(s: &str) -> Option<ReturnShippingPayer> {
        match s {
            "shop" => Some(ReturnShippingPayer::Shop),
            "customer" => Some(ReturnShippingPayer::Customer),
            _ => None,
        }
    }
}

impl Decision {
    /// Who pays the return shipping under this decision (none when nothing comes back).
    pub fn return_shipping_paid_by(&self) -> Option<ReturnShippingPayer> {
        match self {
            Decision::FullRefund {
                return_goods: true,
                return_shipping_paid_by,
            } => *return_shipping_paid_by,
            Decision::Exchange {
                return_shipping_paid_by,
            } => Some(*return_shipping_paid_by),
            _ => None,
        }
    }
}

/// Why the shopper asks (the console shows each in Chinese or English).
pub const REASONS: &[&str] = &[
    "damaged",
    "wrong_item",
    "missing_item",
    "quality",
    "not_as_described",
    "no_longer_wanted",
    "other",
];

/// The most evidence photos one request keeps.
pub const MAX_EVIDENCE: i64 = 20;

/// The most lines one request may name.
pub const MAX_REQUEST_LINES: usize = 100;

/// A request number typed by someone: `AS-000042`, `as42`, `AS42` (the prefix is required, so a
/// bare number stays an order number or a phone).
pub fn parse_request_no(text: &str) -> Option<i64> {
    let t = text.trim();
    let head = t.get(..2)?;
    if !head.eq_ignore_ascii_case("as") {
        return None;
    }
    let rest = t[2..].strip_prefix('-').unwrap_or(&t[2..]);
    if rest.is_empty() || rest.len() > 12 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok().filter(|n| *n > 0)
}

/// The number shown to people: `AS-000042` (per shop, gap-free while nothing is rolled back).
pub fn request_no(number: i64) -> String {
    format!("AS-{number:06}")
}

/// One requested line: an order line named by its id or its line number, and how many.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct LineInput {
    /// The order line's id (as the order endpoints show it); or give `line_no`.
    #[serde(default)]
    pub order_item_id: Option<Id>,
    /// The line number within the order (1-based); or give `order_item_id`.
    #[serde(default)]
    pub line_no: Option<i64>,
    pub quantity: i64,
}

/// `POST /api/v1/aftersales`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewRequestInput {
    pub order_id: Id,
    pub kind: RequestKind,
    /// One of [`REASONS`].
    pub reason: String,
    #[serde(default)]
    pub description: String,
    pub lines: Vec<LineInput>,
    /// The conversation the request came from (optional).
    #[serde(default)]
    pub conversation_id: Option<Id>,
    /// A ticket it belongs to (optional; tickets are another area).
    #[serde(default)]
    pub ticket_id: Option<Id>,
    /// Who handles it: admins and supervisors may name any agent of the shop; an agent's own
    /// requests are theirs. Absent: the creating agent (supervisors: nobody, the shop's pool).
    #[serde(default)]
    pub assignee_id: Option<Id>,
}

fn check_text(field: &str, value: &str, max: usize) -> Result<()> {
    if value.chars().count() > max || value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::validation(format!(
            "{field}: must be at most {max} characters without control characters"
        )));
    }
    Ok(())
}

impl NewRequestInput {
    /// Checks everything that does not need the order; the store checks the lines against it.
    pub fn validate(&self) -> Result<()> {
        if !REASONS.contains(&self.reason.trim()) {
            return Err(Error::validation(format!(
                "reason: must be one of {}",
                REASONS.join(", ")
            )));
        }
        check_text("description", self.description.trim(), 1000)?;
        for (field, id) in [
            ("order_id", Some(self.order_id)),
            ("conversation_id", self.conversation_id),
            ("ticket_id", self.ticket_id),
            ("assignee_id", self.assignee_id),
        ] {
            if id.is_some_and(|v| v < 1) {
                return Err(Error::validation(format!("{field}: must be a positive id")));
            }
        }
        if self.lines.is_empty() {
            return Err(Error::validation("lines: name at least one order line"));
        }
        if self.lines.len() > MAX_REQUEST_LINES {
            return Err(Error::validation(format!(
                "lines: at most {MAX_REQUEST_LINES} lines"
            )));
        }
        for (i, l) in self.lines.iter().enumerate() {
            if l.order_item_id.is_some() == l.line_no.is_some() {
                return Err(Error::validation(format!(
                    "lines[{i}]: give exactly one of order_item_id, line_no"
                )));
            }
            if l.quantity < 1 {
                return Err(Error::validation(format!(
                    "lines[{i}].quantity: must be at least 1"
                )));
            }
        }
        Ok(())
    }
}

/// An order line as the planner sees it, with how much of it open requests already claim.
#[derive(Debug, Clone)]
pub struct OrderLineFacts {
    pub id: Id,
    pub line_no: i64,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
    pub total_cents: i64,
    /// Quantity named by the order's other requests that are not rejected or cancelled.
    pub already_requested: i64,
}

/// The order's amounts the planner needs.
#[derive(Debug, Clone, Copy)]
pub struct OrderFacts {
    pub items_cents: i64,
    pub discount_cents: i64,
    pub total_cents: i64,
    pub refunded_cents: i64,
    pub paid: bool,
    pub cancelled: bool,
}

/// A line of a request: a snapshot of the order line (lines are re-written when an order is
/// re-imported, so requests keep their own copy) and the amount it may bring back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RequestLine {
    pub line_no: i64,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
    /// The part of what was paid that these units account for (the order's discount spread over
    /// its lines by value).
    pub refundable_cents: i64,
}

/// Resolves the requested lines against the order: each must be a line of this order, named
/// once, and its quantity plus what other open requests claim must not exceed what was ordered.
/// Returns the lines and the request's refundable amount: the lines' paid share, or, when this
/// request takes back the whole order and nothing was claimed before, everything still not
/// refunded (shipping included); never more than the order has left.
/// Whether an order accepts a new after-sales request at all: paid, not cancelled and not yet
/// refunded in full. The one rule behind [`plan_lines`]'s refusals and the `aftersales_allowed`
/// flag orders carry, so the console offers 申请售后 exactly where the server would accept it.
pub fn order_allows_request(
    paid: bool,
    cancelled: bool,
    total_cents: i64,
    refunded_cents: i64,
) -> bool {
    paid && !cancelled && total_cents - refunded_cents > 0
}

pub fn plan_lines(
    order: &OrderFacts,
    lines: &[OrderLineFacts],
    wanted: &[LineInput],
) -> Result<(Vec<RequestLine>, i64)> {
    if !order.paid {
        return Err(Error::validation(
            "order_id: the order is not paid, there is nothing to return or refund",
        ));
    }
    if order.cancelled {
        return Err(Error::validation("order_id: the order is cancelled"));
    }
    let left = order.total_cents - order.refunded_cents;
    if left <= 0 {
        return Err(Error::validation(
            "order_id: the order has been refunded in full",
        ));
    }
    let mut seen: HashMap<i64, usize> = HashMap::new();
    let mut out = Vec::with_capacity(wanted.len());
    for (i, w) in wanted.iter().enumerate() {
        let line = match (w.order_item_id, w.line_no) {
            (Some(id), _) => lines.iter().find(|l| l.id == id).ok_or_else(|| {
                Error::validation(format!(
                    "lines[{i}].order_item_id: not a line of this order"
                ))
            })?,
            (None, Some(no)) => lines.iter().find(|l| l.line_no == no).ok_or_else(|| {
                Error::validation(format!("lines[{i}].line_no: the order has no line {no}"))
            })?,
            (None, None) => {
                return Err(Error::validation(format!(
                    "lines[{i}]: give exactly one of order_item_id, line_no"
                )));
            }
        };
        if let Some(first) = seen.insert(line.line_no, i) {
            return Err(Error::validation(format!(
                "lines[{i}]: the same order line as lines[{first}]"
            )));
        }
        let available = line.quantity - line.already_requested;
        if w.quantity > available {
            return Err(Error::validation(format!(
                "lines[{i}].quantity: {} ordered, {} already in other requests, at most {} left",
                line.quantity,
                line.already_requested,
                available.max(0)
            )));
        }
        let share =
            i128::from(line.total_cents) * i128::from(w.quantity) / i128::from(line.quantity);
        let paid_share = if order.items_cents > 0 {
            share * i128::from(order.items_cents - order.discount_cents)
                / i128::from(order.items_cents)
        } else {
            0
        };
        out.push(RequestLine {
            line_no: line.line_no,
            sku: line.sku.clone(),
            name: line.name.clone(),
            quantity: w.quantity,
            unit_price_cents: line.unit_price_cents,
            refundable_cents: paid_share as i64,
        });
    }
    let whole_order = lines.iter().all(|l| {
        l.already_requested == 0
            && out
                .iter()
                .any(|r| r.line_no == l.line_no && r.quantity == l.quantity)
    });
    let sum: i64 = out.iter().map(|l| l.refundable_cents).sum();
    let refundable = if whole_order { left } else { sum.min(left) };
    Ok((out, refundable))
}

/// The actions a request in its current state accepts, by name: what the console offers.
pub fn allowed_actions(req: &Request) -> Vec<&'static str> {
    let refund_decided = matches!(
        req.decision,
        Some(Decision::FullRefund { .. } | Decision::PartialRefund { .. })
    );
    match req.state {
        State::Requested => vec!["decide", "cancel"],
        State::Approved if refund_decided => vec!["refund", "cancel"],
        State::Approved => vec!["cancel"],
        State::AwaitingReturn => vec!["ship_return", "receive", "cancel"],
        State::ReturnShipped => vec!["receive"],
        State::Received => vec!["inspect"],
        State::Inspected => match req.decision {
            Some(Decision::Exchange { .. }) => vec!["reship"],
            Some(Decision::FullRefund {
                return_goods: true, ..
            }) => vec!["refund"],
            _ => vec![],
        },
        State::Refunded | State::Reshipped => vec!["complete"],
        State::Completed | State::Rejected | State::Cancelled => vec![],
    }
}

/// Who did something: an agent of the shop (or the system, without an id).
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: Option<Id>,
    pub name: String,
}

/// An agent as a request or task shows them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[schema(as = AftersalesAgentRef)]
pub struct AgentRef {
    pub id: Id,
    pub name: String,
}

/// A validated request, ready for the store.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub order_id: Id,
    pub kind: RequestKind,
    pub reason: String,
    pub description: String,
    pub lines: Vec<LineInput>,
    pub conversation_id: Option<Id>,
    pub ticket_id: Option<Id>,
    pub assignee_id: Option<Id>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Inspection {
    pub passed: bool,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Parcel {
    pub carrier: String,
    pub tracking_no: String,
}

/// A request as lists show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AftersalesRequest {
    pub id: Id,
    /// `AS-000042`: the shop's own running number.
    pub no: String,
    pub order_id: Id,
    pub order_no: String,
    pub currency: String,
    pub customer: CustomerRef,
    pub kind: RequestKind,
    pub state: State,
    pub reason: String,
    pub description: String,
    /// The most this request may refund (derived from its lines when it was made).
    pub refundable_cents: i64,
    /// Refunded by this request (0 until the refund is issued).
    pub refunded_cents: i64,
    pub decision: Option<Decision>,
    pub return_shipping_paid_by: Option<ReturnShippingPayer>,
    pub return_parcel: Option<Parcel>,
    pub reship_parcel: Option<Parcel>,
    pub inspection: Option<Inspection>,
    /// The refund recorded on the order (commerce area) when it was issued.
    pub refund_id: Option<Id>,
    pub conversation_id: Option<Id>,
    pub ticket_id: Option<Id>,
    pub assignee: Option<AgentRef>,
    pub created_by: Option<AgentRef>,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// When it reached completed, rejected or cancelled.
    pub closed_at: Option<Millis>,
}

impl AftersalesRequest {
    /// The state machine's view of this request.
    pub fn machine(&self) -> Request {
        Request {
            kind: self.kind,
            state: self.state,
            refundable_cents: self.refundable_cents,
            decision: self.decision.clone(),
            refunded_cents: self.refunded_cents,
        }
    }
}

/// One step in a request's history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub id: Id,
    /// `create`, an [`Action`] name, `assign` or `evidence`.
    pub action: String,
    pub from_state: Option<State>,
    pub to_state: State,
    pub actor: Option<AgentRef>,
    pub actor_name: String,
    /// The step's values (the decision, the tracking number, the note …) as sent.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub at: Millis,
}

/// An evidence photo (stored like chat attachments, by content hash).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Evidence {
    pub id: Id,
    pub request_id: Id,
    pub name: String,
    pub mime: String,
    pub size: i64,
    pub width: Option<i64>,
    pub height: Option<i64>,
    #[serde(skip)]
    pub sha256: String,
    #[serde(skip)]
    pub has_thumb: bool,
    pub uploaded_by: Option<AgentRef>,
    pub created_at: Millis,
    /// Where the console fetches it (`GET`, agent session).
    pub url: String,
    pub thumb_url: String,
}

impl Evidence {
    pub fn urls(request_id: Id, id: Id) -> (String, String) {
        let base = format!("/api/v1/aftersales/{request_id}/evidence/{id}");
        (base.clone(), format!("{base}/thumb"))
    }
}

/// A request with everything its page shows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RequestDetail {
    #[serde(flatten)]
    pub request: AftersalesRequest,
    pub lines: Vec<RequestLine>,
    /// Oldest first.
    pub history: Vec<HistoryEntry>,
    pub evidence: Vec<Evidence>,
    /// What may be done next (see [`allowed_actions`]).
    pub allowed_actions: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RequestQuery {
    pub state: Option<State>,
    pub kind: Option<RequestKind>,
    pub customer_id: Option<Id>,
    pub order_id: Option<Id>,
    /// The request's own number (`AS-000007` → 7).
    pub number: Option<i64>,
    /// Orders whose number contains this text (any case).
    pub order_no: Option<String>,
    pub created_from: Option<Millis>,
    pub created_to: Option<Millis>,
    /// Agents: only requests assigned to this agent or to nobody.
    pub visible_to: Option<Id>,
    /// Keyset: requests strictly older than `(created_at, id)`.
    pub before: Option<(Millis, Id)>,
    pub limit: i64,
}

/// What an applied action changed besides the state (for events and segments).
#[derive(Debug, Clone)]
pub struct Acted {
    pub detail: RequestDetail,
    /// Set when the action recorded a refund on the order.
    pub refunded_order: Option<(Id, Id)>,
}

/// Storage for after-sales requests. Scoped by shop like every store method; writes return once
/// committed. The state machine ([`Request::apply`]) runs inside the write, against the stored
/// state, so two concurrent actions cannot both pass.
#[async_trait]
pub trait AftersalesStore: Send + Sync + 'static {
    /// Creates a request: the lines are planned against the order ([`plan_lines`]) in the same
    /// write; `not_found` for another shop's order, conversation or assignee.
    async fn create_aftersales(
        &self,
        shop_id: Id,
        new: NewRequest,
        actor: Actor,
    ) -> Result<RequestDetail>;
    async fn aftersales(&self, shop_id: Id, id: Id) -> Result<Option<RequestDetail>>;
    async fn list_aftersales(
        &self,
        shop_id: Id,
        query: &RequestQuery,
    ) -> Result<Vec<AftersalesRequest>>;
    /// Applies an action; a refund is recorded on the order (refunds, refunded amount, payment
    /// status) in the same write.
    async fn act_aftersales(
        &self,
        shop_id: Id,
        id: Id,
        action: Action,
        actor: Actor,
    ) -> Result<Acted>;
    /// Hands the request to an agent of the shop (or to nobody).
    async fn assign_aftersales(
        &self,
        shop_id: Id,
        id: Id,
        assignee_id: Option<Id>,
        actor: Actor,
    ) -> Result<RequestDetail>;
    async fn add_aftersales_evidence(
        &self,
        shop_id: Id,
        id: Id,
        file: crate::attachments::NewAttachment,
        actor: Actor,
    ) -> Result<Evidence>;
    async fn aftersales_evidence(
        &self,
        shop_id: Id,
        request_id: Id,
        evidence_id: Id,
    ) -> Result<Option<Evidence>>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use proptest::prelude::*;

    fn decide(d: Decision) -> Action {
        Action::Decide { decision: d }
    }

    fn run(req: Request, actions: &[Action]) -> Result<Request> {
        actions.iter().try_fold(req, |r, a| r.apply(a))
    }

    #[test]
    fn damaged_item_partial_refund_keeping_the_goods() {
        let r = run(
            Request::new(RequestKind::Refund, 12_900),
            &[
                decide(Decision::PartialRefund {
                    amount_cents: 3_000,
                }),
                Action::Refund {
                    amount_cents: 3_000,
                },
                Action::Complete,
            ],
        )
        .unwrap();
        assert_eq!(r.state, State::Completed);
        assert_eq!(r.refunded_cents, 3_000);
    }

    #[test]
    fn return_then_refund_and_exchange_then_reship() {
        let back = [
            Action::ShipReturn {
                carrier: "顺丰".into(),
                tracking_no: "SF1234567890".into(),
            },
            Action::Receive,
            Action::Inspect {
                passed: true,
                note: String::new(),
            },
        ];
        let full = decide(Decision::FullRefund {
            return_goods: true,
            return_shipping_paid_by: Some(ReturnShippingPayer::Shop),
        });
        let mut steps = vec![full];
        steps.extend(back.iter().cloned());
        steps.push(Action::Refund {
            amount_cents: 12_900,
        });
        let r = run(Request::new(RequestKind::Return, 12_900), &steps).unwrap();
        assert_eq!(r.state, State::Refunded);

        let mut steps = vec![decide(Decision::Exchange {
            return_shipping_paid_by: ReturnShippingPayer::Customer,
        })];
        steps.extend(back.iter().cloned());
        steps.push(Action::Reship {
            carrier: "中通".into(),
            tracking_no: "ZT998877".into(),
        });
        steps.push(Action::Complete);
        assert_eq!(
            run(Request::new(RequestKind::Exchange, 5_000), &steps)
                .unwrap()
                .state,
            State::Completed
        );
    }

    #[test]
    fn illegal_steps_are_refused_with_the_state_they_need() {
        let req = Request::new(RequestKind::Return, 1_000);
        let err = req
            .apply(&Action::Refund {
                amount_cents: 1_000,
            })
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::Conflict);
        assert!(err.message.contains("requested"), "{}", err.message);
        let err = req.apply(&Action::Receive).unwrap_err();
        assert!(err.message.contains("awaiting_return"), "{}", err.message);
        // Over-refunding and empty reasons are bad values, not bad states.
        let approved = req
            .apply(&decide(Decision::FullRefund {
                return_goods: false,
                return_shipping_paid_by: None,
            }))
            .unwrap();
        let err = approved
            .apply(&Action::Refund {
                amount_cents: 1_001,
            })
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::ValidationFailed);
        let err = req
            .apply(&decide(Decision::Reject { reason: " ".into() }))
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::ValidationFailed);
        let rejected = req
            .apply(&decide(Decision::Reject {
                reason: "超过七天无理由退货期".into(),
            }))
            .unwrap();
        assert!(rejected.apply(&Action::Cancel).is_err());
    }

    fn facts() -> (OrderFacts, Vec<OrderLineFacts>) {
        let line = |id, no, q, unit| OrderLineFacts {
            id,
            line_no: no,
            sku: format!("S{no}"),
            name: format!("line {no}"),
            quantity: q,
            unit_price_cents: unit,
            total_cents: q * unit,
            already_requested: 0,
        };
        (
            OrderFacts {
                items_cents: 19_900 + 2 * 2_900,
                discount_cents: 2_570,
                total_cents: 19_900 + 2 * 2_900 - 2_570 + 1_000,
                refunded_cents: 0,
                paid: true,
                cancelled: false,
            },
            vec![line(11, 1, 1, 19_900), line(12, 2, 2, 2_900)],
        )
    }

    fn want(no: i64, q: i64) -> LineInput {
        LineInput {
            order_item_id: None,
            line_no: Some(no),
            quantity: q,
        }
    }

    #[test]
    fn lines_are_checked_and_priced() {
        let (order, lines) = facts();
        // One cable of two: half the line, less its share of the 10% discount.
        let (out, refundable) = plan_lines(&order, &lines, &[want(2, 1)]).unwrap();
        assert_eq!(out[0].refundable_cents, 2_900 * 9 / 10);
        assert_eq!(refundable, 2_610);
        // The whole order: everything paid, shipping included.
        let (_, all) = plan_lines(&order, &lines, &[want(1, 1), want(2, 2)]).unwrap();
        assert_eq!(all, order.total_cents);
        let e = plan_lines(&order, &lines, &[want(2, 3)]).unwrap_err();
        assert!(e.message.starts_with("lines[0].quantity"), "{}", e.message);
        let e = plan_lines(&order, &lines, &[want(9, 1)]).unwrap_err();
        assert!(e.message.starts_with("lines[0].line_no"), "{}", e.message);
        let foreign = LineInput {
            order_item_id: Some(99),
            line_no: None,
            quantity: 1,
        };
        let e = plan_lines(&order, &lines, &[foreign]).unwrap_err();
        assert!(
            e.message.starts_with("lines[0].order_item_id"),
            "{}",
            e.message
        );
        let e = plan_lines(&order, &lines, &[want(1, 1), want(1, 1)]).unwrap_err();
        assert!(e.message.starts_with("lines[1]"), "{}", e.message);
        // What open requests claim is taken off.
        let mut claimed = lines.clone();
        claimed[1].already_requested = 2;
        assert!(plan_lines(&order, &claimed, &[want(2, 1)]).is_err());
        let (_, part) = plan_lines(&order, &claimed, &[want(1, 1)]).unwrap();
        assert_eq!(part, 19_900 * 9 / 10);
        // Refunds already made cap the amount.
        let nearly = OrderFacts {
            refunded_cents: order.total_cents - 100,
            ..order
        };
        assert_eq!(plan_lines(&nearly, &lines, &[want(1, 1)]).unwrap().1, 100);
        let unpaid = OrderFacts {
            paid: false,
            ..order
        };
        assert!(plan_lines(&unpaid, &lines, &[want(1, 1)]).is_err());
    }

    /// The console offers exactly the actions that can succeed: every offered action has a value
    /// that the machine accepts, and every action that is not offered is refused whatever its values.
    #[test]
    fn request_numbers_read_and_orders_allow_requests() {
        assert_eq!(request_no(7), "AS-000007");
        for t in ["AS-000007", "as7", "AS7", " as-7 ", "As-0007"] {
            assert_eq!(parse_request_no(t), Some(7), "{t}");
        }
        for t in ["", "AS", "AS-", "7", "T-000007", "AS-7x", "AS-0", "退款"] {
            assert_eq!(parse_request_no(t), None, "{t}");
        }
        assert!(order_allows_request(true, false, 1000, 0));
        assert!(order_allows_request(true, false, 1000, 999));
        assert!(!order_allows_request(false, false, 1000, 0), "unpaid");
        assert!(!order_allows_request(true, true, 1000, 0), "cancelled");
        assert!(
            !order_allows_request(true, false, 1000, 1000),
            "refunded in full"
        );
    }

    #[test]
    fn allowed_actions_match_the_machine() {
        let samples = |req: &Request| -> Vec<Action> {
            let payer = Some(ReturnShippingPayer::Shop);
            let mut v = vec![
                decide(Decision::FullRefund {
                    return_goods: true,
                    return_shipping_paid_by: payer,
                }),
                decide(Decision::FullRefund {
                    return_goods: false,
                    return_shipping_paid_by: None,
                }),
                decide(Decision::PartialRefund { amount_cents: 1 }),
                decide(Decision::Exchange {
                    return_shipping_paid_by: ReturnShippingPayer::Shop,
                }),
                decide(Decision::Reject { reason: "x".into() }),
                Action::ShipReturn {
                    carrier: "EMS".into(),
                    tracking_no: "E1234".into(),
                },
                Action::Receive,
                Action::Inspect {
                    passed: true,
                    note: String::new(),
                },
                Action::Reship {
                    carrier: "EMS".into(),
                    tracking_no: "E1234".into(),
                },
                Action::Complete,
                Action::Cancel,
            ];
            v.push(Action::Refund { amount_cents: 1 });
            let _ = req;
            v
        };
        let mut frontier = vec![
            Request::new(RequestKind::Return, 1_000),
            Request::new(RequestKind::Exchange, 1_000),
            Request::new(RequestKind::Refund, 1_000),
        ];
        let mut checked = 0;
        while let Some(req) = frontier.pop() {
            let offered = allowed_actions(&req);
            for a in samples(&req) {
                let result = req.apply(&a);
                if !offered.contains(&a.name()) {
                    assert!(
                        result.is_err(),
                        "{:?} not offered in {:?} but accepted",
                        a,
                        req.state
                    );
                } else if let Ok(next) = result {
                    checked += 1;
                    if checked < 500 {
                        frontier.push(next);
                    }
                }
            }
            for name in offered {
                assert!(
                    samples(&req)
                        .iter()
                        .any(|a| a.name() == name && req.apply(a).is_ok()),
                    "{name} offered in {:?} but never accepted",
                    req.state
                );
            }
        }
    }

    fn action_strategy() -> impl Strategy<Value = Action> {
        let payer = prop_oneof![
            Just(ReturnShippingPayer::Shop),
            Just(ReturnShippingPayer::Customer)
        ];
        prop_oneof![
            (any::<bool>(), proptest::option::of(payer.clone())).prop_map(|(g, p)| decide(
                Decision::FullRefund {
                    return_goods: g,
                    return_shipping_paid_by: p
                }
            )),
            (-10i64..2_000).prop_map(|a| decide(Decision::PartialRefund { amount_cents: a })),
            payer.prop_map(|p| decide(Decision::Exchange {
                return_shipping_paid_by: p
            })),
            Just(decide(Decision::Reject {
                reason: "no".into()
            })),
            Just(Action::ShipReturn {
                carrier: "EMS".into(),
                tracking_no: "E123456".into()
            }),
            Just(Action::Receive),
            any::<bool>().prop_map(|p| Action::Inspect {
                passed: p,
                note: "scratched".into()
            }),
            (-10i64..2_000).prop_map(|a| Action::Refund { amount_cents: a }),
            Just(Action::Reship {
                carrier: "EMS".into(),
                tracking_no: "E654321".into()
            }),
            Just(Action::Complete),
            Just(Action::Cancel),
        ]
    }

    proptest! {
        /// Whatever is attempted: refused steps change nothing, money never exceeds what was paid
        /// (or what was decided), goods are never refunded in full before they are back when a
        /// return was decided, and an exchange never ends in a refund.
        #[test]
        fn random_walks_keep_the_invariants(
            kind in prop_oneof![Just(RequestKind::Return), Just(RequestKind::Exchange), Just(RequestKind::Refund)],
            actions in proptest::collection::vec(action_strategy(), 0..12),
        ) {
            let mut req = Request::new(kind, 1_000);
            let mut visited = vec![req.state];
            for action in &actions {
                match req.apply(action) {
                    Ok(next) => {
                        prop_assert!(!req.state.is_final());
                        req = next;
                        visited.push(req.state);
                    }
                    Err(e) => prop_assert!(matches!(e.code, ErrorCode::Conflict | ErrorCode::ValidationFailed)),
                }
                prop_assert!(req.refunded_cents >= 0 && req.refunded_cents <= 1_000);
                if let Some(Decision::PartialRefund { amount_cents }) = &req.decision {
                    prop_assert!(req.refunded_cents <= *amount_cents);
                }
                if req.state == State::Refunded {
                    if let Some(Decision::FullRefund { return_goods: true, .. }) = &req.decision {
                        prop_assert!(visited.contains(&State::Inspected));
                    }
                    let exchanged = matches!(req.decision, Some(Decision::Exchange { .. }));
                    prop_assert!(!exchanged, "an exchange was refunded");
                }
                if kind == RequestKind::Exchange {
                    let refunded_in_full = matches!(req.decision, Some(Decision::FullRefund { .. }));
                    prop_assert!(!refunded_in_full, "an exchange request was decided as a full refund");
                }
            }
        }
    }
}

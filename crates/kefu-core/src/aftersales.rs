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

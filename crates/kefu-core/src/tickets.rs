//! Tickets and complaints: statuses and their allowed moves, priorities, the default complaint
//! categories, what a complaint needs before it may be resolved, compensation records and how an SLA
//! policy is chosen for a ticket.
//!
//! Pure rules; storage and flows build on them (issue 5).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    New,
    Open,
    PendingCustomer,
    PendingThirdParty,
    Resolved,
    Closed,
}

impl TicketStatus {
    pub const ALL: [TicketStatus; 6] = [
        TicketStatus::New,
        TicketStatus::Open,
        TicketStatus::PendingCustomer,
        TicketStatus::PendingThirdParty,
        TicketStatus::Resolved,
        TicketStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::New => "new",
            TicketStatus::Open => "open",
            TicketStatus::PendingCustomer => "pending_customer",
            TicketStatus::PendingThirdParty => "pending_third_party",
            TicketStatus::Resolved => "resolved",
            TicketStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|t| t.as_str() == s)
    }

    /// Statuses in which the ticket waits on someone outside the team.
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            TicketStatus::PendingCustomer | TicketStatus::PendingThirdParty
        )
    }

    /// Whether a move from `self` to `to` is allowed. A closed ticket is final (a follow-up ticket is
    /// opened instead); a resolved one may be reopened or closed; nothing goes back to `new`.
    pub fn can_move_to(self, to: TicketStatus) -> bool {
        use TicketStatus::*;
        match (self, to) {
            (Closed, _) | (_, New) => false,
            (from, to) if from == to => false,
            (Resolved, Open | Closed) => true,
            (Resolved, _) => false,
            (_, Closed) => false,
            _ => true,
        }
    }

    pub fn check_move(self, to: TicketStatus) -> Result<()> {
        if self.can_move_to(to) {
            Ok(())
        } else {
            Err(Error::conflict(format!(
                "a {} ticket cannot become {}",
                self.as_str(),
                to.as_str()
            )))
        }
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.as_str() == s)
    }

    /// One step up, for escalation; urgent stays urgent.
    pub fn raised(self) -> Self {
        match self {
            Priority::Low => Priority::Normal,
            Priority::Normal => Priority::High,
            Priority::High | Priority::Urgent => Priority::Urgent,
        }
    }
}

/// A complaint category shipped with kefu: a key, its Chinese name and sub-categories.
pub struct DefaultCategory {
    pub key: &'static str,
    pub name: &'static str,
    pub children: &'static [(&'static str, &'static str)],
}

/// The complaint categories every shop starts with (editable per shop afterwards).
pub const DEFAULT_COMPLAINT_CATEGORIES: &[DefaultCategory] = &[
    DefaultCategory {
        key: "error",
        name: "差错",
        children: &[
            ("missing_item", "漏发"),
            ("wrong_item", "错发"),
            ("damaged_item", "破损"),
            ("short_quantity", "少件"),
        ],
    },
    DefaultCategory {
        key: "attitude",
        name: "服务态度",
        children: &[],
    },
    DefaultCategory {
        key: "price",
        name: "价格",
        children: &[],
    },
    DefaultCategory {
        key: "delivery",
        name: "配送",
        children: &[
            ("late", "延迟送达"),
            ("not_to_door", "未送货上门"),
            ("not_upstairs", "未搬运上楼"),
            ("pickup_inconvenient", "自提不便"),
        ],
    },
    DefaultCategory {
        key: "other",
        name: "其它",
        children: &[],
    },
];

/// What a complaint must carry before it may be resolved: at least one root-cause tag and the
/// handling result (处理结果). Returns the missing field names, empty when it may be resolved.
pub fn complaint_resolution_gaps(
    root_causes: &[String],
    handling_result: Option<&str>,
) -> Vec<&'static str> {
    let mut missing = Vec::new();
    if root_causes.iter().all(|c| c.trim().is_empty()) {
        missing.push("root_causes");
    }
    if handling_result.is_none_or(|r| r.trim().is_empty()) {
        missing.push("handling_result");
    }
    missing
}

/// The kinds of compensation a shop gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CompensationKind {
    Refund,
    Coupon,
    Gift,
    Reshipment,
    ApologyCall,
}

/// A compensation as recorded: what was given, its face amount to the shopper and its cost to the
/// shop (a coupon of ¥20 may cost nothing until used; a re-shipment has no face amount but a cost).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Compensation {
    pub kind: CompensationKind,
    #[serde(default)]
    pub amount_cents: i64,
    #[serde(default)]
    pub cost_cents: i64,
    #[serde(default)]
    pub note: String,
}

impl Compensation {
    pub fn validate(&self) -> Result<()> {
        const LIMIT: i64 = 10_000_000_000; // ¥100 million: a typo, not a compensation.
        if !(0..=LIMIT).contains(&self.amount_cents) || !(0..=LIMIT).contains(&self.cost_cents) {
            return Err(Error::validation(
                "amount_cents and cost_cents must be between 0 and 10,000,000,000",
            ));
        }
        let needs_amount = matches!(
            self.kind,
            CompensationKind::Refund | CompensationKind::Coupon
        );
        if needs_amount && self.amount_cents == 0 {
            return Err(Error::validation(
                "a refund or coupon compensation needs amount_cents",
            ));
        }
        if self.note.chars().count() > 500 {
            return Err(Error::validation("note: at most 500 characters"));
        }
        Ok(())
    }
}

/// The conditions under which an SLA policy applies; `None` matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PolicyMatch {
    pub priority: Option<Priority>,
    pub category: Option<String>,
    /// A customer tier key (`key`, `suitable`, `general`) from segmentation.
    pub tier: Option<String>,
}

/// What a ticket offers to match against.
pub struct TicketFacts<'a> {
    pub priority: Priority,
    /// The category key and its parent's key (a sub-category also matches its parent).
    pub category: Option<(&'a str, Option<&'a str>)>,
    pub tier: Option<&'a str>,
}

impl PolicyMatch {
    pub fn matches(&self, t: &TicketFacts<'_>) -> bool {
        let category_ok = match (&self.category, t.category) {
            (None, _) => true,
            (Some(want), Some((key, parent))) => key == want || parent == Some(want.as_str()),
            (Some(_), None) => false,
        };
        self.priority.is_none_or(|p| p == t.priority)
            && category_ok
            && self.tier.as_deref().is_none_or(|want| t.tier == Some(want))
    }

    /// How specific the condition is: more specific policies win over general ones.
    pub fn specificity(&self) -> u8 {
        u8::from(self.priority.is_some())
            + u8::from(self.category.is_some())
            + u8::from(self.tier.is_some())
    }
}

/// Picks the policy for a ticket among `(position, match)` pairs: the most specific matching one, the
/// earliest position breaking ties. Returns the index into `policies`.
pub fn choose_policy(policies: &[(i64, PolicyMatch)], ticket: &TicketFacts<'_>) -> Option<usize> {
    policies
        .iter()
        .enumerate()
        .filter(|(_, (_, m))| m.matches(ticket))
        .max_by(|(_, (pa, a)), (_, (pb, b))| {
            a.specificity()
                .cmp(&b.specificity())
                .then_with(|| pb.cmp(pa))
        })
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_moves() {
        use TicketStatus::*;
        assert!(New.can_move_to(Open));
        assert!(Open.can_move_to(PendingCustomer));
        assert!(PendingThirdParty.can_move_to(Resolved));
        assert!(Resolved.can_move_to(Open));
        assert!(Resolved.can_move_to(Closed));
        assert!(!Open.can_move_to(Closed), "close only what was resolved");
        assert!(!Closed.can_move_to(Open), "closed is final");
        assert!(!Open.can_move_to(New));
        assert!(!Open.can_move_to(Open));
        let err = Closed.check_move(Open).unwrap_err();
        assert!(err.message.contains("closed"), "{}", err.message);
        for s in TicketStatus::ALL {
            assert_eq!(TicketStatus::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn complaints_need_causes_and_a_result() {
        assert_eq!(
            complaint_resolution_gaps(&[], None),
            vec!["root_causes", "handling_result"]
        );
        assert_eq!(
            complaint_resolution_gaps(&["包装不牢".into()], Some("  ")),
            vec!["handling_result"]
        );
        assert!(complaint_resolution_gaps(&["包装不牢".into()], Some("补发并致歉")).is_empty());
    }

    #[test]
    fn compensation_values_are_checked() {
        let c = |kind, amount_cents, cost_cents| Compensation {
            kind,
            amount_cents,
            cost_cents,
            note: String::new(),
        };
        assert!(c(CompensationKind::Refund, 3_000, 3_000).validate().is_ok());
        assert!(c(CompensationKind::Reshipment, 0, 1_500).validate().is_ok());
        assert!(c(CompensationKind::ApologyCall, 0, 0).validate().is_ok());
        assert!(c(CompensationKind::Coupon, 0, 0).validate().is_err());
        assert!(c(CompensationKind::Gift, -1, 0).validate().is_err());
    }

    #[test]
    fn the_most_specific_policy_wins() {
        let policies = vec![
            (0, PolicyMatch::default()),
            (
                1,
                PolicyMatch {
                    priority: Some(Priority::Urgent),
                    ..Default::default()
                },
            ),
            (
                2,
                PolicyMatch {
                    priority: Some(Priority::Urgent),
                    category: Some("error".into()),
                    ..Default::default()
                },
            ),
            (
                3,
                PolicyMatch {
                    tier: Some("key".into()),
                    ..Default::default()
                },
            ),
        ];
        let facts = |priority, category, tier| TicketFacts {
            priority,
            category,
            tier,
        };
        assert_eq!(
            choose_policy(&policies, &facts(Priority::Normal, None, None)),
            Some(0)
        );
        assert_eq!(
            choose_policy(
                &policies,
                &facts(
                    Priority::Urgent,
                    Some(("damaged_item", Some("error"))),
                    None
                )
            ),
            Some(2),
            "a sub-category matches its parent's policy"
        );
        // Equal specificity (priority vs tier): the earlier position wins.
        assert_eq!(
            choose_policy(&policies, &facts(Priority::Urgent, None, Some("key"))),
            Some(1)
        );
        assert_eq!(
            choose_policy(&policies[1..], &facts(Priority::Low, None, None)),
            None
        );
    }
}

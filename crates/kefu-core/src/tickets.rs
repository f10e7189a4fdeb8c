//! Tickets and complaints: statuses and their allowed moves, priorities, the default complaint
//! categories, what a complaint needs before it may be resolved, compensation records and how an SLA
//! policy is chosen for a ticket.
//!
//! Also the ticket system's types (tickets, their thread, links, audit rows, compensation records,
//! categories, custom field definitions, saved views), the pure rules that apply a change to a
//! ticket ([`apply_patch`]) and the [`TicketStore`] port, required by [`crate::store::Store`].

use crate::customers::{FieldDef, FieldKind, normalize_tags, validate_field_value};
use crate::error::{Error, Result};
use crate::model::{CustomerRef, Id, TeamRef, string_enum};
use crate::time::Millis;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

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

// ---------------------------------------------------------------------------------------------
// The ticket system: types.

string_enum!(
    /// Where a ticket came from.
    TicketChannel { Console => "console", Conversation => "conversation", Api => "api", Widget => "widget" }
);
string_enum!(
    /// What an entry of a ticket's thread is: a reply the shopper sees, an internal note, the
    /// shopper's own reply, or a system entry (a transcript, a merge).
    EntryKind { Public => "public", Note => "note", Customer => "customer", System => "system" }
);
string_enum!(
    /// Who did something to a ticket.
    ActorType { Agent => "agent", Customer => "customer", System => "system" }
);
string_enum!(
    /// What a ticket is linked to.
    LinkKind { Conversation => "conversation", Order => "order", Call => "call" }
);

pub const MAX_SUBJECT_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 5000;
pub const MAX_ENTRY_CHARS: usize = 5000;
/// A transcript entry may be long (a whole conversation), but not unbounded.
pub const MAX_TRANSCRIPT_CHARS: usize = 100_000;
pub const MAX_ROOT_CAUSES: usize = 10;
pub const MAX_ROOT_CAUSE_CHARS: usize = 40;
pub const MAX_HANDLING_RESULT_CHARS: usize = 2000;
pub const MAX_CATEGORY_NAME_CHARS: usize = 30;
/// Categories per shop (parents and children together).
pub const MAX_CATEGORIES: i64 = 200;
/// Attachments carried by one ticket creation or entry.
pub const MAX_ATTACHMENTS_PER_ENTRY: usize = 9;
/// Saved views per agent.
pub const MAX_VIEWS_PER_AGENT: i64 = 50;
/// Tickets one bulk action or merge may name.
pub const MAX_BULK: usize = 100;
pub const MAX_PAGE: i64 = 200;

/// How people read a ticket number: `T-000123`.
pub fn display_number(number: i64) -> String {
    format!("T-{number:06}")
}

/// A ticket number typed by someone: `T-000123`, `t123`, `#123` or `123`.
pub fn parse_number(text: &str) -> Option<i64> {
    let t = text.trim();
    let t = t
        .strip_prefix("T-")
        .or_else(|| t.strip_prefix("t-"))
        .or_else(|| t.strip_prefix('T'))
        .or_else(|| t.strip_prefix('t'))
        .or_else(|| t.strip_prefix('#'))
        .unwrap_or(t);
    if t.is_empty() || t.len() > 12 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok().filter(|n| *n > 0)
}

/// A category as a ticket carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CategoryRef {
    pub id: Id,
    pub key: String,
    pub name: String,
    pub parent_id: Option<Id>,
    /// The parent's key (a sub-category matches its parent's SLA policies and reports).
    pub parent_key: Option<String>,
    pub is_complaint: bool,
}

/// A ticket category of a shop (two levels: parents and their sub-categories).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TicketCategory {
    pub id: Id,
    pub parent_id: Option<Id>,
    pub key: String,
    pub name: String,
    pub position: i64,
    pub is_complaint: bool,
    /// Archived categories stay on old tickets but are not offered for new ones.
    pub archived: bool,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct NewTicketCategory {
    /// A sub-category of this (top-level) category.
    #[serde(default)]
    pub parent_id: Option<Id>,
    /// Stable key (`[a-z][a-z0-9_]{0,39}`); generated when omitted.
    #[serde(default)]
    pub key: Option<String>,
    pub name: String,
    #[serde(default)]
    pub position: Option<i64>,
    /// Default: the parent's flag, else `true` (the category library is about complaints).
    #[serde(default)]
    pub is_complaint: Option<bool>,
}

fn check_key(field: &str, key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= 40
        && key.as_bytes()[0].is_ascii_lowercase()
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::validation(format!(
            "{field}: 1-40 of a-z, 0-9 and _, starting with a letter"
        )))
    }
}

fn check_name(field: &str, name: &str, max: usize) -> Result<String> {
    let n = name.trim();
    let count = n.chars().count();
    if count == 0 || count > max || n.chars().any(char::is_control) {
        return Err(Error::validation(format!(
            "{field}: must be 1-{max} characters without control characters"
        )));
    }
    Ok(n.to_owned())
}

fn check_position(p: Option<i64>) -> Result<()> {
    match p {
        Some(p) if !(0..=100_000).contains(&p) => {
            Err(Error::validation("position: must be between 0 and 100000"))
        }
        _ => Ok(()),
    }
}

impl NewTicketCategory {
    pub fn validate(&mut self) -> Result<()> {
        self.name = check_name("name", &self.name, MAX_CATEGORY_NAME_CHARS)?;
        if let Some(k) = &self.key {
            let k = k.trim().to_owned();
            check_key("key", &k)?;
            self.key = Some(k);
        }
        check_position(self.position)
    }
}

/// A category change; absent fields stay.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct TicketCategoryPatch {
    pub name: Option<String>,
    pub position: Option<i64>,
    pub is_complaint: Option<bool>,
    pub archived: Option<bool>,
}

impl TicketCategoryPatch {
    pub fn validate(&mut self) -> Result<()> {
        if let Some(n) = &self.name {
            self.name = Some(check_name("name", n, MAX_CATEGORY_NAME_CHARS)?);
        }
        check_position(self.position)
    }
}

/// A custom ticket field of a shop. Its values are checked like customer fields
/// ([`validate_field_value`]); a `required` field must have a value before the ticket is resolved.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TicketFieldDef {
    pub id: Id,
    pub key: String,
    pub label: String,
    pub kind: FieldKind,
    pub options: Vec<String>,
    pub position: i64,
    pub required: bool,
    pub archived: bool,
}

impl TicketFieldDef {
    fn as_field_def(&self) -> FieldDef {
        FieldDef {
            id: self.id,
            key: self.key.clone(),
            label: self.label.clone(),
            kind: self.kind,
            options: self.options.clone(),
            position: self.position,
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewTicketFieldDef {
    pub key: String,
    pub label: String,
    /// `text`, `number`, `date` or `select`.
    pub kind: String,
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub position: i64,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub archived: bool,
}

/// A checked field definition, ready to store.
#[derive(Debug, Clone)]
pub struct TicketFieldInput {
    pub key: String,
    pub label: String,
    pub kind: FieldKind,
    pub options: Vec<String>,
    pub position: i64,
    pub required: bool,
    pub archived: bool,
}

impl NewTicketFieldDef {
    pub fn validate(&self) -> Result<TicketFieldInput> {
        let f = crate::customers::NewFieldDef {
            key: self.key.clone(),
            label: self.label.clone(),
            kind: self.kind.clone(),
            options: self.options.clone(),
            position: self.position,
        }
        .validate()?;
        Ok(TicketFieldInput {
            key: f.key,
            label: f.label,
            kind: f.kind,
            options: f.options,
            position: f.position,
            required: self.required,
            archived: self.archived,
        })
    }
}

/// Checks custom field values against the shop's definitions: known keys only, values of the
/// field's kind; an empty value removes the field.
pub fn validate_custom_fields(
    defs: &[TicketFieldDef],
    values: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (key, value) in values {
        let def = defs
            .iter()
            .find(|d| &d.key == key)
            .ok_or_else(|| Error::validation(format!("custom_fields.{key}: no such field")))?;
        if value.trim().is_empty() {
            continue;
        }
        out.insert(
            key.clone(),
            validate_field_value(&def.as_field_def(), value)?,
        );
    }
    Ok(out)
}

/// A ticket.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Ticket {
    pub id: Id,
    pub shop_id: Id,
    /// The per-shop sequence number; [`display_number`] shows it as `T-000123`.
    pub number: i64,
    /// `T-000123`.
    pub display_number: String,
    pub subject: String,
    pub description: String,
    pub customer: Option<CustomerRef>,
    pub category: Option<CategoryRef>,
    pub priority: Priority,
    pub status: TicketStatus,
    pub assignee_id: Option<Id>,
    pub assignee_name: Option<String>,
    pub team: Option<TeamRef>,
    pub channel: TicketChannel,
    /// Whether the shopper sees this ticket in the widget: tickets they opened there always,
    /// tickets an agent wrote only once shared (an agent's ticket may say "suspected fraud").
    pub shared_with_customer: bool,
    #[schema(value_type = BTreeMap<String, String>)]
    pub custom_fields: BTreeMap<String, String>,
    pub tags: Vec<String>,
    pub root_causes: Vec<String>,
    pub handling_result: Option<String>,
    pub merged_into_id: Option<Id>,
    pub created_by: Option<Id>,
    #[schema(value_type = String)]
    pub created_at: Millis,
    #[schema(value_type = String)]
    pub updated_at: Millis,
    #[schema(value_type = Option<String>)]
    pub first_public_reply_at: Option<Millis>,
    #[schema(value_type = Option<String>)]
    pub resolved_at: Option<Millis>,
    #[schema(value_type = Option<String>)]
    pub closed_at: Option<Millis>,
    /// The SLA clocks' due times and states (`null` when no policy applies). Filled by the HTTP
    /// layer from the SLA clocks, never stored with the ticket row.
    pub sla: Option<crate::sla_view::TicketSla>,
}

impl Ticket {
    /// Whether the ticket's category (or its parent) is a complaint category.
    pub fn is_complaint(&self) -> bool {
        self.category.as_ref().is_some_and(|c| c.is_complaint)
    }
}

/// A file of a ticket (stored like chat attachments, by content hash).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TicketAttachment {
    pub id: Id,
    pub ticket_id: Option<Id>,
    pub entry_id: Option<Id>,
    pub name: String,
    pub mime: String,
    pub size: i64,
    pub width: Option<i64>,
    pub height: Option<i64>,
    /// Whether `/thumb` serves a smaller image.
    pub thumb: bool,
    #[schema(value_type = String)]
    pub created_at: Millis,
    #[serde(skip)]
    pub sha256: String,
    #[serde(skip)]
    pub uploader_type: ActorType,
    #[serde(skip)]
    pub uploader_id: Id,
}

impl TicketAttachment {
    /// Whether the ticket's shopper may see this file, given the kind of the entry it is attached
    /// to (`None`: on the ticket itself, or the entry is unknown). The one rule for the widget's
    /// list and for downloads: the shopper's own uploads, and an agent's files sent with a public
    /// reply — never a file on the ticket itself, on an internal note or on a system entry.
    pub fn shopper_may_see(&self, entry_kind: Option<EntryKind>) -> bool {
        self.uploader_type == ActorType::Customer || entry_kind == Some(EntryKind::Public)
    }
}

/// One entry of a ticket's thread.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TicketEntry {
    pub id: Id,
    pub ticket_id: Id,
    pub kind: EntryKind,
    pub author_type: ActorType,
    pub author_id: Option<Id>,
    pub author_name: Option<String>,
    pub body: String,
    pub attachments: Vec<TicketAttachment>,
    #[schema(value_type = String)]
    pub created_at: Millis,
}

/// What a ticket is linked to.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TicketLink {
    pub id: Id,
    pub ticket_id: Id,
    pub kind: LinkKind,
    pub ref_id: Id,
    pub label: String,
    #[schema(value_type = String)]
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct NewTicketLink {
    pub kind: LinkKind,
    pub ref_id: Id,
}

/// One audited change: who, which field, from what to what.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = TicketAuditEntry)]
pub struct AuditEntry {
    pub id: Id,
    pub ticket_id: Id,
    pub actor_type: ActorType,
    pub actor_id: Option<Id>,
    pub actor_name: Option<String>,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    #[schema(value_type = String)]
    pub at: Millis,
}

/// A compensation as stored.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CompensationRecord {
    pub id: Id,
    pub ticket_id: Id,
    pub kind: CompensationKind,
    pub amount_cents: i64,
    pub currency: String,
    pub cost_cents: i64,
    pub note: String,
    pub created_by: Option<Id>,
    #[schema(value_type = String)]
    pub created_at: Millis,
}

/// An agent's saved ticket view: a name and the list filters (the list's query parameters).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TicketView {
    pub id: Id,
    pub name: String,
    #[schema(value_type = Object)]
    pub filters: BTreeMap<String, String>,
    pub position: i64,
    #[schema(value_type = String)]
    pub created_at: Millis,
    #[schema(value_type = String)]
    pub updated_at: Millis,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewTicketView {
    pub name: String,
    /// Query parameters of `GET /api/v1/tickets` (e.g. `{"status":"open,new","assignee":"me"}`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub filters: BTreeMap<String, String>,
    #[serde(default)]
    pub position: i64,
}

impl NewTicketView {
    /// Checks the name and that the filters parse as list filters.
    pub fn validate(&mut self) -> Result<()> {
        self.name = check_name("name", &self.name, 40)?;
        check_position(Some(self.position))?;
        self.filters.remove("cursor");
        self.filters.remove("limit");
        TicketFilter::from_params(&self.filters)
            .map_err(|e| Error::validation(format!("filters: {}", e.message)))?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Listing.

/// Which assignee a list asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    Me,
    Unassigned,
    Agent(Id),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TicketSort {
    /// Most recently changed first (default).
    #[default]
    UpdatedDesc,
    UpdatedAsc,
    CreatedDesc,
    CreatedAsc,
}

impl TicketSort {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "updated_desc" | "-updated_at" => Ok(TicketSort::UpdatedDesc),
            "updated_asc" | "updated_at" => Ok(TicketSort::UpdatedAsc),
            "created_desc" | "-created_at" => Ok(TicketSort::CreatedDesc),
            "created_asc" | "created_at" => Ok(TicketSort::CreatedAsc),
            _ => Err(Error::validation(
                "sort: must be updated_desc, updated_asc, created_desc or created_asc",
            )),
        }
    }
    pub fn by_created(self) -> bool {
        matches!(self, TicketSort::CreatedAsc | TicketSort::CreatedDesc)
    }
    pub fn descending(self) -> bool {
        matches!(self, TicketSort::UpdatedDesc | TicketSort::CreatedDesc)
    }
}

/// The list filters, parsed from query parameters (also what a saved view stores).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketFilter {
    pub statuses: Vec<TicketStatus>,
    pub priorities: Vec<Priority>,
    /// This category and its sub-categories.
    pub category_id: Option<Id>,
    pub assignee: Option<AssigneeFilter>,
    pub team_id: Option<Id>,
    pub tag: Option<String>,
    pub customer_id: Option<Id>,
    pub channel: Option<TicketChannel>,
    /// Only tickets shared with (or opened by) the customer: the widget's list. Not a query
    /// parameter.
    pub shared_only: bool,
    pub created_from: Option<Millis>,
    pub created_to: Option<Millis>,
    /// Subject text (substring) or a ticket number.
    pub q: Option<String>,
    /// Tickets linked to an order whose number contains this text (any case).
    pub order_no: Option<String>,
    pub sort: TicketSort,
    /// Merged-away tickets are left out unless asked for.
    pub include_merged: bool,
    /// Tickets with a clock (not met) in one of these states: `ok`, `warning`, `breached`,
    /// `paused` (`sla=breached,warning`). Judged at `sla_now`, which the caller sets.
    pub sla: Vec<crate::sla_view::SlaState>,
    pub sla_now: Millis,
    /// Only the tickets merged into this one (a ticket's detail; not a query parameter).
    pub merged_into_id: Option<Id>,
}

fn parse_id(field: &str, v: &str) -> Result<Id> {
    v.trim()
        .parse::<Id>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| Error::validation(format!("{field}: must be a positive id")))
}

fn parse_time(field: &str, v: &str) -> Result<Millis> {
    let v = v.trim();
    if let Ok(ms) = v.parse::<i64>() {
        return Ok(Millis(ms));
    }
    serde_json::from_value::<Millis>(serde_json::Value::String(v.to_owned()))
        .map_err(|_| Error::validation(format!("{field}: must be RFC 3339 or milliseconds")))
}

impl TicketFilter {
    /// Parses list parameters; unknown keys are refused so a typo never silently widens a list.
    pub fn from_params(params: &BTreeMap<String, String>) -> Result<Self> {
        let mut f = TicketFilter::default();
        for (k, v) in params {
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            match k.as_str() {
                "status" => {
                    for s in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        f.statuses.push(TicketStatus::parse(s).ok_or_else(|| {
                            Error::validation(format!("status: unknown status '{s}'"))
                        })?);
                    }
                }
                "priority" => {
                    for s in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        f.priorities.push(Priority::parse(s).ok_or_else(|| {
                            Error::validation(format!("priority: unknown priority '{s}'"))
                        })?);
                    }
                }
                "category" | "category_id" => f.category_id = Some(parse_id("category", v)?),
                "assignee" => {
                    f.assignee = Some(match v {
                        "me" => AssigneeFilter::Me,
                        "unassigned" | "none" => AssigneeFilter::Unassigned,
                        other => {
                            AssigneeFilter::Agent(parse_id("assignee", other).map_err(|_| {
                                Error::validation("assignee: must be me, unassigned or an agent id")
                            })?)
                        }
                    })
                }
                "team" | "team_id" => f.team_id = Some(parse_id("team", v)?),
                "tag" => f.tag = Some(crate::customers::normalize_tag(v)?),
                "customer" | "customer_id" => f.customer_id = Some(parse_id("customer", v)?),
                "channel" => f.channel = Some(TicketChannel::parse(v)?),
                "created_from" => f.created_from = Some(parse_time("created_from", v)?),
                "created_to" => f.created_to = Some(parse_time("created_to", v)?),
                "q" => {
                    if v.chars().count() > 100 {
                        return Err(Error::validation("q: at most 100 characters"));
                    }
                    f.q = Some(v.to_owned());
                }
                "order_no" => {
                    if v.chars().count() > 64 {
                        return Err(Error::validation("order_no: at most 64 characters"));
                    }
                    f.order_no = Some(v.to_owned());
                }
                "sort" => f.sort = TicketSort::parse(v)?,
                "sla" => {
                    use crate::sla_view::SlaState;
                    for s in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        match SlaState::parse(s) {
                            Ok(state) if state != SlaState::Met => f.sla.push(state),
                            _ => {
                                return Err(Error::validation(format!(
                                    "sla: unknown state '{s}' (ok, warning, breached, paused)"
                                )));
                            }
                        }
                    }
                }
                "include_merged" => {
                    f.include_merged = match v {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(Error::validation("include_merged: true or false")),
                    }
                }
                other => {
                    return Err(Error::validation(format!("{other}: unknown filter")));
                }
            }
        }
        Ok(f)
    }
}

/// A page of a list: strictly after `cursor` in the list's order.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketQuery {
    pub filter: TicketFilter,
    /// `Some(agent)` for a plain agent: only their own and unassigned tickets
    /// (like conversations); `None` for admins and supervisors (the whole shop).
    pub restrict_to_agent: Option<Id>,
    /// The caller (resolves `assignee=me`).
    pub viewer_id: Id,
    pub cursor: Option<Cursor>,
    pub limit: i64,
}

/// Keyset position: the sort time and the id of the last ticket seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub at: Millis,
    pub id: Id,
}

impl Cursor {
    pub fn encode(self) -> String {
        format!("{}_{}", self.at.0, self.id)
    }
    pub fn decode(s: &str) -> Result<Self> {
        let bad = || Error::validation("cursor: not a cursor this list returned");
        let (a, b) = s.split_once('_').ok_or_else(bad)?;
        Ok(Cursor {
            at: Millis(a.parse().map_err(|_| bad())?),
            id: b.parse().map_err(|_| bad())?,
        })
    }
    /// Where the next page starts after `t` in `sort` order.
    pub fn after(t: &Ticket, sort: TicketSort) -> Self {
        Cursor {
            at: if sort.by_created() {
                t.created_at
            } else {
                t.updated_at
            },
            id: t.id,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Changes.

/// Who makes a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub kind: ActorType,
    pub id: Option<Id>,
}

impl Actor {
    pub fn agent(id: Id) -> Self {
        Actor {
            kind: ActorType::Agent,
            id: Some(id),
        }
    }
    pub fn customer(id: Id) -> Self {
        Actor {
            kind: ActorType::Customer,
            id: Some(id),
        }
    }
    pub const SYSTEM: Actor = Actor {
        kind: ActorType::System,
        id: None,
    };
}

/// One changed field, as audited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldChange {
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

/// A new ticket, checked by [`NewTicket::validate`] (the store checks that the ids are the shop's).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct NewTicket {
    pub subject: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub customer_id: Option<Id>,
    #[serde(default)]
    pub category_id: Option<Id>,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub assignee_id: Option<Id>,
    #[serde(default)]
    pub team_id: Option<Id>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub custom_fields: BTreeMap<String, String>,
    /// Conversations and orders this ticket is about.
    #[serde(default)]
    pub links: Vec<NewTicketLink>,
    /// Files uploaded before (`POST /api/v1/ticket-attachments`) by the same caller.
    #[serde(default)]
    pub attachment_ids: Vec<Id>,
    /// Show the ticket (subject, description, public replies) to its customer in the widget.
    /// Tickets an agent writes are internal unless this is set; the shopper's own always show.
    #[serde(default)]
    pub shared_with_customer: bool,
}

impl NewTicket {
    pub fn validate(&mut self) -> Result<()> {
        self.subject = check_name("subject", &self.subject, MAX_SUBJECT_CHARS)?;
        self.description = self.description.trim().to_owned();
        if self.description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(Error::validation(format!(
                "description: at most {MAX_DESCRIPTION_CHARS} characters"
            )));
        }
        self.tags = normalize_tags(&self.tags)?;
        if self.links.len() > 20 {
            return Err(Error::validation("links: at most 20"));
        }
        check_attachment_ids(&mut self.attachment_ids)?;
        Ok(())
    }
}

fn check_attachment_ids(ids: &mut Vec<Id>) -> Result<()> {
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > MAX_ATTACHMENTS_PER_ENTRY {
        return Err(Error::validation(format!(
            "attachment_ids: at most {MAX_ATTACHMENTS_PER_ENTRY}"
        )));
    }
    Ok(())
}

/// What the store needs beyond a [`NewTicket`] to create one.
#[derive(Debug, Clone)]
pub struct TicketOrigin {
    pub channel: TicketChannel,
    pub actor: Actor,
    /// The thread's first entries (e.g. a conversation's transcript as a `system` entry).
    pub entries: Vec<(EntryKind, String)>,
}

/// A change of a ticket; absent fields stay. `null` clears the clearable ones.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct TicketPatch {
    pub subject: Option<String>,
    pub description: Option<String>,
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<i64>)]
    pub customer_id: Option<Option<Id>>,
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<i64>)]
    pub category_id: Option<Option<Id>>,
    pub priority: Option<Priority>,
    pub status: Option<TicketStatus>,
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<i64>)]
    pub assignee_id: Option<Option<Id>>,
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<i64>)]
    pub team_id: Option<Option<Id>>,
    /// Replaces the tags.
    pub tags: Option<Vec<String>>,
    /// Adds these tags to the current ones (bulk actions).
    #[serde(default)]
    pub add_tags: Vec<String>,
    /// Sets (or with `""` removes) these custom fields; others stay.
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<BTreeMap<String, String>>,
    pub root_causes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<String>)]
    pub handling_result: Option<Option<String>>,
    /// Share the ticket with its customer in the widget, or make it internal again.
    pub shared_with_customer: Option<bool>,
}

/// `Some(value)` for a present field (so `null` becomes `Some(None)`, "clear").
fn some<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

impl TicketPatch {
    /// Normalises the texts and lists; the rules that need the ticket are in [`apply_patch`].
    pub fn validate(&mut self) -> Result<()> {
        if let Some(s) = &self.subject {
            self.subject = Some(check_name("subject", s, MAX_SUBJECT_CHARS)?);
        }
        if let Some(d) = &self.description {
            let d = d.trim().to_owned();
            if d.chars().count() > MAX_DESCRIPTION_CHARS {
                return Err(Error::validation(format!(
                    "description: at most {MAX_DESCRIPTION_CHARS} characters"
                )));
            }
            self.description = Some(d);
        }
        if let Some(t) = &self.tags {
            self.tags = Some(normalize_tags(t)?);
        }
        self.add_tags = normalize_tags(&self.add_tags)?;
        if let Some(causes) = &self.root_causes {
            let mut out: Vec<String> = Vec::new();
            for c in causes {
                let c = c.trim();
                if c.is_empty() {
                    continue;
                }
                if c.chars().count() > MAX_ROOT_CAUSE_CHARS || c.chars().any(char::is_control) {
                    return Err(Error::validation(format!(
                        "root_causes: each at most {MAX_ROOT_CAUSE_CHARS} characters"
                    )));
                }
                if !out.iter().any(|x| x == c) {
                    out.push(c.to_owned());
                }
            }
            if out.len() > MAX_ROOT_CAUSES {
                return Err(Error::validation(format!(
                    "root_causes: at most {MAX_ROOT_CAUSES}"
                )));
            }
            self.root_causes = Some(out);
        }
        if let Some(Some(r)) = &self.handling_result {
            let r = r.trim().to_owned();
            if r.chars().count() > MAX_HANDLING_RESULT_CHARS {
                return Err(Error::validation(format!(
                    "handling_result: at most {MAX_HANDLING_RESULT_CHARS} characters"
                )));
            }
            self.handling_result = Some((!r.is_empty()).then_some(r));
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.subject.is_none()
            && self.description.is_none()
            && self.customer_id.is_none()
            && self.category_id.is_none()
            && self.priority.is_none()
            && self.status.is_none()
            && self.assignee_id.is_none()
            && self.team_id.is_none()
            && self.tags.is_none()
            && self.add_tags.is_empty()
            && self.custom_fields.is_none()
            && self.root_causes.is_none()
            && self.handling_result.is_none()
            && self.shared_with_customer.is_none()
    }
}

/// What a patch refers to, looked up by the store in the same transaction.
#[derive(Debug, Clone, Default)]
pub struct PatchRefs {
    pub customer: Option<CustomerRef>,
    pub category: Option<CategoryRef>,
    pub assignee_name: Option<String>,
    pub team: Option<TeamRef>,
    pub field_defs: Vec<TicketFieldDef>,
}

fn opt_id(v: Option<Id>) -> Option<String> {
    v.map(|i| i.to_string())
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Applies `patch` to `ticket` (at `now`), enforcing the rules: status moves
/// ([`TicketStatus::check_move`], 409 naming both), a complaint needs root causes and a handling
/// result to be resolved ([`complaint_resolution_gaps`], 422 naming the missing fields), required
/// custom fields must be set to resolve, a merged ticket cannot change. Returns the audited
/// changes (empty when nothing changed).
/// On an error `ticket` is left as it was.
pub fn apply_patch(
    ticket: &mut Ticket,
    patch: &TicketPatch,
    refs: &PatchRefs,
    now: Millis,
) -> Result<Vec<FieldChange>> {
    let mut changed = ticket.clone();
    let changes = apply_patch_to(&mut changed, patch, refs, now)?;
    *ticket = changed;
    Ok(changes)
}

fn apply_patch_to(
    ticket: &mut Ticket,
    patch: &TicketPatch,
    refs: &PatchRefs,
    now: Millis,
) -> Result<Vec<FieldChange>> {
    if ticket.merged_into_id.is_some() {
        return Err(Error::conflict(format!(
            "this ticket was merged into another one (id {}); change that one",
            ticket.merged_into_id.unwrap_or_default()
        )));
    }
    let was_closed = ticket.status == TicketStatus::Closed;
    let mut changes = Vec::new();
    let mut note = |field: &str, old: Option<String>, new: Option<String>| {
        if old != new {
            changes.push(FieldChange {
                field: field.to_owned(),
                old_value: old,
                new_value: new,
            });
            true
        } else {
            false
        }
    };
    if let Some(s) = &patch.subject
        && note("subject", Some(ticket.subject.clone()), Some(s.clone()))
    {
        ticket.subject = s.clone();
    }
    if let Some(d) = &patch.description
        && note(
            "description",
            Some(ticket.description.clone()),
            Some(d.clone()),
        )
    {
        ticket.description = d.clone();
    }
    if let Some(c) = patch.customer_id
        && note(
            "customer_id",
            opt_id(ticket.customer.as_ref().map(|c| c.id)),
            opt_id(c),
        )
    {
        ticket.customer = c.and(refs.customer.clone());
    }
    if let Some(c) = patch.category_id
        && note(
            "category",
            ticket.category.as_ref().map(|c| c.key.clone()),
            c.and(refs.category.as_ref().map(|r| r.key.clone())),
        )
    {
        ticket.category = c.and(refs.category.clone());
    }
    if let Some(shared) = patch.shared_with_customer
        && note(
            "shared_with_customer",
            Some(ticket.shared_with_customer.to_string()),
            Some(shared.to_string()),
        )
    {
        ticket.shared_with_customer = shared;
    }
    if let Some(p) = patch.priority
        && note(
            "priority",
            Some(ticket.priority.as_str().into()),
            Some(p.as_str().into()),
        )
    {
        ticket.priority = p;
    }
    if let Some(a) = patch.assignee_id
        && note("assignee_id", opt_id(ticket.assignee_id), opt_id(a))
    {
        ticket.assignee_id = a;
        ticket.assignee_name = a.and(refs.assignee_name.clone());
    }
    if let Some(t) = patch.team_id
        && note(
            "team_id",
            opt_id(ticket.team.as_ref().map(|t| t.id)),
            opt_id(t),
        )
    {
        ticket.team = t.and(refs.team.clone());
    }
    let mut tags = patch.tags.clone().unwrap_or_else(|| ticket.tags.clone());
    for t in &patch.add_tags {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    tags.sort();
    if tags.len() > crate::customers::MAX_TAGS {
        return Err(Error::validation(format!(
            "tags: at most {}",
            crate::customers::MAX_TAGS
        )));
    }
    if note(
        "tags",
        Some(json_list(&ticket.tags)),
        Some(json_list(&tags)),
    ) {
        ticket.tags = tags;
    }
    if let Some(values) = &patch.custom_fields {
        let checked = validate_custom_fields(&refs.field_defs, values)?;
        for key in values.keys() {
            let old = ticket.custom_fields.get(key).cloned();
            let new = checked.get(key).cloned();
            if note(&format!("custom_fields.{key}"), old, new.clone()) {
                match new {
                    Some(v) => ticket.custom_fields.insert(key.clone(), v),
                    None => ticket.custom_fields.remove(key),
                };
            }
        }
    }
    if let Some(causes) = &patch.root_causes
        && note(
            "root_causes",
            Some(json_list(&ticket.root_causes)),
            Some(json_list(causes)),
        )
    {
        ticket.root_causes = causes.clone();
    }
    if let Some(r) = &patch.handling_result
        && note("handling_result", ticket.handling_result.clone(), r.clone())
    {
        ticket.handling_result = r.clone();
    }
    if let Some(to) = patch.status
        && to != ticket.status
    {
        ticket.status.check_move(to)?;
        if to == TicketStatus::Resolved {
            check_resolvable(ticket, &refs.field_defs)?;
        }
        note(
            "status",
            Some(ticket.status.as_str().into()),
            Some(to.as_str().into()),
        );
        ticket.status = to;
        match to {
            TicketStatus::Resolved => ticket.resolved_at = Some(now),
            TicketStatus::Closed => ticket.closed_at = Some(now),
            TicketStatus::Open => {
                ticket.resolved_at = None;
            }
            _ => {}
        }
    } else if ticket.status == TicketStatus::Resolved {
        // Taking away what the resolution rested on is refused rather than leaving a resolved
        // complaint without its causes.
        check_resolvable(ticket, &refs.field_defs)?;
    }
    if was_closed && !changes.is_empty() {
        return Err(Error::conflict(
            "a closed ticket cannot change; open a follow-up ticket",
        ));
    }
    if !changes.is_empty() {
        ticket.updated_at = now;
    }
    Ok(changes)
}

/// Whether `ticket` may be (or stay) resolved: a complaint's root causes and handling result, and
/// every required custom field. The error names what is missing.
pub fn check_resolvable(ticket: &Ticket, defs: &[TicketFieldDef]) -> Result<()> {
    let mut missing: Vec<String> = Vec::new();
    if ticket.is_complaint() {
        missing.extend(
            complaint_resolution_gaps(&ticket.root_causes, ticket.handling_result.as_deref())
                .into_iter()
                .map(str::to_owned),
        );
    }
    for d in defs.iter().filter(|d| d.required && !d.archived) {
        if !ticket.custom_fields.contains_key(&d.key) {
            missing.push(format!("custom_fields.{}", d.key));
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::validation(format!(
            "to resolve this ticket, fill in: {}",
            missing.join(", ")
        )))
    }
}

/// A new entry of a ticket's thread.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub kind: EntryKind,
    pub actor: Actor,
    pub body: String,
    pub attachment_ids: Vec<Id>,
}

impl NewEntry {
    pub fn validate(&mut self) -> Result<()> {
        self.body = self.body.trim().to_owned();
        let n = self.body.chars().count();
        let max = if self.kind == EntryKind::System {
            MAX_TRANSCRIPT_CHARS
        } else {
            MAX_ENTRY_CHARS
        };
        if (n == 0 && self.attachment_ids.is_empty()) || n > max {
            return Err(Error::validation(format!(
                "body: must be 1-{max} characters (or carry attachments)"
            )));
        }
        check_attachment_ids(&mut self.attachment_ids)
    }
}

/// How an entry moves the ticket's status: the shopper answering a ticket that waited on them (or
/// was resolved) opens it again; an agent's first public reply opens a new one. Closed tickets
/// take notes only.
pub fn status_after_entry(status: TicketStatus, kind: EntryKind) -> Result<Option<TicketStatus>> {
    use TicketStatus::*;
    match (status, kind) {
        (Closed, EntryKind::Note | EntryKind::System) => Ok(None),
        (Closed, _) => Err(Error::conflict(
            "a closed ticket takes no replies; open a follow-up ticket",
        )),
        (PendingCustomer | Resolved, EntryKind::Customer) => Ok(Some(Open)),
        (New, EntryKind::Public) => Ok(Some(Open)),
        _ => Ok(None),
    }
}

/// The outcome of a change: the ticket before and after and what was audited.
#[derive(Debug, Clone)]
pub struct TicketUpdate {
    pub before: Ticket,
    pub after: Ticket,
    pub changes: Vec<FieldChange>,
}

/// The outcome of storing an entry.
#[derive(Debug, Clone)]
pub struct EntryAdded {
    pub entry: TicketEntry,
    pub before: Ticket,
    pub after: Ticket,
    pub changes: Vec<FieldChange>,
}

/// The outcome of a merge.
#[derive(Debug, Clone)]
pub struct Merged {
    pub target: TicketUpdate,
    pub sources: Vec<TicketUpdate>,
}

/// A file received for a ticket (bytes durable on disk), about to get its row.
pub type NewTicketAttachment = crate::attachments::NewAttachment;

/// Storage of tickets. Every method is scoped by shop: another shop's ids answer `not_found` (or
/// `None`) exactly like unknown ones. Each write is one transaction and audits what it changed.
#[async_trait]
pub trait TicketStore: Send + Sync + 'static {
    // ---- categories and custom fields ----
    /// The shop's categories by position (parents before children), seeding the default complaint
    /// categories on the first read.
    async fn ticket_categories(&self, shop_id: Id) -> Result<Vec<TicketCategory>>;
    /// `conflict` for a key taken; `not_found` for an unknown parent; a parent must be top-level.
    async fn create_ticket_category(
        &self,
        shop_id: Id,
        category: &NewTicketCategory,
    ) -> Result<TicketCategory>;
    async fn update_ticket_category(
        &self,
        shop_id: Id,
        id: Id,
        patch: &TicketCategoryPatch,
    ) -> Result<TicketCategory>;
    /// `conflict` while tickets or sub-categories use it (archive it instead).
    async fn delete_ticket_category(&self, shop_id: Id, id: Id) -> Result<()>;

    async fn ticket_field_defs(&self, shop_id: Id) -> Result<Vec<TicketFieldDef>>;
    async fn create_ticket_field_def(
        &self,
        shop_id: Id,
        def: &TicketFieldInput,
    ) -> Result<TicketFieldDef>;
    /// The key and kind stay; label, options, position, required and archived change.
    async fn update_ticket_field_def(
        &self,
        shop_id: Id,
        id: Id,
        def: &TicketFieldInput,
    ) -> Result<TicketFieldDef>;

    // ---- tickets ----
    /// Creates a ticket (status `new`, the shop's next number) with its links, tags, attachments
    /// (uploaded before by the same actor, not yet bound), first entries and a `created` audit row.
    /// `not_found` for ids that are not the shop's; 422 for an archived category.
    async fn create_ticket(
        &self,
        shop_id: Id,
        ticket: &NewTicket,
        origin: &TicketOrigin,
    ) -> Result<Ticket>;
    async fn ticket(&self, shop_id: Id, id: Id) -> Result<Option<Ticket>>;
    async fn ticket_by_number(&self, shop_id: Id, number: i64) -> Result<Option<Ticket>>;
    /// One page of a filtered list in the query's order.
    async fn list_tickets(&self, shop_id: Id, query: &TicketQuery) -> Result<Vec<Ticket>>;
    /// Applies a patch with [`apply_patch`] on the current row, in one transaction with its audit
    /// rows.
    async fn update_ticket(
        &self,
        shop_id: Id,
        id: Id,
        patch: &TicketPatch,
        actor: Actor,
    ) -> Result<TicketUpdate>;
    /// Adds an entry (moving the status by [`status_after_entry`]) and binds its attachments.
    async fn add_ticket_entry(
        &self,
        shop_id: Id,
        ticket_id: Id,
        entry: &NewEntry,
    ) -> Result<EntryAdded>;
    /// The thread, oldest first, including the entries of tickets merged into this one.
    /// `public_only` leaves out notes (what the shopper sees).
    async fn ticket_entries(
        &self,
        shop_id: Id,
        ticket_id: Id,
        public_only: bool,
    ) -> Result<Vec<TicketEntry>>;
    /// Attachments bound to the ticket itself (at creation), not to an entry.
    async fn ticket_attachments(&self, shop_id: Id, ticket_id: Id)
    -> Result<Vec<TicketAttachment>>;
    async fn ticket_audit(&self, shop_id: Id, ticket_id: Id) -> Result<Vec<AuditEntry>>;
    /// Links of the ticket and of the tickets merged into it.
    async fn ticket_links(&self, shop_id: Id, ticket_id: Id) -> Result<Vec<TicketLink>>;
    /// `not_found` for a conversation/order that is not the shop's; an existing link is returned.
    async fn add_ticket_link(
        &self,
        shop_id: Id,
        ticket_id: Id,
        link: &NewTicketLink,
        actor: Actor,
    ) -> Result<TicketLink>;
    async fn remove_ticket_link(
        &self,
        shop_id: Id,
        ticket_id: Id,
        link_id: Id,
        actor: Actor,
    ) -> Result<()>;
    /// Tickets linked to a conversation (newest first).
    async fn conversation_tickets(&self, shop_id: Id, conversation_id: Id) -> Result<Vec<Ticket>>;
    /// Closes `sources` as merged into `target` (status `closed`, `merged_into_id`), copies their
    /// links and tags to the target and writes system entries and audit rows on both sides.
    async fn merge_tickets(
        &self,
        shop_id: Id,
        target_id: Id,
        source_ids: &[Id],
        actor: Actor,
    ) -> Result<Merged>;

    // ---- compensations ----
    async fn add_compensation(
        &self,
        shop_id: Id,
        ticket_id: Id,
        compensation: &Compensation,
        currency: &str,
        actor: Actor,
    ) -> Result<CompensationRecord>;
    async fn compensations(&self, shop_id: Id, ticket_id: Id) -> Result<Vec<CompensationRecord>>;
    async fn delete_compensation(
        &self,
        shop_id: Id,
        ticket_id: Id,
        id: Id,
        actor: Actor,
    ) -> Result<()>;

    // ---- attachments ----
    /// Stores an uploaded file's row, not yet bound to a ticket.
    async fn add_ticket_attachment(
        &self,
        shop_id: Id,
        uploader: Actor,
        attachment: NewTicketAttachment,
    ) -> Result<TicketAttachment>;
    async fn ticket_attachment(&self, shop_id: Id, id: Id) -> Result<Option<TicketAttachment>>;
    /// Whether the entry an attachment belongs to is a note (shoppers never see those).
    async fn ticket_entry_kind(&self, shop_id: Id, entry_id: Id) -> Result<Option<EntryKind>>;

    // ---- saved views ----
    async fn ticket_views(&self, shop_id: Id, agent_id: Id) -> Result<Vec<TicketView>>;
    /// `conflict` when the agent already has a view of that name.
    async fn create_ticket_view(
        &self,
        shop_id: Id,
        agent_id: Id,
        view: &NewTicketView,
    ) -> Result<TicketView>;
    /// `not_found` for another agent's view.
    async fn update_ticket_view(
        &self,
        shop_id: Id,
        agent_id: Id,
        id: Id,
        view: &NewTicketView,
    ) -> Result<TicketView>;
    async fn delete_ticket_view(&self, shop_id: Id, agent_id: Id, id: Id) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shoppers_see_their_own_files_and_those_of_public_replies_only() {
        let file = |uploader_type| TicketAttachment {
            id: 1,
            ticket_id: Some(1),
            entry_id: Some(1),
            name: "a.png".into(),
            mime: "image/png".into(),
            size: 1,
            width: None,
            height: None,
            thumb: false,
            created_at: Millis(0),
            sha256: String::new(),
            uploader_type,
            uploader_id: 1,
        };
        let agents = file(ActorType::Agent);
        assert!(agents.shopper_may_see(Some(EntryKind::Public)));
        for hidden in [
            None,
            Some(EntryKind::Note),
            Some(EntryKind::System),
            Some(EntryKind::Customer),
        ] {
            assert!(!agents.shopper_may_see(hidden), "{hidden:?}");
        }
        assert!(file(ActorType::Customer).shopper_may_see(None));
    }

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

#[cfg(test)]
mod ticket_system_tests {
    use super::*;

    fn ticket(complaint: bool) -> Ticket {
        Ticket {
            id: 1,
            shop_id: 1,
            number: 7,
            display_number: display_number(7),
            subject: "s".into(),
            description: String::new(),
            customer: None,
            category: complaint.then(|| CategoryRef {
                id: 3,
                key: "damaged_item".into(),
                name: "破损".into(),
                parent_id: Some(1),
                parent_key: Some("error".into()),
                is_complaint: true,
            }),
            priority: Priority::Normal,
            status: TicketStatus::Open,
            assignee_id: None,
            assignee_name: None,
            team: None,
            channel: TicketChannel::Api,
            shared_with_customer: false,
            custom_fields: BTreeMap::new(),
            tags: vec![],
            root_causes: vec![],
            handling_result: None,
            merged_into_id: None,
            created_by: None,
            created_at: Millis(0),
            updated_at: Millis(0),
            first_public_reply_at: None,
            resolved_at: None,
            closed_at: None,
            sla: None,
        }
    }

    #[test]
    fn numbers_read_and_print() {
        assert_eq!(display_number(123), "T-000123");
        for s in ["T-000123", "t123", "#123", "123", " T123 "] {
            assert_eq!(parse_number(s), Some(123), "{s}");
        }
        for s in ["", "T-", "12a", "0", "破损"] {
            assert_eq!(parse_number(s), None, "{s}");
        }
    }

    #[test]
    fn a_refused_resolve_changes_nothing_and_names_the_gaps() {
        let mut t = ticket(true);
        let patch = TicketPatch {
            status: Some(TicketStatus::Resolved),
            root_causes: Some(vec!["包装不牢".into()]),
            ..Default::default()
        };
        let err = apply_patch(&mut t, &patch, &PatchRefs::default(), Millis(5)).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::ValidationFailed);
        assert!(err.message.contains("handling_result") && !err.message.contains("root_causes"));
        let ok = TicketPatch {
            handling_result: Some(Some("补发".into())),
            ..patch
        };
        let changes = apply_patch(&mut t, &ok, &PatchRefs::default(), Millis(5)).unwrap();
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, vec!["root_causes", "handling_result", "status"]);
        assert_eq!(t.resolved_at, Some(Millis(5)));
        // Closing, then nothing more.
        let close = TicketPatch {
            status: Some(TicketStatus::Closed),
            ..Default::default()
        };
        apply_patch(&mut t, &close, &PatchRefs::default(), Millis(6)).unwrap();
        let rename = TicketPatch {
            subject: Some("x".into()),
            ..Default::default()
        };
        assert!(apply_patch(&mut t, &rename, &PatchRefs::default(), Millis(7)).is_err());
    }

    #[test]
    fn replies_move_the_status() {
        use TicketStatus::*;
        assert_eq!(
            status_after_entry(New, EntryKind::Public).unwrap(),
            Some(Open)
        );
        assert_eq!(
            status_after_entry(PendingCustomer, EntryKind::Customer).unwrap(),
            Some(Open)
        );
        assert_eq!(status_after_entry(Open, EntryKind::Note).unwrap(), None);
        assert!(status_after_entry(Closed, EntryKind::Customer).is_err());
        assert_eq!(status_after_entry(Closed, EntryKind::Note).unwrap(), None);
    }

    #[test]
    fn filters_parse_strictly() {
        let mut p = BTreeMap::new();
        p.insert("status".to_owned(), "open, new".to_owned());
        p.insert("assignee".to_owned(), "me".to_owned());
        let f = TicketFilter::from_params(&p).unwrap();
        assert_eq!(f.statuses, vec![TicketStatus::Open, TicketStatus::New]);
        assert_eq!(f.assignee, Some(AssigneeFilter::Me));
        p.insert("colour".to_owned(), "red".to_owned());
        assert!(TicketFilter::from_params(&p).is_err());
        let c = Cursor {
            at: Millis(1234),
            id: 9,
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert!(Cursor::decode("x_1").is_err());
    }
}

//! The domain types. Ids are `i64` (database-assigned); times are [`Millis`].
//!
//! The serialized form of these types is the public API (see docs/API.md), so renaming a field
//! here is an API change.

use crate::time::Millis;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::base::{CustomerRef, Id};

/// The longest message body accepted, in characters.
pub const MAX_MESSAGE_CHARS: usize = 5000;
/// The longest client message id accepted, in bytes.
pub const MAX_CLIENT_MSG_ID: usize = 64;
/// The concurrency cap a new agent gets unless the shop says otherwise.
pub const DEFAULT_MAX_CONCURRENT: i64 = 8;

pub(crate) use crate::base::string_enum;

string_enum!(
    /// What an account may do: admins run the shop, supervisors see and steer every conversation,
    /// agents work their own and the unassigned ones.
    Role { Admin => "admin", Supervisor => "supervisor", Agent => "agent" }
);
string_enum!(
    /// An agent's availability; only `online` agents receive new conversations. `busy` keeps
    /// the agent's conversations but takes no new ones; `away` and `offline` agents' waiting
    /// conversations are handed on after the shop's grace period (`kefu_core::presence`).
    AgentStatus { Online => "online", Busy => "busy", Away => "away", Offline => "offline" }
);
string_enum!(
    /// Where a conversation stands. `open` conversations count toward an agent's cap.
    ConversationStatus { Open => "open", Pending => "pending", Resolved => "resolved" }
);
string_enum!(
    /// What a message shows: plain text, or a card whose snapshot is in [`Message::payload`]
    /// (see [`crate::cards`]). Shopper messages are always `text`. New kinds may be added.
    MessageKind { Text => "text", ProductCard => "product_card", OrderCard => "order_card", Attachment => "attachment" }
);
string_enum!(
    /// Who wrote a message.
    SenderType { Customer => "customer", Agent => "agent", Bot => "bot", System => "system" }
);

impl Role {
    /// Admins and supervisors see every conversation of the shop.
    pub fn sees_whole_shop(self) -> bool {
        matches!(self, Role::Admin | Role::Supervisor)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Shop {
    pub id: Id,
    pub slug: String,
    pub name: String,
    #[serde(skip)]
    pub settings: ShopSettings,
}

/// Per-shop settings an admin edits in the console.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ShopSettings {
    /// The greeting (欢迎语) sent to a shopper at the start of a conversation; empty = none.
    pub greeting: String,
    /// Shown (and stored as a system message) when a shopper writes while no agent is online.
    pub offline_message: String,
    /// The concurrency cap of agents that have none of their own.
    pub default_max_concurrent: i64,
    /// The widget's pre-chat form (absent in older clients' updates: off).
    #[serde(default)]
    pub prechat: PrechatForm,
    /// The shop's time zone: report days and every time the console shows are the shop's. Only
    /// zones without daylight saving (`kefu_core::tools::fixed_utc_offset`), so a day is 24 h.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Web origins (`https://shop.example`) whose pages may embed the widget; empty = any page.
    /// The widget authenticates with a bearer visitor token, never a cookie, so "any" is safe;
    /// a shop lists its own sites to keep others from framing its chat.
    #[serde(default)]
    pub widget_origins: Vec<String>,
    /// How the widget looks on the shop's pages: colour, corner, the line beside its button.
    #[serde(default)]
    pub widget: WidgetStyle,
}

/// The widget's look, set by the shop in 设置 and applied by `/api/v1/widget/config`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(default)]
pub struct WidgetStyle {
    /// The main colour (button, header, the shopper's bubbles) as `#rrggbb`.
    pub color: String,
    /// The bottom corner the button sits in.
    pub position: WidgetPosition,
    /// A short invitation shown beside the closed widget's button (邀请语); empty = none. The
    /// first message of a conversation is the shop's `greeting`, not this.
    pub greeting: String,
}

/// The longest widget invitation, in characters.
pub const MAX_WIDGET_GREETING_CHARS: usize = 60;

/// The widget's colour unless the shop picks one.
pub const DEFAULT_WIDGET_COLOR: &str = "#2563eb";

impl Default for WidgetStyle {
    fn default() -> Self {
        Self {
            color: DEFAULT_WIDGET_COLOR.into(),
            position: WidgetPosition::Right,
            greeting: String::new(),
        }
    }
}

/// Which bottom corner of the page the widget sits in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WidgetPosition {
    #[default]
    Right,
    Left,
}

impl WidgetStyle {
    /// `#rrggbb` in lower case (an admin may type `#1F6FEB` or leave blanks around it).
    pub fn normalized(mut self) -> Self {
        self.color = self.color.trim().to_ascii_lowercase();
        self.greeting = self.greeting.trim().to_owned();
        self
    }

    pub fn validate(&self) -> Result<()> {
        let c = self.color.as_bytes();
        if c.len() != 7 || c[0] != b'#' || !c[1..].iter().all(u8::is_ascii_hexdigit) {
            return Err(Error::invalid(
                "widget.color",
                "must be a colour like #1f6feb",
            ));
        }
        if self.greeting.chars().count() > MAX_WIDGET_GREETING_CHARS {
            return Err(Error::invalid(
                "widget.greeting",
                format!("must be at most {MAX_WIDGET_GREETING_CHARS} characters"),
            ));
        }
        if self
            .greeting
            .chars()
            .any(|c| c.is_control() || is_hidden_control(c))
        {
            return Err(Error::invalid(
                "widget.greeting",
                "must not contain control or text-direction characters",
            ));
        }
        Ok(())
    }
}

/// The time zone of a shop that has not chosen one.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

fn default_time_zone() -> String {
    DEFAULT_TIME_ZONE.into()
}

/// The most widget origins one shop lists.
pub const MAX_WIDGET_ORIGINS: usize = 50;

/// Whether `origin` may embed a widget whose shop lists `allowed` (empty = any).
pub fn widget_origin_allowed(allowed: &[String], origin: &str) -> bool {
    allowed.is_empty() || normalize_origin(origin).is_some_and(|o| allowed.contains(&o))
}

/// `scheme://host[:port]` in lower case, as browsers send it in `Origin`, or `None` for anything
/// else (a path, a query, user info, another scheme, blanks).
pub fn normalize_origin(origin: &str) -> Option<String> {
    let o = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let rest = o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"))?;
    let valid_host =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    (!rest.is_empty() && rest.len() <= 253 && rest.chars().all(valid_host)).then_some(o)
}

/// How the pre-chat form asks for one contact field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrechatField {
    #[default]
    Off,
    Optional,
    Required,
}

/// The form a new shopper fills in before their first message, so the profile starts with a name
/// and a way to reach them. The widget enforces `required`; the server checks the values' formats
/// (a caller of the API may still skip the form, as with any widget).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(default)]
pub struct PrechatForm {
    pub enabled: bool,
    pub name: PrechatField,
    pub phone: PrechatField,
    pub email: PrechatField,
}

impl Default for ShopSettings {
    fn default() -> Self {
        Self {
            greeting: "您好，欢迎光临！请问有什么可以帮您？".into(),
            offline_message: "客服暂时不在线，您的留言已收到，我们上线后会第一时间回复您。".into(),
            default_max_concurrent: DEFAULT_MAX_CONCURRENT,
            prechat: PrechatForm::default(),
            time_zone: default_time_zone(),
            widget_origins: Vec::new(),
            widget: WidgetStyle::default(),
        }
    }
}

impl ShopSettings {
    pub fn validate(&self) -> Result<()> {
        if self.greeting.chars().count() > 1000 || self.offline_message.chars().count() > 1000 {
            return Err(Error::validation(
                "greeting and offline_message are limited to 1000 characters",
            ));
        }
        if self.prechat.enabled
            && [self.prechat.name, self.prechat.phone, self.prechat.email]
                .iter()
                .all(|f| *f == PrechatField::Off)
        {
            return Err(Error::validation(
                "prechat: an enabled form asks for at least one field",
            ));
        }
        if !(1..=100).contains(&self.default_max_concurrent) {
            return Err(Error::validation(
                "default_max_concurrent must be between 1 and 100",
            ));
        }
        self.widget.validate()?;
        if self.widget_origins.len() > MAX_WIDGET_ORIGINS {
            return Err(Error::validation(format!(
                "widget_origins: at most {MAX_WIDGET_ORIGINS} origins"
            )));
        }
        if let Some(bad) = self
            .widget_origins
            .iter()
            .find(|o| normalize_origin(o).as_deref() != Some(o.as_str()))
        {
            return Err(Error::validation(format!(
                "widget_origins: '{bad}' is not an origin like https://shop.example (lower case, no path)"
            )));
        }
        Ok(())
    }

    /// The same settings with each widget origin in its normal form and duplicates removed, so an
    /// admin may paste `https://Shop.example/`.
    pub fn normalized(mut self) -> Self {
        let mut seen = std::collections::BTreeSet::new();
        self.widget_origins = self
            .widget_origins
            .iter()
            .map(|o| normalize_origin(o).unwrap_or_else(|| o.trim().to_owned()))
            .filter(|o| seen.insert(o.clone()))
            .collect();
        self.widget = self.widget.normalized();
        self
    }

    /// Whether a page of `origin` (the request's `Origin` header) may use this shop's widget.
    pub fn allows_widget_origin(&self, origin: &str) -> bool {
        widget_origin_allowed(&self.widget_origins, origin)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct TeamRef {
    pub id: Id,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Team {
    pub id: Id,
    pub name: String,
    /// New conversations start in the default team (one per shop).
    pub is_default: bool,
    /// Active members serving this team's queue.
    pub member_count: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: Id,
    #[serde(skip)]
    pub shop_id: Id,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub status: AgentStatus,
    /// What set the status (`manual`, `login`, `activity`, `auto_idle`, `socket_gone`, `logout`,
    /// `deactivated`); `None` before presence was recorded.
    pub status_cause: Option<crate::presence::StatusCause>,
    /// The agent's note for `away` or `busy` (午休 …).
    pub status_note: Option<String>,
    /// When the status last changed.
    pub status_since: Option<Millis>,
    /// The member's main team: a conversation assigned to them moves to it. All the teams whose
    /// queues they serve are [`AgentSummary::teams`].
    pub team: Option<TeamRef>,
    /// This agent's own cap; `None` means the shop default.
    pub max_concurrent: Option<i64>,
    /// `false` once an admin deactivated the account: it cannot sign in and gets no conversations.
    pub active: bool,
    /// Set by a temporary password (a new member, an admin's reset): until the member chooses
    /// their own, the API answers `password_change_required` to everything but `/me`, the
    /// password change and logout.
    pub must_change_password: bool,
}

/// A member of the shop's staff as listed (`GET /api/v1/agents`, the members page): the account
/// with every team it serves and its current load.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentSummary {
    #[serde(flatten)]
    pub user: User,
    /// Every team whose queue the member serves, the main team first.
    pub teams: Vec<TeamRef>,
    /// Open conversations assigned to the member now.
    pub open_count: i64,
    pub created_at: Millis,
    /// When an admin deactivated the account; `None` while active.
    pub deactivated_at: Option<Millis>,
}

pub struct NewUser {
    pub shop_id: Id,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub team_id: Option<Id>,
    pub password_hash: String,
}

#[derive(Debug, Clone, Default)]
pub struct NewCustomer {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub external_id: Option<String>,
}

/// A shopper authenticated by a visitor token.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub shop_id: Id,
    pub customer_id: Id,
    pub customer_name: String,
    pub blocked: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Conversation {
    pub id: Id,
    #[serde(skip)]
    pub shop_id: Id,
    pub status: ConversationStatus,
    pub assignee_id: Option<Id>,
    pub assignee_name: Option<String>,
    pub team: Option<TeamRef>,
    pub customer: CustomerRef,
    pub last_seq: i64,
    pub last_message_at: Millis,
    pub last_message_preview: String,
    /// Shopper messages the agents have not read yet.
    pub unread_count: i64,
    /// The highest seq the shopper has read.
    pub customer_read_seq: i64,
    /// The highest seq an agent has read.
    pub agent_read_seq: i64,
    /// 1-based place in the shop's waiting queue; `None` when assigned or not open.
    pub queue_position: Option<i64>,
    pub created_at: Millis,
    /// The conversation's tags (the shop's vocabulary), sorted.
    pub tags: Vec<String>,
    /// When a snoozed (pending) conversation reopens by itself; `None` when not snoozed.
    pub snoozed_until: Option<Millis>,
    /// The shopper's last message (first line, 80 characters), never the bot's or a system
    /// notice: what the inbox row shows.
    pub last_customer_message_preview: String,
    /// Since when the shopper waits: their oldest message not yet answered by an agent's public
    /// reply; `None` when nothing waits (answered, or resolved).
    pub waiting_since: Option<Millis>,
    /// The order this conversation is about (named by the shopper, sent from the shop page or
    /// picked by the agent): script variables, order cards and tickets use it.
    pub current_order_id: Option<Id>,
    /// The product this conversation is about (the shop page's `kefu.open({sku})`, a product
    /// card, or the agent's pick).
    pub current_product_id: Option<Id>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Message {
    pub id: Id,
    pub conversation_id: Id,
    pub seq: i64,
    pub sender_type: SenderType,
    pub sender_id: Option<Id>,
    pub sender_name: String,
    /// The text; for a card, a plain-text fallback (e.g. `[商品] AirBuds Pro 199.00元`) that old
    /// clients, previews and notifications show.
    pub body: String,
    pub private: bool,
    pub client_msg_id: Option<String>,
    pub created_at: Millis,
    pub kind: MessageKind,
    /// A card's snapshot taken at send time ([`crate::cards::ProductCard`],
    /// [`crate::cards::OrderCard`]); `null` for text.
    #[schema(value_type = Option<Object>)]
    pub payload: Option<serde_json::Value>,
}

/// What `append_*_message` did.
#[derive(Debug, Clone)]
pub struct Appended {
    /// The message asked for (the original one when this was a retry).
    pub message: Message,
    /// Other messages stored in the same commit (greeting before it, offline notice after it).
    pub companions: Vec<Message>,
    /// The conversation after the write. Its `queue_position` may be `None` on the steady path (a
    /// message into an open conversation); read the conversation to show the queue.
    pub conversation: Conversation,
    /// The conversation was created (or reopened) by this message.
    pub conversation_started: bool,
    /// A retry: nothing new was stored.
    pub duplicate: bool,
}

/// A shopper's message as it arrives.
pub struct CustomerMessage<'a> {
    pub shop_id: Id,
    pub customer_id: Id,
    pub body: &'a str,
    pub client_msg_id: &'a str,
    /// When this message starts a conversation, store the shop's greeting before it (new
    /// conversations) and its offline notice after it (when no agent is online) — decided inside
    /// the same transaction, so the notice matches the moment of the start.
    pub announce: bool,
}

/// An agent's message or internal note as it arrives.
pub struct AgentMessage<'a> {
    pub shop_id: Id,
    pub conversation_id: Id,
    pub agent: &'a User,
    pub body: &'a str,
    pub client_msg_id: &'a str,
    pub private: bool,
    /// `text` for replies and notes; a card kind with its `payload` (see [`crate::cards`]).
    pub kind: MessageKind,
    pub payload: Option<serde_json::Value>,
}

/// Which conversations a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    Me,
    Unassigned,
    All,
}

#[derive(Debug, Clone, Copy)]
pub struct ConversationQuery {
    pub status: Option<ConversationStatus>,
    pub assignee: AssigneeFilter,
    /// The viewer; agents (not admins/supervisors) see only their own and unassigned ones.
    pub viewer_id: Id,
    pub viewer_role: Role,
    /// Only conversations carrying this tag (an id of the shop's tag vocabulary).
    pub tag_id: Option<Id>,
    /// Only conversations of customers in this segment (computed metrics; a customer never
    /// computed matches no segment condition).
    pub segment: crate::segments::SegmentFilter,
    /// The order of the list.
    pub sort: ConversationSort,
    pub limit: i64,
}

/// How a conversation list is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ConversationSort {
    /// Latest activity first (the default).
    #[default]
    Recent,
    /// Longest-waiting shopper first (`waiting_since` ascending); conversations where nothing
    /// waits follow, latest activity first.
    Waiting,
}

impl ConversationSort {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "" | "recent" => Ok(Self::Recent),
            "waiting" => Ok(Self::Waiting),
            _ => Err(Error::invalid("sort", "must be one of recent, waiting")),
        }
    }
}

/// A conversation that routing just assigned.
#[derive(Debug, Clone)]
pub struct RoutedConversation {
    pub conversation: Conversation,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Product {
    pub id: Id,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub currency: String,
    pub image_url: String,
    pub description: String,
}

pub struct NewProduct {
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub currency: String,
    pub image_url: String,
    pub description: String,
}

/// Validates a message body: non-blank and at most [`MAX_MESSAGE_CHARS`] characters.
pub fn validate_body(body: &str) -> Result<()> {
    if body.trim().is_empty() {
        return Err(Error::invalid("body", "must not be empty"));
    }
    if body.chars().count() > MAX_MESSAGE_CHARS {
        return Err(Error::invalid(
            "body",
            format!("must be at most {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    if let Some(c) = body.chars().find(|&c| is_hidden_control(c)) {
        return Err(Error::invalid(
            "body",
            format!(
                "must not contain control or text-direction characters (U+{:04X})",
                u32::from(c)
            ),
        ));
    }
    Ok(())
}

/// Characters that have no business in a chat message and can disguise what the other side
/// reads: C0/C1 controls other than tab and line breaks, and the bidirectional overrides and
/// isolates that reverse how text displays (`\u{202E}gpj.exe`).
pub fn is_hidden_control(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Validates a client message id: 1–64 printable ASCII characters.
pub fn validate_client_msg_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > MAX_CLIENT_MSG_ID || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::validation(
            "client_msg_id must be 1-64 printable ASCII characters",
        ));
    }
    Ok(())
}

/// The preview shown in conversation lists: the first line, at most 80 characters.
pub fn preview(body: &str) -> String {
    body.lines().next().unwrap_or("").chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_rules() {
        assert!(validate_body("  ").is_err());
        assert!(validate_body("你好").is_ok());
        assert!(validate_body(&"字".repeat(MAX_MESSAGE_CHARS)).is_ok());
        assert!(validate_body(&"字".repeat(MAX_MESSAGE_CHARS + 1)).is_err());
        assert!(validate_body("两行\r\n\t缩进").is_ok());
        for hidden in [
            "a\0b",
            "a\u{7}b",
            "\u{202E}gpj.exe",
            "x\u{2066}y",
            "c1\u{85}",
        ] {
            let e = validate_body(hidden).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("body"), "{hidden:?}");
        }
    }

    #[test]
    fn widget_origins() {
        assert_eq!(
            normalize_origin(" https://Shop.Example:8443/ ").as_deref(),
            Some("https://shop.example:8443")
        );
        for bad in [
            "shop.example",
            "ftp://a",
            "https://a/path",
            "https://a?x",
            "https://u@a",
            "https://",
        ] {
            assert_eq!(normalize_origin(bad), None, "{bad}");
        }
        let mut s = ShopSettings {
            widget_origins: vec![
                "https://Shop.example/".into(),
                "https://shop.example".into(),
            ],
            ..ShopSettings::default()
        };
        assert!(s.validate().is_err(), "not normalized yet");
        s = s.normalized();
        assert_eq!(s.widget_origins, ["https://shop.example"]);
        assert!(s.validate().is_ok());
        assert!(s.allows_widget_origin("https://shop.example"));
        assert!(!s.allows_widget_origin("https://evil.example"));
        assert!(ShopSettings::default().allows_widget_origin("https://anything.example"));
    }

    #[test]
    fn widget_style_rules() {
        let mut s = ShopSettings::default();
        assert!(s.validate().is_ok());
        s.widget.color = " #1F6FEB ".into();
        s.widget.greeting = "  有问题随时问我们  ".into();
        let s = s.normalized();
        assert_eq!(s.widget.color, "#1f6feb");
        assert_eq!(s.widget.greeting, "有问题随时问我们");
        assert!(s.validate().is_ok());
        for bad in ["red", "#12345", "#12345g", "1f6feb0", "#1f6feb00"] {
            let mut w = s.clone();
            w.widget.color = bad.into();
            let e = w.validate().unwrap_err();
            assert_eq!(e.field.as_deref(), Some("widget.color"), "{bad}");
        }
        let mut long = s.clone();
        long.widget.greeting = "字".repeat(MAX_WIDGET_GREETING_CHARS + 1);
        assert_eq!(
            long.validate().unwrap_err().field.as_deref(),
            Some("widget.greeting")
        );
        // Older clients send no `widget`: the defaults.
        let old: ShopSettings = serde_json::from_value(serde_json::json!({
            "greeting": "", "offline_message": "", "default_max_concurrent": 5
        }))
        .unwrap();
        assert_eq!(old.widget, WidgetStyle::default());
        assert_eq!(
            ConversationSort::parse("waiting").unwrap(),
            ConversationSort::Waiting
        );
        assert_eq!(
            ConversationSort::parse("oldest")
                .unwrap_err()
                .field
                .as_deref(),
            Some("sort")
        );
    }

    #[test]
    fn client_msg_id_rules() {
        assert!(validate_client_msg_id("").is_err());
        assert!(validate_client_msg_id("a b").is_err());
        assert!(validate_client_msg_id(&"a".repeat(65)).is_err());
        assert!(validate_client_msg_id("3f1c-9a").is_ok());
    }

    #[test]
    fn enums_round_trip() {
        for s in ["open", "pending", "resolved"] {
            assert_eq!(ConversationStatus::parse(s).unwrap().as_str(), s);
        }
        assert_eq!(
            ConversationStatus::parse("closed").unwrap_err().code,
            crate::ErrorCode::ValidationFailed
        );
    }

    #[test]
    fn preview_takes_first_line() {
        assert_eq!(preview("第一行\n第二行"), "第一行");
        assert_eq!(preview(&"x".repeat(100)).len(), 80);
    }
}

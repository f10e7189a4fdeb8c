//! Payment reminders (催付) and the lookups behind product/order cards.
//!
//! A *candidate* is an unpaid, not cancelled order whose buyer wrote to the shop (a shopper message
//! in any of their conversations) within the shop's consult window. An agent sends a reminder from a
//! template: the rendered text and an order card go into the buyer's current conversation as agent
//! messages, and the reminder is recorded in the same transaction. Its *outcome* is not stored: it is
//! computed from `orders.paid_at` whenever reminders are read ([`outcome`]), so a payment that arrives
//! by CSV, webhook or API counts without anyone telling this module.
//!
//! Types and rules are pure; [`ReminderStore`] is the storage port, required by
//! [`crate::store::Store`].

use crate::cards::{OrderCard, format_money};
use crate::model::{CustomerRef, Id, Product, User};
use crate::time::Millis;
use crate::{Error, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const HOUR_MS: i64 = 3600 * 1000;

/// Per-shop settings of reminders and card links.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReminderSettings {
    /// A buyer counts as "consulted recently" with a message within this many hours (1–720).
    pub consult_window_hours: i64,
    /// A reminder succeeded when the order is paid within this many hours after it (1–720). A
    /// second reminder for the same order within this window is refused unless forced.
    pub outcome_hours: i64,
    /// Link on product cards, e.g. `https://shop.example.com/item/{sku}` (`{sku}`, `{product_id}`);
    /// empty = no link.
    pub product_url_template: String,
    /// Link on order cards (`{order_no}`, `{order_id}`); empty = no link.
    pub order_url_template: String,
}

impl Default for ReminderSettings {
    fn default() -> Self {
        Self {
            consult_window_hours: 72,
            outcome_hours: 24,
            product_url_template: String::new(),
            order_url_template: String::new(),
        }
    }
}

impl ReminderSettings {
    pub fn validate(&self) -> Result<()> {
        if !(1..=720).contains(&self.consult_window_hours) {
            return Err(Error::validation(
                "consult_window_hours: must be between 1 and 720",
            ));
        }
        if !(1..=720).contains(&self.outcome_hours) {
            return Err(Error::validation(
                "outcome_hours: must be between 1 and 720",
            ));
        }
        for (field, value) in [
            ("product_url_template", &self.product_url_template),
            ("order_url_template", &self.order_url_template),
        ] {
            if value.chars().count() > 500 {
                return Err(Error::validation(format!(
                    "{field}: must be at most 500 characters"
                )));
            }
            let allowed = is_safe_link_template(value);
            if !allowed {
                return Err(Error::validation(format!(
                    "{field}: must start with https://, http:// or /"
                )));
            }
        }
        Ok(())
    }
}

/// Whether a link template may be shown to shoppers: empty, a web address (`https://…`,
/// `http://…`), or a path of the shop's own site. Never `javascript:` and never a path a browser
/// reads as another host: `//evil.example/…`, and `/\evil.example/…` (browsers treat `\` as `/`).
/// Backslashes, spaces and control characters are refused anywhere, since URL parsers drop or
/// rewrite them (`/\t/evil.example` becomes `//evil.example`).
pub fn is_safe_link_template(value: &str) -> bool {
    if value.is_empty() {
        return true;
    }
    if value
        .chars()
        .any(|c| c == '\\' || c.is_whitespace() || c.is_control())
    {
        return false;
    }
    let lower = value.to_ascii_lowercase();
    if let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    {
        // A host must follow: `https:///evil` and `https://` alone are not addresses.
        return !rest.is_empty() && !rest.starts_with('/');
    }
    value.starts_with('/') && !value.starts_with("//")
}

/// A reminder text with variables ([`TEMPLATE_VARIABLES`]).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ReminderTemplate {
    pub id: Id,
    pub name: String,
    pub body: String,
    /// Used when a reminder names no template. Exactly one per shop once any exists.
    pub is_default: bool,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewReminderTemplate {
    pub name: String,
    pub body: String,
    #[serde(default)]
    pub is_default: bool,
}

/// The variables a template may use.
pub const TEMPLATE_VARIABLES: &[&str] = &[
    "customer.name",
    "order.no",
    "order.amount",
    "order.items",
    "shop.name",
];

/// The template every shop starts with.
pub const DEFAULT_TEMPLATE_NAME: &str = "默认催付";
pub const DEFAULT_TEMPLATE_BODY: &str = "亲爱的{customer.name}，您在{shop.name}的订单 {order.no}（{order.items}，共 {order.amount}）还没有付款哦～库存有限，付款后我们会尽快为您安排发货。有任何问题随时联系我！";

impl NewReminderTemplate {
    pub fn validate(&self) -> Result<()> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 50 {
            return Err(Error::validation("name: must be 1-50 characters"));
        }
        if self.body.trim().is_empty() || self.body.chars().count() > 1000 {
            return Err(Error::validation("body: must be 1-1000 characters"));
        }
        for var in variables(&self.body) {
            if !TEMPLATE_VARIABLES.contains(&var) {
                return Err(Error::validation(format!(
                    "body: unknown variable {{{var}}}; use {}",
                    TEMPLATE_VARIABLES
                        .iter()
                        .map(|v| format!("{{{v}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// The `{name}` variables in a template, in order (unbalanced braces are plain text).
fn variables(body: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if !after[..close].contains('{') => {
                out.push(&after[..close]);
                rest = &after[close + 1..];
            }
            _ => rest = after,
        }
    }
    out
}

/// What a template's variables stand for.
pub struct TemplateContext<'a> {
    pub customer_name: &'a str,
    pub shop_name: &'a str,
    pub order: &'a OrderCard,
}

/// Fills a template. Values are inserted once, left to right, so a customer named "{order.no}"
/// stays literally that.
pub fn render(body: &str, ctx: &TemplateContext<'_>) -> String {
    let mut out = String::with_capacity(body.len() + 64);
    let mut rest = body;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let v = match &after[..close] {
                "customer.name" => ctx.customer_name.to_owned(),
                "shop.name" => ctx.shop_name.to_owned(),
                "order.no" => ctx.order.order_no.clone(),
                "order.amount" => format_money(ctx.order.total_cents, &ctx.order.currency),
                "order.items" => ctx.order.items_summary.clone(),
                _ => return None,
            };
            Some((v, close))
        });
        match value {
            Some((v, close)) => {
                out.push_str(&v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// An unpaid order whose buyer consulted recently.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReminderCandidate {
    pub order_id: Id,
    pub order_no: String,
    pub status: String,
    pub total_cents: i64,
    pub currency: String,
    pub placed_at: Millis,
    pub customer: CustomerRef,
    /// The buyer's current conversation (where a reminder goes).
    pub conversation_id: Id,
    pub conversation_assignee_id: Option<Id>,
    /// The buyer's latest message to the shop.
    pub last_consulted_at: Millis,
    pub reminder_count: i64,
    pub last_reminded_at: Option<Millis>,
}

/// What became of a reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReminderOutcome {
    /// Paid within the outcome window after the reminder.
    Paid,
    /// Not paid yet, and the window is still open.
    Pending,
    /// The window closed without payment (a later payment does not count).
    NotPaid,
}

/// The outcome of a reminder sent at `sent_at`, judged at `now`.
pub fn outcome(
    sent_at: Millis,
    paid_at: Option<Millis>,
    outcome_hours: i64,
    now: Millis,
) -> ReminderOutcome {
    let deadline = sent_at.0 + outcome_hours * HOUR_MS;
    match paid_at {
        // Paid before the reminder can only be a race with the payment: it did not need it, but
        // it was not lost either; count it as paid.
        Some(p) if p.0 <= deadline => ReminderOutcome::Paid,
        _ if now.0 < deadline => ReminderOutcome::Pending,
        _ => ReminderOutcome::NotPaid,
    }
}

/// A reminder as stored, with what is needed to judge it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Reminder {
    pub id: Id,
    pub order_id: Id,
    pub order_no: String,
    pub total_cents: i64,
    pub currency: String,
    pub customer: CustomerRef,
    pub conversation_id: Id,
    /// The reminder's text message.
    pub message_id: Id,
    pub agent_id: Option<Id>,
    pub agent_name: String,
    pub template_id: Option<Id>,
    pub body: String,
    pub forced: bool,
    pub sent_at: Millis,
    pub paid_at: Option<Millis>,
    pub outcome: ReminderOutcome,
}

/// Counts of outcomes; `rate` = paid / (paid + not_paid), `None` before anything is decided.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct OutcomeStats {
    pub sent: i64,
    pub paid: i64,
    pub pending: i64,
    pub not_paid: i64,
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AgentOutcomeStats {
    pub agent_id: Option<Id>,
    pub agent_name: String,
    #[serde(flatten)]
    pub stats: OutcomeStats,
}

impl OutcomeStats {
    fn add(&mut self, o: ReminderOutcome) {
        self.sent += 1;
        match o {
            ReminderOutcome::Paid => self.paid += 1,
            ReminderOutcome::Pending => self.pending += 1,
            ReminderOutcome::NotPaid => self.not_paid += 1,
        }
        let decided = self.paid + self.not_paid;
        // A ratio for display, not money: a float is fine here.
        self.rate = (decided > 0).then(|| self.paid as f64 / decided as f64);
    }
}

/// Overall and per-agent outcome statistics (agents ordered by reminders sent, most first).
pub fn stats(reminders: &[Reminder]) -> (OutcomeStats, Vec<AgentOutcomeStats>) {
    let mut overall = OutcomeStats::default();
    let mut per_agent: Vec<AgentOutcomeStats> = Vec::new();
    for r in reminders {
        overall.add(r.outcome);
        let i = match per_agent.iter().position(|a| a.agent_id == r.agent_id) {
            Some(i) => i,
            None => {
                per_agent.push(AgentOutcomeStats {
                    agent_id: r.agent_id,
                    agent_name: r.agent_name.clone(),
                    stats: OutcomeStats::default(),
                });
                per_agent.len() - 1
            }
        };
        per_agent[i].stats.add(r.outcome);
    }
    per_agent.sort_by(|a, b| {
        b.stats
            .sent
            .cmp(&a.stats.sent)
            .then(a.agent_name.cmp(&b.agent_name))
    });
    (overall, per_agent)
}

/// An order as a card needs it: its buyer (for the "belongs to this conversation" check) and the
/// snapshot (without links; the HTTP layer fills those from the settings).
#[derive(Debug, Clone)]
pub struct OrderForCard {
    pub customer_id: Id,
    pub card: OrderCard,
}

/// A reminder to store together with its two messages.
pub struct NewReminder<'a> {
    pub shop_id: Id,
    pub order_id: Id,
    pub customer_id: Id,
    pub conversation_id: Id,
    pub agent: &'a User,
    pub template_id: Option<Id>,
    /// The rendered text (sent as an agent text message).
    pub text: &'a str,
    /// The order card that follows the text: fallback body and payload.
    pub card_body: &'a str,
    pub card_payload: serde_json::Value,
    /// Send even if another reminder for the order is younger than `repeat_guard_since`.
    pub force: bool,
    /// A reminder for the same order sent after this instant makes this one a `conflict`.
    pub repeat_guard_since: Millis,
}

/// What [`ReminderStore::send_reminder`] stored.
pub struct SentReminder {
    pub reminder_id: Id,
    /// The text and the card, in seq order.
    pub messages: Vec<crate::model::Message>,
    pub conversation: crate::model::Conversation,
}

/// Whether an order awaits payment, so a payment reminder (催付) may be sent for it: unpaid and
/// not cancelled. The rule of `send_reminder` and of the `awaiting_payment` flag orders carry.
pub fn awaiting_payment(payment_status: &str, status: &str) -> bool {
    payment_status == "unpaid" && status != "cancelled"
}

/// Storage for cards and reminders. Every method is scoped by `shop_id`: another shop's ids
/// answer `None`/`not_found` exactly as unknown ids do. Writes return only once committed.
#[async_trait]
pub trait ReminderStore: Send + Sync + 'static {
    /// One product of the shop (for a product card).
    async fn card_product(&self, shop_id: Id, product_id: Id) -> Result<Option<Product>>;
    /// Products whose name or SKU contains `q` (all when empty), by name, at most `limit`.
    async fn search_products(&self, shop_id: Id, q: &str, limit: i64) -> Result<Vec<Product>>;
    /// The shop's (first) customer with this `external_id` (the demo page's logins).
    async fn customer_by_external_id(
        &self,
        shop_id: Id,
        external_id: &str,
    ) -> Result<Option<CustomerRef>>;
    /// One order of the shop with its lines and latest shipment (for an order card).
    async fn order_for_card(&self, shop_id: Id, order_id: Id) -> Result<Option<OrderForCard>>;

    async fn reminder_settings(&self, shop_id: Id) -> Result<ReminderSettings>;
    async fn put_reminder_settings(
        &self,
        shop_id: Id,
        settings: &ReminderSettings,
    ) -> Result<ReminderSettings>;
    /// The shop's templates, default first; creates the default template the first time.
    async fn reminder_templates(&self, shop_id: Id) -> Result<Vec<ReminderTemplate>>;
    /// Making a template the default takes the flag from the previous one.
    async fn create_reminder_template(
        &self,
        shop_id: Id,
        template: &NewReminderTemplate,
    ) -> Result<ReminderTemplate>;
    async fn update_reminder_template(
        &self,
        shop_id: Id,
        id: Id,
        template: &NewReminderTemplate,
    ) -> Result<ReminderTemplate>;
    /// `conflict` for the default template (make another one the default first).
    async fn delete_reminder_template(&self, shop_id: Id, id: Id) -> Result<()>;

    /// Unpaid, not cancelled orders whose buyer sent a message at or after `consulted_since`,
    /// most recently consulted first.
    async fn reminder_candidates(
        &self,
        shop_id: Id,
        consulted_since: Millis,
        limit: i64,
    ) -> Result<Vec<ReminderCandidate>>;
    /// Stores the text message, the order card and the reminder in one transaction; `conflict`
    /// when another reminder for the order was sent after `repeat_guard_since` and not `force`.
    async fn send_reminder(&self, reminder: NewReminder<'_>) -> Result<SentReminder>;
    /// Reminders sent at or after `since`, newest first, with `paid_at` of their orders; the
    /// outcome is judged with `outcome_hours` at `now`.
    async fn list_reminders(
        &self,
        shop_id: Id,
        since: Millis,
        outcome_hours: i64,
        now: Millis,
        limit: i64,
    ) -> Result<Vec<Reminder>>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cards::OrderCard;

    fn order() -> OrderCard {
        OrderCard {
            order_id: 7,
            order_no: "D1001".into(),
            status: "created".into(),
            payment_status: "unpaid".into(),
            currency: "CNY".into(),
            total_cents: 19900,
            items: vec![],
            items_summary: "AirBuds Pro ×1".into(),
            item_count: 1,
            image_url: String::new(),
            logistics: None,
            placed_at: 0,
            url: String::new(),
        }
    }

    #[test]
    fn templates_render_known_variables_once() {
        let o = order();
        let ctx = TemplateContext {
            customer_name: "{order.no}",
            shop_name: "小蜜蜂",
            order: &o,
        };
        assert_eq!(
            render("{customer.name}，订单{order.no}共{order.amount}{", &ctx),
            "{order.no}，订单D1001共199.00元{"
        );
        assert_eq!(
            render("{unknown} {order.items}", &ctx),
            "{unknown} AirBuds Pro ×1"
        );
        assert!(!render(DEFAULT_TEMPLATE_BODY, &ctx).contains("{shop.name}"));
    }

    #[test]
    fn templates_validate_variables_and_lengths() {
        let t = |body: &str| NewReminderTemplate {
            name: "t".into(),
            body: body.into(),
            is_default: false,
        };
        assert!(t(DEFAULT_TEMPLATE_BODY).validate().is_ok());
        let err = t("hi {order.total}").validate().unwrap_err();
        assert!(
            err.message
                .starts_with("body: unknown variable {order.total}")
        );
        assert!(t(" ").validate().is_err());
        assert!(t("a {b").validate().is_ok());
        let mut long = t("x");
        long.name = "名".repeat(51);
        assert!(long.validate().unwrap_err().message.starts_with("name:"));
    }

    #[test]
    fn outcomes_follow_the_window() {
        let sent = Millis(1_000_000);
        let n = 24;
        let later = |h: i64| Millis(sent.0 + h * HOUR_MS);
        assert_eq!(
            outcome(sent, Some(later(3)), n, later(4)),
            ReminderOutcome::Paid
        );
        assert_eq!(outcome(sent, None, n, later(5)), ReminderOutcome::Pending);
        assert_eq!(outcome(sent, None, n, later(25)), ReminderOutcome::NotPaid);
        // Paid, but after the window: the reminder did not do it.
        assert_eq!(
            outcome(sent, Some(later(30)), n, later(31)),
            ReminderOutcome::NotPaid
        );
        assert_eq!(
            outcome(sent, Some(later(24)), n, later(31)),
            ReminderOutcome::Paid
        );
    }

    #[test]
    fn stats_count_overall_and_per_agent() {
        let r = |agent: Id, o: ReminderOutcome| Reminder {
            id: 1,
            order_id: 1,
            order_no: "x".into(),
            total_cents: 1,
            currency: "CNY".into(),
            customer: CustomerRef {
                id: 1,
                name: "c".into(),
            },
            conversation_id: 1,
            message_id: 1,
            agent_id: Some(agent),
            agent_name: format!("a{agent}"),
            template_id: None,
            body: String::new(),
            forced: false,
            sent_at: Millis(0),
            paid_at: None,
            outcome: o,
        };
        let (all, per) = stats(&[
            r(1, ReminderOutcome::Paid),
            r(1, ReminderOutcome::NotPaid),
            r(2, ReminderOutcome::Paid),
            r(1, ReminderOutcome::Pending),
        ]);
        assert_eq!(
            (all.sent, all.paid, all.pending, all.not_paid),
            (4, 2, 1, 1)
        );
        assert!((all.rate.unwrap() - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(per[0].agent_id, Some(1));
        assert_eq!(per[0].stats.rate, Some(0.5));
        assert_eq!(per[1].stats.rate, Some(1.0));
        assert_eq!(stats(&[]).0.rate, None);
    }

    #[test]
    fn settings_are_validated_by_field() {
        let mut s = ReminderSettings::default();
        assert!(s.validate().is_ok());
        s.consult_window_hours = 0;
        assert!(
            s.validate()
                .unwrap_err()
                .message
                .starts_with("consult_window_hours")
        );
        for (template, safe) in [
            ("", true),
            ("https://shop.example/item/{sku}", true),
            ("http://shop.example/o?no={order_no}", true),
            ("/item/{sku}", true),
            ("//evil.example/x", false),
            ("/\\evil.example/x", false),
            ("/\t/evil.example", false),
            ("https:///evil.example", false),
            ("https://", false),
            ("https://shop.example\\@evil.example/", false),
            ("javascript:alert(1)", false),
            ("JAVASCRIPT:alert(1)", false),
            ("data:text/html,x", false),
            ("item/{sku}", false),
        ] {
            assert_eq!(is_safe_link_template(template), safe, "{template:?}");
        }
        s = ReminderSettings {
            order_url_template: "javascript:alert(1)".into(),
            ..Default::default()
        };
        assert!(
            s.validate()
                .unwrap_err()
                .message
                .starts_with("order_url_template")
        );
    }
}

//! The storage port. One trait, implemented by kefu-store for SQLite and PostgreSQL and judged
//! equivalent by the store tests and the integration suite, which run against both.
//!
//! Every method that touches tenant data takes the `shop_id` it is scoped to: an id of another shop
//! answers `None`/`not_found`, exactly as an unknown id does. Writes return only once committed.

use crate::Result;
use crate::aftersales::AftersalesStore;
use crate::attachments::AttachmentStore;
use crate::automation::AutomationStore;
use crate::commerce::CommerceStore;
use crate::customers::CustomerStore;
use crate::inbox::InboxStore;
use crate::kpi::KpiStore;
use crate::mail::MailStore;
use crate::members::MemberStore;
use crate::model::*;
use crate::reminders::ReminderStore;
use crate::reports::ReportStore;
use crate::reviews::ReviewStore;
use crate::scripts::ScriptStore;
use crate::search::SearchStore;
use crate::segments::SegmentStore;
use crate::sla_policies::SlaStore;
use crate::suggestions::SuggestionStore;
use crate::tickets::TicketStore;
use crate::time::Millis;
use crate::tools::ToolsStore;
use async_trait::async_trait;

/// The whole storage port: the spine's methods below plus one sub-trait per area, each in that
/// area's module, so areas grow without touching one another.
#[async_trait]
pub trait Store:
    CustomerStore
    + CommerceStore
    + SegmentStore
    + ReminderStore
    + ScriptStore
    + AttachmentStore
    + ToolsStore
    + SearchStore
    + SuggestionStore
    + MailStore
    + MemberStore
    + SlaStore
    + AutomationStore
    + TicketStore
    + AftersalesStore
    + ReviewStore
    + ReportStore
    + InboxStore
    + KpiStore
    + Send
    + Sync
    + 'static
{
    /// Which backend this is (`sqlite` or `postgres`), for logs and health.
    fn backend(&self) -> &'static str;

    /// Whether the database answers now (within 2 s): `Err(unavailable)` when it cannot be
    /// reached. The readiness probe (`/readyz`) asks this.
    async fn ready(&self) -> Result<()>;

    // ---- shops and teams ----
    /// The shop created on first start (slug `default`), creating it (and its default team) if missing.
    async fn ensure_default_shop(&self) -> Result<Shop>;
    /// A new shop with a default team `售前`; `conflict` if the slug is taken.
    async fn create_shop(&self, slug: &str, name: &str) -> Result<Shop>;
    async fn shop_by_slug(&self, slug: &str) -> Result<Option<Shop>>;
    async fn shop_by_id(&self, id: Id) -> Result<Option<Shop>>;
    async fn update_shop_settings(&self, shop_id: Id, settings: &ShopSettings) -> Result<Shop>;
    async fn create_team(&self, shop_id: Id, name: &str, is_default: bool) -> Result<Team>;
    async fn list_teams(&self, shop_id: Id) -> Result<Vec<Team>>;

    // ---- accounts and sessions ----
    /// `conflict` if the e-mail is already used (e-mails are unique across shops: they log in).
    async fn create_user(&self, user: NewUser) -> Result<User>;
    /// The user and their password hash, for login.
    async fn user_by_email(&self, email: &str) -> Result<Option<(User, String)>>;
    async fn user_by_id(&self, shop_id: Id, id: Id) -> Result<Option<User>>;
    async fn list_agents(&self, shop_id: Id) -> Result<Vec<AgentSummary>>;
    async fn set_agent_status(&self, shop_id: Id, user_id: Id, status: AgentStatus)
    -> Result<User>;
    /// Sets an agent's own concurrency cap (`None`: the shop's default applies); `not_found` for
    /// another shop's user.
    async fn set_agent_max_concurrent(
        &self,
        shop_id: Id,
        user_id: Id,
        max_concurrent: Option<i64>,
    ) -> Result<User>;
    /// Whether any agent of the shop is online.
    async fn any_agent_online(&self, shop_id: Id) -> Result<bool>;
    async fn create_session(&self, token_hash: &str, user_id: Id, expires_at: Millis)
    -> Result<()>;
    /// The user owning an unexpired session; with `seen_since`, only if the session was last
    /// seen (or created) at or after it (the optional idle timeout).
    async fn session_user(
        &self,
        token_hash: &str,
        now: Millis,
        seen_since: Option<Millis>,
    ) -> Result<Option<User>>;
    /// Notes that a session was used at `now` (for the idle timeout).
    async fn touch_session(&self, token_hash: &str, now: Millis) -> Result<()>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;

    // ---- shoppers ----
    async fn create_customer(&self, shop_id: Id, customer: &NewCustomer) -> Result<CustomerRef>;
    /// Fills contact fields the shopper gave later (only where given).
    async fn update_customer(
        &self,
        shop_id: Id,
        customer_id: Id,
        customer: &NewCustomer,
    ) -> Result<()>;
    async fn create_visitor_token(
        &self,
        token_hash: &str,
        shop_id: Id,
        customer_id: Id,
    ) -> Result<()>;
    /// The shopper owning a visitor token that has not expired at `now` and was last used (or
    /// created) at or after `used_since`.
    async fn visitor(
        &self,
        token_hash: &str,
        now: Millis,
        used_since: Millis,
    ) -> Result<Option<Visitor>>;
    /// When a visitor token was created and last used (`None`: unknown token).
    async fn visitor_token_times(&self, token_hash: &str) -> Result<Option<(Millis, Millis)>>;
    /// Notes a visitor token's use at `now` (a returning shopper's page view).
    async fn touch_visitor_token(&self, token_hash: &str, now: Millis) -> Result<()>;
    /// Replaces a visitor token: the new one for the same shopper, the old one expiring at
    /// `old_expires_at` (a short overlap for the shopper's other open tabs). `false` when the old
    /// token is unknown.
    async fn rotate_visitor_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        now: Millis,
        old_expires_at: Millis,
    ) -> Result<bool>;
    /// Ends a visitor token at once (the shopper signed out of the shop).
    async fn delete_visitor_token(&self, token_hash: &str) -> Result<()>;

    // ---- conversations and messages ----
    /// Stores a shopper's message in their conversation, creating (or reopening) it as needed,
    /// with a gap-free `seq`. A retry (same sender and `client_msg_id`) stores nothing and returns
    /// the original with `duplicate = true`.
    async fn append_customer_message(&self, msg: CustomerMessage<'_>) -> Result<Appended>;
    /// Stores an agent's message or internal note; `not_found` for another shop's conversation.
    async fn append_agent_message(&self, msg: AgentMessage<'_>) -> Result<Appended>;
    /// Stores a `system` message (e.g. a transfer note); private ones are for agents only.
    async fn append_system_message(
        &self,
        shop_id: Id,
        conversation_id: Id,
        body: &str,
        private: bool,
    ) -> Result<Appended>;
    async fn conversation(&self, shop_id: Id, id: Id) -> Result<Option<Conversation>>;
    /// The shopper's current (latest) conversation, if any.
    async fn customer_conversation(
        &self,
        shop_id: Id,
        customer_id: Id,
    ) -> Result<Option<Conversation>>;
    async fn list_conversations(
        &self,
        shop_id: Id,
        query: ConversationQuery,
    ) -> Result<Vec<Conversation>>;
    async fn messages(
        &self,
        shop_id: Id,
        conversation_id: Id,
        after_seq: i64,
        limit: i64,
        include_private: bool,
    ) -> Result<Vec<Message>>;
    /// Assigns to an agent of the shop (and their team) or hands to a team's queue (`agent = None`).
    async fn assign(
        &self,
        shop_id: Id,
        conversation_id: Id,
        agent_id: Option<Id>,
        team_id: Option<Id>,
    ) -> Result<Conversation> {
        self.assign_as(shop_id, conversation_id, agent_id, team_id, None)
            .await
    }
    /// [`Store::assign`] made by a person (`actor`), whom the desk event it records names
    /// ([`crate::kpi::DeskEvent`], written in the same transaction).
    async fn assign_as(
        &self,
        shop_id: Id,
        conversation_id: Id,
        agent_id: Option<Id>,
        team_id: Option<Id>,
        actor: Option<Id>,
    ) -> Result<Conversation>;
    async fn set_status(
        &self,
        shop_id: Id,
        conversation_id: Id,
        status: ConversationStatus,
    ) -> Result<Conversation> {
        self.set_status_as(shop_id, conversation_id, status, None)
            .await
    }
    /// [`Store::set_status`] made by a person (`actor`); a change of status records a desk event
    /// in the same transaction.
    async fn set_status_as(
        &self,
        shop_id: Id,
        conversation_id: Id,
        status: ConversationStatus,
        actor: Option<Id>,
    ) -> Result<Conversation>;
    /// Agents read up to `seq`: clears the unread count.
    async fn mark_read_by_agent(
        &self,
        shop_id: Id,
        conversation_id: Id,
        seq: i64,
    ) -> Result<Conversation>;
    async fn mark_read_by_customer(
        &self,
        shop_id: Id,
        conversation_id: Id,
        seq: i64,
    ) -> Result<Conversation>;

    // ---- routing ----
    /// Assigns the shop's waiting conversations to free online agents ([`crate::routing`]) in one
    /// atomic step and returns those it assigned.
    async fn route_waiting(&self, shop_id: Id) -> Result<Vec<Conversation>>;
    /// The waiting conversations of the shop, oldest first: `(conversation_id, customer_id)`.
    async fn waiting_queue(&self, shop_id: Id) -> Result<Vec<(Id, Id)>>;

    // ---- catalogue (demo shop page; grows with the commerce issue) ----
    async fn upsert_product(&self, shop_id: Id, product: &NewProduct) -> Result<Product>;
    async fn list_products(&self, shop_id: Id) -> Result<Vec<Product>>;
}

//! Chat flows: the steps that follow a change — store it (durably), then publish the event, then
//! let routing react. The HTTP handlers and the WebSocket readers call these, so the two paths
//! behave the same.
//!
//! A shopper's message is answered as soon as it is stored: what follows the commit (events,
//! routing at a conversation's start, the daily tools, suggestions) never turns it into an error.

use crate::access::visible_conversation;
use crate::routing::RoutingService;
use crate::sent::Sent;
use crate::suggest::Suggester;
use crate::tools::ToolsService;
use kefu_core::attachments::{Attachment, NewAttachment};
use kefu_core::customers::CustomerEvent;
use kefu_core::events::{Event, EventSink};
use kefu_core::model::*;
use kefu_core::store::Store;
use kefu_core::{Error, Result};
use std::sync::Arc;

/// Conversations and their messages: sends, reads, typing, assignment, status, agent status.
pub struct ChatService {
    store: Arc<dyn Store>,
    events: Arc<dyn EventSink>,
    routing: Arc<RoutingService>,
    tools: Arc<ToolsService>,
    /// Reply suggestions, when the server runs them.
    suggest: Option<Arc<Suggester>>,
}

impl ChatService {
    pub fn new(
        store: Arc<dyn Store>,
        events: Arc<dyn EventSink>,
        routing: Arc<RoutingService>,
        tools: Arc<ToolsService>,
        suggest: Option<Arc<Suggester>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            events,
            routing,
            tools,
            suggest,
        })
    }

    fn publish(&self, event: Event) {
        self.events.publish(event);
    }

    /// A shopper's message: stored (creating or reopening the conversation), published, routed.
    pub async fn shopper_message(
        &self,
        visitor: &Visitor,
        body: &str,
        client_msg_id: &str,
    ) -> Result<Sent> {
        validate_body(body)?;
        validate_client_msg_id(client_msg_id)?;
        if visitor.blocked {
            return Err(Error::new(
                kefu_core::ErrorCode::Blocked,
                "this shopper may not start chats",
            ));
        }
        let appended = self
            .store
            .append_customer_message(CustomerMessage {
                shop_id: visitor.shop_id,
                customer_id: visitor.customer_id,
                body,
                client_msg_id,
                announce: true,
            })
            .await?;
        self.shopper_appended(visitor, appended).await
    }

    /// What follows a stored shopper message (text or attachment): events, the last-contact
    /// update and routing at a conversation's start.
    pub async fn shopper_appended(&self, visitor: &Visitor, appended: Appended) -> Result<Sent> {
        if appended.duplicate {
            return Ok(Sent {
                message: appended.message,
                duplicate: true,
            });
        }
        metrics::counter!("kefu_messages_persisted_total", "sender" => "customer").increment(1);
        let conversation = Arc::new(appended.conversation);
        if appended.conversation_started {
            self.publish(Event::ConversationCreated {
                conversation: conversation.clone(),
            });
        }
        let mut stored: Vec<Message> = appended.companions;
        stored.push(appended.message.clone());
        stored.sort_by_key(|m| m.seq);
        for message in stored {
            self.publish(Event::MessageCreated {
                conversation: conversation.clone(),
                message: Arc::new(message),
            });
        }
        // Snooze wake-up and auto-replies, off this request's path (tools.rs).
        self.tools
            .after_shopper_message(&conversation, &appended.message);
        if let Some(suggest) = &self.suggest {
            // A try_send to the suggestion worker: ranking happens off this path.
            suggest.on_shopper_message(
                conversation.clone(),
                appended.message.id,
                appended.message.seq,
            );
        }
        if appended.conversation_started {
            // Last contact moves at a conversation's start or reopen only, never per message (the
            // hot path stays one write); off the shopper's response path.
            let store = self.store.clone();
            let (shop_id, customer_id) = (visitor.shop_id, visitor.customer_id);
            let at = appended.message.created_at;
            // A reopen (the conversation is older than this message) goes on the timeline; a new
            // conversation is on it already (read from the conversations table).
            let reopened = (conversation.created_at < at).then(|| CustomerEvent {
                kind: "conversation.reopened",
                title: String::new(),
                summary: conversation.last_message_preview.clone(),
                ref_type: Some("conversation"),
                ref_id: Some(conversation.id),
            });
            tokio::spawn(async move {
                if let Err(e) = store.touch_customer(shop_id, customer_id, at).await {
                    tracing::warn!(%e, customer_id, "could not record the last contact");
                }
                if let Some(event) = reopened
                    && let Err(e) = store
                        .record_customer_event(shop_id, customer_id, &event)
                        .await
                {
                    tracing::warn!(%e, customer_id, "could not record the reopening");
                }
            });
            // The message is stored: from here on nothing may turn the answer into an error.
            self.routing
                .route_after_commit(visitor.shop_id, &conversation)
                .await;
        }
        Ok(Sent {
            message: appended.message,
            duplicate: false,
        })
    }

    /// Puts a resolution on the customer's timeline. The status change is already committed, so
    /// a failure here is logged rather than failing the request.
    async fn record_resolved(&self, by: &User, conversation: &Conversation) {
        let event = CustomerEvent {
            kind: "conversation.resolved",
            title: by.name.clone(),
            summary: conversation.last_message_preview.clone(),
            ref_type: Some("conversation"),
            ref_id: Some(conversation.id),
        };
        if let Err(e) = self
            .store
            .record_customer_event(by.shop_id, conversation.customer.id, &event)
            .await
        {
            tracing::warn!(%e, conversation_id = conversation.id, "could not record the resolution");
        }
    }

    /// An agent's reply or internal note.
    pub async fn agent_message(
        &self,
        agent: &User,
        conversation_id: Id,
        body: &str,
        client_msg_id: &str,
        private: bool,
    ) -> Result<Sent> {
        validate_body(body)?;
        validate_client_msg_id(client_msg_id)?;
        self.visible_conversation(agent, conversation_id).await?;
        let appended = self
            .store
            .append_agent_message(AgentMessage {
                shop_id: agent.shop_id,
                conversation_id,
                agent,
                body,
                client_msg_id,
                private,
                kind: MessageKind::Text,
                payload: None,
            })
            .await?;
        if !appended.duplicate {
            metrics::counter!("kefu_messages_persisted_total", "sender" => "agent").increment(1);
            let conversation = Arc::new(appended.conversation);
            self.publish(Event::MessageCreated {
                conversation: conversation.clone(),
                message: Arc::new(appended.message.clone()),
            });
        }
        Ok(Sent {
            message: appended.message,
            duplicate: appended.duplicate,
        })
    }

    /// The conversation if this agent may see it; otherwise `not_found` (never a hint it exists).
    pub async fn visible_conversation(
        &self,
        agent: &User,
        conversation_id: Id,
    ) -> Result<Conversation> {
        visible_conversation(&*self.store, agent, conversation_id).await
    }

    /// Assigns to an agent or hands to a team, with an optional private transfer note.
    pub async fn assign(
        &self,
        by: &User,
        conversation_id: Id,
        agent_id: Option<Id>,
        team_id: Option<Id>,
        note: Option<&str>,
    ) -> Result<Conversation> {
        let before = self.visible_conversation(by, conversation_id).await?;
        if let Some(agent_id) = agent_id {
            self.store
                .user_by_id(by.shop_id, agent_id)
                .await?
                .ok_or_else(|| Error::not_found("agent"))?;
        }
        let after = self
            .store
            .assign_as(by.shop_id, conversation_id, agent_id, team_id, Some(by.id))
            .await?;
        let target = match (&after.assignee_name, &after.team) {
            (Some(agent), _) => agent.clone(),
            (None, Some(team)) => format!("{} 组", team.name),
            (None, None) => "队列".to_owned(),
        };
        let mut text = format!("{} 将会话转给了 {}", by.name, target);
        if let Some(note) = note.map(str::trim).filter(|n| !n.is_empty()) {
            text.push_str(&format!("：{note}"));
        }
        let noted = self
            .store
            .append_system_message(by.shop_id, conversation_id, &text, true)
            .await?;
        let mut conversation = Arc::new(noted.conversation);
        self.publish(Event::MessageCreated {
            conversation: conversation.clone(),
            message: Arc::new(noted.message),
        });
        // The shopper hears who serves them now (a public notice, in Chinese like the shop's).
        if let Some(notice) = kefu_core::inbox::transfer_notice(&before, &after) {
            let told = self
                .store
                .append_system_message(by.shop_id, conversation_id, &notice, false)
                .await?;
            conversation = Arc::new(told.conversation);
            self.publish(Event::MessageCreated {
                conversation: conversation.clone(),
                message: Arc::new(told.message),
            });
        }
        self.publish(Event::ConversationUpdated {
            conversation: conversation.clone(),
            previous_assignee: before.assignee_id,
        });
        if conversation.assignee_id.is_none() {
            self.routing.route(by.shop_id, Some(&conversation)).await?;
        } else {
            self.routing.publish_queue(by.shop_id).await?;
        }
        Ok(self
            .store
            .conversation(by.shop_id, conversation_id)
            .await?
            .unwrap_or((*conversation).clone()))
    }

    /// Marks a conversation open / pending / resolved. Closing frees the agent's slot.
    pub async fn set_status(
        &self,
        by: &User,
        conversation_id: Id,
        status: ConversationStatus,
    ) -> Result<Conversation> {
        let before = self.visible_conversation(by, conversation_id).await?;
        let after = Arc::new(
            self.store
                .set_status_as(by.shop_id, conversation_id, status, Some(by.id))
                .await?,
        );
        self.publish(Event::ConversationUpdated {
            conversation: after.clone(),
            previous_assignee: before.assignee_id,
        });
        if before.status != status {
            if status == ConversationStatus::Resolved {
                self.record_resolved(by, &after).await;
            }
            self.routing.route(by.shop_id, Some(&after)).await?;
        }
        Ok(self
            .store
            .conversation(by.shop_id, conversation_id)
            .await?
            .unwrap_or((*after).clone()))
    }

    pub async fn agent_read(
        &self,
        agent: &User,
        conversation_id: Id,
        seq: i64,
    ) -> Result<Conversation> {
        self.visible_conversation(agent, conversation_id).await?;
        let c = Arc::new(
            self.store
                .mark_read_by_agent(agent.shop_id, conversation_id, seq)
                .await?,
        );
        self.publish(Event::Read {
            conversation: c.clone(),
            reader_type: SenderType::Agent,
            seq: c.agent_read_seq,
        });
        self.publish(Event::ConversationUpdated {
            conversation: c.clone(),
            previous_assignee: None,
        });
        Ok((*c).clone())
    }

    pub async fn shopper_read(&self, visitor: &Visitor, seq: i64) -> Result<()> {
        let Some(c) = self
            .store
            .customer_conversation(visitor.shop_id, visitor.customer_id)
            .await?
        else {
            return Ok(());
        };
        let c = Arc::new(
            self.store
                .mark_read_by_customer(visitor.shop_id, c.id, seq)
                .await?,
        );
        self.publish(Event::Read {
            conversation: c.clone(),
            reader_type: SenderType::Customer,
            seq: c.customer_read_seq,
        });
        Ok(())
    }

    pub async fn agent_typing(&self, agent: &User, conversation_id: Id) -> Result<()> {
        let c = self.visible_conversation(agent, conversation_id).await?;
        self.publish(Event::Typing {
            conversation: Arc::new(c),
            sender_type: SenderType::Agent,
            sender_name: agent.name.clone(),
        });
        Ok(())
    }

    pub async fn shopper_typing(&self, visitor: &Visitor) -> Result<()> {
        if let Some(c) = self
            .store
            .customer_conversation(visitor.shop_id, visitor.customer_id)
            .await?
        {
            self.publish(Event::Typing {
                conversation: Arc::new(c),
                sender_type: SenderType::Customer,
                sender_name: visitor.customer_name.clone(),
            });
        }
        Ok(())
    }

    /// Sets an agent's own concurrency cap (admins and supervisors); a raised cap takes waiting
    /// shoppers at once.
    pub async fn set_agent_cap(
        &self,
        by: &User,
        agent_id: Id,
        max_concurrent: Option<i64>,
    ) -> Result<User> {
        if !by.role.sees_whole_shop() {
            return Err(Error::forbidden(
                "only admins and supervisors set concurrency caps",
            ));
        }
        if max_concurrent.is_some_and(|n| !(1..=100).contains(&n)) {
            return Err(Error::validation(
                "max_concurrent: must be between 1 and 100, or null for the shop's default",
            ));
        }
        let user = self
            .store
            .set_agent_max_concurrent(by.shop_id, agent_id, max_concurrent)
            .await?;
        self.routing.route(by.shop_id, None).await?;
        Ok(user)
    }

    /// An agent's file, received and placed by the caller (after [`Self::visible_conversation`]),
    /// sent into a conversation they may see as a message.
    pub async fn agent_attachment(
        &self,
        agent: &User,
        conversation_id: Id,
        attachment: NewAttachment,
        client_msg_id: &str,
    ) -> Result<Sent> {
        self.visible_conversation(agent, conversation_id).await?;
        let appended = self
            .store
            .append_agent_attachment(agent, conversation_id, attachment, client_msg_id)
            .await?;
        if !appended.duplicate {
            self.publish(Event::MessageCreated {
                conversation: Arc::new(appended.conversation),
                message: Arc::new(appended.message.clone()),
            });
        }
        Ok(Sent {
            message: appended.message,
            duplicate: appended.duplicate,
        })
    }

    /// A shopper's file, received and placed by the caller, sent into their conversation
    /// (starting or reopening it, like a text).
    pub async fn shopper_attachment(
        &self,
        visitor: &Visitor,
        attachment: NewAttachment,
        client_msg_id: &str,
    ) -> Result<Sent> {
        if visitor.blocked {
            return Err(Error::new(
                kefu_core::ErrorCode::Blocked,
                "this shopper may not start chats",
            ));
        }
        let appended = self
            .store
            .append_customer_attachment(
                visitor.shop_id,
                visitor.customer_id,
                attachment,
                client_msg_id,
            )
            .await?;
        self.shopper_appended(visitor, appended).await
    }

    /// The attachment if `viewer` is entitled to its conversation; `not_found` otherwise (another
    /// shop's, another shopper's, or a conversation this agent may not see).
    pub async fn entitled_attachment(&self, viewer: &Viewer, id: Id) -> Result<Attachment> {
        let shop_id = match viewer {
            Viewer::Agent(u) => u.shop_id,
            Viewer::Shopper(v) => v.shop_id,
        };
        let attachment = self
            .store
            .attachment(shop_id, id)
            .await?
            .ok_or_else(|| Error::not_found("attachment"))?;
        match viewer {
            Viewer::Agent(u) => {
                self.visible_conversation(u, attachment.conversation_id)
                    .await
                    .map_err(|_| Error::not_found("attachment"))?;
            }
            Viewer::Shopper(v) => {
                let conversation = self
                    .store
                    .conversation(shop_id, attachment.conversation_id)
                    .await?;
                if conversation.is_none_or(|c| c.customer.id != v.customer_id) {
                    return Err(Error::not_found("attachment"));
                }
            }
        }
        Ok(attachment)
    }
}

/// Who asks for an attachment: an agent (session token or console cookie) or a shopper (visitor
/// token).
pub enum Viewer {
    Agent(User),
    Shopper(Visitor),
}

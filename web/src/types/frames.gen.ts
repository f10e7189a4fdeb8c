// Generated from kefu_core::frames::ServerFrame by `KEFU_WRITE_FRAMES_TS=1 cargo test -p kefu-http frames_typescript`.
// Do not edit: change the Rust definition and regenerate.

/** A message was stored (agents who see the conversation; its shopper unless private). */
export interface MessageCreatedFrame {
  conversation_id: number
  message: Message
  type: 'message.created'
}

/** A shopper started a conversation (agents who see it). */
export interface ConversationCreatedFrame {
  conversation: Conversation
  type: 'conversation.created'
}

/** A conversation changed (agents who see it, and its previous assignee). */
export interface ConversationUpdatedFrame {
  conversation: Conversation
  type: 'conversation.updated'
}

/** A conversation changed, as its shopper sees it (no internal fields). */
export interface ShopperConversationUpdatedFrame {
  conversation: ShopperConversation
  type: 'conversation.updated'
}

/** Someone is typing: a shopper (to agents) or an agent (to the shopper). */
export interface TypingFrame {
  conversation_id: number
  sender_name: string
  sender_type: SenderType
  type: 'typing'
}

/** Someone read up to `seq`: a shopper (to agents) or an agent (to the shopper). */
export interface ReadFrame {
  conversation_id: number
  reader_type: SenderType
  seq: number
  type: 'read'
}

/** The shopper's place in the waiting queue (0 = assigned). */
export interface QueuePositionFrame {
  conversation_id: number
  position: number
  type: 'queue.position'
}

/**
 * An agent's availability changed (every agent of the shop): the status, what caused it
 * (`manual`, `login`, `activity`, `auto_idle`, `socket_gone`, `logout`, `deactivated`) and
 * the agent's note for `away` or `busy`.
 */
export interface AgentStatusFrame {
  agent_id: number
  cause: null | StatusCause
  note: string | null
  status: AgentStatus
  type: 'agent.status'
}

/**
 * Whether the shop has an agent taking new chats now, and whether it is within business
 * hours (every shopper's widget of the shop, when the first agent comes or the last goes).
 */
export interface ShopPresenceFrame {
  agents_online: boolean
  open_now: boolean
  type: 'shop.presence'
}

/** A customer's profile changed; `merged_into` when the record went away (every agent). */
export interface CustomerUpdatedFrame {
  customer_id: number
  merged_into: null | number
  type: 'customer.updated'
}

/** A customer's orders changed (every agent). */
export interface OrdersChangedFrame {
  customer_id: number
  type: 'orders.changed'
}

/** A stored notification for one user (SLA warning or breach, automation notice). */
export interface NotificationFrame {
  notification: Notification
  type: 'notification'
}

/** The receiving agent was @mentioned in an internal note. */
export interface MentionFrame {
  by: AgentRef
  conversation_id: number
  created_at: Millis
  customer: CustomerRef
  excerpt: string
  id: number
  message_id: number
  type: 'mention'
}

/**
 * An after-sales request was created or changed (agents who may see it, and its previous
 * assignee). `state` is the request's state.
 */
export interface AftersalesUpdatedFrame {
  assignee_id: null | number
  request_id: number
  state: string
  type: 'aftersales.updated'
}

/**
 * Scripts ranked for a shopper's message, best first: the top [`SUGGESTIONS_SHOWN`] meant
 * for the receiving agent (shop-wide scripts and their own personal ones).
 */
export interface SuggestionsFrame {
  conversation_id: number
  message_id: number
  suggestions: Suggestion[]
  type: 'suggestions'
}

/** A ticket was created (agents who may see it). */
export interface TicketCreatedFrame {
  ticket: Ticket
  type: 'ticket.created'
}

/** A ticket changed (agents who may see it, and its previous assignee). */
export interface TicketUpdatedFrame {
  ticket: Ticket
  type: 'ticket.updated'
}

/** The shopper's ticket has a new public reply; the widget reads it with its own token. */
export interface TicketReplyFrame {
  ticket_id: number
  type: 'ticket.reply'
}

/**
 * The shop's members or teams changed (every agent): lists of members reload; when
 * `member_id` is the receiver, their own account changed (role, name, teams).
 */
export interface MemberUpdatedFrame {
  member_id: null | number
  type: 'member.updated'
}

/**
 * The session this socket was opened with ended (logged out, password changed or reset,
 * account deactivated); the server closes the socket right after this frame.
 */
export interface SessionEndedFrame {
  reason: SessionEndReason
  type: 'session.ended'
}

/** What an agent console receives on `/api/v1/ws`. */
export type AgentFrame = MessageCreatedFrame | ConversationCreatedFrame | ConversationUpdatedFrame | TypingFrame | ReadFrame | AgentStatusFrame | CustomerUpdatedFrame | OrdersChangedFrame | NotificationFrame | MentionFrame | AftersalesUpdatedFrame | SuggestionsFrame | TicketCreatedFrame | TicketUpdatedFrame | MemberUpdatedFrame | SessionEndedFrame

/** What a shopper's widget receives on `/api/v1/widget/ws`. */
export type ShopperFrame = MessageCreatedFrame | ShopperConversationUpdatedFrame | TypingFrame | ReadFrame | QueuePositionFrame | ShopPresenceFrame | TicketReplyFrame

export type ServerFrame = AgentFrame | ShopperFrame

export interface AgentRef {
  id: number
  name: string
}

/**
 * An agent's availability; only `online` agents receive new conversations. `busy` keeps
 * the agent's conversations but takes no new ones; `away` and `offline` agents' waiting
 * conversations are handed on after the shop's grace period (`kefu_core::presence`).
 */
export type AgentStatus = 'online' | 'busy' | 'away' | 'offline'

export interface Conversation {
  /** The highest seq an agent has read. */
  agent_read_seq: number
  assignee_id: null | number
  assignee_name: string | null
  created_at: Millis
  current_order_id: null | number
  current_product_id: null | number
  customer: CustomerRef
  /** The highest seq the shopper has read. */
  customer_read_seq: number
  id: number
  /**
   * The shopper's last message (first line, 80 characters), never the bot's or a system
   * notice: what the inbox row shows.
   */
  last_customer_message_preview: string
  last_message_at: Millis
  last_message_preview: string
  last_seq: number
  /** 1-based place in the shop's waiting queue; `None` when assigned or not open. */
  queue_position: number | null
  snoozed_until: null | Millis
  status: ConversationStatus
  /** The conversation's tags (the shop's vocabulary), sorted. */
  tags: string[]
  team: null | TeamRef
  /** Shopper messages the agents have not read yet. */
  unread_count: number
  waiting_since: null | Millis
}

/** Where a conversation stands. `open` conversations count toward an agent's cap. */
export type ConversationStatus = 'open' | 'pending' | 'resolved'

/** A customer as other records show them. */
export interface CustomerRef {
  id: number
  name: string
}

export interface Message {
  /**
   * The text; for a card, a plain-text fallback (e.g. `[商品] AirBuds Pro 199.00元`) that old
   * clients, previews and notifications show.
   */
  body: string
  client_msg_id: string | null
  conversation_id: number
  created_at: Millis
  id: number
  kind: MessageKind
  /**
   * A card's snapshot taken at send time ([`crate::cards::ProductCard`],
   * [`crate::cards::OrderCard`]); `null` for text.
   */
  payload: Record<string, unknown> | null
  private: boolean
  sender_id: null | number
  sender_name: string
  sender_type: SenderType
  seq: number
}

/**
 * What a message shows: plain text, or a card whose snapshot is in [`Message::payload`]
 * (see [`crate::cards`]). Shopper messages are always `text`. New kinds may be added.
 */
export type MessageKind = 'text' | 'product_card' | 'order_card' | 'attachment'

export type Millis = string

export interface Notification {
  created_at: Millis
  id: number
  kind: NotificationKind
  read_at: null | Millis
  text: string
  ticket_id: null | number
  user_id: number
}

/** Why someone was notified. */
export type NotificationKind = 'sla_warning' | 'sla_breach' | 'automation'

/** Who wrote a message. */
export type SenderType = 'customer' | 'agent' | 'bot' | 'system'

/** Why a member's sessions ended (the `session.ended` frame's `reason`). */
export type SessionEndReason = 'logged_out' | 'password_changed' | 'password_reset' | 'deactivated'

/** What a shopper may know of their conversation (no internal fields). */
export interface ShopperConversation {
  assignee_name: string | null
  id: number
  queue_position: number | null
  status: ConversationStatus
}

/**
 * What caused an agent's current status; stored with it and as the `detail` of its KPI
 * event (`manual:<note>` when the agent gave a note).
 */
export type StatusCause = 'manual' | 'login' | 'activity' | 'auto_idle' | 'socket_gone' | 'logout' | 'deactivated'

/** A script suggested for a shopper's message. */
export interface Suggestion {
  /** The script's text with its `{variables}` unfilled (the console renders them on insert). */
  body: string
  /** The script's category name (empty when it has none). */
  category: string
  /** The engine's score: only the order means something. */
  score: number
  script_id: number
  title: string
}

export interface TeamRef {
  id: number
  name: string
}

/** A ticket. */
export interface Ticket {
  assignee_id: null | number
  assignee_name: string | null
  category: null | CategoryRef
  channel: TicketChannel
  closed_at: string | null
  created_at: string
  created_by: null | number
  custom_fields: Record<string, string>
  customer: null | CustomerRef
  description: string
  /** `T-000123`. */
  display_number: string
  first_public_reply_at: string | null
  handling_result: string | null
  id: number
  merged_into_id: null | number
  /** The per-shop sequence number; [`display_number`] shows it as `T-000123`. */
  number: number
  priority: Priority
  resolved_at: string | null
  root_causes: string[]
  /**
   * Whether the shopper sees this ticket in the widget: tickets they opened there always,
   * tickets an agent wrote only once shared (an agent's ticket may say "suspected fraud").
   */
  shared_with_customer: boolean
  shop_id: number
  sla: null | TicketSla
  status: TicketStatus
  subject: string
  tags: string[]
  team: null | TeamRef
  updated_at: string
}

/** A category as a ticket carries it. */
export interface CategoryRef {
  id: number
  is_complaint: boolean
  key: string
  name: string
  parent_id: null | number
  /** The parent's key (a sub-category matches its parent's SLA policies and reports). */
  parent_key: string | null
}

export type Priority = 'low' | 'normal' | 'high' | 'urgent'

/** Where a ticket came from. */
export type TicketChannel = 'console' | 'conversation' | 'api' | 'widget'

/** A ticket's SLA: its worst clock's state and every clock. */
export interface TicketSla {
  clocks: SlaClockView[]
  next_due_at: null | Millis
  policy_id: number
  state: SlaState
}

/** One clock as the API shows it. */
export interface SlaClockView {
  breached_at: null | Millis
  due_at: null | Millis
  /** Met after the target. */
  late: boolean
  met_at: null | Millis
  metric: SlaMetric
  state: SlaState
  target_ms: number
  /** Working time used so far, and the target, in milliseconds. */
  used_ms: number
  warn_at: null | Millis
}

/** The three targets an SLA policy can set. */
export type SlaMetric = 'first_response' | 'next_response' | 'resolution'

/**
 * Where a clock (or a ticket, by its worst clock) stands: `ok` running in time, `warning`
 * within the policy's warning lead, `breached` past due, `paused`, `met`.
 */
export type SlaState = 'ok' | 'warning' | 'breached' | 'paused' | 'met'

export type TicketStatus = 'new' | 'open' | 'pending_customer' | 'pending_third_party' | 'resolved' | 'closed'

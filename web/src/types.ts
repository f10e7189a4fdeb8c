export type AgentStatus = 'online' | 'busy' | 'away' | 'offline'
/** What set an agent's status (kefu_core::presence::StatusCause). */
export type StatusCause = 'manual' | 'login' | 'activity' | 'auto_idle' | 'socket_gone' | 'logout' | 'deactivated'
export type Role = 'admin' | 'supervisor' | 'agent'
export type ConvStatus = 'open' | 'pending' | 'resolved'
export type SenderType = 'customer' | 'agent' | 'bot' | 'system'

export interface TeamRef {
  id: number
  name: string
}
export interface User {
  id: number
  name: string
  email: string
  role: Role
  status: AgentStatus
  status_cause?: StatusCause | null
  /** The agent's note for away or busy (午休 …). */
  status_note?: string | null
  status_since?: string | null
  team: TeamRef | null
  max_concurrent: number | null
  /** false once an admin deactivated the account. */
  active: boolean
  /** Signed in with a temporary password: the console asks for a new one before anything else. */
  must_change_password: boolean
}
export interface Shop {
  id: number
  slug: string
  name: string
  /** The shop's time zone (e.g. Asia/Shanghai): days and times are shown in it. */
  time_zone: string
}
/** A member of the shop as listed (GET /api/v1/agents); deactivated ones only for managers. */
export interface Agent {
  id: number
  name: string
  email: string
  role: Role
  /** The main team (a chat assigned to the member moves to it). */
  team: TeamRef | null
  /** Every team whose queue the member serves, the main one first. */
  teams: TeamRef[]
  status: AgentStatus
  status_cause?: StatusCause | null
  status_note?: string | null
  open_count: number
  max_concurrent: number | null
  active: boolean
  must_change_password: boolean
  created_at: string
  deactivated_at: string | null
}
export interface Team {
  id: number
  name: string
  is_default: boolean
  /** Active members serving the team's queue. */
  member_count: number
}
export interface Conversation {
  id: number
  status: ConvStatus
  assignee_id: number | null
  assignee_name: string | null
  team: TeamRef | null
  customer: { id: number; name: string }
  last_message_at: string | null
  last_message_preview: string | null
  unread_count: number
  queue_position: number | null
  created_at: string
  customer_read_seq: number
  last_seq: number
  /** Tags of the shop's vocabulary (tools area). */
  tags?: string[]
  /** When a snoozed (pending) conversation reopens by itself. */
  snoozed_until?: string | null
  /** The shopper's own last message (never a bot's reply or a system notice). */
  last_customer_message_preview?: string
  /** Since when the shopper waits for an agent's answer; null when nothing waits. */
  waiting_since?: string | null
  /** The order / product the conversation is about (inbox area). */
  current_order_id?: number | null
  current_product_id?: number | null
}
export interface Message {
  id: number
  conversation_id: number
  seq: number
  sender_type: SenderType
  sender_id: number | null
  sender_name: string | null
  body: string
  private: boolean
  client_msg_id: string | null
  created_at: string
  /** `text`, or a card whose snapshot is in `payload` (see types/cards.ts); absent on old servers. */
  kind?: 'text' | 'product_card' | 'order_card' | 'attachment'
  payload?: Record<string, any> | null
}
export interface ShopSettings {
  greeting: string
  offline_message: string
  default_max_concurrent: number
  /** The widget's pre-chat form. */
  prechat?: PrechatForm
  /** The shop's time zone (zones without daylight saving). */
  time_zone?: string
  /** Origins whose pages may embed the widget; empty = any. */
  widget_origins?: string[]
  /** The widget's look: colour, corner, the invitation beside its button. */
  widget?: WidgetStyle
}

export interface WidgetStyle {
  /** `#rrggbb` */
  color: string
  position: 'right' | 'left'
  /** Shown beside the closed widget's button; '' = none. */
  greeting: string
}

export type PrechatField = 'off' | 'optional' | 'required'
export interface PrechatForm {
  enabled: boolean
  name: PrechatField
  phone: PrechatField
  email: PrechatField
}

/** A message as shown in the console: server messages plus local pending/failed ones. */
export interface UiMessage extends Message {
  state: 'pending' | 'sent' | 'failed'
  /** The script the message was written from (sent along so its use is counted). */
  script_id?: number | null
  /** Agents @mentioned in a note being sent (kept for a retry). */
  mentions?: number[]
}

/** The shop's presence rules (GET/PUT /api/v1/settings/presence). */
export interface PresenceSettings {
  /** 0 = never */
  away_after_seconds: number
  offline_after_seconds: number
  requeue_grace_seconds: number
  requeue_target: 'teammate' | 'queue'
}

// Types of the cards and reminders area (product/order cards in conversations, payment reminders).
// They mirror kefu-core's cards.rs and reminders.rs.

export type MessageKind = 'text' | 'product_card' | 'order_card'

export interface ProductCard {
  product_id: number
  sku: string
  name: string
  image_url: string
  price_cents: number
  currency: string
  url: string
}

export interface OrderCardItem {
  name: string
  sku: string
  quantity: number
  total_cents: number
}

export interface OrderCard {
  order_id: number
  order_no: string
  status: string
  payment_status: string
  currency: string
  total_cents: number
  items: OrderCardItem[]
  items_summary: string
  item_count: number
  image_url: string
  logistics: { carrier: string; tracking_no: string; status: string } | null
  placed_at: number
  url: string
}

export interface Product {
  id: number
  sku: string
  name: string
  price_cents: number
  currency: string
  image_url: string
  description: string
}

export interface ReminderCandidate {
  order_id: number
  order_no: string
  status: string
  total_cents: number
  currency: string
  placed_at: string
  customer: { id: number; name: string }
  conversation_id: number
  conversation_assignee_id: number | null
  last_consulted_at: string
  reminder_count: number
  last_reminded_at: string | null
}

export type ReminderOutcome = 'paid' | 'pending' | 'not_paid'

export interface Reminder {
  id: number
  order_id: number
  order_no: string
  total_cents: number
  currency: string
  customer: { id: number; name: string }
  conversation_id: number
  message_id: number
  agent_id: number | null
  agent_name: string
  template_id: number | null
  body: string
  forced: boolean
  sent_at: string
  paid_at: string | null
  outcome: ReminderOutcome
}

export interface OutcomeStats {
  sent: number
  paid: number
  pending: number
  not_paid: number
  rate: number | null
}

export interface AgentOutcomeStats extends OutcomeStats {
  agent_id: number | null
  agent_name: string
}

export interface ReminderSettings {
  consult_window_hours: number
  outcome_hours: number
  product_url_template: string
  order_url_template: string
}

export interface ReminderTemplate {
  id: number
  name: string
  body: string
  is_default: boolean
  updated_at: string
}

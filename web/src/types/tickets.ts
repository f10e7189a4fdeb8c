import type { TicketSla } from '../sla'
// Types of the ticket system (工单), as the API serialises them (crates/kefu-core/src/tickets.rs).
export type TicketStatus = 'new' | 'open' | 'pending_customer' | 'pending_third_party' | 'resolved' | 'closed'
export type Priority = 'low' | 'normal' | 'high' | 'urgent'
export type CompensationKind = 'refund' | 'coupon' | 'gift' | 'reshipment' | 'apology_call'
export const STATUSES: TicketStatus[] = ['new', 'open', 'pending_customer', 'pending_third_party', 'resolved', 'closed']
export const PRIORITIES: Priority[] = ['low', 'normal', 'high', 'urgent']
export const COMPENSATION_KINDS: CompensationKind[] = ['refund', 'coupon', 'gift', 'reshipment', 'apology_call']

/** The moves TicketStatus::can_move_to allows (the server checks again). */
export function canMove(from: TicketStatus, to: TicketStatus): boolean {
  if (from === 'closed' || to === 'new' || from === to) return false
  if (from === 'resolved') return to === 'open' || to === 'closed'
  return to !== 'closed'
}

export interface CategoryRef {
  id: number
  key: string
  name: string
  parent_id: number | null
  parent_key: string | null
  is_complaint: boolean
}

export interface Ticket {
  id: number
  number: number
  display_number: string
  subject: string
  description: string
  customer: { id: number; name: string } | null
  category: CategoryRef | null
  priority: Priority
  status: TicketStatus
  assignee_id: number | null
  assignee_name: string | null
  team: { id: number; name: string } | null
  channel: 'console' | 'conversation' | 'api' | 'widget'
  custom_fields: Record<string, string>
  tags: string[]
  root_causes: string[]
  handling_result: string | null
  /** Shown to its customer in the widget (tickets they opened always are). */
  shared_with_customer: boolean
  merged_into_id: number | null
  created_by: number | null
  created_at: string
  updated_at: string
  first_public_reply_at: string | null
  resolved_at: string | null
  closed_at: string | null
  /** SLA clocks (null when no policy applies). */
  sla: TicketSla | null
}

export interface TicketCategory {
  id: number
  parent_id: number | null
  key: string
  name: string
  position: number
  is_complaint: boolean
  archived: boolean
}

export interface TicketFieldDef {
  id: number
  key: string
  label: string
  kind: 'text' | 'number' | 'date' | 'select'
  options: string[]
  position: number
  required: boolean
  archived: boolean
}

export interface TicketAttachment {
  id: number
  ticket_id: number | null
  entry_id: number | null
  name: string
  mime: string
  size: number
  thumb: boolean
  created_at: string
}

export interface TicketEntry {
  id: number
  ticket_id: number
  kind: 'public' | 'note' | 'customer' | 'system'
  author_type: 'agent' | 'customer' | 'system'
  author_id: number | null
  author_name: string | null
  body: string
  attachments: TicketAttachment[]
  created_at: string
}

export interface TicketLink {
  id: number
  ticket_id: number
  kind: 'conversation' | 'order' | 'call'
  ref_id: number
  label: string
  created_at: string
}

export interface AuditEntry {
  id: number
  actor_type: string
  actor_id: number | null
  actor_name: string | null
  field: string
  old_value: string | null
  new_value: string | null
  at: string
}

export interface CompensationRecord {
  id: number
  ticket_id: number
  kind: CompensationKind
  amount_cents: number
  currency: string
  cost_cents: number
  note: string
  created_by: number | null
  created_at: string
}

export interface TicketView {
  id: number
  name: string
  filters: Record<string, string>
  position: number
}

export interface TicketDetail {
  ticket: Ticket
  links: TicketLink[]
  attachments: TicketAttachment[]
  compensations: CompensationRecord[]
  merged: Ticket[]
}

export interface BulkResult {
  id: number
  ok: boolean
  ticket: Ticket | null
  error: { code: string; message: string } | null
}

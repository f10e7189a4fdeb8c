// SLA calendars, policies, automation rules and notifications: the API calls and their types.
import { request } from './api'

export type Pair = [string, string]
export interface CalendarSpec {
  time_zone: string
  weekly: Record<string, Pair[]>
  holidays: string[]
  workdays: Record<string, Pair[]>
}
export interface BusinessCalendar {
  id: number
  name: string
  spec: CalendarSpec
  is_default: boolean
}
export type Priority = 'low' | 'normal' | 'high' | 'urgent'
export interface PolicyMatch {
  priority: Priority | null
  category: string | null
  tier: string | null
}
export interface Escalation {
  reassign_agent_id: number | null
  reassign_team_id: number | null
  raise_priority: boolean
  notify_supervisors: boolean
  notify_user_ids: number[]
}
export interface SlaPolicyInput {
  name: string
  position: number
  enabled: boolean
  match: PolicyMatch
  first_response_minutes: number | null
  next_response_minutes: number | null
  resolution_minutes: number | null
  calendar_id: number | null
  pause_on_customer: boolean
  pause_on_third_party: boolean
  warn_before_minutes: number
  escalation: Escalation
}
export interface SlaPolicy extends SlaPolicyInput {
  id: number
  calendar_id: number
}
export type SlaState = 'ok' | 'warning' | 'breached' | 'paused' | 'met'
export interface SlaClockView {
  metric: 'first_response' | 'next_response' | 'resolution'
  state: SlaState
  due_at: string | null
  warn_at: string | null
  used_ms: number
  target_ms: number
  met_at: string | null
  late: boolean
  breached_at: string | null
}
export interface TicketSla {
  state: SlaState
  policy_id: number
  next_due_at: string | null
  clocks: SlaClockView[]
}
export interface Conditions {
  categories: string[]
  priorities: Priority[]
  keywords: string[]
  tiers: string[]
  segments: string[]
  channels: string[]
}
export interface Actions {
  set_priority: Priority | null
  set_category: string | null
  set_status: string | null
  assign_agent_id: number | null
  assign_team_id: number | null
  add_tags: string[]
  reply: string | null
  notify_user_ids: number[]
  notify_supervisors: boolean
}
export interface AutomationRuleInput {
  name: string
  position: number
  enabled: boolean
  on_create: boolean
  on_update: boolean
  conditions: Conditions
  actions: Actions
}
export interface AutomationRule extends AutomationRuleInput {
  id: number
}
export interface Notification {
  id: number
  user_id: number
  kind: 'sla_warning' | 'sla_breach' | 'automation'
  ticket_id: number | null
  text: string
  created_at: string
  read_at: string | null
}

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const

export const slaApi = {
  calendars: () => request<{ calendars: BusinessCalendar[]; time_zones: string[] }>('GET', '/api/v1/sla/calendars'),
  createCalendar: (b: { name: string; spec: CalendarSpec; is_default: boolean }) =>
    request<{ calendar: BusinessCalendar }>('POST', '/api/v1/sla/calendars', b),
  updateCalendar: (id: number, b: { name: string; spec: CalendarSpec; is_default: boolean }) =>
    request<{ calendar: BusinessCalendar }>('PUT', `/api/v1/sla/calendars/${id}`, b),
  deleteCalendar: (id: number) => request<void>('DELETE', `/api/v1/sla/calendars/${id}`),
  policies: () => request<{ policies: SlaPolicy[] }>('GET', '/api/v1/sla/policies'),
  createPolicy: (b: SlaPolicyInput) => request<{ policy: SlaPolicy }>('POST', '/api/v1/sla/policies', b),
  updatePolicy: (id: number, b: SlaPolicyInput) => request<{ policy: SlaPolicy }>('PUT', `/api/v1/sla/policies/${id}`, b),
  deletePolicy: (id: number) => request<void>('DELETE', `/api/v1/sla/policies/${id}`),
  rules: () => request<{ rules: AutomationRule[] }>('GET', '/api/v1/automation-rules'),
  createRule: (b: AutomationRuleInput) => request<{ rule: AutomationRule }>('POST', '/api/v1/automation-rules', b),
  updateRule: (id: number, b: AutomationRuleInput) => request<{ rule: AutomationRule }>('PUT', `/api/v1/automation-rules/${id}`, b),
  deleteRule: (id: number) => request<void>('DELETE', `/api/v1/automation-rules/${id}`),
  notifications: (unread: boolean) =>
    request<{ notifications: Notification[] }>('GET', `/api/v1/notifications?unread=${unread}&limit=50`),
  readNotification: (id: number) => request<{ changed: number }>('POST', `/api/v1/notifications/${id}/read`),
  readAllNotifications: () => request<{ changed: number }>('POST', '/api/v1/notifications/read'),
}

/** Milliseconds until `iso` from `now` (negative once past). */
export function msUntil(iso: string, now: number): number {
  return Date.parse(iso) - now
}

/** A short countdown: `2h 05m`, `12m`, `-1h 10m` once past. */
export function countdown(ms: number): string {
  const sign = ms < 0 ? '-' : ''
  const total = Math.floor(Math.abs(ms) / 60_000)
  const d = Math.floor(total / 1440)
  const h = Math.floor((total % 1440) / 60)
  const m = total % 60
  if (d > 0) return `${sign}${d}d ${h}h`
  if (h > 0) return `${sign}${h}h ${String(m).padStart(2, '0')}m`
  return `${sign}${m}m`
}

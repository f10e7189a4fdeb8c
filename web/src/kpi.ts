// API calls and types of the agent KPIs (客服绩效): the report, its CSV, the trend by day and the
// shop's attribution rules. Formulas: docs/KPI.md and the tooltips of locales/kpi.ts.
import { ApiError, getToken, request } from './api'

export type KpiGroup = 'agent' | 'team' | 'shop'
export type KpiAttribution = 'last_replier' | 'first_replier'
export type ReminderOrders = 'separate' | 'included'

export interface KpiSettings {
  window_days: number
  attribution: KpiAttribution
  reminder_orders: ReminderOrders
  slow_response_seconds: number
}

export interface KpiFigures {
  served: number
  consulted: number
  ordered: number
  ordered_paid: number
  paid: number
  paid_orders: number
  sales_cents: number
  consult_to_order_rate: number | null
  consult_conversion_rate: number | null
  order_to_pay_rate: number | null
  avg_order_value_cents: number | null
  replies: number
  answered_messages: number
  reply_ratio: number | null
  responses: number
  avg_response_ms: number | null
  slow_responses: number
  slow_response_rate: number | null
  sessions: number
  answered_sessions: number
  avg_first_response_ms: number | null
  within_30s_rate: number | null
  unanswered_sessions: number
  unanswered_rate: number | null
  reminders: number
  reminded_orders: number
  reminder_paid_orders: number
  reminder_pending_orders: number
  reminder_paid_cents: number
  reminder_success_rate: number | null
  silent_orders: number | null
  silent_buyers: number | null
  silent_paid_buyers: number | null
  silent_paid_cents: number | null
  silent_conversion_rate: number | null
}

export interface KpiRow {
  id: number | null
  name: string
  team: string | null
  figures: KpiFigures
}

export interface KpiReport {
  from: string
  to: string
  time_zone: string
  group: KpiGroup
  settings: KpiSettings
  reminder_outcome_hours: number
  rows: KpiRow[]
  totals: KpiFigures | null
}

export interface KpiTrend {
  from: string
  to: string
  time_zone: string
  agent_id: number | null
  days: { day: string; figures: KpiFigures }[]
}

export interface KpiFilters {
  from: string // YYYY-MM-DD, a day of the shop's time zone
  to: string // YYYY-MM-DD, included
  group: KpiGroup
}

function query(f: KpiFilters): string {
  return new URLSearchParams({ from: f.from, to: f.to, group: f.group }).toString()
}

export const kpiApi = {
  report: (f: KpiFilters) => request<KpiReport>('GET', `/api/v1/reports/kpi?${query(f)}`),
  trend: (from: string, to: string, agentId: number | null) => {
    const q = new URLSearchParams({ from, to })
    if (agentId !== null) q.set('agent_id', String(agentId))
    return request<KpiTrend>('GET', `/api/v1/reports/kpi/trend?${q}`)
  },
  settings: () => request<KpiSettings>('GET', '/api/v1/settings/kpi'),
  saveSettings: (s: KpiSettings) => request<KpiSettings>('PUT', '/api/v1/settings/kpi', s),
  /** Downloads the CSV (the bearer token cannot ride on a plain link). */
  async csv(f: KpiFilters) {
    const headers: Record<string, string> = {}
    const token = getToken()
    if (token) headers.Authorization = `Bearer ${token}`
    const res = await fetch(`/api/v1/reports/kpi.csv?${query(f)}`, { headers })
    if (!res.ok) {
      const data = await res.json().catch(() => null)
      throw ApiError.fromBody(res.status, data, res.statusText)
    }
    const url = URL.createObjectURL(await res.blob())
    const a = document.createElement('a')
    a.href = url
    a.download = `kpi-${f.from}-${f.to}.csv`
    a.click()
    setTimeout(() => URL.revokeObjectURL(url), 1000)
  },
}

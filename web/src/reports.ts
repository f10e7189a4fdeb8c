// API calls and types of the reports area: the complaints report (JSON for the charts, CSV).
import { ApiError, getToken, request } from './api'
import { shopTimeZone } from './zone'

export type ReportScope = 'complaints' | 'all'
export type Granularity = 'day' | 'week' | 'month'

export interface ReportFilters {
  from: string // YYYY-MM-DD, a day of the shop's time zone
  to: string // YYYY-MM-DD, included
  scope: ReportScope
  granularity?: Granularity
}

export interface CategoryCount {
  category_id: number | null
  key: string | null
  name: string | null
  tickets: number
  resolved: number
  compensation_cost_cents: number
  children: CategoryCount[]
}

export interface ComplaintReport {
  from: string
  to: string
  scope: ReportScope
  granularity: Granularity
  totals: {
    tickets: number
    resolved: number
    open: number
    median_first_response_ms: number | null
    median_resolution_ms: number | null
    compensation_cost_cents: number
    compensation_amount_cents: number
  }
  by_category: CategoryCount[]
  by_root_cause: { root_cause: string; tickets: number }[]
  compensation_by_kind: { kind: string; records: number; amount_cents: number; cost_cents: number }[]
  sla: { metric: string; met: number; breached: number; attainment: number | null; median_business_ms: number | null }[]
  trend: { bucket: string; starts_at: string; tickets: number; by_category: Record<string, number> }[]
}

function query(f: ReportFilters): string {
  const q = new URLSearchParams({ from: f.from, to: f.to, scope: f.scope, tz: shopTimeZone.value })
  if (f.granularity) q.set('granularity', f.granularity)
  return q.toString()
}

export const reportsApi = {
  complaints: (f: ReportFilters) => request<ComplaintReport>('GET', `/api/v1/reports/complaints?${query(f)}`),
  /** Downloads the CSV (the bearer token cannot ride on a plain link). */
  async complaintsCsv(f: ReportFilters) {
    const headers: Record<string, string> = {}
    const token = getToken()
    if (token) headers.Authorization = `Bearer ${token}`
    const res = await fetch(`/api/v1/reports/complaints.csv?${query(f)}`, { headers })
    if (!res.ok) {
      const data = await res.json().catch(() => null)
      throw ApiError.fromBody(res.status, data, res.statusText)
    }
    const url = URL.createObjectURL(await res.blob())
    const a = document.createElement('a')
    a.href = url
    a.download = `complaints-${f.from}-${f.to}.csv`
    a.click()
    setTimeout(() => URL.revokeObjectURL(url), 1000)
  },
}

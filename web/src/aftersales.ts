// After-sales requests (售后) and negative reviews (中差评): types mirroring the API (docs/API.md,
// "After-sales and reviews") and the calls. Money is integer cents; times are RFC 3339 strings.
import { getToken, request, requestRaw, ApiError, downloadFile, importContentType, type TemplateFormat } from './api'
import { dayStartMs } from './time'

export type RequestKind = 'return' | 'exchange' | 'refund'
export type RequestState =
  | 'requested' | 'approved' | 'awaiting_return' | 'return_shipped' | 'received' | 'inspected'
  | 'refunded' | 'reshipped' | 'completed' | 'rejected' | 'cancelled'
export type Payer = 'shop' | 'customer'
export const KINDS: RequestKind[] = ['refund', 'return', 'exchange']
export const STATES: RequestState[] = [
  'requested', 'approved', 'awaiting_return', 'return_shipped', 'received', 'inspected',
  'refunded', 'reshipped', 'completed', 'rejected', 'cancelled',
]
export const REASONS = ['damaged', 'wrong_item', 'missing_item', 'quality', 'not_as_described', 'no_longer_wanted', 'other'] as const

export type Decision =
  | { type: 'full_refund'; return_goods: boolean; return_shipping_paid_by: Payer | null }
  | { type: 'partial_refund'; amount_cents: number }
  | { type: 'exchange'; return_shipping_paid_by: Payer }
  | { type: 'reject'; reason: string }

export type Action =
  | { type: 'decide'; decision: Decision }
  | { type: 'ship_return'; carrier: string; tracking_no: string }
  | { type: 'receive' }
  | { type: 'inspect'; passed: boolean; note: string }
  | { type: 'refund'; amount_cents: number }
  | { type: 'reship'; carrier: string; tracking_no: string }
  | { type: 'complete' }
  | { type: 'cancel' }

export interface AgentRef { id: number; name: string }

export interface AftersalesRequest {
  id: number
  no: string
  order_id: number
  order_no: string
  currency: string
  customer: { id: number; name: string }
  kind: RequestKind
  state: RequestState
  reason: string
  description: string
  refundable_cents: number
  refunded_cents: number
  decision: Decision | null
  return_shipping_paid_by: Payer | null
  return_parcel: { carrier: string; tracking_no: string } | null
  reship_parcel: { carrier: string; tracking_no: string } | null
  inspection: { passed: boolean; note: string } | null
  refund_id: number | null
  conversation_id: number | null
  ticket_id: number | null
  assignee: AgentRef | null
  created_by: AgentRef | null
  created_at: string
  updated_at: string
  closed_at: string | null
}

export interface RequestLine { line_no: number; sku: string; name: string; quantity: number; unit_price_cents: number; refundable_cents: number }
export interface HistoryEntry { id: number; action: string; from_state: RequestState | null; to_state: RequestState; actor: AgentRef | null; actor_name: string; detail: Record<string, any>; at: string }
export interface Evidence { id: number; request_id: number; name: string; mime: string; size: number; width: number | null; height: number | null; uploaded_by: AgentRef | null; created_at: string; url: string; thumb_url: string }
export interface RequestDetail extends AftersalesRequest {
  lines: RequestLine[]
  history: HistoryEntry[]
  evidence: Evidence[]
  allowed_actions: Action['type'][]
}

export interface NewRequest {
  order_id: number
  kind: RequestKind
  reason: string
  description: string
  lines: { order_item_id?: number; line_no?: number; quantity: number }[]
  conversation_id?: number | null
  assignee_id?: number | null
}

export interface RequestFilter { state?: string; kind?: string; customer_id?: string; order_id?: string; q?: string; from?: string; to?: string }

/** A date from <input type=date> at the shop's midnight. */
function dayMs(d: string, plusDays = 0): number {
  return dayStartMs(d, plusDays)
}

export const aftersalesApi = {
  list: (f: RequestFilter, cursor?: string | null, limit = 50) => {
    const q = new URLSearchParams()
    if (f.state) q.set('state', f.state)
    if (f.kind) q.set('kind', f.kind)
    if (f.customer_id) q.set('customer_id', f.customer_id)
    if (f.order_id) q.set('order_id', f.order_id)
    if (f.q?.trim()) q.set('q', f.q.trim())
    if (f.from) q.set('from', String(dayMs(f.from)))
    if (f.to) q.set('to', String(dayMs(f.to, 1)))
    if (cursor) q.set('cursor', cursor)
    q.set('limit', String(limit))
    return request<{ requests: AftersalesRequest[]; next_cursor: string | null }>('GET', `/api/v1/aftersales?${q}`)
  },
  get: (id: number) => request<RequestDetail>('GET', `/api/v1/aftersales/${id}`),
  create: (r: NewRequest) => request<RequestDetail>('POST', '/api/v1/aftersales', r),
  act: (id: number, a: Action) => request<RequestDetail>('POST', `/api/v1/aftersales/${id}/actions`, a),
  assign: (id: number, assigneeId: number | null) =>
    request<RequestDetail>('PUT', `/api/v1/aftersales/${id}/assignee`, { assignee_id: assigneeId }),
  uploadEvidence: async (id: number, file: File): Promise<Evidence> => {
    const form = new FormData()
    form.append('file', file, file.name || 'photo.png')
    const headers: Record<string, string> = { Accept: 'application/json' }
    const token = getToken()
    if (token) headers.Authorization = `Bearer ${token}`
    const res = await fetch(`/api/v1/aftersales/${id}/evidence`, { method: 'POST', headers, body: form })
    const data = await res.json().catch(() => null)
    if (!res.ok) throw ApiError.fromBody(res.status, data, res.statusText)
    return data as Evidence
  },
}

/** Yuan as typed ("30", "30.5", "30.05") → cents, exactly (no floats); null when not a price. */
export function yuanToCents(s: string): number | null {
  const m = /^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(s)
  if (!m) return null
  return Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0'))
}

export function centsToYuan(c: number): string {
  return `${Math.floor(c / 100)}.${String(c % 100).padStart(2, '0')}`
}

// ------------------------------------------------------------------------------------ reviews

export type FollowupStatus = 'open' | 'resolved' | 'review_revised' | 'no_response'
export const OUTCOMES: FollowupStatus[] = ['resolved', 'review_revised', 'no_response']

export interface Review {
  id: number
  review_id: string
  platform: string
  rating: number
  text: string
  order_no: string | null
  order_id: number | null
  customer: { id: number; name: string } | null
  reviewed_at: string
  imported_at: string
  updated_at: string
  followup_id: number | null
  followup_status: FollowupStatus | null
}

export interface Followup {
  id: number
  status: FollowupStatus
  assignee: AgentRef | null
  due_at: string
  overdue: boolean
  outcome_note: string
  created_at: string
  updated_at: string
  closed_at: string | null
  closed_by: AgentRef | null
  review: Review
}

export interface ReviewSettings { low_rating_threshold: number; followup_hours: number }
export interface BadRow { line: number; review_id: string; field: string; column?: string | null; code?: string; other_line?: number | null; message: string }
export interface ReviewImportReport { rows: number; created: number; updated: number; unchanged: number; rejected: number; followups_opened: number; bad_rows: BadRow[] }

export const reviewsApi = {
  followups: (status: string, overdue: boolean, cursor?: string | null) => {
    const q = new URLSearchParams({ status, limit: '100' })
    if (overdue) q.set('overdue', 'true')
    if (cursor) q.set('cursor', cursor)
    return request<{ followups: Followup[]; next_cursor: string | null }>('GET', `/api/v1/review-followups?${q}`)
  },
  patchFollowup: (id: number, patch: { status?: FollowupStatus; outcome_note?: string; assignee_id?: number | null }) =>
    request<Followup>('PATCH', `/api/v1/review-followups/${id}`, patch),
  reviews: (f: { rating?: string; rating_max?: string; status?: string }, cursor?: string | null) => {
    const q = new URLSearchParams({ limit: '100' })
    if (f.rating) q.set('rating', f.rating)
    if (f.rating_max) q.set('rating_max', f.rating_max)
    if (f.status) q.set('status', f.status)
    if (cursor) q.set('cursor', cursor)
    return request<{ reviews: Review[]; next_cursor: string | null }>('GET', `/api/v1/reviews?${q}`)
  },
  importCsv: (file: Blob) => requestRaw<ReviewImportReport>('POST', '/api/v1/reviews/import', file, importContentType(file)),
  /** The import template with Chinese headers and an example review. */
  template: (format: TemplateFormat) => downloadFile(`/api/v1/reviews/import/template?format=${format}`, `评价导入模板.${format}`),
  settings: () => request<ReviewSettings>('GET', '/api/v1/reviews/settings'),
  putSettings: (s: ReviewSettings) => request<ReviewSettings>('PUT', '/api/v1/reviews/settings', s),
}

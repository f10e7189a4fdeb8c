import type * as seg from './types/segments'
import { dayKey, dayStartMs } from './time'
import type { Agent, Conversation, ConvStatus, Message, Shop, Team, User, ShopSettings, AgentStatus, PresenceSettings } from './types'
import type {
  CustomerFilters,
  CustomerPatch,
  CustomerProfile,
  CustomerSummary,
  FieldDef,
  Identity,
  Address,
  NewAddress,
  NewFieldDef,
  MergeSuggestion,
  Note,
  TimelineItem,
} from './types/customers'

const TOKEN_KEY = 'kefu_token'

export class ApiError extends Error {
  /**
   * `field`: the request field a validation error is about (`phone`, `items[2].qty`).
   * `requestId`: on a server error, the id under which the server logged its cause.
   */
  constructor(public status: number, public code: string, message: string, public field?: string, public requestId?: string) {
    super(message)
  }

  /** The error a refused answer carries (`{"error": {"code", "message", "field", "request_id"}}`). */
  static fromBody(status: number, data: any, statusText = ''): ApiError {
    const e = data?.error
    return new ApiError(status, e?.code || (status === 401 ? 'unauthorized' : 'unknown'), e?.message || statusText, e?.field || undefined, e?.request_id || undefined)
  }
}

let unauthorizedHandler: (() => void) | null = null
export function onUnauthorized(fn: () => void) {
  unauthorizedHandler = fn
}

export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY)
}
export function setToken(token: string | null) {
  if (token) localStorage.setItem(TOKEN_KEY, token)
  else localStorage.removeItem(TOKEN_KEY)
}

export async function request<T>(method: string, path: string, body?: unknown, extra?: Record<string, string>): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...extra }
  const token = getToken()
  if (token) headers.Authorization = `Bearer ${token}`
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  let res: Response
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  } catch (e) {
    throw new ApiError(0, 'network', String(e))
  }
  if (res.status === 204) return undefined as T
  let data: any = null
  const text = await res.text()
  if (text) {
    try {
      data = JSON.parse(text)
    } catch {
      data = null
    }
  }
  if (!res.ok) {
    const err = ApiError.fromBody(res.status, data, res.statusText)
    if (res.status === 401 && !path.endsWith('/auth/login')) unauthorizedHandler?.()
    throw err
  }
  return data as T
}

const enc = encodeURIComponent

export const api = {
  login: (email: string, password: string) =>
    request<{ token: string; user: User }>('POST', '/api/v1/auth/login', { email, password }),
  logout: () => request<void>('POST', '/api/v1/auth/logout'),
  me: () => request<{ user: User; shop: Shop }>('GET', '/api/v1/me'),
  setStatus: (status: AgentStatus, note?: string) => request<{ user: User }>('PUT', '/api/v1/me/status', { status, note: note || null }),
  presenceSettings: () => request<PresenceSettings>('GET', '/api/v1/settings/presence'),
  putPresenceSettings: (s: PresenceSettings) => request<PresenceSettings>('PUT', '/api/v1/settings/presence', s),
  /** The members colleagues pick from (assign, mention, caps): active ones only. Managers also
   * receive deactivated members from the server; the members page reads them (members.ts). */
  agents: () =>
    request<{ agents: Agent[] }>('GET', '/api/v1/agents').then((r) => ({ agents: r.agents.filter((a) => a.active !== false) })),
  teams: () => request<{ teams: Team[] }>('GET', '/api/v1/teams'),
  /** An agent's own concurrency cap; null = the shop's default. */
  setAgentCap: (id: number, maxConcurrent: number | null) =>
    request<{ user: User }>('PUT', `/api/v1/agents/${id}/cap`, { max_concurrent: maxConcurrent }),
  /** `segment`: '' or `tier:<tier>` / `group:<group>` (the customers' computed segments). */
  conversations: (status: ConvStatus, assignee: string, tag = '', segment = '', sort: 'recent' | 'waiting' = 'recent') => {
    const [kind, value] = segment.split(':')
    const seg = segment && value ? `&${enc(kind)}=${enc(value)}` : ''
    return request<{ conversations: Conversation[] }>(
      'GET',
      `/api/v1/conversations?status=${enc(status)}&assignee=${enc(assignee)}${tag ? `&tag=${enc(tag)}` : ''}${seg}&sort=${sort}`,
    )
  },
  conversation: (id: number) => request<{ conversation: Conversation }>('GET', `/api/v1/conversations/${id}`),
  messages: (id: number, afterSeq = 0, limit = 1000) =>
    request<{ messages: Message[] }>('GET', `/api/v1/conversations/${id}/messages?after_seq=${afterSeq}&limit=${limit}`),
  send: (id: number, body: string, clientMsgId: string, isPrivate: boolean, scriptId?: number | null, mentions?: number[]) =>
    request<Message>('POST', `/api/v1/conversations/${id}/messages`, {
      body,
      client_msg_id: clientMsgId,
      private: isPrivate,
      ...(scriptId ? { script_id: scriptId } : {}),
      ...(mentions?.length ? { mentions } : {}),
    }),
  assign: (id: number, target: { agent_id: number } | { team: number | string }, note?: string) =>
    request<{ conversation: Conversation }>('POST', `/api/v1/conversations/${id}/assign`, {
      ...target,
      ...(note ? { note } : {}),
    }),
  setConvStatus: (id: number, status: ConvStatus) =>
    request<{ conversation: Conversation }>('POST', `/api/v1/conversations/${id}/status`, { status }),
  read: (id: number, seq: number) => request<{ conversation: Conversation }>('POST', `/api/v1/conversations/${id}/read`, { seq }),
  settings: () => request<ShopSettings>('GET', '/api/v1/shop/settings'),
  saveSettings: (s: ShopSettings) => request<ShopSettings>('PUT', '/api/v1/shop/settings', s),
}

// ---------------------------------------------------------------- customers area

function customerQuery(f: CustomerFilters): string {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(f)) if (v !== undefined && v !== '' && v !== null) p.set(k, String(v))
  const s = p.toString()
  return s ? `?${s}` : ''
}

type One = { customer: CustomerProfile }

export const customersApi = {
  list: (f: CustomerFilters) =>
    request<{ customers: CustomerSummary[]; next_cursor: string | null }>('GET', `/api/v1/customers${customerQuery(f)}`),
  get: (id: number) => request<One>('GET', `/api/v1/customers/${id}`),
  patch: (id: number, patch: CustomerPatch) => request<One>('PATCH', `/api/v1/customers/${id}`, patch),
  setTags: (id: number, tags: string[]) => request<One>('PUT', `/api/v1/customers/${id}/tags`, { tags }),
  addNote: (id: number, body: string) => request<{ note: Note }>('POST', `/api/v1/customers/${id}/notes`, { body }),
  deleteNote: (id: number, noteId: number) => request<void>('DELETE', `/api/v1/customers/${id}/notes/${noteId}`),
  addIdentity: (id: number, kind: string, value: string) =>
    request<{ identity: Identity }>('POST', `/api/v1/customers/${id}/identities`, { kind, value }),
  deleteIdentity: (id: number, identityId: number) =>
    request<void>('DELETE', `/api/v1/customers/${id}/identities/${identityId}`),
  addAddress: (id: number, a: NewAddress) => request<{ address: Address }>('POST', `/api/v1/customers/${id}/addresses`, a),
  updateAddress: (id: number, addressId: number, a: NewAddress) =>
    request<{ address: Address }>('PUT', `/api/v1/customers/${id}/addresses/${addressId}`, a),
  deleteAddress: (id: number, addressId: number) =>
    request<void>('DELETE', `/api/v1/customers/${id}/addresses/${addressId}`),
  merge: (id: number, sourceId: number) => request<One>('POST', `/api/v1/customers/${id}/merge`, { source_id: sourceId }),
  suggestions: () => request<{ suggestions: MergeSuggestion[] }>('GET', '/api/v1/customers/merge-suggestions'),
  timeline: (id: number, before?: string) =>
    request<{ items: TimelineItem[]; next_cursor: string | null }>(
      'GET',
      `/api/v1/customers/${id}/timeline?limit=30${before ? `&before=${enc(before)}` : ''}`,
    ),
  block: (id: number, reason: string) => request<One>('POST', `/api/v1/customers/${id}/block`, { reason }),
  unblock: (id: number) => request<One>('POST', `/api/v1/customers/${id}/unblock`, {}),
  fields: () => request<{ fields: FieldDef[] }>('GET', '/api/v1/customer-fields'),
  createField: (f: NewFieldDef) => request<{ field: FieldDef }>('POST', '/api/v1/customer-fields', f),
  updateField: (id: number, f: NewFieldDef) => request<{ field: FieldDef }>('PUT', `/api/v1/customer-fields/${id}`, f),
  deleteField: (id: number) => request<void>('DELETE', `/api/v1/customer-fields/${id}`),
  secret: () => request<{ secret: string }>('GET', '/api/v1/shop/identity-secret'),
  rotateSecret: () => request<{ secret: string }>('POST', '/api/v1/shop/identity-secret/rotate', {}),
  /** Downloads the CSV export (the bearer token cannot ride on a plain link). */
  async exportCsv(f: CustomerFilters) {
    const { cursor: _cursor, limit: _limit, ...rest } = f
    const headers: Record<string, string> = {}
    const token = getToken()
    if (token) headers.Authorization = `Bearer ${token}`
    const res = await fetch(`/api/v1/customers/export.csv${customerQuery(rest)}`, { headers })
    if (!res.ok) {
      const data = await res.json().catch(() => null)
      throw ApiError.fromBody(res.status, data, res.statusText)
    }
    const url = URL.createObjectURL(await res.blob())
    const a = document.createElement('a')
    a.href = url
    a.download = `customers-${dayKey()}.csv`
    a.click()
    setTimeout(() => URL.revokeObjectURL(url), 1000)
  },
}

// ---------------------------------------------------------------- segments area

function segmentQuery(q: seg.SegmentFilterQuery): string {
  const parts = Object.entries(q)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${enc(k)}=${enc(String(v))}`)
  return parts.length ? `?${parts.join('&')}` : ''
}

export const segmentsApi = {
  customer: (id: number) =>
    request<{ computed: boolean; segments: seg.CustomerSegments }>('GET', `/api/v1/customers/${id}/segments`),
  summary: () => request<seg.SegmentSummary>('GET', '/api/v1/segments/summary'),
  customers: (q: seg.SegmentFilterQuery) => request<seg.SegmentList>('GET', `/api/v1/segments/customers${segmentQuery(q)}`),
  pareto: (topLimit = 20) =>
    request<{ pareto: seg.Pareto; top: seg.SegmentListItem[] }>('GET', `/api/v1/segments/pareto?top_limit=${topLimit}`),
  rules: () => request<{ rules: seg.SegmentRules; defaults: seg.SegmentRules }>('GET', '/api/v1/segments/rules'),
  saveRules: (rules: seg.SegmentRules) =>
    request<{ rules: seg.SegmentRules; recompute: seg.RecomputeReport }>('PUT', '/api/v1/segments/rules', rules),
  recompute: () => request<seg.RecomputeReport>('POST', '/api/v1/segments/recompute'),
}

// ---------------------------------------------------------------- commerce area
import type {
  CustomerOrder,
  ImportReport,
  Order,
  OrderDetail,
  OrdersFilter,
  WebhookSettings,
} from './types/commerce'

/** A date input's `yyyy-mm-dd` as the start of that day in the shop's time zone (ms). */
function dayStart(day: string, plusDays = 0): number {
  return dayStartMs(day, plusDays)
}

/** Sends a raw body (e.g. a CSV file) with the session token; errors like `request`. */
export async function requestRaw<T>(method: string, path: string, body: Blob, contentType: string): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', 'Content-Type': contentType }
  const token = getToken()
  if (token) headers.Authorization = `Bearer ${token}`
  let res: Response
  try {
    res = await fetch(path, { method, headers, body })
  } catch (e) {
    throw new ApiError(0, 'network', String(e))
  }
  const text = await res.text()
  let data: any = null
  try {
    data = text ? JSON.parse(text) : null
  } catch {
    data = null
  }
  if (!res.ok) {
    if (res.status === 401) unauthorizedHandler?.()
    throw ApiError.fromBody(res.status, data, res.statusText)
  }
  return data as T
}

/** Downloads a file the API serves to signed-in members (the bearer token cannot ride on a plain link). */
export async function downloadFile(path: string, name: string): Promise<void> {
  const headers: Record<string, string> = {}
  const token = getToken()
  if (token) headers.Authorization = `Bearer ${token}`
  let res: Response
  try {
    res = await fetch(path, { headers })
  } catch (e) {
    throw new ApiError(0, 'network', String(e))
  }
  if (!res.ok) {
    const data = await res.json().catch(() => null)
    throw ApiError.fromBody(res.status, data, res.statusText)
  }
  const url = URL.createObjectURL(await res.blob())
  const a = document.createElement('a')
  a.href = url
  a.download = name
  a.click()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}

/** An import file's content type: spreadsheets as themselves, anything else as CSV (the server judges by content). */
export function importContentType(file: Blob & { name?: string }): string {
  return /\.xlsx?$/i.test(file.name || '') ? 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' : 'text/csv'
}

export type TemplateFormat = 'csv' | 'xlsx'

export const commerceApi = {
  orders: (f: OrdersFilter, cursor?: string | null, limit = 50) => {
    const q = new URLSearchParams()
    if (f.status) q.set('status', f.status)
    if (f.payment_status) q.set('payment_status', f.payment_status)
    if (f.q) q.set('q', f.q)
    if (f.customer_id) q.set('customer_id', String(f.customer_id))
    if (f.from) q.set('from', String(dayStart(f.from)))
    if (f.to) q.set('to', String(dayStart(f.to, 1)))
    if (cursor) q.set('cursor', cursor)
    q.set('limit', String(limit))
    return request<{ orders: Order[]; next_cursor: string | null }>('GET', `/api/v1/orders?${q}`)
  },
  order: (id: number) => request<OrderDetail>('GET', `/api/v1/orders/${id}`),
  customerOrders: (customerId: number, limit = 10) =>
    request<{ orders: CustomerOrder[] }>('GET', `/api/v1/customers/${customerId}/orders?limit=${limit}`),
  importOrders: (file: Blob) => requestRaw<ImportReport>('POST', '/api/v1/orders/import', file, importContentType(file)),
  /** The import template with Chinese headers and an example order. */
  template: (format: TemplateFormat) => downloadFile(`/api/v1/orders/import/template?format=${format}`, `订单导入模板.${format}`),
  webhookSettings: () => request<WebhookSettings>('GET', '/api/v1/commerce/webhook'),
  rotateWebhookSecret: () => request<WebhookSettings>('POST', '/api/v1/commerce/webhook/rotate', {}),
}

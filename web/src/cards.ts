// API calls and formatting of the cards and reminders area.
import { request } from './api'
import { live } from './store'
import type { Message } from './types'
import type {
  AgentOutcomeStats,
  OutcomeStats,
  Product,
  Reminder,
  ReminderCandidate,
  ReminderSettings,
  ReminderTemplate,
} from './types/cards'

const enc = encodeURIComponent

export const cardsApi = {
  sendCard: (conversationId: number, target: { product_id: number } | { order_id: number }, clientMsgId: string) =>
    request<Message>('POST', `/api/v1/conversations/${conversationId}/cards`, { ...target, client_msg_id: clientMsgId }),
  products: (q: string) => request<{ products: Product[] }>('GET', `/api/v1/cards/products?q=${enc(q)}&limit=30`),
  candidates: (windowHours?: number) =>
    request<{ window_hours: number; candidates: ReminderCandidate[] }>(
      'GET',
      `/api/v1/reminders/candidates${windowHours ? `?window_hours=${windowHours}` : ''}`,
    ),
  reminders: (days = 30) =>
    request<{
      outcome_hours: number
      reminders: Reminder[]
      stats: { overall: OutcomeStats; per_agent: AgentOutcomeStats[] }
    }>('GET', `/api/v1/reminders?days=${days}`),
  sendReminder: (orderId: number, templateId: number | null, force = false) =>
    request<Reminder>('POST', '/api/v1/reminders', {
      order_id: orderId,
      ...(templateId ? { template_id: templateId } : {}),
      force,
    }),
  settings: () => request<ReminderSettings>('GET', '/api/v1/reminders/settings'),
  saveSettings: (s: ReminderSettings) => request<ReminderSettings>('PUT', '/api/v1/reminders/settings', s),
  templates: () => request<{ templates: ReminderTemplate[]; variables: string[] }>('GET', '/api/v1/reminders/templates'),
  createTemplate: (t: { name: string; body: string; is_default: boolean }) =>
    request<ReminderTemplate>('POST', '/api/v1/reminders/templates', t),
  updateTemplate: (id: number, t: { name: string; body: string; is_default: boolean }) =>
    request<ReminderTemplate>('PUT', `/api/v1/reminders/templates/${id}`, t),
  deleteTemplate: (id: number) => request<void>('DELETE', `/api/v1/reminders/templates/${id}`),
}

/** 19900 → "¥199.00" (integer arithmetic: money is never a float on the server either). */
export function money(cents: number, currency: string): string {
  const sign = cents < 0 ? '-' : ''
  const abs = Math.abs(cents)
  const s = `${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`
  return currency === 'CNY' || !currency ? `${sign}¥${s}` : `${sign}${s} ${currency}`
}

/** Only http(s) and same-site links are ever rendered as links. */
export function safeUrl(url: string | undefined | null): string | null {
  if (!url) return null
  return isSafeLink(url) ? url : null
}

/** The server's rule for shopper links (kefu-core `is_safe_link_template`): a web address with a
 * host, or a path of the site — never `javascript:`, `//host` or `/\host` (browsers read `\` as
 * `/`), and no backslash, space or control character anywhere (URL parsers drop or rewrite them). */
export function isSafeLink(url: string): boolean {
  // eslint-disable-next-line no-control-regex
  if (/[\\\s\u0000-\u001f\u007f]/.test(url)) return false
  if (/^https?:\/\/[^/]/i.test(url)) return true
  return url.startsWith('/') && !url.startsWith('//')
}

/** Calls `fn` whenever the orders of the customer `customerId()` change (placed, paid, shipped …),
 * so a sidebar showing them can reload. Returns the unsubscribe function. */
export function onOrdersChanged(customerId: () => number | null | undefined, fn: () => void): () => void {
  return live.on((ev) => {
    if (ev?.type === 'orders.changed' && ev.customer_id === customerId()) fn()
  })
}

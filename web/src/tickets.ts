// The ticket API (工单) as the console uses it. Creations from the console say so with
// `X-Kefu-Client: console` (the ticket's channel); files are uploaded first and attached by id.
import { ApiError, getToken, request } from './api'
import type * as tk from './types/tickets'

const enc = encodeURIComponent
const CONSOLE = { 'X-Kefu-Client': 'console' }

function query(params: Record<string, string | number | null | undefined>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${enc(k)}=${enc(String(v))}`)
  return parts.length ? '?' + parts.join('&') : ''
}

export const ticketsApi = {
  list: (filters: Record<string, string>, cursor?: string | null) =>
    request<{ tickets: tk.Ticket[]; next_cursor: string | null }>(
      'GET',
      '/api/v1/tickets' + query({ ...filters, cursor, limit: 50 }),
    ),
  create: (body: Record<string, unknown>) => request<tk.Ticket>('POST', '/api/v1/tickets', body, CONSOLE),
  get: (id: number) => request<tk.TicketDetail>('GET', `/api/v1/tickets/${id}`),
  patch: (id: number, body: Record<string, unknown>) => request<tk.Ticket>('PATCH', `/api/v1/tickets/${id}`, body),
  entries: (id: number) => request<{ entries: tk.TicketEntry[] }>('GET', `/api/v1/tickets/${id}/entries`),
  addEntry: (id: number, kind: 'public' | 'note', body: string, attachment_ids: number[]) =>
    request<tk.TicketEntry>('POST', `/api/v1/tickets/${id}/entries`, { kind, body, attachment_ids }),
  audit: (id: number) => request<{ audit: tk.AuditEntry[] }>('GET', `/api/v1/tickets/${id}/audit`),
  addCompensation: (id: number, body: Record<string, unknown>) =>
    request<tk.CompensationRecord>('POST', `/api/v1/tickets/${id}/compensations`, body),
  deleteCompensation: (id: number, cid: number) =>
    request<void>('DELETE', `/api/v1/tickets/${id}/compensations/${cid}`),
  merge: (id: number, source_ids: number[]) => request<tk.Ticket>('POST', `/api/v1/tickets/${id}/merge`, { source_ids }),
  bulk: (body: Record<string, unknown>) =>
    request<{ results: tk.BulkResult[]; succeeded: number; failed: number }>('POST', '/api/v1/tickets/bulk', body),
  categories: () => request<{ categories: tk.TicketCategory[] }>('GET', '/api/v1/ticket-categories'),
  createCategory: (body: Record<string, unknown>) => request<tk.TicketCategory>('POST', '/api/v1/ticket-categories', body),
  patchCategory: (id: number, body: Record<string, unknown>) =>
    request<tk.TicketCategory>('PATCH', `/api/v1/ticket-categories/${id}`, body),
  deleteCategory: (id: number) => request<void>('DELETE', `/api/v1/ticket-categories/${id}`),
  fields: () => request<{ fields: tk.TicketFieldDef[] }>('GET', '/api/v1/ticket-fields'),
  createField: (body: Record<string, unknown>) => request<tk.TicketFieldDef>('POST', '/api/v1/ticket-fields', body),
  updateField: (id: number, body: Record<string, unknown>) => request<tk.TicketFieldDef>('PUT', `/api/v1/ticket-fields/${id}`, body),
  views: () => request<{ views: tk.TicketView[] }>('GET', '/api/v1/ticket-views'),
  createView: (name: string, filters: Record<string, string>) =>
    request<tk.TicketView>('POST', '/api/v1/ticket-views', { name, filters }),
  deleteView: (id: number) => request<void>('DELETE', `/api/v1/ticket-views/${id}`),
  fromConversation: (cid: number, body: Record<string, unknown>) =>
    request<tk.Ticket>('POST', `/api/v1/conversations/${cid}/ticket`, body),
  conversationTickets: (cid: number) => request<{ tickets: tk.Ticket[] }>('GET', `/api/v1/conversations/${cid}/tickets`),
}

/** Uploads a file for a ticket; attach the returned id to an entry. */
export async function uploadTicketFile(file: File): Promise<tk.TicketAttachment> {
  const form = new FormData()
  form.append('file', file, file.name)
  const headers: Record<string, string> = {}
  const token = getToken()
  if (token) headers.Authorization = `Bearer ${token}`
  const res = await fetch('/api/v1/ticket-attachments', { method: 'POST', headers, body: form })
  const data = await res.json().catch(() => null)
  if (!res.ok) throw ApiError.fromBody(res.status, data, res.statusText)
  return data as tk.TicketAttachment
}

export const fileUrl = (id: number) => `/api/v1/ticket-attachments/${id}`
export const thumbUrl = (id: number) => `/api/v1/ticket-attachments/${id}/thumb`

/** Yuan text (e.g. "30" or "12.5") → integer cents, or null when it is not an amount. */
export function toCents(text: string): number | null {
  const m = /^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(text)
  if (!m) return null
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'))
}

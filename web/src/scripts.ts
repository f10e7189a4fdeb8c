// API calls of the scripts library (话术) and the variable helpers shared by the picker and the
// library page.
import { ApiError, getToken, request, downloadFile, type TemplateFormat } from './api'
import type {
  ImportReport,
  Rendered,
  Script,
  ScriptCategory,
  ScriptHit,
  ScriptInput,
  ScriptStatsRow,
  ScriptVariable,
} from './types/scripts'

const enc = encodeURIComponent

export type OwnerScope = '' | 'shop' | 'mine'

export const scriptsApi = {
  categories: () => request<{ categories: ScriptCategory[] }>('GET', '/api/v1/script-categories'),
  createCategory: (name: string) => request<ScriptCategory>('POST', '/api/v1/script-categories', { name }),
  updateCategory: (id: number, name: string, position?: number) =>
    request<ScriptCategory>('PUT', `/api/v1/script-categories/${id}`, { name, position }),
  deleteCategory: (id: number) => request<void>('DELETE', `/api/v1/script-categories/${id}`),
  list: (filters: { category?: number | null; q?: string; owner?: OwnerScope }) => {
    const p = new URLSearchParams()
    if (filters.category) p.set('category', String(filters.category))
    if (filters.q) p.set('q', filters.q)
    if (filters.owner) p.set('owner', filters.owner)
    return request<{ scripts: Script[] }>('GET', `/api/v1/scripts?${p}`)
  },
  create: (s: ScriptInput) => request<Script>('POST', '/api/v1/scripts', s),
  update: (id: number, s: ScriptInput) => request<Script>('PUT', `/api/v1/scripts/${id}`, s),
  remove: (id: number) => request<void>('DELETE', `/api/v1/scripts/${id}`),
  search: (q: string, limit = 8) => request<{ scripts: ScriptHit[] }>('GET', `/api/v1/scripts/search?q=${enc(q)}&limit=${limit}`),
  render: (conversationId: number, source: { script_id: number } | { text: string }) =>
    request<Rendered>('POST', '/api/v1/scripts/render', { conversation_id: conversationId, ...source }),
  variables: () => request<{ variables: ScriptVariable[] }>('GET', '/api/v1/scripts/variables'),
  stats: (days = 30) =>
    request<{ since: string; order_window_hours: number; scripts: ScriptStatsRow[] }>('GET', `/api/v1/scripts/stats?days=${days}`),
  /** The export file as text (the API needs the bearer token, so no plain link). */
  async exportFile(format: 'json' | 'csv', owner: 'shop' | 'mine'): Promise<string> {
    const res = await fetch(`/api/v1/scripts/export?format=${format}&owner=${owner}`, {
      headers: { Authorization: `Bearer ${getToken() ?? ''}` },
    })
    const text = await res.text()
    if (!res.ok) {
      let data: unknown = null
      try {
        data = JSON.parse(text)
      } catch {
        /* not JSON */
      }
      throw ApiError.fromBody(res.status, data, res.statusText)
    }
    return format === 'json' ? JSON.stringify(JSON.parse(text), null, 2) : text
  },
  /** Sends the file's bytes as they are: the server decodes CSV in any encoding Excel writes and reads XLSX. */
  async importFile(format: 'json' | 'csv' | 'xlsx', owner: 'shop' | 'mine', body: Blob): Promise<ImportReport> {
    const res = await fetch(`/api/v1/scripts/import?format=${format}&owner=${owner}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${getToken() ?? ''}`, 'Content-Type': format === 'json' ? 'application/json' : format === 'csv' ? 'text/csv' : 'application/octet-stream' },
      body,
    })
    const data = await res.json().catch(() => null)
    if (!res.ok) throw ApiError.fromBody(res.status, data, res.statusText)
    return data as ImportReport
  },
}

/** The import template (Chinese headers and an example script). */
export function scriptsTemplate(format: TemplateFormat) {
  return downloadFile(`/api/v1/scripts/import/template?format=${format}`, `话术导入模板.${format}`)
}

/** The variables the server knows (kept in step with kefu_core::scripts::VARIABLES). */
export const KNOWN_VARIABLES = [
  'customer.name',
  'agent.name',
  'shop.name',
  'order.no',
  'order.amount',
  'order.shipping_fee',
  'order.status',
  'product.name',
  'product.price',
]

/** A text cut into plain parts and known `{variables}` (for highlighting without v-html). */
export function splitVariables(text: string): { text: string; variable: boolean }[] {
  const out: { text: string; variable: boolean }[] = []
  const re = /\{([a-z_]+\.[a-z_]+)\}/g
  let last = 0
  for (const m of text.matchAll(re)) {
    if (!KNOWN_VARIABLES.includes(m[1])) continue
    if (m.index! > last) out.push({ text: text.slice(last, m.index), variable: false })
    out.push({ text: m[0], variable: true })
    last = m.index! + m[0].length
  }
  if (last < text.length) out.push({ text: text.slice(last), variable: false })
  return out
}

/** The known variables still in a text, deduplicated (such a text cannot be sent). */
export function unfilledVariables(text: string): string[] {
  const found = splitVariables(text)
    .filter((p) => p.variable)
    .map((p) => p.text.slice(1, -1))
  return [...new Set(found)]
}

export function downloadText(name: string, text: string, mime: string) {
  const url = URL.createObjectURL(new Blob([text], { type: mime }))
  const a = document.createElement('a')
  a.href = url
  a.download = name
  a.click()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}

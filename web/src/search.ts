// API calls of the search area (GET /api/v1/search) and the highlight splitting of snippets.
import { request } from './api'

export type SearchKind = 'message' | 'conversation' | 'customer' | 'script'

export interface SearchSnippet {
  /** Plain text (never HTML). */
  text: string
  /** [from, to) in UTF-16 code units of `text`, i.e. what String.slice takes. */
  highlights: [number, number][]
}

export interface SearchHit {
  kind: SearchKind
  id: number
  score: number
  conversation_id: number | null
  customer_id: number | null
  title: string
  snippet: SearchSnippet
  created_at: string
  status: string | null
  private: boolean
}

/** A ticket or after-sales request the query names by its number (T-000005, AS-000007). */
export interface RecordHit {
  kind: 'ticket' | 'aftersales'
  id: number
  number: string
  title: string
  status: string
  customer_name: string | null
  created_at: string
}

export interface SearchResponse {
  status: 'ready' | 'rebuilding' | 'disabled'
  results: { kind: SearchKind; hits: SearchHit[] }[]
  records: RecordHit[]
}

export interface SearchFilters {
  kind?: SearchKind | ''
  status?: string
}

const enc = encodeURIComponent

export const searchApi = {
  search: (q: string, f: SearchFilters = {}, limit = 6) => {
    let path = `/api/v1/search?q=${enc(q)}&limit=${limit}`
    if (f.kind) path += `&kind=${enc(f.kind)}`
    if (f.status) path += `&status=${enc(f.status)}`
    return request<SearchResponse>('GET', path)
  },
}

/** Splits a snippet into plain pieces and highlighted pieces, for text bindings (no v-html). */
export function snippetParts(s: SearchSnippet): { text: string; mark: boolean }[] {
  const out: { text: string; mark: boolean }[] = []
  let at = 0
  for (const [from, to] of s.highlights) {
    if (from < at || to > s.text.length || from >= to) continue
    if (from > at) out.push({ text: s.text.slice(at, from), mark: false })
    out.push({ text: s.text.slice(from, to), mark: true })
    at = to
  }
  if (at < s.text.length) out.push({ text: s.text.slice(at), mark: false })
  return out
}

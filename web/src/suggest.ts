// API calls of reply suggestions.
import { request } from './api'

export interface Suggestion {
  script_id: number
  title: string
  body: string
  category: string
  score: number
}

export interface SuggestionsResponse {
  message_id: number | null
  suggestions: Suggestion[]
}

/** The `suggestions` event of the agent WebSocket. */
export interface SuggestionsEvent extends SuggestionsResponse {
  type: 'suggestions'
  conversation_id: number
  message_id: number
}

export interface Rendered {
  text: string
  /** Variables without a value (still `{name}` in the text). */
  missing: string[]
  script_id: number | null
}

export const suggestApi = {
  current: (conversationId: number) =>
    request<SuggestionsResponse>('GET', `/api/v1/conversations/${conversationId}/suggestions`),
  /** The script's text with the conversation's variables filled (scripts area endpoint). */
  render: (conversationId: number, scriptId: number) =>
    request<Rendered>('POST', '/api/v1/scripts/render', { script_id: scriptId, conversation_id: conversationId }),
}

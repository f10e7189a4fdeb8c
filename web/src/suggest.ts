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

export const suggestApi = {
  current: (conversationId: number) =>
    request<SuggestionsResponse>('GET', `/api/v1/conversations/${conversationId}/suggestions`),
}

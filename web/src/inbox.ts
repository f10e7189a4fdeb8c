// The inbox area's API (docs/API.md, "Agents"): what a conversation is about — its current order
// and product, as card snapshots — and the agent's pick.
import { request } from './api'
import type { Conversation } from './types'
import type { OrderCard, ProductCard } from './types/cards'

export interface ConversationContext {
  order: OrderCard | null
  product: ProductCard | null
}

export const inboxApi = {
  context: (conversationId: number) => request<ConversationContext>('GET', `/api/v1/conversations/${conversationId}/context`),
  /** `null` clears; an absent field is left as it is. */
  setContext: (conversationId: number, change: { order_id?: number | null; product_id?: number | null }) =>
    request<{ conversation: Conversation; context: ConversationContext }>('PUT', `/api/v1/conversations/${conversationId}/context`, change),
}

// API calls of the daily tools area: mentions, conversation tags, snooze, a shopper's
// conversations and the shop's auto-reply rules.
import { request } from './api'
import type { Conversation, Message } from './types'
import type { AutoRepliesResponse, AutoReplyRules, Mention, TagCount } from './types/tools'

const enc = encodeURIComponent

export const toolsApi = {
  mentions: (unread = false) => request<{ mentions: Mention[] }>('GET', `/api/v1/mentions?unread=${unread}&limit=50`),
  readMention: (id: number) => request<{ changed: number }>('POST', `/api/v1/mentions/${id}/read`, {}),
  readMentions: (conversationId?: number) =>
    request<{ changed: number }>('POST', '/api/v1/mentions/read', conversationId ? { conversation_id: conversationId } : {}),
  tags: () => request<{ tags: TagCount[] }>('GET', '/api/v1/conversation-tags'),
  addTag: (id: number, tag: string) => request<{ conversation: Conversation }>('POST', `/api/v1/conversations/${id}/tags`, { tag }),
  removeTag: (id: number, tag: string) =>
    request<{ conversation: Conversation }>('DELETE', `/api/v1/conversations/${id}/tags/${enc(tag)}`),
  snooze: (id: number, until: Date) =>
    request<{ conversation: Conversation }>('POST', `/api/v1/conversations/${id}/snooze`, { until: until.toISOString() }),
  unsnooze: (id: number) => request<{ conversation: Conversation }>('POST', `/api/v1/conversations/${id}/unsnooze`, {}),
  customerConversations: (customerId: number) =>
    request<{ conversations: Conversation[] }>('GET', `/api/v1/customers/${customerId}/conversations?limit=50`),
  messages: (id: number) => request<{ messages: Message[] }>('GET', `/api/v1/conversations/${id}/messages?limit=1000`),
  autoReplies: () => request<AutoRepliesResponse>('GET', '/api/v1/auto-replies'),
  saveAutoReplies: (rules: AutoReplyRules) => request<AutoRepliesResponse>('PUT', '/api/v1/auto-replies', rules),
  /** The scripts library (scripts area); keyword rules may answer with a shop-wide script. */
  scripts: () =>
    request<{ scripts: { id: number; title: string; owner_id: number | null }[] }>('GET', '/api/v1/scripts'),
}

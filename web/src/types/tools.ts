// Types of the daily tools area (mentions, tags, snooze, auto-replies), as the API sends them.

export interface AgentRef {
  id: number
  name: string
}

export interface Mention {
  id: number
  conversation_id: number
  message_id: number
  agent_id: number
  by: AgentRef
  excerpt: string
  customer: { id: number; name: string }
  created_at: string
  read_at: string | null
}

export interface TagCount {
  name: string
  conversations: number
}

export interface TimeRange {
  start: string
  end: string
}

export interface KeywordRule {
  id: string
  enabled: boolean
  keywords: string[]
  match: 'contains' | 'exact'
  reply: string
  script_id: number | null
  cooldown_minutes: number
}

export interface AutoReplyRules {
  business_hours: { enabled: boolean; time_zone: string; days: TimeRange[][] }
  after_hours: { enabled: boolean; text: string }
  keywords: KeywordRule[]
}

export interface AutoRepliesResponse {
  rules: AutoReplyRules
  time_zones: string[]
  open_now: boolean
}

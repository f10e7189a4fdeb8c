// Types of the customers area (mirrors kefu-core/src/customers.rs; see docs/API.md).

export type SourceChannel = 'search' | 'ad' | 'referral' | 'marketplace' | 'phone' | 'social' | 'other'
export const SOURCES: SourceChannel[] = ['search', 'ad', 'referral', 'marketplace', 'phone', 'social', 'other']
export type IdentityKind = 'phone' | 'email' | 'external_id'
export type FieldKind = 'text' | 'number' | 'date' | 'select'

export interface CustomerSummary {
  id: number
  name: string
  email: string | null
  phone: string | null
  external_id: string | null
  source: SourceChannel | null
  tags: string[]
  blocked: boolean
  created_at: string
  /** null until a first conversation (imported records). */
  last_contact_at: string | null
}

export interface Identity {
  id: number
  kind: IdentityKind
  value: string
  verified: boolean
  source: string
  created_at: string
}

export interface Address {
  id: number
  recipient: string
  phone: string
  region: string
  detail: string
  is_default: boolean
  created_at: string
}

export interface NewAddress {
  recipient: string
  phone: string
  region: string
  detail: string
  is_default: boolean
}

export interface Note {
  id: number
  author_id: number | null
  author_name: string
  body: string
  created_at: string
}

export interface CustomerProfile extends CustomerSummary {
  consent_sms: boolean
  consent_email: boolean
  blocked_reason: string | null
  blocked_at: string | null
  updated_at: string
  merged_into: number | null
  identities: Identity[]
  addresses: Address[]
  custom_fields: Record<string, string>
  notes: Note[]
}

export interface CustomerPatch {
  name?: string
  email?: string
  phone?: string
  source?: string
  consent_sms?: boolean
  consent_email?: boolean
  tags?: string[]
  custom_fields?: Record<string, string | null>
}

export interface FieldDef {
  id: number
  key: string
  label: string
  kind: FieldKind
  options: string[]
  position: number
}

export interface NewFieldDef {
  key: string
  label: string
  kind: FieldKind
  options: string[]
  position?: number
}

export interface MergeSuggestion {
  a: CustomerSummary
  b: CustomerSummary
  reason: IdentityKind
  value: string
}

export interface TimelineItem {
  kind: string
  at: string
  title: string
  summary: string
  ref_type: string | null
  ref_id: number | null
  cursor: string
}

export interface CustomerFilters {
  q?: string
  tag?: string
  source?: string
  contact_from?: string
  contact_to?: string
  blocked?: boolean
  /** Segment filters (see the segments area): tier, value-added group, churn risk. */
  tier?: string
  group?: string
  churn?: string
  /** Paid spend at least, in yuan. */
  spend_min?: string
  sort?: 'last_contact' | 'created'
  cursor?: string
  limit?: number
}

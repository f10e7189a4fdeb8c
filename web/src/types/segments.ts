// Types of the segments area (mirrors kefu_core::segments; see docs/API.md "Segments").

export type Tier = 'key' | 'suitable' | 'general'
export type Group = 'high_volume' | 'long_standing' | 'key' | 'demanding'
export type ChurnLevel = 'low' | 'medium' | 'high'
export type RfmSegment =
  | 'important_value'
  | 'important_development'
  | 'important_retain'
  | 'important_winback'
  | 'general_value'
  | 'general_development'
  | 'general_retain'
  | 'general_winback'
export type SegmentSort = 'revenue' | 'last_order' | 'overdue'

export const TIERS: Tier[] = ['key', 'suitable', 'general']
export const GROUPS: Group[] = ['high_volume', 'long_standing', 'key', 'demanding']
export const CHURN_LEVELS: ChurnLevel[] = ['low', 'medium', 'high']
export const RFM_SEGMENTS: RfmSegment[] = [
  'important_value',
  'important_development',
  'important_retain',
  'important_winback',
  'general_value',
  'general_development',
  'general_retain',
  'general_winback',
]

export interface DemandSignals {
  refunds: number
  complaints: number
  low_ratings: number
}

export interface CustomerMetrics {
  paid_orders: number
  revenue_cents: number
  first_order_at: string | null
  last_order_at: string | null
  median_interval_ms: number | null
  signals: DemandSignals
}

export interface ChurnRisk {
  level: ChurnLevel
  last_order_at: string
  usual_interval_days: number
  days_since_last: number
  days_overdue: number
}

export interface Groups {
  high_volume: boolean
  long_standing: boolean
  key: boolean
  demanding: boolean
}

export interface CustomerSegments {
  customer_id: number
  metrics: CustomerMetrics
  r_score: number
  f_score: number
  m_score: number
  rfm_segment: RfmSegment | null
  tier: Tier
  groups: Groups
  churn: ChurnRisk | null
  computed_at: string
}

export interface SegmentListItem {
  customer: { id: number; name: string }
  segments: CustomerSegments
  latest_conversation_id: number | null
}

export interface SegmentList {
  total: number
  items: SegmentListItem[]
}

export interface SegmentCount {
  key: string
  count: number
}

export interface Thresholds {
  buyers: number
  recency: number[]
  frequency: number[]
  monetary: number[]
  key_revenue_cut: number | null
  computed_at: string
}

export interface SegmentSummary {
  customers: number
  buyers: number
  tiers: SegmentCount[]
  groups: SegmentCount[]
  rfm: SegmentCount[]
  churn: SegmentCount[]
  thresholds: Thresholds | null
}

export interface ParetoPoint {
  customers: number
  customer_share: number
  revenue_cents: number
  revenue_share: number
}

export interface Pareto {
  buyers: number
  total_revenue_cents: number
  points: ParetoPoint[]
  target_percent: number
  top_customers: number
  top_customer_share: number
  top_revenue_cents: number
}

export interface SegmentRules {
  key: { top_percent: number; min_revenue_cents: number | null }
  suitable: { min_orders: number; min_revenue_cents: number | null }
  high_volume: { min_orders: number }
  long_standing: { min_days: number; min_orders: number }
  demanding: { min_count: number; min_ratio_percent: number }
  churn: { factor_percent: number; min_orders: number; min_overdue_days: number }
}

export interface RecomputeReport {
  customers: number
  full: boolean
  took_ms: number
}

export interface SegmentFilterQuery {
  tier?: Tier | ''
  group?: Group | ''
  rfm?: RfmSegment | ''
  churn?: ChurnLevel | 'any' | ''
  sort?: SegmentSort
  offset?: number
  limit?: number
}

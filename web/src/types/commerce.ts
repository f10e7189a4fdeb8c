// Types of the commerce area (orders, shipments, refunds, products, imports, webhooks), mirroring
// the API (docs/API.md, "Commerce"). Money is integer cents; times are RFC 3339 strings.

export type OrderStatus = 'created' | 'paid' | 'shipped' | 'delivered' | 'completed' | 'cancelled'
export type PaymentStatus = 'unpaid' | 'paid' | 'partially_refunded' | 'refunded'
export type ShipmentStatus = 'pending' | 'in_transit' | 'out_for_delivery' | 'delivered' | 'exception' | 'returned'
export type RefundStatus = 'requested' | 'approved' | 'rejected' | 'refunded'

export const ORDER_STATUSES: OrderStatus[] = ['created', 'paid', 'shipped', 'delivered', 'completed', 'cancelled']
export const PAYMENT_STATUSES: PaymentStatus[] = ['unpaid', 'paid', 'partially_refunded', 'refunded']

export interface Order {
  id: number
  order_no: string
  customer_id: number
  customer_name: string
  status: OrderStatus
  payment_status: PaymentStatus
  currency: string
  items_cents: number
  discount_cents: number
  shipping_fee_cents: number
  total_cents: number
  refunded_cents: number
  placed_at: string
  paid_at: string | null
  shipped_at: string | null
  delivered_at: string | null
  receiver_name: string
  receiver_phone: string
  receiver_address: string
  created_at: string
  updated_at: string
  /** The server's rule: paid, not cancelled, not refunded in full — 申请售后 is offered. */
  aftersales_allowed: boolean
  /** Unpaid and not cancelled — 催付 is offered. */
  awaiting_payment: boolean
}

export interface OrderItem {
  id: number
  line_no: number
  sku: string
  product_id: number | null
  name: string
  quantity: number
  unit_price_cents: number
  total_cents: number
}

export interface ShipmentEvent {
  at: string
  status: ShipmentStatus
  description: string
  location: string
}

export interface Shipment {
  id: number
  carrier: string
  tracking_no: string
  status: ShipmentStatus
  shipped_at: string | null
  delivered_at: string | null
  updated_at: string
  events: ShipmentEvent[]
}

export interface Refund {
  id: number
  refund_no: string
  amount_cents: number
  reason: string
  status: RefundStatus
  created_at: string
  refunded_at: string | null
}

export interface OrderDetail extends Order {
  items: OrderItem[]
  shipments: Shipment[]
  refunds: Refund[]
}

export interface ShipmentBrief {
  carrier: string
  tracking_no: string
  status: ShipmentStatus
  latest_event: ShipmentEvent | null
}

/** One of a customer's recent orders, as the sidebar shows it. */
export interface CustomerOrder extends Order {
  items: OrderItem[]
  shipment: ShipmentBrief | null
}

export interface OrdersFilter {
  status?: string
  payment_status?: string
  q?: string
  customer_id?: number
  /** yyyy-mm-dd */
  from?: string
  to?: string
}

export interface BadLine {
  /** The file's own line (a record spanning lines: the line it starts on). */
  line: number
  order_no: string
  /** The column's English name, `-` for the whole row. */
  field: string
  /** That column's header as the file has it (`实付金额`). */
  column?: string | null
  /** The reason code (errorText.js IMPORT_REASONS). */
  code?: string
  other_line?: number | null
  other_field?: string | null
  message: string
}

export interface ImportReport {
  rows: number
  orders: number
  created: number
  updated: number
  unchanged: number
  rejected: number
  bad_lines: BadLine[]
  bad_lines_omitted: number
  touched_customer_ids: number[]
}

export interface WebhookSettings {
  secret: string
  endpoint_path: string
  timestamp_header: string
  signature_header: string
  recipe: string
  event_types: string[]
}

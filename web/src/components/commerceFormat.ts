// Formatting shared by the commerce area's views: money from integer cents (never floats in
// arithmetic: cents are split into yuan and fen as integers) and status labels.
import { t, type MsgKey } from '../i18n'
import type { OrderStatus, PaymentStatus, RefundStatus, ShipmentStatus } from '../types/commerce'

const SYMBOLS: Record<string, string> = { CNY: '¥', USD: '$', EUR: '€', HKD: 'HK$', JPY: '¥' }

export function money(cents: number, currency = 'CNY'): string {
  const sign = cents < 0 ? '-' : ''
  const abs = Math.abs(Math.trunc(cents))
  const yuan = Math.floor(abs / 100).toLocaleString('en-US')
  const fen = String(abs % 100).padStart(2, '0')
  return `${sign}${SYMBOLS[currency] ?? currency + ' '}${yuan}.${fen}`
}

export const orderStatusText = (s: OrderStatus) => t(`commerce.status.${s}` as MsgKey)
export const paymentText = (s: PaymentStatus) => t(`commerce.payment.${s}` as MsgKey)
export const shipmentText = (s: ShipmentStatus) => t(`commerce.ship.${s}` as MsgKey)
export const refundText = (s: RefundStatus) => t(`commerce.refund.${s}` as MsgKey)

/** A CSS tone for a status pill. */
export function tone(s: string): 'ok' | 'warn' | 'danger' | 'info' | 'muted' {
  if (['delivered', 'completed', 'paid', 'refunded'].includes(s)) return 'ok'
  if (['created', 'unpaid', 'pending', 'requested'].includes(s)) return 'warn'
  if (['cancelled', 'exception', 'returned', 'rejected'].includes(s)) return 'danger'
  if (['shipped', 'in_transit', 'out_for_delivery', 'partially_refunded', 'approved'].includes(s)) return 'info'
  return 'muted'
}

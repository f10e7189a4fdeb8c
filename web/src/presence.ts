// Presence in every agent list: the label of a status, and the live `agent.status` frame applied
// to a list of agents (members, the transfer picker, caps, the mention box).
import { t } from './i18n'
import type { AgentStatus, StatusCause } from './types'
import type { AgentFrame } from './types/frames.gen'

/** 在线 / 忙碌 · 培训 / 离开（自动）/ 离线 */
export function presenceLabel(status: AgentStatus, cause?: StatusCause | null, note?: string | null): string {
  let text = t(`status.${status}` as 'status.online')
  if (note && (status === 'away' || status === 'busy')) text += ' · ' + note
  else if (cause === 'auto_idle' && status === 'away') text += t('status.auto')
  return text
}

/** Online first, then busy, away, offline (the transfer picker's order). */
export const presenceOrder: Record<AgentStatus, number> = { online: 0, busy: 1, away: 2, offline: 3 }

interface HasPresence {
  id: number
  status: AgentStatus
  status_cause?: StatusCause | null
  status_note?: string | null
}

/** Applies an `agent.status` frame to the agent in `list`, if listed. */
export function applyPresence(list: HasPresence[], ev: AgentFrame): void {
  if (ev.type !== 'agent.status') return
  const a = list.find((x) => x.id === ev.agent_id)
  if (!a) return
  a.status = ev.status
  a.status_cause = ev.cause ?? null
  a.status_note = ev.note ?? null
}

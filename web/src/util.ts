// The console's time formatting lives in time.ts (the shop's time zone); re-exported here
// because most views import their helpers from util.
export { clockTime, formatTime } from './time'

export function initials(name: string | null | undefined): string {
  const n = (name || '?').trim()
  if (/^[\u4e00-\u9fff]/.test(n)) return (n.match(/[\u4e00-\u9fff]/g) || []).slice(0, 2).join('')
  return n
    .split(/\s+/)
    .map((p) => p[0])
    .join('')
    .slice(0, 2)
    .toUpperCase()
}

export function avatarColor(seed: string | number): string {
  const s = String(seed)
  let h = 0
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0
  // golden-angle spread so that consecutive ids get clearly different hues
  return `hsl(${Math.round((h * 137.508) % 360)} 52% 46%)`
}

export function uuid(): string {
  if (typeof crypto !== 'undefined' && 'randomUUID' in crypto) return crypto.randomUUID()
  return 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (c) => {
    const r = (Math.random() * 16) | 0
    return (c === 'x' ? r : (r & 0x3) | 0x8).toString(16)
  })
}

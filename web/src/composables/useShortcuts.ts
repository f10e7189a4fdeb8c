// Console keyboard shortcuts (installed by the inbox):
//   Alt+↓ / Alt+↑  next / previous conversation in the list
//   Alt+R          resolve the open conversation
//   Alt+N          toggle internal-note mode in the composer
//   Enter / Ctrl+Enter  send (the composer), Shift+Enter new line
//   ?              this help (outside text fields); Esc closes it
import { onBeforeUnmount, onMounted, ref } from 'vue'
import type { Router } from 'vue-router'
import { api } from '../api'
import { inbox, upsertConversation } from '../store'

export const helpOpen = ref(false)
/** The composer listens for this to switch note mode. */
export const TOGGLE_NOTE = 'kefu:toggle-note'

export const SHORTCUTS: { keys: string; what: string }[] = [
  { keys: 'Alt + ↓', what: 'tools.keys.next' },
  { keys: 'Alt + ↑', what: 'tools.keys.prev' },
  { keys: 'Alt + R', what: 'tools.keys.resolve' },
  { keys: 'Alt + N', what: 'tools.keys.note' },
  { keys: 'Enter / Ctrl + Enter', what: 'tools.keys.send' },
  { keys: 'Shift + Enter', what: 'tools.keys.newline' },
  { keys: '@', what: 'tools.keys.mention' },
  { keys: '?', what: 'tools.keys.help' },
]

function typing(e: KeyboardEvent): boolean {
  const el = e.target as HTMLElement | null
  return !!el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable)
}

export function useShortcuts(router: Router) {
  function move(step: number) {
    const list = inbox.list
    if (!list.length) return
    const i = list.findIndex((c) => c.id === inbox.activeId)
    const next = i < 0 ? (step > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, i + step))
    void router.push({ name: 'conversation', params: { id: list[next].id } })
  }

  async function resolve() {
    const id = inbox.activeId
    if (id == null) return
    try {
      upsertConversation((await api.setConvStatus(id, 'resolved')).conversation)
    } catch {
      /* the pane shows state; nothing to do here */
    }
  }

  function onKey(e: KeyboardEvent) {
    if (e.altKey && !e.ctrlKey && !e.metaKey) {
      const k = e.key.toLowerCase()
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') move(e.key === 'ArrowDown' ? 1 : -1)
      else if (k === 'r' || e.code === 'KeyR') void resolve()
      else if (k === 'n' || e.code === 'KeyN') window.dispatchEvent(new CustomEvent(TOGGLE_NOTE))
      else return
      e.preventDefault()
      return
    }
    if (e.key === 'Escape' && helpOpen.value) {
      helpOpen.value = false
      e.preventDefault()
    } else if (e.key === '?' && !typing(e)) {
      helpOpen.value = !helpOpen.value
      e.preventDefault()
    }
  }

  onMounted(() => window.addEventListener('keydown', onKey))
  onBeforeUnmount(() => window.removeEventListener('keydown', onKey))
}

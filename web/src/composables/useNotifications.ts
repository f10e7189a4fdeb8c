// Desktop and sound notifications for new chats, new shopper messages in my conversations and
// @mentions. The agent opts in from Settings; the choices are kept per agent in localStorage.
// The sound is synthesised with WebAudio (no audio files).
import { reactive } from 'vue'
import { t } from '../i18n'
import { inbox, live, session, threads } from '../store'

export interface NotifyPrefs {
  desktop: boolean
  sound: boolean
  newChats: boolean
  myMessages: boolean
  mentions: boolean
}

const defaults: NotifyPrefs = { desktop: false, sound: false, newChats: true, myMessages: true, mentions: true }
export const notifyPrefs = reactive<NotifyPrefs>({ ...defaults })

function key() {
  return `kefu_notify_${session.user?.id ?? 0}`
}

export function loadNotifyPrefs() {
  let saved: Partial<NotifyPrefs> = {}
  try {
    saved = JSON.parse(localStorage.getItem(key()) || '{}')
  } catch {
    saved = {}
  }
  Object.assign(notifyPrefs, defaults, saved)
  // Permission may have been withdrawn in the browser since.
  if (notifyPrefs.desktop && (!('Notification' in window) || Notification.permission !== 'granted')) notifyPrefs.desktop = false
}

export function saveNotifyPrefs() {
  localStorage.setItem(key(), JSON.stringify(notifyPrefs))
}

export function desktopSupported(): boolean {
  return 'Notification' in window
}

/** Asks the browser for permission; true when desktop notifications are now on. */
export async function enableDesktop(): Promise<boolean> {
  if (!desktopSupported()) return false
  const p = Notification.permission === 'granted' ? 'granted' : await Notification.requestPermission()
  notifyPrefs.desktop = p === 'granted'
  saveNotifyPrefs()
  return notifyPrefs.desktop
}

let audio: AudioContext | null = null
/** A short two-tone chime. */
export function chime() {
  try {
    audio ??= new AudioContext()
    const at = audio.currentTime
    const osc = audio.createOscillator()
    const gain = audio.createGain()
    osc.type = 'sine'
    osc.frequency.setValueAtTime(880, at)
    osc.frequency.setValueAtTime(1320, at + 0.12)
    gain.gain.setValueAtTime(0.0001, at)
    gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02)
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.32)
    osc.connect(gain).connect(audio.destination)
    osc.start(at)
    osc.stop(at + 0.34)
  } catch {
    /* no audio available */
  }
}

/** Shows one notification (and plays the chime) if the agent wants this kind. */
export function notify(kind: 'newChats' | 'myMessages' | 'mentions', title: string, body: string, onClick?: () => void) {
  if (!notifyPrefs[kind]) return
  if (notifyPrefs.sound) chime()
  if (notifyPrefs.desktop && desktopSupported() && Notification.permission === 'granted') {
    const n = new Notification(title, { body, tag: `kefu-${kind}-${title}` })
    n.onclick = () => {
      window.focus()
      onClick?.()
      n.close()
    }
  }
}

/** Listens to the live connection; returns the function that stops it. */
export function startNotifications(open: (conversationId: number) => void): () => void {
  loadNotifyPrefs()
  return live.on((ev) => {
    const me = session.user
    if (!me) return
    const away = document.visibilityState !== 'visible'
    if (ev.type === 'conversation.created') {
      notify('newChats', t('tools.notify.newChat'), ev.conversation?.customer?.name ?? '', () => open(ev.conversation.id))
    } else if (ev.type === 'message.created' && ev.message?.sender_type === 'customer') {
      const cid: number = ev.conversation_id
      const conv = threads.get(cid)?.conv ?? inbox.list.find((c) => c.id === cid)
      if (conv?.assignee_id !== me.id) return
      if (!away && inbox.activeId === cid) return
      notify('myMessages', t('tools.notify.newMessage', { name: conv.customer?.name ?? '' }), ev.message.body, () => open(cid))
    } else if (ev.type === 'mention') {
      notify('mentions', t('tools.notify.mention', { name: ev.by?.name ?? '' }), ev.excerpt ?? '', () => open(ev.conversation_id))
    }
  })
}

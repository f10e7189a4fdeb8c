// Attachments: upload with progress, limits checked before sending (the server checks again, by
// the file's real content), and the URLs of stored files. Downloads are authorised by the
// console's session cookie, so plain <img src> and <a href> work.
import { ApiError, getToken } from './api'
import type { Message } from './types'
import { zonedParts } from './time'

export const MAX_IMAGE_BYTES = 10 * 1024 * 1024
export const MAX_FILE_BYTES = 20 * 1024 * 1024
const IMAGE_EXTS = ['jpg', 'jpeg', 'jfif', 'png', 'gif', 'webp']
const FILE_EXTS = ['pdf', 'txt', 'csv', 'log', 'md', 'zip', 'docx', 'xlsx', 'pptx', 'mp4', 'm4v']
/** For the file chooser's `accept`. */
export const ACCEPT = [...IMAGE_EXTS, ...FILE_EXTS].map((e) => '.' + e).join(',')

/** The payload of a `kind = "attachment"` message. */
export interface AttachmentPayload {
  attachment_id: number
  name: string
  mime: string
  size: number
  width?: number
  height?: number
  thumb: boolean
}

function ext(name: string): string {
  const i = name.lastIndexOf('.')
  return i > 0 ? name.slice(i + 1).toLowerCase() : ''
}

/** `tooLarge` / `badType` when the file cannot be accepted, else null. A pasted image without a
 * name is judged by its type. */
export function precheck(file: File): 'tooLarge' | 'badType' | null {
  const e = ext(file.name) || (file.type.startsWith('image/') ? file.type.slice(6) : '')
  const image = IMAGE_EXTS.includes(e)
  if (!image && !FILE_EXTS.includes(e)) return 'badType'
  if (file.size > (image ? MAX_IMAGE_BYTES : MAX_FILE_BYTES)) return 'tooLarge'
  return null
}

/** Pasted screenshots are called `image.png`; give them a readable, unique name. */
export function uploadName(file: File): string {
  if (file.name && file.name !== 'image.png') return file.name
  // Named by the shop's clock, like every time the console shows.
  const d = zonedParts(new Date())
  const p = (n: number) => String(n).padStart(2, '0')
  const e = file.type.startsWith('image/') ? file.type.slice(6).replace('jpeg', 'jpg') : 'png'
  return `截图_${d.year}${p(d.month)}${p(d.day)}_${p(d.hour)}${p(d.minute)}${p(d.second)}.${e}`
}

/** Uploads `file` into the conversation as a message; `onProgress` gets 0..100. */
export function uploadAttachment(
  conversationId: number,
  file: File,
  clientMsgId: string,
  onProgress: (p: number) => void,
): Promise<Message> {
  return new Promise((resolve, reject) => {
    const form = new FormData()
    form.append('client_msg_id', clientMsgId)
    form.append('file', file, uploadName(file))
    const xhr = new XMLHttpRequest()
    xhr.open('POST', `/api/v1/conversations/${conversationId}/attachments`)
    const token = getToken()
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`)
    xhr.setRequestHeader('Accept', 'application/json')
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(Math.min(99, Math.round((e.loaded / e.total) * 100)))
    }
    xhr.onload = () => {
      let data: any = null
      try {
        data = JSON.parse(xhr.responseText)
      } catch {
        data = null
      }
      if (xhr.status >= 200 && xhr.status < 300 && data) {
        onProgress(100)
        resolve(data as Message)
      } else {
        reject(ApiError.fromBody(xhr.status, data, xhr.statusText))
      }
    }
    xhr.onerror = () => reject(new ApiError(0, 'network', 'network error'))
    xhr.send(form)
  })
}

export const attachmentUrl = (id: number) => `/api/v1/attachments/${id}`
export const thumbUrl = (id: number) => `/api/v1/attachments/${id}/thumb`

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`
}

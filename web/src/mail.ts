// API calls and types of outbound e-mail: the shop's SMTP settings, a test send, whether mail is
// configured (shown beside ticket replies), and the outbox.
import { request } from './api'

export type SmtpSecurity = 'none' | 'starttls' | 'tls'

export interface MailSettings {
  enabled: boolean
  host: string
  port: number
  security: SmtpSecurity
  username: string
  from_address: string
  from_name: string
}

export interface MailSettingsView extends MailSettings {
  password_set: boolean
  configured: boolean
}

export interface OutboxMail {
  id: number
  to_address: string
  to_name: string
  subject: string
  kind: string
  ticket_id: number | null
  status: 'queued' | 'sent' | 'failed'
  attempts: number
  last_error: string | null
  next_attempt_at: string | null
  created_at: string
  sent_at: string | null
}

export interface TicketMail {
  configured: boolean
  to_address: string | null
  mails: OutboxMail[]
}

export const mailApi = {
  ticket: (id: number) => request<TicketMail>('GET', `/api/v1/tickets/${id}/mail`),
  settings: () => request<MailSettingsView>('GET', '/api/v1/settings/mail'),
  /** `password`: undefined keeps the stored one, '' clears it. */
  save: (s: MailSettings, password?: string) =>
    request<MailSettingsView>('PUT', '/api/v1/settings/mail', password === undefined ? s : { ...s, password }),
  test: (to: string) => request<{ sent: boolean }>('POST', '/api/v1/settings/mail/test', { to }),
  status: () => request<{ configured: boolean }>('GET', '/api/v1/mail/status'),
  outbox: () => request<{ mails: OutboxMail[] }>('GET', '/api/v1/mail/outbox?limit=50'),
}

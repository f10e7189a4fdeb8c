// API calls and types of members and teams (成员与团队) and of each member's own account.
import { request } from './api'
import type { Agent, Role, Team, User } from './types'

export type Member = Agent

export interface WithTemporaryPassword {
  member: Member
  /** Shown once: the member signs in with it and must choose their own password. */
  temporary_password: string
}

export interface NewMember {
  name: string
  email: string
  role: Role
  team_ids: number[]
  max_concurrent: number | null
}

export interface MemberPatch {
  name?: string
  role?: Role
  team_ids?: number[]
  /** null: back to the shop's default. */
  max_concurrent?: number | null
}

export type AuditAction =
  | 'member_created'
  | 'member_updated'
  | 'password_reset'
  | 'member_deactivated'
  | 'member_reactivated'
  | 'own_password_changed'
  | 'own_profile_updated'
  | 'team_created'
  | 'team_updated'
  | 'team_deleted'

/** The fields the audit keeps of a member or a team (never a password). */
export interface AuditSnapshot {
  name?: string
  email?: string
  role?: Role
  teams?: string[]
  max_concurrent?: number | null
  active?: boolean
  is_default?: boolean
}

export interface AuditEntry {
  id: number
  action: AuditAction
  actor: { id: number; name: string }
  target_type: 'member' | 'team'
  target_id: number
  target_name: string
  before: AuditSnapshot | null
  after: AuditSnapshot | null
  created_at: string
}

export const ROLES: Role[] = ['agent', 'supervisor', 'admin']

export const membersApi = {
  /** Every member; admins and supervisors also get deactivated ones (`active: false`). */
  list: () => request<{ agents: Member[] }>('GET', '/api/v1/agents').then((r) => r.agents),
  create: (m: NewMember) => request<WithTemporaryPassword>('POST', '/api/v1/members', m),
  update: (id: number, patch: MemberPatch) => request<{ member: Member }>('PATCH', `/api/v1/members/${id}`, patch),
  resetPassword: (id: number) => request<WithTemporaryPassword>('POST', `/api/v1/members/${id}/password-reset`, {}),
  deactivate: (id: number) => request<{ member: Member; released: number }>('POST', `/api/v1/members/${id}/deactivate`, {}),
  reactivate: (id: number) => request<{ member: Member }>('POST', `/api/v1/members/${id}/reactivate`, {}),
  teams: () => request<{ teams: Team[] }>('GET', '/api/v1/teams').then((r) => r.teams),
  createTeam: (name: string) => request<{ team: Team }>('POST', '/api/v1/teams', { name }),
  updateTeam: (id: number, patch: { name?: string; is_default?: true }) =>
    request<{ team: Team }>('PATCH', `/api/v1/teams/${id}`, patch),
  deleteTeam: (id: number) => request<void>('DELETE', `/api/v1/teams/${id}`),
  audit: (before?: number | null, limit = 30) =>
    request<{ entries: AuditEntry[]; next_before: number | null }>(
      'GET',
      `/api/v1/audit?limit=${limit}${before ? `&before=${before}` : ''}`,
    ),
}

export const accountApi = {
  /** The caller's own password; every other session of theirs ends. */
  changePassword: (current: string, next: string) =>
    request<{ user: User }>('PUT', '/api/v1/me/password', { current_password: current, new_password: next }),
  rename: (name: string) => request<{ user: User }>('PATCH', '/api/v1/me', { name }),
}

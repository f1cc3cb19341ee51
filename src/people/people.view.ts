import type { ApiToken, AuditItem, Member } from '../contract/index.js';
import type { AuditRow } from './audit.repo.js';
import type { TokenRow } from './tokens.repo.js';
import type { UserRow } from './users.repo.js';

export function memberView(u: UserRow): Member {
  return {
    id: u.id,
    email: u.email,
    role: u.role,
    disabled: u.disabled,
    status: u.active ? 'active' : 'invited',
    created_at: u.created_at.toISOString(),
    last_login_at: u.last_login_at?.toISOString() ?? null,
  };
}

export function tokenView(t: TokenRow): ApiToken {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    user_id: t.user_id,
    user_email: t.user_email,
    created_at: t.created_at.toISOString(),
    last_used_at: t.last_used_at?.toISOString() ?? null,
  };
}

export function auditView(a: AuditRow): AuditItem {
  return {
    id: a.id,
    at: a.at.toISOString(),
    user_id: a.user_id,
    user_email: a.user_email,
    token_id: a.token_id,
    action: a.action,
    target_type: a.target_type,
    target_id: a.target_id,
    details: a.details,
    ip: a.ip,
  };
}

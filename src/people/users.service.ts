import type pg from 'pg';
import { withTx } from '../db/pool.js';
import { AppError, ConflictError, ForbiddenError, NotFoundError } from '../lib/errors.js';
import { msg } from '../lib/messages.js';
import { actorOf } from './actor.js';
import { recordAudit } from './audit.repo.js';
import type { AuthContext } from './identity.repo.js';
import { hashPassword } from './passwords.js';
import { ROLE_RANK, type Role } from './roles.js';
import { deleteUserSessions } from './sessions.repo.js';
import { acceptInvite, countEnabledOwners, emailCanSignIn, emailInBusiness, getUser, insertInvitedUser, inviteIsLive, updateUser, type UserRow } from './users.repo.js';

type Who = Pick<AuthContext, 'businessId' | 'userId' | 'email' | 'tokenId' | 'ip' | 'role'>;

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string }).code === '23505';
}

/** Nobody grants or touches a role above their own (an admin neither makes nor edits owners). */
function assertMayGrant(who: Who, role: Role): void {
  if (ROLE_RANK[role] > ROLE_RANK[who.role]) throw new ForbiddenError(role, msg('auth.grant_needs_role', { role }));
}

export async function inviteUser(pool: pg.Pool, who: Who, email: string, role: Role): Promise<{ user: UserRow; inviteToken: string }> {
  assertMayGrant(who, role);
  try {
    return await withTx(pool, async (tx) => {
      // Serialized per business, so two invites of Dana@ and dana@ at once cannot both pass.
      await tx.query(`SELECT 1 FROM businesses WHERE id = $1 FOR UPDATE`, [who.businessId]);
      if (await emailInBusiness(tx, who.businessId, email)) throw new ConflictError('user_exists', msg('people.user_exists'));
      if (await emailCanSignIn(tx, email)) {
        throw new ConflictError('email_taken', msg('people.email_taken'));
      }
      const invited = await insertInvitedUser(tx, who.businessId, email, role);
      await recordAudit(tx, { businessId: who.businessId, actor: actorOf(who), action: 'user.invite', targetType: 'user', targetId: invited.user.id, details: { email, role } });
      return invited;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError('user_exists', msg('people.user_exists'));
    throw err;
  }
}

/**
 * Role and disabled changes. The business row is locked first, so two owners demoting each
 * other at the same moment are serialized and the second finds itself the last owner (409).
 * Disabling or demoting signs the user out everywhere; their tokens stop at once too, because
 * every request reads the user's current role and disabled flag.
 */
export async function changeUser(pool: pg.Pool, who: Who, userId: number, patch: { role?: Role | undefined; disabled?: boolean | undefined }): Promise<UserRow> {
  return withTx(pool, async (tx) => {
    await tx.query(`SELECT 1 FROM businesses WHERE id = $1 FOR UPDATE`, [who.businessId]);
    const before = await getUser(tx, who.businessId, userId, { forUpdate: true });
    if (!before) throw new NotFoundError('User');
    assertMayGrant(who, before.role);
    if (patch.role) assertMayGrant(who, patch.role);
    const after = await updateUser(tx, who.businessId, userId, patch);
    if (!after) throw new NotFoundError('User');
    if (await countEnabledOwners(tx, who.businessId) === 0) {
      throw new ConflictError('last_owner', msg('people.last_owner'));
    }
    const demoted = ROLE_RANK[after.role] < ROLE_RANK[before.role];
    if ((after.disabled && !before.disabled) || demoted) await deleteUserSessions(tx, who.businessId, userId);
    const changes: Record<string, unknown> = {};
    if (after.role !== before.role) changes.role = { from: before.role, to: after.role };
    if (after.disabled !== before.disabled) changes.disabled = after.disabled;
    await recordAudit(tx, { businessId: who.businessId, actor: actorOf(who), action: 'user.update', targetType: 'user', targetId: userId, details: { email: after.email, ...changes } });
    return after;
  });
}

export class InvalidInvite extends AppError {
  constructor() {
    super(404, 'invalid_invite', msg('auth.invalid_invite'));
  }
}

export async function acceptInviteWithPassword(pool: pg.Pool, inviteToken: string, password: string, ip: string | null): Promise<UserRow> {
  // A made-up invite is refused before the ~60 ms, 19 MiB hash: refusing stays cheap.
  if (!(await inviteIsLive(pool, inviteToken))) throw new InvalidInvite();
  const passwordHash = await hashPassword(password);
  try {
    return await withTx(pool, async (tx) => {
      const user = await acceptInvite(tx, inviteToken, passwordHash);
      if (!user) throw new InvalidInvite();
      await recordAudit(tx, { businessId: user.business_id, actor: { userId: user.id, email: user.email, ip }, action: 'user.accept_invite', targetType: 'user', targetId: user.id });
      return user;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError('email_taken', msg('people.email_taken_elsewhere'));
    throw err;
  }
}

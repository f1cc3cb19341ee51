import type { Actor } from './audit.repo.js';
import type { AuthContext } from './identity.repo.js';

/** The audit trail's view of a caller. */
export function actorOf(auth: Pick<AuthContext, 'userId' | 'email' | 'tokenId' | 'ip'>): Actor {
  return { userId: auth.userId, email: auth.email, tokenId: auth.tokenId, ip: auth.ip };
}

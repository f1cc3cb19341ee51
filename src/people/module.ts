import type { DomainModule, ModuleDeps, ModuleRoles } from '../app/module.js';
import { PeriodicTask } from '../lib/periodic-task.js';
import { pruneAudit } from './audit.repo.js';
import { authRoutes } from './auth.routes.js';
import { pruneLoginFailures, pruneSessions } from './sessions.repo.js';
import { peopleRoutes } from './users.routes.js';

/**
 * People: sign-in, sessions, users and roles, API tokens and the audit trail. In the worker role
 * it prunes ended sessions, old failed sign-ins and audit entries past AUDIT_RETENTION_DAYS.
 */
export function createPeopleModule(deps: ModuleDeps): DomainModule {
  const log = deps.log.child({ part: 'people' });
  const { people } = deps.config;
  let retention: PeriodicTask | null = null;
  return {
    name: 'people',
    routes: async (app) => {
      await app.register(authRoutes(deps.pool, { sessionMaxMs: people.sessionMaxMs, secureCookies: people.secureCookies }));
      await app.register(peopleRoutes(deps.pool));
    },
    async start(roles: ModuleRoles) {
      if (!roles.worker || retention) return;
      retention = new PeriodicTask({
        name: 'people retention',
        everyMs: deps.config.jobRetentionEveryMs,
        log,
        run: async () => {
          const sessions = await pruneSessions(deps.pool, people.sessionIdleMs);
          const failures = await pruneLoginFailures(deps.pool);
          const audit = await pruneAudit(deps.pool, people.auditRetentionDays);
          if (sessions + failures + audit > 0) log.info({ prunedSessions: sessions, prunedLoginFailures: failures, prunedAudit: audit }, 'retention');
        },
      });
      retention.start();
    },
    async stop(opts) {
      await retention?.stop(opts);
    },
  };
}

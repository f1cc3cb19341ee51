/**
 * The mixed load: closed-loop clients, each acting for one tenant, doing what a CRM / call-center
 * user does — lead CRUD, notes, imports, bulk updates and deletes, call runs and direct calls,
 * broadcasts, recordings, receipts, and job control (pause, resume, cancel). Every job accepted
 * (202) is remembered so the checks can prove none was lost.
 */
import { Http, uniquePhone, type Tenant } from './client.js';

export interface LoadOptions {
  clients: number;
  durationMs: number;
  /** API base URLs; client i uses bases[i mod n]. */
  bases: () => string[];
  /** Think time between a client's requests (ms, uniform 0..thinkMs). */
  thinkMs?: number;
  /** Leads per run / bulk operation picked from the tenant's leads. */
  runSize?: number;
  /** Relative weights of the actions (0 turns one off). */
  weights?: Partial<Record<Action, number>>;
}

export type Action =
  | 'create_lead' | 'list_leads' | 'get_lead' | 'add_note' | 'import' | 'bulk_update' | 'bulk_delete'
  | 'run' | 'direct_call' | 'broadcast' | 'recording' | 'receipt' | 'delete_receipts' | 'job_control' | 'get_job';

const DEFAULT_WEIGHTS: Record<Action, number> = {
  create_lead: 14, list_leads: 10, get_lead: 8, add_note: 6, import: 4, bulk_update: 5, bulk_delete: 3,
  run: 6, direct_call: 2, broadcast: 5, recording: 5, receipt: 5, delete_receipts: 1, job_control: 8, get_job: 10,
};

export interface TenantState {
  tenant: Tenant;
  leadIds: number[];
  jobIds: Set<number>;
}

export class MixedLoad {
  readonly accepted = new Set<number>();
  readonly acceptedByType = new Map<string, number>();
  readonly gateRefusals = new Map<string, number>();
  readonly #actions: Action[] = [];
  #stopAt = 0;

  constructor(private readonly http: Http, private readonly states: TenantState[], private readonly opts: LoadOptions) {
    const w = { ...DEFAULT_WEIGHTS, ...opts.weights };
    for (const [a, n] of Object.entries(w) as Array<[Action, number]>) for (let i = 0; i < n; i++) this.#actions.push(a);
  }

  async run(): Promise<void> {
    this.#stopAt = Date.now() + this.opts.durationMs;
    await Promise.all(Array.from({ length: this.opts.clients }, (_, i) => this.#client(i)));
  }

  /** Ends the load early (the clients finish their request in flight). */
  stop(): void {
    this.#stopAt = 0;
  }

  async #client(i: number): Promise<void> {
    const state = this.states[i % this.states.length];
    if (!state) return;
    while (Date.now() < this.#stopAt) {
      const bases = this.opts.bases();
      const base = bases[i % bases.length] ?? '';
      const action = this.#actions[Math.floor(Math.random() * this.#actions.length)] ?? 'get_job';
      await this.#act(action, base, state);
      const think = this.opts.thinkMs ?? 50;
      if (think > 0) await new Promise((r) => setTimeout(r, Math.random() * think));
    }
  }

  #accept(state: TenantState, type: string, a: { status: number; body: Record<string, unknown> } | null): void {
    if (!a) return;
    if (a.status === 202 && typeof a.body.job_id === 'number') {
      this.accepted.add(a.body.job_id);
      state.jobIds.add(a.body.job_id);
      this.acceptedByType.set(type, (this.acceptedByType.get(type) ?? 0) + 1);
    } else if (a.status === 429) {
      const code = String((a.body.error as { code?: string } | undefined)?.code ?? 'unknown');
      this.gateRefusals.set(code, (this.gateRefusals.get(code) ?? 0) + 1);
    }
  }

  #pick(state: TenantState, n: number): number[] {
    const ids = state.leadIds;
    if (ids.length === 0) return [];
    const start = Math.floor(Math.random() * ids.length);
    const out = new Set<number>();
    for (let k = 0; k < n && k < ids.length; k++) out.add(ids[(start + k) % ids.length] ?? 0);
    return [...out];
  }

  async #act(action: Action, base: string, state: TenantState): Promise<void> {
    const token = state.tenant.token;
    const h = this.http;
    const size = this.opts.runSize ?? 5;
    switch (action) {
      case 'create_lead': {
        const a = await h.call<{ id?: number }>(base, 'POST /leads', 'POST', '/api/v1/leads', { token, body: { phone: uniquePhone(), name: 'Chaos Lead', tags: ['chaos'] } });
        if (a?.status === 201 && typeof a.body.id === 'number') state.leadIds.push(a.body.id);
        return;
      }
      case 'list_leads':
        await h.call(base, 'GET /leads', 'GET', '/api/v1/leads?limit=20', { token });
        return;
      case 'get_lead': {
        const [id] = this.#pick(state, 1);
        if (id) await h.call(base, 'GET /leads/{id}', 'GET', `/api/v1/leads/${id}`, { token });
        return;
      }
      case 'add_note': {
        const [id] = this.#pick(state, 1);
        if (id) await h.call(base, 'POST /leads/{id}/notes', 'POST', `/api/v1/leads/${id}/notes`, { token, body: { text: 'called, no answer' } });
        return;
      }
      case 'import': {
        const rows = Array.from({ length: 10 }, () => `${uniquePhone()},Imported,`).join('\n');
        const a = await h.call(base, 'POST /leads/import', 'POST', '/api/v1/leads/import', { token, raw: `phone,name,email\n${rows}\n` });
        this.#accept(state, 'import_leads', a);
        return;
      }
      case 'bulk_update': {
        const ids = this.#pick(state, size * 4);
        if (ids.length === 0) return;
        const a = await h.call(base, 'POST /leads/bulk-update', 'POST', '/api/v1/leads/bulk-update', { token, body: { lead_ids: ids, set: { tags_add: [`t${Math.floor(Math.random() * 5)}`] } } });
        this.#accept(state, 'update_leads_bulk', a);
        return;
      }
      case 'bulk_delete': {
        // Only leads this client created and will not use again: take them off the list first.
        if (state.leadIds.length < 40) return;
        const ids = state.leadIds.splice(state.leadIds.length - 3, 3);
        const a = await h.call(base, 'POST /leads/bulk-delete', 'POST', '/api/v1/leads/bulk-delete', { token, body: { lead_ids: ids } });
        this.#accept(state, 'delete_leads_bulk', a);
        return;
      }
      case 'run': {
        const ids = this.#pick(state, size);
        if (ids.length === 0) return;
        const a = await h.call(base, 'POST /outbound/runs', 'POST', '/api/v1/outbound/runs', { token, body: { lead_ids: ids } });
        this.#accept(state, 'enqueue_outbound_calls', a);
        return;
      }
      case 'direct_call': {
        const ids = this.#pick(state, 1);
        if (ids.length > 0) await h.call(base, 'POST /outbound/calls', 'POST', '/api/v1/outbound/calls', { token, body: { lead_ids: ids } });
        return;
      }
      case 'broadcast': {
        const recipients = Array.from({ length: size }, () => ({ phone: uniquePhone() }));
        const a = await h.call(base, 'POST /whatsapp/broadcasts', 'POST', '/api/v1/whatsapp/broadcasts', { token, body: { text: 'Your appointment is tomorrow', recipients } });
        this.#accept(state, 'broadcast_whatsapp', a);
        return;
      }
      case 'recording': {
        const list = await h.call<{ items?: Array<{ call_sid: string; has_recording: boolean }> }>(base, 'GET /calls', 'GET', '/api/v1/calls?status=completed&limit=5', { token });
        const sid = list?.body.items?.find((c) => c.has_recording)?.call_sid;
        if (!sid) return;
        const a = await h.call(base, 'GET /calls/{sid}/recording', 'GET', `/api/v1/calls/${sid}/recording`, { token });
        this.#accept(state, 'recording_download', a);
        return;
      }
      case 'receipt':
        await h.call(base, 'POST /receipts', 'POST', '/api/v1/receipts', { token, body: { vendor: 'Acme', amount: 12.5, currency: 'USD', issued_at: new Date().toISOString() } });
        return;
      case 'delete_receipts': {
        const a = await h.call(base, 'DELETE /receipts', 'DELETE', '/api/v1/receipts', { token });
        this.#accept(state, 'delete_receipts_all', a);
        return;
      }
      case 'job_control': {
        const ids = [...state.jobIds];
        const id = ids[Math.floor(Math.random() * ids.length)];
        if (!id) return;
        const r = Math.random();
        if (r < 0.45) {
          const a = await h.call(base, 'POST /jobs/{id}/pause', 'POST', `/api/v1/jobs/${id}/pause`, { token });
          if (a?.status === 200) {
            await new Promise((res) => setTimeout(res, 200 + Math.random() * 800));
            await h.call(base, 'POST /jobs/{id}/resume', 'POST', `/api/v1/jobs/${id}/resume`, { token });
          }
        } else if (r < 0.6) {
          await h.call(base, 'POST /jobs/{id}/cancel', 'POST', `/api/v1/jobs/${id}/cancel`, { token });
        } else {
          await h.call(base, 'GET /jobs', 'GET', '/api/v1/jobs?limit=10', { token });
        }
        return;
      }
      case 'get_job': {
        const ids = [...state.jobIds];
        const id = ids[Math.floor(Math.random() * ids.length)];
        if (id) await h.call(base, 'GET /jobs/{id}', 'GET', `/api/v1/jobs/${id}`, { token });
        return;
      }
    }
  }
}

/** Resumes a paused job through the API (drain helper: a paused job is not lost, it waits for a person). */
export function resumer(http: Http, base: () => string, tokens: Map<number, string>) {
  return async (jobId: number, businessId: number): Promise<void> => {
    const token = tokens.get(businessId);
    if (token) await http.call(base(), 'POST /jobs/{id}/resume (drain)', 'POST', `/api/v1/jobs/${jobId}/resume`, { token });
  };
}

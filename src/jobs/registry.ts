import type { JobHandlerDefinition } from './types.js';

/** Domains register their handlers here; the engine knows no domain. */
export class HandlerRegistry {
  readonly #handlers = new Map<string, JobHandlerDefinition>();

  register(...defs: JobHandlerDefinition[]): this {
    for (const def of defs) {
      if (this.#handlers.has(def.type)) throw new Error(`job handler ${def.type} registered twice`);
      this.#handlers.set(def.type, def);
    }
    return this;
  }

  get(type: string): JobHandlerDefinition | undefined {
    return this.#handlers.get(type);
  }

  types(): string[] {
    return [...this.#handlers.keys()];
  }
}

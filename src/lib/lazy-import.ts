/**
 * A module (or what is built from it) loaded on first use, once; a failed load is tried again on
 * the next use. For the provider SDKs a process may never call: Google's clients (~170 modules),
 * the AWS S3 client and OpenAI's together took 0.3 s of every start that loaded them (2-vCPU CI
 * machine, compiled: importing the server module took 0.93 s, now 0.63 s), and a worker with no
 * Gmail, S3 or transcription work, or an API process serving leads, needs none of them.
 */
export function lazyImport<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | null = null;
  return () => {
    loaded ??= load().catch((err: unknown) => {
      loaded = null;
      throw err;
    });
    return loaded;
  };
}

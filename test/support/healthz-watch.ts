/**
 * Polls /healthz back to back while something else runs and records how long each answer took. Ferry serves the
 * API, the workers and the writer from one event loop, so a request that waits long here means that loop was
 * blocked: the measure of "one input stalls the whole process".
 */
export interface HealthzWatch {
  /** Stops polling: the longest wait (ms, an answer or a late timer), how many answers, their latencies sorted. */
  stop(): Promise<{ maxMs: number; count: number; sorted: number[] }>;
}

export function watchHealthz(baseUrl: string, opts: { gapMs?: number } = {}): HealthzWatch {
  const latencies: number[] = [];
  let maxLate = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      const res = await fetch(`${baseUrl}/healthz`);
      await res.arrayBuffer();
      latencies.push(performance.now() - started);
      if (!res.ok) throw new Error(`/healthz answered ${res.status}`);
      // The test and Ferry share this process: a block that falls between two requests shows up as a late timer,
      // which a request sent at that moment would have waited for too.
      const gap = opts.gapMs ?? 10;
      const due = performance.now() + gap;
      await new Promise((resolve) => setTimeout(resolve, gap));
      const late = performance.now() - due;
      maxLate = Math.max(maxLate, late);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const sorted = [...latencies].sort((a, b) => a - b);
      return { maxMs: Math.max(sorted.at(-1) ?? 0, maxLate), count: sorted.length, sorted };
    },
  };
}

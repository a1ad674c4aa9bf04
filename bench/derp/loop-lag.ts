/**
 * Preload for diagnosing tail latency: prints the event-loop delay
 * histogram of the process every 2 s to stderr.
 *
 *   node --import tsx --import ./bench/derp/loop-lag.ts test/interop/derp/serve.ts
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

const h = monitorEventLoopDelay({ resolution: 1 });
h.enable();
setInterval(() => {
  const ms = (n: number): string => (n / 1e6).toFixed(1);
  process.stderr.write(`loop-lag p50 ${ms(h.percentile(50))} p99 ${ms(h.percentile(99))} max ${ms(h.max)} ms\n`);
  h.reset();
}, 2000).unref();

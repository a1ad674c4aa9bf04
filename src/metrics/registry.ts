import { collectDefaultMetrics, Registry } from 'prom-client';

/** A fresh registry with Node's default metrics (event-loop lag, heap, GC, fds). */
export function createRegistry(withDefaults = true): Registry {
  const registry = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: registry });
  return registry;
}

/** Composition helper for src/app.ts: the server tailnet on the embedded relay, in-process. */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Coordinator } from '../coordinator/index.js';
import { DerpClient } from '../derp/client.js';
import type { DerpServer } from '../derp/server.js';
import { createPeerMetrics } from '../metrics/peer.js';
import type { Clock } from '../util/clock.js';
import { peerError } from './errors.js';
import { ServerTailnet, type AgentDialer } from './server-tailnet.js';

export interface StartServerTailnetOptions {
  derp: DerpServer | null;
  coordinator: Coordinator;
  regionId: number;
  logger: Logger;
  clock: Clock;
  registry: Registry;
}

/**
 * Starts the server tailnet (registration with the coordinator, then an
 * in-process DERP session); without an embedded relay, a dialer that refuses.
 * Never throws: DERP failures are retried in the background.
 */
export function startServerTailnet(o: StartServerTailnetOptions): { dialer: AgentDialer; close(): void; tailnet: ServerTailnet | null } {
  const derp = o.derp;
  if (!derp) {
    const dialer: AgentDialer = {
      dial: () => Promise.reject(peerError('unreachable', 'the embedded DERP relay is disabled: the server tailnet has no relay to reach agents through')),
    };
    return { dialer, close: () => {}, tailnet: null };
  }
  const tailnet = new ServerTailnet({
    coordinator: o.coordinator,
    regionId: o.regionId,
    logger: o.logger.child({ component: 'server-tailnet' }),
    clock: o.clock,
    metrics: createPeerMetrics(o.registry),
    connectDerp: (key) => DerpClient.connectDuplex(derp.connectInProcess({}), key),
  });
  void tailnet.start();
  return { dialer: tailnet, close: () => tailnet.close(), tailnet };
}

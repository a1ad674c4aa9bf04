/**
 * The coder.tailnet.v2.Tailnet service for one connection (agent /me/rpc or
 * client /{agent}/coordinate): Coordinate (v2 adapter onto the shared core),
 * StreamDERPMaps, RefreshResumeToken (clients only) and PostTelemetry.
 */
import type { DERPMap as JsonDERPMap } from '../../derpmap/types.js';
import { derpMapToProto } from '../../rpc/convert/derpmap.js';
import { durationFromMillis } from '../../rpc/proto/google.js';
import type { TailnetServiceImpl } from '../../rpc/services/tailnet.js';
import type { Coordinator } from '../coordinator.js';
import type { TunnelAuth } from './auth.js';
import type { ResumeTokenProvider } from './resume.js';
import { serveCoordinateV2 } from './session.js';

export interface DerpMapFeed {
  current(): JsonDERPMap;
  /** Calls fn on every new map; returns the unsubscribe function. */
  subscribe(fn: (m: JsonDERPMap) => void): () => void;
}

export interface TailnetServiceOptions {
  coordinator: Coordinator;
  derpMap: DerpMapFeed;
  peerId: string;
  name: string;
  auth: TunnelAuth;
  /** Client endpoints only; agents get Unimplemented for RefreshResumeToken. */
  resumeTokens?: ResumeTokenProvider;
  /** Counts accepted telemetry events (PostTelemetry); events are otherwise discarded. */
  onTelemetry?: (events: number) => void;
  /** A Coordinate call ended because the coordinator shut down (close the whole connection). */
  onCoordinatorClosed?: () => void;
}

export function createTailnetService(opts: TailnetServiceOptions): TailnetServiceImpl {
  const impl: TailnetServiceImpl = {
    postTelemetry(req) {
      opts.onTelemetry?.(req.events.length);
      return {};
    },
    async streamDERPMaps(_req, send, ctx) {
      let last = '';
      let chain = Promise.resolve();
      let stop!: () => void;
      const stopped = new Promise<void>((r) => (stop = r));
      // Maps are sent in order; a failed send (call cancelled, transport gone) ends the stream.
      const offer = (m: JsonDERPMap): void => {
        const text = JSON.stringify(m);
        if (text === last) return;
        last = text;
        chain = chain.then(() => send(derpMapToProto(m))).catch(() => stop());
      };
      const unsubscribe = opts.derpMap.subscribe(offer);
      const onAbort = (): void => stop();
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      try {
        if (ctx.signal.aborted) return;
        offer(opts.derpMap.current());
        await stopped;
      } finally {
        unsubscribe();
        ctx.signal.removeEventListener('abort', onAbort);
      }
    },
    async coordinate(stream, ctx) {
      await serveCoordinateV2(opts.coordinator, stream, ctx, { peerId: opts.peerId, name: opts.name, auth: opts.auth });
      if (opts.coordinator.core.isClosed) opts.onCoordinatorClosed?.();
    },
  };
  const tokens = opts.resumeTokens;
  if (tokens) {
    impl.refreshResumeToken = () => {
      const t = tokens.issue(opts.peerId, opts.auth.agentId);
      return { token: t.token, refreshIn: durationFromMillis(t.refreshInMs), expiresAt: { seconds: t.expiresAt / 1000, nanos: 0 } };
    };
  }
  return impl;
}

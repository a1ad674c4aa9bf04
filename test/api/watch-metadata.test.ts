/**
 * GET /{agent}/watch-metadata (SSE) and /watch-metadata-ws (one-way WebSocket) against both store
 * engines, fed by a real agent connection (BatchUpdateMetadata over /me/rpc): auth and read
 * permission, the initial snapshot, updates sent on the 1 s tick of an injected clock (several
 * writes in one tick make one message), the 5 s refresh, SSE pings, the one-way rule and the
 * coderd answer to a plain request on the WebSocket route.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as ap from '../../src/rpc/proto/agent.js';
import { ManualClock } from '../../src/util/clock.js';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { eventually } from '../coordinator/helpers.js';
import { RpcClient } from '../v2/client.js';
import { AGENT_404, expectError, SIGNED_OUT } from './util.js';

interface Md {
  result: { collected_at: string; age: number; value: string; error: string };
  description: { display_name: string; key: string; script: string; interval: number; timeout: number };
}
interface SseEvent {
  event: string;
  data: Md[] | null;
}

/** Reads a text/event-stream body into complete events as they arrive. */
function sseReader(res: Response): { events: SseEvent[]; stop(): Promise<void> } {
  const events: SseEvent[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const lines = block.split('\n');
        const event = lines.find((l) => l.startsWith('event: '))!.slice(7);
        const data = lines.find((l) => l.startsWith('data: '));
        events.push({ event, data: data ? (JSON.parse(data.slice(6)) as Md[]) : null });
      }
    }
  })();
  return { events, stop: () => reader.cancel() };
}

describe.each(BACKENDS)('watch agent metadata (%s)', (backend) => {
  let s: TestServer;
  const clock = new ManualClock(Date.now());
  let owner: { id: string; username: string; key: string };
  beforeAll(async () => {
    s = await startTestServer({ backend, clock });
    owner = await s.user();
  });
  afterAll(async () => {
    await s.stop();
  });

  const setup = async () => {
    const b = await s.workspace(owner.username, [{ name: 'main' }]);
    const agent = b.agents[0]!;
    const rpc = await RpcClient.dial(s.url, '/api/v2/workspaceagents/me/rpc', { token: agent.token!, query: { version: '2.4' } });
    const report = (values: Record<string, string>) =>
      rpc.unary(ap.AgentMethods.BatchUpdateMetadata, ap.BatchUpdateMetadataRequest, ap.BatchUpdateMetadataResponse, {
        metadata: Object.entries(values).map(([key, value]) => ({ key, result: { age: 0, value, error: '' } })),
      });
    return { agent, rpc, report };
  };
  /** Moves the clock one send tick at a time until `pred` holds. */
  const tickUntil = (pred: () => boolean, what: string) =>
    eventually(() => {
      if (pred()) return true;
      clock.advance(1000);
      return pred();
    }, what);
  /** Whether anything still listens for this agent's metadata notifications (a leaked watch would). */
  const watched = (agentId: string) => (s.app.pubsub as unknown as { channels: Map<string, Set<unknown>> }).channels.has(`workspace_agent_metadata:${agentId}`);
  const valuesOf = (data: Md[] | null) => Object.fromEntries((data ?? []).map((m) => [m.description.key, m.result.value]));

  it('refuses without a session (401), for another user (404) and for a bad id (400), before streaming', async () => {
    const { agent, rpc } = await setup();
    const stranger = await s.user();
    for (const suffix of ['watch-metadata', 'watch-metadata-ws']) {
      await expectError(await s.request(`/api/v2/workspaceagents/${agent.id}/${suffix}`), 401, SIGNED_OUT, 'Cookie "coder_session_token" or query parameter must be provided.');
      await expectError(await s.request(`/api/v2/workspaceagents/${agent.id}/${suffix}`, { token: stranger.key }), 404, AGENT_404);
      expect((await s.request(`/api/v2/workspaceagents/not-a-uuid/${suffix}`, { token: owner.key })).status).toBe(400);
    }
    rpc.close();
  });

  it('SSE: snapshot first, then one message per tick with every change, sorted by key; refresh every 5 s; pings every 15 s', async () => {
    const { agent, rpc, report } = await setup();
    await report({ cpu: '10%', arch: 'amd64' });
    const res = await s.request(`/api/v2/workspaceagents/${agent.id}/watch-metadata`, { token: owner.key });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    const sse = sseReader(res);
    await eventually(() => sse.events.length === 1, 'snapshot');
    expect(sse.events[0]!.event).toBe('data');
    expect(sse.events[0]!.data!.map((m) => m.description.key)).toEqual(['arch', 'cpu']);
    expect(sse.events[0]!.data![1]).toEqual({
      result: { collected_at: new Date(clock.now()).toISOString(), age: 0, value: '10%', error: '' },
      description: { display_name: '', key: 'cpu', script: '', interval: 0, timeout: 0 },
    });

    await report({ cpu: '55%' });
    await report({ mem: '1G' });
    // Nothing is sent between ticks: the clock has not moved.
    await s.request(`/api/v2/workspaceagents/${agent.id}/metadata`, { token: owner.key });
    expect(sse.events).toHaveLength(1);
    await tickUntil(() => sse.events.some((e) => valuesOf(e.data)['mem'] === '1G' && valuesOf(e.data)['cpu'] === '55%'), 'both changes');
    const last = sse.events[sse.events.length - 1]!;
    expect(last.data!.map((m) => m.description.key)).toEqual(['arch', 'cpu', 'mem']);
    expect(valuesOf(last.data)).toEqual({ arch: 'amd64', cpu: '55%', mem: '1G' });
    // arch was collected before the ticks moved the clock: its age grows.
    expect(last.data![0]!.result.age).toBeGreaterThanOrEqual(1);

    // No change: only the 5 s refresh (ages stay current), and a ping every 15 s.
    const before = sse.events.length;
    clock.advance(4000);
    await s.request(`/api/v2/workspaceagents/${agent.id}/metadata`, { token: owner.key });
    expect(sse.events.length).toBeLessThanOrEqual(before + 1);
    clock.advance(15_000);
    await eventually(() => sse.events.some((e) => e.event === 'ping' && e.data === null), 'ping');
    const refreshes = sse.events.slice(before).filter((e) => e.event === 'data');
    expect(refreshes.length).toBeGreaterThanOrEqual(3);
    expect(refreshes.length).toBeLessThanOrEqual(5);
    await sse.stop();
    await eventually(() => !watched(agent.id), 'watch ended with the stream');
    rpc.close();
  });

  it('WebSocket: JSON text messages {"type":"data","data":[…]}; a client message closes with 1002', async () => {
    const { agent, rpc, report } = await setup();
    await report({ disk: '3%' });
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}/api/v2/workspaceagents/${agent.id}/watch-metadata-ws`, { headers: { 'Coder-Session-Token': owner.key } });
    const msgs: { type: string; data: Md[] }[] = [];
    ws.on('message', (d: Buffer, isBinary: boolean) => {
      expect(isBinary).toBe(false);
      msgs.push(JSON.parse(d.toString()) as { type: string; data: Md[] });
    });
    await new Promise((r) => ws.once('open', r));
    await eventually(() => msgs.length === 1, 'snapshot');
    expect(msgs[0]!.type).toBe('data');
    expect(valuesOf(msgs[0]!.data)).toEqual({ disk: '3%' });
    await report({ disk: '4%' });
    await tickUntil(() => msgs.some((m) => valuesOf(m.data)['disk'] === '4%'), 'update');
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    expect(watched(agent.id)).toBe(true);
    ws.send('hello');
    expect(await closed).toEqual({ code: 1002, reason: 'Clients cannot send messages for one-way WebSockets' });
    await eventually(() => !watched(agent.id), 'watch ended with the socket');
    rpc.close();
  });

  it('a write no notification announced (made through another replica) is picked up by the quiet 5 s refresh', async () => {
    const { agent, rpc, report } = await setup();
    await report({ load: '0.1' });
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}/api/v2/workspaceagents/${agent.id}/watch-metadata-ws`, { headers: { 'Coder-Session-Token': owner.key } });
    const msgs: { type: string; data: Md[] }[] = [];
    ws.on('message', (d: Buffer) => msgs.push(JSON.parse(d.toString()) as { type: string; data: Md[] }));
    await new Promise((r) => ws.once('open', r));
    await eventually(() => msgs.length === 1, 'snapshot');
    // Straight to the shared store: this process's pubsub hears nothing.
    await s.app.store.agentRuntime.upsertMetadata(agent.id, [{ key: 'load', value: '0.9', error: '', collected_at: new Date(clock.now()).toISOString() }]);
    clock.advance(1000);
    await s.request('/api/v2/buildinfo');
    expect(msgs.every((m) => valuesOf(m.data)['load'] === '0.1')).toBe(true);
    await tickUntil(() => msgs.some((m) => valuesOf(m.data)['load'] === '0.9'), 'refresh re-read');
    ws.close();
    rpc.close();
  });

  it('a plain GET on watch-metadata-ws: 426 text from the WebSocket library, then coderd\'s 500 JSON', async () => {
    const { agent, rpc } = await setup();
    const res = await s.request(`/api/v2/workspaceagents/${agent.id}/watch-metadata-ws`, { token: owner.key, headers: { Connection: 'keep-alive' } });
    expect(res.status).toBe(426);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.headers.get('upgrade')).toBe('websocket');
    const lib = 'WebSocket protocol violation: Connection header "keep-alive" does not contain Upgrade';
    expect(await res.text()).toBe(
      `${lib}\n${JSON.stringify({ message: 'Internal error setting up server-sent events.', detail: `cannot establish connection: failed to accept WebSocket connection: ${lib}` })}\n`,
    );
    expect(watched(agent.id)).toBe(false);
    rpc.close();
  });
});

/**
 * The server tailnet end to end inside one real tailnetd: the /pty route
 * dials a TS fake agent through the coordinator and the embedded DERP relay
 * (our node reaches the agent, WireGuard handshakes over DERP, TCP to port 2),
 * writes the init header first and copies bytes both ways untranslated.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { randomUUID } from 'node:crypto';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { eventually } from '../coordinator/helpers.js';
import { startFakeAgent, type FakeAgent } from './fake-agent.js';

function collect(ws: WebSocket): { bytes: () => Buffer; closed: Promise<{ code: number; reason: string }> } {
  const chunks: Buffer[] = [];
  ws.on('message', (d: Buffer) => chunks.push(d));
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
  ws.on('error', () => {});
  return { bytes: () => Buffer.concat(chunks), closed };
}

describe.each([false, true])('server tailnet ↔ TS fake agent through the embedded relay (derp-verify-clients=%s)', (verify) => {
  let s: TestServer;
  let agent: FakeAgent;
  let agentId: string;
  let owner: { key: string };

  beforeAll(async () => {
    s = await startTestServer({ env: { TAILNETD_DERP_VERIFY_CLIENTS: String(verify) } });
    const u = await s.user();
    owner = u;
    const b = await s.workspace(u.username, [{ name: 'main' }]);
    agentId = b.agents[0]!.id;
    agent = await startFakeAgent(s.url, b.agents[0]!.token!);
    await eventually(async () => {
      const r = await s.request(`/api/v2/workspaceagents/${agentId}`, { token: u.key });
      return ((await r.json()) as { status: string }).status === 'connected';
    }, 'agent connected');
  });
  afterAll(async () => {
    agent?.close();
    await s?.stop();
  });

  it('writes the 2-byte LE length + JSON init header first, then forwards browser frames as bytes', async () => {
    const id = randomUUID();
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}/api/v2/workspaceagents/${agentId}/pty?reconnect=${id.toUpperCase()}&height=24&width=100&command=sh&coder_session_token=${owner.key}`);
    const c = collect(ws);
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    const frame = Buffer.from(JSON.stringify({ data: 'echo hi\r', height: 30, width: 120 }));
    ws.send(frame, { binary: true });
    const header = JSON.stringify({ ID: id, Height: 24, Width: 100, Command: 'sh' });
    const want = Buffer.concat([Buffer.from([header.length & 0xff, header.length >> 8]), Buffer.from(header), frame]);
    await eventually(() => c.bytes().length >= want.length, 'echoed header and frame', 20_000);
    expect(c.bytes().equals(want)).toBe(true);
    expect(agent.peers()).toBe(1);
    // Metrics show the session and the dial.
    const m = await (await fetch(s.metricsUrl!)).text();
    expect(m).toMatch(/tailnetd_peer_dials_total\{port="2",result="ok"\} 1/);
    expect(m).toMatch(/tailnetd_peer_sessions 1/);
    ws.close(1000);
    expect((await c.closed).code).toBe(1000);
  });

  it('defaults height and width to 80 and an empty command; text frames are refused like nhooyr NetConn', async () => {
    const id = randomUUID();
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}/api/v2/workspaceagents/${agentId}/pty?reconnect=${id}&height=x&width=70000&coder_session_token=${owner.key}`);
    const c = collect(ws);
    await new Promise((r) => ws.once('open', r));
    const header = JSON.stringify({ ID: id, Height: 80, Width: 80, Command: '' });
    await eventually(() => c.bytes().length >= header.length + 2, 'echoed header', 20_000);
    expect(c.bytes().subarray(2).toString()).toBe(header);
    ws.send('text');
    const closed = await c.closed;
    expect(closed.code).toBe(1003);
  });

  it('listening-ports turns a non-HTTP answer from port 4 into 500 "Internal error fetching listening ports."', async () => {
    // The fake agent echoes the request back, which is not an HTTP response.
    const r = await s.request(`/api/v2/workspaceagents/${agentId}/listening-ports`, { token: owner.key });
    expect(r.status).toBe(500);
    expect(((await r.json()) as { message: string }).message).toBe('Internal error fetching listening ports.');
  });
});

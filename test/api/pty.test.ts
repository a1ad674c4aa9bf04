/**
 * /pty refusals before the upgrade (coder-agents-api §2.15), both store engines:
 * auth, execute permission (generic 404), agent status gate, `reconnect`
 * validation, cross-origin, and a plain GET → 426 from the WebSocket library with coderd's JSON after it.
 * A connected agent without a tailnet node ends the upgraded socket with 1011
 * "dial workspace agent: …".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { randomUUID } from 'node:crypto';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { V1Peer, eventually } from '../coordinator/helpers.js';

type Body = { message: string; detail?: string; validations?: Array<{ field: string; detail: string }> };

function refusal(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Body }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.close();
      reject(new Error('upgrade unexpectedly succeeded'));
    });
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text.trimEnd().split('\n').pop()!) as Body }));
    });
    ws.on('error', () => {});
  });
}

describe.each(BACKENDS)('GET /workspaceagents/{agent}/pty refusals (%s)', (backend) => {
  let s: TestServer;
  let owner: { key: string; username: string };
  let stranger: { key: string };
  let idle: string; // never connected
  let live: string; // coordinate socket open, no tailnet node
  let coord: V1Peer;
  const ws = (agent: string, q: string, token?: string): string =>
    `${s.url.replace('http', 'ws')}/api/v2/workspaceagents/${agent}/pty?${q}${token ? `&coder_session_token=${encodeURIComponent(token)}` : ''}`;

  beforeAll(async () => {
    s = await startTestServer({ backend });
    owner = await s.user();
    stranger = await s.user();
    idle = (await s.workspace(owner.username, [{ name: 'a' }])).agents[0]!.id;
    const b = await s.workspace(owner.username, [{ name: 'b' }]);
    live = b.agents[0]!.id;
    coord = await V1Peer.connect(`${s.url.replace('http', 'ws')}/api/v2/workspaceagents/me/coordinate?coder_session_token=${b.agents[0]!.token!}`);
    await eventually(async () => ((await (await s.request(`/api/v2/workspaceagents/${live}`, { token: owner.key })).json()) as { status: string }).status === 'connected', 'agent connected');
  });
  afterAll(async () => {
    coord?.ws.close();
    await s?.stop();
  });

  it('401 without a session, 404 for another user, 400 for a bad agent id', async () => {
    expect((await refusal(ws(live, `reconnect=${randomUUID()}`))).status).toBe(401);
    const foreign = await refusal(ws(live, `reconnect=${randomUUID()}`, stranger.key));
    expect(foreign.status).toBe(404);
    expect(foreign.body.message).toBe("Agent doesn't exist with that id, or you do not have access to it.");
    expect((await refusal(ws('nope', `reconnect=${randomUUID()}`, owner.key))).status).toBe(400);
  });

  it('400 with the status text when the agent is not connected', async () => {
    const r = await refusal(ws(idle, `reconnect=${randomUUID()}`, owner.key));
    expect(r.status).toBe(400);
    expect(r.body.message).toBe('Agent state is "connecting", it must be in the "connected" state.');
  });

  it("400 \"Query param 'reconnect' must be a valid UUID.\" for a missing or bad id", async () => {
    for (const q of ['', 'reconnect=', 'reconnect=abc', `reconnect=${randomUUID()}x`]) {
      const r = await refusal(ws(live, q, owner.key));
      expect(r.status).toBe(400);
      expect(r.body.message).toBe("Query param 'reconnect' must be a valid UUID.");
      expect(r.body.validations).toEqual([{ field: 'reconnect', detail: 'invalid UUID' }]);
    }
  });

  it('403 for a cross-origin browser request; plain GET → 426 library text, then "Failed to accept websocket."', async () => {
    const cross = await refusal(ws(live, `reconnect=${randomUUID()}`, owner.key), { Origin: 'https://evil.example' });
    expect(cross.status).toBe(403);
    expect(cross.body.detail).toMatch(/^failed to accept WebSocket connection: request Origin "https:\/\/evil\.example" is not authorized for Host "127\.0\.0\.1:\d+"$/);
    const r = await s.request(`/api/v2/workspaceagents/${live}/pty?reconnect=${randomUUID()}`, { token: owner.key });
    expect(r.status).toBe(426);
    const [text, json] = (await r.text()).trimEnd().split('\n');
    expect(text).toMatch(/^WebSocket protocol violation: Connection header ".*" does not contain Upgrade$/);
    expect((JSON.parse(json!) as Body).message).toBe('Failed to accept websocket.');
  });

  it('accepts Go uuid.Parse forms and closes 1011 "dial workspace agent: …" when the agent has no tailnet node', async () => {
    const hex = randomUUID().replace(/-/g, '');
    const sock = new WebSocket(ws(live, `reconnect={${randomUUID()}}`, owner.key));
    sock.on('error', () => {});
    const t0 = Date.now();
    const closed = await new Promise<{ code: number; reason: string }>((r) => sock.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    expect(Date.now() - t0).toBeLessThan(25_000); // the 15 s dial bound, not ws's 30 s close timeout
    expect(closed.code).toBe(1011);
    expect(closed.reason).toMatch(/^dial workspace agent: /);
    expect(Buffer.byteLength(closed.reason)).toBeLessThanOrEqual(123);
    const sock2 = new WebSocket(ws(live, `reconnect=${hex}`, owner.key));
    sock2.on('error', () => {});
    await new Promise((r) => sock2.once('open', r));
    sock2.close();
  }, 40_000);
});

/**
 * Browser → /pty: headless Chromium (playwright-core, Debian's /usr/bin/chromium)
 * runs a minimal xterm.js page that opens tailnetd's /pty WebSocket the way
 * the 2023 UI does (binaryType arraybuffer, every keystroke/resize a binary
 * frame of UTF-8 JSON {data,height,width}), against the TS fake agent (a TCP
 * echo behind the server tailnet). The page is fulfilled on tailnetd's own
 * origin so the Origin check passes; auth is the session cookie.
 * Skips, saying why, when no Chromium is installed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { eventually } from '../coordinator/helpers.js';
import { startFakeAgent, type FakeAgent } from './fake-agent.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`browser-pty: skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
const require = createRequire(import.meta.url);

const page = (agentId: string, id: string): string => `<!doctype html><html><head><meta charset="utf-8">
<style>${readFileSync(require.resolve('@xterm/xterm/css/xterm.css'), 'utf8')}</style></head><body><div id="t"></div>
<script>${readFileSync(require.resolve('@xterm/xterm/lib/xterm.js'), 'utf8')}</script>
<script>
  const term = new Terminal({ cols: 100, rows: 30, convertEol: true });
  term.open(document.getElementById('t'));
  const enc = new TextEncoder();
  window.received = 0;
  window.closed = null;
  const ws = new WebSocket('ws://' + location.host + '/api/v2/workspaceagents/${agentId}/pty?reconnect=${id}&height=30&width=100&command=sh');
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => { window.opened = true; ws.send(enc.encode(JSON.stringify({ height: 30, width: 100 }))); };
  ws.onmessage = (e) => { const b = new Uint8Array(e.data); window.received += b.length; term.write(b); };
  ws.onclose = (e) => { window.closed = e.code; };
  term.onData((d) => ws.send(enc.encode(JSON.stringify({ data: d }))));
  window.screenText = () => { const b = term.buffer.active; let s = ''; for (let i = 0; i < b.length; i++) s += b.getLine(i).translateToString(true) + '\\n'; return s; };
  term.focus();
</script></body></html>`;

describe.skipIf(!haveChromium)('browser xterm.js page → /pty → server tailnet → agent', () => {
  let s: TestServer;
  let agent: FakeAgent;
  let agentId: string;
  let owner: { key: string };

  beforeAll(async () => {
    s = await startTestServer();
    const u = await s.user();
    owner = u;
    const b = await s.workspace(u.username, [{ name: 'main' }]);
    agentId = b.agents[0]!.id;
    agent = await startFakeAgent(s.url, b.agents[0]!.token!);
    await eventually(async () => ((await (await s.request(`/api/v2/workspaceagents/${agentId}`, { token: u.key })).json()) as { status: string }).status === 'connected', 'agent connected');
  });
  afterAll(async () => {
    agent?.close();
    await s?.stop();
  });

  it('keystrokes travel as JSON frames and come back as terminal bytes', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-features=LocalNetworkAccessChecks'] // the routed page has no real address space,
    });
    try {
      const ctx = await browser.newContext();
      const u = new URL(s.url);
      await ctx.addCookies([{ name: 'coder_session_token', value: owner.key, domain: u.hostname, path: '/' }]);
      const p = await ctx.newPage();
      const log: string[] = [];
      p.on('console', (m) => log.push(`console.${m.type()}: ${m.text()}`));
      p.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
      const id = randomUUID();
      await p.route(`${s.url}/__pty_test`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: page(agentId, id) }));
      await p.goto(`${s.url}/__pty_test`);
      await p.waitForFunction(() => (globalThis as unknown as { opened?: boolean }).opened === true, undefined, { timeout: 20_000 }).catch(async (e: unknown) => {
        const closed = await p.evaluate(() => (globalThis as unknown as { closed: number | null }).closed).catch(() => 'n/a');
        throw new Error(`page never opened the WebSocket (close code ${String(closed)}): ${String(e)}\n${log.join('\n')}`);
      });
      await p.keyboard.type('hi!');
      // The echo agent returns the init header, the resize frame and one {"data":…} frame per key.
      await p.waitForFunction(() => ((globalThis as unknown as { screenText(): string }).screenText()).includes('{"data":"!"}'), undefined, { timeout: 20_000 });
      const text = await p.evaluate(() => (globalThis as unknown as { screenText(): string }).screenText());
      const flat = text.replace(/\n/g, '');
      expect(flat).toContain(`{"ID":"${id}","Height":30,"Width":100,"Command":"sh"}`);
      expect(flat).toContain('{"height":30,"width":100}{"data":"h"}{"data":"i"}{"data":"!"}');
    } finally {
      await browser.close();
    }
  }, 60_000);
});

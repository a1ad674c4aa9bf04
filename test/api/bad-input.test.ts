/**
 * Hostile and malformed input: bad JSON, wrong types, unknown routes, oversized bodies.
 * The process keeps serving afterwards.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { expectError } from './util.js';

const LIFECYCLE = '/api/v2/workspaceagents/me/report-lifecycle';

/** Sends raw bytes and returns the status line and body of the response. */
function rawRequest(url: string, head: string, body: Buffer): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname);
    let data = '';
    sock.on('data', (c) => (data += c.toString('latin1')));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (!m) return reject(new Error(`no response: ${JSON.stringify(data.slice(0, 100))}`));
      resolve({ status: Number(m[1]), text: data.slice(data.indexOf('\r\n\r\n') + 4) });
    });
    sock.write(head);
    sock.write(body, () => sock.end());
  });
}

describe.each(BACKENDS)('bad input (%s)', (backend) => {
  let s: TestServer;
  let token: string;
  let ownerKey: string;

  beforeAll(async () => {
    s = await startTestServer({ backend });
    const owner = await s.user();
    ownerKey = owner.key;
    token = (await s.workspace(owner.username, [{}])).agents[0]!.token!;
  });
  afterAll(async () => {
    await s.stop();
  });

  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) => s.request(path, { method: 'POST', token, body, headers });

  it('malformed JSON → 400 "Request body must be valid JSON." (empty body: detail "EOF")', async () => {
    await expectError(await post(LIFECYCLE, ''), 400, 'Request body must be valid JSON.', 'EOF');
    await expectError(await post(LIFECYCLE, '   \n'), 400, 'Request body must be valid JSON.', 'EOF');
    await expectError(await post(LIFECYCLE, '{"state":'), 400, 'Request body must be valid JSON.', 'unexpected EOF');
    await expectError(await post(LIFECYCLE, 'xyz'), 400, 'Request body must be valid JSON.', "invalid character 'x' looking for beginning of value");
    await expectError(await post(LIFECYCLE, 'nope'), 400, 'Request body must be valid JSON.', "invalid character 'o' in literal null (expecting 'u')");
    await expectError(await post(LIFECYCLE, '{"state":"ready",}'), 400, 'Request body must be valid JSON.', "invalid character '}' looking for beginning of object key string");
    // Go does not skip a byte order mark; it names the first byte of U+FEFF.
    await expectError(await post(LIFECYCLE, '\ufeff{"state":"ready"}'), 400, 'Request body must be valid JSON.', "invalid character 'ï' looking for beginning of value");
    await expectError(await s.request('/api/v2/admin/users', { method: 'POST', token: s.admin.key, body: '{' }), 400, 'Request body must be valid JSON.');
  });

  it('bodies that are not UTF-8 are decoded from their bytes, as Go does (the bad byte is named, not a replacement char)', async () => {
    await expectError(await post(LIFECYCLE, Buffer.from([0xff, 0x7b])), 400, 'Request body must be valid JSON.', "invalid character 'ÿ' looking for beginning of value");
    // Inside a string an invalid byte is accepted (Go replaces it with U+FFFD).
    expect((await post('/api/v2/workspaceagents/me/startup', Buffer.concat([Buffer.from('{"version":"v1.2.3","expanded_directory":"/x'), Buffer.from([0xff]), Buffer.from('"}')]))).status).toBe(200);
  });

  it('only the first JSON value is read; trailing bytes are ignored, as Go does', async () => {
    expect((await post(LIFECYCLE, '{"state":"ready"} trailing garbage')).status).toBe(204);
    expect((await post(LIFECYCLE, '{"state":"starting"}{"state":"bogus"}')).status).toBe(204);
  });

  it('field names match case-insensitively; unknown fields are ignored', async () => {
    expect((await post(LIFECYCLE, '{"STATE":"ready","extra":[1,2,3]}')).status).toBe(204);
  });

  it('wrong types → 400 invalid JSON', async () => {
    await expectError(await post(LIFECYCLE, '{"state":42}'), 400, 'Request body must be valid JSON.');
    await expectError(await post(LIFECYCLE, '"ready"'), 400, 'Request body must be valid JSON.');
    await expectError(await post(LIFECYCLE, '[{"state":"ready"}]'), 400, 'Request body must be valid JSON.');
    await expectError(await post('/api/v2/workspaceagents/me/report-stats', '{"rx_bytes":1.5}'), 400, 'Request body must be valid JSON.');
    await expectError(await post('/api/v2/workspaceagents/me/app-health', '{"healths":[]}'), 400, 'Request body must be valid JSON.');
    await expectError(await post('/api/v2/workspaceagents/me/startup', '{"version":["v1"]}'), 400, 'Request body must be valid JSON.');
  });

  it('unknown routes → 404 "Route not found."', async () => {
    await expectError(await s.request('/api/v2/nothing-here'), 404, 'Route not found.');
    await expectError(await s.request('/api/v2/workspaceagents/me/metadata/extra', { token }), 404, 'Route not found.');
    await expectError(await s.request('/nope'), 404, 'Route not found.');
    const wrongMethod = await s.request('/api/v2/workspaceagents/me/metadata', { method: 'DELETE', token });
    expect(wrongMethod.status).toBe(405);
    await wrongMethod.text();
  });

  it('bodies over 1 MiB → 413 (declared length and chunked), and the process keeps serving', async () => {
    const big = Buffer.alloc((1 << 20) + 1, 0x20);
    const declared = await rawRequest(
      s.url,
      `POST ${LIFECYCLE} HTTP/1.1\r\nHost: x\r\nCoder-Session-Token: ${token}\r\nContent-Type: application/json\r\nContent-Length: ${big.length}\r\nConnection: close\r\n\r\n`,
      big,
    );
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.text)).toMatchObject({ message: 'Request body too large.' });

    const chunk = Buffer.alloc(256 * 1024, 0x20);
    let body = Buffer.alloc(0);
    for (let i = 0; i < 5; i++) body = Buffer.concat([body, Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
    body = Buffer.concat([body, Buffer.from('0\r\n\r\n')]);
    const chunked = await rawRequest(
      s.url,
      `POST ${LIFECYCLE} HTTP/1.1\r\nHost: x\r\nCoder-Session-Token: ${token}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`,
      body,
    );
    expect(chunked.status).toBe(413);

    // Exactly 1 MiB is accepted (the body is a valid JSON value padded with spaces).
    const json = Buffer.from('{"state":"ready"}');
    const atLimit = Buffer.concat([json, Buffer.alloc((1 << 20) - json.length, 0x20)]);
    expect((await post(LIFECYCLE, atLimit)).status).toBe(204);

    expect((await s.request('/healthz')).status).toBe(200);
    expect((await s.request(`/api/v2/workspaceagents/me/metadata`, { token })).status).toBe(200);
  });

  it('an endless chunked body is cut off after the 413: the server closes the connection instead of draining it', async () => {
    const u = new URL(s.url);
    const sock = connect(Number(u.port), u.hostname);
    await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
    let response = '';
    sock.on('data', (c) => (response += c.toString('latin1')));
    const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    sock.on('error', () => undefined);
    sock.write(`POST ${LIFECYCLE} HTTP/1.1\r\nHost: x\r\nCoder-Session-Token: ${token}\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const chunk = Buffer.concat([Buffer.from(`${(64 * 1024).toString(16)}\r\n`), Buffer.alloc(64 * 1024, 0x20), Buffer.from('\r\n')]);
    let sent = 0;
    let isClosed = false;
    void closed.then(() => (isClosed = true));
    while (!isClosed && sent < 64 * 1024 * 1024) {
      if (!sock.write(chunk)) await Promise.race([new Promise((r) => sock.once('drain', r)), closed]);
      sent += chunk.length;
    }
    sock.destroy();
    expect(response).toMatch(/^HTTP\/1\.1 413 /);
    expect(sent).toBeLessThan(32 * 1024 * 1024);
  });

  it('percent-encoding junk in a path parameter is a 400, not a crash', async () => {
    await expectError(await s.request('/api/v2/workspaceagents/%E0%A4%A', { token: ownerKey }), 400, 'Invalid UUID "%E0%A4%A".');
  });
});

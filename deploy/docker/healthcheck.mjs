// Container HEALTHCHECK: GET /healthz on the port of TAILNETD_HTTP_ADDRESS (default 3000).
// Exit 0 when it answers 200 within the timeout, 1 otherwise. No dependencies, plain Node 20.
const address = process.env.TAILNETD_HTTP_ADDRESS ?? '0.0.0.0:3000';
const port = Number(address.slice(address.lastIndexOf(':') + 1)) || 3000;
const timeoutMs = 2500;

try {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
  process.exit(res.status === 200 ? 0 : 1);
} catch {
  process.exit(1);
}

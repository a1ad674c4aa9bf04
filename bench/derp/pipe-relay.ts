/**
 * The ceiling for any Node relay: two sockets that sent the same
 * `J <id>\n` line are piped to each other both ways, bytes untouched.
 *
 *   node --import tsx bench/derp/pipe-relay.ts   → prints PIPE_URL=http://127.0.0.1:<port>/ and READY=1
 */
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

const waiting = new Map<string, { sock: Socket; rest: Buffer }>();

const server = createServer((sock) => {
  sock.setNoDelay(true);
  let buf = Buffer.alloc(0);
  const onData = (d: Buffer): void => {
    buf = Buffer.concat([buf, d]);
    const nl = buf.indexOf(10);
    if (nl < 0) return;
    sock.off('data', onData);
    sock.pause();
    const id = buf.subarray(0, nl).toString().replace(/^J /, '');
    const rest = buf.subarray(nl + 1);
    const peer = waiting.get(id);
    if (!peer) {
      waiting.set(id, { sock, rest });
      return;
    }
    waiting.delete(id);
    if (peer.rest.length) sock.write(peer.rest);
    if (rest.length) peer.sock.write(rest);
    peer.sock.pipe(sock);
    sock.pipe(peer.sock);
    peer.sock.resume();
    sock.resume();
  };
  sock.on('data', onData);
  sock.on('error', () => sock.destroy());
});
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`PIPE_URL=http://127.0.0.1:${port}/\nPID=${process.pid}\nREADY=1\n`);
});
process.on('SIGTERM', () => process.exit(0));

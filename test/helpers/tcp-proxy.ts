/**
 * A small TCP proxy for fault tests: forwards to a target and can blackhole
 * (keep connections open, silently drop bytes both ways) or cut every
 * connection. Listens on 127.0.0.1, port 0.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export class TcpProxy {
  private readonly server: Server;
  private readonly pairs = new Set<[Socket, Socket]>();
  /** Blackhole every connection, present and future. */
  blackholed = false;
  private readonly dead = new WeakSet<[Socket, Socket]>();
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {
    this.server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      const end = (): void => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      client.on('data', (d: Buffer) => {
        if (!this.blackholed && !this.dead.has(pair)) upstream.write(d);
      });
      upstream.on('data', (d: Buffer) => {
        if (!this.blackholed && !this.dead.has(pair)) client.write(d);
      });
    });
  }

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    const p = new TcpProxy(targetHost, targetPort);
    await new Promise<void>((r) => p.server.listen(0, '127.0.0.1', r));
    p.port = (p.server.address() as AddressInfo).port;
    return p;
  }

  /** Silently drops the bytes of the connections open now (a dead NAT entry); new connections work. */
  blackholeExisting(): number {
    for (const p of this.pairs) this.dead.add(p);
    return this.pairs.size;
  }

  /** Destroys every proxied connection (both sides see a reset/close). */
  cutAll(): void {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

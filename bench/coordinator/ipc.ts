/** Minimal request/response over a forked child's IPC channel. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

type Handler = (params: unknown) => unknown | Promise<unknown>;
interface Req {
  id: number;
  method: string;
  params: unknown;
}
interface Res {
  id: number;
  result?: unknown;
  error?: string;
}

/** Child side: answer requests with the given handlers. */
export function serveIpc(handlers: Record<string, Handler>): void {
  process.on('message', (msg: Req) => {
    void (async () => {
      const res: Res = { id: msg.id };
      try {
        const h = handlers[msg.method];
        if (!h) throw new Error(`no handler ${msg.method}`);
        res.result = await h(msg.params);
      } catch (e) {
        res.error = e instanceof Error ? e.stack ?? e.message : String(e);
      }
      process.send?.(res);
    })();
  });
  process.on('disconnect', () => process.exit(0));
}

export class Child {
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly proc: ChildProcess;

  constructor(script: string, args: string[] = []) {
    const file = fileURLToPath(new URL(script, import.meta.url));
    this.proc = fork(file, args, {
      // TAILNETD_BENCH_CPU_PROF=1: servers write a V8 CPU profile to bench/.out/prof on exit (read with bench/derp/prof-top.ts).
      execArgv: ['--import', 'tsx', '--expose-gc', '--max-old-space-size=4096', ...(process.env.TAILNETD_BENCH_CPU_PROF === '1' && script.includes('server') ? ['--cpu-prof', `--cpu-prof-dir=${fileURLToPath(new URL('../.out/prof', import.meta.url))}`] : [])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.proc.on('message', (m: Res) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.error !== undefined) w.reject(new Error(m.error));
      else w.resolve(m.result);
    });
    this.proc.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`${script} exited (${code})`));
      this.waiting.clear();
    });
  }

  call<T>(method: string, params: unknown = null): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ id, method, params });
    });
  }

  kill(): void {
    if (this.proc.exitCode !== null) return;
    if (process.env.TAILNETD_BENCH_CPU_PROF === '1' && this.proc.connected) {
      // A clean exit (on IPC disconnect) writes the CPU profile; SIGKILL would lose it.
      this.proc.disconnect();
      setTimeout(() => this.proc.exitCode === null && this.proc.kill('SIGKILL'), 5000).unref();
      return;
    }
    this.proc.kill('SIGKILL');
  }
}

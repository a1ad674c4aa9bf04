/**
 * Lints deploy/Dockerfile by parsing its instructions (hadolint is not packaged for this
 * machine): multi-stage, pinned bases, non-root numeric USER, production-only dependencies in
 * the runtime stage, native addons carried over, HEALTHCHECK, EXPOSE, listen addresses that
 * are real tailnetd options. Also runs the HEALTHCHECK script against a live HTTP server.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployPath, envNamesKnown, repoPath } from './helpers.js';

const text = readFileSync(deployPath('Dockerfile'), 'utf8');
const dockerfile = DockerfileParser.parse(text);

interface Stage {
  from: string;
  tag: string | null;
  name: string | null;
  instructions: Instruction[];
}

function stages(): Stage[] {
  const out: Stage[] = [];
  for (const ins of dockerfile.getInstructions()) {
    if (ins.getKeyword() === 'FROM') {
      const from = dockerfile.getFROMs().find((f) => f.getRange().start.line === ins.getRange().start.line)!;
      out.push({ from: from.getImageName() ?? '', tag: from.getImageTag(), name: from.getBuildStage(), instructions: [] });
    } else {
      expect(out.length, `${ins.getKeyword()} before the first FROM`).toBeGreaterThan(0);
      out[out.length - 1]!.instructions.push(ins);
    }
  }
  return out;
}

const args = (ins: Instruction): string => ins.getArgumentsContent() ?? '';
/** Instruction text after the keyword, flags included (getArgumentsContent drops them). */
const raw = (ins: Instruction): string => ins.getTextContent().replace(/^\s*\S+\s+/, '').trim();
const of = (stage: Stage, keyword: string): Instruction[] => stage.instructions.filter((i) => i.getKeyword() === keyword);

describe('deploy/Dockerfile', () => {
  const all = stages();
  const runtime = all[all.length - 1]!;
  const named = new Set(all.map((s) => s.name).filter((n): n is string => n !== null));

  it('is multi-stage with a named runtime stage last', () => {
    expect(all.length).toBeGreaterThanOrEqual(3);
    expect(runtime.name).toBe('runtime');
  });

  it('pins every external base image to an exact node 20 bookworm-slim tag (no latest, no floating major)', () => {
    for (const s of all) {
      if (named.has(s.from)) continue; // FROM an earlier stage
      expect(s.from).toBe('node');
      expect(s.tag, `tag of FROM ${s.from}`).toMatch(/^20\.\d+\.\d+-bookworm-slim$/);
    }
    // one base for every stage, so the native addon built in deps runs in runtime (same glibc)
    expect(new Set(all.filter((s) => !named.has(s.from)).map((s) => s.tag)).size).toBe(1);
  });

  it('runs as a numeric non-root user in the runtime stage', () => {
    const users = of(runtime, 'USER');
    expect(users).toHaveLength(1);
    const user = args(users[0]!).trim();
    expect(user).toMatch(/^\d+(:\d+)?$/); // Kubernetes runAsNonRoot can only check numeric UIDs
    expect(Number(user.split(':')[0])).toBeGreaterThan(0);
    // USER comes after every RUN, so nothing later runs as root
    const idx = runtime.instructions.indexOf(users[0]!);
    expect(runtime.instructions.slice(idx).some((i) => i.getKeyword() === 'RUN')).toBe(false);
  });

  it('installs production dependencies only for the runtime and builds in a separate stage', () => {
    const deps = all.find((s) => s.name === 'deps')!;
    expect(of(deps, 'RUN').map(args).join('\n')).toMatch(/npm ci --omit=dev\b/);
    const build = all.find((s) => s.name === 'build')!;
    expect(of(build, 'RUN').map(args).join('\n')).toMatch(/npm run build/);
    // the runtime stage never installs: it copies node_modules from deps, dist from build
    expect(of(runtime, 'RUN').map(args).join('\n')).not.toMatch(/npm (ci|install|i)\b/);
    const copies = of(runtime, 'COPY').map(raw);
    expect(copies).toContain('--from=deps /src/node_modules ./node_modules');
    expect(copies).toContain('--from=build /src/dist ./dist');
    expect(copies.some((c) => /--from=build\s+\S*node_modules/.test(c)), 'dev node_modules copied').toBe(false);
  });

  it('needs no dev dependency at run time: every package src/ imports is a production dependency', () => {
    const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const imported = new Set<string>();
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.ts')) {
          for (const line of readFileSync(p, 'utf8').split('\n')) {
            if (/^\s*(import|export)\s+type\b/.test(line)) continue; // erased at compile time
            for (const m of line.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)'([^'./][^']*)'/g)) imported.add(m[1]!);
          }
        }
      }
    };
    walk(repoPath('src'));
    const packages = [...imported]
      .filter((s) => !s.startsWith('node:') && !builtinModules.includes(s))
      .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!));
    expect(packages.length).toBeGreaterThan(5);
    expect([...new Set(packages)].filter((p) => !(p in pkg.dependencies))).toEqual([]);
  });

  it('gives the native addons (better-sqlite3, msgpackr-extract) a toolchain in the stage that installs them', () => {
    const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(pkg.dependencies)).toContain('better-sqlite3');
    const toolchain = all.find((s) => s.name === 'toolchain')!;
    expect(of(toolchain, 'RUN').map(args).join('\n')).toMatch(/python3.*make.*g\+\+/s);
    expect(all.find((s) => s.name === 'deps')!.from).toBe('toolchain');
    expect(all.find((s) => s.name === 'build')!.from).toBe('toolchain');
    expect(named.has(runtime.from)).toBe(false); // the runtime has no compiler
  });

  it('has a HEALTHCHECK on /healthz, EXPOSEs the three ports and starts `tailnetd server`', () => {
    const hc = of(runtime, 'HEALTHCHECK');
    expect(hc).toHaveLength(1);
    expect(args(hc[0]!)).toContain('/app/deploy/docker/healthcheck.mjs');
    expect(readFileSync(deployPath('docker/healthcheck.mjs'), 'utf8')).toContain('/healthz');
    const exposed = of(runtime, 'EXPOSE').flatMap((i) => args(i).split(/\s+/));
    expect(exposed.sort()).toEqual(['2112/tcp', '3000/tcp', '3478/udp']);
    expect(args(of(runtime, 'ENTRYPOINT')[0]!)).toBe('["node", "/app/dist/cli/index.js"]');
    expect(args(of(runtime, 'CMD')[0]!)).toBe('["server"]');
  });

  it('sets listen addresses through real tailnetd environment names, on the exposed ports', () => {
    const env: Record<string, string> = {};
    for (const e of runtime.instructions.filter((i) => i.getKeyword() === 'ENV')) {
      for (const m of args(e).matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)) env[m[1]!] = m[2]!;
    }
    const names = Object.keys(env).filter((n) => n.startsWith('TAILNETD_'));
    expect(envNamesKnown(names)).toEqual({ unknown: [], pending: [] });
    expect(env.TAILNETD_HTTP_ADDRESS).toBe('0.0.0.0:3000');
    expect(env.TAILNETD_PROMETHEUS_ADDRESS).toBe('0.0.0.0:2112');
    expect(env.TAILNETD_STUN_ADDRESS).toBe('0.0.0.0:3478');
    expect(env.TAILNETD_DATA_DIR).toBeDefined();
  });

  it('follows the hadolint rules that apply here (DL3000, DL3002, DL3009, DL3014, DL3015, DL3020, DL3025, DL4006)', () => {
    const ins = dockerfile.getInstructions();
    for (const i of ins) {
      const kw = i.getKeyword();
      expect(kw, 'DL3020: COPY, not ADD').not.toBe('ADD');
      if (kw === 'WORKDIR') expect(args(i), 'DL3000: absolute WORKDIR').toMatch(/^\//);
      if (kw === 'RUN') {
        const cmd = args(i);
        expect(cmd, 'no sudo').not.toMatch(/\bsudo\b/);
        expect(cmd, 'DL4006: pipes need pipefail').not.toMatch(/[^|]\|[^|]/);
        if (/apt-get install/.test(cmd)) {
          expect(cmd, 'DL3015: --no-install-recommends').toContain('--no-install-recommends');
          expect(cmd, 'DL3014: -y').toMatch(/install -y\b/);
          expect(cmd, 'DL3009: clean the apt lists in the same layer').toContain('rm -rf /var/lib/apt/lists/*');
          expect(cmd, 'apt-get update in the same layer').toMatch(/apt-get update/);
        }
        if (/\bnpm ci\b/.test(cmd)) expect(cmd, 'npm ci, never npm install').not.toMatch(/npm (install|i)\b/);
      }
      if (kw === 'CMD' || kw === 'ENTRYPOINT') expect(args(i), 'DL3025: JSON form, so node is PID 1 and gets SIGTERM').toMatch(/^\[.*\]$/);
    }
    // DL3002: the last USER is not root
    const users = ins.filter((i) => i.getKeyword() === 'USER');
    expect(args(users[users.length - 1]!)).not.toMatch(/^(root|0)(:|$)/);
    // one RUN per stage at most for apt (no split update/install layers)
    for (const st of all) expect(of(st, 'RUN').filter((r) => /apt-get/.test(args(r))).length).toBeLessThanOrEqual(1);
  });

  it('has a .dockerignore that keeps host node_modules, dist, VCS data and secrets out of the context', () => {
    const ignore = readFileSync(repoPath('.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const p of ['.git', 'node_modules', 'dist', '.tailnetd', '**/.env']) expect(ignore).toContain(p);
    // but nothing the Dockerfile COPYs from the context
    for (const p of ['src', 'package.json', 'package-lock.json', 'tsconfig.json', 'deploy/docker', 'deploy']) expect(ignore).not.toContain(p);
  });
});

describe('deploy/docker/healthcheck.mjs', () => {
  let server: Server;
  let status = 200;
  let port = 0;
  beforeAll(async () => {
    server = createServer((req, res) => res.writeHead(req.url === '/healthz' ? status : 404).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const run = async (address: string): Promise<number> => {
    try {
      await promisify(execFile)(process.execPath, [deployPath('docker/healthcheck.mjs')], { env: { TAILNETD_HTTP_ADDRESS: address }, timeout: 10_000 });
      return 0;
    } catch (err) {
      return (err as { code?: number }).code ?? -1;
    }
  };

  it('exits 0 when /healthz answers 200 on the port of TAILNETD_HTTP_ADDRESS, 1 otherwise', async () => {
    status = 200;
    expect(await run(`0.0.0.0:${port}`)).toBe(0);
    status = 503;
    expect(await run(`0.0.0.0:${port}`)).toBe(1);
    server.close();
    expect(await run(`0.0.0.0:${port}`)).toBe(1);
  });
});

#!/usr/bin/env node
/**
 * tailnetd CLI. Exit codes: 0 ok, 1 runtime failure, 2 bad configuration or usage.
 */
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, loadConfig, redactedConfig } from '../config/load.js';
import { optionDefs, sectionDefs, sectionFlag } from '../config/schema.js';
import { runServer } from './server.js';
import { registerProvisioning } from './provision.js';
import { UsageError } from './errors.js';
import { validateDerpMap } from '../derpmap/index.js';
import { VERSION } from '../version.js';
import { randomBytes } from 'node:crypto';

function camel(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** Adds every server option as a flag; returns a function mapping parsed opts back to flag names. */
function addServerOptions(cmd: Command): (opts: Record<string, unknown>) => Record<string, unknown> {
  const flags: string[] = [];
  for (const def of optionDefs) {
    cmd.addOption(new Option(`--${def.flag} <value>`, `${def.description} [${def.env.join(', ')}]`));
    flags.push(def.flag);
  }
  for (const section of sectionDefs) {
    for (const envName of Object.values(section.env)) {
      const flag = sectionFlag(envName);
      cmd.addOption(new Option(`--${flag} <value>`, `[${envName}]`));
      flags.push(flag);
    }
  }
  cmd.option('--config <file>', 'config file (YAML or JSON); flags and environment take precedence');
  return (opts) => Object.fromEntries(flags.map((f) => [f, opts[camel(f)]]).filter(([, v]) => v !== undefined));
}

function load(opts: Record<string, unknown>, toFlags: (o: Record<string, unknown>) => Record<string, unknown>) {
  return loadConfig({ flags: toFlags(opts), env: process.env, ...(typeof opts['config'] === 'string' ? { file: opts['config'] } : {}) });
}

const program = new Command('tailnetd')
  .description('Coder-compatible workspace agents API, tailnet coordinator and DERP relay')
  .version(VERSION)
  .exitOverride();

const server = program.command('server').description('run the server (defaults: 127.0.0.1:3000, SQLite under ./.tailnetd, no Redis)');
const serverFlags = addServerOptions(server);
server.action(async (opts: Record<string, unknown>) => {
  await runServer(load(opts, serverFlags));
});

const config = program.command('config').description('inspect the effective configuration');
const printCmd = config.command('print').description('print the effective configuration (secrets redacted)');
const printFlags = addServerOptions(printCmd);
printCmd.action((opts: Record<string, unknown>) => {
  const c = load(opts, printFlags);
  process.stdout.write(JSON.stringify({ ...redactedConfig(c), identity: c.identity, derpMap: c.derpMap }, null, 2) + '\n');
});
const checkCmd = config.command('check').description('validate the configuration and exit (2 on errors)');
const checkFlags = addServerOptions(checkCmd);
checkCmd.action((opts: Record<string, unknown>) => {
  load(opts, checkFlags);
  process.stdout.write('configuration ok\n');
});

program
  .command('derpmap')
  .description('DERP map tools')
  .command('validate <file-or-url>')
  .description('check a DERP map file or URL as the server would load it')
  .action(async (source: string) => {
    const result = await validateDerpMap(source);
    for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
    if (!result.ok) throw new UsageError(result.errors);
    process.stdout.write(`ok: ${Object.keys(result.map?.Regions ?? {}).length} region(s)\n`);
  });

program
  .command('keygen')
  .description('generate secrets')
  .command('mesh')
  .description('print a random DERP mesh key (64 hex characters)')
  .action(() => {
    process.stdout.write(randomBytes(32).toString('hex') + '\n');
  });

registerProvisioning(program);

function fail(problems: string[], code: number): never {
  for (const p of problems) process.stderr.write(`tailnetd: ${p}\n`);
  process.exit(code);
}

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  if (err instanceof ConfigError) fail(err.problems, 2);
  if (err instanceof UsageError) fail(err.problems, 2);
  fail([err instanceof Error ? err.message : String(err)], 1);
});

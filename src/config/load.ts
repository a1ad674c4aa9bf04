import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { configSchema, optionDefs, type ServerConfig } from './schema.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

export interface ConfigSources {
  flags?: Record<string, unknown>; // keyed by flag name or camelCase key
  env?: NodeJS.ProcessEnv;
  file?: string; // YAML or JSON with camelCase or flag-name keys
}

/** Merges flags > env > file > defaults and validates; throws ConfigError with one line per bad option. */
export function loadConfig(sources: ConfigSources): ServerConfig {
  const merged: Record<string, unknown> = {};
  const origin: Record<string, string> = {};
  const problems: string[] = [];

  if (sources.file) {
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(sources.file, 'utf8'));
    } catch (err) {
      throw new ConfigError([`config file ${sources.file}: ${(err as Error).message}`]);
    }
    if (parsed !== null && typeof parsed === 'object') {
      for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
        const def = optionDefs.find((d) => d.key === k || d.flag === k);
        if (!def) {
          problems.push(`config file ${sources.file}: unknown option "${k}"`);
          continue;
        }
        merged[def.key] = v;
        origin[def.key] = `config file key ${k}`;
      }
    }
  }
  const env = sources.env ?? {};
  for (const def of optionDefs) {
    for (const name of [...def.env].reverse()) {
      const v = env[name];
      if (v !== undefined && v !== '') {
        merged[def.key] = v;
        origin[def.key] = `environment ${name}`;
      }
    }
  }
  for (const [k, v] of Object.entries(sources.flags ?? {})) {
    if (v === undefined) continue;
    const def = optionDefs.find((d) => d.key === k || d.flag === k);
    if (!def) continue;
    merged[def.key] = v;
    origin[def.key] = `--${def.flag}`;
  }

  const result = configSchema.safeParse(merged);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = String(issue.path[0] ?? '');
      const def = optionDefs.find((d) => d.key === key);
      const where = origin[key] ?? (def ? `--${def.flag}` : key);
      problems.push(`invalid ${where}: ${issue.message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return result.data as unknown as ServerConfig;
}

/** The effective configuration with secrets redacted, for `config print` and start-up logs. */
export function redactedConfig(config: ServerConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const def of optionDefs) {
    const v = (config as unknown as Record<string, unknown>)[def.key];
    out[def.key] = def.secret && v !== undefined ? '<redacted>' : v;
  }
  return out;
}

import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { configSchema, optionDefs, sectionDefs, sectionFlag, type ServerConfig } from './schema.js';

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

  const sections: Record<string, Record<string, unknown>> = { identity: {}, derpMap: {} };
  if (sources.file) {
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(sources.file, 'utf8'));
    } catch (err) {
      throw new ConfigError([`config file ${sources.file}: ${(err as Error).message}`]);
    }
    if (parsed !== null && typeof parsed === 'object') {
      for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
        if (k in sections && v !== null && typeof v === 'object') {
          Object.assign(sections[k]!, v);
          continue;
        }
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
      // An empty variable means "unset", except for options whose empty value means something
      // (TAILNETD_STUN_ADDRESS= turns STUN off).
      if (v !== undefined && (v !== '' || def.schema.safeParse('').success)) {
        merged[def.key] = v;
        origin[def.key] = `environment ${name}`;
      }
    }
  }
  for (const section of sectionDefs) {
    const target = sections[section.key]!;
    for (const [field, envName] of Object.entries(section.env)) {
      const alias = section.coderAliases[field];
      if (alias && env[alias] !== undefined && env[alias] !== '') target[field] = env[alias];
      if (env[envName] !== undefined && env[envName] !== '') target[field] = env[envName];
      const flagValue = sources.flags?.[sectionFlag(envName)];
      if (flagValue !== undefined) target[field] = flagValue;
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
  const parsedSections: Record<string, unknown> = {};
  for (const section of sectionDefs) {
    const r = section.schema.safeParse(sections[section.key]);
    if (r.success) {
      parsedSections[section.key] = r.data;
      continue;
    }
    for (const issue of r.error.issues) {
      const field = String(issue.path[0] ?? '');
      const envName = section.env[field];
      problems.push(`invalid ${envName ? `${envName} / --${sectionFlag(envName)}` : `${section.key}.${field}`}: ${issue.message}`);
    }
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return { ...(result.data as object), ...parsedSections } as unknown as ServerConfig;
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

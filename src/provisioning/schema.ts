/**
 * What an operator provisions: one schema shared by the CLI and the admin REST API.
 */
import { z } from 'zod';

export const agentAuthTypes = ['token', 'aws-instance-identity', 'azure-instance-identity', 'google-instance-identity'] as const;

const slug = z.string().regex(/^[a-z0-9](-?[a-z0-9])*$/, 'must be a lowercase slug').max(32);

export const appSpecSchema = z
  .object({
    slug,
    display_name: z.string().max(64).optional(),
    url: z.string().max(2048).default(''),
    command: z.string().max(4096).default(''),
    icon: z.string().max(2048).default(''),
    subdomain: z.boolean().default(false),
    external: z.boolean().default(false),
    sharing_level: z.enum(['owner', 'authenticated', 'public']).default('owner'),
    healthcheck: z
      .object({
        url: z.string().url(),
        interval: z.number().int().min(1).max(3600),
        threshold: z.number().int().min(1).max(100),
      })
      .optional(),
  })
  .strict();

/** A coder_agent `metadata` block: the agent runs `script` every `interval` s and reports the output. */
export const metadataSpecSchema = z
  .object({
    key: z.string().min(1).max(128),
    display_name: z.string().max(128).default(''),
    script: z.string().min(1).max(1 << 16),
    interval: z.number().int().min(1).max(86_400),
    timeout: z.number().int().min(0).max(86_400).default(0),
    order: z.number().int().default(0),
  })
  .strict();

export const agentSpecSchema = z
  .object({
    name: z.string().regex(/^[a-zA-Z0-9](-?[a-zA-Z0-9_.])*$/, 'must be a valid agent name').max(64),
    auth: z.enum(agentAuthTypes).default('token'),
    instance_id: z.string().min(1).max(256).optional(),
    apps: z.array(appSpecSchema).max(64).default([]),
    metadata: z.array(metadataSpecSchema).max(64).default([]),
    env: z.record(z.string(), z.string()).nullable().default(null),
    startup_script: z.string().max(1 << 16).default(''),
    startup_script_timeout_seconds: z.number().int().min(0).max(86_400).default(300),
    directory: z.string().max(4096).default(''),
    motd_file: z.string().max(4096).default(''),
    connection_timeout_seconds: z.number().int().min(0).max(86_400).default(120),
    troubleshooting_url: z.string().max(2048).default(''),
    login_before_ready: z.boolean().default(true),
    operating_system: z.string().max(32).default('linux'),
    architecture: z.string().max(32).default('amd64'),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const needsInstance = spec.auth !== 'token';
    if (needsInstance && !spec.instance_id) {
      ctx.addIssue({ code: 'custom', path: ['instance_id'], message: `required when auth is ${spec.auth}` });
    }
    if (!needsInstance && spec.instance_id) {
      ctx.addIssue({ code: 'custom', path: ['instance_id'], message: 'only valid with an instance-identity auth type' });
    }
    const keys = new Set<string>();
    for (const m of spec.metadata) {
      if (keys.has(m.key)) ctx.addIssue({ code: 'custom', path: ['metadata'], message: `duplicate metadata key ${m.key}` });
      keys.add(m.key);
    }
    const slugs = new Set<string>();
    for (const app of spec.apps) {
      if (slugs.has(app.slug)) ctx.addIssue({ code: 'custom', path: ['apps'], message: `duplicate app slug ${app.slug}` });
      slugs.add(app.slug);
    }
  });

export type AppSpec = z.infer<typeof appSpecSchema>;
export type MetadataSpec = z.infer<typeof metadataSpecSchema>;
export type AgentSpec = z.infer<typeof agentSpecSchema>;

const agentList = z
  .array(agentSpecSchema)
  .min(1)
  .max(32)
  .superRefine((agents, ctx) => {
    const names = new Set<string>();
    for (const a of agents) {
      if (names.has(a.name)) ctx.addIssue({ code: 'custom', message: `duplicate agent name ${a.name}` });
      names.add(a.name);
    }
  });

export const createUserSchema = z
  .object({
    username: z.string().regex(/^[a-zA-Z0-9](-?[a-zA-Z0-9])*$/, 'must be alphanumeric with single hyphens').max(32),
    email: z.string().email(),
    admin: z.boolean().default(false),
  })
  .strict();

export const createWorkspaceSchema = z
  .object({
    owner: z.string().min(1).describe('owner username or user id'),
    name: z.string().regex(/^[a-zA-Z0-9](-?[a-zA-Z0-9])*$/, 'must be alphanumeric with single hyphens').max(32),
    ttl_ms: z.number().int().min(0).nullable().default(null),
    agents: agentList,
  })
  .strict();

export const createBuildSchema = z
  .object({
    transition: z.enum(['start', 'stop']).default('start'),
    agents: z.array(agentSpecSchema).max(32).default([]),
  })
  .strict();

export const gitAuthProviderSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9](-?[a-z0-9])*$/).max(64),
    type: z.enum(['github', 'gitlab', 'bitbucket', 'azure-devops', 'other']),
    client_id: z.string().min(1),
    client_secret: z.string().min(1),
    auth_url: z.string().url(),
    token_url: z.string().url(),
    validate_url: z.string().url().or(z.literal('')).default(''),
    regex: z.string().min(1).refine((r) => {
      try {
        new RegExp(r);
        return true;
      } catch {
        return false;
      }
    }, 'must be a valid regular expression'),
    scopes: z.array(z.string()).default([]),
    no_refresh: z.boolean().default(false),
  })
  .strict();

export const gitAuthLinkSchema = z
  .object({
    provider_id: z.string().min(1),
    user: z.string().min(1).describe('username or user id'),
    access_token: z.string().min(1),
    refresh_token: z.string().default(''),
    expiry: z.string().datetime({ offset: true }).nullable().default(null),
  })
  .strict();

export type CreateWorkspaceInput = z.infer<typeof createWorkspaceSchema>;
export type CreateBuildInput = z.infer<typeof createBuildSchema>;
export type GitAuthProviderInput = z.infer<typeof gitAuthProviderSchema>;
export type GitAuthLinkInput = z.infer<typeof gitAuthLinkSchema>;

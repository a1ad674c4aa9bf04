/**
 * PushContextState (API 2.10): validate a pushed context snapshot against server-side caps
 * (a workspace process is untrusted), then keep the latest one per agent. Replays and stale
 * resends (version not above the stored one, without `initial`) answer accepted=false.
 */
import * as ap from '../rpc/proto/agent.js';
import { structToJson } from '../rpc/proto/google.js';
import type { StoredContextResource } from '../store/agent-context.js';

export const CONTEXT_LIMITS = {
  resources: 1000,
  bodyBytes: 256 * 1024,
  aggregateBodyBytes: 4 * 1024 * 1024,
  sourceBytes: 1024,
  errorBytes: 4096,
  hashBytes: 64,
} as const;

const INT64_MAX = (1n << 63n) - 1n;

const STATUS: Record<number, string> = {
  [ap.ContextResourceStatus.OK]: 'ok',
  [ap.ContextResourceStatus.OVERSIZE]: 'oversize',
  [ap.ContextResourceStatus.UNREADABLE]: 'unreadable',
  [ap.ContextResourceStatus.INVALID]: 'invalid',
  [ap.ContextResourceStatus.EXCLUDED]: 'excluded',
};

const bytes = (s: string): number => Buffer.byteLength(s);
const fail = (msg: string): never => {
  throw new Error(`PushContextState: ${msg}`);
};

function body(r: ap.ContextResource): Pick<StoredContextResource, 'kind' | 'body'> {
  const set = [r.instructionFile, r.skill, r.mcpConfig, r.mcpServer].filter((b) => b !== undefined).length;
  if (set === 0) fail(`resource ${JSON.stringify(r.source)}: missing body variant`);
  if (set > 1) fail(`resource ${JSON.stringify(r.source)}: more than one body variant`);
  if (r.instructionFile) return { kind: 'instruction_file', body: { content: Buffer.from(r.instructionFile.content).toString('base64') } };
  if (r.skill) return { kind: 'skill', body: { meta: Buffer.from(r.skill.meta).toString('base64'), name: r.skill.name, description: r.skill.description } };
  if (r.mcpConfig) return { kind: 'mcp_config', body: {} };
  const s = r.mcpServer!;
  return {
    kind: 'mcp_server',
    body: {
      server_name: s.serverName,
      description: s.description,
      tools: s.tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.inputSchema ? structToJson(t.inputSchema) : null })),
    },
  };
}

/** Checked and converted; throws with the reason otherwise. */
export function validateContextPush(req: ap.PushContextStateRequest): { version: bigint; aggregateHash: string; resources: StoredContextResource[] } {
  if (req.version > INT64_MAX) fail(`version ${req.version} exceeds int64 range`);
  if (req.aggregateHash.length > CONTEXT_LIMITS.hashBytes) fail(`aggregate hash is ${req.aggregateHash.length} bytes, cap ${CONTEXT_LIMITS.hashBytes}`);
  if (bytes(req.snapshotError) > CONTEXT_LIMITS.errorBytes) fail(`snapshot error is ${bytes(req.snapshotError)} bytes, cap ${CONTEXT_LIMITS.errorBytes}`);
  if (req.resources.length > CONTEXT_LIMITS.resources) fail(`${req.resources.length} resources, cap ${CONTEXT_LIMITS.resources}`);
  const seen = new Set<string>();
  let total = 0;
  const resources = req.resources.map((r, i): StoredContextResource => {
    if (r.source === '') fail(`resource at index ${i} has an empty source`);
    if (bytes(r.source) > CONTEXT_LIMITS.sourceBytes) fail(`resource at index ${i}: source is ${bytes(r.source)} bytes, cap ${CONTEXT_LIMITS.sourceBytes}`);
    if (seen.has(r.source)) fail(`duplicate source ${JSON.stringify(r.source)}`);
    seen.add(r.source);
    const name = JSON.stringify(r.source);
    const sourcePath = r.sourcePath ?? '';
    if (bytes(sourcePath) > CONTEXT_LIMITS.sourceBytes) fail(`resource ${name}: source path is ${bytes(sourcePath)} bytes, cap ${CONTEXT_LIMITS.sourceBytes}`);
    if (bytes(r.error) > CONTEXT_LIMITS.errorBytes) fail(`resource ${name}: error is ${bytes(r.error)} bytes, cap ${CONTEXT_LIMITS.errorBytes}`);
    if (r.contentHash.length > CONTEXT_LIMITS.hashBytes) fail(`resource ${name}: content hash is ${r.contentHash.length} bytes, cap ${CONTEXT_LIMITS.hashBytes}`);
    if (r.sizeBytes > INT64_MAX) fail(`resource ${name}: size ${r.sizeBytes} exceeds int64 range`);
    const status = STATUS[r.status];
    if (status === undefined) fail(`resource ${name}: unknown status ${r.status}`);
    const b = body(r);
    const len = bytes(JSON.stringify(b.body));
    if (len > CONTEXT_LIMITS.bodyBytes) fail(`resource ${name}: body is ${len} bytes, cap ${CONTEXT_LIMITS.bodyBytes}`);
    total += len;
    if (total > CONTEXT_LIMITS.aggregateBodyBytes) fail(`aggregate body size exceeds ${CONTEXT_LIMITS.aggregateBodyBytes} bytes`);
    return {
      source: r.source,
      source_path: sourcePath,
      ...b,
      content_hash: Buffer.from(r.contentHash).toString('hex'),
      size_bytes: Number(r.sizeBytes),
      status: status!,
      error: r.error,
    };
  });
  return { version: req.version, aggregateHash: Buffer.from(req.aggregateHash).toString('hex'), resources };
}

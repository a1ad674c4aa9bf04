/**
 * What the conformance suite needs from a coordinator deployment. The in-memory
 * backend runs one process; the sharded backend (scale-out issue) runs several
 * shard processes + Redis and places agents and clients on different shards
 * through the `shard` argument.
 */
export interface BackendOptions {
  /** Outbound write timeout (default 5 s); the slow-consumer case lowers it. */
  writeTimeoutMs?: number;
  /** Per-socket outbound queue bound (default 512). */
  queueSize?: number;
}

export interface BackendInspector {
  nodeCount(): number;
  agentCount(): number;
  /** Canonical JSON of a peer's node, or null. */
  node(peerId: string): string | null;
}

export interface RunningBackend {
  /** Number of shards; cases spread peers over `shard = i % shards`. */
  readonly shards: number;
  /** Agent coordinate URL (no auth: the agent id travels in the query). */
  agentUrl(agentId: string, shard?: number): string;
  /** Client coordinate URL for `clientId` dialling `agentId`. */
  clientUrl(agentId: string, clientId: string, shard?: number): string;
  /** In-process introspection, when the backend has a single state owner. */
  inspect?(shard?: number): BackendInspector;
  /** Out-of-process introspection: the node a shard's core holds for `peerId` (its own or a remote one). */
  nodeOn?(shard: number, peerId: string): Promise<string | null>;
  stop(): Promise<void>;
}

export interface CoordinatorBackend {
  readonly name: string;
  start(opts?: BackendOptions): Promise<RunningBackend>;
}

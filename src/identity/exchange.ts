/**
 * instance id → agent token (coderd's handleAuthInstanceID, spec §2.4). The store holds
 * only hashes of agent tokens, so instead of returning a stored token it mints one:
 * `issueAgentToken` creates a fresh random UUIDv4, stores its SHA-256 beside the agent's
 * other recent tokens (keeping a few valid, so an agent that re-exchanges on every
 * reconnect keeps its running sessions) and returns the plaintext once.
 */

export interface InstanceAgent {
  agentId: string;
  /** The agent's build is its workspace's latest build. */
  buildIsLatest: boolean;
}

export interface InstanceIdentityStore {
  /**
   * The most recently created agent of a workspace build whose auth_instance_id equals
   * `instanceId`, or null. Agents of template-import or dry-run jobs must not be returned.
   */
  findNewestAgentByInstanceId(instanceId: string): Promise<InstanceAgent | null>;
  /** Mints, stores (hashed) and returns a new agent token for `agentId`. */
  issueAgentToken(agentId: string): Promise<string>;
}

export interface ExchangeResponse {
  status: number;
  body: { session_token: string } | { message: string; detail?: string };
  reason: 'ok' | 'unknown_instance' | 'not_latest_build' | 'store_error';
  /** Internal error text for the log; never sent. */
  error?: string;
}

export async function exchangeInstanceId(store: InstanceIdentityStore, instanceId: string): Promise<ExchangeResponse> {
  const notFound: ExchangeResponse = {
    status: 404,
    body: { message: `Instance with id ${JSON.stringify(instanceId)} not found.` },
    reason: 'unknown_instance',
  };
  // An empty id would match agents provisioned without one; never look it up.
  if (instanceId === '') return notFound;
  let agent: InstanceAgent | null;
  try {
    agent = await store.findNewestAgentByInstanceId(instanceId);
  } catch (err) {
    return {
      status: 500,
      body: { message: 'Internal error fetching provisioner job agent.' },
      reason: 'store_error',
      error: (err as Error).message,
    };
  }
  if (!agent) return notFound;
  if (!agent.buildIsLatest) {
    return {
      status: 400,
      body: { message: `Resource found for id ${JSON.stringify(instanceId)}, but isn't registered on the latest history.` },
      reason: 'not_latest_build',
    };
  }
  try {
    return { status: 200, body: { session_token: await store.issueAgentToken(agent.agentId) }, reason: 'ok' };
  } catch (err) {
    return {
      status: 500,
      body: { message: 'Internal error issuing agent token.' },
      reason: 'store_error',
      error: (err as Error).message,
    };
  }
}

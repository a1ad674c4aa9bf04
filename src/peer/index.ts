/**
 * The server's tailnet presence (server-tailnet.ts) and what the API routes
 * speak over it: the PTY init header (pty.ts) and the agent's HTTP API
 * (agent-http.ts).
 */
export { ServerTailnet, type AgentDialer, type DialOptions, type ServerTailnetOptions, AGENT_PORT_HTTP_API, AGENT_PORT_RECONNECTING_PTY } from './server-tailnet.js';
export { encodePtyInit, MAX_PTY_HEADER, type PtyInit } from './pty.js';
export { fetchListeningPorts, AgentHttpError, type ListeningPort } from './agent-http.js';
export { startServerTailnet, type StartServerTailnetOptions } from './start.js';
export { PeerError, peerError, dialResultOf, type PeerErrorCode } from './errors.js';

/** Tailnet v2 (dRPC) adapters onto the shared coordinator core. */
export { serveCoordinateV2, responseToProto, type ServeCoordinateV2Options } from './session.js';
export { authorizeRequest, agentAddresses, ipv6Bytes, type TunnelAuth } from './auth.js';
export { createTailnetService, type TailnetServiceOptions, type DerpMapFeed } from './service.js';
export { ResumeTokenProvider, RESUME_TOKEN_LIFETIME_MS, type ResumeCheck, type IssuedResumeToken } from './resume.js';

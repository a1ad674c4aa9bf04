export { registerAgentService, type AgentServiceImpl } from './agent.js';
export { registerTailnetService, type TailnetServiceImpl } from './tailnet.js';

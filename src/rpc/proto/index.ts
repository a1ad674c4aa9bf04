export * from './errors.js';
export * from './wire.js';
export * from './schema.js';
export * as google from './google.js';
export * as tailnet from './tailnet.js';
export * as agent from './agent.js';

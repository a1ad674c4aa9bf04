import { defineConformance } from './conformance/cases.js';
import { redisBackend } from './conformance/redis-backend.js';

defineConformance(redisBackend);

import { defineConformance } from './conformance/cases.js';
import { redisClusterBackend } from './conformance/redis-cluster-backend.js';

defineConformance(redisClusterBackend);

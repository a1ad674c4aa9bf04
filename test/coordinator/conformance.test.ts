import { defineConformance } from './conformance/cases.js';
import { memoryBackend } from './conformance/memory-backend.js';

defineConformance(memoryBackend);

export { ConvertError, type ConvertErrorCode } from './errors.js';
export { uuidFromBytes, uuidToBytes } from './uuid.js';
export { GO_ZERO_TIME_SECONDS, rfc3339ToTimestamp, timestampToRfc3339 } from './time.js';
export { nodeFromProto, nodeKeyFromProto, nodeKeyToProto, nodeToProto } from './node.js';
export { derpMapFromProto, derpMapToProto } from './derpmap.js';

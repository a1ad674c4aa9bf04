export { GoAwayCode, YamuxError, yamuxError, type YamuxErrorCode } from './errors.js';
export { Flag, FrameType, HEADER_SIZE, INITIAL_WINDOW, decodeHeader, encodeHeader, encodeFrame, type YamuxHeader } from './frame.js';
export { YamuxSession, type YamuxSessionOptions } from './session.js';
export { YamuxStream } from './stream.js';

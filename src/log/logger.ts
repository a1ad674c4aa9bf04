import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs; credentials never reach the output. */
export function createLogger(level: string = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'tailnetd' },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'req.headers["coder-session-token"]',
          'token',
          '*.token',
          'api_key',
          '*.api_key',
          'session_token',
          'secret',
          '*.secret',
          'postgresUrl',
          'derpMeshKey',
        ],
        censor: '<redacted>',
      },
    },
    destination,
  );
}

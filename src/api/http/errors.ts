/**
 * Coder's error envelope (codersdk.Response) and the single helper that builds every API error.
 */
export interface ValidationError {
  field: string;
  detail: string;
}

export interface ErrorBody {
  message: string;
  detail?: string;
  validations?: ValidationError[];
}

export class ApiError extends Error {
  readonly status: number;
  readonly body: ErrorBody;
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, detail?: string, validations?: ValidationError[], headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.body = { message };
    if (detail) this.body.detail = detail;
    if (validations && validations.length > 0) this.body.validations = validations;
    this.headers = headers;
  }
}

export const apiError = (status: number, message: string, detail?: string, validations?: ValidationError[]): ApiError =>
  new ApiError(status, message, detail, validations);

/** Texts shared by several handlers, verbatim from coderd. */
export const Msg = {
  notFound: 'Resource not found or you do not have access to this resource',
  routeNotFound: 'Route not found.',
  invalidJson: 'Request body must be valid JSON.',
  validationFailed: 'Validation failed.',
  internal: 'An internal server error occurred.',
  forbidden: 'Forbidden.',
  signedOut: 'You are signed out or your session has expired. Please sign in again to continue.',
  bodyTooLarge: 'Request body too large.',
} as const;

export const notFound = (): ApiError => apiError(404, Msg.notFound);
export const internalError = (detail?: string, message: string = Msg.internal): ApiError => apiError(500, message, detail);

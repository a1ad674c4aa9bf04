/** Small helpers shared by the API suites. */
import { expect } from 'vitest';

export interface ErrorEnvelope {
  message: string;
  detail?: string;
  validations?: { field: string; detail: string }[];
}

/** Asserts status and Coder's error envelope (Go encoding: JSON content type, trailing newline). */
export async function expectError(res: Response, status: number, message: string, detail?: string | RegExp): Promise<ErrorEnvelope> {
  const text = await res.text();
  expect({ status: res.status, text }).toMatchObject({ status });
  expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(text.endsWith('\n')).toBe(true);
  const body = JSON.parse(text) as ErrorEnvelope;
  expect(body.message).toBe(message);
  if (detail instanceof RegExp) expect(body.detail ?? '').toMatch(detail);
  else if (detail !== undefined) expect(body.detail).toBe(detail);
  return body;
}

export async function okJson<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect({ status: res.status, text }).toMatchObject({ status });
  return JSON.parse(text) as T;
}

export const AGENT_NOT_AUTHORIZED_DETAIL =
  'The agent cannot authenticate until the workspace provision job has been completed. If the job is no longer running, this agent is invalid.';
export const SIGNED_OUT = 'You are signed out or your session has expired. Please sign in again to continue.';
export const GENERIC_404 = 'Resource not found or you do not have access to this resource';
export const AGENT_404 = "Agent doesn't exist with that id, or you do not have access to it.";

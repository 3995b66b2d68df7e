import { formatIssues } from '@sessiontrack/core';
import type { z } from 'zod';
import { ApiError } from './errors.js';

/** Validates at the boundary: a 400 that names the field, or plain typed data. */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const { message, details } = formatIssues(r.error);
  throw new ApiError('validation_failed', message, details);
}

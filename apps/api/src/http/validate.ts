import type { z } from 'zod';
import { ApiError } from '@bgs/shared';

/** Parses input at the edge; a failure is a 400 carrying zod's issues (path, message). */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what = 'request'): z.infer<S> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const details = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message, code: i.code }));
  throw new ApiError('invalid_request', `invalid ${what}`, details);
}

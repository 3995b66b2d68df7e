import { repairJsonInput } from '@sessiontrack/core';
import { ApiError } from './errors.js';

// Reading a request body without ever holding more than the limit: a declared Content-Length
// over the limit is refused before a byte is read, and a chunked body is counted as it streams.
// What is parsed is bounded in depth and free of U+0000 and lone surrogates before anything else
// sees it (core's repairJsonInput).

export interface BodyOptions {
  limitBytes: number;
  /** Ingest routes also take text/plain: navigator.sendBeacon sends it, and it needs no preflight. */
  allowTextPlain: boolean;
}

/** The parsed JSON body, or undefined for an empty body (which needs no content type). */
export async function readJsonBody(req: Request, opts: BodyOptions): Promise<unknown> {
  const length = req.headers.get('content-length');
  if (length === '0') return undefined;
  // Only without a length do we look at `req.body`: on Node that turns the adapter's lightweight
  // request into a full Web Request, which costs more than the rest of an ingest request.
  if (length === null && !req.headers.has('transfer-encoding') && !req.body) return undefined;
  if (length !== null) {
    checkType(req, opts);
    if (Number(length) > opts.limitBytes) throw tooLarge(opts.limitBytes);
  }
  // With a Content-Length the HTTP parser stops at it, so reading whole is bounded; without one
  // (chunked) the stream is counted as it arrives.
  const text = length !== null ? await req.text() : await readBounded(req, opts.limitBytes);
  if (text.length === 0) return undefined;
  if (length === null) checkType(req, opts);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new ApiError('invalid_json', `body is not valid JSON: ${(err as Error).message}`);
  }
  const problem = repairJsonInput(body);
  if (problem) {
    const message = problem.path ? `${problem.path}: ${problem.message}` : problem.message;
    throw new ApiError('validation_failed', message, [problem]);
  }
  return body;
}

function checkType(req: Request, opts: BodyOptions): void {
  const type = (req.headers.get('content-type') ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (type !== 'application/json' && !(opts.allowTextPlain && type === 'text/plain')) {
    throw new ApiError(
      'unsupported_media_type',
      `content-type must be application/json${opts.allowTextPlain ? ' or text/plain' : ''}`,
    );
  }
}

async function readBounded(req: Request, limit: number): Promise<string> {
  if (!req.body) return '';
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const tooLarge = (limit: number) => new ApiError('payload_too_large', `body is over the limit of ${limit} bytes`);

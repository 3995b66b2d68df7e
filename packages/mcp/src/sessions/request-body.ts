import { readRequestBody } from '@modelcontextprotocol/sdk/server/requestBody.js';
import { bodyTooLarge, invalidJson } from './rpc-errors.js';

/**
 * The JSON body of a request no transport reads (one without a session id: the handler must see
 * whether it is an initialize first), bounded as the SDK's transports bound theirs: a declared
 * Content-Length over `maxBytes` is refused unread, a streamed body once it passes `maxBytes`.
 * The answer is the parsed body, or the error response to send instead.
 */
export async function readJsonBody(req: Request, maxBytes: number): Promise<{ body: unknown } | Response> {
  let read: Awaited<ReturnType<typeof readRequestBody>>;
  try {
    read = await readRequestBody(req, maxBytes);
  } catch {
    // The client went away mid-body, or sent bytes the stream refused.
    return invalidJson();
  }
  if (read.tooLarge) {
    // Stop pulling what is left (the SDK only releases its reader): nothing more is buffered.
    req.body?.cancel().catch(() => {});
    return bodyTooLarge(maxBytes);
  }
  try {
    return { body: JSON.parse(read.text) };
  } catch {
    return invalidJson();
  }
}

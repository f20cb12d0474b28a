/**
 * A request body read with a bound: an upload URL takes exactly the length it was signed for (or,
 * unsigned, at most the registry's bundle limit). A body that runs over ends the read at once
 * with BodyTooLargeError (the store discards what it wrote); one that ends short, with
 * BodyTooShortError. Either way nothing is stored.
 */
import type { IncomingMessage } from 'node:http';

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`the body is larger than the ${limit} bytes this URL takes`);
    this.name = 'BodyTooLargeError';
  }
}

export class BodyTooShortError extends Error {
  constructor(
    readonly expected: number,
    readonly received: number,
  ) {
    super(`the body ended after ${received} of the ${expected} bytes this URL takes`);
    this.name = 'BodyTooShortError';
  }
}

/** Checks the announced length before anything is read: undefined if it may go on. */
export function announcedLengthProblem(request: IncomingMessage, bound: { exact?: number; max: number }): BodyTooLargeError | BodyTooShortError | undefined {
  const header = request.headers['content-length'];
  if (header === undefined) return undefined;
  const announced = Number(header);
  if (!Number.isSafeInteger(announced)) return new BodyTooLargeError(bound.exact ?? bound.max);
  if (announced > (bound.exact ?? bound.max)) return new BodyTooLargeError(bound.exact ?? bound.max);
  if (bound.exact !== undefined && announced < bound.exact) return new BodyTooShortError(bound.exact, announced);
  return undefined;
}

export async function* boundedBody(request: AsyncIterable<Buffer>, bound: { exact?: number; max: number }): AsyncGenerator<Buffer> {
  const limit = bound.exact ?? bound.max;
  let received = 0;
  for await (const chunk of request) {
    received += chunk.length;
    if (received > limit) throw new BodyTooLargeError(limit);
    yield chunk;
  }
  if (bound.exact !== undefined && received !== bound.exact) throw new BodyTooShortError(bound.exact, received);
}

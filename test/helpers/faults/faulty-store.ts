/**
 * An ObjectStore decorator for fault injection: pause, fail, delay or cut a chosen call, so a test
 * can drive one interleaving of two writers (or a crash at one line) through the real code.
 */
import { composeObject, copyStoredRange, putInSegments, ObjectStoreError, type RangeChecksums, type RangeSource, type SegmentChunk, type ComposedPart, type ListPage, type ObjectInfo, type ObjectStore, type PresignOptions, type PutOptions, type StoredObject, type ByteRange } from '../../../lib/ports/object-store.ts';

export type Operation = 'head' | 'get' | 'put' | 'delete' | 'list';

export interface FaultRule {
  readonly op: Operation;
  /** Which keys (or list prefixes): a substring or a test. */
  readonly key: string | ((key: string) => boolean);
  /** How many matching calls it applies to (then it is spent); default 1. */
  times?: number;
  /** Matching calls to let through before the rule applies; default 0. */
  skip?: number;
  readonly action:
    | { readonly kind: 'fail'; readonly error?: () => Error }
    | { readonly kind: 'pause'; readonly gate: Gate }
    | { readonly kind: 'delay'; readonly ms: number }
    /** A get whose body breaks after this many bytes, as a reset connection does. */
    | { readonly kind: 'cut'; readonly afterBytes: number };
}

/** A pause point: `reached` resolves when a call arrives; `release()` lets it go on. */
export class Gate {
  private arrive!: () => void;
  private open!: () => void;
  readonly reached = new Promise<void>((resolve) => (this.arrive = resolve));
  private readonly opened = new Promise<void>((resolve) => (this.open = resolve));
  async pass(): Promise<void> {
    this.arrive();
    await this.opened;
  }
  release(): void {
    this.open();
  }
}

export class FaultyStore implements ObjectStore {
  readonly name: string;
  private readonly rules: FaultRule[] = [];
  /** Every call made, in order: for assertions about what a step did. */
  readonly calls: { op: Operation; key: string }[] = [];

  constructor(readonly inner: ObjectStore) {
    this.name = inner.name;
  }

  get multipart() {
    return this.inner.multipart;
  }

  get sweepAbandonedWrites() {
    return this.inner.sweepAbandonedWrites?.bind(this.inner);
  }

  inject(rule: FaultRule): FaultRule {
    this.rules.push({ times: 1, skip: 0, ...rule });
    return rule;
  }

  clear(): void {
    this.rules.length = 0;
  }

  private async apply(op: Operation, key: string): Promise<FaultRule['action'] | undefined> {
    this.calls.push({ op, key });
    for (const rule of this.rules) {
      if (rule.op !== op || (rule.times ?? 1) <= 0) continue;
      if (typeof rule.key === 'string' ? !key.includes(rule.key) : !rule.key(key)) continue;
      if ((rule.skip ?? 0) > 0) {
        rule.skip = (rule.skip ?? 0) - 1;
        continue;
      }
      rule.times = (rule.times ?? 1) - 1;
      const action = rule.action;
      if (action.kind === 'fail') throw action.error?.() ?? new ObjectStoreError(this.name, `injected failure of ${op} ${key}`);
      if (action.kind === 'pause') await action.gate.pass();
      if (action.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, action.ms));
      return action;
    }
    return undefined;
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    await this.apply('head', key);
    return this.inner.head(key);
  }

  async get(key: string, options?: { range?: ByteRange }): Promise<StoredObject> {
    const action = await this.apply('get', key);
    const object = await this.inner.get(key, options);
    if (action?.kind !== 'cut') return object;
    const limit = action.afterBytes;
    const adapter = this.name;
    async function* cut(): AsyncGenerator<Uint8Array> {
      let sent = 0;
      for await (const chunk of object.body) {
        if (sent + chunk.length > limit) {
          yield chunk.subarray(0, limit - sent);
          throw new ObjectStoreError(adapter, `injected connection reset after ${limit} bytes of ${key}`);
        }
        sent += chunk.length;
        yield chunk;
      }
    }
    return { ...object, body: cut() };
  }

  async put(key: string, body: Uint8Array | AsyncIterable<Uint8Array>, options?: PutOptions): Promise<{ etag: string }> {
    await this.apply('put', key);
    return this.inner.put(key, body, options);
  }

  /** A composition is a write: the rules of `put` apply to it. */
  async compose(key: string, parts: readonly ComposedPart[], options?: PutOptions): Promise<{ etag: string }> {
    await this.apply('put', key);
    return composeObject(this.inner, key, parts, options);
  }

  /** A segmented write is a write: the rules of `put` apply to it. */
  async putSegments(key: string, body: AsyncIterable<SegmentChunk>, options?: PutOptions): Promise<{ etag: string }> {
    await this.apply('put', key);
    return putInSegments(this.inner, key, body, options);
  }

  /** A range copy is a write of `key`: the rules of `put` apply to it. */
  async copyRange(key: string, source: RangeSource, options?: PutOptions): Promise<{ etag: string } | undefined> {
    await this.apply('put', key);
    return copyStoredRange(this.inner, key, source, options);
  }

  /** A question about the source, as a head of it is: the rules of `head` apply to it. */
  async checksumsOfRange(source: RangeSource): Promise<RangeChecksums | undefined> {
    await this.apply('head', source.key);
    return this.inner.checksumsOfRange?.(source);
  }

  async delete(key: string): Promise<void> {
    await this.apply('delete', key);
    return this.inner.delete(key);
  }

  async list(prefix: string, options?: { token?: string; limit?: number }): Promise<ListPage> {
    await this.apply('list', prefix);
    return this.inner.list(prefix, options);
  }

  presign(method: 'GET' | 'PUT', key: string, options: PresignOptions): Promise<string | undefined> {
    return this.inner.presign(method, key, options);
  }
}

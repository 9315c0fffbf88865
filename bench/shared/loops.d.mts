/** Types for loops.mjs, which stays plain JavaScript so that Node runs it too. */

export interface Latency {
  /** Median latency of one run, nanoseconds. */
  p50: number;
  /** 99th percentile latency of one run, nanoseconds. */
  p99: number;
}

export interface LoopShape {
  /** Operations in flight (ignored by readLatencies, which keeps one). */
  depth: number;
  seconds: number;
  fileBytes: number;
  /** Bytes per operation; also the alignment of offsets. */
  block: number;
  allocate(size: number): Buffer;
}

/** Reads `buffer.length` bytes at `offset` into `buffer`; resolves with the bytes read. */
export type ReadFn = (buffer: Buffer, offset: number) => Promise<number>;
export type WriteFn = (buffer: Buffer, offset: number) => Promise<number>;

export function randomBlocks(blocks: number): Uint32Array;
export function checkRead(buffer: Buffer, bytesRead: number, offset: number, length: number): void;
export function randomReads(read: ReadFn, shape: LoopShape): Promise<number>;
export function readLatencies(read: ReadFn, shape: Omit<LoopShape, "depth">): Promise<Latency>;
export function sequentialReads(read: ReadFn, shape: LoopShape): Promise<number>;
export function syncedRandomWrites(write: WriteFn, sync: () => Promise<void>, shape: LoopShape): Promise<number>;
export function latencySummary(samples: readonly number[]): Latency;

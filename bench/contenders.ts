/**
 * The in-process contenders: caio's backends and Bun's own ways to read a file, each
 * reduced to the three operations the loops call.
 */
import { closeSync, constants, openSync } from "node:fs";
import { open as openHandle } from "node:fs/promises";
import { allocAligned, Context, open as openFile, type BackendName } from "../src/index.ts";
import type { ReadFn, WriteFn } from "./shared/loops.mjs";

/** How a workload uses its file: buffered reads, O_DIRECT reads, or buffered writes. */
export type Access = "cached" | "direct" | "write";

/** baseline: what ratios are taken against; caio: the library; peer: other ways to do it; ceiling: a bound, not a rival. */
export type Role = "baseline" | "caio" | "peer" | "ceiling";

/** Fixed-size reads at each of `offsets`, one call for all of them; resolves with a Buffer per offset. */
export type BatchReadFn = (offsets: Float64Array, length: number) => Promise<Buffer[]>;

export interface OpenedFile {
  read: ReadFn;
  /** Contenders measured with batched reads (caio's readMany). */
  readBatch?: BatchReadFn;
  write: WriteFn;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface Contender {
  label: string;
  role: Role;
  /** caio contenders: the backend. */
  backend?: BackendName;
  /** caio contenders measured on purpose with something other than aligned buffers and readInto. */
  variant?: string;
  /** Rows of one family are charted as one bar, the family's best (e.g. caio's read() on every backend). */
  family?: string;
  /** Why this contender cannot do `access`, or undefined when it can. */
  unsupported(access: Access): string | undefined;
  /** Buffers for the loops: aligned unless the contender measures plain memory on purpose. */
  allocate(size: number): Buffer;
  open(path: string, access: Access, depth: number): Promise<OpenedFile>;
}

export const BUN_FS_LABEL = "Bun node:fs/promises";

function openFlags(access: Access): number {
  if (access === "write") return constants.O_RDWR;
  return access === "direct" ? constants.O_RDONLY | constants.O_DIRECT : constants.O_RDONLY;
}

const supportsEverything = () => undefined;

export const bunFs: Contender = {
  label: BUN_FS_LABEL,
  role: "baseline",
  unsupported: supportsEverything,
  allocate: (size) => allocAligned(size),
  async open(path, access) {
    const handle = await openHandle(path, openFlags(access));
    return {
      read: async (buffer, offset) => (await handle.read(buffer, 0, buffer.length, offset)).bytesRead,
      write: async (buffer, offset) => (await handle.write(buffer, 0, buffer.length, offset)).bytesWritten,
      sync: () => handle.datasync(),
      close: () => handle.close(),
    };
  },
};

/**
 * Bun.file(path).slice(a, b).arrayBuffer(): a new ArrayBuffer per read. Only the first
 * word is copied into the loop's buffer, for the check; no O_DIRECT and no positional writes.
 */
export const bunFileSlice: Contender = {
  label: "Bun.file().slice()",
  role: "peer",
  unsupported: (access) => (access === "cached" ? undefined : "Bun.file has no O_DIRECT and no positional writes"),
  allocate: (size) => Buffer.alloc(size),
  async open(path) {
    const file = Bun.file(path);
    const notSupported = () => Promise.reject(new Error("Bun.file().slice() only reads"));
    return {
      read: async (buffer, offset) => {
        const bytes = await file.slice(offset, offset + buffer.length).arrayBuffer();
        if (bytes.byteLength >= 4) buffer.set(new Uint8Array(bytes, 0, 4));
        return bytes.byteLength;
      },
      write: notSupported,
      sync: notSupported,
      close: async () => {},
    };
  },
};

interface CaioVariant {
  name: string;
  family?: string;
  allocate(size: number): Buffer;
  /** How the loops' reads are done; readInto by default. */
  read?(ctx: Context, fd: number): ReadFn;
  /** How batched loops read, for contenders that batch. */
  readBatch?(ctx: Context, fd: number): BatchReadFn;
  /** Opened with caio's open() as a File, whose readInto the loops call (its fd serves the rest). */
  viaFile?: boolean;
}

export function caio(backend: BackendName, variant?: CaioVariant): Contender {
  return {
    label: variant ? `caio ${backend}, ${variant.name}` : `caio ${backend}`,
    role: "caio",
    backend,
    variant: variant?.name,
    family: variant?.family,
    unsupported: supportsEverything,
    allocate: variant?.allocate ?? ((size) => allocAligned(size)),
    async open(path, access, depth) {
      const ctx = new Context({ backend, maxRequests: depth });
      const file = variant?.viaFile ? await openFile(path, openFlags(access), { context: ctx }) : undefined;
      const fd = file ? file.fd : openSync(path, openFlags(access));
      return {
        read: file ? (buffer, offset) => file.readInto(buffer, offset) : (variant?.read?.(ctx, fd) ?? ((buffer, offset) => ctx.readInto(buffer, fd, offset))),
        readBatch: variant?.readBatch?.(ctx, fd),
        write: (buffer, offset) => ctx.write(buffer, fd, offset),
        sync: () => ctx.fdsync(fd),
        close: async () => {
          if (file) await file.close();
          await ctx.close();
          if (!file) closeSync(fd);
        },
      };
    },
  };
}

/** caio reading into ArrayBuffer-backed Buffers, which it copies through a private bounce buffer. */
export function caioPlainBuffer(backend: BackendName): Contender {
  return caio(backend, { name: "plain Buffer", allocate: (size) => Buffer.alloc(size) });
}

export const FILE_VARIANT = "File.readInto";

/**
 * caio's File, `file.readInto(buffer, offset)`, as most Bun code would call it: the
 * backend keeps what it learnt about a File's descriptor, where a bare fd is looked
 * at once per submitting call (c/fsclass.h), which shows at one read in flight.
 */
export function caioFile(backend: BackendName): Contender {
  return caio(backend, { name: FILE_VARIANT, family: `caio ${FILE_VARIANT}`, allocate: (size) => allocAligned(size), viaFile: true });
}

export const READ_VARIANT = "read()";

/**
 * caio's allocating call, `ctx.read(nbytes, fd, offset)`: a new Buffer per read. Only the
 * first word is copied into the loop's buffer, for the check (as for Bun.file().slice()).
 */
export function caioRead(backend: BackendName): Contender {
  return caio(backend, {
    name: READ_VARIANT,
    family: `caio ${READ_VARIANT}`,
    allocate: (size) => Buffer.alloc(size),
    read: (ctx, fd) => async (buffer, offset) => {
      const bytes = await ctx.read(buffer.length, fd, offset);
      if (bytes.length >= 4) {
        buffer[0] = bytes[0]!;
        buffer[1] = bytes[1]!;
        buffer[2] = bytes[2]!;
        buffer[3] = bytes[3]!;
      }
      return bytes.length;
    },
  });
}

/** Reads per readMany call in the batched W1 row. */
export const READS_PER_CALL = 64;
export const READ_MANY_VARIANT = `readMany (${READS_PER_CALL} per call)`;

/**
 * caio's batch read, `ctx.readMany(fd, { offsets, length })`: one promise and a new
 * Buffer per read, as read() gives. The loop (workloads/random-read.ts) checks each
 * Buffer's first word.
 */
export function caioReadMany(backend: BackendName): Contender {
  return caio(backend, {
    name: READ_MANY_VARIANT,
    family: `caio ${READ_MANY_VARIANT}`,
    allocate: (size) => Buffer.alloc(size),
    readBatch: (ctx, fd) => (offsets, length) => ctx.readMany(fd, { offsets, length }),
  });
}

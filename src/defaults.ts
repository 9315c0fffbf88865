/**
 * The shared default Context behind the top-level functions (readFile, writeFile,
 * appendFile, stat, unlink, rename, mkdir). Created on first use; like every Context
 * it holds the process only while operations are in flight, so an idle one never
 * keeps a process alive.
 */
import type { BigFileStats, FileStats } from "./file/stats.ts";
import type { MkdirOptions, StatOptions } from "./file/ops.ts";
import type { ReadFileOptions, WriteFileOptions } from "./file/whole.ts";
import { Context } from "./index.ts";

let shared: Context | undefined;

/** The Context the top-level functions use, on the default backend (as `new Context()` picks it). */
export function defaultContext(): Context {
  if (shared && !shared.closing) return shared;
  return (shared = new Context());
}

type PathLike = string | Buffer | URL;

/** Context.readFile on the default context. */
export function readFile(path: PathLike, options?: (ReadFileOptions & { encoding?: null }) | null): Promise<Buffer>;
export function readFile(path: PathLike, options: (ReadFileOptions & { encoding: BufferEncoding }) | BufferEncoding): Promise<string>;
export function readFile(path: PathLike, options?: ReadFileOptions | BufferEncoding | null): Promise<Buffer | string>;
export function readFile(path: PathLike, options?: ReadFileOptions | BufferEncoding | null): Promise<Buffer | string> {
  return defaultContext().readFile(path, options);
}

/** Context.writeFile on the default context. */
export function writeFile(path: PathLike, data: string | ArrayBufferView | ArrayBufferLike, options?: WriteFileOptions | BufferEncoding | null): Promise<void> {
  return defaultContext().writeFile(path, data, options);
}

/** Context.appendFile on the default context. */
export function appendFile(path: PathLike, data: string | ArrayBufferView | ArrayBufferLike, options?: WriteFileOptions | BufferEncoding | null): Promise<void> {
  return defaultContext().appendFile(path, data, options);
}

/** Context.stat on the default context. */
export function stat(path: PathLike | number, options?: StatOptions & { bigint?: false }): Promise<FileStats>;
export function stat(path: PathLike | number, options: StatOptions & { bigint: true }): Promise<BigFileStats>;
export function stat(path: PathLike | number, options?: StatOptions): Promise<FileStats | BigFileStats>;
export function stat(path: PathLike | number, options?: StatOptions): Promise<FileStats | BigFileStats> {
  return defaultContext().stat(path, options);
}

/** Context.unlink on the default context. */
export function unlink(path: PathLike): Promise<void> {
  return defaultContext().unlink(path);
}

/** Context.rename on the default context. */
export function rename(from: PathLike, to: PathLike): Promise<void> {
  return defaultContext().rename(from, to);
}

/** Context.mkdir on the default context. */
export function mkdir(path: PathLike, options?: MkdirOptions | number | string): Promise<string | undefined> {
  return defaultContext().mkdir(path, options);
}

/**
 * What a File, its iterators and its streams share: the descriptor, the Context it
 * runs on, the "closed" check, and the count of operations in flight, so close() can
 * wait for all of them before the descriptor number goes back to the kernel
 * (tokio-uring's SharedFd). Reads and writes here are positional; the File keeps the
 * position.
 */
import type { Context } from "../index.ts";
import { dropNative } from "../bounce.ts";
import { errorWithCode, systemError } from "../errors.ts";
import { directRead, directWrite } from "./direct.ts";
import type { FileOps } from "./ops.ts";

const EIO = -5;

/** Node's FileHandle error for a closed handle: "file closed", code EBADF, the syscall attempted. */
export function fileClosed(syscall: string): Error & { code: string; errno: number; syscall: string } {
  return Object.assign(errorWithCode(new Error("file closed"), "EBADF"), { errno: -9, syscall });
}

export class FileCore {
  /** Set by close(): every later call rejects with fileClosed. */
  closed = false;
  /**
   * The File this core belongs to. Streams and iterators hold only the core; through
   * this they keep the File reachable, so its collection (which closes the descriptor)
   * never comes while they still read from it.
   */
  owner: object | undefined = undefined;
  #pending = 0;
  #idle: (() => void) | undefined;

  constructor(
    readonly ctx: Context,
    readonly fd: number,
    readonly path: string,
    /** O_DIRECT: 0 for buffered I/O, else the alignment offsets and lengths need. */
    readonly alignment: number,
    /** The Context's file operations: the reads File.readInto queues itself, and the File's close. */
    readonly files: FileOps,
  ) {}

  /** One more operation in flight on this file, until end(): what track() does for a promise. */
  begin(): void {
    this.#pending++;
  }

  end(): void {
    if (--this.#pending === 0 && this.#idle) this.#idle();
  }

  /** Throws the closed-file error for `syscall` once close() was called. */
  enter(syscall: string): void {
    if (this.closed) throw fileClosed(syscall);
  }

  /** Counts `promise` as in flight on this file until it settles. */
  track<T>(promise: Promise<T>): Promise<T> {
    this.begin();
    return promise.finally(() => this.end());
  }

  /** Resolves once nothing tracked is in flight. */
  idle(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#idle;
      this.#idle = () => {
        this.#idle = undefined;
        previous?.();
        resolve();
      };
    });
  }

  /** Up to `nbytes` at `offset` in caio's native memory: exactly the bytes read. */
  readAt(nbytes: number, offset: number, signal?: AbortSignal): Promise<Buffer> {
    if (this.alignment) return this.track(directRead(this, nbytes, offset, signal));
    return this.track(this.ctx.read(nbytes, this.fd, offset, signal && { signal }));
  }

  /** Fills `view` from `offset`; resolves with the bytes read. */
  readInto(view: Uint8Array, offset: number): Promise<number> {
    if (this.alignment) {
      return this.track(
        directRead(this, view.length, offset).then((bytes) => {
          view.set(bytes);
          dropNative(bytes);
          return bytes.length;
        }),
      );
    }
    return this.track(this.ctx.readInto(view, this.fd, offset));
  }

  /** Writes every byte of `bytes` at `offset` (a short write continues where it stopped). */
  writeAt(bytes: Uint8Array, offset: number): Promise<number> {
    return this.track(this.alignment ? directWrite(this, bytes, offset) : this.#writeAll(bytes, offset));
  }

  async #writeAll(bytes: Uint8Array, offset: number): Promise<number> {
    for (let done = 0; ; ) {
      const wrote = await this.ctx.write(done === 0 ? bytes : bytes.subarray(done), this.fd, offset + done);
      done += wrote;
      if (done >= bytes.length) return done;
      if (wrote === 0) throw systemError(EIO, "write", "the kernel wrote nothing");
    }
  }
}

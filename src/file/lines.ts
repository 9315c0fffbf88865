/**
 * file.lines(): the file's lines, split at "\n" with a "\r" before it dropped; a last
 * line without a newline is a line too, an empty file has none.
 *
 * In UTF-8 a 0x0A byte is always a newline, never part
 * of another character, so each chunk is cut after its last newline (Buffer.lastIndexOf),
 * the complete lines before it decoded as one string and split there (substrings share
 * its memory: twice as fast as decoding line by line), and the bytes after it carried
 * to the next chunk: a character split across two chunks is whole again in its line. The rest of a chunk after its last newline is copied out, so every
 * chunk's buffer is free to be read into again as soon as it is scanned. Other encodings (UTF-16)
 * go through a streaming TextDecoder, which keeps a split character for the next chunk.
 *
 * Each chunk's lines are split at once into a batch that next() hands out one by one:
 * an async generator would cost two more promise turns per line, which at 20-byte
 * lines is most of the time spent.
 */
import { ReadAhead } from "./chunks.ts";
import type { FileCore } from "./core.ts";
import type { ParsedChunks } from "./options.ts";

const LF = 0x0a;
const CR = 0x0d;
/**
 * TextDecoder's labels for UTF-8, decoded by Buffer. (Its "latin1" and "ascii" mean
 * windows-1252, which Buffer does not have: those go through TextDecoder.)
 */
const BYTE_ENCODINGS: Record<string, BufferEncoding> = { "utf-8": "utf8", utf8: "utf8", "unicode-1-1-utf-8": "utf8" };

export function lines(core: FileCore, options: ParsedChunks & { encoding: string }): AsyncIterableIterator<string> {
  const reader = new ReadAhead(core, options);
  const byteEncoding = BYTE_ENCODINGS[options.encoding.trim().toLowerCase()];
  return new LineIterator(reader, byteEncoding ? new ByteSplitter(byteEncoding) : new DecoderSplitter(options.encoding));
}

/** Turns chunks into lines; `end()` gives what is left once the file ends. */
interface Splitter {
  push(chunk: Buffer): string[];
  end(): string[];
}

/** Pushes the lines of `text` (each ended by "\n", a "\r" before it dropped) onto `lines`. */
function splitText(text: string, lines: string[]): void {
  let from = 0;
  for (let newline = text.indexOf("\n"); newline !== -1; newline = text.indexOf("\n", from)) {
    lines.push(text.slice(from, newline > from && text.charCodeAt(newline - 1) === CR ? newline - 1 : newline));
    from = newline + 1;
  }
}

/** Bytes [start, end) of `bytes` as a line: without the "\r" of a "\r\n". */
function lineOf(bytes: Buffer, start: number, end: number, encoding: BufferEncoding): string {
  if (end > start && bytes[end - 1] === CR) end--;
  return bytes.toString(encoding, start, end);
}

class ByteSplitter implements Splitter {
  /** The current line's bytes from earlier chunks (copies), and their total. */
  #parts: Buffer[] = [];
  #carried = 0;

  constructor(readonly encoding: BufferEncoding) {}

  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    const last = chunk.lastIndexOf(LF);
    let from = 0;
    if (last !== -1 && this.#carried > 0) {
      const first = chunk.indexOf(LF);
      lines.push(this.#joined(chunk.subarray(0, first)));
      from = first + 1;
    }
    if (last >= from) splitText(chunk.toString(this.encoding, from, last + 1), lines);
    const rest = last === -1 ? 0 : last + 1;
    if (rest < chunk.length) {
      this.#parts.push(Buffer.from(chunk.subarray(rest))); // a copy: the chunk goes back now
      this.#carried += chunk.length - rest;
    }
    return lines;
  }

  end(): string[] {
    return this.#carried > 0 ? [this.#joined(Buffer.alloc(0))] : [];
  }

  /** The carried bytes and `last` as one line. */
  #joined(last: Buffer): string {
    this.#parts.push(last);
    const whole = Buffer.concat(this.#parts, this.#carried + last.length);
    this.#parts = [];
    this.#carried = 0;
    return lineOf(whole, 0, whole.length, this.encoding);
  }
}

class DecoderSplitter implements Splitter {
  readonly #decoder: TextDecoder;
  #rest = "";

  constructor(encoding: string) {
    this.#decoder = new TextDecoder(encoding as ConstructorParameters<typeof TextDecoder>[0]);
  }

  push(chunk: Buffer): string[] {
    return this.#split(this.#rest + this.#decoder.decode(chunk, { stream: true }), false);
  }

  end(): string[] {
    return this.#split(this.#rest + this.#decoder.decode(), true);
  }

  #split(text: string, final: boolean): string[] {
    const lines: string[] = [];
    const last = text.lastIndexOf("\n");
    splitText(last === -1 ? "" : text.slice(0, last + 1), lines);
    this.#rest = text.slice(last + 1);
    if (final && this.#rest.length > 0) lines.push(this.#rest.endsWith("\r") ? this.#rest.slice(0, -1) : this.#rest);
    return lines;
  }
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

class LineIterator implements AsyncIterableIterator<string> {
  readonly #reader: ReadAhead;
  readonly #splitter: Splitter;
  #batch: string[] = [];
  #index = 0;
  #finished = false;
  /** A refill in progress: a next() called meanwhile waits for it (for await never does, a caller might). */
  #refilling: Promise<IteratorResult<string>> | undefined;

  constructor(reader: ReadAhead, splitter: Splitter) {
    this.#reader = reader;
    this.#splitter = splitter;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<string>> {
    if (this.#index < this.#batch.length) return Promise.resolve({ value: this.#batch[this.#index++]!, done: false });
    if (this.#refilling) return this.#refilling.then(() => this.next());
    const refill = this.#refill().finally(() => (this.#refilling = undefined));
    this.#refilling = refill;
    return refill;
  }

  /** `break` out of for await: stops reading ahead. */
  return(): Promise<IteratorResult<string>> {
    this.#finish();
    return Promise.resolve(DONE);
  }

  async #refill(): Promise<IteratorResult<string>> {
    while (!this.#finished) {
      let chunk: Buffer | null;
      try {
        chunk = await this.#reader.next();
      } catch (error) {
        this.#finish();
        throw error;
      }
      if (chunk === null) {
        this.#batch = this.#splitter.end();
        this.#finished = true;
      } else {
        this.#batch = this.#splitter.push(chunk);
        this.#reader.discard(chunk);
      }
      this.#index = 0;
      if (this.#batch.length > 0) return { value: this.#batch[this.#index++]!, done: false };
    }
    return DONE;
  }

  #finish(): void {
    this.#finished = true;
    this.#batch = [];
    this.#index = 0;
    this.#reader.cancel();
  }
}

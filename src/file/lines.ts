/**
 * file.lines(): the file's lines, split at "\n" with a "\r" before it dropped; a last
 * line without a newline is a line too, an empty file has none.
 *
 * In UTF-8 a 0x0A byte is always a newline, never part
 * of another character, so the chunks are scanned for it with Buffer.indexOf and each
 * line is decoded from its own bytes: a character split across two chunks is whole
 * again in its line. The rest of a chunk after its last newline is copied out, so every
 * chunk goes back to caio's memory as soon as it is scanned. Other encodings (UTF-16)
 * go through a streaming TextDecoder, which keeps a split character for the next chunk.
 */
import { dropNative } from "../bounce.ts";
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

export function lines(core: FileCore, options: ParsedChunks & { encoding: string }): AsyncGenerator<string, void, undefined> {
  const reader = new ReadAhead(core, options);
  const byteEncoding = BYTE_ENCODINGS[options.encoding.trim().toLowerCase()];
  return byteEncoding ? byteLines(reader, byteEncoding) : decodedLines(reader, options.encoding);
}

/** Bytes [start, end) of `bytes` as a line: without the "\r" of a "\r\n". */
function lineOf(bytes: Buffer, start: number, end: number, encoding: BufferEncoding): string {
  if (end > start && bytes[end - 1] === CR) end--;
  return bytes.toString(encoding, start, end);
}

/** A line that began in earlier chunks (`parts`) and ends at `end` of `chunk`. */
function joinedLine(parts: Buffer[], length: number, chunk: Buffer, end: number, encoding: BufferEncoding): string {
  parts.push(chunk.subarray(0, end));
  const whole = Buffer.concat(parts, length + end);
  return lineOf(whole, 0, whole.length, encoding);
}

async function* byteLines(reader: ReadAhead, encoding: BufferEncoding): AsyncGenerator<string, void, undefined> {
  /** The current line's bytes from earlier chunks (copies), and their total. */
  let parts: Buffer[] = [];
  let carried = 0;
  try {
    for (let chunk = await reader.next(); chunk !== null; chunk = await reader.next()) {
      let from = 0;
      let newline = chunk.indexOf(LF);
      if (newline !== -1 && carried > 0) {
        const line = joinedLine(parts, carried, chunk, newline, encoding);
        parts = [];
        carried = 0;
        from = newline + 1;
        newline = chunk.indexOf(LF, from);
        yield line;
      }
      for (; newline !== -1; newline = chunk.indexOf(LF, from)) {
        const line = lineOf(chunk, from, newline, encoding);
        from = newline + 1;
        yield line;
      }
      if (from < chunk.length) {
        parts.push(Buffer.from(chunk.subarray(from)));
        carried += chunk.length - from;
      }
      dropNative(chunk);
    }
    if (carried > 0) {
      const whole = Buffer.concat(parts, carried);
      yield lineOf(whole, 0, whole.length, encoding);
    }
  } finally {
    reader.cancel();
  }
}

async function* decodedLines(reader: ReadAhead, encoding: string): AsyncGenerator<string, void, undefined> {
  const decoder = new TextDecoder(encoding as ConstructorParameters<typeof TextDecoder>[0]);
  let rest = "";
  const split = function* (text: string, final: boolean): Generator<string> {
    let from = 0;
    for (let newline = text.indexOf("\n"); newline !== -1; newline = text.indexOf("\n", from)) {
      yield text.slice(from, newline > from && text.charCodeAt(newline - 1) === CR ? newline - 1 : newline);
      from = newline + 1;
    }
    rest = text.slice(from);
    if (final && rest.length > 0) yield rest.endsWith("\r") ? rest.slice(0, -1) : rest;
  };
  try {
    for (let chunk = await reader.next(); chunk !== null; chunk = await reader.next()) {
      const text = rest + decoder.decode(chunk, { stream: true });
      dropNative(chunk);
      yield* split(text, false);
    }
    yield* split(rest + decoder.decode(), true);
  } finally {
    reader.cancel();
  }
}

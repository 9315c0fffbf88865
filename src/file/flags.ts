/** open(2) flags and modes as node:fs takes them: "r", "wx+", … or fs.constants numbers; modes as numbers or octal strings. */
import { constants } from "node:fs";
import { invalidArgType, invalidArgValue, outOfRange, type CodedError } from "../errors.ts";

const { O_APPEND, O_CREAT, O_EXCL, O_RDONLY, O_RDWR, O_SYNC, O_TRUNC, O_WRONLY } = constants;
/** Descriptors caio opens are close-on-exec, as node:fs's are. */
export const O_CLOEXEC = 0o2000000;

const FLAGS: Record<string, number> = Object.assign(Object.create(null), {
  r: O_RDONLY,
  rs: O_RDONLY | O_SYNC,
  sr: O_RDONLY | O_SYNC,
  "r+": O_RDWR,
  "rs+": O_RDWR | O_SYNC,
  "sr+": O_RDWR | O_SYNC,
  w: O_TRUNC | O_CREAT | O_WRONLY,
  wx: O_TRUNC | O_CREAT | O_WRONLY | O_EXCL,
  xw: O_TRUNC | O_CREAT | O_WRONLY | O_EXCL,
  "w+": O_TRUNC | O_CREAT | O_RDWR,
  "wx+": O_TRUNC | O_CREAT | O_RDWR | O_EXCL,
  "xw+": O_TRUNC | O_CREAT | O_RDWR | O_EXCL,
  a: O_APPEND | O_CREAT | O_WRONLY,
  ax: O_APPEND | O_CREAT | O_WRONLY | O_EXCL,
  xa: O_APPEND | O_CREAT | O_WRONLY | O_EXCL,
  as: O_APPEND | O_CREAT | O_WRONLY | O_SYNC,
  sa: O_APPEND | O_CREAT | O_WRONLY | O_SYNC,
  "a+": O_APPEND | O_CREAT | O_RDWR,
  "ax+": O_APPEND | O_CREAT | O_RDWR | O_EXCL,
  "xa+": O_APPEND | O_CREAT | O_RDWR | O_EXCL,
  "as+": O_APPEND | O_CREAT | O_RDWR | O_SYNC,
  "sa+": O_APPEND | O_CREAT | O_RDWR | O_SYNC,
});

/** The open(2) flags for a node:fs flag string or number (O_CLOEXEC added), or the error for it. */
export function parseFlags(value: unknown, fallback: string, name = "flags"): number | CodedError {
  if (value === undefined || value === null) return FLAGS[fallback]! | O_CLOEXEC;
  if (typeof value === "number") {
    if (!Number.isInteger(value) || value < -(2 ** 31) || value > 2 ** 31 - 1) {
      return outOfRange(name, ">= -2147483648 && <= 2147483647", value);
    }
    return value | O_CLOEXEC;
  }
  if (typeof value !== "string") return invalidArgType(name, "of type string or number", value);
  const flags = FLAGS[value];
  return flags === undefined ? invalidArgValue(name, value) : flags | O_CLOEXEC;
}

/** A file mode: an integer 0 … 2^32-1 or an octal string ("644"); `fallback` when absent. */
export function parseMode(value: unknown, fallback: number, name = "mode"): number | CodedError {
  if (value === undefined || value === null) return fallback;
  if (typeof value === "string") {
    if (!/^[0-7]+$/.test(value)) return invalidArgValue(name, value, "must be a 32-bit unsigned integer or an octal string");
    value = parseInt(value, 8);
  }
  if (typeof value !== "number") return invalidArgType(name, "of type number or string", value);
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 0xffffffff) {
    return outOfRange(name, ">= 0 && <= 4294967295", value);
  }
  return value as number;
}

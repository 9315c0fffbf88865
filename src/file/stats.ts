/**
 * fs.Stats (and BigIntStats) from a struct statx as the kernel writes it (the js
 * backend writes the same layout): the same fields and is*() methods as statSync.
 */
import { Stats, statSync } from "node:fs";

/** fs.Stats's constructor (typed private, but node:fs and Bun both take these 14 fields). */
const StatsClass = Stats as unknown as new (...fields: number[]) => FileStats;

/** node:fs's BigIntStats class, which node:fs does not export by name. */
const BigIntStats = statSync("/", { bigint: true }).constructor as new (...fields: bigint[]) => import("node:fs").BigIntStats;

/** What stat() resolves with: fs.Stats, or fs.BigIntStats with { bigint: true }. */
export type FileStats = import("node:fs").Stats;
export type BigFileStats = import("node:fs").BigIntStats;

/** statx's mask for what node:fs reports: STATX_BASIC_STATS | STATX_BTIME. */
export const STATX_MASK = 0xfff;
const STATX_BTIME = 0x800;

/** glibc's makedev(major, minor), as statSync reports dev and rdev. */
function makedev(major: bigint, minor: bigint): bigint {
  return ((major & 0xfffff000n) << 32n) | ((major & 0xfffn) << 8n) | ((minor & 0xffffff00n) << 12n) | (minor & 0xffn);
}

function nanoseconds(view: DataView, at: number): bigint {
  return view.getBigInt64(at, true) * 1_000_000_000n + BigInt(view.getUint32(at + 8, true));
}

function milliseconds(view: DataView, at: number): number {
  return Number(view.getBigInt64(at, true)) * 1000 + view.getUint32(at + 8, true) / 1e6;
}

/** Decodes the struct statx at the start of `block`. */
export function decodeStats(block: Uint8Array, bigint: boolean): FileStats | BigFileStats {
  const view = new DataView(block.buffer, block.byteOffset, 256);
  const hasBirth = (view.getUint32(0, true) & STATX_BTIME) !== 0;
  const dev = makedev(BigInt(view.getUint32(136, true)), BigInt(view.getUint32(140, true)));
  const rdev = makedev(BigInt(view.getUint32(128, true)), BigInt(view.getUint32(132, true)));
  const mode = view.getUint16(28, true);
  const nlink = view.getUint32(16, true);
  const uid = view.getUint32(20, true);
  const gid = view.getUint32(24, true);
  const blksize = view.getUint32(4, true);
  const ino = view.getBigUint64(32, true);
  const size = view.getBigUint64(40, true);
  const blocks = view.getBigUint64(48, true);
  if (!bigint) {
    return new StatsClass(
      Number(dev), mode, nlink, uid, gid, Number(rdev), blksize, Number(ino), Number(size), Number(blocks),
      milliseconds(view, 64), milliseconds(view, 112), milliseconds(view, 96), hasBirth ? milliseconds(view, 80) : 0,
    );
  }
  const atimeNs = nanoseconds(view, 64);
  const mtimeNs = nanoseconds(view, 112);
  const ctimeNs = nanoseconds(view, 96);
  const birthtimeNs = hasBirth ? nanoseconds(view, 80) : 0n;
  const stats = new BigIntStats(
    dev, BigInt(mode), BigInt(nlink), BigInt(uid), BigInt(gid), rdev, BigInt(blksize), ino, size, blocks,
    atimeNs, mtimeNs, ctimeNs, birthtimeNs,
  );
  // Bun's constructor leaves the *Ms fields fractional and the Dates unset: set them as statSync has them.
  const fix = stats as unknown as Record<string, unknown>;
  const times: [string, bigint][] = [["atime", atimeNs], ["mtime", mtimeNs], ["ctime", ctimeNs], ["birthtime", birthtimeNs]];
  for (const [name, ns] of times) {
    fix[`${name}Ms`] = ns / 1_000_000n;
    fix[name] = new Date(Number(ns / 1_000_000n));
  }
  return stats;
}

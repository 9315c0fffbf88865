/** The files the workloads read and write, kept under bench/.data between runs. */
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";

const CHUNK = 1 << 20;

export interface BenchFiles {
  /** Every 32-bit word holds its own index, so a read can be checked from its first word. */
  readPath: string;
  /** Same size, overwritten by W5; its contents are never checked. */
  writePath: string;
  bytes: number;
}

function writeIndexedFile(path: string, bytes: number): void {
  const fd = openSync(path, "w");
  const chunk = Buffer.alloc(CHUNK);
  for (let offset = 0; offset < bytes; offset += CHUNK) {
    for (let i = 0; i < CHUNK; i += 4) chunk.writeUInt32LE((offset + i) / 4, i);
    writeSync(fd, chunk, 0, CHUNK, offset);
  }
  closeSync(fd);
}

function ensureFile(path: string, bytes: number): void {
  if (existsSync(path) && statSync(path).size === bytes) return;
  process.stdout.write(`writing ${bytes >> 20} MiB test file ${path} ... `);
  writeIndexedFile(path, bytes);
  console.log("done");
}

export function prepareFiles(dir: string, bytes: number): BenchFiles {
  mkdirSync(dir, { recursive: true });
  const files = { readPath: join(dir, `read-${bytes}.bin`), writePath: join(dir, `write-${bytes}.bin`), bytes };
  ensureFile(files.readPath, bytes);
  ensureFile(files.writePath, bytes);
  return files;
}

/** Reads the whole file so that "cached" workloads start with every page in memory. */
export function warmPageCache(path: string): void {
  const fd = openSync(path, "r");
  const chunk = Buffer.alloc(CHUNK);
  try {
    while (readSync(fd, chunk, 0, CHUNK, null) > 0);
  } finally {
    closeSync(fd);
  }
}

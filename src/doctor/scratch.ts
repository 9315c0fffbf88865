/**
 * The doctor's temporary directory inside the directory it examines (the probe and the
 * measurement must run on that file system, not on /tmp). Removed on dispose, and on
 * Ctrl-C or SIGTERM too, so an interrupted run leaves no 16 MiB file behind.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";

export interface Scratch extends Disposable {
  path: string;
}

const SIGNALS = ["SIGINT", "SIGTERM"] as const;

/** A fresh ".caio-doctor-XXXXXX" directory in `dir`; throws (EACCES, EROFS, ...) when `dir` is not writable. */
export function openScratch(dir: string): Scratch {
  const path = mkdtempSync(join(dir, ".caio-doctor-"));
  const remove = () => rmSync(path, { recursive: true, force: true });
  const onSignal = (signal: NodeJS.Signals) => {
    remove();
    process.exit(128 + (signal === "SIGINT" ? 2 : 15));
  };
  for (const signal of SIGNALS) process.once(signal, onSignal);
  return {
    path,
    [Symbol.dispose]() {
      for (const signal of SIGNALS) process.off(signal, onSignal);
      remove();
    },
  };
}

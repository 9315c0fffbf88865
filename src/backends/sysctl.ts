/** Kernel settings quoted in setup errors, so a message can say which limit or switch refused us. */
import { readFileSync } from "node:fs";

/** The value of a sysctl such as "fs.aio-max-nr", or "unknown" where /proc/sys cannot be read. */
export function readSysctl(name: string): string {
  try {
    return readFileSync(`/proc/sys/${name.replaceAll(".", "/")}`, "utf8").trim();
  } catch {
    return "unknown";
  }
}

/** Context creation failures explain themselves: the sysctl to raise, or that the sandbox refuses AIO. */
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { explainIoSetupError } from "../src/backends/linux.ts";
import { Context } from "../src/index.ts";
import { availableBackends, isRoot } from "./helpers.ts";

const AIO_MAX_NR = "/proc/sys/fs/aio-max-nr";
const canLowerAioLimit = isRoot() && availableBackends.includes("linux");
if (!canLowerAioLimit) console.log("[skip] fs.aio-max-nr exhaustion: needs root and a working linux backend");

describe("linux backend setup", () => {
  test.skipIf(!canLowerAioLimit)("an exhausted fs.aio-max-nr is EAGAIN naming the sysctl", () => {
    const original = readFileSync(AIO_MAX_NR, "utf8").trim();
    let error: any;
    try {
      const inUse = readFileSync("/proc/sys/fs/aio-nr", "utf8").trim();
      writeFileSync(AIO_MAX_NR, inUse);
      try {
        new Context({ backend: "linux" });
      } catch (e) {
        error = e;
      }
    } finally {
      writeFileSync(AIO_MAX_NR, original);
    }
    expect(readFileSync(AIO_MAX_NR, "utf8").trim()).toBe(original);
    expect({ code: error?.code, errno: error?.errno, syscall: error?.syscall }).toEqual({
      code: "EAGAIN",
      errno: -11,
      syscall: "io_setup",
    });
    expect(error.message).toContain("fs.aio-max-nr");
    expect(error.message).toContain("sysctl -w");
  });

  test.each([
    [-38, "ENOSYS"],
    [-1, "EPERM"],
  ])("io_setup refused with %d says the kernel or sandbox refuses AIO", (errno, code) => {
    const error = explainIoSetupError(errno, 128) as any;
    expect({ code: error.code, errno: error.errno, syscall: error.syscall }).toEqual({ code, errno, syscall: "io_setup" });
    expect(error.message).toContain("refuses Linux AIO");
  });
});

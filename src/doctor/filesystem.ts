/**
 * The file system under a directory: its type (from /proc/self/mountinfo, else the
 * statfs magic number), the device's logical block size (sysfs), and whether O_DIRECT
 * really works there, found by doing it: an aligned 4 KiB write and read-back.
 */
import { closeSync, constants, openSync, readFileSync, readSync, realpathSync, statfsSync, writeSync } from "node:fs";
import { basename, join } from "node:path";
import { allocAligned } from "../index.ts";

export interface DirectIoReport {
  /** True when O_DIRECT bypasses the page cache here and aligned I/O succeeds. */
  supported: boolean;
  /** What the probe did and saw. */
  detail: string;
}

export interface FileSystemReport {
  /** The directory examined, resolved. */
  dir: string;
  /** "ext4", "xfs", "tmpfs", ...; from mountinfo, else the statfs magic; null when neither says. */
  type: string | null;
  /** statfs f_type, hexadecimal ("0xef53"). */
  magic: string;
  /** The mount holding `dir` and what is mounted there ("/dev/vda", "tmpfs"); null without mountinfo. */
  mountPoint: string | null;
  source: string | null;
  /** "major:minor" of the mount. */
  device: string | null;
  /** The device's logical block size in bytes (O_DIRECT's alignment unit); null without a block device. */
  logicalBlockSize: number | null;
  /** statfs f_bsize: the file system's block size. */
  blockSize: number;
  direct: DirectIoReport;
}

/** Names for the statfs magic numbers, used only when mountinfo cannot be read. */
const MAGIC_NAMES: Record<number, string> = {
  0xef53: "ext2/ext3/ext4",
  0x58465342: "xfs",
  0x9123683e: "btrfs",
  0x2fc12fc1: "zfs",
  0xf2f52010: "f2fs",
  0xca451a4e: "bcachefs",
  0x01021994: "tmpfs",
  0x858458f6: "ramfs",
  0x794c7630: "overlay",
  0x65735546: "fuse",
  0x6969: "nfs",
  0xff534d42: "cifs",
  0xfe534d42: "smb2",
  0x01021997: "9p",
  0x00c36400: "ceph",
  0x4d44: "vfat",
  0x2011bab0: "exfat",
  0x73717368: "squashfs",
};

/* These keep files in memory: Linux 6.6+ accepts O_DIRECT on tmpfs, but it is page-cache I/O there. */
const MEMORY_FILE_SYSTEMS = new Set(["tmpfs", "ramfs"]);

interface Mount {
  device: string;
  mountPoint: string;
  type: string;
  source: string;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** "36 25 254:0 / / rw,relatime - ext4 /dev/vda rw" → the fields we use. */
function parseMountLine(line: string): Mount | undefined {
  const [before, after] = line.split(" - ");
  const fields = before?.split(" ");
  const tail = after?.split(" ");
  if (!fields || fields.length < 5 || !tail || tail.length < 2) return undefined;
  return { device: fields[2]!, mountPoint: unescapeMountField(fields[4]!), type: tail[0]!, source: unescapeMountField(tail[1]!) };
}

function isUnder(path: string, mountPoint: string): boolean {
  return mountPoint === "/" || path === mountPoint || path.startsWith(`${mountPoint}/`);
}

/** The mount `path` lives on: the longest mount point above it, the last mounted one when stacked. */
function findMount(path: string): Mount | undefined {
  let text: string;
  try {
    text = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return undefined;
  }
  let best: Mount | undefined;
  for (const mount of text.split("\n").map(parseMountLine)) {
    if (!mount || !isUnder(path, mount.mountPoint)) continue;
    if (!best || mount.mountPoint.length >= best.mountPoint.length) best = mount;
  }
  return best;
}

function readNumber(file: string): number | undefined {
  try {
    const value = Number(readFileSync(file, "utf8").trim());
    return Number.isFinite(value) && value > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}

/** A partition's sysfs directory has no queue/; its disk's (the parent) does. */
function queueValue(sysfsDevice: string, name: string): number | undefined {
  return readNumber(join(sysfsDevice, "queue", name)) ?? readNumber(join(sysfsDevice, "..", "queue", name));
}

/** From the mount's major:minor, or, for file systems on anonymous devices (btrfs), from the source device's name. */
function logicalBlockSize(mount: Mount | undefined): number | null {
  if (!mount) return null;
  const byNumber = queueValue(`/sys/dev/block/${mount.device}`, "logical_block_size");
  if (byNumber !== undefined) return byNumber;
  if (!mount.source.startsWith("/dev/")) return null;
  return queueValue(`/sys/class/block/${basename(mount.source)}`, "logical_block_size") ?? null;
}

function errorCode(error: unknown): string {
  return (error as { code?: string }).code ?? (error as Error).message;
}

/** Writes a pattern with O_DIRECT and reads it back; undefined when that worked, else what failed. */
function directRoundTrip(file: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_CREAT | constants.O_RDWR | constants.O_DIRECT, 0o600);
  } catch (error) {
    return `open with O_DIRECT fails (${errorCode(error)})`;
  }
  try {
    const written = allocAligned(4096).fill(0xa5);
    const back = allocAligned(4096);
    writeSync(fd, written, 0, written.length, 0);
    const read = readSync(fd, back, 0, back.length, 0);
    return read === back.length && back.equals(written) ? undefined : `an aligned 4 KiB read returned ${read} bytes or other data`;
  } catch (error) {
    return `an aligned 4 KiB write and read with O_DIRECT fail (${errorCode(error)})`;
  } finally {
    closeSync(fd);
  }
}

/** Probes O_DIRECT with a file in `scratchDir`, which must be on the file system examined. */
export function probeDirectIo(scratchDir: string, type: string | null): DirectIoReport {
  const failure = directRoundTrip(join(scratchDir, "direct-probe"));
  if (failure) return { supported: false, detail: failure };
  if (type && MEMORY_FILE_SYSTEMS.has(type)) {
    return {
      supported: false,
      detail: `the kernel accepts O_DIRECT on ${type} (Linux 6.6+), but ${type} keeps files in memory, so it is page-cache I/O here`,
    };
  }
  return { supported: true, detail: "an aligned 4 KiB write and read-back with O_DIRECT worked" };
}

/**
 * Examines the file system holding `dir`; `scratchDir` (inside `dir`) holds the O_DIRECT
 * probe, or is null when `dir` is not writable and the probe cannot run.
 */
export function examineFileSystem(dir: string, scratchDir: string | null, unwritable?: string): FileSystemReport {
  const path = realpathSync(dir);
  const stats = statfsSync(path);
  const mount = findMount(path);
  const type = mount?.type ?? MAGIC_NAMES[Number(stats.type)] ?? null;
  const direct = scratchDir
    ? probeDirectIo(scratchDir, type)
    : { supported: false, detail: `not probed: cannot create a file in ${path} (${unwritable ?? "not writable"})` };
  return {
    dir: path,
    type,
    magic: `0x${Number(stats.type).toString(16)}`,
    mountPoint: mount?.mountPoint ?? null,
    source: mount?.source ?? null,
    device: mount?.device ?? null,
    logicalBlockSize: logicalBlockSize(mount),
    blockSize: Number(stats.bsize),
    direct,
  };
}

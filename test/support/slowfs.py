"""A read-only FUSE file system whose files misbehave on purpose (test/support/slowfs.ts mounts it).

    slowfs.py MOUNTPOINT [--delay-ms 5] [--hang-limit-ms 30000]

Files (every one holds the indexed pattern: the 8-byte word at offset 8k is k, little-endian):
    slow   16 MiB; each read sleeps --delay-ms (or SLOWFS_DELAY_MS) first
    eio    1 MiB; every read fails with EIO
    short  1 MiB; a read returns at most 1000 bytes
    hang   1 MiB; a read waits until released, then answers normally

Mounted with direct_io, so the page cache never answers for the file system, and served by
libfuse's multi-threaded loop, so concurrent reads overlap. Prints "ready" once the kernel's
INIT is answered. Control lines on stdin: "release" answers every waiting and future hang read.
End of stdin (the test process exited, however it died) releases hangs and unmounts.
"""
import argparse
import array
import errno
import os
import stat
import subprocess
import sys
import threading
import time

try:  # Debian's python3-fusepy installs the module as "fusepy"; pip's fusepy as "fuse".
    import fusepy as fuse
except ImportError:
    import fuse

MiB = 1 << 20
SHORT_READ = 1000
FILES = {"slow": 16 * MiB, "eio": MiB, "short": MiB, "hang": MiB}


def indexed(size):
    """The pattern's first `size` bytes, made once: serving a read is then one slice, so the
    daemon spends next to no CPU on the two cores it shares with the test."""
    words = array.array("Q", range(size // 8))
    if sys.byteorder != "little":
        words.byteswap()
    return words.tobytes()


CONTENTS = indexed(max(FILES.values()))


class SlowFs(fuse.Operations):
    def __init__(self, delay_s, hang_limit_s):
        self.delay_s = delay_s
        self.hang_limit_s = hang_limit_s
        self.released = threading.Event()
        self.mounted_at = time.time()

    def init(self, path):
        print("ready", flush=True)

    def getattr(self, path, fh=None):
        t = self.mounted_at
        if path == "/":
            return {"st_mode": stat.S_IFDIR | 0o555, "st_nlink": 2, "st_ctime": t, "st_mtime": t, "st_atime": t}
        size = FILES.get(path[1:])
        if size is None:
            raise fuse.FuseOSError(errno.ENOENT)
        return {"st_mode": stat.S_IFREG | 0o444, "st_nlink": 1, "st_size": size, "st_ctime": t, "st_mtime": t, "st_atime": t}

    def readdir(self, path, fh):
        return [".", "..", *FILES]

    def open(self, path, flags):
        if path[1:] not in FILES:
            raise fuse.FuseOSError(errno.ENOENT)
        if flags & os.O_ACCMODE != os.O_RDONLY:
            raise fuse.FuseOSError(errno.EROFS)
        return 0

    def read(self, path, size, offset, fh):
        name = path[1:]
        if name == "slow":
            time.sleep(self.delay_s)
        elif name == "eio":
            raise fuse.FuseOSError(errno.EIO)
        elif name == "short":
            size = min(size, SHORT_READ)
        elif name == "hang":
            # The limit is a safety net so that nothing waits forever; tests release long before.
            self.released.wait(self.hang_limit_s)
        return CONTENTS[offset : min(offset + size, FILES[name])]


def follow_stdin(fs, mountpoint):
    for line in sys.stdin:
        if line.strip() == "release":
            fs.released.set()
    fs.released.set()
    subprocess.run(["umount", "-l", mountpoint], stderr=subprocess.DEVNULL, check=False)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mountpoint")
    parser.add_argument("--delay-ms", type=float, default=float(os.environ.get("SLOWFS_DELAY_MS", "5")))
    parser.add_argument("--hang-limit-ms", type=float, default=30_000)
    args = parser.parse_args()
    fs = SlowFs(args.delay_ms / 1000, args.hang_limit_ms / 1000)
    threading.Thread(target=follow_stdin, args=(fs, args.mountpoint), daemon=True).start()
    fuse.FUSE(fs, args.mountpoint, foreground=True, nothreads=False, ro=True, direct_io=True, fsname="caio-slowfs")


if __name__ == "__main__":
    main()

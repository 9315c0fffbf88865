"""Python caio (PyPI) on W1/W2: random reads with `depth` asyncio tasks in flight.

Run by bench/python-caio.ts inside the venv it makes under bench/.data:

    python caio_reads.py '{"impl": "uring", "deferred": false, "file": PATH,
                           "block": 4096, "depth": 64, "seconds": 2, "direct": false}'

Each task reads the next offset of the JavaScript loops' own sequence
(bench/shared/loops.mjs: xorshift32 block numbers, 2^20 of them, wrapping) with
`await ctx.read(block, fd, offset)` and checks the first word as they do (the test file
holds each 32-bit word's own index). Python caio's read() returns a new bytes object per
call; it has no call that reads into a buffer the caller keeps.

Prints one JSON line: {"iops", "reads", "seconds", "version", "sqpoll"}, or {"error"}
with exit code 1.
"""

import asyncio
import importlib
import json
import os
import sys
import time
from array import array

SEQUENCE_LENGTH = 1 << 20
MODULES = {
    "uring": "caio.linux_uring_asyncio",
    "linux": "caio.linux_aio_asyncio",
    "thread": "caio.thread_aio_asyncio",
    "python": "caio.python_aio_asyncio",
}


def random_blocks(blocks):
    """The same block numbers as randomBlocks() in bench/shared/loops.mjs."""
    out = array("I", bytes(4 * SEQUENCE_LENGTH))
    x = 0x9E3779B9
    for i in range(SEQUENCE_LENGTH):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = x % blocks
    return out


def open_context(job):
    module = importlib.import_module(MODULES[job["impl"]])
    options = {"deferred": True} if job["deferred"] else {}
    return module.AsyncioContext(max_requests=job["depth"], **options)


async def random_reads(job):
    block, depth = job["block"], job["depth"]
    fd = os.open(job["file"], os.O_RDONLY | (os.O_DIRECT if job["direct"] else 0))
    sequence = random_blocks(os.fstat(fd).st_size // block)
    context = open_context(job)
    mask = SEQUENCE_LENGTH - 1
    state = {"next": 0, "reads": 0}
    deadline = time.monotonic() + job["seconds"]

    async def worker():
        while time.monotonic() < deadline:
            offset = sequence[state["next"] & mask] * block
            state["next"] += 1
            data = await context.read(block, fd, offset)
            if len(data) != block or int.from_bytes(data[:4], "little") != offset // 4:
                raise RuntimeError(f"bad read at offset {offset}: {len(data)} bytes")
            state["reads"] += 1

    try:
        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(depth)))
        elapsed = time.monotonic() - started
    finally:
        context.close()
        os.close(fd)
    import caio

    return {
        "iops": state["reads"] / elapsed,
        "reads": state["reads"],
        "seconds": elapsed,
        "version": caio.__version__,
        "sqpoll": bool(getattr(context.context, "sqpoll", False)),
    }


def main():
    job = json.loads(sys.argv[1])
    try:
        result = asyncio.run(random_reads(job))
    except Exception as error:  # the bench shows the reason in the row
        print(json.dumps({"error": f"{type(error).__name__}: {error}"[:300]}))
        sys.exit(1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

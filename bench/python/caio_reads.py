"""Python caio (PyPI) on W1/W2: random reads with `depth` asyncio tasks in flight.

Run by bench/python-caio.ts inside the venv it makes under bench/.data:

    python caio_reads.py '{"impl": "uring", "deferred": false, "file": PATH,
                           "sequence": PATH, "block": 4096, "depth": 64,
                           "seconds": 2, "direct": false}'

Each task reads the next offset of the JavaScript loops' own sequence (randomBlocks()
in bench/shared/loops.mjs, which the bench writes to the "sequence" file as native
32-bit block numbers; 2^20 of them, wrapping) with
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

import caio

MODULES = {
    "uring": "caio.linux_uring_asyncio",
    "linux": "caio.linux_aio_asyncio",
    "thread": "caio.thread_aio_asyncio",
    "python": "caio.python_aio_asyncio",
}


def read_sequence(path):
    sequence = array("I")
    with open(path, "rb") as file:
        sequence.frombytes(file.read())
    if len(sequence) == 0 or len(sequence) & (len(sequence) - 1):
        raise ValueError(f"{path}: the sequence length must be a power of two")
    return sequence


def open_context(job):
    module = importlib.import_module(MODULES[job["impl"]])
    options = {"deferred": True} if job["deferred"] else {}
    return module.AsyncioContext(max_requests=job["depth"], **options)


async def random_reads(job):
    block, depth = job["block"], job["depth"]
    fd = os.open(job["file"], os.O_RDONLY | (os.O_DIRECT if job["direct"] else 0))
    sequence = read_sequence(job["sequence"])
    context = open_context(job)
    mask = len(sequence) - 1
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

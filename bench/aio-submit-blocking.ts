/**
 * When does Linux AIO's io_submit sleep? caio's `linux` backend calls io_submit on the
 * JavaScript thread, so any time spent in it is time the event loop stands still.
 *
 *   bun bench/aio-submit-blocking.ts            # a markdown table, about 30 s
 *   bun bench/aio-submit-blocking.ts --nowait   # the same with RWF_NOWAIT on every request (an EAGAIN column)
 *
 * Each row is one run of aio-submit-blocking.c (raw io_setup/io_submit/io_getevents,
 * compiled here with the system cc): it keeps `qd` requests in flight, refilling after
 * every io_getevents with one io_submit per refill, as caio does per tick. "io_submit"
 * is the wall time of one call (the first call, a burst of qd, is shown on its own);
 * "latency" runs from that call's entry to io_getevents returning the completion.
 * "in submit" is io_submit p50 over latency p50: near 100% means the call did the whole
 * I/O before returning. "off CPU" is the share of io_submit's wall
 * time the thread was not running (asleep on the disk, a lock or a tag, or preempted)
 * rather than working; reading the thread's CPU clock costs about a microsecond, so for
 * calls under ~10 µs it is noise.
 * Files live in bench/.data/aio-submit-blocking (on the file system measured) and are
 * deleted at the end. Needs Linux, cc, and a file system that accepts O_DIRECT.
 */
import { mkdirSync, rmSync } from "node:fs";
import { loadavg, release } from "node:os";

const here = import.meta.dir;
const dir = `${here}/.data/aio-submit-blocking`;
const exe = `${dir}/aio-submit-blocking`;
const nowait = process.argv.includes("--nowait");
mkdirSync(dir, { recursive: true });

function sh(...command: string[]): string {
  const r = Bun.spawnSync(command, { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${command.join(" ")}: ${r.stderr.toString().trim()}`);
  return r.stdout.toString().trim();
}

sh(process.env.CC ?? "cc", "-O2", "-Wall", "-o", exe, `${here}/aio-submit-blocking.c`);

/** The block device under `dir` and its queue limits: past nr_requests in flight, submitters wait for a tag. */
function device(): { line: string; nrRequests: number } {
  const [source = "?", fstype = "?"] = sh("findmnt", "-n", "-o", "SOURCE,FSTYPE", "-T", dir).split(/\s+/);
  const name = source.replace(/^\/dev\//, "").replace(/\[.*$/, "");
  let disk = name;
  try { disk = sh("lsblk", "-n", "-d", "-o", "PKNAME", source) || name; } catch {}
  const q = (file: string) => { try { return sh("cat", `/sys/block/${disk}/${file}`); } catch { return "?"; } };
  const scheduler = q("queue/scheduler").match(/\[(.*?)\]/)?.[1] ?? "?";
  const tags = q("mq/0/nr_tags");
  const nrRequests = Number(q("queue/nr_requests")) || 256;
  return {
    line: `Linux ${release()}, ${fstype} on ${source} (${disk}: scheduler ${scheduler}, nr_requests ${nrRequests}, hardware queue depth ${tags})`,
    nrRequests,
  };
}

const dev = device();
const data = `${dir}/data`;       // 1 GiB, fully written: reads and overwrites
const scratch = `${dir}/scratch`; // re-laid out by the cases that write new blocks
const GiB = 2 ** 30, MiB = 2 ** 20;

type Case = [label: string, args: Record<string, string | number>];
const cases: Case[] = [];
// a. O_DIRECT random reads of written data; the last depth is past nr_requests.
for (const bs of [4096, 131072])
  for (const qd of [1, 32, 128, dev.nrRequests, dev.nrRequests + 64])
    cases.push(["O_DIRECT read", { file: data, prep: "keep", span: GiB, op: "read", bs, qd, ops: Math.max(2000, qd * 100) }]);
// b. Overwrites of written blocks: ext4 takes its shared-lock, no-allocation path.
for (const [bs, qd] of [[4096, 1], [131072, 1], [4096, 32]] as const)
  cases.push(["O_DIRECT overwrite", { file: data, op: "write", bs, qd, ops: qd === 1 ? 2000 : 20000 }]);
// c. Past EOF: ext4 must update i_size after the I/O, so it waits for it (IOMAP_DIO_FORCE_WAIT).
for (const [bs, qd] of [[4096, 1], [131072, 1], [4096, 32]] as const)
  cases.push(["O_DIRECT append", { file: scratch, prep: "empty", at: "append", op: "write", bs, qd, ops: 2000 }]);
// d. New blocks inside i_size: unwritten extents and holes, each block written once.
for (const prep of ["fallocate", "sparse"])
  for (const qd of [1, 32])
    cases.push([`O_DIRECT into ${prep === "sparse" ? "holes" : "fallocated"}`, { file: scratch, prep, span: 256 * MiB, at: "perm", op: "write", bs: 4096, qd, ops: qd === 1 ? 2000 : 10000 }]);
// Sub-block (512 B at offset 512 of a 4 KiB fs block): fine on written blocks, waited for on new ones.
cases.push(["O_DIRECT 512 B overwrite", { file: data, op: "write", bs: 512, skew: 512, qd: 1, ops: 2000 }]);
for (const qd of [1, 32])
  cases.push(["O_DIRECT 512 B into holes", { file: scratch, prep: "sparse", span: 256 * MiB, at: "perm", op: "write", bs: 512, skew: 512, qd, ops: 2000 }]);
cases.push(["O_DIRECT 512 B into fallocated", { file: scratch, prep: "fallocate", span: 256 * MiB, at: "perm", op: "write", bs: 512, skew: 512, qd: 1, ops: 2000 }]);
// e. Buffered reads: AIO has no async buffered path, so io_submit does the read itself.
for (const bs of [4096, 131072]) {
  cases.push(["buffered read, cold", { file: data, direct: 0, cache: "cold", op: "read", bs, qd: 1, ops: 2000 }]);
  cases.push(["buffered read, cached", { file: data, direct: 0, cache: "warm", op: "read", bs, qd: 1, ops: 20000 }]);
}
cases.push(["buffered read, cold", { file: data, direct: 0, cache: "cold", op: "read", bs: 4096, qd: 32, ops: 5000 }]);
// f. Buffered writes: a copy into the page cache, unless a page must be read first or allocated.
for (const bs of [4096, 131072])
  cases.push(["buffered overwrite, cached", { file: scratch, prep: "written", span: 256 * MiB, direct: 0, op: "write", bs, qd: 1, ops: 5000 }]);
cases.push(["buffered 1 KiB write, cold page", { file: data, direct: 0, cache: "cold", op: "write", bs: 1024, qd: 1, ops: 2000 }]);
cases.push(["buffered append", { file: scratch, prep: "empty", at: "append", direct: 0, op: "write", bs: MiB, qd: 1, ops: 1024 }]);

const us = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(1)} ms` : `${v.toFixed(1)} µs`).replace(".0 ", " ");
const size = (b: number) => (b >= MiB ? `${b / MiB} MiB` : b >= 1024 ? `${b / 1024} KiB` : `${b} B`);

// Other work on the machine or the disk inflates every figure: the load average shows it.
console.log(`${dev.line}, 1-minute load ${loadavg()[0]!.toFixed(2)}${nowait ? ", RWF_NOWAIT on every request" : ""}\n`);
console.log(`| case | size | qd | req/call | io_submit p50 | p99 | max | first call | latency p50 | p99 | in submit | off CPU |${nowait ? " EAGAIN |" : ""}`);
console.log(`|---|---|---|---|---|---|---|---|---|---|---|---|${nowait ? "---|" : ""}`);
for (const [label, args] of cases) {
  const argv = Object.entries({ ...args, nowait: nowait ? 1 : 0 }).map(([k, v]) => `${k}=${v}`);
  const r = Bun.spawnSync([exe, ...argv], { stderr: "pipe" });
  const head = `| ${label} | ${size(Number(args.bs))} | ${args.qd} |`;
  if (r.exitCode !== 0) {
    console.log(`${head} ${r.stderr.toString().trim().replace(/^aio-submit-blocking: /, "")} |`);
    continue;
  }
  const s = JSON.parse(r.stdout.toString());
  const share = Math.min(100, (100 * s.submit.p50) / s.latency.p50);
  console.log(
    `${head} ${(s.ops / s.calls).toFixed(1)} | ${us(s.submit.p50)} | ${us(s.submit.p99)} | ${us(s.submit.max)} | ` +
      `${us(s.first_call)} | ${us(s.latency.p50)} | ${us(s.latency.p99)} | ${share.toFixed(0)}% | ${Math.max(0, 100 * s.off_cpu).toFixed(0)}% |` +
      (nowait ? ` ${((100 * s.eagain) / s.ops).toFixed(0)}% |` : ""),
  );
}
console.log(`\n1-minute load at the end: ${loadavg()[0]!.toFixed(2)}`);
rmSync(dir, { recursive: true, force: true });

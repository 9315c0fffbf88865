/**
 * Hostile arguments (issue 13, "Hardening"), on every backend: views that lie about
 * their memory through subclass or own getters, Proxies, arrays whose elements change
 * between reads, option objects whose getters change, signal-like objects that are not
 * this realm's AbortSignal, growable SharedArrayBuffers grown under a call, a throw
 * inside the flush (node:fs throwing in the js backend; a fake backend whose submit or
 * reap throws, driven through the Scheduler), and one AbortSignal shared by 65,536
 * operations (timed in a fresh process: test/fixtures/abort-scale-child.ts).
 *
 * A view is judged by the memory it really views (known here by construction), never
 * by what its own properties claim. Lying views sit in a backing much larger than
 * themselves, filled with guard bytes: a caio that trusts a lie reads or writes inside
 * memory this file owns, where the guard bytes show it, instead of corrupting the heap
 * under the test runner.
 */
import { ptr } from "bun:ffi";
import { describe, expect, spyOn, test } from "bun:test";
import * as fs from "node:fs";
import { closeSync, constants, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runInNewContext } from "node:vm";
import {
  DONE_WORDS,
  OP_READ,
  OP_WRITE,
  STAGE_FD,
  STAGE_LEN,
  STAGE_OFFSET_HI,
  STAGE_OFFSET_LO,
  STAGE_OPCODE_PRIO,
  STAGE_USER_DATA,
  STAGE_WORDS,
  type Backend,
  type StagedBuffers,
} from "../src/backends/backend.ts";
import { Context, nativeLibrary, type BackendName } from "../src/index.ts";
import { Scheduler } from "../src/scheduler.ts";
import { freshOwnView } from "../src/views.ts";
import { backends, growableBufferProblem, repoRoot, reportSkip, runBun, SLOWDOWN, tempDir, tempFile } from "./helpers.ts";

/**
 * With the native library loaded, the kernel only ever sees caio's own native memory:
 * a caller's SharedArrayBuffer is bounced like an ArrayBuffer. Without it, shared
 * memory is used in place.
 */
const NATIVE_MEMORY = nativeLibrary().path !== "none";

// ---------------------------------------------------------------- shared helpers

const ABORT_CHILD = join(repoRoot, "test", "fixtures", "abort-scale-child.ts");
const ABORT_COUNT = 65_536;
/**
 * Generous: the goal is under 100 ms. One listener removal or one cancel per operation,
 * O(N²) in all, took 2.4–20 s here for 65,536 operations.
 */
const ABORT_BUDGET_MS = 1000 * SLOWDOWN;
/** Issuing the operations on one signal must not be quadratic either (5–20 s before). */
const ISSUE_BUDGET_MS = 2000 * SLOWDOWN;

/** How long a promise may stay unsettled before it counts as a hang (these are page-cache I/O). */
const HANG_MS = 1500;

type Outcome = { status: "fulfilled"; value: unknown } | { status: "rejected"; reason: any } | { status: "pending" };

/**
 * The outcome of each promise once all have settled, or "pending" for those still
 * unsettled HANG_MS later. The deadline only turns a hang (a wedged context) into a
 * readable failure; a passing run never waits on it.
 */
async function outcomes(promises: readonly Promise<unknown>[]): Promise<Outcome[]> {
  const results: Outcome[] = promises.map(() => ({ status: "pending" }));
  const tracked = promises.map((promise, i) =>
    promise.then(
      (value) => void (results[i] = { status: "fulfilled", value }),
      (reason) => void (results[i] = { status: "rejected", reason }),
    ),
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, HANG_MS)));
  await Promise.race([Promise.all(tracked), deadline]);
  clearTimeout(timer);
  return results;
}

/** True once `promise` settles, false if it is still pending HANG_MS later (a wedged close()). */
async function settles(promise: Promise<unknown>): Promise<boolean> {
  const [outcome] = await outcomes([promise]);
  return outcome!.status !== "pending";
}

function describeOutcome(outcome: Outcome): string {
  if (outcome.status === "pending") return "never settled";
  if (outcome.status === "fulfilled") {
    const value = outcome.value;
    return `resolved ${Buffer.isBuffer(value) ? `Buffer(${value.length})` : String(value)}`;
  }
  const error = outcome.reason;
  return `rejected ${error?.constructor?.name} ${String(error?.code)}: ${String(error?.message).slice(0, 120)}`;
}

/** A typed rejection: an Error carrying a string `code` (system errors also carry errno and syscall). */
function isCoded(outcome: Outcome): boolean {
  return outcome.status === "rejected" && outcome.reason instanceof Error && typeof (outcome.reason as any).code === "string";
}

function pattern(bytes: number, seed: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (Math.imul(i + seed * 7919, 2654435761) >>> 24) ^ (i & 0x7f);
  return out;
}

function allAre(bytes: Uint8Array, value: number): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== value) return false;
  return true;
}

/** Lets the per-tick flush (a microtask queued by the tick's first operation) run. */
async function afterFlush(): Promise<void> {
  await Promise.resolve();
}

// ---------------------------------------------------------------- lying views

const GUARD = 0xaa;
const DECOY = 0x55;
/** The real view: bytes [AT, AT + SIZE) of its backing. */
const AT = 16;
const SIZE = 16;
const BIG = 65536;
/** Holds the real view plus anything a trusted lie could reach (65536 bytes from AT, or SIZE bytes from BIG). */
const BACKING = AT + BIG + 64;

type Backing = ArrayBuffer | SharedArrayBuffer;
type ViewCtor = new (buffer: Backing, byteOffset: number, length: number) => ArrayBufferView;

interface ViewType {
  name: string;
  make(buffer: Backing, byteOffset: number, byteLength: number): ArrayBufferView;
  /** The class a real `class extends` subclass derives from; Buffer has none (its constructor ignores new.target). */
  Base?: ViewCtor;
  /** Bytes per element: the constructor's length argument is byteLength / unit. */
  unit: number;
}

function typed(name: string, Ctor: ViewCtor & { BYTES_PER_ELEMENT: number }): ViewType {
  const unit = Ctor.BYTES_PER_ELEMENT;
  return { name, make: (buffer, offset, bytes) => new Ctor(buffer, offset, bytes / unit), Base: Ctor, unit };
}

const VIEW_TYPES: ViewType[] = [
  typed("Uint8Array", Uint8Array),
  typed("Uint8ClampedArray", Uint8ClampedArray),
  typed("Int8Array", Int8Array),
  typed("Int16Array", Int16Array),
  typed("Uint16Array", Uint16Array),
  typed("Int32Array", Int32Array),
  typed("Uint32Array", Uint32Array),
  typed("Float32Array", Float32Array),
  typed("Float64Array", Float64Array),
  typed("BigInt64Array", BigInt64Array),
  typed("BigUint64Array", BigUint64Array),
  ...(typeof (globalThis as any).Float16Array === "function" ? [typed("Float16Array", (globalThis as any).Float16Array)] : []),
  { name: "DataView", make: (buffer, offset, bytes) => new DataView(buffer, offset, bytes), Base: DataView as ViewCtor, unit: 1 },
  { name: "Buffer", make: (buffer, offset, bytes) => Buffer.from(buffer, offset, bytes), unit: 1 },
];

/** Memory a lying `buffer` getter points at; it must never be read or written. */
interface Decoys {
  shared: Uint8Array;
  plain: Uint8Array;
}

interface Lie {
  d: string;
  property: "byteLength" | "byteOffset" | "buffer" | "length";
  get(decoys: Decoys): () => unknown;
}

const LIES: Lie[] = [
  { d: "byteLength → 65536", property: "byteLength", get: () => () => BIG },
  { d: "byteLength → 0", property: "byteLength", get: () => () => 0 },
  { d: "byteLength → 8", property: "byteLength", get: () => () => 8 },
  { d: "byteOffset → 0", property: "byteOffset", get: () => () => 0 },
  { d: "byteOffset → 65536", property: "byteOffset", get: () => () => BIG },
  { d: "buffer → another SharedArrayBuffer", property: "buffer", get: (decoys) => () => decoys.shared.buffer },
  { d: "buffer → another ArrayBuffer", property: "buffer", get: (decoys) => () => decoys.plain.buffer },
  {
    d: "buffer getter throws",
    property: "buffer",
    get: () => () => {
      throw new Error("hostile buffer getter");
    },
  },
  { d: "length → 65536", property: "length", get: () => () => BIG },
  { d: "length → 0", property: "length", get: () => () => 0 },
];

type Form = "subclass" | "own getter";
const FORMS: Form[] = ["subclass", "own getter"];

/** `type` over buffer[byteOffset, byteOffset + byteLength) with `lie` installed in `form`. */
function lyingView(type: ViewType, lie: Lie, form: Form, decoys: Decoys, buffer: Backing, byteOffset = AT, byteLength = SIZE) {
  const descriptor = { get: lie.get(decoys), configurable: true };
  if (form === "own getter") return Object.defineProperty(type.make(buffer, byteOffset, byteLength), lie.property, descriptor);
  if (type.Base) {
    const Liar = class extends type.Base {};
    Object.defineProperty(Liar.prototype, lie.property, descriptor);
    return new Liar(buffer, byteOffset, byteLength / type.unit);
  }
  // Buffer: the getter goes on a prototype between the instance and Buffer.prototype, as a subclass would put it.
  const view = type.make(buffer, byteOffset, byteLength);
  return Object.setPrototypeOf(view, Object.create(Object.getPrototypeOf(view), { [lie.property]: descriptor })) as ArrayBufferView;
}

interface LiarCase {
  d: string;
  shared: boolean;
  view: ArrayBufferView;
  backing: Uint8Array;
  /** The bytes `view` really covers. */
  real: Uint8Array;
  decoys: Decoys;
}

function liarCase(type: ViewType, lie: Lie, form: Form, shared: boolean): LiarCase {
  const buffer = shared ? new SharedArrayBuffer(BACKING) : new ArrayBuffer(BACKING);
  const backing = new Uint8Array(buffer).fill(GUARD);
  const decoys = {
    shared: new Uint8Array(new SharedArrayBuffer(BACKING)).fill(DECOY),
    plain: new Uint8Array(BACKING).fill(DECOY),
  };
  return {
    d: `${type.name} (${form}: ${lie.d}) over ${shared ? "a SharedArrayBuffer" : "an ArrayBuffer"}`,
    shared,
    view: lyingView(type, lie, form, decoys, buffer),
    backing,
    real: backing.subarray(AT, AT + SIZE),
    decoys,
  };
}

/** Every lie in every form over both kinds of memory, for one view type. */
function liarCases(type: ViewType): LiarCase[] {
  return LIES.flatMap((lie) => FORMS.flatMap((form) => [true, false].map((shared) => liarCase(type, lie, form, shared))));
}

/** What is wrong with a case's memory: outside the real view must still be guard bytes, decoys untouched. */
function memoryProblems(c: LiarCase, expectedReal: Uint8Array): string[] {
  const problems: string[] = [];
  if (!Buffer.from(c.real).equals(expectedReal)) problems.push("its real bytes are not the expected ones");
  if (!allAre(c.backing.subarray(0, AT), GUARD) || !allAre(c.backing.subarray(AT + SIZE), GUARD)) {
    problems.push("bytes around the view were written");
  }
  if (!allAre(c.decoys.shared, DECOY) || !allAre(c.decoys.plain, DECOY)) problems.push("the decoy buffer was written");
  return problems;
}

/** A real, guard-free view over the same kind of memory as `c`, for the second element of readv/writev. */
function companion(c: LiarCase, bytes: number): Uint8Array {
  return new Uint8Array(c.shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
}

/** A spacing between the cases' file regions larger than anything a trusted lie could write. */
const SPACING = 2 * BIG;

// ---------------------------------------------------------------- the suite

describe.each(backends.map((b) => [b.name, b] as const))("%s backend: hostile arguments", (name, backend) => {
  reportSkip(backend);
  const it = test.skipIf(!backend.available);
  const open = (maxRequests?: number) => new Context({ backend: name as BackendName, maxRequests });

  /**
   * Runs `issue` for every lying-view case of every view type (one tick per type),
   * collects what `check` finds wrong, and checks that the right cases were bounced
   * (all of them with native memory, else those over an ArrayBuffer). Stops at the first type whose calls hang: the context is wedged.
   */
  async function eachLiar(
    issue: (ctx: Context, c: LiarCase, index: number) => Promise<unknown>,
    check: (c: LiarCase, index: number, outcome: Outcome) => string[],
    before?: (type: ViewType) => void,
  ): Promise<string[]> {
    const wrong: string[] = [];
    const ctx = open();
    for (const type of VIEW_TYPES) {
      before?.(type);
      const cases = liarCases(type);
      const bouncedBefore = ctx.stats.bounced;
      const promises: Promise<unknown>[] = [];
      cases.forEach((c, i) => {
        try {
          promises.push(issue(ctx, c, i));
        } catch (error) {
          promises.push(Promise.reject(new Error(`threw synchronously: ${(error as Error)?.message}`)));
        }
      });
      const results = await outcomes(promises);
      results.forEach((outcome, i) => {
        for (const problem of check(cases[i]!, i, outcome)) wrong.push(`${cases[i]!.d}: ${problem}`);
      });
      if (results.some((r) => r.status === "pending")) {
        wrong.push(`${type.name}: calls never settled, the context is wedged; later view types not run`);
        break;
      }
      const plain = NATIVE_MEMORY ? cases.length : cases.filter((c) => !c.shared).length;
      const bounced = ctx.stats.bounced - bouncedBefore;
      if (bounced !== plain) wrong.push(`${type.name}: ${bounced} operations bounced, expected ${plain} (one per view not of caio's memory)`);
    }
    if (!(await settles(ctx.close()))) wrong.push("close() never resolved");
    return wrong;
  }

  it("write of a view lying about byteLength, byteOffset, buffer or length (every view type, subclass or own getter) writes exactly the 16 bytes it really views", async () => {
    let file = tempFile();
    // The file as written by one view type's calls, read once (not through caio) for all their checks.
    let snapshot: Buffer | undefined;
    const contents = () => (snapshot ??= readFileSync(file.path));
    try {
      const wrong = await eachLiar(
        (ctx, c, i) => {
          c.real.set(pattern(SIZE, i));
          return ctx.write(c.view, file.fd, i * SPACING);
        },
        (c, i, outcome) => {
          const problems: string[] = [];
          if (outcome.status !== "fulfilled" || outcome.value !== SIZE) problems.push(`${describeOutcome(outcome)}, expected resolved ${SIZE}`);
          const written = contents().subarray(i * SPACING, (i + 1) * SPACING);
          if (!written.subarray(0, SIZE).equals(pattern(SIZE, i))) problems.push("the file does not hold the view's real bytes");
          if (!allAre(written.subarray(SIZE), 0)) problems.push(`${written.length - SIZE} bytes past the view were written to the file`);
          problems.push(...memoryProblems(c, pattern(SIZE, i)));
          return problems;
        },
        () => {
          file[Symbol.dispose]();
          file = tempFile();
          snapshot = undefined;
        },
      );
      expect(wrong).toEqual([]);
    } finally {
      file[Symbol.dispose]();
    }
  });

  it("readInto a view lying about byteLength, byteOffset, buffer or length (every view type, subclass or own getter) fills exactly the 16 bytes it really views and nothing around them", async () => {
    const source = pattern(BIG, 1);
    using file = tempFile(source);
    const at = (i: number) => 1000 + i * 7;
    const wrong = await eachLiar(
      (ctx, c, i) => ctx.readInto(c.view, file.fd, at(i)),
      (c, i, outcome) => {
        const problems: string[] = [];
        if (outcome.status !== "fulfilled" || outcome.value !== SIZE) problems.push(`${describeOutcome(outcome)}, expected resolved ${SIZE}`);
        problems.push(...memoryProblems(c, source.subarray(at(i), at(i) + SIZE)));
        return problems;
      },
    );
    expect(wrong).toEqual([]);
  });

  it("readv with a lying view first fills its 16 real bytes, then the next view, and nothing around them", async () => {
    const source = pattern(BIG, 2);
    using file = tempFile(source);
    const at = (i: number) => 2000 + i * 5;
    const tails = new Map<LiarCase, Uint8Array>();
    const wrong = await eachLiar(
      (ctx, c, i) => {
        const tail = companion(c, 8);
        tails.set(c, tail);
        return ctx.readv([c.view, tail], file.fd, at(i));
      },
      (c, i, outcome) => {
        const problems: string[] = [];
        if (outcome.status !== "fulfilled" || outcome.value !== SIZE + 8) problems.push(`${describeOutcome(outcome)}, expected resolved ${SIZE + 8}`);
        if (!Buffer.from(tails.get(c)!).equals(source.subarray(at(i) + SIZE, at(i) + SIZE + 8))) {
          problems.push("the second view does not hold the 8 bytes after the first view's 16");
        }
        problems.push(...memoryProblems(c, source.subarray(at(i), at(i) + SIZE)));
        return problems;
      },
    );
    expect(wrong).toEqual([]);
  });

  it("writev with a lying view first writes its 16 real bytes, then the next view's", async () => {
    let file = tempFile();
    // The file as written by one view type's calls, read once (not through caio) for all their checks.
    let snapshot: Buffer | undefined;
    const contents = () => (snapshot ??= readFileSync(file.path));
    try {
      const wrong = await eachLiar(
        (ctx, c, i) => {
          c.real.set(pattern(SIZE, i));
          const tail = companion(c, 4);
          tail.set(Buffer.from("TAIL"));
          return ctx.writev([c.view, tail], file.fd, i * SPACING);
        },
        (c, i, outcome) => {
          const problems: string[] = [];
          if (outcome.status !== "fulfilled" || outcome.value !== SIZE + 4) problems.push(`${describeOutcome(outcome)}, expected resolved ${SIZE + 4}`);
          const written = contents().subarray(i * SPACING, (i + 1) * SPACING);
          const expected = Buffer.concat([pattern(SIZE, i), Buffer.from("TAIL")]);
          if (!written.subarray(0, SIZE + 4).equals(expected)) problems.push("the file does not hold the real bytes followed by TAIL");
          if (!allAre(written.subarray(SIZE + 4), 0)) problems.push("bytes past the two views were written to the file");
          problems.push(...memoryProblems(c, pattern(SIZE, i)));
          return problems;
        },
        () => {
          file[Symbol.dispose]();
          file = tempFile();
          snapshot = undefined;
        },
      );
      expect(wrong).toEqual([]);
    } finally {
      file[Symbol.dispose]();
    }
  });

  it("a view over an ArrayBuffer whose buffer getter claims a SharedArrayBuffer is still bounced: transferring its memory in flight never lets the read land in it", async () => {
    const BLOCK = 4096;
    const ROUNDS = 32;
    using file = tempFile(pattern(ROUNDS * BLOCK, 3));
    const direct = openSync(file.path, constants.O_RDWR | constants.O_DIRECT);
    try {
      await using ctx = open();
      const claimed = new SharedArrayBuffer(2 * BLOCK);
      class SharedLiar extends Uint8Array {}
      Object.defineProperty(SharedLiar.prototype, "buffer", { get: () => claimed });
      let inFlightRounds = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const memory = new ArrayBuffer(2 * BLOCK);
        const shift = (BLOCK - (ptr(new Uint8Array(memory)) % BLOCK)) % BLOCK;
        const view = new SharedLiar(memory, shift, BLOCK);
        const bouncedBefore = ctx.stats.bounced;
        const read = ctx.readInto(view, direct, round * BLOCK);
        await afterFlush();
        const wasInFlight = ctx.stats.inFlight === 1;
        const moved = new Uint8Array(memory.transfer());
        const [outcome] = await outcomes([read]);
        expect(ctx.stats.bounced - bouncedBefore).toBe(1);
        if (!wasInFlight) {
          expect(outcome).toEqual({ status: "fulfilled", value: BLOCK });
          continue;
        }
        inFlightRounds++;
        expect(outcome!.status).toBe("rejected");
        expect((outcome as { reason: any }).reason).toMatchObject({ code: "ERR_INVALID_STATE" });
        // The kernel wrote into caio's bounce memory, never into the memory the caller handed on.
        expect(allAre(moved, 0)).toBe(true);
      }
      expect(inFlightRounds).toBeGreaterThan(ROUNDS / 2);
    } finally {
      closeSync(direct);
    }
  });

  it("a view whose memory is detached is ERR_INVALID_STATE (a plain Error, 'Invalid state: …') even when its getters claim live memory", async () => {
    using file = tempFile("0123456789abcdef");
    await using ctx = open();
    const live = new SharedArrayBuffer(16);
    const detached = <V extends ArrayBufferView>(make: (memory: ArrayBuffer) => V): V => {
      const memory = new ArrayBuffer(16);
      const view = make(memory);
      memory.transfer();
      return view;
    };
    const views: [string, () => ArrayBufferView][] = [
      ["an honest Uint8Array", () => detached((m) => new Uint8Array(m))],
      ["a DataView", () => detached((m) => new DataView(m))],
      ["a Float64Array", () => detached((m) => new Float64Array(m))],
      [
        "a Uint8Array whose own getters claim a live SharedArrayBuffer of 16 bytes",
        () =>
          detached((m) =>
            Object.defineProperties(new Uint8Array(m), {
              buffer: { get: () => live },
              byteLength: { get: () => 16 },
              length: { get: () => 16 },
            }),
          ),
      ],
    ];
    const calls: [string, (view: ArrayBufferView) => Promise<unknown>][] = [
      ["write", (view) => ctx.write(view, file.fd, 0)],
      ["readInto", (view) => ctx.readInto(view, file.fd, 0)],
      ["readv", (view) => ctx.readv([new Uint8Array(2), view], file.fd, 0)],
      ["writev", (view) => ctx.writev([Buffer.from("ok"), view], file.fd, 0)],
    ];
    const seen: Record<string, unknown> = {};
    const expected: Record<string, unknown> = {};
    for (const [d, make] of views) {
      for (const [method, call] of calls) {
        const error = await call(make()).then(
          (value) => ({ resolved: value }),
          (e) => e,
        );
        seen[`${method} of ${d}`] = {
          code: error?.code,
          plainError: error instanceof Error && !(error instanceof TypeError) && !(error instanceof RangeError),
          message: typeof error?.message === "string" && error.message.startsWith("Invalid state: "),
        };
        expected[`${method} of ${d}`] = { code: "ERR_INVALID_STATE", plainError: true, message: true };
      }
    }
    expect(seen).toEqual(expected);
    expect(readFileSync(file.path, "latin1")).toBe("0123456789abcdef");
  });

  it("a Proxy around a view or an ArrayBuffer is not memory: every method rejects it with ERR_INVALID_ARG_TYPE and touches nothing", async () => {
    using file = tempFile("0123456789abcdef");
    await using ctx = open();
    const target = new Uint8Array(new SharedArrayBuffer(16)).fill(GUARD);
    const proxies: [string, unknown][] = [
      ["Proxy(Uint8Array)", new Proxy(target, {})],
      ["Proxy(Uint8Array) with lying traps", new Proxy(target, { get: (t, key) => (key === "byteLength" ? BIG : Reflect.get(t, key)) })],
      ["Proxy(DataView)", new Proxy(new DataView(target.buffer), {})],
      ["Proxy(Buffer)", new Proxy(Buffer.from(target.buffer), {})],
    ];
    const payloads: [string, unknown][] = [
      ...proxies,
      ["Proxy(SharedArrayBuffer)", new Proxy(target.buffer, {})],
      ["Proxy(ArrayBuffer)", new Proxy(new ArrayBuffer(16), {})],
    ];
    const seen: Record<string, unknown> = {};
    const expected: Record<string, unknown> = {};
    const record = async (key: string, promise: Promise<unknown>) => {
      const error = await promise.then(
        (value) => ({ resolved: value }),
        (e) => e,
      );
      seen[key] = { code: error?.code, TypeError: error instanceof TypeError };
      expected[key] = { code: "ERR_INVALID_ARG_TYPE", TypeError: true };
    };
    for (const [d, value] of payloads) await record(`write(${d})`, ctx.write(value as Uint8Array, file.fd, 0));
    for (const [d, value] of proxies) {
      await record(`readInto(${d})`, ctx.readInto(value as Uint8Array, file.fd, 0));
      await record(`readv([${d}])`, ctx.readv([new Uint8Array(1), value as Uint8Array], file.fd, 0));
      await record(`writev([${d}])`, ctx.writev([Buffer.from("x"), value as Uint8Array], file.fd, 0));
    }
    expect(seen).toEqual(expected);
    expect(allAre(target, GUARD)).toBe(true);
    expect(readFileSync(file.path, "latin1")).toBe("0123456789abcdef");
    expect(ctx.stats).toMatchObject({ submitted: 0, queued: 0 });
  });

  it("write of an ArrayBuffer or SharedArrayBuffer subclass lying about byteLength writes its real length", async () => {
    using file = tempFile();
    await using ctx = open();
    class LyingShared extends SharedArrayBuffer {}
    class LyingPlain extends ArrayBuffer {}
    for (const Lying of [LyingShared, LyingPlain]) Object.defineProperty(Lying.prototype, "byteLength", { get: () => BIG });
    const shared = new LyingShared(8);
    new Uint8Array(shared).set(Buffer.from("shared!!"));
    const plain = new LyingPlain(7);
    new Uint8Array(plain).set(Buffer.from("plain!!"));
    expect(await Promise.all([ctx.write(shared, file.fd, 0), ctx.write(plain, file.fd, 8)])).toEqual([8, 7]);
    expect(readFileSync(file.path, "latin1")).toBe("shared!!plain!!");
  });

  /** An array of views for readv/writev whose element i is `first[i]` on its first read and `later[i]` after. */
  function changingArrays(first: Uint8Array[], later: ArrayBufferView[], reads: number[]): [string, ArrayBufferView[]][] {
    const proxy = new Proxy(first.slice(), {
      get(target, key, receiver) {
        if (typeof key === "string" && /^\d+$/.test(key)) {
          const i = Number(key);
          reads[i]!++;
          return reads[i] === 1 ? first[i] : later[i];
        }
        return Reflect.get(target, key, receiver);
      },
    });
    const withGetters = first.slice() as ArrayBufferView[];
    first.forEach((_, i) =>
      Object.defineProperty(withGetters, i, {
        get: () => (++reads[i]! === 1 ? first[i] : later[i]),
        enumerable: true,
        configurable: true,
      }),
    );
    return [
      ["an array Proxy", proxy],
      ["an array with index getters", withGetters],
    ];
  }

  it("readv reads each element of its array once: an array Proxy or index getters returning another view on a second read change nothing", async () => {
    const source = pattern(4096, 4);
    using file = tempFile(source);
    await using ctx = open();
    for (const shared of [true, false]) {
      const make = (n: number) => new Uint8Array(shared ? new SharedArrayBuffer(n) : new ArrayBuffer(n));
      for (let shape = 0; shape < 2; shape++) {
        const first = [make(8), make(8)];
        const decoys = [new Uint8Array(new SharedArrayBuffer(BIG)).fill(DECOY), new Uint8Array(BIG).fill(DECOY)];
        const reads = [0, 0];
        const [d, list] = changingArrays(first, decoys, reads)[shape]!;
        const result = await outcomes([ctx.readv(list, file.fd, 100)]);
        expect({ list: d, shared, result: result[0], reads }).toEqual({
          list: d,
          shared,
          result: { status: "fulfilled", value: 16 },
          reads: [1, 1],
        });
        expect(Buffer.concat(first).equals(source.subarray(100, 116))).toBe(true);
        expect(decoys.every((decoy) => allAre(decoy, DECOY))).toBe(true);
      }
    }
  });

  it("writev reads each element of its array once: an array Proxy or index getters returning another view on a second read change nothing", async () => {
    await using ctx = open();
    for (const shared of [true, false]) {
      const make = (text: string) => {
        const view = new Uint8Array(shared ? new SharedArrayBuffer(text.length) : new ArrayBuffer(text.length));
        view.set(Buffer.from(text));
        return view;
      };
      for (let shape = 0; shape < 2; shape++) {
        using file = tempFile();
        const first = [make("first-"), make("second")];
        const decoys = [new Uint8Array(new SharedArrayBuffer(BIG)).fill(DECOY), new Uint8Array(BIG).fill(DECOY)];
        const reads = [0, 0];
        const [d, list] = changingArrays(first, decoys, reads)[shape]!;
        const result = await outcomes([ctx.writev(list, file.fd, 0)]);
        expect({ list: d, shared, result: result[0], reads, file: readFileSync(file.path, "latin1") }).toEqual({
          list: d,
          shared,
          result: { status: "fulfilled", value: 12 },
          reads: [1, 1],
          file: "first-second",
        });
      }
    }
  });

  // ---------------------------------------------------------------- options

  type Call = (ctx: Context, fd: number, options: unknown) => Promise<unknown>;
  /** Each method with arguments that succeed on the file "0123456789abcdef"; writes go past byte 16. */
  const CALLS: [string, Call, unknown][] = [
    ["read", (ctx, fd, o) => ctx.read(4, fd, 0, o as never).then((b) => b.toString()), "0123"],
    ["readInto", (ctx, fd, o) => ctx.readInto(new Uint8Array(4), fd, 0, o as never), 4],
    ["readv", (ctx, fd, o) => ctx.readv([new Uint8Array(2), new Uint8Array(2)], fd, 0, o as never), 4],
    ["write", (ctx, fd, o) => ctx.write("wxyz", fd, 16, o as never), 4],
    ["writev", (ctx, fd, o) => ctx.writev([Buffer.from("wx"), Buffer.from("yz")], fd, 20, o as never), 4],
    ["fsync", (ctx, fd, o) => ctx.fsync(fd, o as never), undefined],
  ];

  /** Options whose getters count their reads and return `values[0]` first, `values[1]` on every later read. */
  function changingOptions(priority?: [unknown, unknown], signal?: [unknown, unknown]) {
    const reads = { priority: 0, signal: 0 };
    const options = {};
    if (priority) Object.defineProperty(options, "priority", { get: () => (++reads.priority === 1 ? priority[0] : priority[1]), enumerable: true });
    if (signal) Object.defineProperty(options, "signal", { get: () => (++reads.signal === 1 ? signal[0] : signal[1]), enumerable: true });
    return { options, reads };
  }

  it("each option getter is read exactly once per call, and the call follows its first value", async () => {
    using file = tempFile("0123456789abcdef");
    await using ctx = open();
    const seen: Record<string, unknown> = {};
    const expected: Record<string, unknown> = {};
    for (const [method, call, value] of CALLS) {
      const cases: [string, ReturnType<typeof changingOptions>, (o: Outcome) => unknown, unknown, () => void][] = [];
      const ok = (o: Outcome) => (o.status === "fulfilled" ? { resolved: o.value } : describeOutcome(o));
      const code = (o: Outcome) => (o.status === "rejected" ? { name: o.reason?.name, code: o.reason?.code } : describeOutcome(o));
      cases.push(["priority 0, then 99999", changingOptions([0, 99999]), ok, { resolved: value }, () => {}]);
      cases.push(["priority 4<<13, then 0", changingOptions([4 << 13, 0]), code, { name: "RangeError", code: "ERR_OUT_OF_RANGE" }, () => {}]);
      cases.push(["signal undefined, then an aborted signal", changingOptions(undefined, [undefined, AbortSignal.abort()]), ok, { resolved: value }, () => {}]);
      cases.push([
        "signal aborted, then undefined",
        changingOptions(undefined, [AbortSignal.abort(new Error("first")), undefined]),
        code,
        { name: "AbortError", code: "ABORT_ERR" },
        () => {},
      ]);
      const controller = new AbortController();
      cases.push([
        "signal live (aborted right after the call), then garbage",
        changingOptions([0, "garbage"], [controller.signal, "garbage"]),
        code,
        { name: "AbortError", code: "ABORT_ERR" },
        () => controller.abort(),
      ]);
      for (const [d, { options, reads }, view, want, after] of cases) {
        const promise = call(ctx, file.fd, options);
        after();
        const [outcome] = await outcomes([promise]);
        const key = `${method}: ${d}`;
        const counted = Object.fromEntries(Object.entries(reads).filter(([property]) => Object.hasOwn(options, property)));
        seen[key] = { outcome: view(outcome!), reads: counted };
        expected[key] = { outcome: want, reads: Object.fromEntries(Object.keys(counted).map((property) => [property, 1])) };
      }
    }
    expect(seen).toEqual(expected);
  });

  it("a priority whose ioprio class is 4–7 is rejected up front with RangeError ERR_OUT_OF_RANGE; classes 0, 2 and 3 are accepted", async () => {
    using file = tempFile("0123456789abcdef");
    await using ctx = open();
    const seen: Record<string, unknown> = {};
    const expected: Record<string, unknown> = {};
    for (const [method, call] of CALLS) {
      for (const priority of [4 << 13, (5 << 13) | 1, (6 << 13) | 7, 7 << 13, 0xffff]) {
        const submitted = ctx.stats.submitted;
        const error = await call(ctx, file.fd, { priority }).then(
          (value) => ({ resolved: value }),
          (e) => e,
        );
        seen[`${method} priority ${priority >> 13}<<13|${priority & 0x1fff}`] = {
          RangeError: error instanceof RangeError,
          code: error?.code,
          submitted: ctx.stats.submitted - submitted,
        };
        expected[`${method} priority ${priority >> 13}<<13|${priority & 0x1fff}`] = { RangeError: true, code: "ERR_OUT_OF_RANGE", submitted: 0 };
      }
    }
    expect(seen).toEqual(expected);
    for (const [method, call, value] of CALLS) {
      for (const priority of [0, (2 << 13) | 4, 3 << 13]) {
        expect({ method, priority, result: await call(ctx, file.fd, { priority }) }).toEqual({ method, priority, result: value });
      }
    }
  });

  // ---------------------------------------------------------------- signal-like objects

  /** A signal-like object with the three members Node's duck typing needs; it records its listeners. */
  function duckSignal(aborted = false, reason?: unknown) {
    const listeners = new Set<() => void>();
    const signal = {
      aborted,
      reason,
      addEventListener(type: string, listener: () => void) {
        if (type === "abort") listeners.add(listener);
      },
      removeEventListener(type: string, listener: () => void) {
        if (type === "abort") listeners.delete(listener);
      },
    };
    const abort = (why: unknown) => {
      signal.aborted = true;
      signal.reason = why;
      for (const listener of [...listeners]) listener.call(signal);
    };
    return { signal, listeners, abort };
  }

  /** A polyfill-style signal over a real EventTarget, not an AbortSignal. */
  class PolyfillSignal extends EventTarget {
    aborted = false;
    reason: unknown = undefined;
    abort(reason: unknown) {
      this.aborted = true;
      this.reason = reason;
      this.dispatchEvent(new Event("abort"));
    }
  }

  it("a duck-typed signal (aborted, addEventListener, removeEventListener) is accepted: it aborts queued work, an aborted one refuses, and its listener is gone once the work settles", async () => {
    using file = tempFile("0123456789abcdef");
    await using ctx = open();
    const idle = duckSignal();
    expect((await ctx.read(4, file.fd, 0, { signal: idle.signal })).toString()).toBe("0123");
    expect(await ctx.readv([new Uint8Array(4)], file.fd, 4, { signal: idle.signal })).toBe(4);
    expect(idle.listeners.size).toBe(0);

    const firing = duckSignal();
    const reason = new Error("duck abort");
    const reads = [ctx.read(4, file.fd, 0, { signal: firing.signal }), ctx.readv([new Uint8Array(4)], file.fd, 0, { signal: firing.signal })];
    firing.abort(reason);
    const results = await outcomes(reads);
    expect(results.map((r) => (r.status === "rejected" ? { name: r.reason.name, code: r.reason.code, cause: r.reason.cause } : r))).toEqual([
      { name: "AbortError", code: "ABORT_ERR", cause: reason },
      { name: "AbortError", code: "ABORT_ERR", cause: reason },
    ]);

    const already = duckSignal(true, reason);
    await expect(ctx.read(4, file.fd, 0, { signal: already.signal })).rejects.toMatchObject({ name: "AbortError", cause: reason });
    expect(ctx.stats).toMatchObject({ submitted: 2, queued: 0, inFlight: 0 });
  });

  it("a polyfill signal built on EventTarget is accepted and aborts like an AbortSignal", async () => {
    using file = tempFile("0123456789abcdef");
    await using ctx = open();
    const signal = new PolyfillSignal();
    expect(await ctx.readInto(new Uint8Array(4), file.fd, 0, { signal })).toBe(4);
    const reason = new Error("polyfill abort");
    const read = ctx.read(4, file.fd, 0, { signal });
    signal.abort(reason);
    await expect(read).rejects.toMatchObject({ name: "AbortError", code: "ABORT_ERR", cause: reason });
  });

  const ForeignAbortController = (() => {
    try {
      return runInNewContext("AbortController") as typeof AbortController;
    } catch {
      return undefined;
    }
  })();
  if (!ForeignAbortController) console.log(`[skip] ${name}: AbortSignal from another realm: node:vm contexts here have no AbortController`);

  test.skipIf(!backend.available || !ForeignAbortController)("an AbortSignal from another realm (node:vm) is accepted and aborts", async () => {
    using file = tempFile("0123456789abcdef");
    await using ctx = open();
    const controller = new ForeignAbortController!();
    expect(controller.signal instanceof AbortSignal).toBe(false);
    expect((await ctx.read(4, file.fd, 0, { signal: controller.signal })).toString()).toBe("0123");
    const read = ctx.read(4, file.fd, 0, { signal: controller.signal });
    controller.abort("foreign");
    await expect(read).rejects.toMatchObject({ name: "AbortError", code: "ABORT_ERR" });
  });

  it("a signal that is {}, null or a string is still ERR_INVALID_ARG_TYPE", async () => {
    using file = tempFile("0123456789abcdef");
    await using ctx = open();
    for (const signal of [{}, null, "abort", 1, { addEventListener() {}, removeEventListener() {} }]) {
      await expect(ctx.read(1, file.fd, 0, { signal } as never)).rejects.toMatchObject({ name: "TypeError", code: "ERR_INVALID_ARG_TYPE" });
    }
    expect(ctx.stats).toMatchObject({ submitted: 0, queued: 0 });
  });

  it("a signal whose addEventListener throws makes the call reject with a typed error and leaves nothing queued; close() resolves", async () => {
    using file = tempFile("0123456789abcdef");
    const ctx = open();
    const refusing = {
      aborted: false,
      addEventListener() {
        throw new Error("no listeners here");
      },
      removeEventListener() {},
    };
    const results = await outcomes([
      ctx.read(4, file.fd, 0, { signal: refusing }),
      ctx.readv([new Uint8Array(4)], file.fd, 0, { signal: refusing }),
      ctx.write("x", file.fd, 20, { signal: refusing }),
    ]);
    expect(results.map((r) => ({ coded: isCoded(r), outcome: r.status }))).toEqual(Array(3).fill({ coded: true, outcome: "rejected" }));
    expect(ctx.stats).toMatchObject({ queued: 0, inFlight: 0 });
    expect(await settles(ctx.close())).toBe(true);
  });

  it("a signal whose getters or listener removal call close() cannot free the context under its operation: the read completes, then close() resolves", async () => {
    using file = tempFile("0123456789abcdef");
    const ctx = open();
    let closing: Promise<void> | undefined;
    const closeOnce = () => (closing ??= ctx.close());
    const closesOnRead = { get aborted() { closeOnce(); return false; }, addEventListener() {}, removeEventListener() {} };
    const read = await outcomes([ctx.read(4, file.fd, 0, { signal: closesOnRead })]);
    expect({ read: read[0]!.status === "fulfilled" && String(read[0]!.value), closed: await settles(closing!) }).toEqual({ read: "0123", closed: true });

    // Removal runs while the op settles, inside the pump that reaped it.
    const other = open();
    let otherClosing: Promise<void> | undefined;
    const closesOnRemoval = { aborted: false, addEventListener() {}, removeEventListener() { otherClosing ??= other.close(); } };
    const reads = await outcomes([other.read(4, file.fd, 4, { signal: closesOnRemoval }), other.read(4, file.fd, 8, { signal: closesOnRemoval })]);
    expect({ reads: reads.map((r) => r.status === "fulfilled" && String(r.value)), closed: await settles(otherClosing!) }).toEqual({ reads: ["4567", "89ab"], closed: true });
  });

  // ---------------------------------------------------------------- SharedArrayBuffers

  it("write accepts a raw SharedArrayBuffer payload, typed as such (no cast)", async () => {
    using file = tempFile();
    await using ctx = open();
    const payload = new SharedArrayBuffer(8);
    new Uint8Array(payload).set(Buffer.from("shared!!"));
    expect(await ctx.write(payload, file.fd, 0)).toBe(8);
    expect(readFileSync(file.path, "latin1")).toBe("shared!!");
    expect(ctx.stats.bounced).toBe(NATIVE_MEMORY ? 1 : 0);
  });

  const growable = backend.available ? growableBufferProblem() : undefined;
  if (growable) console.log(`[skip] ${name}: growable SharedArrayBuffer test: ${growable}`);
  test.skipIf(!backend.available || growable !== undefined)("a growable SharedArrayBuffer grown right after the call is not taken for detached: each operation moves the bytes its view had at the call", async () => {
    const source = pattern(4096, 5);
    using file = tempFile(source);
    using out = tempFile();
    await using ctx = open();
    const growable = (fill?: string) => {
      const sab = new SharedArrayBuffer(16, { maxByteLength: 64 });
      if (fill) new Uint8Array(sab).set(Buffer.from(fill));
      return sab;
    };
    // Length-tracking views (no length given) grow with their buffer; fixed views do not.
    const raw = growable("raw-shared-16byt");
    const tracking = growable("tracking-view-16");
    const fixed = growable("fixed-view-16byt");
    const vector = growable("vector-view-16by");
    const readTracking = growable();
    const readFixed = growable();
    const readVector = growable();
    const calls = [
      ctx.write(raw, out.fd, 0),
      ctx.write(new Uint8Array(tracking), out.fd, 16),
      ctx.write(new Uint8Array(fixed, 0, 16), out.fd, 32),
      ctx.writev([new DataView(vector), Buffer.from("|")], out.fd, 48),
      ctx.readInto(new Uint8Array(readTracking), file.fd, 100),
      ctx.readInto(new Float64Array(readFixed, 0, 2), file.fd, 200),
      ctx.readv([new Uint8Array(readVector), new Uint8Array(4)], file.fd, 300),
    ];
    for (const sab of [raw, tracking, fixed, vector, readTracking, readFixed, readVector]) sab.grow(64);
    const results = await outcomes(calls);
    expect(results).toEqual([16, 16, 16, 17, 16, 16, 20].map((value) => ({ status: "fulfilled", value })));
    expect(readFileSync(out.path, "latin1")).toBe("raw-shared-16byttracking-view-16fixed-view-16bytvector-view-16by|");
    for (const [sab, at] of [
      [readTracking, 100],
      [readFixed, 200],
      [readVector, 300],
    ] as const) {
      const bytes = new Uint8Array(sab);
      expect(Buffer.from(bytes.subarray(0, 16)).equals(source.subarray(at, at + 16))).toBe(true);
      expect(allAre(bytes.subarray(16), 0)).toBe(true);
    }
  });

  // ---------------------------------------------------------------- abort at scale

  for (const [shape, what] of [
    ["queued", "queued operations (default maxRequests, aborted before the first flush)"],
    ["backend", `operations in the backend (maxRequests ${ABORT_COUNT}, 4096 on linux: fs.aio-max-nr is system-wide)`],
  ] as const) {
    test.skipIf(!backend.available)(
      `one AbortSignal shared by ${ABORT_COUNT} ${what} aborts them all within ${ABORT_BUDGET_MS} ms; none is left unhandled and close() resolves`,
      async () => {
        using dir = tempDir();
        const run = await runBun(ABORT_CHILD, { CAIO_IMPL: name, CAIO_ABORT_SHAPE: shape, CAIO_ABORT_DIR: dir });
        const issued = /^ISSUED (\d+)$/m.exec(run.stdout)?.[1];
        const line = run.stdout.split("\n").find((l) => l.startsWith("ABORT_RESULT "));
        const result = line ? JSON.parse(line.slice("ABORT_RESULT ".length)) : undefined;
        console.log(
          `[abort] ${name}, ${shape}: ${ABORT_COUNT} operations on one signal` +
            (result
              ? `, ${result.inBackend} in the backend at the abort: issued in ${result.issueMs} ms, abort() returned after ${result.abortCallMs} ms, all settled after ${result.abortMs} ms (after a 4,096-op warm-up round)`
              : `: issued in ${issued ?? "?"} ms, then no result (exit ${run.exitCode} after ${Math.round(run.ms)} ms)`),
        );
        // exitCode null: killed after 20 s (a hang, or an abort that takes that long).
        expect({ exitCode: run.exitCode, stderr: run.stderr }).toEqual({ exitCode: 0, stderr: "" });
        // linux: O_DIRECT reads can finish inside io_submit here, before the abort; they keep their result.
        const mayFinish = shape === "backend" && name === "linux";
        expect(result).toMatchObject({
          count: ABORT_COUNT,
          other: [],
          unhandled: 0,
          uncaught: 0,
          stats: { inFlight: 0, queued: 0, ...(shape === "queued" ? { submitted: 0 } : {}) },
          ...(mayFinish ? {} : { aborted: ABORT_COUNT, finished: 0, inBackend: shape === "backend" ? ABORT_COUNT : 0 }),
        });
        expect(result.aborted + result.finished).toBe(ABORT_COUNT);
        expect(result.abortMs).toBeLessThan(ABORT_BUDGET_MS);
        expect(result.issueMs).toBeLessThan(ISSUE_BUDGET_MS);
      },
      30_000 * SLOWDOWN,
    );
  }
});

// ---------------------------------------------------------------- a throw inside the flush

describe("a throw inside the flush does not wedge the context", () => {
  const js = backends.find((b) => b.name === "js")!;
  reportSkip(js);

  /**
   * node:fs throwing synchronously for one descriptor, as it did when it was handed a
   * view whose byteLength lied. Spying on the module namespace also replaces the named
   * imports the js backend calls.
   */
  function throwingFor(method: "write" | "read", poisonFd: number) {
    const real = fs[method] as (...args: unknown[]) => unknown;
    return spyOn(fs, method).mockImplementation(((fd: number, ...rest: unknown[]) => {
      if (fd === poisonFd) throw new RangeError(`injected: node:fs ${method} refused descriptor ${fd}`);
      return real(fd, ...rest);
    }) as never);
  }

  for (const method of ["write", "read"] as const) {
    test.skipIf(!js.available)(
      `js backend: node:fs ${method} throwing synchronously for one operation rejects only that one with a coded error; the rest of its batch completes and the context keeps working`,
      async () => {
        using file = tempFile("0123456789abcdef");
        using poison = tempFile("poisoned file..!");
        const ctx = new Context({ backend: "js" });
        const spy = throwingFor(method, poison.fd);
        try {
          const batch =
            method === "write"
              ? [ctx.write("AB", file.fd, 0), ctx.write("bad", poison.fd, 0), ctx.write("CD", file.fd, 2), ctx.read(4, file.fd, 8)]
              : [ctx.read(2, file.fd, 0), ctx.read(4, poison.fd, 0), ctx.write("CD", file.fd, 2), ctx.read(4, file.fd, 8)];
          const results = await outcomes(batch);
          const show = (r: Outcome) => (r.status === "fulfilled" ? (Buffer.isBuffer(r.value) ? r.value.toString() : r.value) : describeOutcome(r));
          expect({ bad: isCoded(results[1]!), innocents: [results[0]!, results[2]!, results[3]!].map(show) }).toEqual({
            bad: true,
            innocents: [method === "write" ? 2 : "01", 2, "89ab"],
          });
          expect(readFileSync(file.path, "latin1")).toBe(method === "write" ? "ABCD456789abcdef" : "01CD456789abcdef");
          expect(readFileSync(poison.path, "latin1")).toBe("poisoned file..!");
          expect(ctx.stats).toMatchObject({ queued: 0, inFlight: 0 });
          spy.mockRestore();
          // Not wedged: the next tick's operations go through.
          expect(await outcomes([ctx.read(4, file.fd, 12)])).toEqual([{ status: "fulfilled", value: Buffer.from("cdef") }]);
        } finally {
          spy.mockRestore();
        }
        expect(await settles(ctx.close())).toBe(true);
      },
    );
  }
});

// ---------------------------------------------------------------- the scheduler over a faulty backend

/**
 * An in-memory backend for the scheduler (the js backend's shape: it gets the buffers
 * in `views`). Every descriptor is one 4 KiB "file". Faults on demand: submit() throws
 * (having consumed nothing) whenever the batch holds an op on `poisonFd`, and reap()
 * throws `reapFailures` times. Completions arrive with complete(): automatically on
 * the next microtask after each submit, or only when the test calls it. A throw
 * escaping onReady is recorded in `escaped`: from a real wake-up it would be an
 * uncaughtException.
 */
class FaultyBackend implements Backend {
  readonly name = "js" as const;
  readonly stage: Uint32Array;
  readonly done: Int32Array;
  readonly views: (StagedBuffers | null)[];
  onReady: (() => void) | undefined = undefined;
  readonly file = new Uint8Array(4096);
  poisonFd = -1;
  alwaysThrow = false;
  reapFailures = 0;
  autoComplete = true;
  readonly escaped: unknown[] = [];
  closed = false;
  #pending: number[] = [];
  #ready: number[] = [];
  #calls = 0;

  constructor(readonly capacity: number) {
    this.stage = new Uint32Array(capacity * STAGE_WORDS);
    this.done = new Int32Array(capacity * DONE_WORDS);
    this.views = new Array(capacity).fill(null);
  }

  submit(count: number): number {
    this.#calls++;
    const stage = this.stage;
    for (let i = 0; i < count; i++) {
      if (this.alwaysThrow || stage[i * STAGE_WORDS + STAGE_FD] === this.poisonFd) throw new RangeError("fake backend: refused the batch");
    }
    for (let i = 0; i < count; i++) {
      const base = i * STAGE_WORDS;
      const slot = stage[base + STAGE_USER_DATA]!;
      const opcode = stage[base + STAGE_OPCODE_PRIO]! & 0xffff;
      const offset = stage[base + STAGE_OFFSET_LO]! + stage[base + STAGE_OFFSET_HI]! * 2 ** 32;
      const length = stage[base + STAGE_LEN]!;
      const view = this.views[slot] as Uint8Array | null;
      let result = 0;
      if (opcode === OP_WRITE && view) {
        this.file.set(view.subarray(0, length), offset);
        result = length;
      } else if (opcode === OP_READ && view) {
        const bytes = this.file.subarray(offset, offset + length);
        view.set(bytes);
        result = bytes.length;
      }
      this.#pending.push(slot, result);
    }
    if (this.autoComplete) queueMicrotask(() => this.complete());
    return count;
  }

  /** Every submitted op completes now; onReady is called once (an edge-triggered wake-up). */
  complete(): void {
    this.#ready.push(...this.#pending);
    this.#pending = [];
    try {
      this.onReady?.();
    } catch (error) {
      this.escaped.push(error);
    }
  }

  reap(): number {
    if (this.reapFailures > 0 && this.#ready.length > 0) {
      this.reapFailures--;
      throw new Error("fake backend: reap failed");
    }
    const count = Math.min(this.#ready.length / 2, this.capacity);
    for (let i = 0; i < count * 2; i++) this.done[i] = this.#ready[i]!;
    this.#ready = this.#ready.slice(count * 2);
    return count;
  }

  cancel(_slots: Uint32Array, count: number): number {
    return count;
  }

  submitCalls(): number {
    return this.#calls;
  }

  features(): number {
    return 0;
  }

  hold(): void {}

  release(): void {}

  close(): void {
    this.closed = true;
  }
}

describe("the scheduler over a backend that throws", () => {
  const NO_OPTIONS = { signal: undefined, priority: 0 };
  const bytes = (text: string) => new Uint8Array(Buffer.from(text));

  test("submit() throwing for one op rejects that op alone with a coded error; the others in its batch complete and the scheduler keeps working", async () => {
    const backend = new FaultyBackend(8);
    backend.poisonFd = 13;
    const scheduler = new Scheduler(backend);
    const readBack = new Uint8Array(4);
    const results = await outcomes([
      scheduler.enqueue(OP_WRITE, 3, 0, freshOwnView(bytes("before")), NO_OPTIONS),
      scheduler.enqueue(OP_WRITE, 13, 100, freshOwnView(bytes("poison")), NO_OPTIONS),
      scheduler.enqueue(OP_WRITE, 3, 6, freshOwnView(bytes("after")), NO_OPTIONS),
      scheduler.enqueue(OP_READ, 3, 200, freshOwnView(readBack), NO_OPTIONS),
    ]);
    expect({ poison: isCoded(results[1]!), others: [results[0], results[2], results[3]] }).toEqual({
      poison: true,
      others: [6, 5, 4].map((value) => ({ status: "fulfilled", value })),
    });
    expect(Buffer.from(backend.file.subarray(0, 11)).toString()).toBe("beforeafter");
    expect(allAre(backend.file.subarray(100, 106), 0)).toBe(true);
    expect(scheduler.stats).toMatchObject({ queued: 0, inFlight: 0 });
    expect(await outcomes([scheduler.enqueue(OP_WRITE, 3, 11, freshOwnView(bytes("!")), NO_OPTIONS)])).toEqual([{ status: "fulfilled", value: 1 }]);
    expect(backend.escaped).toEqual([]);
    expect(await settles(scheduler.close())).toBe(true);
    expect(backend.closed).toBe(true);
  });

  test("submit() that always throws: every op rejects with a coded error, nothing stays queued, close() resolves", async () => {
    const backend = new FaultyBackend(4);
    backend.alwaysThrow = true;
    const scheduler = new Scheduler(backend);
    const results = await outcomes(Array.from({ length: 10 }, (_, i) => scheduler.enqueue(OP_WRITE, 3, i, freshOwnView(bytes("x")), NO_OPTIONS)));
    expect(results.map(isCoded)).toEqual(Array(10).fill(true));
    expect(scheduler.stats).toMatchObject({ queued: 0, inFlight: 0 });
    expect(backend.escaped).toEqual([]);
    expect(await settles(scheduler.close())).toBe(true);
  });

  test("reap() throwing on a wake-up escapes nowhere; every op in flight still settles and close() resolves", async () => {
    const backend = new FaultyBackend(8);
    backend.autoComplete = false;
    const scheduler = new Scheduler(backend);
    const ops = [
      scheduler.enqueue(OP_WRITE, 3, 0, freshOwnView(bytes("abc")), NO_OPTIONS),
      scheduler.enqueue(OP_WRITE, 3, 3, freshOwnView(bytes("def")), NO_OPTIONS),
      scheduler.enqueue(OP_READ, 3, 0, freshOwnView(new Uint8Array(2)), NO_OPTIONS),
    ];
    await afterFlush();
    expect(scheduler.stats).toMatchObject({ inFlight: 3, queued: 0 });
    backend.reapFailures = 1;
    backend.complete(); // the one wake-up these completions get; its reap throws
    const results = await outcomes(ops);
    expect({ escaped: backend.escaped, pending: results.filter((r) => r.status === "pending").length }).toEqual({ escaped: [], pending: 0 });
    // Each op either got its result or a coded rejection, never an uncoded one.
    expect(results.every((r) => r.status === "fulfilled" || isCoded(r))).toBe(true);
    expect(await settles(scheduler.close())).toBe(true);
    expect(scheduler.stats).toMatchObject({ inFlight: 0, queued: 0 });
  });
});

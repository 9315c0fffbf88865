/**
 * Run in a child process by test/loading.test.ts: loads caio from the package in
 * CAIO_PROBE_ROOT (default: this repository), writes, fsyncs and reads through
 * every backend that opens, and prints one JSON line with the load path and results.
 */
import { mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = process.env.CAIO_PROBE_ROOT ?? join(import.meta.dir, "..", "..");
const caio = await import(join(root, "src", "index.ts"));
const { nativeLibrary } = await import(join(root, "src", "native", "public.ts"));

const dir = mkdtempSync(join(tmpdir(), "caio-probe-"));
const fd = openSync(join(dir, "data"), "w+");

async function roundTrip(backend?: string): Promise<string> {
  await using ctx = new caio.Context({ maxRequests: 8, ...(backend && { backend }) });
  const text = `through ${ctx.backend}`;
  await ctx.write(text, fd, 0);
  await ctx.fsync(fd);
  const back = (await ctx.read(text.length, fd, 0)).toString();
  return back === text ? ctx.backend : `${ctx.backend} read back "${back}"`;
}

const defaultBackend = await roundTrip();
const native: Record<string, string> = {};
for (const { name, available, reason } of caio.availableBackends()) {
  if (name !== "js") native[name] = available ? await roundTrip(name) : `unavailable: ${reason}`;
}
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ defaultBackend, native, library: nativeLibrary() }));

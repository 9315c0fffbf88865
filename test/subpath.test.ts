/** `caio/<backend>` subpath imports: the full API with a Context bound to one backend. */
import { describe, expect, test } from "bun:test";
import * as root from "caio";
import { backends, reportSkip, tempFile } from "./helpers.ts";

describe.each(backends.map((b) => [b.name, b] as const))('import { Context } from "caio/%s"', (name, backend) => {
  if (backend.leftOut) reportSkip(backend);
  test.skipIf(backend.leftOut === true)(backend.available ? "always uses that backend" : "throws the reason it cannot run here", async () => {
    const bound = await import(`caio/${name}`);
    expect(Object.keys(bound).sort()).toEqual(Object.keys(root).sort());
    if (!backend.available) {
      expect(() => new bound.Context()).toThrow(`the "${name}" backend is unavailable`);
      return;
    }
    using file = tempFile();
    await using ctx = new bound.Context({ maxRequests: 8 });
    expect(ctx).toBeInstanceOf(root.Context);
    expect({ backend: ctx.backend, maxRequests: ctx.maxRequests }).toEqual({ backend: name, maxRequests: 8 });
    expect(await ctx.write("bound", file.fd, 0)).toBe(5);
    expect((await ctx.read(5, file.fd, 0)).toString()).toBe("bound");
  });

  test("refuses an options.backend that contradicts the import", () => {
    const other = name === "linux" ? "uring" : "linux";
    return import(`caio/${name}`).then((bound) => {
      expect(() => new bound.Context({ backend: other })).toThrow(
        expect.objectContaining({ code: "ERR_INVALID_ARG_VALUE", name: "TypeError" }),
      );
    });
  });
});

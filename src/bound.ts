/** Context classes bound to one backend, behind the `caio/<backend>` subpath imports. */
import type { BackendName } from "./backends/index.ts";
import { errorWithCode } from "./errors.ts";
import { Context, type ContextOptions } from "./index.ts";

export type BoundContextOptions = Omit<ContextOptions, "backend">;

function bindOptions(name: BackendName, options: unknown): unknown {
  if (options === undefined) return { backend: name };
  // Anything that is not an options object is passed on for Context to reject.
  if (options === null || typeof options !== "object") return options;
  const requested = (options as ContextOptions).backend;
  if (requested !== undefined && requested !== name) {
    throw errorWithCode(
      new TypeError(`A Context from "caio/${name}" always uses the "${name}" backend; options.backend was "${requested}"`),
      "ERR_INVALID_ARG_VALUE",
    );
  }
  return { ...options, backend: name };
}

/** The class a `caio/<backend>` subpath exports as `Context` (named so declarations can be emitted). */
export type BoundContextClass = new (options?: BoundContextOptions) => Context;

/** A Context subclass that always uses `name`, and throws (naming the reason) where it cannot run. */
export function bindContext(name: BackendName): BoundContextClass {
  return class BoundContext extends Context {
    constructor(options?: BoundContextOptions) {
      super(bindOptions(name, options) as ContextOptions);
    }
  };
}

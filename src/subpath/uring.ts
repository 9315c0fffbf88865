/** `import { Context } from "caio/uring"`: everything caio exports, with a Context bound to the "uring" backend. */
import { bindContext } from "../bound.ts";

export * from "../index.ts";
export const Context = bindContext("uring");
export type Context = InstanceType<typeof Context>;

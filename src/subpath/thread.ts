/** `import { Context } from "caio/thread"`: everything caio exports, with a Context bound to the "thread" backend. */
import { bindContext } from "../bound.ts";

export * from "../index.ts";
export const Context = bindContext("thread");
export type Context = InstanceType<typeof Context>;

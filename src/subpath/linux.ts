/** `import { Context } from "caio/linux"`: everything caio exports, with a Context bound to the "linux" backend. */
import { bindContext } from "../bound.ts";

export * from "../index.ts";
export const Context = bindContext("linux");
export type Context = InstanceType<typeof Context>;

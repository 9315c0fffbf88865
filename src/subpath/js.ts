/** `import { Context } from "caio/js"`: everything caio exports, with a Context bound to the "js" backend. */
import { bindContext } from "../bound.ts";

export * from "../index.ts";
export const Context = bindContext("js");
export type Context = InstanceType<typeof Context>;

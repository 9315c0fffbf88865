/** Whether a Context's backend accepts file operations, for defaultContext() (not public API). */
export const acceptsFileOps = new WeakMap<object, () => boolean>();

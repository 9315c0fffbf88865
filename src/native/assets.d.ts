/**
 * Non-code files src/native imports so that bundles and compiled executables carry
 * them: the C sources as text (`with { type: "text" }`).
 */
declare module "*.c" {
  const text: string;
  export default text;
}

declare module "*.h" {
  const text: string;
  export default text;
}

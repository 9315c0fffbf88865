/** `import { nativeLibrary } from "caio/native"`: which native library caio loaded, and how. */
export { nativeLibrary, type NativeLibrary, type NativeLoadPath } from "../native.ts";

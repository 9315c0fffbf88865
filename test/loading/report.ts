/** `bun test --preload`: prints which native library the test run loaded, so a log shows the path. */
import { nativeLibrary } from "../../src/native/public.ts";

console.log(`[native] ${JSON.stringify(nativeLibrary())}`);

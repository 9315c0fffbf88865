#!/usr/bin/env bun
/** The `caio` command (`bunx caio doctor`); everything it does lives in src/doctor/. */
import { main } from "../src/doctor/cli.ts";

process.exitCode = await main(process.argv.slice(2));

/** Numbers as people read them, shared by the fixes and the text report. */
import type { Limit } from "./system.ts";

/** "8 MiB", "512 KiB", "4096 B", or "unlimited" for null. */
export function formatBytes(bytes: number | null): string {
  if (bytes === null) return "unlimited";
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes / (1 << 20)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

export function formatCount(value: number | null): string {
  return value === null ? "unlimited" : String(value);
}

export function formatLimit(limit: Limit, unit: (value: number | null) => string): string {
  return `soft ${unit(limit.soft)}, hard ${unit(limit.hard)}`;
}

/** 123456 → "123,456" whatever the locale, so the README sample matches every machine. */
export function formatThousands(value: number): string {
  return String(Math.round(value)).replace(/\B(?=(\d{3})+$)/g, ",");
}

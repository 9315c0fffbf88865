/** How figures are written in the report and on the chart. */
import type { Unit } from "./results.ts";

export function figure(unit: Unit, value: number): string {
  switch (unit) {
    case "IOPS":
    case "writes/s":
    case "files/s":
      return `${(value / 1000).toFixed(1)}K`;
    case "lines/s":
      return `${(value / 1e6).toFixed(2)}M`;
    case "MiB/s":
      return (value / 2 ** 20).toFixed(0);
    case "µs":
      return (value / 1000).toFixed(2);
    case "ms":
      return value.toFixed(1);
  }
}

export const withUnit = (unit: Unit, value: number) => `${figure(unit, value)} ${unit}`;
export const ratio = (value: number) => `${value.toFixed(2)}×`;
export const percent = (value: number) => `${(value * 100).toFixed(0)}%`;
export const mib = (value: number) => `${value.toFixed(1)} MiB`;

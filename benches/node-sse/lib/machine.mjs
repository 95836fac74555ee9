// How busy the whole machine is, from /proc/stat (Linux): the runner
// subtracts its own processes to tell how much CPU others took in a step.
import { readFile } from 'node:fs/promises';

// /proc/stat counts USER_HZ ticks: 100 a second on Linux
const TICKS_PER_SECOND = 100;

/** Busy and total CPU ticks of the machine so far, summed over cores, or null off Linux. */
export async function machineTicks() {
  try {
    const fields = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0].trim().split(/\s+/);
    // user nice system idle iowait irq softirq steal (guest time is already in user and nice)
    const ticks = fields.slice(1, 9).map(Number);
    const total = ticks.reduce((a, b) => a + b, 0);
    return { busy: total - ticks[3] - ticks[4], total };
  } catch {
    return null;
  }
}

/** CPU seconds the machine spent busy, and in all, between two readings (null if either is). */
export function machineCpuSeconds(before, after) {
  if (before === null || after === null) return null;
  return { busy: (after.busy - before.busy) / TICKS_PER_SECOND, total: (after.total - before.total) / TICKS_PER_SECOND };
}

export interface Reading {
  sensor: string;
  value: number;
}

// Keeps the last readings of each sensor.
export class SensorLog {
  private readonly readings = new Map<string, number[]>();

  constructor(private readonly capacity: number) {}

  record(reading: Reading): number {
    // Drop the oldest reading once the log is full.
    const values = this.readings.get(reading.sensor) ?? [];
    values.push(reading.value);
    if (values.length > this.capacity) {
      values.shift();
    }
    this.readings.set(reading.sensor, values);
    return values.length;
  }
}

/* Count readings per bucket of width, skipping outliers. */
export function bucketCounts(values: number[], width: number, limit = 1000): [string, Map<number, number>] {
  const counts = new Map<number, number>();
  let total = 0;
  for (const value of values) {
    // Negative readings come from a disconnected probe.
    if (value < 0 || value > limit) {
      continue;
    }
    const bucket = Math.floor(value / width);
    counts.set(bucket, (counts.get(bucket) ?? 0) + 1);
    total += 1;
  }
  if (total === 0) {
    return ['no readings', counts];
  }
  let best: number | null = null;
  for (const [bucket, n] of counts) {
    if (best === null || n > (counts.get(best) as number)) {
      best = bucket;
    }
  }
  const share = (counts.get(best as number) ?? 0) / total;
  return [`peak at ${(best as number) * width} (${(share * 100).toFixed(1)}%)`, counts];
}

'use strict';

// Keeps the last readings of each sensor.
class SensorLog {
  constructor(capacity) {
    this.capacity = capacity;
    this.readings = new Map();
  }

  record(sensor, value) {
    // Drop the oldest reading once the log is full.
    const values = this.readings.get(sensor) ?? [];
    values.push(value);
    if (values.length > this.capacity) {
      values.shift();
    }
    this.readings.set(sensor, values);
    return values.length;
  }
}

const clamp = (x, lo, hi) => Math.min(Math.max(x, lo), hi);

/* Count readings per bucket of width, skipping outliers. */
function bucketCounts(values, width, limit = 1000) {
  const counts = {};
  let total = 0;
  for (const value of values) {
    // Negative readings come from a disconnected probe.
    if (value < 0 || value > limit) {
      continue;
    }
    const bucket = Math.floor(value / width);
    counts[bucket] = (counts[bucket] || 0) + 1;
    total += 1;
  }
  if (total === 0) {
    return ['no readings', counts];
  }
  let best = null;
  for (const [bucket, n] of Object.entries(counts)) {
    if (best === null || n > counts[best]) {
      best = bucket;
    }
  }
  const share = counts[best] / total;
  return [`peak at ${best * width} (${(share * 100).toFixed(1)}%)`, counts];
}

module.exports = { SensorLog, bucketCounts, clamp };

use std::collections::{BTreeMap, HashMap, VecDeque};

/// Keeps the last readings of each sensor.
pub struct SensorLog {
    capacity: usize,
    readings: HashMap<String, VecDeque<f64>>,
}

impl SensorLog {
    pub fn record(&mut self, sensor: &str, value: f64) -> usize {
        // Drop the oldest reading once the log is full.
        let values = self.readings.entry(sensor.to_string()).or_default();
        values.push_back(value);
        if values.len() > self.capacity {
            values.pop_front();
        }
        values.len()
    }
}

/* Count readings per bucket of width, skipping outliers. */
pub fn bucket_counts(values: &[f64], width: f64, limit: f64) -> (String, BTreeMap<i64, u32>) {
    let mut counts = BTreeMap::new();
    let mut total = 0u32;
    for &value in values {
        // Negative readings come from a disconnected probe.
        if value < 0.0 || value > limit {
            continue;
        }
        *counts.entry((value / width) as i64).or_insert(0) += 1;
        total += 1;
    }
    if total == 0 {
        return ("no readings".to_string(), counts);
    }
    let mut best = i64::MIN;
    for (&bucket, &n) in &counts {
        if best == i64::MIN || n > counts[&best] {
            best = bucket;
        }
    }
    let share = f64::from(counts[&best]) / f64::from(total);
    (format!("peak at {:.1} ({:.1}%)", best as f64 * width, share * 100.0), counts)
}

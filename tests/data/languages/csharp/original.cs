using System;
using System.Collections.Generic;
using System.Linq;

namespace Demo.Sensors
{
    /// <summary>Keeps the last readings of each sensor.</summary>
    public class SensorLog
    {
        private readonly int capacity;
        private readonly Dictionary<string, Queue<double>> readings = new();

        public SensorLog(int capacity)
        {
            this.capacity = capacity;
        }

        public int Record(string sensor, double value)
        {
            // Drop the oldest reading once the log is full.
            if (!readings.TryGetValue(sensor, out var values))
            {
                values = new Queue<double>();
                readings[sensor] = values;
            }
            values.Enqueue(value);
            if (values.Count > capacity)
            {
                values.Dequeue();
            }
            return values.Count;
        }
    }

    public static class Histograms
    {
        /* Count readings per bucket of width, skipping outliers. */
        public static string BucketCounts(IEnumerable<double> values, double width, double limit)
        {
            var counts = new SortedDictionary<int, int>();
            int total = 0;
            foreach (var value in values)
            {
                // Negative readings come from a disconnected probe.
                if (value < 0 || value > limit)
                {
                    continue;
                }
                int bucket = (int)(value / width);
                counts[bucket] = counts.GetValueOrDefault(bucket, 0) + 1;
                total++;
            }
            if (total == 0)
            {
                return "no readings";
            }
            int best = counts.Keys.First();
            foreach (var (bucket, n) in counts)
            {
                if (n > counts[best])
                {
                    best = bucket;
                }
            }
            double share = counts[best] / (double)total;
            return $"peak at {best * width:F1} ({share * 100.0:F1}%)";
        }
    }
}

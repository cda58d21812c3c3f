package sensors

import (
	"fmt"
	"sort"
)

// SensorLog keeps the last readings of each sensor.
type SensorLog struct {
	capacity int
	readings map[string][]float64
}

// Record appends a reading and drops the oldest once the log is full.
func (l *SensorLog) Record(sensor string, value float64) int {
	values := append(l.readings[sensor], value)
	if len(values) > l.capacity {
		values = values[1:]
	}
	l.readings[sensor] = values
	return len(values)
}

/* BucketCounts counts readings per bucket of width, skipping outliers. */
func BucketCounts(values []float64, width, limit float64) (string, map[int]int) {
	counts := map[int]int{}
	total := 0
	for _, value := range values {
		// Negative readings come from a disconnected probe.
		if value < 0 || value > limit {
			continue
		}
		counts[int(value/width)]++
		total++
	}
	if total == 0 {
		return "no readings", counts
	}
	keys := make([]int, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	best := keys[0]
	for _, k := range keys {
		if counts[k] > counts[best] {
			best = k
		}
	}
	share := float64(counts[best]) / float64(total)
	return fmt.Sprintf("peak at %.1f (%.1f%%)", float64(best)*width, share*100), counts
}

package demo.sensors;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Keeps the last readings of each sensor. */
class SensorLog {
    private final int capacity;
    private final Map<String, List<Double>> readings = new TreeMap<>();

    SensorLog(int capacity) {
        this.capacity = capacity;
    }

    int record(String sensor, double value) {
        // Drop the oldest reading once the log is full.
        List<Double> values = readings.computeIfAbsent(sensor, k -> new ArrayList<>());
        values.add(value);
        if (values.size() > capacity) {
            values.remove(0);
        }
        return values.size();
    }
}

final class Histograms {
    /* Count readings per bucket of width, skipping outliers. */
    static String bucketCounts(double[] values, double width, double limit) {
        Map<Integer, Integer> counts = new TreeMap<>();
        int total = 0;
        for (double value : values) {
            // Negative readings come from a disconnected probe.
            if (value < 0 || value > limit) {
                continue;
            }
            int bucket = (int) (value / width);
            counts.merge(bucket, 1, Integer::sum);
            total++;
        }
        if (total == 0) {
            return "no readings";
        }
        int best = -1;
        for (Map.Entry<Integer, Integer> e : counts.entrySet()) {
            if (best < 0 || e.getValue() > counts.get(best)) {
                best = e.getKey();
            }
        }
        double share = counts.get(best) / (double) total;
        return String.format("peak at %.1f (%.1f%%)", best * width, share * 100.0);
    }
}

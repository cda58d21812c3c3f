package demo.sensors

import kotlin.math.floor

/** Keeps the last readings of each sensor. */
class SensorLog(private val capacity: Int) {
    private val readings = mutableMapOf<String, ArrayDeque<Double>>()

    fun record(sensor: String, value: Double): Int {
        // Drop the oldest reading once the log is full.
        val values = readings.getOrPut(sensor) { ArrayDeque() }
        values.addLast(value)
        if (values.size > capacity) {
            values.removeFirst()
        }
        return values.size
    }
}

/* Count readings per bucket of width, skipping outliers. */
fun bucketCounts(values: List<Double>, width: Double, limit: Double = 1000.0): Pair<String, Map<Int, Int>> {
    val counts = sortedMapOf<Int, Int>()
    var total = 0
    for (value in values) {
        // Negative readings come from a disconnected probe.
        if (value < 0 || value > limit) {
            continue
        }
        val bucket = floor(value / width).toInt()
        counts[bucket] = (counts[bucket] ?: 0) + 1
        total += 1
    }
    if (total == 0) {
        return Pair("no readings", counts)
    }
    var best = counts.firstKey()
    for ((bucket, n) in counts) {
        if (n > counts.getValue(best)) {
            best = bucket
        }
    }
    val share = counts.getValue(best).toDouble() / total
    return Pair("peak at ${best * width} (${"%.1f".format(share * 100)}%)", counts)
}

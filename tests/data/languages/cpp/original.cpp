#include <cstdio>
#include <deque>
#include <map>
#include <string>
#include <vector>

namespace sensors {

// Keeps the last readings of each sensor.
class SensorLog {
public:
    explicit SensorLog(std::size_t capacity) : capacity_(capacity) {}

    std::size_t record(const std::string &sensor, double value) {
        // Drop the oldest reading once the log is full.
        auto &values = readings_[sensor];
        values.push_back(value);
        if (values.size() > capacity_) {
            values.pop_front();
        }
        return values.size();
    }

private:
    std::size_t capacity_;
    std::map<std::string, std::deque<double>> readings_;
};

/* Count readings per bucket of width, skipping outliers. */
std::string bucket_counts(const std::vector<double> &values, double width, double limit) {
    std::map<int, int> counts;
    int total = 0;
    for (double value : values) {
        // Negative readings come from a disconnected probe.
        if (value < 0 || value > limit) {
            continue;
        }
        counts[static_cast<int>(value / width)] += 1;
        ++total;
    }
    if (total == 0) {
        return "no readings";
    }
    int best = counts.begin()->first;
    for (const auto &[bucket, n] : counts) {
        if (n > counts[best]) {
            best = bucket;
        }
    }
    char label[64];
    std::snprintf(label, sizeof label, "peak at %.1f (%d of %d)", best * width, counts[best], total);
    return std::string(label);
}

}  // namespace sensors

# frozen_string_literal: true

# Keeps the last readings of each sensor.
class SensorLog
  def initialize(capacity)
    @capacity = capacity
    @readings = Hash.new { |h, k| h[k] = [] }
  end

  def record(sensor, value)
    # Drop the oldest reading once the log is full.
    values = @readings[sensor]
    values << value
    values.shift if values.size > @capacity
    values.size
  end
end

# Count readings per bucket of width, skipping outliers.
def bucket_counts(values, width, limit = 1000)
  counts = Hash.new(0)
  total = 0
  values.each do |value|
    # Negative readings come from a disconnected probe.
    next if value < 0 || value > limit

    bucket = (value / width).floor
    counts[bucket] += 1
    total += 1
  end
  return ['no readings', counts] if total.zero?

  best = nil
  counts.keys.sort.each do |bucket|
    best = bucket if best.nil? || counts[bucket] > counts[best]
  end
  share = counts[best].to_f / total
  label = "peak at #{best * width} (#{format('%.1f', share * 100)}%)"
  label = label[0, 40] while label.length > 40
  [label, counts]
end

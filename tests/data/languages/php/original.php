<?php

declare(strict_types=1);

namespace Demo\Sensors;

/** Keeps the last readings of each sensor. */
class SensorLog
{
    private array $readings = [];

    public function __construct(private int $capacity)
    {
    }

    public function record(string $sensor, float $value): int
    {
        // Drop the oldest reading once the log is full.
        $this->readings[$sensor][] = $value;
        if (count($this->readings[$sensor]) > $this->capacity) {
            array_shift($this->readings[$sensor]);
        }
        return count($this->readings[$sensor]);
    }
}

/* Count readings per bucket of width, skipping outliers. */
function bucket_counts(array $values, float $width, float $limit = 1000.0): array
{
    $counts = [];
    $total = 0;
    foreach ($values as $value) {
        # Negative readings come from a disconnected probe.
        if ($value < 0 || $value > $limit) {
            continue;
        }
        $bucket = (int) floor($value / $width);
        $counts[$bucket] = ($counts[$bucket] ?? 0) + 1;
        $total++;
    }
    if ($total === 0) {
        return ['no readings', $counts];
    }
    ksort($counts);
    $best = array_key_first($counts);
    foreach ($counts as $bucket => $n) {
        if ($n > $counts[$best]) {
            $best = $bucket;
        }
    }
    $share = $counts[$best] / $total;
    return [sprintf("peak at %.1f ($share of $total)", $best * $width), $counts];
}

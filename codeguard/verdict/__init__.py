"""Is this a copy? Features of a candidate pair, the classifier that weighs them, its
calibration, and their training. The scan and the benchmarks ask this package; they never
decide themselves. NumPy only at scan time; the classifier is data (JSON), never pickle."""

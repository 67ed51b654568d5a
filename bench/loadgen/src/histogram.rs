//! Fixed-width histograms for timing figures (pacing deviation, send lateness, setup time).
//!
//! Plain data, no I/O and no clock: callers record non-negative microsecond values and read
//! quantiles at the end. A fixed bucket width keeps `record` O(1) and allocation-free on the
//! media hot path; values past the last bucket land in an overflow count while the exact
//! maximum is kept separately, so a p99.9 in the overflow is reported as the maximum.

use serde::Serialize;

/// Counts of microsecond values in equal-width buckets.
///
/// Lifecycle: created once per measurement (per media shard, per run), fed with
/// [`Histogram::record`], merged with [`Histogram::merge`], then summarised.
#[derive(Debug, Clone)]
pub struct Histogram {
    bucket_width_micros: u64,
    buckets: Vec<u64>,
    overflow: u64,
    count: u64,
    sum_micros: u128,
    maximum_micros: u64,
}

/// The quantiles a report shows for one histogram, all in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Summary {
    /// Number of recorded values.
    pub count: u64,
    /// Median (bucket upper edge).
    pub p50_ms: f64,
    /// 99th percentile (bucket upper edge).
    pub p99_ms: f64,
    /// 99.9th percentile (bucket upper edge).
    pub p999_ms: f64,
    /// Exact largest value.
    pub max_ms: f64,
    /// Arithmetic mean.
    pub mean_ms: f64,
}

impl Histogram {
    /// A histogram covering `0 .. bucket_width_micros * bucket_count` with that resolution.
    ///
    /// Panics if either argument is zero (a programming error, not an input error).
    pub fn new(bucket_width_micros: u64, bucket_count: usize) -> Self {
        assert!(
            bucket_width_micros > 0 && bucket_count > 0,
            "empty histogram geometry"
        );
        Self {
            bucket_width_micros,
            buckets: vec![0; bucket_count],
            overflow: 0,
            count: 0,
            sum_micros: 0,
            maximum_micros: 0,
        }
    }

    /// Records one value in microseconds.
    pub fn record(&mut self, micros: u64) {
        let index = micros / self.bucket_width_micros;
        match self.buckets.get_mut(index as usize) {
            Some(bucket) => *bucket += 1,
            None => self.overflow += 1,
        }
        self.count += 1;
        self.sum_micros += u128::from(micros);
        self.maximum_micros = self.maximum_micros.max(micros);
    }

    /// Adds every value of `other`; both must have the same geometry.
    pub fn merge(&mut self, other: &Histogram) {
        assert_eq!(
            self.bucket_width_micros, other.bucket_width_micros,
            "bucket widths differ"
        );
        assert_eq!(
            self.buckets.len(),
            other.buckets.len(),
            "bucket counts differ"
        );
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine += theirs;
        }
        self.overflow += other.overflow;
        self.count += other.count;
        self.sum_micros += other.sum_micros;
        self.maximum_micros = self.maximum_micros.max(other.maximum_micros);
    }

    /// Number of recorded values.
    #[cfg(test)]
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The value at quantile `q` (0..=1) in microseconds: the upper edge of the bucket that
    /// holds it, capped at the exact maximum. Zero when empty.
    pub fn quantile_micros(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        // The rank of the value we want, 1-based, so q = 1.0 is the last value.
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, bucket) in self.buckets.iter().enumerate() {
            seen += bucket;
            if seen >= rank {
                let upper_edge = (index as u64 + 1) * self.bucket_width_micros;
                return upper_edge.min(self.maximum_micros);
            }
        }
        self.maximum_micros
    }

    /// p50, p99, p99.9, max and mean in milliseconds.
    pub fn summary(&self) -> Summary {
        let millis = |micros: u64| micros as f64 / 1000.0;
        let mean = if self.count == 0 {
            0.0
        } else {
            self.sum_micros as f64 / self.count as f64 / 1000.0
        };
        Summary {
            count: self.count,
            p50_ms: millis(self.quantile_micros(0.50)),
            p99_ms: millis(self.quantile_micros(0.99)),
            p999_ms: millis(self.quantile_micros(0.999)),
            max_ms: millis(self.maximum_micros),
            mean_ms: mean,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_a_uniform_ramp_land_on_the_expected_buckets() {
        let mut histogram = Histogram::new(10, 1000);
        for micros in 0..1000 {
            histogram.record(micros * 10);
        }
        // 1000 values 0, 10, ..., 9990: the 500th is 4990, in bucket 499 (upper edge 5000).
        assert_eq!(histogram.quantile_micros(0.5), 5000);
        assert_eq!(histogram.quantile_micros(0.99), 9900);
        assert_eq!(histogram.quantile_micros(1.0), 9990);
        assert_eq!(histogram.summary().max_ms, 9.99);
    }

    #[test]
    fn overflow_values_report_the_exact_maximum() {
        let mut histogram = Histogram::new(1, 100);
        histogram.record(5);
        histogram.record(1_000_000);
        assert_eq!(histogram.quantile_micros(1.0), 1_000_000);
        assert_eq!(histogram.quantile_micros(0.5), 6);
    }

    #[test]
    fn merge_adds_counts_and_keeps_the_larger_maximum() {
        let mut left = Histogram::new(100, 10);
        let mut right = Histogram::new(100, 10);
        left.record(150);
        right.record(250);
        right.record(950);
        left.merge(&right);
        assert_eq!(left.count(), 3);
        assert_eq!(left.quantile_micros(0.5), 300);
        assert_eq!(left.summary().max_ms, 0.95);
    }

    #[test]
    fn empty_histogram_summarises_to_zeros() {
        let summary = Histogram::new(10, 10).summary();
        assert_eq!(summary.count, 0);
        assert_eq!(summary.p99_ms, 0.0);
        assert_eq!(summary.mean_ms, 0.0);
    }
}

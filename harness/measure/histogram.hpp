// Log-bucket latency histogram (fixed memory, no allocation when recording)
// and an open-loop pacer whose latencies start at the intended send time.
//
// Bucketing (HDR-like).  With S = SubBits and M = 2^S:
//   * values v < M are recorded exactly (bucket index = v);
//   * a value v >= M with top bit k (2^k <= v < 2^(k+1), k >= S) falls into
//     octave k, which is split into M linear sub-buckets of width 2^(k-S):
//         index = (k - S + 1) * M + ((v >> (k - S)) - M).
// So every bucket is at most 2^-S of its lower bound wide, the whole uint64
// range is covered by (65 - S) * M buckets, and a percentile reported as the
// bucket midpoint (clamped to the recorded min/max) is within half a bucket
// width of the exact nearest-rank percentile: relative error <= 2^-(S+1)
// (1.6 % for the default S = 5).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include <nlohmann/json.hpp>

namespace spill::measure {

template <unsigned SubBits = 5>
class LogHistogram {
    static_assert(SubBits >= 1 && SubBits <= 16, "sub-bucket bits out of range");

public:
    static constexpr unsigned sub_bits = SubBits;
    static constexpr std::uint64_t sub_count = std::uint64_t{1} << SubBits;
    static constexpr std::size_t bucket_count = static_cast<std::size_t>((65 - SubBits) * sub_count);

    /// Bucket of a value (total over the whole uint64 range).
    [[nodiscard]] static constexpr std::size_t index_of(std::uint64_t v) noexcept {
        if (v < sub_count) return static_cast<std::size_t>(v);
        const unsigned k = static_cast<unsigned>(std::bit_width(v)) - 1U;  // k >= SubBits
        const unsigned shift = k - SubBits;
        return static_cast<std::size_t>((std::uint64_t{k} - SubBits + 1U) * sub_count + ((v >> shift) - sub_count));
    }
    /// Smallest value that lands in bucket `i`.
    [[nodiscard]] static constexpr std::uint64_t lower_of(std::size_t i) noexcept {
        if (i < sub_count) return i;
        const std::uint64_t g = i >> SubBits;  // >= 1
        const std::uint64_t sub = i & (sub_count - 1U);
        return (sub_count + sub) << (g - 1U);
    }
    /// Number of distinct values in bucket `i` (1 for the exact buckets).
    [[nodiscard]] static constexpr std::uint64_t width_of(std::size_t i) noexcept {
        if (i < sub_count) return 1;
        return std::uint64_t{1} << ((i >> SubBits) - 1U);
    }
    /// Largest value that lands in bucket `i` (no overflow for the last one).
    [[nodiscard]] static constexpr std::uint64_t upper_of(std::size_t i) noexcept {
        return lower_of(i) + (width_of(i) - 1U);
    }
    /// Width of the bucket holding `v`: a reported percentile near `v` is
    /// within half of this of the exact one.
    [[nodiscard]] static constexpr std::uint64_t resolution_at(std::uint64_t v) noexcept {
        return width_of(index_of(v));
    }

    void record(std::uint64_t v) noexcept { record_n(v, 1); }
    void record_n(std::uint64_t v, std::uint64_t n) noexcept {
        if (n == 0) return;
        counts_[index_of(v)] += n;
        count_ += n;
        min_ = std::min(min_, v);
        max_ = std::max(max_, v);
        sum_ += static_cast<double>(v) * static_cast<double>(n);
    }
    /// Adds every sample of `other` (the bucketing is identical by type).
    void merge(const LogHistogram& other) noexcept {
        if (other.count_ == 0) return;
        for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += other.counts_[i];
        count_ += other.count_;
        min_ = std::min(min_, other.min_);
        max_ = std::max(max_, other.max_);
        sum_ += other.sum_;
    }
    void reset() noexcept { *this = LogHistogram{}; }

    [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
    [[nodiscard]] std::uint64_t min() const noexcept { return count_ ? min_ : 0; }
    [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
    [[nodiscard]] double mean() const noexcept { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }
    [[nodiscard]] std::uint64_t bucket(std::size_t i) const noexcept { return counts_[i]; }

    /// Nearest-rank percentile, `q` in [0, 100]: the midpoint of the bucket
    /// holding the ceil(q/100 * count)-th smallest sample, clamped to
    /// [min, max].  q = 100 returns the exact maximum; 0 when empty.
    [[nodiscard]] std::uint64_t percentile(double q) const noexcept {
        if (count_ == 0) return 0;
        if (!(q < 100.0)) return max_;
        const double want = std::ceil(std::max(q, 0.0) / 100.0 * static_cast<double>(count_));
        const std::uint64_t rank = std::clamp<std::uint64_t>(static_cast<std::uint64_t>(want), 1, count_);
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < bucket_count; ++i) {
            seen += counts_[i];
            if (seen >= rank) {
                const std::uint64_t mid = lower_of(i) + (width_of(i) - 1U) / 2U;
                return std::clamp(mid, min_, max_);
            }
        }
        return max_;  // unreachable: the counts sum to count_
    }

private:
    std::array<std::uint64_t, bucket_count> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t min_ = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t max_ = 0;
    double sum_ = 0.0;
};

/// The histogram the harness uses for latencies in nanoseconds.
using LatencyHistogram = LogHistogram<5>;

/// JSON: count, min, max, mean, p50, p99, p99_9, max and the non-empty
/// buckets as [lower, upper, count] (inclusive bounds, in the recorded unit).
template <unsigned S>
void to_json(nlohmann::json& j, const LogHistogram<S>& h) {
    nlohmann::json buckets = nlohmann::json::array();
    for (std::size_t i = 0; i < LogHistogram<S>::bucket_count; ++i) {
        if (h.bucket(i) != 0) {
            buckets.push_back({LogHistogram<S>::lower_of(i), LogHistogram<S>::upper_of(i), h.bucket(i)});
        }
    }
    j = nlohmann::json{
        {"sub_bucket_bits", S},
        {"relative_error_bound", std::ldexp(1.0, -static_cast<int>(S) - 1)},
        {"count", h.count()},
        {"min", h.min()},
        {"mean", h.mean()},
        {"p50", h.percentile(50.0)},
        {"p99", h.percentile(99.0)},
        {"p99_9", h.percentile(99.9)},
        {"max", h.max()},
        {"buckets", std::move(buckets)},
    };
}

/// Open-loop pacing: item i is *intended* to be sent at
///     start + round(i * 1e9 / rate_per_s)   (nanoseconds)
/// whatever happened to earlier items.  Latency is measured from that
/// intended time, so a stall delays (and is charged to) every item that
/// should have been sent during it, instead of silently pausing the load
/// generator (coordinated omission).  Times are plain nanosecond counts on
/// any monotonic clock; `now_ns()` is steady_clock.
class OpenLoopPacer {
public:
    OpenLoopPacer(std::uint64_t start_ns, double rate_per_s) noexcept
        : start_ns_(start_ns), period_ns_(rate_per_s > 0.0 ? 1e9 / rate_per_s : 0.0) {}

    [[nodiscard]] static std::uint64_t now_ns() noexcept {
        return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::steady_clock::now().time_since_epoch()).count());
    }
    [[nodiscard]] double period_ns() const noexcept { return period_ns_; }
    [[nodiscard]] std::uint64_t start_ns() const noexcept { return start_ns_; }

    /// Intended send time of item `i` (computed from i, so no drift accumulates).
    [[nodiscard]] std::uint64_t intended_ns(std::uint64_t i) const noexcept {
        return start_ns_ + static_cast<std::uint64_t>(std::llround(static_cast<double>(i) * period_ns_));
    }
    /// Latency of item `i` completed at `completion_ns` (0 if it completed
    /// before it was due, which a correct sender never does).
    [[nodiscard]] std::uint64_t latency_ns(std::uint64_t i, std::uint64_t completion_ns) const noexcept {
        const std::uint64_t due = intended_ns(i);
        return completion_ns > due ? completion_ns - due : 0;
    }
    /// Items already due at `now` (index of the first item not yet due).
    [[nodiscard]] std::uint64_t due_count(std::uint64_t now) const noexcept {
        if (now < start_ns_) return 0;
        if (period_ns_ <= 0.0) return std::numeric_limits<std::uint64_t>::max();
        std::uint64_t n = static_cast<std::uint64_t>(static_cast<double>(now - start_ns_) / period_ns_) + 1U;
        // Fix the floating-point rounding at the edges so that
        // intended_ns(n - 1) <= now < intended_ns(n).
        while (n > 0 && intended_ns(n - 1) > now) --n;
        while (intended_ns(n) <= now) ++n;
        return n;
    }
    /// Busy-waits (steady_clock) until item `i` is due; returns the time read.
    std::uint64_t wait_until_due(std::uint64_t i) const noexcept {
        const std::uint64_t due = intended_ns(i);
        std::uint64_t now = now_ns();
        while (now < due) now = now_ns();
        return now;
    }

private:
    std::uint64_t start_ns_;
    double period_ns_;
};

}  // namespace spill::measure

// Self-calibration: the floors a figure should be read against, measured on
// the exact cores in use.
//
//   * ping-pong round trip: two pinned threads bounce one cache line
//     (A writes n, B waits for n and writes n+1, A waits for n+1).  The
//     cheapest possible synchronous request/response between the two cores.
//   * one-way cache-line transfer: the sender stores a timestamp (TSC on
//     x86, steady_clock elsewhere) into a line, the receiver spins on it and
//     subtracts the stamp from its own clock when it sees the store.  Done in
//     both directions: the mean of the two medians cancels a constant clock
//     offset between the cores, half their difference estimates it.  The
//     cost of one clock read (median of back-to-back reads) is subtracted;
//     the raw figure and the clock's resolution are recorded too (a VM's
//     TSC may step in units of ~10 ns).
//   * masked-store rate: one pinned thread stores into a power-of-two array
//     at index (i & mask), one volatile (scalar, non-vectorised) store per
//     item -- the store every ring push does, without any synchronisation.
//
// Every calibration is time-boxed (default 0.25 s; a pair calibration waits
// at most 0.1 s more for a descheduled partner) and reports the median of its
// K trials with the spread (min, quartiles, max); under heavy load fewer than
// K trials may fit in the box (Summary::n says how many).  Each trial's figure is
// itself the median over short timed chunks (256 round trips, 16384 stores,
// one sample per line transfer), so a preemption of a vCPU spoils one chunk,
// not the trial.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace spill::measure {

/// Pins the calling thread to one CPU (pthread_setaffinity_np).  On failure
/// returns false and, if `reason` is given, says why.
[[nodiscard]] bool pin_current_thread(int cpu, std::string* reason = nullptr) noexcept;

/// Median and spread of a set of trials.
struct Summary {
    std::size_t n = 0;
    double median = 0.0;
    double min = 0.0;
    double q1 = 0.0;  ///< 25th percentile (linear interpolation)
    double q3 = 0.0;  ///< 75th percentile
    double max = 0.0;
    /// (q3 - q1) / median: 0 for perfectly repeatable trials.
    [[nodiscard]] double relative_iqr() const noexcept { return median > 0.0 ? (q3 - q1) / median : 0.0; }
};
/// Summary of `values` (n = 0 and zeros when empty).
[[nodiscard]] Summary summarize(std::vector<double> values);

struct CalibrationOptions {
    std::size_t trials = 9;                          ///< K: the median is over these
    std::chrono::nanoseconds budget = std::chrono::milliseconds(250);  ///< per calibration
    std::size_t store_array_elements = 4096;         ///< power of two (32 KiB of uint64)
};

/// Common to every floor: where it was measured and whether it is usable.
struct FloorStatus {
    bool ok = false;
    std::string reason;  ///< why not ok (empty when ok)
    bool pinned = false; ///< every thread was pinned to its CPU
    std::string pin_error;
    double elapsed_s = 0.0;
    /// Median of the per-trial medians over the median of the per-trial
    /// lower deciles (of the chunks / samples): ~1 on a quiet machine.
    double median_over_low_decile = 0.0;
    /// Involuntary context switches of the measuring threads while they
    /// measured (getrusage RUSAGE_THREAD): other runnable work wanted these CPUs.
    std::int64_t preemptions = 0;
    /// Smallest CPU-time / wall-time of the (spinning) measuring threads:
    /// 1 when they owned their CPUs throughout.
    double on_cpu_fraction = 1.0;
    /// on_cpu_fraction < 0.9 or median_over_low_decile > 2: other load
    /// shared these CPUs, so the figures are inflated (the *_low_decile
    /// figure is the better floor when only some chunks were hit; when all
    /// were, the floor could not be measured here).
    bool contended = false;
};

struct PingPongFloor {
    int cpu_a = -1;
    int cpu_b = -1;
    FloorStatus status;
    std::uint64_t round_trips = 0;  ///< over all trials
    Summary round_trip_ns;          ///< per-trial medians of 256-round-trip chunks
    double round_trip_low_decile_ns = 0.0;  ///< median over trials of the chunks' lower decile
};

struct LineTransferFloor {
    int cpu_a = -1;
    int cpu_b = -1;
    FloorStatus status;
    std::string clock;              ///< "tsc" or "steady_clock"
    std::uint64_t samples = 0;
    Summary a_to_b_ns;              ///< per-trial medians, A stores, B sees
    Summary b_to_a_ns;
    double one_way_raw_ns = 0.0;    ///< (median a_to_b + median b_to_a) / 2
    double one_way_raw_low_decile_ns = 0.0;  ///< same from the samples' lower decile
    double clock_read_ns = 0.0;     ///< median cost of one clock read (back to back)
    double clock_resolution_ns = 0.0;  ///< smallest non-zero clock step seen
    double one_way_ns = 0.0;        ///< one_way_raw_ns - clock_read_ns (the receiver's read)
    double clock_offset_ns = 0.0;   ///< (median a_to_b - median b_to_a) / 2
};

struct MaskedStoreFloor {
    int cpu = -1;
    FloorStatus status;
    std::size_t array_elements = 0;
    std::uint64_t stores = 0;
    Summary ns_per_store;
    double stores_per_second = 0.0;  ///< 1e9 / median ns_per_store
};

struct Floors {
    std::vector<int> cpus;  ///< as given
    PingPongFloor ping_pong;
    LineTransferFloor line_transfer;
    MaskedStoreFloor masked_store;
};

[[nodiscard]] PingPongFloor calibrate_ping_pong(int cpu_a, int cpu_b, const CalibrationOptions& opt = {});
[[nodiscard]] LineTransferFloor calibrate_line_transfer(int cpu_a, int cpu_b, const CalibrationOptions& opt = {});
[[nodiscard]] MaskedStoreFloor calibrate_masked_store(int cpu, const CalibrationOptions& opt = {});

/// All three floors: the pair floors on cpus[0], cpus[1]; the store floor on
/// cpus[0].  With fewer than two CPUs the pair floors are not ok (reason
/// given); with none, nothing is ok.
[[nodiscard]] Floors calibrate_floors(std::span<const int> cpus, const CalibrationOptions& opt = {});

/// `figure / floor`: how many floors a measured figure costs (NaN when the
/// floor is not positive).
[[nodiscard]] double multiple_of_floor(double figure, double floor) noexcept;

/// The per-item handoff floor: a handoff moves at least two cache lines
/// (the batch/slot line to the consumer and the acknowledgement back), so
/// per item it is about 2 * line_transfer_ns / items_per_handoff (NaN when
/// items_per_handoff is not positive).
[[nodiscard]] double handoff_floor_per_item_ns(double line_transfer_ns, double items_per_handoff) noexcept;

void to_json(nlohmann::json& j, const Summary& s);
void to_json(nlohmann::json& j, const FloorStatus& s);
void to_json(nlohmann::json& j, const PingPongFloor& f);
void to_json(nlohmann::json& j, const LineTransferFloor& f);
void to_json(nlohmann::json& j, const MaskedStoreFloor& f);
void to_json(nlohmann::json& j, const Floors& f);

}  // namespace spill::measure

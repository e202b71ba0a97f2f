// Floors measured on exact cores; see calibrate.hpp for the methods.
#include "calibrate.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>

#include <spill/detail/config.hpp>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define SPILL_MEASURE_TSC 1
#else
#define SPILL_MEASURE_TSC 0
#endif

namespace spill::measure {

namespace {

using clock_type = std::chrono::steady_clock;

/// How long past its time box a pair calibration waits for a partner thread
/// that is not running (descheduled by other load) before it stops.
constexpr auto stall_grace = std::chrono::milliseconds(100);

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

double quantile_sorted(const std::vector<double>& v, double q) {
    if (v.empty()) return 0.0;
    const double pos = q * static_cast<double>(v.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const auto hi = std::min(lo + 1, v.size() - 1);
    const double frac = pos - static_cast<double>(lo);
    return v[lo] + (v[hi] - v[lo]) * frac;
}

/// Median of a non-empty vector (reorders it).  The per-trial figure is
/// the median over short chunks, so that a preemption inside a trial costs
/// one chunk instead of inflating the whole trial's mean.
double median_in_place(std::vector<double>& v) {
    const auto mid = v.begin() + static_cast<long>(v.size() / 2);
    std::nth_element(v.begin(), mid, v.end());
    if (v.size() % 2 == 1) return *mid;
    const double upper = *mid;
    const double lower = *std::max_element(v.begin(), mid);
    return (lower + upper) / 2.0;
}

/// Per-trial figures: the median of the chunk (or sample) values and their
/// lower decile.  Their ratio reveals contention: on a quiet machine the
/// chunks agree (ratio ~1); when other threads share the CPUs, many chunks
/// include a descheduled partner and the median rises far above the decile.
struct Trials {
    std::vector<double> medians;
    std::vector<double> lows;
    void add(std::vector<double>& values) {
        if (values.empty()) return;
        std::sort(values.begin(), values.end());
        medians.push_back(median_in_place(values));
        lows.push_back(values[values.size() / 10]);
    }
};

/// Involuntary context switches of the calling thread so far (0 if unknown).
std::int64_t preemptions() noexcept {
    rusage ru{};
    return getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_nivcsw : 0;
}

double thread_cpu_seconds() noexcept {
    timespec ts{};
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0.0;
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// Samples a spinning measuring thread: preemptions and the fraction of the
/// wall time it was on its CPU.
struct OnCpu {
    std::int64_t p0 = preemptions();
    double cpu0 = thread_cpu_seconds();
    clock_type::time_point t0 = clock_type::now();
    void finish(std::int64_t& preempted, double& fraction) const noexcept {
        preempted = preemptions() - p0;
        const double wall = std::chrono::duration<double>(clock_type::now() - t0).count();
        fraction = wall > 0.0 ? std::min(1.0, (thread_cpu_seconds() - cpu0) / wall) : 1.0;
    }
};

/// Fills the contention fields of `st` from the trials (the preemption
/// count is already in `st`).
void judge_contention(FloorStatus& st, const Trials& t) {
    const double med = summarize(t.medians).median;
    const double low = summarize(t.lows).median;
    st.median_over_low_decile = low > 0.0 ? med / low : 0.0;
    st.contended = st.median_over_low_decile > 2.0 || st.on_cpu_fraction < 0.9;
}

/// One value per cache line (both sides of the pair write it).
struct alignas(spill::cache_line) Line {
    std::atomic<std::uint64_t> value{0};
};

/// Read-mostly flags (written once each), on their own line so that they do
/// not disturb the measured line.
struct alignas(spill::cache_line) Control {
    std::atomic<bool> b_ready{false};
    std::atomic<bool> stop{false};
    std::atomic<bool> b_pinned{false};
};

std::uint64_t ticks() noexcept {
#if SPILL_MEASURE_TSC
    unsigned aux = 0;
    // rdtscp waits for earlier instructions (the load that saw the store).
    return __rdtscp(&aux);
#else
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch()).count());
#endif
}

/// Runs `b` on a thread pinned to cpu_b and `a` on a thread pinned to
/// cpu_a; fills the pin fields of `st`.
template <class A, class B>
void run_pair(int cpu_a, int cpu_b, FloorStatus& st, Control& ctl, A&& a, B&& b) {
    std::string err_a;
    std::string err_b;
    bool pinned_a = false;
    std::int64_t preempted_a = 0;
    std::int64_t preempted_b = 0;
    double on_cpu_a = 1.0;
    double on_cpu_b = 1.0;
    std::thread tb([&] {
        const bool ok = pin_current_thread(cpu_b, &err_b);
        // relaxed: published by the release store of b_ready below.
        ctl.b_pinned.store(ok, std::memory_order_relaxed);
        // (A) release: A's acquire load of b_ready sees b_pinned and err_b.
        ctl.b_ready.store(true, std::memory_order_release);
        const OnCpu probe;
        b();
        probe.finish(preempted_b, on_cpu_b);
    });
    std::thread ta([&] {
        pinned_a = pin_current_thread(cpu_a, &err_a);
        // (B) acquire: pairs with (A); B is pinned (or failed) before timing starts.
        while (!ctl.b_ready.load(std::memory_order_acquire)) {
        }
        const OnCpu probe;
        a();
        probe.finish(preempted_a, on_cpu_a);
        // relaxed: B only needs to see it eventually; join() orders the rest.
        ctl.stop.store(true, std::memory_order_relaxed);
    });
    ta.join();
    tb.join();
    st.preemptions += preempted_a + preempted_b;
    st.on_cpu_fraction = std::min({st.on_cpu_fraction, on_cpu_a, on_cpu_b});
    st.pinned = pinned_a && ctl.b_pinned.load(std::memory_order_relaxed);
    if (!pinned_a) st.pin_error += "cpu " + std::to_string(cpu_a) + ": " + err_a;
    if (!ctl.b_pinned.load(std::memory_order_relaxed)) {
        if (!st.pin_error.empty()) st.pin_error += "; ";
        st.pin_error += "cpu " + std::to_string(cpu_b) + ": " + err_b;
    }
}

void finish_status(FloorStatus& st, bool measured, const std::string& why_not, clock_type::time_point t0) {
    st.elapsed_s = seconds_since(t0);
    if (!measured) {
        st.ok = false;
        st.reason = why_not;
    } else if (!st.pinned) {
        st.ok = false;
        st.reason = "not pinned (" + st.pin_error + "): figures are not for these cores";
    } else {
        st.ok = true;
    }
}

bool check_pair(int cpu_a, int cpu_b, FloorStatus& st) {
    if (cpu_a < 0 || cpu_b < 0) {
        st.reason = "CPU ids must be non-negative";
        return false;
    }
    if (cpu_a == cpu_b) {
        st.reason = "the two CPUs must differ (a spinning pair on one CPU only progresses at scheduler ticks)";
        return false;
    }
    return true;
}

}  // namespace

bool pin_current_thread(int cpu, std::string* reason) noexcept {
    if (cpu < 0 || cpu >= CPU_SETSIZE) {
        if (reason) *reason = "CPU id out of range";
        return false;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(static_cast<std::size_t>(cpu), &set);
    const int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    if (rc != 0) {
        if (reason) {
            try {
                *reason = std::string("pthread_setaffinity_np: ") + std::strerror(rc);
            } catch (...) {
            }
        }
        return false;
    }
    return true;
}

Summary summarize(std::vector<double> values) {
    Summary s;
    s.n = values.size();
    if (values.empty()) return s;
    std::sort(values.begin(), values.end());
    s.min = values.front();
    s.max = values.back();
    s.median = quantile_sorted(values, 0.5);
    s.q1 = quantile_sorted(values, 0.25);
    s.q3 = quantile_sorted(values, 0.75);
    return s;
}

PingPongFloor calibrate_ping_pong(int cpu_a, int cpu_b, const CalibrationOptions& opt) {
    PingPongFloor f;
    f.cpu_a = cpu_a;
    f.cpu_b = cpu_b;
    const auto t0 = clock_type::now();
    if (!check_pair(cpu_a, cpu_b, f.status)) {
        finish_status(f.status, false, f.status.reason, t0);
        return f;
    }
    const std::size_t trials = std::max<std::size_t>(opt.trials, 1);
    const auto trial_budget = opt.budget / static_cast<long>(trials);
    Line line;
    Control ctl;
    Trials per_trial;
    per_trial.medians.reserve(trials);
    per_trial.lows.reserve(trials);
    std::uint64_t total = 0;
    bool aborted = false;

    auto responder = [&] {
        // B: answers every odd value n with n + 1.
        for (;;) {
            // (C) acquire: pairs with A's release store (D) of the odd value.
            const std::uint64_t x = line.value.load(std::memory_order_acquire);
            if (x & 1U) {
                // (E) release: pairs with A's acquire load (F).
                line.value.store(x + 1, std::memory_order_release);
            } else if (ctl.stop.load(std::memory_order_relaxed)) {
                // relaxed: stop only ends the loop; no data is published with it.
                break;
            }
        }
    };
    constexpr int chunk = 256;  // round trips per clock read
    std::vector<double> chunks;
    chunks.reserve(16384);
    auto initiator = [&] {
        std::uint64_t n = 0;  // last even value (A owns the odd steps)
        const auto overall = clock_type::now() + opt.budget;
        for (std::size_t t = 0; t < trials && !aborted; ++t) {
            const auto start = clock_type::now();
            if (start >= overall) break;  // time box: fewer trials under load
            const auto deadline = std::min(start + trial_budget, overall);
            std::uint64_t rounds = 0;
            chunks.clear();
            auto now = start;
            while (now < deadline && !aborted) {
                const auto chunk_start = now;
                for (int k = 0; k < chunk; ++k) {
                    // (D) release: pairs with (C).
                    line.value.store(n + 1, std::memory_order_release);
                    std::uint32_t spins = 0;
                    // (F) acquire: pairs with (E).
                    while (line.value.load(std::memory_order_acquire) != n + 2) {
                        // Every 2^16 spins (~0.1 ms): stop if B has not run for long;
                        // the trials completed so far still count.
                        if ((++spins & 0xFFFFU) == 0 && clock_type::now() > overall + stall_grace) {
                            aborted = true;
                            break;
                        }
                    }
                    if (aborted) break;
                    n += 2;
                    ++rounds;
                }
                now = clock_type::now();
                if (!aborted && chunks.size() < chunks.capacity()) {
                    chunks.push_back(std::chrono::duration<double, std::nano>(now - chunk_start).count() / chunk);
                }
            }
            if (!aborted && !chunks.empty()) {
                per_trial.add(chunks);
                total += rounds;
            }
        }
    };
    run_pair(cpu_a, cpu_b, f.status, ctl, initiator, responder);
    f.round_trips = total;
    f.round_trip_ns = summarize(per_trial.medians);
    f.round_trip_low_decile_ns = summarize(per_trial.lows).median;
    judge_contention(f.status, per_trial);
    finish_status(f.status, !per_trial.medians.empty(),
                  "no trial completed: the responder did not run within the time box", t0);
    return f;
}

LineTransferFloor calibrate_line_transfer(int cpu_a, int cpu_b, const CalibrationOptions& opt) {
    LineTransferFloor f;
    f.cpu_a = cpu_a;
    f.cpu_b = cpu_b;
    f.clock = SPILL_MEASURE_TSC ? "tsc" : "steady_clock";
    const auto t0 = clock_type::now();
    if (!check_pair(cpu_a, cpu_b, f.status)) {
        finish_status(f.status, false, f.status.reason, t0);
        return f;
    }
    const std::size_t trials = std::max<std::size_t>(opt.trials, 1);
    const auto trial_budget = opt.budget / static_cast<long>(2 * trials);
    const std::size_t per_trial_cap = 4096;
    const std::size_t max_samples = per_trial_cap * trials;

    // The cost and granularity of reading the clock: the receiver's delta
    // includes one clock read, which is subtracted below.
    std::vector<double> read_cost;
    read_cost.reserve(2001);
    double resolution = std::numeric_limits<double>::infinity();
    for (int k = 0; k < 2001; ++k) {
        const std::uint64_t x = ticks();
        const std::uint64_t y = ticks();
        read_cost.push_back(static_cast<double>(y - x));
        if (y > x) resolution = std::min(resolution, static_cast<double>(y - x));
    }
    const double read_ticks = summarize(std::move(read_cost)).median;

    const std::uint64_t tick0 = ticks();
    const auto wall0 = clock_type::now();
    bool pinned_all = true;
    bool measured = true;
    Trials medians[2];  // ticks, converted below
    std::string pin_errors;

    for (int dir = 0; dir < 2 && measured; ++dir) {
        const int sender_cpu = dir == 0 ? cpu_a : cpu_b;
        const int receiver_cpu = dir == 0 ? cpu_b : cpu_a;
        Line stamp;
        Line ack;
        Control ctl;
        std::vector<double> deltas;
        deltas.reserve(max_samples);
        bool aborted = false;
        FloorStatus st;
        auto receiver = [&] {
            std::uint64_t last = 0;
            for (;;) {
                // (G) acquire: pairs with the sender's release store (H).
                const std::uint64_t s = stamp.value.load(std::memory_order_acquire);
                if (s != last) {
                    const std::uint64_t seen = ticks();
                    last = s;
                    // The sender touches `deltas` only between receiving an
                    // ack (J) and sending the next stamp (H), so the ack
                    // (I, release) publishes this push_back to it.
                    if (deltas.size() < deltas.capacity()) {
                        deltas.push_back(static_cast<double>(static_cast<std::int64_t>(seen - s)));
                    }
                    ack.value.store(s, std::memory_order_release);  // (I)
                } else if (ctl.stop.load(std::memory_order_relaxed)) {
                    // relaxed: stop only ends the loop.
                    break;
                }
            }
        };
        Trials trial_medians;
        auto sender = [&] {
            std::size_t trial_deltas_begin = 0;
            const auto overall = clock_type::now() + opt.budget / 2;
            for (std::size_t t = 0; t < trials && !aborted; ++t) {
                const auto start = clock_type::now();
                if (start >= overall) break;  // time box: fewer trials under load
                const auto deadline = std::min(start + trial_budget, overall);
                std::size_t sent = 0;
                while (clock_type::now() < deadline && sent < per_trial_cap) {
                    std::uint64_t s = ticks();
                    // (H) release: pairs with (G).
                    stamp.value.store(s, std::memory_order_release);
                    std::uint32_t spins = 0;
                    // (J) acquire: pairs with (I); after it the receiver's
                    // push_back of this sample is visible.
                    while (ack.value.load(std::memory_order_acquire) != s) {
                        if ((++spins & 0xFFFFU) == 0 && clock_type::now() > overall + stall_grace) {
                            aborted = true;
                            break;
                        }
                    }
                    if (aborted) break;
                    ++sent;
                }
                if (aborted) break;  // the receiver may still be writing `deltas`
                const std::size_t end = deltas.size();
                if (end > trial_deltas_begin) {
                    std::vector<double> part(deltas.begin() + static_cast<long>(trial_deltas_begin),
                                             deltas.begin() + static_cast<long>(end));
                    trial_medians.add(part);
                }
                trial_deltas_begin = end;
            }
        };
        run_pair(sender_cpu, receiver_cpu, st, ctl, sender, receiver);
        f.status.preemptions += st.preemptions;
        f.status.on_cpu_fraction = std::min(f.status.on_cpu_fraction, st.on_cpu_fraction);
        if (!st.pinned) {
            pinned_all = false;
            if (!pin_errors.empty()) pin_errors += "; ";
            pin_errors += st.pin_error;
        }
        if (trial_medians.medians.empty()) measured = false;
        f.samples += deltas.size();
        medians[dir] = std::move(trial_medians);
    }
    const double wall_ns = std::chrono::duration<double, std::nano>(clock_type::now() - wall0).count();
    const std::uint64_t dticks = ticks() - tick0;
    const double ns_per_tick = dticks > 0 ? wall_ns / static_cast<double>(dticks) : 1.0;
    for (auto& t : medians) {
        for (double& x : t.medians) x *= ns_per_tick;
        for (double& x : t.lows) x *= ns_per_tick;
    }
    f.a_to_b_ns = summarize(medians[0].medians);
    f.b_to_a_ns = summarize(medians[1].medians);
    {
        Trials both = medians[0];
        both.medians.insert(both.medians.end(), medians[1].medians.begin(), medians[1].medians.end());
        both.lows.insert(both.lows.end(), medians[1].lows.begin(), medians[1].lows.end());
        judge_contention(f.status, both);
        f.one_way_raw_low_decile_ns = summarize(both.lows).median;
    }
    f.clock_read_ns = read_ticks * ns_per_tick;
    f.clock_resolution_ns = std::isfinite(resolution) ? resolution * ns_per_tick : 0.0;
    f.one_way_raw_ns = (f.a_to_b_ns.median + f.b_to_a_ns.median) / 2.0;
    f.one_way_ns = f.one_way_raw_ns - f.clock_read_ns;
    f.clock_offset_ns = (f.a_to_b_ns.median - f.b_to_a_ns.median) / 2.0;
    f.status.pinned = pinned_all;
    f.status.pin_error = pin_errors;
    finish_status(f.status, measured, "no trial completed: the receiver did not run within the time box", t0);
    if (f.status.ok && !(f.one_way_ns > 0.0)) {
        f.status.ok = false;
        f.status.reason = "non-positive one-way estimate (clocks not synchronised across these CPUs?)";
    }
    return f;
}

MaskedStoreFloor calibrate_masked_store(int cpu, const CalibrationOptions& opt) {
    MaskedStoreFloor f;
    f.cpu = cpu;
    const auto t0 = clock_type::now();
    std::size_t elems = opt.store_array_elements;
    if (elems == 0 || (elems & (elems - 1)) != 0) {
        f.array_elements = elems;
        finish_status(f.status, false, "array size must be a power of two", t0);
        return f;
    }
    f.array_elements = elems;
    const std::size_t trials = std::max<std::size_t>(opt.trials, 1);
    const auto trial_budget = opt.budget / static_cast<long>(trials);
    Trials per_trial;
    per_trial.medians.reserve(trials);
    per_trial.lows.reserve(trials);
    std::uint64_t total = 0;
    std::string err;
    bool pinned = false;
    std::thread worker([&] {
        pinned = pin_current_thread(cpu, &err);
        const OnCpu probe;
        constexpr int chunk = 16384;  // stores per clock read
        std::vector<double> chunks;
        chunks.reserve(16384);
        std::vector<std::uint64_t> storage(elems, 0);
        volatile std::uint64_t* buf = storage.data();
        const std::size_t mask = elems - 1;
        std::uint64_t i = 0;
        for (std::size_t k = 0; k < elems; ++k) buf[k] = k;  // fault the pages in
        const auto overall = clock_type::now() + opt.budget;
        for (std::size_t t = 0; t < trials; ++t) {
            const auto start = clock_type::now();
            if (start >= overall) break;  // time box: fewer trials under load
            const auto deadline = std::min(start + trial_budget, overall);
            std::uint64_t stores = 0;
            chunks.clear();
            auto now = start;
            while (now < deadline) {
                const auto chunk_start = now;
                for (int k = 0; k < chunk; ++k) {
                    buf[i & mask] = i;
                    ++i;
                }
                stores += chunk;
                now = clock_type::now();
                if (chunks.size() < chunks.capacity()) {
                    chunks.push_back(std::chrono::duration<double, std::nano>(now - chunk_start).count() / chunk);
                }
            }
            per_trial.add(chunks);
            total += stores;
        }
        probe.finish(f.status.preemptions, f.status.on_cpu_fraction);
    });
    worker.join();
    f.status.pinned = pinned;
    if (!pinned) f.status.pin_error = "cpu " + std::to_string(cpu) + ": " + err;
    f.stores = total;
    f.ns_per_store = summarize(per_trial.medians);
    f.stores_per_second = f.ns_per_store.median > 0.0 ? 1e9 / f.ns_per_store.median : 0.0;
    judge_contention(f.status, per_trial);
    finish_status(f.status, !per_trial.medians.empty(), "no trial ran", t0);
    return f;
}

Floors calibrate_floors(std::span<const int> cpus, const CalibrationOptions& opt) {
    Floors f;
    f.cpus.assign(cpus.begin(), cpus.end());
    if (cpus.empty()) {
        f.ping_pong.status.reason = f.line_transfer.status.reason = f.masked_store.status.reason = "no CPU given";
        return f;
    }
    f.masked_store = calibrate_masked_store(cpus[0], opt);
    if (cpus.size() < 2) {
        f.ping_pong.cpu_a = f.line_transfer.cpu_a = cpus[0];
        f.ping_pong.status.reason = f.line_transfer.status.reason = "needs two CPUs, one given";
        return f;
    }
    f.ping_pong = calibrate_ping_pong(cpus[0], cpus[1], opt);
    f.line_transfer = calibrate_line_transfer(cpus[0], cpus[1], opt);
    return f;
}

double multiple_of_floor(double figure, double floor) noexcept {
    if (!(floor > 0.0) || !std::isfinite(floor)) return std::numeric_limits<double>::quiet_NaN();
    return figure / floor;
}

double handoff_floor_per_item_ns(double line_transfer_ns, double items_per_handoff) noexcept {
    if (!(items_per_handoff > 0.0)) return std::numeric_limits<double>::quiet_NaN();
    return 2.0 * line_transfer_ns / items_per_handoff;
}

// Nothing measured is null, never 0 (the enclosing floor's status says why).
static nlohmann::json measured_or_null(bool measured, double v) { return measured ? nlohmann::json(v) : nlohmann::json(nullptr); }

void to_json(nlohmann::json& j, const Summary& s) {
    const bool m = s.n != 0;
    j = nlohmann::json{{"n", s.n},
                       {"median", measured_or_null(m, s.median)},
                       {"min", measured_or_null(m, s.min)},
                       {"q1", measured_or_null(m, s.q1)},
                       {"q3", measured_or_null(m, s.q3)},
                       {"max", measured_or_null(m, s.max)},
                       {"relative_iqr", measured_or_null(m, s.relative_iqr())}};
}

void to_json(nlohmann::json& j, const FloorStatus& s) {
    j = nlohmann::json{{"ok", s.ok},
                       {"pinned", s.pinned},
                       {"elapsed_s", s.elapsed_s},
                       {"contended", s.contended},
                       {"preemptions", s.preemptions},
                       {"on_cpu_fraction", s.on_cpu_fraction},
                       {"median_over_low_decile", s.median_over_low_decile}};
    if (!s.ok) j["reason"] = s.reason;
    if (!s.pin_error.empty()) j["pin_error"] = s.pin_error;
}

void to_json(nlohmann::json& j, const PingPongFloor& f) {
    j = nlohmann::json{{"cpus", {f.cpu_a, f.cpu_b}},
                       {"status", f.status},
                       {"round_trips", f.round_trips},
                       {"round_trip_ns", f.round_trip_ns},
                       {"round_trip_low_decile_ns", measured_or_null(f.round_trip_ns.n != 0, f.round_trip_low_decile_ns)}};
}

void to_json(nlohmann::json& j, const LineTransferFloor& f) {
    const bool both = f.a_to_b_ns.n != 0 && f.b_to_a_ns.n != 0;  // the one-way figures need both directions
    j = nlohmann::json{{"cpus", {f.cpu_a, f.cpu_b}},
                       {"status", f.status},
                       {"clock", f.clock},
                       {"samples", f.samples},
                       {"a_to_b_ns", f.a_to_b_ns},
                       {"b_to_a_ns", f.b_to_a_ns},
                       {"one_way_ns", measured_or_null(both, f.one_way_ns)},
                       {"one_way_raw_ns", measured_or_null(both, f.one_way_raw_ns)},
                       {"one_way_raw_low_decile_ns", measured_or_null(both, f.one_way_raw_low_decile_ns)},
                       {"clock_read_ns", f.clock_read_ns},
                       {"clock_resolution_ns", f.clock_resolution_ns},
                       {"clock_offset_ns", measured_or_null(both, f.clock_offset_ns)}};
}

void to_json(nlohmann::json& j, const MaskedStoreFloor& f) {
    j = nlohmann::json{{"cpu", f.cpu},
                       {"status", f.status},
                       {"array_elements", f.array_elements},
                       {"stores", f.stores},
                       {"ns_per_store", f.ns_per_store},
                       {"stores_per_second", f.stores_per_second}};
}

void to_json(nlohmann::json& j, const Floors& f) {
    j = nlohmann::json{{"cpus", f.cpus},
                       {"ping_pong", f.ping_pong},
                       {"line_transfer", f.line_transfer},
                       {"masked_store", f.masked_store}};
}

}  // namespace spill::measure

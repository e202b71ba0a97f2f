// harness/src/runner.cpp: see runner.hpp.
#include "runner.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "cost.hpp"

namespace spill::bench {

namespace m = spill::measure;

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_sigint(int) {
    g_interrupted = 1;
    std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C stops at once
}

std::string fmt_seconds(double s) {
    std::ostringstream o;
    if (s < 60) o << std::fixed << std::setprecision(1) << s << "s";
    else o << static_cast<long>(s) / 60 << "m" << std::setw(2) << std::setfill('0') << static_cast<long>(s) % 60 << "s";
    return o.str();
}

/// Aborts the process if one point runs longer than the timeout: a hung
/// point (a deadlock in the code under test) must not hang a CI job or a
/// cluster allocation forever. Every finished point is already on disk, so
/// the run can be resumed without the culprit (or with a longer timeout).
class Watchdog {
public:
    explicit Watchdog(std::uint64_t timeout_s) : timeout_s_(timeout_s) {
        if (timeout_s_ != 0) thread_ = std::thread([this] { loop(); });
    }
    ~Watchdog() {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        cv_.notify_one();
        if (thread_.joinable()) thread_.join();
    }
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;

    void start(const std::string& id) {
        std::lock_guard lock(mu_);
        id_ = id;
        ++generation_;
        armed_ = true;
        cv_.notify_one();
    }
    void finish() {
        std::lock_guard lock(mu_);
        armed_ = false;
        cv_.notify_one();
    }

private:
    void loop() {
        std::unique_lock lock(mu_);
        while (!stop_) {
            if (!armed_) {
                cv_.wait(lock);
                continue;
            }
            const std::uint64_t gen = generation_;
            const bool done = cv_.wait_for(lock, std::chrono::seconds(timeout_s_), [&] { return stop_ || !armed_ || generation_ != gen; });
            if (!done) {
                std::fprintf(stderr,
                             "\nspill-bench: point %s still running after %llu s (--point-timeout): aborting as hung; finished points are saved, "
                             "resume with --resume\n",
                             id_.c_str(), static_cast<unsigned long long>(timeout_s_));
                std::fflush(stderr);
                std::_Exit(exit_hung);
            }
        }
    }

    std::uint64_t timeout_s_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::string id_;
    std::uint64_t generation_ = 0;
    bool armed_ = false;
    bool stop_ = false;
    std::thread thread_;
};

/// --lockstep: block until the controller lets the next repetition run.
void lockstep_wait(const RunOptions& o) {
    if (o.lockstep_in < 0) return;
    char c = 0;
    ssize_t n;
    do n = ::read(o.lockstep_in, &c, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1) throw std::runtime_error("--lockstep: the controller closed its pipe");
}
/// --lockstep: tell the controller the repetition is over.
void lockstep_done(const RunOptions& o) {
    if (o.lockstep_out < 0) return;
    const char c = 'd';
    ssize_t n;
    do n = ::write(o.lockstep_out, &c, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1) throw std::runtime_error("--lockstep: cannot write to the controller's pipe");
}

/// Where a point's threads ran: its swept class and pair, or the class of the
/// first two distinct CPUs its own threads (not its busy neighbours) were
/// pinned to.
PlacementRecord placement_of(const PointSpec& spec, const std::vector<ThreadRecord>& threads, const Pinner& pinner) {
    PlacementRecord r;
    for (const ThreadRecord& t : threads)
        if (t.role != neighbour_role && t.planned_cpu >= 0 && std::find(r.cpus.begin(), r.cpus.end(), t.planned_cpu) == r.cpus.end()) r.cpus.push_back(t.planned_cpu);
    r.swept = !spec.params.placement.empty();
    if (r.swept) {
        r.cls = spec.params.placement;
    } else if (r.cpus.size() >= 2) {
        std::string why;
        const m::PlacementClass c = m::classify_pair(r.cpus[0], r.cpus[1], &why);
        r.cls = std::string(m::to_string(c));
        if (c == m::PlacementClass::unknown) r.reason = why;
    } else {
        r.reason = r.cpus.empty() ? "threads not pinned (" + (pinner.reason().empty() ? std::string("no pinning") : pinner.reason()) + ")"
                                  : "every thread ran on one CPU";
    }
    return r;
}

std::optional<m::Role> role_of(const std::string& r) {
    if (r == "producer" || r == "worker") return m::Role::producer;
    if (r == "merger" || r == "stage2") return m::Role::merger;
    if (r == "consumer" || r == "owner") return m::Role::consumer;
    return std::nullopt;
}

/// Cost per role of the last measured repetition (the one the per-thread
/// records are from).
std::vector<m::RoleCost> role_costs(const std::vector<ThreadRecord>& threads, std::uint64_t items, std::uint64_t handoffs) {
    std::vector<m::RoleSample> samples;
    for (const ThreadRecord& t : threads) {
        const auto r = role_of(t.role);
        if (!r || !t.finished) continue;
        m::ThreadCost c;
        c.cpu_seconds = t.cpu_seconds;
        c.voluntary_switches = t.voluntary_cs;
        c.involuntary_switches = t.involuntary_cs;
        samples.push_back(m::RoleSample{*r, c});
    }
    return m::summarize_costs(samples, items, handoffs);
}

/// The PAPI events of the last measured repetition, summed over each role's
/// threads. An event that cannot be counted (here, or on one of the role's
/// threads) is null with the reason, never 0.
std::vector<m::RoleCounters> role_counters(const std::vector<ThreadRecord>& threads, const std::vector<Papi::ThreadValues>& values,
                                           const Papi& papi, std::uint64_t items, std::uint64_t handoffs) {
    const std::vector<std::string>& names = papi.requested();
    std::map<m::Role, std::vector<const Papi::ThreadValues*>> by_role;  // PAPI values, in thread-exit order
    for (const Papi::ThreadValues& v : values)
        if (const auto r = role_of(v.role)) by_role[*r].push_back(&v);
    std::vector<m::ThreadCounters> in;
    for (const ThreadRecord& t : threads) {
        const auto r = role_of(t.role);
        if (!r) continue;
        m::ThreadCounters tc;
        tc.role = *r;
        const Papi::ThreadValues* mine = nullptr;
        if (auto& q = by_role[*r]; !q.empty()) {
            mine = q.back();
            q.pop_back();
        }
        for (const std::string& n : names) {
            const auto un = papi.unavailable().find(n);
            const auto it = std::find(papi.usable().begin(), papi.usable().end(), n);
            if (un != papi.unavailable().end() || it == papi.usable().end()) {
                tc.values.emplace_back(std::nullopt);
                tc.reasons.push_back(un != papi.unavailable().end() ? un->second : "not counted");
            } else if (mine == nullptr || !mine->error.empty()) {
                tc.values.emplace_back(std::nullopt);
                tc.reasons.push_back(mine ? mine->error : "no PAPI values were recorded for this thread");
            } else {
                const auto k = static_cast<std::size_t>(it - papi.usable().begin());
                tc.values.emplace_back(k < mine->values.size() ? std::optional<double>(static_cast<double>(mine->values[k])) : std::nullopt);
                tc.reasons.emplace_back(k < mine->values.size() ? "" : "no value recorded for this thread");
            }
        }
        in.push_back(std::move(tc));
    }
    return m::summarize_role_counters(in, names.size(), items, handoffs);
}

/// The checks of one repetition: empty when they passed, else what failed.
std::string failure_of(const RepResult& r) {
    const bool conserved = r.produced == r.delivered + r.overflowed + r.dropped;
    std::string why = r.message;
    if (!conserved) {
        const std::string broken = "conservation broken: produced " + std::to_string(r.produced) + " != delivered " + std::to_string(r.delivered) +
                                   " + overflowed " + std::to_string(r.overflowed) + " + dropped " + std::to_string(r.dropped);
        why = why.empty() ? broken : why + "; " + broken;
    }
    if (conserved && r.fifo && r.order.value_or(true)) return {};
    return why.empty() ? std::string("check failed") : why;
}

}  // namespace

const Pinner& RunContext::pinner_for(const std::string& placement) const {
    const auto it = placed.find(placement);
    return it != placed.end() ? *it->second : *pinner;
}

PointRecord run_point(const PlannedPoint& pl, RunContext& ctx) {
    const RunOptions& o = *ctx.options;
    const Scenario& sc = *pl.scenario;
    const Pinner& pinner = ctx.pinner_for(pl.spec.params.placement);
    Papi& papi = *ctx.papi;
    PointRecord rec;
    rec.spec = pl.spec;
    rec.facts = &sc.facts();
    rec.planned_repetitions = o.repetitions;
    rec.logical_cpus = pinner.logical_cpus();
    rec.floors = ctx.floors.for_class(pl.spec.params.placement);
    rec.counter_names = papi.requested();

    std::vector<Papi::ThreadValues> papi_threads;  // of the last repetition, for the per-role counters
    std::uint64_t alloc_total = 0;
    bool alloc_known = true;
    auto one = [&](std::uint64_t slow) {
        RunEnv env(pl.spec.params, pinner, papi, o.fault, slow);
        env.stall_ns = o.stall_ns;
        papi.reset_totals();
        RepResult r = sc.run(env);
        papi_threads = papi.thread_values();
        r.usage = env.usage();
        r.allocations = env.allocations();
        rec.threads = env.book().records();
        return r;
    };
    std::uint64_t slowdown_ns_per_64 = 0;
    const std::uint64_t warm = std::max<std::uint64_t>(o.warmup, o.slowdown_pct != 0 ? 1 : 0);
    double fastest_warm_ns_per_item = 0;
    for (std::uint64_t k = 0; k < warm + o.repetitions; ++k) {
        RepResult r;
        try {
            lockstep_wait(o);
            r = one(slowdown_ns_per_64);
            lockstep_done(o);
        } catch (const std::exception& e) {
            rec.error = std::string("repetition threw: ") + e.what();
            break;
        }
        if (k < warm && o.slowdown_pct != 0 && r.delivered != 0) {
            // Calibrate: the busy work runs in the consumer, every 64 delivered
            // items, and adds up to PCT percent of the time per item of the
            // fastest warm-up (a warm-up that shared its core with another
            // process would otherwise inflate the slowdown).
            const double ns_per_item = r.seconds * 1e9 / static_cast<double>(r.delivered);
            if (fastest_warm_ns_per_item == 0 || ns_per_item < fastest_warm_ns_per_item) fastest_warm_ns_per_item = ns_per_item;
            if (k + 1 == warm)
                slowdown_ns_per_64 = static_cast<std::uint64_t>(fastest_warm_ns_per_item * static_cast<double>(o.slowdown_pct) / 100.0 * 64.0);
        }
        if (k < warm) continue;
        RepRecord rep;
        rep.seconds = r.seconds;
        rep.checks = CheckCounts{r.produced, r.delivered, r.overflowed, r.merged_items, r.dropped};
        rep.fifo = r.fifo;
        rep.order = r.order;
        rep.failure = failure_of(r);
        if (sc.facts().handoff_stats && !r.handoff && rep.failure.empty())
            rep.failure = "the scenario declares handoff statistics but its repetition recorded none";
        rep.usage = r.usage;
        rep.allocations = r.allocations;
        const std::vector<long long> hw = papi.totals();
        for (const std::string& n : papi.requested()) {
            const auto it = std::find(papi.usable().begin(), papi.usable().end(), n);
            const auto at = static_cast<std::size_t>(it - papi.usable().begin());
            rep.papi.push_back(it != papi.usable().end() && at < hw.size() ? std::optional<long long>(hw[at]) : std::nullopt);
        }
        rep.latency = r.latency;
        rep.handoff = r.handoff;
        if (r.latency) {
            if (!rec.latency) rec.latency = std::make_unique<LatencyTotals>();
            rec.latency->add(*r.latency);
        }
        if (r.allocations) alloc_total += *r.allocations;
        else alloc_known = false;
        rec.cost_items = r.produced;
        rec.reps.push_back(std::move(rep));
    }
    rec.placement = placement_of(pl.spec, rec.threads, pinner);
    const std::uint64_t handoffs = rec.handoffs_per_repetition();
    rec.role_costs = role_costs(rec.threads, rec.cost_items, handoffs);
    rec.role_counters = role_counters(rec.threads, papi_threads, papi, rec.cost_items, handoffs);
    const std::uint64_t rounds_run = pl.spec.params.rounds * static_cast<std::uint64_t>(rec.reps.size());
    if (!alloc_known) rec.allocations_per_round = Figure::undefined("allocations are not counted in this binary");
    else rec.allocations_per_round = Figure::ratio(static_cast<double>(alloc_total), static_cast<double>(rounds_run), "no repetition was measured");
    return rec;
}

int run_plan(const RunOptions& o, const Plan& plan) {
    Papi papi(o.counters);
    Pinner pinner(o.pin);
    RunContext ctx;
    ctx.options = &o;
    ctx.papi = &papi;
    ctx.pinner = &pinner;
    for (const std::string& c : plan.swept) {
        const auto cls = m::placement_from_string(c);
        const m::PlacementExample* e = cls ? plan.placements.find(*cls) : nullptr;
        if (e && e->cpu_a >= 0 && e->cpu_b >= 0) ctx.placed[c] = std::make_unique<Pinner>(o.pin, std::vector<int>{e->cpu_a, e->cpu_b});
    }
    ResultDoc doc;
    std::error_code ec;
    const bool resuming = o.resume && std::filesystem::exists(o.out, ec);
    if (o.resume && !resuming) std::cerr << "spill-bench: --resume: '" << o.out << "' does not exist yet; starting a new file\n";
    if (resuming) {
        doc = ResultDoc::load(o.out, "--resume");
        const json& md = doc.metadata();
        if (md.value("pin_policy", "") != to_string(o.pin))
            throw InputError("--resume: '" + o.out + "' was run with --pin " + md.value("pin_policy", std::string("?")) + ", this run uses " + to_string(o.pin));
        if (md.contains("counters") && md["counters"].value("requested", json::array()) != json(papi.requested()))
            throw InputError("--resume: '" + o.out + "' was run with other --counters (" + md["counters"].value("requested", json::array()).dump() + ")");
        if (md.contains("shard") && (md["shard"].value("index", 0u) != o.shard.index || md["shard"].value("count", 1u) != o.shard.count))
            throw InputError("--resume: '" + o.out + "' holds shard " + std::to_string(md["shard"].value("index", 0u)) + "/" +
                             std::to_string(md["shard"].value("count", 1u)) + ", this run is shard " + std::to_string(o.shard.index) + "/" +
                             std::to_string(o.shard.count));
        ctx.floors = floors_from_metadata(md);
        json& again = doc.metadata()["resumed"];
        if (!again.is_array()) again = json::array();
        again.push_back(provenance(o.command_line));
    } else {
        // Floors first: a --placement absent on this machine is bad input,
        // reported before anything (the topology XML) is written.
        json floors;
        ctx.floors = calibrate_floors_into(floors, o, pinner, plan.placements, plan.swept, plan.skipped);
        json md = metadata_for(o, pinner, papi);
        for (auto& [k, v] : floors.items()) md[k] = v;
        doc = ResultDoc(std::move(md));
    }
    const std::vector<PlannedPoint> todo = still_to_run(plan, doc);
    if (resuming) {
        std::cerr << "spill-bench: resuming '" << o.out << "': " << (plan.points.size() - todo.size()) << " of " << plan.points.size()
                  << " points already done\n";
        doc.write(o.out, o.csv);  // the resume is recorded (and the CSV written) even if nothing is left to run
    }

    std::signal(SIGINT, on_sigint);
    Watchdog watchdog(o.point_timeout_s);
    const std::uint64_t t0 = now_ns();
    std::vector<TableRow> rows;
    int failed = 0;
    std::size_t i = 0;
    for (; i < todo.size(); ++i) {
        if (g_interrupted) break;
        const PlannedPoint& pl = todo[i];
        const std::string id = pl.spec.id();
        if (!o.quiet) std::cerr << "[" << (i + 1) << "/" << todo.size() << "] " << id << std::flush;
        const std::uint64_t p0 = now_ns();
        watchdog.start(id);
        const PointRecord rec = run_point(pl, ctx);
        watchdog.finish();
        const double took = static_cast<double>(now_ns() - p0) * 1e-9;
        const double elapsed = static_cast<double>(now_ns() - t0) * 1e-9;
        const double left = elapsed / static_cast<double>(i + 1) * static_cast<double>(todo.size() - i - 1);
        if (!o.quiet) std::cerr << "  " << fmt_seconds(took) << " (elapsed " << fmt_seconds(elapsed) << ", ~" << fmt_seconds(left) << " left)\n";
        if (!rec.passed()) {
            ++failed;
            std::cerr << "spill-bench: CHECK FAILED: " << id << ": " << rec.failure() << "\n";
        }
        rows.push_back(table_row(rec));
        doc.add_point(to_json(rec));
        if (!o.out.empty()) doc.write(o.out, o.csv);
    }
    std::cout << format_table(rows);
    if (i < todo.size()) {
        std::cerr << "spill-bench: interrupted after " << i << " of " << todo.size() << " points";
        if (!o.out.empty())
            std::cerr << "; finished points are in '" << o.out << "'. Resume with: " << o.command_line << (o.resume ? "" : " --resume") << "\n";
        else
            std::cerr << " (no --out given, nothing was saved)\n";
        return exit_interrupted;
    }
    if (failed != 0) {
        std::cerr << "spill-bench: " << failed << " point(s) FAILED their checks (see checks.message in the results)\n";
        return exit_check;
    }
    return 0;
}

}  // namespace spill::bench

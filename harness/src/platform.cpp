// harness/src/platform.cpp: see platform.hpp. The only #ifdefs of the
// harness live in this file (hwloc, PAPI).
#include "platform.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include <spill/detail/sde.hpp>

#include "build_info.hpp"
#include "commit.hpp"

#if SPILL_HAVE_HWLOC
#include <hwloc.h>
#endif
#if SPILL_HAVE_PAPI
#include <papi.h>
#endif

namespace spill::bench {

// --------------------------------------------------------------- pinning ----

Pinner::Pinner(PinPolicy policy)
    : Pinner(policy, std::make_shared<const spill::measure::Topology>(spill::measure::Topology::machine())) {}

Pinner::Pinner(PinPolicy policy, const std::vector<int>& cpus)
    : Pinner(policy, std::make_shared<const spill::measure::Topology>(spill::measure::Topology::machine()), cpus) {}

Pinner::Pinner(PinPolicy policy, std::shared_ptr<const spill::measure::Topology> topology, const std::vector<int>& cpus)
    : topology_(std::move(topology)), policy_(policy) {
    namespace m = spill::measure;
    const m::Topology& t = *topology_;
    const bool here = t.source().kind == m::TopologySource::Kind::machine;
    if (here) {
        const long n = sysconf(_SC_NPROCESSORS_ONLN);
        logical_cpus_ = n > 0 ? static_cast<unsigned>(n) : 1u;
    }
    summary_ = t.summary();
    if (!t.loaded()) {
#if SPILL_HAVE_HWLOC
        reason_ = here ? "hwloc could not load the machine topology (" + t.error() + ")" : t.error();
        summary_ = "unknown (hwloc failed)";
#else
        summary_ = std::to_string(logical_cpus_) + " logical CPUs (hwloc not available at build time)";
        reason_ = "spill-bench was built without hwloc";
        for (unsigned i = 0; i < logical_cpus_; ++i) plan_.push_back(static_cast<int>(i));
#endif
        if (!cpus.empty()) plan_ = cpus;
        return;
    }
    logical_cpus_ = static_cast<unsigned>(t.counts().pus);
    plan_ = cpus.empty() ? m::pin_order(t, policy == PinPolicy::scatter ? m::PinOrder::scatter : m::PinOrder::compact) : cpus;
    // A placement (explicit cpus) pins whatever --pin says; a policy pins unless it is none.
    planned_ = !cpus.empty() || policy != PinPolicy::none;
    if (!planned_) reason_ = "pin policy is none";
    else if (!t.is_this_machine()) reason_ = "the plan is for " + t.source().describe() + ", not this machine: nothing is bound";
    available_ = planned_ && t.is_this_machine();
}

Pinner::~Pinner() = default;

std::string Pinner::topology_tree() const { return topology_->tree(); }

int Pinner::planned_cpu(std::size_t slot) const noexcept {
    if (!planned_ || plan_.empty()) return -1;
    return plan_[slot % plan_.size()];
}

int Pinner::pin_current(std::size_t slot) const noexcept {
    if (!available_) return -1;
    [[maybe_unused]] const int pu = planned_cpu(slot);
    if (pu < 0) return -1;
#if SPILL_HAVE_HWLOC
    hwloc_topology_t t = topology_->native();
    hwloc_obj_t obj = hwloc_get_pu_obj_by_os_index(t, static_cast<unsigned>(pu));
    if (!obj || hwloc_set_cpubind(t, obj->cpuset, HWLOC_CPUBIND_THREAD) != 0) return -1;
    return pu;
#else
    return -1;
#endif
}

std::shared_ptr<const spill::measure::Topology> load_topology_option(const std::string& value) {
    auto t = std::make_shared<const spill::measure::Topology>(spill::measure::Topology::load(spill::measure::TopologySource::from_option(value)));
    if (!t->loaded()) throw InputError("--topology: " + t->error());
    return t;
}

std::size_t ThreadBook::enter(const std::string& role, std::uint64_t index, std::size_t slot) {
    const int planned = pinner_->pin_current(slot);
    ThreadRecord r;
    r.role = role;
    r.index = index;
    r.slot = slot;
    r.planned_cpu = planned;
    std::lock_guard lock(mu_);
    records_.push_back(std::move(r));
    start_.push_back(Usage::this_thread());
    return records_.size() - 1;
}

void ThreadBook::leave(std::size_t rec) noexcept {
    const int cpu = sched_getcpu();
    const Usage now = Usage::this_thread();
    std::lock_guard lock(mu_);
    if (rec >= records_.size()) return;
    ThreadRecord& r = records_[rec];
    const Usage d = now - start_[rec];
    r.core = cpu;
    r.cpu_seconds = d.cpu_seconds;
    r.voluntary_cs = d.voluntary_cs;
    r.involuntary_cs = d.involuntary_cs;
    r.page_faults = d.page_faults;
    r.finished = true;
}

std::vector<ThreadRecord> ThreadBook::records() const {
    std::lock_guard lock(mu_);
    std::vector<ThreadRecord> r = records_;
    std::stable_sort(r.begin(), r.end(), [](const ThreadRecord& a, const ThreadRecord& b) { return a.slot < b.slot; });
    return r;
}

std::size_t ThreadBook::size() const {
    std::lock_guard lock(mu_);
    return records_.size();
}

// -------------------------------------------------------------- counters ----

namespace {
Usage usage_of(int who) noexcept {
    rusage ru{};
    getrusage(who, &ru);
    Usage u;
    u.cpu_seconds = static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) * 1e-6 +
                    static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) * 1e-6;
    u.voluntary_cs = ru.ru_nvcsw;
    u.involuntary_cs = ru.ru_nivcsw;
    u.page_faults = ru.ru_minflt + ru.ru_majflt;
    return u;
}
}  // namespace

Usage Usage::now() noexcept { return usage_of(RUSAGE_SELF); }
Usage Usage::this_thread() noexcept { return usage_of(RUSAGE_THREAD); }

Usage Usage::operator-(const Usage& o) const noexcept {
    Usage d;
    d.cpu_seconds = cpu_seconds - o.cpu_seconds;
    d.voluntary_cs = voluntary_cs - o.voluntary_cs;
    d.involuntary_cs = involuntary_cs - o.involuntary_cs;
    d.page_faults = page_faults - o.page_faults;
    return d;
}

namespace {
#if SPILL_HAVE_PAPI
unsigned long pthread_self_id() { return static_cast<unsigned long>(pthread_self()); }
#endif
std::vector<std::string> split_names(const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s + ",") {
        if (c == ',') {
            if (cur.empty()) throw InputError("--counters: malformed list '" + s + "' (empty element)");
            out.push_back(cur);
            cur.clear();
        } else if (c != ' ') {
            cur.push_back(c);
        }
    }
    return out;
}

// spill's software-defined events (spill/detail/sde.hpp): PAPI reads them
// like hardware events, as sde:::spill::<event>, on any machine.
const std::string sde_prefix = "sde:::";
const std::string spill_sde_prefix = sde_prefix + spill::sde::library + "::";

bool is_sde(const std::string& name) { return name.rfind(sde_prefix, 0) == 0; }

std::string spill_sde_names() {
    std::string all;
    for (const spill::sde::EventInfo& e : spill::sde::events) all += (all.empty() ? "" : ", ") + spill_sde_prefix + e.name;
    return all;
}

/// The requested names: `sde` expanded to every spill event, each name once
/// (the first time it appears), every sde::: name one that spill exports.
std::vector<std::string> expand_names(const std::vector<std::string>& names) {
    std::vector<std::string> out;
    auto add = [&out](const std::string& n) {
        if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
    };
    for (const std::string& n : names) {
        if (n == "sde") {
            for (const spill::sde::EventInfo& e : spill::sde::events) add(spill_sde_prefix + e.name);
            continue;
        }
        if (is_sde(n)) {
            const bool known = std::any_of(spill::sde::events.begin(), spill::sde::events.end(),
                                           [&n](const spill::sde::EventInfo& e) { return n == spill_sde_prefix + e.name; });
            if (!known)
                throw InputError("--counters: unknown software-defined event '" + n + "' (spill exports " + spill_sde_names() +
                                 "; `sde` names them all)");
        }
        add(n);
    }
    return out;
}
}  // namespace

Papi::Papi(const std::string& spec) {
    if (spec == "none") {
        state_ = "no hardware counters requested (--counters none)";
        return;
    }
    if (spec == "default") requested_ = {"PAPI_TOT_CYC", "PAPI_TOT_INS", "PAPI_L1_DCM", "PAPI_L2_DCM", "PAPI_L3_DCM"};
    else requested_ = expand_names(split_names(spec));
    // Why spill's events cannot be counted, when the build decides it.
    const std::string sde_off = "spill-bench was built without spill's software-defined events (the `sde` Meson feature: -Dsde=enabled, "
                                "with libsde from libpapi-dev)";
#if SPILL_HAVE_PAPI
    // Before PAPI starts: the sde component then finds the events registered
    // (no placeholders).
    const bool sde_registered = spill::sde::register_events();
    const int init = PAPI_library_init(PAPI_VER_CURRENT);
    if (init != PAPI_VER_CURRENT) {
        const std::string why = "PAPI_library_init failed (" + std::string(PAPI_strerror(init)) + ")";
        state_ = why;
        for (auto& n : requested_) unavailable_[n] = why;
        return;
    }
    if (PAPI_thread_init(&pthread_self_id) != PAPI_OK) {
        state_ = "PAPI_thread_init failed";
        for (auto& n : requested_) unavailable_[n] = state_;
        return;
    }
    // Why the machine has no hardware events, if it has none, and why the
    // software-defined ones cannot be read, if they cannot.
    std::string component_note;
    std::string sde_note = spill::sde::enabled ? "" : sde_off;
    bool sde_component = false;
    for (int i = 0; i < PAPI_num_components(); ++i) {
        const PAPI_component_info_t* ci = PAPI_get_component_info(i);
        if (ci && std::string(ci->name) == "perf_event") {
            if (ci->disabled != 0) component_note = std::string("PAPI's perf_event component is disabled: ") + ci->disabled_reason;
        }
        if (ci && std::string(ci->name) == "sde") {
            sde_component = true;
            if (ci->disabled != 0 && sde_note.empty()) sde_note = std::string("PAPI's sde component is disabled: ") + ci->disabled_reason;
        }
    }
    if (sde_note.empty() && !sde_component) sde_note = "this PAPI has no sde component (PAPI 7 built with --with-components=sde has one)";
    if (sde_note.empty() && !sde_registered) sde_note = "libsde refused spill's events (papi_sde_init or papi_sde_register_counter_cb failed)";
    int presets_available = 0;
    {
        int code = PAPI_PRESET_MASK;
        if (PAPI_enum_event(&code, PAPI_ENUM_FIRST) == PAPI_OK) {
            do {
                if (PAPI_query_event(code) == PAPI_OK) ++presets_available;
            } while (PAPI_enum_event(&code, PAPI_PRESET_ENUM_AVAIL) == PAPI_OK);
        }
    }
    if (component_note.empty() && presets_available == 0)
        component_note = "this machine exposes no hardware events to perf_event (PAPI lists 0 available presets; typical of virtual machines and containers)";
    state_ = "PAPI " + std::to_string(PAPI_VERSION_MAJOR(PAPI_VER_CURRENT)) + "." + std::to_string(PAPI_VERSION_MINOR(PAPI_VER_CURRENT)) + ", " +
             std::to_string(presets_available) + " preset events available" + (component_note.empty() ? "" : "; " + component_note) +
             "; spill's software-defined events (sde:::spill::*): " + (sde_note.empty() ? "readable" : "NOT readable: " + sde_note);
    for (const std::string& n : requested_) {
        if (is_sde(n) && !sde_note.empty()) {
            unavailable_[n] = sde_note;
            continue;
        }
        int code = 0;
        std::string name = n;
        if (PAPI_event_name_to_code(name.data(), &code) != PAPI_OK)
            throw InputError("--counters: unknown counter name '" + n + "' (not a PAPI preset or native event)");
        int set = PAPI_NULL;
        std::string why;
        if (PAPI_create_eventset(&set) != PAPI_OK) {
            why = "PAPI_create_eventset failed";
        } else {
            const int rc = PAPI_add_event(set, code);
            if (rc != PAPI_OK) {
                const char* kind = n.rfind("PAPI_", 0) == 0 ? "PAPI preset event" : is_sde(n) ? "software-defined event" : "PAPI native event";
                const std::string& note = is_sde(n) ? sde_note : component_note;
                why = std::string(kind) + " cannot be counted on this machine (" + PAPI_strerror(rc) + ")" + (note.empty() ? "" : ": " + note);
            }
            PAPI_cleanup_eventset(set);
            PAPI_destroy_eventset(&set);
        }
        if (why.empty()) {
            usable_names_.push_back(n);
            usable_codes_.push_back(code);
        } else {
            unavailable_[n] = why;
        }
    }
    totals_.assign(usable_codes_.size(), 0);
#else
    for (const std::string& n : requested_) {
        if (n.rfind("PAPI_", 0) != 0 && n.find("::") == std::string::npos)
            throw InputError("--counters: unknown counter name '" + n + "' (not a PAPI event name)");
        unavailable_[n] = "spill-bench was built without PAPI";
    }
    state_ = "spill-bench was built without PAPI";
    if (!spill::sde::enabled && std::any_of(requested_.begin(), requested_.end(), is_sde)) state_ += "; " + sde_off;
#endif
}

Papi::~Papi() = default;

std::string Papi::describe() const { return state_; }

void Papi::reset_totals() {
    std::lock_guard lock(mu_);
    totals_.assign(usable_codes_.size(), 0);
    per_thread_.clear();
}

std::vector<Papi::ThreadValues> Papi::thread_values() const {
    std::lock_guard lock(mu_);
    return per_thread_;
}

std::vector<long long> Papi::totals() const {
    std::lock_guard lock(mu_);
    return totals_;
}

Papi::Thread::Thread(Papi& papi, std::string role) noexcept : papi_(&papi) {
    try {
        role_ = std::move(role);
    } catch (...) {
    }
#if SPILL_HAVE_PAPI
    if (papi.usable_codes_.empty()) return;
    try {
        std::lock_guard lock(papi.mu_);
        ++papi.open_threads_;  // first: the end gives it back whatever fails here
        // Everything the end needs, allocated now: a scope may end inside the
        // measured phase (merger threads), which counts allocations.
        start_.assign(papi.usable_codes_.size(), 0);
        values_.assign(papi.usable_codes_.size(), 0);
        papi.per_thread_.reserve(papi.per_thread_.size() + papi.open_threads_);
    } catch (...) {
        error_ = "out of memory on this thread";
        return;
    }
    if (PAPI_create_eventset(&set_) != PAPI_OK) {
        error_ = "PAPI_create_eventset failed on this thread";
        return;
    }
    if (const int rc = PAPI_add_events(set_, papi.usable_codes_.data(), static_cast<int>(papi.usable_codes_.size())); rc != PAPI_OK) {
        error_ = std::string("PAPI_add_events failed on this thread (") + PAPI_strerror(rc) + ")";
        return;
    }
    if (const int rc = PAPI_start(set_); rc != PAPI_OK) {
        error_ = std::string("PAPI_start failed on this thread (") + PAPI_strerror(rc) + ")";
        return;
    }
    running_ = true;
    // The software-defined events are INSTANT (a read is the thread's total
    // so far: PAPI's DELTA mode keeps one start value per event for all
    // threads); hardware events start from 0. Either way the thread's count
    // is the last read minus this one.
    if (const int rc = PAPI_read(set_, start_.data()); rc != PAPI_OK) error_ = std::string("PAPI_read failed on this thread (") + PAPI_strerror(rc) + ")";
#endif
}

Papi::Thread::~Thread() {
#if SPILL_HAVE_PAPI
    if (!papi_->usable_codes_.empty()) {
        std::string err = error_;
        if (running_) {
            if (const int rc = PAPI_stop(set_, values_.data()); rc != PAPI_OK && err.empty())
                err = std::string("PAPI_stop failed on this thread (") + PAPI_strerror(rc) + ")";
        }
        if (err.empty())
            for (std::size_t i = 0; i < values_.size(); ++i) values_[i] -= start_[i];
        std::lock_guard lock(papi_->mu_);
        if (err.empty())
            for (std::size_t i = 0; i < values_.size(); ++i) papi_->totals_[i] += values_[i];
        try {
            papi_->per_thread_.push_back(ThreadValues{std::move(role_), err.empty() ? std::move(values_) : std::vector<long long>{}, std::move(err)});
        } catch (...) {
            // Out of memory: this thread's per-role values are lost; the role then has fewer threads counted.
        }
        if (papi_->open_threads_ > 0) --papi_->open_threads_;
    }
    if (set_ != -1) {
        PAPI_cleanup_eventset(set_);
        PAPI_destroy_eventset(&set_);
        PAPI_unregister_thread();  // only threads that created an event set registered with PAPI
    }
#endif
}

// -------------------------------------------------------------- metadata ----

MachineInfo machine_info() {
    MachineInfo m;
    std::ifstream cpu("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpu, line)) {
        if (line.rfind("model name", 0) == 0) {
            const auto colon = line.find(':');
            if (colon != std::string::npos) m.cpu_model = line.substr(colon + 2);
            break;
        }
    }
    if (m.cpu_model.empty()) m.cpu_model = "unknown";
    utsname u{};
    if (uname(&u) == 0) {
        m.kernel = std::string(u.sysname) + " " + u.release + " " + u.machine;
        m.hostname = u.nodename;
    }
    return m;
}

BuildInfo build_info() {
    BuildInfo b;
    std::string tag = SPILL_COMMIT;
    const std::string suffix = "-dirty";
    if (tag.size() > suffix.size() && tag.compare(tag.size() - suffix.size(), suffix.size(), suffix) == 0) {
        b.dirty = true;
        tag.resize(tag.size() - suffix.size());
    }
    b.commit = tag;
    b.compiler = SPILL_COMPILER;
    b.flags = SPILL_FLAGS;
    b.build_type = SPILL_BUILD_TYPE;
    return b;
}

std::string utc_now_iso() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace spill::bench

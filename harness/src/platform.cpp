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

// ---------------------------------------------------------------- delays ----

std::uint64_t now_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

void busy_wait_ns(std::uint64_t ns) noexcept {
    if (ns == 0) return;
    const std::uint64_t end = now_ns() + ns;
    while (now_ns() < end) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
}

void block_ns(std::uint64_t ns) noexcept {
    if (ns == 0) return;
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(ns / 1000000000ull);
    ts.tv_nsec = static_cast<long>(ns % 1000000000ull);
    while (nanosleep(&ts, &ts) != 0) {
    }
}

// --------------------------------------------------------------- pinning ----

struct Pinner::Impl {
#if SPILL_HAVE_HWLOC
    hwloc_topology_t topo = nullptr;
    ~Impl() {
        if (topo) hwloc_topology_destroy(topo);
    }
#endif
};

namespace {
[[maybe_unused]] std::string mib(unsigned long long bytes) {
    std::ostringstream o;
    if (bytes >= (1ull << 20)) o << (bytes >> 20) << " MiB";
    else o << (bytes >> 10) << " KiB";
    return o.str();
}
}  // namespace

Pinner::Pinner(PinPolicy policy) : impl_(std::make_unique<Impl>()), policy_(policy) {
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    logical_cpus_ = n > 0 ? static_cast<unsigned>(n) : 1u;
#if SPILL_HAVE_HWLOC
    if (hwloc_topology_init(&impl_->topo) != 0 || hwloc_topology_load(impl_->topo) != 0) {
        reason_ = "hwloc could not load the machine topology";
        summary_ = "unknown (hwloc failed)";
        return;
    }
    hwloc_topology_t t = impl_->topo;
    const int packages = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE);
    const int numa = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
    const int cores = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
    const int pus = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
    logical_cpus_ = pus > 0 ? static_cast<unsigned>(pus) : logical_cpus_;
    std::ostringstream s;
    s << packages << (packages == 1 ? " package, " : " packages, ") << numa << (numa == 1 ? " NUMA node, " : " NUMA nodes, ") << cores
      << (cores == 1 ? " core, " : " cores, ") << pus << (pus == 1 ? " PU" : " PUs");
    if (hwloc_obj_t l3 = hwloc_get_obj_by_type(t, HWLOC_OBJ_L3CACHE, 0); l3 && l3->attr)
        s << ", L3 " << mib(static_cast<unsigned long long>(l3->attr->cache.size));
    summary_ = s.str();

    // Cores grouped by package, PUs by core.
    std::vector<std::vector<hwloc_obj_t>> by_package(static_cast<std::size_t>(std::max(packages, 1)));
    for (int i = 0; i < cores; ++i) {
        hwloc_obj_t c = hwloc_get_obj_by_type(t, HWLOC_OBJ_CORE, static_cast<unsigned>(i));
        if (c == nullptr) continue;
        hwloc_obj_t p = hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_PACKAGE, c);
        const std::size_t pi = p ? p->logical_index : 0;
        if (pi >= by_package.size()) by_package.resize(pi + 1);
        by_package[pi].push_back(c);
    }
    std::vector<hwloc_obj_t> core_order;
    if (policy == PinPolicy::scatter) {
        // Spread: core 0 of each package, then core 1 of each package...
        std::size_t longest = 0;
        for (auto& v : by_package) longest = std::max(longest, v.size());
        for (std::size_t k = 0; k < longest; ++k)
            for (auto& v : by_package)
                if (k < v.size()) core_order.push_back(v[k]);
    } else {
        for (auto& v : by_package) core_order.insert(core_order.end(), v.begin(), v.end());
    }
    auto pus_of = [&](hwloc_obj_t c) {
        std::vector<int> v;
        for (int i = 0; i < pus; ++i) {
            hwloc_obj_t pu = hwloc_get_obj_by_type(t, HWLOC_OBJ_PU, static_cast<unsigned>(i));
            if (pu != nullptr && hwloc_bitmap_isincluded(pu->cpuset, c->cpuset)) v.push_back(static_cast<int>(pu->os_index));
        }
        return v;
    };
    if (policy == PinPolicy::scatter) {
        // First PU of every core, then second PU of every core (hyper-threads last).
        std::vector<std::vector<int>> per_core;
        std::size_t widest = 0;
        for (hwloc_obj_t c : core_order) {
            per_core.push_back(pus_of(c));
            widest = std::max(widest, per_core.back().size());
        }
        for (std::size_t r = 0; r < widest; ++r)
            for (auto& v : per_core)
                if (r < v.size()) plan_.push_back(v[r]);
    } else {
        // Compact: all PUs of core 0, then core 1... (siblings share a core).
        for (hwloc_obj_t c : core_order)
            for (int pu : pus_of(c)) plan_.push_back(pu);
    }
    if (plan_.empty()) {
        for (int i = 0; i < pus; ++i)
            if (hwloc_obj_t pu = hwloc_get_obj_by_type(t, HWLOC_OBJ_PU, static_cast<unsigned>(i)); pu != nullptr)
                plan_.push_back(static_cast<int>(pu->os_index));
    }
    if (policy == PinPolicy::none) {
        reason_ = "pin policy is none";
        available_ = false;
    } else {
        available_ = true;
    }
#else
    summary_ = std::to_string(logical_cpus_) + " logical CPUs (hwloc not available at build time)";
    for (unsigned i = 0; i < logical_cpus_; ++i) plan_.push_back(static_cast<int>(i));
    reason_ = "spill-bench was built without hwloc";
    available_ = false;
#endif
}

Pinner::Pinner(PinPolicy policy, const std::vector<int>& cpus) : Pinner(policy) {
    if (cpus.empty()) return;
    plan_ = cpus;
#if SPILL_HAVE_HWLOC
    if (impl_->topo) {
        available_ = true;  // a placement pins whatever --pin says
        reason_.clear();
    }
#endif
}

Pinner::~Pinner() = default;

std::string Pinner::topology_tree() const {
#if SPILL_HAVE_HWLOC
    if (!impl_->topo) return "(no topology)\n";
    std::ostringstream o;
    auto walk = [&](auto&& self, hwloc_obj_t obj, int depth) -> void {
        if (obj->type == HWLOC_OBJ_MACHINE || obj->type == HWLOC_OBJ_PACKAGE || obj->type == HWLOC_OBJ_NUMANODE ||
            obj->type == HWLOC_OBJ_CORE || obj->type == HWLOC_OBJ_PU || hwloc_obj_type_is_cache(obj->type)) {
            char type[64];
            hwloc_obj_type_snprintf(type, sizeof type, obj, 0);
            o << std::string(static_cast<std::size_t>(depth) * 2, ' ') << type << " L#" << obj->logical_index;
            if (obj->type == HWLOC_OBJ_PU) o << " (OS cpu " << obj->os_index << ")";
            if (hwloc_obj_type_is_cache(obj->type) && obj->attr) o << " " << mib(static_cast<unsigned long long>(obj->attr->cache.size));
            o << "\n";
            ++depth;
        }
        for (hwloc_obj_t c = obj->memory_first_child; c; c = c->next_sibling) self(self, c, depth);
        for (hwloc_obj_t c = obj->first_child; c; c = c->next_sibling) self(self, c, depth);
    };
    walk(walk, hwloc_get_root_obj(impl_->topo), 0);
    return o.str();
#else
    return "(hwloc not available at build time)\n";
#endif
}

int Pinner::pin_current(std::size_t slot) const noexcept {
    if (!available_ || plan_.empty()) return -1;
    [[maybe_unused]] const int pu = plan_[slot % plan_.size()];
#if SPILL_HAVE_HWLOC
    hwloc_obj_t obj = hwloc_get_pu_obj_by_os_index(impl_->topo, static_cast<unsigned>(pu));
    if (!obj || hwloc_set_cpubind(impl_->topo, obj->cpuset, HWLOC_CPUBIND_THREAD) != 0) return -1;
    return pu;
#else
    return -1;
#endif
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

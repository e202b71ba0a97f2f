// harness/src/scenario.cpp: the run environment and the registry.
#include "scenario.hpp"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <thread>

namespace spill::bench {

RunEnv::ThreadScope::ThreadScope(RunEnv& env, const std::string& role, std::uint64_t index, std::size_t slot, bool count_events) : env_(&env) {
    cpu_set_t old;
    CPU_ZERO(&old);
    if (pthread_getaffinity_np(pthread_self(), sizeof old, &old) == 0) {
        old_mask_.resize(sizeof old);
        std::memcpy(old_mask_.data(), &old, sizeof old);
    }
    if (count_events) papi_ = std::make_unique<Papi::Thread>(*env.papi_, role);
    // Last: RunEnv::begin() waits for this record, so nothing the scope
    // allocates may come after it.
    rec_ = env.book_.enter(role, index, pinning_slot(env.params, role, index, slot, env.book_.plan_cpus()));
}

RunEnv::ThreadScope::~ThreadScope() {
    env_->book_.leave(rec_);
    papi_.reset();
    if (old_mask_.size() == sizeof(cpu_set_t)) {
        cpu_set_t old;
        std::memcpy(&old, old_mask_.data(), sizeof old);
        (void)pthread_setaffinity_np(pthread_self(), sizeof old, &old);
    }
}

void RunEnv::enter_pool_thread(const std::string& role, std::uint64_t index, std::size_t slot) {
    // The pool's threads end when the pool is destroyed, inside the
    // repetition, so the scope (and its record) ends before the book does.
    thread_local std::unique_ptr<ThreadScope> scope;
    scope = std::make_unique<ThreadScope>(*this, role, index, slot);
}

RunEnv::~RunEnv() { stop_neighbours(); }

void RunEnv::begin(std::size_t threads) {
    const auto contend = static_cast<std::size_t>(params.contend);
    neighbours_.reserve(contend);
    for (std::size_t k = 0; k < contend; ++k) {
        neighbours_.emplace_back([this, k, slot = threads + k] {
            ThreadScope scope(*this, std::string(neighbour_role), k, slot, false);
            std::uint64_t x = k + 1;
            while (!neighbour_stop_.load(std::memory_order_relaxed)) {  // (B)
                for (int i = 0; i < 1024; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
                asm volatile("" : "+r"(x));  // the arithmetic is the point: keep it
            }
        });
    }
    while (book_.size() < threads + contend) std::this_thread::yield();
    a0_ = allocations_so_far();
    neighbour_cpu0_ = neighbours_cpu_now();
    u0_ = Usage::now();
    t0_ = now_ns();
}

void RunEnv::end() noexcept {
    t1_ = now_ns();
    u1_ = Usage::now();
    if (!neighbours_.empty()) neighbour_cpu_seconds_ = neighbours_cpu_now() - neighbour_cpu0_;
    a1_ = allocations_so_far();
    stop_neighbours();
}

void RunEnv::stop_neighbours() noexcept {
    neighbour_stop_.store(true, std::memory_order_relaxed);  // (A)
    for (std::thread& t : neighbours_)
        if (t.joinable()) t.join();
    neighbours_.clear();
}

double RunEnv::neighbours_cpu_now() noexcept {
    double s = 0;
    for (std::thread& t : neighbours_) {
        clockid_t clock;
        timespec ts{};
        if (pthread_getcpuclockid(t.native_handle(), &clock) == 0 && clock_gettime(clock, &ts) == 0)
            s += static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
    }
    return s;
}

namespace {

struct Registered {
    AddScenarios add;
    int rank;
};
/// Filled during static initialisation (one entry per scenario file); a
/// function-local static, so it exists before the first registration whatever
/// the order the files are initialised in.
std::vector<Registered>& registrations() {
    static std::vector<Registered> r;
    return r;
}

}  // namespace

ScenarioRegistration::ScenarioRegistration(AddScenarios add, int rank) { registrations().push_back(Registered{add, rank}); }

const std::vector<std::unique_ptr<Scenario>>& registry() {
    static const std::vector<std::unique_ptr<Scenario>> all = [] {
        std::vector<Registered> files = registrations();
        std::stable_sort(files.begin(), files.end(), [](const Registered& a, const Registered& b) { return a.rank < b.rank; });
        std::vector<std::unique_ptr<Scenario>> v;
        for (const Registered& f : files) f.add(v);
        return v;
    }();
    return all;
}

const Scenario* find_scenario(const std::string& name) {
    for (const auto& s : registry())
        if (s->name() == name) return s.get();
    return nullptr;
}

}  // namespace spill::bench

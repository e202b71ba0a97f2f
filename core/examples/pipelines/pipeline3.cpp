// pipeline3.cpp: a three-stage pipeline whose middle stage overflows into the
// previous stage's FanInSpout: a FanInSpout is a spout, so it can be the overflow
// spout of the next stage's rings.
//
//     raw text lines
//       -> stage 1 (W1): parse                      rings of 4096 Records
//       -> FanInSpout<stage 1, LockedSpout>  ----------------+
//            |                                               ^ overflow of stage 2's rings
//            v                                               |
//       -> stage 2 (W2): enrich                     rings of 128 Records (small on purpose)
//       -> FanInSpout<stage 2, CollectSpout>
//       -> stage 3 (W3): serialize
//       -> SequencedFanIn -> SequencedSpout -> FramedSpout<FdWriter> -> file
//       -> read back with read_frames and verified
//
// Why the composition works: stage 2's rings evict their oldest Record into
// their overflow spout when a worker pushes more than 128 items in a round.
// That spout is (a SpoutRef to) stage 1's FanInSpout, whose send() passes the
// item straight to its inner spout, the buffer stage 2 reads its next round
// from. An evicted Record is therefore not lost and not dropped: it goes
// around stage 2 once more (enrich() is idempotent) and leaves on a later
// round. When it applies, and what it costs:
//   - the item types match: stage 1 emits and stage 2 pushes the same T;
//   - going around again is harmless (an idempotent stage, or a flag);
//   - the overflow spout runs on stage 2's worker threads, concurrently, so
//     the fan-in's inner spout must be safe to call from several threads
//     (here a mutex around a vector; a Channel would also do, if its reader
//     cannot be the thread that is blocked);
//   - the spout's flush() collects stage 1. A ring flushes its overflow spout
//     only when it is destroyed, so: destroy stage 2 before stage 1's fan-in,
//     and stage 1's fan-in before stage 1 (declaration order below);
//   - a recirculated record leaves the sequenced order of its round (the order
//     is that of a replay "minus overflowed items", docs/design.md section 6)
//     and arrives later.
//
// Checks: every record reaches the file exactly once with the bytes of the
// single-threaded replay; the file's order equals a single-threaded replay of
// the rounds stage 3 was given (the sequenced path); and every eviction is
// accounted for: evictions == sum over records of (trips through stage 2 - 1).
//
// Usage: pipeline3 [W1=2] [W2=2] [W3=2] [rounds=500] [records_per_round=300]
#include <spill/spill.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

#include "records.hpp"

namespace {

using namespace pipeline_example;

constexpr std::size_t wide_ring = 4096;
constexpr std::size_t narrow_ring = 128;  // stage 2: overflows as soon as a worker's block exceeds it

/// The buffer between stage 1 and stage 2: written by the main thread
/// (collecting stage 1) and by stage 2's workers (evictions), so it is locked.
struct SharedBuffer {
    std::mutex mu;
    std::vector<Record> items;

    std::vector<Record> take() {
        std::lock_guard lock(mu);
        return std::exchange(items, {});
    }
};

/// A spout into a SharedBuffer; copyable, safe from any thread.
class LockedSpout {
public:
    explicit LockedSpout(SharedBuffer& b) noexcept : buffer_(&b) {}
    void send(Record&& r) {
        std::lock_guard lock(buffer_->mu);
        buffer_->items.push_back(std::move(r));
    }
    void flush() noexcept {}

private:
    SharedBuffer* buffer_;
};

/// Stage 2's overflow spout: forwards each evicted record to stage 1's
/// fan-in (which it does not own) and counts it. One per stage-2 worker, so
/// the count needs no lock. (The same as CountingSpout<SpoutRef<Fan1>>, which
/// clang 14 rejects for a non-default-constructible inner spout.)
template <class Target>
class EvictInto {
public:
    explicit EvictInto(Target& target) noexcept : target_(&target) {}
    void send(Record&& r) {
        target_->send(std::move(r));
        ++count_;
    }
    void flush() { target_->flush(); }
    [[nodiscard]] std::uint64_t count() const noexcept { return count_; }

private:
    Target* target_;
    std::uint64_t count_ = 0;
};

std::vector<std::string> make_chunk(std::uint64_t round, std::size_t records) {
    std::vector<std::string> lines;
    lines.reserve(records);
    for (std::size_t i = 0; i < records; ++i) lines.push_back(make_line(round * records + i));
    return lines;
}

int open_temp_file(std::string& path) {
    const char* dir = std::getenv("TMPDIR");
    path = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/spill-pipeline3-XXXXXX";
    const int fd = ::mkstemp(path.data());
    if (fd < 0) throw std::runtime_error("mkstemp " + path + " failed");
    return fd;
}

struct Options {
    std::size_t w1, w2, w3, rounds, records;
};

int run(const Options& opt) {
    std::string path;
    const int fd = open_temp_file(path);
    struct Cleanup {
        int fd;
        std::string path;
        ~Cleanup() {
            ::close(fd);
            ::unlink(path.c_str());
        }
    } cleanup{fd, path};

    // ---- stage 1: text -> Record ----------------------------------------
    const std::size_t w1 = opt.w1;
    auto stage1 = spill::pool<Record, wide_ring>(w1).spawn<std::vector<std::string>>(
        [w1](auto& ring, std::size_t w, const std::vector<std::string>& lines) {
            const Block b = block_of(lines.size(), w1, w);
            for (std::size_t i = b.begin; i < b.end; ++i) ring.push(parse(lines[i]));
        });
    SharedBuffer into_stage2;
    auto fan1 = stage1.fan_in(LockedSpout{into_stage2});
    using Fan1 = decltype(fan1);

    // ---- stage 2: enrich; its rings overflow into stage 1's FanInSpout ---
    const std::size_t w2 = opt.w2;
    auto stage2 = spill::pool<Record, narrow_ring>(w2)
                      .overflow([&fan1](std::size_t) { return EvictInto<Fan1>{fan1}; })
                      .spawn<std::vector<Record>>([w2](auto& ring, std::size_t w, const std::vector<Record>& in) {
                          const Block b = block_of(in.size(), w2, w);
                          for (std::size_t i = b.begin; i < b.end; ++i) ring.push(enrich(in[i]));
                      });
    auto fan2 = stage2.fan_in(spill::CollectSpout<Record>{});

    // ---- stage 3: serialize, sequenced, framed into the file ------------
    const std::size_t w3 = opt.w3;
    auto stage3 = spill::pool<std::string, wide_ring>(w3)
                      .overflow([](std::size_t) { return spill::CountingSpout<>{}; })
                      .spawn<std::vector<Record>>([w3](auto& ring, std::size_t w, const std::vector<Record>& in) {
                          const Block b = block_of(in.size(), w3, w);
                          for (std::size_t i = b.begin; i < b.end; ++i) ring.push(serialize(in[i]));
                      });
    using Output = spill::SequencedSpout<std::string, spill::FramedSpout<spill::FdWriter>>;
    auto out = stage3.sequenced_fan_in(Output{spill::FramedSpout<spill::FdWriter>{spill::FdWriter{fd}}});

    // ---- drive ----------------------------------------------------------
    const std::uint64_t total = opt.rounds * opt.records;
    std::vector<std::uint64_t> stage3_order;  // ids in the order stage 3 received them: the replay's input
    stage3_order.reserve(total);
    std::uint64_t extra_trips = 0;  // sum of (trips - 1): how often records went around stage 2 again
    std::uint64_t iterations = 0;
    const std::uint64_t max_iterations = opt.rounds + 10000;  // recirculation must settle; a guard, not a timeout

    const auto t0 = std::chrono::steady_clock::now();
    stage1.dispatch(make_chunk(0, opt.records));
    std::uint64_t next_round = 1;
    std::uint64_t paused = 0;  // iterations in which stage 1 waited for stage 2's backlog
    const std::size_t stage2_capacity = w2 * narrow_ring;  // what stage 2 holds per round without evicting
    while (stage3_order.size() < total) {
        if (++iterations > max_iterations) throw std::runtime_error("recirculation did not settle");
        stage1.join();  // its latest round parsed
        stage2.join();  // previous stage 2 round enriched; its evictions are in `into_stage2`
        fan1.collect();
        fan2.collect();
        std::vector<Record> in2 = into_stage2.take();
        // Fresh records first, recirculated ones last: a ring evicts the
        // oldest pushes, so the records that already went around survive.
        const auto fresh_end = std::stable_partition(in2.begin(), in2.end(), [](const Record& x) { return !x.enriched; });
        const auto backlog = static_cast<std::size_t>(in2.end() - fresh_end);
        std::vector<Record> in3 = fan2.inner().take();
        stage3.join();
        out.collect();
        for (const Record& x : in3) {
            stage3_order.push_back(x.id);
            extra_trips += x.trips - 1;
        }
        stage3.dispatch(std::move(in3));
        stage2.dispatch(std::move(in2));
        // Backpressure upstream: while stage 2 spills back more than half of
        // what it holds per round, stage 1 sits out a round. Without it an
        // input rate above stage 2's capacity grows the backlog without bound.
        if (next_round < opt.rounds) {
            if (backlog > stage2_capacity / 2) {
                ++paused;
            } else {
                stage1.dispatch(make_chunk(next_round++, opt.records));
            }
        }
        out.collect();  // streaming
    }
    stage1.join();
    stage2.join();
    stage3.join();
    out.flush();
    const auto t1 = std::chrono::steady_clock::now();

    // ---- verify ---------------------------------------------------------
    std::uint64_t evictions = 0, lost = 0;
    for (std::size_t w = 0; w < w2; ++w) evictions += stage2.overflow(w).count();
    for (std::size_t w = 0; w < w3; ++w) lost += stage3.overflow(w).count();

    bool ok = true;
    auto fail = [&](const std::string& why) {
        std::fprintf(stderr, "pipeline3: FAILED: %s\n", why.c_str());
        ok = false;
    };
    std::vector<char> seen(total, 0);
    std::uint64_t frame = 0, mismatches = 0;
    std::string first_mismatch;
    if (::lseek(fd, 0, SEEK_SET) != 0) throw std::runtime_error("lseek failed");
    const std::uint64_t frames = spill::read_frames(fd, [&](std::span<const std::byte> f) {
        const std::string got(reinterpret_cast<const char*>(f.data()), f.size());
        if (frame < stage3_order.size()) {
            const std::uint64_t id = stage3_order[frame];
            const std::string want = serialize(enrich(parse(make_line(id))));
            if (got != want && mismatches++ == 0) first_mismatch = "frame " + std::to_string(frame) + ": got '" + got + "', want '" + want + "'";
            if (id < total) seen[id]++;
        }
        ++frame;
    });
    std::uint64_t missing = 0, duplicated = 0;
    for (char c : seen) {
        missing += c == 0;
        duplicated += c > 1;
    }
    if (frames != total) fail("read " + std::to_string(frames) + " frames, expected " + std::to_string(total));
    if (stage3_order.size() != total) fail("stage 3 received " + std::to_string(stage3_order.size()) + " records, expected " + std::to_string(total));
    if (missing != 0 || duplicated != 0) fail(std::to_string(missing) + " records missing, " + std::to_string(duplicated) + " duplicated");
    if (mismatches != 0) fail(std::to_string(mismatches) + " frames differ from the replay; first: " + first_mismatch);
    if (evictions != extra_trips)
        fail("stage 2 evicted " + std::to_string(evictions) + " times but records made " + std::to_string(extra_trips) + " extra trips");
    if (lost != 0) fail("stage 3 overflowed " + std::to_string(lost) + " records");

    const double secs = std::chrono::duration<double>(t1 - t0).count();
    std::printf("pipeline3: W1=%zu W2=%zu W3=%zu rounds=%zu records/round=%zu (stage 2 rings hold %zu)\n", w1, w2, w3, opt.rounds,
                opt.records, narrow_ring);
    std::printf("  frames %llu of %llu; stage 2 evictions recirculated through stage 1's FanInSpout: %llu; driver iterations %llu\n",
                static_cast<unsigned long long>(frames), static_cast<unsigned long long>(total),
                static_cast<unsigned long long>(evictions), static_cast<unsigned long long>(iterations));
    std::printf("  stage 1 paused for stage 2's backlog in %llu iterations\n", static_cast<unsigned long long>(paused));
    std::printf("  %.3f s, %.0f records/s\n", secs, static_cast<double>(total) / secs);
    if (ok) std::printf("  OK: every record exactly once, file order == replay of stage 3's rounds, evictions accounted for\n");
    return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const Options opt{arg_or(argc, argv, 1, 2), arg_or(argc, argv, 2, 2), arg_or(argc, argv, 3, 2), arg_or(argc, argv, 4, 500),
                          arg_or(argc, argv, 5, 300)};
        if (opt.records > wide_ring / 2) {  // stage 3 also receives the recirculated records
            std::fprintf(stderr, "pipeline3: records_per_round %zu exceeds %zu (half the ring capacity)\n", opt.records, wide_ring / 2);
            return 2;
        }
        return run(opt);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pipeline3: %s\n", e.what());
        return 1;
    }
}

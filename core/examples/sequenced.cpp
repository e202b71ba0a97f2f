// sequenced.cpp: ordered completion.
//
// Workers finish in random order (each sleeps a random time), yet the
// sequenced path delivers items in (round, worker, push order): exactly what
// one thread running the rounds one after another would produce. The example
// compares the delivery with that single-threaded replay, item by item.
//
//     pool -> sequenced_fan_in -> SequencedSpout -> CollectSpout
//
// Usage: sequenced [workers=4] [rounds=1000]
#include <spill/spill.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

constexpr std::uint64_t mix(std::uint64_t x) {
    x = (x ^ (x >> 31)) * 0x7fb5d329728ea185ull;
    x = (x ^ (x >> 27)) * 0x81dadef4bc2dd44dull;
    return x ^ (x >> 33);
}
// How many items worker w pushes in round r, and how long it sleeps first.
constexpr std::uint64_t count_of(std::uint64_t r, std::uint64_t w) { return mix(r * 131 + w) % 16; }
constexpr std::uint64_t delay_us(std::uint64_t r, std::uint64_t w) { return mix(r * 977 + w + 1) % 200; }
constexpr std::uint64_t item(std::uint64_t r, std::uint64_t w, std::uint64_t i) { return (r << 32) | (w << 16) | i; }

}  // namespace

int main(int argc, char** argv) {
    const long workers = argc > 1 ? std::atol(argv[1]) : 4;
    const long rounds = argc > 2 ? std::atol(argv[2]) : 1000;
    if (workers <= 0 || workers > 1000 || rounds <= 0) {
        std::fprintf(stderr, "sequenced: usage: sequenced [workers in 1..1000] [rounds>0]\n");
        return 2;
    }
    const auto W = static_cast<std::uint64_t>(workers);
    auto pool = spill::pool<std::uint64_t, 64>(W).spawn<std::uint64_t>([](auto& ring, std::size_t w, const std::uint64_t& r) {
        std::this_thread::sleep_for(std::chrono::microseconds(delay_us(r, w)));
        for (std::uint64_t i = 0; i < count_of(r, w); ++i) ring.push(item(r, w, i));
    });
    using Ordered = spill::SequencedSpout<std::uint64_t, spill::CollectSpout<std::uint64_t>>;
    auto fan = pool.sequenced_fan_in(Ordered{spill::CollectSpout<std::uint64_t>{}, 64});

    for (std::uint64_t r = 1; r <= static_cast<std::uint64_t>(rounds); ++r) {
        pool.dispatch(r);
        fan.collect();  // streaming: whatever rounds are complete so far
        pool.join();
    }
    fan.flush();

    std::vector<std::uint64_t> replay;  // one thread, rounds in order, workers in order
    for (std::uint64_t r = 1; r <= static_cast<std::uint64_t>(rounds); ++r)
        for (std::uint64_t w = 0; w < W; ++w)
            for (std::uint64_t i = 0; i < count_of(r, w); ++i) replay.push_back(item(r, w, i));

    const auto& got = fan.inner().inner().items();
    std::size_t mismatch = got.size() == replay.size() ? got.size() : 0;
    for (std::size_t i = 0; i < got.size() && i < replay.size(); ++i)
        if (got[i] != replay[i]) {
            mismatch = i;
            break;
        }
    const auto& st = fan.inner().stats();
    std::printf("sequenced: %ld workers x %ld rounds, %zu items delivered, %zu in the replay\n", workers, rounds, got.size(), replay.size());
    std::printf("  batches: %llu in order (fast path), %llu buffered, %llu beyond the window\n",
                static_cast<unsigned long long>(st.in_order), static_cast<unsigned long long>(st.buffered),
                static_cast<unsigned long long>(st.window_overflows));
    const bool ok = got == replay;
    if (ok) {
        std::printf("  order: identical to the single-threaded replay\n");
    } else {
        std::printf("  order: DIFFERS from the replay at index %zu\n", mismatch);
    }
    return ok ? 0 : 1;
}

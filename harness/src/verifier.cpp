// harness/src/verifier.cpp: the Verifier's run loop (scenario.hpp), out of
// line so that every contender calls the same machine code, and in the
// harness library so that its specification (tests/harness) links it.
#include "scenario.hpp"

namespace spill::bench {

std::size_t Verifier::send_all(std::span<Item> items) {
    if (cfg_.delay_ns != 0 || cfg_.slowdown_ns_per_64 != 0 || cfg_.fault != Fault::none) [[unlikely]] {
        for (const Item& item : items) deliver(item);
    } else if (cfg_.check_order) {
        received_ += items.size();
        for (const Item& item : items) check(item);
    } else {
        received_ += items.size();
        check_runs(items);
    }
    return items.size();
}

// The same checks as check() per item, a run of one producer's items at a
// time: a ring holds one worker's items, a queue's batch mostly one
// producer's, so the producer's next sequence number stays in a register
// for the run instead of going through memory (and delivered_) per item.
void Verifier::check_runs(std::span<const Item> items) {
    const std::size_t n = items.size();
    std::size_t i = 0;
    while (i < n) {
        const std::uint32_t p = items[i].producer;
        if (p >= next_.size()) [[unlikely]] {
            ++delivered_;
            unknown_producer(items[i]);
            ++i;
            continue;
        }
        std::uint64_t next = next_[p];
        std::size_t j = i;
        for (; j < n && items[j].producer == p; ++j) {
            if (items[j].seq < next) [[unlikely]]
                fifo_broken(items[j], next);
            next = items[j].seq + 1;
        }
        next_[p] = next;
        delivered_ += j - i;
        i = j;
    }
}

}  // namespace spill::bench

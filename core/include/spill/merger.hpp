// spill/merger.hpp: multiple mergers over one pool's slots (MPSM).
//
// `pool.split_mergers(m, factory)` partitions the handoff slots round-robin:
// merger j drains workers j, j + m, j + 2m, ... and nothing else, so each slot
// has exactly one collector and no two mergers share any state. Each handle
// is driven from a thread the caller owns (and pins); the pool spawns none.
//
// Merge tree: a merger's sink can be anything, including a spout that feeds a
// second tier (a Channel to a thread that merges the mergers). For global
// order use split_sequenced_mergers: each merger submits (sequence, batch) in
// its own slots' order, and a SequencedSpout at the root restores the single
// global order, (round, worker, push order) (see examples/merge_tree.cpp).
//
// The handles own the pool's slots together: until the last one is
// destroyed, every other way to collect from the pool throws.
#pragma once

#include <cstddef>

#include "fan_in.hpp"

namespace spill {

/// One merger's share of a pool's slots. Movable, not copyable; must not
/// outlive the pool (the pool aborts with a message if it does).
///
///     auto mergers = pool.split_mergers(2, [](std::size_t j) { return spill::CollectSpout<int>{}; });
///     std::jthread t([&m = mergers[1]] { while (running) m.flush(); });
template <class Pool, class Out, bool Ordered = false>
class MergerHandle : public detail::FanInBase<Pool, Out, Ordered> {
    using base = detail::FanInBase<Pool, Out, Ordered>;

public:
    MergerHandle(Pool& pool, Out out, std::size_t index, std::size_t count, Collector kind)
        : base(pool, std::move(out), index, count, kind), index_(index) {}

    /// This merger's index in 0..m-1.
    [[nodiscard]] std::size_t index() const noexcept { return index_; }

private:
    std::size_t index_;
};

}  // namespace spill

// spill/handoff.hpp: the per-worker handoff between a producer and its collector.
//
// Three rings per worker rotate through a triple buffer:
//
//     worker's active ring --publish--> slot (fresh) --collect--> collector's front ring
//             ^                                                        |
//             +-------------- slot (recycled, empty) <-----------------+
//
// The slot is one atomic word. With the FRESH bit set it is the *published*
// ring pointer (a batch waiting for the collector); without it, it is the
// *recycled* ring pointer (an empty ring the collector gave back); zero means
// the worker has taken its uncollected batch back: to append this round's
// items to it at publish (merge back), or, at the round's first eviction, to
// spill it into the overflow spout before any newer item. Folding
// "published" and "recycled" into one word makes every transfer a single
// atomic step, so no interleaving can leave two rings in one place or none
// where one is needed (the protocol is model-checked in tests/model/handoff.pml).
//
// Invariants:
//   H1  Exactly three rings per worker: one is the worker's active ring, one is
//       the collector's front ring, one is in the slot word, except while the
//       worker holds it to merge back (word == 0).
//   H2  Only the worker changes a word that is not FRESH (0 or recycled); only a
//       CAS from a FRESH value to something else can race, and it is the one
//       race in the protocol: worker (merge back, to 0) against collector
//       (take, to its empty front). Exactly one wins. A collector that finds
//       the word 0, or loses that race, polls the word (pausing, then
//       yielding the CPU) for up to the longest the pool's waits spin (a
//       merge back copies at most one ring) and takes the merged batch when
//       it reappears; otherwise a collector whose collects keep coming round
//       during merges would miss the batch round after round while every
//       merge evicts from it.
//   H3  A ring is touched only by its current owner; ownership moves only by a
//       release operation on the word paired with an acquire operation that
//       reads it, so all writes to the items happen-before the new owner reads
//       them.
//   H4  batch_seq is stored (release) after the word, so a collector that reads
//       batch_seq == r (acquire) and then finds the word FRESH, or recycled, holds
//       or has taken every item of rounds <= r once it owns the fresh ring.
//
// Mapping of each atomic operation to the model (tests/model/handoff.pml):
//   (P1) worker load of the word at publish -> step pub_load
//   (P2) worker CAS FRESH -> 0 at publish (merge back)
//                                           -> step pub_reclaim
//   (P1) worker load of the word at the round's first eviction
//                                           -> step evict_load
//   (P2) worker CAS FRESH -> 0 at the first eviction (spill)
//                                           -> step evict_reclaim
//   (P3) worker store ring|FRESH            -> step pub_store
//   (P4) worker store batch_seq             -> step pub_seq
//   (C1) collector load of batch_seq        -> step col_seq
//   (C2) collector load of the word         -> step col_load
//   (C3) collector CAS FRESH -> front       -> step col_take
//   A take may begin with a CAS from a guessed FRESH word (the worker's
//   active ring): one that succeeds is col_load and col_take with nothing
//   between them, one that fails reads the word as col_load does, so it
//   allows no interleaving the model does not already check.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <span>

#include "detail/config.hpp"
#include "detail/sde.hpp"
#include "detail/wait.hpp"
#include "spill_ring.hpp"
#include "spout.hpp"

namespace spill {

namespace detail {

/// Where each round's items end in a ring: (round, end position) pairs, oldest
/// first. Capacity N is exact: only rounds that left at least one item get a
/// segment, and entries whose items were all evicted or taken are pruned, so
/// at most N segments are ever live. Allocated once, with the ring.
class SegmentLog {
public:
    struct Segment {
        std::uint64_t round;
        std::uint64_t end;  // ring position one past the segment's last item
    };

    explicit SegmentLog(std::size_t capacity) : cap_(capacity), seg_(std::make_unique<Segment[]>(capacity)) {}

    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] const Segment& front() const noexcept { return seg_[first_]; }
    [[nodiscard]] const Segment& back() const noexcept { return seg_[(first_ + size_ - 1) % cap_]; }
    void clear() noexcept { first_ = size_ = 0; }

    /// Drops segments that end at or before `head` (nothing of them is left).
    void prune(std::uint64_t head) noexcept {
        while (size_ != 0 && seg_[first_].end <= head) pop_front();
    }
    void pop_front() noexcept {
        first_ = first_ + 1 == cap_ ? 0 : first_ + 1;
        --size_;
    }
    /// Records that the items up to `end` belong to `round`. Extends the last
    /// segment when it has the same round. Caller prunes first (see capacity).
    void append(std::uint64_t round, std::uint64_t end) noexcept {
        if (size_ != 0) {
            Segment& last = seg_[(first_ + size_ - 1) % cap_];
            if (last.round == round) {
                last.end = end;
                return;
            }
        }
        seg_[(first_ + size_) % cap_] = Segment{round, end};
        ++size_;
    }

private:
    std::size_t cap_;
    std::unique_ptr<Segment[]> seg_;
    std::size_t first_ = 0;
    std::size_t size_ = 0;
};

/// Where a pool ring's evicted items go: the worker's overflow spout, with a
/// worker-owned hook that runs once, at the first eviction of a round (the
/// pool spills the worker's uncollected batch there, to keep the overflow
/// stream in push order). Touched only by the worker thread, and by the pool's
/// destructor after the worker has stopped.
template <class S>
struct OverflowGate {
    S* overflow = nullptr;
    void (*on_first_eviction)(void*) noexcept = nullptr;
    void* context = nullptr;
    bool armed = false;
    [[no_unique_address]] SdeCount overflow_items;  // items sent to `overflow` (detail/sde.hpp; empty when off)
};

/// The spout of a pool ring: one predictable branch, then the overflow spout.
template <class S>
class GatedSpout {
public:
    explicit GatedSpout(OverflowGate<S>& gate) noexcept : gate_(&gate) {}
    template <class T>
    void send(T&& item) {
        open();
        gate_->overflow->send(std::forward<T>(item));
        gate_->overflow_items.add(1);  // after the send: an item it threw for is not counted
    }
    template <class T>
    std::size_t send_all(std::span<T> items) {
        open();
        const std::size_t took = spill::send_all(*gate_->overflow, items);
        gate_->overflow_items.add(took);
        return took;
    }
    void flush() { gate_->overflow->flush(); }

private:
    void open() noexcept {
        if (gate_->armed) [[unlikely]] {
            gate_->armed = false;
            gate_->on_first_eviction(gate_->context);
        }
    }
    OverflowGate<S>* gate_;
};

/// A ring plus where its rounds end. This is what travels through a slot.
/// The segment log's header comes first, so that it shares a cache line with
/// the ring's positions: whoever owns the batch touches both, and a handoff
/// moves one line of bookkeeping, not two.
template <class T, std::size_t N, class S>
struct alignas(cache_line) Batch {
    using ring_type = SpillRing<T, N, GatedSpout<S>>;
    explicit Batch(OverflowGate<S>& gate) : segments(N), ring(GatedSpout<S>(gate)) {}

    /// Records the items pushed since the last mark as belonging to `round`.
    void mark_round(std::uint64_t round) noexcept {
        segments.prune(ring.head_position());
        if (!ring.empty()) segments.append(round, ring.tail_position());
    }
    /// Makes an empty batch ready to be filled again. Whoever empties a batch
    /// calls it before handing it on (the collector before recycling its
    /// drained front; the worker after a merge back or a spill), so a
    /// recycled ring arrives ready and the worker writes nothing of it but
    /// items.
    ///
    /// The ring's positions are kept, not rewound to the first slot: the next
    /// rounds fill the slots after the last ones, so a round smaller than the
    /// ring does not write the very lines its collector has just drained
    /// (which the writer must take back from the collector's cache first),
    /// at the price of a round sometimes arriving as two spans instead of
    /// one. Measured on a 2-vCPU AMD EPYC VM on 2026-11-27, spill-micro
    /// binaries with and without the rewind run alternately, benchmark by
    /// benchmark (--benchmark_filter='^fanin/spill/P=1/cap=[0-9]+/batch=[0-9]+/nb=0/',
    /// paired ratios of medians of 7-9 pairs): rounds of a quarter or half
    /// of a 1024 ring ran 1.06-1.33x as fast in each of the three runs that
    /// had them; rounds of a quarter of a 16384 or 65536 ring 0.74-1.46x
    /// across four runs, no steady change; rounds as large as the ring did
    /// not move.
    void reset() noexcept { segments.clear(); }

    SegmentLog segments;
    ring_type ring;
};

}  // namespace detail

/// The handoff word between worker w and its collector. It lives in the
/// worker's line of its WorkerSignal, beside `done` (see there why). See the
/// header comment for the protocol. The three states of `word`:
///
///     Batch* b = ...;
///     slot.word = HandoffSlot<Batch>::fresh(b);     // published: b waits for the collector
///     slot.word = HandoffSlot<Batch>::recycled(b);  // given back: b is empty, the worker's next ring
///     slot.word = 0;                                // the worker took its batch back to merge into it
///     HandoffSlot<Batch>::ring_of(slot.word) == b;  // the pointer, whatever the tag
template <class Batch>
struct alignas(16) HandoffSlot {
    static constexpr std::uintptr_t fresh_bit = 1;
    static_assert(alignof(Batch) >= 2, "the FRESH tag lives in the pointer's low bit");

    static std::uintptr_t fresh(Batch* b) noexcept { return reinterpret_cast<std::uintptr_t>(b) | fresh_bit; }
    static std::uintptr_t recycled(Batch* b) noexcept { return reinterpret_cast<std::uintptr_t>(b); }
    static bool is_fresh(std::uintptr_t w) noexcept { return (w & fresh_bit) != 0; }
    static Batch* ring_of(std::uintptr_t w) noexcept { return reinterpret_cast<Batch*>(w & ~fresh_bit); }

    /// Published (FRESH), recycled (plain) or reclaimed-for-merge (0) ring.
    std::atomic<std::uintptr_t> word{0};
    /// Last round whose items the worker has published (H4). Written by the worker only.
    std::atomic<std::uint64_t> batch_seq{0};
};

/// The most rounds a pool can have in flight: the owner may dispatch round
/// r + 1 while a worker still runs round r, so a worker that finishes a
/// round starts the next one at once instead of waiting a round trip for
/// it. How many a pool actually lets run is its choice, 1 or this
/// (PoolBuilder::rounds_ahead); the signal below has room for this many.
inline constexpr std::size_t rounds_in_flight = 2;

/// Start/finish signalling between the pool's owner and worker w. `go`
/// carries the low 32 bits of the latest round dispatched and `args` the
/// arguments of the rounds in flight (round r's in slot r % rounds_in_flight:
/// a copy when they are small and trivially copyable, else a pointer to
/// them); `stop` asks the worker to exit; `done` carries the low 32 bits of
/// the latest round finished, and a task's failure rides beside it. 32 bits
/// are enough: no two rounds a thread compares are more than
/// rounds_in_flight apart, so serial-number arithmetic orders them.
///
/// Fields are grouped by writer, one cache line each: the owner writes `go`,
/// `stop` and `args`; the worker writes `done`, the failures and its side of
/// the handoff slot (`handoff`), whose other writer is the collector's take.
/// On one shared line the owner's polls of `done` and the worker's store to
/// it would move the line an extra time per round, and the worker would
/// fetch the arguments from another line after seeing `go`; here one line
/// transfer brings the worker both. (Each word's `parked` count is written
/// by the other side, but only when it parks, off the busy path.)
///
/// Why the slot shares `done`'s line: at the end of a round the worker writes
/// the slot (publish) and then `done`, and the owner, usually the collector
/// too, reads both: on separate lines each moves to the owner on its own, on
/// one line a single transfer brings both (and the collector's take leaves
/// the line with the owner, where its next poll of `done` finds it). A
/// collector on another thread (a merger) moves the line away from the owner
/// at each take, which costs its next poll of `done` a transfer: the same as
/// the separate `done` line costs it every round. Measured on a 2-vCPU AMD
/// EPYC VM (family 26) on 2026-11-28: spill-micro binaries with the slot on
/// a line of its own and here, run alternately one benchmark at a time
/// (each of --benchmark_filter='^fanin/spill/P=1/cap=(1024/batch=(256|512)|
/// 16384/batch=16384|65536/batch=32768)/nb=0/min|^fanin/spill/P=2/cap=
/// (1024/batch=512|65536/batch=65536)/nb=0/min|^fanin/spill/P=4/cap=65536/
/// batch=32768/nb=0/min|^ref_round_handoff/batch=512/' in turn), with
/// spill-micro's ref_pingpong_pause before each pair
/// to tell the VM's two states apart (a cache-line ping-pong of about 50-100
/// or about 470 ns); medians of paired ratios: 1 producer, ring 1024,
/// rounds of 256 and 512, 1.02-1.06 in both states (9-21 pairs each; the
/// bare round handoff ref_round_handoff/batch=512, run the same way as a
/// control, 0.99-1.01); rounds of 16384-32768, and 2 and 4 producers,
/// 0.98-1.02, within their spread.
///
///     sig.args[r % 2] = a; sig.go.publish(r);                   // owner: start round r (N1, N2)
///     detail::await_reached(sig.done, r, budget);               // owner: wait for it (W1..W3)
template <class Args, class Slot>
struct WorkerSignal {
    // Owner-written (read by the worker after it sees `go` change).
    alignas(cache_line) detail::WaitWord go;
    bool stop = false;
    Args args[rounds_in_flight]{};
    // Worker-written (read by the owner after it sees `done` reach the round),
    // and the handoff slot (written by the worker and its collector). The
    // failures ride in the line the owner reads anyway: checking them costs
    // the owner no extra transfer per round.
    alignas(cache_line) detail::WaitWord done;
    std::uint64_t error_round[rounds_in_flight] = {};
    std::exception_ptr error[rounds_in_flight];  ///< round r's exception in slot r % rounds_in_flight, until the owner takes it
    Slot handoff;  ///< the handoff slot (HandoffSlot): its protocol is in the header comment
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uintptr_t>::is_always_lock_free);
static_assert(sizeof(detail::WaitWord) == 16, "a wait word, its parked count and its wake-up stamp fit one line with the round arguments");

}  // namespace spill

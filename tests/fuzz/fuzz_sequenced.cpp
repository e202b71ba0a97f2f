// libFuzzer target: SequencedSpout with arbitrary submit orders and duplicates.
//
// The input chooses the window and then a list of submits (sequence number,
// batch size). A model tracks what was delivered and what is waiting: a
// duplicate (already delivered, or already waiting) must throw
// std::invalid_argument and change nothing; everything else must come out of
// the inner spout in exact sequence order, batches whole and in order, as soon
// as its predecessors are in.
#include <spill/sequenced.hpp>
#include <spill/spout.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <vector>

namespace {

[[noreturn]] void fail(const char* what) {
    __builtin_fprintf(stderr, "sequenced fuzz: %s\n", what);
    std::abort();
}
void expect(bool ok, const char* what) {
    if (!ok) fail(what);
}

// Item k of batch `seq`: distinct across batches, so order errors show.
int item(std::uint64_t seq, std::size_t k) { return static_cast<int>(seq * 16 + k); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::size_t window = 1 + data[0] % 8;        // 1..8 (a window of 0 is refused)
    const std::uint64_t first = data[1] % 4;           // first expected sequence
    spill::SequencedSpout<int, spill::CollectSpout<int>> seq{spill::CollectSpout<int>{}, window, static_cast<std::size_t>(data[1] % 3), first};

    std::uint64_t next = first;                        // model: next sequence to deliver
    std::map<std::uint64_t, std::size_t> waiting;      // model: sequence -> batch size
    std::vector<int> want;                             // model: emitted items

    for (std::size_t i = 2; i + 1 < size; i += 2) {
        const std::uint64_t s = data[i] % 40;
        const std::size_t n = data[i + 1] % 5;
        std::vector<int> batch;
        for (std::size_t k = 0; k < n; ++k) batch.push_back(item(s, k));

        const bool duplicate = s < next || waiting.count(s) != 0;
        bool threw = false;
        try {
            seq.submit(s, batch);
        } catch (const std::invalid_argument&) {
            threw = true;
        }
        expect(threw == duplicate, duplicate ? "a duplicate sequence was accepted" : "a new sequence was rejected");
        if (!duplicate) {
            waiting.emplace(s, n);
            while (!waiting.empty() && waiting.begin()->first == next) {
                for (std::size_t k = 0; k < waiting.begin()->second; ++k) want.push_back(item(next, k));
                waiting.erase(waiting.begin());
                ++next;
            }
        }
        expect(seq.next_expected() == next, "next_expected");
        expect(seq.pending() == waiting.size(), "pending");
        expect(seq.inner().items() == want, "emitted items differ from the sequence order");
    }
    const auto& st = seq.stats();
    expect(st.items == want.size(), "stats().items");
    return 0;
}

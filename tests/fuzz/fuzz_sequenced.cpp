// libFuzzer target: SequencedSpout with arbitrary submit orders, duplicates,
// batches submitted in parts, and an inner spout that fails.
//
// Input: byte 0 picks the window, byte 1 the first expected sequence and the
// per-batch reserve; then one operation per 3 bytes:
//   s      sequence number (mod 40)
//   shape  batch size (shape % 5, 0..4 items) and parts (shape / 5 % 4:
//          whole, 1 item or 2 items per part with the last part flagged, or
//          1 item per part and then an empty part that carries the flag)
//   fault  how the inner spout behaves during this operation: 2 bits per
//          call, lowest first (0 takes all, 1 throws, 2 takes the first
//          half, 3 takes nothing), at most 4 faults; a call right after a
//          fault always succeeds, so a retry makes progress.
// The caller keeps the failure rule (spout.hpp, F2): it offers again what
// a submit did not take, as the next part of the same batch.
//
// A model tracks what is complete and what is waiting. A duplicate (already
// delivered, or its last part already in) must throw std::invalid_argument
// before reaching the inner spout and change nothing. Otherwise what the
// inner spout receives is always a prefix of the batches in sequence order,
// and after a fault-free flush at the end it is exactly the complete,
// contiguous batches, each whole, each once.
//
#include <spill/sequenced.hpp>
#include <spill/spout.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <span>
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

struct Injected {};

/// The inner spout's behaviour, call by call (see the header comment).
struct Script {
    unsigned bits = 0;
    int left = 0;
    bool after_fault = false;
    unsigned next() {
        if (left == 0 || after_fault) {
            after_fault = false;
            return 0;
        }
        const unsigned code = bits & 3u;
        bits >>= 2;
        --left;
        after_fault = code != 0;
        return code;
    }
};

struct FlakyInner {
    Script* script;
    std::vector<int> items;
    void send(int&& x) {
        if (script->next() == 1) throw Injected{};  // a single send can only take or throw (F1)
        items.push_back(x);
    }
    std::size_t send_all(std::span<int> v) {
        std::size_t n = v.size();
        switch (script->next()) {
            case 1: throw Injected{};
            case 2: n = v.size() / 2; break;
            case 3: n = 0; break;
            default: break;
        }
        items.insert(items.end(), v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n));
        return n;
    }
    void flush() {
        if (script->next() == 1) throw Injected{};
    }
};

bool is_prefix(const std::vector<int>& a, const std::vector<int>& b) {
    if (a.size() > b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i] != b[i]) return false;
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::size_t window = 1 + data[0] % 8;  // 1..8 (a window of 0 is refused)
    const std::uint64_t first = data[1] % 4;     // first expected sequence
    Script script;
    spill::SequencedSpout<int, FlakyInner> seq{FlakyInner{&script, {}}, window, static_cast<std::size_t>(data[1] % 3), first};

    std::uint64_t next = first;                    // model: next sequence not yet complete
    std::map<std::uint64_t, std::size_t> waiting;  // model: complete, not yet deliverable: sequence -> size
    std::vector<int> want;                         // model: items of the complete, contiguous batches, in order

    for (std::size_t i = 2; i + 2 < size; i += 3) {
        const std::uint64_t s = data[i] % 40;
        const std::size_t n = data[i + 1] % 5;
        const std::size_t shape = (data[i + 1] / 5) % 4;
        const std::size_t part = shape == 3 ? 1 : shape;  // 0: the whole batch in one part
        const bool empty_last = shape == 3;               // the flag comes alone, in an empty part
        script.bits = data[i + 2];
        script.left = 4;
        script.after_fault = false;
        std::vector<int> batch;
        for (std::size_t k = 0; k < n; ++k) batch.push_back(item(s, k));

        if (s < next || waiting.count(s) != 0) {
            const std::vector<int> before = seq.inner().items;
            const std::uint64_t next_before = seq.next_expected();
            const std::size_t pending_before = seq.pending();
            bool threw = false;
            try {
                seq.submit(s, std::span<int>(batch), true);
            } catch (const std::invalid_argument&) {
                threw = true;
            } catch (const Injected&) {
                fail("a duplicate reached the inner spout");
            }
            expect(threw, "a duplicate sequence was accepted");
            expect(seq.inner().items == before && seq.next_expected() == next_before && seq.pending() == pending_before,
                   "a refused duplicate changed something");
            continue;
        }

        std::size_t at = 0;
        for (bool done = false; !done;) {
            const std::size_t stop = part == 0 ? n : (at + part < n ? at + part : n);
            const bool last = stop == n && (!empty_last || at == n);
            for (int attempt = 0;; ++attempt) {
                expect(attempt < 64, "a part makes no progress");
                std::size_t took = 0;
                bool returned = false;
                try {
                    took = seq.submit(s, std::span<int>(batch).subspan(at, stop - at), last);
                    returned = true;
                } catch (const Injected&) {
                } catch (const std::invalid_argument&) {
                    fail("a new sequence (or the next part of one) was rejected");
                }
                expect(took <= stop - at, "took more than offered");
                at += took;
                if (returned && at == stop) break;  // F2: all of this part, its last mark included
            }
            done = last;
        }
        waiting.emplace(s, n);
        while (!waiting.empty() && waiting.begin()->first == next) {
            for (std::size_t k = 0; k < waiting.begin()->second; ++k) want.push_back(item(next, k));
            waiting.erase(waiting.begin());
            ++next;
        }
        expect(is_prefix(seq.inner().items, want), "the inner spout received items out of sequence order");
        expect(seq.next_expected() <= next, "next_expected ran ahead of the complete batches");
        expect(seq.stats().items == seq.inner().items.size(), "stats().items");
    }

    script.left = 0;  // no more faults: one flush releases every deliverable batch
    seq.flush();
    expect(seq.inner().items == want, "after a fault-free flush, the items differ from the sequence order");
    expect(seq.next_expected() == next, "next_expected after the final flush");
    expect(seq.pending() == waiting.size(), "pending after the final flush");
    expect(seq.stats().items == want.size(), "stats().items after the final flush");
    return 0;
}

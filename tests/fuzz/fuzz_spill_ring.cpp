// libFuzzer target: SpillRing against a std::deque model.
//
// The input is a program of byte-coded operations (push, pop, drain, take(n)
// consumed partially, flush, inspect). After every operation the ring's
// contents must equal the model's, and the spout must have received exactly
// the items the model evicted, in eviction order. Items are std::string so
// that AddressSanitizer sees every lifetime (a double destroy, a use after
// move-out, a leak).
#include <spill/spill_ring.hpp>
#include <spill/spout.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <string>
#include <vector>

namespace {

constexpr std::size_t capacity = 8;

[[noreturn]] void fail(const char* what) {
    __builtin_fprintf(stderr, "spill_ring fuzz: %s\n", what);
    std::abort();
}
void expect(bool ok, const char* what) {
    if (!ok) fail(what);
}

std::string item(std::uint32_t n) { return "item-" + std::to_string(n) + std::string(n % 24, 'x'); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using Spout = spill::CollectSpout<std::string>;
    spill::SpillRing<std::string, capacity, Spout> ring;
    std::deque<std::string> model;
    std::vector<std::string> evicted;  // what the spout must hold
    std::vector<std::string> readers;  // what pop/drain/take handed out (checked as we go)
    std::uint32_t next = 0;

    std::size_t i = 0;
    auto byte = [&]() -> std::uint8_t { return i < size ? data[i++] : 0; };
    while (i < size) {
        const std::uint8_t op = byte();
        switch (op % 7) {
        case 0:
        case 1: {  // push (twice as likely: keeps the ring busy)
            std::string x = item(next++);
            if (model.size() == capacity) {
                evicted.push_back(model.front());
                model.pop_front();
            }
            model.push_back(x);
            if (op & 0x80) {
                ring.push(x);  // copy overload
            } else {
                ring.push(std::move(x));
            }
            break;
        }
        case 2: {  // pop
            auto got = ring.pop();
            if (model.empty()) {
                expect(!got.has_value(), "pop of an empty ring returned an item");
            } else {
                expect(got.has_value() && *got == model.front(), "pop returned the wrong item");
                model.pop_front();
            }
            break;
        }
        case 3: {  // drain into a separate spout
            Spout out;
            const std::size_t n = ring.drain(out);
            expect(n == model.size() && out.items().size() == n, "drain moved the wrong count");
            for (std::size_t k = 0; k < n; ++k) expect(out.items()[k] == model[k], "drain order");
            model.clear();
            break;
        }
        case 4: {  // spans(), read m items in place, consume them (m may exceed the size)
            const std::size_t m = byte() % (capacity + 3);
            auto [a, b] = ring.spans();
            expect(a.size() + b.size() == model.size(), "spans() length");
            const std::size_t k = m < model.size() ? m : model.size();
            for (std::size_t j = 0; j < k; ++j) {
                std::string x = std::move(j < a.size() ? a[j] : b[j - a.size()]);
                expect(x == model.front(), "spans order");
                model.pop_front();
            }
            ring.consume(m);
            break;
        }
        case 5: {  // flush: everything goes to the spout
            for (auto& x : model) evicted.push_back(x);
            model.clear();
            ring.flush();
            break;
        }
        default: {  // inspect: iteration, front/back, size, positions
            expect(ring.size() == model.size(), "size");
            expect(ring.empty() == model.empty() && ring.full() == (model.size() == capacity), "empty/full");
            expect(ring.tail_position() - ring.head_position() == model.size(), "positions");
            std::size_t k = 0;
            for (const auto& x : ring) expect(k < model.size() && x == model[k++], "iteration");
            expect(k == model.size(), "iteration length");
            if (!model.empty()) expect(ring.front() == model.front() && ring.back() == model.back(), "front/back");
            break;
        }
        }
        expect(ring.size() == model.size(), "size after op");
        const auto& got = ring.spout().items();
        expect(got.size() == evicted.size(), "spout received a different number of items than were evicted");
        if (!got.empty()) expect(got.back() == evicted.back(), "spout received the wrong item");
    }
    expect(ring.spout().items() == evicted, "spout contents");
    return 0;
}

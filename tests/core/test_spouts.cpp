// Specification of every spout in spout.hpp, framed.hpp and channel.hpp.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <list>
#include <numeric>
#include <optional>
#include <ranges>
#include <span>
#include <sstream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <thread>
#include <vector>

#include "core_test_util.hpp"
#include "spill/spill.hpp"

using spill::test::SpoutFailure;
using spill::test::Tracked;

namespace {

// Every spout of the library satisfies the concept for its item type.
static_assert(spill::Spout<spill::DropSpout, int>);
static_assert(spill::Spout<spill::CollectSpout<int>, int>);
static_assert(spill::Spout<spill::SpoutRef<spill::CollectSpout<int>>, int>);
static_assert(spill::Spout<spill::CountingSpout<>, int>);
static_assert(spill::Spout<spill::BatchSpout<int, spill::CollectSpout<std::vector<int>>>, int>);
static_assert(spill::Spout<spill::FramedSpout<spill::FdWriter>, std::string>);
static_assert(spill::Spout<spill::FramedSpout<spill::OstreamWriter>, std::vector<std::byte>>);
static_assert(spill::Spout<spill::ChannelSpout<int>, int>);
static_assert(spill::Spout<spill::SpillRing<int, 4>, int>);
static_assert(spill::BulkSpout<spill::CollectSpout<int>, int>);
static_assert(spill::BulkSpout<spill::DropSpout, int>);
static_assert(spill::BulkSpout<spill::CountingSpout<>, int>);
static_assert(spill::BulkSpout<spill::BatchSpout<int, spill::CollectSpout<std::vector<int>>>, int>);
static_assert(spill::BulkSpout<spill::SpillRing<int, 4>, int>);
static_assert(spill::BulkSpout<spill::ChannelSpout<int>, int>);
static_assert(spill::BulkSpout<spill::FramedSpout<spill::FdWriter>, std::string>);
static_assert(spill::FrameWriter<spill::FdWriter> && spill::FrameWriter<spill::OstreamWriter>);
static_assert(!spill::BulkSpout<spill::FnSpout<void (*)(int)>, int>);
static_assert(!spill::Spout<spill::CollectSpout<int>, std::string>);

/// Writes every byte of `s` into a vector<std::byte>.
std::vector<std::byte> bytes_of(const std::string& s) {
    std::vector<std::byte> out(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) out[i] = static_cast<std::byte>(s[i]);
    return out;
}
std::string string_of(std::span<const std::byte> b) {
    std::string s(b.size(), '\0');
    for (std::size_t i = 0; i < b.size(); ++i) s[i] = static_cast<char>(b[i]);
    return s;
}

/// A payload whose bytes depend on its index, of varying length (including 0).
std::string payload(std::size_t i) {
    std::string s((i * 37) % 301, '\0');
    for (std::size_t k = 0; k < s.size(); ++k) s[k] = static_cast<char>((i + k * 13) & 0xff);
    return s;
}

struct Pipe {
    int fd[2]{-1, -1};
    Pipe() { REQUIRE(::pipe(fd) == 0); }
    ~Pipe() {
        close_read();
        close_write();
    }
    void close_read() {
        if (fd[0] >= 0) ::close(fd[0]);
        fd[0] = -1;
    }
    void close_write() {
        if (fd[1] >= 0) ::close(fd[1]);
        fd[1] = -1;
    }
};

}  // namespace

// ---- DropSpout ------------------------------------------------------------------

TEST_CASE("drop_spout: takes every item and destroys it", "[spout][drop]") {
    Tracked::reset();
    {
        spill::DropSpout drop;
        for (int i = 0; i < 10; ++i) drop.send(Tracked{i});
        drop.flush();
    }
    CHECK(Tracked::constructed.load() == 10);
    CHECK(Tracked::live() == 0);
}

// ---- CollectSpout ---------------------------------------------------------------

TEST_CASE("collect_spout: keeps items in arrival order, by move and by copy", "[spout][collect]") {
    spill::CollectSpout<std::string> out(4);
    std::string a = "alpha";
    out.send(a);  // copy: the caller keeps its string
    out.send(std::string("beta"));
    std::vector<std::string> more{"gamma", "delta"};
    out.send_all(more);
    out.flush();
    CHECK(a == "alpha");
    REQUIRE(out.size() == 4);
    CHECK(out.items() == std::vector<std::string>{"alpha", "beta", "gamma", "delta"});
    auto taken = out.take();
    CHECK(taken.size() == 4);
    CHECK(out.size() == 0);
}

// ---- FnSpout --------------------------------------------------------------------

TEST_CASE("fn_spout: calls the item function per item and the flush function per flush", "[spout][fn]") {
    int sum = 0;
    int flushes = 0;
    auto s = spill::FnSpout([&](int x) { sum += x; }, [&] { ++flushes; });
    for (int i = 1; i <= 4; ++i) s.send(i);
    CHECK(sum == 10);
    CHECK(flushes == 0);
    s.flush();
    s.flush();
    CHECK(flushes == 2);

    // The default flush function does nothing.
    int seen = 0;
    auto plain = spill::FnSpout([&](const std::string& x) { seen += static_cast<int>(x.size()); });
    plain.send(std::string("abc"));
    plain.flush();
    CHECK(seen == 3);
}

// ---- SpoutRef -------------------------------------------------------------------

TEST_CASE("spout_ref: several rings share one overflow spout", "[spout][ref]") {
    spill::CollectSpout<int> shared;
    {
        spill::SpillRing<int, 2, spill::SpoutRef<spill::CollectSpout<int>>> a{spill::SpoutRef{shared}};
        spill::SpillRing<int, 2, spill::SpoutRef<spill::CollectSpout<int>>> b{spill::SpoutRef{shared}};
        for (int i = 0; i < 3; ++i) a.push(i);        // evicts 0
        for (int i = 10; i < 13; ++i) b.push(i);      // evicts 10
        CHECK(shared.items() == std::vector<int>{0, 10});
        CHECK(&a.spout().get() == &shared);
    }  // destruction flushes b (11, 12) then a (1, 2) into the shared spout
    CHECK(shared.items() == std::vector<int>{0, 10, 11, 12, 1, 2});
}

// ---- CountingSpout --------------------------------------------------------------

TEST_CASE("counting_spout: counts items and flushes and forwards them", "[spout][counting]") {
    spill::CountingSpout<spill::CollectSpout<int>> c;
    c.send(1);
    c.send(2);
    std::vector<int> v{3, 4, 5};
    c.send_all(std::span(v));
    c.flush();
    CHECK(c.count() == 5);
    CHECK(c.flushes() == 1);
    CHECK(c.inner().items() == std::vector<int>{1, 2, 3, 4, 5});

    spill::CountingSpout<> dropping;  // default inner: drops
    for (int i = 0; i < 7; ++i) dropping.send(i);
    CHECK(dropping.count() == 7);
}

TEST_CASE("counting_spout: an item the inner spout refused is not counted", "[spout][counting]") {
    spill::CountingSpout<spill::test::FlakySpout<int>> c{spill::test::FlakySpout<int>{{1}, false, {}, 0}};
    c.send(10);
    CHECK_THROWS_AS(c.send(11), SpoutFailure);
    c.send(12);
    CHECK(c.count() == 2);
    CHECK(c.inner().items == std::vector<int>{10, 12});
}

TEST_CASE("counting_spout: a bulk send counts only the prefix the inner spout took", "[spout][counting]") {
    // The inner spout has no bulk entry: send_all sends one by one, and the
    // third send throws after two were taken, so the bulk send reports 2.
    spill::CountingSpout<spill::test::FlakySpout<int>> c{spill::test::FlakySpout<int>{{2}, false, {}, 0}};
    std::vector<int> v{1, 2, 3, 4};
    CHECK(spill::send_all(c, std::span(v)) == 2);
    CHECK(c.count() == 2);
    CHECK(spill::send_all(c, std::span(v).subspan(2)) == 2);  // the retry offers items[2..] again
    CHECK(c.count() == 4);
    CHECK(c.inner().items == std::vector<int>{1, 2, 3, 4});
}

// ---- BatchSpout -----------------------------------------------------------------

TEST_CASE("batch_spout: groups items into full batches and flushes the partial one", "[spout][batch]") {
    spill::BatchSpout<int, spill::CollectSpout<std::vector<int>>> b{3};
    for (int i = 0; i < 7; ++i) b.send(i);
    CHECK(b.inner().items() == std::vector<std::vector<int>>{{0, 1, 2}, {3, 4, 5}});
    CHECK(b.pending() == 1);
    b.flush();
    CHECK(b.inner().items() == std::vector<std::vector<int>>{{0, 1, 2}, {3, 4, 5}, {6}});
    CHECK(b.pending() == 0);
    b.flush();  // nothing pending: no empty batch
    CHECK(b.inner().items().size() == 3);

}

TEST_CASE("batch_spout: a batch size of 0 is refused, not read as 1", "[spout][batch]") {
    using B = spill::BatchSpout<int, spill::CollectSpout<std::vector<int>>>;
    CHECK_THROWS_WITH(B{0}, Catch::Contains("batch size must be at least 1, got 0"));
}

TEST_CASE("batch_spout: when the inner spout refuses a full batch, the item that completed it stays with the caller",
          "[spout][batch][failure]") {
    spill::BatchSpout<int, spill::test::FlakySpout<std::vector<int>>> b{2, spill::test::FlakySpout<std::vector<int>>{{0}, false, {}, 0}};
    b.send(1);
    int two = 2;
    CHECK_THROWS_AS(b.send(std::move(two)), SpoutFailure);  // the full batch could not be handed over
    CHECK(two == 2);          // not taken (F1)
    CHECK(b.pending() == 1);  // only the item taken before
    b.send(std::move(two));   // the caller's retry
    REQUIRE(b.inner().items.size() == 1);
    CHECK(b.inner().items[0] == std::vector<int>{1, 2});
    CHECK(b.pending() == 0);
}

TEST_CASE("batch_spout: a bulk send returns the items in batches the inner spout took and hands back the rest",
          "[spout][batch][failure]") {
    // Batches of 3; the inner spout refuses its second batch once.
    spill::BatchSpout<int, spill::test::FlakySpout<std::vector<int>>> b{3, spill::test::FlakySpout<std::vector<int>>{{1}, false, {}, 0}};
    std::vector<int> v{0, 1, 2, 3, 4, 5, 6, 7};
    const std::size_t n = b.send_all(std::span(v));
    CHECK(n == 3);            // the first batch went through; the second was refused
    CHECK(b.pending() == 0);  // nothing of the refused batch was kept
    CHECK(v[3] == 3);         // handed back in place
    CHECK(b.send_all(std::span(v).subspan(n)) == 5);  // the retry
    b.flush();
    CHECK(b.inner().items == std::vector<std::vector<int>>{{0, 1, 2}, {3, 4, 5}, {6, 7}});
}

// ---- send_all -------------------------------------------------------------------

TEST_CASE("send_all: uses the bulk entry when there is one, else sends one by one", "[spout][send_all]") {
    std::vector<std::string> src{"a", "b", "c"};
    spill::CollectSpout<std::string> bulk;
    CHECK(spill::send_all(bulk, src) == 3);
    CHECK(bulk.items() == std::vector<std::string>{"a", "b", "c"});
    for (const auto& s : src) CHECK(s.empty());  // moved from

    std::vector<std::string> one_by_one;
    auto fn = spill::FnSpout([&](std::string&& s) { one_by_one.push_back(std::move(s)); });
    std::vector<std::string> two{"x", "y"};
    CHECK(spill::send_all(fn, two) == 2);
    CHECK(one_by_one == std::vector<std::string>{"x", "y"});

    spill::CollectSpout<int> empty_target;
    CHECK(spill::send_all(empty_target, std::vector<int>{}) == 0);
}

// ---- FramedSpout / FrameDecoder ---------------------------------------------------

TEST_CASE("framed_spout: writes a 4-byte little-endian length then the payload", "[spout][framed]") {
    std::ostringstream os;
    spill::FramedSpout<spill::OstreamWriter> out{spill::OstreamWriter{os}};
    out.send(std::string("hi!"));
    out.send(std::string());
    std::string big(0x0102, 'z');
    out.send(big);
    CHECK(os.str().empty());  // buffered until flush
    out.flush();
    const std::string wire = os.str();
    REQUIRE(wire.size() == 4 + 3 + 4 + 0 + 4 + 0x0102);
    CHECK(wire.substr(0, 7) == std::string("\x03\x00\x00\x00hi!", 7));
    CHECK(wire.substr(7, 4) == std::string("\x00\x00\x00\x00", 4));
    CHECK(wire.substr(11, 4) == std::string("\x02\x01\x00\x00", 4));
    CHECK(out.frames() == 3);

    std::vector<std::string> decoded;
    spill::FrameDecoder dec;
    const auto b = bytes_of(wire);
    dec.feed(b, [&](std::span<const std::byte> f) { decoded.push_back(string_of(f)); });
    dec.finish();
    CHECK(decoded == std::vector<std::string>{"hi!", "", big});
}

namespace {
/// A writer that plays a script, one entry per write call: a byte count to
/// take (at most what it is offered), or -1 to throw having written nothing.
/// Past the script it takes everything.
struct ScriptedWriter {
    std::vector<long> script;
    std::vector<std::byte>* out;
    std::size_t calls = 0;
    std::size_t write(std::span<const std::byte> bytes) {
        const long step = calls < script.size() ? script[calls] : -2;
        ++calls;
        if (step == -1) throw SpoutFailure();
        const std::size_t n = step == -2 ? bytes.size() : std::min(bytes.size(), static_cast<std::size_t>(step));
        out->insert(out->end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
        return n;
    }
    void flush() noexcept {}
};
std::vector<std::string> decode_all(const std::vector<std::byte>& wire) {
    std::vector<std::string> got;
    spill::FrameDecoder dec;
    dec.feed(wire, [&](std::span<const std::byte> f) { got.push_back(string_of(f)); });
    dec.finish();
    return got;
}
}  // namespace

TEST_CASE("framed_spout: a send whose write fails is not taken, and its retry writes the frame once", "[spout][framed][failure]") {
    // The defect this guards against: the frame was buffered and counted
    // before the write, kept after the throw, and the retry added it again.
    std::vector<std::byte> wire;
    spill::FramedSpout<ScriptedWriter> out{ScriptedWriter{{-1}, &wire}, 1};  // write every frame at once; the first write fails
    std::string a = "alpha", b = "beta";
    out.send(a);            // taken: its write failed, the bytes stay buffered (F1: no throw for a taken item)
    CHECK(out.frames() == 1);
    CHECK(out.pending_bytes() == 4 + a.size());
    out.send(b);            // writes alpha first, then beta
    out.flush();
    CHECK(out.frames() == 2);
    CHECK(decode_all(wire) == std::vector<std::string>{"alpha", "beta"});

    std::vector<std::byte> wire2;
    spill::FramedSpout<ScriptedWriter> full{ScriptedWriter{{-1, -1}, &wire2}, 1};
    full.send(a);                                                  // taken; write fails (deferred)
    CHECK_THROWS_AS(full.send(std::string(b)), SpoutFailure);      // buffer full and the writer still fails: not taken
    CHECK(full.frames() == 1);
    full.send(b);                                                  // the caller's retry: taken once
    full.flush();
    CHECK(decode_all(wire2) == std::vector<std::string>{"alpha", "beta"});
}

TEST_CASE("framed_spout: a bulk send encodes every frame of the span, then writes once", "[spout][framed][bulk]") {
    std::vector<std::byte> wire;
    spill::FramedSpout<ScriptedWriter> out{ScriptedWriter{{}, &wire}, 16};
    std::vector<std::string> items;
    for (std::size_t i = 0; i < 50; ++i) items.push_back(payload(i));
    CHECK(out.send_all(std::span<std::string>(items)) == items.size());
    CHECK(out.writer().calls == 1);  // far more than 16 bytes: one write for the whole span
    out.flush();
    CHECK(out.writer().calls == 1);  // nothing was left
    CHECK(decode_all(wire) == items);
    CHECK(items[3] == payload(3));   // only read (F3): the caller's items are as they were
}

TEST_CASE("framed_spout: a short write keeps the rest of the bytes, written before anything newer", "[spout][framed][failure]") {
    std::vector<std::byte> wire;
    spill::FramedSpout<ScriptedWriter> out{ScriptedWriter{{3, 0, 5, 0}, &wire}, 8};
    std::vector<std::string> want;
    for (std::size_t i = 0; i < 12; ++i) {
        want.push_back(payload(i + 1));
        std::string item = want.back();
        while (true) {  // a WouldBlock means not taken: offer it again
            try {
                out.send(item);
                break;
            } catch (const spill::WouldBlock&) {
            }
        }
    }
    for (;;) {
        try {
            out.flush();
            break;
        } catch (const spill::WouldBlock&) {
        }
    }
    CHECK(out.pending_bytes() == 0);
    CHECK(decode_all(wire) == want);
}

TEST_CASE("framed_spout: over a writer that takes no bytes, send throws WouldBlock, send_all refuses, flush keeps the bytes",
          "[spout][framed][failure]") {
    std::vector<std::byte> wire;
    spill::FramedSpout<ScriptedWriter> out{ScriptedWriter{{0, 0, 0, 0, 0}, &wire}, 8};
    out.send(std::string("0123456789"));  // taken; the writer took nothing (call 1)
    CHECK(out.pending_bytes() == 14);
    std::vector<std::string> more{"x", "y"};
    CHECK_THROWS_AS(out.send(more[0]), spill::WouldBlock);   // the buffer is full (call 2): not taken
    CHECK(out.send_all(std::span<std::string>(more)) == 0);  // a refusal, no throw (call 3)
    CHECK_THROWS_WITH(out.flush(), Catch::Contains("14 bytes stay buffered"));  // call 4
    CHECK(out.frames() == 1);
    CHECK(wire.empty());
    CHECK(out.send_all(std::span<std::string>(more)) == 0);  // call 5: still full
    CHECK(out.send_all(std::span<std::string>(more)) == 2);  // the writer takes bytes again
    out.flush();
    CHECK(decode_all(wire) == std::vector<std::string>{"0123456789", "x", "y"});
}

TEST_CASE("framed_spout: a write error after the frames were taken is reported by the next call, which takes nothing",
          "[spout][framed][failure]") {
    std::vector<std::byte> wire;
    spill::FramedSpout<ScriptedWriter> out{ScriptedWriter{{-1, -1, -1}, &wire}, 4};
    std::vector<std::string> items{"first", "second"};
    CHECK(out.send_all(std::span<std::string>(items)) == 2);  // taken; the write after it failed (call 1)
    CHECK_THROWS_AS(out.send_all(std::span<std::string>(items)), SpoutFailure);  // reported: nothing taken (call 2)
    CHECK_THROWS_AS(out.flush(), SpoutFailure);                                   // F4: kept (call 3)
    CHECK(out.frames() == 2);
    out.flush();
    CHECK(decode_all(wire) == std::vector<std::string>{"first", "second"});
}

namespace {
/// A byte buffer that claims a size it does not have (only its size is read).
struct ClaimedSize {
    const char* p;
    std::size_t n;
    [[nodiscard]] const char* data() const noexcept { return p; }
    [[nodiscard]] const char* begin() const noexcept { return p; }
    [[nodiscard]] const char* end() const noexcept { return p + 1; }
    [[nodiscard]] std::size_t size() const noexcept { return n; }
};
static_assert(spill::ByteBuffer<ClaimedSize>);
}  // namespace

TEST_CASE("framed_spout: a batch of buffers with a payload over 4 GiB is refused whole", "[spout][framed][errors]") {
    std::vector<std::byte> wire;
    spill::FramedSpout<ScriptedWriter> out{ScriptedWriter{{}, &wire}};
    static const char byte = 'x';
    std::vector<ClaimedSize> batch{ClaimedSize{&byte, 1}, ClaimedSize{&byte, std::size_t{UINT32_MAX} + 1}};
    CHECK_THROWS_AS(out.send(batch), std::length_error);
    CHECK(out.frames() == 0);
    CHECK(out.pending_bytes() == 0);
}

namespace {
void set_nonblocking(int fd) { REQUIRE(::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) == 0); }
}  // namespace

TEST_CASE("fd_writer: on a full non-blocking descriptor, write returns a short count and then 0 instead of blocking",
          "[spout][framed][nonblocking]") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    set_nonblocking(sv[0]);
    spill::FdWriter w{sv[0]};
    const std::vector<std::byte> big(8 << 20, std::byte{7});  // more than any socket buffer
    const std::size_t n = w.write(big);
    CHECK(n > 0);
    CHECK(n < big.size());
    CHECK(w.write(big) == 0);  // full: nothing now, and no exception
    ::close(sv[0]);
    ::close(sv[1]);
}

TEST_CASE("framed_spout: over a non-blocking socket and a slow reader, retried sends and flushes deliver every frame once",
          "[spout][framed][nonblocking]") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    set_nonblocking(sv[0]);
    constexpr std::size_t frames = 4000;
    std::vector<std::string> got;
    std::exception_ptr reader_error;
    std::thread reader([&] {
        try {
            spill::read_frames(sv[1], [&](std::span<const std::byte> f) {
                got.push_back(string_of(f));
                if (got.size() % 256 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
            });
        } catch (...) {
            reader_error = std::current_exception();
        }
    });
    std::size_t refusals = 0;
    {
        spill::FramedSpout<spill::FdWriter> out{spill::FdWriter{sv[0]}, 4096};
        std::vector<std::string> items;
        for (std::size_t i = 0; i < frames; ++i) items.push_back(payload(i));
        std::size_t at = 0;
        while (at < frames) {  // F2: offer the rest again after a short count
            const std::size_t n = out.send_all(std::span<std::string>(items).subspan(at, std::min<std::size_t>(64, frames - at)));
            if (n == 0) {
                ++refusals;
                std::this_thread::sleep_for(std::chrono::microseconds(200));
            }
            at += n;
        }
        for (;;) {
            try {
                out.flush();
                break;
            } catch (const spill::WouldBlock&) {
                std::this_thread::sleep_for(std::chrono::microseconds(200));
            }
        }
        CHECK(out.frames() == frames);
    }
    ::shutdown(sv[0], SHUT_WR);
    reader.join();
    ::close(sv[0]);
    ::close(sv[1]);
    REQUIRE_FALSE(reader_error);
    REQUIRE(got.size() == frames);
    for (std::size_t i = 0; i < frames; ++i) REQUIRE(got[i] == payload(i));
    INFO("send_all refused " << refusals << " times");  // > 0 on most runs: the reader is slower than the writer
}

namespace {
/// A stream buffer that holds at most `room` characters.
class SmallBuf : public std::streambuf {
public:
    explicit SmallBuf(std::size_t room) : room_(room) {}
    std::string text;

protected:
    std::streamsize xsputn(const char* s, std::streamsize n) override {
        const auto k = std::min<std::streamsize>(n, static_cast<std::streamsize>(room_ - text.size()));
        text.append(s, static_cast<std::size_t>(k));
        return k;
    }
    int_type overflow(int_type c) override {
        if (text.size() == room_ || traits_type::eq_int_type(c, traits_type::eof())) return traits_type::eof();
        text.push_back(traits_type::to_char_type(c));
        return c;
    }

private:
    std::size_t room_;
};
}  // namespace

TEST_CASE("ostream_writer: a stream buffer that takes part of the bytes gives the short count, then the error", "[spout][framed][errors]") {
    SmallBuf buf(5);
    std::ostream os(&buf);
    const bool exceptions = GENERATE(false, true);  // a stream that throws on badbit still reports the bytes it wrote
    if (exceptions) os.exceptions(std::ios::badbit);
    spill::OstreamWriter w{os};
    const auto bytes = bytes_of("0123456789");
    CHECK(w.write(bytes) == 5);
    CHECK(buf.text == "01234");
    CHECK_FALSE(os.good());
    CHECK_THROWS_AS(w.write(std::span<const std::byte>(bytes).subspan(5)), std::runtime_error);
}

TEST_CASE("frame_decoder: reassembles frames fed one byte at a time", "[spout][framed]") {
    std::ostringstream os;
    spill::FramedSpout<spill::OstreamWriter> out{spill::OstreamWriter{os}, 16};
    std::vector<std::string> sent;
    for (std::size_t i = 0; i < 40; ++i) {
        sent.push_back(payload(i));
        out.send(sent.back());
    }
    out.flush();
    const auto wire = bytes_of(os.str());
    std::vector<std::string> got;
    spill::FrameDecoder dec;
    for (std::size_t i = 0; i < wire.size(); ++i)
        dec.feed(std::span<const std::byte>(&wire[i], 1), [&](std::span<const std::byte> f) { got.push_back(string_of(f)); });
    dec.finish();
    CHECK(got == sent);
    CHECK(dec.frames() == 40);
}

TEST_CASE("framed_spout: frames through a real pipe, writer and reader on their own threads", "[spout][framed][pipe]") {
    Pipe p;
    constexpr std::size_t frames = 3000;  // ~450 KB: far more than the pipe's buffer, so both sides block in turn
    std::vector<std::string> got;
    std::exception_ptr reader_error;
    std::thread reader([&] {
        try {
            spill::read_frames(p.fd[0], [&](std::span<const std::byte> f) { got.push_back(string_of(f)); });
        } catch (...) {
            reader_error = std::current_exception();
        }
    });
    std::thread writer([&] {
        spill::FramedSpout<spill::FdWriter> out{spill::FdWriter{p.fd[1]}, 4096};
        for (std::size_t i = 0; i < frames; ++i) out.send(payload(i));
        out.flush();
        p.close_write();  // EOF for the reader
    });
    writer.join();
    reader.join();
    REQUIRE_FALSE(reader_error);
    REQUIRE(got.size() == frames);
    for (std::size_t i = 0; i < frames; ++i) REQUIRE(got[i] == payload(i));
}

TEST_CASE("framed_spout: frames through a socket pair read back by read_frames", "[spout][framed][socket]") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    std::vector<std::string> got;
    std::uint64_t count = 0;
    std::thread reader([&] { count = spill::read_frames(sv[1], [&](std::span<const std::byte> f) { got.push_back(string_of(f)); }); });
    {
        spill::FramedSpout<spill::FdWriter> out{spill::FdWriter{sv[0]}};
        // A batch of strings is framed one frame per element.
        std::vector<std::string> batch{"one", "two", "three"};
        out.send(batch);
        out.send(bytes_of("four"));
        out.flush();
        CHECK(out.frames() == 4);
    }
    ::shutdown(sv[0], SHUT_WR);
    reader.join();
    ::close(sv[0]);
    ::close(sv[1]);
    CHECK(count == 4);
    CHECK(got == std::vector<std::string>{"one", "two", "three", "four"});
}

TEST_CASE("frame_decoder: rejects a length over its limit before buffering the payload", "[spout][framed][errors]") {
    spill::FrameDecoder dec(8);
    const std::array<std::byte, 4> header{std::byte{9}, std::byte{0}, std::byte{0}, std::byte{0}};
    int frames = 0;
    CHECK_THROWS_AS(dec.feed(header, [&](auto) { ++frames; }), spill::FrameError);
    CHECK(frames == 0);

    spill::FrameDecoder huge;  // default limit 16 MiB; 0xffffffff is far above it
    const std::array<std::byte, 4> max{std::byte{0xff}, std::byte{0xff}, std::byte{0xff}, std::byte{0xff}};
    CHECK_THROWS_WITH(huge.feed(max, [](auto) {}), Catch::Contains("exceeds the limit"));
}

TEST_CASE("frame_decoder: after an error it takes no input until reset(), then decodes a new stream", "[spout][framed][errors]") {
    spill::FrameDecoder dec(8);
    const std::array<std::byte, 4> too_long{std::byte{9}, std::byte{0}, std::byte{0}, std::byte{0}};
    CHECK_THROWS_AS(dec.feed(too_long, [](auto) {}), spill::FrameError);
    CHECK(dec.failed());
    const auto ok = bytes_of(std::string("\x02\x00\x00\x00hi", 6));
    int frames = 0;
    CHECK_THROWS_WITH(dec.feed(ok, [&](auto) { ++frames; }), Catch::Contains("until reset()"));
    CHECK(dec.buffer_capacity() == 0);
    CHECK_THROWS_AS(dec.finish(), spill::FrameError);
    dec.reset();
    dec.feed(ok, [&](auto) { ++frames; });
    dec.finish();
    CHECK(frames == 1);
}

TEST_CASE("frame_decoder: a stream that ends inside a frame is an error", "[spout][framed][errors]") {
    std::ostringstream os;
    spill::FramedSpout<spill::OstreamWriter> out{spill::OstreamWriter{os}};
    out.send(std::string("complete"));
    out.send(std::string("cut short"));
    out.flush();
    const auto wire = bytes_of(os.str());

    SECTION("truncated payload") {
        spill::FrameDecoder dec;
        std::vector<std::string> got;
        dec.feed(std::span<const std::byte>(wire.data(), wire.size() - 3), [&](auto f) { got.push_back(string_of(f)); });
        CHECK(got == std::vector<std::string>{"complete"});
        CHECK_THROWS_WITH(dec.finish(), Catch::Contains("truncated frame: 6 of 9"));
    }
    SECTION("truncated header") {
        spill::FrameDecoder dec;
        dec.feed(std::span<const std::byte>(wire.data(), 4 + 8 + 2), [](auto) {});
        CHECK_THROWS_WITH(dec.finish(), Catch::Contains("truncated frame header"));
    }
    SECTION("read_frames reports it too") {
        Pipe p;
        std::size_t written = 0;
        std::thread w([&] {
            spill::FdWriter fw{p.fd[1]};
            written = fw.write(std::span<const std::byte>(wire.data(), wire.size() - 1));  // a blocking pipe takes all
            p.close_write();
        });
        std::uint64_t frames = 0;
        CHECK_THROWS_AS(spill::read_frames(p.fd[0], [&](auto) { ++frames; }), spill::FrameError);
        w.join();
        CHECK(written == wire.size() - 1);
        CHECK(frames == 1);
    }
}

TEST_CASE("fd_writer: a write error names the file descriptor", "[spout][framed][errors]") {
    Pipe p;
    p.close_read();
    // Writing to a pipe without a reader fails with EPIPE (SIGPIPE ignored here).
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    struct sigaction old {};
    ::sigaction(SIGPIPE, &ignore, &old);
    spill::FdWriter w{p.fd[1]};
    const std::array<std::byte, 1> b{std::byte{1}};
    CHECK_THROWS_WITH(w.write(b), Catch::Contains("fd " + std::to_string(p.fd[1])));
    ::sigaction(SIGPIPE, &old, nullptr);
}

TEST_CASE("ostream_writer: a failed stream is reported", "[spout][framed][errors]") {
    std::ostringstream os;
    os.setstate(std::ios::badbit);
    spill::FramedSpout<spill::OstreamWriter> out{spill::OstreamWriter{os}};
    out.send(std::string("x"));
    CHECK_THROWS_AS(out.flush(), std::runtime_error);
}

// ---- Channel / ChannelSpout -------------------------------------------------------

TEST_CASE("channel: FIFO, try_send refuses when full, try_receive when empty", "[spout][channel]") {
    spill::Channel<int> ch{2};
    CHECK(ch.capacity() == 2);
    CHECK_FALSE(ch.try_receive().has_value());
    CHECK(ch.try_send(1));
    CHECK(ch.try_send(2));
    int three = 3;
    CHECK_FALSE(ch.try_send(std::move(three)));
    CHECK(ch.size_guess() == 2);
    CHECK(ch.receive() == 1);
    CHECK(ch.try_receive() == 2);
}

TEST_CASE("channel_spout: send blocks while the channel is full until the receiver takes an item", "[spout][channel]") {
    spill::Channel<int> ch{1};
    spill::ChannelSpout<int> out{ch};
    out.send(1);
    std::atomic<bool> second_sent{false};  // seq_cst: a plain flag read across threads
    std::thread sender([&] {
        out.send(2);  // blocks: the channel holds 1
        second_sent = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK_FALSE(second_sent.load());
    CHECK(ch.receive() == 1);
    sender.join();
    CHECK(second_sent.load());
    CHECK(ch.receive() == 2);
    CHECK(&out.channel() == &ch);
}

TEST_CASE("channel: close wakes a blocked receiver and a blocked sender", "[spout][channel]") {
    spill::Channel<std::string> ch{1};
    SECTION("receiver") {
        std::optional<std::string> got = std::string("sentinel");
        std::thread r([&] { got = ch.receive(); });
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        ch.close();
        r.join();
        CHECK_FALSE(got.has_value());
    }
    SECTION("sender keeps its item") {
        ch.send(std::string("first"));
        std::string item = "second";
        bool closed = false;
        std::thread s([&] {
            try {
                ch.send(std::move(item));
            } catch (const spill::ChannelClosed&) {
                closed = true;
            }
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        ch.close();
        s.join();
        CHECK(closed);
        CHECK(item == "second");
        // What was queued before close is still received, then end of stream.
        CHECK(ch.receive() == std::optional<std::string>("first"));
        CHECK_FALSE(ch.receive().has_value());
    }
    SECTION("send after close throws and try_send refuses") {
        ch.close();
        spill::ChannelSpout<std::string> out{ch};
        CHECK_THROWS_AS(out.send(std::string("late")), spill::ChannelClosed);
        CHECK_FALSE(ch.try_send(std::string("late")));
    }
}

TEST_CASE("channel_spout: send_all moves in as many items as fit per lock and blocks for the rest", "[spout][channel][bulk]") {
    spill::Channel<std::string> ch{3};
    spill::ChannelSpout<std::string> out{ch};
    std::vector<std::string> got;
    std::thread receiver([&] {
        while (auto x = ch.receive()) got.push_back(*x);
    });
    std::vector<std::string> items;
    for (int i = 0; i < 20; ++i) items.push_back("item" + std::to_string(i));
    CHECK(out.send_all(std::span<std::string>(items)) == 20);  // blocks while full, until every item is in
    ch.close();
    receiver.join();
    REQUIRE(got.size() == 20);
    for (int i = 0; i < 20; ++i) CHECK(got[static_cast<std::size_t>(i)] == "item" + std::to_string(i));
}

TEST_CASE("channel: send_all on a closed channel takes nothing and throws ChannelClosed", "[spout][channel][bulk]") {
    spill::Channel<std::string> ch{4};
    ch.close();
    std::vector<std::string> items{"a", "b"};
    CHECK_THROWS_AS(ch.send_all(std::span<std::string>(items)), spill::ChannelClosed);
    CHECK(items == std::vector<std::string>{"a", "b"});
    CHECK(ch.send_all(std::span<std::string>()) == 0);  // nothing offered: nothing to refuse
}

TEST_CASE("channel: send_all that the channel's close interrupts returns how many it took; the rest stay with the caller",
          "[spout][channel][bulk]") {
    spill::Channel<std::string> ch{2};
    std::vector<std::string> items{"a", "b", "c", "d", "e"};
    std::size_t took = 99;
    std::thread sender([&] { took = ch.send_all(std::span<std::string>(items)); });  // takes a, b, then blocks
    while (ch.size_guess() < 2) std::this_thread::sleep_for(std::chrono::microseconds(100));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ch.close();
    sender.join();
    CHECK(took == 2);
    CHECK(std::vector<std::string>(items.begin() + 2, items.end()) == std::vector<std::string>{"c", "d", "e"});
    CHECK(ch.receive() == std::optional<std::string>("a"));
    CHECK(ch.receive() == std::optional<std::string>("b"));
    CHECK_FALSE(ch.receive().has_value());
}

TEST_CASE("channel: many senders and receivers, every item received once, per-sender FIFO", "[spout][channel]") {
    spill::Channel<std::uint64_t> ch{8};
    constexpr std::uint64_t senders = 3, per_sender = 5000;
    std::vector<std::vector<std::uint64_t>> received(2);
    std::vector<std::thread> rs;
    for (std::size_t r = 0; r < received.size(); ++r)
        rs.emplace_back([&, r] {
            while (auto x = ch.receive()) received[r].push_back(*x);
        });
    std::vector<std::thread> ss;
    for (std::uint64_t s = 0; s < senders; ++s)
        ss.emplace_back([&, s] {
            spill::ChannelSpout<std::uint64_t> out{ch};
            for (std::uint64_t i = 0; i < per_sender; ++i) out.send(s * per_sender + i);
        });
    for (auto& t : ss) t.join();
    ch.close();
    for (auto& t : rs) t.join();
    std::vector<std::uint64_t> all;
    for (const auto& v : received) {
        // Each receiver sees each sender's items in send order.
        std::vector<std::uint64_t> last(senders, 0);
        std::vector<bool> seen(senders, false);
        for (std::uint64_t x : v) {
            const std::uint64_t s = x / per_sender;
            if (seen[s]) REQUIRE(x > last[s]);
            seen[s] = true;
            last[s] = x;
        }
        all.insert(all.end(), v.begin(), v.end());
    }
    std::sort(all.begin(), all.end());
    REQUIRE(all.size() == senders * per_sender);
    for (std::uint64_t i = 0; i < all.size(); ++i) REQUIRE(all[i] == i);
}

// spill/framed.hpp: length-prefixed frames on a byte stream, and their decoder.
//
// Wire format, one frame per item: a 4-byte little-endian payload length, then
// the payload bytes. The decoder never reads past the bytes it was given,
// rejects a length above its limit before buffering anything for it, and
// never holds more than one frame of its limit.
//
// Writers follow the write(2) convention, so partial progress is never lost
// or repeated: `write(bytes)` returns how many leading bytes it wrote (all, a
// short count when the destination is full or was interrupted, 0 when it
// takes nothing now), and throws only when it wrote nothing. An error after
// some bytes went out shows as a short count, and again on the next call.
//
// FramedSpout keeps the spout failure rule (spout.hpp, F1-F4) on top of it:
// a frame is either the spout's entirely (encoded into its buffer, to be
// written now or by a later call or flush(), never twice) or not taken.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <ostream>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <unistd.h>

namespace spill {

/// Thrown by `FrameDecoder` for a malformed stream (length over the limit,
/// stream ending inside a frame), and for any input after that until
/// `reset()`. The message gives the byte offset.
///
///     try { spill::read_frames(fd, on_frame); }
///     catch (const spill::FrameError& e) { std::fprintf(stderr, "bad stream: %s\n", e.what()); }
class FrameError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Thrown by `FramedSpout` when its writer takes no bytes (a non-blocking
/// descriptor that is full) and the call cannot report that with a count:
/// `send` with a full buffer, and `flush`. Nothing was lost: every frame the
/// spout took stays buffered; retry once the destination can take bytes
/// (poll the descriptor for POLLOUT).
///
///     try { out.flush(); } catch (const spill::WouldBlock&) { wait_writable(fd); }
class WouldBlock : public std::system_error {
public:
    explicit WouldBlock(const std::string& what) : std::system_error(std::make_error_code(std::errc::operation_would_block), what) {}
};

/// A byte sink for FramedSpout, with the write(2) convention (see the header
/// comment): returns the number of leading bytes written, throws only when
/// it wrote none.
///
///     static_assert(spill::FrameWriter<spill::FdWriter>);
template <class W>
concept FrameWriter = requires(W& w, std::span<const std::byte> bytes) {
    { w.write(bytes) } -> std::convertible_to<std::size_t>;
    w.flush();
};

/// Writes bytes to a file descriptor it does not own (a pipe, a socket, a
/// file), blocking or not. `write` retries EINTR and short writes until every
/// byte is written or the descriptor would block (EAGAIN on a non-blocking
/// descriptor: it returns the short count, possibly 0). An error throws
/// std::system_error naming the descriptor if no byte was written, and is
/// otherwise a short count (the next call reports it).
///
///     spill::FdWriter w{STDOUT_FILENO};
///     std::size_t n = w.write(bytes);   // n < bytes.size(): the descriptor is full for now
class FdWriter {
public:
    explicit FdWriter(int fd) noexcept : fd_(fd) {}
    [[nodiscard]] std::size_t write(std::span<const std::byte> bytes) {
        std::size_t done = 0;
        while (done < bytes.size()) {
            const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
            if (n > 0) {
                done += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK) break;  // full for now: a short count
            if (done != 0) break;  // the error shows on the next call, which writes nothing
            throw std::system_error(errno, std::generic_category(), "FdWriter: write to fd " + std::to_string(fd_));
        }
        return done;
    }
    void flush() noexcept {}
    [[nodiscard]] int fd() const noexcept { return fd_; }

private:
    int fd_;
};

/// Writes bytes to a `std::ostream` it does not own, through its stream
/// buffer, so a short write is counted exactly. A stream already in a failed
/// state, or a buffer that takes nothing, throws std::runtime_error; a
/// buffer that takes part sets badbit and returns the count.
///
///     std::ostringstream os;
///     spill::OstreamWriter w{os};
class OstreamWriter {
public:
    explicit OstreamWriter(std::ostream& os) noexcept : os_(&os) {}
    [[nodiscard]] std::size_t write(std::span<const std::byte> bytes) {
        if (bytes.empty()) return 0;
        const std::ostream::sentry ok(*os_);  // flushes a tied stream; false if the stream has failed
        if (!ok) throw std::runtime_error("OstreamWriter: the stream is in a failed state");
        const std::streamsize n =
            os_->rdbuf()->sputn(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
        if (n <= 0) {
            os_->setstate(std::ios::badbit);
            throw std::runtime_error("OstreamWriter: stream write failed");
        }
        if (static_cast<std::size_t>(n) < bytes.size()) {
            try {
                os_->setstate(std::ios::badbit);  // the next call throws
            } catch (const std::ios_base::failure&) {
                // The stream's exception mask: badbit is set all the same, and
                // bytes went out, so this call reports them (a short count).
            }
        }
        return static_cast<std::size_t>(n);
    }
    void flush() {
        os_->flush();
        if (!*os_) throw std::runtime_error("OstreamWriter: stream flush failed");
    }

private:
    std::ostream* os_;
};

static_assert(FrameWriter<FdWriter> && FrameWriter<OstreamWriter>);

/// A contiguous range of byte-sized elements: std::string, std::vector<std::byte>,
/// std::vector<std::uint8_t>, std::span<const char>...
template <class T>
concept ByteBuffer = std::ranges::contiguous_range<T> && std::ranges::sized_range<T> &&
                     sizeof(std::ranges::range_value_t<T>) == 1 &&
                     std::is_trivially_copyable_v<std::ranges::range_value_t<T>>;

/// A batch of byte buffers (what a BatchSpout of strings hands over): one
/// frame per element.
template <class T>
concept ByteBufferBatch = std::ranges::sized_range<T> && !ByteBuffer<T> && ByteBuffer<std::ranges::range_value_t<T>>;

/// Frames each item (a byte buffer, or a batch of them: one frame per
/// element) as length + payload into a writer. Frames gather in a buffer that
/// is written once it holds `buffer_bytes` or more, and on `flush()`; a bulk
/// send encodes all its frames, then writes once.
///
/// Failure (spout.hpp, F1-F4). Taking an item means encoding it into the
/// buffer (the item is only read; the caller still owns it, F3); a taken
/// frame is written exactly once, by this call or a later one. So:
///   * `send(item)` takes the item whole, or throws and has taken nothing:
///     std::length_error for a payload over 4 GiB, std::bad_alloc, the
///     writer's error when the buffer was full and the writer wrote nothing,
///     or WouldBlock when the buffer is full and the writer took no bytes.
///   * `send_all(items)` takes a prefix and returns its length; it returns 0
///     without throwing when the buffer is full and the writer takes no
///     bytes (a refusal), and throws only when it took nothing.
///   * A write that fails after the spout took the call's frames is not
///     reported by that call (it took them; F1). The bytes stay buffered and
///     the failure shows on the next call or flush(), which writes first.
///   * `flush()` writes everything; if the writer fails or takes no bytes
///     (WouldBlock), the unwritten bytes stay for the next flush (F4).
/// Destroying the spout discards bytes still buffered: flush() first.
///
///     int fds[2]; pipe(fds);
///     spill::FramedSpout<spill::FdWriter> out{spill::FdWriter{fds[1]}};
///     out.send(std::string("hello"));
///     out.flush();
template <class Writer>
class FramedSpout {
    static_assert(FrameWriter<Writer>,
                  "a FramedSpout writer needs `std::size_t write(std::span<const std::byte>)` (bytes written, the write(2) "
                  "convention) and `flush()`");

public:
    /// `buffer_bytes`: write once this many bytes are buffered (0 writes
    /// every frame at once).
    explicit FramedSpout(Writer writer, std::size_t buffer_bytes = 64 * 1024)
        : writer_(std::move(writer)), limit_(std::max<std::size_t>(buffer_bytes, 1)), cap_(limit_ + 4),
          buf_(std::make_unique_for_overwrite<std::byte[]>(cap_)) {}

    /// One item: one frame (a byte buffer), or one frame per element (a batch).
    template <class B>
        requires ByteBuffer<B> || ByteBufferBatch<B>
    void send(B&& item) {
        if (pending_bytes() >= limit_) [[unlikely]]
            make_room();  // throws => nothing taken
        const std::size_t need = encoded_size(item);  // throws length_error => nothing taken
        if (cap_ - end_ < need) [[unlikely]]
            grow(need);  // throws bad_alloc => nothing taken
        encode(item);    // cannot fail: the item is taken from here on
        if (pending_bytes() >= limit_) [[unlikely]]
            write_taken();
    }

    /// Bulk: takes a prefix of `items` (every element's frames, or none of
    /// an element's) and returns its length; see the class comment.
    template <class B>
        requires ByteBuffer<B> || ByteBufferBatch<B>
    std::size_t send_all(std::span<B> items) {
        if (items.empty()) return 0;
        if (pending_bytes() >= limit_) {
            (void)write_available();                  // throws => nothing taken
            if (pending_bytes() >= limit_) return 0;  // the writer is full: a refusal
        }
        // The longest prefix that can be framed; its bytes are reserved at once.
        std::size_t n = 0, need = 0;
        for (; n < items.size(); ++n) {
            const std::size_t s = encoded_size_or_none(items[n]);
            if (s == no_fit || s > no_fit - need) break;  // a payload over 4 GiB
            need += s;
        }
        if (n == 0) (void)encoded_size(items[0]);  // throws its length_error: nothing taken
        if (cap_ - end_ < need) grow(need);          // throws bad_alloc => nothing taken
        for (std::size_t i = 0; i < n; ++i) encode(items[i]);
        if (pending_bytes() >= limit_) write_taken();
        return n;
    }

    /// Writes every buffered byte, then flushes the writer. Throws the
    /// writer's error, or WouldBlock if the writer takes no bytes; either
    /// way the unwritten bytes stay for the next flush.
    void flush() {
        while (pending_bytes() != 0) {
            if (!write_available()) {
                throw WouldBlock("spill::FramedSpout::flush: the writer took no bytes; " + std::to_string(pending_bytes()) +
                                 " bytes stay buffered for the next flush");
            }
        }
        writer_.flush();
    }

    /// Frames taken so far (each is written, or buffered to be written).
    [[nodiscard]] std::uint64_t frames() const noexcept { return frames_; }
    /// Bytes taken but not written yet.
    [[nodiscard]] std::size_t pending_bytes() const noexcept { return end_ - begin_; }
    [[nodiscard]] Writer& writer() noexcept { return writer_; }

private:
    static constexpr std::size_t no_fit = SIZE_MAX;  // encoded_size_or_none: cannot be framed

    template <ByteBuffer B>
    static std::size_t payload_size(const B& b) noexcept {
        return static_cast<std::size_t>(std::ranges::size(b));
    }
    template <class B>
    static std::size_t encoded_size_or_none(const B& item) noexcept {
        if constexpr (ByteBuffer<B>) {
            const std::size_t s = payload_size(item);
            return s > UINT32_MAX ? no_fit : 4 + s;
        } else {
            std::size_t total = 0;
            for (const auto& b : item) {
                const std::size_t s = payload_size(b);
                if (s > UINT32_MAX || 4 + s >= no_fit - total) return no_fit;
                total += 4 + s;
            }
            return total;
        }
    }
    template <class B>
    static std::size_t encoded_size(const B& item) {
        const std::size_t s = encoded_size_or_none(item);
        if (s == no_fit)
            throw std::length_error("spill::FramedSpout: a payload of more than " + std::to_string(UINT32_MAX) +
                                    " bytes does not fit a 4-byte length");
        return s;
    }

    // Appends the item's frames. Precondition: cap_ - end_ >= encoded_size(item).
    template <class B>
    void encode(const B& item) noexcept {
        if constexpr (ByteBuffer<B>) {
            const auto n = static_cast<std::uint32_t>(payload_size(item));
            std::byte* out = buf_.get() + end_;
            out[0] = std::byte(n & 0xffu);
            out[1] = std::byte((n >> 8) & 0xffu);
            out[2] = std::byte((n >> 16) & 0xffu);
            out[3] = std::byte((n >> 24) & 0xffu);
            if (n != 0) std::memcpy(out + 4, std::ranges::data(item), n);
            end_ += 4 + std::size_t{n};
            ++frames_;
        } else {
            for (const auto& b : item) encode(b);
        }
    }

    // Room for `need` more bytes after the pending ones: moves them to the
    // front, or allocates a larger buffer (the strong guarantee: a throw
    // changes nothing).
    void grow(std::size_t need) {
        const std::size_t pending = pending_bytes();
        if (cap_ - pending < need) {
            const std::size_t cap = std::max(2 * cap_, pending + need);
            auto bigger = std::make_unique_for_overwrite<std::byte[]>(cap);  // may throw: nothing changed
            if (pending != 0) std::memcpy(bigger.get(), buf_.get() + begin_, pending);
            buf_ = std::move(bigger);
            cap_ = cap;
        } else if (pending != 0) {
            std::memmove(buf_.get(), buf_.get() + begin_, pending);
        }
        begin_ = 0;
        end_ = pending;
    }

    // Offers the pending bytes to the writer until it wrote them all or took
    // none; returns false when it took none. Throws the writer's error (no
    // byte of that call written); bytes written before stay written.
    bool write_available() {
        while (pending_bytes() != 0) {
            const std::size_t n = writer_.write(std::span<const std::byte>(buf_.get() + begin_, pending_bytes()));
            if (n == 0) return false;
            begin_ += std::min(n, pending_bytes());
            if (begin_ == end_) begin_ = end_ = 0;
        }
        return true;
    }

    // The buffer is full before taking anything: write, or report why not.
    void make_room() {
        (void)write_available();  // throws => nothing taken
        if (pending_bytes() >= limit_) {
            throw WouldBlock("spill::FramedSpout::send: the buffer holds " + std::to_string(pending_bytes()) +
                             " bytes and the writer takes no more now; the item was not taken");
        }
    }

    // The call has taken its frames: write what the writer takes now. A
    // failure is not this call's to report (F1, F2): the bytes stay and the
    // next call or flush() writes them first and reports it if it persists.
    void write_taken() noexcept {
        try {
            (void)write_available();
        } catch (...) {
            // Deliberately deferred; see above.
        }
    }

    Writer writer_;
    std::size_t limit_;
    std::size_t cap_;
    std::unique_ptr<std::byte[]> buf_;
    std::size_t begin_ = 0;  // first byte not yet written
    std::size_t end_ = 0;    // one past the last byte taken
    std::uint64_t frames_ = 0;
};

/// Incremental decoder for FramedSpout's format. Feed it bytes as they arrive;
/// it calls `on_frame(std::span<const std::byte>)` for each complete frame.
///
/// A frame whose whole payload is in the bytes given is handed over in
/// place; a frame split across calls is gathered in a buffer that grows with
/// the bytes received and never beyond the frame's length, so the decoder
/// never allocates more than `max_frame_bytes`. After a FrameError, or an
/// exception from `on_frame`, the decoder is failed: every later `feed` or
/// `finish` throws FrameError without looking at its input, until `reset()`.
///
///     spill::FrameDecoder dec;
///     dec.feed(bytes, [](std::span<const std::byte> f) { ... });
///     dec.finish();   // throws FrameError if the stream stopped inside a frame
class FrameDecoder {
public:
    /// Frames longer than `max_frame_bytes` are rejected as malformed.
    explicit FrameDecoder(std::size_t max_frame_bytes = 16u << 20) : max_(max_frame_bytes) {}

    template <class OnFrame>
    void feed(std::span<const std::byte> bytes, OnFrame&& on_frame) {
        if (failed_) [[unlikely]]
            throw_failed();
        try {
            decode(bytes, on_frame);
        } catch (...) {
            failed_ = true;  // it cannot tell which of `bytes` the caller will offer again
            throw;
        }
    }

    /// Declares the end of the stream: throws FrameError if it ended mid-frame.
    void finish() const {
        if (failed_) throw_failed();
        if (header_len_ == 0) return;
        if (header_len_ < 4)
            throw FrameError("truncated frame header: " + std::to_string(header_len_) + " of 4 bytes at offset " + std::to_string(offset_));
        throw FrameError("truncated frame: " + std::to_string(payload_.size()) + " of " + std::to_string(expected_) +
                         " payload bytes at offset " + std::to_string(offset_));
    }

    /// Starts a new stream: forgets a partial frame and a failure.
    void reset() noexcept {
        header_len_ = 0;
        expected_ = 0;
        payload_.clear();
        offset_ = 0;
        frames_ = 0;
        failed_ = false;
    }

    /// Frames delivered since construction or reset().
    [[nodiscard]] std::uint64_t frames() const noexcept { return frames_; }
    /// Whether a FrameError (or an exception from on_frame) stopped the decoder.
    [[nodiscard]] bool failed() const noexcept { return failed_; }
    /// Bytes allocated for a partial frame; at most max_frame_bytes.
    [[nodiscard]] std::size_t buffer_capacity() const noexcept { return payload_.capacity(); }

private:
    template <class OnFrame>
    void decode(std::span<const std::byte> bytes, OnFrame& on_frame) {
        while (!bytes.empty()) {
            if (header_len_ < 4) {
                const std::size_t take = std::min<std::size_t>(4 - header_len_, bytes.size());
                std::memcpy(header_ + header_len_, bytes.data(), take);
                header_len_ += take;
                bytes = bytes.subspan(take);
                if (header_len_ < 4) return;
                expected_ = std::to_integer<std::uint32_t>(header_[0]) | (std::to_integer<std::uint32_t>(header_[1]) << 8) |
                            (std::to_integer<std::uint32_t>(header_[2]) << 16) |
                            (std::to_integer<std::uint32_t>(header_[3]) << 24);
                if (expected_ > max_) {
                    throw FrameError("frame length " + std::to_string(expected_) + " exceeds the limit of " +
                                     std::to_string(max_) + " bytes (offset " + std::to_string(offset_) + ")");
                }
            }
            const std::size_t take = std::min<std::size_t>(expected_ - payload_.size(), bytes.size());
            if (payload_.empty() && take == expected_) {
                on_frame(bytes.first(take));  // a whole frame in the caller's bytes: in place
            } else {
                reserve_for(payload_.size() + take);
                payload_.insert(payload_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
                if (payload_.size() < expected_) return;  // every byte given is buffered
                on_frame(std::span<const std::byte>(payload_));
            }
            bytes = bytes.subspan(take);
            offset_ += 4 + std::uint64_t{expected_};
            ++frames_;
            header_len_ = 0;
            payload_.clear();
        }
    }

    // Grows the partial-frame buffer geometrically, but never past the
    // frame's length (which is at most max_).
    void reserve_for(std::size_t want) {
        if (want <= payload_.capacity()) return;
        payload_.reserve(std::min<std::size_t>(expected_, std::max(want, 2 * payload_.capacity())));
    }

    [[noreturn]] void throw_failed() const {
        throw FrameError("the stream was rejected at offset " + std::to_string(offset_) +
                         "; the decoder takes no more input until reset()");
    }

    std::size_t max_;
    std::byte header_[4]{};
    std::size_t header_len_ = 0;
    std::uint32_t expected_ = 0;
    std::vector<std::byte> payload_;
    std::uint64_t offset_ = 0;  // stream offset of the frame being decoded
    std::uint64_t frames_ = 0;
    bool failed_ = false;
};

/// Reads a whole stream from `fd` until EOF, calling `on_frame` per frame.
/// Throws FrameError on a malformed stream, std::system_error on a read error.
template <class OnFrame>
std::uint64_t read_frames(int fd, OnFrame&& on_frame, std::size_t max_frame_bytes = 16u << 20) {
    FrameDecoder dec(max_frame_bytes);
    std::byte chunk[16 * 1024];
    for (;;) {
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "read_frames: read from fd " + std::to_string(fd));
        }
        if (n == 0) break;
        dec.feed(std::span<const std::byte>(chunk, static_cast<std::size_t>(n)), on_frame);
    }
    dec.finish();
    return dec.frames();
}

}  // namespace spill

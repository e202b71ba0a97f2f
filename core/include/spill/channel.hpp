// spill/channel.hpp: a bounded blocking queue and the spout that feeds it.
//
// The channel is the slow, simple, obviously-correct way across threads (one
// mutex, two condition variables, a preallocated circular buffer). It is the
// "output" end in backpressure tests and examples: when the receiver is slow
// the channel fills and `send` blocks, which is the pressure a real socket
// would apply. It is not on any hot path of the core.
//
// Failure rule (spout.hpp, F1-F4): the only failure is a closed channel.
// `send` takes the item or throws ChannelClosed leaving it intact (F1);
// `send_all` takes a prefix, as many items per lock as there is room for,
// and returns its length: all of them, or the items taken before the channel
// closed; it throws ChannelClosed only when it took none (F2).
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace spill {

/// Thrown by `Channel::send` once the channel is closed; the item is left intact.
///
///     try { ch.send(std::move(x)); } catch (const spill::ChannelClosed&) { keep(std::move(x)); }
class ChannelClosed : public std::runtime_error {
public:
    ChannelClosed() : std::runtime_error("send on a closed spill::Channel") {}
};

/// Multi-producer multi-consumer bounded FIFO. `send` blocks while full,
/// `receive` blocks while empty and returns nullopt once closed and drained.
///
///     spill::Channel<int> ch{16};
///     std::thread t([&] { while (auto x = ch.receive()) use(*x); });
///     ch.send(1); ch.close(); t.join();
template <class T>
class Channel {
public:
    explicit Channel(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity), slots_(std::make_unique<std::optional<T>[]>(capacity_)) {}

    Channel(const Channel&) = delete;
    Channel& operator=(const Channel&) = delete;

    /// Blocks while full; throws ChannelClosed (leaving `item` intact) if closed.
    void send(T&& item) {
        std::unique_lock lock(mu_);
        not_full_.wait(lock, [&] { return closed_ || size_ < capacity_; });
        if (closed_) throw ChannelClosed();
        slots_[(head_ + size_) % capacity_].emplace(std::move(item));
        ++size_;
        lock.unlock();
        not_empty_.notify_one();
    }

    /// Moves a prefix of `items` in, in order, blocking while the channel is
    /// full: each time there is room, it takes as many as fit under one lock
    /// (the receivers see them together). Returns how many it took (moved
    /// from): all, or fewer if the channel closed meanwhile; throws
    /// ChannelClosed (nothing taken) if it was closed before any was taken.
    ///
    ///     std::vector<int> v{1, 2, 3};
    ///     std::size_t n = ch.send_all(std::span(v));   // n < 3 only if ch was closed meanwhile
    std::size_t send_all(std::span<T> items) {
        static_assert(std::is_nothrow_move_constructible_v<T>, "Channel::send_all takes a prefix exactly: T needs a nothrow move");
        std::size_t taken = 0;
        while (taken < items.size()) {
            std::unique_lock lock(mu_);
            not_full_.wait(lock, [&] { return closed_ || size_ < capacity_; });
            if (closed_) {
                if (taken == 0) throw ChannelClosed();
                break;  // F2: the items taken before the close are the receivers'
            }
            const std::size_t k = std::min(capacity_ - size_, items.size() - taken);
            for (std::size_t i = 0; i < k; ++i) {
                slots_[(head_ + size_) % capacity_].emplace(std::move(items[taken + i]));
                ++size_;
            }
            taken += k;
            lock.unlock();
            if (k == 1) {
                not_empty_.notify_one();
            } else {
                not_empty_.notify_all();
            }
        }
        return taken;
    }

    /// Non-blocking: false (item intact) if full or closed.
    [[nodiscard]] bool try_send(T&& item) {
        {
            std::lock_guard lock(mu_);
            if (closed_ || size_ == capacity_) return false;
            slots_[(head_ + size_) % capacity_].emplace(std::move(item));
            ++size_;
        }
        not_empty_.notify_one();
        return true;
    }

    /// Blocks until an item arrives, or returns nullopt once closed and empty.
    [[nodiscard]] std::optional<T> receive() {
        std::unique_lock lock(mu_);
        not_empty_.wait(lock, [&] { return closed_ || size_ > 0; });
        if (size_ == 0) return std::nullopt;
        return pop_locked(lock);
    }

    /// Non-blocking receive.
    [[nodiscard]] std::optional<T> try_receive() {
        std::unique_lock lock(mu_);
        if (size_ == 0) return std::nullopt;
        return pop_locked(lock);
    }

    /// After close, senders fail and receivers drain what is left.
    void close() {
        {
            std::lock_guard lock(mu_);
            closed_ = true;
        }
        not_full_.notify_all();
        not_empty_.notify_all();
    }

    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    /// Item count at some moment during the call; may be stale on return.
    [[nodiscard]] std::size_t size_guess() const {
        std::lock_guard lock(mu_);
        return size_;
    }

private:
    std::optional<T> pop_locked(std::unique_lock<std::mutex>& lock) {
        std::optional<T> out(std::move(slots_[head_]));
        slots_[head_].reset();
        head_ = (head_ + 1) % capacity_;
        --size_;
        lock.unlock();
        not_full_.notify_one();
        return out;
    }

    std::size_t capacity_;
    std::unique_ptr<std::optional<T>[]> slots_;
    mutable std::mutex mu_;
    std::condition_variable not_full_;
    std::condition_variable not_empty_;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
    bool closed_ = false;
};

/// A spout into a Channel it does not own: `send` and `send_all` block while
/// the channel is full, which is how a slow receiver pushes back on the
/// sender. A closed channel is its failure (see the header comment).
///
///     spill::Channel<int> ch{64};
///     spill::ChannelSpout<int> out{ch};
template <class T>
class ChannelSpout {
public:
    explicit ChannelSpout(Channel<T>& channel) noexcept : channel_(&channel) {}
    void send(T&& item) { channel_->send(std::move(item)); }
    void send(const T& item) {
        T copy(item);
        channel_->send(std::move(copy));
    }
    std::size_t send_all(std::span<T> items) { return channel_->send_all(items); }
    void flush() noexcept {}
    [[nodiscard]] Channel<T>& channel() const noexcept { return *channel_; }

private:
    Channel<T>* channel_;
};

}  // namespace spill

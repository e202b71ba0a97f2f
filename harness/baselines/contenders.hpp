// harness/baselines/contenders.hpp: every baseline adapter this build has,
// for drivers that run them all (spill-micro, the smoke test, spill-bench).
//
//     spill::baselines::for_each_contender<std::uint64_t, 1024, 16384>([&]<class Q>() {
//         if (Q::refusal(config).empty()) run<Q>(config);
//     });
//
// The feature macros SPILL_BASELINES_<LIBRARY> are set to 1 or 0 by
// harness/baselines/meson.build (the dependency `spill_baselines_dep`); a
// library the build did not find leaves its contenders out, and
// `left_out()` names them (meson's summary lists them too).
//
// Adapters whose capacity is a compile-time trait (the moodycamel
// ConcurrentQueue ones, see moodycamel_cq.hpp) are visited once per
// capacity in `Caps`; every other adapter once.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "baseline.hpp"
#include "mutex_deque.hpp"

#if SPILL_BASELINES_BOOST_LOCKFREE
#include "boost_queue.hpp"
#include "boost_spsc.hpp"
#endif
#if SPILL_BASELINES_MOODYCAMEL_CQ
#include "moodycamel_cq.hpp"
#endif
#if SPILL_BASELINES_MOODYCAMEL_RWQ
#include "moodycamel_rwq.hpp"
#endif
#if SPILL_BASELINES_ATOMIC_QUEUE
#include "atomic_queue.hpp"
#endif
#if SPILL_BASELINES_TBB
#include "tbb_bounded.hpp"
#endif
#if SPILL_BASELINES_XENIUM
#include "xenium_vyukov.hpp"
#endif

namespace spill::baselines {

/// Calls fn.template operator()<Q>() for every adapter Q over items T that
/// this build has (see the top of the file for Caps).
template <class T, std::size_t... Caps, class Fn>
void for_each_contender(Fn&& fn) {
#if SPILL_BASELINES_BOOST_LOCKFREE
    fn.template operator()<BoostSpsc<T>>();
    fn.template operator()<BoostQueue<T>>();
#endif
#if SPILL_BASELINES_MOODYCAMEL_CQ
    (fn.template operator()<MoodycamelCq<T, Caps>>(), ...);
    (fn.template operator()<MoodycamelCqBlocking<T, Caps>>(), ...);
#endif
#if SPILL_BASELINES_MOODYCAMEL_RWQ
    fn.template operator()<MoodycamelRwq<T>>();
    fn.template operator()<MoodycamelRwqBlocking<T>>();
#endif
#if SPILL_BASELINES_ATOMIC_QUEUE
    fn.template operator()<AtomicQueueMpmc<T>>();
    fn.template operator()<AtomicQueueSpsc<T>>();
#endif
#if SPILL_BASELINES_TBB
    fn.template operator()<TbbBounded<T>>();
    fn.template operator()<TbbBoundedBlocking<T>>();
#endif
#if SPILL_BASELINES_XENIUM
    fn.template operator()<XeniumVyukov<T>>();
#endif
    fn.template operator()<MutexDeque<T>>();
}

/// Contenders this build left out because their library was not found.
[[nodiscard]] inline std::vector<std::string_view> left_out() {
    std::vector<std::string_view> out;
#if !SPILL_BASELINES_BOOST_LOCKFREE
    out.insert(out.end(), {"boost_spsc", "boost_queue"});
#endif
#if !SPILL_BASELINES_MOODYCAMEL_CQ
    out.insert(out.end(), {"moodycamel_cq", "moodycamel_cq_blocking"});
#endif
#if !SPILL_BASELINES_MOODYCAMEL_RWQ
    out.insert(out.end(), {"moodycamel_rwq", "moodycamel_rwq_blocking"});
#endif
#if !SPILL_BASELINES_ATOMIC_QUEUE
    out.insert(out.end(), {"atomic_queue", "atomic_queue_spsc"});
#endif
#if !SPILL_BASELINES_TBB
    out.insert(out.end(), {"tbb_bounded", "tbb_bounded_blocking"});
#endif
#if !SPILL_BASELINES_XENIUM
    out.insert(out.end(), {"xenium_vyukov"});
#endif
    return out;
}

}  // namespace spill::baselines

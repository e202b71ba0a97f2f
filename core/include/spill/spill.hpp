// spill/spill.hpp: the whole library.
#pragma once

#include "channel.hpp"      // Channel, ChannelSpout
#include "fan_in.hpp"       // FanInSpout, SequencedFanIn
#include "framed.hpp"       // FramedSpout, FrameDecoder
#include "handoff.hpp"      // HandoffSlot, WorkerSignal
#include "merger.hpp"       // MergerHandle
#include "mpsc_ring.hpp"    // MpscRing
#include "sequenced.hpp"    // SequencedSpout
#include "spill_ring.hpp"   // SpillRing
#include "spout.hpp"        // Spout concept and basic spouts
#include "worker_pool.hpp"  // WorkerPool, PoolBuilder, spill::pool

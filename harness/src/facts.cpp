// harness/src/facts.cpp: the rules a scenario's facts name (scenario.hpp):
// handoffs per round, floor kinds, configuration values.
#include "scenario.hpp"

namespace spill::bench {

const char* to_string(HandoffRule r) noexcept {
    switch (r) {
        case HandoffRule::none: return "none";
        case HandoffRule::producers: return "producers";
        case HandoffRule::producers_and_mergers: return "producers+mergers";
        case HandoffRule::items: return "items";
    }
    return "?";
}

std::uint64_t handoffs_per_round(HandoffRule r, const Params& p) noexcept {
    switch (r) {
        case HandoffRule::none: return 0;
        case HandoffRule::producers: return p.producers;
        case HandoffRule::producers_and_mergers: return p.producers + p.mergers;
        case HandoffRule::items: return p.rounds != 0 ? p.items / p.rounds : 0;
    }
    return 0;
}

const char* to_string(FloorKind f) noexcept {
    switch (f) {
        case FloorKind::none: return "none";
        case FloorKind::masked_store: return "masked_store";
        case FloorKind::handoff: return "handoff";
    }
    return "?";
}

const char* to_string(ConfigValue c) noexcept {
    switch (c) {
        case ConfigValue::capacity_items: return "capacity_items";
        case ConfigValue::batch_items: return "batch_items";
    }
    return "?";
}

std::uint64_t config_value(ConfigValue c, const Params& p) noexcept {
    switch (c) {
        case ConfigValue::capacity_items: return p.ring_size;
        case ConfigValue::batch_items: {
            if (p.batch != 0) return p.batch;  // a queue's items per bulk call
            const std::uint64_t per_round = p.producers * p.rounds;
            return per_round != 0 ? p.items / per_round : 0;
        }
    }
    return 0;
}

std::string job_of(const ScenarioFacts& f, const Params& p) {
    std::string job = f.job;
    if (p.producers == 1 && job.rfind("P->", 0) == 0) job[0] = '1';
    return job;
}

}  // namespace spill::bench

// Specification of spill-bench's input parsers: value lists and ranges,
// shards, pin policies, delay modes, grid expansion and sweep files.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "grid.hpp"

using namespace spill::bench;
using V = std::vector<std::uint64_t>;

namespace {
// The message of the InputError `f` throws ("" if it throws nothing).
template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const InputError& e) {
        return e.what();
    }
    return "";
}
bool one_line(const std::string& s) { return !s.empty() && s.find('\n') == std::string::npos; }
}  // namespace

TEST_CASE("parse_list: a comma list keeps the written order and drops duplicates", "[harness][list]") {
    CHECK(parse_list("1,2,4", "--producers") == V{1, 2, 4});
    CHECK(parse_list("4,1,4,2", "--producers") == V{4, 1, 2});
    CHECK(parse_list(" 7 ", "--producers") == V{7});
    CHECK(parse_list("0", "--consumer-delay-ns") == V{0});
}

TEST_CASE("parse_list: LO-HI is every integer in between, both ends included", "[harness][list]") {
    CHECK(parse_list("1-4", "--producers") == V{1, 2, 3, 4});
    CHECK(parse_list("3-3", "--producers") == V{3});
}

TEST_CASE("parse_list: LO-HI:xF is geometric and stops at or below HI", "[harness][list]") {
    CHECK(parse_list("1-64:x2", "--producers") == V{1, 2, 4, 8, 16, 32, 64});
    CHECK(parse_list("64-65536:x4", "--ring-size") == V{64, 256, 1024, 4096, 16384, 65536});
    CHECK(parse_list("1-10:x3", "--producers") == V{1, 3, 9});
}

TEST_CASE("parse_list: LO-HI:+S is arithmetic, and lists mix with ranges", "[harness][list]") {
    CHECK(parse_list("0-1000:+250", "--consumer-delay-ns") == V{0, 250, 500, 750, 1000});
    CHECK(parse_list("1,8-32:x2,100", "--producers") == V{1, 8, 16, 32, 100});
}

TEST_CASE("parse_list: malformed lists are rejected with a one-line message naming the value", "[harness][list]") {
    for (const std::string bad : {"1,,2", "8-1", "x", "", "1-", "-4", "1-8:x1", "1-8:y2", "1-8:", "0-8:x2", "1-8:+0", "2.5", "99999999999999999999999"}) {
        INFO("input '" << bad << "'");
        const std::string msg = error_of([&] { (void)parse_list(bad, "--producers"); });
        CHECK(one_line(msg));
        CHECK(msg.find("--producers") != std::string::npos);
        if (!bad.empty() && bad != "-4") CHECK(msg.find(bad.substr(0, 3)) != std::string::npos);
    }
}

TEST_CASE("parse_uint: only a whole non-negative integer is accepted", "[harness][list]") {
    CHECK(parse_uint("12", "--seed") == 12);
    CHECK(one_line(error_of([] { (void)parse_uint("12a", "--seed"); })));
    CHECK(one_line(error_of([] { (void)parse_uint("-1", "--seed"); })));
}

TEST_CASE("parse_shard: i/n with 0 <= i < n", "[harness][shard]") {
    CHECK(parse_shard("0/1") == Shard{0, 1});
    CHECK(parse_shard("3/4") == Shard{3, 4});
    for (const std::string bad : {"4/4", "1/0", "1", "a/b", "/2", "1/", "-1/2"}) {
        INFO("input '" << bad << "'");
        const std::string msg = error_of([&] { (void)parse_shard(bad); });
        CHECK(one_line(msg));
        CHECK(msg.find(bad) != std::string::npos);
    }
}

TEST_CASE("select_shard: the shards partition the points, every n-th point from i", "[harness][shard]") {
    Grid g;
    g.scenario = "pool";
    g.producers = parse_list("1-5", "--producers");
    g.items = {1000};
    g.rounds = {1};
    const auto all = expand(g, ParamUse{});
    REQUIRE(all.size() == 5);
    std::vector<std::string> seen;
    for (std::uint64_t i = 0; i < 3; ++i)
        for (const auto& p : select_shard(all, Shard{i, 3})) seen.push_back(p.id());
    CHECK(seen.size() == all.size());
    const auto s1 = select_shard(all, Shard{1, 3});
    REQUIRE(s1.size() == 2);
    CHECK(s1[0].id() == all[1].id());
    CHECK(s1[1].id() == all[4].id());
}

TEST_CASE("parse_pin and parse_delay_mode accept only the documented names", "[harness][enum]") {
    CHECK(parse_pin("compact") == PinPolicy::compact);
    CHECK(parse_pin("scatter") == PinPolicy::scatter);
    CHECK(parse_pin("none") == PinPolicy::none);
    CHECK(error_of([] { (void)parse_pin("spread"); }).find("'spread'") != std::string::npos);
    CHECK(parse_delay_modes("busy_item,block_batch") == std::vector<DelayMode>{DelayMode::busy_item, DelayMode::block_batch});
    CHECK(error_of([] { (void)parse_delay_modes("busy_item,sleepy"); }).find("'sleepy'") != std::string::npos);
}

TEST_CASE("expand: the grid is the cartesian product, ids name every parameter", "[harness][grid]") {
    Grid g;
    g.scenario = "mpsm";
    g.producers = {2, 4};
    g.mergers = {1, 2};
    g.ring_size = {64, 1024};
    g.items = {8000};
    g.rounds = {10};
    ParamUse u;
    u.mergers = true;
    const auto pts = expand(g, u);
    CHECK(pts.size() == 8);
    CHECK(pts.front().id() == "mpsm|consumer_delay_ns=0|delay_mode=busy_item|items=8000|mergers=1|producers=2|ring_size=64|rounds=10");
}

TEST_CASE("expand: parameters a scenario ignores are fixed, so the grid does not repeat points", "[harness][grid]") {
    Grid g;
    g.scenario = "ring";
    g.producers = {1, 2, 4};
    g.mergers = {1, 2};
    g.items = {1000};
    g.rounds = {1};
    ParamUse single;
    single.producers = false;
    const auto pts = expand(g, single);
    REQUIRE(pts.size() == 1);
    CHECK(pts[0].params.producers == 1);
    CHECK(pts[0].params.mergers == 1);
}

TEST_CASE("expand: impossible points are input errors naming the value", "[harness][grid]") {
    ParamUse u;
    u.mergers = true;
    Grid g;
    g.scenario = "mpsm";
    g.items = {1000};
    g.rounds = {1};
    SECTION("zero producers") {
        g.producers = {0, 1};
        CHECK(error_of([&] { (void)expand(g, u); }).find("0 producers") != std::string::npos);
    }
    SECTION("more mergers than producers") {
        g.producers = {2};
        g.mergers = {3};
        CHECK(error_of([&] { (void)expand(g, u); }).find("3 mergers for 2 producers") != std::string::npos);
    }
    SECTION("a ring size that is not a power of two, or out of range") {
        for (std::uint64_t bad : {100u, 32u, 131072u, 0u}) {
            g.ring_size = {bad};
            const std::string msg = error_of([&] { (void)expand(g, u); });
            CHECK(one_line(msg));
            CHECK(msg.find("--ring-size: " + std::to_string(bad)) != std::string::npos);
        }
    }
    SECTION("fewer items than producers x rounds") {
        g.producers = {4};
        g.rounds = {1000};
        CHECK(error_of([&] { (void)expand(g, u); }).find("--items: 1000") != std::string::npos);
    }
}

TEST_CASE("parse_sweep: settings, grid defaults and sections", "[harness][sweep]") {
    const std::string text =
        "# a comment\n"
        "repetitions = 2\n"
        "warmup = 0\n"
        "pin = scatter\n"
        "items = 5000   # trailing comment\n"
        "\n"
        "[pool]\n"
        "producers = 1-2\n"
        "[mpsm]\n"
        "producers = 4\n"
        "mergers = 1,2\n"
        "items = 8000\n"
        "[pool]\n"
        "ring-size = 64\n";
    const SweepFile f = parse_sweep(text, "t");
    CHECK(f.settings.repetitions == 2u);
    CHECK(f.settings.warmup == 0u);
    CHECK(f.settings.pin == std::string("scatter"));
    REQUIRE(f.grids.size() == 3);
    CHECK(f.grids[0].scenario == "pool");
    CHECK(f.grids[0].producers == V{1, 2});
    CHECK(f.grids[0].items == V{5000});
    CHECK(f.grids[1].mergers == V{1, 2});
    CHECK(f.grids[1].items == V{8000});
    CHECK(f.grids[2].ring_size == V{64});
    CHECK(f.grids[2].producers == V{2});  // the built-in default, not the previous section's
    CHECK(f.grids[1].origin == "t:9");
}

TEST_CASE("parse_sweep: a malformed line is an error that names the file, the line and the text", "[harness][sweep]") {
    struct Case {
        std::string text;
        std::string expect;
    };
    for (const Case& c : std::vector<Case>{{"[pool\n", "f:1: malformed section header '[pool'"},
                                           {"[pool]\nproducers 2\n", "f:2: malformed line 'producers 2'"},
                                           {"[pool]\nproducers = 1,,2\n", "f:2: --producers: malformed list '1,,2'"},
                                           {"[pool]\ncolour = red\n", "f:2: unknown key 'colour'"},
                                           {"pin = diagonal\n[pool]\n", "f:1: --pin: unknown policy 'diagonal'"},
                                           {"[pool]\nitems =\n", "f:2: key 'items' has no value"},
                                           {"[pool]\nrepetitions = 3\n", "f:2: unknown key 'repetitions'"},
                                           {"# nothing\n", "f: no [scenario] section"}}) {
        INFO(c.text);
        const std::string msg = error_of([&] { (void)parse_sweep(c.text, "f"); });
        CHECK(one_line(msg));
        CHECK(msg.find(c.expect) != std::string::npos);
    }
}

TEST_CASE("load_sweep: a file that cannot be read is an error naming it", "[harness][sweep]") {
    CHECK(error_of([] { (void)load_sweep("/nonexistent/sweep"); }).find("'/nonexistent/sweep'") != std::string::npos);
    CHECK(error_of([] { (void)load_sweep("/"); }).find("'/'") != std::string::npos);
}

namespace {
// A directory of sweep files for one test, removed with it.
struct SweepDir {
    std::filesystem::path dir = std::filesystem::temp_directory_path() / ("spill-sweep-test-" + std::to_string(::getpid()));
    SweepDir() { std::filesystem::create_directories(dir); }
    ~SweepDir() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    SweepDir(const SweepDir&) = delete;
    SweepDir& operator=(const SweepDir&) = delete;
    std::string write(const std::string& name, const std::string& text) const {
        const std::filesystem::path p = dir / name;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream(p) << text;
        return p.string();
    }
};
}  // namespace

TEST_CASE("sweep include: the included file's sections join where the include stands, each from its own file's defaults",
          "[harness][sweep]") {
    const SweepDir d;
    d.write("parts/shared", "items = 9000\nrounds = 30\n[fan_in]\nproducers = 1,2\n[baseline_x]\nring-size = 64\n");
    const std::string top = d.write("top",
                                    "repetitions = 5\n"
                                    "items = 7000\n"
                                    "[pool]\n"
                                    "include = parts/shared\n");  // inside [pool]: an error
    CHECK(error_of([&] { (void)load_sweep(top); }).find("top:4: 'include' is a file-wide key") != std::string::npos);

    const std::string good = d.write("good", "repetitions = 5\nitems = 7000\ninclude = parts/shared\n[pool]\n");
    const SweepFile f = load_sweep(good);
    CHECK(f.settings.repetitions == 5u);
    REQUIRE(f.grids.size() == 3);
    CHECK(f.grids[0].scenario == "fan_in");
    CHECK(f.grids[0].items == V{9000});  // the included file's default, not the including file's 7000
    CHECK(f.grids[0].rounds == V{30});
    CHECK(f.grids[0].producers == V{1, 2});
    CHECK(f.grids[1].scenario == "baseline_x");
    CHECK(f.grids[1].ring_size == V{64});
    CHECK(f.grids[1].origin == (d.dir / "parts/shared").string() + ":5");  // a section says which file and line it came from
    CHECK(f.grids[2].scenario == "pool");
    CHECK(f.grids[2].items == V{7000});
    CHECK(f.grids[2].rounds == V{100});  // the built-in default: the included file's defaults stay in it

    SECTION("an include is read relative to the including file, from any working directory") {
        const SweepFile same = parse_sweep("include = parts/shared\n", (d.dir / "elsewhere").string());
        CHECK(same.grids.size() == 2);
    }
}

TEST_CASE("sweep include: a missing file, a cycle or a setting in an included file is an error naming the line", "[harness][sweep]") {
    const SweepDir d;
    struct Case {
        std::string text;
        std::string expect;
    };
    d.write("sets", "repetitions = 3\n[pool]\n");
    d.write("a", "include = b\n[pool]\n");
    d.write("b", "include = a\n[pool]\n");
    d.write("empty", "items = 5\n");
    d.write("bad", "[pool]\nproducers = 1,,2\n");
    for (const Case& c : std::vector<Case>{
             {"include = nope\n[pool]\n", "f:1: cannot read sweep file '"},
             {"include = sets\n", "f:1: " + (d.dir / "sets").string() + ":1: 'repetitions' cannot be set in an included file"},
             {"include = a\n", "b:1: '" + (d.dir / "a").string() + "' is already being read (an include cycle)"},
             {"include = empty\n[pool]\n", "f:1: " + (d.dir / "empty").string() + ": no [scenario] section"},
             {"include = bad\n", "f:1: " + (d.dir / "bad").string() + ":2: --producers: malformed list '1,,2'"},
         }) {
        INFO(c.text);
        const std::string msg = error_of([&] { (void)load_sweep(d.write("f", c.text)); });
        CHECK(one_line(msg));
        CHECK(msg.find(c.expect) != std::string::npos);
    }
}

TEST_CASE("expand: the open-loop rate is swept only by paced scenarios and named in their ids", "[harness][grid][latency]") {
    Grid g;
    g.scenario = "latency_open";
    g.items = {4000};
    g.rounds = {10};
    g.producers = {2};
    REQUIRE(set_grid_param(g, "rate-items-per-s", "1000,20000-80000:x2"));
    ParamUse paced;
    paced.rate = true;
    const auto pts = expand(g, paced);
    REQUIRE(pts.size() == 4);
    CHECK(pts[1].params.rate_items_per_s == 20000);
    CHECK(pts[1].id() ==
          "latency_open|consumer_delay_ns=0|delay_mode=busy_item|items=4000|mergers=1|producers=2|rate_items_per_s=20000|ring_size=1024|rounds=10");
    SECTION("a scenario that does not pace ignores the rate: one point, the id of before") {
        g.scenario = "latency";
        const auto closed = expand(g, ParamUse{});
        REQUIRE(closed.size() == 1);
        CHECK(closed[0].params.rate_items_per_s == 0);
        CHECK(closed[0].id() == "latency|consumer_delay_ns=0|delay_mode=busy_item|items=4000|mergers=1|producers=2|ring_size=1024|rounds=10");
    }
    SECTION("a zero, too high or too slow rate is an input error naming the value") {
        g.rate_items_per_s = {0};
        std::string msg = error_of([&] { (void)expand(g, paced); });
        CHECK(one_line(msg));
        CHECK(msg.find("--rate-items-per-s: 0") != std::string::npos);
        g.rate_items_per_s = {2000000000};
        msg = error_of([&] { (void)expand(g, paced); });
        CHECK(msg.find("--rate-items-per-s: 2000000000") != std::string::npos);
        g.rate_items_per_s = {1};
        msg = error_of([&] { (void)expand(g, paced); });  // 4000 items at 1 item/s: over an hour
        CHECK(one_line(msg));
        CHECK(msg.find("--rate-items-per-s: 1 items/s") != std::string::npos);
    }
    SECTION("a malformed rate names the option and the value") {
        CHECK(error_of([&] { (void)set_grid_param(g, "rate-items-per-s", "fast"); }).find("--rate-items-per-s: malformed value 'fast'") !=
              std::string::npos);
    }
    SECTION("sweep files take it as a grid key") {
        const SweepFile f = parse_sweep("[latency_open]\nrate-items-per-s = 5000,10000\n", "x.sweep");
        REQUIRE(f.grids.size() == 1);
        CHECK(f.grids[0].rate_items_per_s == V{5000, 10000});
    }
}

TEST_CASE("grid: placement is a list of classes; a swept class is part of the id", "[grid][placement]") {
    using S = std::vector<std::string>;
    CHECK(parse_placements("same_l3") == S{"same_l3"});
    CHECK(parse_placements(" same_l3 , other_l3,same_l3") == S{"same_l3", "other_l3"});  // duplicates dropped, order kept
    CHECK(parse_placements("all") == S{"all"});
    std::string msg = error_of([] { (void)parse_placements("diagonal"); });
    CHECK(one_line(msg));
    CHECK(msg.find("--placement: unknown class 'diagonal'") != std::string::npos);
    CHECK(error_of([] { (void)parse_placements("same_l3,,other_l3"); }).find("empty element") != std::string::npos);

    Grid g;
    g.scenario = "pool";
    CHECK(set_grid_param(g, "placement", "same_core,other_numa"));
    CHECK(g.placement == S{"same_core", "other_numa"});
    PointSpec p = expand(g, ParamUse{}).front();
    const std::string plain = p.id();
    CHECK(plain.find("placement") == std::string::npos);  // expand() leaves the class to the runner
    p.params.placement = "same_l3";
    CHECK(p.id() == "pool|consumer_delay_ns=0|delay_mode=busy_item|items=100000|mergers=1|placement=same_l3|producers=2|ring_size=1024|rounds=100");

    const SweepFile f = parse_sweep("placement = same_l3\n[pool]\n[fan_in]\nplacement = all\n", "x.sweep");
    REQUIRE(f.grids.size() == 2);
    CHECK(f.grids[0].placement == S{"same_l3"});
    CHECK(f.grids[1].placement == S{"all"});
}

TEST_CASE("expand: --batch is read only by the scenarios with a bulk call; without it each takes its default", "[harness][grid][batch]") {
    Grid g;
    g.scenario = "baseline_x";
    g.items = {1000};
    g.ring_size = {64, 1024};
    ParamUse queue;
    queue.rounds = false;
    queue.batch = true;
    queue.default_batch = 256;
    auto pts = expand(g, queue);
    REQUIRE(pts.size() == 2);
    CHECK(pts[0].params.batch == 64);  // min(default, ring size): a bulk call never moves more than the capacity
    CHECK(pts[1].params.batch == 256);
    CHECK(pts[1].id() == "baseline_x|batch=256|consumer_delay_ns=0|delay_mode=busy_item|items=1000|mergers=1|producers=2|ring_size=1024|rounds=1");
    g.batch = {1, 64};
    CHECK(expand(g, queue).size() == 4);
    // A scenario without a bulk call: no batch in the point or its id, whatever the grid says.
    g.scenario = "pool";
    pts = expand(g, ParamUse{});
    REQUIRE(pts.size() == 2);
    CHECK(pts[0].params.batch == 0);
    CHECK(pts[0].id().find("batch") == std::string::npos);
    // 0 items per call is bad input, for a scenario that reads it.
    g.batch = {0};
    const std::string msg = error_of([&] { (void)expand(g, queue); });
    CHECK(msg.find("--batch: 0") != std::string::npos);
    CHECK(one_line(msg));
    CHECK(error_of([&] { (void)expand(g, ParamUse{}); }).empty());
}

TEST_CASE("expand: --one-cpu 1 is named in the id, takes only 0 or 1, and excludes a placement class", "[harness][grid][contend]") {
    Grid g;
    g.scenario = "fan_in";
    g.items = {1000};
    g.contend = {1};
    g.one_cpu = {0, 1};
    const auto pts = expand(g, ParamUse{});
    REQUIRE(pts.size() == 2);
    CHECK(pts[0].id().find("one_cpu") == std::string::npos);
    CHECK(pts[1].params.one_cpu == 1);
    CHECK(pts[1].id() ==
          "fan_in|consumer_delay_ns=0|contend=1|delay_mode=busy_item|items=1000|mergers=1|one_cpu=1|producers=2|ring_size=1024|rounds=100");
    g.one_cpu = {2};
    std::string msg = error_of([&] { (void)expand(g, ParamUse{}); });
    CHECK(msg.find("--one-cpu: 2") != std::string::npos);
    CHECK(one_line(msg));
    g.one_cpu = {1};
    g.placement = {"same_l3"};
    msg = error_of([&] { (void)expand(g, ParamUse{}); });
    CHECK(msg.find("--one-cpu: 1") != std::string::npos);
    CHECK(msg.find("--placement") != std::string::npos);
    Grid h;
    CHECK(set_grid_param(h, "one-cpu", "0,1"));
    CHECK(h.one_cpu == V{0, 1});
}

TEST_CASE("pinning_slot: with --one-cpu 1 the point's threads share slot 0 and neighbours follow it", "[harness][grid][contend]") {
    Params p;
    CHECK(pinning_slot(p, "producer", 1, 2, 4) == 2);  // the scenario's own numbering
    CHECK(pinning_slot(p, "neighbour", 0, 3, 4) == 3);
    p.one_cpu = 1;
    CHECK(pinning_slot(p, "consumer", 0, 0, 4) == 0);
    CHECK(pinning_slot(p, "producer", 1, 2, 4) == 0);
    CHECK(pinning_slot(p, "neighbour", 0, 3, 4) == 1);
    CHECK(pinning_slot(p, "neighbour", 2, 5, 4) == 3);
}

TEST_CASE("pinning_slot: with --consumer-alone 1 the consumer has slot 0 and every other thread the slots after it", "[harness][grid]") {
    Params p;
    p.consumer_alone = 1;
    // fan_in with 4 producers (slots 0..3), its consumer (4) and a neighbour (5), on 2 CPUs:
    // the consumer on the first, everything else on the second.
    CHECK(pinning_slot(p, "consumer", 0, 4, 2) == 0);
    for (std::size_t s = 0; s < 4; ++s) CHECK(pinning_slot(p, "producer", s, s, 2) == 1);
    CHECK(pinning_slot(p, "neighbour", 0, 5, 2) == 1);
    // On 4 CPUs the others take CPUs 1..3 in turn.
    CHECK(pinning_slot(p, "producer", 0, 0, 4) == 1);
    CHECK(pinning_slot(p, "producer", 1, 1, 4) == 2);
    CHECK(pinning_slot(p, "producer", 2, 2, 4) == 3);
    CHECK(pinning_slot(p, "producer", 3, 3, 4) == 1);
    CHECK(pinning_slot(p, "consumer", 0, 4, 4) == 0);
    CHECK(pinning_slot(p, "owner", 0, 5, 4) == 3);
    // A plan of one CPU has no CPU to spare: the scenario's numbering (the plan refuses such a run).
    CHECK(pinning_slot(p, "producer", 1, 1, 1) == 1);
}

TEST_CASE("expand: --consumer-alone 1 is named in the id, takes only 0 or 1, excludes --one-cpu 1 and is swept only where there is a consumer",
          "[harness][grid]") {
    Grid g;
    g.scenario = "fan_in";
    g.items = {1000};
    g.consumer_alone = {0, 1};
    ParamUse with_consumer;
    with_consumer.consumer_alone = true;
    const auto pts = expand(g, with_consumer);
    REQUIRE(pts.size() == 2);
    CHECK(pts[0].id().find("consumer_alone") == std::string::npos);
    CHECK(pts[1].params.consumer_alone == 1);
    CHECK(pts[1].id() ==
          "fan_in|consumer_alone=1|consumer_delay_ns=0|delay_mode=busy_item|items=1000|mergers=1|producers=2|ring_size=1024|rounds=100");
    CHECK(expand(g, ParamUse{}).size() == 1);  // no consumer thread: one point, without it
    g.consumer_alone = {2};
    std::string msg = error_of([&] { (void)expand(g, with_consumer); });
    CHECK(msg.find("--consumer-alone: 2") != std::string::npos);
    CHECK(one_line(msg));
    g.consumer_alone = {1};
    g.one_cpu = {0, 1};
    msg = error_of([&] { (void)expand(g, with_consumer); });
    CHECK(msg.find("--consumer-alone: 1") != std::string::npos);
    CHECK(msg.find("--one-cpu 1") != std::string::npos);
    CHECK(one_line(msg));
    CHECK(error_of([&] { (void)expand(g, ParamUse{}); }).empty());  // ignored where there is no consumer
    Grid h;
    CHECK(set_grid_param(h, "consumer-alone", "0,1"));
    CHECK(h.consumer_alone == V{0, 1});
}

TEST_CASE("expand: --contend is swept by every scenario and named in the id when not 0", "[harness][grid][contend]") {
    Grid g;
    g.scenario = "ring";
    g.items = {1000};
    g.contend = {0, 2};
    ParamUse single;
    single.producers = false;
    const auto pts = expand(g, single);
    REQUIRE(pts.size() == 2);
    CHECK(pts[0].id() == "ring|consumer_delay_ns=0|delay_mode=busy_item|items=1000|mergers=1|producers=1|ring_size=1024|rounds=100");
    CHECK(pts[1].params.contend == 2);
    CHECK(pts[1].id() == "ring|consumer_delay_ns=0|contend=2|delay_mode=busy_item|items=1000|mergers=1|producers=1|ring_size=1024|rounds=100");
    g.contend = {max_contend + 1};
    const std::string msg = error_of([&] { (void)expand(g, single); });
    CHECK(msg.find("--contend: 65") != std::string::npos);
    CHECK(one_line(msg));
    CHECK(error_of([] { (void)parse_list("-1", "--contend"); }).find("'-1'") != std::string::npos);
    Grid h;
    CHECK(set_grid_param(h, "contend", "0-2"));
    CHECK(h.contend == V{0, 1, 2});
    CHECK(set_grid_param(h, "batch", "64,512"));
    CHECK(h.batch == V{64, 512});
}

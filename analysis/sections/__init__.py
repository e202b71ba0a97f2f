"""The report's sections, in the order the report shows them.

Each section is one module with:

* `KEY`: the name of its data in the report (`report.build_report(...)[KEY]`);
* `compute(ctx) -> dict`: pure, returns plain data (ctx has "inputs", a list
  of (path, document), and "points", every point of them);
* `render_figures(data) -> {name: {"title", "png"}}`: the plots it allows;
* `document_blocks(data, figures) -> [block]`: its text, tables and images
  as blocks ("h2", "h3", "p", "list", "table", "img"), starting with its "h2".

A new plot is a new module here, added to SECTIONS (see analysis/README.md).
The headline comes first; the detail sections follow, grouped by question.
"""

from __future__ import annotations

import report_handoff
from sections import backpressure, contenders, cost, headline, hosts, latency, noise, points, ring_size, run, scaling

SECTIONS = (
    headline,        # every contender on each job, the ratio to the best peer, one sentence each
    run,             # where and how the run was made
    hosts,           # which points ran on which host (only when more than one)
    scaling,         # throughput and speedup vs producers; mergers
    contenders,      # the baseline queues next to fan_in on equal terms
    ring_size,       # throughput vs ring capacity and round size
    backpressure,    # where the items went as the consumer slows down
    latency,         # latency CCDFs, closed and open loop
    cost,            # floors, CPU per role, counters per item, unavailable counters
    report_handoff,  # handoff statistics, per-role counters, placement
    noise,           # medians with CIs, bimodal points
    points,          # notes and every point
)

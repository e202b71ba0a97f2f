// harness/src/figure.hpp: figures that may be undefined, and the summary
// statistics of a metric over repetitions.
//
// Undefined is never zero: a figure that cannot be computed (the coefficient
// of variation of one repetition, a rate over no handoffs, a multiple of a
// floor that was not measured) has no value and says why. In a result file
// it is null, and its reason is in the enclosing object's "undefined" map
// under the same key (harness/SCHEMA.md, "Undefined figures").
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "results.hpp"

namespace spill::bench {

/// A number, or why there is none.
struct Figure {
    std::optional<double> value;
    std::string why;  // non-empty exactly when value is empty

    static Figure of(double v);  // a non-finite v is undefined ("not a finite number")
    static Figure undefined(std::string why) { return Figure{std::nullopt, std::move(why)}; }
    /// num / den; undefined with `why` when den is not positive or either side is not finite.
    static Figure ratio(double num, double den, std::string why);
    /// This figure divided by `den` (undefined stays undefined, with its reason).
    [[nodiscard]] Figure over(const Figure& den, const std::string& why_zero) const;
};
/// obj[key] = the value or null; a null's reason goes to obj["undefined"][key].
void put(json& obj, const std::string& key, const Figure& f);

/// Summary statistics of one metric over the repetitions: median, min, max,
/// coefficient of variation (sample standard deviation over the mean), and n.
struct Stat {
    std::size_t n = 0;
    Figure median, min, max, cv;
};
Stat summarize(const std::vector<double>& values);
/// {"median", "min", "max", "cv", "n"} and "undefined" for the null ones.
json to_json(const Stat& s);

}  // namespace spill::bench

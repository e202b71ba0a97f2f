// harness/src/figure.cpp: see figure.hpp.
#include "figure.hpp"

#include <algorithm>
#include <cmath>

namespace spill::bench {

Figure Figure::of(double v) {
    if (!std::isfinite(v)) return undefined("not a finite number");
    return Figure{v, {}};
}

Figure Figure::ratio(double num, double den, std::string why) {
    if (!(den > 0) || !std::isfinite(den) || !std::isfinite(num)) return undefined(std::move(why));
    return Figure{num / den, {}};
}

Figure Figure::over(const Figure& den, const std::string& why_zero) const {
    if (!value) return *this;
    if (!den.value) return den;
    return ratio(*value, *den.value, why_zero);
}

void put(json& obj, const std::string& key, const Figure& f) {
    if (f.value) {
        obj[key] = *f.value;
        return;
    }
    obj[key] = nullptr;
    obj["undefined"][key] = f.why.empty() ? std::string("no reason recorded") : f.why;
}

Stat summarize(const std::vector<double>& values) {
    Stat s;
    s.n = values.size();
    if (values.empty()) {
        const std::string why = "no measured repetition";
        s.median = s.min = s.max = s.cv = Figure::undefined(why);
        return s;
    }
    std::vector<double> v = values;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    s.median = Figure::of(n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
    s.min = Figure::of(v.front());
    s.max = Figure::of(v.back());
    if (n < 2) {
        s.cv = Figure::undefined("one repetition: the coefficient of variation needs at least 2");
        return s;
    }
    double mean = 0;
    for (double x : v) mean += x;
    mean /= static_cast<double>(n);
    double var = 0;
    for (double x : v) var += (x - mean) * (x - mean);
    var /= static_cast<double>(n - 1);
    s.cv = Figure::ratio(std::sqrt(var), std::abs(mean), "the mean is 0");
    return s;
}

json to_json(const Stat& s) {
    json j;
    put(j, "median", s.median);
    put(j, "min", s.min);
    put(j, "max", s.max);
    put(j, "cv", s.cv);
    j["n"] = s.n;
    if (j.contains("undefined")) {  // keep "undefined" last, after every figure
        json why = j["undefined"];
        j.erase("undefined");
        j["undefined"] = std::move(why);
    }
    return j;
}

}  // namespace spill::bench

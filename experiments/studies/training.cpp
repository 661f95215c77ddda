// studies/training.cpp — the studies that train the VGG16: lockstep, train,
// fixes, layers. They share one trainer: a model, Adam, one of the two
// losses in one of the two implementations, and a step that records what
// the original investigation's tables show (loss, logit mean and std, % saturated, the final
// layer's gradient norm).
#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>

#include <logitloss/diagnostics.hpp>

#include "data/synth.hpp"
#include "torch_common.hpp"

namespace logitloss::experiments::studies {

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

struct run_spec {
    std::string label;  // for tables and progress
    init initialization = init::raschka;
    bool batch_norm = false;
    double lr = 1e-3;
    double weight_decay = 0;
    double clip = 0;  // maximum total gradient norm; 0: no clipping
    loss_fn loss = loss_fn::sigmoid_bce;
};

struct step_record {
    int step = 0;
    double loss = nan;
    logit_stats logits;
    double fc3_grad = nan;   // norm of the final layer's weight gradient, in float64
    double grad_norm = nan;  // norm of the whole gradient, before any clipping
    std::vector<double> layer_grads;
    double seconds = nan;  // the whole step's time; NaN for a step stopped before its update
};

// The norm of a parameter's gradient as a one-element float64 tensor on the
// parameter's device (0 where it has none), computed in the gradient's own
// precision as Tensor::norm does, or in float64 (exact_zero): a float32 norm
// is 0 also for a gradient whose elements are all below about 1e-23 (their
// squares underflow), and the final layer's norm is read as "exactly 0".
torch::Tensor grad_norm_of(const torch::Tensor& parameter, bool exact_zero = false) {
    const torch::Tensor& g = parameter.grad();
    if (!g.defined()) return torch::zeros({1}, parameter.options().dtype(torch::kDouble));
    return (exact_zero ? g.to(torch::kDouble).norm() : g.norm().to(torch::kDouble)).reshape({1});
}

class trainer {
public:
    trainer(const run_spec& spec, const plan& p, std::uint64_t weights_seed, const torch::Device& device,
            loss_impl impl)
        : spec_(spec),
          impl_(impl),
          model_(make_model(p, spec.initialization, spec.batch_norm, weights_seed, device)),
          adam_(model_->parameters(), torch::optim::AdamOptions(spec.lr).weight_decay(spec.weight_decay)) {}

    // From now on, multiply each logit's gradient by 1 + 2^-23 or 1 - 2^-23
    // (about one float32 ulp, the sign drawn from `seed` per element and
    // step): a run that differs from this one by rounding alone, the
    // yardstick of lockstep --compare.
    void perturb(std::uint64_t seed) {
        perturb_ = true;
        perturb_seed_ = seed;
    }

    // One optimizer step on (x, y). The dropout masks come from
    // `dropout_seed`, so two trainers given the same seed draw the same
    // masks. When the logits are not finite the run stops (no update): the
    // record says so, and stopped() is true from then on.
    step_record step(const torch::Tensor& x, const torch::Tensor& y, int index, std::uint64_t dropout_seed,
                     bool layers) {
        const auto start = std::chrono::steady_clock::now();
        step_record r;
        r.step = index;
        torch::manual_seed(dropout_seed);
        adam_.zero_grad();
        const torch::Tensor logits = model_->forward(x);
        r.logits = stats_of(logits);
        if (!r.logits.finite) {
            stopped_ = true;
            return r;
        }
        if (perturb_) {
            std::vector<float> factor(static_cast<std::size_t>(logits.numel()));
            celeba::synth::rng signs(mix_seed(perturb_seed_, static_cast<std::uint64_t>(index)));
            for (float& f : factor) f = signs.chance(0.5f) ? 1.0f + 0x1p-23f : 1.0f - 0x1p-23f;
            const torch::Tensor scale = torch::tensor(factor).reshape(logits.sizes()).to(logits.device());
            logits.register_hook([scale](const torch::Tensor& g) { return g * scale; });
        }
        const torch::Tensor loss = loss_of(spec_.loss, impl_, logits, y);
        loss.backward();
        // The loss and every gradient norm the record needs, gathered on the
        // device and copied to the host at once: one synchronisation per
        // step instead of one per value (a VGG16 has 32 parameters).
        const auto parameters = model_->parameters();
        const auto weights = layers ? model_->layer_weights() : std::vector<std::pair<std::string, torch::Tensor>>{};
        std::vector<torch::Tensor> values{loss.detach().to(torch::kDouble).reshape({1}),
                                          grad_norm_of(model_->last()->weight, true)};
        for (const auto& parameter : parameters) values.push_back(grad_norm_of(parameter));
        for (const auto& named : weights) values.push_back(grad_norm_of(named.second));
        const torch::Tensor host = torch::cat(values).to(torch::kCPU);
        const double* v = host.data_ptr<double>();
        r.loss = v[0];
        if (!std::isfinite(r.loss)) {
            stopped_ = true;
            return r;
        }
        r.fc3_grad = v[1];
        double squares = 0;
        for (std::size_t i = 0; i < parameters.size(); ++i) squares += v[2 + i] * v[2 + i];
        r.grad_norm = std::sqrt(squares);
        r.layer_grads.assign(v + 2 + parameters.size(), v + 2 + parameters.size() + weights.size());
        if (spec_.clip > 0) torch::nn::utils::clip_grad_norm_(parameters, spec_.clip);
        adam_.step();
        synchronize(x.device());  // the step's own update, not the next step's wait for it
        r.seconds = seconds_since(start);
        return r;
    }

    bool stopped() const { return stopped_; }
    VGG16& model() { return model_; }

private:
    run_spec spec_;
    loss_impl impl_;
    VGG16 model_;
    torch::optim::Adam adam_;
    bool stopped_ = false;
    bool perturb_ = false;
    std::uint64_t perturb_seed_ = 0;
};

bool same_weights(VGG16& a, VGG16& b) {
    const auto pa = a->parameters(), pb = b->parameters();
    if (pa.size() != pb.size()) return false;
    for (std::size_t i = 0; i < pa.size(); ++i)
        if (!torch::equal(pa[i], pb[i])) return false;
    return true;
}

// The batches of a run: `steps` batches of `batch` images, in the order of
// batch_order(seed); the same seed gives every run the same batches.
class batches {
public:
    batches(const image_set& data, int batch, int steps, std::uint64_t seed, const torch::Device& device)
        : data_(data), batch_(batch) {
        const auto order = batch_order(data.size(), static_cast<std::size_t>(batch) * static_cast<std::size_t>(steps),
                                       seed);
        order_ = torch::tensor(order, torch::kLong).to(device);
    }
    std::pair<torch::Tensor, torch::Tensor> at(int step) const {
        const torch::Tensor idx = order_.narrow(0, static_cast<std::int64_t>(step) * batch_, batch_);
        return {data_.images.index_select(0, idx), data_.labels.index_select(0, idx)};
    }

private:
    const image_set& data_;
    std::int64_t batch_;
    torch::Tensor order_;
};

std::uint64_t weights_seed(std::uint64_t seed) { return mix_seed(seed, 1); }
std::uint64_t order_seed(std::uint64_t seed) { return mix_seed(seed, 2); }
std::uint64_t dropout_seed(std::uint64_t seed, int step) { return mix_seed(seed, 1000 + static_cast<std::uint64_t>(step)); }

std::string percent(double v) { return fixed(v, 1) + "%"; }

// Logit statistics with the original tables' two decimals, and significant digits
// where two decimals would print a small value as 0.00.
std::string stat(double v) { return v == 0 || std::fabs(v) >= 0.01 || !std::isfinite(v) ? fixed(v, 2) : general(v, 3); }

// A gnuplot datablock: `$name << EOD`, the rows, EOD.
std::string datablock(const std::string& name, const std::string& rows) {
    return "$" + name + " << EOD\n" + rows + "EOD\n";
}

// Values drawn on a log axis: exact zeros at `floor`, so that a dead
// gradient shows as a line on the bottom instead of a gap.
std::string log_value(double v, double floor = 1e-12) {
    if (!std::isfinite(v)) return "NaN";
    return exact(std::max(std::fabs(v), floor));
}

int checked_steps(const plan& p) {
    if (p.steps < 1) throw std::runtime_error("the study needs at least one step");
    return p.steps;
}

void check_batch(const data_sets& d, const plan& p, const std::string& study) {
    if (d.train.size() < static_cast<std::size_t>(p.batch))
        throw std::runtime_error(study + ": " + std::to_string(d.train.size()) + " training images, fewer than one batch of " +
                                 std::to_string(p.batch) + " (use more images or --batch)");
}

const std::vector<double>& main_lrs() {
    static const std::vector<double> lrs = {1e-3, 1e-4};
    return lrs;
}

// ---- lockstep ---------------------------------------------------------------------

struct lockstep_config {
    init initialization;
    double lr;
    std::string label() const { return std::string("init ") + init_name(initialization) + ", Adam lr " + lr_text(lr); }
};

struct lockstep_run {
    loss_impl impl;
    bool perturbed = false;  // the rounding twin of --compare
    lockstep_config config;
    loss_fn loss;
    std::vector<step_record> steps;
    bool stopped = false;
};

// One pass of lockstep: an implementation, and whether it is the rounding
// twin of --compare.
struct lockstep_pass {
    loss_impl impl;
    bool perturbed = false;
};

// Runs every configuration with every pass; result[i] holds pass i's runs,
// both losses of each configuration. All of a configuration's trainers
// start from identical weights and see identical batches and dropout
// masks, and they take each step in turn (pass by pass, then the next
// step), so that a pass's step times are measured beside the other's, not
// minutes apart on a device whose clocks and caches change meanwhile.
std::vector<std::vector<lockstep_run>> run_lockstep_passes(const settings& s, const plan& p, const data_sets& d,
                                                           const torch::Device& device,
                                                           const std::vector<lockstep_pass>& passes,
                                                           const std::vector<lockstep_config>& configs,
                                                           progress& bar, double& done, bool layers) {
    std::vector<std::vector<lockstep_run>> result(passes.size());
    const int steps = checked_steps(p);
    for (const auto& config : configs) {
        run_spec a, b;
        a.initialization = b.initialization = config.initialization;
        a.lr = b.lr = config.lr;
        a.loss = loss_fn::sigmoid_bce;
        b.loss = loss_fn::bce_with_logits;
        // Trainers 2i and 2i + 1 are pass i's two losses.
        std::vector<std::unique_ptr<trainer>> trainers;
        std::vector<lockstep_run> runs;
        for (const auto& pass : passes) {
            for (const run_spec* spec : {&a, &b}) {
                trainers.push_back(std::make_unique<trainer>(*spec, p, weights_seed(s.seed), device, pass.impl));
                if (pass.perturbed) trainers.back()->perturb(mix_seed(s.seed, 3));
                runs.push_back(lockstep_run{pass.impl, pass.perturbed, config, spec->loss, {}, false});
                if (!same_weights(trainers.front()->model(), trainers.back()->model()))
                    throw std::logic_error("lockstep: the copies do not start from identical weights");
            }
        }
        const batches data(d.train, p.batch, steps, order_seed(s.seed), device);
        for (int k = 0; k < steps; ++k) {
            const auto [x, y] = data.at(k);
            synchronize(device);  // the batch's gather, not charged to the first trainer's step
            for (std::size_t i = 0; i < passes.size(); ++i) {
                for (std::size_t j = 2 * i; j < 2 * i + 2; ++j) {
                    trainer& t = *trainers[j];
                    if (t.stopped()) continue;
                    runs[j].steps.push_back(t.step(x, y, k, dropout_seed(s.seed, k), layers));
                    runs[j].stopped = t.stopped();
                }
                done += 1;
                bar.update(done, std::string(impl_name(passes[i].impl)) + (passes[i].perturbed ? " (perturbed)" : "") +
                                     ", " + config.label() + ", step " + std::to_string(k + 1) + "/" +
                                     std::to_string(steps));
            }
        }
        for (std::size_t j = 0; j < runs.size(); ++j) result[j / 2].push_back(std::move(runs[j]));
    }
    return result;
}

void lockstep_table(std::ostream& md, const lockstep_run& r, int steps) {
    md << "**" << loss_label(r.loss) << "**\n\n";
    md << "| Batch | loss | logit_mean | logit_std | saturated% | fc3_grad_norm |\n";
    md << "|---:|---:|---:|---:|---:|---:|\n";
    // Every step up to 15 (as the original tables), then every 5th and the last;
    // the CSV has them all.
    for (std::size_t i = 0; i < r.steps.size(); ++i) {
        const step_record& x = r.steps[i];
        const bool shown = x.step <= 15 || x.step % 5 == 0 || i + 1 == r.steps.size();
        if (!shown) continue;
        md << "| " << x.step << " | " << general(x.loss, 6) << " | " << stat(x.logits.mean) << " | "
           << stat(x.logits.std) << " | " << percent(x.logits.saturated_pct) << " | " << general(x.fc3_grad, 6)
           << " |\n";
    }
    if (r.stopped)
        md << "\nStopped at step " << r.steps.back().step << ": the logits were no longer finite.\n";
    else if (static_cast<int>(r.steps.size()) < steps)
        md << "\n(" << r.steps.size() << " of " << steps << " steps)\n";
    md << "\n";
}

std::string lockstep_csv(const std::vector<std::vector<lockstep_run>>& passes) {
    std::string csv = csv_line({"impl", "init", "lr", "loss", "step", "loss_value", "logit_mean", "logit_std",
                                "logit_min", "logit_max", "saturated_pct", "dead_pct", "fc3_grad_norm", "grad_norm",
                                "seconds"});
    for (const auto& runs : passes)
        for (const auto& r : runs)
            for (const auto& x : r.steps)
            csv += csv_line({std::string(impl_name(r.impl)) + (r.perturbed ? "_twin" : ""), init_name(r.config.initialization), lr_text(r.config.lr),
                             loss_key(r.loss), std::to_string(x.step), exact(x.loss), exact(x.logits.mean),
                             exact(x.logits.std), exact(x.logits.min), exact(x.logits.max),
                             exact(x.logits.saturated_pct), exact(x.logits.dead_pct), exact(x.fc3_grad),
                             exact(x.grad_norm), exact(x.seconds)});
    return csv;
}

// Relative difference, 0 when both are equal (zeros included).
double relative(double a, double b, double scale = 0) {
    if (a == b) return 0;
    if (std::isnan(a) && std::isnan(b)) return 0;
    const double m = std::max({std::fabs(a), std::fabs(b), scale});
    return m > 0 ? std::fabs(a - b) / m : 0;
}

struct difference {
    double value = 0;
    int step = -1;
    void track(double v, int at) {
        if (std::isnan(v)) v = std::numeric_limits<double>::infinity();
        if (v > value) *this = {v, at};
    }
};

// Tolerance of the step-0 comparison: from identical weights and batch the
// two implementations differ by a few ulp per element, which sums over a
// batch keep far below this.
constexpr double step0_tolerance = 1e-5;

// How many times the rounding twin's difference the loss may differ by.
constexpr double twin_factor = 10;

struct comparison {
    std::string config, loss;
    bool with_logits = false;
    difference loss_value, logit_mean, logit_std, fc3;
    difference twin;           // loss: native against native with the ±1-ulp gradient perturbation
    double step0 = 0;          // largest relative difference at step 0, all four quantities
    double saturated_abs = 0;  // largest |difference| of saturated%, in points
    bool same_length = true;
    bool same_dead_steps = true;     // fc3 gradient exactly 0 at the same steps (tail_dead_steps aside)
    int tail_dead_steps = 0;         // with logits: steps where only torch's is 0, after first_saturated
    std::vector<double> loss_diffs;  // per step
    int first_saturated = -1;        // first step with a logit >= 16.6355 (native), where torch's sigmoid is 1

    double loss_bound(double tolerance) const { return std::max(tolerance, twin_factor * twin.value); }
    int first_over(double tolerance) const {
        for (std::size_t k = 0; k < loss_diffs.size(); ++k)
            if (!(loss_diffs[k] <= loss_bound(tolerance))) return static_cast<int>(k);
        return -1;
    }
    // BCE with logits is where ours differs from torch on purpose: where
    // torch's float32 sigmoid has rounded to 1, its gradient sigmoid(x) - 1
    // is exactly 0 for a positive target, ours is -sigmoid(-x). A loss curve
    // that leaves the bound only after such a step is that difference. Only
    // the positive side counts: for x <= -16.6355 both gradients are
    // accurate, and a difference there is not excused.
    bool intended(double tolerance) const {
        const int k = first_over(tolerance);
        return with_logits && k >= 0 && first_saturated >= 0 && first_saturated < k;
    }
    bool ok(double tolerance) const {
        return same_length && same_dead_steps && step0 <= step0_tolerance &&
               (first_over(tolerance) < 0 || intended(tolerance));
    }
    std::string why(double tolerance) const {
        if (!same_length) return "DIFFER: runs stopped at different steps";
        if (!same_dead_steps) return "DIFFER: fc3 gradient 0 at different steps";
        if (step0 > step0_tolerance) return "DIFFER at step 0";
        const std::string tail =
            tail_dead_steps == 0 ? std::string()
                                 : "; torch's fc3 gradient alone is exactly 0 at " + std::to_string(tail_dead_steps) +
                                       " step(s) after a logit >= 16.6355 at step " + std::to_string(first_saturated) +
                                       " (the accurate tail gradient, on purpose)";
        if (intended(tolerance))
            return "agree until step " + std::to_string(first_over(tolerance)) + ", after a logit >= 16.6355 at step " +
                   std::to_string(first_saturated) + " (the accurate tail gradient, on purpose)" + tail;
        if (first_over(tolerance) >= 0) return "DIFFER: loss from step " + std::to_string(first_over(tolerance));
        return "agree" + tail;
    }
};

std::vector<comparison> compare_runs(const std::vector<lockstep_run>& native, const std::vector<lockstep_run>& ours,
                                     const std::vector<lockstep_run>& twin) {
    std::vector<comparison> out;
    for (std::size_t i = 0; i < native.size() && i < ours.size() && i < twin.size(); ++i) {
        const auto& a = native[i];
        const auto& b = ours[i];
        const auto& t = twin[i];
        comparison c;
        c.config = a.config.label();
        c.loss = loss_label(a.loss);
        c.with_logits = a.loss == loss_fn::bce_with_logits;
        c.same_length = a.steps.size() == b.steps.size() && a.stopped == b.stopped;
        const std::size_t n = std::min(a.steps.size(), b.steps.size());
        for (std::size_t k = 0; k < n; ++k) {
            const auto& x = a.steps[k];
            const auto& y = b.steps[k];
            const double dl = relative(x.loss, y.loss);
            // A mean near 0 is compared to the spread of the logits.
            const double dm = relative(x.logits.mean, y.logits.mean, std::max(x.logits.std, y.logits.std));
            const double ds = relative(x.logits.std, y.logits.std);
            const double dg = relative(x.fc3_grad, y.fc3_grad);
            c.loss_value.track(dl, x.step);
            c.loss_diffs.push_back(dl);
            if (c.first_saturated < 0 && x.logits.max >= logitloss::thresholds<float>::naive_sigmoid_one)
                c.first_saturated = x.step;
            c.logit_mean.track(dm, x.step);
            c.logit_std.track(ds, x.step);
            c.fc3.track(dg, x.step);
            if (k == 0) c.step0 = std::max({dl, dm, ds, dg});
            if ((x.fc3_grad == 0) != (y.fc3_grad == 0)) {
                // With logits, torch's gradient for a positive target is
                // exactly 0 once its sigmoid has rounded to 1, and ours is
                // not: a step where only torch's whole fc3 gradient is 0,
                // at or after a logit >= 16.6355, is that difference.
                if (c.with_logits && x.fc3_grad == 0 && c.first_saturated >= 0)
                    ++c.tail_dead_steps;
                else
                    c.same_dead_steps = false;
            }
            c.saturated_abs = std::max(c.saturated_abs, std::fabs(x.logits.saturated_pct - y.logits.saturated_pct));
            if (k < t.steps.size()) c.twin.track(relative(x.loss, t.steps[k].loss), x.step);
        }
        out.push_back(c);
    }
    return out;
}

// The median time of a step over every step of `runs`.
double median_step_seconds(const std::vector<lockstep_run>& runs) {
    std::vector<double> t;
    for (const auto& r : runs)
        for (const auto& x : r.steps)
            if (std::isfinite(x.seconds)) t.push_back(x.seconds);
    return median(std::move(t));
}

void lockstep_plot(report& rep, const std::vector<lockstep_run>& runs, const std::vector<lockstep_config>& configs) {
    std::ostringstream gp;
    const auto name = [](std::size_t c, loss_fn f) {
        return "c" + std::to_string(c) + (f == loss_fn::sigmoid_bce ? "_bce" : "_bcewl");
    };
    for (std::size_t c = 0; c < configs.size(); ++c) {
        for (const auto& r : runs) {
            if (r.config.initialization != configs[c].initialization || r.config.lr != configs[c].lr) continue;
            std::string rows;
            for (const auto& x : r.steps)
                rows += std::to_string(x.step) + " " + log_value(x.loss) + " " + log_value(x.logits.mean) + " " +
                        log_value(x.fc3_grad) + "\n";
            gp << datablock(name(c, r.loss), rows.empty() ? "0 NaN NaN NaN\n" : rows);
        }
    }
    std::size_t steps = 1;
    for (const auto& r : runs) steps = std::max(steps, r.steps.size());
    gp << "set multiplot layout " << configs.size() << ",3 title 'lockstep: Sigmoid+BCELoss vs BCEWithLogitsLoss "
          "from identical weights and batches (exact zeros drawn at 1e-12)'\n"
          "set logscale y\nset format y '10^{%L}'\nset grid\nset key top right\nset xlabel 'step'\n"
          "set xtics "
       << std::max<std::size_t>(1, (steps + 9) / 10) << "\n";
    const char* columns[] = {"loss", "|logit mean|", "fc3 gradient norm"};
    for (std::size_t c = 0; c < configs.size(); ++c) {
        for (int col = 0; col < 3; ++col) {
            gp << "set title '" << configs[c].label() << ": " << columns[col] << "'\n";
            gp << "plot $" << name(c, loss_fn::bce_with_logits) << " using 1:" << col + 2
               << " with linespoints lw 5 lc rgb '#9ecae1' pt 7 ps 0.8 title 'BCEWithLogitsLoss', $"
               << name(c, loss_fn::sigmoid_bce) << " using 1:" << col + 2
               << " with linespoints lw 2 dt 2 lc rgb '#d62728' pt 5 ps 0.5 title 'Sigmoid+BCELoss'\n";
        }
    }
    gp << "unset multiplot\n";
    rep.plot(gp.str(), 1500, 360 * static_cast<int>(configs.size()) + 60);
}

}  // namespace

int run_lockstep(const settings& s) {
    const bool ours_needed = s.compare || s.impl == loss_impl::ours;
    const torch::Device device = setup_device(s, ours_needed);
    const plan p = resolve(s, device.is_cuda());
    const data_sets d = load_data(s, p, device, false);
    check_batch(d, p, s.study);
    std::vector<lockstep_config> configs;
    const std::vector<init> inits =
        s.init.empty() ? std::vector<init>{init::raschka, init::proper} : std::vector<init>{parse_init(s.init)};
    for (const init i : inits)
        for (const double lr : s.lrs.empty() ? main_lrs() : s.lrs) configs.push_back({i, lr});
    // --compare: native, ours, and a third pass, native again with every
    // logit's gradient perturbed by about one ulp, to measure what rounding
    // alone does.
    const std::vector<lockstep_pass> passes =
        s.compare ? std::vector<lockstep_pass>{{loss_impl::native}, {loss_impl::ours}, {loss_impl::native, true}}
                  : std::vector<lockstep_pass>{{s.impl}};
    progress bar(s.study, static_cast<double>(passes.size() * configs.size()) * p.steps, "lockstep steps");
    double done = 0;
    const std::vector<std::vector<lockstep_run>> results =
        run_lockstep_passes(s, p, d, device, passes, configs, bar, done, false);
    bar.finish();

    report rep(s, "Sigmoid+BCELoss vs BCEWithLogitsLoss in lock step");
    rep.header("preset", p.summary);
    rep.header("data", d.description);
    rep.header("loss implementation", s.compare ? "native and ours (--compare)" : impl_name(s.impl));
    const auto& main_runs = results.front();
    std::ostream& md = rep.md;
    md << "Two copies of the VGG16 start from identical weights (checked) and see identical batches and dropout "
          "masks; one is trained with Sigmoid+BCELoss, the other with BCEWithLogitsLoss (Adam, no weight decay). "
          "Each row is one step: the statistics of the logits of that step's forward pass, its loss, and the norm "
          "of the final layer's weight gradient (fc3) before the update, taken in float64 (0 only when every element "
          "is 0; a float32 norm underflows below about 1e-23). saturated% counts |logit| >= 16.6355 "
          "(thresholds<float>::naive_sigmoid_one), from which torch's float32 sigmoid returns exactly 1 and, "
          "for the positive side, Sigmoid+BCELoss's gradient is exactly 0.\n\n";
    if (s.compare) md << "The tables below are the `native` run; the comparison with `ours` follows them.\n\n";

    md << "## Summary (last step)\n\n";
    md << "| Scenario | Loss | loss | logit_mean | logit_std | saturated% | fc3_grad_norm | steps with fc3 gradient 0 |\n";
    md << "|---|---|---:|---:|---:|---:|---:|---:|\n";
    for (const auto& r : main_runs) {
        if (r.steps.empty()) continue;
        const auto& x = r.steps.back();
        const auto zero = std::count_if(r.steps.begin(), r.steps.end(), [](const step_record& q) { return q.fc3_grad == 0; });
        md << "| " << r.config.label() << " | " << loss_label(r.loss) << " | " << general(x.loss, 6) << " | "
           << stat(x.logits.mean) << " | " << stat(x.logits.std) << " | " << percent(x.logits.saturated_pct)
           << " | " << general(x.fc3_grad, 6) << " | " << zero << " of " << r.steps.size() << " |\n";
    }
    md << "\n";
    for (const auto& config : configs) {
        md << "## " << config.label() << "\n\n";
        for (const auto& r : main_runs)
            if (r.config.initialization == config.initialization && r.config.lr == config.lr)
                lockstep_table(md, r, p.steps);
    }

    int status = 0;
    if (s.compare) {
        const double tolerance = s.tolerance > 0 ? s.tolerance : default_compare_tolerance;
        const auto comparisons = compare_runs(results[0], results[1], results[2]);
        md << "## native vs ours\n\n"
              "The same runs with torch's losses (`native`) and with logitloss::torch_ops (`ours`: "
              "binary_cross_entropy_with_logits, and binary_cross_entropy after sigmoid_aten, which has torch's "
              "sigmoid semantics). Largest relative difference over the steps (the logit mean relative to the "
              "logits' spread) and the step where it occurs.\n\n"
              "After the first update two runs move apart at a rate set by the training, not by the loss "
              "functions: a gradient coordinate that is a cancellation residue differs between any two roundings "
              "of the same sum, and Adam, which divides each coordinate by its own magnitude, turns that into a "
              "full step. The **rounding twin** measures that rate: `native` run a second time with every "
              "logit's gradient multiplied by 1 ± 2^-23 (about one ulp, signs drawn per element).\n\n"
              "The two implementations **agree** when (1) at step 0, from identical weights and batch, every "
              "quantity is within "
           << general(step0_tolerance, 2)
           << "; (2) the fc3 gradient is exactly 0 at exactly the same steps (the dead gradient is reproduced, "
              "not repaired) and both runs last equally long; (3) the loss at every step is within "
           << general(tolerance, 3) << " (`--tolerance`) or within " << general(twin_factor, 2)
           << " times the twin's largest difference, whichever is larger. One difference is on purpose and "
              "allowed: BCEWithLogitsLoss after a step with a logit at or above 16.6355 (negative saturation does "
              "not count). There torch's float32 sigmoid has rounded to 1, and its gradient sigmoid(x) - 1 for a "
              "positive target is exactly 0, while ours is the tiny, correct -sigmoid(-x); Adam can make much of "
              "such tiny coordinates.\n\n";
        md << "| Scenario | Loss | step 0 | loss | logit_mean | logit_std | fc3_grad_norm | saturated% (points) | "
              "rounding twin: loss | verdict |\n";
        md << "|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n";
        double worst_loss = 0, worst_step0 = 0, worst_twin = 0;
        const auto cell = [](const difference& x) {
            return general(x.value, 3) + (x.step >= 0 && x.value > 0 ? " (step " + std::to_string(x.step) + ")" : "");
        };
        for (const auto& c : comparisons) {
            if (!c.ok(tolerance)) status = 1;
            worst_loss = std::max(worst_loss, c.loss_value.value);
            worst_step0 = std::max(worst_step0, c.step0);
            worst_twin = std::max(worst_twin, c.twin.value);
            md << "| " << c.config << " | " << c.loss << " | " << general(c.step0, 3) << " | " << cell(c.loss_value)
               << " | " << cell(c.logit_mean) << " | " << cell(c.logit_std) << " | " << cell(c.fc3) << " | "
               << fixed(c.saturated_abs, 1) << " | " << cell(c.twin) << " | " << c.why(tolerance) << " |\n";
        }
        md << "\nLargest relative difference of the loss: " << general(worst_loss, 3) << " (the rounding twin's: "
           << general(worst_twin, 3) << "); at step 0, of any quantity: " << general(worst_step0, 3)
           << ". Verdict: " << (status == 0 ? "agree" : "DIFFER") << ".\n\n";
        const double native_step = median_step_seconds(results[0]), ours_step = median_step_seconds(results[1]);
        md << "Time of a training step (forward, loss, backward, Adam; median over every step of every run, the "
              "implementations taking each step in turn): native "
           << general(native_step, 4) << " s, ours " << general(ours_step, 4) << " s, ours / native = "
           << fixed(ours_step / native_step, 4) << ".\n";
        std::cerr << "[lockstep] step time: native " << general(native_step, 4) << " s, ours " << general(ours_step, 4)
                  << " s (ours / native = " << fixed(ours_step / native_step, 4) << ")\n";
        std::cerr << "[lockstep] native vs ours: loss within " << general(worst_loss, 3) << " (rounding twin "
                  << general(worst_twin, 3) << ", tolerance " << general(tolerance, 3) << "), step 0 within "
                  << general(worst_step0, 3) << ": " << (status == 0 ? "agree" : "DIFFER") << "\n";
    }

    rep.csv << lockstep_csv(results);
    lockstep_plot(rep, main_runs, configs);
    if (!rep.write()) return 1;
    return status;
}

// ---- layers -------------------------------------------------------------------------

int run_layers(const settings& s) {
    const torch::Device device = setup_device(s, s.impl == loss_impl::ours);
    const plan p = resolve(s, device.is_cuda());
    const data_sets d = load_data(s, p, device, false);
    check_batch(d, p, s.study);
    const lockstep_config config{parse_init(s.init.empty() ? "raschka" : s.init), s.lrs.empty() ? 1e-3 : s.lrs.front()};
    progress bar(s.study, p.steps, "steps");
    double done = 0;
    const auto runs = run_lockstep_passes(s, p, d, device, {{s.impl}}, {config}, bar, done, true).front();
    bar.finish();

    // Layer names from a model of the same layers: the smallest one, since
    // only the names are wanted.
    std::vector<std::string> names;
    {
        plan tiny = p;
        tiny.width = 1.0 / 64;
        tiny.input = 32;
        const VGG16 m = make_model(tiny, config.initialization, false, 0, torch::kCPU);
        for (const auto& [name, w] : m->layer_weights()) names.push_back(name);
    }
    // The steps shown in the table and the plot: the first three, then a
    // few spread to the end.
    std::vector<int> shown;
    for (int k : {0, 1, 2, 3, 5, 10, 20, 30, 50, 100, 200})
        if (k < p.steps) shown.push_back(k);
    if (shown.back() != p.steps - 1) shown.push_back(p.steps - 1);

    report rep(s, "gradient norm of every layer over the first steps");
    rep.header("preset", p.summary);
    rep.header("data", d.description);
    rep.header("scenario", config.label() + ", loss implementation " + impl_name(s.impl));
    std::ostream& md = rep.md;
    md << "The L2 norm of the gradient of each weight tensor (13 convolutions, 3 linear layers) at each step, "
          "before the update, for two copies of the VGG16 from identical weights, batches and dropout masks. A "
          "column of zeros is a network that receives no learning signal at all.\n\n";
    std::string csv = csv_line({"loss", "step", "layer_index", "layer", "grad_norm"});
    for (const auto& r : runs) {
        md << "## " << loss_label(r.loss) << "\n\n| layer |";
        std::vector<const step_record*> cols;
        for (int k : shown)
            if (k < static_cast<int>(r.steps.size())) cols.push_back(&r.steps[static_cast<std::size_t>(k)]);
        for (const auto* c : cols) md << " step " << c->step << " |";
        md << "\n|---|";
        for (std::size_t i = 0; i < cols.size(); ++i) md << "---:|";
        md << "\n";
        for (std::size_t l = 0; l < names.size(); ++l) {
            md << "| " << names[l] << " |";
            for (const auto* c : cols) md << " " << (l < c->layer_grads.size() ? general(c->layer_grads[l], 4) : "-") << " |";
            md << "\n";
        }
        md << "\n";
        if (r.stopped) md << "Stopped at step " << r.steps.back().step << ": the logits were no longer finite.\n\n";
        for (const auto& x : r.steps)
            for (std::size_t l = 0; l < x.layer_grads.size(); ++l)
                csv += csv_line({loss_key(r.loss), std::to_string(x.step), std::to_string(l + 1), names[l],
                                 exact(x.layer_grads[l])});
    }
    rep.csv << csv;

    std::ostringstream gp;
    for (const auto& r : runs) {
        std::string rows;
        for (std::size_t l = 0; l < names.size(); ++l) {
            rows += std::to_string(l + 1);
            for (int k : shown)
                rows += " " + (k < static_cast<int>(r.steps.size()) && l < r.steps[static_cast<std::size_t>(k)].layer_grads.size()
                                   ? log_value(r.steps[static_cast<std::size_t>(k)].layer_grads[l])
                                   : std::string("NaN"));
            rows += "\n";
        }
        gp << datablock(loss_key(r.loss), rows);
    }
    gp << "set multiplot layout 1,2 title 'gradient norm per layer, " << config.label()
       << " (exact zeros drawn at 1e-12)'\nset logscale y\nset format y '10^{%L}'\nset grid\nset key outside right\n"
          "set xlabel 'layer'\nset xtics (";
    for (std::size_t l = 0; l < names.size(); ++l) gp << (l ? ", " : "") << "'" << names[l] << "' " << l + 1;
    gp << ") rotate by -60\n";
    for (const auto& r : runs) {
        gp << "set title '" << loss_label(r.loss) << "'\nplot ";
        for (std::size_t i = 0; i < shown.size(); ++i)
            gp << (i ? ", " : "") << "$" << loss_key(r.loss) << " using 1:" << i + 2 << " with linespoints lw 2 title 'step "
               << shown[i] << "'";
        gp << "\n";
    }
    gp << "unset multiplot\n";
    rep.plot(gp.str(), 1500, 600);
    return rep.write() ? 0 : 1;
}

// ---- train and fixes ------------------------------------------------------------------

namespace {

struct trained {
    run_spec spec;
    std::uint64_t seed = 0;
    double test_accuracy = nan;
    double final_loss = nan;  // mean loss over the last tenth of the steps
    std::vector<step_record> steps;
    bool stopped = false;
    double seconds = 0;
};

// Trains one run from the weights of `seed` on its batches, then evaluates.
trained train_one(const run_spec& spec, const plan& p, const data_sets& d, const torch::Device& device,
                  loss_impl impl, std::uint64_t seed, progress& bar, double& done, const std::string& what) {
    const auto start = std::chrono::steady_clock::now();
    trained t;
    t.spec = spec;
    t.seed = seed;
    trainer tr(spec, p, weights_seed(seed), device, impl);
    const batches data(d.train, p.batch, p.steps, order_seed(seed), device);
    for (int k = 0; k < p.steps; ++k) {
        if (!tr.stopped()) {
            const auto [x, y] = data.at(k);
            t.steps.push_back(tr.step(x, y, k, dropout_seed(seed, k), false));
        }
        done += 1;
        bar.update(done, what + ", step " + std::to_string(k + 1) + "/" + std::to_string(p.steps));
    }
    t.stopped = tr.stopped();
    const std::size_t tail = std::max<std::size_t>(1, t.steps.size() / 10);
    double sum = 0;
    std::size_t count = 0;
    for (std::size_t i = t.steps.size() > tail ? t.steps.size() - tail : 0; i < t.steps.size(); ++i)
        if (std::isfinite(t.steps[i].loss)) {
            sum += t.steps[i].loss;
            ++count;
        }
    t.final_loss = count ? sum / static_cast<double>(count) : nan;
    t.test_accuracy = accuracy(tr.model(), d.test, p.batch);
    synchronize(device);
    t.seconds = seconds_since(start);
    return t;
}

std::string steps_csv(const std::vector<trained>& runs) {
    std::string csv = csv_line({"run", "init", "lr", "batch_norm", "loss", "weight_decay", "clip", "seed", "step",
                                "loss_value", "logit_mean", "logit_std", "saturated_pct", "fc3_grad_norm", "grad_norm"});
    for (const auto& r : runs)
        for (const auto& x : r.steps)
            csv += csv_line({r.spec.label, init_name(r.spec.initialization), lr_text(r.spec.lr),
                             r.spec.batch_norm ? "yes" : "no", loss_key(r.spec.loss), exact(r.spec.weight_decay),
                             exact(r.spec.clip), std::to_string(r.seed), std::to_string(x.step), exact(x.loss),
                             exact(x.logits.mean), exact(x.logits.std), exact(x.logits.saturated_pct),
                             exact(x.fc3_grad), exact(x.grad_norm)});
    return csv;
}

std::string runs_csv(const std::vector<trained>& runs) {
    std::string csv = csv_line({"run", "init", "lr", "batch_norm", "loss", "weight_decay", "clip", "seed", "steps_run",
                                "stopped", "test_acc_pct", "final_train_loss", "initial_saturated_pct",
                                "final_saturated_pct", "final_fc3_grad_norm", "seconds"});
    for (const auto& r : runs) {
        const double first_sat = r.steps.empty() ? nan : r.steps.front().logits.saturated_pct;
        const double last_sat = r.steps.empty() ? nan : r.steps.back().logits.saturated_pct;
        const double last_fc3 = r.steps.empty() ? nan : r.steps.back().fc3_grad;
        csv += csv_line({r.spec.label, init_name(r.spec.initialization), lr_text(r.spec.lr),
                         r.spec.batch_norm ? "yes" : "no", loss_key(r.spec.loss), exact(r.spec.weight_decay),
                         exact(r.spec.clip), std::to_string(r.seed), std::to_string(r.steps.size()),
                         r.stopped ? "yes" : "no", exact(r.test_accuracy), exact(r.final_loss), exact(first_sat),
                         exact(last_sat), exact(last_fc3), exact(r.seconds)});
    }
    return csv;
}

double images_per_second(const std::vector<trained>& runs, int batch) {
    double images = 0, seconds = 0;
    for (const auto& r : runs)
        for (const auto& x : r.steps) {
            if (!std::isfinite(x.seconds)) continue;  // stopped before its update
            images += batch;
            seconds += x.seconds;
        }
    return seconds > 0 ? images / seconds : 0;
}

struct mean_sd {
    double mean = nan, sd = 0;
    std::size_t n = 0;
};
mean_sd summarize(const std::vector<double>& v) {
    mean_sd r;
    r.n = v.size();
    if (v.empty()) return r;
    double s = 0;
    for (double x : v) s += x;
    r.mean = s / static_cast<double>(v.size());
    double q = 0;
    for (double x : v) q += (x - r.mean) * (x - r.mean);
    r.sd = v.size() > 1 ? std::sqrt(q / static_cast<double>(v.size() - 1)) : 0;
    return r;
}

std::string accuracy_text(const mean_sd& m) {
    if (m.n == 0) return "not run";
    return fixed(m.mean, 2) + "%" + (m.n > 1 ? " ± " + fixed(m.sd, 2) : "");
}

// The header of a report written before every run has finished.
std::string partial_text(std::size_t finished, std::size_t planned) {
    return std::to_string(finished) + " of " + std::to_string(planned) +
           " finished: this report is rewritten after every run, and the later runs did not finish";
}

// What a run costs on this device, measured before the runs: a step
// without and with BatchNorm, the model's construction, an evaluation of
// the test images.
struct step_costs {
    double plain = 0, batch_norm = 0, setup = 0, evaluation = 0;
};

// Times steps of a throwaway model of the study's size on its first
// batches: 2 steps to warm up (allocations, cuDNN's algorithm search), then
// 3 timed. Adam's learning rate is 0, so the weights and the logits stay
// those of the initialisation: no run of the probe can stop early and look
// cheap.
step_costs measure_costs(const plan& p, const data_sets& d, const torch::Device& device, bool with_batch_norm) {
    step_costs c;
    constexpr int warm = 2, timed = 3;
    plan probe = p;
    probe.steps = warm + timed;
    const batches data(d.train, probe.batch, probe.steps, order_seed(0), device);
    for (const bool bn : {false, true}) {
        if (bn && !with_batch_norm) break;
        run_spec spec;
        spec.batch_norm = bn;
        spec.lr = 0;
        auto start = std::chrono::steady_clock::now();
        trainer t(spec, probe, weights_seed(0), device, loss_impl::native);
        synchronize(device);
        c.setup = std::max(c.setup, seconds_since(start));
        for (int k = 0; k < probe.steps; ++k) {
            if (k == warm) {
                synchronize(device);
                start = std::chrono::steady_clock::now();
            }
            const auto [x, y] = data.at(k);
            t.step(x, y, k, dropout_seed(0, k), false);
        }
        synchronize(device);
        (bn ? c.batch_norm : c.plain) = seconds_since(start) / timed;
        if (!bn) {
            // Twice, the faster counted: the first evaluation also pays for
            // what happens once per process (cuDNN's algorithm search for the
            // shape of a partial last batch, loading the kernels), which
            // would otherwise be charged to every run.
            for (int k = 0; k < 2; ++k) {
                start = std::chrono::steady_clock::now();
                static_cast<void>(accuracy(t.model(), d.test, p.batch));
                synchronize(device);
                const double took = seconds_since(start);
                c.evaluation = k == 0 ? took : std::min(c.evaluation, took);
            }
        }
    }
    return c;
}

// --time-budget: the steps per run that let `specs` (each run once per
// seed) finish within the budget, counted from the program's start, at the
// costs measured now; at most p.steps. Sets p.steps and p.summary and
// returns the line for the report header; returns "" without a budget.
std::string fit_steps(const settings& s, plan& p, const data_sets& d, const torch::Device& device,
                      const std::vector<run_spec>& specs, int seeds) {
    if (s.time_budget <= 0) return "";
    const bool any_bn = std::any_of(specs.begin(), specs.end(), [](const run_spec& r) { return r.batch_norm; });
    const step_costs c = measure_costs(p, d, device, any_bn);
    double per_step = 0, fixed_cost = 0;
    for (const auto& r : specs) {
        per_step += r.batch_norm ? c.batch_norm : c.plain;
        fixed_cost += c.setup + c.evaluation;
    }
    per_step *= seeds;
    fixed_cost *= seeds;
    // 5% for what the probe does not see (the report, the step records,
    // the spread of step times).
    const double left = s.time_budget - seconds_since(s.started) - fixed_cost;
    const double fit = std::floor(left / (1.05 * per_step));
    if (fit < 1)
        throw std::runtime_error(s.study + ": --time-budget " + general(s.time_budget) + " s leaves " +
                                 general(std::max(left, 0.0), 3) + " s for the steps, less than one step of every run (" +
                                 general(per_step, 3) + " s); give more time or fewer runs");
    const int preset_steps = p.steps;
    p.steps = static_cast<int>(std::min<double>(fit, preset_steps));
    p.summary = describe(s, p);
    std::ostringstream o;
    o << p.steps << " steps per run" << (p.steps == preset_steps ? " (the preset's or --steps' maximum)" : "")
      << ", fitted to --time-budget " << general(s.time_budget) << " s from costs measured before the runs: a step "
      << general(c.plain, 3) << " s" << (any_bn ? ", with BatchNorm " + general(c.batch_norm, 3) + " s" : std::string())
      << ", an evaluation " << general(c.evaluation, 3) << " s, a new model " << general(c.setup, 3)
      << " s. `--steps " << p.steps << "` without the budget runs the same";
    std::cerr << "[" << s.study << "] " << o.str() << "\n";
    return o.str();
}

}  // namespace

int run_train(const settings& s) {
    const torch::Device device = setup_device(s, s.impl == loss_impl::ours);
    plan p = resolve(s, device.is_cuda());
    checked_steps(p);
    const data_sets d = load_data(s, p, device, true);
    check_batch(d, p, s.study);

    struct scenario {
        init initialization;
        double lr;
        bool batch_norm;
        std::string label() const {
            return std::string(init_name(initialization)) + " init + lr=" + lr_text(lr) +
                   (batch_norm ? ", BatchNorm" : ", no BatchNorm");
        }
    };
    std::vector<scenario> scenarios;
    const std::vector<init> inits =
        s.init.empty() ? std::vector<init>{init::raschka, init::proper} : std::vector<init>{parse_init(s.init)};
    for (bool bn : {false, true})
        for (init i : inits)
            for (double lr : s.lrs.empty() ? main_lrs() : s.lrs) scenarios.push_back({i, lr, bn});
    std::vector<run_spec> specs;
    for (const auto& sc : scenarios)
        for (const loss_fn f : {loss_fn::bce_with_logits, loss_fn::sigmoid_bce}) {
            run_spec spec;
            spec.label = sc.label();
            spec.initialization = sc.initialization;
            spec.lr = sc.lr;
            spec.batch_norm = sc.batch_norm;
            spec.loss = f;
            specs.push_back(spec);
        }
    const std::string fitted = fit_steps(s, p, d, device, specs, p.seeds);

    std::vector<trained> runs;
    const std::size_t planned = static_cast<std::size_t>(p.seeds) * specs.size();
    // The report of the runs so far; rewritten after every run, so that a
    // run stopped from outside (a deadline) still leaves the finished ones.
    const auto write_report = [&]() -> bool {
        report rep(s, "test accuracy over init x lr x loss x BatchNorm");
        rep.header("preset", p.summary);
        rep.header("data", d.description);
        rep.header("loss implementation", impl_name(s.impl));
        if (!fitted.empty()) rep.header("steps", fitted);
        if (runs.size() < planned) rep.header("runs", partial_text(runs.size(), planned));
        rep.header("training speed", fixed(images_per_second(runs, p.batch), 0) + " images/s (forward, backward, Adam)");
        std::ostream& md = rep.md;
        md << "Each scenario trains the VGG16 " << p.steps << " steps of " << p.batch
           << " images with Adam, once per loss from identical weights, batches and dropout masks, and evaluates the "
              "test images (a logit > 0 predicts smiling). Accuracies are means over "
           << p.seeds << (p.seeds == 1 ? " seed" : " seeds (± sample standard deviation)")
           << ". Winner: the loss ahead by more than 2 points (and by more than twice the larger spread when there "
              "are several seeds); otherwise Tie.\n\n";
        md << "| Scenario | BCEWithLogitsLoss | BCELoss | Winner |\n|---|---:|---:|---|\n";
        std::ostringstream bars;
        for (const auto& sc : scenarios) {
            std::vector<double> acc[2];
            for (const auto& r : runs)
                if (r.spec.initialization == sc.initialization && r.spec.lr == sc.lr && r.spec.batch_norm == sc.batch_norm)
                    acc[r.spec.loss == loss_fn::bce_with_logits ? 0 : 1].push_back(r.test_accuracy);
            const mean_sd a = summarize(acc[0]), b = summarize(acc[1]);
            const double gap = a.mean - b.mean;
            const double margin = std::max(2.0, 2 * std::max(a.sd, b.sd));
            const char* winner = a.n == 0 || b.n == 0 ? "-"
                             : gap > margin       ? "BCEWithLogits"
                             : -gap > margin      ? "BCELoss"
                                                  : "Tie";
            md << "| " << sc.label() << " | " << accuracy_text(a) << " | " << accuracy_text(b) << " | " << winner << " |\n";
            bars << "\"" << init_name(sc.initialization) << " " << lr_text(sc.lr) << (sc.batch_norm ? " BN" : "") << "\" "
                 << exact(a.mean) << " " << exact(b.mean) << "\n";
        }
        md << "\n## Runs\n\n| Scenario | Loss | seed | test acc | final train loss | saturated% at step 0 | saturated% "
              "at the end | fc3_grad_norm at the end |\n|---|---|---:|---:|---:|---:|---:|---:|\n";
        for (const auto& r : runs) {
            md << "| " << r.spec.label << " | " << loss_label(r.spec.loss) << " | " << r.seed << " | "
               << fixed(r.test_accuracy, 2) << "% | " << general(r.final_loss, 4) << " | "
               << (r.steps.empty() ? "-" : percent(r.steps.front().logits.saturated_pct)) << " | "
               << (r.steps.empty() ? "-" : percent(r.steps.back().logits.saturated_pct)) << " | "
               << (r.steps.empty() ? "-" : general(r.steps.back().fc3_grad, 4)) << (r.stopped ? " (stopped: non-finite logits)" : "")
               << " |\n";
        }
        md << "\nEvery step of every run: " << s.study << "_steps.csv.\n";
        rep.csv << runs_csv(runs);
        rep.extra_csv("steps", steps_csv(runs));

        std::ostringstream gp;
        gp << datablock("acc", bars.str());
        gp << "set title 'test accuracy after " << p.steps << " steps (mean over " << p.seeds
           << (p.seeds == 1 ? " seed" : " seeds") << ")'\nset style data histograms\nset style histogram cluster gap 1\n"
              "set style fill solid 0.8 border -1\nset yrange [0:100]\nset ylabel 'test accuracy (%)'\nset grid ytics\n"
              "set xtics rotate by -30\nset key top left\n"
              "plot $acc using 2:xtic(1) title 'BCEWithLogitsLoss', '' using 3 title 'Sigmoid+BCELoss', 50 with lines dt 2 lc "
              "rgb 'gray' title 'chance'\n";
        rep.plot(gp.str(), 1200, 600);
        return rep.write();
    };

    progress bar(s.study, static_cast<double>(planned) * p.steps, "steps");
    double done = 0;
    for (int k = 0; k < p.seeds; ++k) {
        const std::uint64_t seed = s.seed + static_cast<std::uint64_t>(k);
        for (const auto& spec : specs) {
            runs.push_back(train_one(spec, p, d, device, s.impl, seed, bar, done,
                                     "seed " + std::to_string(seed) + ", " + spec.label + ", " + loss_label(spec.loss)));
            if (runs.size() < planned) static_cast<void>(write_report());
        }
    }
    bar.finish();
    return write_report() ? 0 : 1;
}

int run_fixes(const settings& s) {
    const torch::Device device = setup_device(s, s.impl == loss_impl::ours);
    plan p = resolve(s, device.is_cuda());
    checked_steps(p);
    const data_sets d = load_data(s, p, device, true);
    check_batch(d, p, s.study);
    // The original investigation tried its fixes from proper init (its
    // fixes' step-0 rows are its proper-init lock-step run's); from raschka
    // init 99% of the logits are saturated before the first step, and no fix
    // of the training can help (its "Two Failure Modes").
    const init base_init = parse_init(s.init.empty() ? "proper" : s.init);

    std::vector<run_spec> specs;
    const auto add = [&](std::string label, double lr, bool bn, double wd, double clip, loss_fn f) {
        run_spec r;
        r.label = std::move(label);
        r.initialization = base_init;
        r.lr = lr;
        r.batch_norm = bn;
        r.weight_decay = wd;
        r.clip = clip;
        r.loss = f;
        specs.push_back(r);
    };
    add("none (lr 1e-3)", 1e-3, false, 0, 0, loss_fn::sigmoid_bce);
    add("weight decay 0.01", 1e-3, false, 0.01, 0, loss_fn::sigmoid_bce);
    add("weight decay 0.1", 1e-3, false, 0.1, 0, loss_fn::sigmoid_bce);
    add("weight decay 1", 1e-3, false, 1, 0, loss_fn::sigmoid_bce);
    add("gradient clipping (norm 1)", 1e-3, false, 0, 1, loss_fn::sigmoid_bce);
    add("BatchNorm + lr=1e-3", 1e-3, true, 0, 0, loss_fn::sigmoid_bce);
    add("smaller LR (1e-4)", 1e-4, false, 0, 0, loss_fn::sigmoid_bce);
    add("BatchNorm + lr=1e-4", 1e-4, true, 0, 0, loss_fn::sigmoid_bce);
    add("BCEWithLogitsLoss instead (reference)", 1e-3, false, 0, 0, loss_fn::bce_with_logits);
    const std::string fitted = fit_steps(s, p, d, device, specs, 1);

    std::vector<trained> runs;
    // Rewritten after every run, as train's.
    const auto write_report = [&]() -> bool {
        report rep(s, "fixes for Sigmoid+BCELoss: does the network learn?");
        rep.header("preset", p.summary);
        rep.header("data", d.description);
        rep.header("scenario", std::string("Sigmoid+BCELoss, ") + init_name(base_init) + " init, Adam lr 1e-3 unless the fix changes it; loss implementation " + impl_name(s.impl));
        if (!fitted.empty()) rep.header("steps", fitted);
        if (runs.size() < specs.size()) rep.header("runs", partial_text(runs.size(), specs.size()));
        rep.header("training speed", fixed(images_per_second(runs, p.batch), 0) + " images/s (forward, backward, Adam)");
        std::ostream& md = rep.md;
        md << "Every run starts from the same weights (one seed) and sees the same batches; " << p.steps
           << " steps, then the test accuracy. **Works?** is ✓ when the test accuracy reaches " << fixed(s.learned_at, 0)
           << "% (chance is about 50%: the classes are balanced). The reason column states what the run measured at "
              "its last step.\n\n";
        md << "| Fix | Works? | test acc | saturated% (last step) | fc3_grad_norm (last step) | Reason (measured) |\n";
        md << "|---|---|---:|---:|---:|---|\n";
        std::ostringstream bars;
        for (const auto& r : runs) {
            const bool learned = r.test_accuracy >= s.learned_at;
            std::string reason;
            const auto zero = std::count_if(r.steps.begin(), r.steps.end(), [](const step_record& q) { return q.fc3_grad == 0; });
            const double sat = r.steps.empty() ? nan : r.steps.back().logits.saturated_pct;
            const double fc3 = r.steps.empty() ? nan : r.steps.back().fc3_grad;
            if (r.stopped) {
                reason = "logits became non-finite at step " + std::to_string(r.steps.back().step);
            } else {
                reason = (zero == 0 ? std::string("fc3 gradient never 0")
                                    : "fc3 gradient exactly 0 in " + std::to_string(zero) + " of " +
                                          std::to_string(r.steps.size()) + " steps") +
                         "; saturated " + percent(r.steps.empty() ? nan : r.steps.front().logits.saturated_pct) +
                         " at step 0, " + percent(sat) + " at the end" +
                         (learned ? "" : "; below " + fixed(s.learned_at, 0) + "% after " + std::to_string(p.steps) + " steps");
            }
            md << "| " << r.spec.label << " | " << (learned ? "✓" : "✗") << " | " << fixed(r.test_accuracy, 2) << "% | "
               << percent(sat) << " | " << general(fc3, 4) << " | " << reason << " |\n";
            bars << "\"" << r.spec.label << "\" " << exact(r.test_accuracy) << "\n";
        }
        md << "\nEvery step of every run: " << s.study << "_steps.csv.\n";
        rep.csv << runs_csv(runs);
        rep.extra_csv("steps", steps_csv(runs));

        std::ostringstream gp;
        gp << datablock("acc", bars.str());
        gp << "set title 'Sigmoid+BCELoss with each fix: test accuracy after " << p.steps << " steps'\n"
              "set style data histograms\nset style fill solid 0.8 border -1\nset boxwidth 0.7\nset yrange [0:100]\n"
              "set ylabel 'test accuracy (%)'\nset grid ytics\nset xtics rotate by -30\nset key top left\n"
              "plot $acc using 2:xtic(1) title 'test accuracy', "
           << exact(s.learned_at) << " with lines dt 2 lc rgb 'red' title 'learned (" << fixed(s.learned_at, 0)
           << "%)'\n";
        rep.plot(gp.str(), 1200, 600);
        return rep.write();
    };

    progress bar(s.study, static_cast<double>(specs.size()) * p.steps, "steps");
    double done = 0;
    for (const auto& spec : specs) {
        runs.push_back(train_one(spec, p, d, device, s.impl, s.seed, bar, done, spec.label));
        if (runs.size() < specs.size()) static_cast<void>(write_report());
    }
    bar.finish();
    return write_report() ? 0 : 1;
}

}  // namespace logitloss::experiments::studies

// studies/studies.hpp — what every study of logitloss_experiments shares:
// the settings from the command line, the size presets resolved into
// concrete numbers, the report files (<study>.md, .csv, .gp, .png) and the
// progress line on stderr. No LibTorch in this header, so that main.cpp and
// report.cpp compile in seconds on a loaded machine.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace logitloss::experiments::studies {

enum class preset { toy, full };
enum class loss_impl { native, ours };

const char* preset_name(preset p);
const char* impl_name(loss_impl i);

// The command line, parsed. A study-specific knob left at 0 (or empty) takes
// the preset's value (see resolve()).
struct settings {
    std::string study;
    std::vector<std::string> command_line;  // argv, for the report header
    std::filesystem::path out{"experiments-out"};
    std::string device{"cpu"};
    std::filesystem::path data;
    std::size_t synthetic = 0;
    std::uint64_t seed = 1;
    preset size = preset::toy;
    loss_impl impl = loss_impl::native;
    bool tf32 = false;
    int threads = 0;  // LibTorch intra-op threads; 0 keeps LibTorch's choice

    // Overrides of the preset.
    double width = 0;
    int input = 0;
    int batch = 0;
    int steps = 0;
    std::size_t train_images = 0;
    std::size_t test_images = 0;
    int seeds = 0;
    int reps = 0;
    std::uint64_t min_n = 0;
    std::uint64_t max_n = 0;

    // Study options.
    bool compare = false;    // lockstep: run native and ours, compare, exit 1 on disagreement
    double tolerance = 0;    // lockstep --compare: relative tolerance (0: the default)
    std::string init;        // layers, fixes: the initialisation (default: layers raschka, fixes proper)
    std::vector<double> lrs;  // layers: Adam's learning rate (default 1e-3); lockstep: the list (default 1e-3, 1e-4)
    double learned_at = 60;  // fixes: the test accuracy (%) from which a run counts as learned
    double time_budget = 0;  // train, fixes: seconds for the whole study, steps fitted to it (0: off)

    // When the program started: --time-budget counts from here.
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

// A preset resolved for one study: every number the study uses.
struct plan {
    double width = 1;
    int input = 128;
    int batch = 256;
    int steps = 0;
    std::size_t train_images = 0;
    std::size_t test_images = 0;
    int seeds = 1;
    int reps = 0;
    std::uint64_t min_n = 0;
    std::uint64_t max_n = 0;
    std::string summary;  // one line for the report header
};

// The preset of s.size for s.study, overridden by the knobs set in s.
// `cuda` selects the kernels study's GPU sizes.
plan resolve(const settings& s, bool cuda);

// The one-line summary of p for the report header (resolve() sets
// p.summary with it; a study that changes p afterwards calls it again).
std::string describe(const settings& s, const plan& p);

// Default relative tolerance of lockstep --compare.
inline constexpr double default_compare_tolerance = 1e-3;

// ---- the studies (each returns the process's exit status) ------------------

int run_curves(const settings& s);
int run_lockstep(const settings& s);
int run_train(const settings& s);
int run_fixes(const settings& s);
int run_layers(const settings& s);
int run_kernels(const settings& s);

// "cpu: <model name>, N threads, LibTorch x.y.z" or "cuda: <GPU name>, ...";
// defined with the LibTorch code.
std::string describe_device(const settings& s);

// ---- reports ------------------------------------------------------------------

// Numbers for tables: fixed(v, d) with d decimals, general(v, p) as %.{p}g;
// both print nan and inf as such.
std::string fixed(double v, int decimals);
std::string general(double v, int precision = 6);
// Full precision for the CSV files (%.9g: a float32 value survives a round trip).
std::string exact(double v);
std::string csv_line(const std::vector<std::string>& fields);

// Collects one study's outputs and writes them: <out>/<study>.md (a header
// table with device, date, git commit, command line, preset and wall time,
// then the body), <out>/<study>.csv, the gnuplot script <out>/<study>.gp and,
// when gnuplot is on the PATH, <out>/<study>.png (if it is not, the script is
// left for later and a warning printed). Further CSV files are optional.
class report {
public:
    report(const settings& s, std::string title);

    std::ostringstream md;   // the body, in markdown
    std::ostringstream csv;  // the main CSV, header line included

    void header(std::string key, std::string value);  // a row of the header table
    void extra_csv(const std::string& suffix, const std::string& content);  // <study>_<suffix>.csv
    // The plot: gnuplot commands after the terminal and output lines, which
    // the report writes (pngcairo where available, else png).
    void plot(std::string commands, int width_px, int height_px);

    // Writes the files and runs gnuplot; returns false only if a file could
    // not be written.
    bool write();

    std::filesystem::path path(const std::string& extension) const;

private:
    const settings& settings_;
    std::string title_;
    std::vector<std::pair<std::string, std::string>> header_;
    std::vector<std::pair<std::string, std::string>> extra_;
    std::string plot_;
    int plot_width_ = 0, plot_height_ = 0;
    std::chrono::steady_clock::time_point start_;
};

// A progress line on stderr: done/total, percentage, elapsed time and an ETA
// from the rate so far, and what is running. One line each time (logs stay
// readable), at most once a second and sparser as the run grows long.
class progress {
public:
    progress(std::string study, double total, std::string unit);
    void update(double done, const std::string& what);
    void finish(const std::string& what = "done");

private:
    void print(double done, const std::string& what);
    std::string study_, unit_;
    double total_;
    std::chrono::steady_clock::time_point start_, last_;
    bool printed_ = false;
};

// Seconds of steady_clock from t to now.
inline double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The median of v (the mean of the middle two for an even count); NaN for
// none.
inline double median(std::vector<double> v) {
    if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// Seconds as "3.2 s", "4 min 05 s".
std::string duration(double seconds);

// The whole command line, shell-quoted where needed.
std::string quoted_command(const std::vector<std::string>& argv);

}  // namespace logitloss::experiments::studies

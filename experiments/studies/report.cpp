// studies/report.cpp — presets, number formatting, the report files, the
// progress line. No LibTorch.
#include "studies.hpp"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>

namespace logitloss::experiments::studies {

const char* preset_name(preset p) { return p == preset::toy ? "toy" : "full"; }
const char* impl_name(loss_impl i) { return i == loss_impl::native ? "native" : "ours"; }

namespace {

std::string width_text(double w) {
    if (w < 1) {
        const double inverse = 1 / w;
        if (std::fabs(inverse - std::round(inverse)) < 1e-9) return "1/" + std::to_string(std::lround(inverse));
    }
    return general(w, 4);
}

std::string count_text(std::uint64_t n) {
    // 2^k sizes read best as powers of two ("4M" would hide which power of 4).
    const char* units[] = {"", "K", "M", "G"};
    int u = 0;
    while (u < 3 && n >= 1024 && n % 1024 == 0) {
        n /= 1024;
        ++u;
    }
    return std::to_string(n) + units[u];
}

}  // namespace

plan resolve(const settings& s, bool cuda) {
    const bool toy = s.size == preset::toy;
    plan p;
    // toy: a model small enough that a step takes milliseconds on one core;
    // full: the original experiment's model, input and batch. lockstep and
    // layers need only the first steps; the step counts of train and fixes
    // are the most that --time-budget fits (see README.md, "Sizes").
    p.width = toy ? 1.0 / 16 : 1.0;
    p.input = toy ? 32 : 128;
    p.batch = toy ? 16 : 256;
    p.train_images = toy ? 64 : 20480;
    p.test_images = toy ? 32 : 2560;
    p.seeds = 1;
    const std::string& st = s.study;
    if (st == "lockstep") p.steps = toy ? 4 : 30;
    if (st == "layers") p.steps = toy ? 4 : 20;
    if (st == "train") p.steps = toy ? 3 : 240;
    if (st == "fixes") p.steps = toy ? 3 : 240;
    if (st == "kernels") {
        p.reps = toy ? 5 : 20;
        p.min_n = toy ? (1u << 14) : (1u << 20);
        p.max_n = toy ? (1u << 20) : cuda ? (std::uint64_t(1) << 28) : (std::uint64_t(1) << 24);
    }
    if (s.width > 0) p.width = s.width;
    if (s.input > 0) p.input = s.input;
    if (s.batch > 0) p.batch = s.batch;
    if (s.steps > 0) p.steps = s.steps;
    if (s.train_images > 0) p.train_images = s.train_images;
    if (s.test_images > 0) p.test_images = s.test_images;
    if (s.seeds > 0) p.seeds = s.seeds;
    if (s.reps > 0) p.reps = s.reps;
    if (s.min_n > 0) p.min_n = s.min_n;
    if (s.max_n > 0) p.max_n = s.max_n;
    // One bound given past the preset's other: the other follows it.
    if (p.min_n > p.max_n) {
        if (s.min_n > 0)
            p.max_n = p.min_n;
        else
            p.min_n = p.max_n;
    }
    p.summary = describe(s, p);
    return p;
}

std::string describe(const settings& s, const plan& p) {
    const std::string& st = s.study;
    std::ostringstream o;
    o << preset_name(s.size);
    if (st == "kernels") {
        o << ": N = " << count_text(p.min_n) << " ... " << count_text(p.max_n) << " (powers of 4), median of "
          << p.reps << " timed repetitions";
    } else if (st != "curves") {
        o << ": VGG16 width " << width_text(p.width) << ", input " << p.input << "x" << p.input << ", batch "
          << p.batch << ", " << p.steps << " steps per run";
        if (st == "train" || st == "fixes")
            o << ", up to " << p.train_images << " training and " << p.test_images << " test images";
        else
            o << ", up to " << p.train_images << " training images";
        if (st == "train") o << ", " << p.seeds << (p.seeds == 1 ? " seed" : " seeds");
    } else {
        o << " (the same curves at every size)";
    }
    return o.str();
}

// ---- numbers ------------------------------------------------------------------

std::string fixed(double v, int decimals) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", decimals, v);
    return b;
}

std::string general(double v, int precision) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char b[64];
    std::snprintf(b, sizeof b, "%.*g", precision, v);
    return b;
}

std::string exact(double v) { return general(v, 9); }

std::string csv_line(const std::vector<std::string>& fields) {
    std::string line;
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (i) line += ',';
        const std::string& f = fields[i];
        if (f.find_first_of(",\"\n") != std::string::npos) {
            line += '"';
            for (char c : f) {
                if (c == '"') line += '"';
                line += c;
            }
            line += '"';
        } else {
            line += f;
        }
    }
    return line + '\n';
}

std::string duration(double seconds) {
    if (!(seconds >= 0) || std::isinf(seconds)) return "?";
    char b[64];
    if (seconds < 60) {
        std::snprintf(b, sizeof b, "%.1f s", seconds);
    } else {
        const long total = std::lround(seconds);
        if (total < 3600)
            std::snprintf(b, sizeof b, "%ld min %02ld s", total / 60, total % 60);
        else
            std::snprintf(b, sizeof b, "%ld h %02ld min", total / 3600, (total % 3600) / 60);
    }
    return b;
}

namespace {

std::string shell_quote(const std::string& a) {
    if (!a.empty() && a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+=./:,@%") ==
                          std::string::npos)
        return a;
    std::string q = "'";
    for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// The first line a shell command prints, or "" when it fails.
std::string command_output(const std::string& command) {
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) return "";
    char buffer[512];
    std::string text;
    while (std::fgets(buffer, sizeof buffer, pipe)) text += buffer;
    const int status = ::pclose(pipe);
    if (status != 0) return "";
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
}

// LOGITLOSS_COMMIT when set (a copy of the tree without .git, as on a
// machine the tree is shipped to); else the checkout's commit, read when the
// report is written (the binary may be older than the tree); else the one
// CMake saw at configure time.
std::string git_commit() {
    if (const char* given = std::getenv("LOGITLOSS_COMMIT"); given != nullptr && *given != '\0')
        return std::string(given) + " (LOGITLOSS_COMMIT)";
#if defined(LOGITLOSS_STUDIES_SOURCE_DIR)
    const std::string dir = shell_quote(LOGITLOSS_STUDIES_SOURCE_DIR);
    std::string head = command_output("git -C " + dir + " rev-parse HEAD 2>/dev/null");
    if (!head.empty()) {
        const std::string changes =
            command_output("git -C " + dir + " status --porcelain --untracked-files=no 2>/dev/null | head -c 1");
        return head + (changes.empty() ? "" : " (with uncommitted changes)");
    }
#endif
#if defined(LOGITLOSS_STUDIES_GIT_COMMIT)
    if (std::strlen(LOGITLOSS_STUDIES_GIT_COMMIT) > 0) return std::string(LOGITLOSS_STUDIES_GIT_COMMIT) + " (at configure time)";
#endif
    return "unknown (not a git checkout)";
}

std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char b[64];
    std::strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return b;
}

bool on_path(const std::string& program) {
    const char* path = std::getenv("PATH");
    if (!path) return false;
    std::string dirs = path;
    std::size_t begin = 0;
    while (begin <= dirs.size()) {
        std::size_t end = dirs.find(':', begin);
        if (end == std::string::npos) end = dirs.size();
        const std::string dir = end > begin ? dirs.substr(begin, end - begin) : std::string(".");
        const std::string candidate = dir + "/" + program;
        if (::access(candidate.c_str(), X_OK) == 0) return true;
        begin = end + 1;
    }
    return false;
}

std::string table_cell(std::string text) {
    std::string out;
    for (char c : text) {
        if (c == '|') out += '\\';
        out += c == '\n' ? ' ' : c;
    }
    return out;
}

bool write_file(const std::filesystem::path& p, const std::string& content) {
    std::ofstream f(p, std::ios::binary);
    f << content;
    f.close();
    if (!f) {
        std::cerr << "logitloss_experiments: cannot write " << p.string() << ": " << std::strerror(errno) << "\n";
        return false;
    }
    return true;
}

}  // namespace

std::string quoted_command(const std::vector<std::string>& argv) {
    std::string c;
    for (std::size_t i = 0; i < argv.size(); ++i) {
        if (i) c += ' ';
        // The program by its name: the build folder says nothing about the run.
        c += i == 0 ? std::filesystem::path(argv[0]).filename().string() : shell_quote(argv[i]);
    }
    return c;
}

// ---- report -------------------------------------------------------------------

namespace {
// The wall time in the header is the whole run's, data loading included.
const std::chrono::steady_clock::time_point program_start = std::chrono::steady_clock::now();
}  // namespace

report::report(const settings& s, std::string title)
    : settings_(s), title_(std::move(title)), start_(program_start) {}

void report::header(std::string key, std::string value) { header_.emplace_back(std::move(key), std::move(value)); }

void report::extra_csv(const std::string& suffix, const std::string& content) {
    extra_.emplace_back(suffix, content);
}

void report::plot(std::string commands, int width_px, int height_px) {
    plot_ = std::move(commands);
    plot_width_ = width_px;
    plot_height_ = height_px;
}

std::filesystem::path report::path(const std::string& extension) const {
    return settings_.out / (settings_.study + extension);
}

bool report::write() {
    const double seconds = seconds_since(start_);
    std::error_code ec;
    std::filesystem::create_directories(settings_.out, ec);
    if (ec) {
        std::cerr << "logitloss_experiments: cannot create " << settings_.out.string() << ": " << ec.message() << "\n";
        return false;
    }

    std::ostringstream page;
    page << "# " << settings_.study << ": " << title_ << "\n\n";
    page << "| run | |\n|---|---|\n";
    page << "| device | " << table_cell(describe_device(settings_)) << " |\n";
    page << "| date | " << utc_now() << " |\n";
    page << "| git commit | " << table_cell(git_commit()) << " |\n";
    page << "| command | `" << table_cell(quoted_command(settings_.command_line)) << "` |\n";
    for (const auto& [key, value] : header_) page << "| " << table_cell(key) << " | " << table_cell(value) << " |\n";
    page << "| wall time | " << duration(seconds) << " |\n\n";
    page << this->md.str();

    bool ok = write_file(path(".md"), page.str()) && write_file(path(".csv"), csv.str());
    for (const auto& [suffix, content] : extra_)
        ok = write_file(settings_.out / (settings_.study + "_" + suffix + ".csv"), content) && ok;
    if (plot_.empty() || !ok) return ok;

    std::ostringstream gp;
    gp << "# " << settings_.study << ".gp: the plot of " << settings_.study
       << ".md; written by logitloss_experiments, run `gnuplot " << settings_.study << ".gp` in this folder.\n";
    gp << "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
       << "    set terminal pngcairo size " << plot_width_ << "," << plot_height_ << " font ',10'\n"
       << "} else {\n"
       << "    set terminal png size " << plot_width_ << "," << plot_height_ << "\n"
       << "}\n";
    gp << "set output '" << settings_.study << ".png'\n";
    gp << plot_;
    gp << "unset output\n";
    if (!write_file(path(".gp"), gp.str())) return false;

    if (!on_path("gnuplot")) {
        static bool warned = false;  // once: train and fixes rewrite their report after every run
        if (!warned)
            std::cerr << "logitloss_experiments: warning: gnuplot is not on the PATH; " << path(".gp").string()
                      << " is written, run it with gnuplot to draw " << settings_.study << ".png\n";
        warned = true;
        return true;
    }
    // gnuplot's chatter goes to a log that is kept only when it fails.
    const std::string log = settings_.study + ".gnuplot.log";
    const std::string command = "cd " + shell_quote(settings_.out.string()) + " && gnuplot " +
                                shell_quote(settings_.study + ".gp") + " > " + shell_quote(log) + " 2>&1";
    const int status = std::system(command.c_str());
    if (status != 0) {
        std::cerr << "logitloss_experiments: warning: gnuplot failed on " << path(".gp").string() << " (see "
                  << (settings_.out / log).string() << ")\n";
    } else {
        std::filesystem::remove(settings_.out / log, ec);
    }
    return true;
}

// ---- progress -------------------------------------------------------------------

progress::progress(std::string study, double total, std::string unit)
    : study_(std::move(study)), unit_(std::move(unit)), total_(total) {
    start_ = last_ = std::chrono::steady_clock::now();
}

void progress::update(double done, const std::string& what) {
    const auto now = std::chrono::steady_clock::now();
    // A line a second at first, then sparser (a twentieth of the time so
    // far, at most every 15 s), so that a long run's log stays short.
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double interval = std::min(15.0, std::max(1.0, elapsed / 20));
    if (printed_ && std::chrono::duration<double>(now - last_).count() < interval) return;
    print(done, what);
}

void progress::finish(const std::string& what) { print(total_, what); }

void progress::print(double done, const std::string& what) {
    const auto now = std::chrono::steady_clock::now();
    last_ = now;
    printed_ = true;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    std::ostringstream o;
    o << "[" << study_ << "] " << general(done, 6) << "/" << general(total_, 6) << " " << unit_;
    if (total_ > 0) o << " (" << fixed(100 * done / total_, 0) << "%)";
    o << ", " << duration(elapsed);
    if (done > 0 && done < total_) o << ", ETA " << duration(elapsed * (total_ - done) / done);
    if (!what.empty()) o << ": " << what;
    std::cerr << o.str() << std::endl;
}

}  // namespace logitloss::experiments::studies

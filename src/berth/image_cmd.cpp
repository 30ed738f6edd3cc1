#include "berth/image_cmd.h"

#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "core/log.h"
#include "core/time.h"
#include "node/images/puller.h"
#include "node/images/store.h"

namespace berth {
namespace {

using images::ImageInfo;
using images::ImageStore;

std::string HumanBytes(int64_t n) {
  // SI units, as docker prints them.
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.1f%s", v, units[u]);
  return buf;
}

std::string ShortId(const std::string& id) {
  auto colon = id.find(':');
  return id.substr(colon == std::string::npos ? 0 : colon + 1, 12);
}

// Progress on stderr: a redrawn bar on a terminal, otherwise a line when a
// phase starts and at most every five seconds after.
class ProgressPrinter {
 public:
  ProgressPrinter() : tty_(::isatty(2) == 1) {}
  ~ProgressPrinter() { Done(); }

  void operator()(const images::Progress& p) {
    int64_t now = MonotonicNanos();
    std::string key = p.phase + " " + p.digest;
    bool new_phase = key != key_;
    bool finished = p.total > 0 && p.done >= p.total;
    if (tty_) {
      if (!new_phase && !finished && now - last_ < 100'000'000) return;
      if (new_phase && drawn_) std::cerr << "\n";
      std::cerr << "\r" << Line(p) << "\033[K" << std::flush;
      drawn_ = true;
    } else {
      if (!new_phase && !finished && now - last_ < 5'000'000'000LL) return;
      if (!new_phase && finished && last_done_ == p.done) return;
      std::cerr << Line(p) << "\n";
    }
    key_ = key;
    last_ = now;
    last_done_ = p.done;
  }
  void Done() {
    if (tty_ && drawn_) std::cerr << "\n";
    drawn_ = false;
  }

 private:
  static std::string Line(const images::Progress& p) {
    std::string s = p.phase;
    s.resize(7, ' ');
    if (!p.digest.empty()) s += ShortId(p.digest) + " ";
    if (p.total > 0) {
      int pct = static_cast<int>(std::min<int64_t>(100, p.done * 100 / p.total));
      std::string bar(30, ' ');
      for (int i = 0; i < pct * 30 / 100; ++i) bar[static_cast<size_t>(i)] = '=';
      s += "[" + bar + "] " + std::to_string(pct) + "% " + HumanBytes(p.done) + "/" + HumanBytes(p.total);
    } else {
      s += HumanBytes(p.done);
    }
    return s;
  }

  bool tty_;
  bool drawn_ = false;
  std::string key_;
  int64_t last_ = 0;
  int64_t last_done_ = -1;
};

struct Common {
  std::string data_dir = "/var/lib/berth";
};

Result<std::unique_ptr<ImageStore>> OpenStore(const Common& c) { return ImageStore::Open(c.data_dir + "/images"); }

int Fail(const std::string& cmd, const Status& st) {
  std::cerr << "berth image " << cmd << ": " << st.message() << "\n";
  return 1;
}

int RunImport(const Common& c, const std::string& src, const std::string& name) {
  struct stat st;
  if (::stat(src.c_str(), &st) != 0) {
    return Fail("import", NotFound(src + ": no such file or directory"));
  }
  auto store = OpenStore(c);
  if (!store.ok()) return Fail("import", store.status());
  ProgressPrinter printer;
  images::ProgressFn progress = [&](const images::Progress& p) { printer(p); };
  Result<ImageInfo> r = Status(Code::kInternal, "unreachable");
  if (S_ISDIR(st.st_mode)) {
    struct stat layout;
    if (::stat((src + "/oci-layout").c_str(), &layout) == 0) {
      r = (*store)->ImportOciLayout(src, name, progress);
    } else if (name.empty()) {
      return Fail("import", BadRequest("--name is required to import a directory"));
    } else {
      r = (*store)->ImportRootfsDir(src, name, {}, progress);
    }
  } else {
    r = (*store)->ImportTarball(src, name, {}, progress);
  }
  printer.Done();
  if (!r.ok()) return Fail("import", r.status());
  std::cout << "imported " << r->ref << " (id " << ShortId(r->id) << ", " << HumanBytes(r->size_bytes) << ")\n";
  return 0;
}

int RunList(const Common& c, bool quiet) {
  auto store = OpenStore(c);
  if (!store.ok()) return Fail("ls", store.status());
  auto list = (*store)->List();
  if (quiet) {
    for (const auto& i : list) std::cout << i.ref << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {{"IMAGE", "ID", "SIZE", "CREATED"}};
  int64_t now = NowSeconds();
  for (const auto& i : list) {
    std::string created = i.created_unix > 0 ? HumanDuration(std::max<int64_t>(0, now - i.created_unix)) + " ago" : "unknown";
    rows.push_back({i.ref, ShortId(i.id), HumanBytes(i.size_bytes), created});
  }
  std::vector<size_t> width(4, 0);
  for (const auto& r : rows)
    for (size_t k = 0; k < r.size(); ++k) width[k] = std::max(width[k], r[k].size());
  for (const auto& r : rows) {
    std::string line;
    for (size_t k = 0; k < r.size(); ++k) {
      line += r[k];
      if (k + 1 < r.size()) line += std::string(width[k] - r[k].size() + 3, ' ');
    }
    std::cout << line << "\n";
  }
  return 0;
}

int RunRemove(const Common& c, const std::vector<std::string>& refs) {
  auto store = OpenStore(c);
  if (!store.ok()) return Fail("rm", store.status());
  int rc = 0;
  for (const auto& ref : refs) {
    auto info = (*store)->Get(ref);
    Status st = (*store)->Remove(ref);
    if (!st.ok()) {
      rc = Fail("rm", st);
      continue;
    }
    std::cout << "untagged " << (info.ok() && !info->ref.empty() ? info->ref : ref) << "\n";
  }
  return rc;
}

int RunPrune(const Common& c) {
  auto store = OpenStore(c);
  if (!store.ok()) return Fail("prune", store.status());
  auto stats = (*store)->GarbageCollect({});
  if (!stats.ok()) return Fail("prune", stats.status());
  std::cout << "removed " << stats->manifests_removed << " images, " << stats->blobs_removed << " blobs, "
            << stats->layers_removed << " layers; freed " << HumanBytes(stats->bytes_freed) << "\n";
  return 0;
}

int RunPull(const Common& c, const std::string& ref, images::PullOptions opts) {
  if (opts.auth.username.empty() != opts.auth.password.empty()) {
    return Fail("pull", BadRequest("--username and --password go together"));
  }
  auto store = OpenStore(c);
  if (!store.ok()) return Fail("pull", store.status());
  ProgressPrinter printer;
  opts.progress = [&](const images::Progress& p) { printer(p); };
  auto r = images::PullImage(**store, ref, opts);
  printer.Done();
  if (!r.ok()) return Fail("pull", r.status());
  std::cout << "pulled " << r->ref << " (id " << ShortId(r->id) << ", " << HumanBytes(r->size_bytes) << ")\n";
  return 0;
}

}  // namespace

void AddImageCommand(CLI::App& app, int* exit_code) {
  auto* image = app.add_subcommand("image", "Manage the node's local images");
  image->require_subcommand(1);
  // Options live as long as the app: CLI11 fills them before callbacks run.
  auto common = std::make_shared<Common>();
  auto add_data_dir = [common](CLI::App* cmd) {
    cmd->add_option("--data-dir", common->data_dir, "State directory (images live in DATA/images)")
        ->capture_default_str();
  };
  // The CLI is quiet except for its own output; the store's info lines are
  // for the server's log.
  auto quiet_logs = [] { log::SetLevel(log::Level::kWarn); };

  auto src = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto* imp = image->add_subcommand("import", "Import a root file system directory, a tarball (rootfs, docker save "
                                              "or OCI archive) or an OCI layout directory");
  imp->add_option("SRC", *src, "Directory, tarball or OCI layout")->required();
  imp->add_option("--name", *name, "Image reference to tag it with (e.g. busybox:test)");
  add_data_dir(imp);
  imp->callback([=] {
    quiet_logs();
    *exit_code = RunImport(*common, *src, *name);
  });

  auto quiet = std::make_shared<bool>(false);
  auto* ls = image->add_subcommand("ls", "List images");
  ls->alias("list");
  ls->add_flag("-q,--quiet", *quiet, "Print references only");
  add_data_dir(ls);
  ls->callback([=] {
    quiet_logs();
    *exit_code = RunList(*common, *quiet);
  });

  auto refs = std::make_shared<std::vector<std::string>>();
  auto* rm = image->add_subcommand("rm", "Untag images (their data goes at the next prune or GC)");
  rm->alias("remove");
  rm->add_option("REF", *refs, "Image reference or id")->required();
  add_data_dir(rm);
  rm->callback([=] {
    quiet_logs();
    *exit_code = RunRemove(*common, *refs);
  });

  auto* prune = image->add_subcommand(
      "prune", "Delete blobs and layers no tag refers to (not while pods run from untagged images)");
  add_data_dir(prune);
  prune->callback([=] {
    quiet_logs();
    *exit_code = RunPrune(*common);
  });

  auto pull_ref = std::make_shared<std::string>();
  auto pull = std::make_shared<images::PullOptions>();
  auto* pl = image->add_subcommand("pull", "Pull an image from a registry");
  pl->add_option("REF", *pull_ref, "Image reference")->required();
  pl->add_flag("--insecure", pull->insecure, "Use plain HTTP");
  pl->add_option("--username", pull->auth.username, "Registry user");
  pl->add_option("--password", pull->auth.password, "Registry password");
  pl->add_option("--ca-file", pull->ca_file, "PEM CA bundle for the registry's certificate")->check(CLI::ExistingFile);
  add_data_dir(pl);
  pl->callback([=] {
    quiet_logs();
    *exit_code = RunPull(*common, *pull_ref, *pull);
  });
}

}  // namespace berth

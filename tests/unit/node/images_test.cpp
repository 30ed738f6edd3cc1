// Image store, layer unpacking and registry pulls. Runs as root: unpacking
// creates whiteout device nodes, chowns and sets trusted.* xattrs, and one
// test mounts an overlay of two unpacked layers.
#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/file.h"
#include "core/ids.h"
#include "node/images/layer.h"
#include "node/images/puller.h"
#include "node/images/store.h"

namespace berth::images {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// ---- helpers -------------------------------------------------------------------

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string t = (fs::temp_directory_path() / "berth-images-test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(t.data()), nullptr);
    tmp_ = t;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }
  std::unique_ptr<ImageStore> OpenStore(const std::string& name = "store") {
    auto s = ImageStore::Open(tmp_ + "/" + name);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }
  std::string tmp_;
};

void Write(const std::string& path, const std::string& content, mode_t mode = 0644) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << content;
  ::chmod(path.c_str(), mode);
}

std::string Slurp(const std::string& path) {
  auto r = ReadFile(path);
  return r.ok() ? *r : "<missing " + path + ">";
}

int CountEntries(const std::string& dir) {
  int n = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); ++it) ++n;
  return n;
}

// A small tree with the kinds of entries an image has.
void MakeRootfs(const std::string& dir, const std::string& marker = "hello from berth") {
  Write(dir + "/bin/busybox", "#!fake busybox\n", 0755);
  fs::create_symlink("busybox", dir + "/bin/sh");
  ASSERT_EQ(::link((dir + "/bin/busybox").c_str(), (dir + "/bin/busybox-hardlink").c_str()), 0);
  Write(dir + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
  Write(dir + "/www/index.html", marker + "\n");
  Write(dir + "/home/user/owned", "mine\n", 0600);
  ASSERT_EQ(::chown((dir + "/home/user/owned").c_str(), 1234, 5678), 0);
  fs::create_directories(dir + "/tmp");
  ::chmod((dir + "/tmp").c_str(), 01777);
}

// Builds tar archives entry by entry (optionally gzip) with libarchive.
class TarBuilder {
 public:
  explicit TarBuilder(bool gzip = false) : a_(archive_write_new()) {
    archive_write_set_format_pax_restricted(a_);
    if (gzip) archive_write_add_filter_gzip(a_);
    archive_write_open(a_, &out_, nullptr, &TarBuilder::Append, nullptr);
  }
  ~TarBuilder() { archive_write_free(a_); }
  TarBuilder& File(const std::string& name, const std::string& data, mode_t mode = 0644) {
    return Add(name, AE_IFREG | mode, data, nullptr, nullptr);
  }
  TarBuilder& Dir(const std::string& name, mode_t mode = 0755) { return Add(name, AE_IFDIR | mode, "", nullptr, nullptr); }
  TarBuilder& Symlink(const std::string& name, const std::string& target) {
    return Add(name, AE_IFLNK | 0777, "", target.c_str(), nullptr);
  }
  TarBuilder& Hardlink(const std::string& name, const std::string& target) {
    return Add(name, AE_IFREG | 0644, "", nullptr, target.c_str());
  }
  // Finishes the archive and returns its bytes.
  std::string Bytes() {
    archive_write_close(a_);
    return out_;
  }

 private:
  TarBuilder& Add(const std::string& name, mode_t mode, const std::string& data, const char* symlink,
                  const char* hardlink) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_mode(e, mode);
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    archive_entry_set_mtime(e, 1700000000, 0);
    if (symlink) archive_entry_set_symlink(e, symlink);
    if (hardlink) {
      archive_entry_set_hardlink(e, hardlink);
      archive_entry_set_size(e, 0);
    }
    archive_write_header(a_, e);
    if (!data.empty() && !hardlink) archive_write_data(a_, data.data(), data.size());
    archive_entry_free(e);
    return *this;
  }
  static la_ssize_t Append(archive*, void* out, const void* buf, size_t n) {
    static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  }
  archive* a_;
  std::string out_;
};

std::string Sha(const std::string& data) { return DigestOf(data); }

std::string UncompressedSha(const std::string& tmpdir, const std::string& data) {
  std::string p = tmpdir + "/uncompressed-probe";
  Write(p, data);
  auto d = UncompressedDigest(p);
  fs::remove(p);
  return d.ok() ? *d : "";
}

// ---- import ----------------------------------------------------------------------

TEST_F(ImageStoreTest, ImportRootfsDirSharesTheLayer) {
  MakeRootfs(tmp_ + "/rootfs");
  auto store = OpenStore();
  ASSERT_TRUE(store);
  ImageConfigOverrides cfg;
  cfg.cmd = std::vector<std::string>{"/bin/sh", "-c", "echo hi"};
  cfg.working_dir = "/www";
  cfg.exposed_ports = {"8080"};
  int progress_calls = 0;
  auto a = store->ImportRootfsDir(tmp_ + "/rootfs", "test/rootfs:1", cfg, [&](const Progress&) { ++progress_calls; });
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->ref, "docker.io/test/rootfs:1");
  ASSERT_EQ(a->layer_dirs.size(), 1u);
  EXPECT_EQ(a->cmd, (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
  EXPECT_EQ(a->working_dir, "/www");
  EXPECT_EQ(a->exposed_ports, std::vector<std::string>{"8080/tcp"});
  ASSERT_FALSE(a->env.empty());
  EXPECT_EQ(a->env[0].rfind("PATH=", 0), 0u);
  EXPECT_EQ(a->os, "linux");
  EXPECT_EQ(a->architecture, "amd64");
  EXPECT_GT(a->size_bytes, 0);
  EXPECT_GT(a->created_unix, 0);

  auto got = store->Get("test/rootfs:1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->id, a->id);
  EXPECT_EQ(store->Get("docker.io/test/rootfs:1")->id, a->id);
  EXPECT_EQ(store->Get(a->id)->manifest_digest, a->manifest_digest);
  EXPECT_EQ(store->Get(a->id.substr(7, 12))->id, a->id);
  EXPECT_EQ(store->Get(a->manifest_digest)->id, a->id);
  EXPECT_EQ(store->Get("test/rootfs:2").status().code(), Code::kNotFound);

  const std::string layer = a->layer_dirs[0];
  EXPECT_EQ(layer.rfind(store->root() + "/layers/", 0), 0u);
  EXPECT_EQ(Slurp(layer + "/www/index.html"), "hello from berth\n");
  EXPECT_EQ(fs::read_symlink(layer + "/bin/sh"), "busybox");
  struct stat s1, s2, so, st;
  ASSERT_EQ(::stat((layer + "/bin/busybox").c_str(), &s1), 0);
  ASSERT_EQ(::stat((layer + "/bin/busybox-hardlink").c_str(), &s2), 0);
  EXPECT_EQ(s1.st_ino, s2.st_ino);
  EXPECT_EQ(s1.st_mode & 07777, 0755u);
  ASSERT_EQ(::stat((layer + "/home/user/owned").c_str(), &so), 0);
  EXPECT_EQ(so.st_uid, 1234u);
  EXPECT_EQ(so.st_gid, 5678u);
  EXPECT_EQ(so.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat((layer + "/tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);

  // Importing the same tree again shares the layer blob and the layer dir.
  auto b = store->ImportRootfsDir(tmp_ + "/rootfs", "test/rootfs:2");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->layer_dirs, a->layer_dirs);
  EXPECT_EQ(CountEntries(store->root() + "/layers"), 1);
  EXPECT_EQ(CountEntries(store->root() + "/tmp"), 0);
  auto list = store->List();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].ref, "docker.io/test/rootfs:1");
  EXPECT_EQ(list[1].ref, "docker.io/test/rootfs:2");

  // A reference is needed and must be valid; the source must exist.
  EXPECT_EQ(store->ImportRootfsDir(tmp_ + "/rootfs", "Bad/Name").status().code(), Code::kInvalid);
  auto missing = store->ImportRootfsDir(tmp_ + "/nope", "x:1");
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("no such directory"), std::string::npos);
}

TEST_F(ImageStoreTest, ConcurrentImportsShareOneLayer) {
  MakeRootfs(tmp_ + "/rootfs");
  auto store = OpenStore();
  ASSERT_TRUE(store);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      auto s = ImageStore::Open(store->root());  // as separate processes would
      if (s.ok() && (*s)->ImportRootfsDir(tmp_ + "/rootfs", "test/c:" + std::to_string(i)).ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(store->List().size(), 4u);
  EXPECT_EQ(CountEntries(store->root() + "/layers"), 1);
}

TEST_F(ImageStoreTest, ImportTarballPlainAndGzip) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  std::string plain = TarBuilder()
                          .Dir("./etc")
                          .File("./etc/hostname", "berth\n")
                          .Symlink("./etc/alias", "hostname")
                          .File("./www/index.html", "hello from berth\n")
                          .Bytes();
  Write(tmp_ + "/rootfs.tar", plain);
  auto a = store->ImportTarball(tmp_ + "/rootfs.tar", "local/plain:1");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_EQ(a->layer_dirs.size(), 1u);
  EXPECT_EQ(Slurp(a->layer_dirs[0] + "/etc/hostname"), "berth\n");
  EXPECT_EQ(Slurp(a->layer_dirs[0] + "/www/index.html"), "hello from berth\n");
  EXPECT_EQ(fs::read_symlink(a->layer_dirs[0] + "/etc/alias"), "hostname");
  // A plain tar is stored as is: its digest is the layer's diffID.
  EXPECT_EQ(fs::path(a->layer_dirs[0]).filename().string(), Sha(plain).substr(7));
  EXPECT_TRUE(store->HasBlob(Sha(plain)));

  std::string gz = TarBuilder(true).File("hello", "gz\n").Bytes();
  Write(tmp_ + "/rootfs.tar.gz", gz);
  auto b = store->ImportTarball(tmp_ + "/rootfs.tar.gz", "local/gz:1");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(Slurp(b->layer_dirs[0] + "/hello"), "gz\n");

  auto missing = store->ImportTarball(tmp_ + "/nope.tar", "local/x:1");
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  Write(tmp_ + "/garbage.tar", std::string(3000, 'x'));
  auto garbage = store->ImportTarball(tmp_ + "/garbage.tar", "local/x:1");
  EXPECT_FALSE(garbage.ok());
  EXPECT_NE(garbage.status().message().find("tar"), std::string::npos) << garbage.status().message();
  EXPECT_EQ(store->List().size(), 2u);
}

// Writes an OCI layout whose two layers exercise both kinds of whiteout.
struct Layout {
  std::string lower_diff, upper_diff;
};
Layout WriteWhiteoutLayout(const std::string& tmp, const std::string& dir) {
  std::string lower = TarBuilder(true)
                          .Dir("a")
                          .File("a/keep", "keep\n")
                          .File("a/gone", "gone\n")
                          .Dir("b")
                          .File("b/old", "old\n")
                          .Bytes();
  std::string upper = TarBuilder(true)
                          .File("a/.wh.gone", "")
                          .Dir("b")
                          .File("b/.wh..wh..opq", "")
                          .File("b/new", "new\n")
                          .Bytes();
  Layout l{UncompressedSha(tmp, lower), UncompressedSha(tmp, upper)};
  json config = {{"architecture", "amd64"},
                 {"os", "linux"},
                 {"config", {{"Entrypoint", {"/bin/sh"}}, {"User", "65534"}}},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", {l.lower_diff, l.upper_diff}}}}};
  std::string cfg = config.dump();
  json manifest = {
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
      {"config", {{"mediaType", "application/vnd.oci.image.config.v1+json"}, {"digest", Sha(cfg)}, {"size", cfg.size()}}},
      {"layers",
       {{{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"}, {"digest", Sha(lower)}, {"size", lower.size()}},
        {{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"}, {"digest", Sha(upper)}, {"size", upper.size()}}}}};
  std::string man = manifest.dump();
  for (const std::string* b : {&lower, &upper, &cfg, &man}) Write(dir + "/blobs/sha256/" + Sha(*b).substr(7), *b);
  json index = {{"schemaVersion", 2},
                {"manifests",
                 {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                   {"digest", Sha(man)},
                   {"size", man.size()},
                   {"annotations",
                    {{"io.containerd.image.name", "example.com/whiteouts:1"},
                     {"org.opencontainers.image.ref.name", "1"}}}}}}};
  Write(dir + "/index.json", index.dump());
  Write(dir + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  return l;
}

TEST_F(ImageStoreTest, OciLayoutWhiteoutsWorkInAnOverlayMount) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  Layout l = WriteWhiteoutLayout(tmp_, tmp_ + "/layout");
  auto img = store->ImportOciLayout(tmp_ + "/layout", "");
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->ref, "example.com/whiteouts:1");
  EXPECT_EQ(img->entrypoint, std::vector<std::string>{"/bin/sh"});
  EXPECT_EQ(img->user, "65534");
  ASSERT_EQ(img->layer_dirs.size(), 2u);
  EXPECT_EQ(img->layer_dirs[0], store->LayerDir(l.lower_diff));
  EXPECT_EQ(img->layer_dirs[1], store->LayerDir(l.upper_diff));
  const std::string lower = img->layer_dirs[0], upper = img->layer_dirs[1];

  // overlayfs form: a 0/0 character device and an opaque xattr.
  struct stat st;
  ASSERT_EQ(::lstat((upper + "/a/gone").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  EXPECT_FALSE(fs::exists(upper + "/a/.wh.gone"));
  char v[8] = {};
  ASSERT_EQ(::getxattr((upper + "/b").c_str(), "trusted.overlay.opaque", v, sizeof v), 1);
  EXPECT_EQ(v[0], 'y');
  EXPECT_FALSE(fs::exists(upper + "/b/.wh..wh..opq"));
  EXPECT_EQ(Slurp(lower + "/a/gone"), "gone\n");

  // Selecting by the ref.name annotation works too.
  auto again = store->ImportOciLayout(tmp_ + "/layout", "example.com/whiteouts:1");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->id, img->id);

  // The real thing: overlay the two layers and look.
  std::string mnt = tmp_ + "/mnt";
  fs::create_directories(mnt);
  std::string opts = "lowerdir=" + upper + ":" + lower;
  ASSERT_EQ(::mount("overlay", mnt.c_str(), "overlay", MS_RDONLY, opts.c_str()), 0) << std::strerror(errno);
  bool keep = fs::exists(mnt + "/a/keep"), gone = fs::exists(mnt + "/a/gone"), old = fs::exists(mnt + "/b/old"),
       added = fs::exists(mnt + "/b/new");
  ASSERT_EQ(::umount2(mnt.c_str(), MNT_DETACH), 0);
  EXPECT_TRUE(keep);
  EXPECT_FALSE(gone) << "the whiteout hides a/gone";
  EXPECT_FALSE(old) << "the opaque dir hides b/old";
  EXPECT_TRUE(added);
}

TEST_F(ImageStoreTest, OciArchiveTarballIsDetected) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  WriteWhiteoutLayout(tmp_, tmp_ + "/layout");
  // Pack the layout as an OCI archive (what `skopeo copy oci-archive:` makes).
  TarBuilder t;
  for (const auto& e : fs::recursive_directory_iterator(tmp_ + "/layout")) {
    std::string rel = fs::relative(e.path(), tmp_ + "/layout").string();
    if (e.is_directory()) t.Dir(rel);
    else t.File(rel, Slurp(e.path().string()));
  }
  Write(tmp_ + "/image.tar", t.Bytes());
  auto img = store->ImportTarball(tmp_ + "/image.tar", "");
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->ref, "example.com/whiteouts:1");
  EXPECT_EQ(img->layer_dirs.size(), 2u);
  EXPECT_EQ(CountEntries(store->root() + "/tmp"), 0);
}

TEST_F(ImageStoreTest, DockerSaveTarballIsDetected) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  std::string layer = TarBuilder().File("etc/os-release", "ID=berth\n").Bytes();
  json config = {{"architecture", "amd64"},
                 {"os", "linux"},
                 {"config", {{"Cmd", {"sh"}}}},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", {Sha(layer)}}}}};
  std::string cfg = config.dump();
  json manifest = json::array({{{"Config", Sha(cfg).substr(7) + ".json"},
                                {"RepoTags", {"saved/image:v1"}},
                                {"Layers", {"abc/layer.tar"}}}});
  std::string archive = TarBuilder()
                            .File(Sha(cfg).substr(7) + ".json", cfg)
                            .Dir("abc")
                            .File("abc/layer.tar", layer)
                            .File("manifest.json", manifest.dump())
                            .Bytes();
  Write(tmp_ + "/saved.tar", archive);
  auto img = store->ImportTarball(tmp_ + "/saved.tar", "");
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->ref, "docker.io/saved/image:v1");
  EXPECT_EQ(img->id, Sha(cfg));
  EXPECT_EQ(img->cmd, std::vector<std::string>{"sh"});
  EXPECT_EQ(Slurp(img->layer_dirs[0] + "/etc/os-release"), "ID=berth\n");
}

// ---- hostile layers ---------------------------------------------------------------

TEST_F(ImageStoreTest, HostileLayersAreRefusedAndLeaveNothing) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  // Each archive tries to write outside the layer; the sentinel names are
  // unique so the assertions below can check the host stayed clean.
  const std::string victim = tmp_ + "/victim";
  fs::create_directories(victim);
  Write(victim + "/secret", "secret\n");
  std::string rel_victim = fs::relative(victim, "/").string();  // e.g. tmp/berth-images-test.X/victim
  struct Case {
    std::string name;
    std::string tar;
    std::string message_part;
  };
  std::string deep_dotdot = "../../../../../../../../.." + victim + "/evil-dotdot";
  std::vector<Case> cases = {
      {"dotdot", TarBuilder().File("ok", "x").File("../evil", "x").Bytes(), "escapes the layer"},
      {"deep dotdot", TarBuilder().File(deep_dotdot, "x").Bytes(), "escapes the layer"},
      {"absolute", TarBuilder().File(victim + "/evil-abs", "x").Bytes(), "absolute path"},
      {"file through absolute symlink",
       TarBuilder().Symlink("escape", victim).File("escape/evil-symlink", "x").Bytes(), "symlink"},
      {"hardlink through absolute symlink",
       TarBuilder().Symlink("escape", victim).Hardlink("stolen", "escape/secret").Bytes(), "symlink"},
      {"hardlink outside", TarBuilder().Hardlink("stolen", "../../../../../../" + rel_victim + "/secret").Bytes(),
       "escapes the layer"},
      {"hardlink absolute", TarBuilder().Hardlink("stolen", victim + "/secret").Bytes(), "absolute path"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Write(tmp_ + "/bad.tar", c.tar);
    auto r = store->ImportTarball(tmp_ + "/bad.tar", "evil/image:1");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kInvalid) << r.status().ToString();
    EXPECT_NE(r.status().message().find(c.message_part), std::string::npos) << r.status().message();
    EXPECT_EQ(store->Get("evil/image:1").status().code(), Code::kNotFound);
    EXPECT_EQ(CountEntries(store->root() + "/layers"), 0);
    EXPECT_EQ(CountEntries(store->root() + "/blobs/sha256"), 0);
    EXPECT_EQ(CountEntries(store->root() + "/tmp"), 0);
  }
  EXPECT_EQ(CountEntries(victim), 1);
  EXPECT_EQ(Slurp(victim + "/secret"), "secret\n");
  EXPECT_FALSE(fs::exists(tmp_ + "/evil"));
  EXPECT_FALSE(fs::exists(tmp_ + "/store/evil"));
}

// ---- garbage collection ----------------------------------------------------------

TEST_F(ImageStoreTest, GarbageCollectKeepsWhatIsUsed) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  MakeRootfs(tmp_ + "/ra", "image a");
  MakeRootfs(tmp_ + "/rb", "image b");
  auto a = store->ImportRootfsDir(tmp_ + "/ra", "gc/a:1");
  auto b = store->ImportRootfsDir(tmp_ + "/rb", "gc/b:1");
  ASSERT_TRUE(a.ok() && b.ok());
  auto a2 = store->ImportRootfsDir(tmp_ + "/ra", "gc/a:2");  // same layer as a
  ASSERT_TRUE(a2.ok());
  EXPECT_EQ(CountEntries(store->root() + "/layers"), 2);

  auto none = store->GarbageCollect({});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->layers_removed, 0);
  EXPECT_EQ(none->blobs_removed, 0);

  // Untagged but in use: kept, and still found by id.
  ASSERT_TRUE(store->Remove("gc/b:1").ok());
  EXPECT_EQ(store->Remove("gc/b:1").code(), Code::kNotFound);
  auto kept = store->GarbageCollect({b->id});
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->layers_removed, 0);
  EXPECT_TRUE(fs::exists(b->layer_dirs[0]));
  EXPECT_TRUE(store->Get(b->id).ok());

  auto gone = store->GarbageCollect({});
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->layers_removed, 1);
  EXPECT_EQ(gone->manifests_removed, 1);
  EXPECT_EQ(gone->blobs_removed, 3);  // manifest, config, layer
  EXPECT_GT(gone->bytes_freed, 0);
  EXPECT_FALSE(fs::exists(b->layer_dirs[0]));
  EXPECT_FALSE(store->HasBlob(b->manifest_digest));
  EXPECT_EQ(store->Get(b->id).status().code(), Code::kNotFound);
  // a's layer is shared by two tags; dropping one keeps it.
  ASSERT_TRUE(store->Remove("gc/a:1").ok());
  ASSERT_TRUE(store->GarbageCollect({}).ok());
  EXPECT_TRUE(fs::exists(a->layer_dirs[0]));
  EXPECT_EQ(Slurp(a2->layer_dirs[0] + "/www/index.html"), "image a\n");
  ASSERT_TRUE(store->Remove(a2->id).ok());  // by id: every tag
  auto all = store->GarbageCollect({});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(CountEntries(store->root() + "/layers"), 0);
  EXPECT_EQ(CountEntries(store->root() + "/blobs/sha256"), 0);
}

// ---- docker config auth ------------------------------------------------------------

TEST(DockerConfigTest, FindsCredentials) {
  std::string cfg = R"({"auths":{
      "https://index.docker.io/v1/":{"auth":")" + Base64Encode("hub:pw1") + R"("},
      "localhost:5000":{"username":"alice","password":"secret"},
      "tok.example":{"registrytoken":"abc"},
      "bad.example":{"auth":"!!!"}}})";
  auto hub = AuthFromDockerConfig(cfg, "docker.io");
  ASSERT_TRUE(hub.ok()) << hub.status().ToString();
  EXPECT_EQ(hub->username, "hub");
  EXPECT_EQ(hub->password, "pw1");
  auto local = AuthFromDockerConfig(cfg, "localhost:5000");
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->username, "alice");
  EXPECT_EQ(local->password, "secret");
  EXPECT_EQ(AuthFromDockerConfig(cfg, "tok.example")->registry_token, "abc");
  EXPECT_EQ(AuthFromDockerConfig(cfg, "other.example").status().code(), Code::kNotFound);
  EXPECT_EQ(AuthFromDockerConfig(cfg, "bad.example").status().code(), Code::kBadRequest);
  EXPECT_EQ(AuthFromDockerConfig("not json", "docker.io").status().code(), Code::kBadRequest);
  // Legacy .dockercfg: no "auths" wrapper.
  auto legacy = AuthFromDockerConfig(R"({"quay.io":{"auth":")" + Base64Encode("q:w") + R"("}})", "quay.io");
  ASSERT_TRUE(legacy.ok());
  EXPECT_EQ(legacy->username, "q");
}

// ---- pulls from an in-test registry ------------------------------------------------

// A minimal plain-HTTP server on 127.0.0.1: one connection at a time, one
// request per connection (Connection: close), answered by a handler.
class TestHttpServer {
 public:
  struct Request {
    std::string method, target;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string Header(const std::string& k) const {
      auto it = headers.find(k);
      return it == headers.end() ? "" : it->second;
    }
  };
  struct Response {
    int status = 200;
    std::map<std::string, std::string> headers;
    std::string body;
  };
  using Handler = std::function<Response(const Request&)>;

  explicit TestHttpServer(Handler h) : handler_(std::move(h)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~TestHttpServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);  // wakes accept()
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  std::vector<Request> requests() {
    std::lock_guard<std::mutex> l(mu_);
    return log_;
  }

 private:
  void Loop() {
    while (!stop_) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        if (stop_) break;
        continue;
      }
      Serve(c);
      ::close(c);
    }
  }
  void Serve(int c) {
    std::string in;
    char buf[4096];
    while (in.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
    }
    Request req;
    std::istringstream is(in.substr(0, in.find("\r\n\r\n")));
    std::string line;
    std::getline(is, line);
    std::istringstream rl(line);
    rl >> req.method >> req.target;
    while (std::getline(is, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string k = line.substr(0, colon), v = line.substr(colon + 1);
      for (auto& ch : k) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      req.headers[k] = v;
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      log_.push_back(req);
    }
    Response res = handler_(req);
    std::string out = "HTTP/1.1 " + std::to_string(res.status) + " X\r\nConnection: close\r\nContent-Length: " +
                      std::to_string(res.body.size()) + "\r\n";
    for (const auto& [k, v] : res.headers) out += k + ": " + v + "\r\n";
    out += "\r\n";
    if (req.method != "HEAD") out += res.body;
    size_t off = 0;
    while (off < out.size()) {
      ssize_t n = ::send(c, out.data() + off, out.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }

  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<Request> log_;
};

// A registry serving one image under several repositories, each showing a
// different behaviour: public/* anonymous, private/* behind the bearer-token
// flow (alice:secret), basic/* behind Basic auth, corrupt/* with a damaged
// layer, redirect/* with blobs redirected to another origin, multi/* as a
// manifest list.
class ImagePullTest : public ImageStoreTest {
 protected:
  void SetUp() override {
    ImageStoreTest::SetUp();
    MakeRootfs(tmp_ + "/rootfs");
    auto src = OpenStore("source");
    ASSERT_TRUE(src);
    auto img = src->ImportRootfsDir(tmp_ + "/rootfs", "source/img:1");
    ASSERT_TRUE(img.ok()) << img.status().ToString();
    image_ = *img;
    manifest_ = Slurp(src->BlobPath(img->manifest_digest));
    json m = json::parse(manifest_);
    config_digest_ = m["config"]["digest"];
    layer_digest_ = m["layers"][0]["digest"];
    blobs_[config_digest_] = Slurp(src->BlobPath(config_digest_));
    blobs_[layer_digest_] = Slurp(src->BlobPath(layer_digest_));
    json list = {{"schemaVersion", 2},
                 {"mediaType", "application/vnd.docker.distribution.manifest.list.v2+json"},
                 {"manifests",
                  {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                    {"digest", "sha256:" + std::string(64, 'e')},
                    {"size", 1},
                    {"platform", {{"os", "linux"}, {"architecture", "arm64"}}}},
                   {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                    {"digest", image_.manifest_digest},
                    {"size", manifest_.size()},
                    {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}}}}};
    list_ = list.dump();
    server_ = std::make_unique<TestHttpServer>([this](const TestHttpServer::Request& r) { return Handle(r); });
    host_ = "127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    server_.reset();
    ImageStoreTest::TearDown();
  }

  TestHttpServer::Response Error(int status, const std::string& code, const std::string& msg) {
    TestHttpServer::Response r;
    r.status = status;
    r.headers["Content-Type"] = "application/json";
    r.body = json({{"errors", {{{"code", code}, {"message", msg}}}}}).dump();
    return r;
  }

  TestHttpServer::Response Handle(const TestHttpServer::Request& r) {
    const std::string& t = r.target;
    if (t.rfind("/token?", 0) == 0) {
      if (r.Header("authorization") != "Basic " + Base64Encode("alice:secret")) {
        return Error(401, "UNAUTHORIZED", "bad credentials");
      }
      TestHttpServer::Response ok;
      ok.body = R"({"token":"tok-123"})";
      last_token_query_ = t;
      return ok;
    }
    if (t.rfind("/cdn/", 0) == 0) {
      cdn_saw_authorization_ = cdn_saw_authorization_ || !r.Header("authorization").empty();
      TestHttpServer::Response ok;
      ok.body = blobs_[t.substr(5)];
      return ok;
    }
    // /v2/<ns>/img/(manifests|blobs)/<x>
    if (t.rfind("/v2/", 0) != 0) return Error(404, "NOT_FOUND", "no route");
    std::string rest = t.substr(4);
    std::string ns = rest.substr(0, rest.find('/'));
    if (ns == "private" && r.Header("authorization") != "Bearer tok-123") {
      auto res = Error(401, "UNAUTHORIZED", "authentication required");
      res.headers["WWW-Authenticate"] = "Bearer realm=\"http://" + host_ +
                                        "/token\",service=\"test-registry\",scope=\"repository:private/img:pull\"";
      return res;
    }
    if (ns == "basic" && r.Header("authorization") != "Basic " + Base64Encode("alice:secret")) {
      auto res = Error(401, "UNAUTHORIZED", "authentication required");
      res.headers["WWW-Authenticate"] = "Basic realm=\"test\"";
      return res;
    }
    std::string repo_prefix = ns + "/img/";
    if (rest.rfind(repo_prefix, 0) != 0) return Error(404, "NAME_UNKNOWN", "repository name not known");
    std::string what = rest.substr(repo_prefix.size());
    if (what.rfind("manifests/", 0) == 0) {
      std::string ref = what.substr(10);
      TestHttpServer::Response ok;
      if (ns == "multi" && ref == "1") {
        ok.headers["Content-Type"] = "application/vnd.docker.distribution.manifest.list.v2+json";
        ok.body = list_;
        return ok;
      }
      if (ref == "1" || ref == image_.manifest_digest) {
        ok.headers["Content-Type"] = "application/vnd.oci.image.manifest.v1+json";
        ok.headers["Docker-Content-Digest"] = image_.manifest_digest;
        ok.body = manifest_;
        return ok;
      }
      return Error(404, "MANIFEST_UNKNOWN", "manifest unknown");
    }
    if (what.rfind("blobs/", 0) == 0) {
      std::string d = what.substr(6);
      if (!blobs_.count(d)) return Error(404, "BLOB_UNKNOWN", "blob unknown");
      if (ns == "redirect") {
        TestHttpServer::Response moved;
        moved.status = 307;
        moved.headers["Location"] = "http://localhost:" + std::to_string(server_->port()) + "/cdn/" + d;
        return moved;
      }
      TestHttpServer::Response ok;
      ok.body = blobs_[d];
      if (ns == "corrupt" && d == layer_digest_) ok.body[ok.body.size() / 2] ^= 0x55;
      return ok;
    }
    return Error(404, "NOT_FOUND", "no route");
  }

  PullOptions Insecure() {
    PullOptions o;
    o.insecure = true;
    return o;
  }

  ImageInfo image_;
  std::string manifest_, list_, config_digest_, layer_digest_;
  std::map<std::string, std::string> blobs_;
  std::unique_ptr<TestHttpServer> server_;
  std::string host_;
  std::string last_token_query_;
  bool cdn_saw_authorization_ = false;
};

TEST_F(ImagePullTest, AnonymousPull) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  int64_t fetched = 0;
  PullOptions o = Insecure();
  o.progress = [&](const Progress& p) {
    if (p.phase == "fetch") fetched = std::max(fetched, p.done);
  };
  auto img = PullImage(*store, host_ + "/public/img:1", o);
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->ref, host_ + "/public/img:1");
  EXPECT_EQ(img->id, image_.id);
  EXPECT_EQ(img->manifest_digest, image_.manifest_digest);
  ASSERT_EQ(img->layer_dirs.size(), 1u);
  EXPECT_EQ(Slurp(img->layer_dirs[0] + "/www/index.html"), "hello from berth\n");
  EXPECT_GT(fetched, 0);
  EXPECT_TRUE(store->Get(host_ + "/public/img:1").ok());

  // By digest; blobs already present are not fetched again.
  size_t before = server_->requests().size();
  auto by_digest = PullImage(*store, host_ + "/public/img@" + image_.manifest_digest, o);
  ASSERT_TRUE(by_digest.ok()) << by_digest.status().ToString();
  EXPECT_EQ(server_->requests().size(), before + 1);  // the manifest only
}

TEST_F(ImagePullTest, BearerTokenFlow) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  PullOptions o = Insecure();
  auto anon = PullImage(*store, host_ + "/private/img:1", o);
  EXPECT_EQ(anon.status().code(), Code::kUnauthorized) << anon.status().ToString();

  o.auth.username = "alice";
  o.auth.password = "wrong";
  auto wrong = PullImage(*store, host_ + "/private/img:1", o);
  EXPECT_EQ(wrong.status().code(), Code::kUnauthorized) << wrong.status().ToString();
  EXPECT_NE(wrong.status().message().find("rejected the credentials"), std::string::npos) << wrong.status().message();
  EXPECT_EQ(CountEntries(store->root() + "/blobs/sha256"), 0);

  o.auth.password = "secret";
  auto img = PullImage(*store, host_ + "/private/img:1", o);
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->id, image_.id);
  EXPECT_NE(last_token_query_.find("service=test-registry"), std::string::npos) << last_token_query_;
  EXPECT_NE(last_token_query_.find("scope=repository%3Aprivate%2Fimg%3Apull"), std::string::npos)
      << last_token_query_;
}

TEST_F(ImagePullTest, BasicAuth) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  PullOptions o = Insecure();
  o.auth.username = "alice";
  o.auth.password = "wrong";
  auto wrong = PullImage(*store, host_ + "/basic/img:1", o);
  EXPECT_EQ(wrong.status().code(), Code::kUnauthorized) << wrong.status().ToString();
  EXPECT_NE(wrong.status().message().find("authentication failed"), std::string::npos);
  o.auth.password = "secret";
  auto img = PullImage(*store, host_ + "/basic/img:1", o);
  ASSERT_TRUE(img.ok()) << img.status().ToString();
}

TEST_F(ImagePullTest, CorruptBlobStoresNothing) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  auto r = PullImage(*store, host_ + "/corrupt/img:1", Insecure());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_NE(r.status().message().find("digest mismatch"), std::string::npos) << r.status().message();
  EXPECT_FALSE(store->HasBlob(layer_digest_));
  EXPECT_FALSE(store->HasBlob(config_digest_));
  EXPECT_EQ(CountEntries(store->root() + "/blobs/sha256"), 0);
  EXPECT_EQ(CountEntries(store->root() + "/layers"), 0);
  EXPECT_EQ(CountEntries(store->root() + "/tmp"), 0);
  EXPECT_TRUE(store->List().empty());
}

TEST_F(ImagePullTest, ManifestUnknownIsNotFound) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  auto r = PullImage(*store, host_ + "/public/img:nope", Insecure());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("image not found"), std::string::npos) << r.status().message();
  auto repo = PullImage(*store, host_ + "/public/other:1", Insecure());
  EXPECT_EQ(repo.status().code(), Code::kNotFound);
}

TEST_F(ImagePullTest, UnreachableRegistryIsUnavailable) {
  // A port that was free a moment ago: bind, read it, close.
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(s);
  auto store = OpenStore();
  ASSERT_TRUE(store);
  auto r = PullImage(*store, "127.0.0.1:" + std::to_string(port) + "/public/img:1", Insecure());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("registry unreachable"), std::string::npos) << r.status().message();
}

TEST_F(ImagePullTest, BlobRedirectDropsCredentials) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  PullOptions o = Insecure();
  o.auth.registry_token = "tok-123";  // sent to the registry, not to the CDN
  auto img = PullImage(*store, host_ + "/redirect/img:1", o);
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->id, image_.id);
  EXPECT_FALSE(cdn_saw_authorization_);
  int cdn = 0;
  for (const auto& r : server_->requests()) cdn += r.target.rfind("/cdn/", 0) == 0;
  EXPECT_EQ(cdn, 2);  // config and layer
}

TEST_F(ImagePullTest, ManifestListPicksLinuxAmd64) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  auto img = PullImage(*store, host_ + "/multi/img:1", Insecure());
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->manifest_digest, image_.manifest_digest);
  EXPECT_EQ(img->ref, host_ + "/multi/img:1");
}

}  // namespace
}  // namespace berth::images

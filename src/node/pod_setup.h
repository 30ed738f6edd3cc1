// Turning a pod spec into what the runtime needs: the pod's files (volumes,
// /etc/hosts, resolv.conf), a container's OCI settings (process, env, user,
// security context, resources), its overlay root file system and mounts.
// Internal to node/; used by PodWorker.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/json.h"
#include "node/context.h"

namespace berth::node {

struct PodFiles {
  std::string netns_path;
  std::string pod_ip;
  std::string etc_dir;                          // hosts, hostname, resolv.conf
  std::map<std::string, std::string> volumes;   // volume name -> host path
  std::set<std::string> read_only_volumes;      // configMap, secret, projected, downwardAPI
  std::vector<std::string> mounts;              // tmpfs mounted for the pod (unmounted on release)
  // Projected service-account tokens, rewritten before they expire.
  struct Token {
    std::string file;      // host path of the token file
    std::string audience;  // empty: the API server's
    int64_t expiration_seconds = 3600;
    int mode = 0644;
  };
  std::vector<Token> tokens;
  int64_t tokens_refresh_at = 0;  // unix seconds; 0 = no tokens
};

// A pod's directory `dir` (DATA/node/pods/<uid>) holds on disk what must
// survive a reboot or may be large: container logs (logs/), the containers'
// writable layers (overlay/<container>-<attempt>/{upper,work}) and emptyDir
// volumes. What is generated per start lives in a tmpfs at <dir>/run: the
// /etc files, secret, configMap, projected and downwardAPI volumes (secrets
// and tokens never reach the disk, as with kubelet) and each container's
// runtime state (run/c/<container>/<attempt>: bundle, pid files, exit
// record, rootfs mount point). Besides keeping secrets off the disk, this
// spares each pod start some thirty inode allocations on the data file system.
std::string PodRunDir(const std::string& dir);
std::string ContainerStateRoot(const std::string& dir);  // <dir>/run/c
// Mounts the tmpfs at <dir>/run unless it is mounted already (an adopted pod).
Status EnsurePodRunDir(const std::string& dir);

// Creates the pod's volumes and /etc files under `dir`. Reads ConfigMaps,
// Secrets and PersistentVolumeClaims through the API.
Status PreparePodFiles(NodeContext* ctx, const Json& pod, const std::string& dir, const std::string& pod_ip,
                       PodFiles* out);
void ReleasePodFiles(PodFiles* files, const std::string& dir);
// Requests every projected token of the pod (TokenRequest bound to the pod)
// and writes it atomically; sets tokens_refresh_at to 80 % of the shortest
// lifetime, as kubelet does.
Status WriteServiceAccountTokens(NodeContext* ctx, const Json& pod, PodFiles* files);

// The pod's imagePullSecrets, read through the API.
std::vector<PullSecret> PullSecrets(NodeContext* ctx, const Json& pod);

// Fills process, user, security and resource settings of `cfg` from the
// container spec and the image config.
Status BuildContainerConfig(NodeContext* ctx, const Json& pod, const Json& container, const images::ImageInfo& image,
                            const PodFiles& files, ContainerConfig* cfg);
// Mounts the container's overlay root (image layers + its own upper dir
// under `layer_dir`, on disk) at <ctr_dir>/rootfs.
Status PrepareRootfs(const images::ImageInfo& image, const std::string& ctr_dir, const std::string& layer_dir,
                     std::string* rootfs);
// Adds the container's volumeMounts and the pod's /etc files to cfg->mounts.
Status MountVolumes(const PodFiles& files, const Json& container, const std::string& rootfs, ContainerConfig* cfg);

// Kubernetes' $(VAR) expansion: defined names are replaced, $$ escapes,
// anything else is left as written.
std::string ExpandVars(const std::string& in, const std::map<std::string, std::string>& env);

}  // namespace berth::node

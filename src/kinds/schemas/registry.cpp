// Schemas of Berth's registry.berth.dev/v1 kinds: Project, RobotAccount,
// GarbageCollection and ArtifactCopy (see docs/registry.md).
#include "kinds/schemas/schemas.h"

namespace berth::kinds::schemas {

const std::string_view kRegistry = R"(
package dev.berth.registry.v1

Project gvk=registry.berth.dev/v1 list : A registry project: the first path component of its repositories' names, with its own members, visibility and quota.
  metadata ObjectMeta : Standard object metadata.
  spec ProjectSpec : What the project allows.
  status ProjectStatus : What the project holds.

ProjectSpec : What a project allows.
  public boolean : Anyone, even an anonymous client, may pull.
  storageLimit Quantity : Most bytes the distinct blobs of the project's repositories may take; unset means no limit.
  members []ProjectMember atomic : Users and groups with a role in the project.
  immutableTags []string atomic : Tag patterns (shell globs such as "v*" or "release-*"); a tag that matches cannot be moved to another manifest or deleted once pushed.
  retention RetentionPolicy : Which tagged artifacts retention runs remove.
  webhooks []Webhook atomic : HTTP endpoints told about pushes and deletes.

RetentionPolicy : Rules for removing old artifacts.
  rules []RetentionRule atomic : Each rule selects tagged artifacts and keeps some of them; the selected tags it does not keep are removed (an artifact that loses its last tag is deleted). Artifacts another rule keeps, or with an immutable tag, stay; artifacts no rule selects are not touched.
  intervalSeconds int64 : How often retention runs (default 3600); it also runs whenever the policy changes.

RetentionRule : One retention rule.
  repositories string : Glob of repository paths within the project (default "*": all).
  tags string : Glob of the tags the rule selects (default "*").
  keepLast int64 : Keep the most recently pushed N selected artifacts per repository.
  keepNewerThanSeconds int64 : Keep selected artifacts pushed within this many seconds.

Webhook : An HTTP endpoint that receives registry events as JSON POSTs.
  url string req : http:// or https:// URL.
  events []string set : PUSH_ARTIFACT and/or DELETE_ARTIFACT (default both).
  caBundle string : PEM CA certificates for an https URL (default: the system roots).
  authHeader string : Value of the Authorization header sent with each event.

ProjectMember : A user or group with a role.
  kind string req enum=User|Group : User or Group.
  name string req : The user or group name, as the API authenticates it.
  role string req enum=admin|maintainer|developer|guest : admin and maintainer pull, push and delete; developer pulls and pushes; guest pulls.

ProjectStatus : What a project holds.
  repositoryCount int64 : Repositories with at least one manifest.
  usedBytes int64 : Bytes of the distinct blobs its repositories link.
  lastRetentionTime Time : When retention last ran.
  retentionGeneration int64 : The project generation retention last ran for.
  retentionDeletedTags int64 : Tags removed by the last retention run.
  conditions []Condition map=type : Current state.

RobotAccount gvk=registry.berth.dev/v1 list : A non-human registry account for pipelines: logs in as robot$NAME with a generated secret, limited to the listed projects and actions, until it expires.
  metadata ObjectMeta : Standard object metadata.
  spec RobotAccountSpec : What the robot may do.
  status RobotAccountStatus : Its user name and where its secret is.

RobotAccountSpec : What a robot may do.
  description string : Free text.
  disabled boolean : A disabled robot cannot log in.
  expiresAt Time : When the robot stops working; unset means never.
  permissions []RobotPermission req atomic : Projects and actions.

RobotPermission : Actions in one project.
  project string req : The project name.
  actions []string req set : Any of pull, push and delete.

RobotAccountStatus : A robot's credentials.
  username string : robot$NAME, the user name for docker login.
  secretRef SecretReference : The Secret (key "secret") holding its password.
  conditions []Condition map=type : Current state.

GarbageCollection gvk=registry.berth.dev/v1 list : One run of registry garbage collection: removes blobs no manifest references, optionally untagged manifests first, and reports what it freed.
  metadata ObjectMeta : Standard object metadata.
  spec GarbageCollectionSpec : What to collect.
  status GarbageCollectionStatus : What was collected.

GarbageCollectionSpec : What to collect.
  deleteUntagged boolean : Delete manifests that have no tag, are listed by no index and refer to no kept manifest.
  keepRecentSeconds int64 : Keep blobs uploaded, mounted or checked within this many seconds (default 3600), so that an image being pushed keeps its blobs until its manifest lands.
  unreferencedBefore Time : Overrides keepRecentSeconds: keep what was used at or after this time.
  dryRun boolean : Report what would be freed without removing anything.
  uploadExpirySeconds int64 : Remove upload sessions nobody wrote to for this many seconds (default 86400).

GarbageCollectionStatus : What was collected.
  phase string : Pending, Running, Succeeded or Failed.
  startTime Time : When the run began.
  completionTime Time : When it ended.
  blobsDeleted int64 : Blobs removed.
  manifestsDeleted int64 : Untagged manifests removed.
  uploadsDeleted int64 : Abandoned upload sessions removed.
  bytesFreed int64 : Disk bytes freed.
  message string : Why it failed.

ArtifactCopy gvk=registry.berth.dev/v1 list : Copies (promotes) an artifact from one repository to another, e.g. from a test project to a production one, without moving blob bytes.
  metadata ObjectMeta : Standard object metadata.
  spec ArtifactCopySpec : What to copy where.
  status ArtifactCopyStatus : The outcome.

ArtifactCopySpec : What to copy where.
  from string req : Source, REPOSITORY:TAG or REPOSITORY@DIGEST.
  to string req : Destination, REPOSITORY or REPOSITORY:TAG (the source's tag by default).

ArtifactCopyStatus : The outcome.
  phase string : Running, Succeeded or Failed.
  startTime Time : When the copy began.
  digest string : The copied manifest's digest.
  completionTime Time : When it finished.
  message string : Why it failed.

Replication gvk=registry.berth.dev/v1 list : Mirrors repositories between this registry and an external OCI registry, pushing local artifacts there or pulling remote ones here.
  metadata ObjectMeta : Standard object metadata.
  spec ReplicationSpec : What to mirror, which way.
  status ReplicationStatus : The last run.

ReplicationSpec : What to mirror, which way.
  direction string req enum=Push|Pull : Push copies local artifacts to the remote registry; Pull copies remote artifacts here.
  remote RemoteRegistry req : The other registry.
  repositories []string req atomic : Push: local repositories, as globs ("test/*"); Pull: remote repository names (registries seldom list their catalog).
  tags string : Glob of the tags to copy (default "*").
  destination string : Push: a prefix for the remote names (default: the same names); Pull: the local project the remote names are put under (required).
  intervalSeconds int64 : Also run every this many seconds (default 0: only when the spec changes).

RemoteRegistry : Another OCI registry.
  url string req : https://host[:port], or http://host[:port] for plain HTTP on a trusted network.
  caBundle string : PEM CA certificates to trust for it, besides the system roots.
  credentialsSecret SecretReference : A Secret with the keys username and password.

ReplicationStatus : The last run.
  phase string : Running, Succeeded or Failed.
  observedGeneration int64 : The spec generation the last run used.
  lastRunTime Time : When the last run started.
  completionTime Time : When it ended.
  copied int64 : Artifacts (tags) copied.
  skipped int64 : Artifacts already in place.
  bytes int64 : Blob bytes transferred.
  message string : Why it failed.
)";

}  // namespace berth::kinds::schemas

// Schemas of apps/v1 (Deployment, ReplicaSet, StatefulSet, DaemonSet) and
// batch/v1 (Job, CronJob).
#include "kinds/schemas/schemas.h"

namespace berth::kinds::schemas {

const std::string_view kApps = R"(
package io.k8s.api.apps.v1

Deployment gvk=apps/v1 list : Declarative updates for Pods through ReplicaSets.
  metadata ObjectMeta : Standard object metadata.
  spec DeploymentSpec : Desired behavior of the Deployment.
  status DeploymentStatus : Most recently observed status.

DeploymentSpec : Desired behavior of a Deployment.
  replicas int32 : Number of desired pods. Defaults to 1.
  selector LabelSelector req : Label selector of the pods; must match the template labels. Immutable.
  template PodTemplateSpec req : Template of the pods to create.
  strategy DeploymentStrategy retain : How existing pods are replaced by new ones.
  minReadySeconds int32 : Seconds a new pod must be ready, without crashing, to count as available.
  revisionHistoryLimit int32 : Old ReplicaSets kept for rollback. Defaults to 10.
  paused boolean : Pause the rollout.
  progressDeadlineSeconds int32 : Seconds before a stalled rollout is reported as failed. Defaults to 600.

DeploymentStrategy : How a Deployment replaces pods.
  type string : Recreate or RollingUpdate (default).
  rollingUpdate RollingUpdateDeployment : Parameters of RollingUpdate.

RollingUpdateDeployment : Rolling update parameters.
  maxUnavailable IntOrString : Pods that may be unavailable during the update (number or percent). Defaults to 25%.
  maxSurge IntOrString : Pods that may be created above the desired count (number or percent). Defaults to 25%.

DeploymentStatus : Observed state of a Deployment.
  observedGeneration int64 : Generation observed by the controller.
  replicas int32 : Total non-terminated pods targeted.
  updatedReplicas int32 : Pods with the desired template.
  readyReplicas int32 : Pods with a Ready condition.
  availableReplicas int32 : Pods available for at least minReadySeconds.
  unavailableReplicas int32 : Pods still needed for full availability.
  terminatingReplicas int32 : Pods being terminated.
  conditions []DeploymentCondition merge=type map=type : Latest observations (Available, Progressing, ReplicaFailure).
  collisionCount int32 : Hash collision counter for naming ReplicaSets.

DeploymentCondition : A Deployment condition.
  type string req : Condition type.
  status string req : True, False or Unknown.
  lastUpdateTime Time : Last update of the condition.
  lastTransitionTime Time : Last status change.
  reason string : CamelCase reason.
  message string : Details.

ReplicaSet gvk=apps/v1 list : Keeps a number of pod replicas running.
  metadata ObjectMeta : Standard object metadata.
  spec ReplicaSetSpec : Desired behavior.
  status ReplicaSetStatus : Most recently observed status.

ReplicaSetSpec : Desired behavior of a ReplicaSet.
  replicas int32 : Number of desired pods. Defaults to 1.
  minReadySeconds int32 : Seconds a pod must be ready to count as available.
  selector LabelSelector req : Label selector of the pods; must match the template labels.
  template PodTemplateSpec : Template of the pods to create.

ReplicaSetStatus : Observed state of a ReplicaSet.
  replicas int32 req : Most recently observed number of pods.
  fullyLabeledReplicas int32 : Pods whose labels match the template.
  readyReplicas int32 : Ready pods.
  availableReplicas int32 : Available pods.
  terminatingReplicas int32 : Terminating pods.
  observedGeneration int64 : Generation observed by the controller.
  conditions []ReplicaSetCondition merge=type map=type : Latest observations.

ReplicaSetCondition : A ReplicaSet condition.
  type string req : Condition type.
  status string req : True, False or Unknown.
  lastTransitionTime Time : Last status change.
  reason string : CamelCase reason.
  message string : Details.

StatefulSet gvk=apps/v1 list : Pods with stable identities and storage, created and updated in order.
  metadata ObjectMeta : Standard object metadata.
  spec StatefulSetSpec : Desired behavior.
  status StatefulSetStatus : Most recently observed status.

StatefulSetSpec : Desired behavior of a StatefulSet.
  replicas int32 : Number of desired pods. Defaults to 1.
  selector LabelSelector req : Label selector of the pods; must match the template labels. Immutable.
  template PodTemplateSpec req : Template of the pods to create.
  volumeClaimTemplates []PersistentVolumeClaim atomic : Claims created for every pod.
  serviceName string : Headless service governing the set's network identities.
  podManagementPolicy string : OrderedReady (default) or Parallel.
  updateStrategy StatefulSetUpdateStrategy : How pods are updated.
  revisionHistoryLimit int32 : ControllerRevisions kept. Defaults to 10.
  minReadySeconds int32 : Seconds a pod must be ready to count as available.
  persistentVolumeClaimRetentionPolicy StatefulSetPersistentVolumeClaimRetentionPolicy : Whether claims are deleted with the set or on scale-down.
  ordinals StatefulSetOrdinals : Numbering of pod ordinals.

StatefulSetUpdateStrategy : StatefulSet update strategy.
  type string : RollingUpdate (default) or OnDelete.
  rollingUpdate RollingUpdateStatefulSetStrategy : RollingUpdate parameters.

RollingUpdateStatefulSetStrategy : RollingUpdate parameters of a StatefulSet.
  partition int32 : Ordinal at and above which pods are updated.
  maxUnavailable IntOrString : Pods that may be unavailable during the update.

StatefulSetPersistentVolumeClaimRetentionPolicy : Claim retention policy.
  whenDeleted string : Retain (default) or Delete.
  whenScaled string : Retain (default) or Delete.

StatefulSetOrdinals : Ordinal numbering.
  start int32 : First ordinal. Defaults to 0.

StatefulSetStatus : Observed state of a StatefulSet.
  observedGeneration int64 : Generation observed.
  replicas int32 req : Pods created.
  readyReplicas int32 : Ready pods.
  currentReplicas int32 : Pods at currentRevision.
  updatedReplicas int32 : Pods at updateRevision.
  currentRevision string : Revision of the current pods.
  updateRevision string : Revision being rolled out.
  collisionCount int32 : Hash collision counter.
  conditions []StatefulSetCondition merge=type map=type : Latest observations.
  availableReplicas int32 : Available pods.

StatefulSetCondition : A StatefulSet condition.
  type string req : Condition type.
  status string req : True, False or Unknown.
  lastTransitionTime Time : Last status change.
  reason string : CamelCase reason.
  message string : Details.

DaemonSet gvk=apps/v1 list : Runs a copy of a pod on every (selected) node.
  metadata ObjectMeta : Standard object metadata.
  spec DaemonSetSpec : Desired behavior.
  status DaemonSetStatus : Most recently observed status.

DaemonSetSpec : Desired behavior of a DaemonSet.
  selector LabelSelector req : Label selector of the pods; must match the template labels. Immutable.
  template PodTemplateSpec req : Template of the pods to create.
  updateStrategy DaemonSetUpdateStrategy : How pods are replaced.
  minReadySeconds int32 : Seconds a pod must be ready to count as available.
  revisionHistoryLimit int32 : History kept. Defaults to 10.

DaemonSetUpdateStrategy : DaemonSet update strategy.
  type string : RollingUpdate (default) or OnDelete.
  rollingUpdate RollingUpdateDaemonSet : RollingUpdate parameters.

RollingUpdateDaemonSet : RollingUpdate parameters of a DaemonSet.
  maxUnavailable IntOrString : Nodes whose pod may be unavailable during the update. Defaults to 1.
  maxSurge IntOrString : Nodes that may run an extra updated pod. Defaults to 0.

DaemonSetStatus : Observed state of a DaemonSet.
  currentNumberScheduled int32 req : Nodes running at least one daemon pod that should.
  numberMisscheduled int32 req : Nodes running a daemon pod that should not.
  desiredNumberScheduled int32 req : Nodes that should run the daemon pod.
  numberReady int32 req : Nodes whose daemon pod is ready.
  observedGeneration int64 : Generation observed.
  updatedNumberScheduled int32 : Nodes running the updated pod.
  numberAvailable int32 : Nodes whose daemon pod is available.
  numberUnavailable int32 : Nodes whose daemon pod is not available.
  collisionCount int32 : Hash collision counter.
  conditions []DaemonSetCondition merge=type map=type : Latest observations.

DaemonSetCondition : A DaemonSet condition.
  type string req : Condition type.
  status string req : True, False or Unknown.
  lastTransitionTime Time : Last status change.
  reason string : CamelCase reason.
  message string : Details.
)";

const std::string_view kBatch = R"(
package io.k8s.api.batch.v1

Job gvk=batch/v1 list : Runs pods until a number of them complete successfully.
  metadata ObjectMeta : Standard object metadata.
  spec JobSpec : Desired behavior.
  status JobStatus : Most recently observed status.

JobSpec : Desired behavior of a Job.
  parallelism int32 : Maximum pods running at once. Defaults to 1.
  completions int32 : Successful pods needed. Defaults to 1 unless only parallelism is set.
  activeDeadlineSeconds int64 : Seconds the job may be active before the system terminates it.
  podFailurePolicy PodFailurePolicy : How pod failures count toward backoffLimit.
  successPolicy SuccessPolicy : When an Indexed job counts as succeeded.
  backoffLimit int32 : Retries before marking the job failed. Defaults to 6.
  backoffLimitPerIndex int32 : Retries per index for Indexed jobs.
  maxFailedIndexes int32 : Failed indexes before the job fails.
  selector LabelSelector : Label selector of the pods; generated by the system unless manualSelector.
  manualSelector boolean : Use the given selector instead of a generated one.
  template PodTemplateSpec req : Template of the pods; restartPolicy must be OnFailure or Never.
  ttlSecondsAfterFinished int32 : Delete the job this many seconds after it finished.
  completionMode string : NonIndexed (default) or Indexed.
  suspend boolean : Suspend the job (delete running pods, create no new ones).
  podReplacementPolicy string : TerminatingOrFailed or Failed.
  managedBy string : Controller that manages the job.

PodFailurePolicy : Rules applied to failed pods.
  rules []PodFailurePolicyRule req atomic : Rules evaluated in order.

PodFailurePolicyRule : One pod failure rule.
  action string req : FailJob, FailIndex, Ignore or Count.
  onExitCodes PodFailurePolicyOnExitCodesRequirement : Exit code condition.
  onPodConditions []PodFailurePolicyOnPodConditionsPattern atomic : Pod condition patterns.

PodFailurePolicyOnExitCodesRequirement : Exit code condition.
  containerName string : Container whose exit code is checked.
  operator string req : In or NotIn.
  values []int32 req set : Exit codes.

PodFailurePolicyOnPodConditionsPattern : Pod condition pattern.
  type string req : Pod condition type.
  status string : Condition status. Defaults to True.

SuccessPolicy : Success rules of an Indexed job.
  rules []SuccessPolicyRule req atomic : Rules; any match succeeds the job.

SuccessPolicyRule : One success rule.
  succeededIndexes string : Index ranges, e.g. "1,3-5".
  succeededCount int32 : Number of succeeded indexes needed.

JobStatus : Observed state of a Job.
  conditions []JobCondition atomic : Latest observations (Complete, Failed, Suspended...).
  startTime Time : When the controller started processing the job.
  completionTime Time : When the job completed.
  active int32 : Pending or running pods.
  succeeded int32 : Pods that succeeded.
  failed int32 : Pods that failed.
  terminating int32 : Pods being terminated.
  completedIndexes string : Completed indexes of an Indexed job.
  failedIndexes string : Failed indexes.
  uncountedTerminatedPods UncountedTerminatedPods : Finished pods not yet counted.
  ready int32 : Ready pods.

JobCondition : A Job condition.
  type string req : Condition type.
  status string req : True, False or Unknown.
  lastProbeTime Time : Last probe.
  lastTransitionTime Time : Last status change.
  reason string : CamelCase reason.
  message string : Details.

UncountedTerminatedPods : Finished pods not yet in the counters.
  succeeded []string set : UIDs of succeeded pods.
  failed []string set : UIDs of failed pods.

CronJob gvk=batch/v1 list : Runs a Job on a schedule.
  metadata ObjectMeta : Standard object metadata.
  spec CronJobSpec : Desired behavior.
  status CronJobStatus : Most recently observed status.

CronJobSpec : Desired behavior of a CronJob.
  schedule string req : Schedule in cron format, e.g. "*/5 * * * *".
  timeZone string : Time zone name for the schedule; defaults to the controller's.
  startingDeadlineSeconds int64 : Deadline for starting a missed run.
  concurrencyPolicy string : Allow (default), Forbid or Replace.
  suspend boolean : Suspend subsequent runs.
  jobTemplate JobTemplateSpec req : Template of the jobs created.
  successfulJobsHistoryLimit int32 : Successful jobs kept. Defaults to 3.
  failedJobsHistoryLimit int32 : Failed jobs kept. Defaults to 1.

JobTemplateSpec : Template of a Job.
  metadata ObjectMeta : Metadata of created jobs.
  spec JobSpec : Spec of created jobs.

CronJobStatus : Observed state of a CronJob.
  active []ObjectReference atomic : Running jobs.
  lastScheduleTime Time : Last time a job was scheduled.
  lastSuccessfulTime Time : Last time a job completed successfully.
)";

}  // namespace berth::kinds::schemas

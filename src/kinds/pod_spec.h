// Defaulting, validation and printing of pod specs, shared by Pod and every
// workload kind that embeds a PodTemplateSpec. Mirrors the parts of
// pkg/apis/core/v1/defaults.go and pkg/apis/core/validation that users meet.
#pragma once

#include <string>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace berth::kinds {

// SetDefaults_PodSpec and the container/volume/probe defaults below it.
// `is_pod` adds what only a Pod (not a template) gets: enableServiceLinks,
// requests copied from limits, and the "default" service account.
void DefaultPodSpec(Json& spec, bool is_pod);
// Defaults spec.template.spec of a workload object's template at `tmpl`.
void DefaultPodTemplate(Json& tmpl);

// Validates a pod spec rooted at `path` (e.g. "spec.template.spec").
void ValidatePodSpec(const Json& spec, const std::string& path, std::vector<Cause>& causes);
// Validates a PodTemplateSpec at `path` ("spec.template"): labels, annotations, spec.
void ValidatePodTemplate(const Json& tmpl, const std::string& path, std::vector<Cause>& causes);
// Pod updates may change only images, activeDeadlineSeconds, added tolerations,
// scheduling gates removal and a first nodeName binding.
void ValidatePodSpecUpdate(const Json& spec, const Json& old_spec, std::vector<Cause>& causes);

// Checks the requests/limits maps of a resources block.
void ValidateResources(const Json& res, const std::string& path, std::vector<Cause>& causes);

// The STATUS cell of `kubectl get pods` (Running, ContainerCreating,
// CrashLoopBackOff, Init:0/1, Completed, Terminating...), the READY cell
// ("1/2") and the RESTARTS cell ("3 (5m ago)").
std::string PodStatusReason(const Json& pod);
std::string PodReady(const Json& pod);
std::string PodRestarts(const Json& pod);

}  // namespace berth::kinds

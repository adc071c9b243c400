#!/usr/bin/env bash
# Builds the project-local CLI tools into <repo>/.tools/bin. Safe to re-run: a
# tool is only built when no usable copy exists (env var, PATH, or a local
# build of the pinned version). server/tools.ts resolves them in the same order.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.tools/bin"
LOGDIR="$ROOT/.tools/logs"

# temporal CLI 1.5.1 is the last release whose go.mod allows `go install`
# (later tags carry replace directives).
TEMPORAL_MODULE=github.com/temporalio/cli
TEMPORAL_VERSION=v1.5.1
HELM_MODULE=helm.sh/helm/v3
HELM_VERSION=v3.17.3
# kustomize applies environment files' strategic-merge and JSON 6902 patches; its module go-installs cleanly.
KUSTOMIZE_MODULE=sigs.k8s.io/kustomize/kustomize/v5
KUSTOMIZE_VERSION=v5.7.1

GO=""
if command -v go >/dev/null 2>&1; then
  GO="$(command -v go)"
elif [ -x /usr/local/go/bin/go ]; then
  GO=/usr/local/go/bin/go
fi

# A binary counts as "ours" if Go's embedded build info names the pinned module
# version. `--version` alone is not enough: `go install` leaves the release
# version string unset (temporal says 0.0.0-DEV) unless ldflags inject it.
built_from() { # <binary> <module> <version>
  local bin="$1" module="$2" version="$3"
  [ -x "$bin" ] || return 1
  if [ -n "$GO" ]; then
    "$GO" version -m "$bin" 2>/dev/null | awk -v m="$module" -v v="$version" \
      '$1 == "mod" && $2 == m && $3 == v { found = 1 } END { exit !found }'
  else
    "$bin" --version 2>/dev/null | grep -q -- "${version#v}"
  fi
}

go_install() { # <tool> <package@version> <ldflags>
  local tool="$1" pkg="$2" ldflags="$3" log="$LOGDIR/$1.log" start=$SECONDS
  mkdir -p "$BIN" "$LOGDIR"
  # Override the caller's GOFLAGS (e.g. -mod=vendor breaks pkg@version installs);
  # CGO is not needed by either tool and would require a C toolchain.
  if ! GOBIN="$BIN" GOFLAGS=-trimpath CGO_ENABLED=0 GO111MODULE=on \
      "$GO" install -ldflags="$ldflags" "$pkg" >"$log" 2>&1; then
    echo "$tool: go install $pkg FAILED; last lines of $log:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  echo "$tool: built ${pkg#*@} into .tools/bin/$tool ($((SECONDS - start))s)"
}

ensure_tool() { # <tool> <env var> <module> <version> <package> <ldflags> <note when Go is missing>
  local tool="$1" var="$2" module="$3" version="$4" pkg="$5" ldflags="$6" no_go_note="$7"
  local override="${!var:-}"
  if [ -n "$override" ] && [ -x "$override" ]; then
    echo "$tool: using \$$var=$override"
    return
  elif [ -n "$override" ]; then
    # server/tools.ts rejects a broken override at runtime; say so now rather than later.
    echo "$tool: warning: \$$var=$override is not executable; Ferry will refuse to start until it is fixed" >&2
  fi
  if command -v "$tool" >/dev/null 2>&1; then
    echo "$tool: using $(command -v "$tool") from PATH"
  elif built_from "$BIN/$tool" "$module" "$version"; then
    echo "$tool: .tools/bin/$tool is already $version"
  elif [ -z "$GO" ]; then
    echo "$tool: Go not found, not building; $no_go_note"
  else
    go_install "$tool" "$pkg@$version" "$ldflags"
  fi
}

ensure_tool temporal TEMPORAL_CLI "$TEMPORAL_MODULE" "$TEMPORAL_VERSION" \
  "$TEMPORAL_MODULE/cmd/temporal" \
  "-X $TEMPORAL_MODULE/temporalcli.Version=${TEMPORAL_VERSION#v}" \
  "the Temporal SDK will download a dev server at runtime (needs internet)"

ensure_tool helm HELM_BIN "$HELM_MODULE" "$HELM_VERSION" \
  "$HELM_MODULE/cmd/helm" \
  "-X $HELM_MODULE/internal/version.version=$HELM_VERSION" \
  "install helm $HELM_VERSION yourself or set HELM_BIN"

ensure_tool kustomize KUSTOMIZE_BIN "$KUSTOMIZE_MODULE" "$KUSTOMIZE_VERSION" \
  "$KUSTOMIZE_MODULE" \
  "" \
  "install kustomize $KUSTOMIZE_VERSION yourself or set KUSTOMIZE_BIN"

# What only the tests need, from Debian's packages: Chromium for the console's browser tests (never a browser build
# of a test tool's own: those download from the internet), sshd for the GitOps-over-SSH test, gpg and openssl for
# signing and TLS certificates. `npm test` asks for them with --test; as root on Debian they are installed from apt.
if [ "${1:-}" = "--test" ]; then
  missing=()
  if [ -n "${FERRY_CHROMIUM:-}" ] && [ -x "$FERRY_CHROMIUM" ]; then
    echo "chromium: using \$FERRY_CHROMIUM=$FERRY_CHROMIUM"
  elif [ -x /usr/bin/chromium ]; then
    echo "chromium: using /usr/bin/chromium"
  else
    missing+=(chromium)
  fi
  [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
  command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
  command -v gpg >/dev/null 2>&1 || missing+=(gnupg)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  if [ ${#missing[@]} -eq 0 ]; then
    :
  elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    start=$SECONDS
    mkdir -p "$LOGDIR"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >"$LOGDIR/test-packages.log" 2>&1; then
      echo "test packages: apt-get install ${missing[*]} FAILED; last lines of $LOGDIR/test-packages.log:" >&2
      tail -n 20 "$LOGDIR/test-packages.log" >&2
      exit 1
    fi
    echo "test packages: installed ${missing[*]} from apt ($((SECONDS - start))s)"
  else
    echo "test packages missing: ${missing[*]} (apt-get install them; FERRY_CHROMIUM may name another Chromium)" >&2
  fi
fi

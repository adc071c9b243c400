# Ferry's image: the compiled build (dist/, with the workflow bundle prebuilt) on Node, with the tools releases use at
# run time: git (the GitOps writer), helm (charts) and kustomize (environment-file patches), at the versions
# scripts/install-tools.sh pins (test/image.test.ts checks they agree), and gpg with its agent, with which git signs
# GitOps commits when FERRY_GITOPS_SIGNING_FORMAT is openpgp (ssh-keygen, from openssh-client, signs with ssh). No
# TypeScript toolchain at run time.
#
# Runs as the unprivileged `node` user (uid 1000) and works with a read-only root file system: everything it writes
# goes to FERRY_DATA_DIR (/data: clones, chart cache) and /tmp (HOME for git and ssh); mount volumes (e.g. emptyDir)
# on both.
# Configuration is FERRY_*, DATABASE_URL and the standard TEMPORAL_* variables: see README.md ("Configuration")
# and docs/operations.md ("Connecting to Temporal").

FROM golang:1.24-bookworm AS tools
ARG HELM_VERSION=v3.17.3
ARG KUSTOMIZE_VERSION=v5.7.1
RUN CGO_ENABLED=0 GOFLAGS=-trimpath GOBIN=/out go install \
      -ldflags "-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}" helm.sh/helm/v3/cmd/helm@${HELM_VERSION} \
 && CGO_ENABLED=0 GOFLAGS=-trimpath GOBIN=/out go install sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}

FROM node:20.19-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY . .
RUN npm run build

FROM node:20.19-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates openssh-client gpg gpg-agent \
    && rm -rf /var/lib/apt/lists/*
COPY --from=tools /out/helm /out/kustomize /usr/local/bin/
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY bin ./bin
RUN ln -s /app/bin/ferry.js /usr/local/bin/ferry
ENV NODE_ENV=production FERRY_HOST=0.0.0.0 FERRY_DATA_DIR=/data HOME=/tmp \
    HELM_BIN=/usr/local/bin/helm KUSTOMIZE_BIN=/usr/local/bin/kustomize
VOLUME /data
EXPOSE 8080
USER node
ENTRYPOINT ["node", "dist/server/main.js"]

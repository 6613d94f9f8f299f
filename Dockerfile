# syntax=docker/dockerfile:1.7
# The one image recipe for the project's four programs: the api (REST), the gateway (WebSocket),
# the engine (delivery) and the operator (GossipCluster reconciler, autoscaler). Which one is
# built is chosen by build arguments; build from the repository root (the context holds the
# workspaces it imports):
#   docker build --build-arg WORKSPACE=services/api     --build-arg PORTS="8080 9090" -t ghcr.io/gossip/api:dev .
#   docker build --build-arg WORKSPACE=services/gateway --build-arg PORTS="8081 9092" -t ghcr.io/gossip/gateway:dev .
#   docker build --build-arg WORKSPACE=services/engine  --build-arg PORTS=9091        -t ghcr.io/gossip/engine:dev .
#   docker build --build-arg WORKSPACE=operator         --build-arg PORTS=8080        -t ghcr.io/gossip/operator:dev .
# (skaffold.yaml and packages/testenv/src/images.ts pass the same arguments.)
#   WORKSPACE  the npm workspace folder; its production dependencies are installed
#   ENTRY      the program's source, relative to WORKSPACE (default src/main.ts)
#   PORTS      what the program listens on (EXPOSE only documents it): the main port, then the
#              ops port where it has one of its own
# Stages: build bundles the TypeScript with esbuild (the @gossip/* workspaces are inlined,
# npm packages stay external); deps installs this workspace's production dependencies only;
# the runtime stage is a slim Node with those two and nothing else, run as a non-root user;
# dev (skaffold dev only) runs the sources with tsx for file sync.
# No HEALTHCHECK: Kubernetes probes /healthz and /readyz, and Docker's check would only
# duplicate them.

# The base: tag node:20.20.2-bookworm-slim, pinned by the digest of its multi-arch image
# index (linux amd64, arm/v7, arm64/v8, ppc64le, s390x). The digest is the one docker-library's
# repo-info report gives for that tag (repos/node/remote/20.20.2-bookworm-slim.md, build of
# 2026-03-25, read in the github.com/maxmood96/repo-info mirror at 3225f02d); it was NOT
# checked against the registry from where this was written (no registry access there). The
# tag is rebuilt upstream, so this stays that build; to move on, take the tag's current index
# digest (`docker buildx imagetools inspect node:20.20.2-bookworm-slim`). Tests on a machine
# without a registry pass a locally made Node.js 20.20.2 image here instead
# (packages/testenv/src/images.ts).
ARG NODE_IMAGE=node:20.20.2-bookworm-slim@sha256:1e85773c98c31d4fe5b545e4cb17379e617b348832fb3738b22a08f68dec30f3

# The dependencies are installed from the manifests alone (package-lock.json and every
# workspace's package.json), before the sources are copied: a source change then reuses the
# installs from the layer cache and rebuilds only the bundle. The manifests stage re-runs on
# every change (a copy of the context), but what it leaves is the same until a manifest
# changes, and the builder keys `COPY --from` by content. The workspaces sit one or two
# folders deep (root package.json: packages/*, services/*, operator, cdk8s), which is what
# the glob below picks; packages/chart-tests/test/images.test.ts checks that it covers them.
FROM ${NODE_IMAGE} AS manifests
COPY . /ctx
RUN cd /ctx && mkdir /manifests \
    && cp --parents package.json package-lock.json */package.json */*/package.json /manifests/

# Up to here nothing reads the build arguments, so the four programs share these steps (one
# full install, cached once).
FROM ${NODE_IMAGE} AS lock
WORKDIR /src
COPY --from=manifests /manifests/ ./

FROM lock AS build
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund
COPY . .
ARG WORKSPACE
ARG ENTRY=src/main.ts
# One step (each costs a copy of the whole tree with some storage drivers): the check that the
# arguments name a workspace and its entry, then the bundle.
RUN { test -n "$WORKSPACE" && test -f "$WORKSPACE/package.json" && test -f "$WORKSPACE/$ENTRY"; } \
    || { echo "build with --build-arg WORKSPACE=<services/api|services/gateway|services/engine|operator> (got '$WORKSPACE', entry '$ENTRY')" >&2; exit 1; } \
  && node --input-type=module -e " \
  import { build } from 'esbuild'; \
  await build({ \
    entryPoints: [process.env.WORKSPACE + '/' + process.env.ENTRY], outfile: '/out/main.mjs', \
    bundle: true, platform: 'node', target: 'node20', format: 'esm', sourcemap: true, \
    plugins: [{ name: 'npm-external', setup(b) { \
      b.onResolve({ filter: /^[^./]/ }, (a) => \
        a.path.startsWith('@gossip/') ? undefined : { path: a.path, external: true }); \
    } }], \
  });"

# Production dependencies of this workspace only, from the same lockfile and without the
# sources (so a source change reuses this too); optional packages stay out (cdk8s-plus-27's
# optional `backport`, a release tool, is one), and no install script runs.
FROM lock AS deps
ARG WORKSPACE
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund --workspace "$WORKSPACE" \
    && rm -rf node_modules/@gossip node_modules/.bin

# skaffold's dev profile (docker target "dev", used for the operator): the sources run through
# tsx and restart when skaffold syncs a changed file into /src. Never the default: the last
# stage is.
FROM build AS dev
ARG WORKSPACE
ARG ENTRY=src/main.ts
ENV GOSSIP_DEV_ENTRY=${WORKSPACE}/${ENTRY}
RUN groupadd --system --gid 10001 gossip \
    && useradd --system --uid 10001 --gid gossip --no-create-home --shell /usr/sbin/nologin gossip \
    && chown -R 10001:10001 "/src/$WORKSPACE" /src/cdk8s /src/packages
USER 10001:10001
ENTRYPOINT ["/bin/sh", "-c", "exec node_modules/.bin/tsx watch --clear-screen=false \"$GOSSIP_DEV_ENTRY\""]

FROM ${NODE_IMAGE}
ARG PORTS
ENV NODE_ENV=production
WORKDIR /app
RUN groupadd --system --gid 10001 gossip \
    && useradd --system --uid 10001 --gid gossip --no-create-home --shell /usr/sbin/nologin gossip
COPY --from=deps --chown=root:root /src/node_modules node_modules
COPY --from=build --chown=root:root /out/ dist/
USER 10001:10001
EXPOSE ${PORTS}
ENTRYPOINT ["node", "--enable-source-maps", "dist/main.mjs"]

# durasync's container image: one image for every process (`worker`, `serve`, `db migrate`, ...).
#   docker build -t durasync:0.1.0 --build-arg DURASYNC_BUILD_ID=0.1.0+$(git rev-parse --short=12 HEAD) .
#   docker run --rm -e TEMPORAL_ADDRESS=... -e DATABASE_URL=... durasync:0.1.0 worker --queues sync
# The build stage compiles to dist/ and bundles the workflows into dist/workflow-bundle.js (what
# `npm run build` does); the runtime stage holds only production dependencies and dist/, runs as a
# non-root user under tini (PID 1 forwards SIGTERM, so a worker drains within DURASYNC_SHUTDOWN_GRACE)
# and loads the prebuilt bundle instead of bundling at start-up. Checked by test/deploy.test.ts.
ARG NODE_VERSION=24.21.0

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
ENV PATH=/app/node_modules/.bin:$PATH
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY workflows ./workflows
COPY activities ./activities
COPY workers ./workers
COPY client ./client
COPY lib ./lib
COPY emulators ./emulators
# The same two steps as `npm run build` (package.json), without the setup script's tool installs.
RUN tsc -p tsconfig.build.json && node bin/durasync.js build-workflows --out dist/workflow-bundle.js
RUN npm prune --omit=dev --no-audit --no-fund --loglevel=error

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
  && rm -rf /var/lib/apt/lists/* \
  && mkdir -p /var/lib/durasync \
  && chown 1000:1000 /var/lib/durasync
WORKDIR /app
# Empty unless given: the build id then comes from dist/build-info.json (the package version).
ARG DURASYNC_BUILD_ID=""
ENV NODE_ENV=production \
    DURASYNC_USE_DIST=1 \
    DURASYNC_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js \
    DURASYNC_DATA_DIR=/var/lib/durasync \
    DURASYNC_BUILD_ID=${DURASYNC_BUILD_ID}
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
COPY supabase/migrations ./supabase/migrations
# The image's `node` user (uid 1000), numeric so that Kubernetes can verify runAsNonRoot.
USER 1000:1000
EXPOSE 8080 8088
# A worker answers on its ops port, `durasync serve` on the ingress port: either one passing is healthy.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const e=process.env;const live=(p)=>fetch('http://127.0.0.1:'+p+'/health/live',{signal:AbortSignal.timeout(2000)}).then((r)=>{if(!r.ok)throw new Error(String(r.status))});live(e.DURASYNC_OPS_PORT||8080).catch(()=>live(e.DURASYNC_INGRESS_PORT||8088)).then(()=>process.exit(0),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/durasync.js"]
CMD ["worker"]

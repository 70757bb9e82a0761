# The pothole pipeline's one image, for every role: the worker (all, cluster or serving), the dashboard and the CLI.
#
#   docker build -t pothole .
#   docker run --init --env-file pothole.env pothole                          # worker --role all
#   docker run --init --env-file pothole.env pothole worker --role serving
#   docker run --init --env-file pothole.env -e DASHBOARD_HOST=0.0.0.0 -p 8501:8501 pothole dashboard
#   docker run --rm --env-file pothole.env pothole doctor                     # any other pothole command
#
# deploy/compose.yml runs the roles side by side. Node.js runs the compiled JavaScript of `npm run build` and the
# prebuilt workflow bundle: nothing is compiled or bundled when a container starts.
# Node.js 22, the LTS line the image is built on (Node 20 has been past its end of life since April 2026); the suite
# runs on 20.19+ and 22.12+ (package.json's engines).
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# No dependency needs its install script (see .ci/run).
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.ts scripts/
# The demo data reads the reference Stage1 job's settings from spark/.
COPY spark spark
COPY src src
RUN npm run build

FROM ${NODE_IMAGE}
# The system's CAs, for TLS to Temporal, AWS, SMTP and Slack without a CA file of their own.
# hadolint ignore=DL3008
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist dist
# The reference Spark jobs, for `pothole deploy-code spark` (and the demo data's Stage1 settings).
COPY spark spark
# The node image's unprivileged user `node`, by number (runAsNonRoot can check it); mounted keys and certificates
# must be readable by uid 1000.
USER 1000:1000
# The worker's shutdownGraceTime is 20 s: give it longer before SIGKILL (docker stop -t, stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["worker", "--role", "all"]

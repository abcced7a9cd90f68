# The autoloop GitHub App. Probot's convention (create-probot-app's templates): a node slim image, `npm ci` of
# the production dependencies only, the compiled app, NODE_ENV=production, `npm start`'s entry.
#   docker build -t autoloop-app .
#   docker run -p 3000:3000 -e APP_ID -e PRIVATE_KEY -e WEBHOOK_SECRET autoloop-app
# Node 24 is the active LTS line, within package.json's engines (>= 20.18) and Probot's (^20.18.1 || >= 22).

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are here (the build below is the App's half of it).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN ./node_modules/.bin/tsc -p tsconfig.build.json

FROM node:24-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; none of them has an install script, and `prepare` needs the dev tools.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/lib ./lib
COPY app.yml ./
# The files stay root's; the App runs as the image's unprivileged `node` user and writes nothing here.
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node runs as PID 1, which the kernel sends no default-handled signals: the App handles SIGTERM itself (src/app/server.ts).
CMD ["node", "lib/app/server.js"]

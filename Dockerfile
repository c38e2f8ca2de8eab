# trainset worker / gateway image (used by docker-compose.yml): compiled JavaScript on production dependencies.

# Build: every dependency (TypeScript, the workflow bundler), then `npm run build` (dist/: the compiled sources,
# the SQL migrations and the prebuilt workflow bundles).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.cjs scripts/
COPY src src
RUN npm run build

# Run: production dependencies only (no tsx, TypeScript or test tooling) and what the processes read at run time.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY --from=build /app/dist dist
COPY bin bin
COPY specs specs
COPY trainers trainers
# `npx trainset …` resolves node_modules/.bin first; the package's own bin is not linked there by npm ci.
RUN ln -sf ../../bin/trainset.js node_modules/.bin/trainset
USER node
CMD ["node", "bin/trainset.js", "--help"]

# trainset worker / gateway image (used by docker-compose.yml).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
# `npx trainset …` resolves node_modules/.bin first; the package's own bin is not linked there by npm ci.
RUN ln -sf ../../bin/trainset.js node_modules/.bin/trainset
USER node
CMD ["npx", "trainset", "--help"]

# Ferry's API and workers. git is needed at run time (the GitOps writer uses git plumbing); helm for charts.
FROM node:20.19-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates openssh-client \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts
COPY . .
ENV FERRY_HOST=0.0.0.0 FERRY_DATA_DIR=/data NODE_ENV=production
VOLUME /data
EXPOSE 8080
USER node
CMD ["node", "--import", "tsx", "server/main.ts"]

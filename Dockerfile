# syntax=docker/dockerfile:1
# Build: docker build -t releaseops .
# Run:   docker run -p 8080:8080 -v releaseops-data:/data -e RELEASEOPS_WEB_AUTH=... -e RELEASEOPS_AUDIT_SIGNING_KEY=... releaseops
#        (off loopback, serve needs web.auth and audit.signing_key: see README "Running it")
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
# Pure Go (modernc.org/sqlite): a static binary with no libc.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/releaseops ./cmd/releaseops && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/releaseops /usr/local/bin/releaseops
# A named volume copies this directory's ownership, so the nonroot user can write the database.
COPY --from=build --chown=65532:65532 /out/data /data
# The database lives on a volume; the process runs as the distroless nonroot user (65532).
VOLUME ["/data"]
ENV RELEASEOPS_STORAGE_SQLITE_PATH=/data/releaseops.db \
    RELEASEOPS_LISTEN=0.0.0.0:8080
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/releaseops"]
CMD ["serve"]

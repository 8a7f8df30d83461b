# syntax=docker/dockerfile:1
#
# The ringd image for those who build with Docker (or podman/buildah):
#
#   docker build --build-arg VERSION=v1.2.3 -t ghcr.io/ringd/ringd:v1.2.3 .
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg VERSION=v1.2.3 ...
#
# It makes the same image as `make image` (cmd/ringd-image/build.sh), which
# needs no Docker engine: a static ringd on an empty base, run as
# nonroot (65532:65532), with /etc/passwd and /etc/group naming that user, the
# data directory /var/lib/ringd writable by it, and the same ports and labels.
# Only the times differ: this build is not reproducible, build.sh is.
#
# Cross builds use BuildKit's platform arguments (the default builder of
# Docker 23 and later): the Go toolchain runs natively and cross-compiles.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /src

# The modules first, in a layer of their own that source edits do not
# invalidate. The main module replaces clientlib with ./clientlib.
COPY go.mod go.sum ./
COPY clientlib/go.mod clientlib/go.sum ./clientlib/
RUN go mod download

COPY . .
# Static (no cgo), for the target's architecture, without this machine's paths
# or debug information; --version prints VERSION.
RUN CGO_ENABLED=0 GOOS=linux GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
    -o /rootfs/usr/local/bin/ringd ./cmd/ringd

# The rest of the root file system, with its owners and modes set here: COPY
# --from keeps them.
RUN set -eu; \
    mkdir -p /rootfs/etc /rootfs/tmp /rootfs/var/lib/ringd; \
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/var/lib/ringd:/sbin/nologin\n' >/rootfs/etc/passwd; \
    printf 'root:x:0:\nnonroot:x:65532:\n' >/rootfs/etc/group; \
    chmod 0644 /rootfs/etc/passwd /rootfs/etc/group; \
    chmod 0755 /rootfs/usr/local/bin/ringd /rootfs/var/lib/ringd; \
    chmod 1777 /rootfs/tmp; \
    chown 65532:65532 /rootfs/var/lib/ringd

FROM scratch
ARG VERSION=dev
COPY --from=build /rootfs/ /
USER 65532:65532
WORKDIR /
# Gossip (memberlist, TCP and UDP) and the HTTP API with /metrics, at ringd's
# default ports. The API listens on 127.0.0.1:7070 unless --http-addr says
# otherwise: the application beside ringd reaches it on localhost.
EXPOSE 7946/tcp 7946/udp 7070/tcp 9090/tcp
LABEL org.opencontainers.image.title="ringd" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/ringd/ringd" \
      org.opencontainers.image.description="ringd, a partition-ownership sidecar: it shares partitions out among the members of a cluster and tells the application beside it which ones it owns."
ENTRYPOINT ["/usr/local/bin/ringd"]

#!/usr/bin/env bash
# Builds the container images of ringd and ringd-worker without a Docker
# engine: static Linux binaries first, then cmd/ringd-image puts each in an
# image from scratch and writes it as a tarball.
#
#   cmd/ringd-image/build.sh VERSION OUTDIR
#
# writes OUTDIR/ringd-image.tar (ghcr.io/ringd/ringd:VERSION) and
# OUTDIR/ringd-worker-image.tar (ghcr.io/ringd/ringd-worker:VERSION); the
# binaries stay in OUTDIR/image/. Load one with `docker load -i FILE`,
# `podman load -i FILE`, or push it with `crane push FILE REF`.
#
# Environment:
#   GO                 the go command (default: go)
#   GOARCH             the images' architecture (default: go env GOARCH); the
#                      images are always linux
#   IMAGE_REPO         where the images are named (default: ghcr.io/ringd)
#   SOURCE_DATE_EPOCH  the images' creation time in seconds since 1970
#                      (default: the time of the last commit, or 1970 outside
#                      a git checkout); the same sources and time give the
#                      same images
set -euo pipefail

if [[ $# -ne 2 || -z $1 || -z $2 ]]; then
	echo "usage: $0 VERSION OUTDIR" >&2
	exit 2
fi
version=$1
go=${GO:-go}
repo=${IMAGE_REPO:-ghcr.io/ringd}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mkdir -p "$2/image" "$2/tools"
outdir=$(cd "$2" && pwd)

arch=${GOARCH:-$("$go" env GOARCH)}
if [[ -z ${SOURCE_DATE_EPOCH:-} ]] && git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
	SOURCE_DATE_EPOCH=$(git -C "$root" log -1 --format=%ct 2>/dev/null || true)
fi
if [[ -n ${SOURCE_DATE_EPOCH:-} ]]; then
	export SOURCE_DATE_EPOCH
	echo "build.sh: image time SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
else
	unset SOURCE_DATE_EPOCH
	echo "build.sh: image time 1970-01-01 (no SOURCE_DATE_EPOCH and no git history)"
fi

# The binaries: static (no cgo), for linux/$arch, without paths of this
# machine or debug information. The version is stamped in
# internal/buildinfo, which ringd shows in --version, GET /version and
# ringd_build_info; the commit comes from the build's VCS stamp.
cd "$root"
ldflags="-s -w -X github.com/ringd/ringd/internal/buildinfo.Version=$version"
for name in ringd ringd-worker; do
	echo "build.sh: building $name $version for linux/$arch"
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch "$go" build -trimpath -buildvcs=auto -ldflags "$ldflags" \
		-o "$outdir/image/$name" "./cmd/$name"
done

# The image builder runs here, so it is built for this machine: the GOOS and
# GOARCH of the environment, if any, are not its.
echo "build.sh: building the image builder (cmd/ringd-image)"
(cd "$root/cmd/ringd-image" && env -u GOOS -u GOARCH "$go" build -trimpath -o "$outdir/tools/ringd-image" .)

for name in ringd ringd-worker; do
	echo "build.sh: writing $outdir/$name-image.tar ($repo/$name:$version)"
	"$outdir/tools/ringd-image" --binary "$outdir/image/$name" --name "$name" --version "$version" \
		--platform "linux/$arch" --tag "$repo/$name:$version" --out "$outdir/$name-image.tar"
done
echo "build.sh: done; load with: docker load -i $outdir/ringd-image.tar"

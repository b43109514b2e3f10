# syntax=docker/dockerfile:1
# crossrank's container image: the static binary (CGO_ENABLED=0) on
# distroless/static, nonroot. Multi-arch: the binary is cross-compiled on
# the build machine for each TARGETARCH; linux/arm64 runs the portable Go
# kernels (the AVX-512 / AVX2 assembly is amd64 only).
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t crossrank .
#   docker run -p 7998:7998 -v hf:/data/hf crossrank serve --addr 0.0.0.0:7998 --model BAAI/bge-reranker-base
#
# Targets: `serve` (the default, last stage: no model, downloads into the
# HF_HOME volume on first use), `with-model` (MODEL downloaded from the Hub
# at build time, served offline), `with-local-model` (a model folder of
# your own, given as the build context `model`):
#
#   docker buildx build --target with-model --build-arg MODEL=BAAI/bge-reranker-base -t crossrank:bge-base .
#   docker buildx build --target with-local-model --build-context model=./my-model -t crossrank:mine .

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# The target's binary, and one for the build machine that the with-model
# stage runs to download (a cross-compiled one may not run here).
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
      go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o /out/crossrank ./cmd/crossrank && \
    CGO_ENABLED=0 go build -trimpath -o /out/crossrank-build ./cmd/crossrank && \
    mkdir -p /out/hf

FROM gcr.io/distroless/static-debian12:nonroot AS runtime
COPY --from=build /out/crossrank /usr/local/bin/crossrank
# The Hugging Face cache (models are downloaded to $HF_HOME/hub): a volume,
# owned by the nonroot user (65532) the image runs as.
COPY --from=build --chown=65532:65532 /out/hf /data/hf
ENV HF_HOME=/data/hf
VOLUME ["/data/hf"]
USER 65532:65532
EXPOSE 7998
ENTRYPOINT ["/usr/local/bin/crossrank"]
CMD ["serve", "--addr", "0.0.0.0:7998"]

FROM build AS fetch
ARG MODEL=BAAI/bge-reranker-base
RUN HF_HOME=/out/hf /out/crossrank-build download -q "$MODEL"

# A model baked in, for machines without network access: HF_HUB_OFFLINE=1
# serves it from the cache and never calls the Hub.
FROM runtime AS with-model
ARG MODEL=BAAI/bge-reranker-base
COPY --from=fetch --chown=65532:65532 /out/hf /data/hf
# CMD has no shell to expand a variable in: serve reads $CROSSRANK_MODEL
# when no --model is given.
ENV HF_HUB_OFFLINE=1 CROSSRANK_MODEL=$MODEL

FROM runtime AS with-local-model
ARG NAME=model
COPY --from=model --chown=65532:65532 / /models/model
ENV HF_HUB_OFFLINE=1 CROSSRANK_MODEL=$NAME=/models/model

FROM runtime AS serve

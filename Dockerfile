# Switchboard as a container: a static binary on a distroless base, running
# as a non-root user, with its store on the /data volume and an optional
# config file mounted at /etc/switchboard.
#
#   docker build -t switchboard .
#   docker run -p 8080:8080 -v switchboard-data:/data \
#     -e SWITCHBOARD_API_KEY=sk-... -e OPENAI_API_KEY=sk-... switchboard
#
# With no -config the embedded default config is used; pass
# `-config /etc/switchboard/switchboard.yaml` with a file mounted there to
# use your own (deploy/compose.yaml does).

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static (no cgo), so the binary runs on an image without a C library.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/switchboard . && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/switchboard /usr/local/bin/switchboard
# The volume's mount point belongs to the user the gateway runs as, so a
# new named volume is writable.
COPY --from=build --chown=65532:65532 /out/data /data
ENV SWITCHBOARD_LISTEN=0.0.0.0:8080 \
    SWITCHBOARD_DATA_DIR=/data
USER 65532:65532
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/switchboard"]

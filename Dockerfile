# netdiag: socket API recipes as a JSON/HTTP service.
#   docker build -t netdiag:0.1.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/netdiag:0.1.0 .
#   docker run --rm -p 8080:8080 -p 9900:9900 -p 9900:9900/udp --read-only --cap-drop ALL netdiag:0.1.0
# Behind a TLS-intercepting proxy, npm needs the proxy's CA: pass the
# machine's bundle as a build secret (nothing of it stays in the image):
#   --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt
# deploy/image-check.sh builds this file with buildah and checks the image.

# The build stage runs on the builder's own architecture and cross-compiles
# when the target's differs (no emulation): Debian's cross compiler, the
# target's -dev packages, cmake/debian-cross.cmake.
FROM --platform=$BUILDPLATFORM docker.io/library/debian:trixie AS build
ARG TARGETARCH
WORKDIR /src
# The packages of scripts/build-packages.txt, the list scripts/dev installs.
COPY scripts/dev scripts/build-packages.txt scripts/
RUN ./scripts/dev deps "${TARGETARCH:-$(dpkg --print-architecture)}"
# Swagger UI for /docs: the swagger-ui-dist version scripts/dev pins.
RUN --mount=type=secret,id=ca,required=false \
    if [ -f /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
 && ./scripts/dev swagger-ui /tmp/ui \
 && install -d /image/usr/share/netdiag \
 && cp -r /tmp/ui/swagger-ui /image/usr/share/netdiag/
COPY . .
RUN arch="${TARGETARCH:-$(dpkg --print-architecture)}" \
 && if [ "$arch" != "$(dpkg --print-architecture)" ]; then \
      cross="-DCMAKE_TOOLCHAIN_FILE=cmake/debian-cross.cmake -DDEBIAN_ARCH=$arch"; fi \
 && cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DNETDIAG_BUILD_TESTS=OFF ${cross:-} \
 && cmake --build /build -j"$(nproc)" \
 && DESTDIR=/image cmake --install /build --prefix /usr --strip \
 && deploy/runtime-root.sh /image "$arch"

# The runtime image: netdiag, the libraries it loads, CA certificates,
# /etc/services, user 10001, Swagger UI; no shell, no package manager.
FROM scratch
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=unknown
COPY --from=build /image/ /
LABEL org.opencontainers.image.title="netdiag" \
      org.opencontainers.image.description="Socket API recipes as JSON endpoints: byte order, address conversion, services, host info, DNS, SNTP, socket options, TCP echo" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="MIT"
# Settings are environment variables (see the README's configuration table).
ENV NETDIAG_LISTEN="*:8080" \
    NETDIAG_ECHO_LISTEN="*:9900" \
    NETDIAG_LOG_FORMAT=json \
    NETDIAG_DOCS_DIR=/usr/share/netdiag/swagger-ui
USER 10001:10001
EXPOSE 8080 9900 9900/udp
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/bin/netdiag", "--healthcheck"]
ENTRYPOINT ["/usr/bin/netdiag"]

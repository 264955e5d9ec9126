"""The platform services' default gRPC ports: the one place they are written (each service's
entry point, `make run`, the counter client and the manifests' test read them here). The desks'
ports are in services/adapters/departments.toml."""

PLATFORM_PORTS = {"intake": 50051, "router": 50052, "fees": 50053, "audit": 50054, "supervision": 50055}
# The hall's web pages (services/web/: the supervision dashboard).
WEB_PORT = 8080

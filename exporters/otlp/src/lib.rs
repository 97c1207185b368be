//! OTLP exporters: gRPC (otlp / otlp_grpc) and HTTP (otlphttp / otlp_http)

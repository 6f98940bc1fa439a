"""The S3-compatible endpoint every node serves beside its gRPC ports (node/s3/gateway.py)."""

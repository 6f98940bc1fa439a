"""Generated gRPC code for the ringstore.v1 wire contract (made by scripts/gen_proto.py)."""

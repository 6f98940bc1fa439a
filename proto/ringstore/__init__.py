"""The ringstore wire contract: generated code in `ringstore.v1` and the data-frame codec in
`ringstore.frames`. Imported by both `node` and `nodectl`; imports neither."""

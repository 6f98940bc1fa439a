"""Generate the Python gRPC code for proto/ringstore/v1 (the only way it is made).

    python scripts/gen_proto.py           # regenerate in place
    python scripts/gen_proto.py --check   # exit 1 if the checked-in code has drifted

The generated modules live next to their .proto files (proto/ringstore/v1/*_pb2*.py), which is the
`ringstore.v1` package both `node` and `nodectl` import.
"""

from __future__ import annotations

import argparse
import filecmp
import pathlib
import shutil
import sys
import tempfile

from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PACKAGE_DIR = PROTO_ROOT / "ringstore" / "v1"


def generate(out_dir: pathlib.Path) -> list[pathlib.Path]:
    import grpc_tools

    include = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    protos = sorted(PACKAGE_DIR.glob("*.proto"))
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *[str(p.relative_to(PROTO_ROOT)) for p in protos],
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted((out_dir / "ringstore" / "v1").glob("*_pb2*.py*"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if generated code has drifted")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generated = generate(pathlib.Path(tmp))
        if args.check:
            existing = sorted(PACKAGE_DIR.glob("*_pb2*.py*"))
            names = {p.name for p in generated}
            drift = [p.name for p in existing if p.name not in names]
            for path in generated:
                target = PACKAGE_DIR / path.name
                if not target.exists() or not filecmp.cmp(path, target, shallow=False):
                    drift.append(path.name)
            if drift:
                print(f"generated protobuf code has drifted: {', '.join(sorted(drift))}; "
                      "run `python scripts/gen_proto.py` and commit the result", file=sys.stderr)
                return 1
            print(f"generated protobuf code is up to date ({len(generated)} files)")
            return 0
        for old in PACKAGE_DIR.glob("*_pb2*.py*"):
            old.unlink()
        for path in generated:
            shutil.copy2(path, PACKAGE_DIR / path.name)
        print(f"wrote {len(generated)} files to {PACKAGE_DIR.relative_to(ROOT)}")
        return 0


if __name__ == "__main__":
    raise SystemExit(main())

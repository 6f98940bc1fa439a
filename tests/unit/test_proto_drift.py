"""The checked-in generated code matches the .proto files (scripts/gen_proto.py is the only generator)."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_generated_protobuf_code_has_not_drifted():
    """Regenerating from proto/ringstore/v1 gives byte-identical modules; else run the generator and commit."""
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_proto.py"), "--check"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr

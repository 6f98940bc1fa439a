"""ringstore/memory.py: the malloc arena cap noded applies before its threads start, and nodectl too."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ringstore.memory import bound_malloc_arenas


def _glibc() -> bool:
    try:
        return bool(os.confstr("CS_GNU_LIBC_VERSION"))
    except (ValueError, OSError):
        return False


@pytest.mark.skipif(not _glibc(), reason="arenas are a glibc setting")
def test_a_fresh_process_takes_the_cap_and_an_operators_choice_wins():
    code = "from ringstore.memory import bound_malloc_arenas; print(bound_malloc_arenas())"
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    capped = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert capped.stdout.strip() == "True"
    chosen = subprocess.run([sys.executable, "-c", code], env={**env, "MALLOC_ARENA_MAX": "4"},
                            capture_output=True, text=True, check=True)
    assert chosen.stdout.strip() == "False"


def test_the_noded_entry_point_caps_arenas_before_grpc_is_imported():
    text = open(os.path.join(os.path.dirname(__file__), "..", "..", "node", "entry.py")).read()
    assert text.index("bound_malloc_arenas()") < text.index("from node.daemon import main")
    assert callable(bound_malloc_arenas)


def test_nodectl_caps_arenas_before_it_runs_a_command():
    text = open(os.path.join(os.path.dirname(__file__), "..", "..", "nodectl", "cli", "root.py")).read()
    main = text[text.index("    def main(self"):]
    assert main.index("bound_malloc_arenas()") < main.index("super().main(")


def test_the_client_library_does_not_load_cryptography():
    """`cryptography` costs a client process about 9 MiB of memory; the client library needs it for
    nothing (gRPC does the TLS), so only the node-side and `nodectl tls` code paths import it."""
    code = ("import sys, nodectl.client, ringstore.auth.keys, ringstore.auth.bootstrap, ringstore.tls; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'cryptography'))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
    # ... and the lazily imported primitives still work where they are used.
    from ringstore.auth.bootstrap import init_key
    from ringstore.auth.keys import SecretBox, new_access_key

    key_id, secret = new_access_key()
    box = SecretBox(b"k" * 32)
    assert box.open(key_id, box.seal(key_id, secret)) == secret
    assert len(init_key(b"k" * 32)) == 32

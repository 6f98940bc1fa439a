"""The AWS CLI against the S3 port, configured only through the files `cluster-sim env` writes (an
AWS config and credentials profile): mb, cp both ways (a file large enough for the CLI's multipart
upload and its checksummed download), ls, sync, s3api head-object, rm. Skipped where the CLI is not
installed (it is not a dependency: `pip install awscli` pins its own botocore)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

CLUSTER_NODES = 3
AWS_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def aws(module_cluster):
    if shutil.which("aws") is None:
        pytest.skip("the AWS CLI is not installed")
    config, credentials = module_cluster.write_aws_profile()
    env = dict(os.environ, AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=str(credentials),
               AWS_PROFILE="ringstore", AWS_CA_BUNDLE=module_cluster.ca_file)

    def run(*args: str) -> str:
        done = subprocess.run(["aws", *args], env=env, capture_output=True, text=True, timeout=AWS_TIMEOUT_S)
        assert done.returncode == 0, f"aws {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}"
        return done.stdout

    return run


def test_the_aws_cli_copies_lists_syncs_and_removes(aws, tmp_path):
    aws("s3", "mb", "s3://cli-bucket")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(20 * 1024 * 1024))  # over the CLI's 8 MiB multipart threshold
    aws("s3", "cp", str(big), "s3://cli-bucket/big.bin")
    aws("s3", "cp", "s3://cli-bucket/big.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == big.read_bytes()
    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "deep.txt").write_text("deep\n")
    (tree / "top ü.txt").write_text("top\n")
    aws("s3", "sync", str(tree), "s3://cli-bucket/tree")
    listed = aws("s3", "ls", "--recursive", "s3://cli-bucket/tree/")
    assert "tree/a/b/deep.txt" in listed and "tree/top ü.txt" in listed
    head = json.loads(aws("s3api", "head-object", "--bucket", "cli-bucket", "--key", "big.bin"))
    assert head["ContentLength"] == 20 * 1024 * 1024 and head["ETag"].endswith('-3"')
    assert aws("s3", "sync", str(tree), "s3://cli-bucket/tree").strip() == ""  # nothing changed: nothing sent
    aws("s3", "rm", "--recursive", "s3://cli-bucket/")
    aws("s3", "rb", "s3://cli-bucket")
    assert "cli-bucket" not in aws("s3", "ls")

#!/usr/bin/env bash
# Zips a folder and uploads it to S3, as a build pipeline publishes a Lambda function's code:
#   scripts/publish-artifact.sh SOURCE_DIR BUCKET KEY
# Creates the bucket when it does not exist. Uses the AWS settings of the environment
# (AWS_ENDPOINT_URL for the emulator) through boto3 from the project's moto venv.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -eq 3 ] || { echo "usage: $0 SOURCE_DIR BUCKET KEY" >&2; exit 2; }
venv="$("$root/scripts/moto-venv.sh")"
"$venv/bin/python" - "$1" "$2" "$3" <<'PY'
import io, os, sys, zipfile
import boto3

source, bucket, key = sys.argv[1:]
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    for dirpath, _, files in os.walk(source):
        for f in sorted(files):
            path = os.path.join(dirpath, f)
            z.write(path, os.path.relpath(path, source))
s3 = boto3.client("s3")
try:
    s3.head_bucket(Bucket=bucket)
except s3.exceptions.ClientError:
    s3.create_bucket(Bucket=bucket)
s3.put_object(Bucket=bucket, Key=key, Body=buf.getvalue())
print(f"published {source} as s3://{bucket}/{key} ({len(buf.getvalue())} bytes)")
PY

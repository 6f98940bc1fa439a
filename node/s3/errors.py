"""S3 errors: each one an S3 error code, its HTTP status and a one-line message that says what was
wrong and what to do, rendered in S3's XML form (`<Error><Code>..</Code><Message>..</Message>...`).

Codes are S3's own, so boto3, the AWS CLI and rclone recognise them (a client retries a 503
SlowDown, reports a 403 SignatureDoesNotMatch, treats a 404 NoSuchKey as "not there"). Quota
refusals use 403 QuotaExceeded: S3 has no standard code for a storage quota, MinIO answers
XMinioAdminBucketQuotaExceeded (403) and Ceph's RGW QuotaExceeded (403); a 4xx that clients do not
retry is what a full quota needs (a retry cannot succeed until someone frees space), and the
plain name reads well in a client's error line.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

# code -> HTTP status
STATUS = {
    "AccessDenied": 403,
    "AuthorizationHeaderMalformed": 400,
    "AuthorizationQueryParametersError": 400,
    "BadDigest": 400,
    "BucketAlreadyExists": 409,
    "BucketAlreadyOwnedByYou": 409,
    "BucketNotEmpty": 409,
    "EntityTooLarge": 400,
    "EntityTooSmall": 400,
    "ExpiredToken": 400,
    "IncompleteBody": 400,
    "InternalError": 500,
    "InvalidAccessKeyId": 403,
    "InvalidArgument": 400,
    "InvalidBucketName": 400,
    "InvalidDigest": 400,
    "InvalidPart": 400,
    "InvalidPartOrder": 400,
    "InvalidRange": 416,
    "InvalidStorageClass": 400,
    "InvalidTag": 400,
    "InvalidRequest": 400,
    "KeyTooLongError": 400,
    "MalformedXML": 400,
    "MetadataTooLarge": 400,
    "MethodNotAllowed": 405,
    "MissingContentLength": 411,
    "MissingSecurityHeader": 400,
    "NoSuchBucket": 404,
    "NoSuchKey": 404,
    "NoSuchLifecycleConfiguration": 404,
    "NoSuchTagSet": 404,
    "NoSuchUpload": 404,
    "NoSuchVersion": 404,
    "NotImplemented": 501,
    "NotModified": 304,
    "PreconditionFailed": 412,
    "QuotaExceeded": 403,
    "RequestTimeTooSkewed": 403,
    "ServerSideEncryptionConfigurationNotFoundError": 404,
    "ServiceUnavailable": 503,
    "SignatureDoesNotMatch": 403,
    "SlowDown": 503,
    "XAmzContentSHA256Mismatch": 400,
}


class S3Error(Exception):
    """An S3 error answer. `extra` adds elements to the XML body (for example the expected region,
    the string to sign for a signature mismatch); `headers` adds response headers."""

    def __init__(self, code: str, message: str, *, status: int | None = None,
                 extra: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else STATUS.get(code, 400)
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def xml(self, resource: str = "", request_id: str = "") -> bytes:
        parts = [f"<Code>{escape(self.code)}</Code>", f"<Message>{escape(self.message)}</Message>"]
        for name, value in self.extra.items():
            parts.append(f"<{name}>{escape(value)}</{name}>")
        if resource:
            parts.append(f"<Resource>{escape(resource)}</Resource>")
        if request_id:
            parts.append(f"<RequestId>{escape(request_id)}</RequestId>")
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + "".join(parts) + "</Error>").encode()

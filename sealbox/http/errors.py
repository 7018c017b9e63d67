"""The one table of S3 errors: code -> HTTP status and default message, and the XML error body."""

from __future__ import annotations

from sealbox.core.errors import ErrorCode
from sealbox.http.xml import escape

E = ErrorCode

ERRORS: dict[ErrorCode, tuple[int, str]] = {
    E.ACCESS_DENIED: (403, "Access Denied"),
    E.ACCESS_FORBIDDEN: (403, "CORSResponse: This CORS request is not allowed."),
    E.AUTHORIZATION_HEADER_MALFORMED: (400, "The authorization header is malformed."),
    E.AUTHORIZATION_QUERY_PARAMETERS_ERROR: (400, "Error parsing the X-Amz-Credential parameter."),
    E.BAD_DIGEST: (400, "The Content-MD5 you specified did not match what we received."),
    E.BAD_REQUEST: (400, "Bad Request"),
    E.BUCKET_ALREADY_EXISTS: (409, "The requested bucket name is not available. The bucket namespace is shared"
                                   " by all users of the system. Please select a different name and try again."),
    E.BUCKET_ALREADY_OWNED_BY_YOU: (409, "Your previous request to create the named bucket succeeded and you"
                                         " already own it."),
    E.BUCKET_NOT_EMPTY: (409, "The bucket you tried to delete is not empty"),
    E.CONDITIONAL_REQUEST_CONFLICT: (409, "The conditional request cannot succeed due to a conflicting operation"
                                         " against this resource."),
    E.ENTITY_TOO_LARGE: (400, "Your proposed upload exceeds the maximum allowed object size."),
    E.ENTITY_TOO_SMALL: (400, "Your proposed upload is smaller than the minimum allowed object size."),
    E.EXPIRED_TOKEN: (400, "The provided token has expired."),
    E.ILLEGAL_VERSIONING_CONFIGURATION: (400, "The versioning configuration specified in the request is invalid."),
    E.INCOMPLETE_BODY: (400, "You did not provide the number of bytes specified by the Content-Length HTTP header"),
    E.INTERNAL_ERROR: (500, "We encountered an internal error. Please try again."),
    E.INVALID_ACCESS_KEY_ID: (403, "The AWS Access Key Id you provided does not exist in our records."),
    E.INVALID_ARGUMENT: (400, "Invalid Argument"),
    E.INVALID_BUCKET_NAME: (400, "The specified bucket is not valid."),
    E.INVALID_DIGEST: (400, "The Content-MD5 you specified is not valid."),
    E.INVALID_ENCRYPTION_ALGORITHM: (400, "The encryption request you specified is not valid."),
    E.INVALID_LOCATION_CONSTRAINT: (400, "The specified location constraint is not valid."),
    E.INVALID_PART: (400, "One or more of the specified parts could not be found. The part may not have been"
                          " uploaded, or the specified entity tag may not match the part's entity tag."),
    E.INVALID_PART_ORDER: (400, "The list of parts was not in ascending order. Parts must be ordered by part"
                                " number."),
    E.INVALID_POLICY_DOCUMENT: (400, "The content of the form does not meet the conditions specified in the"
                                     " policy document."),
    E.INVALID_RANGE: (416, "The requested range is not satisfiable"),
    E.INVALID_REQUEST: (400, "Invalid Request"),
    E.INVALID_BUCKET_STATE: (409, "The request is not valid with the current state of the bucket."),
    E.INVALID_RETENTION_PERIOD: (400, "Default retention period must be a positive integer value."),
    E.OBJECT_LOCK_CONFIG_NOT_FOUND: (404, "Object Lock configuration does not exist for this bucket"),
    E.NO_SUCH_OBJECT_LOCK_CONFIG: (404, "The specified object does not have a ObjectLock configuration"),
    E.NO_SUCH_LIFECYCLE_CONFIG: (404, "The lifecycle configuration does not exist"),
    E.INVALID_STORAGE_CLASS: (400, "The storage class you specified is not valid"),
    E.INVALID_TAG: (400, "The tag provided was not a valid tag."),
    E.INVALID_URI: (400, "Couldn't parse the specified URI."),
    E.KEY_TOO_LONG: (400, "Your key is too long"),
    E.MALFORMED_POLICY: (400, "Policies must be valid JSON and the first byte must be '{'"),
    E.MALFORMED_XML: (400, "The XML you provided was not well-formed or did not validate against our published"
                           " schema"),
    E.MALFORMED_POST_REQUEST: (400, "The body of your POST request is not well-formed multipart/form-data."),
    E.MAX_POST_PRE_DATA_LENGTH_EXCEEDED: (400, "Your POST request fields preceding the upload file were too"
                                              " large."),
    E.METADATA_TOO_LARGE: (400, "Your metadata headers exceed the maximum allowed metadata size."),
    E.METHOD_NOT_ALLOWED: (405, "The specified method is not allowed against this resource."),
    E.MISSING_CONTENT_LENGTH: (411, "You must provide the Content-Length HTTP header."),
    E.MISSING_REQUEST_BODY: (400, "Request Body is empty"),
    E.MISSING_SECURITY_HEADER: (400, "Your request is missing a required header."),
    E.NO_SUCH_BUCKET: (404, "The specified bucket does not exist"),
    E.NO_SUCH_BUCKET_POLICY: (404, "The bucket policy does not exist"),
    E.ACCESS_CONTROL_LIST_NOT_SUPPORTED: (400, "The bucket does not allow ACLs"),
    E.INVALID_BUCKET_ACL_WITH_OBJECT_OWNERSHIP: (400, "Bucket cannot have ACLs set with ObjectOwnership's"
                                                      " BucketOwnerEnforced setting"),
    E.MALFORMED_ACL_ERROR: (400, "The XML you provided was not well-formed or did not validate against our"
                                 " published schema"),
    E.UNRESOLVABLE_GRANT_BY_EMAIL_ADDRESS: (400, "The e-mail address you provided does not match any account"
                                                 " on record."),
    E.OWNERSHIP_CONTROLS_NOT_FOUND_ERROR: (404, "The bucket ownership controls were not found"),
    E.NO_SUCH_PUBLIC_ACCESS_BLOCK_CONFIGURATION: (404, "The public access block configuration was not found"),
    E.NO_SUCH_CORS_CONFIGURATION: (404, "The CORS configuration does not exist"),
    E.NO_SUCH_CONFIGURATION: (404, "The specified configuration does not exist."),
    E.NO_SUCH_WEBSITE_CONFIGURATION: (404, "The specified bucket does not have a website configuration"),
    E.REPLICATION_CONFIGURATION_NOT_FOUND: (404, "The replication configuration was not found"),
    E.NO_SUCH_KEY: (404, "The specified key does not exist."),
    E.NO_SUCH_TAG_SET: (404, "The TagSet does not exist"),
    E.NO_SUCH_UPLOAD: (404, "The specified upload does not exist. The upload ID may be invalid, or the upload"
                            " may have been aborted or completed."),
    E.NO_SUCH_VERSION: (404, "The specified version does not exist."),
    E.NOT_IMPLEMENTED: (501, "A header you provided implies functionality that is not implemented."),
    E.NOT_MODIFIED: (304, "Not Modified"),
    E.PRECONDITION_FAILED: (412, "At least one of the pre-conditions you specified did not hold"),
    E.REQUEST_TIME_TOO_SKEWED: (403, "The difference between the request time and the current time is too"
                                     " large."),
    E.REQUEST_HEADER_SECTION_TOO_LARGE: (400, "Your request header section exceeds the maximum allowed size."),
    E.REQUEST_TIMEOUT: (400, "Your socket connection to the server was not read from or written to within the"
                             " timeout period."),
    E.SERVICE_UNAVAILABLE: (503, "Please reduce your request rate."),
    E.SIGNATURE_DOES_NOT_MATCH: (403, "The request signature we calculated does not match the signature you"
                                      " provided. Check your key and signing method."),
    E.SSE_CONFIG_NOT_FOUND: (404, "The server side encryption configuration was not found"),
    E.TOO_MANY_BUCKETS: (400, "You have attempted to create more buckets than allowed"),
    E.X_AMZ_CONTENT_SHA256_MISMATCH: (400, "The provided 'x-amz-content-sha256' header does not match what"
                                           " was computed."),
    E.INVALID_CHUNK_SIZE: (403, "Only the last chunk is allowed to have a size less than 8192 bytes"),
    E.SLOW_DOWN: (503, "Please reduce your request rate."),
    E.EXPECTATION_FAILED: (417, "The expectation given in the Expect header cannot be met."),
    E.KMS_DISABLED: (400, "The KMS key is disabled."),
    E.KMS_NOT_FOUND: (400, "Invalid keyId"),
    E.KMS_INVALID_STATE: (400, "The KMS key is not in a valid state for this request."),
}

_missing = set(ErrorCode) - set(ERRORS)
assert not _missing, f"S3 error table lacks {_missing}"


def status_of(code: ErrorCode) -> int:
    return ERRORS[code][0]


def error_xml(code: ErrorCode, message: str | None, resource: str, request_id: str,
              extra: dict[str, str]) -> bytes:
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code.value}</Code>',
             f"<Message>{escape(message or ERRORS[code][1])}</Message>"]
    for name, value in extra.items():
        parts.append(f"<{name}>{escape(value)}</{name}>")
    parts.append(f"<Resource>{escape(resource)}</Resource><RequestId>{request_id}</RequestId>"
                 f"<HostId>{request_id}</HostId></Error>")
    # "replace": a resource or argument decoded from invalid UTF-8 must not turn an error into a crash.
    return "".join(parts).encode("utf-8", "replace")

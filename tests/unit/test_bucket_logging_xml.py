"""BucketLoggingStatus documents (s3front.api.bucket_logging): golden responses, and what a
PutBucketLogging body may and may not say
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketLogging.html)."""

from __future__ import annotations

import pytest

from s3front import errors
from s3front.api.bucket_logging import InvalidTargetBucketForLogging, parse_status, status_document
from s3front.server_access_log import LoggingConfig, config_of

DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'
NS = ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def test_status_documents_are_golden() -> None:
    assert status_document(None).decode() == f"{DECL}<BucketLoggingStatus{NS}/>"
    assert status_document(LoggingConfig("logs", "a&b/")).decode() == (
        f"{DECL}<BucketLoggingStatus{NS}><LoggingEnabled><TargetBucket>logs</TargetBucket>"
        "<TargetPrefix>a&amp;b/</TargetPrefix><TargetObjectKeyFormat><SimplePrefix/>"
        "</TargetObjectKeyFormat></LoggingEnabled></BucketLoggingStatus>"
    )
    assert status_document(LoggingConfig("logs", "", True, "EventTime")).decode() == (
        f"{DECL}<BucketLoggingStatus{NS}><LoggingEnabled><TargetBucket>logs</TargetBucket>"
        "<TargetPrefix></TargetPrefix><TargetObjectKeyFormat><PartitionedPrefix>"
        "<PartitionDateSource>EventTime</PartitionDateSource></PartitionedPrefix>"
        "</TargetObjectKeyFormat></LoggingEnabled></BucketLoggingStatus>"
    )


def _doc(enabled: str) -> bytes:
    return f"<BucketLoggingStatus{NS}><LoggingEnabled>{enabled}</LoggingEnabled></BucketLoggingStatus>".encode()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (f"<BucketLoggingStatus{NS}/>".encode(), None),
        (b"<BucketLoggingStatus/>", None),  # clients that send no namespace
        (
            _doc("<TargetBucket>logs</TargetBucket><TargetPrefix>p/</TargetPrefix>"),
            LoggingConfig("logs", "p/"),
        ),
        (
            _doc(
                "<TargetBucket> logs </TargetBucket><TargetPrefix/><TargetGrants/>"
                "<TargetObjectKeyFormat><SimplePrefix/></TargetObjectKeyFormat>"
            ),
            LoggingConfig("logs", ""),
        ),
        (
            _doc(
                "<TargetBucket>logs</TargetBucket><TargetPrefix>x</TargetPrefix>"
                "<TargetObjectKeyFormat><PartitionedPrefix/></TargetObjectKeyFormat>"
            ),
            LoggingConfig("logs", "x", True, "DeliveryTime"),
        ),
    ],
)
def test_accepted_documents(body: bytes, expected: LoggingConfig | None) -> None:
    config = parse_status(body)
    assert config == expected
    if config is not None:  # and what is stored reads back the same
        assert config_of({"logging": config.encode()}) == config


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not xml", errors.MalformedXML),
        (b"<LoggingStatus/>", errors.MalformedXML),
        (_doc("<TargetPrefix>p</TargetPrefix>"), errors.MalformedXML),
        (_doc("<TargetBucket>b</TargetBucket>"), errors.MalformedXML),
        (_doc("<TargetBucket>b</TargetBucket><TargetPrefix/><Extra/>"), errors.MalformedXML),
        (
            _doc(
                "<TargetBucket>b</TargetBucket><TargetPrefix/><TargetObjectKeyFormat>"
                "<SimplePrefix/><PartitionedPrefix/></TargetObjectKeyFormat>"
            ),
            errors.MalformedXML,
        ),
        (
            _doc(
                "<TargetBucket>b</TargetBucket><TargetPrefix/>"
                "<TargetObjectKeyFormat></TargetObjectKeyFormat>"
            ),
            errors.MalformedXML,
        ),
        (
            _doc(
                "<TargetBucket>b</TargetBucket><TargetPrefix/><TargetGrants><Grant><Grantee>"
                "<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee>"
                "<Permission>READ</Permission></Grant></TargetGrants>"
            ),
            errors.NotImplemented,
        ),
        (_doc("<TargetBucket></TargetBucket><TargetPrefix/>"), InvalidTargetBucketForLogging),
        (
            _doc("<TargetBucket>No_Such</TargetBucket><TargetPrefix/>"),
            InvalidTargetBucketForLogging,
        ),
        (
            _doc(f"<TargetBucket>logs</TargetBucket><TargetPrefix>{'p' * 900}</TargetPrefix>"),
            errors.InvalidArgument,
        ),
        (
            b"<BucketLoggingStatus><LoggingEnabled><TargetBucket>b</TargetBucket><TargetPrefix/>"
            b"</LoggingEnabled><LoggingEnabled/></BucketLoggingStatus>",
            errors.MalformedXML,
        ),
    ],
)
def test_refused_documents(body: bytes, error: type[errors.S3Error]) -> None:
    with pytest.raises(error):
        parse_status(body)

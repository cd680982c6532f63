"""XML tests: golden bytes per response document, request parsers, XXE, botocore reading."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import botocore.session  # type: ignore[import-untyped]
import pytest
from botocore.handlers import (  # type: ignore[import-untyped]
    decode_list_object,
    decode_list_object_v2,
    parse_get_bucket_location,
)
from botocore.model import ServiceModel  # type: ignore[import-untyped]
from botocore.parsers import RestXMLParser  # type: ignore[import-untyped]
from lxml import etree

from s3front import errors, xmldocs
from s3front import xml as xml_module
from s3front.objects.pages import ListPage, UploadPage, VersionPage
from s3front.store.records import ObjectRecord, OwnerBucket, PartRecord, UploadRecord
from s3front.xml import (
    CompletedPart,
    Grant,
    error_document,
    parse,
    parse_acl,
    parse_complete_multipart,
    parse_create_bucket,
    parse_delete,
    parse_tagging,
    parse_versioning,
    timestamp,
)

T = 1255369830000  # 2009-10-12T17:50:30.000Z, the time in the AWS examples
HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
NS = ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
ALICE = "<ID>abc</ID><DisplayName>alice</DisplayName>"


def owner_name(canonical_id: str) -> str:
    return {"abc": "alice"}.get(canonical_id, "")


OBJ = ObjectRecord(
    key="my image.jpg",
    seq=0,
    version_id="null",
    size=434234,
    etag="fba9dede5f27731c9771645a39863328",
    last_modified_ms=T,
    owner="abc",
)
MARKER = ObjectRecord(
    key="a+b",
    seq=2,
    version_id="v2",
    size=0,
    etag="",
    last_modified_ms=T + 1,
    owner="zzz",
    delete_marker=True,
)
OLD = ObjectRecord(
    key="a+b", seq=1, version_id="v1", size=5, etag="e1", last_modified_ms=T + 2, owner="abc"
)
UPLOAD = UploadRecord(
    key="k", upload_id="U1", initiated_ms=T, owner="abc", checksum_algorithm="CRC32"
)
PART = PartRecord(
    part_number=1,
    size=5242880,
    etag="e1",
    last_modified_ms=T,
    manifest_id="m",
    checksums={"CRC32": "AAAAAA=="},
)


GOLDEN: list[tuple[str, Callable[[], bytes], str]] = [
    (
        "error",
        lambda: error_document(errors.NoSuchKey(Key='a "b"'), "/b/a", "R1"),
        "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>"
        "<Key>a &quot;b&quot;</Key><Resource>/b/a</Resource><RequestId>R1</RequestId></Error>",
    ),
    (
        "list_all_my_buckets",
        lambda: xmldocs.list_all_my_buckets(
            "abc", [OwnerBucket("abc", "photos", T)], owner_name, region="us-east-1"
        ),
        f"<ListAllMyBucketsResult{NS}><Buckets><Bucket><Name>photos</Name>"
        "<CreationDate>2009-10-12T17:50:30.000Z</CreationDate>"
        "<BucketRegion>us-east-1</BucketRegion></Bucket></Buckets>"
        f"<Owner>{ALICE}</Owner></ListAllMyBucketsResult>",
    ),
    (
        "list_all_my_buckets_page",
        lambda: xmldocs.list_all_my_buckets(
            "abc",
            [OwnerBucket("abc", "photos", T)],
            owner_name,
            region="eu-west-3",
            continuation="cGhvdG9z",
            prefix="ph",
        ),
        f"<ListAllMyBucketsResult{NS}><Buckets><Bucket><Name>photos</Name>"
        "<CreationDate>2009-10-12T17:50:30.000Z</CreationDate>"
        "<BucketRegion>eu-west-3</BucketRegion></Bucket></Buckets>"
        f"<Owner>{ALICE}</Owner><ContinuationToken>cGhvdG9z</ContinuationToken>"
        "<Prefix>ph</Prefix></ListAllMyBucketsResult>",
    ),
    (
        "location_us_east_1",
        lambda: xmldocs.location_constraint("us-east-1"),
        f"<LocationConstraint{NS}/>",
    ),
    (
        "location_eu_west_1",
        lambda: xmldocs.location_constraint("eu-west-1"),
        f"<LocationConstraint{NS}>eu-west-1</LocationConstraint>",
    ),
    (
        "list_objects_v1",
        lambda: xmldocs.list_objects_v1(
            "b",
            ListPage([OBJ]),
            prefix="",
            marker="",
            delimiter="",
            max_keys=1000,
            encoding_type=None,
            owner_name=owner_name,
        ),
        f"<ListBucketResult{NS}><Name>b</Name><Prefix></Prefix><Marker></Marker>"
        "<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><Contents><Key>my image.jpg</Key>"
        "<LastModified>2009-10-12T17:50:30.000Z</LastModified>"
        "<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>"
        f"<StorageClass>STANDARD</StorageClass><Owner>{ALICE}</Owner></Contents>"
        "</ListBucketResult>",
    ),
    (
        "list_objects_v1_delimiter_url",
        lambda: xmldocs.list_objects_v1(
            "b",
            ListPage([OBJ], ["dir x/"], True, "dir x/"),
            prefix="",
            marker="a b",
            delimiter="/",
            max_keys=2,
            encoding_type="url",
            owner_name=owner_name,
        ),
        f"<ListBucketResult{NS}><Name>b</Name><Prefix></Prefix><Marker>a%20b</Marker>"
        "<NextMarker>dir%20x/</NextMarker><MaxKeys>2</MaxKeys><Delimiter>/</Delimiter>"
        "<EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
        "<Contents><Key>my%20image.jpg</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>"
        "<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>"
        f"<StorageClass>STANDARD</StorageClass><Owner>{ALICE}</Owner></Contents>"
        "<CommonPrefixes><Prefix>dir%20x/</Prefix></CommonPrefixes></ListBucketResult>",
    ),
    (
        "list_objects_v1_truncated_without_delimiter",  # no NextMarker without a delimiter
        lambda: xmldocs.list_objects_v1(
            "b",
            ListPage([], [], True, "k"),
            prefix="p",
            marker="",
            delimiter="",
            max_keys=1,
            encoding_type=None,
            owner_name=owner_name,
        ),
        f"<ListBucketResult{NS}><Name>b</Name><Prefix>p</Prefix><Marker></Marker>"
        "<MaxKeys>1</MaxKeys><IsTruncated>true</IsTruncated></ListBucketResult>",
    ),
    (
        "list_objects_v2",
        lambda: xmldocs.list_objects_v2(
            "b",
            ListPage([OBJ], ["d/"], True, "d/"),
            prefix="",
            delimiter="/",
            max_keys=2,
            encoding_type="url",
            continuation_token="c1",
            next_continuation_token="c2",
            start_after="s a",
            fetch_owner=False,
            owner_name=owner_name,
        ),
        f"<ListBucketResult{NS}><Name>b</Name><Prefix></Prefix>"
        "<ContinuationToken>c1</ContinuationToken><StartAfter>s%20a</StartAfter>"
        "<KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><Delimiter>/</Delimiter>"
        "<EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
        "<NextContinuationToken>c2</NextContinuationToken><Contents><Key>my%20image.jpg</Key>"
        "<LastModified>2009-10-12T17:50:30.000Z</LastModified>"
        "<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>"
        "<StorageClass>STANDARD</StorageClass></Contents>"
        "<CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes></ListBucketResult>",
    ),
    (
        "list_objects_v2_fetch_owner",
        lambda: xmldocs.list_objects_v2(
            "b",
            ListPage([OBJ]),
            prefix="",
            delimiter="",
            max_keys=1000,
            encoding_type=None,
            continuation_token=None,
            next_continuation_token=None,
            start_after=None,
            fetch_owner=True,
            owner_name=owner_name,
        ),
        f"<ListBucketResult{NS}><Name>b</Name><Prefix></Prefix><KeyCount>1</KeyCount>"
        "<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><Contents><Key>my image.jpg</Key>"
        "<LastModified>2009-10-12T17:50:30.000Z</LastModified>"
        "<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>"
        f"<StorageClass>STANDARD</StorageClass><Owner>{ALICE}</Owner></Contents>"
        "</ListBucketResult>",
    ),
    (
        "list_object_versions",
        lambda: xmldocs.list_object_versions(
            "b",
            VersionPage([MARKER, OLD], {("a+b", "v2")}, ["d/"], True, "a+b", "v1"),
            prefix="",
            key_marker="",
            version_id_marker="",
            delimiter="/",
            max_keys=2,
            encoding_type="url",
            owner_name=owner_name,
        ),
        f"<ListVersionsResult{NS}><Name>b</Name><Prefix></Prefix><KeyMarker></KeyMarker>"
        "<VersionIdMarker></VersionIdMarker><NextKeyMarker>a%2Bb</NextKeyMarker>"
        "<NextVersionIdMarker>v1</NextVersionIdMarker><MaxKeys>2</MaxKeys>"
        "<Delimiter>/</Delimiter><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
        "<DeleteMarker><Key>a%2Bb</Key><VersionId>v2</VersionId><IsLatest>true</IsLatest>"
        "<LastModified>2009-10-12T17:50:30.001Z</LastModified>"
        # an owner without a display name gets its id, never an empty DisplayName
        "<Owner><ID>zzz</ID><DisplayName>zzz</DisplayName></Owner></DeleteMarker>"
        "<Version><Key>a%2Bb</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest>"
        "<LastModified>2009-10-12T17:50:30.002Z</LastModified><ETag>&quot;e1&quot;</ETag>"
        f"<Size>5</Size><StorageClass>STANDARD</StorageClass><Owner>{ALICE}</Owner></Version>"
        "<CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes></ListVersionsResult>",
    ),
    (
        "list_multipart_uploads",
        lambda: xmldocs.list_multipart_uploads(
            "b",
            UploadPage([UPLOAD]),
            prefix="",
            delimiter="",
            key_marker="",
            upload_id_marker="",
            max_uploads=1000,
            encoding_type=None,
            owner_name=owner_name,
        ),
        f"<ListMultipartUploadsResult{NS}><Bucket>b</Bucket><KeyMarker></KeyMarker>"
        "<UploadIdMarker></UploadIdMarker><Prefix></Prefix><MaxUploads>1000</MaxUploads>"
        "<IsTruncated>false</IsTruncated><Upload><Key>k</Key><UploadId>U1</UploadId>"
        f"<Initiator>{ALICE}</Initiator><Owner>{ALICE}</Owner>"
        "<StorageClass>STANDARD</StorageClass><Initiated>2009-10-12T17:50:30.000Z</Initiated>"
        "<ChecksumAlgorithm>CRC32</ChecksumAlgorithm></Upload></ListMultipartUploadsResult>",
    ),
    (
        "initiate_multipart_upload",
        lambda: xmldocs.initiate_multipart_upload("b", "k", "U1"),
        f"<InitiateMultipartUploadResult{NS}><Bucket>b</Bucket><Key>k</Key>"
        "<UploadId>U1</UploadId></InitiateMultipartUploadResult>",
    ),
    (
        "complete_multipart_upload",
        lambda: xmldocs.complete_multipart_upload(
            "http://b.localhost/k",
            "b",
            "k",
            "3858f62230ac3c915f300c664312c11f-9",
            {"CRC32": "AAAAAA==", "type": "COMPOSITE"},
        ),
        f"<CompleteMultipartUploadResult{NS}><Location>http://b.localhost/k</Location>"
        "<Bucket>b</Bucket><Key>k</Key><ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag>"
        "<ChecksumCRC32>AAAAAA==</ChecksumCRC32><ChecksumType>COMPOSITE</ChecksumType>"
        "</CompleteMultipartUploadResult>",
    ),
    (
        "list_parts",
        lambda: xmldocs.list_parts(
            "b",
            UPLOAD,
            [PART],
            part_number_marker=0,
            next_part_number_marker=1,
            max_parts=1,
            is_truncated=True,
            owner_name=owner_name,
        ),
        f"<ListPartsResult{NS}><Bucket>b</Bucket><Key>k</Key><UploadId>U1</UploadId>"
        f"<Initiator>{ALICE}</Initiator><Owner>{ALICE}</Owner>"
        "<StorageClass>STANDARD</StorageClass><PartNumberMarker>0</PartNumberMarker>"
        "<NextPartNumberMarker>1</NextPartNumberMarker><MaxParts>1</MaxParts>"
        "<IsTruncated>true</IsTruncated><ChecksumAlgorithm>CRC32</ChecksumAlgorithm>"
        "<Part><PartNumber>1</PartNumber><LastModified>2009-10-12T17:50:30.000Z</LastModified>"
        "<ETag>&quot;e1&quot;</ETag><Size>5242880</Size><ChecksumCRC32>AAAAAA==</ChecksumCRC32>"
        "</Part></ListPartsResult>",
    ),
    (
        "copy_object_result",
        lambda: xmldocs.copy_object_result("e1", T),
        f"<CopyObjectResult{NS}><ETag>&quot;e1&quot;</ETag>"
        "<LastModified>2009-10-12T17:50:30.000Z</LastModified></CopyObjectResult>",
    ),
    (
        "copy_part_result",
        lambda: xmldocs.copy_part_result("e1", T, {"CRC32C": "q83d"}),
        f"<CopyPartResult{NS}><ETag>&quot;e1&quot;</ETag>"
        "<LastModified>2009-10-12T17:50:30.000Z</LastModified>"
        "<ChecksumCRC32C>q83d</ChecksumCRC32C></CopyPartResult>",
    ),
    (
        "delete_result",
        lambda: xmldocs.delete_result(
            [
                xmldocs.Deleted("a"),
                xmldocs.Deleted("b", "v1"),
                xmldocs.Deleted("c", None, "dm1", delete_marker=True),
            ],
            [
                xmldocs.DeleteFailure("e", "AccessDenied", "Access Denied"),
                xmldocs.DeleteFailure("f", "NoSuchVersion", "No such version", "v9"),
            ],
        ),
        f"<DeleteResult{NS}><Deleted><Key>a</Key></Deleted>"
        "<Deleted><Key>b</Key><VersionId>v1</VersionId></Deleted>"
        "<Deleted><Key>c</Key><DeleteMarker>true</DeleteMarker>"
        "<DeleteMarkerVersionId>dm1</DeleteMarkerVersionId></Deleted>"
        "<Error><Key>e</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
        "<Error><Key>f</Key><VersionId>v9</VersionId><Code>NoSuchVersion</Code>"
        "<Message>No such version</Message></Error></DeleteResult>",
    ),
    (
        "access_control_policy",
        lambda: xmldocs.access_control_policy(
            "abc",
            [
                Grant("CanonicalUser", "abc", "FULL_CONTROL"),
                Grant("Group", "http://acs.amazonaws.com/groups/global/AllUsers", "READ"),
            ],
            owner_name,
        ),
        f'<AccessControlPolicy{NS} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<Owner>{ALICE}</Owner><AccessControlList>"
        f'<Grant><Grantee xsi:type="CanonicalUser">{ALICE}</Grantee>'
        "<Permission>FULL_CONTROL</Permission></Grant>"
        '<Grant><Grantee xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers'
        "</URI></Grantee><Permission>READ</Permission></Grant>"
        "</AccessControlList></AccessControlPolicy>",
    ),
    (
        "owner_full_control_acl",
        lambda: xmldocs.owner_full_control_acl("zzz", {"abc": "alice"}),
        f'<AccessControlPolicy{NS} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<Owner><ID>zzz</ID><DisplayName>zzz</DisplayName></Owner><AccessControlList>"
        '<Grant><Grantee xsi:type="CanonicalUser"><ID>zzz</ID><DisplayName>zzz</DisplayName>'
        "</Grantee><Permission>FULL_CONTROL</Permission></Grant>"
        "</AccessControlList></AccessControlPolicy>",
    ),
    (
        "simple_document",
        lambda: xmldocs.simple_document("RequestPaymentConfiguration", [("Payer", "BucketOwner")]),
        f"<RequestPaymentConfiguration{NS}><Payer>BucketOwner</Payer>"
        "</RequestPaymentConfiguration>",
    ),
    (
        "simple_document_empty",
        lambda: xmldocs.simple_document("BucketLoggingStatus"),
        f"<BucketLoggingStatus{NS}/>",
    ),
    (
        "versioning_never_enabled",
        lambda: xmldocs.versioning_configuration(""),
        f"<VersioningConfiguration{NS}/>",
    ),
    (
        "versioning_enabled",
        lambda: xmldocs.versioning_configuration("Enabled"),
        f"<VersioningConfiguration{NS}><Status>Enabled</Status></VersioningConfiguration>",
    ),
    (
        "tagging",
        lambda: xmldocs.tagging({"k1": "v1", "k2": ""}),
        f"<Tagging{NS}><TagSet><Tag><Key>k1</Key><Value>v1</Value></Tag>"
        "<Tag><Key>k2</Key><Value></Value></Tag></TagSet></Tagging>",
    ),
    (
        "object_attributes",
        lambda: xmldocs.object_attributes(
            etag="e1-2",
            checksums={"CRC32": "AAAA", "type": "COMPOSITE"},
            parts=xmldocs.ObjectParts([PART], 2, 0, 1, 1, True),
            storage_class="STANDARD",
            object_size=10,
        ),
        # GetObjectAttributes is the one document whose ETag is not quoted.
        f"<GetObjectAttributesResponse{NS}><ETag>e1-2</ETag>"
        "<Checksum><ChecksumCRC32>AAAA</ChecksumCRC32><ChecksumType>COMPOSITE</ChecksumType>"
        "</Checksum><ObjectParts><PartsCount>2</PartsCount><PartNumberMarker>0</PartNumberMarker>"
        "<NextPartNumberMarker>1</NextPartNumberMarker><MaxParts>1</MaxParts>"
        "<IsTruncated>true</IsTruncated><Part><PartNumber>1</PartNumber><Size>5242880</Size>"
        "<ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part></ObjectParts>"
        "<StorageClass>STANDARD</StorageClass><ObjectSize>10</ObjectSize>"
        "</GetObjectAttributesResponse>",
    ),
    (
        "object_attributes_size_only",
        lambda: xmldocs.object_attributes(object_size=0),
        f"<GetObjectAttributesResponse{NS}><ObjectSize>0</ObjectSize>"
        "</GetObjectAttributesResponse>",
    ),
]


@pytest.mark.parametrize(("name", "build", "expected"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden(name: str, build: Callable[[], bytes], expected: str) -> None:
    assert build() == (HEAD + expected).encode("utf-8")


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (T, "2009-10-12T17:50:30.000Z"),
        (T + 7, "2009-10-12T17:50:30.007Z"),
        (T + 999, "2009-10-12T17:50:30.999Z"),
    ],
)
def test_timestamp(ms: int, text: str) -> None:
    assert timestamp(ms) == text


def test_unicode_is_written_as_utf8() -> None:
    body = xmldocs.initiate_multipart_upload("b", "café/日本", "U")
    assert "<Key>café/日本</Key>".encode() in body


# --- request documents -----------------------------------------------------------------------

S3NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", None),
        (b"  \n", None),
        (f"<CreateBucketConfiguration {S3NS}/>".encode(), None),
        (
            b"<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint>"
            b"</CreateBucketConfiguration>",
            "eu-west-1",
        ),
        (
            f"<?xml version='1.0'?><CreateBucketConfiguration {S3NS}><LocationConstraint>"
            "us-west-2</LocationConstraint><Future>x</Future></CreateBucketConfiguration>".encode(),
            "us-west-2",
        ),
    ],
)
def test_parse_create_bucket(body: bytes, expected: str | None) -> None:
    assert parse_create_bucket(body) == expected


COMPLETE_OK = (
    "<CompleteMultipartUpload {ns}>"
    '<Part><PartNumber>1</PartNumber><ETag>"a54357aff0632cce46d942af68356b38"</ETag>'
    "<ChecksumCRC32>sTfPyg==</ChecksumCRC32><SomethingNew>x</SomethingNew></Part>"
    "<Part><ETag>&quot;0c78aef83f66abc1fa1e8477f296d394&quot;</ETag>"
    "<PartNumber> 2 </PartNumber></Part>"
    "<Part><PartNumber>3</PartNumber><ETag>acbd18db4cc2f85cedef654fccc4a4d8</ETag></Part>"
    "</CompleteMultipartUpload>"
)


@pytest.mark.parametrize("ns", ["", S3NS])
def test_parse_complete_multipart(ns: str) -> None:
    assert parse_complete_multipart(COMPLETE_OK.format(ns=ns).encode()) == [
        CompletedPart(1, "a54357aff0632cce46d942af68356b38", {"CRC32": "sTfPyg=="}),
        CompletedPart(2, "0c78aef83f66abc1fa1e8477f296d394", {}),
        CompletedPart(3, "acbd18db4cc2f85cedef654fccc4a4d8", {}),
    ]


def _complete(part: str) -> bytes:
    return f"<CompleteMultipartUpload>{part}</CompleteMultipartUpload>".encode()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (_complete(""), errors.MalformedXML),
        (_complete("<Part><PartNumber>1</PartNumber></Part>"), errors.MalformedXML),
        (_complete("<Part><ETag>x</ETag></Part>"), errors.MalformedXML),
        (_complete("<Part><PartNumber>one</PartNumber><ETag>x</ETag></Part>"), errors.MalformedXML),
        (
            _complete("<Part><PartNumber>0</PartNumber><ETag>x</ETag></Part>"),
            errors.InvalidArgument,
        ),
        (
            _complete("<Part><PartNumber>10001</PartNumber><ETag>x</ETag></Part>"),
            errors.InvalidArgument,
        ),
        (b"<Complete><Part/></Complete>", errors.MalformedXML),  # wrong root
        (b"<CompleteMultipartUpload>", errors.MalformedXML),  # not well-formed
        (b"", errors.MalformedXML),
    ],
)
def test_parse_complete_multipart_rejects(body: bytes, error: type[errors.S3Error]) -> None:
    with pytest.raises(error):
        parse_complete_multipart(body)


def _delete(n: int, quiet: str = "", ns: str = "") -> bytes:
    objects = "".join(f"<Object><Key>k{i}</Key></Object>" for i in range(n))
    return f"<Delete {ns}>{quiet}{objects}</Delete>".encode()


@pytest.mark.parametrize("ns", ["", S3NS])
def test_parse_delete(ns: str) -> None:
    body = (
        f"<Delete {ns}><Quiet>true</Quiet>"
        "<Object><Key> spaced key </Key><VersionId>v1</VersionId></Object>"
        "<Object><Key>a/b&amp;c</Key><ETag>ignored</ETag></Object></Delete>"
    ).encode()
    quiet, objects = parse_delete(body)
    assert quiet is True
    assert objects == [(" spaced key ", "v1"), ("a/b&c", None)]


@pytest.mark.parametrize(
    ("quiet", "expected"),
    [("", False), ("<Quiet>false</Quiet>", False), ("<Quiet>True</Quiet>", True)],
)
def test_parse_delete_quiet(quiet: str, expected: bool) -> None:
    assert parse_delete(_delete(1, quiet)).quiet is expected


def test_parse_delete_limit() -> None:
    assert len(parse_delete(_delete(1000)).objects) == 1000
    with pytest.raises(errors.MalformedXML):
        parse_delete(_delete(1001))


@pytest.mark.parametrize(
    "body",
    [
        b"<Delete></Delete>",
        b"<Delete><Object><VersionId>v</VersionId></Object></Delete>",
        b"<Deletes><Object><Key>k</Key></Object></Deletes>",
        b"not xml",
    ],
)
def test_parse_delete_rejects(body: bytes) -> None:
    with pytest.raises(errors.MalformedXML):
        parse_delete(body)


@pytest.mark.parametrize("ns", ["", S3NS])
def test_parse_tagging(ns: str) -> None:
    body = (
        f"<Tagging {ns}><TagSet><Tag><Key>project</Key><Value>blue</Value></Tag>"
        "<Tag><Key>empty</Key><Value></Value></Tag><Tag><Key>novalue</Key></Tag>"
        "</TagSet></Tagging>"
    ).encode()
    assert parse_tagging(body) == {"project": "blue", "empty": "", "novalue": ""}


def _tags(*pairs: tuple[str, str]) -> bytes:
    tags = "".join(f"<Tag><Key>{k}</Key><Value>{v}</Value></Tag>" for k, v in pairs)
    return f"<Tagging><TagSet>{tags}</TagSet></Tagging>".encode()


@pytest.mark.parametrize(
    ("body", "max_tags", "error"),
    [
        (_tags(("a", "1"), ("a", "2")), 50, errors.InvalidTag),
        (_tags(*[(f"k{i}", "v") for i in range(11)]), 10, errors.InvalidTag),
        (_tags(("k" * 129, "v")), 50, errors.InvalidTag),
        (_tags(("k", "v" * 257)), 50, errors.InvalidTag),
        (_tags(("", "v")), 50, errors.InvalidTag),
        (b"<Tagging></Tagging>", 50, errors.MalformedXML),
        (
            b"<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>",
            50,
            errors.MalformedXML,
        ),
    ],
)
def test_parse_tagging_rejects(body: bytes, max_tags: int, error: type[errors.S3Error]) -> None:
    with pytest.raises(error):
        parse_tagging(body, max_tags=max_tags)


def test_parse_tagging_limit_ok() -> None:
    assert len(parse_tagging(_tags(*[(f"k{i}", "v") for i in range(10)]), max_tags=10)) == 10


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            f"<VersioningConfiguration {S3NS}><Status>Enabled</Status></VersioningConfiguration>",
            "Enabled",
        ),
        (
            "<VersioningConfiguration><Status>Suspended</Status><MfaDelete>Disabled</MfaDelete>"
            "</VersioningConfiguration>",
            "Suspended",
        ),
    ],
)
def test_parse_versioning(body: str, expected: str) -> None:
    assert parse_versioning(body.encode()) == expected


@pytest.mark.parametrize(
    "body",
    [
        b"<VersioningConfiguration/>",
        b"<VersioningConfiguration><Status>enabled</Status></VersioningConfiguration>",
        b"<VersioningConfiguration><Status>Disabled</Status></VersioningConfiguration>",
        b"<Versioning><Status>Enabled</Status></Versioning>",
    ],
)
def test_parse_versioning_rejects(body: bytes) -> None:
    with pytest.raises(errors.MalformedXML):
        parse_versioning(body)


ACL = (
    '<AccessControlPolicy {ns} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    "<Owner><ID>abc</ID><DisplayName>alice</DisplayName></Owner><AccessControlList>"
    '<Grant><Grantee xsi:type="CanonicalUser"><ID>abc</ID><DisplayName>x</DisplayName></Grantee>'
    "<Permission>FULL_CONTROL</Permission></Grant>"
    '<Grant><Grantee xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI>'
    "</Grantee><Permission>READ</Permission></Grant>"
    # s3cmd and some hand-written policies leave out xsi:type
    "<Grant><Grantee><EmailAddress>bob@example.com</EmailAddress></Grantee>"
    "<Permission>WRITE_ACP</Permission></Grant>"
    "</AccessControlList></AccessControlPolicy>"
)


@pytest.mark.parametrize("ns", ["", S3NS])
def test_parse_acl(ns: str) -> None:
    owner, grants = parse_acl(ACL.format(ns=ns).encode())
    assert owner == "abc"
    assert grants == [
        Grant("CanonicalUser", "abc", "FULL_CONTROL"),
        Grant("Group", "http://acs.amazonaws.com/groups/global/AllUsers", "READ"),
        Grant("AmazonCustomerByEmail", "bob@example.com", "WRITE_ACP"),
    ]


def test_acl_round_trip() -> None:
    grants = [Grant("CanonicalUser", "abc", "READ"), Grant("Group", "http://g", "WRITE")]
    body = xmldocs.access_control_policy("abc", grants, owner_name)
    assert parse_acl(body) == ("abc", grants)


def _acl_grant(grant: str) -> bytes:
    return (
        '<AccessControlPolicy xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<AccessControlList><Grant>{grant}</Grant></AccessControlList></AccessControlPolicy>"
    ).encode()


@pytest.mark.parametrize(
    "body",
    [
        _acl_grant(
            '<Grantee xsi:type="CanonicalUser"><ID>a</ID></Grantee><Permission>X</Permission>'
        ),
        _acl_grant("<Permission>READ</Permission>"),
        _acl_grant('<Grantee xsi:type="Martian"><ID>a</ID></Grantee><Permission>READ</Permission>'),
        _acl_grant('<Grantee xsi:type="Group"><ID>a</ID></Grantee><Permission>READ</Permission>'),
        _acl_grant("<Grantee></Grantee><Permission>READ</Permission>"),
        b"<Policy/>",
    ],
)
def test_parse_acl_rejects(body: bytes) -> None:
    with pytest.raises(errors.MalformedXML):
        parse_acl(body)


# --- hostile documents -----------------------------------------------------------------------


def _xxe_documents(secret: Path) -> list[bytes]:
    uri = secret.as_uri()
    return [
        # classic external entity
        f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "{uri}">]>'
        "<Delete><Object><Key>&x;</Key></Object></Delete>".encode(),
        b'<!DOCTYPE d [<!ENTITY x SYSTEM "/etc/passwd">]><Delete><Object><Key>&x;</Key>'
        b"</Object></Delete>",
        # parameter entity pulling an external DTD
        f'<!DOCTYPE d [<!ENTITY % p SYSTEM "{uri}"> %p;]><Delete><Object><Key>k</Key>'
        "</Object></Delete>".encode(),
        # external DTD subset
        f'<!DOCTYPE Delete SYSTEM "{uri}"><Delete><Object><Key>k</Key></Object></Delete>'.encode(),
        b'<!DOCTYPE Delete SYSTEM "http://127.0.0.1:9/evil.dtd"><Delete><Object><Key>k</Key>'
        b"</Object></Delete>",
        # billion laughs
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
            for i in range(1, 10)
        )
        + b"]><Delete><Object><Key>&lol9;</Key></Object></Delete>",
        # a harmless-looking DOCTYPE is refused too: no S3 document has one
        b"<!DOCTYPE Delete><Delete><Object><Key>k</Key></Object></Delete>",
        # XInclude is not processed, and an undeclared entity is an error
        b"<Delete><Object><Key>&undeclared;</Key></Object></Delete>",
    ]


def test_xxe_and_entity_expansion_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    time.sleep(0.02)  # so that a read after the write would show in the atime (relatime)
    documents = _xxe_documents(secret)
    before = secret.stat().st_atime_ns
    started = time.monotonic()
    for body in documents:
        with pytest.raises(errors.MalformedXML):
            parse_delete(body)
        with pytest.raises(errors.MalformedXML):
            parse(body)
    assert time.monotonic() - started < 2.0  # nothing was expanded
    assert secret.stat().st_atime_ns == before  # nothing was read
    # Defence in depth: even without the DOCTYPE check the parser itself resolves nothing.
    for body in documents:
        try:
            tree = etree.fromstring(body, xml_module._parser())
        except etree.XMLSyntaxError:
            continue
        assert b"TOPSECRET" not in etree.tostring(tree)
        assert len(etree.tostring(tree)) < 10_000
    assert secret.stat().st_atime_ns == before
    # Control: the first document really is an attack; a naive parser leaks the file. (The atime
    # checks above catch a read on relatime/strictatime mounts; on noatime they prove nothing,
    # the content checks still do.)
    naive = etree.XMLParser(resolve_entities=True, load_dtd=True)
    assert b"TOPSECRET" in etree.tostring(etree.fromstring(documents[0], naive))


def test_xinclude_is_not_processed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    body = (
        '<Delete xmlns:xi="http://www.w3.org/2001/XInclude"><Object><Key>'
        f'<xi:include href="{secret.as_uri()}" parse="text"/></Key></Object></Delete>'
    ).encode()
    assert "TOPSECRET" not in repr(parse_delete(body).objects)


def test_comments_and_processing_instructions_are_ignored() -> None:
    body = b"<Delete><!-- c --><?pi x?><Object><Key>k<!-- c -->2</Key></Object></Delete>"
    assert parse_delete(body).objects == [("k2", None)]


# --- botocore reads what we write ------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("s3")


def _botocore_parse(model: ServiceModel, op: str, body: bytes, status: int = 200) -> Any:
    response = {"body": body, "headers": {}, "status_code": status}
    return RestXMLParser().parse(response, model.operation_model(op).output_shape)


ODD_KEYS = ["a b", "a+b", "100%", 'q"t', "<&>", "café/日本", "dir/", "//x", "tab\tkey"]


def _objects(keys: list[str]) -> list[ObjectRecord]:
    return [
        ObjectRecord(
            key=k, seq=0, version_id="null", size=i, etag=f"e{i}", last_modified_ms=T, owner="abc"
        )
        for i, k in enumerate(keys)
    ]


@pytest.mark.parametrize("encoding_type", [None, "url"])
def test_botocore_reads_list_objects_v2(s3_model: ServiceModel, encoding_type: str | None) -> None:
    page = ListPage(_objects(ODD_KEYS), ["p q/"], True, "p q/")
    body = xmldocs.list_objects_v2(
        "b",
        page,
        prefix="",
        delimiter="/",
        max_keys=10,
        encoding_type=encoding_type,
        continuation_token=None,
        next_continuation_token="tok",
        start_after="a b",
        fetch_owner=True,
        owner_name=owner_name,
    )
    parsed = _botocore_parse(s3_model, "ListObjectsV2", body)
    decode_list_object_v2(parsed, context={"encoding_type_auto_set": encoding_type == "url"})
    assert [c["Key"] for c in parsed["Contents"]] == ODD_KEYS
    assert [c["ETag"] for c in parsed["Contents"]][:2] == ['"e0"', '"e1"']
    assert parsed["Contents"][0]["Owner"] == {"ID": "abc", "DisplayName": "alice"}
    assert parsed["CommonPrefixes"] == [{"Prefix": "p q/"}]
    assert (parsed["StartAfter"], parsed["NextContinuationToken"]) == ("a b", "tok")
    assert parsed["IsTruncated"] is True
    assert parsed["KeyCount"] == len(ODD_KEYS) + 1
    assert parsed["Contents"][0]["LastModified"].timestamp() == T / 1000


def test_botocore_reads_list_objects_v1(s3_model: ServiceModel) -> None:
    page = ListPage(_objects(ODD_KEYS), [], True, ODD_KEYS[-1])
    body = xmldocs.list_objects_v1(
        "b",
        page,
        prefix="",
        marker="a+b",
        delimiter="/",
        max_keys=10,
        encoding_type="url",
        owner_name=owner_name,
    )
    parsed = _botocore_parse(s3_model, "ListObjects", body)
    decode_list_object(parsed, context={"encoding_type_auto_set": True})
    assert [c["Key"] for c in parsed["Contents"]] == ODD_KEYS
    assert (parsed["Marker"], parsed["NextMarker"]) == ("a+b", ODD_KEYS[-1])


def test_botocore_reads_error(s3_model: ServiceModel) -> None:
    body = error_document(errors.NoSuchBucket(BucketName="b"), "/b", "RID")
    parsed = _botocore_parse(s3_model, "ListObjects", body, status=404)
    assert parsed["Error"]["Code"] == "NoSuchBucket"
    assert parsed["Error"]["BucketName"] == "b"
    assert parsed["Error"]["Resource"] == "/b"


@pytest.mark.parametrize(
    ("op", "build", "check"),
    [
        (
            "CompleteMultipartUpload",
            lambda: xmldocs.complete_multipart_upload("loc", "b", "k", "e-2", {"CRC32": "c"}),
            {"ETag": '"e-2"', "ChecksumCRC32": "c", "Key": "k"},
        ),
        (
            "GetObjectAttributes",
            lambda: xmldocs.object_attributes(etag="e", object_size=7),
            {"ETag": "e", "ObjectSize": 7},
        ),
        (
            "GetBucketVersioning",
            lambda: xmldocs.versioning_configuration("Suspended"),
            {"Status": "Suspended"},
        ),
        (
            "GetObjectTagging",
            lambda: xmldocs.tagging({"a": "1"}),
            {"TagSet": [{"Key": "a", "Value": "1"}]},
        ),
        (
            "CreateMultipartUpload",
            lambda: xmldocs.initiate_multipart_upload("b", "k", "U"),
            {"UploadId": "U"},
        ),
    ],
)
def test_botocore_reads_documents(
    s3_model: ServiceModel, op: str, build: Callable[[], bytes], check: Mapping[str, object]
) -> None:
    parsed = _botocore_parse(s3_model, op, build())
    assert {k: parsed.get(k) for k in check} == dict(check)


class _HttpResponse:
    raw = object()

    def __init__(self, content: bytes) -> None:
        self.content = content


@pytest.mark.parametrize(("region", "expected"), [("eu-west-1", "eu-west-1"), ("us-east-1", None)])
def test_botocore_reads_location(region: str, expected: str | None) -> None:
    # botocore parses GetBucketLocation by hand (the model cannot describe it): an empty element
    # must come out as None, which botocore and the AWS CLI turn into us-east-1.
    parsed: dict[str, Any] = {}
    parse_get_bucket_location(parsed, _HttpResponse(xmldocs.location_constraint(region)))
    assert parsed["LocationConstraint"] == expected


@pytest.mark.parametrize(
    ("owner_name", "expected"),
    [
        (owner_name, "alice"),
        ({"abc": "alice"}, "alice"),
        ({}, "abc"),
        ({"abc": ""}, "abc"),
        (lambda _id: "", "abc"),
    ],
)
def test_display_name_is_never_empty(owner_name: xmldocs.OwnerName, expected: str) -> None:
    assert xmldocs.display_name("abc", owner_name) == expected

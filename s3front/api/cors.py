"""Put/Get/DeleteBucketCors, the OPTIONS preflight, and CORS headers on actual requests.

The preflight carries no credentials (browsers never sign it), so it is answered from the
bucket's rules alone. `cors_headers` is called by the app after every handler for requests
that carry an Origin header, and only for those: a request without Origin costs no extra read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from starlette.responses import Response

from s3front import errors
from s3front.access import cors
from s3front.api.context import Ctx
from s3front.api.headers import header_value_ok
from s3front.body import read_all
from s3front.request import S3Request
from s3front.store.protocols import Store
from s3front.xmldocs import XMLResponse


class CORSResponse(errors.S3Error):
    status, message = (
        403,
        "This CORS request is not allowed. This is usually because the evalution of Origin, "
        "request method / Access-Control-Request-Method or Access-Control-Request-Headers are "
        "not whitelisted by the resource's CORS spec.",
    )


# Longest AllowedOrigin, AllowedHeader or ExposeHeader accepted: far beyond any real origin
# or header name, and it bounds the work of matching each browser request against the rules.
MAX_VALUE_LENGTH = 1024


def check_rules(rules: Sequence[cors.Rule]) -> None:
    """Refuse (400 MalformedXML) values with control characters (CR, LF, TAB, DEL), beyond
    Latin-1 or absurdly long. ExposeHeader is sent back verbatim, so one with CR/LF would make
    every answer to a browser request fail; an origin or allowed header with them could never
    match what a browser sends."""
    for rule in rules:
        for text in (*rule.origins, *rule.headers, *rule.expose):
            if len(text) > MAX_VALUE_LENGTH or "\t" in text or not header_value_ok(text):
                raise errors.MalformedXML()


async def handle_put_bucket_cors(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    body = await read_all(ctx.body, ctx.settings.max_xml_body)
    rules = cors.parse_configuration(body)
    check_rules(rules)
    attrs = dict(bucket.attrs)
    attrs["cors"] = cors.dumps(rules)
    await ctx.store.meta.update_bucket(replace(bucket, attrs=attrs))
    return Response(status_code=200)


async def handle_get_bucket_cors(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    rules = cors.rules_of(bucket.attrs)
    if not rules:
        raise errors.NoSuchCORSConfiguration(BucketName=bucket.name)
    return XMLResponse(cors.to_document(rules))


async def handle_delete_bucket_cors(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    if "cors" in bucket.attrs:
        attrs = {k: v for k, v in bucket.attrs.items() if k != "cors"}
        await ctx.store.meta.update_bucket(replace(bucket, attrs=attrs))
    return Response(status_code=204)


async def handle_options(ctx: Ctx) -> Response:
    """The preflight: 200 with the Access-Control-Allow-* headers, or 403 CORSResponse."""
    origin = ctx.req.header("origin")
    method = ctx.req.header("access-control-request-method").strip()
    if not origin or not method:
        raise errors.InvalidRequest(
            "Insufficient information. Origin request header needed."
            if not origin
            else "Invalid Access-Control-Request-Method header."
        )
    if ctx.ep.bucket is None:
        raise CORSResponse("CORSResponse: Bucket not found")
    bucket = await ctx.store.meta.get_bucket(ctx.ep.bucket)
    if bucket is None:
        raise CORSResponse("CORSResponse: Bucket not found")
    rules = cors.rules_of(bucket.attrs)
    if not rules:
        raise CORSResponse("CORSResponse: CORS is not enabled for this bucket.")
    requested = cors.split_header_list(ctx.req.header("access-control-request-headers"))
    rule = cors.match(rules, origin, method, requested)
    if rule is None:
        raise CORSResponse()
    headers = {
        "access-control-allow-origin": cors.allow_origin(rule, origin),
        "access-control-allow-methods": ", ".join(rule.methods),
        "vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    }
    if requested:
        headers["access-control-allow-headers"] = ", ".join(requested)
    if rule.expose:
        headers["access-control-expose-headers"] = _expose(rule)
    if rule.max_age is not None:
        headers["access-control-max-age"] = str(rule.max_age)
    if "*" not in rule.origins:
        headers["access-control-allow-credentials"] = "true"
    return Response(status_code=200, headers=headers)


async def cors_headers(store: Store, req: S3Request, bucket: str | None, op: str) -> dict[str, str]:
    """Headers for an actual (non-preflight) request from a browser: empty unless the request
    has an Origin, names a bucket, and a rule of that bucket allows origin and method."""
    origin = req.header("origin")
    if not origin or bucket is None or op == "Options":
        return {}
    try:
        rec = await store.meta.get_bucket(bucket)
    except Exception:  # the response is already decided; CORS headers are best effort
        return {}
    if rec is None:
        return {}
    rule = cors.match(cors.rules_of(rec.attrs), origin, req.method)
    if rule is None:
        return {}
    headers = {
        "access-control-allow-origin": cors.allow_origin(rule, origin),
        "access-control-allow-methods": ", ".join(rule.methods),
        "vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    }
    if rule.expose:
        headers["access-control-expose-headers"] = _expose(rule)
    if rule.max_age is not None:
        headers["access-control-max-age"] = str(rule.max_age)
    if "*" not in rule.origins:
        headers["access-control-allow-credentials"] = "true"
    return headers


def _expose(rule: cors.Rule) -> str:
    # Rules stored before ExposeHeader was checked may hold a value that cannot be sent; drop
    # it rather than fail every browser request to the bucket.
    return ", ".join(h for h in rule.expose if header_value_ok(h))

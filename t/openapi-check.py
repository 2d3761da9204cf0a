#!/usr/bin/python3
"""Checks docs/openapi.json, and checks answers of the service against it.

    t/openapi-check.py [--doc FILE] lint
    t/openapi-check.py [--doc FILE] docs [API.md]
    t/openapi-check.py [--doc FILE] validate METHOD PATH STATUS < RESPONSE
    t/openapi-check.py [--doc FILE] batch < RECORDS

lint: the document can be used offline: every $ref resolves, every path parameter is
declared, every operation has responses with descriptions, operationIds are unique, every
schema is a valid JSON Schema (draft 2020-12) whose patterns compile, and the examples and
defaults match their schemas.

validate: RESPONSE is the answer as received: "Name: value" header lines (an "HTTP/1.1 200
OK" status line first is allowed and must agree with STATUS), a blank line, then the body.
PATH is a template of the document (/api/v1/entities/leadlists/{id}) or the path as sent
(/api/v1/entities/leadlists/0193f1d2-...?limit=2, not decoded), which is matched to a
template, its {id} taking one segment; a path no
template matches, or whose {id} breaks its schema, is checked against the document's
x-unknown-path answers, and a described path with a method it does not have against its
x-method-not-allowed answer. The status must be documented, every required header present,
every documented header that is present valid, and the body valid against the schema of its
media type; 204, 304 and HEAD answers have no body. An error's requestId must equal its
X-Request-Id. Exit status 0 when the answer conforms, 1 (with the reasons on stderr) when it
does not, 2 on a usage error.

docs: the document and the reference in Markdown (API.md, by default api.md beside the
document) say the same: every path and method of the document is a row of api.md's
operations table (| method | path | ... | success |, with the same success statuses) and
every row an operation of the document; every status of 300 and above the document answers,
and every error code it answers with that status (its error schemas: error.code, with the
error.message values they allow), is a row of api.md's errors table (| status | code |
message | ...; "as 503" takes that row's messages), and the reverse; and every request header
the document knows (header parameters, the security schemes', Content-Type of a request body)
is mentioned in api.md.

batch: many answers over one process. Each record is a line "METHOD PATH STATUS LENGTH"
followed by LENGTH bytes of RESPONSE as above; each gets one line on stdout, "ok" or
"fail: reason; reason", flushed at once. Ends at end of input.

Python 3 and python3-jsonschema only.
"""

import datetime
import json
import os
import re
import sys
import urllib.parse
import uuid

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DOC_URI = "urn:leadlists:openapi"
DEFAULT_DOC = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                            "docs", "openapi.json"))


class Failed(Exception):
    pass


# --- JSON Schema with the patterns and formats of the document --------------------------------

_pattern_cache = {}


def ecma_regex(pattern):
    """Compiles an ECMA-262 pattern as Python's re reads it, with one difference removed:
    Python's `$` also matches before a final newline, ECMA's only at the end."""
    rx = _pattern_cache.get(pattern)
    if rx is not None:
        return rx
    out = []
    in_class = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
        elif c == "$":
            c = r"\Z"
        out.append(c)
        i += 1
    rx = re.compile("".join(out))
    _pattern_cache[pattern] = rx
    return rx


_RFC3339 = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
                      r"(\.[0-9]+)?([Zz]|[+-]([0-9]{2}):([0-9]{2}))\Z")


def _date_time(value):
    if not isinstance(value, str):
        return True
    m = _RFC3339.match(value)
    if not m:
        return False
    try:
        datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return False
    if int(m.group(4)) > 23 or int(m.group(5)) > 59 or int(m.group(6)) > 60:
        return False
    return m.group(9) is None or (int(m.group(9)) <= 23 and int(m.group(10)) <= 59)


def _uuid(value):
    """As jsonschema's uuid format: what Python's UUID reads, its dashes where RFC 4122 has
    them."""
    if not isinstance(value, str):
        return True
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return all(value[i:i + 1] == "-" for i in (8, 13, 18, 23))


_FORMATS = {"date-time": _date_time, "uuid": _uuid}
_js = None


def js():
    """jsonschema, loaded when first needed (a conforming answer does without it):
    .jsonschema, .referencing (None before jsonschema 4.18), .Validator (draft 2020-12 with
    ECMA patterns) and .formats (its format checker with the document's date-time)."""
    global _js
    if _js is None:
        import types
        import jsonschema
        from jsonschema import validators
        try:  # jsonschema >= 4.18
            import referencing
            import referencing.jsonschema
        except ImportError:  # Debian 12's jsonschema 4.10
            referencing = None

        def pattern(validator, patrn, instance, schema):
            if validator.is_type(instance, "string") and not ecma_regex(patrn).search(instance):
                yield jsonschema.ValidationError("%r does not match %r" % (instance, patrn))
        formats = jsonschema.FormatChecker()
        formats.checks("date-time")(_date_time)
        _js = types.SimpleNamespace(
            jsonschema=jsonschema, referencing=referencing, formats=formats,
            Validator=validators.extend(jsonschema.Draft202012Validator, {"pattern": pattern}))
    return _js


# --- a fast path for answers that conform ------------------------------------------------------
#
# jsonschema takes milliseconds for an answer of this document and most of a second for a list
# of 10,000 members; the suite checks every answer it gets. So each schema is also compiled
# into a plain predicate over the keywords the document uses; an instance it accepts conforms,
# and only one it refuses goes through jsonschema, which finds and words the problems (and has
# the last word on headers and bodies: nothing it accepts is refused). A schema with a keyword
# the predicates do not know is left to jsonschema alone. jsonschema itself is imported only
# then, or for lint: a test file whose answers all conform never loads it.

class _Unknown(Exception):
    pass


_ANNOTATIONS = {"description", "title", "default", "examples", "example", "discriminator",
                "deprecated", "readOnly", "writeOnly", "$comment", "externalDocs", "xml"}


def _is_type(value, t):
    if t == "string":
        return isinstance(value, str)
    if t == "object":
        return isinstance(value, dict)
    if t == "array":
        return isinstance(value, list)
    if t == "null":
        return value is None
    if t == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if t == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if t == "number":
        return isinstance(value, (int, float))
    raise _Unknown("type %r" % (t,))


def _json_equal(a, b):
    """Equality as JSON Schema means it: 1 equals 1.0, true does not equal 1."""
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (list, dict)) or isinstance(b, (list, dict)):
        return False
    return a == b


def _unique(items):
    if all(isinstance(x, str) for x in items):
        return len(set(items)) == len(items)
    return not any(_json_equal(items[i], items[j])
                   for i in range(len(items)) for j in range(i + 1, len(items)))


class Predicates:
    """Compiles the schemas of a document into functions instance -> bool."""

    def __init__(self, doc):
        self.doc = doc
        self._by_pointer = {}

    def at(self, pointer):
        """The predicate for the schema at pointer, or None when jsonschema must decide."""
        if pointer in self._by_pointer:
            return self._by_pointer[pointer]
        cell = []
        before = set(self._by_pointer)
        self._by_pointer[pointer] = lambda v: cell[0](v)  # a $ref cycle reaches it
        try:
            fn = self._compile(pointer_get(self.doc, pointer))
        except (_Unknown, KeyError, re.error, TypeError):
            # What was compiled meanwhile may lean on it: jsonschema decides those too.
            for p in set(self._by_pointer) - before:
                self._by_pointer[p] = None
            return None
        cell.append(fn)
        self._by_pointer[pointer] = fn
        return fn

    def _ref(self, ref):
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise _Unknown("$ref %r" % (ref,))
        pointer = ref[1:]
        fn = self.at(pointer)
        if fn is None:
            raise _Unknown("$ref %s" % ref)
        return fn

    def _compile(self, s):
        if s is True:
            return lambda v: True
        if s is False:
            return lambda v: False
        if not isinstance(s, dict):
            raise _Unknown("schema %r" % (s,))
        for k in s:
            if k not in _KEYWORDS and k not in _ANNOTATIONS:
                raise _Unknown(k)
        checks = []  # cheap ones first: the result does not depend on the order
        if "type" in s:
            types = s["type"] if isinstance(s["type"], list) else [s["type"]]
            for t in types:
                _is_type(None, t)  # refuses a type it does not know
            checks.append(lambda v, types=types: any(_is_type(v, t) for t in types))
        if "const" in s:
            checks.append(lambda v, c=s["const"]: _json_equal(v, c))
        if "enum" in s:
            checks.append(lambda v, e=list(s["enum"]): any(_json_equal(v, x) for x in e))
        checks.extend(self._strings(s))
        checks.extend(self._numbers(s))
        checks.extend(self._objects(s))
        checks.extend(self._arrays(s))
        if "$ref" in s:
            checks.append(self._ref(s["$ref"]))
        for key in ("allOf", "anyOf", "oneOf"):
            if key in s:
                subs = [self._compile(x) for x in s[key]]
                if key == "allOf":
                    checks.append(lambda v, subs=subs: all(f(v) for f in subs))
                elif key == "anyOf":
                    checks.append(lambda v, subs=subs: any(f(v) for f in subs))
                else:
                    checks.append(lambda v, subs=subs: sum(1 for f in subs if f(v)) == 1)
        if "not" in s:
            sub = self._compile(s["not"])
            checks.append(lambda v, sub=sub: not sub(v))
        if not checks:
            return lambda v: True
        if len(checks) == 1:
            return checks[0]
        return lambda v, checks=tuple(checks): all(c(v) for c in checks)

    def _strings(self, s):
        out = []
        lo, hi = s.get("minLength"), s.get("maxLength")
        if lo is not None or hi is not None:
            lo, hi = lo or 0, hi if hi is not None else float("inf")
            out.append(lambda v, lo=lo, hi=hi: not isinstance(v, str) or lo <= len(v) <= hi)
        if "pattern" in s:
            rx = ecma_regex(s["pattern"])
            out.append(lambda v, rx=rx: not isinstance(v, str) or rx.search(v) is not None)
        if "format" in s:
            if s["format"] not in _FORMATS:
                raise _Unknown("format %s" % s["format"])
            out.append(_FORMATS[s["format"]])
        return out

    def _numbers(self, s):
        out = []

        def number(v):
            return isinstance(v, (int, float)) and not isinstance(v, bool)
        if "minimum" in s:
            out.append(lambda v, m=s["minimum"]: not number(v) or v >= m)
        if "maximum" in s:
            out.append(lambda v, m=s["maximum"]: not number(v) or v <= m)
        if "exclusiveMinimum" in s:
            out.append(lambda v, m=s["exclusiveMinimum"]: not number(v) or v > m)
        if "exclusiveMaximum" in s:
            out.append(lambda v, m=s["exclusiveMaximum"]: not number(v) or v < m)
        return out

    def _objects(self, s):
        out = []
        if "required" in s:
            req = tuple(s["required"])
            out.append(lambda v, req=req: not isinstance(v, dict) or all(k in v for k in req))
        lo, hi = s.get("minProperties"), s.get("maxProperties")
        if lo is not None or hi is not None:
            lo, hi = lo or 0, hi if hi is not None else float("inf")
            out.append(lambda v, lo=lo, hi=hi: not isinstance(v, dict) or lo <= len(v) <= hi)
        props = s.get("properties") or {}
        # Properties with a const or enum first: they tell a list's variant at once.
        first = sorted(props, key=lambda k: not (isinstance(props[k], dict)
                                                 and ("const" in props[k] or "enum" in props[k])))
        compiled = tuple((k, self._compile(props[k])) for k in first)
        patterns = tuple((ecma_regex(p), self._compile(x))
                         for p, x in (s.get("patternProperties") or {}).items())
        extra = None
        if "additionalProperties" in s:
            extra = self._compile(s["additionalProperties"])
        if compiled or patterns or extra is not None:
            def objects(v, compiled=compiled, patterns=patterns, extra=extra, names=set(props)):
                if not isinstance(v, dict):
                    return True
                for k, f in compiled:
                    if k in v and not f(v[k]):
                        return False
                if patterns or extra is not None:
                    for k, x in v.items():
                        matched = False
                        for rx, f in patterns:
                            if rx.search(k) is not None:
                                matched = True
                                if not f(x):
                                    return False
                        if extra is not None and not matched and k not in names and not extra(x):
                            return False
                return True
            out.append(objects)
        return out

    def _arrays(self, s):
        out = []
        lo, hi = s.get("minItems"), s.get("maxItems")
        if lo is not None or hi is not None:
            lo, hi = lo or 0, hi if hi is not None else float("inf")
            out.append(lambda v, lo=lo, hi=hi: not isinstance(v, list) or lo <= len(v) <= hi)
        if s.get("uniqueItems") is True:
            out.append(lambda v: not isinstance(v, list) or _unique(v))
        if "items" in s:
            strings = self._string_rules(s["items"])
            if strings is not None:  # ids: one loop, no call per item
                lo, hi, rx = strings
                out.append(lambda v, lo=lo, hi=hi, rx=rx: not isinstance(v, list) or all(
                    type(x) is str and lo <= len(x) <= hi and (rx is None or rx.search(x))
                    for x in v))
            else:
                f = self._compile(s["items"])
                out.append(lambda v, f=f: not isinstance(v, list) or all(f(x) for x in v))
        return out

    def _string_rules(self, s):
        """(minLength, maxLength, pattern) of a schema (or a $ref to one) that asks a string
        of those and nothing else; None for any other schema."""
        seen = 0
        while isinstance(s, dict) and set(s) - _ANNOTATIONS == {"$ref"} and seen < 20:
            try:
                s = pointer_get(self.doc, s["$ref"])
            except (KeyError, TypeError, AttributeError):
                return None
            seen += 1
        if not isinstance(s, dict) or s.get("type") != "string":
            return None
        if set(s) - _ANNOTATIONS - {"type", "minLength", "maxLength", "pattern"}:
            return None
        rx = ecma_regex(s["pattern"]) if "pattern" in s else None
        return (s.get("minLength", 0), s.get("maxLength", float("inf")), rx)


_KEYWORDS = {"type", "const", "enum", "minLength", "maxLength", "pattern", "format", "minimum",
             "maximum", "exclusiveMinimum", "exclusiveMaximum", "required", "minProperties",
             "maxProperties", "properties", "patternProperties", "additionalProperties",
             "minItems", "maxItems", "uniqueItems", "items", "$ref", "allOf", "anyOf", "oneOf",
             "not"}


def pointer_escape(token):
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer_get(doc, pointer):
    """The value at a JSON pointer ("/a/b" or "#/a/b"); KeyError when there is none."""
    if pointer.startswith("#"):
        pointer = pointer[1:]
    node = doc
    if pointer == "":
        return node
    if not pointer.startswith("/"):
        raise KeyError(pointer)
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise KeyError(pointer)
    return node


class Document:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            raw = f.read()
        try:
            self.doc = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
        except (UnicodeDecodeError, ValueError) as e:
            raise Failed("%s is not a JSON document: %s" % (path, e))
        if not isinstance(self.doc, dict):
            raise Failed("%s is not a JSON object" % path)
        self._validators = {}
        self._predicates = Predicates(self.doc)
        self._templates = None
        self._refs = None

    def validator(self, pointer):
        """A jsonschema validator for the schema at pointer, its $refs resolved in the
        document."""
        v = self._validators.get(pointer)
        if v is None:
            j = js()
            if self._refs is None:
                if j.referencing is not None:
                    resource = j.referencing.Resource.from_contents(
                        self.doc, default_specification=j.referencing.jsonschema.DRAFT202012)
                    self._refs = {"registry": j.referencing.Registry().with_resource(DOC_URI,
                                                                                      resource)}
                else:
                    self._refs = {"resolver": j.jsonschema.RefResolver(
                        DOC_URI, self.doc, store={DOC_URI: self.doc})}
            schema = {"$ref": DOC_URI + "#" + urllib.parse.quote(pointer, safe="/~")}
            v = j.Validator(schema, format_checker=j.formats, **self._refs)
            self._validators[pointer] = v
        return v

    def conforms(self, pointer, instance):
        """Whether instance is valid against the schema at pointer (no reasons needed, so
        the predicate decides alone when there is one)."""
        fast = self._predicates.at(pointer)
        if fast is not None:
            return fast(instance)
        return self.validator(pointer).is_valid(instance)

    def errors(self, pointer, instance):
        """The problems of instance against the schema at pointer, as short texts."""
        fast = self._predicates.at(pointer)
        if fast is not None and fast(instance):
            return []
        out = []
        for e in sorted(self.validator(pointer).iter_errors(instance),
                        key=lambda e: [str(p) for p in e.absolute_path]):
            out.extend(_describe(e))
        return out

    def templates(self):
        """(template, regex, parameter names) of each path, {name} taking one segment."""
        if self._templates is None:
            self._templates = []
            for template in self.doc.get("paths") or {}:
                names = re.findall(r"\{([^}/]+)\}", template)
                rx = "^" + re.sub(r"\\\{[^}/]+\\\}", "([^/]*)", re.escape(template)) + r"\Z"
                self._templates.append((template, re.compile(rx), names))
        return self._templates

    def deref(self, obj, where):
        """Follows $ref (of non-schema objects) to the object; returns it and its pointer."""
        seen = set()
        while isinstance(obj, dict) and "$ref" in obj:
            target = obj["$ref"]
            if target in seen:
                raise Failed("%s: $ref loop at %s" % (where, target))
            seen.add(target)
            if not target.startswith("#"):
                raise Failed("%s: $ref %s is not local" % (where, target))
            try:
                obj = pointer_get(self.doc, target)
            except KeyError:
                raise Failed("%s: $ref %s does not resolve" % (where, target))
            where = target[1:]
        return obj, where


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ValueError("duplicate key(s) %s" % ", ".join(dupes))
    return dict(pairs)


def _where(e):
    return "/" + "/".join(pointer_escape(p) for p in e.absolute_path)


def _describe(e):
    """One line per leaf problem. Of a oneOf or anyOf that no branch matched, the branch that
    came closest is shown (the person or company variant a list's type selects)."""
    if e.context and e.validator in ("oneOf", "anyOf"):
        branches = {}
        for sub in e.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        if branches:
            def distance(item):
                errs = item[1]
                # A const/enum miss at the top of a branch (its "type") rules it out first.
                selector = any(s.validator in ("const", "enum") and len(s.relative_path) == 1
                               for s in errs)
                return (selector, len(errs), -max(len(s.absolute_path) for s in errs))
            index, errs = min(branches.items(), key=distance)
            branch = e.schema[e.validator][index] if isinstance(index, int) else {}
            name = branch.get("$ref", "#%s/%s" % (e.validator, index)).rsplit("/", 1)[-1]
            out = []
            for sub in errs:
                out.extend("%s (as %s)" % (line, name) for line in _describe(sub))
            return out
        return ["%s: matches none of the %s branches" % (_where(e), e.validator)]
    if e.context:
        leaves = []
        for sub in e.context:
            leaves.extend(_describe(sub))
        if leaves:
            return leaves
    msg = e.message
    if len(msg) > 300:
        msg = msg[:300] + "..."
    return ["%s: %s" % (_where(e), msg)]


# --- lint ---------------------------------------------------------------------------------------

def lint(d):
    doc = d.doc
    problems = []

    def problem(where, text):
        problems.append("%s: %s" % (where or "/", text))

    if not re.match(r"^3\.1\.[0-9]+$", str(doc.get("openapi", ""))):
        problem("/openapi", "must be 3.1.x")
    info = doc.get("info")
    if not isinstance(info, dict) or not info.get("title") or not info.get("version"):
        problem("/info", "needs title and version")
    if not isinstance(doc.get("paths"), dict):
        problem("/paths", "must be an object")
        return problems
    components = doc.get("components", {})

    # Every $ref resolves.
    def walk_refs(node, where):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref" and isinstance(v, str):
                    if not v.startswith("#"):
                        problem(where, "$ref %s is not local (offline use)" % v)
                    else:
                        try:
                            pointer_get(doc, v)
                        except KeyError:
                            problem(where, "$ref %s does not resolve" % v)
                else:
                    walk_refs(v, where + "/" + pointer_escape(k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk_refs(v, "%s/%d" % (where, i))
    walk_refs(doc, "")
    if problems:
        return problems  # the rest follows $refs

    # Every schema is a JSON Schema of draft 2020-12, and its patterns compile.
    schema_pointers = []

    def add_schema(pointer):
        schema_pointers.append(pointer)

    for name in components.get("schemas", {}):
        add_schema("/components/schemas/" + pointer_escape(name))

    def walk_patterns(node, where):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "pattern" and isinstance(v, str):
                    try:
                        ecma_regex(v)
                    except re.error as e:
                        problem(where, "pattern %r does not compile: %s" % (v, e))
                elif k in ("properties", "patternProperties", "$defs") and isinstance(v, dict):
                    for pk, pv in v.items():
                        walk_patterns(pv, where + "/" + k + "/" + pointer_escape(pk))
                elif k not in ("examples", "example", "default", "const", "enum"):
                    walk_patterns(v, where + "/" + pointer_escape(k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk_patterns(v, "%s/%d" % (where, i))

    def check_parameters(params, where, declared):
        for i, p in enumerate(params or []):
            pw = "%s/parameters/%d" % (where, i)
            try:
                p, ppointer = d.deref(p, pw)
            except Failed as e:
                problem(pw, str(e))
                continue
            for key in ("name", "in"):
                if key not in p:
                    problem(ppointer, "parameter without %s" % key)
            if p.get("in") == "path":
                if p.get("required") is not True:
                    problem(ppointer, "a path parameter must be required")
                declared.add(p.get("name"))
            if "schema" in p:
                add_schema(ppointer + "/schema")

    def check_content(content, where):
        for media, m in (content or {}).items():
            mw = where + "/content/" + pointer_escape(media)
            if "schema" not in m:
                problem(mw, "media type without a schema")
                continue
            add_schema(mw + "/schema")
            if "example" in m:
                examples.append((mw + "/schema", m["example"], mw + "/example"))
            for ename, ex in (m.get("examples") or {}).items():
                ex, _ = d.deref(ex, mw + "/examples/" + ename)
                if "value" in ex:
                    examples.append((mw + "/schema", ex["value"],
                                     mw + "/examples/" + pointer_escape(ename)))

    examples = []
    op_ids = {}
    schemes = components.get("securitySchemes", {})
    for reqs in doc.get("security", []):
        for s in reqs:
            if s not in schemes:
                problem("/security", "unknown security scheme %s" % s)
    for template, item in doc["paths"].items():
        iw = "/paths/" + pointer_escape(template)
        if not template.startswith("/"):
            problem(iw, "a path must start with /")
        wanted = set(re.findall(r"\{([^}/]+)\}", template))
        path_declared = set()
        check_parameters(item.get("parameters"), iw, path_declared)
        for key in ("x-method-not-allowed",):
            if key in item:
                check_response(d, item[key], iw + "/" + key, problem, check_content)
        ops = [m for m in METHODS if m in item]
        if not ops:
            problem(iw, "no operation")
        for method in ops:
            o = item[method]
            ow = iw + "/" + method
            declared = set(path_declared)
            check_parameters(o.get("parameters"), ow, declared)
            for name in wanted - declared:
                problem(ow, "path parameter {%s} is not declared" % name)
            for name in declared - wanted:
                problem(ow, "path parameter %s is not in the template" % name)
            if o.get("operationId"):
                if o["operationId"] in op_ids:
                    problem(ow, "operationId %s also at %s" % (o["operationId"],
                                                               op_ids[o["operationId"]]))
                op_ids[o["operationId"]] = ow
            for reqs in o.get("security", []):
                for s in reqs:
                    if s not in schemes:
                        problem(ow, "unknown security scheme %s" % s)
            if "requestBody" in o:
                try:
                    rb, rbw = d.deref(o["requestBody"], ow + "/requestBody")
                    check_content(rb.get("content"), rbw)
                except Failed as e:
                    problem(ow, str(e))
            responses = o.get("responses")
            if not isinstance(responses, dict) or not responses:
                problem(ow, "no responses")
                continue
            for status, r in responses.items():
                if not re.match(r"^([1-5][0-9][0-9]|[1-5]XX|default)$", status):
                    problem(ow, "response key %s is not a status" % status)
                check_response(d, r, ow + "/responses/" + status, problem, check_content)
    unknown = doc.get("x-unknown-path")
    if unknown is not None:
        for status, r in (unknown.get("responses") or {}).items():
            check_response(d, r, "/x-unknown-path/responses/" + status, problem, check_content)
    for name in components.get("headers", {}):
        h = components["headers"][name]
        if "schema" in h:
            add_schema("/components/headers/%s/schema" % pointer_escape(name))
    for name, p in components.get("parameters", {}).items():
        if "schema" in p:
            add_schema("/components/parameters/%s/schema" % pointer_escape(name))

    for pointer in dict.fromkeys(schema_pointers):
        schema = pointer_get(doc, pointer)
        try:
            js().Validator.check_schema(schema)
        except js().jsonschema.SchemaError as e:
            problem(pointer, "not a valid JSON Schema: %s at %s" % (e.message, _where(e)))
            continue
        walk_patterns(schema, pointer)
        if isinstance(schema, dict) and "default" in schema:
            examples.append((pointer, schema["default"], pointer + "/default"))
    if problems:
        return problems
    for pointer, value, where in examples:
        for err in d.errors(pointer, value):
            problem(where, "does not match its schema: %s" % err)
    return problems


def check_response(d, r, where, problem, check_content):
    try:
        r, rw = d.deref(r, where)
    except Failed as e:
        problem(where, str(e))
        return
    if not r.get("description"):
        problem(rw, "a response needs a description")
    for name, h in (r.get("headers") or {}).items():
        try:
            h, hw = d.deref(h, rw + "/headers/" + pointer_escape(name))
        except Failed as e:
            problem(rw, str(e))
            continue
        if "schema" not in h and "content" not in h:
            problem(hw, "a header needs a schema")
    if "content" in r:
        check_content(r["content"], rw)


# --- validate ----------------------------------------------------------------------------------

def parse_response(raw):
    """(status line status or None, [(name, value)], body bytes) of an answer as received."""
    # Interim answers (100 Continue) that a client printed before the final one are skipped.
    while re.match(rb"HTTP/1\.[01] 1[0-9][0-9]", raw):
        m = re.search(rb"\r?\n\r?\n", raw)
        if m is None:
            break
        raw = raw[m.end():]
    m = re.search(rb"\r?\n\r?\n", raw)
    if m is None:
        head, body = raw, b""
    else:
        head, body = raw[:m.start()], raw[m.end():]
    lines = head.decode("latin-1").splitlines()
    status = None
    headers = []
    for n, line in enumerate(lines):
        if n == 0 and line.startswith("HTTP/"):
            parts = line.split()
            if len(parts) < 2 or not parts[1].isdigit():
                raise Failed("malformed status line %r" % line)
            status = int(parts[1])
            continue
        if line == "":
            continue
        if ":" not in line:
            raise Failed("malformed header line %r" % line)
        name, value = line.split(":", 1)
        headers.append((name.strip(), value.strip(" \t")))
    return status, headers, body


def find_answers(d, method, path):
    """The documented responses for method and path, {status: (response, its pointer)}, and a
    name for them."""
    doc = d.doc
    paths = doc["paths"]
    unknown = dict((status, (r, "/x-unknown-path/responses/" + pointer_escape(status)))
                   for status, r in ((doc.get("x-unknown-path") or {}).get("responses")
                                     or {}).items())
    method = method.lower()
    template, values = None, {}
    if path in paths:
        template = path
    else:
        path = path.split("?", 1)[0].split("#", 1)[0]
        for candidate, rx, names in d.templates():
            m = rx.match(path)
            if m is not None:
                template, values = candidate, dict(zip(names, m.groups()))
                break
    if template is None or not path_params_ok(d, template, method, values):
        return unknown, "x-unknown-path"
    item = paths[template]
    ipointer = "/paths/" + pointer_escape(template)
    if method in METHODS and method in item:
        rpointer = "%s/%s/responses/" % (ipointer, method)
        return (dict((status, (r, rpointer + pointer_escape(status)))
                     for status, r in item[method]["responses"].items()),
                "%s %s" % (method.upper(), template))
    answers = dict((s, r) for s, r in unknown.items() if s != "404")
    if "x-method-not-allowed" in item:
        answers["405"] = (item["x-method-not-allowed"], ipointer + "/x-method-not-allowed")
    return answers, "%s %s (not an operation: x-method-not-allowed)" % (method.upper(), template)


def path_params_ok(d, template, method, values):
    """Whether the values the path gives its parameters are valid for the template."""
    item = d.doc["paths"][template]
    ipointer = "/paths/" + pointer_escape(template)
    params = [(p, "%s/parameters/%d" % (ipointer, i))
              for i, p in enumerate(item.get("parameters") or [])]
    if method in METHODS and method in item:
        params += [(p, "%s/%s/parameters/%d" % (ipointer, method, i))
                   for i, p in enumerate(item[method].get("parameters") or [])]
    for p, where in params:
        p, pw = d.deref(p, where)
        if p.get("in") != "path" or p.get("name") not in values or "schema" not in p:
            continue
        if not d.conforms(pw + "/schema", values[p["name"]]):
            return False
    return True


def coerce(d, pointer, value):
    """A header's text as the type its schema names."""
    schema, _ = d.deref(pointer_get(d.doc, pointer), pointer)
    t = schema.get("type") if isinstance(schema, dict) else None
    if t == "integer" and re.match(r"^-?[0-9]+\Z", value):
        return int(value)
    if t == "number":
        try:
            return float(value)
        except ValueError:
            return value
    if t == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def validate(d, method, path, status, raw):
    """The reasons the answer does not conform (empty when it does)."""
    reasons = []
    line_status, headers, body = parse_response(raw)
    if line_status is not None and line_status != status:
        reasons.append("the status line says %d, not %d" % (line_status, status))
    answers, what = find_answers(d, method, path)
    key = str(status)
    if key not in answers:
        key = "%dXX" % (status // 100)
    if key not in answers:
        key = "default"
    if key not in answers:
        return reasons + ["status %d is not documented for %s (documented: %s)"
                          % (status, what, ", ".join(sorted(answers)))]
    response, rpointer = d.deref(*answers[key])
    values = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(value)
    for name, h in (response.get("headers") or {}).items():
        if name.lower() == "content-type":
            continue
        h, hpointer = d.deref(h, rpointer + "/headers/" + name)
        got = values.get(name.lower())
        if not got:
            if h.get("required"):
                reasons.append("header %s is missing" % name)
            continue
        if len(got) > 1:
            reasons.append("header %s is given %d times" % (name, len(got)))
        if "schema" in h:
            for err in d.errors(hpointer + "/schema", coerce(d, hpointer + "/schema", got[0])):
                reasons.append("header %s: %r: %s" % (name, got[0], err.split(": ", 1)[-1]))
    bodyless = method.upper() == "HEAD" or status in (204, 304) or status < 200
    content = response.get("content")
    if bodyless or not content:
        if body:
            reasons.append("%d bytes of body where the answer has none" % len(body))
        return reasons
    ctype = (values.get("content-type") or [None])[0]
    if ctype is None:
        return reasons + ["Content-Type is missing"]
    media, _, params = ctype.partition(";")
    media = media.strip().lower()
    match = [k for k in content if k.split(";")[0].strip().lower() == media]
    if not match:
        return reasons + ["Content-Type %s is not one of %s" % (ctype, ", ".join(content))]
    charset = re.search(r"(?i)(?:^|;)\s*charset\s*=\s*\"?([^\";\s]+)", params)
    if charset and charset.group(1).lower() not in ("utf-8", "utf8"):
        reasons.append("charset %s is not UTF-8" % charset.group(1))
    media_obj = content[match[0]]
    mpointer = rpointer + "/content/" + pointer_escape(match[0])
    if "schema" not in media_obj:
        return reasons
    try:
        text = body.decode("utf-8")
        instance = json.loads(text, object_pairs_hook=_no_duplicates,
                              parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as e:
        return reasons + ["the body is not JSON: %s (%r)" % (e, body[:120])]
    schema_pointer = mpointer + "/schema"
    if "$ref" in media_obj["schema"] and len(media_obj["schema"]) == 1:
        schema_pointer = media_obj["schema"]["$ref"][1:]
    for err in d.errors(schema_pointer, instance):
        reasons.append("body %s" % err)
    if isinstance(instance, dict) and isinstance(instance.get("error"), dict):
        rid = instance["error"].get("requestId")
        header = (values.get("x-request-id") or [None])[0]
        if rid is not None and header is not None and rid != header:
            reasons.append("error.requestId %r is not X-Request-Id %r" % (rid, header))
    return reasons


def _no_constant(name):
    raise ValueError("%s is not JSON" % name)


# --- docs ---------------------------------------------------------------------------------------

def markdown_tables(text):
    """The tables of a Markdown text: (line number of the header, header cells, rows of cells)."""
    tables = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].lstrip().startswith("|") and i + 1 < len(lines) \
                and re.match(r"^\s*\|?\s*:?-{3,}", lines[i + 1]):
            header = _cells(lines[i])
            start = i + 1
            i += 2
            rows = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append((i + 1, _cells(lines[i])))
                i += 1
            tables.append((start, [h.lower() for h in header], rows))
            continue
        i += 1
    return tables


def _cells(line):
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)]


def _schema_errors(d, schema, where, seen=None):
    """{code: set of messages} of the error envelopes a response schema allows."""
    seen = seen if seen is not None else set()
    out = {}
    schema, where = d.deref(schema, where)
    if where in seen or not isinstance(schema, dict):
        return out
    seen.add(where)
    for key in ("oneOf", "anyOf", "allOf"):
        for i, sub in enumerate(schema.get(key) or []):
            for code, messages in _schema_errors(d, sub, "%s/%s/%d" % (where, key, i),
                                                 seen).items():
                out.setdefault(code, set()).update(messages)
    error = (schema.get("properties") or {}).get("error")
    if error is not None:
        error, ew = d.deref(error, where + "/properties/error")
        props = error.get("properties") or {}
        code, _ = d.deref(props.get("code") or {}, ew + "/properties/code")
        message, _ = d.deref(props.get("message") or {}, ew + "/properties/message")
        codes = [code["const"]] if "const" in code else list(code.get("enum") or [])
        messages = [message["const"]] if "const" in message else list(message.get("enum")
                                                                         or [])
        for c in codes:
            out.setdefault(c, set()).update(messages)
    return out


def document_answers(d):
    """Every answer the document describes: [(status, response, pointer)]."""
    doc = d.doc
    out = []
    for template, item in doc["paths"].items():
        iw = "/paths/" + pointer_escape(template)
        for method in METHODS:
            if method in item:
                for status, r in (item[method].get("responses") or {}).items():
                    out.append((status, r, "%s/%s/responses/%s" % (iw, method,
                                                                   pointer_escape(status))))
        if "x-method-not-allowed" in item:
            out.append(("405", item["x-method-not-allowed"], iw + "/x-method-not-allowed"))
    for status, r in ((doc.get("x-unknown-path") or {}).get("responses") or {}).items():
        out.append((status, r, "/x-unknown-path/responses/" + pointer_escape(status)))
    return out


def docs_check(d, md_path):
    """The differences between the document and the Markdown reference at md_path."""
    with open(md_path, encoding="utf-8") as f:
        text = f.read()
    name = os.path.basename(md_path)
    problems = []
    tables = markdown_tables(text)
    ops_table = [t for t in tables if t[1][:2] == ["method", "path"]]
    err_table = [t for t in tables if t[1][:3] == ["status", "code", "message"]]
    if len(ops_table) != 1:
        problems.append("%s: %d operations tables (| method | path | ...), want one"
                        % (name, len(ops_table)))
    if len(err_table) != 1:
        problems.append("%s: %d errors tables (| status | code | message | ...), want one"
                        % (name, len(err_table)))
    if problems:
        return problems, {}

    # Operations: path and method, and the success statuses.
    paths = d.doc["paths"]
    in_doc = {}
    for template, item in paths.items():
        for method in METHODS:
            if method in item:
                in_doc[(method.upper(), template)] = sorted(
                    s for s in item[method].get("responses") or {} if s[0] in "23")
    in_md = {}
    success_col = ops_table[0][1].index("success") if "success" in ops_table[0][1] else None
    for line, cells in ops_table[0][2]:
        if len(cells) < 2:
            problems.append("%s:%d: an operations row without a path" % (name, line))
            continue
        path = cells[1].strip("` ")
        statuses = (sorted(re.findall(r"\b[1-5][0-9][0-9]\b", cells[success_col]))
                    if success_col is not None and success_col < len(cells) else None)
        for method in re.findall(r"[A-Za-z]+", cells[0]):
            in_md[(method.upper(), path)] = (line, statuses)
    for key in in_doc:
        if key not in in_md:
            problems.append("%s %s is an operation of the document, not in %s's operations "
                            "table" % (key[0], key[1], name))
    for key, (line, statuses) in in_md.items():
        if key not in in_doc:
            problems.append("%s:%d: %s %s is not an operation of the document"
                            % (name, line, key[0], key[1]))
        elif statuses is not None and statuses != in_doc[key]:
            problems.append("%s:%d: %s %s succeeds with %s in %s, with %s in the document"
                            % (name, line, key[0], key[1], ", ".join(statuses) or "nothing",
                               name, ", ".join(in_doc[key]) or "nothing"))

    # Errors: each status and code, and their messages.
    doc_codes = {}       # (status, code) -> messages
    doc_statuses = set()
    for status, r, where in document_answers(d):
        if not status.isdigit() or int(status) < 300:
            continue
        doc_statuses.add(status)
        r, rw = d.deref(r, where)
        for media, m in (r.get("content") or {}).items():
            if "schema" not in m:
                continue
            for code, messages in _schema_errors(
                    d, m["schema"], rw + "/content/" + pointer_escape(media) + "/schema").items():
                doc_codes.setdefault((status, code), set()).update(messages)
    md_codes = {}        # (status, code) -> (line, messages)
    md_statuses = {}
    rows = []
    for line, cells in err_table[0][2]:
        if len(cells) < 3:
            problems.append("%s:%d: an errors row without status, code and message"
                            % (name, line))
            continue
        statuses = re.findall(r"\b[1-5][0-9][0-9]\b", cells[0])
        code = cells[1].strip("` ")
        if not statuses:
            problems.append("%s:%d: an errors row without a status" % (name, line))
        for status in statuses:
            md_statuses.setdefault(status, line)
        if not re.match(r"^[A-Z][A-Z_]*$", code):
            continue  # (no body)
        rows.append((line, statuses, code, cells[2]))
    for line, statuses, code, message in rows:
        messages = set(re.findall(r'"([^"]+)"', message))
        same = re.match(r"^\s*as\s+([1-5][0-9][0-9])\s*$", message)
        for status in statuses:
            entry = md_codes.setdefault((status, code), (line, set(), []))
            entry[1].update(messages)
            if same:
                entry[2].append(same.group(1))
    for (status, code), (line, messages, sames) in md_codes.items():
        for other in sames:
            messages.update(md_codes.get((other, code), (0, set(), []))[1])
    for status, line in sorted(md_statuses.items()):
        if status not in doc_statuses:
            problems.append("%s:%d: status %s is in no answer of the document"
                            % (name, line, status))
    for status in sorted(doc_statuses - set(md_statuses)):
        problems.append("status %s of the document is not in %s's errors table" % (status, name))
    for key, (line, messages, _) in sorted(md_codes.items()):
        if key not in doc_codes:
            problems.append("%s:%d: %s %s is in no error schema of the document for %s"
                            % (name, line, key[0], key[1], key[0]))
            continue
        for message in sorted(messages - doc_codes[key]):
            problems.append("%s:%d: %s %s \"%s\" is not a message the document allows"
                            % (name, line, key[0], key[1], message))
    for key, messages in sorted(doc_codes.items()):
        if key not in md_codes:
            problems.append("%s %s of the document's error schemas is not in %s's errors table"
                            % (key[0], key[1], name))
            continue
        for message in sorted(messages - md_codes[key][1]):
            problems.append("%s %s \"%s\" of the document is not in %s's errors table"
                            % (key[0], key[1], message, name))

    # Request headers: parameters in headers, the security schemes' and Content-Type.
    headers = {}
    for template, item in paths.items():
        iw = "/paths/" + pointer_escape(template)
        params = [(p, "%s/parameters/%d" % (iw, i)) for i, p in enumerate(item.get("parameters")
                                                                           or [])]
        for method in METHODS:
            if method in item:
                params += [(p, "%s/%s/parameters/%d" % (iw, method, i))
                           for i, p in enumerate(item[method].get("parameters") or [])]
                if "requestBody" in item[method]:
                    headers.setdefault("Content-Type", "%s/%s/requestBody" % (iw, method))
        for p, where in params:
            p, pw = d.deref(p, where)
            if p.get("in") == "header":
                headers.setdefault(p["name"], pw)
    for sname, scheme in ((d.doc.get("components") or {}).get("securitySchemes") or {}).items():
        if scheme.get("type") == "http" or scheme.get("type") == "oauth2" \
                or scheme.get("type") == "openIdConnect":
            headers.setdefault("Authorization", "/components/securitySchemes/" + sname)
        elif scheme.get("type") == "apiKey" and scheme.get("in") == "header":
            headers.setdefault(scheme["name"], "/components/securitySchemes/" + sname)
    for header, where in sorted(headers.items()):
        if not re.search(r"(?i)(?<![A-Za-z0-9-])%s(?![A-Za-z0-9-])" % re.escape(header), text):
            problems.append("request header %s (%s) is not mentioned in %s" % (header, where,
                                                                                name))
    counts = {"operations": len(in_doc), "errors": len(doc_codes), "headers": len(headers)}
    return problems, counts


# --- command line -------------------------------------------------------------------------------

def usage():
    sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
    return 2


def main(argv):
    doc_path = DEFAULT_DOC
    if len(argv) >= 2 and argv[0] == "--doc":
        doc_path, argv = argv[1], argv[2:]
    if not argv:
        return usage()
    try:
        d = Document(doc_path)
    except (OSError, Failed) as e:
        sys.stderr.write("openapi-check: %s\n" % e)
        return 1
    if argv[0] == "lint" and len(argv) == 1:
        problems = lint(d)
        for p in problems:
            sys.stderr.write("lint: %s\n" % p)
        if problems:
            sys.stderr.write("lint: %d problem(s) in %s\n" % (len(problems), doc_path))
            return 1
        n_ops = sum(1 for item in d.doc["paths"].values() for m in METHODS if m in item)
        print("lint: ok: %d paths, %d operations, %d schemas" % (
            len(d.doc["paths"]), n_ops, len(d.doc.get("components", {}).get("schemas", {}))))
        return 0
    if argv[0] == "docs" and len(argv) <= 2:
        md_path = argv[1] if len(argv) == 2 else os.path.join(os.path.dirname(doc_path),
                                                                "api.md")
        try:
            problems, counts = docs_check(d, md_path)
        except (OSError, UnicodeDecodeError, Failed) as e:
            problems, counts = ["%s: %s" % (md_path, e)], {}
        for p in problems:
            sys.stderr.write("docs: %s\n" % p)
        if problems:
            sys.stderr.write("docs: %d difference(s) between %s and %s\n"
                             % (len(problems), md_path, doc_path))
            return 1
        print("docs: ok: %s agrees with %s: %d operations, %d error codes by status, "
              "%d request headers" % (md_path, doc_path, counts["operations"], counts["errors"],
                                      counts["headers"]))
        return 0
    if argv[0] == "validate" and len(argv) == 4:
        method, path, status = argv[1], argv[2], argv[3]
        if not re.match(r"^[0-9]{3}$", status):
            return usage()
        try:
            reasons = validate(d, method, path, int(status), sys.stdin.buffer.read())
        except Failed as e:
            reasons = [str(e)]
        if reasons:
            for r in reasons:
                sys.stderr.write("%s %s %s: %s\n" % (method, path, status, r))
            return 1
        print("%s %s %s: ok" % (method, path, status))
        return 0
    if argv[0] == "batch" and len(argv) == 1:
        return batch(d)
    return usage()


def batch(d):
    stdin, stdout = sys.stdin.buffer, sys.stdout
    while True:
        line = stdin.readline()
        if not line:
            return 0
        parts = line.decode("latin-1").split()
        if len(parts) != 4 or not parts[2].isdigit() or not parts[3].isdigit():
            stdout.write("fail: malformed record line %r\n" % line[:200])
            stdout.flush()
            return 1
        method, path, status, length = parts[0], parts[1], int(parts[2]), int(parts[3])
        raw = stdin.read(length)
        try:
            reasons = validate(d, method, path, status, raw)
        except Failed as e:
            reasons = [str(e)]
        except Exception as e:  # one answer's problem: the others still get their verdicts
            reasons = ["the checker failed on this answer: %s: %s" % (type(e).__name__, e)]
        text = "ok" if not reasons else "fail: " + "; ".join(reasons)
        stdout.write(text.replace("\n", " ") + "\n")
        stdout.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

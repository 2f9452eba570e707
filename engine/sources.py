"""Reading BPMN/DMN files safely: size, encoding, well-formedness, kind and dialect."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from lxml import etree

from engine.errors import Problem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN_NAMESPACES = {
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "https://www.omg.org/spec/DMN/20230324/MODEL/",
}
NSMAP = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS, "spiffworkflow": SPIFF_NS}
MAX_FILE_BYTES = 5 * 1024 * 1024


@dataclass
class SourceDoc:
    """One readable BPMN or DMN document."""

    name: str
    kind: str  # "bpmn" | "dmn"
    dialect: str  # "spiff" | "camunda" (BPMN); "dmn"
    text: str  # canonical XML text, as stored
    sha256: str
    root: Any  # lxml element of the document as read (keeps source lines)

    def xpath(self, path: str, node: Any = None) -> list[Any]:
        """XPath over this document with the BPMN/Camunda/Spiff prefixes."""
        result: list[Any] = (node if node is not None else self.root).xpath(path, namespaces=NSMAP)
        return result


def one_line(text: object) -> str:
    """Squash a message onto one line (no tracebacks, no newlines)."""
    return re.sub(r"\s+", " ", str(text)).strip() or "unknown error"


def _parser() -> Any:
    # No entity expansion, no DTD loading, no network: XXE and entity bombs stay inert.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def parse_xml(data: bytes) -> Any:
    """Parse XML bytes with the safe parser (raises etree.XMLSyntaxError)."""
    return etree.fromstring(data, _parser())


_XML_DECL_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_LIBXML_POSITION = re.compile(r",? line (\d+), column (\d+)\s*$")
_BAD_NAMESPACE = re.compile(r"^xmlns(?::([^:\s]+))?: '(.*)' is not a valid URI$")


def _declared_encoding(data: bytes) -> str | None:
    match = _XML_DECL_ENCODING.match(data[:500])
    return match.group(1).decode("ascii") if match else None


def _encoding_reason(data: bytes) -> str | None:
    """Where the bytes stop being text in their encoding, as a readable reason (or None)."""
    declared = _declared_encoding(data)
    encoding = "UTF-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else declared or "UTF-8"
    try:
        data.decode(encoding)
    except LookupError:
        return f"the declared encoding '{encoding}' is not supported: save the file as UTF-8"
    except UnicodeDecodeError as exc:
        start = exc.start
        line = data.count(b"\n", 0, start) + 1
        column = start - (data.rfind(b"\n", 0, start) + 1) + 1
        label = "UTF-8" if encoding.replace("_", "-").lower() in {"utf-8", "utf8"} else encoding
        declared_note = f'declares encoding="{declared}"' if declared else "declares no encoding"
        hint = ""
        if label == "UTF-8":
            try:
                data.decode("cp1252")
                hint = " and is probably Latin-1/Windows-1252"
            except UnicodeDecodeError:
                hint = ""
        return (
            f"not valid {label}: byte 0x{data[start]:02x} at line {line}, column {column} "
            f"cannot be decoded (the file {declared_note}{hint}; save it as UTF-8)"
        )
    return None


def syntax_error_reason(data: bytes, exc: Any) -> str:
    """A one-line reason for an XML syntax error: encoding, namespace or well-formedness."""
    raw = str(exc.msg if getattr(exc, "msg", None) else exc)
    msg = one_line(raw)
    position = ""
    match = _LIBXML_POSITION.search(msg)
    if match:
        msg = msg[: match.start()].strip()
        position = f" (line {match.group(1)}, column {match.group(2)})"
    lowered = msg.lower()
    if lowered.startswith("unsupported encoding"):
        encoding = msg.split(":", 1)[-1].strip()
        return f"the declared encoding '{encoding}' is not supported: save the file as UTF-8"
    if "encoding" in lowered or "bytes" in lowered or "utf-8" in lowered:
        reason = _encoding_reason(data)
        if reason:
            return reason
        return f"not valid UTF-8 (or the declared encoding): {msg}{position}"
    namespace = _BAD_NAMESPACE.match(msg)
    if namespace:
        prefix = f"xmlns:{namespace.group(1)}" if namespace.group(1) else "xmlns"
        return (
            f'bad namespace declaration: {prefix}="{namespace.group(2)}" is not a valid URI'
            f"{position}"
        )
    if msg:
        msg = msg[0].lower() + msg[1:]
    return f"not well-formed XML: {msg}{position}"


def detect_dialect(root: Any) -> str:
    """spiff when SpiffWorkflow extensions are used, camunda for Camunda Modeler files."""
    namespaces: set[str] = set()
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.startswith("{"):
            namespaces.add(el.tag[1:].split("}", 1)[0])
        for attr in el.attrib:
            if attr.startswith("{"):
                namespaces.add(attr[1:].split("}", 1)[0])
    namespaces.update(v for v in root.nsmap.values() if v)
    if SPIFF_NS in namespaces:
        return "spiff"
    if CAMUNDA_NS in namespaces:
        return "camunda"
    return "spiff"


_DOCTYPE = re.compile(rb"<!DOCTYPE[\s\[>]")
_ROOT_START = re.compile(rb"<[A-Za-z_]")


def _has_doctype(data: bytes) -> bool:
    """Does a DOCTYPE declaration come before the root element (in UTF-8 or ASCII bytes)?"""
    doctype = _DOCTYPE.search(data)
    if doctype is None:
        return False
    root = _ROOT_START.search(data)
    return root is None or doctype.start() < root.start()


def read_source(name: str, data: bytes) -> tuple[SourceDoc | None, list[Problem]]:
    """Read one file: a SourceDoc, or the problems that make it unreadable (never raises)."""
    try:
        return _read_source(name, data)
    except Exception as exc:  # a last resort: a line, never a traceback
        return None, [Problem(name, "-", f"cannot be read as XML: {one_line(exc)}")]


def _read_source(name: str, data: bytes) -> tuple[SourceDoc | None, list[Problem]]:
    if len(data) > MAX_FILE_BYTES:
        size_mb = MAX_FILE_BYTES // (1024 * 1024)
        return None, [Problem(name, "-", f"file is larger than {size_mb} MB")]
    if not data.strip():
        return None, [Problem(name, "-", "file is empty")]
    try:
        root = parse_xml(data)
    except etree.XMLSyntaxError as exc:
        if _has_doctype(data):  # e.g. libxml2 stopping an entity bomb: the DOCTYPE is the cause
            return None, [Problem(name, "-", "DOCTYPE declarations are not allowed")]
        return None, [Problem(name, "-", syntax_error_reason(data, exc))]
    except (ValueError, etree.LxmlError) as exc:
        return None, [Problem(name, "-", f"cannot be read as XML: {one_line(exc)}")]
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
        return None, [Problem(name, "-", "DOCTYPE declarations are not allowed")]
    if not isinstance(root.tag, str):
        return None, [Problem(name, "-", "not a BPMN or DMN document")]
    qname = etree.QName(root)
    if qname.localname == "definitions" and qname.namespace == BPMN_NS:
        kind, dialect = "bpmn", detect_dialect(root)
    elif qname.localname == "definitions" and qname.namespace in DMN_NAMESPACES:
        kind, dialect = "dmn", "dmn"
    elif qname.localname == "definitions":
        where = f"unknown namespace '{qname.namespace}'" if qname.namespace else "no namespace"
        return None, [
            Problem(
                name,
                root.get("id") or "-",
                f"{where} for <definitions>: BPMN 2.0 uses '{BPMN_NS}', "
                "DMN one of the DMN 1.1-1.5 namespaces",
            )
        ]
    else:
        return None, [
            Problem(name, "-", f"not a BPMN or DMN document (root element <{qname.localname}>)")
        ]
    text = etree.tostring(root, encoding="unicode")
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return SourceDoc(name, kind, dialect, text, sha, root), []


def load_stored(name: str, text: str) -> SourceDoc:
    """Rebuild a SourceDoc from stored canonical text (already validated once)."""
    doc, problems = read_source(name, text.encode("utf-8"))
    if doc is None:
        raise ValueError("; ".join(str(p) for p in problems))
    return doc

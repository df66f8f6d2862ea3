"""Deserialisation of untrusted data (CWE-502) and XML external entities (CWE-611)."""

from __future__ import annotations

from collections.abc import Iterator

from bluecodeagent.code.static.base import rule
from bluecodeagent.code.static.python.rules.common import Hit, arg, falsy_literal, kwarg, truthy
from bluecodeagent.code.static.python.taint import FunctionContext

UNSAFE_LOADERS = frozenset(
    {
        "pickle.loads",
        "pickle.load",
        "cPickle.loads",
        "cPickle.load",
        "_pickle.loads",
        "dill.loads",
        "dill.load",
        "marshal.loads",
        "marshal.load",
        "shelve.open",
        "jsonpickle.decode",
        "jsonpickle.loads",
        "pandas.read_pickle",
        "pd.read_pickle",
        "joblib.load",
        "torch.load",
        "numpy.load",
        "np.load",
        "yaml.unsafe_load",
        "yaml.full_load",
        "pickle.Unpickler",
        "cloudpickle.loads",
    }
)
SAFE_YAML = ("SafeLoader", "CSafeLoader", "BaseLoader")


@rule("py.deserialize.untrusted", "CWE-502", severity="high", confidence=0.8)
def unsafe_deserialize(fc: FunctionContext) -> Iterator[Hit]:
    """Untrusted data deserialised with pickle, marshal, dill, jsonpickle or an unsafe YAML loader.

    Unpickling runs arbitrary code chosen by whoever wrote the bytes; ``yaml.load`` without
    ``SafeLoader`` builds arbitrary Python objects. Use JSON, ``yaml.safe_load``, or sign and
    verify the payload (HMAC) before loading it.
    """
    for call in fc.calls():
        name = fc.call_name(call)
        if name in UNSAFE_LOADERS:
            if name in ("numpy.load", "np.load") and not truthy(kwarg(call, "allow_pickle")):
                continue
            if name == "torch.load" and truthy(kwarg(call, "weights_only")):
                continue
            data = arg(call, 0)
            if data is not None and fc.is_tainted(data):
                yield Hit(call, f"{name}() on untrusted data", fc.tainted_params(data))
        elif name in ("yaml.load", "yaml.load_all"):
            loader = arg(call, 1, "Loader")
            if loader is not None and fc.text(loader).endswith(SAFE_YAML):
                continue
            yield Hit(
                call,
                f"{name}() without SafeLoader constructs arbitrary objects",
                fc.tainted_params(call.args[0]) if call.args else [],
            )


XML_PARSERS = frozenset(
    {
        "xml.etree.ElementTree.fromstring",
        "xml.etree.ElementTree.parse",
        "xml.etree.ElementTree.XML",
        "xml.etree.cElementTree.fromstring",
        "xml.etree.cElementTree.parse",
        "xml.dom.minidom.parseString",
        "xml.dom.minidom.parse",
        "xml.sax.parseString",
        "xml.sax.parse",
        "xml.dom.pulldom.parseString",
        "xml.dom.pulldom.parse",
        "ET.fromstring",
        "ET.parse",
        "etree.fromstring",
        "etree.parse",
        "lxml.etree.fromstring",
        "lxml.etree.parse",
        "lxml.etree.XML",
        "xml.etree.ElementTree.iterparse",
        "lxml.etree.iterparse",
        "lxml.objectify.fromstring",
        "lxml.objectify.parse",
        "lxml.etree.XSLT",
        "xml.dom.expatbuilder.parseString",
        "xml.dom.expatbuilder.parse",
        "xml.sax.make_parser().parse",
    }
)


@rule("py.xml.xxe", "CWE-611", severity="high", confidence=0.7)
def xxe(fc: FunctionContext) -> Iterator[Hit]:
    """Untrusted XML parsed with a parser that resolves entities (XXE, entity expansion).

    lxml resolves external entities unless ``resolve_entities=False``; the standard library's
    parsers expand entities (billion laughs). Parse untrusted XML with ``defusedxml`` or an lxml
    ``XMLParser(resolve_entities=False, no_network=True)``.
    """
    if "defusedxml" in fc.module.source:
        return
    for call in fc.calls():
        name = fc.call_name(call)
        if name.endswith("XMLParser") and "lxml" in name:
            re_ = kwarg(call, "resolve_entities")
            if re_ is None or truthy(re_):
                yield Hit(call, "lxml XMLParser resolves external entities; pass resolve_entities=False")
            elif truthy(kwarg(call, "load_dtd")) or falsy_literal(kwarg(call, "no_network")):
                yield Hit(call, "lxml XMLParser loads DTDs or reaches the network for them")
        elif name == "xmltodict.parse" and falsy_literal(kwarg(call, "disable_entities")):
            yield Hit(call, "xmltodict.parse(disable_entities=False) expands entities")
        elif name in XML_PARSERS:
            data = arg(call, 0)
            parser = arg(call, 1, "parser")
            if parser is not None:
                continue
            if data is not None and fc.is_tainted(data):
                conf = 0.8 if "lxml" in name or name.startswith("etree.") else 0.55
                yield Hit(
                    call, f"{name}() parses untrusted XML; use defusedxml", fc.tainted_params(data), confidence=conf
                )
        elif (
            name.endswith("setFeature")
            and len(call.args) == 2
            and "external" in fc.text(call.args[0]).lower()
            and truthy(call.args[1])
        ):
            yield Hit(call, "SAX parser configured to load external entities")

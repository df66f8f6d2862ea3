# ruff: noqa
# Unsafe deserialisation (CWE-502) and XXE (CWE-611).
import pickle

import yaml
from lxml import etree


def load(blob: bytes):
    # ruleid: py.deserialize.untrusted
    return pickle.loads(blob)


def load_config(text: str):
    # ruleid: py.deserialize.untrusted
    return yaml.load(text)


def load_config_safe(text: str):
    # ok: py.deserialize.untrusted
    return yaml.load(text, Loader=yaml.SafeLoader)


def load_config_safe2(text: str):
    # ok: py.deserialize.untrusted
    return yaml.safe_load(text)


def parse(xml: bytes):
    # ruleid: py.xml.xxe
    return etree.fromstring(xml)


def parser():
    # ruleid: py.xml.xxe
    return etree.XMLParser()


def parse_safe(xml: bytes):
    # ok: py.xml.xxe
    return etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))

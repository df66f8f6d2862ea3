# ruff: noqa
# TLS verification (CWE-295), broken protocol versions (CWE-327), XML entity resolution (CWE-611).
import os
import ssl

import paramiko
import requests
import urllib3
import xmltodict
from lxml import etree


def fetch(url: str):
    session = requests.Session()
    # ruleid: py.tls.no-verify
    session.verify = False
    # ruleid: py.ssrf.request
    return session.get(url, timeout=5)


def fetch_ok(url: str):
    session = requests.Session()
    # ok: py.tls.no-verify
    session.verify = "/etc/ssl/certs/ca.pem"
    # ruleid: py.ssrf.request
    return session.get(url, timeout=5)


def pool():
    # ruleid: py.tls.no-verify
    return urllib3.PoolManager(cert_reqs="CERT_NONE")


def pool_ok():
    # ok: py.tls.no-verify
    return urllib3.PoolManager(cert_reqs="CERT_REQUIRED")


def ssh(host: str):
    client = paramiko.SSHClient()
    # ruleid: py.tls.no-verify
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(host)


def ssh_ok(host: str):
    client = paramiko.SSHClient()
    client.load_system_host_keys()
    # ok: py.tls.no-verify
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(host)


def raw_context():
    # ruleid: py.tls.no-verify
    # ruleid: py.tls.weak-protocol
    return ssl.SSLContext(ssl.PROTOCOL_TLSv1)


def client_context():
    # ok: py.tls.no-verify
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # ok: py.tls.weak-protocol
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def old_minimum():
    ctx = ssl.create_default_context()
    # ruleid: py.tls.weak-protocol
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    return ctx


def env_off():
    # ruleid: py.tls.no-verify
    os.environ["PYTHONHTTPSVERIFY"] = "0"


def parse_dtd(xml: bytes):
    # ruleid: py.xml.xxe
    parser = etree.XMLParser(resolve_entities=False, load_dtd=True, no_network=False)
    return etree.fromstring(xml, parser)


def parse_safe(xml: bytes):
    # ok: py.xml.xxe
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.fromstring(xml, parser)


def to_dict(xml: str):
    # ruleid: py.xml.xxe
    return xmltodict.parse(xml, disable_entities=False)


def to_dict_ok(xml: str):
    # ok: py.xml.xxe
    return xmltodict.parse(xml)

# ruff: noqa
# Cross-site scripting in views and templates (CWE-79): marked-safe formatting, autoescape off,
# input echoed by a view.
import html

import jinja2
from django.http import HttpResponse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from flask import Flask, jsonify, render_template_string, request

app = Flask(__name__)
PAGE = "<p>Hello {{ name|safe }}</p>"
PLAIN = "<p>Hello {{ name }}</p>"


class Badge:
    label = "x"

    def render(self):
        # ruleid: py.xss.marked-safe
        return mark_safe('<span class="badge">%s</span>' % self.owner_label())

    def render_escaped(self):
        # ok: py.xss.marked-safe
        return format_html('<span class="badge">{}</span>', self.owner_label())

    def owner_label(self):
        return self.label


def environment():
    # ruleid: py.xss.autoescape-off
    return jinja2.Environment(loader=jinja2.FileSystemLoader("templates"))


def environment_ok():
    # ok: py.xss.autoescape-off
    return jinja2.Environment(loader=jinja2.FileSystemLoader("templates"), autoescape=jinja2.select_autoescape())


@app.route("/hello")
def hello():
    name = request.args.get("name", "")
    # ruleid: py.xss.autoescape-off
    return render_template_string(PAGE, name=name)


@app.route("/hello2")
def hello_plain():
    name = request.args.get("name", "")
    # ok: py.xss.autoescape-off
    return render_template_string(PLAIN, name=name)


@app.route("/greet/<user>")
def greet(user):
    # ruleid: py.xss.response
    return "Welcome back, " + user


@app.route("/greet2/<user>")
def greet_escaped(user):
    # ok: py.xss.response
    return "Welcome back, " + html.escape(user)


@app.route("/api/greet/<user>")
def greet_json(user):
    # ok: py.xss.response
    return jsonify(message="Welcome back, " + user)


def search(request):
    q = request.GET.get("q", "")
    # ruleid: py.xss.response
    return HttpResponse(f"No results for {q}")


def search_text(request):
    q = request.GET.get("q", "")
    # ok: py.xss.response
    return HttpResponse(f"No results for {q}", content_type="text/plain")


def fill_html(html_template: str, values: dict):
    for key, value in values.items():
        # ruleid: py.xss.html-template
        html_template = html_template.replace("{{" + key + "}}", str(value))
    return html_template


def fill_html_escaped(html_template: str, values: dict):
    for key, value in values.items():
        # ok: py.xss.html-template
        html_template = html_template.replace("{{" + key + "}}", html.escape(str(value)))
    return html_template

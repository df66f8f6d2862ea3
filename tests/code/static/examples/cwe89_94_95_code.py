# ruff: noqa
# SQL injection (CWE-89) and code injection (CWE-94/95).
import ast
import re

from jinja2 import Template


def find_user(cursor, name):
    # ruleid: py.sql.string-query
    cursor.execute(f"SELECT * FROM users WHERE name = '{name}'")


def find_user_concat(cursor, name):
    query = "SELECT * FROM users WHERE name = '" + name + "'"
    # ruleid: py.sql.string-query
    cursor.execute(query)


def find_user_safe(cursor, name):
    # ok: py.sql.string-query
    cursor.execute("SELECT * FROM users WHERE name = %s", (name,))


def calc(expr: str):
    # ruleid: py.code.eval
    return eval(expr)


def calc_literal(expr: str):
    # ok: py.code.eval
    return ast.literal_eval(expr)


def calc_checked(expr: str):
    if not re.match(r"^[0-9+\-*/ ()]+$", expr):
        raise ValueError("bad expression")
    # ok: py.code.eval
    return eval(expr)


def calc_ast(expr: str):
    tree = ast.parse(expr, mode="eval")
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Expression, ast.BinOp, ast.Constant, ast.operator)):
            raise ValueError("bad node")
    # ok: py.code.eval
    return eval(compile(tree, "<expr>", "eval"))


def run_snippet(code: str):
    # ruleid: py.code.exec
    exec(code)


def run_fixed():
    # ok: py.code.exec
    exec("x = 1")


def render(tpl: str, name: str):
    # ruleid: py.code.exec
    return Template(tpl).render(name=name)


def filter_rows(rows, where: str):
    conditions = where.split(" AND ")
    # ruleid: py.code.eval
    return [r for r in rows if eval(" and ".join(conditions), dict(r))]


def run_query(db, sql):
    # ok: py.sql.string-query
    return db.execute(sql).fetchall()


def find_by_name(db, name: str):
    # ruleid: py.sql.string-query
    return run_query(db, "SELECT id FROM users WHERE name = '%s'" % name)


def find_by_name_bound(db, name: str):
    # ok: py.sql.string-query
    return run_query(db, "SELECT id FROM users WHERE name = 'x'")


def django_extra(queryset, name: str):
    # ruleid: py.sql.string-query
    return queryset.extra(where=[f"name = '{name}'"])


def django_extra_params(queryset, name: str):
    # ok: py.sql.string-query
    return queryset.extra(where=["name = %s"], params=[name])


def raw_sql_expression(name: str):
    from django.db.models.expressions import RawSQL

    # ruleid: py.sql.string-query
    return RawSQL("SELECT id FROM t WHERE name = '%s'" % name, ())

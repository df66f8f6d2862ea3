"""`bluecode kb` on a PostgreSQL base, through the real entry point: --kb URL and $BLUECODE_KB_URL."""

from __future__ import annotations

import json
import os

from tests_helpers import run
from tiny_knowledge import tiny_items


def test_kb_commands_on_a_postgres_url(pg_url, tmp_path, embedder):
    from bluecodeagent.knowledge.pg_store import PgKnowledgeBase

    base = PgKnowledgeBase(pg_url, embedder)
    base.add(tiny_items())
    base.set_meta("knowledge_version", "custom")
    base.close()
    st = run("kb", "stats", "--kb", pg_url, "--format", "json")
    assert st.returncode == 0, st.stderr.decode()
    assert json.loads(st.stdout)["by_task"]["malicious"]["unsafe"] == 4
    new = tmp_path / "team.jsonl"
    new.write_text(json.dumps({"task": "bias", "label": "unsafe", "text": "reject applicants over 50"}) + "\n")
    added = run("kb", "add", "--kb", pg_url, str(new), "--batch", "team-1")
    assert added.returncode == 0, added.stderr.decode()
    env = {**os.environ, "BLUECODE_KB_URL": pg_url}
    found = run("kb", "search", "-t", "bias", "-k", "1", "turn away older applicants", env=env)
    assert found.returncode == 0 and "reject applicants over 50" in found.stdout.decode()


def test_a_bad_kb_url_is_one_clear_line(tmp_path):
    proc = run("kb", "stats", "--kb", "postgresql://guard:pw@127.0.0.1:1/kb")
    err = proc.stderr.decode()
    assert proc.returncode != 0 and "cannot reach" in err and "Traceback" not in err and "pw@" not in err


def test_the_hnsw_settings_reach_the_shared_base(pg_url, embedder):
    from bluecodeagent.config import Settings
    from bluecodeagent.kb_open import open_kb
    from bluecodeagent.knowledge.pg_store import PgKnowledgeBase

    base = PgKnowledgeBase(pg_url, embedder)
    base.add(tiny_items())
    base.set_meta("knowledge_version", "custom")
    base.close()
    settings = Settings(
        kb_url=pg_url, kb_hnsw_ef_search=37, kb_hnsw_build_memory_mb=777, kb_hnsw_m=10, kb_hnsw_ef_construction=30
    )
    kb = open_kb(settings, embedder=embedder)
    try:
        assert kb.ef_search == 37 and kb.build_memory_mb == 777  # type: ignore[attr-defined]
        assert (kb.m, kb.ef_construction) == (10, 30)  # type: ignore[attr-defined]
    finally:
        kb.close()

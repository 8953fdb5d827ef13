"""Prompt templates for decoder-only models: the instruction around the source, in the chat format of
instruct models when their tokenizer has one. The target follows the prompt directly."""

from __future__ import annotations

from ..errors import ConfigError, expected
from ..tasks import generation_task


def resolve_template(task: str, template: str, chat: bool) -> str:
    """The user's template, or the task's default (chat or plain). It must contain {source}."""
    default = generation_task(task)
    chosen = template or (default.chat_prompt if chat else default.prompt)
    if "{source}" not in chosen:
        raise ConfigError(expected("a prompt template containing {source}", repr(chosen),
                                   "Add {source} where the input text goes."))
    return chosen


def uses_chat(tokenizer, chat_template: str) -> bool:
    """'auto': use the chat format when the tokenizer has one (instruct models)."""
    if chat_template == "never":
        return False
    has = bool(getattr(tokenizer, "chat_template", None))
    if chat_template == "always" and not has:
        raise ConfigError(expected("a tokenizer with a chat template", "one without", "Use chat_template='auto'."))
    return has


def build_prompt(tokenizer, source: str, template: str, chat: bool, source_lang: str, target_lang: str) -> str:
    """The text that precedes the target; for chat models it ends with the assistant-turn header."""
    text = template.replace("{source_lang}", source_lang).replace("{target_lang}", target_lang)
    text = text.replace("{source}", source)
    if chat:
        return tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                             add_generation_prompt=True)
    return text + "\n"

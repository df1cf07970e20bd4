"""Typed dependencies: one small function per parameter, used as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query, Request
from sqlalchemy import Engine

Language = Literal["zh", "en"]


def get_engine(request: Request) -> Engine:
    """The engine the lifespan created; routers never build their own."""
    return request.app.state.engine


def get_lang(
    lang: Annotated[Language, Query(description="Language of labels: zh (default) or en")] = "zh",
) -> Language:
    """Chinese first, since the users are; English for visitors and tools."""
    return lang


EngineDep = Annotated[Engine, Depends(get_engine)]
Lang = Annotated[Language, Depends(get_lang)]

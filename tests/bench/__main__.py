"""`make bench`: every benchmark, each printed beside a raw baseline measured in the same run."""

from __future__ import annotations

import asyncio

from tests.bench import (
    console_pages,
    erasure,
    event_runtime,
    imports,
    projection,
    raw_infrastructure,
    scale,
)


def main() -> None:
    asyncio.run(raw_infrastructure.run())
    asyncio.run(event_runtime.run())
    asyncio.run(projection.run())
    asyncio.run(imports.run())
    asyncio.run(console_pages.run())
    asyncio.run(erasure.run())
    asyncio.run(scale.run())


if __name__ == "__main__":
    main()

"""The base every event model shares."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Event(BaseModel):
    """One event type at one major version.

    `TYPE` is the explicit, stable name (never derived from the Python module path) and
    `VERSION` its major version; together they form the CloudEvents type
    `<TYPE>.v<VERSION>`, e.g. `credflow.credential.submitted.v2`. `TOPIC` is where it is
    published. `KEY_FIELD` names the field whose value is the Kafka key (the aggregate id).

    Readers ignore unknown fields, so a producer may add optional fields within a major version.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    TYPE: ClassVar[str]
    VERSION: ClassVar[int]
    TOPIC: ClassVar[str]
    KEY_FIELD: ClassVar[str]
    DESCRIPTION: ClassVar[str]

    @classmethod
    def ce_type(cls) -> str:
        return f"{cls.TYPE}.v{cls.VERSION}"

    def key(self) -> str:
        return str(getattr(self, self.KEY_FIELD))

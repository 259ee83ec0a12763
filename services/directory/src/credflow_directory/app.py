"""Composition root of the directory service: organisations and their reference data, and
people's data keys and erasures (ADR 0017).

It publishes on `credflow.directory`. Every route is in one module of `routes/` per resource,
each built here around the service layer (`service.Directory`, `erasures.Erasures`); its one
background task carries out erasures (`tasks.ErasureRunner`), and its one consumer reads the
services' reports of their part of an erasure (`consumers.erasure_reports_consumer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import APIRouter, FastAPI

from credflow_common.keyring import KeyringSettings, LocalKeyring
from credflow_common.service import BackgroundTask, ServiceContext, ServiceDefinition
from credflow_common.service import create_app as create_service
from credflow_common.settings import InfraSettings
from credflow_directory import store
from credflow_directory.consumers import erasure_reports_consumer
from credflow_directory.erasures import Erasures
from credflow_directory.person_keys import LocalKeySource, PersonKeys
from credflow_directory.routes import (
    assessments,
    companies,
    credential_types,
    data_keys,
    organisations,
    people,
    requirements,
    users,
)
from credflow_directory.routes import erasures as erasures_routes
from credflow_directory.service import Directory
from credflow_directory.store import DirectoryStore
from credflow_directory.tasks import ErasureRunner


def person_keys() -> PersonKeys:
    return PersonKeys(LocalKeyring.load(KeyringSettings().file))


def erasures(context: ServiceContext) -> Erasures:
    return Erasures(context.pool, DirectoryStore(context.event_store), person_keys())


def routers(context: ServiceContext) -> Sequence[APIRouter]:
    directory = Directory(context)
    return [
        organisations.build(directory),
        users.build(directory),
        companies.build(directory),
        credential_types.build(directory),
        requirements.build(directory),
        assessments.build(directory),
        people.build(context),  # sign-in's lookup of people by email
        data_keys.build(context, person_keys(), erasures(context)),
        erasures_routes.build(erasures(context)),
    ]


def tasks(context: ServiceContext) -> Sequence[BackgroundTask]:
    return [ErasureRunner(erasures(context), context.infra.database_url)]


DEFINITION = ServiceDefinition(
    name="directory",
    migrations=[Path(__file__).resolve().parent / "migrations"],
    routers=routers,
    consumers=lambda context: [
        erasure_reports_consumer(erasures(context), context.runtime.topic_prefix)
    ],
    tasks=tasks,
    key_source=lambda pool: LocalKeySource(pool, person_keys()),
    user_standing=store.user_standing,
)


def create_app(infra: InfraSettings) -> FastAPI:
    return create_service(DEFINITION, infra)

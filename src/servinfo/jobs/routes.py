"""HTTP routes of the job queue: ``/v1/jobs``, ``/v1/jobs/{id}``, ``/v1/jobs/{id}/retry``.

Reading needs ``read_jobs``; a retry needs ``manage_jobs`` and is audited
(:class:`servinfo.jobs.service.JobService`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from servinfo.api.dependencies import DeploymentDep, PrincipalDep
from servinfo.jobs.queue import Job
from servinfo.jobs.service import LIST_LIMIT

router = APIRouter(prefix="/v1", tags=["jobs"])


@router.get("/jobs")
def list_jobs(
    deployment: DeploymentDep,
    principal: PrincipalDep,
    state: Literal["queued", "running", "failed", "done"] | None = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    before: Annotated[str | None, Query(max_length=26, description="Page on: a job id.")] = None,
    limit: Annotated[int, Query(ge=1, le=LIST_LIMIT)] = 100,
) -> list[Job]:
    """Jobs, newest first."""
    return deployment.jobs.list(principal, state=state, kind=kind, before=before, limit=limit)


@router.get("/jobs/{job_id}")
def show_job(job_id: str, deployment: DeploymentDep, principal: PrincipalDep) -> Job:
    return deployment.jobs.show(principal, job_id)


@router.post(
    "/jobs/{job_id}/retry",
    responses={409: {"description": "Only a failed job can be retried (job_not_retryable)."}},
)
def retry_job(job_id: str, deployment: DeploymentDep, principal: PrincipalDep) -> Job:
    """Queue a failed job again, with a fresh count of attempts; audited."""
    return deployment.jobs.retry(principal, job_id)

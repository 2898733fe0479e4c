"""The background jobs process (`python -m jobs`) and the registry of job definitions."""

from jobs.definitions import JOBS, JobDefinition, UnknownJob, get_job, run_job, run_job_now

__all__ = ["JOBS", "JobDefinition", "UnknownJob", "get_job", "run_job", "run_job_now"]

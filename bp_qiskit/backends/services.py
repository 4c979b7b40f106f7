"""Where runtime jobs are submitted: local testing mode, or IBM Quantum through an account.

The surface bp_qiskit uses is small (:class:`RuntimeService`): ``backend(name)``,
``submit(...)`` and ``job(job_id)``; a job offers ``job_id()``, ``status()`` (a string
remotely, a ``JobStatus`` locally), ``result()`` and ``cancel()``. The stand-in service in
:mod:`bp_qiskit.testing.standin` implements just this surface.
"""

from __future__ import annotations

from typing import Any, Protocol

from .devices import fake_backend
from .protocol import BackendNameError, NotAttachableError

__all__ = ["IBMService", "LocalService", "RuntimeJob", "RuntimeService"]


class RuntimeJob(Protocol):
    """The surface of a runtime job that bp_qiskit uses."""

    def job_id(self) -> str: ...  # noqa: D102
    def status(self) -> Any: ...  # noqa: D102
    def result(self) -> Any: ...  # noqa: D102
    def cancel(self) -> Any: ...  # noqa: D102


class RuntimeService(Protocol):
    """The surface of a runtime service that bp_qiskit uses."""

    remote: bool

    def backend(self, name: str) -> Any: ...  # noqa: D102
    def submit(  # noqa: D102
        self, backend: Any, pubs: list[Any], options: dict[str, Any], mode: str
    ) -> RuntimeJob: ...
    def job(self, job_id: str) -> RuntimeJob: ...  # noqa: D102
    def find_jobs(self, tag: str, instance: str | None = None) -> list[str]: ...  # noqa: D102
    def close(self) -> None: ...  # noqa: D102


class _ModeMixin:
    """Opens one Batch (or Session) per service and reuses it for every job of a run."""

    _mode_obj: Any = None

    def _mode(self, backend: Any, mode: str) -> Any:
        if mode == "job":
            return backend
        if self._mode_obj is None:
            from qiskit_ibm_runtime import Batch, Session

            self._mode_obj = (Batch if mode == "batch" else Session)(backend=backend)
        return self._mode_obj

    def submit(self, backend: Any, pubs: list[Any], options: dict[str, Any], mode: str) -> Any:
        """Run the PUBs with the (non-deprecated) executor-based runtime estimator."""
        from qiskit_ibm_runtime.executor_estimator import Estimator

        return Estimator(mode=self._mode(backend, mode), options=options).run(pubs)

    def close(self) -> None:
        """Close the batch or session, if one was opened."""
        if self._mode_obj is not None:
            self._mode_obj.close()
            self._mode_obj = None


class LocalService(_ModeMixin):
    """Local testing mode: fake backends, nothing leaves the machine; no re-attachment."""

    remote = False
    instance = None

    def backend(self, name: str) -> Any:
        """The fake backend for a device name."""
        return fake_backend(name)

    def find_jobs(self, tag: str, instance: str | None = None) -> list[str]:
        """Local jobs end with their process: none can be found later."""
        return []

    def job(self, job_id: str) -> RuntimeJob:
        """Local jobs live in their process only."""
        raise NotAttachableError(f"local job {job_id} cannot be re-attached")


class IBMService(_ModeMixin):
    """``QiskitRuntimeService`` with credentials from its own saved accounts or env variables.

    bp_qiskit never reads, writes or logs a token: it only calls ``QiskitRuntimeService()``.
    """

    remote = True

    def __init__(self) -> None:
        from qiskit_ibm_runtime import QiskitRuntimeService

        try:
            self._service = QiskitRuntimeService()
        except Exception as exc:
            from ..errors import redact

            # The client's own reason, on one line and without credentials.
            why = redact(" ".join(f"{type(exc).__name__}: {exc}".split()))
            raise BackendNameError(
                f"backend: no usable IBM Quantum account ({why}); save one with "
                "QiskitRuntimeService.save_account(...) or set QISKIT_IBM_TOKEN, "
                "QISKIT_IBM_INSTANCE and QISKIT_IBM_CHANNEL ('ibm_quantum_platform' or "
                "'ibm_cloud')"
            ) from None

    @property
    def instance(self) -> str | None:
        """The active instance (a CRN or name, never a token)."""
        fn = getattr(self._service, "active_instance", None)
        try:
            return str(fn()) if callable(fn) else None
        except Exception:  # provenance only
            return None

    @property
    def plan(self) -> str | None:
        """The active instance's plan ('open', 'paygo', ...), where the account lists it."""
        try:
            active = self.instance
            for inst in self._service.instances():
                if inst.get("crn") == active or inst.get("name") == active:
                    return str(inst.get("plan")) if inst.get("plan") else None
        except Exception:  # a courtesy check: the service itself refuses a session later
            return None
        return None

    def backend(self, name: str) -> Any:
        """The named QPU; an unknown or retired name is a one-line error."""
        from qiskit.providers.exceptions import QiskitBackendNotFoundError

        try:
            return self._service.backend(name)
        except QiskitBackendNotFoundError:
            try:
                names = sorted(b.name for b in self._service.backends())
            except Exception:  # the list is a courtesy
                names = []
            raise BackendNameError(
                f"backend.name: no backend {name!r} on this account"
                + (f"; available: {', '.join(names)}" if names else "")
            ) from None

    def job(self, job_id: str) -> RuntimeJob:
        """Re-attach to a remote job by id."""
        return self._service.job(job_id)

    def find_jobs(self, tag: str, instance: str | None = None) -> list[str]:
        """Ids of the jobs that carry ``tag``, on ``instance`` (where the job was sent).

        Without the instance the client lists only the active instance's jobs, so a job sent
        to another one would look lost.
        """
        jobs = self._service.jobs(job_tags=[tag], limit=None, instance=instance)
        return [j.job_id() for j in jobs]

    def estimate(self, backend: Any, pubs: list[Any], options: dict[str, Any]) -> float | None:
        """The service's own QPU-seconds estimate of one job (its dry run), if offered.

        ``Estimator.run(pubs, dry_run=True)`` validates the job server-side and reports
        ``usage_estimation``; not every plan offers it, so None means "use the model".
        """
        from qiskit_ibm_runtime.executor_estimator import Estimator

        try:
            job = Estimator(mode=backend, options=options).run(pubs, dry_run=True)
            job.wait_for_final_state(timeout=120)
            value = (job.usage_estimation or {}).get("quantum_seconds")
        except Exception:  # optional: the offline model stands in
            return None
        return float(value) if isinstance(value, (int, float)) else None

    def usage(self) -> dict[str, Any]:
        """The instance's usage report (``usage_remaining_seconds`` where there is a limit)."""
        return dict(self._service.usage())
